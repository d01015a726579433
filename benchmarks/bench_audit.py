"""The whole audit, as a consultant runs it: `audit-kit run` as a subprocess on the demo clinic (S) and on
networks of its copies (`audit-kit sample --branches N`): M = 35 branches (~100 k patients, ~2 M raw rows),
L = 345 branches (~1 M patients, ~19 M raw rows; many minutes and several GB).

Prints per size: raw rows, seconds per stage (ingest, each module's notebook, the modules' wall time,
summary, report html/pdf/xlsx, total; from the run folder's run.json `timings_seconds` and modules.json),
ingest rows per second, peak memory of the whole process tree (the CLI, its module workers and their
notebook kernels: psutil polled every 0.2 s, RSS summed and PSS summed; and the largest single process
from wait4's rusage of the CLI), how many processes ran (notebook kernels among them), and the sizes of the report files. With M and L both run, the M→L
growth of each stage per raw row (1.00 = linear; above 1 grows faster than the data).

Usage: python benchmarks/bench_audit.py [--sizes S M L] [--cache DIR] [--repeat N] [--keep] [--json FILE]
  --cache DIR   generate the clinics into DIR/<size> once and reuse them later (default: a temporary folder)
  --repeat N    run each size N times; each stage's best (lowest) figure is printed
  --timeout S   stop a run (its whole process tree) after S seconds
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

SIZES = {"S": None, "M": 35, "L": 345}        # branches; None: the demo clinic itself
STAGES = ("ingest", "modules", "summary", "report_xlsx_ahead", "report_html", "report_pdf", "report_xlsx", "report", "total")


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "audit_kit.cli", *args]


def clinic(size: str, cache: Path) -> tuple[Path, float | None]:
    """The size's audit.yaml, generated unless the cache holds it; and the seconds generating took."""
    folder = cache / size
    config, marker = folder / "audit.yaml", folder / ".bench_branches"
    branches = SIZES[size]
    if config.is_file() and marker.is_file() and marker.read_text() == str(branches):
        return config, None
    shutil.rmtree(folder, ignore_errors=True)
    started = time.perf_counter()
    extra = [] if branches is None else ["--branches", str(branches)]
    subprocess.run(cli("sample", str(folder), *extra), check=True, stdout=subprocess.DEVNULL)
    marker.write_text(str(branches))
    return config, round(time.perf_counter() - started, 1)


# The tree's RSS is polled every POLL_SECONDS; its PSS (which walks every page of every process, holding each
# one's memory map) only every PSS_EVERY-th poll. Polled every 0.2 s, the PSS walk itself slowed the run it
# measured: at 345 branches the same main took 184 s under the poller and 145 s without it (modules 65 vs 53 s).
POLL_SECONDS = 0.2
PSS_EVERY = 10


def tree_memory(proc: psutil.Process, pss: bool = True, commands: dict[int, str] | None = None
                ) -> tuple[int, int, int, list[tuple[str, int]]]:
    """(RSS sum, PSS sum, processes, each process's (role, RSS)) of a process and all its descendants now;
    `pss=False`: the PSS sum is 0 and only each process's RSS is read (cheap). Roles: cli (the process
    itself), kernel (a notebook kernel, by its command line in `commands`: pid -> command), worker (any other
    descendant: module workers, report processes)."""
    commands = commands or {}
    rss_sum = pss_sum = count = 0
    parts: list[tuple[str, int]] = []
    try:
        members = [proc] + proc.children(recursive=True)
    except psutil.Error:
        return 0, 0, 0, []
    for p in members:
        try:
            info = p.memory_full_info() if pss else p.memory_info()
        except psutil.Error:
            continue
        rss_sum += info.rss
        pss_sum += getattr(info, "pss", info.rss) if pss else 0
        count += 1
        parts.append(("cli" if p is proc else "kernel" if is_kernel(commands.get(p.pid, "")) else "worker", info.rss))
    return rss_sum, pss_sum, count, parts


def is_kernel(command: str) -> bool:
    """A notebook kernel's command line."""
    return "ipykernel" in command


def at_peak(parts: list[tuple[str, int]]) -> str:
    """The tree at its peak, by role and largest first: 'cli 1.2, kernel 2.1 + 1.9, worker 0.1 GiB'."""
    roles: dict[str, list[int]] = {}
    for role, rss in parts:
        roles.setdefault(role, []).append(rss)
    return ", ".join(f"{role} " + " + ".join(f"{b / 2**30:.1f}" for b in sorted(sizes, reverse=True))
                     for role, sizes in roles.items()) + " GiB"


def _kill_tree(proc: psutil.Process) -> None:
    for p in proc.children(recursive=True) + [proc]:
        try:
            p.kill()
        except psutil.Error:
            pass


