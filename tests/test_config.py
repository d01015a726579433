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
    assert cfg.sources["leads"].paths == [(folder / "data" / "l.csv").resolve()]


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


def test_a_glob_may_be_an_absolute_path(clinic, tmp_path_factory):
    folder, config = clinic
    elsewhere = tmp_path_factory.mktemp("exports")
    for month in ("2025-02", "2025-01"):
        write_csv(elsewhere / "payments" / f"{month}.csv", [["a"], ["1"]])
    loaded = load_config(config({"invoices": f"{elsewhere}/payments/*.csv"}))
    assert [p.name for p in loaded.sources["invoices"].paths] == ["2025-01.csv", "2025-02.csv"]
    with pytest.raises(ConfigError, match=r"key 'data.leads.path': no file matches 'data/\*\*/l.csv'"):
        load_config(config({"leads": "data/**/l.csv"}))
    write_csv(folder / "data" / "2024" / "q4" / "l.csv", [["a"], ["1"]])     # ** reaches any depth, as before
    assert [p.parts[-3:] for p in load_config(config({"leads": "data/**/l.csv"})).sources["leads"].paths] == [
        ("2024", "q4", "l.csv")]


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


@pytest.mark.parametrize("extra, key, expected", [
    ({"periods": {"base": ["2024-12-01", "2025-01-31"], "current": ["2025-01-01", "2025-03-31"]}}, "'periods.base'",
     "overlaps the current period 2025-01-01..2025-03-31"),
    ({"periods": {"current": ["2025-02-30", "2025-03-31"]}}, "'periods.current'", "expected a date like 2025-01-31"),
    ({"periods": {"current": ["1025-01-01", "2025-03-31"]}}, "'periods.current'", "between 1990 and 2100"),
    ({"targets": {"no_show_rate": 5}}, "'targets.no_show_rate'", "a share between 0 and 1 (5% is 0.05), got 5"),
    ({"targets": {"csat": -0.1}}, "'targets.csat'", "a share between 0 and 1"),
    ({"targets": {"nps": 150}}, "'targets.nps'", "between -100 and 100"),
    ({"targets": {"wait_minutes": float("nan")}}, "'targets.wait_minutes'", "expected a number"),
    ({"targets": [0.05]}, "'targets'", "expected a mapping"),
    ({"channels": {"yandex / cpc": 5}}, "'channels.yandex / cpc'", "expected the canonical channel name as text, got 5"),
    ({"channels": {"vk": None}}, "'channels.vk'", "as text, got None"),
    ({"channels": ["vk"]}, "'channels'", "expected a mapping"),
    ({"options": {"treatment_horizon_days": "ninety"}}, "'options.treatment_horizon_days'",
     "expected a whole number (days) greater than 0"),
    ({"options": {"treatment_horizon_days": 10 ** 7}}, "'options.treatment_horizon_days'", "at most 36,500"),
    ({"options": {"dials_per_day": 0}}, "'options.dials_per_day'", "greater than 0"),
    ({"options": {"contact_window_days": 12.5}}, "'options.contact_window_days'", "expected a whole number (days)"),
    ({"options": {"dials_per_day": True}}, "'options.dials_per_day'", "expected a whole number"),
    ({"options": {"treatment_categories": "Лечение"}}, "'options.treatment_categories'", "expected a list of texts"),
    ({"options": {"treatment_categories": ["Лечение", 5]}}, "'options.treatment_categories'", "got an item 5"),
    ({"options": {"rfm_thresholds": "auto"}}, "'options.rfm_thresholds'", "expected null or a mapping"),
    ({"options": [1]}, "'options'", "expected a mapping"),
    ({"currency": 5}, "'currency'", "expected text"),
])
def test_values_of_the_wrong_type_or_range_name_the_key(clinic, extra, key, expected):
    _, config = clinic
    path = config({}, **extra)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert key in str(err.value) and expected in str(err.value), str(err.value)


def test_list_items_take_the_type_of_the_default_items(clinic, monkeypatch):
    from audit_kit import config as cfg_module

    monkeypatch.setitem(cfg_module.DEFAULT_OPTIONS, "horizons_days", [30, 90])
    _, config = clinic
    assert load_config(config({}, options={"horizons_days": [7, 14.5]})).options["horizons_days"] == [7, 14.5]
    with pytest.raises(ConfigError, match=r"'options.horizons_days': expected a list of numbers \(days\)"):
        load_config(config({}, options={"horizons_days": [7, "x"]}))


