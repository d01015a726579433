"""The whole audit of the demo clinic, end to end: outputs, contracts, and no PII anywhere."""
from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from audit_kit.config import load_config
from audit_kit.ingest.coerce import as_text
from audit_kit.ingest.load import _alias_index, _map_columns
from audit_kit.ingest.presets import detect, known_headers
from audit_kit.ingest.readers import read_grid, to_raw_table
from audit_kit.ingest.schema import PII, TABLES

from conftest import DEMO_CONFIG


def _reject_constant(name):
    raise ValueError(f"metrics.json must not contain {name}")


def raw_pii_values(config_path: Path) -> set[str]:
    """Every name, phone and e-mail in the raw exports (phones also as bare digits)."""
    config = load_config(config_path)
    values: set[str] = set()
    for name, source in config.sources.items():
        table = TABLES[name]
        pii = [c.name for c in table.columns if c.kind == PII]
        if not pii:
            continue
        for file in source.files:
            index = _alias_index(table, file.columns)
            grid, _, excel = read_grid(file.path, set(index) | known_headers(), sheet=file.sheet)
            raw = to_raw_table(grid, file.path, excel)
            preset = detect(list(raw.frame.columns), name, str(file.path), file.preset)
            index = _alias_index(table, file.columns, preset)
            mapping = _map_columns(raw, table, index, set(preset.derive) if preset else set(), preset)
            for header, canon in mapping.items():
                if canon in pii:
                    col = as_text(raw.frame[header]).dropna()
                    values |= set(col)
                    if canon in ("phone", "caller_phone"):
                        values |= set(col.str.replace(r"\D", "", regex=True).str[-10:])
    return {v for v in values if len(v) >= 6}


def test_run_succeeds(demo_run):
    bad = [(m.name, m.error) for m in demo_run.modules if m.status != "ok"]
    assert demo_run.exit_code == 0, bad
    for kind in ("html", "metrics", "findings", "run"):
        assert Path(demo_run.outputs[kind]).is_file()


def test_metrics_json_contract(demo_run):
    data = json.loads(Path(demo_run.outputs["metrics"]).read_text(encoding="utf-8"), parse_constant=_reject_constant)
    assert data["periods"] == {"base": ["2024-10-01", "2024-12-31"], "current": ["2025-01-01", "2025-03-31"]}
    assert data["metrics"], "modules contributed no metrics"
    for key, value in data["metrics"].items():
        assert re.fullmatch(r"[a-z_]+\.[a-z0-9_]+", key), key
        # ratio: a fraction that may be below 0 or above 1 (ROMI, ДРР); rate: a fraction in [0, 1]
        assert value["unit"] in {"count", "rate", "ratio", "money", "minutes", "hours", "days", "number"}, key
        for period in ("base", "current"):
            v = value[period]
            assert v is None or isinstance(v, (int, float)), (key, v)
            if value["unit"] == "rate" and v is not None:
                assert 0 <= v <= 1, (key, v)


def test_findings_ranked_by_money(demo_run):
    findings = json.loads(Path(demo_run.outputs["findings"]).read_text(encoding="utf-8"))
    assert len(findings) >= 5
    assert set(findings[0]) == {"module", "id", "title", "severity", "money_at_stake_per_month", "evidence", "recommendation",
                                "stage", "acts_on", "counted", "nested_in", "money_counted_per_month", "price"}
    money = [f["money_at_stake_per_month"] for f in findings if f["money_at_stake_per_month"] is not None]
    assert money == sorted(money, reverse=True)
    priced = [f["money_at_stake_per_month"] is not None for f in findings]
    assert priced == sorted(priced, reverse=True)      # unpriced findings come last


def test_report_has_no_code_and_is_self_contained(demo_run):
    html = Path(demo_run.outputs["html"]).read_text(encoding="utf-8")
    assert "open_module(" not in html and "jp-InputArea-editor" not in html and "In&nbsp;[" not in html
    assert not re.search(r'<(script|link)[^>]+(src|href)="https?://', html)
    assert 'src="data:image/png;base64,' in html
    assert "Клиника «Здоровье» (демо)" in html


