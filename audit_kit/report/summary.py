"""What the summary notebook (00) uses: the run's merged results, the money total and display tables.

The summary runs after every module: it reads `<run>/metrics.json`, `findings.json` (ranked) and
`modules.json`, computes NPS and CSAT from the surveys, and shows the top findings, the KPI
scorecard, the period comparison and the data that would enable the skipped sections.
"""
from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np
import pandas as pd

from ..findings import Finding, rank
from ..money import by_stage, counted_total
from ..metrics.compare import significant
from ..provenance import SCRATCH, demo_config_path   # SCRATCH: notebooks' own runs, not audit runs
from .fmt import MISSING, Formatter
from .html import module_title
from .i18n import Translator

NAME = "summary"
TOP_N = 5                 # findings shown as cards
CHART_N = 10              # findings on the money chart


@dataclass
class RunResults:
    """The merged results of one run, as the runner wrote them."""

    run_dir: Path
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)   # key -> {unit, base, current}
    findings: list[Finding] = field(default_factory=list)               # ranked
    statuses: list[dict[str, Any]] = field(default_factory=list)        # modules.json rows, summary excluded
    counts: dict[str, dict[str, list[float]]] = field(default_factory=dict)   # rate key -> {period: [x, n]}

    @property
    def empty(self) -> bool:
        return not self.statuses

    def status_of(self, name: str) -> str | None:
        return next((s["status"] for s in self.statuses if s["name"] == name), None)

    def table(self, module: str, name: str) -> pd.DataFrame | None:
        """A module's machine-readable table (`modules/<module>/tables/<name>.parquet`), None when absent."""
        path = self.run_dir / "modules" / module / "tables" / f"{name}.parquet"
        return pd.read_parquet(path) if path.is_file() else None


def latest_run(client_dir: Path) -> Path | None:
    """The newest finished audit run under `<client>/reports/` (a folder with modules.json), or None."""
    runs = [p.parent for p in Path(client_dir, "reports").glob("*/modules.json")
            if p.parent.name != SCRATCH and (p.parent / "ledger.json").is_file()]
    return max(runs, key=lambda p: (p / "modules.json").stat().st_mtime, default=None)


def locate_run(run_dir: str | Path, config_path: str | Path) -> str:
    """The run folder to summarise: run_dir when given; else the client's latest run; else ''
    (the notebook then opens a scratch run with no module results and says so)."""
    if run_dir:
        return str(run_dir)
    from ..config import load_config

    found = latest_run(load_config(config_path or demo_config_path()).client_dir)
    return str(found) if found else ""


def load_results(run_dir: str | Path) -> RunResults:
    """metrics.json, findings.json and modules.json of a run, and the counts.json of each module that ran (`counts`:
    the numerators and denominators of their rates, `notebook.Module.proportions`); missing files give empty
    results."""
    run_dir = Path(run_dir)
    out = RunResults(run_dir)
    if (run_dir / "metrics.json").is_file():
        out.metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8")).get("metrics", {})
    if (run_dir / "findings.json").is_file():
        out.findings = rank(json.loads((run_dir / "findings.json").read_text(encoding="utf-8")))
    if (run_dir / "modules.json").is_file():
        out.statuses = [s for s in json.loads((run_dir / "modules.json").read_text(encoding="utf-8"))
                        if s["name"] != NAME]
    for st in out.statuses:
        path = run_dir / "modules" / st["name"] / "counts.json"
        if st["status"] == "ok" and path.is_file():
            out.counts.update(json.loads(path.read_text(encoding="utf-8")))
    return out


# -- money -------------------------------------------------------------------------------------

def money_by_stage(findings: Iterable[Finding]) -> pd.DataFrame:
    """Counted money at stake per month by stage of the patient path (`money.by_stage`, findings marked by
    `findings.mark_counted`): stage, money, findings (priced findings of the stage, nested ones included)."""
    findings = list(findings)
    counted = by_stage(findings)
    priced = pd.Series([f.stage for f in findings if f.money_at_stake_per_month is not None and f.stage],
                       dtype="object").value_counts()
    return pd.DataFrame({"stage": list(counted), "money": list(counted.values()),
                         "findings": [int(priced.get(stage, 0)) for stage in counted]},
                        columns=["stage", "money", "findings"])


def total_money(findings: Iterable[Finding]) -> float | None:
    """The counted money at stake per month (each rouble once, `money.count_once`); None when nothing is priced."""
    return counted_total(findings)


