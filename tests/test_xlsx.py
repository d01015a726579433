"""tables.xlsx: README first, one sheet per table, frozen headers, number formats, formula neutralisation."""
from __future__ import annotations

import json
import re
import zipfile

import pandas as pd
import pytest
from openpyxl import load_workbook

from audit_kit.config import load_config
from audit_kit.report.appendix import ReportTable
from audit_kit.report.xlsx import build_workbook, neutralise, number_formats, sheet_name

from conftest import write_config

DANGEROUS = ["=HYPERLINK(\"http://x\",\"y\")", "+7 999 123", "-1+2", "@SUM(A1)", "\tTAB", "plain <b>text</b>"]


@pytest.fixture
def run(tmp_path):
    """A run folder with one module's table manifest (as `Module.finish` writes it) and a config."""
    folder = tmp_path / "run" / "modules" / "funnel"
    (folder / "tables").mkdir(parents=True)
    df = pd.DataFrame({
        "channel": pd.array(DANGEROUS, dtype="string"),
        "leads": [10, 20, 30, 40, 50, None],
        "spend": [3900.5, 0.0, 125000.0, None, 1.0, 2.0],
        "lead_to_booking": [0.125, 0.5, 1.0, 0.0, None, 0.25],
        "lead_to_booking_change": [0.032, -0.01, 0.0, None, 0.1, 0.2],
        "month": pd.to_datetime(["2025-01-01"] * 6),
    })
    df.to_parquet(folder / "tables" / "funnel_channels.parquet", index=False)
    manifest = {"funnel_channels": {"title": "Conversion by channel",
                                    "formats": {"leads": "count", "spend": "money", "lead_to_booking": "rate",
                                                "lead_to_booking_change": "pp", "month": "month"}}}
    (folder / "tables.json").write_text(json.dumps(manifest), encoding="utf-8")
    return tmp_path / "run"


def config(tmp_path, language):
    return load_config(write_config(tmp_path, {}, language=language, client="=cmd|' /C calc'!A0"))


def build(run, tmp_path, language="ru", appendix=()):
    return build_workbook(run, config(tmp_path, language), ["funnel"], list(appendix), run / "tables.xlsx")


def test_neutralise():
    assert [neutralise(v) for v in DANGEROUS] == [
        "'=HYPERLINK(\"http://x\",\"y\")", "'+7 999 123", "'-1+2", "'@SUM(A1)", "'\tTAB", "plain <b>text</b>"]
    assert neutralise("−3,2 п. п.") == "−3,2 п. п."     # a typographic minus is not a formula


def test_formula_cells_are_neutralised_text(run, tmp_path):
    path = build(run, tmp_path)
    ws = load_workbook(path)["funnel_channels"]
    values = [ws.cell(row=r, column=1).value for r in range(2, 8)]
    assert values == [neutralise(v) for v in DANGEROUS]
    assert all(ws.cell(row=r, column=1).data_type == "s" for r in range(2, 8))
    with zipfile.ZipFile(path) as z:
        xml = "".join(z.read(n).decode("utf-8") for n in z.namelist() if n.startswith("xl/worksheets/sheet"))
    assert "<f>" not in xml and "<f " not in xml          # no formula anywhere, README's client name included
    readme = load_workbook(path)["README"]
    assert readme["B2"].value == "'=cmd|' /C calc'!A0"


def test_layout_and_number_formats(run, tmp_path):
    wb = load_workbook(build(run, tmp_path))
    assert wb.sheetnames == ["README", "funnel_channels"]
    ws = wb["funnel_channels"]
    assert ws.freeze_panes == "A2"
    assert [c.value for c in ws[1]] == ["Канал", "Обращения", "spend", "Обращение → запись",
                                        ws.cell(row=1, column=5).value, "Месяц"]
    assert ws["C2"].value == 3900.5 and ws["C2"].number_format == '#,##0 "₽"'
    assert ws["D2"].value == 0.125 and ws["D2"].number_format == "0.0%"
    assert ws["E2"].value == pytest.approx(3.2) and "п. п." in ws["E2"].number_format   # pp stored ×100
    assert ws["B2"].number_format == "#,##0" and ws["B7"].value is None                # missing stays empty
    assert ws["F2"].number_format == "MM.YYYY"
    assert ws.column_dimensions["A"].width >= len("=HYPERLINK(\"http://x\",\"y\")")
    readme = wb["README"]
    rows = list(readme.iter_rows(min_row=7, values_only=True))
    assert rows[0][0] == "funnel_channels" and rows[0][2] == "Conversion by channel" and rows[0][3] == 6
    assert readme["A7"].hyperlink.location == "'funnel_channels'!A1"


def test_english_money_format(run, tmp_path):
    ws = load_workbook(build(run, tmp_path, "en"))["funnel_channels"]
    assert ws["C2"].number_format == '"₽"#,##0'
    assert ws["A1"].value == "Channel"


def test_appendix_tables_and_by_unit_formats(run, tmp_path):
    mixed = ReportTable("summary_comparison", "Period comparison",
                        pd.DataFrame({"metric": ["Leads", "No-shows", "Average check"],
                                      "current": [564.0, 0.155, 5418.8], "unit": ["count", "rate", "money"]}),
                        {"current": "by_unit"}, {"metric": "Indicator"})
    wb = load_workbook(build(run, tmp_path, "en", [mixed]))
    ws = wb["summary_comparison"]
    assert [ws.cell(row=r, column=2).number_format for r in (2, 3, 4)] == ["#,##0", "0.0%", '"₽"#,##0']
    assert ws["A1"].value == "Indicator"


def test_sheet_names_valid_and_unique():
    taken: set[str] = {"readme"}
    long = "schedule_no_show_by_booking_lead_time_and_channel"
    names = [sheet_name(long, taken), sheet_name(long, taken), sheet_name("a/b:c*d?[e]", taken),
             sheet_name("README", taken), sheet_name("'quoted'", taken)]
    assert names[0] == long[:31] and names[1] == long[:29] + "~2"
    assert names[2] == "a_b_c_d__e_" and names[3] == "README~2" and names[4] == "quoted"
    assert all(len(n) <= 31 and not re.search(r"[\[\]:*?/\\]", n) for n in names)
    assert len({n.lower() for n in names}) == len(names)


def test_number_formats_by_language():
    ru, en = number_formats("ru", "₽"), number_formats("en", "$")
    assert ru["money"] == '#,##0 "₽"' and en["money"] == '"$"#,##0'
    assert ru["rate"] == en["rate"] == "0.0%"
    assert ru["date"] == "DD.MM.YYYY" and en["date"] == "YYYY-MM-DD"
