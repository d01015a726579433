"""The client report: summary helpers, ranking and money formatting, scorecard, escaping, the English
report end to end, and the demo clinic's PDF (A4, cover, page numbers, nothing split across pages)."""
from __future__ import annotations

import json
import os
import re
from collections import defaultdict
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from audit_kit.config import load_config
from audit_kit.findings import Finding, rank
from audit_kit.metrics.compare import Proportion
from audit_kit.metrics.scorecard import headline_counts, scorecard, survey_scores
from audit_kit.report import summary as s
from audit_kit.report.appendix import ReportTable, table_html
from audit_kit.report.fmt import Formatter
from audit_kit.report.html import _toc, findings_html
from audit_kit.report.i18n import Translator

from conftest import DEMO_CONFIG, write_config

SCRIPT = "<script>alert(1)</script>"
CYRILLIC = re.compile("[\u0400-\u04ff]")
NBSP = "\u00a0"


def finding(module, id, severity, money):
    return Finding(module, id, f"{id} title", severity, money, f"{id} evidence", f"{id} recommendation")


# -- money formatting and ranking -------------------------------------------------------------------

def test_money_and_rates_formatted_for_the_language():
    ru, en = Formatter("ru", "RUB"), Formatter("en", "RUB")
    assert ru.money(3900) == f"3{NBSP}900{NBSP}₽" and en.money(3900) == "₽3,900"
    assert ru.money(1093652.41) == f"1{NBSP}093{NBSP}652{NBSP}₽" and en.money(-1500) == "−₽1,500"
    assert ru.pct(0.125) == f"12,5{NBSP}%" and en.pct(0.125) == "12.5%"
    assert ru.money(None) == en.pct(float("nan")) == "—"


def test_signed_changes_in_the_metric_unit():
    ru, en = Formatter("ru", "RUB"), Formatter("en", "RUB")
    assert s.signed(ru, 0.032, "rate") == f"+3,2{NBSP}п.{NBSP}п."
    assert s.signed(en, -0.011, "rate") == "−1.1 pp"
    assert s.signed(en, -3400, "money") == "−₽3,400" and s.signed(en, 276, "count") == "+276"
    assert s.signed(en, 2.5, "number") == "+2.5" and s.signed(en, None, "count") == "—"


def test_findings_ranked_by_money_then_severity():
    findings = [finding("funnel", "b", "low", 100.0), finding("schedule", "a", "high", 100.0),
                finding("quality", "c", "high", None), finding("funnel", "d", "medium", 5000.0),
                finding("schedule", "e", "medium", 100.0)]
    ranked = rank(findings)
    # 5000 first; the three 100s by severity high > medium > low; the unpriced one last
    assert [f.id for f in ranked] == ["d", "a", "e", "b", "c"]
    table = s.findings_table(ranked, Translator("en"))
    assert table["rank"].tolist() == [1, 2, 3, 4, 5]
    assert table["severity"].tolist() == ["medium", "high", "medium", "low", "high"]
    assert table["money"].tolist()[:4] == [5000.0, 100.0, 100.0, 100.0] and np.isnan(table["money"].iloc[4])


def test_money_counted_once_by_stage():
    """The summary's total is the counted money (money.count_once): nested findings add nothing; per stage."""
    from audit_kit.findings import mark_counted

    def priced(module, id, money, stage, acts_on):
        return Finding(module, id, f"{id} title", "high", money, "", "", stage=stage, acts_on=acts_on)

    findings = mark_counted([priced("funnel", "booked_no_show", 600.0, "show", "no_shows"),
                             priced("schedule", "no_show", 700.0, "show", "no_shows"),
                             priced("funnel", "missed_calls", 50.0, "lead_handling", "missed_calls"),
                             finding("quality", "d", "low", None)])
    by_stage = s.money_by_stage(findings)
    assert by_stage.to_dict("list") == {"stage": ["lead_handling", "show"], "money": [50.0, 700.0], "findings": [1, 2]}
    assert s.total_money(findings) == 750.0
    assert s.total_money(mark_counted([finding("quality", "d", "low", None)])) is None
    table = s.findings_table(findings, Translator("en"))
    assert table["counted"].tolist()[:3] == [0.0, 700.0, 50.0] and np.isnan(table["counted"].iloc[3])
    assert table["stage"].tolist()[:2] == ["Showing up", "Showing up"]
    assert s.revenue_per_month({"summary.revenue_per_month": {"unit": "money", "current": 5e6}}) == 5e6
    assert s.revenue_per_month({}) is None


