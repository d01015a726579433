"""tables.xlsx: every table of the report on its own sheet, for the clinic's analyst.

A README sheet comes first (what each sheet holds, with links). Each sheet has a frozen header,
column widths, number formats for money, rates, counts and dates, and is safe to open: a text
cell from the data that begins with = + - @ (or a tab / carriage return) is written as text with
an apostrophe in front ("'=SUM(A1)"), so neither Excel nor a CSV export ever runs it as a formula.

A sheet holds at most `SHEET_ROWS_MAX` rows. A longer table (e.g. one row per patient of a large
network) shows its first rows under a note, and is written whole as a csv file in the folder
`<workbook>_full/` beside the workbook (`complete_csv`); the README sheet names that file.

Written with XlsxWriter in constant-memory mode (measured on the M and L networks against openpyxl's
write-only mode: the same sheets 2.3–2.6× faster, benchmarks/bench_xlsx.py), except the sheets' data
rows: every xlsx writer makes a cell's XML in Python (XlsxWriter ≈ 7.8 µs a cell), so the rows are made
here as sheet XML a column at a time, each distinct cell once (`SheetRows`, ≈ 0.5 µs a cell zipped, byte
for byte XlsxWriter's rows), and put into the package XlsxWriter wrote (`insert_rows`). The row cap keeps a
sheet one an analyst can scroll; the complete tables go through pandas' vectorised csv writer.
"""
from __future__ import annotations

import io
import json
import os
import re
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np
import pandas as pd

from .appendix import ReportTable
from .fmt import Formatter
from .i18n import Translator

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
SHEET_NAME_MAX = 31
BAD_SHEET_CHARS = re.compile(r"[\[\]:*?/\\]")
# Control characters an xlsx cannot hold (the same set as openpyxl's ILLEGAL_CHARACTERS_RE).
ILLEGAL_CHARACTERS = re.compile(r"[\000-\010]|[\013-\014]|[\016-\037]")
README = "README"
WIDTH_MIN, WIDTH_MAX = 8, 60
SAMPLE_ROWS = 300           # rows looked at to size a column
EXCEL_ROWS_MAX = 1_048_576  # what Excel opens, header included
# Rows of a table on its sheet. Excel would open a million, but an analyst scrolls, filters and
# sorts 100 k rows comfortably, and a capped sheet keeps the workbook bounded (its rows made as XML,
# `SheetRows`: ≈ 0.5 s and 75 MB of XML, 7.6 MB zipped, per 100 k rows of 12 columns; XlsxWriter cell by
# cell took ≈ 10 s); a longer table is complete in its csv beside the workbook.
SHEET_ROWS_MAX = 100_000
FULL_SUFFIX = "_full"       # tables.xlsx -> tables_full/<sheet>.csv
EXCEL_EPOCH = np.datetime64("1899-12-30", "ns")
NS_PER_DAY = 86_400 * 10**9
HEADER_FILL = "#EEF1F4"
LINK_COLOUR = "#1F5F8B"


def neutralise(value: str) -> str:
    """Text that a spreadsheet could read as a formula gets a leading apostrophe: '=1+1 -> "'=1+1"."""
    return "'" + value if value.startswith(FORMULA_START) else value


def neutralise_column(s: pd.Series) -> pd.Series:
    """`neutralise` over a text column, vectorised (missing values stay missing)."""
    s = s.astype("string")
    hit = s.str.startswith(FORMULA_START).fillna(False).to_numpy(bool)
    if not hit.any():           # the usual case: no cell to change, none copied
        return s
    rows = np.flatnonzero(hit)
    out = s.copy()
    out.iloc[rows] = "'" + s.iloc[rows]
    return out


def sheet_name(name: str, taken: set[str]) -> str:
    """A valid, unique sheet name: no []:*?/\\, at most 31 characters, unique ignoring case."""
    base = BAD_SHEET_CHARS.sub("_", str(name)).strip("'") or "table"
    base = base[:SHEET_NAME_MAX]
    candidate, n = base, 1
    while candidate.lower() in taken or candidate.lower() == "history":
        n += 1
        suffix = f"~{n}"
        candidate = base[: SHEET_NAME_MAX - len(suffix)] + suffix
    taken.add(candidate.lower())
    return candidate


def number_formats(language: str, sign: str) -> dict[str, str]:
    """Excel number format per column kind (Excel shows the separators of the reader's locale)."""
    ru = language == "ru"
    unit = lambda ru_text, en_text: f' "{ru_text if ru else en_text}"'   # noqa: E731
    pp = unit("п. п.", "pp")
    return {
        "count": "#,##0",
        "money": f'#,##0 "{sign}"' if ru else f'"{sign}"#,##0',
        "rate": "0.0%",
        "ratio": "0.0%",                 # a fraction that may be < 0 or > 1 (ROMI, ДРР)
        "change": "+0.0%;-0.0%;0.0%",
        "pp": f"+0.0{pp};-0.0{pp};0.0{pp}",
        "minutes": "#,##0" + unit("мин", "min"),
        "hours": "#,##0.0" + unit("ч", "h"),
        "days": "#,##0",
        "number": "#,##0.0",
        "date": "DD.MM.YYYY" if ru else "YYYY-MM-DD",
        "month": "MM.YYYY" if ru else "YYYY-MM",
    }


def csv_dialect(language: str) -> dict[str, str]:
    """How the complete tables are written: the separators a spreadsheet of the report's language
    expects when the file is opened with a double click (Russian Excel splits on ';' and reads a
    decimal comma), UTF-8 with a byte-order mark so Excel reads Cyrillic."""
    if language == "ru":
        return {"sep": ";", "decimal": ",", "date_format": "%d.%m.%Y"}
    return {"sep": ",", "decimal": ".", "date_format": "%Y-%m-%d"}


