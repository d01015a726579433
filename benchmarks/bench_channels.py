"""Benchmark: the channel ROMI computation on 2 million leads, 3 million invoices, 1 million patients
and 18 months of spend for 8 channels.

Generates canonical tables with numpy (dtypes as ingest produces them), then times what
notebooks/04_channels.ipynb computes: `channels.channel_economics` for two periods under both
attributions, totals and headline metrics, the per-month version over 12 months, the first- vs
last-touch comparison and the findings. Target: under 10 s on the 2-core reference machine.

    .venv/bin/python benchmarks/bench_channels.py [--leads 2000000] [--invoices 3000000] [--patients 1000000]
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from audit_kit.metrics import channels as ch
from audit_kit.modules import channels as channels_section
from audit_kit.report.fmt import Formatter

START = np.datetime64("2023-10-01T00:00", "ns")
MINUTES = 548 * 24 * 60            # 18 months
CHANNELS = np.array(["Контекст", "SEO", "SMM", "Агрегаторы", "Рекомендации", "Повторные", "Email", "Медиа"])
PAID = ["Контекст", "SEO", "SMM", "Агрегаторы", "Email", "Медиа", "Наружка", "Радио"]   # 8 spend channels


def ids(prefix: str, numbers: np.ndarray) -> pd.Series:
    return (prefix + pd.Series(numbers).astype(str)).astype("string")


def make_tables(n_leads: int, n_invoices: int, n_patients: int, seed: int = 11) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    created = START + rng.integers(0, MINUTES, n_leads).astype("timedelta64[m]")
    lead_patient = rng.integers(0, n_patients, n_leads)
    leads = pd.DataFrame({
        "lead_id": ids("L", np.arange(n_leads)), "created_at": created,
        "channel": pd.Series(CHANNELS[rng.integers(0, len(CHANNELS), n_leads)]).astype("string"),
        "patient_id": ids("P", lead_patient).where(rng.random(n_leads) < 0.8),
    })
    n_bookings = int(n_leads * 0.6)
    b_lead = rng.integers(0, n_leads, n_bookings)
    bookings = pd.DataFrame({
        "booking_id": ids("B", np.arange(n_bookings)), "patient_id": ids("P", lead_patient[b_lead]),
        "doctor_id": ids("D", rng.integers(0, 60, n_bookings)),
        "slot_start": created[b_lead] + rng.integers(60, 20_000, n_bookings).astype("timedelta64[m]"),
        "status": pd.Series(np.array(["completed", "no_show", "cancelled"])[rng.choice(3, n_bookings, p=[0.75, 0.15, 0.1])]
                            ).astype("string"),
        "lead_id": ids("L", b_lead),
    })
    inv_patient = rng.integers(0, n_patients, n_invoices)
    amount = rng.gamma(3.0, 3300.0, n_invoices).round(-1)
    amount[rng.random(n_invoices) < 0.03] = 0.0
    amount[rng.random(n_invoices) < 0.02] *= -0.5
    invoices = pd.DataFrame({
        "invoice_id": ids("I", np.arange(n_invoices)), "patient_id": ids("P", inv_patient),
        "paid_at": START + rng.integers(0, MINUTES, n_invoices).astype("timedelta64[m]"), "amount": amount,
    })
    patients = pd.DataFrame({
        "patient_id": ids("P", np.arange(n_patients)),
        "first_channel": pd.Series(CHANNELS[rng.integers(0, len(CHANNELS), n_patients)]).astype("string")
                           .where(rng.random(n_patients) < 0.7),
    })
    months = pd.date_range("2023-10-01", periods=18, freq="MS")
    spend = pd.DataFrame({"month": np.repeat(months, len(PAID)),
                          "channel": pd.Series(np.tile(PAID, len(months))).astype("string"),
                          "spend": rng.uniform(20_000, 400_000, len(months) * len(PAID)).round(2)})
    return {"leads": leads, "bookings": bookings, "invoices": invoices, "patients": patients, "marketing_spend": spend}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=2_000_000)
    parser.add_argument("--invoices", type=int, default=3_000_000)
    parser.add_argument("--patients", type=int, default=1_000_000)
    args = parser.parse_args()

    t0 = time.perf_counter()
    tables = make_tables(args.leads, args.invoices, args.patients)
    t1 = time.perf_counter()
    print(f"generated in {t1 - t0:.1f} s: " + ", ".join(f"{k} {len(v):,}" for k, v in tables.items()))

    periods = {"base": (pd.Timestamp("2024-10-01"), pd.Timestamp("2025-01-01")),
               "current": (pd.Timestamp("2025-01-01"), pd.Timestamp("2025-04-01"))}
    t2, cpu = time.perf_counter(), time.process_time()
    prepared = ch.prepare(tables, horizon_days=180, repeat_channels=["Повторные"])
    t_prep = time.perf_counter()
    econ = ch.channel_economics(tables, periods, prepared=prepared)
    t3 = time.perf_counter()
    total = ch.totals(econ)
    metrics = ch.headline_metrics(total)
    months = ch.channel_economics_monthly(tables, pd.Timestamp("2024-04-01"), pd.Timestamp("2025-04-01"),
                                          prepared=prepared)
    t4 = time.perf_counter()
    ch.attribution_comparison(econ, "current")
    found = channels_section.finding_drafts(econ, Formatter("ru"), months=3.0, revenue_per_month=1e8, horizon_days=180)
    t5, cpu = time.perf_counter(), time.process_time() - cpu

    print(f"prepare (acquisitions, touches, revenue, lead journey): {t_prep - t2:.2f} s")
    print(f"channel_economics (2 periods x 2 attributions): {t3 - t_prep:.2f} s")
    print(f"per month (12 months, first touch): {t4 - t3:.2f} s")
    print(f"whole module computation (economics + totals + months + comparison + findings): {t5 - t2:.2f} s"
          f"  (target < 10 s); CPU time {cpu:.2f} s (less sensitive to other load on the machine)")
    cur = {k.removeprefix("channels."): v[1]["current"] for k, v in metrics.items()}
    print(f"  current: spend {cur['spend']:,.0f}, leads {cur['leads']:,}, new patients {cur['new_patients']:,}, "
          f"CAC {cur['cac']:,.0f}, ROMI {cur['romi']:+.2f}; {len(months):,} month rows, {len(found)} findings")


if __name__ == "__main__":
    main()
