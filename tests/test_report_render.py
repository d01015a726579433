"""How the report renders fast and the same: classes instead of costly selectors, the renderers imported early."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pandas as pd

from audit_kit.report.appendix import WIDE_TABLE_COLUMNS, ReportTable, retag_table, table_css, table_html
from audit_kit.report.fmt import Formatter
from audit_kit.report.html import HEADING_TAG, SECTION_TAG, cell_tags

CSS = Path(__file__).parents[1] / "templates" / "audit_report" / "report.css"


def test_wide_tables_are_marked_by_a_class_at_nine_columns():
    assert WIDE_TABLE_COLUMNS == 9
    assert table_css(8) == "audit-table"
    assert table_css(9) == "audit-table audit-wide"
    assert table_css(12, "audit-ledger") == "audit-table audit-ledger audit-wide"
    fmt = Formatter("en", "RUB")
    eight = table_html(ReportTable("t", "", pd.DataFrame({f"c{i}": [1] for i in range(8)})), fmt)
    nine = table_html(ReportTable("t", "", pd.DataFrame({f"c{i}": [1] for i in range(9)})), fmt, "audit-x")
    assert '<table class="audit-table">' in eight
    assert '<table class="audit-table audit-x audit-wide">' in nine
    body = pd.DataFrame({f"c{i}": [1] for i in range(10)}).to_html(index=False, classes="audit-table")
    assert retag_table(body, columns=10).startswith('<table class="audit-table audit-wide">')


def test_print_css_has_no_has_selector():
    """`:has()` made WeasyPrint walk every cell's and table's subtree per rule (≈ 3 s of the demo's PDF)."""
    css = CSS.read_text(encoding="utf-8")
    assert ":has(" not in css
    assert "table.audit-table.audit-wide {" in css and ".jp-Cell.celltag_audit-heading { break-after: avoid; }" in css


def test_cells_with_a_heading_are_tagged():
    assert cell_tags(['<h3 class="audit-h3" id="x">A</h3><p>text</p>']) == [HEADING_TAG]
    assert cell_tags(['<p>a</p>', '<h2 id="y" class="audit-h2 audit-break">B</h2>']) == [HEADING_TAG]
    assert cell_tags(['<p class="audit-h3x">no</p>', '<p class="audit-text">audit-h2</p>']) == []
    assert cell_tags(['<h2 class="audit-h2">C</h2>'], SECTION_TAG) == [SECTION_TAG, HEADING_TAG]
    assert cell_tags(["<p>plain</p>"], SECTION_TAG) == [SECTION_TAG]


def test_demo_report_tags_every_heading_cell_and_only_those(demo_run):
    """In report.html every cell holding an audit-h2/h3 carries celltag_audit-heading (the PDF keeps it with the next
    cell), no other cell does, and every table of 9+ columns is audit-wide."""
    text = Path(demo_run.outputs["html"]).read_text(encoding="utf-8")
    cells = re.split(r'(?=<div class="jp-Cell )', text)[1:]
    assert len(cells) > 30
    heading = re.compile(r'class="(?:[^"]*\s)?audit-h[23](?:\s[^"]*)?"')
    for cell in cells:
        opening = cell[:cell.index(">")]
        assert ("celltag_audit-heading" in opening) == bool(heading.search(cell)), opening
    tables = re.findall(r'<table class="(audit-table[^"]*)">(.*?)</table>', text, re.S)
    assert tables
    for classes, body in tables:
        head = re.search(r"<tr[^>]*>(.*?)</tr>", body, re.S).group(1)
        assert ("audit-wide" in classes.split()) == (head.count("<th") >= 9), classes
    assert any("audit-wide" in c for c, _ in tables)


def test_preload_imports_the_renderers_in_a_thread():
    code = ("import sys, threading\n"
            "from audit_kit import report\n"
            "assert 'weasyprint' not in sys.modules and 'nbconvert' not in sys.modules\n"
            "report.preload(); first = report._preloading; report.preload()\n"
            "assert report._preloading is first and first is not threading.current_thread()\n"
            "report.wait_preloaded()\n"
            "print(sorted(m for m in ('weasyprint', 'nbconvert', 'nbformat') if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "['nbconvert', 'nbformat', 'weasyprint']"