@dataclass
class SheetTable:
    """One table for the workbook, whatever its origin (a module's manifest or the appendix)."""

    name: str
    section: str          # module name or "appendix"
    title: str
    df: pd.DataFrame
    formats: dict[str, str]
    labels: dict[str, str]
    cells: list | None = None   # the sheet's cells per column (`sheet_cells`), when made ahead
    csv_name: str = ""          # the sheet name its complete csv was written under ahead ("" = not written)


@dataclass
class SheetEntry:
    """What the README says of one sheet."""

    sheet: str
    section: str
    title: str
    rows: int              # rows of the table (all of them, also when the sheet is capped)
    complete: str = ""     # the csv holding the whole table, relative to the workbook's folder ("" = the sheet)


def module_tables(run_dir: Path, module: str, t: Translator) -> list[SheetTable]:
    """The tables a module kept for the workbook: `<run>/modules/<name>/tables.json` + parquet files."""
    folder = Path(run_dir) / "modules" / module
    manifest_path = folder / "tables.json"
    if not manifest_path.is_file():
        return []
    out = []
    for name, item in json.loads(manifest_path.read_text(encoding="utf-8")).items():
        path = folder / "tables" / f"{name}.parquet"
        if not path.is_file():
            continue
        df = pd.read_parquet(path)
        labels = {c: t.column_label(module, c) for c in df.columns}
        out.append(SheetTable(name, module, item.get("title") or name, df, item.get("formats") or {}, labels))
    return out


# -- cell values ------------------------------------------------------------------------------

@dataclass
class ColumnCells:
    """A column's cells on its sheet, made once per distinct value: `codes` gives each row's index into
    `values` (-1: an empty cell). A value is a float (a number, or a date as Excel serial days), a bool,
    or text as the sheet shows it (neutralised, control characters dropped; `_value_kind` says which)."""

    kind: str
    codes: np.ndarray
    values: list

    def head(self, n: int) -> list[Any]:
        """The cell values of the first `n` rows (None: empty)."""
        return [None if c < 0 else self.values[c] for c in self.codes[:n].tolist()]


def _value_kind(s: pd.Series) -> str:
    """How a column's cells are written: "bool", "number", "date" (Excel serial days) or "text"."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        return "text"
    if pd.api.types.is_bool_dtype(s):
        return "bool"
    if pd.api.types.is_numeric_dtype(s):
        return "number"
    if pd.api.types.is_datetime64_any_dtype(s):
        return "date"
    return "text"


def column_cells(s: pd.Series) -> ColumnCells:
    """A column's cells (`ColumnCells`), vectorised: numbers as floats (NaN/NA/±inf empty, -0.0 kept apart
    from 0.0), dates as Excel serial days (a time zone's wall clock; NaT empty), booleans, text neutralised
    with control characters dropped; numbers inside a text column stay numbers."""
    kind = _value_kind(s)
    if kind == "bool":
        codes, uniques = pd.factorize(s)
        return ColumnCells(kind, np.asarray(codes, dtype=np.int64), [bool(v) for v in uniques])
    if kind == "number":
        return _float_cells(kind, s.to_numpy(dtype="float64", na_value=np.nan))
    if kind == "date":
        if getattr(s.dt, "tz", None) is not None:
            s = s.dt.tz_localize(None)
        values = s.to_numpy(dtype="datetime64[ns]")
        days = (values - EXCEL_EPOCH).astype("int64") / NS_PER_DAY
        days[np.isnat(values)] = np.nan
        return _float_cells(kind, days)
    if isinstance(s.dtype, pd.CategoricalDtype):
        s = s.astype("string")
    if isinstance(s.dtype, pd.StringDtype) or pd.api.types.infer_dtype(s, skipna=True) in ("string", "empty"):
        codes, uniques = pd.factorize(s)
        text = pd.Series(np.asarray(uniques, dtype=object), dtype=object).str.replace(ILLEGAL_CHARACTERS, "",
                                                                                      regex=True)
        return ColumnCells(kind, np.asarray(codes, dtype=np.int64), neutralise_column(text).tolist())
    return _mixed_cells(s)


def _float_cells(kind: str, values: np.ndarray) -> ColumnCells:
    """Float cells factorised by bit pattern (so -0.0 stays apart from 0.0); non-finite values empty."""
    finite = np.isfinite(values)
    codes = np.full(len(values), -1, dtype=np.int64)
    found, bits = pd.factorize(values[finite].view(np.int64))
    codes[finite] = found
    return ColumnCells(kind, codes, np.asarray(bits, dtype=np.int64).view(np.float64).tolist())


def _cell_value(v: Any) -> Any:
    """One value of a text column as its cell: None (empty), a float, or the text the sheet shows."""
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_)):
        return float(v) if np.isfinite(v) else None
    return neutralise(ILLEGAL_CHARACTERS.sub("", str(v)))


def _mixed_cells(s: pd.Series) -> ColumnCells:
    """A text column of mixed Python values (the appendix's small tables; a module's tables come from
    parquet, one type a column), each distinct value converted once. pandas factorises True with 1 and
    False with 0, so booleans get codes of their own (their type looked up row by row: mixed columns only)."""
    values = s.to_numpy(dtype=object)
    is_bool = np.fromiter((isinstance(v, (bool, np.bool_)) for v in values), dtype=bool, count=len(values))
    codes = np.full(len(values), -1, dtype=np.int64)
    uniques: list[Any] = []
    for part in (~is_bool, is_bool):
        found, distinct = pd.factorize(values[part])
        codes[part] = np.where(found < 0, -1, found + len(uniques))
        uniques.extend(distinct.tolist())
    cells = [_cell_value(v) for v in uniques]
    kept = np.array([c is not None for c in cells], dtype=bool)
    remap = np.full(len(cells) + 1, -1, dtype=np.int64)     # (a code of -1 looks up the last entry: -1)
    remap[:-1][kept] = np.arange(int(kept.sum()))
    return ColumnCells("text", remap[codes], [c for c in cells if c is not None])


def _width(header: str, values: list[Any], kind: str | None) -> float:
    sample = values[:SAMPLE_ROWS]
    longest = max((len(f"{v:,.1f}") + 3 if isinstance(v, float) else len(str(v)) for v in sample if v is not None),
                   default=0)
    if kind in ("date", "month"):
        longest = 11
    return float(min(WIDTH_MAX, max(WIDTH_MIN, len(header) + 2, longest + 2)))


# -- the complete table beside the workbook ----------------------------------------------------

def complete_csv(table: SheetTable, path: Path, language: str) -> Path:
    """The whole table as csv (`csv_dialect`): the sheet's headers, text neutralised as on the
    sheet, percentage points ×100 as on the sheet, dates in the language's order. Vectorised."""
    df = table.df
    dialect = csv_dialect(language)
    columns = []
    for col in df.columns:
        s = df[col]
        if isinstance(s.dtype, pd.CategoricalDtype):
            s = s.astype("string")
        if table.formats.get(str(col)) == "pp" and pd.api.types.is_numeric_dtype(s):
            s = s * 100.0
        if pd.api.types.is_float_dtype(s):
            s = _float_text(s, dialect["decimal"])
        elif pd.api.types.is_datetime64_any_dtype(s):
            s = _date_text(s, dialect["date_format"])
        elif not (pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s)):
            s = neutralise_column(s)
        columns.append(s.reset_index(drop=True))
    frame = pd.concat(columns, axis=1, ignore_index=True)
    frame.columns = [neutralise(str(table.labels.get(c, c))) for c in df.columns]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not write_csv_text(frame, path, dialect["sep"]):
        frame.to_csv(path, index=False, encoding="utf-8-sig", lineterminator="\n", **dialect)
    return path