# -- scorecard and surveys ----------------------------------------------------------------------------

def test_survey_scores_hand_computed():
    # In [Jan 1, Feb 1): NPS answers 10, 9, 8, 6, 0, 7 -> 2 promoters, 2 detractors of 6 -> NPS 0;
    # NaN and 11 (out of scale) are ignored. CSAT answers 5, 4, 3, 1 -> 2 of 4 satisfied = 0.5 (6 ignored).
    surveys = pd.DataFrame({
        "answered_at": pd.to_datetime(["2025-01-02", "2025-01-03", "2025-01-04", "2025-01-05", "2025-01-06",
                                       "2025-01-07", "2025-01-08", "2025-01-09", "2025-02-01"]),
        "nps": [10, 9, 8, 6, 0, 7, np.nan, 11, 10],
        "csat": [5, 4, 3, 1, np.nan, np.nan, 6, np.nan, 5],
    })
    out = survey_scores(surveys, pd.Timestamp("2025-01-01"), pd.Timestamp("2025-02-01"))
    assert (out["nps_answers"], out["promoters"], out["detractors"], out["nps"]) == (6, 2, 2, 0.0)
    assert (out["csat_answers"], out["satisfied"], out["csat"]) == (4, 2, 0.5)
    empty = survey_scores(surveys, pd.Timestamp("2024-01-01"), pd.Timestamp("2024-02-01"))
    assert np.isnan(empty["nps"]) and np.isnan(empty["csat"])


def test_scorecard_status_against_targets():
    metrics = {"schedule.no_show_rate": {"base": 0.08, "current": 0.05},          # at most 5%: met at the edge
               "funnel.missed_call_rate": {"base": 0.2, "current": 0.21},         # at most 5%: missed
               "summary.nps": {"base": 40.0, "current": 55.0},                    # at least 50: met
               "summary.csat": {"base": 0.9, "current": None}}                    # no data
    targets = {"no_show_rate": 0.05, "missed_call_rate": 0.05, "nps": 50.0, "csat": 0.9, "wait_minutes": 15.0}
    card = scorecard(metrics, targets).set_index("kpi")
    assert card["status"].to_dict() == {"no_show_rate": "met", "wait_minutes": "no_data",
                                        "missed_call_rate": "missed", "nps": "met", "csat": "no_data"}
    assert card.loc["nps", "direction"] == "min" and card.loc["no_show_rate", "base"] == 0.08
    # a stricter target from audit.yaml flips the status
    assert scorecard(metrics, {**targets, "no_show_rate": 0.04}).set_index("kpi").loc["no_show_rate", "status"] == "missed"


