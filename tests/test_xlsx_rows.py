"""A sheet's data rows made as XML a column at a time (`xlsx.SheetRows.xml`, `insert_rows`) are the rows
XlsxWriter writes cell by cell (`SheetRows.write_cells`), byte for byte, and the workbook opens."""
from __future__ import annotations

import csv
import shutil
import subprocess
import zipfile

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook

from audit_kit.config import load_config
from audit_kit.report import xlsx
from audit_kit.report.appendix import ReportTable

from conftest import write_config

LONG = "я" * 32_760 + "😀" * 10          # 32 780 UTF-16 units: XlsxWriter cuts it at 32 767 without splitting 😀
TEXTS = ["a & b", "<b>x</b>", 'say "hi"', "it's", "  lead", "trail  ", "\u00a0nbsp", "=1+2", "+7 999", "-5",
         "@SUM(A1)", "\tTAB", "line\nbreak", "cr\rhere", "_x0041_ literal", "bell\x07gone", "", "Ёлка — ü", LONG,
         "\ufffe odd", "x" * 40]


def fixture_frame() -> pd.DataFrame:
    """Every kind of cell the workbook writes, 24 rows; the last two rows hold no cell at all."""
    n = 24
    numbers = [0.0, -0.0, 1e16, 1 / 3, -1234.5, np.nan, None, np.inf, -np.inf, 2.5e-300, 0.1 + 0.2, 1e15,
               123456789.123, -0.001, 5.0, 1e-5, 7.0, 8.0, 9.0, 10.0, 0.5, 0.25, np.nan, np.nan]
    mixed = [1.5, "text", True, 1, None, np.nan, "=cmd", 2, False, "  pad ", np.inf, "x"] + ["y"] * 10 + [None, None]
    texts = (TEXTS * 2)[:n - 2] + [None, None]
    df = pd.DataFrame({
        "label": pd.array(texts, dtype="string"),
        "amount": numbers,
        "count": pd.array([3, None, 0, -7] * 5 + [1, 2, None, None], dtype="Int64"),
        "small": np.array([0.1, 0.2, 0.3, 0.4] * 5 + [0.1, 0.2, np.nan, np.nan], dtype="float32"),
        "flag": pd.Series([True, False] * 11 + [None, None], dtype=object),
        "maybe": pd.array([True, None, False] * 7 + [True, None, None], dtype="boolean"),
        "day": pd.to_datetime(["2025-03-01", None, "1899-12-31", "2024-02-29"] * 5 + ["2025-01-09"] * 2 + [None] * 2),
        "at": pd.to_datetime(["2025-03-01 10:30:15"] * 21 + [None] * 3).tz_localize("Europe/Moscow"),
        "mixed": pd.Series(mixed, dtype=object),
        "segment": pd.Categorical((["best", "at_risk", None, "lost"] * 6)[:22] + [None, None]),
        "change": [0.032, -0.01, 0.0, -0.0, None, 1 / 3] * 3 + [0.5, 0.25, 0.125, 0.1, None, None],
        "value": [564.0, 0.155, 5418.8, 12.0, 3.5, 0.25] * 3 + [1.0, 2.0, 3.0, 4.0, None, None],
        "unit": ["count", "rate", "money", "minutes", "text", None] * 4,
    })
    df.loc[22:, "unit"] = None        # the last two rows: no cell at all
    return df


FORMATS = {"amount": "money", "count": "count", "small": "number", "day": "date", "change": "pp", "value": "by_unit",
           "label": "by_unit"}


def workbook(tmp_path, name: str, cell_by_cell: bool, monkeypatch, tables) -> zipfile.ZipFile:
    """tables.xlsx of `tables`, its data rows made as XML or (cell_by_cell) written by XlsxWriter."""
    if cell_by_cell:
        class PerCell(xlsx._Styles):
            def __init__(self, wb, formats):
                super().__init__(wb, formats)
                self.xf = None
        monkeypatch.setattr(xlsx, "_Styles", PerCell)
    else:
        monkeypatch.setattr(xlsx, "_Styles", ORIGINAL_STYLES)
    folder = tmp_path / name / "modules" / "rfm"
    (folder / "tables").mkdir(parents=True)
    (folder / "tables.json").write_text("{}", encoding="utf-8")
    config = load_config(write_config(tmp_path / name, {}, language="ru", client="Клиника"))
    path = xlsx.build_workbook(tmp_path / name, config, ["rfm"], tables, tmp_path / name / "tables.xlsx")
    return zipfile.ZipFile(path)


ORIGINAL_STYLES = xlsx._Styles


def report_tables(df: pd.DataFrame) -> list[ReportTable]:
    return [ReportTable("fixture", "Every kind of cell", df, FORMATS, {"label": "Метка"}),
            ReportTable("capped", "Capped", pd.concat([df.drop(columns=["unit"])] * 2, ignore_index=True), FORMATS, {}),
            ReportTable("empty", "No rows", df.iloc[:0], FORMATS, {}),
            ReportTable("one_column", "One column", df[["amount"]], FORMATS, {})]


