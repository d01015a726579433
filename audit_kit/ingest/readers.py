"""Read a raw export (csv, tsv, xlsx, xls, ods, or an HTML table saved as .xls) into a frame of raw cell
values, keeping source row numbers.

The format is decided by the file's first bytes, not its name: a zip is xlsx/ods, an OLE2 header is a
legacy .xls (BIFF), markup starting with `<` is an HTML table (Bitrix24 and several MIS and 1C
reports write their "Excel" export so); anything else is delimited text.

Encodings utf-8, utf-8-sig, cp1251 and utf-16 (Excel "Unicode text"); a file in one encoding with
some lines in the other is decoded line by line and the lines counted; delimiters `,` `;` and tab;
the header row is found among the first rows (1C and MIS reports often put a title above it). Rows
with fewer or more fields than the header are named (RawTable.problems) for the ledger.
"""
from __future__ import annotations

import codecs
import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError

ENCODINGS = ("utf-8-sig", "cp1251")
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
ENCODING_SAMPLE_LINES = 2000       # lines that decide whether a non-UTF-8 file is mostly cp1251
# Ledger reasons for rows the reader flags (ingest/load.py rejects or counts them as fixed).
MIXED_ENCODING = "mixed_encoding (re-decoded)"
TOO_FEW_FIELDS, TOO_MANY_FIELDS = "too_few_fields", "too_many_fields"
DELIMITERS = ",;\t|"
OTHER_SEPARATORS = ":#/^~"       # characters that, repeated in a one-column header, say the file uses one
HEADER_SCAN_ROWS = 15
SNIFF_LINES = 50                # lines the delimiter is sniffed on


@dataclass
class RawTable:
    """Raw cells as read (strings for csv; Excel-typed objects for xlsx) and where they came from."""

    frame: pd.DataFrame          # columns = raw headers as found; values untouched
    row_numbers: pd.Series       # source row number (1-based, as a spreadsheet shows it) per row
    file: Path
    from_excel: bool
    problems: dict[str, pd.Series] = field(default_factory=dict)   # ledger reason -> bool per row


def _decode(path: Path, encoding: str | None, data: bytes | None = None) -> tuple[str, str, list[int]]:
    """(text, encoding, 0-based numbers of lines that were in another encoding and were re-decoded)."""
    data = path.read_bytes() if data is None else data
    if encoding:
        try:
            if codecs.lookup(encoding).name != "cp1251":
                return data.decode(encoding), encoding, []
            return _cp1251_with_utf8_lines(data)
        except LookupError:
            raise InputError(f"{path}: unknown encoding {encoding!r} (data.<table>.encoding in audit.yaml); "
                             f"expected e.g. utf-8, cp1251 or utf-16, or remove the setting") from None
        except UnicodeDecodeError as exc:
            raise InputError(f"{path}: cannot decode the file as {encoding} (set in audit.yaml, data.<table>.encoding): "
                             f"byte {exc.start} is not {encoding}; remove the setting to let the kit detect "
                             f"utf-8, cp1251 or utf-16") from None
    if data[:2] in UTF16_BOMS or _looks_utf16(data):
        enc = "utf-16" if data[:2] in UTF16_BOMS else ("utf-16-le" if data[1:2] in (b"\x00", b"\x04") else "utf-16-be")
        try:
            return data.decode(enc), "utf-16", []
        except UnicodeDecodeError:
            raise InputError(f"{path}: the file looks like UTF-16 (Excel 'Unicode text') but cannot be decoded as "
                             f"such; save it again as 'CSV UTF-8' or xlsx") from None
    if data[:3] == b"\xef\xbb\xbf":
        data = data[3:]
    try:
        return data.decode("utf-8"), "utf-8", []
    except UnicodeDecodeError:
        pass
    if _mostly_cp1251(data):
        return _cp1251_with_utf8_lines(data)
    # Mostly UTF-8 with some lines in Windows-1251 (two exports glued together): re-decode those lines.
    text = data.decode("utf-8", errors="surrogateescape")
    pieces, lines, pos, line_no = [], [], 0, 0
    for m in _BAD_LINE.finditer(text):
        line_no += text.count("\n", pos, m.start())
        pieces.append(text[pos:m.start()])
        pieces.append(m.group().encode("utf-8", "surrogateescape").decode("cp1251", errors="replace"))
        lines.append(line_no)
        pos = m.end()
    pieces.append(text[pos:])
    return "".join(pieces), "utf-8", lines


