"""The client report: module outputs assembled into report.html, report.pdf and tables.xlsx.

`build_report` runs after the summary notebook: it adds the summary's own metrics (NPS, CSAT) to
the run's metrics.json, builds the appendix (row ledger, definitions, provenance), renders the
HTML with nbconvert, the PDF with WeasyPrint and the workbook with XlsxWriter, and records each
step's seconds in `timings` (the runner writes them to run.json).
"""
from __future__ import annotations

import json
import os
import sys
import threading
import time
import traceback
from contextlib import nullcontext
from importlib import metadata
from pathlib import Path

from .workbook import WorkbookJob


_preloading: threading.Thread | None = None


def _import_renderers() -> None:
    try:
        import nbconvert  # noqa: F401 — with nbformat and jsonschema: ≈ 1 s of imports (`cli.SKIPPED_IMPORTS`)
        import weasyprint  # noqa: F401 — with its text layer (cffi declarations parsed at import): ≈ 1 s
        import weasyprint.text.fonts  # noqa: F401
    except Exception:  # noqa: BLE001 — a renderer that cannot be imported fails where it is used, as before
        pass


def preload() -> None:
    """Import the HTML and PDF renderers in a background thread of this process (idempotent).

    The runner calls it while the summary notebook runs on one worker and the other core is idle: the report
    stage then starts with nbconvert and WeasyPrint imported (≈ 2.6 s of the demo's report stage before).
    `build_report` waits for the thread (`wait_preloaded`) before it imports them itself."""
    global _preloading
    if _preloading is None:
        _preloading = threading.Thread(target=_import_renderers, name="report-preload", daemon=True)
        _preloading.start()


def wait_preloaded() -> None:
    """Wait for `preload`'s imports, if started (an import error surfaces where the renderer is imported)."""
    if _preloading is not None:
        _preloading.join()


def kit_version() -> str:
    try:
        return metadata.version("audit-kit")
    except metadata.PackageNotFoundError:
        return "dev"


def merge_summary_metrics(run_dir: Path, summary_ok: bool = True) -> dict:
    """Add the summary module's metrics (summary.nps, summary.csat) to `<run>/metrics.json`
    (additively: keys already there are kept) when the summary ran this time; return the merged
    file's content."""
    path = Path(run_dir) / "metrics.json"
    data = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {"periods": {}, "metrics": {}}
    own = Path(run_dir) / "modules" / "summary" / "metrics.json"
    if summary_ok and own.is_file():
        extra = json.loads(own.read_text(encoding="utf-8"))
        added = {k: v for k, v in extra.items() if k not in data["metrics"]}
        if added:
            data["metrics"].update(added)
            path.write_text(json.dumps(data, ensure_ascii=False, indent=2, allow_nan=False), encoding="utf-8")
    return data


def _failed(run_dir: Path, kind: str, exc: Exception) -> None:
    """A report format that could not be written: the traceback to logs/report.log, one line to stderr."""
    log = Path(run_dir) / "logs" / "report.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a", encoding="utf-8") as fh:
        fh.write(f"{kind}: {''.join(traceback.format_exception(exc))}\n")
    print(f"warning: {kind} not written: {type(exc).__name__}: {exc} (details in {log})", file=sys.stderr)


def build_report(run_dir: Path, config, statuses: list, timings: dict,
                 input_hashes: dict[str, str] | None = None, workbook: WorkbookJob | None = None) -> dict[str, str]:
    """Write report.html, report.pdf and tables.xlsx into run_dir; return {kind: path} of those written.

    `input_hashes` (table -> SHA-256 of its file) when the caller has them; else they are computed.

    The workbook is written in its own process while the HTML and the PDF render (two cores: the
    report stage takes the longer of the two, not their sum); the PDF's sections are laid out in two
    parts at once, the second in another worker (`pdf.render_pdf`). Adds `report_html`, `report_pdf` and
    `report_xlsx` seconds to `timings` (the workbook's own, overlapping the other two; `report_xlsx_ahead`:
    its sheets made before, when `workbook` prepared them). A PDF or workbook that fails is logged and left
    out; the HTML report is always written. `workbook`: the job the runner started before the report
    (`workbook.WorkbookJob`, its sheets perhaps made ahead); without one, it is started here.
    """
    from .appendix import appendix_html, build_appendix
    from .html import assemble, render_html
    from .pdf import part_pool

    run_dir = Path(run_dir)
    started = time.perf_counter()
    wait_preloaded()
    summary_ok = any(st.name == "summary" and st.status == "ok" for st in statuses)
    metrics = merge_summary_metrics(run_dir, summary_ok)["metrics"]
    version = kit_version()
    appendix = build_appendix(run_dir, config, list(metrics), version, timings, input_hashes)
    modules = [st.name for st in statuses if st.status == "ok"]
    parts = min(2, os.cpu_count() or 1)     # the PDF's parts; the later ones' worker forked before the workbook's
    with part_pool(parts - 1) if parts > 1 else nullcontext() as pdf_pool:
        xlsx_started = time.perf_counter()
        if workbook is None:                      # the workbook on the other core while HTML and PDF render
            workbook = WorkbookJob(run_dir, config)
        workbook.finish(modules, appendix.tables)
        nb = assemble(run_dir, config, statuses, version, appendix_html(appendix, config))
        html_path = render_html(nb, config, run_dir / "report.html")
        outputs = {"html": str(html_path)}
        timings["report_html"] = round(time.perf_counter() - started, 2)

        started = time.perf_counter()
        try:
            from .pdf import render_pdf

            outputs["pdf"] = str(render_pdf(html_path, run_dir / "report.pdf", parts=parts, pool=pdf_pool))
        except Exception as exc:  # noqa: BLE001 — the HTML and the workbook still stand
            _failed(run_dir, "report.pdf", exc)
        timings["report_pdf"] = round(time.perf_counter() - started, 2)

        try:
            path, seconds, ahead = workbook.result()
            outputs["xlsx"] = str(path)
            if ahead is not None:
                timings["report_xlsx_ahead"] = round(ahead, 2)
        except Exception as exc:  # noqa: BLE001
            _failed(run_dir, "tables.xlsx", exc)
            seconds = time.perf_counter() - xlsx_started
        timings["report_xlsx"] = round(seconds, 2)
    return outputs
