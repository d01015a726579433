"""The client report: assembly of module outputs into report.html (and the later formats)."""
from __future__ import annotations

from importlib import metadata
from pathlib import Path


def kit_version() -> str:
    try:
        return metadata.version("audit-kit")
    except metadata.PackageNotFoundError:
        return "dev"


def build_report(run_dir: Path, config, statuses: list, timings: dict) -> dict[str, str]:
    """Write the report files into run_dir; return {kind: path}."""
    from .html import assemble, render_html

    nb = assemble(run_dir, config, statuses, kit_version())
    html_path = render_html(nb, config, run_dir / "report.html")
    return {"html": str(html_path)}