CSV_CHUNK_ROWS = 250_000      # rows made as one Arrow array at a time by `write_csv_text` (bounded memory)


def _csv_quotes(sep: str) -> str:
    """The characters that make Python's csv writer (QUOTE_MINIMAL, lineterminator "\\n", as pandas calls it) quote
    a field, found by asking it: the separator, the quote, the line feed and, in Python versions that quote it,
    the carriage return."""
    import csv

    buf = io.StringIO()
    csv.writer(buf, delimiter=sep, lineterminator="\n").writerow(["a\rb", "x"])
    return sep + '"\n' + ("\r" if buf.getvalue().startswith('"') else "")


def _csv_cells(s: pd.Series):
    """A column as the Arrow strings pandas' csv writer makes of it (NA empty), or None for a dtype this does not
    know (the caller then writes with pandas): text and numbers-as-text as they are, integers as `str` writes
    them, booleans True / False."""
    import pyarrow as pa
    import pyarrow.compute as pc

    def whole(values):        # a pandas Arrow column may come as several chunks
        return values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values

    if pd.api.types.is_bool_dtype(s):
        return pc.if_else(whole(pa.array(s.astype("boolean"))), "True", "False")
    if pd.api.types.is_integer_dtype(s):
        return pc.cast(whole(pa.array(s)), pa.string())
    if pd.api.types.is_string_dtype(s) or s.dtype == object:
        try:
            return whole(pa.array(s, type=pa.string(), from_pandas=True))
        except (pa.ArrowInvalid, pa.ArrowTypeError):       # an object column of other things
            return None
    return None


def write_csv_text(frame: pd.DataFrame, path: Path, sep: str) -> bool:
    """Write `frame` (`complete_csv`'s columns: text, numbers already as text, integers, booleans) to `path` byte for
    byte as ``frame.to_csv(path, index=False, encoding="utf-8-sig", lineterminator="\\n", sep=sep)`` does, its
    columns quoted, joined and written by Arrow `CSV_CHUNK_ROWS` rows at a time; False (nothing written) for a
    frame of one column (Python's csv writer quotes its empty fields) or of a dtype `_csv_cells` does not know.

    Measured reason (pyarrow's own `write_csv` quotes every string, a different file): pandas formats the rows
    in Python; at 345 branches its complete RFM table (1 M rows) took ≈ 8 of the workbook's 12.8 s."""
    import csv

    import pyarrow.compute as pc

    from ..ingest.keys import arrow_bytes

    if frame.shape[1] < 2 or any(_csv_cells(frame[c].iloc[:0]) is None for c in frame.columns):
        return False
    quotes = _csv_quotes(sep)
    header = io.StringIO()
    csv.writer(header, delimiter=sep, lineterminator="\n").writerow([str(c) for c in frame.columns])
    with open(path, "wb") as out:
        out.write(header.getvalue().encode("utf-8-sig"))
        for start in range(0, len(frame), CSV_CHUNK_ROWS):
            part = frame.iloc[start:start + CSV_CHUNK_ROWS]
            cells = []
            for col in part.columns:
                text = _csv_cells(part[col])
                if text is None:       # an object column holding other things than text (seen only in its cells)
                    break
                text = text.fill_null("")
                need = None
                for char in quotes:          # literal searches: faster than one regex of a character class
                    found = pc.match_substring(text, char)
                    need = found if need is None else pc.or_(need, found)
                if pc.any(need).as_py():
                    quoted = pc.binary_join_element_wise('"', pc.replace_substring(text, '"', '""'), '"', "")
                    text = pc.if_else(need, quoted, text)
                cells.append(text)
            if len(cells) < part.shape[1]:
                break
            rows = pc.binary_join_element_wise(pc.binary_join_element_wise(*cells, sep), "", "\n")
            offsets, data, _ = arrow_bytes(rows)       # the rows' bytes, one after the other, as Arrow holds them
            out.write(data[offsets[0]:offsets[-1]])
        else:
            return True
    Path(path).unlink()          # left to pandas, whole
    return False


