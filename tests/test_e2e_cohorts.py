"""Module 06 on the demo clinic: the planted channel economics come out (sample_data/README.md,
"Channels and patients"), the contracts hold, and unobserved cells stay blank everywhere."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

PAID = ["Контекст", "SEO", "SMM", "Агрегаторы"]


def table(run, name: str) -> pd.DataFrame:
    return pd.read_parquet(Path(run.run_dir) / "modules" / "cohorts" / "tables" / f"{name}.parquet")


@pytest.fixture(scope="module")
def channels(demo_run):
    return table(demo_run, "channel_ltv").set_index("channel")


def test_module_ran(demo_run):
    status = {m.name: m.status for m in demo_run.modules}
    assert status["cohorts"] == "ok"


def test_contract_columns(demo_run, channels):
    assert list(table(demo_run, "cohort_revenue").columns) == [
        "cohort", "month_index", "patients", "revenue", "cum_revenue", "cum_revenue_per_patient", "active_patients",
        "retention", "observed"]
    assert list(channels.reset_index().columns) == ["channel", "patients", "ltv_6m", "ltv_12m", "cac", "ltv_cac",
                                                    "payback_month"]


def test_new_patients_per_channel(channels):
    # README measures 328 / 221 / 55 / 193 / 185 new paying patients (first lead from a new-contact channel)
    assert channels.loc[PAID + ["Рекомендации"], "patients"].tolist() == [337, 225, 59, 199, 190]
    assert channels.loc["SMM", "cac"] == pytest.approx(22_333, abs=1)
    assert channels.loc["SEO", "cac"] == pytest.approx(2_000, abs=1)


def test_referrals_have_the_highest_ltv(channels):
    known = channels.drop(index="unknown", errors="ignore")
    assert known["ltv_12m"].idxmax() == "Рекомендации"
    assert known.loc["Рекомендации", "ltv_12m"] == pytest.approx(88_074, abs=1)
    assert known.loc["Рекомендации", "ltv_12m"] > 3 * known.loc[PAID, "ltv_12m"].max()
    assert pd.isna(known.loc["Рекомендации", "cac"]) and pd.isna(known.loc["Рекомендации", "payback_month"])


def test_aggregators_return_least(demo_run):
    curves = table(demo_run, "channel_curves")
    known = curves.loc[curves["channel"].ne("unknown") & curves["month_index"].between(1, 6)]
    mean_retention = known.groupby("channel")["retention"].mean()
    assert mean_retention.idxmin() == "Агрегаторы"
    assert mean_retention["Агрегаторы"] == pytest.approx(0.050, abs=0.001)
    month1 = known.loc[known["month_index"].eq(1)].set_index("channel")["retention"]
    assert month1.idxmin() == "Агрегаторы" and month1["Рекомендации"] == month1.max()


def test_smm_never_pays_back(demo_run, channels):
    smm = channels.loc["SMM"]
    assert pd.isna(smm["payback_month"]) and smm["ltv_12m"] < smm["cac"]
    assert smm["ltv_cac"] == pytest.approx(0.366, abs=0.001)
    assert channels.loc[["SEO", "Агрегаторы"], "payback_month"].tolist() == [0, 0]
    assert channels.loc["Контекст", "payback_month"] == 1
    findings = json.loads((Path(demo_run.run_dir) / "modules" / "cohorts" / "findings.json").read_text("utf-8"))
    never = next(f for f in findings if f["id"] == "never_pays_back")
    assert never["title"] == "Каналы, которые не окупаются: SMM" and never["money_at_stake_per_month"] is None
    assert re.search(r"не вернувшиеся выручкой: 4\d\u00a0\d{3}\u00a0₽ в месяц", never["evidence"])   # ≈ 46 000 ₽
    assert {f["id"] for f in findings} >= {"never_pays_back", "fastest_payback", "unpaid_ltv"}


def test_unobserved_cells_blank_in_table_and_workbook(demo_run):
    cells = table(demo_run, "cohort_revenue")
    assert len(cells) == 18 * 18 and cells["observed"].sum() == 18 * 19 // 2          # the triangle
    hidden = cells.loc[~cells["observed"], ["revenue", "cum_revenue", "cum_revenue_per_patient", "active_patients",
                                            "retention"]]
    assert hidden.isna().all().all()
    assert (cells.loc[cells["month_index"].eq(0), "retention"] == 1.0).all()
    from openpyxl import load_workbook

    ws = load_workbook(Path(demo_run.run_dir) / "tables.xlsx", read_only=True)["cohort_revenue"]
    rows = list(ws.iter_rows(min_row=2, values_only=True))
    last = [r for r in rows if r[0] == "2025-03"]
    assert last[0][3] is not None and all(r[3] is None for r in last[1:])        # revenue of k ≥ 1 blank


def test_metrics_json(demo_run):
    metrics = json.loads(Path(demo_run.outputs["metrics"]).read_text(encoding="utf-8"))["metrics"]
    keys = {"cohorts.ltv_6m", "cohorts.ltv_12m", "cohorts.retention_m1", "cohorts.retention_m6", "cohorts.payback_month"}
    assert keys <= set(metrics)
    assert metrics["cohorts.ltv_12m"]["unit"] == "money"
    assert metrics["cohorts.ltv_12m"]["current"] == pytest.approx(channels_ltv12(demo_run), rel=1e-9)
    assert metrics["cohorts.retention_m1"]["current"] == pytest.approx(0.172, abs=0.001)


def channels_ltv12(run) -> float:
    """LTV 12 m over all patients, recomputed from the cohort table (Σ cum revenue ÷ Σ patients at k = 11)."""
    cells = table(run, "cohort_revenue")
    at = cells.loc[cells["month_index"].eq(11) & cells["observed"]]
    return at["cum_revenue"].sum() / at["patients"].sum()
