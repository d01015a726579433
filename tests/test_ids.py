"""ID codes (metrics.ids): every fast way gives exactly the codes and values of `pd.factorize`."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from audit_kit.metrics import ids
from audit_kit.ingest.keys import arrow_ids as _arrow


def _reference(values: pd.Series) -> tuple[np.ndarray, list]:
    code, names = pd.factorize(values, use_na_sentinel=True)
    return code, list(names)


def _way(values: pd.Series) -> str:
    """Which way `factorize` takes for these values."""
    strings = ids._Strings(_arrow(values))
    if ids._number_codes(strings) is not None:
        return "number"
    return "packed" if ids._packed_codes(strings) is not None else "arrow"


def _assert_same_grouping(s: pd.Series, ref_code: np.ndarray, ref_names: list) -> None:
    """``ordered=False``: the groups of pandas, numbered 0..k-1 in any order, each with its value."""
    label, names = ids.factorize(s, ordered=False)
    assert label.dtype == np.int64 and np.array_equal(label < 0, ref_code < 0)
    assert np.array_equal(ids.codes(s, ordered=False), label)
    k = len(ref_names)
    pairs = np.unique(np.stack([label, ref_code])[:, ref_code >= 0], axis=1)
    assert pairs.shape[1] == k                                   # one label per pandas code ...
    assert np.array_equal(np.sort(pairs[0]), np.arange(k)) and np.array_equal(np.sort(pairs[1]), np.arange(k))
    assert np.array_equal(np.asarray(names, dtype=object)[pairs[0]], np.asarray(ref_names, dtype=object)[pairs[1]])


def _assert_like_pandas(values) -> str:
    s = pd.Series(values, dtype="string")
    code, names = ids.factorize(s)
    ref_code, ref_names = _reference(s)
    assert code.dtype == np.int64
    assert code.tolist() == ref_code.tolist()
    assert list(names) == ref_names
    assert ids.codes(s).tolist() == ref_code.tolist()
    _assert_same_grouping(s, ref_code, ref_names)
    return _way(s)


@pytest.mark.parametrize("values, way, expected", [
    (["P12", "P3", "P12", None, "P40"], "number", [0, 1, 0, -1, 2]),
    (["104", "7", "104", "0"], "number", [0, 1, 0, 2]),
    (["007", "017", "007"], "number", [0, 1, 0]),             # leading zeros, one width: the number decides
    (["007", "7", "07"], "packed", [0, 1, 2]),                # leading zeros, several widths: not a number
    (["12", "99999999", "12"], "packed", [0, 1, 0]),          # numbers too far apart to index
    (["P1", "Q1"], "packed", [0, 1]),                         # two prefixes
    (["P1x", "P12"], "packed", [0, 1]),                       # not all digits after the prefix
    (["1:", "2/"], "packed", [0, 1]),                         # bytes next to "0"-"9"
    (["", "1", ""], "packed", [0, 1, 0]),                     # an empty ID is an ID, not NA
    (["a\x00", "a", "a\x00\x00"], "packed", [0, 1, 2]),       # NUL bytes: the length tells them apart
    (["Пациент-1", "Пациент-2", "Пациент-1"], "arrow", [0, 1, 0]),   # 16 bytes: hashed as strings
    (["В-2024-17", "В-2024-18", "В-2024-17"], "packed", [0, 1, 0]),  # 11 bytes: two words
    ([None, None], "packed", [-1, -1]),
])
def test_codes_and_way(values, way, expected):
    assert _assert_like_pandas(values) == way
    assert ids.codes(pd.Series(values, dtype="string")).tolist() == expected


def _strings(values) -> "ids._Strings":
    return ids._Strings(_arrow(pd.Series(values, dtype="string")))


def test_decimal_numbers():
    assert ids.decimal_numbers(_strings(["P12", None, "P3", "P99999"])).tolist() == [12, 3, 99999]
    assert ids.decimal_numbers(_strings(["12345678", "90000001"])).tolist() == [12345678, 90000001]
    assert ids.decimal_numbers(_strings(["0", "5", "10"])).tolist() == [0, 5, 10]
    assert ids.decimal_numbers(_strings(["123456789"])) is None                 # 9 bytes
    assert ids.decimal_numbers(_strings(["P"])) is None                         # no digits


def test_packed_words_encode_bytes_and_length():
    words = ids.packed_words(_strings(["ab", "a"]))
    assert len(words) == 1
    assert words[0].tolist() == [0x6261 | (2 << 56), 0x61 | (1 << 56)]
    two = ids.packed_words(_strings(["abcdefghi"]))
    assert [w.tolist() for w in two] == [[int.from_bytes(b"abcdefgh", "little")], [ord("i") | (9 << 56)]]
    assert ids.packed_words(_strings(["x" * 16])) is None


@pytest.mark.parametrize("values", [["P1", "P2", "P1", "P3", "V77777777777", "P2"],
                                    ["P1", "P2222222222", "P1", "P3", "V77777777777", "P2"]])
def test_sliced_arrow_array(values):
    """A slice of a column is an Arrow array with an offset into its buffers."""
    s = pd.Series(values, dtype="string").iloc[1:4]
    assert _arrow(s).offset == 1
    code, names = ids.factorize(s)
    assert code.tolist() == [0, 1, 2] and list(names) == [values[1], "P1", "P3"]


def test_a_hash_collision_falls_back_to_strings(monkeypatch):
    """Two-word IDs are hashed by a non-injective mix; if two IDs share a hash the codes must still be exact."""
    def collide(first, second, out):
        out[:] = 0
        return out
    monkeypatch.setattr(ids, "_mix", collide)
    values = pd.Series(["ABCDEFGHI1", "ABCDEFGHI2", "ABCDEFGHI1"], dtype="string")
    assert ids._packed_codes(ids._Strings(_arrow(values))) is None
    assert ids.factorize(values)[0].tolist() == [0, 1, 0]


@pytest.mark.parametrize("seed", range(4))
def test_random_ids_equal_pandas(seed):
    rng = np.random.default_rng(seed)
    alphabet = list("0123456789PV-Пx\x00")
    ways = set()
    for trial in range(300):
        n = int(rng.integers(1, 60))
        kind = trial % 4
        if kind == 0:
            values = ["P" + str(v) for v in rng.integers(0, 50, n)]
        elif kind == 1:
            values = [str(v).zfill(int(rng.integers(1, 4))) for v in rng.integers(0, 30, n)]
        elif kind == 2:
            values = ["".join(rng.choice(alphabet, int(rng.integers(0, 18)))) for _ in range(n)]
        else:
            values = ["".join(rng.choice(list("01"), int(rng.integers(0, 10)))) for _ in range(n)]
        values = [None if rng.random() < 0.1 else v for v in values]
        ways.add(_assert_like_pandas(values))
    assert ways == {"number", "packed", "arrow"}


@pytest.mark.parametrize("prefix, distinct", [("X", 1000), ("X", 150_000), ("Пациент-", 50_000), ("VIS-", 150_000)])
def test_large_inputs_partitioned_hashing(prefix, distinct):
    """Above `_PARTITION_FROM` rows the keys are hashed in parts; codes stay those of pandas."""
    rng = np.random.default_rng(distinct)
    n = 300_000
    values = pd.Series(np.char.add(prefix, (rng.integers(0, distinct, n) * 7919).astype(str)), dtype="string")
    values[rng.random(n) < 0.2] = pd.NA
    code, names = ids.factorize(values)
    ref_code, ref_names = _reference(values)
    assert np.array_equal(code, ref_code)
    assert list(names) == ref_names
    _assert_same_grouping(values, ref_code, ref_names)


@pytest.mark.parametrize("values, way", [
    (["P1", "P22", "P1", None, "P333", "P4", "P22", "P5", "P6", "P1", "P7"], "number"),
    (["P1", "P22", "P1", None, "P333", "P4", "P22", "P5", "P6", "P1", "P7x"], "packed"),   # bad in the last chunk
    (["P1", "P22", "P1", None, "P333", "P4", "P22", "P05", "P6", "P1", "P7"], "packed"),   # leading zero, chunk 2
    (["ABCDEFGHI1", "A", "ABCDEFGHI1", "ABCDEFGHI22", None, "A", "B", "ABCDEFGHI22", "Q"], "packed"),
])
def test_element_wise_steps_over_several_chunks(monkeypatch, values, way):
    """The parsing and packing run `CHUNK_ROWS` rows at a time; a string that breaks a way in any
    chunk sends the whole column to the next way."""
    monkeypatch.setattr(ids, "CHUNK_ROWS", 3)
    assert _assert_like_pandas(values) == way


def test_integer_codes_partitioned_and_not():
    rng = np.random.default_rng(5)
    for n, distinct in [(10, 3), (200_000, 100), (200_000, 150_000)]:
        key = rng.integers(0, distinct, n).astype(np.uint64) * ids.MIX
        code, first = ids.integer_codes(key)
        ref = pd.factorize(key)[0]
        assert np.array_equal(code, ref)
        assert np.array_equal(first, np.unique(ref, return_index=True)[1])
        label = ids.integer_groups(key)                  # the same groups, in any order
        pairs = np.unique(np.stack([label, ref]), axis=1)
        assert pairs.shape[1] == ref.max() + 1 == label.max() + 1 == len(np.unique(label))


def test_non_string_values_go_to_pandas():
    code, names = ids.factorize(pd.Series([3, 1, 3, None], dtype="Int64"))
    assert code.tolist() == [0, 1, 0, -1] and list(names) == [3, 1]


def test_ascending_rows_are_distinct_and_sorted():
    assert ids.ascending_rows(np.array([7, 2, 7, 0]), 9).tolist() == [0, 2, 7]
    assert ids.ascending_rows(np.array([], dtype=np.int64), 3).tolist() == []