def revenue_per_month(metrics: Mapping[str, Mapping[str, Any]]) -> float | None:
    """The clinic's revenue per month in the current period (`summary.revenue_per_month`), None when unknown."""
    value = (metrics.get("summary.revenue_per_month") or {}).get("current")
    return float(value) if value is not None and np.isfinite(value) and value > 0 else None


def _money_bars(labels: list[str], values: list[float], colours: list, title: str, t: Translator, fmt: Formatter,
                fontsize: float = 7.5):
    """Horizontal money bars, first item at the top, each labelled with its amount (money per month)."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    labels, values, colours = labels[::-1], values[::-1], colours[::-1]
    fig, ax = plt.subplots(figsize=(8.0, 0.42 * len(values) + 1.1))
    ax.barh(range(len(values)), values, color=colours)
    ax.set_yticks(range(len(values)), labels, fontsize=fontsize)
    for i, v in enumerate(values):
        ax.text(v, i, " " + fmt.money(v), va="center", fontsize=7.5)
    ax.set_xlim(0, max(values, default=1) * 1.3)
    ax.xaxis.set_major_locator(MaxNLocator(4))
    ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: fmt.num(v)))
    ax.set(xlabel=t("summary.money.chart_x", currency=fmt.sign), title=title)
    ax.grid(axis="y", visible=False)
    fig.tight_layout()
    return fig


def stage_chart(by_stage_: pd.DataFrame, t: Translator, fmt: Formatter):
    """Horizontal bars: the counted money at stake per month of each stage of the patient path, in path order."""
    from .. import plots

    return _money_bars([t(f"money.stage.{s}") for s in by_stage_["stage"]], list(by_stage_["money"]),
                       [plots.PALETTE[0]] * len(by_stage_), t("summary.money.stage_chart_title"), t, fmt, fontsize=8)


def money_chart(findings: Iterable[Finding], t: Translator, fmt: Formatter, n: int = CHART_N):
    """Horizontal bars: the n largest counted findings, each bar the money it adds to the total per month
    (a capacity finding only its uncovered part); a bar's label names how many findings are nested in it."""
    from .. import plots

    findings = list(findings)
    nested: dict[str, int] = {}
    for f in findings:
        if f.nested_in:
            nested[f.nested_in] = nested.get(f.nested_in, 0) + 1
    counted = sorted((f for f in findings if f.counted and f.money_counted_per_month),
                     key=lambda f: -f.money_counted_per_month)[:n]
    labels = [_short(f"{module_title(t, f.module)}: {f.title}", 70)
              + (t("summary.money.nested_mark", n=nested[f"{f.module}.{f.id}"]) if f"{f.module}.{f.id}" in nested else "")
              for f in counted]
    colours = [{"high": plots.PALETTE[3], "medium": plots.PALETTE[1], "low": plots.PALETTE[2]}[f.severity] for f in counted]
    return _money_bars(labels, [f.money_counted_per_month for f in counted], colours, t("summary.money.chart_title"),
                       t, fmt)


