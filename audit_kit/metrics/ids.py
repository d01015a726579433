"""Integer codes for ID columns (patient_id, visit_id, ...): equal IDs share a code, NA is -1.

The hot step of every per-patient metric on a clinic network is grouping a few million string
IDs. Three ways, fastest first, each exact:

1. **Numbers** — IDs of at most 8 bytes that are one fixed prefix (maybe empty) and decimal digits
   without leading zeros, or all of the same width (``104567``, ``P123``, ``00017``), whose
   numbers span at most twice as many values as there are rows (+1024): the number is the key and the
   codes come from an array indexed by it, with no hashing at all.
2. **Short IDs** (at most 15 UTF-8 bytes: ``P000123``, ``В-2024-017``) are read straight from the
   Arrow string buffers into one or two 64-bit words that encode the bytes and the length, and
   those integers are hashed.
3. Longer IDs are hashed as strings by Arrow.

Either way the codes are those of `pd.factorize`: in order of first appearance, IDs compared byte
for byte (``00123`` ≠ ``123``). With ``ordered=False`` the same grouping comes numbered in no
particular order, for callers that only need which rows share an ID: it skips the renumbering.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..ingest.keys import arrow_ids

MAX_PACKED_BYTES = 15      # 8 + 7 bytes in two words; the last byte of the last word holds the length
MIX = np.uint64(0x9E3779B97F4A7C15)       # odd: multiplying by it is a bijection of uint64
MIX_HIGH = np.uint64(0xC2B2AE3D27D4EB4F)
# _LOW_BYTES[k]: a mask keeping the k lowest bytes of a little-endian word (k ≥ 8: all of them).
_LOW_BYTES = np.array([(1 << (8 * k)) - 1 for k in range(8)] + [(1 << 64) - 1], dtype=np.uint64)
_ASCII_ZEROS = np.uint64(0x3030303030303030)     # "00000000"
_HIGH_NIBBLES = np.uint64(0xF0F0F0F0F0F0F0F0)
_PLUS_SIX = np.uint64(0x0606060606060606)
_PARTITION_BITS = 6        # hashing large inputs in 64 parts, each part's table small enough for the cache
_PARTITION_FROM = 1 << 17
DENSE_SPAN_PER_ROW = 2     # numbers spanning at most this many values per row are indexed, not hashed
CHUNK_ROWS = 1 << 16       # element-wise steps take this many rows at a time: their temporaries stay in the cache


def factorize(values: pd.Series, *, ordered: bool = True) -> tuple[np.ndarray, pd.Index]:
    """Integer code per value (int64, in order of first appearance; NA is -1) and the value of each
    code — `pd.factorize(values)`, faster on string IDs. ``ordered=False``: the same grouping with
    the codes 0..k-1 in no particular order, which saves renumbering them (for callers that only group).
    Non-string dtypes go to `pd.factorize`."""
    if not isinstance(values.dtype, pd.StringDtype):
        code, names = pd.factorize(values, use_na_sentinel=True)
        return code.astype(np.int64), pd.Index(names)
    ids = arrow_ids(values)
    code, rows = _string_codes(ids, ordered)
    names = pd.Index(pd.array(ids.take(pa.array(rows)).to_pandas(types_mapper=pd.ArrowDtype), dtype="string"))
    return code, names


def codes(values: pd.Series, *, ordered: bool = True) -> np.ndarray:
    """The codes of `factorize` alone (no values of the codes built)."""
    if not isinstance(values.dtype, pd.StringDtype):
        return factorize(values)[0]
    return _string_codes(arrow_ids(values), ordered)[0]


def _string_codes(ids: pa.LargeStringArray, ordered: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(codes, a row of each code) by the fastest way that applies: each code's first row, or with
    ``ordered=False`` any numbering of the groups and any row of each."""
    strings = _Strings(ids)
    for way in (_number_codes, _packed_codes):
        found = way(strings, ordered)
        if found is not None:
            return _spread(*found, strings.rows, len(ids))
    code = pc.fill_null(pc.dictionary_encode(ids).indices, -1).to_numpy(zero_copy_only=False).astype(np.int64)
    rows = np.flatnonzero(code >= 0)
    return code, rows[_first_rows(code[rows])] if len(rows) else rows


