"""What a module notebook uses: load the run's tables, show text/tables/charts, emit results.

    m = open_module("funnel", run_dir, config_path)
    m.heading("funnel.title")
    m.show_table("stages", stages, formats={"leads": "count", "lead_to_booking": "rate"})
    m.metric("funnel.leads", "count", {"base": 418, "current": 564})
    m.finding("unbooked", "high", 310000, "funnel.finding.unbooked", share=m.fmt.pct(0.44))
    m.finish()

Everything shown is HTML built here, with every value from the data escaped. Results go to
`<run_dir>/modules/<name>/` (metrics.json, findings.json, tables/*.parquet + tables.json).
"""
from __future__ import annotations

import base64
import html
import json
import math
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .config import AuditConfig, load_config
from .findings import Finding, from_catalog, mark_counted, rank
from .ingest import Ledger, ingest, save_tables
from .ingest.keys import FAMILIES
from .memory import release_memory
from .modules import MODULES, SUMMARY
from .metrics.patients import UNKNOWN_CHANNEL
from .metrics.periods import period_months
from .provenance import demo_config_path, scratch_dir
from .report.appendix import retag_table, wrap_css
from .report.fmt import Formatter
from .report.i18n import Translator

def prepare_run(config: AuditConfig, run_dir: Path) -> None:
    """Ingest the config's exports into run_dir (canonical parquet + ledger)."""
    save_tables(ingest(config), run_dir)


def jsonable(x: Any) -> Any:
    """A value for metrics.json: NaN, ±inf and NA become null; numpy scalars become Python numbers."""
    if x is None or x is pd.NA or x is pd.NaT:
        return None
    if isinstance(x, pd.Timestamp):
        return x.date().isoformat()
    if hasattr(x, "item"):
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


KEY_COLUMNS = {f"{family}_key" for family in FAMILIES}     # ingest's integer keys: always read (small)
BRANCH_ENDS = 5          # a network's tables by branch show this many first and last branches (`Module.show_branches`)


class RunTables(Mapping[str, pd.DataFrame]):
    """The run's canonical tables (``<run_dir>/tables/<name>.parquet``, as `ingest.save_tables` wrote
    them), each read when first used and then kept: a module holds only the tables it touches, one
    copy each. Listing the names or testing ``name in tables`` reads nothing. ``columns`` (a module's
    `ModuleSpec.reads`): for the tables named, only those columns are read, with every ingest key
    (``<family>_key``); other tables are read whole. ``categorical`` (`ModuleSpec.categorical`): text columns
    read as pandas categoricals — Arrow decodes their dictionary, no string per row is made — whose categories
    ("string") are in sorted order, so that sorting or grouping by them orders rows as the text would.

    Measured on the 345-branch network (19 M raw rows): reading every table in each of the seven
    notebook kernels cost seconds per kernel and gigabytes of memory for tables most modules never use.
    """

    def __init__(self, run_dir: Path, columns: Mapping[str, Iterable[str]] | None = None,
                 categorical: Mapping[str, Iterable[str]] | None = None):
        self.folder = Path(run_dir) / "tables"
        self._names = sorted(p.stem for p in self.folder.glob("*.parquet"))
        self._columns = {name: set(cols) for name, cols in (columns or {}).items()}
        self._categorical = {name: tuple(cols) for name, cols in (categorical or {}).items()}
        self._read: dict[str, pd.DataFrame] = {}

    def __getitem__(self, name: str) -> pd.DataFrame:
        if name not in self._read:
            if name not in self._names:
                raise KeyError(name)
            path = self.folder / f"{name}.parquet"
            wanted, as_codes = self._columns.get(name), self._categorical.get(name, ())
            present = pq.read_schema(path).names if wanted is not None or as_codes else None
            columns = None if wanted is None else [c for c in present if c in wanted or c in KEY_COLUMNS]
            as_codes = [c for c in as_codes if c in (columns if columns is not None else present)]
            frame = pd.read_parquet(path, columns=columns, **({"read_dictionary": as_codes} if as_codes else {}))
            for column in as_codes:
                frame[column] = sorted_categories(frame[column])
            self._read[name] = frame
            # The parquet reader's decoding buffers, freed once the frame is built, back to the system: on the
            # 35-branch network the RSS of reading the RFM's three tables fell from 263 to 208 MB (166 MB held).
            pa.default_memory_pool().release_unused()
        return self._read[name]

    def __contains__(self, name: object) -> bool:
        return name in self._names

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)

    @property
    def columns(self) -> dict[str, set[str]]:
        """Table -> the columns read besides the keys (tables not named are read whole)."""
        return dict(self._columns)

    @property
    def loaded(self) -> list[str]:
        """The tables read so far."""
        return sorted(self._read)

    def release(self) -> None:
        """Forget the tables read so far and hand their memory back to the system (`memory.release_memory`); a
        table asked for afterwards is read again. Measured on the 345-branch network, a kernel once its module's
        numbers were computed: RFM 2.49 → 0.53 GB, quality 2.48 → 0.23 GB, schedule 2.31 → 0.57 GB — memory the
        other worker's module has instead, where two modules run at once."""
        self._read.clear()
        release_memory(collect=False)      # the frames go with their last reference: no collection needed (≈ 0.2 s)


