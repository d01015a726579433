"""A two-branch network end to end (`audit-kit sample --branches 2`, then `audit-kit run`): the branch
league and every module's table by branch, each reconciling with the network's own figures, every
column with a header in both languages, the league in the report."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from audit_kit.report.i18n import Translator
from audit_kit.report.xlsx import module_tables

MODULES = ("quality", "funnel", "schedule", "channels", "rfm", "cohorts", "summary")


@pytest.fixture(scope="module")
def network_run(tmp_path_factory):
    from audit_kit.runner import run_audit
    from audit_kit.sample import generate_network

    folder = tmp_path_factory.mktemp("network")
    config = generate_network(folder / "client", 2)
    return run_audit(config, out=folder / "run", progress=lambda line: None)


def table(run, module: str, name: str) -> pd.DataFrame:
    return pd.read_parquet(Path(run.run_dir) / "modules" / module / "tables" / f"{name}.parquet")


def metric(run, key: str) -> float:
    return json.loads(Path(run.outputs["metrics"]).read_text(encoding="utf-8"))["metrics"][key]["current"]


def test_every_module_ran(network_run):
    assert {m.name: m.status for m in network_run.modules} == {m: "ok" for m in MODULES}


def test_branch_tables_reconcile_with_the_network(network_run):
    branches = {"Филиал 001", "Филиал 002"}
    funnel = table(network_run, "funnel", "funnel_branches")
    assert set(funnel["branch_id"]) == branches
    assert funnel["leads"].sum() == metric(network_run, "funnel.leads")
    channels = table(network_run, "channels", "channels_branches")
    assert channels["leads"].sum() == metric(network_run, "funnel.leads")
    assert channels["new_patients"].sum() == metric(network_run, "channels.new_patients")
    # every RFM patient has exactly one home branch
    assert table(network_run, "rfm", "rfm_segment_branches")["patients"].sum() == len(table(network_run, "rfm", "rfm_patients"))
    # the network's utilisation = the branches' utilisation weighted by their offered hours
    schedule = table(network_run, "schedule", "schedule_branches")
    assert set(schedule["branch_id"]) == branches
    weighted = (schedule["utilisation"] * schedule["offered_hours_per_month"]).sum() / schedule["offered_hours_per_month"].sum()
    assert weighted == pytest.approx(metric(network_run, "schedule.utilisation"), rel=1e-9)
    league = table(network_run, "summary", "summary_branches")
    assert set(league["branch_id"]) == branches and set(league["mark"]) <= {"worst", "best", ""}
    assert league["mark"].eq("worst").sum() == 1
    assert set(table(network_run, "cohorts", "cohorts_branches")["branch_id"]) == branches


@pytest.mark.parametrize("language", ["ru", "en"])
def test_every_column_has_a_header(network_run, language):
    t = Translator(language)
    unlabelled = sorted({f"{tb.name}.{c}" for module in MODULES for tb in module_tables(Path(network_run.run_dir), module, t)
                         for c, label in tb.labels.items() if label == str(c)})
    assert unlabelled == []


def test_league_in_the_report(network_run):
    html = Path(network_run.outputs["html"]).read_text(encoding="utf-8")
    assert Translator("ru")("summary.branches.heading") in html
    assert Translator("ru")("summary.branches.mark.worst") in html
