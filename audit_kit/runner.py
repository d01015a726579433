"""Papermill orchestration: ingest once, run the module notebooks (two at a time), then the report.

A module whose tables are missing is skipped with a reason; a module that fails keeps its
executed notebook (with the failing cell) and does not stop the others. `run.json` records
versions, parameters, input file hashes, ledger totals and timings.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import pandas as pd

from . import kernels
from .config import AuditConfig, load_config
from .errors import ConfigError, InputError
from .findings import mark_counted, rank
from .ingest import ingest, save_tables
from .memory import release_memory
from .modules import MODULES, SUMMARY, ModuleSpec, heaviest_first, notebook_path
from .money import revenue_per_month, summary_metrics
from .progress import Lines, as_progress
from .provenance import input_hashes, versions

OK, SKIPPED, FAILED = "ok", "skipped", "failed"
PROGRESS_SECONDS = 0.5          # how often the modules' bar says which are running


@dataclass
class ModuleStatus:
    name: str
    notebook: str
    status: str                     # ok | skipped | failed
    seconds: float = 0.0
    missing_tables: list[str] = field(default_factory=list)
    error: str = ""
    reason: str = ""                # skipped with its tables present: the catalog key of why (NotEnoughData)


@dataclass
class RunResult:
    run_dir: Path
    modules: list[ModuleStatus]
    outputs: dict[str, str]          # kind -> path of each report file written
    timings: dict[str, float]

    @property
    def exit_code(self) -> int:
        return 1 if any(m.status == FAILED for m in self.modules) else 0


def new_run_dir(config: AuditConfig, out: str | Path | None = None) -> Path:
    """`--out DIR` as given, else `<client>/reports/<YYYYmmdd-HHMMSS>/`."""
    if out:
        return Path(out).resolve()
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return config.client_dir / "reports" / stamp


def prepare_run_dir(run_dir: Path) -> None:
    """Create the report folder and check that it can be written; InputError (exit 2) otherwise."""
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        probe = run_dir / ".write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise InputError(f"{run_dir}: cannot create or write the report folder ({reason}); choose another --out "
                         f"folder") from None


def select_modules(names: list[str] | None) -> list[ModuleSpec]:
    if not names:
        return list(MODULES.values())
    unknown = [n for n in names if n not in MODULES]
    if unknown:
        raise ConfigError(f"--modules: unknown module '{unknown[0]}'; expected some of: {', '.join(MODULES)}")
    return [MODULES[n] for n in MODULES if n in names]


KERNEL_BYTES = 167 * 2**20           # a warm kernel's RSS (measured)
INGEST_BYTES_PER_INPUT_BYTE = 1.75   # ingest's peak per byte of csv (345-branch network: 4.3 GB for 2.5 GB)


def warm_during_ingest(input_bytes: int, workers: int, memory_bytes: int | None = None) -> bool:
    """Whether the module kernels warm up while ingest reads (≈ 3 s of imports each, on the core ingest leaves
    idle) rather than at their first notebook: when ingest's expected peak (`INGEST_BYTES_PER_INPUT_BYTE` ×
    the inputs' bytes) and the warm kernels (`KERNEL_BYTES` each) take at most half of the machine's memory
    (`memory_bytes`, default: its physical memory). The run's peak is in the modules stage, where the kernels
    hold the tables (345-branch network: 6.2 GB at 78 s of a 132 s run, ingest having ended at 58 s), so a kernel
    warmed earlier does not raise it where memory is ample; where it is not, ingest keeps the memory to itself."""
    if memory_bytes is None:
        try:
            memory_bytes = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            return False
    return input_bytes * INGEST_BYTES_PER_INPUT_BYTE + workers * KERNEL_BYTES <= memory_bytes / 2


def module_pool(run_dir: Path, workers: int, warm_now: bool = True) -> ProcessPoolExecutor:
    """The module workers, started now: each starts a warm kernel (`kernels.start_worker`, its kernel's
    stderr to ``logs/kernels.log``) that runs the notebooks handed to it, the summary's too — at once
    (``warm_now``: it warms up while ingest reads; `run_audit` asks `warm_during_ingest`), or at its first
    notebook."""
    pool = ProcessPoolExecutor(max_workers=workers, initializer=kernels.start_worker,
                               initargs=(str(Path(run_dir) / "logs" / "kernels.log"), str(notebook_path(SUMMARY).parent),
                                         warm_now))
    pool.submit(os.getpid)            # the pool forks its workers on its first task
    return pool


def execute_module(spec: ModuleSpec, run_dir: str, config_path: str) -> ModuleStatus:
    """Run one notebook with papermill into <run>/notebooks/; never raises for a notebook error."""
    import papermill as pm

    started = time.perf_counter()
    out = Path(run_dir) / "notebooks" / Path(spec.notebook).name
    source = notebook_path(spec)
    out.parent.mkdir(parents=True, exist_ok=True)
    kernels.redirect_stderr(Path(run_dir) / "logs" / f"{spec.name}.log")     # the module's log, not the console
    # The executed notebook is written once at its end (or at its failing cell), not before and after every
    # cell: papermill's per-cell saves re-serialise the growing notebook ~50 times (≈ 0.3 s a notebook).
    try:
        pm.execute_notebook(str(source), str(out), parameters={"run_dir": run_dir, "config_path": config_path},
                            kernel_name=kernels.KERNEL_NAME, km=kernels.kernel(), progress_bar=False,
                            log_output=False, cwd=str(source.parent), request_save_on_cell_execute=False)
        status = ModuleStatus(spec.name, out.name, OK)
    except pm.PapermillExecutionError as exc:
        if exc.ename == "NotEnoughData":      # the data is there but too thin: said in a sentence, not a failure
            status = ModuleStatus(spec.name, out.name, SKIPPED, reason=str(exc.evalue).strip("'\""))
        else:
            status = ModuleStatus(spec.name, out.name, FAILED, error=f"{exc.ename}: {exc.evalue}"[:500])
    except Exception as exc:  # kernel died, notebook missing: still a module failure, not a run failure
        status = ModuleStatus(spec.name, out.name, FAILED, error=f"{type(exc).__name__}: {exc}"[:500])
    finally:
        kernels.release()
    status.seconds = round(time.perf_counter() - started, 2)
    return status


def merge_results(run_dir: Path, config: AuditConfig, statuses: list[ModuleStatus]) -> None:
    """Module outputs -> the run's metrics.json and findings.json (ranked), DESIGN §5. Across modules each
    rouble is counted once (`findings.mark_counted`): the counted total and the clinic's revenue per month
    are the ``summary.*`` money keys (`money.summary_metrics`)."""
    metrics, findings = {}, []
    for st in statuses:
        folder = run_dir / "modules" / st.name
        if st.status != OK or not folder.is_dir():
            continue
        if (folder / "metrics.json").is_file():
            metrics.update(json.loads((folder / "metrics.json").read_text(encoding="utf-8")))
        if (folder / "findings.json").is_file():
            findings.extend(json.loads((folder / "findings.json").read_text(encoding="utf-8")))
    findings = mark_counted(findings)
    invoices = run_dir / "tables" / "invoices.parquet"
    revenue = None
    if invoices.is_file():
        bounds = {name: config.period_bounds(name) for name in config.periods}
        revenue = revenue_per_month(pd.read_parquet(invoices, columns=["paid_at", "amount"]), bounds)
    for key, entry in summary_metrics(findings, revenue).items():
        metrics[key] = {"unit": entry["unit"], **{p: entry.get(p) for p in config.periods}}
    periods = {k: [a.date().isoformat(), b.date().isoformat()] for k, (a, b) in config.periods.items()}
    (run_dir / "metrics.json").write_text(json.dumps({"periods": periods, "metrics": metrics}, ensure_ascii=False,
                                                     indent=2, allow_nan=False), encoding="utf-8")
    (run_dir / "findings.json").write_text(json.dumps([f.to_dict() for f in rank(findings)], ensure_ascii=False,
                                                      indent=2, allow_nan=False), encoding="utf-8")


def write_modules_status(run_dir: Path, statuses: list[ModuleStatus]) -> None:
    (run_dir / "modules.json").write_text(json.dumps([asdict(s) for s in statuses], ensure_ascii=False, indent=2),
                                          encoding="utf-8")


def _ingest_and_modules(config: AuditConfig, selected: list[ModuleSpec], run_dir: Path, pool: ProcessPoolExecutor,
                        workers: int, show, timings: dict[str, float], core_free: Callable[[], None] = lambda: None):
    """Ingest into the run folder, then the runnable modules on the pool's workers (heaviest first).
    Returns the modules' statuses (in `selected` order), the ledger totals and the ingest result. `core_free`
    is called once a worker has no module left to run (the last ones still running), then after each module.
    """
    progress = show.line
    progress(f"ingest: {len(config.sources)} tables from {config.client_dir}")
    started = time.perf_counter()
    show.stage("ingest", sum(len(src.files) for src in config.sources.values()))
    try:
        result = ingest(config, on_file=show.file)
    finally:
        show.close()
    save_tables(result, run_dir)
    timings["ingest"] = round(time.perf_counter() - started, 2)
    totals = result.ledger.totals()
    progress(f"ingest: {totals['read']} rows read, {totals['used']} used, {totals['rejected']} rejected "
             f"({timings['ingest']} s)")
    for warning in result.ledger.warnings():
        progress(f"warning: {warning}")

    present = set(result.tables)
    result.tables.clear()    # in the run folder now; the workers read what they need from there
    release_memory()
    statuses: dict[str, ModuleStatus] = {}
    runnable = []
    for spec in selected:
        missing = spec.missing(present)
        if missing:
            statuses[spec.name] = ModuleStatus(spec.name, Path(spec.notebook).name, SKIPPED, missing_tables=missing)
        else:
            runnable.append(spec)
    total = len(runnable)
    started = time.perf_counter()
    done = 0
    futures = {pool.submit(execute_module, spec, str(run_dir), str(config.path)): spec
               for spec in heaviest_first(runnable)}
    progress(f"modules: running {total} ({', '.join(s.name for s in runnable)}) on {workers} workers")
    show.stage("modules", total)
    pending, order = set(futures), {f: i for i, f in enumerate(futures)}
    try:
        while pending:
            show.running([futures[f].name for f in futures if f.running()])
            finished, pending = wait(pending, timeout=PROGRESS_SECONDS, return_when=FIRST_COMPLETED)
            for future in sorted(finished, key=order.get):     # ties in the order submitted
                st = future.result()
                statuses[st.name] = st
                done += 1
                mark = st.status if st.status != FAILED else f"FAILED — {st.error.splitlines()[0] if st.error else ''}"
                progress(f"  [{done}/{total}] {st.notebook}: {mark} ({st.seconds} s)")
                show.advance(st.name if st.status == OK else f"{st.name} ({st.status})")
            if len(pending) < workers:
                core_free()
    finally:
        show.close()
    timings["modules"] = round(time.perf_counter() - started, 2)
    for st in statuses.values():
        if st.status == SKIPPED:
            why = f"no {', '.join(st.missing_tables)}" if st.missing_tables else f"not enough data ({st.reason})"
            progress(f"  skipped {st.notebook}: {why}")
    ordered = [statuses[s.name] for s in selected]
    write_modules_status(run_dir, ordered)
    merge_results(run_dir, config, ordered)
    return ordered, totals, result


def _on_daemon_thread(fn: Callable, *args) -> Future:
    """fn(*args) on a daemon thread; its result (or exception) in the future. A run that stops early (bad
    input: exit 2) does not wait for it, as it would for a ThreadPoolExecutor's thread."""
    future: Future = Future()

    def run() -> None:
        try:
            future.set_result(fn(*args))
        except BaseException as exc:  # noqa: BLE001 — raised where the result is asked for
            future.set_exception(exc)

    threading.Thread(target=run, name=getattr(fn, "__name__", "background"), daemon=True).start()
    return future