def test_headline_counts_reproduce_published_rates():
    # calls in January: 4 with a known outcome, 1 unanswered -> 1/4; the unknown one counts in neither.
    # bookings in January: completed, completed, no_show, cancelled -> no-show 1/3, cancel 1/4.
    calls = pd.DataFrame({"started_at": pd.to_datetime(["2025-01-02"] * 5),
                          "answered": pd.array([True, True, True, False, None], dtype="boolean")})
    bookings = pd.DataFrame({
        "booking_id": pd.array(["B1", "B2", "B3", "B4"], dtype="string"),
        "patient_id": pd.array(["P1", "P2", "P3", "P4"], dtype="string"),
        "doctor_id": pd.array(["D1"] * 4, dtype="string"),
        "slot_start": pd.to_datetime(["2025-01-10 09:00", "2025-01-10 10:00", "2025-01-11 09:00", "2025-01-12 09:00"]),
        "status": pd.array(["completed", "completed", "no_show", "cancelled"], dtype="string"),
        "slot_minutes": [30.0] * 4, "slot_end": pd.NaT, "cancelled_at": pd.NaT,
    })
    periods = {"current": (pd.Timestamp("2025-01-01"), pd.Timestamp("2025-02-01"))}
    metrics = {"funnel.missed_call_rate": {"unit": "rate", "current": 0.25},
               "funnel.leads": {"unit": "count", "current": 10}, "funnel.booked_leads": {"unit": "count", "current": 4},
               "funnel.lead_to_booking": {"unit": "rate", "current": 0.4},
               "schedule.no_show_rate": {"unit": "rate", "current": 1 / 3},
               "schedule.cancel_rate": {"unit": "rate", "current": 0.3}}      # published 0.3 ≠ recount 1/4
    counts = headline_counts({"calls": calls, "bookings": bookings}, periods, metrics)
    assert counts["funnel.missed_call_rate"]["current"] == Proportion(1, 4)
    assert counts["funnel.lead_to_booking"]["current"] == Proportion(4, 10)
    assert counts["schedule.no_show_rate"]["current"] == Proportion(1, 3)
    assert "schedule.cancel_rate" not in counts          # does not reproduce the module's rate: no interval
    # the ID-chain checks' counts from the quality module's table (codes), no table recounted for them
    chain = pd.DataFrame({"check": ["Записи без обращения", "Оплаты без визита", "Оплаты без визита"],
                          "period": ["Тек.", "Тек.", "База"], "checked": [10, 20, 30], "broken": [1, 5, 3],
                          "check_code": ["bookings_lead_missing", "invoices_without_visit", "invoices_without_visit"],
                          "period_code": ["current", "current", "base"]})
    metrics |= {"quality.bookings_without_lead_rate": {"unit": "rate", "current": 0.1},
                "quality.invoices_without_visit_rate": {"unit": "rate", "current": 0.3}}     # ≠ 5 / 20
    counts = headline_counts({"calls": calls, "bookings": bookings}, periods, metrics, chain=chain)
    assert counts["quality.bookings_without_lead_rate"] == {"current": Proportion(1, 10)}
    assert "quality.invoices_without_visit_rate" not in counts
    # the modules' published counts (counts.json) are taken as they are: no table is read for them ...
    published = {"funnel.missed_call_rate": {"current": [1, 4]}, "schedule.no_show_rate": {"current": [1, 3]},
                 "schedule.cancel_rate": {"current": [3, 10]}, "schedule.late_cancel_rate": {"current": [0, 0]}}
    metrics["schedule.late_cancel_rate"] = {"unit": "rate", "current": None}
    counts = headline_counts({}, periods, metrics, published=published)
    assert counts["funnel.missed_call_rate"] == {"current": Proportion(1, 4)}
    assert counts["schedule.no_show_rate"] == {"current": Proportion(1, 3)}
    assert counts["schedule.cancel_rate"] == {"current": Proportion(3, 10)}      # 0.3 published, 3 / 10 counted
    assert "schedule.late_cancel_rate" not in counts                              # n = 0: no interval
    # ... and a rate left unpublished is still recounted from the tables
    counts = headline_counts({"calls": calls, "bookings": bookings}, periods, metrics,
                             published={"funnel.missed_call_rate": {"current": [1, 4]}})
    assert counts["schedule.no_show_rate"] == {"current": Proportion(1, 3)}


# -- HTML pieces -------------------------------------------------------------------------------------

def test_findings_cards_and_tables_escape_data():
    f = Finding("funnel", "x", f"Channel {SCRIPT}", "high", 1000.0, f"evidence {SCRIPT}", "do <b>this</b>")
    markup = findings_html([f], Translator("en"), Formatter("en", "RUB"))
    assert "<script" not in markup and "&lt;script&gt;alert(1)&lt;/script&gt;" in markup
    assert "₽1,000 a month" in markup and "&lt;b&gt;this&lt;/b&gt;" in markup
    table = ReportTable("t", f"title {SCRIPT}", pd.DataFrame({"channel": [SCRIPT], "leads": [1200]}),
                        {"leads": "count"}, {"channel": "Channel"})
    markup = table_html(table, Formatter("ru", "RUB"))
    assert "<script" not in markup and markup.count("&lt;script&gt;") == 2 and f"1{NBSP}200" in markup
    assert "<caption>title &lt;script&gt;" in markup


