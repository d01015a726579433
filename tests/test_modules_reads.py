"""`ModuleSpec.reads`: each module reads only some columns of the large tables. On the demo clinic (which
has every column), every module's headline metrics and findings, and the summary's recounts, must be
the same with the subset as with every column: a column a module uses but does not list fails here."""
from __future__ import annotations

import importlib
import math

import pytest

from audit_kit.config import load_config
from audit_kit.ingest import TABLES
from audit_kit.metrics import scorecard
from audit_kit.modules import MODULES, SUMMARY
from audit_kit.notebook import Module, RunTables, prepare_run

from conftest import DEMO_CONFIG


@pytest.fixture(scope="module")
def demo_tables(tmp_path_factory):
    config = load_config(DEMO_CONFIG)
    run = tmp_path_factory.mktemp("reads") / "run"
    prepare_run(config, run)
    return config, run


def same(a, b) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


def results(name: str, tables, config, module: Module):
    section = importlib.import_module(f"audit_kit.modules.{name}")
    extra = {"quality": {"ledger": module.ledger, "stages": config.stages},
             "schedule": {"targets": config.targets}}.get(name, {})
    summary = section.summarise(tables, module.periods, config.options, **extra)
    return section.headline_metrics(summary), section.build_findings(summary, module.fmt, module.t, config.targets)


def test_the_columns_read_exist_in_the_canonical_tables():
    extra = {"_source_row", "_patient_link", "phone"}
    for spec in [*MODULES.values(), SUMMARY]:
        for table, columns in spec.reads.items():
            known = {c.name for c in TABLES[table].columns} | extra
            assert set(columns) <= known, (spec.name, table, set(columns) - known)
        for table, columns in spec.categorical.items():       # read as categoricals: text columns the module reads
            assert set(columns) <= set(spec.reads.get(table, {c.name for c in TABLES[table].columns})), (spec.name, table)
            assert all(TABLES[table].column(c).kind in ("text", "id", "channel", "status", "outcome") for c in columns)


@pytest.mark.parametrize("name", list(MODULES))
def test_a_module_reading_its_columns_finds_the_same(name, demo_tables):
    config, run = demo_tables
    module = Module(name, run, config)
    assert module.data.columns and module.data.columns == {t: set(c) for t, c in MODULES[name].reads.items()}
    subset_metrics, subset_findings = results(name, module.data, config, module)
    full_metrics, full_findings = results(name, RunTables(run), config, module)
    assert subset_metrics and same(subset_metrics, full_metrics)
    assert [f.to_dict() for f in subset_findings] == [f.to_dict() for f in full_findings]
    read = {t: set(module.data[t].columns) for t in module.data.loaded}
    for table, columns in MODULES[name].reads.items():
        if table in read:
            assert read[table] < set(RunTables(run)[table].columns)        # fewer columns than the file


def test_the_summary_recounts_the_same_from_its_columns(demo_tables):
    config, run = demo_tables
    module = Module("summary", run, config)
    metrics = {}
    for name in MODULES:
        found, _ = results(name, RunTables(run), config, Module(name, run, config))
        metrics |= {key: values for key, (unit, values) in found.items()}
    options = {"default_slot_minutes": config.options["default_slot_minutes"],
               "wait_target_minutes": config.options["wait_target_minutes"]}
    subset = scorecard.headline_counts(module.data, module.periods, metrics, **options)
    full = scorecard.headline_counts(RunTables(run), module.periods, metrics, **options)
    assert subset and subset == full
    assert scorecard.survey_counts(module.data["surveys"], module.periods) == \
        scorecard.survey_counts(RunTables(run)["surveys"], module.periods)
