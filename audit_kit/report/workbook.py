"""tables.xlsx written in a process of its own (`WorkbookJob`), beside the notebooks and the other renderers.

The runner forks the job once a core is free at the end of the modules stage; when the summary notebook starts,
the process reads the modules' tables and makes their sheets (`xlsx.prepare_workbook`: cells, the long tables'
csv) on the core the summary leaves idle.
`build_report` then hands it the final list of modules and the appendix's tables (`finish`), and it writes
the workbook (`xlsx.build_workbook`) while the HTML and the PDF render. The prepared sheets never leave the
process (nothing large is pickled) and the report does not wait for them: on the 345-branch network the
sheets took ≈ 8 s against the summary's ≈ 4.5 s, and the report stage used to start only when both were done.
"""
from __future__ import annotations

import multiprocessing
import pickle
import time
import traceback
from pathlib import Path
from typing import Any, Iterable


class RemoteTraceback(Exception):
    """The workbook process's traceback, as the cause of the error raised here."""

    def __str__(self) -> str:
        return str(self.args[0])


class WorkbookJob:
    """tables.xlsx in a forked process, told what to do in two steps: `prepare` makes the given modules' sheets
    (`xlsx.prepare_workbook`; optional), `finish` gives the final modules (in report order) and the appendix's
    tables, whereupon it writes the workbook (`xlsx.build_workbook`, into ``<run>/tables.xlsx``). `result`
    gives (path, seconds writing, seconds made ahead or None) or raises the process's error.

    Fork it before a thread of this process starts importing (the runner: before the renderers' imports): a
    child forked while another thread holds an import lock may wait on it for ever."""

    def __init__(self, run_dir: Path, config):
        context = multiprocessing.get_context("fork")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_work, args=(child, Path(run_dir), config), name="tables.xlsx",
                                        daemon=True)
        self._process.start()
        child.close()

    def prepare(self, modules: Iterable[str]) -> None:
        """Make these modules' sheets now (their tables are final)."""
        self._send(("prepare", list(modules)))

    def finish(self, modules: Iterable[str], appendix_tables: Iterable[Any]) -> None:
        """The modules whose tables the workbook holds (in report order) and the appendix's tables: write it."""
        self._send(("finish", list(modules), list(appendix_tables)))

    def _send(self, message: tuple) -> None:
        try:
            self._conn.send(message)
        except OSError:       # the process is gone: `result` says so, and the report goes on without the workbook
            pass

    def result(self) -> tuple[Path, float, float | None]:
        try:
            message = self._conn.recv()
        except (EOFError, OSError):     # closed, or reset when it died with our messages unread
            self._process.join()
            raise RuntimeError(f"the workbook's process ended without writing it (exit code {self._process.exitcode})")
        finally:
            self._conn.close()
        self._process.join()
        if message[0] == "error":
            _, error, remote = message
            raise error from RemoteTraceback(remote)
        _, path, seconds, ahead = message
        return Path(path), seconds, ahead

    def cancel(self) -> None:
        """Stop the process (a run that ends before its report)."""
        if self._process.is_alive():
            self._process.terminate()
        self._process.join()
        self._conn.close()


def _work(conn, run_dir: Path, config) -> None:
    from .xlsx import build_workbook, prepare_workbook

    out_path = run_dir / "tables.xlsx"
    prepared, ahead = None, None
    try:
        message = conn.recv()
        if message[0] == "prepare":
            started = time.perf_counter()
            try:
                prepared = prepare_workbook(run_dir, config, message[1], out_path)
                ahead = time.perf_counter() - started
            except Exception:  # noqa: BLE001 — build_workbook meets the same error and reports it
                prepared = None
            message = conn.recv()
    except EOFError:          # the run ended before its report
        return
    _, final_modules, appendix_tables = message
    started = time.perf_counter()
    try:
        path = build_workbook(run_dir, config, final_modules, appendix_tables, out_path, prepared=prepared)
        conn.send(("ok", str(path), time.perf_counter() - started, ahead))
    except BaseException as exc:  # noqa: BLE001 — reported where the result is asked for
        remote = traceback.format_exc()
        try:
            pickle.dumps(exc)
        except Exception:  # noqa: BLE001
            exc = RuntimeError(f"{type(exc).__name__}: {exc}")
        conn.send(("error", exc, remote))
    finally:
        conn.close()
