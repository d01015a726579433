"""tables.xlsx: every table of the report on its own sheet, for the clinic's analyst.

A README sheet comes first (what each sheet holds, with links). Each sheet has a frozen header,
column widths, number formats for money, rates, counts and dates, and is safe to open: a text
cell from the data that begins with = + - @ (or a tab / carriage return) is written as text with
an apostrophe in front ("'=SUM(A1)"), so neither Excel nor a CSV export ever runs it as a formula.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pandas as pd

from .appendix import ReportTable
from .fmt import Formatter
from .i18n import Translator

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
SHEET_NAME_MAX = 31
BAD_SHEET_CHARS = re.compile(r"[\[\]:*?/\\]")
README = "README"
WIDTH_MIN, WIDTH_MAX = 8, 60
SAMPLE_ROWS = 300           # rows looked at to size a column


def neutralise(value: str) -> str:
    """Text that a spreadsheet could read as a formula gets a leading apostrophe: '=1+1 -> "'=1+1"."""
    return "'" + value if value.startswith(FORMULA_START) else value


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


@dataclass
class SheetTable:
    """One table for the workbook, whatever its origin (a module's manifest or the appendix)."""

    name: str
    section: str          # module name or "appendix"
    title: str
    df: pd.DataFrame
    formats: dict[str, str]
    labels: dict[str, str]


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


