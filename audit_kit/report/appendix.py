"""The report's appendix: the row ledger, definitions and formulas of the metrics shown, provenance.

Each part is a list of `ReportTable`s, rendered into the HTML report and written to the workbook.
"""
from __future__ import annotations

import datetime as dt
import html
import json
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from ..provenance import input_hashes as all_input_hashes, versions
from .fmt import Formatter
from .i18n import Translator

NAME = "appendix"
STAGES = ("ingest", "modules", "summary")
LATE_CANCEL_HOURS = 24   # metrics.schedule.LATE_CANCEL_HOURS, named in a definition
INPUT_FILES_SHOWN = 25   # rows of the input-files table in the report (a network has a file per branch); all in the workbook


@dataclass
class ReportTable:
    """A table the report shows: an id (sheet name), a title, the data, and column formats."""

    name: str
    title: str
    df: pd.DataFrame
    formats: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)     # column -> header text
    section: str = NAME
    max_rows: int | None = None     # rows the report shows (a note says how many more); None: all. The workbook has all


LONG_TABLE_ROWS = 25    # a shown table longer than this may break across pages (`wrap_css`)


def wrap_css(rows: int) -> str:
    """The class of a shown table's wrapper: ``audit-table-wrap``, plus ``audit-long`` above `LONG_TABLE_ROWS` rows.

    The print CSS keeps a table on one page (`break-inside: avoid`); a table taller than a page is then pushed to a
    new page before it is split anyway, leaving a page nearly empty (the 345-branch report had eight such pages).
    A long table starts where it stands and breaks between rows, its header repeated."""
    return "audit-table-wrap audit-long" if rows > LONG_TABLE_ROWS else "audit-table-wrap"


def table_html(table: ReportTable, fmt: Formatter, css: str = "", t: Translator | None = None) -> str:
    """A table as escaped HTML in the report's style (the same markup as `Module.show_table`); its
    first `table.max_rows` rows and the catalog's `common.more_rows` note (`t` needed then) when longer."""
    capped = table.max_rows is not None and len(table.df) > table.max_rows
    shown = table.df.head(table.max_rows).copy() if capped else table.df.copy()
    for col in shown.columns:
        kind = table.formats.get(col)
        if kind is None and pd.api.types.is_numeric_dtype(shown[col]):
            kind = "number"
        shown[col] = fmt.column(shown[col], kind or "text")
    shown.columns = [table.labels.get(c, c) for c in shown.columns]
    body = shown.to_html(index=False, escape=True, border=0, classes="audit-table", na_rep="—")
    caption = f"<caption>{html.escape(table.title)}</caption>" if table.title else ""
    more = ""
    if capped:
        note = t("common.more_rows", shown=table.max_rows, total=len(table.df))
        more = f'<p class="audit-more">{html.escape(note)}</p>'
    return f'<div class="{wrap_css(len(shown))}">{retag_table(body, caption, css, len(shown.columns))}{more}</div>'


WIDE_TABLE_COLUMNS = 9    # a shown table with this many columns or more is `audit-wide` (smaller print)


def table_css(columns: int, css: str = "") -> str:
    """The class of a shown table: ``audit-table``, `css`, and ``audit-wide`` at `WIDE_TABLE_COLUMNS` columns or more.

    The print CSS sets wide tables in a smaller font with hyphenation so they fit the page width. A class, not the
    selector ``table:has(th:nth-child(9))``: WeasyPrint matches `:has` by walking every table's subtree for every
    rule — the demo's PDF spent ≈ 3 s of its 13 s there."""
    return " ".join(["audit-table"] + ([css] if css else []) + (["audit-wide"] if columns >= WIDE_TABLE_COLUMNS else []))


def retag_table(body: str, caption: str = "", css: str = "", columns: int = 0) -> str:
    """pandas' table markup with the report's opening tag (`table_css` of its `columns`) and the (escaped)
    caption markup.

    pandas writes `<table border="0" class="dataframe audit-table">` or, since 3.0, without border."""
    return re.sub(r'<table[^>]*class="dataframe audit-table"[^>]*>',
                  lambda _: f'<table class="{table_css(columns, css)}">{caption}', body, count=1)


def _labels(t: Translator, prefix: str, columns) -> dict[str, str]:
    return {c: t(f"{prefix}.{c}") for c in columns}


# -- A. row ledger -----------------------------------------------------------------------------

