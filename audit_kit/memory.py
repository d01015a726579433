"""Memory handed back to the system by the processes of a run (the one home of that idea)."""
from __future__ import annotations


def release_memory(collect: bool = True) -> None:
    """Hand the memory of freed tables back to the system: the CLI process's after ingest, a warm kernel's
    after each notebook (`kernels.release`), so that the process tree stays small while the modules run.

    Freed DataFrames stay in the allocators' pools: measured on the 35-branch network, the CLI process
    kept 621 MB after ingest with its tables dropped and collected; Arrow's pool (`release_unused`)
    brought it to 262 MB and glibc's `malloc_trim` to 160 MB. `collect=False` skips the garbage collector's
    full pass (≈ 0.2 s with the kit loaded; ingest calls this after each table, whose frames refcounting frees)."""
    import ctypes
    import gc

    import pyarrow as pa

    if collect:
        gc.collect()
    pa.default_memory_pool().release_unused()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):      # not glibc (macOS, musl): the pools keep what they hold
        pass


# glibc's tunable (2.35 on; older versions ignore it) that madvises its mmapped blocks and heap for transparent huge
# pages, where the system's THP mode is "madvise" (Debian's default): a freed and re-allocated 50 MB column then costs
# 25 page faults, not 12,800. numpy already asks for huge pages for its own arrays; Arrow's system pool does not.
HUGE_PAGES = "glibc.malloc.hugetlb=1"


def use_pool(backend: str) -> None:
    """Arrow's allocations from here on in the pool of ``backend`` ("jemalloc", "mimalloc" or "system"), unless
    ARROW_DEFAULT_MEMORY_POOL chose one; arrays allocated before keep their own pool; a pyarrow built without that
    backend keeps its default (mimalloc). Which pool gives the smallest peak depends on how a process allocates,
    so each caller chooses, with its measurement:

    - ingest (`ingest.load`): "jemalloc". Its threads free and allocate large string buffers table after table,
      and jemalloc hands them back to the system sooner. Measured on the 345-branch network (two tables read at
      once, one run each, same load): peak RSS of ingest 4.31 GB with jemalloc, 4.71 GB with mimalloc, 4.73 GB
      with the system allocator.
    - a warm notebook kernel (`kernels.POOL`): "system" (glibc: a large buffer is its own mapping, unmapped when
      freed; with `HUGE_PAGES`). A module's numbers at 345 branches, each alone, two runs each: peak RSS RFM
      3.21–3.25 → 2.87–2.89 GB, schedule 3.09–3.11 → 2.88–2.90 GB, funnel 2.71 → 2.32–2.43 GB against mimalloc,
      in the same or less time (RFM 12.7–14.0 s either way, schedule 10.8–13.3 → 9.8 s)."""
    import os

    import pyarrow as pa

    if os.environ.get("ARROW_DEFAULT_MEMORY_POOL"):
        return
    pools = {"jemalloc": "jemalloc_memory_pool", "mimalloc": "mimalloc_memory_pool", "system": "system_memory_pool"}
    try:
        pa.set_memory_pool(getattr(pa, pools[backend])())
    except (NotImplementedError, AttributeError):      # a pyarrow built without it: its default stays
        pass
