"""Module 05 (RFM) on the demo clinic: the planted patients come out (sample_data/README, "Channels and patients")."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from audit_kit.metrics import rfm


@pytest.fixture(scope="module")
def run_dir(demo_run):
    status = {m.name: m.status for m in demo_run.modules}
    assert status.get("rfm") == "ok", [(m.name, m.error) for m in demo_run.modules if m.name == "rfm"]
    return Path(demo_run.outputs["metrics"]).parent


@pytest.fixture(scope="module")
def metrics(run_dir):
    data = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))["metrics"]
    return {k: v for k, v in data.items() if k.startswith("rfm.")}


def test_headline_numbers(metrics):
    assert set(metrics) == {f"rfm.{k}" for k in rfm.HEADLINE_UNITS}
    cur = {k: v["current"] for k, v in metrics.items()}
    assert cur["rfm.patients"] == 2177                      # README: paying patients
    assert 110 <= cur["rfm.former_best"] <= 125             # README: 112 planted-and-measured, 120 by rank terciles
    assert cur["rfm.former_best"] == 122
    assert cur["rfm.operator_days"] == pytest.approx(cur["rfm.reactivation_list"] / 50)
    assert metrics["rfm.patients"]["base"] < cur["rfm.patients"]     # the base as of 2024-12-31 is smaller


def test_the_chronic_rhythm_sets_the_churn_threshold(metrics):
    # chronic patients return every ~90 days (N(90, 13)): 90 % of frequent patients' returns fall within ~3 months
    assert 85 <= metrics["rfm.churn_threshold_days"]["current"] <= 110
    assert metrics["rfm.churn_threshold_days"]["current"] == 98.0


def test_former_best_is_a_finding_with_money(run_dir, metrics):
    findings = json.loads((run_dir / "findings.json").read_text(encoding="utf-8"))
    former = [f for f in findings if f["module"] == "rfm" and f["id"] == "former_best"]
    assert len(former) == 1 and former[0]["severity"] == "high"
    at_risk = next(f for f in findings if f["module"] == "rfm" and f["id"] == "at_risk")
    # the module total: what the call campaign brings back from both groups (other patients: both count)
    money = metrics["rfm.money_at_stake_per_month"]["current"]
    assert former[0]["money_at_stake_per_month"] + at_risk["money_at_stake_per_month"] == pytest.approx(money, abs=0.02)
    # 122 listed × 70 % reached × 15 % returning × what one of them paid a month while active
    factors = {f["key"]: f["value"] for f in former[0]["price"]["factors"]}
    assert factors["campaign_list"] == 122 and (factors["reach_rate"], factors["return_rate"]) == (0.7, 0.15)
    assert former[0]["money_at_stake_per_month"] == pytest.approx(122 * 0.7 * 0.15 * factors["returning_value"], abs=0.01)
    assert 100_000 < former[0]["money_at_stake_per_month"] < 1_000_000
    assert former[0]["title"].startswith("122 бывших лучших пациентов")


def test_contract_tables(run_dir):
    tables = run_dir / "modules" / "rfm" / "tables"
    patients = pd.read_parquet(tables / "rfm_patients.parquet")
    assert patients.columns.tolist()[:9] == ["patient_id", "recency_days", "frequency", "monetary", "r", "f", "m",
                                             "code", "segment"]
    assert len(patients) == 2177 and patients["patient_id"].is_unique
    assert set(patients["segment"].dropna()) <= set(rfm.segment_map()["segment"])
    assert (patients["code"] == "R1F3M3").sum() == 122
    listed = pd.read_parquet(tables / "reactivation.parquet")
    assert listed.columns.tolist() == rfm.REACTIVATION_COLUMNS
    assert set(listed["patient_id"]) <= set(patients["patient_id"])
    assert listed["expected_value"].is_monotonic_decreasing
    assert {"former_best", "at_risk", "window"} == set(listed["reason"])
    assert listed["last_doctor"].notna().mean() > 0.9 and listed["suggested_offer"].notna().mean() > 0.9


def test_call_list_workbook_carries_only_pseudonymous_ids(run_dir):
    from openpyxl import load_workbook

    ws = load_workbook(run_dir / "reactivation.xlsx", read_only=True).active
    rows = list(ws.values)
    header = rows[0]
    assert header[:3] == ("Приоритет", "Пациент (ID)", "Почему в списке")
    assert not any(h in header for h in ("full_name", "phone", "email", "ФИО", "Телефон"))
    listed = pd.read_parquet(run_dir / "modules" / "rfm" / "tables" / "reactivation.parquet")
    assert [r[1] for r in rows[1:]] == listed["patient_id"].tolist()


def test_report_shows_the_section_and_the_segment_map(run_dir):
    html = (run_dir / "report.html").read_text(encoding="utf-8")
    assert "База пациентов (RFM)" in html and "Порог оттока" in html
    assert "Коды RFM и сегменты" in html                 # the mapping, printed in the appendix


def test_a_measure_that_cannot_split_is_said_and_the_call_list_is_formula_safe(clinic, tmp_path):
    """Five one-visit patients and one with two visits: F's cuts are equal (1 = 1), so F stays empty; the
    only gap (30 days) is the threshold, and P1, idle 25 days, is inside the window [23, 30)."""
    from openpyxl import load_workbook

    from audit_kit.runner import run_audit
    from conftest import write_csv

    folder, config = clinic
    rows = [["invoice_id", "patient_id", "paid_at", "amount", "service"],
            ["1", "P1", "2025-03-06", "1000", "=HYPERLINK(\"http://x\")"], ["2", "P2", "2025-02-01", "500", "consult"],
            ["3", "P3", "2025-01-10", "700", "consult"], ["4", "P4", "2024-12-01", "300", "consult"],
            ["5", "P5", "2024-11-15", "900", "consult"], ["6", "P6", "2025-01-01", "400", "consult"],
            ["7", "P6", "2025-01-31", "400", "consult"]]
    write_csv(folder / "data" / "pay.csv", rows)
    result = run_audit(config({"invoices": "data/pay.csv"}), out=tmp_path / "run", modules=["rfm"],
                       progress=lambda s: None)
    assert {m.name: m.status for m in result.modules}["rfm"] == "ok", [m.error for m in result.modules]
    run = tmp_path / "run"
    html = (run / "report.html").read_text(encoding="utf-8")
    assert "Частота (F): обе границы совпадают (1)" in html
    patients = pd.read_parquet(run / "modules" / "rfm" / "tables" / "rfm_patients.parquet")
    assert patients["f"].isna().all() and patients["segment"].isna().all()
    metrics = json.loads((run / "metrics.json").read_text(encoding="utf-8"))["metrics"]
    assert metrics["rfm.churn_threshold_days"]["current"] == 30.0 and metrics["rfm.reactivation_list"]["current"] == 1
    ws = load_workbook(run / "reactivation.xlsx").active
    row = {h.value: c.value for h, c in zip(ws[1], ws[2])}
    assert row["Пациент (ID)"] == "P1" and row["Почему в списке"].startswith("Окно контакта")
    assert row["Последняя услуга"] == "'=HYPERLINK(\"http://x\")"
