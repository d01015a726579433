"""A warm Jupyter kernel per module worker: started once, when the worker starts (while ingest
runs), with the libraries the notebooks import already loaded, and reused by every notebook the
worker executes; after each notebook its namespace is reset (`get_ipython().reset(new_session=True)`:
no variable of one notebook reaches the next, execution counts start at 1) and its memory handed back.

Why: a fresh kernel costs about 1.5 s to start and 2–3 s to import pandas, pyarrow, matplotlib and
the kit, for each of the seven notebooks of an audit — a fixed cost that dominates a small clinic's
run and adds ~25 CPU-seconds to every run. A kernel that dies (e.g. out of memory) is replaced by
a fresh one for the next notebook. Outside a worker (no `start_worker`), `kernel()` returns None and
papermill starts a kernel of its own, as before.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping

from jupyter_core.utils import run_sync

from .memory import HUGE_PAGES

KERNEL_NAME = "python3"
# IPython's input history (an SQLite file written on a thread of each kernel) and its output cache (Out, _N: every
# cell's last value kept alive until the reset, whose flush collects garbage a second time) serve an interactive
# session; a notebook run by papermill uses neither. Results are still displayed.
KERNEL_ARGUMENTS = ["--HistoryManager.enabled=False", "--InteractiveShell.cache_size=0"]
STARTUP_SECONDS = 120
WARM_IMPORTS = ("import numpy, pandas, pyarrow, pyarrow.parquet, matplotlib, matplotlib.pyplot\n"
                "import audit_kit.notebook, audit_kit.modules, audit_kit.plots, audit_kit.report.fmt")
# Arrow's buffers in the kernel in the system allocator's pool (`memory.use_pool`), which glibc backs with
# transparent huge pages (`memory.HUGE_PAGES`, in the kernel's environment): a module's tables and their
# intermediates go back to the system as they are freed, and come back 2 MB a fault. The six notebooks at 345
# branches on two warm kernels (the modules stage alone, pairs alternated, one sitting): peak RSS of the tree
# 6.46 / 6.49 GB with Arrow's default (mimalloc) → 5.83 / 5.98 GB, wall 48.5 / 47.7 → 47.1 / 51.4 s; the system
# pool without huge pages peaked as low (5.82–6.07 GB) but took 53.0–61.0 s against mimalloc's 49.9–59.6 s.
POOL = "import audit_kit.memory as _memory; _memory.use_pool('system'); del _memory"
# The warm kernel's heap once its libraries are loaded, moved out of the garbage collector's sight (`gc.freeze`):
# every collection after it — the reset's after each notebook (`memory.release_memory`), and the automatic ones
# while a notebook makes thousands of chart and table objects — walks only what the notebooks made. With the
# libraries above loaded a full collection took 0.10 s, 0.00 s frozen; the modules themselves never go away.
# Run right after RESET, whose `release_memory` has just collected.
FREEZE = "import gc as _gc; _gc.freeze(); del _gc"
RESET = ("get_ipython().reset(new_session=True)\n"
         "import matplotlib.pyplot as _plt; _plt.close('all'); del _plt\n"
         "from audit_kit.memory import release_memory as _release; _release(); del _release")

_manager = None          # this worker's KernelManager
_cwd: str | None = None


def start_worker(log: str, cwd: str, warm_now: bool = True) -> None:
    """Process-pool initializer: the worker's stderr (and its kernel's) to `log`, then a warm kernel —
    now, or (``warm_now=False``) when the first notebook asks for it."""
    global _cwd
    redirect_stderr(Path(log))
    _cwd = cwd
    if warm_now:
        _start()
    from multiprocessing import util

    util.Finalize(None, shutdown, exitpriority=10)      # runs when the pool's worker exits


def redirect_stderr(log: Path) -> None:
    """This process's stderr (and so its kernel's chatter: ZMQ and library warnings) appended to `log`, not
    the console."""
    log.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 2)
    os.close(fd)


def _start() -> None:
    global _manager
    from jupyter_client.manager import AsyncKernelManager     # the kind nbclient watches for a dying kernel

    manager = AsyncKernelManager(kernel_name=KERNEL_NAME)
    run_sync(manager.start_kernel)(cwd=_cwd, extra_arguments=KERNEL_ARGUMENTS, env=kernel_environment(os.environ))
    try:
        # the names leave the namespace, the modules stay loaded
        _run(manager, "\n".join((POOL, WARM_IMPORTS, RESET, FREEZE)))
    except Exception:  # noqa: BLE001 — a kernel that cannot warm up is not used; papermill starts its own
        run_sync(manager.shutdown_kernel)(now=True)
        return
    _manager = manager


def kernel_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The warm kernel's environment: this process's, with glibc's allocator backing its large blocks by
    transparent huge pages (`memory.HUGE_PAGES`, added to GLIBC_TUNABLES unless a hugetlb tunable is already set)."""
    env = dict(environ)
    tunables = env.get("GLIBC_TUNABLES", "")
    if "glibc.malloc.hugetlb" not in tunables:
        env["GLIBC_TUNABLES"] = f"{tunables}:{HUGE_PAGES}" if tunables else HUGE_PAGES
    return env


def _run(manager, code: str) -> None:
    """Execute `code` in the kernel (not in its history), raising if it fails."""
    client = manager.blocking_client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=STARTUP_SECONDS)
        reply = client.execute_interactive(code, store_history=False, timeout=STARTUP_SECONDS,
                                           output_hook=lambda msg: None)
        if reply["content"]["status"] != "ok":
            raise RuntimeError(f"kernel: {reply['content'].get('ename')}: {reply['content'].get('evalue')}")
    finally:
        client.stop_channels()


def kernel():
    """This worker's kernel for papermill's ``km=``: alive, its namespace empty (reset when it started and by
    `release` after each notebook), replaced when it died; None outside a worker (or when no kernel could be
    started: papermill then starts its own)."""
    global _manager
    if _cwd is None:
        return None
    if _manager is not None and not run_sync(_manager.is_alive)():
        _manager = None
    if _manager is None:
        _start()
    return _manager


def release() -> None:
    """After each notebook (`runner.execute_module`): its namespace cleared and the memory handed back, so
    that the next notebook starts clean and an idle kernel stays small while the other worker, the summary
    or the report runs."""
    global _manager
    if _manager is None:
        return
    try:
        _run(_manager, RESET)
    except Exception:  # noqa: BLE001 — a dead or stuck kernel is replaced when the next notebook asks
        run_sync(_manager.shutdown_kernel)(now=True)
        _manager = None


def shutdown() -> None:
    global _manager
    if _manager is not None:
        run_sync(_manager.shutdown_kernel)(now=False)
        _manager = None
