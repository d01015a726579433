"""Ingest's fast paths read exactly what the slow ones read: pyarrow's csv reader against the line reader,
fixed-width dates against pandas' strptime, columns parsed once per distinct value or cell by cell, a date
format found once for a table's files against detecting it in each file, the anchored regex that finds
total-row candidates against Python's whitespace."""
from __future__ import annotations

import re
import sys

import numpy as np
import pandas as pd
import pytest

from audit_kit.ingest import readers
from audit_kit.ingest import coerce
from audit_kit.ingest.coerce import (DATE_FORMATS, Distinct, SharedFormat, _strptime, fixed_width_times,
                                     parse_datetime, parse_number)
from audit_kit.ingest.presets import SPACE_CLASS


def _grids(path, monkeypatch, **kwargs):
    fast = readers.read_grid(path, {"id", "сумма", "дата"}, **kwargs)
    monkeypatch.setattr(readers, "_read_text_arrow", lambda *a, **k: None)
    slow = readers.read_grid(path, {"id", "сумма", "дата"}, **kwargs)
    monkeypatch.undo()
    return fast, slow


FILES = {
    "utf8_bom_crlf": ("\ufeffid,дата,сумма\r\n1,01.10.2024,100\r\n2,02.10.2024,\"1 200,50\"\r\n", "utf-8"),
    "cp1251_title_rows": ("Отчёт по оплатам за октябрь\n\nid;дата;сумма\n1;01.10.2024;100\n2;02.10.2024;200\n", "cp1251"),
    "blank_lines_inside_and_at_the_end": ("id,дата,сумма\n1,01.10.2024,100\n\n3,03.10.2024,300\n\n", "utf-8"),
    "quoted_delimiter_and_newline": ('id,дата,сумма\n1,01.10.2024,"a, b"\n2,"02.10.2024\nвечер",200\n', "utf-8"),
    "empty_header_cell": ("id,,дата,сумма\n1,x,01.10.2024,100\n", "utf-8"),
}


@pytest.mark.parametrize("name", FILES)
def test_arrow_reader_gives_the_line_readers_grid(tmp_path, monkeypatch, name):
    text, encoding = FILES[name]
    path = tmp_path / f"{name}.csv"
    path.write_bytes(text.encode(encoding))
    assert readers._read_text_arrow(path.read_bytes(), {"id", "сумма", "дата"}, None, None) is not None
    (fast, fast_head, _), (slow, slow_head, _) = _grids(path, monkeypatch)
    assert fast_head == slow_head
    assert fast.index.tolist() == slow.index.tolist()
    assert fast.fillna("").values.tolist() == slow.fillna("").values.tolist()
    assert fast.attrs["problems"] == {}
    # the line reader counts fields per physical line, so a value with a newline in quotes made its row look
    # short (rejected as too_few_fields); pyarrow reads the quoted newline as part of the value
    assert slow.attrs["problems"] == ({readers.TOO_FEW_FIELDS: [2]} if name == "quoted_delimiter_and_newline" else {})


@pytest.mark.parametrize("text", ["id;дата;сумма\n1;01.10.2024;Счёт № 5 — «ёлка» €\n2;02.10.2024;\n",
                                  "id;сумма\n1;" + "".join(bytes([b]).decode("cp1251") for b in range(0x80, 0x100)
                                                            if b != 0x98) + "\n"])
def test_a_small_cp1251_file_transcoded_at_once_reads_as_pyarrow_s_transcoding_stream(monkeypatch, text):
    data = text.encode("cp1251")
    whole, head, _ = readers._read_text_arrow(data, {"id", "сумма", "дата"}, None, None)
    monkeypatch.setattr(readers, "TRANSCODE_MAX_BYTES", 0)
    streamed, _, _ = readers._read_text_arrow(data, {"id", "сумма", "дата"}, None, None)
    pd.testing.assert_frame_equal(whole, streamed)
    assert whole.iloc[1, -1] == text.split("\n")[1].split(";")[-1]
    # a byte no cp1251 character has: the file goes to the line reader either way
    monkeypatch.setattr(readers, "TRANSCODE_MAX_BYTES", 64 << 20)
    assert readers._read_text_arrow(data + b"3;\x98\n", {"id", "сумма", "дата"}, "cp1251", None) is None


