"""report.pdf: the same HTML as report.html, laid out on A4 by WeasyPrint with the print CSS.

The print rules live in templates/audit_report/report.css (`@media print`, `@page`): A4, the
cover alone on page 1, the client's name as a running header and page numbers on every later
page, and figures, tables and finding cards never split across pages. Only inline `data:`
resources are loaded — rendering never touches the network or the disk beyond report.html.

Two cores (`render_pdf(..., parts=2)`, the default): WeasyPrint lays a document out on one core, and
each module starts on a new page, so the report's sections are laid out as two parts at once — the
second part in a worker process; sections given to the parts heaviest first (`assign`), their pages put back in
report order (`page_order`) — and joined (`split_report`, `frame_html`, `join_pages`). The parts
carry no running header, page number or outline; a *frame* document — the cover, the table of
contents and one empty page per content page, holding an invisible marker at every anchor,
link and heading of the parts — is laid out afterwards by WeasyPrint with the report's own CSS,
so the page numbers, the running header, the contents' page numbers, the links and the bookmarks
are WeasyPrint's own; each content page (no background of its own) is then drawn over its frame page. The demo's PDF took
13.6 s on one core; measured figures are in the README.
"""
from __future__ import annotations

import html
import io
import logging
import re
import time
from concurrent.futures import Executor, ProcessPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass, field
from itertools import accumulate
from pathlib import Path

# each notebook cell of the report, a child of <main> (nbconvert's lab template puts the cell's id anchor first)
CELL_START_RE = re.compile(r'<div (?:id="[^"]*" )?class="jp-Cell ')
SECTION_CLASS = "celltag_audit-section"          # a cell that starts a new page (`html.SECTION_TAG`)
DATA_URI_RE = re.compile(r"data:[^\"')]+")
TAG_RE = re.compile(r"<[^>]*>")
IMAGE_WEIGHT = 800                               # an image's cost, in characters of text, when parts are balanced
MIN_SPLIT_CHARS = 60_000                         # smaller reports (tests' tiny clinics) render in one part

# the parts: no margin boxes (the frame draws them), no background (they are drawn over the frame's white page); a
# blank first page (dropped), so that no content page is `:first`
PART_CSS = ("@page { @top-left { content: none; } @top-right { content: none; } @bottom-right { content: none; } }"
            " html, body, .audit-report { background: none !important; } .audit-part-lead { height: 0; }")
# the frame: one empty page per content page, invisible markers
FRAME_CSS = (".audit-frame-page { break-before: page; position: relative; height: 0; margin: 0; padding: 0; }"
             " .audit-frame-page > * { position: absolute; display: block; width: 0; height: 0; overflow: hidden;"
             " visibility: hidden; bookmark-level: none; }"
             " .audit-frame-page > a.audit-frame-link { visibility: visible; }"
             " .audit-frame-page > .audit-frame-bookmark { bookmark-label: attr(data-label); }")


class PdfPartError(RuntimeError):
    """A part of the PDF could not be rendered (the message names the part and its sections)."""


def _offline_fetcher():
    """A URL fetcher that resolves inline data: URLs only (the report is self-contained)."""
    try:
        from weasyprint.urls import URLFetcher   # WeasyPrint ≥ 66
    except ImportError:  # older WeasyPrint: a plain function
        from weasyprint import default_url_fetcher

        def fetch(url: str, *args, **kwargs):
            if not url.startswith("data:"):
                raise ValueError(f"external resource refused: {url[:80]}")
            return default_url_fetcher(url, *args, **kwargs)
        return fetch
    return URLFetcher(allowed_protocols={"data"})


def _quiet() -> None:
    for name in ("weasyprint", "fontTools"):   # unsupported-CSS and font-subsetting chatter
        logging.getLogger(name).setLevel(logging.ERROR)


# -- splitting the report ----------------------------------------------------------------------

@dataclass
class SplitReport:
    """report.html cut at its cells: the text before the first cell (head, styles), the cells before the first
    section (cover, contents), the sections (each a list of cells) and the text after the last cell."""

    head: str
    front: list[str]
    sections: list[list[str]]
    tail: str
    names: list[str] = field(default_factory=list)    # each section's id ("section N" where it has none)
    named: bool = False                                # every section has an id

    def document(self, cells: list[str], css: str, lead: str = "") -> str:
        """A document with the report's head and `css` added to it, `lead` markup and then `cells`."""
        head = self.head.replace("</head>", f"<style>{css}</style>\n</head>", 1)
        return head + lead + "".join(cells) + self.tail