@pytest.fixture
def both(tmp_path, monkeypatch):
    monkeypatch.setattr(xlsx, "SHEET_ROWS_MAX", 30)      # "capped" (48 rows) shows 30 under its note
    df = fixture_frame()
    fast = workbook(tmp_path, "fast", False, monkeypatch, report_tables(df))
    slow = workbook(tmp_path, "slow", True, monkeypatch, report_tables(df))
    return fast, slow


def test_rows_made_as_xml_equal_xlsxwriters_cell_by_cell(both):
    fast, slow = both
    assert fast.namelist() == slow.namelist()
    sheets = [n for n in fast.namelist() if n.startswith("xl/worksheets/sheet")]
    assert len(sheets) == 5                                     # README + four tables
    for name in fast.namelist():
        if name != "docProps/core.xml":                          # (it holds the time the workbook was made)
            assert fast.read(name) == slow.read(name), name       # every part, the sheets' XML included
    xml = fast.read("xl/worksheets/sheet2.xml").decode()
    assert '<dimension ref="A1:M23"/>' in xml                  # header + 22 rows with a cell (the last two have none)
    assert '<row r="24">' not in xml and '<row r="23">' in xml
    assert '<c r="B3" s="' in xml and "<v>-0</v>" in xml and "<v>1E+16</v>" in xml and "<v>0.3333333333333333</v>" in xml
    assert "<t>a &amp; b</t>" in xml and "<t>&lt;b&gt;x&lt;/b&gt;</t>" in xml
    assert '<t xml:space="preserve">  lead</t>' in xml and "_x005F_x0041_ literal" in xml and "cr_x000D_here" in xml
    capped = fast.read("xl/worksheets/sheet3.xml").decode()
    assert '<dimension ref="A1:L32"/>' in capped and '<autoFilter ref="A2:L32"/>' in capped
    assert '<pane ySplit="2" topLeftCell="A3"' in capped


def test_rows_in_chunks_and_through_a_file_are_the_same(tmp_path, monkeypatch, both):
    """Rows made 7 at a time (some chunks losing their empty rows), the sheets written through a file."""
    _, slow = both
    monkeypatch.setattr(xlsx, "SHEET_ROWS_MAX", 30)
    monkeypatch.setattr(xlsx, "CHUNK_ROWS", 7)
    monkeypatch.setattr(xlsx, "SPOOL_BYTES", 100)
    fast = workbook(tmp_path, "chunked", False, monkeypatch, report_tables(fixture_frame()))
    for name in fast.namelist():
        if name != "docProps/core.xml":
            assert fast.read(name) == slow.read(name), name
    assert not list((tmp_path / "chunked").glob("*.xml")) and not list((tmp_path / "chunked").glob("*.part"))


def test_the_workbook_reads_back(both):
    fast, _ = both
    wb = load_workbook(fast.fp.name if hasattr(fast.fp, "name") else fast.filename)
    assert wb.sheetnames == ["README", "fixture", "capped", "empty", "one_column"]
    ws = wb["fixture"]
    df = fixture_frame()
    rows = list(ws.iter_rows(min_row=2, values_only=True))
    assert len(rows) == 22
    header = [c.value for c in ws[1]]
    assert header[0] == "Метка" and header[1] == "amount"
    label = [r[0] for r in rows]
    expected = [xlsx.neutralise(t.replace("\x07", "")) if t is not None else None for t in df["label"][:22]]
    expected = [None if t == "" else t for t in expected]       # an empty text reads back as an empty cell
    expected[TEXTS.index(LONG)] = LONG[:32_760] + "😀" * 3      # 32 760 + 3 × 2 units
    # Excel reads _xHHHH_ as the character; openpyxl leaves the escapes as they are stored
    stored = {"cr\rhere": "cr_x000D_here", "_x0041_ literal": "_x005F_x0041_ literal", "\ufffe odd": "_xFFFE_ odd"}
    expected = [stored.get(t, t) for t in expected]
    assert [v if v != "" else None for v in label] == expected
    assert [r[1] for r in rows] == [0.0, -0.0, 1e16, 1 / 3, -1234.5, None, None, None, None, 2.5e-300,
                                    0.3,          # 0.30000000000000004 to Excel's 15–16 digits (XlsxWriter's .16G)
                                    1e15, 123456789.123, -0.001, 5.0, 1e-5, 7.0, 8.0, 9.0, 10.0, 0.5, 0.25]
    assert [r[2] for r in rows][:5] == [3, None, 0, -7, 3]
    assert rows[0][3] == float(f"{float(np.float32(0.1)):.16G}")           # a float32 as its float64 value
    assert [r[4] for r in rows][:3] == ["True", "False", "True"] and [r[5] for r in rows][:3] == [True, None, False]
    assert rows[0][6] == pd.Timestamp("2025-03-01") and rows[1][6] is None and rows[3][6] == pd.Timestamp("2024-02-29")
    assert ws["G2"].number_format == "DD.MM.YYYY"
    assert rows[0][7] == pd.Timestamp("2025-03-01 10:30:15")      # the wall clock of its time zone
    assert [r[8] for r in rows][:12] == [1.5, "text", "True", 1.0, None, None, "'=cmd", 2.0, "False", "  pad ", None, "x"]
    assert [r[9] for r in rows][:4] == ["best", "at_risk", None, "lost"]
    assert [r[10] for r in rows][:4] == [3.2, -1.0, 0.0, -0.0] and "п. п." in ws["K2"].number_format
    assert [ws.cell(row=r, column=12).number_format for r in range(2, 8)] == [
        "#,##0", "0.0%", '#,##0 "₽"', '#,##0 "мин"', "General", "General"]
    assert [ws.cell(row=r, column=1).number_format for r in range(2, 4)] == ["General", "General"]
    capped = wb["capped"]
    assert capped["A1"].value.startswith("Первые 30 строк из 48") and capped.max_row == 32
    assert capped.auto_filter.ref == "A2:L32" and capped.freeze_panes == "A3"
    assert [r[1] for r in capped.iter_rows(min_row=3, values_only=True)][22:26] == [None, None, 0.0, -0.0]
    assert wb["empty"].max_row == 1 and [c.value for c in wb["one_column"]["A"]][:3] == ["amount", 0.0, -0.0]


