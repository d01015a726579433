"""The module stage of `audit-kit run` alone, on a run folder that is already ingested: the six module
notebooks on two workers, heaviest first (as the runner hands them out), the results merged, then the
summary notebook — through papermill on the workers' warm kernels (`audit_kit.kernels`), as a run executes
them; here the kernels' warm-up counts in the modules' seconds (a run does it while ingest reads).

Prints, best of --repeat runs: seconds per notebook, the modules' wall time, the summary's, and the peak
memory of the whole process tree during each (RSS summed and PSS summed over the workers and their
kernels, polled every 0.2 s). Ingest and the report are left out: they are measured by bench_ingest.py,
bench_xlsx.py and, for the whole run, bench_audit.py.

Usage: python benchmarks/bench_modules.py [RUN_DIR CONFIG] [--repeat N] [--out DIR]
  RUN_DIR  a run folder holding tables/*.parquet and ledger.json (any `audit-kit run --out DIR`, or
           `bench_audit.py --keep`); only read — the notebooks write into a fresh folder (--out, default
           a temporary one) that links to its tables. Without RUN_DIR: the demo clinic, ingested first
  CONFIG   the audit.yaml the run was made from
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

from bench_audit import tree_memory   # the process tree's RSS / PSS (a script beside this one)

DONE = "MODULES-DONE"


def child(out: Path, config_path: str) -> None:
    """Run the stage in this process (the workers are forked from it, as from the CLI)."""
    from concurrent.futures import as_completed

    from audit_kit.config import load_config
    from audit_kit.modules import MODULES, SUMMARY, heaviest_first
    from audit_kit.runner import execute_module, merge_results, module_pool, write_modules_status

    config = load_config(config_path)
    specs = list(MODULES.values())
    started, statuses = time.perf_counter(), {}
    pool = module_pool(out, 2)     # the kernels' warm-up is inside the modules' time here (a run hides it in ingest)
    futures = [pool.submit(execute_module, spec, str(out), str(config.path)) for spec in heaviest_first(specs)]
    for future in as_completed(futures):
        status = future.result()
        statuses[status.name] = status
    modules = time.perf_counter() - started
    ordered = [statuses[spec.name] for spec in specs]
    write_modules_status(out, ordered)
    merge_results(out, config, ordered)
    print(DONE, flush=True)
    started = time.perf_counter()
    summary = pool.submit(execute_module, SUMMARY, str(out), str(config.path)).result()
    pool.shutdown(wait=True)
    every = ordered + [summary]
    print(json.dumps({"modules": round(modules, 2), "summary": round(time.perf_counter() - started, 2),
                      "notebooks": {s.name: s.seconds for s in every},
                      "failed": {s.name: s.error for s in every if s.status not in ("ok", "skipped")}}), flush=True)


def run_once(run_dir: Path, config: str, out: Path) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    (out / "tables").symlink_to((run_dir / "tables").resolve())
    shutil.copy(run_dir / "ledger.json", out / "ledger.json")
    with open(out / "stage.log", "w") as log:
        popen = subprocess.Popen([sys.executable, __file__, "--child", str(out), config], stdout=subprocess.PIPE,
                                 stderr=log, text=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(popen.stdout))
    reader.start()
    proc = psutil.Process(popen.pid)
    peak = {"modules": [0, 0], "summary": [0, 0]}
    while popen.poll() is None:
        stage = "summary" if any(DONE in line for line in lines) else "modules"
        rss, pss, _, _ = tree_memory(proc)
        peak[stage] = [max(peak[stage][0], rss), max(peak[stage][1], pss)]
        time.sleep(0.2)
    reader.join()
    if popen.returncode or not lines:
        raise RuntimeError(f"the module stage failed (see {out / 'stage.log'})")
    figures = json.loads(lines[-1])
    figures["peak"] = peak
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", type=Path, nargs="?")
    parser.add_argument("config", nargs="?")
    parser.add_argument("--repeat", type=int, default=1, help="runs; the best (lowest) figure of each is printed")
    parser.add_argument("--out", type=Path, help="folder the notebooks write into (default: a temporary one)")
    args = parser.parse_args(argv)
    temp = tempfile.mkdtemp(prefix="bench_modules_")
    out = args.out or Path(temp) / "run"
    try:
        if args.run_dir is None:                          # the demo clinic (make bench)
            from audit_kit.config import load_config
            from audit_kit.notebook import prepare_run
            from audit_kit.provenance import demo_config_path

            args.config = str(demo_config_path())
            args.run_dir = Path(temp) / "demo"
            prepare_run(load_config(args.config), args.run_dir)
        elif args.config is None:
            parser.error("give the run folder and its audit.yaml")
        runs = []
        for i in range(args.repeat):
            runs.append(run_once(args.run_dir, args.config, out))
            print(f"run {i + 1}: modules {runs[-1]['modules']} s, summary {runs[-1]['summary']} s", flush=True)
        print()
        for name in runs[0]["notebooks"]:
            print(f"  {name:<10} {min(r['notebooks'][name] for r in runs):7.2f} s")
        print(f"modules (wall, 2 workers)  {min(r['modules'] for r in runs):7.2f} s")
        print(f"summary (wall)             {min(r['summary'] for r in runs):7.2f} s")
        for stage in ("modules", "summary"):
            rss = min(r["peak"][stage][0] for r in runs) / 2**20
            pss = min(r["peak"][stage][1] for r in runs) / 2**20
            print(f"peak {stage:<8} RSS {rss:7,.0f} MiB   PSS {pss:7,.0f} MiB")
        print(f"load average (1 min, at the end): {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        failed = {k: v for r in runs for k, v in r["failed"].items()}
        if failed:
            print(f"failed: {failed}")
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(Path(sys.argv[2]), sys.argv[3])
        sys.exit(0)
    sys.exit(main())