def split_report(text: str) -> SplitReport | None:
    """report.html's cells (`SplitReport`), or None when it has no cells or no section."""
    end = text.rfind("</main>")
    starts = [m.start() for m in CELL_START_RE.finditer(text, 0, max(end, 0))]
    if not starts:
        return None
    first = starts[0]
    cells = [text[a:b] for a, b in zip(starts, starts[1:] + [end])]
    front, sections = [], []
    for cell in cells:
        if SECTION_CLASS in cell[:cell.index(">")]:
            sections.append([cell])
        elif sections:
            sections[-1].append(cell)
        else:
            front.append(cell)
    if not sections:
        return None
    found = [re.search(r'<section[^>]*\bid="([^"]*)"', s[0]) for s in sections]
    names = [m.group(1) if m else f"section {i + 1}" for i, m in enumerate(found)]
    return SplitReport(text[:first], front, sections, text[end:], names, all(found) and len(set(names)) == len(names))


def weight(cells: list[str]) -> int:
    """A section's layout cost, estimated: the characters of its text plus `IMAGE_WEIGHT` per image (on the demo
    WeasyPrint took ≈ 0.1 s per 1,000 characters, within 15 % in every section but one, and ≈ 0.08 s per chart)."""
    markup = "".join(cells)
    return len(TAG_RE.sub("", DATA_URI_RE.sub("", markup))) + IMAGE_WEIGHT * markup.count("data:image/")


def balance(weights: list[int], parts: int, first_share: float = 0.5) -> list[int]:
    """Where to cut consecutive sections of `weights` into `parts` parts of about equal weight (the first part's
    share of the whole `first_share`, the others equal): the index of each part's first section, 0 first. Every
    part gets at least one section (fewer parts when there are fewer sections)."""
    n = len(weights)
    parts = max(1, min(parts, n))
    if parts == 1:
        return [0]
    shares = [first_share] + [(1 - first_share) / (parts - 1)] * (parts - 1)
    total, cum = sum(weights), list(accumulate(weights))
    cuts, goal = [0], 0.0
    for k in range(parts - 1):
        goal += shares[k] * total
        options = range(cuts[-1] + 1, n - (parts - 2 - k))
        cuts.append(min(options, key=lambda c: abs(cum[c - 1] - goal)))
    return cuts


def assign(weights: list[int], parts: int) -> list[list[int]]:
    """Sections to parts: each section, heaviest first, to the part with the least weight so far (the longest-
    processing-time rule; ties to the earlier part); each part's sections in report order, parts in the order
    of their first section. The parts need not be runs of consecutive sections (`page_order` puts the pages back
    in report order): on the 35-branch network the best cut into two runs left one part ≈ 13 s against ≈ 11 s,
    the rule ≈ 12.3 against 11.8 (the sections' own seconds). Fewer parts when there are fewer sections."""
    count = max(1, min(parts, len(weights)))
    loads, groups = [0] * count, [[] for _ in range(count)]
    for j in sorted(range(len(weights)), key=lambda j: -weights[j]):
        k = min(range(len(loads)), key=loads.__getitem__)
        groups[k].append(j)
        loads[k] += weights[j]
    return sorted((sorted(g) for g in groups if g), key=lambda g: g[0])


# -- rendering a part --------------------------------------------------------------------------

@dataclass
class PartPages:
    """A rendered part: its PDF and, per content page, the anchors, links and bookmarks WeasyPrint found there."""

    pdf: bytes
    seconds: float               # laying it out and writing it, in its process
    anchors: list[dict]          # name -> (x1, y1, x2, y2), CSS px from the page's top-left
    links: list[list]            # (type, target, (x1, y1, x2, y2))
    bookmarks: list[list]        # (level, label, (x, y), state)


def render_part(document: str) -> PartPages:
    """Lay out one part (`SplitReport.document` with `PART_CSS` and a lead) and write its PDF; its blank first page
    is left out of the page data (and of the join)."""
    from weasyprint import HTML

    _quiet()
    started = time.perf_counter()
    doc = HTML(string=document, url_fetcher=_offline_fetcher()).render()
    pages = doc.pages[1:]
    pdf = doc.write_pdf()
    return PartPages(pdf, round(time.perf_counter() - started, 2),
                     [dict(p.anchors) for p in pages],
                     [[(kind, target, tuple(rect)) for kind, target, rect, _box in p.links] for p in pages],
                     [[(level, label, tuple(point), state) for level, label, point, state in p.bookmarks]
                      for p in pages])


def _part_or_error(future, number: int, parts: int, names: list[str]) -> PartPages:
    try:
        return future.result() if hasattr(future, "result") else future()
    except Exception as exc:  # noqa: BLE001 — re-raised with the part it came from
        raise PdfPartError(f"report.pdf: part {number} of {parts} (sections {names[0]} … {names[-1]}) "
                           f"failed: {type(exc).__name__}: {exc}") from exc