def any_of(words) -> re.Pattern:
    """A regex that finds any of `words` (literal text), written as their trie: at each point of a text the
    engine follows the prefixes the words share instead of trying each word in turn. A plain alternation of
    the demo's 15 k names, phones and e-mails took 212 s over one run folder's 11 M characters."""
    trie: dict = {}
    for word in words:
        node = trie
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}

    def branch(node: dict) -> str:
        parts = [re.escape(ch) + branch(child) for ch, child in sorted(node.items()) if ch]
        if not parts:
            return ""
        body = parts[0] if len(parts) == 1 else f"(?:{'|'.join(parts)})"
        return f"(?:{body})?" if "" in node else body      # a word ends here: the longer ones are tried first

    return re.compile(branch(trie))


def test_any_of_finds_each_word_and_nothing_else():
    words = ["Иванов Иван", "Иванова Анна", "+7 912 345-67-89", "79123456789", "ann@example.ru"]
    pattern = any_of(words)
    for word in words:
        assert pattern.search(f"«{word}»").group(0) == word
    assert pattern.search("Иванова Анна Петровна").group(0) == "Иванова Анна"
    for near in ("Иванов Ива", "+7 912 345-67-8", "ann@example.r", "Ann@example.ru", "7912345678", "anna@example.ru"):
        assert pattern.search(near) is None, near
    prefix = any_of(["a", "a.b"])       # one word the start of another; the dot is literal
    assert [prefix.search(t).group(0) for t in ("ab", "a.b", "xa", "axb")] == ["a", "a.b", "a", "a"] and prefix.search("x.b") is None


def test_no_pii_in_any_file_the_run_writes(demo_run):
    secrets = raw_pii_values(DEMO_CONFIG)
    assert len(secrets) > 100      # the demo clinic does carry names, phones and e-mails
    pattern = any_of(secrets)
    for path in Path(demo_run.run_dir).rglob("*"):
        if path.is_dir():
            continue
        if path.suffix == ".parquet":
            text = pd.read_parquet(path).astype(str).to_csv()
        elif path.suffix == ".xlsx":
            with zipfile.ZipFile(path) as z:
                text = "".join(z.read(n).decode("utf-8", "replace") for n in z.namelist())
        elif path.suffix == ".pdf":
            continue   # rendered from report.html, which is checked here
        else:
            text = path.read_text(encoding="utf-8", errors="replace")
        found = pattern.search(text)
        assert found is None, f"{path.relative_to(demo_run.run_dir)} contains PII: {found.group(0)[:3]}…"


def _findings(demo_run) -> dict[str, dict]:
    data = json.loads(Path(demo_run.outputs["findings"]).read_text(encoding="utf-8"))
    return {f"{f['module']}.{f['id']}": f for f in data}


def test_planted_funnel_problems_are_found(demo_run):
    """sample_data/README.md: half the base quarter's leads never booked (the largest leak), missed
    calls peaking at 9–10, 13–14 and 18–19, slow answers to web forms, and a better current quarter."""
    found = _findings(demo_run)
    assert {"funnel.unbooked", "funnel.missed_calls", "funnel.slow_response", "funnel.period_growth"} <= set(found)
    assert all(h in found["funnel.missed_calls"]["title"] for h in ("9:00–10:00", "13:00–14:00", "18:00–19:00"))
    assert "письменные заявки" in found["funnel.slow_response"]["title"]
    leaks = pd.read_parquet(Path(demo_run.run_dir) / "modules" / "funnel" / "tables" / "funnel_leaks.parquet")
    base = leaks[leaks["period"] == "Базовый период"].sort_values("money_per_month", ascending=False)
    assert base["leak"].iloc[0] == "Обращения без записи"
    metrics = json.loads(Path(demo_run.outputs["metrics"]).read_text(encoding="utf-8"))["metrics"]
    assert metrics["funnel.lead_to_booking"]["base"] < 0.55
    assert metrics["funnel.leads"]["current"] > 1.3 * metrics["funnel.leads"]["base"]