def test_report_table_capped_with_a_note_workbook_whole(tmp_path):
    from audit_kit.report.appendix import INPUT_FILES_SHOWN, provenance_tables

    files = pd.DataFrame({"file": [f"branch_{i:03d}.csv" for i in range(30)]})
    table = ReportTable("provenance_inputs", "Input files", files, max_rows=INPUT_FILES_SHOWN)
    markup = table_html(table, Formatter("en", "RUB"), t=Translator("en"))
    assert INPUT_FILES_SHOWN == 25 and markup.count("<tr") == 1 + 25
    assert "branch_024.csv" in markup and "branch_025.csv" not in markup
    assert "The first 25 of 30 rows are shown; the full table is in tables.xlsx." in markup
    whole = table_html(ReportTable("t", "", files.head(25), max_rows=25), Formatter("en", "RUB"))
    assert whole.count("<tr") == 26 and "audit-more" not in whole
    config = load_config(write_config(tmp_path, {}, language="en"))
    inputs = next(tb for tb in provenance_tables(tmp_path, config, Translator("en"), "dev", {}, {
        name: ["0" * 64] * len(src.paths) for name, src in config.sources.items()}) if tb.name == "provenance_inputs")
    assert inputs.max_rows == INPUT_FILES_SHOWN


def test_table_of_contents_links_every_section_heading():
    body = ('<h2 class="audit-h2" id="funnel-title">Lead &amp; loss</h2><h2 id="a" class="audit-h2 audit-break">App</h2>'
            '<h2 class="audit-toc-title">Contents</h2><h3 class="audit-h3" id="x">not a section</h3>')
    toc = _toc(body, Translator("en"))
    assert re.findall(r'<a href="#([^"]+)">', toc) == ["funnel-title", "a"]
    assert "Lead &amp; loss" in toc


def test_more_data_lists_skipped_modules_and_missing_surveys():
    t = Translator("ru")
    results = s.RunResults(Path("."), statuses=[
        {"name": "funnel", "status": "skipped", "missing_tables": ["leads"]},
        {"name": "schedule", "status": "ok", "missing_tables": []}])
    items = s.more_data(results, tables={"bookings": None}, periods=["current"], t=t)
    assert items == [t("summary.more_data.skipped", module=t("modules.funnel.title"), needs=t("modules.funnel.needs")),
                     t("summary.more_data.surveys"), t("summary.more_data.base")]
    assert s.more_data(s.RunResults(Path(".")), {"surveys": None}, ["base", "current"], t) == []


def test_latest_run_skips_scratch_and_unfinished(tmp_path):
    reports = tmp_path / "reports"
    for name, files in (("20250101-100000", ("modules.json", "ledger.json")), ("_notebook", ("modules.json", "ledger.json")),
                        ("half", ("ledger.json",)), ("20250102-100000", ("modules.json", "ledger.json"))):
        (reports / name).mkdir(parents=True)
        for f in files:
            (reports / name / f).write_text("[]")
    older = reports / "20250101-100000" / "modules.json"
    import os
    os.utime(older, (1, 1))
    assert s.latest_run(tmp_path) == reports / "20250102-100000"
    assert s.latest_run(tmp_path / "nowhere") is None


# -- end to end: a tiny English clinic with a <script> channel ---------------------------------------

