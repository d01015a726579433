"""The channel ROMI module on the demo clinic: the planted channel economics come out
(sample_data/README.md, "Channels and patients"), contracts, findings, and an English run."""
from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest
import yaml

from audit_kit.ingest import load_tables
from audit_kit.metrics import channels as ch

from conftest import DEMO_CONFIG

T = pd.Timestamp
PAID = ["Контекст", "SEO", "SMM", "Агрегаторы"]
CHANNELS = PAID + ["Рекомендации"]


@pytest.fixture(scope="module")
def run(demo_run):
    return Path(demo_run.run_dir)


@pytest.fixture(scope="module")
def econ(run):
    return pd.read_parquet(run / "modules" / "channels" / "tables" / "channel_economics.parquet")


@pytest.fixture(scope="module")
def findings(run):
    return {f["id"]: f for f in json.loads((run / "modules" / "channels" / "findings.json").read_text(encoding="utf-8"))}


@pytest.fixture(scope="module")
def whole(run):
    """The README's figures are over the whole 18 months of exports: the same functions over that window."""
    tables = load_tables(run).tables
    return ch.channel_economics(tables, {"all": (T("2023-10-01"), T("2025-04-01"))}, attribution="first_touch")


def rows(econ, period="current", attribution="first_touch"):
    return econ.loc[econ["period"].eq(period) & econ["attribution"].eq(attribution)].set_index("channel")


def test_module_ran(demo_run):
    status = {m.name: m.status for m in demo_run.modules}
    assert status["channels"] == "ok"


def test_contract_table_has_exactly_the_canonical_columns(econ):
    assert list(econ.columns) == ch.ECONOMICS_COLUMNS
    assert set(econ["period"]) == {"base", "current"} and set(econ["attribution"]) == {"first_touch", "last_touch"}
    assert set(CHANNELS) <= set(econ["channel"])
    assert econ["romi"].dropna().between(-1, 100).all() and not np.isinf(econ.select_dtypes("number")).any().any()


def test_metrics_json_first_touch_totals(run):
    metrics = json.loads((run / "modules" / "channels" / "metrics.json").read_text(encoding="utf-8"))
    assert sorted(metrics) == sorted(f"channels.{k}" for k in ("spend", "leads", "new_patients", "cpl", "cac", "revenue",
                                                               "romi", "drr"))
    assert metrics["channels.spend"]["base"] == pytest.approx(984_000.88)
    assert metrics["channels.spend"]["current"] == pytest.approx(1_243_842.66)
    assert (metrics["channels.leads"]["base"], metrics["channels.leads"]["current"]) == (789, 1065)   # = funnel.leads
    # existing patients (registered before the export, patients.existing_patients) are not new: 191 and 265
    assert (metrics["channels.new_patients"]["base"], metrics["channels.new_patients"]["current"]) == (191, 265)
    assert metrics["channels.romi"]["unit"] == "ratio" and metrics["channels.romi"]["current"] == pytest.approx(0.8367, abs=1e-4)


def test_spend_and_cpl_over_18_months_match_the_readme(whole):
    by = whole.set_index("channel")
    assert by.loc[PAID, "spend"].round().tolist() == [3_249_567, 450_000, 1_317_671, 787_650]
    assert by.loc[PAID, "cpl"].round().tolist() == [2668, 611, 3542, 1306]
    assert np.isnan(by.loc["Рекомендации", "spend"])


@pytest.mark.parametrize("period", ["base", "current", "all"])
def test_seo_has_the_lowest_cac(econ, whole, period):
    part = whole.set_index("channel") if period == "all" else rows(econ, period)
    assert part.loc[PAID, "cac"].idxmin() == "SEO"


def test_smm_negative_romi_is_a_finding_with_its_money(econ, findings):
    smm = rows(econ).loc["SMM"]
    assert smm["romi"] == pytest.approx(-0.8055, abs=1e-3) and rows(econ, "base").loc["SMM", "romi"] < 0
    f = findings["negative_romi_SMM"]
    assert f["money_at_stake_per_month"] == pytest.approx((286_982.88 - 55_818.0) / 3, rel=1e-6)
    assert "SMM" in f["title"] and "−81\u00a0%" in f["title"]
    assert "286\u00a0983\u00a0₽" in f["evidence"] and "55\u00a0818\u00a0₽" in f["evidence"]
    assert [k for k in findings if k.startswith("negative_romi")] == ["negative_romi_SMM"]


def test_cheapest_and_dearest_channel_named(findings):
    title = findings["cac_range"]["title"]
    assert "SEO" in title and "SMM" in title


def test_aggregators_cheap_leads_lowest_return_share(econ, whole, findings):
    assert "Агрегаторы" in findings["cheap_leads_low_return"]["title"]
    by = whole.set_index("channel")
    assert by.loc[CHANNELS, "return_share"].idxmin() == "Агрегаторы"          # README: 28 %, the lowest
    assert by.loc["Агрегаторы", "cpl"] < by.loc[["Контекст", "SMM"], "cpl"].min()


def test_referrals_without_spend_na_romi_and_highest_revenue_per_patient(econ, whole):
    for part in (rows(econ, "base"), rows(econ, "current"), whole.set_index("channel")):
        ref = part.loc["Рекомендации"]
        assert ref["new_patients"] > 30 and all(pd.isna(ref[c]) for c in ("spend", "cpl", "cac", "romi", "drr"))
        per_patient = part.loc[CHANNELS, "revenue"] / part.loc[CHANNELS, "new_patients"]
        assert per_patient.idxmax() == "Рекомендации"