def test_planted_schedule_problems_are_found_naming_the_doctors(demo_run):
    """The two evening-overbooked doctors (D04, D07), the three under 50 % (D03, D11, D13), no-shows
    worse when booked far ahead and for aggregator leads, and the evening overload."""
    found = _findings(demo_run)
    over, under = found["schedule.overbooked"]["title"], found["schedule.underloaded"]["title"]
    assert "Петров Игорь Сергеевич" in over and "Соколова Анна Викторовна" in over
    assert all(name in under for name in ("Смирнов Павел Игоревич", "Новикова Татьяна Юрьевна",
                                         "Фролова Наталья Сергеевна"))
    assert "Петров" not in under and "Смирнов" not in over
    assert "неделю" in found["schedule.no_show_lead_time"]["title"]
    assert "Агрегаторы" in found["schedule.no_show_channel"]["title"]
    assert "17:00" in found["schedule.peak_overload"]["title"]


def test_the_summary_takes_the_chain_counts_the_quality_module_published(demo_run):
    from audit_kit.metrics import scorecard
    from audit_kit.notebook import Module, RunTables
    from audit_kit.report.summary import load_results

    results = load_results(demo_run.run_dir)
    chain = results.table("quality", "id_chain")
    assert {"check_code", "period_code"} <= set(chain.columns) and set(chain["period_code"]) == {"base", "current"}
    module = Module("summary", demo_run.run_dir, load_config(DEMO_CONFIG))
    published = scorecard.headline_counts({}, module.periods, results.metrics, chain=chain)
    recounted = scorecard.headline_counts(RunTables(demo_run.run_dir), module.periods, results.metrics)
    quality = {k: v for k, v in recounted.items() if k.startswith("quality.")}
    assert len(quality) >= 4 and {k: v for k, v in published.items() if k.startswith("quality.")} == quality


def test_the_summary_takes_the_rate_counts_the_modules_published(demo_run):
    """The schedule and funnel modules write their rates' numerators and denominators to counts.json; the summary's
    intervals take them from there without reading a canonical table, and they are the counts it would recount."""
    from audit_kit.metrics import scorecard
    from audit_kit.notebook import Module, RunTables
    from audit_kit.report.summary import load_results

    results = load_results(demo_run.run_dir)
    assert set(results.counts) == set(scorecard.RECOUNTED)
    assert results.counts["schedule.no_show_rate"] == {"base": [261, 1632], "current": [271, 1794]}
    assert results.counts["funnel.missed_call_rate"] == {"base": [185, 880], "current": [232, 1185]}
    module = Module("summary", demo_run.run_dir, load_config(DEMO_CONFIG))
    published = scorecard.headline_counts({}, module.periods, results.metrics, published=results.counts)
    recounted = scorecard.headline_counts(RunTables(demo_run.run_dir), module.periods, results.metrics)
    assert set(scorecard.RECOUNTED) <= set(published)
    assert {k: published[k] for k in scorecard.RECOUNTED} == {k: recounted[k] for k in scorecard.RECOUNTED}
    for key in scorecard.RECOUNTED:     # each pair reproduces the rate metrics.json publishes
        for period, (x, n) in results.counts[key].items():
            assert x / n == pytest.approx(results.metrics[key][period], abs=1e-12)


def test_the_workbook_sheets_made_ahead_are_in_the_workbook(demo_run):
    from openpyxl import load_workbook

    info = json.loads(Path(demo_run.outputs["run"]).read_text(encoding="utf-8"))
    assert info["timings_seconds"]["report_xlsx_ahead"] > 0       # made while the summary ran
    sheets = load_workbook(demo_run.outputs["xlsx"], read_only=True).sheetnames
    kept = {name for module in ("quality", "funnel", "schedule", "channels", "rfm", "cohorts")
            for name in json.loads((demo_run.run_dir / "modules" / module / "tables.json").read_text(encoding="utf-8"))}
    assert kept <= set(sheets) and sheets[:2] == ["README", "summary_findings"]