def ledger_table(run_dir: Path, t: Translator) -> ReportTable | None:
    """Per input table: file, rows read / used / fixed / rejected, and the reasons in words."""
    path = Path(run_dir) / "ledger.json"
    if not path.is_file():
        return None
    from ..ingest import Ledger
    from ..modules.quality import describe_reasons, reason_phrases

    ledger = Ledger.from_dict(json.loads(path.read_text(encoding="utf-8")))
    frame, reasons = ledger.frame(), ledger.reasons_frame()
    if len(reasons):
        reasons = reasons.assign(text=describe_reasons(reasons["reason"], reason_phrases(t)))
        reasons["text"] = reasons["text"] + ": " + reasons["rows"].astype("string")
        joined = reasons.groupby("table", sort=False)["text"].agg("; ".join)
    else:
        joined = pd.Series(dtype="string")
    df = frame.assign(table=[t.get(f"appendix.tables.{n}", default=n) for n in frame["table"]],
                      reasons=frame["table"].map(joined).astype("string"))
    columns = ["table", "file", "read", "used", "fixed", "rejected", "reasons"]
    return ReportTable("appendix_ledger", t("appendix.ledger.table_title"), df[columns],
                       {c: "count" for c in ("read", "used", "fixed", "rejected")},
                       _labels(t, "appendix.ledger.columns", columns))


# -- B. definitions ----------------------------------------------------------------------------

def definition_values(options: Mapping[str, Any]) -> dict[str, Any]:
    """Placeholders the definitions mention, from the config's options."""
    return {"horizon": options.get("treatment_horizon_days", 90), "slot": options.get("default_slot_minutes", 30),
            "wait": options.get("wait_target_minutes", 15), "late_hours": LATE_CANCEL_HOURS,
            "revenue_horizon": options.get("revenue_horizon_days", 180), "margin": options.get("gross_margin", 1.0)}


def definition_tables(metric_keys, t: Translator, options: Mapping[str, Any]) -> list[ReportTable]:
    """One table per module: every metric shown (metrics.json keys), its formula and definition."""
    values = definition_values(options)
    by_module: dict[str, list[str]] = {}
    for key in metric_keys:
        by_module.setdefault(key.split(".")[0], []).append(key)
    tables = []
    columns = ["metric", "formula", "definition", "key"]
    for module, keys in by_module.items():
        rows = []
        for key in keys:
            base = f"appendix.metrics.{key}"
            rows.append({"metric": t.get(f"{base}.name", default=key),
                         "formula": t.get(f"{base}.formula", default="", **values),
                         "definition": t.get(f"{base}.definition", default=t("appendix.definitions.missing"), **values),
                         "key": key})
        title = (t("summary.comparison.survey_group") if module == "summary"
                 else t.get(f"modules.{module}.title", default=module))
        tables.append(ReportTable(f"definitions_{module}", t("appendix.definitions.table_title", module=title),
                                  pd.DataFrame(rows, columns=columns), {},
                                  _labels(t, "appendix.definitions.columns", columns)))
    return tables


def reference_tables(run_dir: Path, t: Translator, modules=None) -> list[ReportTable]:
    """Reference tables the modules asked the appendix to print (`keep_table(..., appendix=True)`),
    e.g. the RFM codes and their segments; in module order. They are in the workbook already."""
    from .xlsx import module_tables

    folder = Path(run_dir) / "modules"
    names = list(modules) if modules is not None else sorted(p.name for p in folder.glob("*") if p.is_dir())
    out = []
    for module in names:
        manifest = folder / module / "tables.json"
        if not manifest.is_file():
            continue
        flagged = {n for n, item in json.loads(manifest.read_text(encoding="utf-8")).items() if item.get("appendix")}
        out.extend(ReportTable(tb.name, tb.title, tb.df, tb.formats, tb.labels, module)
                   for tb in module_tables(run_dir, module, t) if tb.name in flagged)
    return out


# -- C. provenance -----------------------------------------------------------------------------

