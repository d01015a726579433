"""tables.xlsx: every table of the report on its own sheet, for the clinic's analyst.

A README sheet comes first (what each sheet holds, with links). Each sheet has a frozen header,
column widths, number formats for money, rates, counts and dates, and is safe to open: a text
cell from the data that begins with = + - @ (or a tab / carriage return) is written as text with
an apostrophe in front ("'=SUM(A1)"), so neither Excel nor a CSV export ever runs it as a formula.

A sheet holds at most `SHEET_ROWS_MAX` rows. A longer table (e.g. one row per patient of a large
network) shows its first rows under a note, and is written whole as a csv file in the folder
`<workbook>_full/` beside the workbook (`complete_csv`); the README sheet names that file.

Written with XlsxWriter in constant-memory mode (rows streamed to disk): measured on the M and L
networks against openpyxl's write-only mode, it wrote the same sheets 2.3–2.6× faster
(benchmarks/bench_xlsx.py). Every xlsx writer is pure Python per cell; the row cap is what keeps
the workbook's time bounded however large the clinic, while the complete tables go through pandas'
vectorised csv writer.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
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
# sorts 100 k rows comfortably, and a capped sheet keeps the workbook's time bounded (XlsxWriter here:
# ≈ 6 µs a number and ≈ 10 µs a text cell, so ≈ 10 s per 100 k rows of 12 columns); a longer table is
# complete in its csv beside the workbook.
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
    return s.mask(s.str.startswith(FORMULA_START).fillna(False), "'" + s)


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
    cells: list | None = None   # (value kind, values) per column of the sheet's rows, when made ahead
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

def _excel_days(s: pd.Series) -> list[float | None]:
    """Datetimes as Excel serial days (1900 date system), vectorised; NaT -> None."""
    values = s.to_numpy(dtype="datetime64[ns]")
    days = (values - EXCEL_EPOCH).astype("int64") / NS_PER_DAY
    missing = np.isnat(values)
    return [None if m else d for d, m in zip(days.tolist(), missing.tolist())]


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


def _cells(s: pd.Series) -> list[Any]:
    """A column as Python values for the writer (`_value_kind`): numbers as floats (NaN/NA/±inf ->
    None), dates as Excel serial days, text neutralised with control characters dropped (numbers
    inside a text column stay numbers)."""
    kind = _value_kind(s)
    if kind == "bool":
        return [None if pd.isna(v) else bool(v) for v in s.astype(object)]
    if kind == "number":
        values = s.astype("float64").to_numpy()
        ok = np.isfinite(values)
        return [v if k else None for v, k in zip(values.tolist(), ok.tolist())]
    if kind == "date":
        if getattr(s.dt, "tz", None) is not None:
            s = s.dt.tz_localize(None)
        return _excel_days(s)
    if isinstance(s.dtype, pd.CategoricalDtype):
        s = s.astype("string")
    out: list[Any] = []
    for v in s.astype(object).tolist():
        if v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and not np.isfinite(v)):
            out.append(None)
        elif isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool):
            out.append(float(v))
        else:
            out.append(neutralise(ILLEGAL_CHARACTERS.sub("", str(v))))
    return out


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
    frame.to_csv(path, index=False, encoding="utf-8-sig", lineterminator="\n", **dialect)
    return path


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
    """The workbook's cell formats, made once per workbook (XlsxWriter keeps one per style)."""

    def __init__(self, wb, formats: dict[str, str]):
        self.number = {kind: wb.add_format({"num_format": code}) for kind, code in formats.items()}
        self.header = wb.add_format({"bold": True, "bg_color": HEADER_FILL, "valign": "top"})
        self.title = wb.add_format({"bold": True, "font_size": 14})
        self.wrap = wb.add_format({"text_wrap": True, "valign": "top"})
        self.link = wb.add_format({"font_color": LINK_COLOUR, "underline": 1})
        self.note = wb.add_format({"bold": True, "font_color": "#9C2F2F"})