def _cp1251_with_utf8_lines(data: bytes) -> tuple[str, str, list[int]]:
    """A cp1251 file; lines that are UTF-8 (`_utf8_lines`) are decoded as UTF-8 and their numbers returned."""
    lines = _utf8_lines(data)
    if not lines:
        return data.decode("cp1251", errors="replace"), "cp1251", []
    pieces, pos = [], 0
    for _, start, end in lines:
        pieces.append(data[pos:start].decode("cp1251", errors="replace"))
        pieces.append(data[start:end].decode("utf-8"))
        pos = end
    pieces.append(data[pos:].decode("cp1251", errors="replace"))
    return "".join(pieces), "cp1251", [line for line, _, _ in lines]


# A cp1251 file up to this size is transcoded to UTF-8 by Python's codec before pyarrow parses it, rather than by
# pyarrow's transcoding stream (which calls the same codec block by block): 14.5 instead of 20.7 ms of CPU for one
# branch's 1.7 MB payments export (345 of them at 345 branches). Larger files stay streamed: the whole UTF-8 copy
# would add 1.4 times the file to the reading's memory, and on a 110 MB export the gain is 8 %.
TRANSCODE_MAX_BYTES = 64 << 20
SCAN_BLOCK = 1 << 25      # bytes scanned at once for UTF-8 lines in a cp1251 file (bounds the scan's memory)


def _utf8_lines(data: bytes) -> list[tuple[int, int, int]]:
    """(0-based line number, start, end) of the lines of a cp1251 file that are UTF-8: Cyrillic there is
    bytes D0/D1 + 80..BF, which cp1251 text almost never has, and such a line then decodes as UTF-8.
    The candidates are found with numpy on the bytes, block by block, so a clean file costs one scan."""
    out: list[tuple[int, int, int]] = []
    line, counted, seen = 0, 0, -1
    for lo in range(0, max(len(data) - 1, 0), SCAN_BLOCK):
        for at in _utf8_candidates(data, lo, min(SCAN_BLOCK, len(data) - 1 - lo)):
            if at < seen:
                continue            # a line already looked at
            start = data.rfind(b"\n", 0, at) + 1
            end = data.find(b"\n", at)
            end = len(data) if end < 0 else end
            line += data.count(b"\n", counted, start)
            counted, seen = start, end
            try:
                data[start:end].decode("utf-8")
            except UnicodeDecodeError:
                continue            # a cp1251 line after all (or broken): decoded with the rest
            out.append((line, start, end))
    return out


