"""tables.xlsx: README first, one sheet per table, frozen headers, number formats, formula neutralisation."""
from __future__ import annotations

import json
import re
import zipfile

import numpy as np
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
    from audit_kit.report.xlsx import neutralise_column

    column = pd.Series(DANGEROUS + [None, "\rCR"], index=range(10, 10 + len(DANGEROUS) + 2))
    out = neutralise_column(column)
    assert out.tolist()[:len(DANGEROUS)] == [neutralise(v) for v in DANGEROUS]
    assert out.iloc[-2] is pd.NA and out.iloc[-1] == "'\rCR" and out.index.equals(column.index)
    safe = pd.Series(["a", "b", None], dtype="string")
    assert neutralise_column(safe).tolist() == ["a", "b", pd.NA]


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


# -- long tables: capped sheets, complete csv beside the workbook ----------------------------------

def test_sheet_cap_fits_excel():
    from audit_kit.report import xlsx

    assert xlsx.SHEET_ROWS_MAX == 100_000
    assert xlsx.SHEET_ROWS_MAX + 2 <= xlsx.EXCEL_ROWS_MAX == 1_048_576     # note + header + rows


def long_run(tmp_path, rows):
    """A run folder whose rfm module kept one table of `rows` rows (a dangerous text, a pp change, a date)."""
    folder = tmp_path / "run" / "modules" / "rfm"
    (folder / "tables").mkdir(parents=True)
    df = pd.DataFrame({
        "patient_id": pd.array([f"p{i}" if i % 4 else "=1+2" for i in range(rows)], dtype="string"),
        "monetary": [1000.5 + i for i in range(rows)],
        "lead_to_booking_change": [0.032] * rows,
        "last_visit": pd.to_datetime("2025-03-01") + pd.to_timedelta(range(rows), unit="D"),
    })
    df.to_parquet(folder / "tables" / "rfm_patients.parquet", index=False)
    manifest = {"rfm_patients": {"title": "Patients", "formats": {"monetary": "money", "lead_to_booking_change": "pp",
                                                                  "last_visit": "date"}}}
    (folder / "tables.json").write_text(json.dumps(manifest), encoding="utf-8")
    return tmp_path / "run"


def test_long_table_capped_with_note_and_complete_csv(tmp_path, monkeypatch):
    from audit_kit.report import xlsx

    monkeypatch.setattr(xlsx, "SHEET_ROWS_MAX", 5)
    run = long_run(tmp_path, 12)
    path = build_workbook(run, config(tmp_path, "ru"), ["rfm"], [], run / "tables.xlsx")
    wb = load_workbook(path)
    ws = wb["rfm_patients"]
    assert ws["A1"].value == "Первые 5 строк из 12; вся таблица — в файле tables_full/rfm_patients.csv рядом с этой книгой."
    assert [c.value for c in ws[2]][:2] == ["Пациент (ID)", "M"] and ws.freeze_panes == "A3"
    assert ws.max_row == 2 + 5                                  # note, header, the first 5 rows
    assert ws["A3"].value == "'=1+2" and ws["A6"].value == "p3" and ws["A7"].value == "'=1+2" and ws["B3"].value == 1000.5
    readme = wb["README"]
    row = [c.value for c in readme[7]]
    assert row[0] == "rfm_patients" and row[3] == 12 and row[4] == "tables_full/rfm_patients.csv"
    assert "5" in readme["A5"].value and "«;»" in readme["A5"].value
    raw = (run / "tables_full" / "rfm_patients.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")                         # UTF-8 with BOM: Excel reads Cyrillic
    lines = raw.decode("utf-8-sig").splitlines()
    assert len(lines) == 1 + 12
    assert lines[0].split(";")[:2] == ["Пациент (ID)", "M"]
    assert lines[1] == "'=1+2;1000,5;3,2;01.03.2025"                # neutralised, decimal comma, pp ×100, date
    assert lines[12].startswith("p11;1011,5;")
    back = pd.read_csv(run / "tables_full" / "rfm_patients.csv", sep=";", decimal=",", encoding="utf-8-sig")
    assert back.iloc[:, 1].sum() == pytest.approx(sum(1000.5 + i for i in range(12)))


