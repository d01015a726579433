"""The module workers' warm kernels (`audit_kit.kernels`): one kernel reused across notebooks, its
namespace reset between them, a dead kernel replaced."""
from __future__ import annotations

import json
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import nbformat

from audit_kit import kernels


def notebook(folder: Path, name: str, *sources: str) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    params = nbformat.v4.new_code_cell("tag = ''")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, *(nbformat.v4.new_code_cell(src) for src in sources)]
    path = folder / f"{name}.ipynb"
    nbformat.write(nb, path)
    return path


def run_in_worker(paths: list[str]) -> list[dict]:
    """Executed in a pool worker: each notebook through papermill on the worker's kernel, released after."""
    import papermill as pm

    out = []
    for path in paths:
        km = kernels.kernel()
        try:
            nb = pm.execute_notebook(path, path.replace(".ipynb", ".out.ipynb"), kernel_name="python3", km=km,
                                     progress_bar=False, parameters={"tag": Path(path).stem})
            cells = [c for c in nb.cells if c.cell_type == "code"]
            text = "".join(o.get("text", "") for c in cells for o in c.outputs if o.output_type == "stream")
            out.append({"ok": True, "warm": km is not None, "counts": [c.execution_count for c in cells], "text": text})
        except Exception as exc:  # noqa: BLE001
            out.append({"ok": False, "warm": km is not None, "error": type(exc).__name__})
        finally:
            kernels.release()          # as `runner.execute_module` does after each notebook
    return out


def run(tmp_path: Path, paths: list[Path]) -> list[dict]:
    with ProcessPoolExecutor(max_workers=1, initializer=kernels.start_worker,
                             initargs=(str(tmp_path / "kernels.log"), str(tmp_path))) as pool:
        return pool.submit(run_in_worker, [str(p) for p in paths]).result()


def test_one_kernel_reused_with_a_clean_namespace(tmp_path):
    first = notebook(tmp_path, "first", "leak = 42\nimport os\nprint('pid', os.getpid())")
    second = notebook(tmp_path, "second", "import os\nprint('pid', os.getpid())\nprint('leak' in globals(), tag)")
    a, b = run(tmp_path, [first, second])
    assert a["ok"] and b["ok"] and a["warm"] and b["warm"]
    pid_a = a["text"].split()[1]
    assert b["text"].split("\n")[0] == f"pid {pid_a}"           # the same kernel process ...
    assert "False second" in b["text"]                         # ... without the first notebook's variables
    assert b["counts"][0] == 1 and b["counts"] == sorted(b["counts"])   # counts start again at 1
    assert json.loads(Path(str(second).replace(".ipynb", ".out.ipynb")).read_text())["cells"][0]["execution_count"] == 1


def test_a_dead_kernel_is_replaced(tmp_path):
    dies = notebook(tmp_path, "dies", "import os\nprint('pid', os.getpid(), flush=True)\nos._exit(1)")
    after = notebook(tmp_path, "after", "import os\nprint('pid', os.getpid())")
    a, b = run(tmp_path, [dies, after])
    assert not a["ok"] and a["error"] == "DeadKernelError"
    assert b["ok"] and b["warm"] and b["text"].startswith("pid ")


def test_outside_a_worker_papermill_starts_its_own_kernel():
    assert kernels.kernel() is None


def lazy_then_released(path: str) -> tuple[bool, bool, bool]:
    """In a worker started with warm_now=False: no kernel before the first notebook; one after; release()
    keeps it alive with an empty namespace."""
    before = kernels._manager is None
    km = kernels.kernel()
    import papermill as pm

    pm.execute_notebook(path, path.replace(".ipynb", ".out.ipynb"), kernel_name="python3", km=km, progress_bar=False)
    kernels.release()
    client = km.blocking_client()
    client.start_channels()
    client.wait_for_ready(timeout=60)
    seen = []
    client.execute_interactive("print('leak' in globals())", store_history=False, timeout=60,
                               output_hook=lambda msg: seen.append(msg["content"].get("text", "")))
    client.stop_channels()
    return before, kernels._manager is km, "".join(seen).strip() == "False"


def test_lazy_kernel_and_release(tmp_path):
    path = notebook(tmp_path, "lazy", "leak = 1")
    with ProcessPoolExecutor(max_workers=1, initializer=kernels.start_worker,
                             initargs=(str(tmp_path / "kernels.log"), str(tmp_path), False)) as pool:
        assert pool.submit(lazy_then_released, str(path)).result() == (True, True, True)


def test_the_kernel_keeps_no_history_or_output_cache_and_still_shows_results(tmp_path):
    probe = notebook(tmp_path, "probe", "ip = get_ipython()\nprint(ip.history_manager.enabled, ip.displayhook.do_full_cache)",
                     "import gc\nprint(gc.get_freeze_count() > 10000)",
                     "import pyarrow\nprint(pyarrow.default_memory_pool().backend_name)",
                     "import os\nprint(os.environ['GLIBC_TUNABLES'])",
                     "6 * 7")
    (a,) = run(tmp_path, [probe])
    # the warm libraries' objects are frozen: out of every collection (kernels.FREEZE); Arrow allocates with the
    # system allocator (kernels.POOL), with huge pages (memory.HUGE_PAGES)
    assert a["ok"] and a["warm"] and a["text"].split() == ["False", "0", "True", "system", "glibc.malloc.hugetlb=1"]
    cells = json.loads(Path(str(probe).replace(".ipynb", ".out.ipynb")).read_text())["cells"]
    assert cells[-1]["outputs"][0]["output_type"] == "execute_result" and cells[-1]["outputs"][0]["data"]["text/plain"] in ("42", ["42"])


def test_the_kernel_s_environment_asks_glibc_for_huge_pages_and_keeps_other_tunables():
    assert kernels.kernel_environment({"A": "1"}) == {"A": "1", "GLIBC_TUNABLES": "glibc.malloc.hugetlb=1"}
    assert kernels.kernel_environment({"GLIBC_TUNABLES": "glibc.malloc.arena_max=2"})["GLIBC_TUNABLES"] == \
        "glibc.malloc.arena_max=2:glibc.malloc.hugetlb=1"
    assert kernels.kernel_environment({"GLIBC_TUNABLES": "glibc.malloc.hugetlb=0"})["GLIBC_TUNABLES"] == \
        "glibc.malloc.hugetlb=0"          # the user's choice stands