class _Strings:
    """The non-null strings of an Arrow string array, read from its buffers: ``rows`` (their
    positions; None when none is null), ``starts`` and ``lengths`` (byte offset and byte length of
    each), and `word_at` (built on first use)."""

    def __init__(self, ids: pa.LargeStringArray):
        self.ids = ids
        self.rows = None if ids.null_count == 0 else np.flatnonzero(~ids.is_null().to_numpy(zero_copy_only=False))
        offsets = np.frombuffer(ids.buffers()[1], dtype=np.int64)[ids.offset: ids.offset + len(ids) + 1]
        self.starts, self.lengths = offsets[:-1], np.diff(offsets)
        if self.rows is not None:
            self.starts, self.lengths = self.starts[self.rows], self.lengths[self.rows]
        self.longest = int(self.lengths.max()) if len(self.lengths) else 0
        self._word_at: np.ndarray | None = None

    @property
    def word_at(self) -> np.ndarray:
        """``word_at[p]``: the 8 bytes from byte p of the data on, little-endian (an unaligned,
        overlapping view of a copy of the data padded with zeros)."""
        if self._word_at is None:
            data_buffer = self.ids.buffers()[2]
            data = np.frombuffer(data_buffer, dtype=np.uint8) if data_buffer is not None else np.empty(0, np.uint8)
            padded = np.concatenate([data, np.zeros(24, np.uint8)])
            self._word_at = np.ndarray(shape=(len(data) + 16,), dtype="<u8", buffer=padded, strides=(1,))
        return self._word_at


def packed_words(strings: _Strings) -> list[np.ndarray] | None:
    """Each string as one or two uint64 words that determine it exactly: its UTF-8 bytes
    little-endian from the first word on, its byte length in the top byte of the last word — one
    word when the longest string has at most 7 bytes, two up to 15. None when longer."""
    if strings.longest > MAX_PACKED_BYTES:
        return None
    n = len(strings.lengths)
    words = [np.empty(n, np.uint64) for _ in range(1 if strings.longest <= 7 else 2)]
    for lo, hi in _chunks(n):
        starts, lengths = strings.starts[lo:hi], strings.lengths[lo:hi]
        np.bitwise_and(strings.word_at[starts], _LOW_BYTES[np.minimum(lengths, 8)], out=words[0][lo:hi])
        if len(words) == 2:
            np.bitwise_and(strings.word_at[starts + 8], _LOW_BYTES[np.clip(lengths - 8, 0, 7)], out=words[1][lo:hi])
        words[-1][lo:hi] |= lengths.astype(np.uint64) << np.uint64(56)
    return words


def _packed_codes(strings: _Strings, ordered: bool = True) -> tuple[np.ndarray, np.ndarray] | None:
    """(codes, the row of each code's first appearance) of the strings through `packed_words`; None
    when they are too long to pack or (vanishingly rarely) two different two-word IDs share a hash.
    ``ordered=False``: (labels, a row of each), see `integer_groups`."""
    words = packed_words(strings)
    if words is None:
        return None
    key = np.empty_like(words[0])
    for lo, hi in _chunks(len(key)):
        if len(words) == 1:                           # one word: exact, a bijection
            np.multiply(words[0][lo:hi], MIX, out=key[lo:hi])
        else:                                         # two: a hash, checked below
            _mix(words[0][lo:hi], words[1][lo:hi], out=key[lo:hi])
    code, first = _hashed(key, ordered)
    if first is None:
        first = _some_row(code)
    if len(words) == 2:                                # the hash is not injective: check every row
        for lo, hi in _chunks(len(code)):
            same = first[code[lo:hi]]
            if not ((words[0][same] == words[0][lo:hi]).all() and (words[1][same] == words[1][lo:hi]).all()):
                return None
    return code, first


def _chunks(n: int):
    """(lo, hi) bounds of consecutive `CHUNK_ROWS`-row slices of n rows."""
    return ((lo, min(lo + CHUNK_ROWS, n)) for lo in range(0, n, CHUNK_ROWS))