# pandas writes a float with a decimal comma and a date in a given order through Python, value by value
# (at 720 k rows ≈ 2.5 s a column, most of a complete table's time); as text made once per distinct value
# the file is byte for byte the same (tests/test_xlsx.py) and the column takes a tenth of that.

def _float_text(s: pd.Series, decimal: str) -> pd.Series:
    """A float column as pandas' csv writes it (shortest round-trip repr, `decimal` as the mark, NaN empty),
    formatted once per distinct value."""
    values = s.to_numpy(dtype="float64", na_value=np.nan)
    codes, bits = pd.factorize(values.view(np.int64))       # by bit pattern: -0.0 stays apart from 0.0
    uniques = bits.view(np.float64)
    text = uniques.astype(str)
    if decimal != ".":
        text = np.char.replace(text, ".", decimal)
    text = text.astype(object)
    text[np.isnan(uniques)] = ""
    return pd.Series(text[codes], index=s.index)


def _date_text(s: pd.Series, date_format: str) -> pd.Series:
    """A datetime column as pandas' csv writes it with `date_format` (NaT empty), formatted once per distinct value."""
    codes, uniques = pd.factorize(s)
    text = np.asarray(pd.Index(uniques).strftime(date_format), dtype=object)
    return pd.Series(np.append(text, "")[codes], index=s.index)


def full_folder(out_path: Path) -> Path:
    """Where a workbook's complete tables go: `tables.xlsx` -> `tables_full/` beside it."""
    out_path = Path(out_path)
    return out_path.with_name(out_path.stem + FULL_SUFFIX)


# -- sheets -----------------------------------------------------------------------------------

class _Styles:
    """The workbook's cell formats, made once per workbook (XlsxWriter keeps one per style). Each gets its
    style number (`xf`) at once, in this order, so that a sheet's rows can be made as XML apart from
    XlsxWriter (`SheetRows`); None when XlsxWriter no longer numbers formats this way (its cells then
    written one by one, `SheetRows.write_cells`)."""

    def __init__(self, wb, formats: dict[str, str]):
        self.header = wb.add_format({"bold": True, "bg_color": HEADER_FILL, "valign": "top"})
        self.note = wb.add_format({"bold": True, "font_color": "#9C2F2F"})
        self.title = wb.add_format({"bold": True, "font_size": 14})
        self.wrap = wb.add_format({"text_wrap": True, "valign": "top"})
        self.link = wb.add_format({"font_color": LINK_COLOUR, "underline": 1})
        self.number = {kind: wb.add_format({"num_format": code}) for kind, code in formats.items()}
        every = [self.header, self.note, self.title, self.wrap, self.link, *self.number.values()]
        # XlsxWriter numbers a format when a cell first uses it (Format._get_xf_index, the one private name
        # the workbook uses); numbered here, in a fixed order, the numbers are known before any cell is written.
        number = [getattr(f, "_get_xf_index", None) for f in every]
        self.xf: dict[int, int] | None = None
        if all(callable(n) for n in number):
            xf = [n() for n in number]
            if all(isinstance(i, int) and i > 0 for i in xf):
                self.xf = {id(f): i for f, i in zip(every, xf)}


def write_sheet(wb, styles: _Styles, name: str, table: SheetTable, note: str = "") -> SheetRows:
    """One table on one sheet: bold frozen header, widths, number formats, autofilter, under `note` (row 1)
    when given. Returns its first `SHEET_ROWS_MAX` rows (`SheetRows`), put into the sheet by `insert_rows`
    once the workbook is closed (`_save`), or written cell by cell now when `_Styles` has no style numbers."""
    ws = wb.add_worksheet(name)
    df = table.df.iloc[:SHEET_ROWS_MAX]
    columns = [str(c) for c in df.columns]
    kinds = [table.formats.get(c) for c in columns]
    cells = table.cells if table.cells is not None else sheet_cells(table)
    headers = [table.labels.get(c, c) for c in df.columns]
    for j, (header, column, kind) in enumerate(zip(headers, cells, kinds)):
        if kind is None and column.kind == "date":
            kind = kinds[j] = "date"
        ws.set_column(j, j, _width(str(header), column.head(SAMPLE_ROWS), kind), styles.number.get(kind))
    first = 0
    if note:
        ws.write_string(0, 0, note, styles.note)
        first = 1
    for j, header in enumerate(headers):
        ws.write_string(first, j, neutralise(str(header)), styles.header)
    ws.freeze_panes(first + 1, 0)
    if columns:
        ws.autofilter(first, 0, first + len(df), len(columns) - 1)
    units = df["unit"] if "unit" in df.columns else None
    rows = SheetRows(name, first + 1, len(df),
                     [_sheet_column(j, column, kind, styles, units) for j, (column, kind) in enumerate(zip(cells, kinds))])
    if styles.xf is None:
        rows.write_cells(ws)
    return rows


def sheet_cells(table: SheetTable) -> list[ColumnCells]:
    """The cells `write_sheet` writes (`column_cells`) for each column of the table's first `SHEET_ROWS_MAX` rows."""
    df = table.df.iloc[:SHEET_ROWS_MAX]
    return [column_cells(df[c]) for c in df.columns]


