"""Language catalogs: every key in both languages, no Russian in English, placeholders that match,
and a name and definition for every metric the modules publish."""
from __future__ import annotations

import re
import string

import pytest
import yaml

from audit_kit.report.i18n import CATALOG_DIR, LANGUAGES, Translator, _flatten, catalog

CYRILLIC = re.compile("[\u0400-\u04ff]")


def file_keys(language: str) -> dict[str, dict[str, str]]:
    """Catalog file name -> its flattened keys, for one language."""
    out = {}
    for path in sorted((CATALOG_DIR / language).glob("*.yaml")):
        flat: dict[str, str] = {}
        _flatten(path.stem, yaml.safe_load(path.read_text(encoding="utf-8")) or {}, flat)
        out[path.name] = flat
    return out


def fields(text) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(str(text)) if name}


def test_same_files_in_every_language():
    names = {lang: set(file_keys(lang)) for lang in LANGUAGES}
    assert names["ru"] == names["en"]
    assert {"summary.yaml", "appendix.yaml", "common.yaml", "modules.yaml", "columns.yaml"} <= names["en"]


@pytest.mark.parametrize("name", sorted(p.name for p in (CATALOG_DIR / "en").glob("*.yaml")))
def test_every_key_in_both_languages(name):
    ru, en = file_keys("ru").get(name, {}), file_keys("en").get(name, {})
    assert sorted(set(ru) - set(en)) == [], f"{name}: keys missing in en"
    assert sorted(set(en) - set(ru)) == [], f"{name}: keys missing in ru"


def test_no_cyrillic_in_english():
    russian = {k: v for k, v in catalog("en").items() if CYRILLIC.search(str(v))}
    assert russian == {}


def test_russian_catalog_is_russian():
    # a sentence left untranslated would slip into the Russian report; the summary and appendix are Russian
    ru = catalog("ru")
    for prefix in ("summary.", "appendix."):
        values = [str(v) for k, v in ru.items() if k.startswith(prefix) and len(str(v)) > 25]
        assert values and all(CYRILLIC.search(v) for v in values), prefix


def test_placeholders_match_between_languages():
    ru, en = catalog("ru"), catalog("en")
    differ = {k: (fields(ru[k]), fields(en[k])) for k in ru if k in en and fields(ru[k]) != fields(en[k])}
    assert differ == {}


def test_no_empty_values_in_report_catalogs():
    for lang in LANGUAGES:
        for name in ("summary.yaml", "appendix.yaml"):
            empty = [k for k, v in file_keys(lang)[name].items() if v is None or str(v).strip() == ""]
            assert empty == [], (lang, name)


def published_metrics() -> list[str]:
    """The metrics.json keys of modules 01–05 and the summary."""
    from audit_kit.metrics import funnel, quality, schedule

    keys = list(funnel.HEADLINE)
    keys += [f"schedule.{k}" for k in schedule.HEADLINE_UNITS]
    keys += ["schedule.no_show_cost_per_month", "schedule.money_at_stake_per_month"]
    keys += ["quality.rows_read", "quality.rows_rejected", "quality.reject_rate", "quality.months_mismatched"]
    keys += [f"quality.{ {'bookings_lead_missing': 'bookings_without_lead'}.get(c, c)}_rate" for c in quality.CHECKS]
    keys += ["summary.nps", "summary.csat"]
    keys += [f"channels.{k}" for k in ("spend", "leads", "new_patients", "cpl", "cac", "revenue", "romi", "drr")]
    from audit_kit.metrics import rfm

    keys += [f"rfm.{k}" for k in rfm.HEADLINE_UNITS]
    return keys


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_published_metric_has_a_definition(language):
    t = Translator(language)
    missing = [k for k in published_metrics()
               for part in ("name", "formula", "definition") if not t.has(f"appendix.metrics.{k}.{part}")]
    assert missing == []
    # definitions fill their placeholders from the options; an unknown placeholder would raise here
    from audit_kit.config import DEFAULT_OPTIONS
    from audit_kit.report.appendix import definition_values

    values = definition_values(DEFAULT_OPTIONS)
    for k in published_metrics():
        t(f"appendix.metrics.{k}.definition", **values)
        t(f"appendix.metrics.{k}.formula", **values)


@pytest.mark.parametrize("language", LANGUAGES)
def test_kpis_statuses_and_modules_have_labels(language):
    from audit_kit.metrics.scorecard import KPIS, MET, MISSED, NO_DATA
    from audit_kit.modules import MODULES

    t = Translator(language)
    assert all(t.has(f"summary.scorecard.kpi.{k.name}") for k in KPIS)
    assert all(t.has(f"summary.scorecard.status.{s}") for s in (MET, MISSED, NO_DATA))
    assert all(t.has(f"modules.{name}.title") and t.has(f"modules.{name}.needs") for name in MODULES)


def test_the_fast_loader_reads_the_catalogs_as_the_safe_loader_does():
    import yaml

    from audit_kit.report import i18n

    for file in sorted(i18n.CATALOG_DIR.glob("*/*.yaml")):
        text = file.read_text(encoding="utf-8")
        assert yaml.load(text, Loader=i18n.YAML_LOADER) == yaml.safe_load(text), file
