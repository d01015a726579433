"""Ingest speed: a 1C-style payments export (cp1251, ';', dd.mm.yyyy hh:mm, '9 800,00') of N rows.

Prints rows, file size and seconds for read + coerce + validate + ledger. Usage: python benchmarks/bench_ingest.py [N]
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


def main(n: int = 1_000_000) -> None:
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
