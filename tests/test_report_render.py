"""How the report renders fast and the same: classes instead of costly selectors, the renderers imported early."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from audit_kit.report.appendix import WIDE_TABLE_COLUMNS, ReportTable, retag_table, table_css, table_html
from audit_kit.report.fmt import Formatter
from audit_kit.report.html import HEADING_TAG, SECTION_TAG, cell_tags
from audit_kit.report.pdf import render_part as _render_part   # the real one, for a stand-in that fails

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


def _column_shares(html_text: str) -> dict[str, list[float]]:
    """Each table's column widths as shares of the table (%, one decimal), by its class, as WeasyPrint lays it out."""
    from weasyprint import HTML
    from weasyprint.formatting_structure import boxes

    shares, stack = {}, [p._page_box for p in HTML(string=html_text).render().pages]
    while stack:
        box = stack.pop()
        if isinstance(box, boxes.TableBox):
            total = sum(box.column_widths)
            shares[box.element.get("class")] = [round(100 * w / total, 1) for w in box.column_widths]
        stack.extend(getattr(box, "children", []))
    return shares


def test_definitions_and_input_files_have_fixed_columns():
    """The appendix's definitions and input files keep the widths the CSS sets, whatever their cells hold: a key
    written without a break (measured at every character under `break-all` by the automatic layout) widens nothing."""
    fmt = Formatter("en", "RUB")
    long_key = "quality." + "x" * 120
    definitions = pd.DataFrame({"metric": ["Rows read"], "formula": ["sum of rows"], "definition": ["short"],
                                "key": [long_key]})
    inputs = pd.DataFrame({"table": ["invoices"], "file": ["1c_payments_001.csv"], "sha256": ["ab" * 32]})
    page = (f"<style>{CSS.read_text(encoding='utf-8')}</style>"
            + table_html(ReportTable("d", "", definitions), fmt, "audit-definitions")
            + table_html(ReportTable("i", "", inputs), fmt, "audit-provenance-inputs"))
    shares = _column_shares(page)
    # the CSS widths are the cells' content boxes; their padding adds a little to each column
    assert shares["audit-table audit-definitions"] == pytest.approx([17, 24, 45, 14], abs=1.2)
    assert shares["audit-table audit-provenance-inputs"] == pytest.approx([19, 20, 61], abs=1.2)


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
    cells = re.split(r'(?=<div (?:id="[^"]*" )?class="jp-Cell )', text)[1:]
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


# -- the PDF laid out in two parts and joined under a frame ----------------------------------------

def _cell(markup: str, section: bool = False) -> str:
    tag = " celltag_audit-section" if section else ""
    return f'<div class="jp-Cell jp-CodeCell{tag}" id="c">\n<div>{markup}</div>\n</div>\n'


def _report(sections: dict[str, str]) -> str:
    css = CSS.read_text(encoding="utf-8")
    cells = [_cell('<section class="audit-cover"><p class="audit-cover-kicker">Audit</p>'
                   '<h1 class="audit-cover-client">Clinic X</h1></section>'),
             _cell('<nav class="audit-toc"><h2 class="audit-toc-title">Contents</h2><ol>'
                   + "".join(f'<li><a href="#{n}-title">{n}</a></li>' for n in sections) + "</ol></nav>")]
    for name, body in sections.items():
        cells.append(_cell(f'<section class="audit-module" id="section-{name}"></section>', section=True))
        cells.append(_cell(f'<h2 class="audit-h2" id="{name}-title">{name}</h2>'))
        cells.append(_cell(body))
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8" />\n<title>Audit — Clinic X</title>\n'
            f'<style type="text/css">\n{css}\n</style>\n</head>\n<body>\n<main class="audit-report">\n'
            + "".join(cells) + "</main>\n</body>\n</html>\n")


def _paragraphs(word: str, n: int) -> str:
    return "".join(f'<p class="audit-text">{word} {i}: ' + "text " * 60 + "</p>" for i in range(n))