# -- the frame and the join --------------------------------------------------------------------

def page_order(groups: list[list[int]], parts: list[PartPages], names: list[str] | None) -> list[tuple[int, int]]:
    """The content pages in report order, as (part, page of the part): each section's pages run from the page
    holding its section marker (`names`, the sections' ids: the first element of its first page) to the next
    section's of the same part. Without `names` (a section without an id; the groups are then runs of
    consecutive sections), part after part."""
    if names is None:
        return [(i, n) for i, part in enumerate(parts) for n in range(len(part.anchors))]
    where = {}
    for i, group in enumerate(groups):
        for j in group:
            page = next((n for n, anchors in enumerate(parts[i].anchors) if names[j] in anchors), None)
            if page is None:
                raise PdfPartError(f"report.pdf: section {names[j]} not found in part {i + 1}")
            where[j] = (i, page)
    order = []
    for j in sorted(where):
        i, start = where[j]
        ends = [where[k][1] for k in groups[i] if k > j]
        order.extend((i, n) for n in range(start, ends[0] if ends else len(parts[i].anchors)))
    return order


def _px(v: float) -> str:
    return f"{v:.3f}px"


def frame_html(split: SplitReport, parts: list[PartPages], origin: tuple[float, float],
               order: list[tuple[int, int]]) -> str:
    """The frame document: the report's cover and contents, then one empty page per content page of the parts (in
    `order`, `page_order`), each holding an invisible marker at every anchor (`id`), link (`a href`) and bookmark
    (heading level and label) of that page, placed at the same point (`origin`: the content box's top-left on a
    page)."""
    ox, oy = origin
    pages = []
    for i, n in order:
        anchors, links, bookmarks = parts[i].anchors[n], parts[i].links[n], parts[i].bookmarks[n]
        marks = []
        for name, (x, y, x2, y2) in anchors.items():
            marks.append(f'<span id="{html.escape(name)}" style="left:{_px(x - ox)};top:{_px(y - oy)};'
                         f'width:{_px(x2 - x)};height:{_px(y2 - y)}"></span>')
        for kind, target, (x, y, x2, y2) in links:
            if kind not in ("internal", "external"):
                continue
            href = "#" + target if kind == "internal" else target
            marks.append(f'<a class="audit-frame-link" href="{html.escape(href)}" style="left:{_px(x - ox)};'
                         f'top:{_px(y - oy)};width:{_px(x2 - x)};height:{_px(y2 - y)}"></a>')
        for level, label, (x, y), state in bookmarks:
            marks.append(f'<span class="audit-frame-bookmark" data-label="{html.escape(label)}" '
                         f'style="left:{_px(x - ox)};top:{_px(y - oy)};bookmark-level:{int(level)};'
                         f'bookmark-state:{"closed" if state == "closed" else "open"}"></span>')
        pages.append(f'<div class="audit-frame-page">{"".join(marks)}</div>')
    return split.document(split.front + pages, FRAME_CSS)


def join_pages(frame_pdf: bytes, contents: list[bytes], order: list[tuple[int, int]], first: int, out: Path) -> None:
    """Draw each content page (the parts' PDFs, their blank first page left out; in `order`, (part, page) pairs
    from `page_order`) over frame page `first`, `first + 1`, … and write the result to `out`.

    Each content page becomes a form XObject (its content stream and resources copied as they are, still
    compressed) drawn by one `Do` after the frame page's own content. Hand-written because pypdf's
    `merge_page` parses and rewrites both content streams: 4.7 s for the demo's 46 pages and a 5 MB file."""
    from pypdf import PdfReader, PdfWriter
    from pypdf.generic import ArrayObject, DecodedStreamObject, DictionaryObject, FloatObject, NameObject

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(frame_pdf)))
    readers = [PdfReader(io.BytesIO(data)) for data in contents]
    number = first
    for i, n in order:
        page = readers[i].pages[n + 1]
        target = writer.pages[number]
        raw = page.raw_get("/Contents")
        if isinstance(raw.get_object(), ArrayObject):      # several streams: one, decoded
            stream = DecodedStreamObject()
            stream.set_data(b"\n".join(s.get_object().get_data() for s in raw.get_object()))
            form = writer._add_object(stream.flate_encode()).get_object()   # noqa: SLF001 — rare path
        else:
            form = raw.clone(writer).get_object()
        form[NameObject("/Type")] = NameObject("/XObject")
        form[NameObject("/Subtype")] = NameObject("/Form")
        form[NameObject("/BBox")] = ArrayObject(FloatObject(float(v)) for v in page.mediabox)
        form[NameObject("/Resources")] = page.raw_get("/Resources").clone(writer)
        resources = DictionaryObject(target["/Resources"].get_object())
        xobjects = DictionaryObject(resources["/XObject"].get_object()) if "/XObject" in resources else DictionaryObject()
        xobjects[NameObject("/AuditContent")] = form.indirect_reference
        resources[NameObject("/XObject")] = xobjects
        target[NameObject("/Resources")] = resources
        own = target.get_contents()
        stream = DecodedStreamObject()
        stream.set_data(b"q\n" + (own.get_data() if own is not None else b"") + b"\nQ\nq /AuditContent Do Q\n")
        target.replace_contents(stream)
        number += 1
    if number != len(writer.pages):
        raise PdfPartError(f"report.pdf: the frame has {len(writer.pages)} pages, the parts fill {number}")
    with open(out, "wb") as fh:
        writer.write(fh)


