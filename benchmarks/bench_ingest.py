"""Ingest speed.

Without `--config`: a 1C-style payments export (cp1251, ';', dd.mm.yyyy hh:mm, '9 800,00') of N rows, and
the demo clinic's whole ingest with the share of it spent recognising source presets (best of 3).

With `--config PATH` (an audit.yaml, e.g. a network written by `audit-kit sample DIR --branches N`, as
`bench_audit.py --cache` keeps them): that client's ingest, per table the rows, seconds (wall and CPU,
the CPU time of the thread that read it) and rows per second — two tables are read at once on two threads
when the inputs are large (`load.PARALLEL_BYTES`), so the tables' seconds overlap and the reading's wall time
is printed apart; `--serial` reads them one after the other —; then the steps after every table is read (names
masked in free text, leads linked by phone), writing the run folder's tables (parquet with the integer keys, as
`audit-kit run` does), the total and the process's peak RSS. Best of `--repeat` runs.

Usage: python benchmarks/bench_ingest.py [N]
       python benchmarks/bench_ingest.py --config /path/to/audit.yaml [--repeat 3] [--serial]
"""
from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from audit_kit.config import load_config
from audit_kit.ingest import ingest


def write_export(folder: Path, n: int) -> Path:
    rng = np.random.default_rng(1)
    paid = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 365 * 24 * 60, n), unit="min")
    amount = rng.integers(5, 200, n) * 100
    frame = pd.DataFrame({
        "Номер документа": np.char.add("INV-", np.arange(n).astype(str)),
        "Код пациента": np.char.add("P", rng.integers(0, n // 4, n).astype(str)),
        "Дата оплаты": paid.strftime("%d.%m.%Y %H:%M"),
        "Сумма": pd.Series(amount).map("{:,}".format).str.replace(",", " ") + ",00",
        "Номенклатура": rng.choice(["Консультация", "Анализы", "УЗИ", "Лечение"], n),
    })
    path = folder / "payments.csv"
    frame.to_csv(path, sep=";", index=False, encoding="cp1251")
    (folder / "audit.yaml").write_text(yaml.safe_dump({
        "client": "bench", "periods": {"current": ["2024-01-01", "2024-12-31"]},
        "data": {"invoices": "payments.csv"}}), encoding="utf-8")
    return folder / "audit.yaml"


def demo_detection(repeats: int = 3) -> None:
    """The demo clinic's ingest, and the time inside preset detection (presets.detect, headerless_match)."""
    from audit_kit.ingest import load, presets

    config = load_config(Path(__file__).resolve().parent.parent / "sample_data" / "demo_clinic" / "audit.yaml")
    spent = [0.0]

    def timed(fn):
        def wrapper(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[0] += time.perf_counter() - t0
        return wrapper

    originals = presets.detect, presets.headerless_match
    presets.detect, presets.headerless_match = (timed(f) for f in originals)
    try:
        runs = []
        for _ in range(repeats):
            spent[0] = 0.0
            t0 = time.perf_counter()
            result = load.ingest(config)
            runs.append((time.perf_counter() - t0, spent[0]))
    finally:
        presets.detect, presets.headerless_match = originals
    total, detection = min(runs)
    found = {n: t.preset for n, t in result.ledger.tables.items() if t.preset}
    print(f"ingest demo clinic: {result.ledger.totals()['read']:,} rows in {total:.2f} s; preset detection "
          f"{detection * 1000:.1f} ms = {detection / total:.2%} of ingest (best of {repeats}); presets found: {found}")


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def client_ingest(config_path: Path, repeats: int = 1, serial: bool = False) -> None:
    """One client's ingest by table (see the module docstring); the best of `repeats` runs by total time."""
    from audit_kit.ingest import load, save_tables

    config = load_config(config_path)
    if serial:
        load.PARALLEL_BYTES = 1 << 62
    best = None
    for _ in range(repeats):
        tables: dict[str, tuple[float, float]] = {}
        original, original_all = load._read_table, load._read_tables
        reading = [0.0, 0.0]

        def timed(source, *args, **kwargs):
            t0, c0 = time.perf_counter(), time.thread_time()
            try:
                return original(source, *args, **kwargs)
            finally:
                tables[source.table] = (time.perf_counter() - t0, time.thread_time() - c0)

        def timed_all(*args, **kwargs):
            t0, c0 = time.perf_counter(), _cpu()
            try:
                return original_all(*args, **kwargs)
            finally:
                reading[:] = [time.perf_counter() - t0, _cpu() - c0]

        load._read_table, load._read_tables = timed, timed_all
        try:
            t0, c0 = time.perf_counter(), _cpu()
            result = load.ingest(config)
            ingest_s, ingest_cpu = time.perf_counter() - t0, _cpu() - c0
        finally:
            load._read_table, load._read_tables = original, original_all
        with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
            t1, c1 = time.perf_counter(), _cpu()
            save_tables(result, Path(tmp))
            save_s, save_cpu = time.perf_counter() - t1, _cpu() - c1
        run = (ingest_s + save_s, tables, ingest_s, ingest_cpu, save_s, save_cpu, result.ledger, reading)
        del result
        if best is None or run[0] < best[0]:
            best = run
    total, tables, ingest_s, ingest_cpu, save_s, save_cpu, ledger, (read, read_cpu) = best
    print(f"ingest of {config_path} (best of {repeats}):")
    print(f"  {'table':16s} {'files':>5s} {'rows':>12s} {'seconds':>8s} {'cpu s':>7s} {'rows/s':>11s}")
    for name, (seconds, cpu) in tables.items():
        t = ledger.tables[name]
        files = len(t.files) or 1
        print(f"  {name:16s} {files:5d} {t.read:12,d} {seconds:8.2f} {cpu:7.2f} {t.read / seconds:11,.0f}")
    rows = ledger.totals()["read"]
    print(f"  {'reading every table (wall, process cpu)':40s} {read:8.2f} {read_cpu:7.2f}")
    print(f"  {'names masked, leads linked':40s} {ingest_s - read:8.2f} {ingest_cpu - read_cpu:7.2f}")
    print(f"  {'tables written (parquet, keys)':40s} {save_s:8.2f} {save_cpu:7.2f}")
    print(f"  total: {rows:,} rows in {total:.1f} s (cpu {ingest_cpu + save_cpu:.1f} s): {rows / total:,.0f} rows/s; "
          f"read alone {rows / read:,.0f} rows/s; peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6:.2f} GB")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rows", nargs="?", type=int, default=1_000_000, help="rows of the synthetic payments export")
    parser.add_argument("--config", type=Path, help="an audit.yaml: that client's ingest by table")
    parser.add_argument("--repeat", type=int, default=1, help="runs of --config; the best is printed")
    parser.add_argument("--serial", action="store_true", help="--config's tables read one after the other")
    args = parser.parse_args(argv)
    if args.config:
        client_ingest(args.config, args.repeat, args.serial)
        return
    demo_detection()
    with tempfile.TemporaryDirectory() as tmp:
        config = write_export(Path(tmp), args.rows)
        size = (Path(tmp) / "payments.csv").stat().st_size / 1e6
        started = time.perf_counter()
        result = ingest(load_config(config))
        seconds = time.perf_counter() - started
        led = result.ledger.tables["invoices"]
        print(f"ingest invoices: {led.read:,} rows ({size:.0f} MB cp1251 csv) -> {led.used:,} used in {seconds:.1f} s "
              f"({led.read / seconds:,.0f} rows/s)")


if __name__ == "__main__":
    main(sys.argv[1:])