@pytest.mark.parametrize("data", [
    b"id,amount\n1,100\n2,200,extra\n",                                  # a row with more fields
    b"id,amount\n1,100\n2\n",                                            # a row with fewer fields
    "id;сумма\n1;100\n".encode("cp1251") + "2;двести\n".encode("utf-8") + "3;300\n".encode("cp1251"),
    "id,сумма\n1,100\n".encode("utf-16"),
    "id;сумма\n1;100\n2;\u0098\n".encode("utf-8").replace(b"\xc2\x98", b"\x98") + "3;сто\n".encode("cp1251"),
])
def test_files_the_arrow_reader_declines_go_to_the_line_reader(data):
    assert readers._read_text_arrow(data, {"id", "amount", "сумма"}, None, None) is None


def _timestamps(n: int, fmt: str, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    ts = pd.Timestamp("1960-01-01") + pd.to_timedelta(rng.integers(0, 120 * 365 * 86400, n), unit="s")
    return list(ts.strftime(fmt))


JUNK = ["31.02.2024 10:00", "29.02.2023", "29.02.2024", "00.01.2024", "1.1.2024", "01.13.2024", "01.01.1500",
        "01.01.2300 00:00", "01.01.2024 24:00", "01.01.2024 23:60", "01.01.2024 23:59:60", "2024-02-30 00:00:00",
        "01.01.68", "01.01.69", "31/04/2024", "12/31/2024 10:00", "01.01.2024  10:00", "٠١.٠١.٢٠٢٤", "", None]


@pytest.mark.parametrize("fmt", [*DATE_FORMATS, "%Y-%m-%d %H:%M:%S", "%H:%M %d.%m.%Y", "%m/%d/%Y %H:%M"])
def test_fixed_width_dates_read_as_pandas_reads_them(fmt):
    values = _timestamps(20_000, fmt)
    rng = np.random.default_rng(1)
    garbled = ["".join(c if not c.isdigit() else str(rng.integers(10)) for c in v) for v in values[:3000]]
    cells = pd.Series(values + garbled + JUNK, dtype="string")
    expected = pd.to_datetime(cells, format=fmt, errors="coerce")
    quick, hit = fixed_width_times(cells, fmt)
    assert hit[:20_000].all()                             # every canonical value is read with numpy
    got = _strptime(cells, fmt)
    inside = expected.isna() | expected.dt.year.between(1678, 2261)     # pandas reads years numpy leaves to it
    assert (~inside).any() == ("%Y" in fmt)    # garbled years such as 0202 or 9731: unparseable, not a crash
    assert got.isna().equals(expected.isna() | ~inside) and got.dtype == "datetime64[ns]"
    assert (got[inside & got.notna()].astype("datetime64[ns]").to_numpy()
            == expected[inside & expected.notna()].astype("datetime64[ns]").to_numpy()).all()


def test_a_column_that_hardly_repeats_is_parsed_cell_by_cell_to_the_same_values():
    n = 4 * Distinct.PROBE + 10
    cells = pd.Series(_timestamps(n, "%d/%m/%Y %H:%M:%S", seed=3), dtype="string")
    cells[::7] = None
    assert len(Distinct(cells).values) == n                         # not hashed: the cells themselves
    whole, bad = parse_datetime(cells)
    parts = pd.concat([parse_datetime(cells.iloc[i:i + 50_000])[0] for i in range(0, n, 50_000)])
    assert whole.equals(parts) and not bad.any()
    # slash dates that never show their order: each cell counted as read day first
    ambiguous = pd.Series([f"{d:02d}/{m:02d}/2024" for d in range(1, 13) for m in range(1, 13)] * 2000, dtype="string")
    ambiguous[:Distinct.PROBE] = [f"{i % 12 + 1:02d}/{i // 12 % 12 + 1:02d}/{1900 + i // 144 % 300:04d}"
                                  for i in range(Distinct.PROBE)]   # years 1900-2199
    assert len(Distinct(ambiguous).values) == len(ambiguous)
    assert parse_datetime(ambiguous)[0].attrs["assumed"] == len(ambiguous)
    amounts = pd.Series([f"{i} 000,5{i % 10}" for i in range(n)], dtype="string")
    number, bad = parse_number(amounts)
    assert not bad.any() and number.iloc[12] == 12000.52 and number.attrs["assumed"] == 0


def _files(*columns):
    return [pd.Series(list(c), dtype="string") for c in columns]


def _read_alike(files, formats=(), monkeypatch=None):
    """Each file's dates parsed with one SharedFormat and on their own: the same values, flags and counts."""
    shared = SharedFormat()
    for cells in files:
        got, got_bad = parse_datetime(cells, formats, None, shared)
        want, want_bad = parse_datetime(cells, formats)
        pd.testing.assert_series_equal(got, want)
        pd.testing.assert_series_equal(got_bad, want_bad)
        assert got.attrs["assumed"] == want.attrs["assumed"]
    return shared


def test_a_date_format_is_found_once_for_a_table_s_files(monkeypatch):
    files = _files(["01.10.2024 09:05", "02.10.2024 18:40", None, "01.10.2024 09:05"],
                   ["03.10.2024 10:00", "31.12.2024 23:59"],
                   [None, "29.02.2024 08:00"])
    calls = []
    real = coerce._formats_by_fit

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(coerce, "_formats_by_fit", counted)
    shared = SharedFormat()
    got = [parse_datetime(cells, (), None, shared)[0] for cells in files]
    assert (shared.fmt, shared.detected, len(calls)) == ("%d.%m.%Y %H:%M", 1, 1)    # found on the first file
    assert got[1].tolist() == [pd.Timestamp("2024-10-03 10:00"), pd.Timestamp("2024-12-31 23:59")]
    assert got[2].isna().tolist() == [True, False] and got[2].iloc[1] == pd.Timestamp("2024-02-29 08:00")
    assert got[0].dtype == "datetime64[ns]"


def test_a_file_that_breaks_the_shared_format_reads_as_detected_on_its_own():
    usual = [["01.10.2024 09:05", "02.10.2024 18:40"], ["03.10.2024 10:00", None, "03.10.2024 10:00"]]
    breaking = [["2024-10-05 10:00:00", "2024-10-06 11:30:00"],          # another format: found anew
                ["07.10.2024 09:00", "2024-10-08 10:00:00", "вчера"],    # mixed, and a bad cell
                [None, None],                                            # an empty column: nothing to detect
                ["9.10.2024 9:05", "10.10.2024 10:15"],                  # not zero-padded
                ["31.02.2024 10:00", "11.10.2024 10:00"],                # an impossible date
                ["12.10.2024 10:00", "45000"],                           # an Excel serial among them
                ["13.10.2024 10:00", "2024-10-13T10:00:00+00:00"]]       # a time with its UTC offset
    files = _files(*usual, *[f for odd in breaking for f in (odd, usual[0])])
    shared = _read_alike(files)
    # the first file, then each breaking file but the empty one, then the usual file after the ISO one
    assert shared.detected == 1 + (len(breaking) - 1) + 1 and shared.fmt == "%d.%m.%Y %H:%M"


def test_a_shared_format_holds_only_where_no_earlier_candidate_reads_the_file():
    # 01.02.2024 is read by a preset's %m.%d.%Y before the dd.mm.yyyy found on another file: found anew
    shared = SharedFormat()
    parse_datetime(pd.Series(["13.02.2024", "14.02.2024"], dtype="string"), (), None, shared)
    assert shared.fmt == "%d.%m.%Y"
    cells = pd.Series(["01.02.2024", "03.04.2024"], dtype="string")
    got, _ = parse_datetime(cells, ("%m.%d.%Y",), None, shared)
    assert got.tolist() == [pd.Timestamp("2024-01-02"), pd.Timestamp("2024-03-04")]
    assert shared.detected == 2
    # slash dates: the order proven by each file's own values, the default counted in each
    _read_alike(_files(["13/01/2024 10:00", "02/01/2024 10:00"], ["01/02/2024 10:00", "03/02/2024 10:00"],
                       ["01/13/2024 10:00", "01/02/2024 10:00"]))
    # a Unix-time preset: digits alone are never taken for the shared format's
    _read_alike(_files(["20241001", "20241002"], ["1727740800", "20241003"]), formats=("unix", "%Y%m%d"))


STRIPPED = [chr(c) for c in (*range(9, 14), *range(28, 33), 0x85, 0xA0, 0x1680, *range(0x2000, 0x200B), 0x2028,
                              0x2029, 0x202F, 0x205F, 0x3000)]


def test_text_is_stripped_and_emptied_as_arrow_s_kernels_do_on_every_cell():
    import pyarrow as pa
    import pyarrow.compute as pc

    from audit_kit.ingest.coerce import EMPTY_TEXT, as_text

    rng = np.random.default_rng(7)
    # letters whose last byte is also that of a stripped character (р = D1 80, ‰ = E2 80 B0), dashes, №, emoji
    alphabet = [*STRIPPED, "р", "я", "а", "x", "7", "—", "№", "‰", "€", "\u1681", "\u2100", "😀", "é", "\u00bf"]
    cells = ["".join(rng.choice(alphabet, rng.integers(0, 5))) for _ in range(20_000)]
    cells += [*EMPTY_TEXT, " nan ", "\u00a0None", "NaN\u3000", "nan1", "Приём терапевта", "Пётр ", None]
    chunks = pa.chunked_array([pa.array(cells[:7_000], pa.large_string()), pa.array(cells[7_000:], pa.large_string())[3:]])
    raw = pd.Series(pd.arrays.ArrowStringArray(chunks), dtype="string")
    trimmed = pc.utf8_trim_whitespace(chunks)
    expected = pc.if_else(pc.is_in(trimmed, value_set=pa.array(EMPTY_TEXT)), pa.scalar(None, trimmed.type), trimmed)
    got = as_text(raw)
    assert got.tolist() == pd.Series(pd.arrays.ArrowStringArray(expected), dtype="string").tolist()
    assert got.isna().sum() > 100 and (got.str.len() < raw.str.len()).sum() > 1_000    # both steps did work
    points = [c for c in range(0x110000) if not 0xD800 <= c < 0xE000]      # every code point, after an x
    kept = pc.binary_length(pc.utf8_trim_whitespace(pa.array(["x" + chr(c) for c in points]))).to_numpy()
    assert STRIPPED == [chr(c) for c, n in zip(points, kept) if n == 1]


@pytest.mark.parametrize("block", [4, 5, 1 << 25])
def test_utf8_lines_of_a_cp1251_file_are_found_two_bytes_at_a_time_as_byte_by_byte(monkeypatch, block):
    monkeypatch.setattr(readers, "SCAN_BLOCK", block)
    rng = np.random.default_rng(1)
    alphabet = np.array([0xD0, 0xD1, 0x80, 0xBF, 0xC0, 0x98, 0x0A, 0x41, 0xD2, 0x7F], np.uint8)
    files = [b"", b"\xd0", b"\x98", "Счёт\n".encode("cp1251") + "Привет\n".encode() + "Сумма\n".encode("cp1251")]
    files += [rng.choice(alphabet, size).tobytes() for size in (1, 2, 3, 5, 17, 100) for _ in range(100)]
    found = 0
    for data in files:
        raw = np.frombuffer(data, dtype=np.uint8)        # the definition, byte by byte
        starts = set(np.flatnonzero(((raw[:-1] == 0xD0) | (raw[:-1] == 0xD1)) & (raw[1:] >= 0x80) & (raw[1:] < 0xC0)
                                    | (raw[:-1] == 0x98)).tolist())
        expected = []
        for line, (start, end) in enumerate(_line_spans(data)):
            if any(start <= at < end for at in starts):
                try:
                    data[start:end].decode("utf-8")
                    expected.append((line, start, end))
                except UnicodeDecodeError:
                    pass
        assert readers._utf8_lines(data) == expected
        found += len(expected)
    assert found > 20 and readers._utf8_lines(files[3]) == [(1, 5, 17)]


def _line_spans(data: bytes):
    start = 0
    for end in [i for i, b in enumerate(data) if b == 0x0A] + [len(data)]:
        yield start, end
        start = end + 1


def test_space_class_is_pythons_whitespace():
    spaces = "".join(chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace())
    import pyarrow as pa
    import pyarrow.compute as pc

    chars = pa.array([chr(c) for c in range(0x3100) if not 0xD800 <= c < 0xE000])
    matched = pc.match_substring_regex(chars, f"^{SPACE_CLASS}$").to_pylist()
    assert "".join(c for c, m in zip(chars.to_pylist(), matched) if m) == "".join(c for c in spaces if ord(c) < 0x3100)
    assert re.fullmatch(r"\s+", spaces)


def test_the_sniffer_counting_only_the_candidates_agrees_with_the_standard_one():
    import csv
    import random

    rng = random.Random(3)
    samples = ["id;дата;сумма\n1;01.10.2024;100,5\n2;02.10.2024;200", "a,b,c\n1,2,3", "a\tb\n1\t2", "a|b|c\n1|2|3",
               'a;"b,c";d\n1;"2,5";3'] + ["".join(rng.choice(",;\t|: ab1\"'\n") for _ in range(rng.randint(0, 300)))
                                         for _ in range(1500)]

    def sniff(cls, sample):
        try:
            return cls().sniff(sample, delimiters=readers.DELIMITERS).delimiter
        except csv.Error:
            return None

    assert [sniff(readers._Sniffer, s) for s in samples] == [sniff(csv.Sniffer, s) for s in samples]