def part_pool(workers: int = 1) -> ProcessPoolExecutor:
    """Worker processes for the PDF's later parts, started now (`render_pdf`'s `pool`). The report stage starts them
    before it starts the workbook's process, so that they are forked while this process runs no other thread."""
    pool = ProcessPoolExecutor(max_workers=max(1, workers))
    for future in [pool.submit(int) for _ in range(max(1, workers))]:
        future.result()
    return pool


def _origin(parts: list[PartPages], names: list[list[str]]) -> tuple[float, float]:
    """The content box's top-left on a page: where each part's first section marker (`<section id=...>`, the first
    element of its first page) lies."""
    points = {tuple(parts[i].anchors[0][names[i][0]][:2]) for i in range(len(parts)) if names[i][0] in parts[i].anchors[0]}
    if len(points) != 1:
        raise PdfPartError(f"report.pdf: the parts' first sections start at different points: {sorted(points)}")
    return points.pop()


def render_pdf(html_path: Path, pdf_path: Path, parts: int = 2, timings: dict | None = None,
               pool: Executor | None = None) -> Path:
    """Render report.html to an A4 PDF; returns the PDF path.

    `parts` > 1: the sections laid out in that many parts at once (the first here, the others in worker processes)
    and joined under a frame (see the module's docstring); a report too small to pay for it, or without sections,
    renders in one part. A part that fails raises `PdfPartError` naming it. `timings` (when given) gets the
    seconds of each part (`pdf_part1`, …, each in its own process), of the frame and of the join. `pool`: the
    worker processes for the parts after the first (`part_pool`), else started here."""
    from weasyprint import HTML

    _quiet()
    text = Path(html_path).read_text(encoding="utf-8")
    split = split_report(text) if parts > 1 and len(text) >= MIN_SPLIT_CHARS else None
    if split is None or len(split.sections) < 2:
        HTML(filename=str(html_path), url_fetcher=_offline_fetcher()).write_pdf(str(pdf_path))
        return Path(pdf_path)
    weights = [weight(s) for s in split.sections]
    if split.named:          # any grouping: each section's pages are found by its id
        groups = assign(weights, parts)
    else:                    # runs of consecutive sections, their pages in order
        cuts = balance(weights, parts, first_share=0.5) + [len(split.sections)]
        groups = [list(range(a, b)) for a, b in zip(cuts, cuts[1:])]
    documents = [split.document([c for i in g for c in split.sections[i]], PART_CSS, '<div class="audit-part-lead"></div>')
                 for g in groups]
    names = [[split.names[i] for i in g] for g in groups]
    with (nullcontext(pool) if pool is not None else part_pool(len(groups) - 1)) as workers:
        futures = [workers.submit(render_part, d) for d in documents[1:]]
        first = _part_or_error(lambda: render_part(documents[0]), 1, len(groups), names[0])
        rendered = [first] + [_part_or_error(f, i + 2, len(groups), names[i + 1]) for i, f in enumerate(futures)]
    started = time.perf_counter()
    order = page_order(groups, rendered, split.names if split.named else None)
    frame = HTML(string=frame_html(split, rendered, _origin(rendered, names), order),
                 url_fetcher=_offline_fetcher()).render()
    frame_pdf = frame.write_pdf()
    framed = time.perf_counter()
    content_pages = sum(len(p.anchors) for p in rendered)
    join_pages(frame_pdf, [p.pdf for p in rendered], order, len(frame.pages) - content_pages, Path(pdf_path))
    if timings is not None:
        timings.update({f"pdf_part{i + 1}": p.seconds for i, p in enumerate(rendered)})
        timings.update(pdf_frame=round(framed - started, 2), pdf_join=round(time.perf_counter() - framed, 2))
    return Path(pdf_path)