def tiny_clinic(folder: Path, *, language: str = "en", client: str = f"Test {SCRIPT} Clinic") -> Path:
    """About 120 leads over two quarters, ASCII data only (so any Cyrillic in the report is ours)."""
    rng = np.random.default_rng(7)
    data = folder / "data"
    data.mkdir(parents=True, exist_ok=True)
    n = 120
    created = pd.Timestamp("2024-10-01 09:00") + pd.to_timedelta(rng.integers(0, 181, n), unit="D") \
        + pd.to_timedelta(rng.integers(0, 9 * 60, n), unit="min")
    channels = np.array([SCRIPT, "Search", "Referral"])[rng.integers(0, 3, n)]
    leads = pd.DataFrame({"lead_id": [f"L{i}" for i in range(n)], "created_at": created, "channel": channels,
                          "patient_id": [f"P{i}" for i in range(n)], "call_id": [f"C{i}" for i in range(n)],
                          "first_response_at": created + pd.to_timedelta(rng.integers(1, 90, n), unit="min")})
    # plus 200 calls without a lead on Monday mornings, so the missed-call heat map has busy cells
    mondays = pd.date_range("2024-10-07", "2025-03-31", freq="7D")
    extra = mondays[rng.integers(0, len(mondays), 200)] + pd.to_timedelta(rng.integers(9 * 60, 12 * 60, 200), unit="min")
    calls = pd.DataFrame({"call_id": [*leads["call_id"], *(f"X{i}" for i in range(200))],
                          "started_at": [*created, *extra],
                          "answered": np.where(rng.random(n + 200) < 0.8, "yes", "no")})
    booked = leads.loc[rng.random(n) < 0.6].reset_index(drop=True)
    slot = (booked["created_at"].dt.normalize() + pd.to_timedelta(rng.integers(1, 5, len(booked)), unit="D")
            + pd.to_timedelta(9 + rng.integers(0, 8, len(booked)), unit="h"))
    doctors = np.array(["D1", "D2"])[rng.integers(0, 2, len(booked))]
    status = np.where(rng.random(len(booked)) < 0.8, "completed", "no_show")
    bookings = pd.DataFrame({"booking_id": [f"B{i}" for i in range(len(booked))], "patient_id": booked["patient_id"],
                             "doctor_id": doctors, "slot_start": slot, "status": status, "lead_id": booked["lead_id"],
                             "slot_minutes": 30})
    done = bookings.loc[bookings["status"].eq("completed")].reset_index(drop=True)
    visits = pd.DataFrame({"visit_id": [f"V{i}" for i in range(len(done))], "patient_id": done["patient_id"],
                           "checked_in_at": done["slot_start"] - pd.Timedelta(minutes=5),
                           "booking_id": done["booking_id"], "doctor_id": done["doctor_id"],
                           "started_at": done["slot_start"] + pd.to_timedelta(rng.integers(0, 30, len(done)), unit="min"),
                           "ended_at": done["slot_start"] + pd.Timedelta(minutes=40)})
    invoices = pd.DataFrame({"invoice_id": [f"I{i}" for i in range(len(visits))], "patient_id": visits["patient_id"],
                             "paid_at": visits["ended_at"], "amount": rng.integers(20, 80, len(visits)) * 100,
                             "visit_id": visits["visit_id"]})
    days = pd.date_range("2024-10-01", "2025-03-31", freq="D")
    days = days[days.day_of_week < 6]
    schedule = pd.DataFrame({"doctor_id": np.repeat(["D1", "D2"], len(days)),
                             "shift_start": np.tile(days + pd.Timedelta(hours=9), 2),
                             "shift_end": np.tile(days + pd.Timedelta(hours=17), 2)})
    doctors_df = pd.DataFrame({"doctor_id": ["D1", "D2"], "specialty": ["therapist", "dentist"],
                               "doctor_name": ["Dr A", "Dr B"]})
    surveys = pd.DataFrame({"patient_id": visits["patient_id"], "answered_at": visits["ended_at"],
                            "nps": rng.integers(5, 11, len(visits)), "csat": rng.integers(2, 6, len(visits))})
    tables = {"leads": leads, "calls": calls, "bookings": bookings, "visits": visits, "invoices": invoices,
              "schedule": schedule, "doctors": doctors_df, "surveys": surveys}
    for name, df in tables.items():
        df.to_csv(data / f"{name}.csv", index=False)
    return write_config(folder, {name: f"data/{name}.csv" for name in tables}, language=language, client=client)


@pytest.fixture(scope="module")
def english_run(tmp_path_factory):
    from audit_kit.runner import run_audit

    folder = tmp_path_factory.mktemp("tiny_clinic")
    config = tiny_clinic(folder)
    return run_audit(config, out=folder / "reports" / "run", progress=lambda line: None)


def test_english_run_writes_every_output(english_run):
    for kind in ("html", "pdf", "xlsx", "metrics", "findings", "run"):
        assert Path(english_run.outputs[kind]).is_file(), kind
    statuses = {m.name: m.status for m in english_run.modules}
    assert statuses["summary"] == "ok", [m.error for m in english_run.modules if m.name == "summary"]
    info = json.loads(Path(english_run.outputs["run"]).read_text(encoding="utf-8"))
    assert {"summary", "report_html", "report_pdf", "report_xlsx", "report"} <= set(info["timings_seconds"])
    metrics = json.loads(Path(english_run.outputs["metrics"]).read_text(encoding="utf-8"))["metrics"]
    assert metrics["summary.nps"]["unit"] == "number" and -100 <= metrics["summary.nps"]["current"] <= 100
    assert 0 <= metrics["summary.csat"]["current"] <= 1


