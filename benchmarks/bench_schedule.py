"""Benchmark: the schedule module's computation on 5 million bookings over 2 million shifts.

Target (issue 5): under 15 s on a 2-core machine. Prints the time of each step and the total.

    .venv/bin/python benchmarks/bench_schedule.py [--bookings 5000000] [--shifts 2000000]
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from audit_kit.metrics import schedule as sc

MIN = np.timedelta64(1, "m")


def make_tables(n_bookings: int, n_shifts: int, n_doctors: int = 2000, seed: int = 5) -> dict[str, pd.DataFrame]:
    """Canonical-typed tables: one shift a day per doctor (some across midnight), bookings inside them."""
    rng = np.random.default_rng(seed)
    per_doctor = -(-n_shifts // n_doctors)
    doctor = np.repeat(np.arange(n_doctors), per_doctor)[:n_shifts]
    day = np.tile(np.arange(per_doctor), n_doctors)[:n_shifts]
    base = np.datetime64("2021-01-01T00:00", "m")
    start_min = rng.choice([8 * 60, 9 * 60, 14 * 60, 22 * 60], size=n_shifts, p=[0.45, 0.2, 0.3, 0.05])
    length = rng.choice([240, 360, 480], size=n_shifts)
    shift_start = base + day * np.timedelta64(1, "D") + start_min * MIN
    shift_end = shift_start + length * MIN
    night = start_min == 22 * 60          # exported as "22:00-04:00": end earlier than start on the same date
    shift_end = np.where(night, shift_end - np.timedelta64(1, "D"), shift_end)
    doctor_ids = pd.array([f"D{i:05d}" for i in range(n_doctors)], dtype="string")
    schedule = pd.DataFrame({
        "doctor_id": doctor_ids[doctor], "shift_start": shift_start.astype("datetime64[ns]"),
        "shift_end": shift_end.astype("datetime64[ns]"),
        "branch_id": pd.array([pd.NA] * n_shifts, dtype="string"), "room": pd.array([pd.NA] * n_shifts, dtype="string"),
    })

    which = rng.integers(0, n_shifts, n_bookings)
    slot = rng.choice([20, 30, 40, 60], size=n_bookings).astype("float64")
    offset = (rng.random(n_bookings) * (length[which] + 30) // 10) * 10     # ~5% start after the shift ends
    slot_start = shift_start[which] + offset.astype("int64") * MIN
    created = slot_start - rng.integers(0, 30 * 24 * 60, n_bookings) * MIN
    status = rng.choice(np.array(["completed", "no_show", "cancelled", "rescheduled"]), size=n_bookings,
                        p=[0.78, 0.08, 0.09, 0.05])
    no_length = rng.random(n_bookings) < 0.1
    slot_end = np.where(no_length, slot_start + slot.astype("int64") * MIN, np.datetime64("NaT"))
    slot = np.where(no_length, np.nan, slot)
    cancelled = status == "cancelled"
    cancelled_at = np.where(cancelled, slot_start - rng.integers(0, 72 * 60, n_bookings) * MIN, np.datetime64("NaT"))
    ids = pd.array(np.char.add("B", np.arange(n_bookings).astype(str)), dtype="string")
    lead_ids = pd.array(np.char.add("L", (np.arange(n_bookings) // 2).astype(str)), dtype="string")
    bookings = pd.DataFrame({
        "booking_id": ids, "patient_id": pd.array(np.char.add("P", rng.integers(0, n_bookings // 3, n_bookings).astype(str)),
                                                  dtype="string"),
        "doctor_id": doctor_ids[doctor[which]], "slot_start": slot_start.astype("datetime64[ns]"),
        "status": pd.array(status, dtype="string"), "lead_id": lead_ids,
        "created_at": created.astype("datetime64[ns]"), "slot_minutes": slot,
        "slot_end": slot_end.astype("datetime64[ns]"), "service": pd.array([pd.NA] * n_bookings, dtype="string"),
        "branch_id": pd.array([pd.NA] * n_bookings, dtype="string"),
        "cancelled_at": cancelled_at.astype("datetime64[ns]"),
    })
    n_leads = n_bookings // 2
    leads = pd.DataFrame({"lead_id": lead_ids[::2][:n_leads],
                          "channel": pd.array(rng.choice(np.array(["SEO", "Контекст", "Агрегаторы"]), n_leads),
                                              dtype="string")})
    doctors = pd.DataFrame({"doctor_id": doctor_ids,
                            "specialty": pd.array([f"spec{i % 12}" for i in range(n_doctors)], dtype="string"),
                            "doctor_name": pd.array([f"Doctor {i}" for i in range(n_doctors)], dtype="string")})
    return {"bookings": bookings, "schedule": schedule, "doctors": doctors, "leads": leads}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bookings", type=int, default=5_000_000)
    ap.add_argument("--shifts", type=int, default=2_000_000)
    args = ap.parse_args()
    t = time.perf_counter()
    tables = make_tables(args.bookings, args.shifts)
    print(f"generated {len(tables['bookings']):,} bookings, {len(tables['schedule']):,} shifts, "
          f"{len(tables['doctors']):,} doctors in {time.perf_counter() - t:.1f} s")

    steps: list[tuple[str, float]] = []

    def step(name, fn):
        t0 = time.perf_counter()
        out = fn()
        steps.append((name, time.perf_counter() - t0))
        return out

    prepared = step("prepare (shifts, slots, timeline, dimensions)",
                    lambda: sc.prepare(tables, default_slot_minutes=30))
    start, end = prepared.slots["slot_start"].min().normalize(), prepared.slots["slot_start"].max()
    bounds = (start, end.normalize() + pd.Timedelta(days=1))
    frames = step("period slices", lambda: sc.period_frames(prepared.shifts, prepared.slots, prepared.segments,
                                                           prepared.waits, bounds))
    step("headlines", lambda: sc.headlines(frames))
    doctors = step("per-doctor table", lambda: sc.per_doctor(frames, prepared.doctors, default_slot_minutes=30))
    step("by specialty + balance", lambda: (sc.by_specialty(doctors), sc.specialty_balance(doctors)))
    hourly = step("weekday × hour per doctor", lambda: sc.by_hour(frames.shifts, frames.slots, frames.segments,
                                                                 by="doctor_id"))
    step("weekday × hour clinic + heatmap matrix", lambda: sc.weekday_hour_matrix(sc.clinic_hours(hourly)))
    step("peak overload", lambda: sc.peak_overload(hourly))
    step("no-show rates by channel, weekday, lead time",
         lambda: [sc.booking_rates(frames.slots, by) for by in ("channel", "weekday", "lead_time")])
    step("money", lambda: sc.money(frames, doctors, prepared.visit_value, no_show_target=0.05,
                                   utilisation_target=0.85))
    total = sum(s for _, s in steps)
    for name, secs in steps:
        print(f"  {name:<55} {secs:6.2f} s")
    print(f"schedule computation total: {total:.1f} s (target < 15 s)")
    h = sc.headlines(frames)
    print(f"offered {h['offered_hours']:,.0f} h, booked {h['booked_hours']:,.0f} h, utilisation {h['utilisation']:.3f}, "
          f"double-booked {h['double_booked_hours']:,.0f} h, outside shifts {h['outside_shift_hours']:,.0f} h, "
          f"no-show {h['no_show_rate']:.3f}")


if __name__ == "__main__":
    main()