def sorted_categories(values: pd.Series) -> pd.Series:
    """A categorical column with its categories as "string" in sorted order (the codes renumbered; no text
    touched per row)."""
    categories = pd.Index(values.cat.categories.astype("string"))
    order = categories.argsort()
    rank = np.empty(len(categories) + 1, np.int64)        # the last place: a missing value's code -1
    rank[order] = np.arange(len(categories))
    rank[-1] = -1
    codes = values.cat.codes.to_numpy()
    renumbered = rank[codes].astype(codes.dtype)
    return pd.Series(pd.Categorical.from_codes(renumbered, categories=categories[order]), index=values.index,
                     name=values.name)


class Module:
    """One module's view of a run: data in, HTML and results out."""

    def __init__(self, name: str, run_dir: Path, config: AuditConfig):
        self.name = name
        self.run_dir = Path(run_dir)
        self.config = config
        spec = MODULES.get(name) or (SUMMARY if name == SUMMARY.name else None)
        self.data: RunTables = RunTables(self.run_dir, spec.reads if spec else None,
                                         spec.categorical if spec else None)
        # the ledger as `ingest.save_tables` wrote it (`ingest.load_tables` would read every table as well)
        self.ledger: Ledger = Ledger.from_dict(json.loads((self.run_dir / "ledger.json").read_text(encoding="utf-8")))
        self.t = Translator(config.language)
        self.fmt = Formatter(config.language, config.currency)
        self.out_dir = self.run_dir / "modules" / name
        self.metrics: dict[str, dict[str, Any]] = {}
        self.counts: dict[str, dict[str, list[float]]] = {}
        self.findings: list[Finding] = []
        self.tables: dict[str, dict[str, Any]] = {}

    # -- data ---------------------------------------------------------------------------
    @property
    def periods(self) -> dict[str, tuple[pd.Timestamp, pd.Timestamp]]:
        """Period name -> [start, end) timestamps (end exclusive), base first."""
        return {name: self.config.period_bounds(name) for name in self.config.periods}

    def period_name(self, period: str) -> str:
        """The period's name in the report language ("current period")."""
        return self.t(f"common.periods.{period}")

    def period_label(self, period: str) -> str:
        """The period's short label ("current")."""
        return self.t(f"common.period_short.{period}")

    def period_span(self, period: str) -> str:
        """The period's dates as the report writes them (inclusive end)."""
        start, end = self.periods[period]
        return self.fmt.period(start, end - pd.Timedelta(days=1))

    def months(self, period: str = "current") -> float:
        """Months in the period (`metrics.periods.period_months`)."""
        return period_months(*self.periods[period])

    def per_month(self, value: float, period: str = "current") -> float:
        """A period's total as a monthly figure."""
        return value / self.months(period)

    def channel_label(self, channel: str, unknown_key: str) -> str:
        """A channel as the report names it: the catalog's ``unknown_key`` text for the unknown channel."""
        return self.t(unknown_key) if channel == UNKNOWN_CHANNEL else channel

    def format_or_na(self, values, formatter, na_key: str) -> list[str]:
        """Each value formatted, or the catalog's ``na_key`` text ("n/a") where it is missing."""
        return [formatter(v) if pd.notna(v) else self.t(na_key) for v in values]

    def has(self, *tables: str) -> bool:
        return all(t in self.data for t in tables)

    def release_tables(self) -> None:
        """The page's numbers are computed: the tables' memory back to the system (`RunTables.release`)."""
        self.data.release()

    def option(self, key: str) -> Any:
        return self.config.options[key]

    # -- showing ------------------------------------------------------------------------
    def show_html(self, markup: str) -> None:
        """Display ready, escaped HTML in the notebook (and so in the report)."""
        try:
            from IPython.display import HTML, display
        except ImportError:  # plain Python (tests): nothing to show
            return
        display(HTML(markup))

    def text(self, key: str, **values: Any) -> str:
        """Catalog sentence with values HTML-escaped (for showing)."""
        return self.t(key, **{k: html.escape(str(v)) for k, v in values.items()})

    def heading(self, key: str, level: int = 2, **values: Any) -> None:
        anchor = f"{self.name}-{key.replace('.', '-')}"
        self.show_html(f'<h{level} id="{anchor}" class="audit-h{level}">{self.text(key, **values)}</h{level}>')

    def say(self, key: str, css: str = "audit-text", **values: Any) -> None:
        """A paragraph from the catalog; css 'audit-note' for a boxed formula or caveat."""
        self.show_html(f'<p class="{css}">{self.text(key, **values)}</p>')

    def show_table(self, name: str, df: pd.DataFrame, *, formats: dict[str, str] | None = None,
                   title_key: str | None = None, export: bool = True, max_rows: int = 25,
                   **title_values: Any) -> None:
        """Show a table (escaped, formatted, headers from `columns.*` in the catalog) and keep it for Excel.

        formats: column -> count | money | rate | minutes | hours | number | date | month | pp | change | text.
        """
        formats = formats or {}
        if export:
            self.keep_table(name, df, title=self.t(title_key, **title_values) if title_key else name, formats=formats)
        shown = df.head(max_rows).copy()
        for col in shown.columns:
            kind = formats.get(col)
            if kind is None and pd.api.types.is_numeric_dtype(shown[col]):
                kind = "number"
            if kind is None and pd.api.types.is_datetime64_any_dtype(shown[col]):
                kind = "date"
            shown[col] = self.fmt.column(shown[col], kind or "text")
        shown.columns = [self.column_label(c) for c in shown.columns]
        caption = f"<caption>{self.text(title_key, **title_values)}</caption>" if title_key else ""
        body = shown.to_html(index=False, escape=True, border=0, classes="audit-table", na_rep="—")
        body = retag_table(body, caption, columns=len(shown.columns))
        more = ""
        if len(df) > max_rows:
            more = f'<p class="audit-more">{self.text("common.more_rows", shown=max_rows, total=len(df))}</p>'
        self.show_html(f'<div class="{wrap_css(len(shown))}">{body}{more}</div>')

    def show_branches(self, name: str, table: pd.DataFrame, *, rank_by: str, formats: dict[str, str],
                      title_key: str, ascending: bool = False, each: int = BRANCH_ENDS, **title_values: Any) -> None:
        """A module's key table by branch (a network): the whole table kept for the workbook as ``name`` (canonical
        columns, one row per branch), the report showing the ``each`` first and last branches by ``rank_by``
        (highest first unless ``ascending``; `plots.ends`) and a note saying so (``common.branches_shown``)."""
        from .plots import ends

        self.keep_table(name, table, title=self.t(title_key, **title_values), formats=formats)
        ordered = table.sort_values([rank_by, "branch_id"], ascending=[ascending, True], kind="stable", na_position="last")
        shown = ends(ordered, 2 * each)
        self.show_table(f"{name}_shown", shown, export=False, formats=formats, title_key=title_key,
                        max_rows=len(shown), **title_values)
        if len(shown) < len(table):
            self.say("common.branches_shown", css="audit-more", each=self.fmt.num(each), total=self.fmt.num(len(table)),
                     by=self.column_label(rank_by))

    def keep_table(self, name: str, df: pd.DataFrame, *, title: str, formats: dict[str, str] | None = None,
                   appendix: bool = False) -> None:
        """Keep a table for the workbook without showing it; `finish()` writes it with the others.

        Format `by_unit` takes each row's number format from its `unit` column (tables mixing units).
        `appendix=True`: a reference table (e.g. a mapping the module used) the report's appendix prints."""
        self.tables[name] = {"title": title, "formats": formats or {}, "df": df, "appendix": appendix}

    def write_workbook(self, file: str, name: str, df: pd.DataFrame, *, title: str,
                       formats: dict[str, str] | None = None) -> Path:
        """One table as its own workbook in the run folder (`<run_dir>/<file>`), formula-injection safe."""
        from .report.xlsx import SheetTable, table_workbook

        labels = {c: self.column_label(c) for c in df.columns}
        return table_workbook(self.run_dir / file, SheetTable(name, self.name, title, df, formats or {}, labels),
                              self.config.language, self.fmt.sign)

    def column_label(self, column: str) -> str:
        """Header text: `<module>.columns.<col>`, else the shared `columns.<col>`, else the name itself."""
        return self.t.column_label(self.name, column)

    def show_figure(self, fig, caption_key: str | None = None, **values: Any) -> None:
        """Show a matplotlib figure as an inline palette PNG (`plots.png_bytes`; self-contained) and close it."""
        import matplotlib.pyplot as plt

        from .plots import png_bytes

        data = base64.b64encode(png_bytes(fig)).decode("ascii")
        plt.close(fig)
        caption = f"<figcaption>{self.text(caption_key, **values)}</figcaption>" if caption_key else ""
        self.show_html(f'<figure class="audit-figure"><img src="data:image/png;base64,{data}" alt="">{caption}</figure>')

    def show_findings(self) -> None:
        """This module's findings so far, as cards, ranked (`findings.rank`)."""
        from .report.html import findings_html

        if self.findings:
            self.show_html(findings_html(rank(mark_counted(self.findings)), self.t, self.fmt))

    def report_findings(self, found: Iterable[Finding], *, none_key: str | None = None) -> None:
        """The findings a module's `build_findings` made: keep them, say ``none_key`` when there are
        none, and show them ranked."""
        self.findings.extend(found)
        if not self.findings and none_key:
            self.say(none_key)
        self.show_findings()

    # -- results ------------------------------------------------------------------------
    def metric(self, key: str, unit: str, values: dict[str, Any]) -> None:
        """A headline number per period for metrics.json: unit count | rate | money | minutes | hours | days."""
        self.metrics[key] = {"unit": unit, **{p: jsonable(values.get(p)) for p in self.config.periods}}

    def proportions(self, counts: Mapping[str, Mapping[str, tuple[float, float]]]) -> None:
        """The numerator and denominator of rate metrics, key -> {period: (x, n)}, for counts.json: the summary's
        intervals of change take them from there instead of counting the canonical tables again. A pair with x or
        n missing is not written (n = 0 is: the summary then gives that rate no interval, as when it counts)."""
        for key, per in counts.items():
            pairs = {p: (jsonable(x), jsonable(n)) for p, (x, n) in per.items() if p in self.config.periods}
            kept = {p: [x, n] for p, (x, n) in pairs.items() if x is not None and n is not None}
            if kept:
                self.counts[key] = kept

    def finding(self, id: str, severity: str, money_at_stake_per_month: float | None, key: str,
                **values: Any) -> Finding:
        """A finding whose title/evidence/recommendation come from `<key>.title|evidence|recommendation`."""
        f = from_catalog(self.name, self.t, id=id, severity=severity, money=jsonable(money_at_stake_per_month),
                         key=key, values=values)
        self.findings.append(f)
        return f

    def finish(self) -> Path:
        """Write metrics.json, counts.json (`proportions`), findings.json and the tables for the workbook; return the
        module folder."""
        self.out_dir.mkdir(parents=True, exist_ok=True)
        (self.out_dir / "metrics.json").write_text(json.dumps(self.metrics, ensure_ascii=False, indent=2), encoding="utf-8")
        (self.out_dir / "counts.json").write_text(json.dumps(self.counts, ensure_ascii=False, indent=2), encoding="utf-8")
        (self.out_dir / "findings.json").write_text(
            json.dumps([f.to_dict() for f in rank(mark_counted(self.findings))], ensure_ascii=False, indent=2),
            encoding="utf-8")
        tables_dir = self.out_dir / "tables"
        tables_dir.mkdir(exist_ok=True)
        manifest = {}
        for name, item in self.tables.items():
            df = item["df"].rename(columns=str)         # a view with text headers (copy-on-write), not a copy
            df.to_parquet(tables_dir / f"{name}.parquet", index=False)
            manifest[name] = {"title": item["title"], "formats": item["formats"]}
            if item.get("appendix"):
                manifest[name]["appendix"] = True
        (self.out_dir / "tables.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
        return self.out_dir


def open_module(name: str, run_dir: str | Path = "", config_path: str | Path = "") -> Module:
    """Open a module on a run folder; with no run folder, ingest the config into a scratch one.

    Empty config_path means the bundled demo clinic, so every notebook runs as it stands.
    """
    config = load_config(config_path or demo_config_path())
    if not run_dir:
        run_dir = scratch_dir(config.client_dir, name)
        prepare_run(config, Path(run_dir))
    return Module(name, Path(run_dir), config)