def test_script_channel_and_client_are_escaped(english_run):
    html = Path(english_run.outputs["html"]).read_text(encoding="utf-8")
    assert "<script" not in html.lower()                         # no live tag of any kind
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html       # the client's name and the channel, as text
    funnel = next(m for m in english_run.modules if m.name == "funnel")
    if funnel.status == "ok":                                    # the channel tables show the channel name
        tables = Path(english_run.run_dir) / "notebooks" / "02_lead_loss.ipynb"
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in tables.read_text(encoding="utf-8")
    title = re.search(r"<title>(.*?)</title>", html, re.S).group(1)
    assert "&lt;script&gt;" in title


def test_english_report_has_no_russian(english_run):
    # the tiny clinic's data is ASCII, so every Cyrillic letter would come from the kit
    html = Path(english_run.outputs["html"]).read_text(encoding="utf-8")
    text = re.sub(r'src="data:[^"]+"', "", html)
    assert CYRILLIC.findall(text) == []
    assert 'lang="en"' in html
    for title in ("Key findings", "Appendix A. Row ledger", "Appendix B. Definitions", "Appendix C. Report provenance",
                  "Period comparison", "Key indicators and targets", "What more data would show"):
        assert title in html, title
    from openpyxl import load_workbook

    wb = load_workbook(english_run.outputs["xlsx"])
    cells = [str(c) for ws in wb.worksheets for row in ws.iter_rows(values_only=True) for c in row if c is not None]
    assert wb.sheetnames[0] == "README" and "summary_scorecard" in wb.sheetnames
    assert [c for c in cells if CYRILLIC.search(c)] == []


def test_report_sections_in_order_with_contents(english_run):
    html = Path(english_run.outputs["html"]).read_text(encoding="utf-8")
    toc = re.search(r'<nav class="audit-toc">(.*?)</nav>', html, re.S).group(1)
    links = re.findall(r'href="#([^"]+)"', toc)
    assert links[0] == "summary-summary-title" and links[-3:] == ["appendix-ledger", "appendix-definitions",
                                                                   "appendix-provenance"]
    order = [html.index(f'id="{i}"') for i in links]
    assert order == sorted(order)
    assert html.index("audit-cover") < html.index("audit-toc") < html.index('id="summary-summary-title"')


def test_failed_workbook_is_logged_and_the_html_and_pdf_still_written(english_run, tmp_path, monkeypatch, capsys):
    """The workbook is written in a worker process beside the HTML and PDF; its failure reaches the parent."""
    import shutil

    from audit_kit import report
    from audit_kit.report import xlsx

    run_dir = tmp_path / "run"
    shutil.copytree(english_run.run_dir, run_dir, ignore=shutil.ignore_patterns("report.*", "tables.xlsx", "logs"))

    def broken(*args, **kwargs):
        raise ValueError("sheet broken on purpose")

    monkeypatch.setattr(xlsx, "build_workbook", broken)
    config = load_config(json.loads((run_dir / "run.json").read_text(encoding="utf-8"))["parameters"]["config"])
    timings = {}
    outputs = report.build_report(run_dir, config, english_run.modules, timings)
    assert set(outputs) == {"html", "pdf"} and (run_dir / "report.pdf").is_file()
    assert not (run_dir / "tables.xlsx").exists()
    assert "tables.xlsx: " in (run_dir / "logs" / "report.log").read_text(encoding="utf-8")
    assert "warning: tables.xlsx not written: ValueError: sheet broken on purpose" in capsys.readouterr().err
    assert {"report_html", "report_pdf", "report_xlsx"} <= set(timings)


def _copy_run(english_run, tmp_path):
    import shutil

    run_dir = tmp_path / "run"
    shutil.copytree(english_run.run_dir, run_dir, ignore=shutil.ignore_patterns("report.*", "tables.xlsx", "tables_full",
                                                                                "logs"))
    return run_dir, load_config(json.loads((run_dir / "run.json").read_text(encoding="utf-8"))["parameters"]["config"])