def test_section_shows_na_and_the_smm_finding(run):
    html = (run / "report.html").read_text(encoding="utf-8")
    section = html[html.index('id="section-channels"'):]
    assert "Выгрузка оплат начинается" not in section              # payments from 2023-10-02: 365 days before the base
    assert "н/д" in section and "SMM работает в убыток" in section and "Первое касание против последнего" in section


def test_workbook_and_scorecard_without_targets(run):
    tables = json.loads((run / "modules" / "channels" / "tables.json").read_text(encoding="utf-8"))
    assert {"channel_economics", "channels_current", "channels_base", "channels_funnel", "channel_months",
            "channels_attribution"} <= set(tables)
    html = (run / "report.html").read_text(encoding="utf-8")
    card = html[html.index("audit-scorecard"):]
    card = card[:card.index("</table>")]
    assert "ROMI" not in card and "CAC" not in card          # no default target: not rated unless configured


CYRILLIC = re.compile("[\u0400-\u04ff]+")


def test_english_run_has_the_whole_section_in_english(tmp_path):
    from audit_kit.runner import run_audit

    cfg = yaml.safe_load(DEMO_CONFIG.read_text(encoding="utf-8"))
    cfg["language"] = "en"
    cfg["data"] = {k: ({**v, "path": str(DEMO_CONFIG.parent / v["path"])} if isinstance(v, dict)
                       else str(DEMO_CONFIG.parent / v)) for k, v in cfg["data"].items()}
    cfg["targets"] = {"romi": 0.5, "cac": 5000}
    path = tmp_path / "audit.yaml"
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    result = run_audit(path, out=tmp_path / "run", modules=["channels"], progress=lambda s: None)
    assert result.exit_code == 0
    nb = nbformat.read(Path(result.run_dir) / "notebooks" / "04_channels.ipynb", as_version=4)
    shown = "".join(o["data"]["text/html"] for c in nb.cells if c.cell_type == "code" for o in c.outputs
                    if "text/html" in o.get("data", {}))
    shown = re.sub(r'src="data:image/png;base64,[^"]+"', "", shown)
    words = set(CYRILLIC.findall(shown))
    data_words = {"Контекст", "Агрегаторы", "Рекомендации", "Повторные"}       # channel names from the data
    assert words <= data_words, words - data_words
    assert "Advertising channels: what a new patient costs" in shown and "n/a" in shown and "loses money" in shown
    findings = json.loads((Path(result.run_dir) / "findings.json").read_text(encoding="utf-8"))
    assert any(f["id"] == "negative_romi_SMM" and "ROMI −81%" in f["title"] for f in findings)
    metrics = json.loads((Path(result.run_dir) / "metrics.json").read_text(encoding="utf-8"))
    assert "channels.romi" in metrics["metrics"]
    html = (Path(result.run_dir) / "report.html").read_text(encoding="utf-8")
    assert "Return on marketing spend (ROMI)" in html and "Cost per new patient (CAC)" in html   # scorecard rows


def test_runs_on_patients_without_leads_and_skips_without_them(clinic):
    """needs marketing_spend + invoices and one of leads | patients: a tiny clinic with the patients' source only."""
    from audit_kit.runner import run_audit
    from conftest import write_csv

    folder, config = clinic
    write_csv(folder / "pay.csv", [["invoice_id", "patient_id", "paid_at", "amount"], ["i1", "P1", "2025-01-07", "2500"],
                                   ["i2", "P2", "2025-02-03", "0"], ["i3", "P2", "2025-02-10", "900"],
                                   ["i4", "P3", "2024-11-02", "700"]])
    write_csv(folder / "spend.csv", [["month", "channel", "spend"], ["2025-01-01", "Контекст", "1000"],
                                     ["2024-11-01", "Контекст", "400"]])
    write_csv(folder / "patients.csv", [["patient_id", "first_channel"], ["P1", "Контекст"], ["P2", "рекомендация"],
                                        ["P3", "Контекст"]])
    cfg = config({"invoices": "pay.csv", "marketing_spend": "spend.csv", "patients": "patients.csv"},
                 channels={"рекомендация": "Рекомендации"})
    result = run_audit(cfg, out=folder / "run", modules=["channels"], progress=lambda s: None)
    assert {m.name: m.status for m in result.modules}["channels"] == "ok"
    econ = pd.read_parquet(Path(result.run_dir) / "modules" / "channels" / "tables" / "channel_economics.parquet")
    assert list(econ.columns) == [c for c in ch.ECONOMICS_COLUMNS if c not in ("bookings", "shows")]
    cur = econ.loc[econ["period"].eq("current") & econ["attribution"].eq("first_touch")].set_index("channel")
    assert cur.loc["Контекст", ["spend", "leads", "new_patients", "cac", "revenue", "romi"]].tolist() == [1000.0, 0, 1, 1000.0,
                                                                                                       2500.0, 1.5]
    assert cur.loc["Рекомендации", "revenue"] == 900.0 and pd.isna(cur.loc["Рекомендации", "romi"])
    html = (Path(result.run_dir) / "report.html").read_text(encoding="utf-8")
    assert "Выгрузка оплат начинается 02.11.2024" in html          # payments start after the base period began

    cfg = config({"invoices": "pay.csv", "marketing_spend": "spend.csv"})
    result = run_audit(cfg, out=folder / "run2", modules=["channels"], progress=lambda s: None)
    status = {m.name: m for m in result.modules}["channels"]
    assert (status.status, status.missing_tables) == ("skipped", ["leads | patients"])
    html = (Path(result.run_dir) / "report.html").read_text(encoding="utf-8")
    assert "обращениями из CRM или источником из карточек пациентов" in html       # modules.channels.needs
