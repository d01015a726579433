"""The client report as one self-contained HTML page, rendered by nbconvert from templates/.

The executed module notebooks are merged in order (summary first) after a cover and a table of
contents; only their HTML and image outputs are kept — no code, no prompts, no stderr. Skipped and
failed modules get a sentence; the appendix (`appendix.py`) comes last. Every value from the data
is escaped where its HTML is built (notebook.py, summary.py, appendix.py and the cards here).
"""
from __future__ import annotations

import datetime as dt
import html
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

if TYPE_CHECKING:      # imported where used: nbformat pulls in jsonschema's format checkers (≈ 2 s in a kernel,
    import nbformat    # cli.SKIPPED_IMPORTS), and every notebook kernel imports this module only for `findings_html`

from ..findings import Finding
from ..modules import resource_dir
from .fmt import Formatter
from .i18n import Translator

KEEP_MIME = ("text/html", "image/png", "image/svg+xml")
HIDE_TAGS = {"parameters", "injected-parameters", "remove-cell", "hide-output", "analyst"}   # analyst: the notebook's own view
SECTION_TAG = "audit-section"   # a cell that starts a new page in the PDF
HEADING_TAG = "audit-heading"   # a cell showing a section heading (h2/h3): the PDF keeps it with the next cell
HEADING_RE = re.compile(r'class="(?:[^"]*\s)?audit-h[23](?:\s[^"]*)?"')


def cell_tags(markups: Iterable[str], tag: str = "") -> list[str]:
    """The tags of a report cell showing `markups`: `tag` (when given), and `HEADING_TAG` when one of them has an
    element of class audit-h2 or audit-h3. nbconvert writes each tag as the cell's CSS class `celltag_<tag>`; a
    class, not the selector ``.jp-Cell:has(.audit-h2)``, which WeasyPrint matches by walking every cell's subtree."""
    return ([tag] if tag else []) + ([HEADING_TAG] if any(HEADING_RE.search(m) for m in markups) else [])


def counting_note(f: Finding, t: Translator, fmt: Formatter, titles: dict[str, str]) -> str:
    """How a priced finding enters the total (`money.count_once`): nested in another finding, or partly
    filled by the demand-side fixes (capacity); '' when it counts whole or is not priced."""
    if f.money_at_stake_per_month is None or f.money_counted_per_month is None:
        return ""
    if f.nested_in:
        return t("money.nested", title=titles.get(f.nested_in, f.nested_in))
    covered = f.money_at_stake_per_month - f.money_counted_per_month
    if covered > 0.005:
        if f.money_counted_per_month > 0.005:
            return t("money.covered", counted=fmt.money(f.money_counted_per_month), covered=fmt.money(covered))
        return t("money.covered_all", covered=fmt.money(covered))
    return ""


def findings_html(findings: Iterable[Finding | dict], t: Translator, fmt: Formatter,
                  context: Iterable[Finding | dict] | None = None) -> str:
    """Findings as cards: title, money at stake per month, severity, evidence (with how it enters the total),
    recommendation (escaped). ``context``: all findings, to name the one a shown finding is nested in."""
    findings = [f if isinstance(f, Finding) else Finding(**f) for f in findings]
    context = findings if context is None else [f if isinstance(f, Finding) else Finding(**f) for f in context]
    titles = {f"{f.module}.{f.id}": f.title for f in context}
    cards = []
    for f in findings:
        money = (t("common.money_per_month", money=fmt.money(f.money_at_stake_per_month))
                 if f.money_at_stake_per_month is not None else t("common.not_priced"))
        note = counting_note(f, t, fmt, titles)
        evidence = f.evidence + (" " + note if note else "")
        cards.append(
            f'<div class="audit-finding sev-{f.severity}">'
            f'<div class="audit-finding-head"><span class="audit-finding-title">{html.escape(f.title)}</span>'
            f'<span class="audit-finding-money">{html.escape(money)}</span></div>'
            f'<p><b>{html.escape(t("common.finding_labels.severity"))}:</b> {html.escape(t("common.severity." + f.severity))}. '
            f'<b>{html.escape(t("common.finding_labels.evidence"))}:</b> {html.escape(evidence)}</p>'
            f'<p><b>{html.escape(t("common.finding_labels.recommendation"))}:</b> {html.escape(f.recommendation)}</p>'
            f'</div>')
    return '<div class="audit-findings">' + "".join(cards) + "</div>"