def test_workbook_job_makes_the_sheets_ahead_and_writes_the_same_workbook(english_run, tmp_path):
    """The runner's workbook process: the modules' sheets made at once, the workbook written when it is told
    the final modules and the appendix's tables; the same cells as a workbook written in one go."""
    from openpyxl import load_workbook

    from audit_kit.report import xlsx
    from audit_kit.report.workbook import WorkbookJob

    run_dir, config = _copy_run(english_run, tmp_path)
    ran = [m.name for m in english_run.modules if m.status == "ok"]
    job = WorkbookJob(run_dir, config)
    job.prepare([m for m in ran if m != "summary"])
    job.finish(ran, [])
    path, seconds, ahead = job.result()
    assert path == run_dir / "tables.xlsx" and path.is_file()
    assert seconds > 0 and ahead is not None and ahead > 0
    (tmp_path / "other").mkdir()
    other = xlsx.build_workbook(run_dir, config, ran, [], tmp_path / "other" / "tables.xlsx")
    made, whole = load_workbook(path, read_only=True), load_workbook(other, read_only=True)
    assert made.sheetnames == whole.sheetnames and len(made.sheetnames) > 5
    for name in made.sheetnames:
        assert [r for r in made[name].iter_rows(values_only=True)] == [r for r in whole[name].iter_rows(values_only=True)], name


def test_workbook_job_error_arrives_with_the_process_traceback_and_cancel_stops_it(english_run, tmp_path, monkeypatch):
    from audit_kit.report import xlsx
    from audit_kit.report.workbook import RemoteTraceback, WorkbookJob

    run_dir, config = _copy_run(english_run, tmp_path)

    def broken(*args, **kwargs):
        raise ValueError("sheet broken on purpose")

    monkeypatch.setattr(xlsx, "build_workbook", broken)
    job = WorkbookJob(run_dir, config)
    job.finish(["funnel"], [])
    with pytest.raises(ValueError, match="sheet broken on purpose") as error:
        job.result()
    assert isinstance(error.value.__cause__, RemoteTraceback)
    assert "in broken" in str(error.value.__cause__)

    def dies(*args, **kwargs):
        os._exit(3)

    monkeypatch.setattr(xlsx, "prepare_workbook", dies)     # the process gone: finish says nothing, result says so
    gone = WorkbookJob(run_dir, config)
    gone.prepare(["funnel"])
    gone.finish(["funnel"], [])
    with pytest.raises(RuntimeError, match=r"the workbook's process ended without writing it \(exit code 3\)"):
        gone.result()

    waiting = WorkbookJob(run_dir, config)                   # a run that stops before its report
    waiting.prepare(["funnel"])
    waiting.cancel()
    assert not (run_dir / "tables.xlsx").exists()


def test_summary_notebook_runs_without_a_run_folder(tmp_path):
    """JupyterLab defaults: no run_dir; a client with no finished run gets a sentence, not an error."""
    import papermill as pm

    from audit_kit.modules import SUMMARY, notebook_path

    config = tiny_clinic(tmp_path / "client", language="ru", client="Клиника без запусков")
    out = tmp_path / "out.ipynb"
    pm.execute_notebook(str(notebook_path(SUMMARY)), str(out), parameters={"config_path": str(config)},
                        kernel_name="python3", progress_bar=False, cwd=str(notebook_path(SUMMARY).parent))
    text = out.read_text(encoding="utf-8")
    assert Translator("ru")("summary.no_results")[:40] in text


# -- the demo clinic's PDF: the acceptance checks ----------------------------------------------------

def pdf_pages(pdf: Path) -> list:
    from pypdf import PdfReader

    return list(PdfReader(str(pdf)).pages)


def kept_whole_elements_by_page(html_path: Path) -> dict[int, set[int]]:
    """For every figure, table (but a long one, `wrap_css`) and finding card: the PDF pages its boxes land on (WeasyPrint layout;
    `_page_box` is WeasyPrint's own page tree)."""
    from weasyprint import HTML

    keep = {"audit-figure", "audit-table-wrap", "audit-finding"}
    pages_of: dict[int, set[int]] = defaultdict(set)

    def walk(box):
        yield box
        for child in getattr(box, "children", None) or []:
            yield from walk(child)

    doc = HTML(filename=str(html_path)).render()
    for number, page in enumerate(doc.pages):
        assert (round(page.width), round(page.height)) == (794, 1123)     # A4 at 96 px/in
        for box in walk(page._page_box):
            element = getattr(box, "element", None)
            classes = set((element.get("class") or "").split()) if element is not None else set()
            if keep & classes and "audit-long" not in classes:      # a long table may break (`wrap_css`)
                pages_of[id(element)].add(number)
    return pages_of