@pytest.mark.parametrize("language", ["ru", "en"])
def test_complete_csv_writes_numbers_and_dates_as_pandas_does(tmp_path, language):
    from audit_kit.report import xlsx

    df = pd.DataFrame({
        "v": [1e16, 1e-05, 0.1 + 0.2, 5.0, -0.0, 0.0, np.nan, 1.2345678901234568e17, np.inf, 2.5e-300, 5.0],
        "share": pd.array([0.032, None, 0.5, 0.0, 1.0, 0.25, 0.125, None, 0.1, 0.2, 0.032], dtype="Float64"),
        "day": pd.to_datetime(["2025-03-01", None, "2024-12-31", "2025-03-01"] + ["2025-01-09"] * 7),
        "at": pd.to_datetime(["2025-03-01 10:30"] * 10 + [None]).tz_localize("Europe/Moscow"),
    })
    table = xlsx.SheetTable("t", "rfm", "T", df, {"share": "pp"}, {})
    got = xlsx.complete_csv(table, tmp_path / "t.csv", language).read_bytes()
    expected = tmp_path / "expected.csv"
    df.assign(share=df["share"] * 100.0).to_csv(expected, index=False, encoding="utf-8-sig", lineterminator="\n",
                                                **xlsx.csv_dialect(language))
    assert got == expected.read_bytes()
    sep, zero = (";", "-0,0") if language == "ru" else (",", "-0.0")
    lines = got.decode("utf-8-sig").splitlines()
    assert lines[5].split(sep)[0] == zero and lines[7].split(sep)[0] == ""          # -0.0 kept apart; NaN empty


@pytest.mark.parametrize("sep", [";", ","])
def test_csv_text_is_written_as_pandas_writes_it(tmp_path, monkeypatch, sep):
    """`write_csv_text` gives pandas' bytes: a field quoted only when it holds the separator, a quote or a line feed
    (quotes doubled), NA empty, integers and booleans as pandas writes them — across chunks of rows."""
    from audit_kit.report import xlsx

    monkeypatch.setattr(xlsx, "CSV_CHUNK_ROWS", 4)
    df = pd.DataFrame({
        "text": pd.array(["x", "a\rb", "c\nd", "e;f", 'g"h', " lead", "", None, "t\tq", "'=1", "é,ж"], dtype="string"),
        "n": list(range(1, 12)),
        "maybe": pd.array([1, None, 3, 4, 5, 6, 7, 8, 9, 10, -11], dtype="Int64"),
        "flag": [True, False] * 5 + [True],
        "known": pd.array([True, None] + [False] * 9, dtype="boolean"),
        "number": np.array(["1,5", "", "2"] + ["-3"] * 8, dtype=object),
    })
    assert xlsx.write_csv_text(df, tmp_path / "got.csv", sep)
    df.to_csv(tmp_path / "pandas.csv", index=False, encoding="utf-8-sig", lineterminator="\n", sep=sep)
    assert (tmp_path / "got.csv").read_bytes() == (tmp_path / "pandas.csv").read_bytes()
    lines = (tmp_path / "got.csv").read_bytes().decode("utf-8-sig").split("\n")
    assert lines[3:5] == ['"c', 'd"' + sep + "3" + sep + "3" + sep + "True" + sep + "False" + sep + "2"]
    assert lines[5] == ('"e;f";4;4;False;False;-3' if sep == ";" else 'e;f,4,4,False,False,-3')
    assert lines[6] == '"g""h"' + sep + "5" + sep + "5" + sep + "True" + sep + "False" + sep + "-3"
    assert lines[8] == sep + "7" + sep + "7" + sep + "True" + sep + "False" + sep + "-3"       # "" and NA: empty


def test_csv_text_leaves_what_it_does_not_know_to_pandas(tmp_path):
    """One column (Python's csv writer quotes its empty fields) or a dtype other than text, integer or boolean:
    nothing written, False (`complete_csv` then writes with pandas)."""
    from audit_kit.report import xlsx

    assert not xlsx.write_csv_text(pd.DataFrame({"a": ["x", ""]}), tmp_path / "one.csv", ";")
    assert not xlsx.write_csv_text(pd.DataFrame({"a": ["x", "y"], "f": [1.5, 2.0]}), tmp_path / "float.csv", ";")
    mixed = pd.DataFrame({"a": ["x", "y"], "o": np.array(["text", 7], dtype=object)})     # seen only in the cells
    assert not xlsx.write_csv_text(mixed, tmp_path / "mixed.csv", ";")
    assert not list(tmp_path.iterdir())


def test_english_csv_and_short_tables_stay_whole(tmp_path, monkeypatch):
    from audit_kit.report import xlsx

    monkeypatch.setattr(xlsx, "SHEET_ROWS_MAX", 5)
    run = long_run(tmp_path, 5)                    # exactly the cap: no note, no csv
    path = build_workbook(run, config(tmp_path, "en"), ["rfm"], [], run / "tables.xlsx")
    ws = load_workbook(path)["rfm_patients"]
    assert ws.freeze_panes == "A2" and ws.max_row == 6 and ws["A1"].value == "Patient (ID)"
    assert not (run / "tables_full").exists()
    run = long_run(tmp_path / "b", 7)
    build_workbook(run, config(tmp_path, "en"), ["rfm"], [], run / "tables.xlsx")
    lines = (run / "tables_full" / "rfm_patients.csv").read_text(encoding="utf-8-sig").splitlines()
    assert lines[1] == "'=1+2,1000.5,3.2,2025-03-01" and len(lines) == 8