def test_split_report_cuts_at_sections():
    from audit_kit.report.pdf import split_report

    text = _report({"a": "<p>one</p>", "b": "<p>two</p>", "c": "<p>three</p>"})
    split = split_report(text)
    assert len(split.front) == 2 and [len(s) for s in split.sections] == [3, 3, 3]
    assert split.names == ["section-a", "section-b", "section-c"]
    assert split.head + "".join(split.front) + "".join(c for s in split.sections for c in s) + split.tail == text
    assert split_report(text.replace(" celltag_audit-section", "")) is None      # no section: one part
    assert split_report("<html><body>no cells</body></html>") is None
    # nbconvert's lab template writes the cell's id anchor before its class (report.html is not re-serialised)
    anchored = text.replace('<div class="jp-Cell jp-CodeCell', '<div id="cell-id=1a" class="jp-Cell jp-CodeCell')
    split = split_report(anchored)
    assert [len(s) for s in split.sections] == [3, 3, 3] and split.front[0].startswith('<div id="cell-id=1a"')
    assert split.head + "".join(split.front) + "".join(c for s in split.sections for c in s) + split.tail == anchored


def test_balance_cuts_parts_of_equal_weight():
    from audit_kit.report.pdf import IMAGE_WEIGHT, balance, weight

    assert balance([10, 10, 10, 10], 2) == [0, 2]
    assert balance([30, 10, 10, 10], 2) == [0, 1]
    assert balance([10, 10, 10, 30], 2) == [0, 3]
    assert balance([1, 100], 2) == [0, 1]                 # every part gets a section
    assert balance([5], 2) == [0]                         # fewer sections than parts: fewer parts
    assert balance([1, 1, 1, 1, 1, 1], 3) == [0, 3, 4]    # the first part's share 1/2, the others 1/4
    assert weight(['<p class="x">abc</p>', '<img src="data:image/png;base64,AAAA">']) == 3 + IMAGE_WEIGHT


def _pages_text(pdf: Path) -> list[list[str]]:
    """Each page's lines of text, sorted (a joined page holds its running header and number before its content)."""
    from pypdf import PdfReader

    return [sorted(p.extract_text().splitlines()) for p in PdfReader(str(pdf)).pages]


def _outline(pdf: Path) -> list[tuple]:
    from pypdf import PdfReader

    reader = PdfReader(str(pdf))

    def walk(items, depth=0):
        for item in items:
            if isinstance(item, list):
                yield from walk(item, depth + 1)
            else:
                yield depth, item.title, reader.get_destination_page_number(item), round(float(item.top), 0)
    return list(walk(reader.outline))


def _links(pdf: Path) -> list[tuple]:
    from pypdf import PdfReader

    reader = PdfReader(str(pdf))
    out = []
    for number, page in enumerate(reader.pages):
        for annot in page.get("/Annots") or []:
            annot = annot.get_object()
            dest = annot["/Dest"] if "/Dest" in annot else annot["/A"]["/D"]
            if isinstance(dest, str):
                dest = reader.named_destinations[dest]
                target = (reader.get_destination_page_number(dest), round(float(dest.top), 0))
            else:
                target = (reader.get_page_number(dest[0].get_object()), round(float(dest[3]), 0))
            out.append((number, tuple(round(float(v), 0) for v in annot["/Rect"]), target))
    return out


def _is_joined(pdf: Path) -> bool:
    from pypdf import PdfReader

    return any("/AuditContent" in (p["/Resources"].get("/XObject") or {}) for p in PdfReader(str(pdf)).pages)