# -- a sheet's rows ---------------------------------------------------------------------------
# XlsxWriter makes each cell's XML in Python (constant memory: `write_*` -> `_write_single_row` ->
# `_write_cell` -> escaping, a regex per string, `_check_dimensions`, the cell reference): ≈ 7.8 µs a
# cell, ≈ 10 s for a sheet of 100 000 rows × 12 columns, the most of the workbook's time (benchmarks/
# bench_xlsx.py). No xlsx library writes a column at once (openpyxl is slower per cell), so the data rows
# of each sheet are made here as sheet XML, a column at a time: each distinct cell (value and style)
# becomes its XML once, the rows are joined by Arrow's string kernels, and each row's cells are those
# XlsxWriter writes for the same values, byte for byte (tests/test_xlsx_rows.py). Measured on the L network's
# first 100 000 rows of rfm_patients (12 columns) and of the call list (13), sheet alone, best of 2: 0.60 s
# and 0.73 s, 0.50–0.56 µs a cell zipped, against XlsxWriter's 8.6 s and 10.5 s (7.2–8.1 µs a cell).
# XlsxWriter writes everything else (package, styles, README, note, header, column formats, freeze panes,
# autofilter), then `insert_rows` puts the rows into each sheet of the closed workbook, by the OOXML
# package alone (the sheet's part found through workbook.xml and its relationships; the rows put before
# `</sheetData>`, the `<dimension>` widened), re-compressing only the few small parts XlsxWriter wrote.
# Writing into XlsxWriter's own row stream would save that copy but ties the kit to XlsxWriter's private
# row machinery; the one private name used is the style number of a format (`_Styles`), and when it is
# not there the cells are written one by one by XlsxWriter (`SheetRows.write_cells`).

XLS_STRMAX = 32_767              # the characters (UTF-16 units) a cell holds; XlsxWriter cuts longer text
CHUNK_ROWS = 16_384              # rows made at a time: the XML of a chunk held, not a sheet's
# zlib's level for the package: a sheet of 100 000 rows × 12 columns is 75 MB of XML, compressed at level 6
# (XlsxWriter's) in 1.2 s to 5.8 MB, at level 1 in 0.4 s to 7.6 MB: the workbook's largest cost after its rows
ZIP_LEVEL = 1
SPOOL_BYTES = 32 * 2**20         # a sheet's XML up to this size is held in memory, a larger one goes through a file
_ESCAPED = re.compile(r"(_x[0-9a-fA-F]{4}_)")
_CONTROL = re.compile(r"([\x00-\x08\x0b-\x1f])")
_NEEDS_ESCAPE = r"[\x00-\x08\x0b-\x1f\x{fffe}\x{ffff}]|_x[0-9a-fA-F]{4}_"     # RE2, for Arrow


@dataclass
class SheetColumn:
    """One column of a sheet's rows: `codes` per row index its distinct cells (-1: empty), each a value as
    written and, in `formats` (None: no cell has one), the cell's own format; `column_format` is the
    column's (a cell without its own takes it)."""

    col: int
    kind: str                  # "bool", "number", "date", "text"
    codes: np.ndarray
    values: list
    formats: list | None
    column_format: Any