def workbook_cells(path) -> dict[str, list[tuple]]:
    return {ws.title: [tuple(c.value for c in row) for row in ws.iter_rows()] for ws in load_workbook(path).worksheets}


def test_a_workbook_prepared_ahead_is_the_same_workbook(tmp_path, monkeypatch):
    from audit_kit.report import xlsx

    monkeypatch.setattr(xlsx, "SHEET_ROWS_MAX", 5)
    cfg = config(tmp_path, "ru")
    run, other_run = long_run(tmp_path / "a", 12), long_run(tmp_path / "b", 12)
    direct = build_workbook(other_run, cfg, ["rfm"], [], other_run / "tables.xlsx")
    prepared = xlsx.prepare_workbook(run, cfg, ["rfm"], run / "tables.xlsx")
    assert (run / "tables_full" / "rfm_patients.csv").is_file()              # written ahead
    assert prepared["rfm"][0].cells is not None
    ahead = build_workbook(run, cfg, ["rfm"], [], run / "tables.xlsx", prepared=prepared)
    assert workbook_cells(ahead) == workbook_cells(direct)
    assert (run / "tables_full" / "rfm_patients.csv").read_bytes() == (other_run / "tables_full" / "rfm_patients.csv").read_bytes()


def test_a_csv_written_ahead_follows_its_sheet_when_the_name_is_taken(tmp_path, monkeypatch):
    from audit_kit.report import xlsx

    monkeypatch.setattr(xlsx, "SHEET_ROWS_MAX", 5)
    run = long_run(tmp_path, 12)
    cfg = config(tmp_path, "ru")
    prepared = xlsx.prepare_workbook(run, cfg, ["rfm"], run / "tables.xlsx")
    other = pd.DataFrame({"v": [float(i) for i in range(8)]})       # the summary's table, first, takes its name
    monkeypatch.setattr(xlsx, "module_tables", lambda *a: [xlsx.SheetTable("rfm_patients", "summary", "Other", other,
                                                                                {}, {})])
    path = build_workbook(run, cfg, ["summary", "rfm"], [], run / "tables.xlsx", prepared=prepared)
    readme = workbook_cells(path)["README"]
    assert [r[0] for r in readme[6:8]] == ["rfm_patients", "rfm_patients~2"]
    assert [r[4] for r in readme[6:8]] == ["tables_full/rfm_patients.csv", "tables_full/rfm_patients~2.csv"]
    folder = run / "tables_full"
    assert sorted(p.name for p in folder.iterdir()) == ["rfm_patients.csv", "rfm_patients~2.csv"]
    assert len((folder / "rfm_patients.csv").read_text(encoding="utf-8-sig").splitlines()) == 1 + 8     # the other table
    assert (folder / "rfm_patients~2.csv").read_text(encoding="utf-8-sig").splitlines()[1].startswith("'=1+2;1000,5")
    # a module prepared ahead but left out of the workbook leaves no csv behind
    prepared = xlsx.prepare_workbook(run, cfg, ["rfm"], run / "tables.xlsx")
    build_workbook(run, cfg, [], [], run / "tables.xlsx", prepared=prepared)
    assert not folder.exists()


def test_stale_complete_tables_are_removed(tmp_path, monkeypatch):
    from audit_kit.report import xlsx

    monkeypatch.setattr(xlsx, "SHEET_ROWS_MAX", 5)
    run = long_run(tmp_path, 9)
    build_workbook(run, config(tmp_path, "ru"), ["rfm"], [], run / "tables.xlsx")
    assert (run / "tables_full" / "rfm_patients.csv").is_file()
    monkeypatch.setattr(xlsx, "SHEET_ROWS_MAX", 50)
    build_workbook(run, config(tmp_path, "ru"), ["rfm"], [], run / "tables.xlsx")
    assert not (run / "tables_full").exists()


def test_one_table_workbook_capped(tmp_path, monkeypatch):
    from audit_kit.report import xlsx

    monkeypatch.setattr(xlsx, "SHEET_ROWS_MAX", 3)
    df = pd.DataFrame({"patient_id": pd.array(["a", "b", "c", "d"], dtype="string"), "monetary": [1.0, 2.0, 3.0, 4.0]})
    table = xlsx.SheetTable("reactivation", "rfm", "Call list", df, {"monetary": "money"}, {"patient_id": "ID"})
    path = xlsx.table_workbook(tmp_path / "reactivation.xlsx", table, "ru", "₽")
    ws = load_workbook(path).active
    assert "reactivation_full/reactivation.csv" in ws["A1"].value and ws.max_row == 2 + 3
    assert ws["B3"].number_format == '#,##0 "₽"'
    assert (tmp_path / "reactivation_full" / "reactivation.csv").read_text(encoding="utf-8-sig").splitlines()[-1] == "d;4,0"