def _utf8_candidates(data: bytes, lo: int, n: int) -> np.ndarray:
    """Positions lo…lo+n-1 of `data` that start a UTF-8 Cyrillic pair (D0/D1 then 80..BF) or hold 0x98 (no
    cp1251 character). The pairs are tested two bytes at a time as little-endian uint16 (at even and at odd
    offsets: one mask and one comparison a pair, where testing byte by byte made seven passes): twice as fast,
    0.68 s of CPU for the 282 MB visits export of 345 branches before; 0x98 is looked for with `bytes.find`."""
    even = np.frombuffer(data, dtype="<u2", count=(n + 1) // 2, offset=lo)
    odd = np.frombuffer(data, dtype="<u2", count=n // 2, offset=lo + 1)
    found = [2 * np.flatnonzero((even & 0xC0FE) == 0x80D0), 2 * np.flatnonzero((odd & 0xC0FE) == 0x80D0) + 1]
    if data.find(b"\x98", lo, lo + n) >= 0:
        found.append(np.flatnonzero(np.frombuffer(data, dtype=np.uint8, count=n, offset=lo) == 0x98))
    return np.sort(np.concatenate(found)) + lo


_BAD_LINE = re.compile(r"[^\n]*[\udc80-\udcff][^\n]*")


def _looks_utf16(data: bytes) -> bool:
    """UTF-16 without a BOM: nearly every other byte of the first ones is 0x00 (Latin, digits) or 0x04 (Cyrillic)."""
    head = data[:2000]
    if len(head) < 4:
        return False
    for high in (head[1::2], head[0::2]):
        if sum(high.count(b) for b in (b"\x00", b"\x04")) >= 0.9 * len(high):
            return True
    return False


def _mostly_cp1251(data: bytes) -> bool:
    """Among the first lines with non-ASCII bytes, are most invalid as UTF-8 (so the file is cp1251)? The lines
    are looked at until the lines left could not change the answer (a cp1251 export: about half of them)."""
    bad = good = 0
    lines = _first_lines(data, ENCODING_SAMPLE_LINES, split=lambda t: t.split(b"\n"))
    for i, line in enumerate(lines):
        if line.isascii():
            continue
        try:
            line.decode("utf-8")
            good += 1
        except UnicodeDecodeError:
            bad += 1
        left = len(lines) - 1 - i
        if bad > good + left or good >= bad + left:
            break
    return bad > good


def _first_lines(text, n: int, split=None) -> list:
    """The first `n` lines of a text (str or bytes) without splitting the rest of it: `split(text)[:n]`
    (default `text.splitlines()`) on the part up to the n-th newline."""
    split = split or (lambda t: t.splitlines())
    newline = b"\n" if isinstance(text, bytes) else "\n"
    end = -1
    for _ in range(n):
        end = text.find(newline, end + 1)
        if end < 0:
            return split(text)[:n]
    return split(text[:end + 1])[:n]


class _Sniffer(csv.Sniffer):
    """`csv.Sniffer` whose frequency analysis counts only the candidate delimiters.

    The standard one counts all 127 ASCII characters on every sampled line (6 350 `str.count` calls on
    50 lines, ≈ 10 ms a file; a network's 345 payment exports paid it 345 times) and then keeps only the
    candidates: each character's counts are independent of the others', so counting the candidates
    alone gives the same answer. The body is Python 3.11's `_guess_delimiter` with that one change."""

    def _guess_delimiter(self, data, delimiters):
        data = list(filter(None, data.split("\n")))
        chars = list(delimiters) if delimiters else [chr(c) for c in range(127)]
        chunk_length = min(10, len(data))
        iteration = 0
        char_frequency: dict = {}
        modes: dict = {}
        delims: dict = {}
        start, end = 0, chunk_length
        while start < len(data):
            iteration += 1
            for line in data[start:end]:
                for char in chars:
                    meta = char_frequency.get(char, {})
                    freq = line.count(char)
                    meta[freq] = meta.get(freq, 0) + 1
                    char_frequency[char] = meta
            for char in char_frequency.keys():
                items = list(char_frequency[char].items())
                if len(items) == 1 and items[0][0] == 0:
                    continue
                if len(items) > 1:
                    modes[char] = max(items, key=lambda x: x[1])
                    items.remove(modes[char])
                    modes[char] = (modes[char][0], modes[char][1] - sum(item[1] for item in items))
                else:
                    modes[char] = items[0]
            total = float(min(chunk_length * iteration, len(data)))
            consistency, threshold = 1.0, 0.9
            while len(delims) == 0 and consistency >= threshold:
                for k, v in modes.items():
                    if v[0] > 0 and v[1] > 0:
                        if (v[1] / total) >= consistency and (delimiters is None or k in delimiters):
                            delims[k] = v
                consistency -= 0.01
            if len(delims) == 1:
                delim = list(delims.keys())[0]
                return delim, data[0].count(delim) == data[0].count("%c " % delim)
            start = end
            end += chunk_length
        if not delims:
            return "", 0
        if len(delims) > 1:
            for d in self.preferred:
                if d in delims.keys():
                    return d, data[0].count(d) == data[0].count("%c " % d)
        delim = sorted((v, k) for k, v in delims.items())[-1][1]
        return delim, data[0].count(delim) == data[0].count("%c " % delim)


def _sniff_delimiter(text: str) -> str:
    sample = "\n".join(_first_lines(text, SNIFF_LINES))
    try:
        return _Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        counts = {d: sample.count(d) for d in DELIMITERS}
        return max(counts, key=counts.get)


def find_header(rows: list[list], known: set[str]) -> int:
    """Index of the row among the first ones whose cells match the most known headers."""
    from .coerce import normalise_header

    best, best_hits = 0, -1
    for i, row in enumerate(rows[:HEADER_SCAN_ROWS]):
        hits = sum(1 for v in row if v is not None and str(v).strip() and normalise_header(str(v)) in known)
        if hits > best_hits:
            best, best_hits = i, hits
    return best


ZIP, OLE2 = b"PK\x03\x04", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def file_kind(path: Path) -> str:
    """'excel' (xlsx, xlsm, ods, BIFF xls: read by calamine), 'html' (an HTML table) or 'text'."""
    with open(path, "rb") as fh:
        head = fh.read(4096)
    if head.startswith(ZIP) or head.startswith(OLE2):
        return "excel"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith(b"<") and (b"<table" in head.lower() or b"<html" in text[:200] or b"<!doctype" in text[:20]):
        return "html"
    return "text"


def read_html_table(path: Path) -> pd.DataFrame:
    """The first `<table>` of an HTML file as a grid of cell texts (a Bitrix24 "Excel" export).

    Parsed with lxml (header cells `th` and data cells `td` alike; `colspan` repeats nothing)."""
    import lxml.html

    tree = lxml.html.parse(str(path))
    tables = tree.getroot().xpath("//table") if tree.getroot() is not None else []
    if not tables:
        raise InputError(f"{path}: an HTML file without a <table>; expected an export with one table of rows")
    rows = [[cell.text_content().strip() for cell in tr.xpath("./th|./td")] for tr in tables[0].xpath(".//tr")]
    width = max((len(r) for r in rows), default=0)
    grid = pd.DataFrame([r + [""] * (width - len(r)) for r in rows], dtype=object)
    return grid.replace("", None)


def read_grid(path: Path, known: set[str], *, sheet=None, encoding: str | None = None,
              delimiter: str | None = None) -> tuple[pd.DataFrame, int, bool]:
    """Cells from the header row down: (grid, header row index in the file (0-based), from_excel)."""
    suffix = path.suffix.lower()
    if path.stat().st_size == 0:
        raise InputError(f"{path}: the file is empty; expected a header row and at least one data row")
    kind = file_kind(path)
    if kind == "text" and suffix in (".xlsx", ".xlsm", ".ods"):
        raise InputError(f"{path}: cannot read the file: the name says {suffix} but the content is not a workbook "
                         f"(it reads as plain text); export it again as xlsx, or rename it to .csv if it is a csv")
    try:
        if kind == "html":
            grid = read_html_table(path)
            head = find_header(grid.head(HEADER_SCAN_ROWS).values.tolist(), known)
            return grid.iloc[head:], head, True
        if kind == "excel":
            # calamine (Rust) reads xlsx about ten times faster than openpyxl
            grid = pd.read_excel(path, sheet_name=0 if sheet is None else sheet, header=None, dtype=object,
                                 engine="calamine")
            head = find_header(grid.head(HEADER_SCAN_ROWS).values.tolist(), known)
            return grid.iloc[head:], head, True
        # the file's bytes are the reader's alone, which lets them go before its table is made a frame
        fast = _read_text_arrow(path.read_bytes(), known, encoding, delimiter)
        if fast is not None:
            return fast
        text, _, redecoded = _decode(path, encoding)
        if not text.strip():
            raise InputError(f"{path}: the file is empty; expected a header row and at least one data row")
        sep = delimiter or _sniff_delimiter(text)
        first = list(csv.reader(_first_lines(text, HEADER_SCAN_ROWS), delimiter=sep))
        head = find_header(first, known)
        fields = _field_counts(text, sep)
        width = int(fields[head:].max()) if len(fields) > head else 1
        grid = pd.read_csv(io.StringIO(text), sep=sep, header=None, names=range(width), dtype=str,
                           keep_default_na=False, skip_blank_lines=False, skiprows=head, engine="c")
        grid.index = grid.index + head
        grid.attrs["problems"] = _ragged(grid, fields) | ({MIXED_ENCODING: redecoded} if redecoded else {})
        return grid, head, False
    except InputError:
        raise
    except pd.errors.EmptyDataError:
        raise InputError(f"{path}: the file is empty; expected a header row and at least one data row") from None
    except ValueError as exc:
        if "Worksheet" in str(exc) or "sheet" in str(exc).lower():
            raise InputError(f"{path}: sheet {sheet!r} not found: {exc}".splitlines()[0]) from None
        raise InputError(f"{path}: cannot read the file as {suffix.lstrip('.') or 'csv'}: {exc}".splitlines()[0]) from None
    except Exception as exc:  # zip/xml/tokenizer errors from a corrupt file
        raise InputError(f"{path}: cannot read the file ({type(exc).__name__}: {exc})".splitlines()[0]) from None


def _read_text_arrow(data: bytes, known: set[str], encoding: str | None,
                     delimiter: str | None) -> tuple[pd.DataFrame, int, bool] | None:
    """A delimited text file parsed by pyarrow's csv reader (C++, in parallel blocks): the grid
    `read_grid` returns, its cells as strings. pyarrow reads UTF-8 and transcodes cp1251 on the fly; it
    stops at the first row whose number of fields differs from the header's and at bytes that are not of
    the encoding. None then, and for UTF-16 and files with lines in another encoding: those are read line by line
    (`_decode`, pandas), where every such line is named for the ledger. The header row and the
    delimiter are found on the first lines only, as for any file."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    body = pa.py_buffer(data)
    if encoding:
        try:
            name = codecs.lookup(encoding).name
        except LookupError:
            return None
        if name not in ("utf-8", "cp1251") or (name == "utf-8" and data[:3] == b"\xef\xbb\xbf"):
            return None
        cp1251 = name == "cp1251"
    else:
        if data[:2] in UTF16_BOMS or _looks_utf16(data):
            return None
        if data[:3] == b"\xef\xbb\xbf":
            body = body.slice(3)
        cp1251 = _mostly_cp1251(data)     # a file valid as UTF-8 never is; one that is not fails in pyarrow
    if cp1251 and _utf8_lines(data):
        return None
    try:
        lines = _first_lines(_head(body, max(SNIFF_LINES, HEADER_SCAN_ROWS)).decode(
            "cp1251" if cp1251 else "utf-8", errors="replace" if cp1251 else "strict"), max(SNIFF_LINES, HEADER_SCAN_ROWS))
    except UnicodeDecodeError:
        return None
    if not "".join(lines).strip():
        return None
    sep = delimiter or _sniff_delimiter("\n".join(lines))
    if len(sep) != 1:
        return None
    first = list(csv.reader(lines[:HEADER_SCAN_ROWS], delimiter=sep))
    head = find_header(first, known)
    width = len(first[head]) if head < len(first) else 1
    charset = "cp1251" if cp1251 else "utf8"
    if cp1251 and len(data) <= TRANSCODE_MAX_BYTES:
        try:        # the same codec pyarrow would call, on the whole file at once
            body, charset = pa.py_buffer(data.decode("cp1251").encode("utf-8")), "utf8"
        except UnicodeDecodeError:
            return None
    try:
        table = pcsv.read_csv(
            pa.BufferReader(body),
            read_options=pcsv.ReadOptions(skip_rows=head, autogenerate_column_names=True, encoding=charset),
            parse_options=pcsv.ParseOptions(delimiter=sep, newlines_in_values=True, ignore_empty_lines=False,
                                            invalid_row_handler=lambda row: "error"),
            convert_options=pcsv.ConvertOptions(column_types={f"f{i}": pa.large_string() for i in range(width)},
                                                strings_can_be_null=False, quoted_strings_can_be_null=False))
    except (pa.ArrowException, UnicodeDecodeError):
        return None
    if table.num_columns != width:
        return None
    # The cells as large_string, the "string" dtype's own type: the frame shares the table's buffers; the file's
    # bytes are let go first (at 345 branches the bookings export is 0.5 GB, its grid 1 GB).
    del data, body
    grid = table.to_pandas()
    grid.columns = range(width)
    grid.index = pd.RangeIndex(head, head + len(grid))
    grid.attrs["problems"] = {}
    return grid, head, False


def _head(body, lines: int) -> bytes:
    """The bytes of a buffer up to its `lines`-th newline (all of it when it has fewer)."""
    size = 1 << 16
    while True:
        chunk = body.slice(0, min(size, len(body))).to_pybytes()
        if size >= len(body) or chunk.count(b"\n") >= lines:
            end = -1
            for _ in range(lines):
                end = chunk.find(b"\n", end + 1)
                if end < 0:
                    return chunk
            return chunk[:end + 1]
        size *= 4


def _field_counts(text: str, sep: str) -> np.ndarray:
    """Fields per line (0-based line numbers, as read_csv numbers rows with blank lines kept).

    Counted on the bytes with numpy; lines with a quote are recounted with the csv module, as a
    quoted value may hold the delimiter.
    """
    raw = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
    ends = np.flatnonzero(raw == 10)
    if not len(ends) or ends[-1] != len(raw) - 1:
        ends = np.append(ends, len(raw))
    starts = np.concatenate(([0], ends[:-1] + 1))
    seps = np.flatnonzero(raw == ord(sep))
    counts = np.searchsorted(seps, ends) - np.searchsorted(seps, starts) + 1
    quotes = np.flatnonzero(raw == ord('"'))
    if len(quotes):
        quoted = np.flatnonzero(np.searchsorted(quotes, ends) - np.searchsorted(quotes, starts))
        lines = text.split("\n")
        for i in quoted:
            counts[i] = max(len(next(csv.reader([lines[i]], delimiter=sep), [])), 1)
    return counts


def _ragged(grid: pd.DataFrame, fields: np.ndarray) -> dict[str, list[int]]:
    """Data rows (line numbers) with fewer fields than the header's named columns, or with values
    beyond the header's last field (a trailing delimiter with nothing after it is fine)."""
    header = grid.iloc[0]
    named = [i for i, h in enumerate(header) if isinstance(h, str) and h.strip()]
    if not named or len(grid) < 2:
        return {}
    lines = grid.index.to_numpy()[1:]
    counts = fields[lines] if len(fields) > lines.max() else np.ones(len(lines), dtype=int)
    text_lines = counts > 1    # a line with one field is blank or a note; the blank-row rules cover it
    few = lines[(counts < named[-1] + 1) & text_lines]
    header_fields = int(fields[grid.index[0]])
    extra = grid.iloc[1:, header_fields:]
    many = lines[extra.ne("").any(axis=1).to_numpy()] if extra.shape[1] else lines[:0]
    out = {}
    if len(few):
        out[TOO_FEW_FIELDS] = few.tolist()
    if len(many):
        out[TOO_MANY_FIELDS] = many.tolist()
    return out


def formulas_without_values(path: Path, sheet, header_row: int, headers: list[str], rows: int = 200) -> list[str]:
    """Headers (of `headers`) whose cells in the first `rows` data rows of an xlsx are formulas with no
    saved value (a workbook written by a program and never opened in Excel): the reader sees them
    empty. Only called when a required column came out mostly empty."""
    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=False)
    except Exception:  # noqa: BLE001 (not an xlsx openpyxl reads: nothing to say)
        return []
    try:
        ws = book[sheet] if isinstance(sheet, str) else book.worksheets[sheet or 0]
        found: set[str] = set()
        for r, row in enumerate(ws.iter_rows(min_row=header_row + 1, max_row=header_row + 1 + rows, values_only=True)):
            if r == 0:
                names = [("" if v is None else str(v)).strip() for v in row]
                continue
            for name, value in zip(names, row):
                if name in headers and isinstance(value, str) and value.startswith("="):
                    found.add(name)
        return [h for h in headers if h in found]
    finally:
        book.close()


def one_column_header(headers: list[str], path: Path) -> None:
    """A header that reads as one column while it holds a separator several times: name the separator."""
    cells = [h for h in headers if h]
    if len(cells) != 1:
        return
    counts = {c: cells[0].count(c) for c in DELIMITERS + OTHER_SEPARATORS}
    sep, n = max(counts.items(), key=lambda kv: kv[1])
    if n >= 2:
        shown = {"\t": "a tab"}.get(sep, f"'{sep}'")
        raise InputError(f"{path}: the header reads as one column ('{cells[0][:60]}'), but it is split by {shown}; "
                         f"set the separator in audit.yaml (data.<table>.delimiter: \"{sep}\") or export the file "
                         f"with ';' or ','")


def to_raw_table(grid: pd.DataFrame, path: Path, from_excel: bool) -> RawTable:
    """First grid row is the header; data rows keep their 1-based source row numbers."""
    headers = [("" if pd.isna(h) else str(h)).strip() for h in grid.iloc[0]]
    one_column_header(headers, path)
    frame = grid.iloc[1:].copy()
    frame.columns = _unique(headers)
    frame = frame.loc[:, [h for h in frame.columns if not h.startswith("__blank")]]
    lines = frame.index.to_numpy()
    row_numbers = pd.Series(lines + 1, index=range(len(frame)))
    frame = frame.reset_index(drop=True)
    if frame.empty:
        raise InputError(f"{path}: the file has a header but no data rows; expected at least one row")
    problems = {reason: pd.Series(np.isin(lines, flagged)) for reason, flagged in grid.attrs.get("problems", {}).items()}
    return RawTable(frame, row_numbers, path, from_excel, problems)


def _unique(headers: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for i, h in enumerate(headers):
        if not h:
            out.append(f"__blank{i}")
            continue
        n = seen.get(h, 0)
        seen[h] = n + 1
        out.append(h if n == 0 else f"{h}.{n}")
    return out


# UTF-8 Cyrillic read as cp1251 turns every letter into Р or С and a character from bytes 0x80-0xBF.
_CONTINUATION = bytes(range(0x80, 0xC0)).decode("cp1251", errors="ignore")
MOJIBAKE_PATTERN = "[РСВв][" + re.escape(_CONTINUATION) + "]"


def redecode_mojibake(text: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    """Cells that are UTF-8 text read as cp1251 ("РџСЂРёС‘Рј") decoded back ("Приём").

    A distinct value is a candidate when it holds such a pair and is re-decoded only when its
    cp1251 bytes are valid UTF-8, which ordinary Russian text never is. Returns the frame and a
    bool per row: some cell was re-decoded.
    """
    from .coerce import on_distinct

    def rewrite(distinct: pd.Series) -> tuple[pd.Series, pd.Series]:
        candidate = distinct.str.contains(MOJIBAKE_PATTERN, regex=True).fillna(False).astype(bool)
        redone = pd.Series([_redecode(v) for v in distinct[candidate]], index=distinct.index[candidate], dtype=object)
        redone = redone.dropna()
        out = distinct.copy()
        out[redone.index] = redone.astype("string")
        return out, pd.Series(distinct.index.isin(redone.index), index=distinct.index)

    fixed = pd.Series(False, index=text.index)
    out = text
    for col in text.columns:
        values, hit = on_distinct(text[col], rewrite)
        if hit.any():
            out = out.copy() if out is text else out
            out[col] = values
            fixed |= hit
    return out, fixed


def _redecode(value: str) -> str | None:
    try:
        return value.encode("cp1251").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return None