def _html_cell(markup: str, tag: str = "") -> nbformat.NotebookNode:
    """A source-less cell showing markup; `tag` (and `HEADING_TAG`, `cell_tags`) become the cell's CSS classes
    `celltag_<tag>` (the print CSS starts a page at `celltag_audit-section`)."""
    import nbformat

    tags = cell_tags([markup], tag)
    cell = nbformat.v4.new_code_cell("", metadata={"tags": tags} if tags else {})
    cell.outputs = [nbformat.v4.new_output("display_data", data={"text/html": markup})]
    return cell


def _report_cells(nb_path: Path) -> list[nbformat.NotebookNode]:
    """The display outputs of an executed notebook, as code cells without source."""
    import nbformat

    nb = nbformat.read(nb_path, as_version=4)
    cells = []
    for cell in nb.cells:
        if cell.cell_type != "code" or HIDE_TAGS & set(cell.metadata.get("tags", [])):
            continue
        outputs = [o for o in cell.get("outputs", [])
                   if o.output_type in ("display_data", "execute_result") and any(m in o.data for m in KEEP_MIME)]
        for o in outputs:
            o.data = {m: v for m, v in o.data.items() if m in KEEP_MIME}
            o.metadata = {}
            if o.output_type == "execute_result":
                o.output_type = "display_data"
                o.pop("execution_count", None)
        if outputs:
            tags = cell_tags(o.data.get("text/html", "") for o in outputs)
            new = nbformat.v4.new_code_cell("", metadata={"tags": tags} if tags else {})
            new.outputs = outputs
            cells.append(new)
    return cells


def module_title(t: Translator, name: str) -> str:
    return t.get(f"modules.{name}.title", default=name)


def status_note(t: Translator, status: Any) -> str:
    title = module_title(t, status.name)
    if status.status == "skipped" and getattr(status, "reason", ""):
        text = t("common.not_enough_data", module=title, reason=t(status.reason))
    elif status.status == "skipped":
        needs = t.get(f"modules.{status.name}.needs", default="")
        text = t("common.skipped", module=title, tables=", ".join(status.missing_tables), needs=needs)
    else:
        text = t("common.failed", module=title, error=status.error.splitlines()[0] if status.error else "")
    return (f'<h2 id="module-{html.escape(status.name)}" class="audit-h2">{html.escape(title)}</h2>'
            f'<p class="audit-note audit-{status.status}">{html.escape(text)}</p>')


def cover_html(config, t: Translator, fmt: Formatter, kit_version: str) -> str:
    """The cover page: kicker, client name (also the PDF's running header), periods, date, kit version."""
    rows = "".join(
        f"<tr><th>{html.escape(t('common.periods.' + name))}</th><td>{html.escape(fmt.period(a, b))}</td></tr>"
        for name, (a, b) in config.periods.items())
    today = fmt.date(dt.date.today())
    return (f'<section class="audit-cover"><p class="audit-cover-kicker">{html.escape(t("common.report_title"))}</p>'
            f'<h1 class="audit-cover-client">{html.escape(config.client)}</h1>'
            f'<table class="audit-cover-meta">{rows}'
            f'<tr><th>{html.escape(t("common.report_date"))}</th><td>{html.escape(today)}</td></tr>'
            f'<tr><th>{html.escape(t("common.kit_version"))}</th><td>audit-kit {html.escape(kit_version)}</td></tr>'
            f'</table></section>')