def _some_row(label: np.ndarray) -> np.ndarray:
    """One row of each label 0..k-1 (whichever; for checking that a group's rows agree)."""
    row = np.empty(int(label.max()) + 1 if len(label) else 0, np.int64)
    row[label] = np.arange(len(label), dtype=np.int64)
    return row


def _mix(first: np.ndarray, second: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """One uint64 hash of two words, its top bits well spread (not injective: callers check)."""
    out = np.multiply(first, MIX, out=out)
    out ^= second * MIX_HIGH
    out ^= second >> np.uint64(29)
    return out


def _spread(code: np.ndarray, first: np.ndarray, rows: np.ndarray | None, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Codes and a row of each code (its first, or any) computed on the non-null ``rows`` (None:
    all), as codes and rows of all n IDs (NA: -1)."""
    if rows is None:
        return code, first
    full = np.full(n, -1, np.int64)
    full[rows] = code
    return full, rows[first]


def decimal_numbers(strings: _Strings) -> np.ndarray | None:
    """The number of each string when that number determines it: all are one fixed prefix (no
    digits in it; may be empty) followed by 1-8 decimal digits, at most 8 bytes in all, and either
    none of them has a leading zero or all have the same number of digits. None otherwise."""
    if not len(strings.lengths) or strings.longest > 8:
        return None
    lengths = strings.lengths
    first = int(strings.word_at[strings.starts[0]]) & int(_LOW_BYTES[lengths[0]])
    prefix = 0                                            # the first ID's leading non-digit bytes
    while prefix < int(lengths[0]) and not 0x30 <= (first >> (8 * prefix)) & 0xFF <= 0x39:
        prefix += 1
    shortest = int(lengths.min())
    if shortest - prefix < 1:
        return None
    head = np.uint64(first & int(_LOW_BYTES[prefix]))
    numbers = np.empty(len(lengths), np.uint64)
    for lo, hi in _chunks(len(lengths)):
        if not _parse_digits(strings.word_at[strings.starts[lo:hi]], lengths[lo:hi], prefix, head,
                             shortest == strings.longest, numbers[lo:hi]):
            return None
    return numbers.view(np.int64)


def _parse_digits(raw: np.ndarray, lengths: np.ndarray, prefix: int, head: np.uint64, one_width: bool,
                  out: np.ndarray) -> bool:
    """One chunk of `decimal_numbers`: ``raw`` (each string's first 8 bytes; overwritten) parsed
    into ``out``. False when a string is not ``head`` (its first ``prefix`` bytes) and digits, or
    when IDs of several widths have a leading zero."""
    raw &= _LOW_BYTES[lengths]
    if prefix and ((raw & _LOW_BYTES[prefix]) != head).any():
        return False
    text = raw >> np.uint64(8 * prefix) if prefix else raw
    digits = lengths - prefix
    if not one_width and (((text & np.uint64(0xFF)) == 0x30) & (digits > 1)).any():
        return False                                      # "007" and "7" would share a number
    # right-align the digits in the word and fill the bytes below them with "0": a leading "0" adds nothing
    below = 8 - digits
    np.left_shift(text, (below * 8).astype(np.uint64), out=text)
    text |= _ASCII_ZEROS & _LOW_BYTES[below]
    # every byte "0"-"9": its high nibble is 3, and still 3 after adding 6
    nibbles = (text & _HIGH_NIBBLES) | (((text + _PLUS_SIX) & _HIGH_NIBBLES) >> np.uint64(4))
    if not (nibbles == np.uint64(0x3333333333333333)).all():
        return False
    # eight ASCII digits to their number, three multiply-shift steps (Muła and Lemire's method)
    text -= _ASCII_ZEROS
    x = text * np.uint64(10)
    x += text >> np.uint64(8)
    mask = np.uint64(0x000000FF000000FF)
    high = (x >> np.uint64(16)) & mask
    high *= np.uint64(0x0000271000000001)
    x &= mask
    x *= np.uint64(0x000F424000000064)
    x += high
    np.right_shift(x, np.uint64(32), out=out)
    return True


def _number_codes(strings: _Strings, ordered: bool = True) -> tuple[np.ndarray, np.ndarray | None] | None:
    """(codes, the row of each code's first appearance) of the strings through `decimal_numbers`,
    indexed without hashing when the numbers span at most `DENSE_SPAN_PER_ROW` values per row.
    ``ordered=False``: (labels in the order of the numbers, a row of each)."""
    numbers = decimal_numbers(strings)
    if numbers is None:
        return None
    low = int(numbers.min())
    span = int(numbers.max()) - low + 1
    if span > DENSE_SPAN_PER_ROW * len(numbers) + 1024:
        return None
    key = numbers - low
    n = len(key)
    if not ordered:
        present = np.zeros(span, bool)
        present[key] = True
        label = (np.cumsum(present) - 1)[key]
        return label, _some_row(label)
    first_row = np.full(span, n, np.int64)
    np.minimum.at(first_row, key, np.arange(n, dtype=np.int64))
    present = first_row < n                              # the numbers that occur
    code_of_number, first = _appearance_codes(first_row[present], n)
    first_row[present] = code_of_number                  # from here on: the code of each number
    return first_row[key], first


def ascending_rows(rows: np.ndarray, n: int) -> np.ndarray:
    """The distinct ``rows`` (positions among n) in ascending order, without a sort: O(n) through a
    mask. Reads at these rows then run forward through memory, and ties keep table order."""
    mask = np.zeros(n, bool)
    mask[rows] = True
    return np.flatnonzero(mask)


def _appearance_codes(first_row: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """For groups numbered in any order, given the first row of each (out of n rows): the code of
    each group in order of first appearance, like `pd.factorize`, and the first row of each code."""
    is_first = np.zeros(n, bool)
    is_first[first_row] = True
    rank = np.cumsum(is_first) - 1                       # a first row's code: how many first rows before it
    return rank[first_row], np.flatnonzero(is_first)


def _first_rows(code: np.ndarray) -> np.ndarray:
    """The row of each code's first appearance, for codes numbered in order of first appearance."""
    seen_max = np.maximum.accumulate(code)
    return np.flatnonzero(np.concatenate([[True], seen_max[1:] > seen_max[:-1]]))


def integer_codes(key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Codes of uint64 keys whose top bits are well spread (e.g. multiplied by `MIX`), as
    `pd.factorize` numbers them, and each code's first row.

    Large inputs are split by the top `_PARTITION_BITS` bits of the key (a stable radix pass) and
    each part hashed on its own: the small hash tables stay in the CPU cache, ~1.5× faster than one
    table of a million keys."""
    return _hashed(key, True)


def integer_groups(key: np.ndarray) -> np.ndarray:
    """Labels of uint64 keys (top bits well spread): equal keys share a label, 0..k-1 in no
    particular order. `integer_codes` without the renumbering to first appearance."""
    return _hashed(key, False)[0]


def _hashed(key: np.ndarray, ordered: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """`integer_codes` (ordered) or (`integer_groups`, None)."""
    n = len(key)
    if n < _PARTITION_FROM:
        code = pd.factorize(key)[0].astype(np.int64, copy=False)
        return code, (_first_rows(code) if n else np.empty(0, np.int64)) if ordered else None
    part = (key >> np.uint64(64 - _PARTITION_BITS)).astype(np.uint8)
    order = np.argsort(part, kind="stable")             # radix sort of one byte: rows keep their order
    sorted_key = key[order]
    bounds = np.concatenate([[0], np.cumsum(np.bincount(part, minlength=1 << _PARTITION_BITS))])
    sorted_group = np.empty(n, np.int64)                 # the group of each row, in the order of the parts
    first_rows, offset = [], 0
    for lo, hi in zip(bounds[:-1], bounds[1:]):           # at most 64 parts, whatever the size of the data
        if lo == hi:
            continue
        local, distinct = pd.factorize(sorted_key[lo:hi])
        np.add(local, offset, out=sorted_group[lo:hi])
        if ordered:
            first_rows.append(order[lo + _first_rows(local)])
        offset += len(distinct)
    group = np.empty(n, np.int64)
    group[order] = sorted_group
    if not ordered:
        return group, None
    code_of_group, first = _appearance_codes(np.concatenate(first_rows), n)
    return code_of_group[group], first
