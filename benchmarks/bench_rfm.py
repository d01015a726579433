"""Benchmark: `metrics.rfm.rfm_table` on 1.4 million invoices of 470 thousand patients.

Target (issue 9): at least 10× faster than `lifetimes.utils.summary_data_from_transaction_data` on the
same rows (~3.3 s on the 2-core machine), so about 0.3 s. Prints the best of a few runs.

The invoices are timed as the run folder's cache holds them: with the integer ``patient_key`` and
``visit_key`` columns that ingest adds (`audit_kit/ingest/keys.py`); making those keys is timed and
printed on its own (it happens once per run, at ingest). ``--ids`` picks the shape of the patient and
visit IDs: ``number`` (104567), ``padded`` (00017_3: zero-padded with a branch suffix), ``card``
(МК-2024-000123), ``uuid``, or ``all`` (each in turn).

With ``--lifetimes`` it also times lifetimes on the same rows (text IDs) in the same process, the two
runs alternating (the machine's speed drifts over minutes), and prints both and the ratio. lifetimes
is not a dependency of the kit; install it in a throw-away venv or folder:

    .venv/bin/python benchmarks/bench_rfm.py [--invoices 1400000] [--patients 470000] [--ids all]
    .venv/bin/python -m pip install --target /tmp/ltlib --no-deps lifetimes autograd dill scipy
    PYTHONPATH=/tmp/ltlib .venv/bin/python benchmarks/bench_rfm.py --lifetimes
"""
from __future__ import annotations

import argparse
import math
import time
import uuid

import numpy as np
import pandas as pd


ID_SHAPES = ("number", "padded", "card", "uuid")


def shaped(numbers: np.ndarray, shape: str) -> pd.arrays.StringArray:
    """Distinct whole numbers as IDs of a clinic's shape (equal numbers, equal IDs)."""
    unique, inverse = np.unique(numbers, return_inverse=True)
    if shape == "number":
        text = (unique + 100_000).astype(str)
    elif shape == "padded":
        text = np.char.add(np.char.add(np.char.zfill((unique // 8).astype(str), 5), "_"), (unique % 8).astype(str))
    elif shape == "card":
        text = np.char.add("МК-2024-", np.char.zfill(unique.astype(str), 6))
    else:
        text = np.array([str(uuid.UUID(int=(int(u) + 1) * 0x9E3779B97F4A7C15F39CC0605CEDC835 % (1 << 128))) for u in unique])
    return pd.array(text.astype(object)[inverse], dtype="string")


def make_invoices(n_invoices: int, n_patients: int, seed: int = 9, ids: str = "number") -> pd.DataFrame:
    """Canonical-typed invoices over three years: 70 % with a visit_id (several lines per visit),
    the rest grouped by patient-day; 1 % refunds, 3 % free lines. Patient and visit IDs of shape ``ids``."""
    rng = np.random.default_rng(seed)
    patient = rng.integers(0, n_patients, n_invoices)
    day = rng.integers(0, 3 * 365, n_invoices)
    minute = rng.integers(8 * 60, 21 * 60, n_invoices)
    paid_at = (np.datetime64("2022-04-01T00:00", "m") + day * np.timedelta64(1, "D") + minute * np.timedelta64(1, "m"))
    amount = rng.choice([500.0, 1500.0, 2500.0, 4000.0, 12000.0], n_invoices)
    amount = np.where(rng.random(n_invoices) < 0.03, 0.0, amount)
    amount = np.where(rng.random(n_invoices) < 0.01, -amount, amount)
    visit = (patient.astype(np.int64) * 4096 + day) // 1          # one visit per patient-day
    has_visit = rng.random(n_invoices) < 0.7
    visit_id = shaped(visit, ids)
    visit_id[~has_visit] = pd.NA
    return pd.DataFrame({
        "invoice_id": pd.array(np.char.add("I", np.arange(n_invoices).astype(str)), dtype="string"),
        "patient_id": shaped(patient, ids),
        "paid_at": paid_at.astype("datetime64[ns]"), "amount": amount, "visit_id": visit_id,
        "service": pd.array([pd.NA] * n_invoices, dtype="string"),
    })


def best_of(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--invoices", type=int, default=1_400_000)
    ap.add_argument("--patients", type=int, default=470_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--ids", choices=ID_SHAPES + ("all",), default="all", help="shape of the patient and visit IDs")
    ap.add_argument("--lifetimes", action="store_true", help="also time lifetimes (must be importable)")
    args = ap.parse_args()
    for shape in ID_SHAPES if args.ids == "all" else (args.ids,):
        run(args, shape)


def run(args, shape: str) -> None:
    from audit_kit.ingest.keys import add_keys
    from audit_kit.metrics import rfm

    inv = make_invoices(args.invoices, args.patients, ids=shape)
    t0 = time.perf_counter()
    keyed = add_keys({"invoices": inv})["invoices"]
    keys_seconds = time.perf_counter() - t0
    print(f"[{shape} IDs, e.g. {inv['patient_id'].iloc[0]}] keys made at ingest: {keys_seconds:.3f} s")
    as_of = pd.Timestamp("2025-03-31")
    table = rfm.rfm_table(keyed, as_of)
    ours = lambda: rfm.rfm_table(keyed, as_of)                                         # noqa: E731
    if not args.lifetimes:
        seconds = best_of(ours, args.repeat)
        print(f"  rfm_table: {len(inv):,} invoices of {len(table):,} patients in {seconds:.3f} s (best of {args.repeat})")
        return
    from lifetimes.utils import summary_data_from_transaction_data

    tx = inv.loc[inv["amount"] >= 0, ["patient_id", "paid_at", "amount"]]
    theirs = lambda: summary_data_from_transaction_data(tx, "patient_id", "paid_at",  # noqa: E731
                                                        monetary_value_col="amount", observation_period_end=as_of)
    seconds, lt = math.inf, math.inf
    for _ in range(args.repeat):
        seconds = min(seconds, best_of(ours, 3))
        lt = min(lt, best_of(theirs, 1))
    print(f"  rfm_table: {len(inv):,} invoices of {len(table):,} patients in {seconds:.3f} s")
    print(f"  lifetimes summary_data_from_transaction_data, same rows: {lt:.3f} s (best of {args.repeat} each)")
    print(f"  rfm_table is {lt / seconds:.1f}x faster (target: 10x); with the keys made: {lt / (seconds + keys_seconds):.1f}x")


if __name__ == "__main__":
    main()