def assemble(run_dir: Path, config, statuses: list, kit_version: str, appendix: str = "") -> nbformat.NotebookNode:
    """One notebook for the report: cover, contents, each module's outputs (the summary first) or its
    skip/fail note, then the appendix markup."""
    import nbformat

    t, fmt = Translator(config.language), Formatter(config.language, config.currency)
    nb = nbformat.v4.new_notebook()
    nb.metadata["title"] = f"{t('common.report_title')} — {config.client}"
    nb.cells.append(_html_cell(cover_html(config, t, fmt, kit_version)))
    nb.cells.append(_html_cell('<nav class="audit-toc"><!--TOC--></nav>'))
    for st in statuses:
        executed = run_dir / "notebooks" / st.notebook
        if st.status == "ok" and executed.is_file():
            nb.cells.append(_html_cell(f'<section class="audit-module" id="section-{html.escape(st.name)}"></section>',
                                       SECTION_TAG))
            nb.cells.extend(_report_cells(executed))
        else:
            nb.cells.append(_html_cell(status_note(t, st)))
    if appendix:
        nb.cells.append(_html_cell(appendix, SECTION_TAG))
    return nb


H2_RE = re.compile(r"<h2\b([^>]*)>(.*?)</h2>", re.S)
ATTR_RE = re.compile(r'\b(id|class)="([^"]*)"')


def _toc(body: str, t: Translator) -> str:
    """Links to every section heading (h2 with class audit-h2 and an id, attributes in any order);
    in the PDF the print CSS adds each one's page number (target-counter)."""
    links = []
    for attrs, text in H2_RE.findall(body):
        a = dict(ATTR_RE.findall(attrs))
        if "id" in a and "audit-h2" in a.get("class", "").split():
            links.append(f'<li><a href="#{a["id"]}">{text}</a></li>')
    return f'<h2 class="audit-toc-title">{html.escape(t("common.contents"))}</h2><ol>{"".join(links)}</ol>'


def _exporter_class():
    """nbconvert's HTMLExporter without the BeautifulSoup pass it ends with.

    That pass parses the whole page, adds ``alt`` to images without one and ``tabindex`` to the
    input and output wrappers of a ``.jp-Notebook`` page, and serialises the page again. The report's
    template has no such wrappers and every image it embeds has an ``alt``, so on the demo the pass
    changed nothing while it took 1.6 of the HTML's 2.5 s (cProfile: parse 0.83 s, selectors 0.76 s,
    serialising 0.37 s). The rest is HTMLExporter's own conversion (filters, resources, template)."""
    from nbconvert import HTMLExporter
    from nbconvert.exporters.templateexporter import TemplateExporter
    from nbconvert.filters.highlight import Highlight2HTML
    from nbconvert.filters.widgetsdatatypefilter import WidgetsDataTypeFilter

    class ReportExporter(HTMLExporter):
        def from_notebook_node(self, nb, resources=None, **kw):
            langinfo = nb.metadata.get("language_info", {})
            lexer = langinfo.get("pygments_lexer", langinfo.get("name", None))
            self.register_filter("highlight_code",
                                 self.filters.get("highlight_code", Highlight2HTML(pygments_lexer=lexer, parent=self)))
            resources = self._init_resources(resources)
            self.register_filter("filter_data_type", WidgetsDataTypeFilter(notebook_metadata=self._nb_metadata,
                                                                           parent=self, resources=resources))
            return TemplateExporter.from_notebook_node(self, nb, resources, **kw)

    return ReportExporter


def render_html(nb: nbformat.NotebookNode, config, out_path: Path) -> Path:
    """nbconvert with templates/audit_report: no input, no prompts; the table of contents filled in."""
    exporter = _exporter_class()(template_name="audit_report", extra_template_basedirs=[str(resource_dir("templates"))],
                            exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True,
                            exclude_markdown=True, exclude_raw=True)
    body, _ = exporter.from_notebook_node(nb, resources={"language_code": config.language})
    body = body.replace("<!--TOC-->", _toc(body, Translator(config.language)), 1)
    out_path.write_text(body, encoding="utf-8")
    return out_path
