"""audit.yaml validation (DESIGN §6): every mistake names the key, the file and what is expected."""
from __future__ import annotations

import pandas as pd
import pytest

from audit_kit.config import DEFAULT_TARGETS, load_config
from audit_kit.errors import ConfigError

from conftest import write_csv


def test_valid_config_with_defaults(clinic):
    folder, config = clinic
    write_csv(folder / "data" / "l.csv", [["lead_id", "created_at", "channel"], ["1", "2025-01-01", "SEO"]])
    cfg = load_config(config({"leads": "data/l.csv"}, targets={"no_show_rate": 0.08}))
    assert cfg.language == "ru" and cfg.currency == "RUB"
    assert list(cfg.periods) == ["base", "current"]
    assert cfg.period_bounds("current") == (pd.Timestamp("2025-01-01"), pd.Timestamp("2025-04-01"))
    assert cfg.targets["no_show_rate"] == 0.08
    assert cfg.targets["wait_minutes"] == DEFAULT_TARGETS["wait_minutes"]
    assert cfg.sources["leads"].path == (folder / "data" / "l.csv").resolve()


@pytest.mark.parametrize("extra, key, expected", [
    ({"colour": "blue"}, "'colour'", "unknown key"),
    ({"language": "de"}, "'language'", "expected one of ru, en"),
    ({"targets": {"no_shows": 0.1}}, "'targets.no_shows'", "unknown target"),
    ({"targets": {"no_show_rate": "low"}}, "'targets.no_show_rate'", "expected a number"),
    ({"options": {"foo": 1}}, "'options.foo'", "unknown option"),
    ({"periods": {"current": ["2025-03-31", "2025-01-01"]}}, "'periods.current'", "before the start"),
    ({"periods": {"current": ["2025-13-01", "2025-03-31"]}}, "'periods.current'", "expected a date"),
    ({"periods": {"last": ["2025-01-01", "2025-03-31"], "current": ["2025-01-01", "2025-03-31"]}}, "'periods.last'", "unknown period"),
])
def test_mistakes_name_key_and_expectation(clinic, extra, key, expected):
    folder, config = clinic
    path = config({}, **extra)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(path) in str(err.value) and key in str(err.value) and expected in str(err.value)


def test_unknown_table(clinic):
    _, config = clinic
    with pytest.raises(ConfigError, match=r"key 'data.appointments': unknown table; expected one of: leads, calls"):
        load_config(config({"appointments": "data/a.csv"}))


def test_missing_file(clinic):
    _, config = clinic
    with pytest.raises(ConfigError, match=r"key 'data.leads.path': file not found: .*nowhere\.csv"):
        load_config(config({"leads": "data/nowhere.csv"}))


def test_mapping_to_unknown_column(clinic):
    folder, config = clinic
    write_csv(folder / "data" / "l.csv", [["a"], ["1"]])
    with pytest.raises(ConfigError, match=r"'data.leads.columns.Дата': 'date_created' is not a column of table 'leads'"):
        load_config(config({"leads": {"path": "data/l.csv", "columns": {"Дата": "date_created"}}}))


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "audit.yaml")


def test_broken_yaml(tmp_path):
    (tmp_path / "audit.yaml").write_text("client: [unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(tmp_path / "audit.yaml")
