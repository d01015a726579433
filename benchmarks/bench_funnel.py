"""Benchmark: the whole lead-loss computation on 2 million leads and 1.2 million bookings.

Generates canonical tables with numpy (dtypes as ingest produces them: string IDs, datetime64[ns],
float64 money, nullable boolean), then times `funnel.summarise` (the lead journey once, then every
period: stage counts by channel and month, missed calls, speed to lead, leaks) plus the headline
metrics and findings. Target: under 10 s on the 2-core reference machine.

    .venv/bin/python benchmarks/bench_funnel.py [--leads 2000000] [--bookings 1200000]
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from audit_kit.metrics import funnel
from audit_kit.modules import funnel as funnel_section
from audit_kit.report.fmt import Formatter
from audit_kit.report.i18n import Translator

START = np.datetime64("2024-01-01T00:00", "ns")
YEAR_MINUTES = 455 * 24 * 60  # leads over ~15 months


def ids(prefix: str, numbers: np.ndarray) -> pd.Series:
    return (prefix + pd.Series(numbers).astype(str)).astype("string")


def make_tables(n_leads: int, n_bookings: int, seed: int = 7) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    channels = np.array(["Контекст", "SEO", "Агрегаторы", "Сайт (форма)", "Рекомендации", "Соцсети"])
    created = START + rng.integers(0, YEAR_MINUTES, n_leads).astype("timedelta64[m]")
    response = rng.exponential(40, n_leads).astype("timedelta64[m]")
    no_response = rng.random(n_leads) < 0.08
    first_response = np.where(no_response, np.datetime64("NaT"), created + response)
    n_patients = int(n_leads * 0.7)
    lead_patient = rng.integers(0, n_patients, n_leads)
    reasons = np.array(["цена", "время", "далеко", "врач"], dtype=object)
    lost = np.where(rng.random(n_leads) < 0.4, reasons[rng.integers(0, 4, n_leads)], None)
    leads = pd.DataFrame({
        "lead_id": ids("L", np.arange(n_leads)),
        "created_at": created,
        "channel": pd.Series(channels[rng.integers(0, len(channels), n_leads)]).astype("string"),
        "patient_id": ids("P", lead_patient),
        "call_id": ids("C", np.arange(n_leads)).where(rng.random(n_leads) < 0.5),
        "lost_reason": pd.Series(lost).astype("string"),
        "first_response_at": pd.Series(first_response).astype("datetime64[ns]"),
    })

    # Bookings: 90% linked to a lead (some leads get two), 10% walk-ins.
    linked = rng.random(n_bookings) < 0.9
    b_lead = rng.integers(0, n_leads, n_bookings)
    b_patient = np.where(linked, lead_patient[b_lead], rng.integers(0, n_patients, n_bookings))
    slot = np.where(linked, created[b_lead], START) + rng.integers(60, 14 * 24 * 60, n_bookings).astype("timedelta64[m]")
    status = np.array(["completed", "no_show", "cancelled", "rescheduled"])[
        rng.choice(4, n_bookings, p=[0.7, 0.12, 0.12, 0.06])]
    bookings = pd.DataFrame({
        "booking_id": ids("B", np.arange(n_bookings)),
        "patient_id": ids("P", b_patient),
        "doctor_id": ids("D", rng.integers(0, 60, n_bookings)),
        "slot_start": slot,
        "status": pd.Series(status).astype("string"),
        "lead_id": ids("L", b_lead).where(linked),
    })

    done = np.flatnonzero(status == "completed")
    visits = pd.DataFrame({
        "visit_id": ids("V", np.arange(len(done))),
        "patient_id": bookings["patient_id"].to_numpy()[done],
        "checked_in_at": slot[done] - rng.integers(0, 20, len(done)).astype("timedelta64[m]"),
        "booking_id": bookings["booking_id"].to_numpy()[done],
    })
    visits["patient_id"] = visits["patient_id"].astype("string")
    visits["booking_id"] = visits["booking_id"].astype("string")

    # Invoices: most visits paid, some second visits, 2% refunds.
    paid = done[rng.random(len(done)) < 0.85]
    extra = paid[rng.random(len(paid)) < 0.3]
    inv_patient = np.concatenate([b_patient[paid], b_patient[extra]])
    inv_at = np.concatenate([slot[paid], slot[extra] + rng.integers(1, 120, len(extra)).astype("timedelta64[D]")])
    amount = rng.gamma(3.0, 3300.0, len(inv_patient)).round(-1)
    amount[rng.random(len(amount)) < 0.02] *= -0.5
    invoices = pd.DataFrame({
        "invoice_id": ids("I", np.arange(len(amount))),
        "patient_id": ids("P", inv_patient),
        "paid_at": inv_at,
        "amount": amount,
        "service_category": pd.Series(np.array(["консультация", "лечение", "диагностика"])[
            rng.integers(0, 3, len(amount))]).astype("string"),
    })

    n_calls = int(n_leads * 0.75)
    call_at = START + rng.integers(0, YEAR_MINUTES, n_calls).astype("timedelta64[m]")
    answered = rng.random(n_calls) > 0.12
    callback = np.where(~answered & (rng.random(n_calls) < 0.6),
                        call_at + rng.integers(1, 600, n_calls).astype("timedelta64[m]"), np.datetime64("NaT"))
    calls = pd.DataFrame({
        "call_id": ids("C", np.arange(n_calls)),
        "started_at": call_at,
        "answered": pd.array(answered, dtype="boolean"),
        "caller_phone": ids("h", rng.integers(0, n_calls // 2, n_calls)),
        "called_back_at": pd.Series(callback).astype("datetime64[ns]"),
    })

    months = pd.date_range("2024-01-01", "2025-03-01", freq="MS")
    traffic = pd.DataFrame({"month": np.repeat(months, len(channels)),
                            "channel": pd.Series(np.tile(channels, len(months))).astype("string"),
                            "sessions": rng.integers(5_000, 50_000, len(months) * len(channels)).astype("float64")})
    return {"leads": leads, "bookings": bookings, "visits": visits, "invoices": invoices, "calls": calls,
            "site_traffic": traffic}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=2_000_000)
    parser.add_argument("--bookings", type=int, default=1_200_000)
    args = parser.parse_args()

    t0 = time.perf_counter()
    tables = make_tables(args.leads, args.bookings)
    t1 = time.perf_counter()
    print(f"generated in {t1 - t0:.1f} s: " + ", ".join(f"{k} {len(v):,}" for k, v in tables.items()))

    periods = {"base": (pd.Timestamp("2024-10-01"), pd.Timestamp("2025-01-01")),
               "current": (pd.Timestamp("2025-01-01"), pd.Timestamp("2025-04-01"))}
    t2 = time.perf_counter()
    journey = funnel.lead_journey(tables["leads"], tables["bookings"], tables["visits"], tables["invoices"],
                                  treatment_categories=["лечение"])
    t3 = time.perf_counter()
    summaries = funnel.summarise(tables, periods, treatment_categories=["лечение"])
    metrics = funnel.headline_metrics(summaries)
    findings = funnel_section.finding_drafts(summaries, Formatter("ru"), Translator("ru"))
    t4 = time.perf_counter()

    print(f"lead journey alone: {t3 - t2:.2f} s")
    print(f"whole funnel (journey + 2 periods + metrics + findings): {t4 - t3:.2f} s  (target < 10 s)")
    for period in periods:
        row = {k.removeprefix("funnel."): v[1][period] for k, v in metrics.items()}
        print(f"  {period}: leads {row['leads']:,}, booked {row['booked_leads']:,}, shown {row['shown_leads']:,}, "
              f"paid {row['paid_leads']:,}, treated {row['treated_leads']:,}, "
              f"missed calls {row['missed_call_rate']:.1%}, money at stake/month {row['money_at_stake_per_month']:,.0f}")
    print(f"  findings: {', '.join(f['id'] for f in findings)}")
    print(f"  journey rows: {len(journey):,}")


if __name__ == "__main__":
    main()