def test_split_detection_can_fail(tmp_path):
    rows = "".join(f"<tr><td>{i}</td></tr>" for i in range(200))      # taller than a page: must split
    page = tmp_path / "long.html"
    page.write_text(f'<html><body><div class="audit-table-wrap"><table>{rows}</table></div>'
                    f'<figure class="audit-figure">small</figure></body></html>', encoding="utf-8")
    pages = kept_whole_elements_by_page(page)
    assert sorted(len(p) for p in pages.values()) == [1, 5]            # the figure on one page, the table on five


def test_long_tables_may_break_across_pages():
    """A shown table of more than 25 rows gets ``audit-long`` (the print CSS lets it break between rows, so it is
    not pushed whole to a new page first); up to 25 rows it is kept on one page."""
    from audit_kit.report.appendix import LONG_TABLE_ROWS, ReportTable, table_html, wrap_css
    from audit_kit.report.fmt import Formatter

    assert LONG_TABLE_ROWS == 25
    assert (wrap_css(25), wrap_css(26)) == ("audit-table-wrap", "audit-table-wrap audit-long")
    fmt = Formatter("en", "RUB")
    long = table_html(ReportTable("t", "", pd.DataFrame({"n": range(30)})), fmt)
    short = table_html(ReportTable("t", "", pd.DataFrame({"n": range(30)}), max_rows=10), fmt, t=Translator("en"))
    assert long.startswith('<div class="audit-table-wrap audit-long">')
    assert short.startswith('<div class="audit-table-wrap">')
    css = (Path(__file__).parents[1] / "templates" / "audit_report" / "report.css").read_text(encoding="utf-8")
    assert ".audit-table-wrap.audit-long" in css and "break-inside: auto" in css


def test_demo_pdf_acceptance(demo_run):
    pages = pdf_pages(Path(demo_run.outputs["pdf"]))
    assert len(pages) >= 6
    for page in pages:                                                     # A4 in points, 210 × 297 mm
        assert (round(float(page.mediabox.width)), round(float(page.mediabox.height))) == (595, 842)
    client = "Клиника «Здоровье» (демо)"
    cover = pages[0].extract_text()
    assert client in cover and not re.search(r"\b1 / \d+", cover)          # no page number on the cover
    for number, page in enumerate(pages[1:], start=2):
        text = page.extract_text()
        assert f"{number} / {len(pages)}" in text, number                  # numbered ...
        assert client in text, number                                      # ... under the running header
    split = [p for p in kept_whole_elements_by_page(Path(demo_run.outputs["html"])).values() if len(p) > 1]
    assert split == []


def test_demo_workbook_has_every_module_table(demo_run):
    from openpyxl import load_workbook

    wb = load_workbook(demo_run.outputs["xlsx"], read_only=True)
    assert wb.sheetnames[0] == "README"
    for manifest in Path(demo_run.run_dir, "modules").glob("*/tables.json"):
        for name in json.loads(manifest.read_text(encoding="utf-8")):
            assert name[:31] in wb.sheetnames, name
    assert {"summary_findings", "summary_scorecard", "summary_comparison", "appendix_ledger"} <= set(wb.sheetnames)


@pytest.mark.parametrize("language", ["ru", "en"])
def test_demo_workbook_columns_all_have_labels(demo_run, language):
    """Every column of every table a module kept has a header in the catalogs (no raw `first_visit` in a sheet)."""
    from audit_kit.report.xlsx import module_tables

    t = Translator(language)
    unlabelled = sorted({f"{tb.section}.{tb.name}.{c}" for module in ("quality", "funnel", "schedule", "channels",
                                                                       "rfm", "cohorts", "summary")
                         for tb in module_tables(Path(demo_run.run_dir), module, t)
                         for c, label in tb.labels.items() if label == str(c)})
    assert unlabelled == []