def test_rich_text_lookalike_stays_escaped_text(tmp_path):
    """XlsxWriter writes a text "<r>…</r>" raw as rich text; the rows made here escape it like any text."""
    df = pd.DataFrame({"note": pd.array(["<r>x</r>", "<r><t>bold</t></r>"], dtype="string")})
    table = xlsx.SheetTable("t", "rfm", "T", df, {}, {})
    path = xlsx.table_workbook(tmp_path / "t.xlsx", table, "en", "$")
    with zipfile.ZipFile(path) as z:
        assert "<t>&lt;r&gt;x&lt;/r&gt;</t>" in z.read("xl/worksheets/sheet1.xml").decode()
    assert [c.value for c in load_workbook(path).active["A"]] == ["note", "<r>x</r>", "<r><t>bold</t></r>"]


def test_cells_are_made_once_per_distinct_value():
    s = pd.Series([2.5, -0.0, 0.0, 2.5, np.nan, np.inf, -0.0])
    cells = xlsx.column_cells(s)
    assert cells.codes.tolist() == [0, 1, 2, 0, -1, -1, 1] and str(cells.values) == "[2.5, -0.0, 0.0]"
    text = xlsx.column_cells(pd.Series(pd.array(["=a", "b", None, "=a", "c\x01"], dtype="string")))
    assert text.codes.tolist() == [0, 1, -1, 0, 2] and text.values == ["'=a", "b", "c"]
    mixed = xlsx.column_cells(pd.Series([True, 1, 1.0, "1", False, 0, None], dtype=object))
    assert mixed.head(7) == ["True", 1.0, 1.0, "1", "False", 0.0, None]      # True is not 1, nor False 0
    assert len(mixed.values) == 5
    days = xlsx.column_cells(pd.Series(pd.to_datetime(["1900-01-01 00:00", None, "2025-03-01 12:00"])))
    assert days.head(3) == [2.0, None, 45717.5]


def test_breaking_escaping_or_number_text_fails_the_comparison(tmp_path, monkeypatch):
    """The byte comparison catches a broken escape or number format (the mutation check, kept)."""
    monkeypatch.setattr(xlsx, "SHEET_ROWS_MAX", 30)
    df = fixture_frame()
    slow = workbook(tmp_path, "slow", True, monkeypatch, report_tables(df)).read("xl/worksheets/sheet2.xml")
    original = xlsx._inline_strings
    monkeypatch.setattr(xlsx, "_inline_strings", lambda texts: original([t.replace("&", "") for t in texts]))
    assert workbook(tmp_path, "a", False, monkeypatch, report_tables(df)).read("xl/worksheets/sheet2.xml") != slow
    monkeypatch.setattr(xlsx, "_inline_strings", original)
    real = xlsx._cell_tails

    def seventeen(column, xf):
        if column.kind == "number":
            column.values = [float(f"{v:.15G}") for v in column.values]
        return real(column, xf)
    monkeypatch.setattr(xlsx, "_cell_tails", seventeen)
    assert workbook(tmp_path, "b", False, monkeypatch, report_tables(df)).read("xl/worksheets/sheet2.xml") != slow


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice is not installed")
def test_libreoffice_converts_the_workbook(both, tmp_path):
    fast, _ = both
    out = tmp_path / "lo"
    done = subprocess.run(["soffice", "--headless", f"-env:UserInstallation=file://{tmp_path}/lo-profile",
                           "--convert-to", "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false,false,false,2",
                           "--outdir", str(out), fast.filename], capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr
    with open(out / "tables-fixture.csv", encoding="utf-8", newline="") as f:
        fixture = list(csv.reader(f))
    assert fixture[0][:2] == ["Метка", "amount"] and len(fixture) == 1 + 22
    assert [r[0] for r in fixture[1:4]] == ["a & b", "<b>x</b>", 'say "hi"'] and fixture[13][0] == "line\nbreak"
    assert fixture[14][0] == "cr\rhere"                      # LibreOffice reads the _x000D_ escape back
    assert fixture[5][1] == "-1234.5" and fixture[1][4:6] == ["True", "TRUE"]