def test_valid_options_are_kept_with_their_types(clinic):
    _, config = clinic
    cfg = load_config(config({}, options={"dials_per_day": 24.0, "rfm_thresholds": {"recency_days": [30, 90]},
                                          "treatment_categories": ["Лечение"], "phone_link_window_minutes": 30}))
    assert cfg.options["dials_per_day"] == 24 and isinstance(cfg.options["dials_per_day"], int)
    assert cfg.options["rfm_thresholds"] == {"recency_days": [30, 90]} and cfg.options["phone_link_window_minutes"] == 30
    assert load_config(config({}, options={"rfm_thresholds": None})).options["rfm_thresholds"] is None


def test_a_new_option_is_checked_by_its_default_or_its_declared_kinds(clinic, monkeypatch):
    """Options added later need no code here: the default's type says what is accepted; a None
    default accepts null or a mapping unless OPTION_TYPES declares other kinds."""
    from audit_kit import config as cfg_module

    monkeypatch.setitem(cfg_module.DEFAULT_OPTIONS, "romi_floor_share", 0.5)
    monkeypatch.setitem(cfg_module.DEFAULT_OPTIONS, "segment_names", None)
    monkeypatch.setitem(cfg_module.OPTION_TYPES, "segment_names", ("null", "list"))
    _, config = clinic
    assert load_config(config({}, options={"romi_floor_share": 0.25})).options["romi_floor_share"] == 0.25
    assert load_config(config({}, options={"segment_names": ["a"]})).options["segment_names"] == ["a"]
    with pytest.raises(ConfigError, match=r"'options.romi_floor_share': expected a number greater than 0"):
        load_config(config({}, options={"romi_floor_share": "half"}))
    with pytest.raises(ConfigError, match=r"'options.segment_names': expected null or a list of texts"):
        load_config(config({}, options={"segment_names": {"a": 1}}))
    monkeypatch.setitem(cfg_module.DEFAULT_OPTIONS, "monetary", "total")
    monkeypatch.setitem(cfg_module.OPTION_CHOICES, "monetary", ("total", "mean"))
    assert load_config(config({}, options={"monetary": "mean"})).options["monetary"] == "mean"
    with pytest.raises(ConfigError, match=r"'options.monetary': expected one of total, mean, got 'median'"):
        load_config(config({}, options={"monetary": "median"}))
    with pytest.raises(ConfigError, match=r"'options.monetary': expected text, got 3"):
        load_config(config({}, options={"monetary": 3}))


@pytest.mark.parametrize("source, key, expected", [
    ({"encoding": "utf-9"}, "'data.leads.encoding'", "unknown encoding 'utf-9'"),
    ({"delimiter": ";;"}, "'data.leads.delimiter'", "expected one character"),
    ({"sheet": -1}, "'data.leads.sheet'", "0-based sheet number"),
    ({"columns": {"Дата": ["created_at"]}}, "'data.leads.columns.Дата'", "as text"),
])
def test_source_settings_are_checked(clinic, source, key, expected):
    folder, config = clinic
    write_csv(folder / "data" / "l.csv", [["lead_id", "created_at", "channel"], ["1", "2025-01-01", "SEO"]])
    with pytest.raises(ConfigError) as err:
        load_config(config({"leads": {"path": "data/l.csv", **source}}))
    assert key in str(err.value) and expected in str(err.value), str(err.value)


def test_a_module_checks_the_content_of_its_options_at_load_time(clinic, monkeypatch):
    """OPTION_CHECKS: a function that raises ValueError turns into a ConfigError naming the key."""
    from audit_kit import config as cfg_module

    def no_thirteen(value):
        if "13" in value:
            raise ValueError("option lucky_numbers: 13 is not allowed")

    monkeypatch.setitem(cfg_module.DEFAULT_OPTIONS, "lucky_numbers", None)
    monkeypatch.setitem(cfg_module.OPTION_TYPES, "lucky_numbers", ("null", "mapping"))
    monkeypatch.setitem(cfg_module.OPTION_CHECKS, "lucky_numbers", no_thirteen)
    _, config = clinic
    assert load_config(config({}, options={"lucky_numbers": {"7": 1}})).options["lucky_numbers"] == {"7": 1}
    with pytest.raises(ConfigError, match=r"key 'options.lucky_numbers': 13 is not allowed"):
        load_config(config({}, options={"lucky_numbers": {"13": 1}}))


def test_targets_without_a_default_may_stay_null_or_take_a_number(clinic):
    _, config = clinic
    cfg = load_config(config({}, targets={"romi": -0.2, "cac": None}))
    assert cfg.targets["romi"] == -0.2 and cfg.targets["cac"] is None
