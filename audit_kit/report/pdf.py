"""report.pdf: the same HTML as report.html, laid out on A4 by WeasyPrint with the print CSS.

The print rules live in templates/audit_report/report.css (`@media print`, `@page`): A4, the
cover alone on page 1, the client's name as a running header and page numbers on every later
page, and figures, tables and finding cards never split across pages. Only inline `data:`
resources are loaded — rendering never touches the network or the disk beyond report.html.
"""
from __future__ import annotations

import logging
from pathlib import Path


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


def render_pdf(html_path: Path, pdf_path: Path) -> Path:
    """Render report.html to an A4 PDF; returns the PDF path."""
    from weasyprint import HTML

    for name in ("weasyprint", "fontTools"):   # unsupported-CSS and font-subsetting chatter
        logging.getLogger(name).setLevel(logging.ERROR)
    HTML(filename=str(html_path), url_fetcher=_offline_fetcher()).write_pdf(str(pdf_path))
    return Path(pdf_path)