def _cells(s: pd.Series) -> list[Any]:
    """A column as Python values for openpyxl: NaN/NA/NaT -> None, numpy scalars -> numbers, text neutralised."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        s = s.astype("string")
    if pd.api.types.is_bool_dtype(s):
        return [None if pd.isna(v) else bool(v) for v in s.astype(object)]
    if pd.api.types.is_numeric_dtype(s):
        values = s.astype("float64").to_numpy()
        ok = np.isfinite(values)
        return [float(v) if k else None for v, k in zip(values.tolist(), ok.tolist())]
    if pd.api.types.is_datetime64_any_dtype(s):
        return [None if pd.isna(v) else v.to_pydatetime() for v in s]
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    out = []
    for v in s.astype(object):
        if v is None or v is pd.NA or (isinstance(v, float) and not np.isfinite(v)) or v is pd.NaT:
            out.append(None)
        elif isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool):
            out.append(float(v))
        else:
            out.append(neutralise(ILLEGAL_CHARACTERS_RE.sub("", str(v))))
    return out


def _width(header: str, values: list[Any], kind: str | None) -> float:
    sample = values[:SAMPLE_ROWS]
    longest = max((len(f"{v:,.1f}") + 3 if isinstance(v, float) else len(str(v)) for v in sample if v is not None),
                  default=0)
    if kind in ("date", "month"):
        longest = 11
    return float(min(WIDTH_MAX, max(WIDTH_MIN, len(header) + 2, longest + 2)))


def _letter(i: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(i + 1)


def write_sheet(wb, name: str, table: SheetTable, formats: dict[str, str]) -> int:
    """One table on one sheet: bold frozen header, widths, number formats; returns rows written."""
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font, PatternFill

    ws = wb.create_sheet(name)
    df = table.df
    columns = [str(c) for c in df.columns]
    data = {c: _cells(df[c]) for c in df.columns}
    units = [str(u) for u in df["unit"]] if "unit" in df.columns else None
    headers = [table.labels.get(c, c) for c in columns]
    for i, (col, header) in enumerate(zip(df.columns, headers)):
        ws.column_dimensions[_letter(i)].width = _width(header, data[col], table.formats.get(str(col)))
    ws.freeze_panes = "A2"
    bold, fill = Font(bold=True), PatternFill("solid", fgColor="EEF1F4")
    head = []
    for header in headers:
        cell = WriteOnlyCell(ws, value=neutralise(str(header)))
        cell.font, cell.fill, cell.alignment = bold, fill, Alignment(vertical="top")
        head.append(cell)
    ws.append(head)
    kinds = [table.formats.get(c) for c in columns]
    scale = [100.0 if k == "pp" else 1.0 for k in kinds]
    for r in range(len(df)):
        row = []
        for j, col in enumerate(df.columns):
            value = data[col][r]
            kind = kinds[j]
            if kind == "by_unit" and units is not None:
                kind = units[r]
            if value is None or isinstance(value, str) or kind not in formats:
                row.append(value)
                continue
            cell = WriteOnlyCell(ws, value=value * scale[j] if isinstance(value, float) else value)
            cell.number_format = formats[kind]
            row.append(cell)
        ws.append(row)
    if len(columns):
        ws.auto_filter.ref = f"A1:{_letter(len(columns) - 1)}{len(df) + 1}"
    return len(df)


def write_readme(ws, t: Translator, config, fmt: Formatter, index: list[tuple[str, str, str, int]]) -> None:
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.worksheet.hyperlink import Hyperlink

    for letter, width in zip("ABCD", (34, 34, 70, 10)):
        ws.column_dimensions[letter].width = width
    title = WriteOnlyCell(ws, value=neutralise(f"{t('appendix.workbook.readme_title')} — {config.client}"))
    title.font = Font(bold=True, size=14)
    ws.append([title])
    ws.append([t("appendix.workbook.client"), neutralise(config.client)])
    periods = "; ".join(f"{t('common.periods.' + p)}: {fmt.period(a, b)}" for p, (a, b) in config.periods.items())
    ws.append([t("appendix.workbook.periods"), periods])
    intro = WriteOnlyCell(ws, value=t("appendix.workbook.readme_intro"))
    intro.alignment = Alignment(wrap_text=True, vertical="top")
    ws.append([intro])
    ws.append([])
    head = []
    for c in ("sheet", "section", "title", "rows"):
        cell = WriteOnlyCell(ws, value=t(f"appendix.workbook.columns.{c}"))
        cell.font, cell.fill = Font(bold=True), PatternFill("solid", fgColor="EEF1F4")
        head.append(cell)
    ws.append(head)
    ws.freeze_panes = "A7"
    for sheet, section, title_text, rows in index:
        link = WriteOnlyCell(ws, value=sheet)
        link.hyperlink = Hyperlink(ref="", location=f"'{sheet}'!A1")
        link.font = Font(color="1F5F8B", underline="single")
        ws.append([link, neutralise(section), neutralise(title_text), rows])


def section_title(t: Translator, section: str) -> str:
    if section == "appendix":
        return t("appendix.workbook.sections.appendix")
    return t.get(f"modules.{section}.title", default=section)


def build_workbook(run_dir: Path, config, modules: Iterable[str], appendix_tables: Iterable[ReportTable],
                   out_path: Path) -> Path:
    """Write tables.xlsx: README, then each module's tables in report order, then the appendix's."""
    from openpyxl import Workbook

    t, fmt = Translator(config.language), Formatter(config.language, config.currency)
    formats = number_formats(config.language, fmt.sign)
    tables: list[SheetTable] = []
    for module in modules:
        tables.extend(module_tables(run_dir, module, t))
    for tb in appendix_tables:
        tables.append(SheetTable(tb.name, tb.section, tb.title, tb.df, tb.formats, tb.labels))
    wb = Workbook(write_only=True)
    readme = wb.create_sheet(README)
    taken = {README.lower()}
    index = []
    for table in tables:
        name = sheet_name(table.name, taken)
        rows = write_sheet(wb, name, table, formats)
        index.append((name, section_title(t, table.section), table.title, rows))
    write_readme(readme, t, config, fmt, index)
    out_path = Path(out_path)
    wb.save(out_path)
    return out_path


def table_workbook(out_path: Path, table: SheetTable, language: str, sign: str) -> Path:
    """A workbook of one table on one sheet (e.g. a call list to hand out), with the same header,
    number formats and formula neutralisation as tables.xlsx."""
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    write_sheet(wb, sheet_name(table.name, set()), table, number_formats(language, sign))
    out_path = Path(out_path)
    wb.save(out_path)
    return out_path