def _short(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"


# -- findings ----------------------------------------------------------------------------------

def findings_table(findings: Iterable[Finding], t: Translator) -> pd.DataFrame:
    """All findings in rank order: rank, module (title), title, severity (words), money (per month), stage (words),
    counted (the money the finding adds to the total per month: 0 when nested, NaN when not priced)."""
    findings = list(findings)
    return pd.DataFrame({
        "rank": np.arange(1, len(findings) + 1),
        "module": [module_title(t, f.module) for f in findings],
        "title": [f.title for f in findings],
        "severity": [t(f"common.severity.{f.severity}") for f in findings],
        "money": [np.nan if f.money_at_stake_per_month is None else f.money_at_stake_per_month for f in findings],
        "stage": [t(f"money.stage.{f.stage}") if f.stage else "" for f in findings],
        "counted": [np.nan if f.money_counted_per_month is None else f.money_counted_per_month for f in findings],
    })


# -- scorecard ---------------------------------------------------------------------------------

def kpi_value(fmt: Formatter, value: Any, unit: str) -> str:
    """A KPI value or target: rates as %, minutes, NPS points with one decimal."""
    if unit == "number":
        return fmt.num(value, 1)
    if unit in ("rate", "ratio"):
        return fmt.pct(value, 1)
    return fmt.value(value, unit)


def scorecard_frames(card: pd.DataFrame, t: Translator, fmt: Formatter) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(shown, export) versions of `metrics.scorecard.scorecard`: words and formatted values for the
    report; labels with numbers (formats by the `unit` column) for the workbook."""
    label = [t(f"summary.scorecard.kpi.{k}") for k in card["kpi"]]
    rule = [t(f"summary.scorecard.rule.{d}", target=kpi_value(fmt, v, u))
            for d, v, u in zip(card["direction"], card["target"], card["unit"])]
    status = [t(f"summary.scorecard.status.{s}") for s in card["status"]]
    shown = pd.DataFrame({"kpi": label, "target": rule,
                          "base": [kpi_value(fmt, v, u) for v, u in zip(card["base"], card["unit"])],
                          "current": [kpi_value(fmt, v, u) for v, u in zip(card["current"], card["unit"])],
                          "status": status, "_status": card["status"].to_numpy()})
    export = pd.DataFrame({"kpi": label, "target_rule": rule, "target_value": card["target"], "base": card["base"],
                           "current": card["current"], "status": status, "unit": card["unit"],
                           "key": card["metric"]})
    return shown, export


def scorecard_html(shown: pd.DataFrame, t: Translator, base: bool) -> str:
    """The scorecard as a table whose status cells are coloured (met / missed / no data); escaped."""
    cols = ["kpi", "target"] + (["base"] if base else []) + ["current", "status"]
    head = "".join(f"<th>{html.escape(t(f'summary.columns.{c}'))}</th>" for c in cols)
    rows = []
    for r in shown.to_dict("records"):
        cells = "".join(f'<td class="{"audit-status status-" + r["_status"] if c == "status" else ""}">'
                        f"{html.escape(str(r[c]))}</td>" for c in cols)
        rows.append(f"<tr>{cells}</tr>")
    caption = html.escape(t("summary.scorecard.table_title"))
    return (f'<div class="audit-table-wrap"><table class="audit-table audit-scorecard"><caption>{caption}</caption>'
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>")


# -- period comparison -------------------------------------------------------------------------

def metric_label(t: Translator, key: str) -> str:
    module, _, name = key.partition(".")
    return t.get(f"appendix.metrics.{module}.{name}.name", default=key)


def signed(fmt: Formatter, x: Any, unit: str) -> str:
    """A change in the metric's unit with its sign: +12, −3 400 ₽, +2,5 п. п. (rates), +1,5 (NPS)."""
    if x is None or not np.isfinite(x):
        return MISSING
    if unit in ("rate", "ratio"):
        return fmt.pp(x)
    sign = "+" if x > 0 else ("−" if x < 0 else "")
    body = fmt.num(abs(x), 1) if unit == "number" else fmt.value(abs(x), unit)
    return sign + body


def comparison_frames(table: pd.DataFrame, t: Translator, fmt: Formatter, *, base: bool
                      ) -> tuple[list[tuple[str, pd.DataFrame]], pd.DataFrame]:
    """Display tables per module ([(module title, shown)]) and the workbook version of
    `metrics.compare.compare_periods` output (numbers; base/current/change/interval formatted by
    the `unit` column)."""
    groups = []
    modules = table["key"].str.split(".").str[0]
    for module in dict.fromkeys(modules):
        part = table.loc[modules.eq(module)]
        title = t("summary.comparison.survey_group") if module == NAME else module_title(t, module)
        shown = pd.DataFrame({"metric": [metric_label(t, k) for k in part["key"]]})
        if base:
            shown["base"] = [kpi_value(fmt, v, u) for v, u in zip(part["base"], part["unit"])]
        shown["current"] = [kpi_value(fmt, v, u) for v, u in zip(part["current"], part["unit"])]
        if base:
            shown["change"] = [signed(fmt, v, u) for v, u in zip(part["change"], part["unit"])]
            shown["relative_change"] = [fmt.change(v) for v in part["relative_change"]]
            sig = significant(part).to_numpy()
            shown["interval"] = [
                t("summary.comparison.interval", low=signed(fmt, lo, u), high=signed(fmt, hi, u)) + ("\u00a0*" if s else "")
                if np.isfinite(lo) else MISSING
                for lo, hi, u, s in zip(part["ci_low"], part["ci_high"], part["unit"], sig)]
        groups.append((title, shown))
    export = table.assign(metric=[metric_label(t, k) for k in table["key"]],
                          ci_method=[t(f"summary.comparison.methods.{m}") if m else "" for m in table["ci_method"]])
    cols = ["metric", "base", "current", "change", "relative_change", "ci_low", "ci_high", "ci_method", "unit", "key"]
    if not base:
        cols = ["metric", "current", "unit", "key"]
    return groups, export[cols]


COMPARISON_FORMATS = {"base": "by_unit", "current": "by_unit", "change": "by_unit", "relative_change": "change",
                      "ci_low": "by_unit", "ci_high": "by_unit"}
SCORECARD_FORMATS = {"target_value": "by_unit", "base": "by_unit", "current": "by_unit"}


# -- what more data would show -----------------------------------------------------------------

def more_data(results: RunResults, tables: Iterable[str], periods: Iterable[str], t: Translator) -> list[str]:
    """Sentences for the box: each skipped module with the data that would enable it
    (`modules.<name>.needs`), patient surveys when absent, a base period when none is set."""
    items = []
    for s in results.statuses:
        if s["status"] == "skipped" and s.get("reason"):
            items.append(t("common.not_enough_data", module=module_title(t, s["name"]), reason=t(s["reason"])))
        elif s["status"] == "skipped":
            items.append(t("summary.more_data.skipped", module=module_title(t, s["name"]),
                           needs=t.get(f"modules.{s['name']}.needs", default="") or ", ".join(s["missing_tables"])))
    if "surveys" not in set(tables):
        items.append(t("summary.more_data.surveys"))
    if "base" not in set(periods):
        items.append(t("summary.more_data.base"))
    return items


def more_data_html(items: list[str], t: Translator) -> str:
    if not items:
        return f'<p class="audit-note">{html.escape(t("summary.more_data.none"))}</p>'
    lis = "".join(f"<li>{html.escape(i)}</li>" for i in items)
    return (f'<div class="audit-note audit-more-data"><p>{html.escape(t("summary.more_data.intro"))}</p>'
            f"<ul>{lis}</ul></div>")


def comparison_html(title: str, shown: pd.DataFrame, t: Translator, fmt: Formatter) -> str:
    """One module's part of the period comparison as a captioned table (display only; escaped)."""
    from .appendix import ReportTable, table_html

    labels = {c: t(f"summary.columns.{c}") for c in shown.columns}
    return table_html(ReportTable("", t("summary.comparison.table_title", module=title), shown, {}, labels), fmt,
                      "audit-comparison")


# -- a network's branches ----------------------------------------------------------------------

LEAGUE_TOP = 10           # branches with the most money at stake shown in the summary
LEAGUE_BEST = 3           # ... and the best ones (least at stake per rouble of revenue)


def league_table(run_dir: str | Path) -> pd.DataFrame | None:
    """The branch league table of a network: the schedule module's `schedule_branches` (money at stake per
    month by branch, most first) with ``share`` = money at stake ÷ the branch's visit revenue and ``mark``:
    'worst' for the branch with the most money at stake, 'best' for the least at stake per rouble of revenue.
    None for a single clinic (no such table)."""
    path = Path(run_dir) / "modules" / "schedule" / "tables" / "schedule_branches.parquet"
    if not path.is_file():
        return None
    table = pd.read_parquet(path).sort_values(["money_per_month", "branch_id"], ascending=[False, True], kind="stable")
    table = table.reset_index(drop=True)
    revenue = table["visit_revenue_per_month"]
    table["share"] = table["money_per_month"] / revenue.where(revenue > 0)
    mark = np.full(len(table), "", dtype=object)
    if len(table):
        mark[0] = "worst"
        if table["share"].notna().any():
            best = int(table["share"].to_numpy("float64", na_value=np.inf).argmin())
            if best != 0:
                mark[best] = "best"
    table["mark"] = mark
    return table


def league_rows(table: pd.DataFrame, t: Translator, top: int = LEAGUE_TOP, best: int = LEAGUE_BEST) -> pd.DataFrame:
    """The rows the summary shows: the ``top`` branches with the most money at stake, then the ``best`` with the
    least at stake per rouble of revenue (not already shown); marks in words."""
    head = table.head(top)
    rest = table.iloc[top:].sort_values(["share", "branch_id"], kind="stable").head(best)
    shown = pd.concat([head, rest])
    marks = {"worst": t("summary.branches.mark.worst"), "best": t("summary.branches.mark.best"), "": ""}
    return shown.assign(mark=shown["mark"].map(marks))[
        ["branch_id", "visit_revenue_per_month", "money_per_month", "share", "utilisation", "no_show_rate", "mark"]]