def provenance_tables(run_dir: Path, config, t: Translator, kit_version: str, timings: Mapping[str, float],
                      input_hashes: Mapping[str, list[str]] | None = None) -> list[ReportTable]:
    """The run (client, config, folder, date), the input files with SHA-256 (`input_hashes` when
    given, else read now), versions, stage timings."""
    hashes = input_hashes if input_hashes is not None else all_input_hashes(config)
    items = {
        "client": config.client, "config": config.path.name, "run_folder": Path(run_dir).name,
        "generated": dt.datetime.now().strftime("%d.%m.%Y %H:%M" if config.language == "ru" else "%Y-%m-%d %H:%M"),
        "language": config.language, "currency": config.currency, "kit": kit_version,
    }
    run = pd.DataFrame({"item": [t(f"appendix.provenance.items.{k}") for k in items], "value": list(items.values())})
    inputs = pd.DataFrame([{"table": t.get(f"appendix.tables.{name}", default=name), "file": path.name,
                            "sha256": digest} for name, src in config.sources.items()
                           for path, digest in zip(src.paths, hashes[name])],
                          columns=["table", "file", "sha256"])
    vers = pd.DataFrame(list(versions().items()), columns=["package", "version"])
    stages = [s for s in STAGES if s in timings]
    times = pd.DataFrame({"stage": [t(f"appendix.provenance.stages.{s}") for s in stages],
                          "seconds": [float(timings[s]) for s in stages]})
    cols = "appendix.provenance.columns"
    return [
        ReportTable("provenance_run", t("appendix.provenance.run_title"), run, {}, _labels(t, cols, run.columns)),
        ReportTable("provenance_inputs", t("appendix.provenance.inputs_title"), inputs, {},
                    _labels(t, cols, inputs.columns), max_rows=INPUT_FILES_SHOWN),
        ReportTable("provenance_versions", t("appendix.provenance.versions_title"), vers, {},
                    _labels(t, cols, vers.columns)),
        ReportTable("provenance_timings", t("appendix.provenance.timings_title"), times, {"seconds": "number"},
                    _labels(t, cols, times.columns)),
    ]


# -- the whole appendix ------------------------------------------------------------------------

@dataclass
class Appendix:
    ledger: ReportTable | None
    definitions: list[ReportTable]
    provenance: list[ReportTable]
    reference: list[ReportTable] = field(default_factory=list)   # printed only: the workbook has them already

    @property
    def tables(self) -> list[ReportTable]:
        return ([self.ledger] if self.ledger else []) + self.definitions + self.provenance


def build_appendix(run_dir: Path, config, metric_keys, kit_version: str, timings: Mapping[str, float],
                   input_hashes: Mapping[str, str] | None = None) -> Appendix:
    t = Translator(config.language)
    return Appendix(ledger_table(run_dir, t), definition_tables(metric_keys, t, config.options),
                    provenance_tables(run_dir, config, t, kit_version, timings, input_hashes),
                    reference_tables(run_dir, t))


def appendix_html(appendix: Appendix, config) -> str:
    """The appendix sections (h2 headings enter the table of contents)."""
    t, fmt = Translator(config.language), Formatter(config.language, config.currency)
    esc = html.escape
    parts = [f'<section class="audit-appendix" id="appendix">'
             f'<h2 id="appendix-ledger" class="audit-h2">{esc(t("appendix.ledger.heading"))}</h2>'
             f'<p class="audit-text">{esc(t("appendix.ledger.intro"))}</p>']
    if appendix.ledger is None:
        parts.append(f'<p class="audit-note">{esc(t("appendix.ledger.none"))}</p>')
    else:
        from ..modules.quality import files_shown   # a network's hundreds of payments files: the first few named

        shown = replace(appendix.ledger, df=appendix.ledger.df.assign(file=files_shown(appendix.ledger.df["file"], fmt, t)))
        parts.append(table_html(shown, fmt, "audit-ledger"))
        totals = {k: fmt.num(appendix.ledger.df[k].sum()) for k in ("read", "used", "rejected")}
        parts.append(f'<p class="audit-text">{esc(t("appendix.ledger.total", **totals))}</p>')
    parts.append(f'<h2 id="appendix-definitions" class="audit-h2 audit-break">{esc(t("appendix.definitions.heading"))}</h2>'
                 f'<p class="audit-text">{esc(t("appendix.definitions.intro"))}</p>')
    parts.extend(table_html(tb, fmt, "audit-definitions") for tb in appendix.definitions)
    parts.extend(table_html(tb, fmt, "audit-reference") for tb in appendix.reference)
    parts.append(f'<h3 class="audit-h3">{esc(t("appendix.definitions.methods_heading"))}</h3><ul class="audit-methods">'
                 + "".join(f"<li>{esc(t(f'appendix.definitions.methods.{k}'))}</li>"
                           for k in ("interval", "money", "targets")) + "</ul>")
    parts.append(f'<h2 id="appendix-provenance" class="audit-h2 audit-break">{esc(t("appendix.provenance.heading"))}</h2>'
                 f'<p class="audit-text">{esc(t("appendix.provenance.intro"))}</p>')
    parts.extend(table_html(tb, fmt, f"audit-{tb.name.replace('_', '-')}", t) for tb in appendix.provenance)
    parts.append(f'<p class="audit-more">{esc(t("appendix.provenance.timings_note"))}</p></section>')
    return "".join(parts)
