"""Benchmark: the cohort module's computation on 3 million invoices of 1 million patients over 36 months.

Target (issue 10): under 5 s on this machine. Prints the time of each step and the total.

    .venv/bin/python benchmarks/bench_cohorts.py [--invoices 3000000] [--patients 1000000] [--months 36]
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from audit_kit.ingest.keys import add_keys
from audit_kit.metrics import cohorts as cc
from audit_kit.metrics import patients as pt
from audit_kit.modules import cohorts as cohorts_section
from audit_kit.report.fmt import Formatter
from audit_kit.report.i18n import Translator

CHANNELS = np.array(["Контекст", "SEO", "SMM", "Агрегаторы", "Рекомендации"])


def make_tables(n_invoices: int, n_patients: int, n_months: int, seed: int = 10) -> dict[str, pd.DataFrame]:
    """Canonical-typed invoices (2 % refunds, 30 % without visit_id), one lead per patient, monthly spend."""
    rng = np.random.default_rng(seed)
    start = np.datetime64("2022-01-01T00:00", "m")
    minutes = n_months * 30 * 24 * 60
    first = rng.integers(0, minutes, n_patients)                       # acquisition time per patient
    patient = np.r_[np.arange(n_patients), rng.integers(0, n_patients, n_invoices - n_patients)]
    later = rng.integers(0, minutes, n_invoices)
    at = np.where(np.arange(n_invoices) < n_patients, first[patient], np.maximum(first[patient], later))
    amount = rng.choice([0.0, 1500.0, 3900.5, 12000.0], size=n_invoices, p=[0.05, 0.5, 0.35, 0.1])
    refund = (rng.random(n_invoices) < 0.02) & (np.arange(n_invoices) >= n_patients)
    amount = np.where(refund, -amount, amount)
    ids = np.char.add("P", patient.astype(str))
    visit = np.where(rng.random(n_invoices) < 0.3, None, np.char.add("V", np.arange(n_invoices).astype(str)))
    invoices = pd.DataFrame({
        "invoice_id": pd.array(np.char.add("I", np.arange(n_invoices).astype(str)), dtype="string"),
        "patient_id": pd.array(ids, dtype="string"),
        "paid_at": (start + at * np.timedelta64(1, "m")).astype("datetime64[ns]"),
        "amount": amount, "visit_id": pd.array(visit, dtype="string"),
    })
    lead_at = start + (first - rng.integers(0, 14 * 24 * 60, n_patients)) * np.timedelta64(1, "m")
    leads = pd.DataFrame({"lead_id": pd.array(np.char.add("L", np.arange(n_patients).astype(str)), dtype="string"),
                          "patient_id": pd.array(np.char.add("P", np.arange(n_patients).astype(str)), dtype="string"),
                          "created_at": lead_at.astype("datetime64[ns]"),
                          "channel": pd.array(rng.choice(CHANNELS, n_patients), dtype="string")})
    months = pd.date_range("2022-01-01", periods=n_months, freq="MS")
    paid = CHANNELS[:4]
    spend = pd.DataFrame({"month": np.repeat(months, len(paid)), "channel": pd.array(np.tile(paid, n_months), dtype="string"),
                          "spend": rng.uniform(1e5, 1e6, n_months * len(paid))})
    return {"invoices": invoices, "leads": leads, "marketing_spend": spend}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--invoices", type=int, default=3_000_000)
    ap.add_argument("--patients", type=int, default=1_000_000)
    ap.add_argument("--months", type=int, default=36)
    args = ap.parse_args()
    t = time.perf_counter()
    tables = make_tables(args.invoices, args.patients, args.months)
    print(f"generated {len(tables['invoices']):,} invoices of {args.patients:,} patients over {args.months} months "
          f"in {time.perf_counter() - t:.1f} s")
    t = time.perf_counter()
    tables = add_keys(tables)                      # as the run folder's tables hold them (made once at ingest)
    print(f"  integer keys made at ingest (ingest/keys.add_keys)                       {time.perf_counter() - t:6.2f} s")
    t0 = time.perf_counter()
    s = cc.summarise(tables)
    total = time.perf_counter() - t0
    t1 = time.perf_counter()
    cohorts_section.finding_drafts(s, Formatter("en"), Translator("en"))
    findings = time.perf_counter() - t1
    # the shared definitions summarise calls, timed again on their own to show where the time goes
    inv, shared, t2 = tables["invoices"], {}, time.perf_counter()
    acquired = pt.acquisition_rows(inv)[0]
    shared["patients.acquisition_rows"], t2 = time.perf_counter() - t2, time.perf_counter()
    pt.touches(acquired, tables["leads"])
    shared["patients.touches"], t2 = time.perf_counter() - t2, time.perf_counter()
    pt.visits(inv)
    shared["patients.visits"] = time.perf_counter() - t2
    print(f"  summarise (acquisitions, first touch, visits, triangle, channels, payback) {total:6.2f} s")
    for name, secs in shared.items():
        print(f"    of which {name:<63} {secs:6.2f} s")
    print(f"    of which cohorts' own code (≈ the rest)                                {total - sum(shared.values()):6.2f} s")
    print(f"  findings                                                                {findings:6.2f} s")
    print(f"cohorts computation total: {total + findings:.1f} s (target < 5 s)")
    h = s.headlines()
    print(f"{s.cohorts['cohort'].nunique()} cohorts, {len(s.cohorts):,} cells; LTV 6 m {h['ltv_6m']:,.0f}, "
          f"LTV 12 m {h['ltv_12m']:,.0f}, retention m1 {h['retention_m1']:.3f}, payback month {h['payback_month']}")


if __name__ == "__main__":
    main()
