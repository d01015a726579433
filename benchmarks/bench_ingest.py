"""Ingest speed: a 1C-style payments export (cp1251, ';', dd.mm.yyyy hh:mm, '9 800,00') of N rows, and the
demo clinic's whole ingest with the share of it spent recognising source presets (best of 3).

Prints rows, file size and seconds for read + coerce + validate + ledger.
Usage: python benchmarks/bench_ingest.py [N]
"""
from __future__ import annotations

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


def main(n: int = 1_000_000) -> None:
    demo_detection()
    with tempfile.TemporaryDirectory() as tmp:
        config = write_export(Path(tmp), n)
        size = (Path(tmp) / "payments.csv").stat().st_size / 1e6
        started = time.perf_counter()
        result = ingest(load_config(config))
        seconds = time.perf_counter() - started
        led = result.ledger.tables["invoices"]
        print(f"ingest invoices: {led.read:,} rows ({size:.0f} MB cp1251 csv) -> {led.used:,} used in {seconds:.1f} s "
              f"({led.read / seconds:,.0f} rows/s)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