def run_once(config: Path, out: Path, timeout: float | None) -> dict:
    """One `audit-kit run` with the process tree's memory polled; figures from run.json and modules.json.

    The largest single process comes from wait4's rusage of the CLI process (itself and every descendant it
    or its children waited for); the tree's peak from polling every descendant, notebook kernels included.
    """
    shutil.rmtree(out, ignore_errors=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    log = out.parent / (out.name + ".log")
    started = time.perf_counter()
    with open(log, "w") as sink:
        popen = subprocess.Popen(cli("run", str(config), "--out", str(out)), stdout=sink, stderr=subprocess.STDOUT)
    proc = psutil.Process(popen.pid)
    peak_rss = peak_pss = peak_procs = 0
    peak_at, peak_parts = 0.0, []
    seen: dict[int, str] = {}
    polls = 0
    while True:
        pid, status, usage = os.wait4(popen.pid, os.WNOHANG)
        if pid:
            break
        try:
            for child in proc.children(recursive=True):      # again each time: a fork execs its command later
                seen[child.pid] = " ".join(child.cmdline())
        except psutil.Error:
            pass
        rss, pss, count, parts = tree_memory(proc, pss=polls % PSS_EVERY == 0, commands=seen)
        polls += 1
        if rss > peak_rss:
            peak_at, peak_parts = time.perf_counter() - started, parts
        peak_rss, peak_pss, peak_procs = max(peak_rss, rss), max(peak_pss, pss), max(peak_procs, count)
        if timeout and time.perf_counter() - started > timeout:
            _kill_tree(proc)
            os.wait4(popen.pid, 0)
            popen.returncode = -9
            raise RuntimeError(f"audit-kit run timed out after {timeout:.0f} s (log: {log})")
        time.sleep(POLL_SECONDS)
    popen.returncode = code = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - started
    if code not in (0, 1):
        raise RuntimeError(f"audit-kit run exited {code} (log: {log})")
    run = json.loads((out / "run.json").read_text(encoding="utf-8"))
    modules = json.loads((out / "modules.json").read_text(encoding="utf-8"))
    timings = run["timings_seconds"]
    figures = {
        "rows": run["ledger"]["totals"]["read"],
        "exit": code,
        "stages": {k: timings[k] for k in STAGES if k in timings},
        "notebooks": {m["name"]: m["seconds"] for m in modules if m["name"] != "summary"},
        "failed": [m["name"] for m in modules if m["status"] not in ("ok", "skipped")],
        "wall": round(wall, 2),
        "cpu": round(usage.ru_utime + usage.ru_stime, 1),
        "peak_rss": peak_rss, "peak_at": round(peak_at, 1), "peak_stage": stage_at(peak_at, timings),
        "peak_parts": at_peak(peak_parts),
        "peak_pss": peak_pss, "processes": peak_procs, "descendants_seen": len(seen),
        "kernels_seen": sum(is_kernel(c) for c in seen.values()), "max_rss_one": usage.ru_maxrss * 1024,
        "files": {},
        "load": round(os.getloadavg()[0], 1),
    }
    for key in ("html", "pdf", "xlsx"):
        path = next((out / v for k, v in run.get("outputs", {}).items() if k.endswith(key) or k == key), None)
        if path is not None and path.is_file():
            figures["files"][key] = path.stat().st_size
            if key == "pdf":
                try:
                    from pypdf import PdfReader
                    figures["pdf_pages"] = len(PdfReader(str(path)).pages)
                except Exception:       # pypdf is a dev dependency; the page count is a nicety
                    pass
    return figures


def stage_at(seconds: float, timings: dict) -> str:
    """The stage of the run (ingest, modules, summary, report) that was running `seconds` after the CLI started,
    from run.json's stage seconds laid end to end (the CLI's start-up counts as ingest)."""
    end = 0.0
    for stage in ("ingest", "modules", "summary", "report"):
        end += timings.get(stage, 0.0)
        if seconds <= end + 1.0:
            return stage
    return "report"


def best(runs: list[dict]) -> dict:
    """Each stage's lowest figure over the runs (memory: the lowest peak)."""
    out = dict(runs[0])
    out["stages"] = {k: min(r["stages"].get(k, float("inf")) for r in runs) for k in runs[0]["stages"]}
    out["notebooks"] = {k: min(r["notebooks"].get(k, float("inf")) for r in runs) for k in runs[0]["notebooks"]}
    for k in ("wall", "cpu", "peak_rss", "peak_pss", "max_rss_one"):
        out[k] = min(r[k] for r in runs)
    low = min(runs, key=lambda r: r["peak_rss"])
    out["peak_at"], out["peak_stage"], out["peak_parts"] = low["peak_at"], low["peak_stage"], low["peak_parts"]
    out["runs"] = len(runs)
    return out


def mb(n: int) -> str:
    return f"{n / 2**20:,.0f} MiB"


def report(results: dict[str, dict]) -> None:
    sizes = list(results)
    rows = [("", *[f"{s} ({'demo' if SIZES[s] is None else str(SIZES[s]) + ' branches'})" for s in sizes])]
    rows.append(("raw rows", *[f"{results[s]['rows']:,}" for s in sizes]))
    rows.append(("generate (s)", *[str(results[s].get("generated") or "cached") for s in sizes]))
    stages = [k for k in STAGES if any(k in results[s]["stages"] for s in sizes)]
    notebooks = list(dict.fromkeys(k for s in sizes for k in results[s]["notebooks"]))
    for k in stages:
        rows.append((f"{k} (s)", *[f"{results[s]['stages'].get(k, float('nan')):.2f}" for s in sizes]))
        if k == "ingest":
            rows.append(("  ingest rows/s", *[f"{results[s]['rows'] / max(results[s]['stages']['ingest'], 1e-9):,.0f}"
                                              for s in sizes]))
        if k == "modules":
            for nb in notebooks:
                rows.append((f"  {nb} (s)", *[f"{results[s]['notebooks'].get(nb, float('nan')):.2f}" for s in sizes]))
    rows.append(("wall, CLI process (s)", *[f"{results[s]['wall']:.2f}" for s in sizes]))
    rows.append(("CPU of the process tree (s)", *[f"{results[s]['cpu']:.1f}" for s in sizes]))
    rows.append(("peak RSS, process tree", *[mb(results[s]["peak_rss"]) for s in sizes]))
    rows.append(("  at (s, stage)", *[f"{results[s]['peak_at']:.0f}, {results[s]['peak_stage']}" for s in sizes]))
    rows.append(("  made of", *[results[s]["peak_parts"] for s in sizes]))
    rows.append(("peak PSS, process tree", *[mb(results[s]["peak_pss"]) for s in sizes]))
    rows.append(("max RSS, one process", *[mb(results[s]["max_rss_one"]) for s in sizes]))
    rows.append(("processes: at once / seen / kernels", *[
        f"{results[s]['processes']} / {results[s]['descendants_seen'] + 1} / {results[s]['kernels_seen']}" for s in sizes]))
    for key in ("html", "pdf", "xlsx"):
        rows.append((f"report {key}", *[mb(results[s]["files"][key]) if key in results[s]["files"] else "-"
                                        for s in sizes]))
    rows.append(("load average (1 min, at the end)", *[f"{results[s]['load']:.1f} on {os.cpu_count()} cores"
                                                        for s in sizes]))
    rows.append(("pdf pages", *[str(results[s].get("pdf_pages", "-")) for s in sizes]))
    failed = {s: results[s]["failed"] for s in sizes if results[s]["failed"]}
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(c.ljust(widths[0]) if i == 0 else c.rjust(widths[i]) for i, c in enumerate(r)))
    if failed:
        print(f"failed modules: {failed}")
    if "M" in results and "L" in results:
        m, big = results["M"], results["L"]
        scale = big["rows"] / m["rows"]
        print(f"\nM→L growth per raw row (rows ×{scale:.2f}; L ÷ M, then ÷ the row ratio: 1.00 = linear, above grows faster):")
        pairs = [(k, m["stages"].get(k), big["stages"].get(k)) for k in stages]
        pairs += [(f"  {nb}", m["notebooks"].get(nb), big["notebooks"].get(nb)) for nb in notebooks]
        pairs += [("peak RSS", m["peak_rss"], big["peak_rss"])]
        for k, a, b in pairs:
            if a and b:
                print(f"  {k:<24} ×{b / a:7.2f}  →  ×{b / a / scale:5.2f} per row")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", nargs="+", choices=list(SIZES), default=["S", "M"])
    parser.add_argument("--cache", type=Path, help="folder keeping the generated clinics between runs")
    parser.add_argument("--repeat", type=int, default=1, help="runs per size; the best figure of each stage")
    parser.add_argument("--timeout", type=float, help="seconds before a run is stopped")
    parser.add_argument("--keep", action="store_true", help="keep the run folders (under the cache)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    temp = None if args.cache else tempfile.mkdtemp(prefix="bench_audit_")
    cache = args.cache or Path(temp)
    cache.mkdir(parents=True, exist_ok=True)
    results = {}
    try:
        for size in args.sizes:
            config, generated = clinic(size, cache)
            print(f"{size}: {config.parent}" + (f" (generated in {generated} s)" if generated else " (cached)"),
                  flush=True)
            runs = []
            for i in range(args.repeat):
                out = cache / "runs" / f"{size}-{i + 1}"
                figures = run_once(config, out, args.timeout)
                print(f"  run {i + 1}: {figures['stages'].get('total')} s, peak RSS {mb(figures['peak_rss'])}",
                      flush=True)
                runs.append(figures)
                if not args.keep:
                    shutil.rmtree(out, ignore_errors=True)
            results[size] = best(runs)
            results[size]["generated"] = generated
        print()
        report(results)
        if args.json:
            args.json.write_text(json.dumps(results, indent=2, ensure_ascii=False), encoding="utf-8")
    finally:
        if temp:
            shutil.rmtree(temp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