def run_audit(config_path: str | Path, out: str | Path | None = None, modules: list[str] | None = None,
              progress: Lines | Callable[[str], None] = print, workers: int | None = None) -> RunResult:
    """The whole audit. Raises ConfigError/InputError (exit 2) before any module runs. `progress` gets
    the plain lines (a callable), or is a `progress.Lines` / `progress.Bars` that also shows the files
    being read and the modules running."""
    from .report import build_report, preload as preload_report
    from .report.workbook import WorkbookJob

    show = as_progress(progress)
    progress = show.line
    t0 = time.perf_counter()
    started_at = dt.datetime.now().isoformat(timespec="seconds")
    timings: dict[str, float] = {}
    config = load_config(config_path)
    selected = select_modules(modules)
    run_dir = new_run_dir(config, out)
    prepare_run_dir(run_dir)

    workers = workers or max(1, min(2, os.cpu_count() or 1, len(selected)))
    input_bytes = sum(path.stat().st_size for src in config.sources.values() for path in src.paths)
    # started small, before any table is read; their kernels warm up while ingest runs when memory allows
    pool = module_pool(run_dir, workers, warm_now=warm_during_ingest(input_bytes, workers))
    workbook: WorkbookJob | None = None

    # The inputs' SHA-256 (run.json, the appendix) on a thread from the start: hashlib lets the GIL go, so the
    # 2.5 GB of a 345-branch network (≈ 4.5 s) are hashed beside ingest instead of before the report
    hashes_future = _on_daemon_thread(input_hashes, config)

    def report_ahead() -> None:
        """On a free core: the workbook's process forked (before any thread of ours imports: the hashes' thread
        is done long before at any size), then the renderers' imports on a thread (≈ 3 s)."""
        nonlocal workbook
        if workbook is None:
            hashes_future.result()
            workbook = WorkbookJob(run_dir, config)
        preload_report()

    try:        # a run that stops before its report stops the workbook's process too
        try:
            ordered, totals, result = _ingest_and_modules(config, selected, run_dir, pool, workers, show, timings,
                                                          core_free=report_ahead)
            if notebook_path(SUMMARY).is_file():
                started = time.perf_counter()
                summary = pool.submit(execute_module, SUMMARY, str(run_dir), str(config.path))
                # on the core the summary leaves idle: the modules' sheets of the workbook (it writes the workbook
                # during the report), and the renderers' imports if the modules left no core free
                report_ahead()
                workbook.prepare([s.name for s in ordered if s.status == OK])
                summary = summary.result()
                timings["summary"] = round(time.perf_counter() - started, 2)
                progress(f"  summary {SUMMARY.notebook}: {summary.status} ({summary.seconds} s)"
                         + (f" — {summary.error}" if summary.error else ""))
                ordered = [summary] + ordered
                write_modules_status(run_dir, ordered)
        finally:
            pool.shutdown(wait=False, cancel_futures=True)    # the workers stop their kernels while the report renders

        started = time.perf_counter()
        hashes = hashes_future.result()        # once: run.json and the appendix
        outputs = build_report(run_dir, config, ordered, timings, input_hashes=hashes, workbook=workbook)
    except BaseException:
        if workbook is not None:
            workbook.cancel()
        raise
    timings["report"] = round(time.perf_counter() - started, 2)
    timings["total"] = round(time.perf_counter() - t0, 2)
    outputs["metrics"] = str(run_dir / "metrics.json")
    outputs["findings"] = str(run_dir / "findings.json")
    outputs["run"] = str(run_dir / "run.json")
    packages = versions()
    run_info = {
        "kit_version": packages.get("audit-kit", "dev"),
        "started_at": started_at,
        "finished_at": dt.datetime.now().isoformat(timespec="seconds"),
        "versions": packages,
        "parameters": {"config": str(config.path), "out": str(run_dir),
                       "modules": [s.name for s in selected], **config.to_dict()},
        "inputs": {name: {"file": str(src.paths[0]), "sha256": hashes[name][0],
                          "files": [{"file": str(p), "sha256": h} for p, h in zip(src.paths, hashes[name])]}
                   for name, src in config.sources.items()},
        "ledger": {"totals": totals, "tables": result.ledger.summary()["tables"]},
        "modules": [asdict(s) for s in ordered],
        "timings_seconds": timings,
        "outputs": {k: str(Path(v).relative_to(run_dir)) for k, v in outputs.items()},
    }
    (run_dir / "run.json").write_text(json.dumps(run_info, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
    return RunResult(run_dir, ordered, outputs, timings)