def test_two_parts_give_the_same_pdf_as_one(tmp_path, monkeypatch):
    """Page numbers continue across the parts (`i / N` on every page but the cover), the contents' page numbers,
    links and bookmarks point where they did, the text of every page is the same."""
    from audit_kit.report import pdf

    monkeypatch.setattr(pdf, "MIN_SPLIT_CHARS", 0)
    page = tmp_path / "report.html"
    page.write_text(_report({"alpha": _paragraphs("A", 40), "beta": _paragraphs("B", 25),
                             "gamma": _paragraphs("C", 30) + '<p>See <a href="#alpha-title">alpha</a>.</p>',
                             "delta": _paragraphs("D", 10)}), encoding="utf-8")
    timings: dict = {}
    one, two = pdf.render_pdf(page, tmp_path / "one.pdf", parts=1), pdf.render_pdf(page, tmp_path / "two.pdf", 2, timings)
    assert not _is_joined(one) and _is_joined(two)
    assert set(timings) == {"pdf_part1", "pdf_part2", "pdf_frame", "pdf_join"}
    texts = _pages_text(two)
    assert texts == _pages_text(one)
    assert len(texts) >= 8
    for number, lines in enumerate(texts[1:], start=2):
        text = "\n".join(lines)
        assert f"{number} / {len(texts)}" in text and "Clinic X" in text, number
    assert "Clinic X" in "\n".join(texts[0]) and not re.search(r"\b1 / \d+", "\n".join(texts[0]))
    outline = _outline(two)
    assert outline == _outline(one)
    assert [t for _, t, _, _ in outline] == ["Clinic X", "Contents", "alpha", "beta", "gamma", "delta"]
    links = _links(two)
    assert links == _links(one)
    toc = [link for link in links if link[0] == 1]
    assert sorted({target for _, _, (target, _) in toc}) == [outline[i][2] for i in range(2, 6)]   # each section
    inside = [link for link in links if link[0] != 1]            # a link inside a section of the second part
    assert len(inside) == 1 and inside[0][0] > outline[4][2] and inside[0][2][0] == outline[2][2]


def _fails_in_beta(document: str):
    if 'id="section-beta"' in document:
        raise ValueError("layout exploded")
    return _render_part(document)


def test_a_failed_part_is_a_clear_error(tmp_path, monkeypatch):
    import pytest

    from audit_kit.report import pdf

    monkeypatch.setattr(pdf, "MIN_SPLIT_CHARS", 0)
    page = tmp_path / "report.html"
    page.write_text(_report({"alpha": _paragraphs("A", 5), "beta": _paragraphs("B", 5)}), encoding="utf-8")
    monkeypatch.setattr(pdf, "render_part", _fails_in_beta)
    with pytest.raises(pdf.PdfPartError, match=r"part 2 of 2 \(sections section-beta … section-beta\) failed: "
                                               r"ValueError: layout exploded"):
        pdf.render_pdf(page, tmp_path / "out.pdf")
    assert not (tmp_path / "out.pdf").exists()


def test_demo_pdf_is_joined_from_two_parts_and_matches_one(demo_run, tmp_path):
    """The demo's report.pdf (two parts) against the same HTML laid out in one part."""
    from audit_kit.report.pdf import render_pdf

    joined = Path(demo_run.outputs["pdf"])
    assert _is_joined(joined)
    one = render_pdf(Path(demo_run.outputs["html"]), tmp_path / "one.pdf", parts=1)
    assert _pages_text(joined) == _pages_text(one)
    assert _outline(joined) == _outline(one)
    assert _links(joined) == _links(one)


def test_assign_gives_each_section_to_the_lightest_part():
    from audit_kit.report.pdf import assign

    assert assign([40, 25, 30, 10], 2) == [[0, 3], [1, 2]]     # 40 | 30, then 25 → 30's part, 10 → 40's part
    assert assign([10, 10, 10, 10], 2) == [[0, 2], [1, 3]]
    assert assign([5], 2) == [[0]]                             # fewer sections than parts: fewer parts
    assert assign([1, 2, 3], 1) == [[0, 1, 2]]


def test_page_order_puts_the_pages_of_interleaved_parts_back_in_report_order():
    from audit_kit.report.pdf import PartPages, PdfPartError, page_order

    def part(*pages):
        return PartPages(b"", 0.0, [dict.fromkeys(p, (0, 0, 1, 1)) for p in pages], [[] for _ in pages],
                         [[] for _ in pages])

    names = ["a", "b", "c", "d"]
    first = part(["a"], [], ["d", "x"])          # sections a (2 pages) and d (1 page)
    second = part(["b"], ["c"], [])              # sections b (1 page) and c (2 pages)
    assert page_order([[0, 3], [1, 2]], [first, second], names) == [(0, 0), (0, 1), (1, 0), (1, 1), (1, 2), (0, 2)]
    assert page_order([[0, 1], [2, 3]], [first, second], None) == [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2)]
    with pytest.raises(PdfPartError, match="section d not found in part 1"):
        page_order([[0, 3], [1, 2]], [part(["a"]), second], names)
