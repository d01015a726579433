"""notebook.Module: periods in words and per month, metrics, findings ranked, what finish() writes."""
from __future__ import annotations

import json

import pandas as pd
import pytest

from audit_kit.findings import Finding
from audit_kit.ingest import IngestResult, Ledger, save_tables
from audit_kit.notebook import Module

from conftest import write_config


@pytest.fixture
def module(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "pay.csv").write_text("invoice_id,patient_id,paid_at,amount\n1,P1,2025-01-05,100\n",
                                                encoding="utf-8")
    from audit_kit.config import load_config

    config = load_config(write_config(tmp_path, {"invoices": "data/pay.csv"}, language="en"))
    run = tmp_path / "run"
    save_tables(IngestResult({}, Ledger()), run)
    return Module("funnel", run, config)


def test_periods_in_words_and_per_month(module):
    assert module.periods["current"] == (pd.Timestamp("2025-01-01"), pd.Timestamp("2025-04-01"))
    assert module.months() == 3.0 and module.months("base") == 3.0      # Oct-Dec, Jan-Mar
    assert module.per_month(900.0) == 300.0
    assert module.period_name("current") == module.t("common.periods.current")
    assert module.period_label("base") == module.t("common.period_short.base")
    assert module.period_span("current") == module.fmt.period(pd.Timestamp("2025-01-01"), pd.Timestamp("2025-03-31"))


def test_metric_values_become_plain_json(module):
    import numpy as np

    module.metric("funnel.leads", "count", {"base": np.int64(418), "current": float("nan")})
    assert module.metrics["funnel.leads"] == {"unit": "count", "base": 418, "current": None}


def test_rate_counts_are_written_to_counts_json(module):
    """`proportions` keeps (x, n) per period of the config as plain JSON numbers; a pair with a missing value, or a
    period the config does not have, is left out; n = 0 is kept (the summary then gives no interval)."""
    import numpy as np

    module.proportions({"schedule.no_show_rate": {"base": (np.int64(3), np.int64(12)), "current": (1, 0),
                                                  "other": (1, 2)},
                        "funnel.missed_call_rate": {"base": (None, 4), "current": (float("nan"), 4)}})
    assert module.counts == {"schedule.no_show_rate": {"base": [3, 12], "current": [1, 0]}}
    written = json.loads((module.finish() / "counts.json").read_text(encoding="utf-8"))
    assert written == {"schedule.no_show_rate": {"base": [3, 12], "current": [1, 0]}}


def test_findings_are_kept_shown_and_written_ranked(module):
    cheap = Finding("funnel", "a_cheap", "t", "low", 10.0, "e", "r")
    dear = Finding("funnel", "b_dear", "t", "high", 5000.0, "e", "r")
    unpriced = Finding("funnel", "c_unpriced", "t", "high", None, "e", "r")
    module.report_findings([cheap, unpriced, dear])
    assert module.findings == [cheap, unpriced, dear]                    # kept as built
    folder = module.finish()
    written = json.loads((folder / "findings.json").read_text(encoding="utf-8"))
    assert [f["id"] for f in written] == ["b_dear", "a_cheap", "c_unpriced"]   # ranked by money


def test_finding_from_catalog_key(module):
    f = module.finding("systems_disagree", "high", 1234.567, "quality.finding.systems_disagree",
                       count="2", details="Jan 2025: 140 / 120 / 118 (16.7%)")
    assert (f.module, f.id, f.severity, f.money_at_stake_per_month) == ("funnel", "systems_disagree", "high", 1234.57)
    assert f.title == module.t("quality.finding.systems_disagree.title", count="2", details="x")
    assert "140 / 120 / 118" in f.evidence


def test_tables_are_read_when_first_used(tmp_path, module):
    from audit_kit.notebook import RunTables

    leads = pd.DataFrame({"lead_id": pd.array(["L1", "L2"], dtype="string")})
    invoices = pd.DataFrame({"invoice_id": pd.array(["I1"], dtype="string"), "amount": [100.0]})
    save_tables(IngestResult({"leads": leads, "invoices": invoices}, Ledger()), tmp_path / "lazy")
    tables = RunTables(tmp_path / "lazy")
    assert list(tables) == ["invoices", "leads"] and len(tables) == 2
    assert "leads" in tables and "visits" not in tables and tables.get("visits") is None
    assert tables.loaded == []                                   # listing and `in` read nothing
    assert tables["leads"]["lead_id"].tolist() == ["L1", "L2"]
    assert tables["leads"] is tables["leads"]                    # read once, then kept: one copy
    assert tables.loaded == ["leads"]
    with pytest.raises(KeyError):
        tables["visits"]
    first = tables["leads"]
    tables.release()                                             # forgotten; asked for again, read again
    assert tables.loaded == []
    again = tables["leads"]
    assert again is not first and again["lead_id"].tolist() == ["L1", "L2"] and tables.loaded == ["leads"]
    assert isinstance(module.data, RunTables) and module.data.loaded == []



def test_a_modules_categorical_columns_are_read_as_sorted_categories(tmp_path):
    from audit_kit.modules import MODULES
    from audit_kit.notebook import RunTables, sorted_categories

    leads = pd.DataFrame({"lead_id": pd.array(["L1", "L2", "L3", "L4"], dtype="string"),
                          "status": pd.array(["Новая", "Отказ", None, "Новая"], dtype="string"),
                          "channel": pd.array(["SEO", "Контекст", "SEO", None], dtype="string")})
    save_tables(IngestResult({"leads": leads}, Ledger()), tmp_path / "run")
    plain = RunTables(tmp_path / "run")["leads"]
    coded = RunTables(tmp_path / "run", categorical={"leads": ("status", "absent")})["leads"]
    assert isinstance(coded["status"].dtype, pd.CategoricalDtype)                   # the listed column ...
    assert coded["status"].cat.categories.tolist() == ["Новая", "Отказ"]             # ... its texts sorted
    assert str(coded["status"].cat.categories.dtype) == "string"
    assert coded["status"].astype("string").tolist() == plain["status"].tolist()    # the same values, NA kept
    assert coded["channel"].dtype == plain["channel"].dtype == "string"              # others as they were
    # with the module's columns, only those (and the keys) read; categories in sorted order, a missing value kept
    subset = RunTables(tmp_path / "run", {"leads": ("channel",)}, {"leads": ("status", "channel")})["leads"]
    assert list(subset.columns) == ["lead_key", "channel"] and subset["channel"].cat.categories.tolist() == ["SEO", "Контекст"]
    unsorted = pd.Series(pd.Categorical(["z", "a", None, "m"], categories=["z", "m", "a"]), name="x")
    out = sorted_categories(unsorted)
    assert out.cat.categories.tolist() == ["a", "m", "z"] and out.cat.codes.tolist() == [2, 0, -1, 1]
    assert out.name == "x" and sorted_categories(pd.Series(pd.Categorical([None, None]))).isna().all()
    assert MODULES["rfm"].categorical["invoices"] == ("service",)

def test_the_findings_cards_need_no_nbformat():
    """Every notebook kernel imports report.html for `findings_html`; nbformat (≈ 2 s to import) stays out."""
    import subprocess
    import sys

    code = "import sys, audit_kit.report.html, audit_kit.notebook; print('nbformat' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"