def _sheet_column(j: int, column: ColumnCells, kind: str | None, styles: _Styles, units: pd.Series | None
                  ) -> SheetColumn:
    """The cells of column `j` as written: percentage points ×100; a "by_unit" column's numbers each in the
    format of their row's unit (distinct cells: distinct value and unit)."""
    values, codes = column.values, column.codes
    if column.kind in ("number", "date") and kind == "pp":
        values = (np.asarray(values, dtype=np.float64) * 100.0).tolist()
    if column.kind in ("text", "bool") or kind != "by_unit" or units is None:
        return SheetColumn(j, column.kind, codes, values, None, styles.number.get(kind))
    unit_codes, unit_names = pd.factorize(units)
    unit_formats = [None] + [styles.number.get(str(u)) for u in unit_names]
    pair = np.where(codes < 0, -1, codes * len(unit_formats) + (np.asarray(unit_codes) + 1))
    pair_codes, pairs = pd.factorize(pair)               # -1 stays -1 (pandas' sentinel is only for NaN)
    pairs = np.asarray(pairs, dtype=np.int64)
    keep = pairs >= 0
    remap = np.full(len(pairs), -1, dtype=np.int64)
    remap[keep] = np.arange(int(keep.sum()))
    pairs = pairs[keep]
    return SheetColumn(j, column.kind, remap[np.asarray(pair_codes)],
                       [values[v] for v in (pairs // len(unit_formats)).tolist()],
                       [unit_formats[u] for u in (pairs % len(unit_formats)).tolist()], styles.number.get(kind))


@dataclass
class SheetRows:
    """A sheet's data rows: from `first` (0-based row of the sheet), `n` rows of `columns`."""

    sheet: str
    first: int
    n: int
    columns: list[SheetColumn]
    _tails: list | None = field(default=None, repr=False)

    def write_cells(self, ws) -> None:
        """The rows written by XlsxWriter cell by cell (≈ 7.8 µs a cell): the reference of the XML rows
        (tests) and the way when `_Styles` found no style numbers."""
        writers = []
        for c in self.columns:
            write = {"bool": ws.write_boolean, "number": ws.write_number, "date": ws.write_number}.get(c.kind)
            writers.append((c.col, c.codes.tolist(), c.values, c.formats or [None] * len(c.values),
                            write or _text_writer(ws)))
        for r in range(self.n):
            row = self.first + r
            for j, codes, values, formats, write in writers:
                code = codes[r]
                if code >= 0:
                    write(row, j, values[code], formats[code])

    def filled(self) -> np.ndarray:
        """Rows with at least one cell (XlsxWriter writes no <row> for the others)."""
        out = np.zeros(self.n, dtype=bool)
        for c in self.columns:
            out |= c.codes[:self.n] >= 0
        return out

    def xml(self, xf: dict[int, int]) -> Iterable[memoryview]:
        """The rows as sheet XML (UTF-8), `CHUNK_ROWS` rows at a time; `xf`: `_Styles.xf`."""
        import pyarrow as pa
        import pyarrow.compute as pc

        from xlsxwriter.utility import xl_col_to_name

        filled = self.filled()
        columns = [(f'<c r="{xl_col_to_name(c.col)}', tails, c.codes) for c, tails in zip(self.columns, self.tails(xf))]
        for start in range(0, self.n, CHUNK_ROWS):
            stop = min(self.n, start + CHUNK_ROWS)
            number = pc.cast(pa.array(np.arange(self.first + 1 + start, self.first + 1 + stop)), pa.string())
            cells = []
            for prefix, tails, codes in columns:
                part = codes[start:stop]
                cells.append(pc.binary_join_element_wise(prefix, number, tails.take(pa.array(part, mask=part < 0)), ""))
            rows = pc.binary_join_element_wise('<row r="', number, '">', *cells, "</row>", "",
                                               null_handling="replace", null_replacement="")
            keep = filled[start:stop]
            if not keep.all():
                rows = rows.filter(pa.array(keep))
            if len(rows):
                yield _string_bytes(rows)

    def tails(self, xf: dict[int, int]) -> list:
        """`_cell_tails` of each column, made once."""
        if self._tails is None:
            self._tails = [_cell_tails(c, xf) for c in self.columns]
        return self._tails


def _string_bytes(strings) -> memoryview:
    """The UTF-8 bytes of an Arrow string array's values, joined (its data buffer: no copy)."""
    offsets = np.frombuffer(strings.buffers()[1], dtype=np.int32)[strings.offset: strings.offset + len(strings) + 1]
    return memoryview(strings.buffers()[2])[int(offsets[0]): int(offsets[-1])]


def _cell_tails(column: SheetColumn, xf: dict[int, int]):
    """Each distinct cell's XML after its reference, as XlsxWriter writes it in constant-memory mode:
    `" s="5"><v>3.2</v></c>` (a number, `.16G`), `" t="b"><v>1</v></c>`, `" s="2" t="inlineStr"><is><t>…</t>
    </is></c>` (inline text); as an Arrow array."""
    import pyarrow as pa

    def style(fmt) -> str:
        return '"' if fmt is None else f'" s="{xf[id(fmt)]}"'

    default = style(column.column_format)
    styles: Any = default
    if column.formats is not None:
        own = {id(f): style(f) for f in column.formats if f is not None}
        styles = np.array([default if f is None else own[id(f)] for f in column.formats], dtype=object)
    values = column.values
    body = np.empty(len(values), dtype=object)
    if column.kind in ("number", "date"):
        body[:] = [f"><v>{v:.16G}</v></c>" for v in values]
    elif column.kind == "bool":
        body[:] = np.where(np.asarray(values, dtype=bool), ' t="b"><v>1</v></c>', ' t="b"><v>0</v></c>')
    else:                               # text; a number among the texts is a number
        is_text = np.array([isinstance(v, str) for v in values], dtype=bool)
        body[~is_text] = [f"><v>{v:.16G}</v></c>" for v, k in zip(values, is_text) if not k]
        if is_text.any():
            body[is_text] = _inline_strings([v for v, k in zip(values, is_text) if k])
    return pa.array(styles + body, type=pa.string())


def _inline_strings(texts: list[str]) -> np.ndarray:
    """Text cells' XML after the style, as XlsxWriter writes them: cut at `XLS_STRMAX` UTF-16 units,
    control characters as _xHHHH_ (and a literal _xHHHH_ escaped), xml:space="preserve" for leading or
    trailing white space, & < > escaped. One pass of Arrow's kernels over the distinct texts; the rare
    text to cut or escape is done one by one. (XlsxWriter writes a text of the form "<r>…</r>" raw, as
    rich text; here it stays text, escaped.)"""
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = pa.array(texts, type=pa.string())
    rare = np.flatnonzero(np.asarray(pc.or_(pc.greater(pc.utf8_length(arr), XLS_STRMAX // 2),
                                            pc.match_substring_regex(arr, _NEEDS_ESCAPE))))
    if len(rare):
        texts = list(texts)
        for i in rare.tolist():
            texts[i] = _excel_text(texts[i])
        arr = pa.array(texts, type=pa.string())
    ends = [pc.utf8_slice_codeunits(arr, 0, 1), pc.utf8_slice_codeunits(arr, -1)]
    preserve = np.zeros(len(texts), dtype=bool)
    for end in ends:
        codes, chars = pd.factorize(np.asarray(end, dtype=object))
        space = np.array([c.isspace() for c in chars] + [False], dtype=bool)    # Python's \s, as XlsxWriter's regex
        preserve |= space[codes]
    for char, entity in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;")):
        arr = pc.replace_substring(arr, char, entity)
    return np.where(preserve, ' t="inlineStr"><is><t xml:space="preserve">', ' t="inlineStr"><is><t>').astype(object) \
        + np.asarray(arr, dtype=object) + "</t></is></c>"


def _excel_text(text: str) -> str:
    """A text as Excel stores it: at most `XLS_STRMAX` UTF-16 units (not splitting a character), a literal
    _xHHHH_ escaped as _x005F_xHHHH_, control characters and U+FFFE/U+FFFF as _xHHHH_."""
    if len(text) > XLS_STRMAX // 2 and len(text.encode("utf-16-le", "surrogatepass")) // 2 > XLS_STRMAX:
        units = np.cumsum([2 if ord(ch) > 0xFFFF else 1 for ch in text])
        text = text[:int(np.searchsorted(units, XLS_STRMAX, side="right"))]
    text = _ESCAPED.sub(r"_x005F\1", text)
    text = _CONTROL.sub(lambda m: f"_x{ord(m.group(1)):04X}_", text)
    return text.replace("\ufffe", "_xFFFE_").replace("\uffff", "_xFFFF_")


def insert_rows(workbook: io.BytesIO, out_path: Path, sheets: list[SheetRows], xf: dict[int, int]) -> Path:
    """Write the xlsx package `workbook` (XlsxWriter's, the sheets' data rows left out) to `out_path` with
    each sheet's rows (`SheetRows.xml`) put into its part: before `</sheetData>`, the `<dimension>` widened
    to the last row with a cell. Every part keeps its name and date; all compressed at `ZIP_LEVEL`."""
    rows = {s.sheet: s for s in sheets if s.n and s.columns}
    out_path = Path(out_path)
    tmp = out_path.with_name(out_path.name + ".part")
    with zipfile.ZipFile(workbook) as src:
        parts = _sheet_parts(src)
        by_part = {parts[name]: sheet for name, sheet in rows.items()}
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as out:
            for info in src.infolist():
                data = src.read(info)
                copy = zipfile.ZipInfo(info.filename, info.date_time)
                copy.compress_type, copy.external_attr = info.compress_type, info.external_attr
                sheet = by_part.get(info.filename)
                if sheet is None:
                    out.writestr(copy, data, compresslevel=ZIP_LEVEL)
                    continue
                head, tail = _split_sheet(data, sheet)
                held, size = [head], len(head)
                chunks = iter(sheet.xml(xf))
                for chunk in chunks:
                    held.append(bytes(chunk))
                    size += len(chunk)
                    if size > SPOOL_BYTES:
                        break
                else:                                   # a small part: written from memory
                    out.writestr(copy, b"".join(held) + tail, compresslevel=ZIP_LEVEL)
                    continue
                # a large part through a file: memory stays flat, and the zip learns its size (64-bit when needed)
                fd, part = tempfile.mkstemp(dir=out_path.parent, suffix=".xml")
                try:
                    with open(fd, "wb") as f:
                        f.writelines(held)
                        del held
                        for chunk in chunks:
                            f.write(chunk)
                        f.write(tail)
                    stamp = time.mktime(info.date_time + (0, 0, -1))
                    os.utime(part, (stamp, stamp))          # the part's date, as XlsxWriter dates its files
                    out.write(part, info.filename, compresslevel=ZIP_LEVEL)
                finally:
                    os.unlink(part)
    os.replace(tmp, out_path)
    return out_path


def _sheet_parts(package: zipfile.ZipFile) -> dict[str, str]:
    """Sheet name -> its part in the package (xl/workbook.xml and its relationships)."""
    from xml.etree import ElementTree

    main = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
    rel = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
    book = ElementTree.fromstring(package.read("xl/workbook.xml"))
    targets = {r.get("Id"): r.get("Target") for r in ElementTree.fromstring(package.read("xl/_rels/workbook.xml.rels"))}
    out = {}
    for sheet in book.iter(f"{main}sheet"):
        target = targets[sheet.get(rel)]
        out[sheet.get("name")] = target.lstrip("/") if target.startswith("/") else "xl/" + target
    return out


_DIMENSION = re.compile(rb'<dimension ref="([A-Z]+)(\d+)(?::([A-Z]+)(\d+))?"/>')


def _split_sheet(xml: bytes, sheet: SheetRows) -> tuple[bytes, bytes]:
    """A sheet part without data rows, split where they go; its <dimension> reaching the last row with a cell."""
    filled = np.flatnonzero(sheet.filled())
    if len(filled):
        last_row = sheet.first + int(filled[-1]) + 1           # 1-based
        found = _DIMENSION.search(xml)
        if found is None:
            raise ValueError(f"sheet {sheet.sheet!r}: no <dimension> in XlsxWriter's part")
        first_col, first_row = found.group(1), int(found.group(2))
        last_col = found.group(3) or first_col
        end_row = max(int(found.group(4) or first_row), last_row)
        xml = xml[:found.start()] + f'<dimension ref="{first_col.decode()}{first_row}:{last_col.decode()}{end_row}"/>'.encode() \
            + xml[found.end():]
    at = xml.rfind(b"</sheetData>")
    if at >= 0:
        return xml[:at], xml[at:]
    at = xml.index(b"<sheetData/>")
    return xml[:at] + b"<sheetData>", b"</sheetData>" + xml[at + len(b"<sheetData/>"):]


def _text_writer(ws) -> Callable[..., Any]:
    """Text columns may hold numbers among the strings: each value written as what it is."""
    def write(row: int, col: int, value: Any, fmt: Any = None) -> Any:
        if isinstance(value, str):
            return ws.write_string(row, col, value, fmt)
        return ws.write_number(row, col, value, fmt)
    return write


def write_readme(ws, styles: _Styles, t: Translator, config, fmt: Formatter, index: list[SheetEntry]) -> None:
    """The first sheet: client, periods, what the sheets hold (with links), and where the
    complete csv of each capped table is."""
    for col, width in enumerate((34, 34, 70, 10, 40)):
        ws.set_column(col, col, width)
    ws.write_string(0, 0, neutralise(f"{t('appendix.workbook.readme_title')} — {config.client}"), styles.title)
    ws.write_string(1, 0, t("appendix.workbook.client"))
    ws.write_string(1, 1, neutralise(config.client))
    periods = "; ".join(f"{t('common.periods.' + p)}: {fmt.period(a, b)}" for p, (a, b) in config.periods.items())
    ws.write_string(2, 0, t("appendix.workbook.periods"))
    ws.write_string(2, 1, periods)
    ws.write_string(3, 0, t("appendix.workbook.readme_intro"), styles.wrap)
    dialect = csv_dialect(config.language)
    ws.write_string(4, 0, t("appendix.workbook.readme_long", rows=fmt.num(SHEET_ROWS_MAX), sep=dialect["sep"],
                            decimal=dialect["decimal"]), styles.wrap)
    for col, key in enumerate(("sheet", "section", "title", "rows", "complete")):
        ws.write_string(5, col, t(f"appendix.workbook.columns.{key}"), styles.header)
    ws.freeze_panes(6, 0)
    for i, entry in enumerate(index):
        row = 6 + i
        ws.write_url(row, 0, f"internal:'{entry.sheet}'!A1", styles.link, entry.sheet)
        ws.write_string(row, 1, neutralise(entry.section))
        ws.write_string(row, 2, neutralise(entry.title))
        ws.write_number(row, 3, entry.rows)
        if entry.complete:
            ws.write_string(row, 4, entry.complete)


def section_title(t: Translator, section: str) -> str:
    if section == "appendix":
        return t("appendix.workbook.sections.appendix")
    return t.get(f"modules.{section}.title", default=section)


def _new_workbook(package: io.BytesIO):
    """XlsxWriter's workbook, written into `package` (`_save` puts the sheets' rows in and writes the file)."""
    import xlsxwriter

    return xlsxwriter.Workbook(package, {
        "constant_memory": True,            # rows streamed to a temporary file: memory stays flat
        "strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False,
    })


def _save(wb, package: io.BytesIO, styles: _Styles, sheets: list[SheetRows], out_path: Path) -> Path:
    """Close XlsxWriter's workbook and write it to `out_path` with the sheets' data rows (`insert_rows`),
    unless `write_sheet` had XlsxWriter write them itself."""
    wb.close()
    if styles.xf is None:
        Path(out_path).write_bytes(package.getvalue())
        return Path(out_path)
    return insert_rows(package, out_path, sheets, styles.xf)


def _capped(table: SheetTable, name: str, out_path: Path, language: str, t: Translator, fmt: Formatter
            ) -> tuple[str, str]:
    """For a table longer than a sheet takes: its complete csv (written now, unless it was written ahead
    under this sheet name) and the sheet's note."""
    if len(table.df) <= SHEET_ROWS_MAX:
        return "", ""
    folder = full_folder(out_path)
    path = folder / f"{name}.csv"
    if table.csv_name != name:      # (a csv written ahead under a name another table took is overwritten or removed)
        complete_csv(table, path, language)
        table.csv_name = name
    relative = f"{folder.name}/{path.name}"
    note = t("appendix.workbook.capped_note", shown=fmt.num(SHEET_ROWS_MAX), total=fmt.num(len(table.df)),
             file=relative)
    return relative, note


def _clear_full_folder(out_path: Path, keep: Iterable[str] = ()) -> None:
    """Complete tables the workbook's README does not name (`keep`: the file names it does) must not
    linger: an earlier build's, or one written ahead whose sheet took another name."""
    folder = full_folder(out_path)
    keep = set(keep)
    if folder.is_dir():
        for stale in folder.glob("*.csv"):
            if stale.name not in keep:
                stale.unlink()
        if not any(folder.iterdir()):
            folder.rmdir()


def prepare_workbook(run_dir: Path, config, modules: Iterable[str], out_path: Path) -> dict[str, list[SheetTable]]:
    """What the workbook needs of these modules, done ahead of it (the runner: while the summary notebook
    runs and a core is idle): their tables read, each sheet's cells made (`sheet_cells`) and each long
    table's complete csv written under the sheet name it takes when no table before it claims the same
    name (`build_workbook` rewrites a csv whose sheet name turns out otherwise, and removes what it leaves)."""
    t, fmt = Translator(config.language), Formatter(config.language, config.currency)
    out_path = Path(out_path)
    taken = {README.lower()}
    prepared = {}
    for module in modules:
        prepared[module] = module_tables(run_dir, module, t)
        for table in prepared[module]:
            table.cells = sheet_cells(table)
            _capped(table, sheet_name(table.name, taken), out_path, config.language, t, fmt)
    return prepared


def build_workbook(run_dir: Path, config, modules: Iterable[str], appendix_tables: Iterable[ReportTable],
                   out_path: Path, prepared: dict[str, list[SheetTable]] | None = None) -> Path:
    """Write tables.xlsx: README, then each module's tables in report order, then the appendix's;
    the complete csv of each table longer than `SHEET_ROWS_MAX` rows into `tables_full/`. `prepared`
    (`prepare_workbook` of the same `out_path`): modules whose tables, cells and csvs were made ahead."""
    t, fmt = Translator(config.language), Formatter(config.language, config.currency)
    prepared = prepared or {}
    tables: list[SheetTable] = []
    for module in modules:
        tables.extend(prepared[module] if module in prepared else module_tables(run_dir, module, t))
    for tb in appendix_tables:
        tables.append(SheetTable(tb.name, tb.section, tb.title, tb.df, tb.formats, tb.labels))
    out_path = Path(out_path)
    package = io.BytesIO()
    wb = _new_workbook(package)
    styles = _Styles(wb, number_formats(config.language, fmt.sign))
    readme = wb.add_worksheet(README)
    taken = {README.lower()}
    index, sheets = [], []
    for table in tables:
        name = sheet_name(table.name, taken)
        complete, note = _capped(table, name, out_path, config.language, t, fmt)
        sheets.append(write_sheet(wb, styles, name, table, note))
        index.append(SheetEntry(name, section_title(t, table.section), table.title, len(table.df), complete))
    write_readme(readme, styles, t, config, fmt, index)
    _save(wb, package, styles, sheets, out_path)
    # what the README does not name goes: an earlier build's, or one written ahead under a name taken since
    _clear_full_folder(out_path, keep={Path(e.complete).name for e in index if e.complete})
    return out_path


def table_workbook(out_path: Path, table: SheetTable, language: str, sign: str) -> Path:
    """A workbook of one table on one sheet (e.g. a call list to hand out), with the same header,
    number formats and formula neutralisation as tables.xlsx; a table longer than a sheet takes is
    complete in `<stem>_full/<sheet>.csv` beside it."""
    t, fmt = Translator(language), Formatter(language)
    out_path = Path(out_path)
    _clear_full_folder(out_path)
    name = sheet_name(table.name, set())
    _, note = _capped(table, name, out_path, language, t, fmt)
    package = io.BytesIO()
    wb = _new_workbook(package)
    styles = _Styles(wb, number_formats(language, sign))
    return _save(wb, package, styles, [write_sheet(wb, styles, name, table, note)], out_path)
