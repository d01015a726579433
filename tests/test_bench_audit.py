"""benchmarks/bench_audit.py: where the process tree's memory peaked."""
import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_audit.py"


def _bench():
    spec = importlib.util.spec_from_file_location("bench_audit", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_stage_at_lays_the_stages_end_to_end():
    stage_at = _bench().stage_at
    timings = {"ingest": 10.0, "modules": 20.0, "summary": 2.0, "report": 8.0, "total": 40.0}
    assert stage_at(0.0, timings) == "ingest"
    assert stage_at(10.9, timings) == "ingest"          # a second's grace for the CLI's start-up
    assert stage_at(11.5, timings) == "modules"
    assert stage_at(31.5, timings) == "summary"
    assert stage_at(33.5, timings) == "report"
    assert stage_at(99.0, timings) == "report"
    assert stage_at(5.0, {"modules": 20.0}) == "modules"   # a stage missing from run.json takes no time


def test_at_peak_groups_the_processes_by_role_largest_first():
    at_peak = _bench().at_peak
    gb = 2**30
    parts = [("cli", int(1.2 * gb)), ("worker", int(0.1 * gb)), ("kernel", int(1.9 * gb)), ("kernel", int(2.1 * gb))]
    assert at_peak(parts) == "cli 1.2, worker 0.1, kernel 2.1 + 1.9 GiB"


def test_tree_memory_names_the_kernels_by_their_command_line():
    import os

    import psutil

    bench = _bench()
    me = psutil.Process(os.getpid())
    assert bench.tree_memory(me, pss=False)[3][0][0] == "cli"
    assert bench.is_kernel("python -m ipykernel_launcher -f k.json") and not bench.is_kernel("python -m audit_kit.cli run")