def write_sheet(wb, styles: _Styles, name: str, table: SheetTable, note: str = "") -> int:
    """One table on one sheet: bold frozen header, widths, number formats; its first
    `SHEET_ROWS_MAX` rows, under `note` (row 1) when given. Returns the rows written."""
    ws = wb.add_worksheet(name)
    df = table.df.iloc[:SHEET_ROWS_MAX]
    columns = [str(c) for c in df.columns]
    kinds = [table.formats.get(c) for c in columns]
    cells = table.cells if table.cells is not None else sheet_cells(table)
    headers = [table.labels.get(c, c) for c in df.columns]
    units = [str(u) for u in df["unit"]] if "unit" in df.columns else None
    for j, (header, (value_kind, values), kind) in enumerate(zip(headers, cells, kinds)):
        if kind is None and value_kind == "date":
            kind = kinds[j] = "date"
        ws.set_column(j, j, _width(str(header), values, kind), styles.number.get(kind))
    first = 0
    if note:
        ws.write_string(0, 0, note, styles.note)
        first = 1
    for j, header in enumerate(headers):
        ws.write_string(first, j, neutralise(str(header)), styles.header)
    ws.freeze_panes(first + 1, 0)
    writers = []
    for j, ((value_kind, values), kind) in enumerate(zip(cells, kinds)):
        if value_kind == "text":
            writers.append((j, values, _text_writer(ws), None))
        elif value_kind == "bool":
            writers.append((j, values, ws.write_boolean, None))
        elif kind == "by_unit" and units is not None:
            writers.append((j, values, ws.write_number, [styles.number.get(u) for u in units]))
        elif kind == "pp":
            writers.append((j, [None if v is None else v * 100.0 for v in values], ws.write_number, None))
        else:
            writers.append((j, values, ws.write_number, None))
    for r in range(len(df)):           # constant-memory mode: row by row; at most SHEET_ROWS_MAX
        row = first + 1 + r
        for j, values, write, per_row in writers:
            value = values[r]
            if value is not None:
                if per_row is None:
                    write(row, j, value)
                else:
                    write(row, j, value, per_row[r])
    if columns:
        ws.autofilter(first, 0, first + len(df), len(columns) - 1)
    return len(df)


def sheet_cells(table: SheetTable) -> list[tuple[str, list[Any]]]:
    """The values `write_sheet` writes: (value kind, cells) for each column of the table's first
    `SHEET_ROWS_MAX` rows (`_value_kind`, `_cells`)."""
    df = table.df.iloc[:SHEET_ROWS_MAX]
    return [(_value_kind(df[c]), _cells(df[c])) for c in df.columns]


def _text_writer(ws) -> Callable[[int, int, Any], Any]:
    """Text columns may hold numbers among the strings: each value written as what it is."""
    def write(row: int, col: int, value: Any) -> Any:
        if isinstance(value, str):
            return ws.write_string(row, col, value)
        return ws.write_number(row, col, value)
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


def _new_workbook(out_path: Path):
    import xlsxwriter

    return xlsxwriter.Workbook(str(out_path), {
        "constant_memory": True,            # rows streamed to a temporary file: memory stays flat
        "strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False,
    })


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
    wb = _new_workbook(out_path)
    styles = _Styles(wb, number_formats(config.language, fmt.sign))
    readme = wb.add_worksheet(README)
    taken = {README.lower()}
    index = []
    for table in tables:
        name = sheet_name(table.name, taken)
        complete, note = _capped(table, name, out_path, config.language, t, fmt)
        write_sheet(wb, styles, name, table, note)
        index.append(SheetEntry(name, section_title(t, table.section), table.title, len(table.df), complete))
    write_readme(readme, styles, t, config, fmt, index)
    wb.close()
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
    wb = _new_workbook(out_path)
    write_sheet(wb, _Styles(wb, number_formats(language, sign)), name, table, note)
    wb.close()
    return out_path
