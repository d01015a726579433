"""Schedule (module 03): one period's frames and headline numbers, the money at stake, and the
per-period summaries the module layer (`audit_kit.modules.schedule`) and the notebook use."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import numpy as np
import pandas as pd

from ..periods import in_window, period_months
from .intervals import (as_categorical, by_hour, clinic_hours, plain_strings, shifts, slots, timeline,
                        utilisation, with_doctors)
from .idle import UNDERLOADED, PeakOverload, idle_patients, peak_overload, specialty_balance, typical_slot
from .no_shows import booking_rates, no_show_cost, paid_per_booking, value_for, visit_value, with_dimensions
from .waits import wait_summary, waits


# -- one period's headline numbers -------------------------------------------------------------

@dataclass
class PeriodFrames:
    """One period's slices: shifts by shift_start, bookings by slot_start, segments by start,
    waits by checked_in_at."""

    shifts: pd.DataFrame
    slots: pd.DataFrame
    segments: pd.DataFrame
    waits: pd.DataFrame | None
    months: float


def period_frames(shift_table: pd.DataFrame, slot_table: pd.DataFrame, segments: pd.DataFrame,
                  wait_table: pd.DataFrame | None, bounds: tuple[pd.Timestamp, pd.Timestamp]) -> PeriodFrames:
    """Cut the whole-data frames to one period [start, end) (see `PeriodFrames`)."""
    def cut(df: pd.DataFrame, column: str) -> pd.DataFrame:
        mask = in_window(df[column], *bounds)
        return df if mask.all() else df.loc[mask]

    return PeriodFrames(
        shifts=cut(shift_table, "shift_start"), slots=cut(slot_table, "slot_start"),
        segments=cut(segments, "start"), waits=None if wait_table is None else cut(wait_table, "checked_in_at"),
        months=period_months(*bounds),
    )


def underload_gap(per_doctor: pd.DataFrame, *, target: float, low: float = UNDERLOADED) -> pd.DataFrame:
    """Underloaded doctors (utilisation < low) and the booked time they lack to reach target.

    gap_minutes = target × offered − booked; gap_patients = gap ÷ the doctor's typical slot
    (`typical_slot_minutes` column, else 30). Returns the per_doctor rows of underloaded doctors
    with gap_minutes and gap_patients, lowest utilisation first.
    """
    under = per_doctor.loc[per_doctor["utilisation"] < low].copy()
    under["gap_minutes"] = np.maximum(target * under["offered_minutes"] - under["booked_minutes"], 0.0)
    slot = under["typical_slot_minutes"] if "typical_slot_minutes" in under else pd.Series(30.0, index=under.index)
    under["gap_patients"] = np.floor(under["gap_minutes"] / slot.fillna(30.0))
    return under.sort_values("utilisation")


def headlines(frames: PeriodFrames, *, wait_target: float = 15, rates: pd.Series | None = None) -> dict[str, float]:
    """The module's headline numbers for one period (metrics.json, without money).

    offered/booked/realised/idle hours, utilisation, realised_utilisation, no_show_rate,
    cancel_rate, double_booked_hours, outside_shift_hours, median_wait_minutes (NaN without
    timed visits), share_wait_over_target. ``rates``: `booking_rates` of the period's slots, when the caller has it.
    """
    total = utilisation(frames.shifts, frames.slots, frames.segments, by=None).iloc[0]
    rates = booking_rates(frames.slots).iloc[0] if rates is None else rates
    out = {
        "offered_hours": total["offered_minutes"] / 60,
        "booked_hours": total["booked_minutes"] / 60,
        "realised_hours": total["realised_minutes"] / 60,
        "utilisation": total["utilisation"],
        "realised_utilisation": total["realised_utilisation"],
        "idle_hours": total["idle_minutes"] / 60,
        "double_booked_hours": total["double_booked_minutes"] / 60,
        "outside_shift_hours": total["outside_shift_minutes"] / 60,
        "no_show_rate": rates["no_show_rate"],
        "cancel_rate": rates["cancel_rate"],
        "late_cancel_rate": rates["late_cancel_rate"],
        "median_wait_minutes": np.nan,
        "share_wait_over_target": np.nan,
    }
    if frames.waits is not None and frames.waits["wait_minutes"].notna().any():
        w = wait_summary(frames.waits, target=wait_target).iloc[0]
        out["median_wait_minutes"] = w["median_wait"]
        out["share_wait_over_target"] = w["share_over_target"]
    return {k: float(v) for k, v in out.items()}


def rate_counts(frames: PeriodFrames, *, wait_target: float = 15, rates: pd.Series | None = None
                ) -> dict[str, tuple[int, int]]:
    """The numerator and denominator of each headline rate of one period (`headlines`): no_show_rate = (no_show,
    completed + no_show), cancel_rate = (cancelled, bookings), late_cancel_rate = (late_cancelled, bookings),
    share_wait_over_target = (visits waiting longer than ``wait_target`` minutes, timed visits), the last only when
    visits are given. ``rates``: `booking_rates` of the period's slots, when the caller has it."""
    out = booking_rate_counts(booking_rates(frames.slots).iloc[0] if rates is None else rates)
    if frames.waits is not None:
        out["share_wait_over_target"] = wait_counts(frames.waits["wait_minutes"], wait_target)
    return out


def booking_rate_counts(rates: pd.Series) -> dict[str, tuple[int, int]]:
    """(x, n) of the booking rates from one row of `booking_rates`: no_show_rate = (no_show, completed + no_show),
    cancel_rate = (cancelled, bookings), late_cancel_rate = (late_cancelled, bookings)."""
    return {"no_show_rate": (int(rates["no_show"]), int(rates["completed"] + rates["no_show"])),
            "cancel_rate": (int(rates["cancelled"]), int(rates["bookings"])),
            "late_cancel_rate": (int(rates["late_cancelled"]), int(rates["bookings"]))}


def wait_counts(wait_minutes: pd.Series, target: float) -> tuple[int, int]:
    """(x, n) of share_wait_over_target: visits waiting longer than ``target`` minutes, timed visits (NA: untimed)."""
    wait = wait_minutes.to_numpy(dtype="float64", na_value=np.nan)
    return int((wait > target).sum()), int((~np.isnan(wait)).sum())


# -- putting it together for the notebook ---------------------------------------------------------

@dataclass
class Prepared:
    """Whole-data frames the module works from (periods are cut with `period_frames`)."""

    shifts: pd.DataFrame              # merged shifts
    slots: pd.DataFrame               # bookings as slots + dimensions (+ paid with invoices)
    segments: pd.DataFrame            # `timeline`
    waits: pd.DataFrame | None        # per visit (+ doctor, specialty), when visits are given
    visit_value: pd.Series | None     # average paid visit per specialty, when invoices are given
    doctors: pd.DataFrame | None      # the doctors table, when given


def prepare(tables: Mapping[str, pd.DataFrame], *, default_slot_minutes: float = 30) -> Prepared:
    """Build every whole-data frame from the canonical tables (bookings and schedule required;
    doctors, visits, invoices and leads used when present).

    doctor_id becomes one categorical over every doctor so millions of rows group by integer
    codes. The visit value is computed over all the data given (one price level for every period).
    """
    doctors, visits = tables.get("doctors"), tables.get("visits")
    ids = [tables["schedule"]["doctor_id"], tables["bookings"]["doctor_id"]]
    categories = pd.Index(ids[0].dropna().unique()).union(pd.Index(ids[1].dropna().unique()))
    categories = categories.astype("string")
    schedule = tables["schedule"].assign(doctor_id=as_categorical(ids[0], categories))
    bookings = tables["bookings"].assign(doctor_id=as_categorical(ids[1], categories))
    shift_table = shifts(schedule)
    slot_table = with_dimensions(slots(bookings, default_slot_minutes, visits), doctors, tables.get("leads"))
    segments = timeline(shift_table, slot_table)
    wait_table = None
    if visits is not None and len(visits):
        wait_table = with_doctors(waits(visits, slot_table), doctors)
    value = None
    if tables.get("invoices") is not None and len(tables["invoices"]):
        slot_table["paid"] = paid_per_booking(slot_table, tables["invoices"], visits)
        value = visit_value(slot_table, slot_table["paid"])
        if value.isna().all():
            value = None
    return Prepared(shift_table, slot_table, segments, wait_table, value, doctors)


def per_doctor(frames: PeriodFrames, doctors: pd.DataFrame | None = None, *,
               default_slot_minutes: float = 30) -> pd.DataFrame:
    """One row per doctor for a period: time (`utilisation`), idle patients, booking outcomes.

    Columns: doctor_id, doctor, specialty (`with_doctors`), offered/booked/realised minutes,
    utilisation, realised_utilisation, idle/double_booked/outside_shift minutes,
    typical_slot_minutes, idle_patients (`idle_patients`), the `booking_rates` counts and
    rates. Sorted by utilisation, busiest first (doctors without shifts last).
    """
    out = utilisation(frames.shifts, frames.slots, frames.segments, by="doctor_id")
    typical = typical_slot(frames.slots)
    out["typical_slot_minutes"] = out["doctor_id"].map(typical).astype("float64").fillna(float(default_slot_minutes))
    patients = idle_patients(frames.segments, typical, default_slot_minutes)
    out["idle_patients"] = out["doctor_id"].map(patients).astype("float64").fillna(0.0)
    rates = booking_rates(frames.slots, "doctor_id")
    out = out.merge(rates, on="doctor_id", how="left")
    counts = ["bookings", "completed", "no_show", "cancelled", "rescheduled", "late_cancelled"]
    out[counts] = out[counts].fillna(0).astype("int64")
    out = plain_strings(with_doctors(out, doctors))
    front = ["doctor_id", "doctor", "specialty"]
    out = out[front + [c for c in out.columns if c not in front]]
    return out.sort_values("utilisation", ascending=False, na_position="last").reset_index(drop=True)


def by_specialty(per_doctor_table: pd.DataFrame) -> pd.DataFrame:
    """`per_doctor` rolled up to specialties: minutes summed, utilisation recomputed
    (booked ÷ offered, realised ÷ offered); doctors without a specialty form one NA row."""
    cols = [c for c in per_doctor_table.columns if c.endswith("_minutes") and "slot" not in c]
    out = per_doctor_table.groupby("specialty", dropna=False, as_index=False)[cols].sum()
    offered = out["offered_minutes"].where(out["offered_minutes"] > 0)
    out.insert(4, "utilisation", out["booked_minutes"] / offered)
    out.insert(5, "realised_utilisation", out["realised_minutes"] / offered)
    return out


@dataclass
class Money:
    """What the period's schedule problems cost, per month (config currency)."""

    no_show: pd.DataFrame        # `no_show_cost` by specialty (whole period)
    underload: pd.DataFrame      # `underload_gap` rows + visit_value, gap_value (whole period)
    months: float

    @property
    def no_show_cost_per_month(self) -> float:
        return finite_total(self.no_show["cost"]) / self.months

    @property
    def no_show_excess_per_month(self) -> float:
        return finite_total(self.no_show["excess_cost"]) / self.months

    @property
    def underload_per_month(self) -> float:
        return finite_total(self.underload["gap_value"]) / self.months

    @property
    def at_stake_per_month(self) -> float:
        """No-shows above the target plus underloaded doctors' capacity below the utilisation target."""
        return self.no_show_excess_per_month + self.underload_per_month


def finite_total(s: pd.Series) -> float:
    """Sum that stays NaN when every value is unknown (cannot be priced), 0 for no rows."""
    if len(s) and s.isna().all():
        return np.nan
    return float(s.sum())


def money(frames: PeriodFrames, doctors_table: pd.DataFrame, value: pd.Series | None, *,
          no_show_target: float, utilisation_target: float) -> Money:
    """Price a period's problems with the average paid visit of each specialty (`visit_value`).

    - no-shows: cost = no-show slots × visit value; excess = no-shows above the target rate
      (`no_show_cost`);
    - underloaded doctors (utilisation < 0.60): the patients they lack to reach the
      utilisation target (`underload_gap`) × visit value.
    Money is per month of the period. Without a visit value every amount is NaN (not priced).
    """
    ns = no_show_cost(doctors_table, value, target=no_show_target)
    under = underload_gap(doctors_table, target=utilisation_target)
    under["visit_value"] = value_for(under["specialty"], value)
    under["gap_value"] = under["gap_patients"] * under["visit_value"]
    return Money(ns, under, frames.months)


# -- the whole module: per-period summaries, metrics.json, findings ----------------------------------

FINDINGS = ("overbooked", "underloaded", "imbalance", "peak_overload", "no_show", "no_show_lead_time",
            "no_show_channel", "waits", "overrun", "outside_shifts")   # ids `build_findings` may emit
WAIT_SHARE_LIMIT = 0.25   # waits: a finding when more than this share waits longer than the target
OVERRUN_MINUTES = 5.0     # overruns: a doctor whose appointments run this much over the slot on average
OUTSIDE_SHARE = 0.05      # bookings outside shifts: a finding above this share of booked minutes
MIN_VISITS = 30           # a doctor needs this many timed visits before their waits/overruns are judged


@dataclass
class PeriodSummary:
    """Everything the notebook shows for one period."""

    name: str
    bounds: tuple[pd.Timestamp, pd.Timestamp]
    frames: PeriodFrames
    headlines: dict[str, float]
    doctors: pd.DataFrame                 # `per_doctor`
    specialties: pd.DataFrame             # `utilisation` by specialty
    balance: pd.DataFrame                 # `specialty_balance`
    hourly: pd.DataFrame                  # `by_hour`, whole clinic
    hourly_by_doctor: pd.DataFrame        # `by_hour` by doctor_id
    rates: dict[str, pd.DataFrame]        # `booking_rates` by lead_time, channel, weekday
    money: Money
    peak: PeakOverload | None
    waits_by_doctor: pd.DataFrame | None  # `wait_summary` by doctor (with names)
    visit_value: pd.Series | None
    wait_target: float = 15               # minutes: the target the wait shares were computed against
    counts: dict[str, tuple[int, int]] = field(default_factory=dict)   # `rate_counts`


def summarise(tables: Mapping[str, pd.DataFrame], periods: dict[str, tuple[pd.Timestamp, pd.Timestamp]], *,
              default_slot_minutes: float = 30, wait_target: float = 15, no_show_target: float = 0.05,
              utilisation_target: float = 0.85) -> dict[str, PeriodSummary]:
    """The module's numbers for every period (name -> [start, end)), from the canonical tables."""
    prepared = prepare(tables, default_slot_minutes=default_slot_minutes)
    out = {}
    for name, bounds in periods.items():
        f = period_frames(prepared.shifts, prepared.slots, prepared.segments, prepared.waits, bounds)
        doctors_table = per_doctor(f, prepared.doctors, default_slot_minutes=default_slot_minutes)
        waits_by_doctor = None
        if f.waits is not None and f.waits["wait_minutes"].notna().any():
            waits_by_doctor = plain_strings(wait_summary(f.waits, target=wait_target, by=["doctor_id", "doctor", "specialty"]))
        hourly_by_doctor = by_hour(f.shifts, f.slots, f.segments, by="doctor_id")
        rates = booking_rates(f.slots).iloc[0]
        out[name] = PeriodSummary(
            name=name, bounds=bounds, frames=f, headlines=headlines(f, wait_target=wait_target, rates=rates),
            doctors=doctors_table, specialties=by_specialty(doctors_table),
            balance=specialty_balance(doctors_table),
            hourly=clinic_hours(hourly_by_doctor), hourly_by_doctor=hourly_by_doctor,
            rates={by: booking_rates(f.slots, by) for by in ("lead_time", "channel", "weekday")},
            money=money(f, doctors_table, prepared.visit_value, no_show_target=no_show_target,
                        utilisation_target=utilisation_target),
            peak=peak_overload(hourly_by_doctor),
            waits_by_doctor=waits_by_doctor, visit_value=prepared.visit_value, wait_target=wait_target,
            counts=rate_counts(f, wait_target=wait_target, rates=rates),
        )
    return out


HEADLINE_UNITS = {
    "offered_hours": "hours", "booked_hours": "hours", "realised_hours": "hours", "utilisation": "rate",
    "realised_utilisation": "rate", "idle_hours": "hours", "double_booked_hours": "hours",
    "outside_shift_hours": "hours", "no_show_rate": "rate", "cancel_rate": "rate", "late_cancel_rate": "rate",
    "median_wait_minutes": "minutes", "share_wait_over_target": "rate",
}


def headline_metrics(summaries: dict[str, PeriodSummary]) -> dict[str, tuple[str, dict[str, float]]]:
    """metrics.json entries: `schedule.<name>` -> (unit, {period: value}), money per month included.

    schedule.money_at_stake_per_month = no-shows above the target + underloaded doctors'
    capacity below the utilisation target (`Money.at_stake_per_month`);
    schedule.no_show_cost_per_month = every no-show slot priced.
    """
    out = {f"schedule.{k}": (unit, {p: s.headlines[k] for p, s in summaries.items()})
           for k, unit in HEADLINE_UNITS.items()}
    out["schedule.no_show_cost_per_month"] = ("money", {p: s.money.no_show_cost_per_month
                                                        for p, s in summaries.items()})
    out["schedule.money_at_stake_per_month"] = ("money", {p: s.money.at_stake_per_month
                                                          for p, s in summaries.items()})
    return out


def comparison(summaries: dict[str, PeriodSummary]) -> pd.DataFrame:
    """Headline numbers side by side: metric, unit, one column per period, change.

    change = current − base for rates (fraction points) and current ÷ base − 1 otherwise
    (NaN without a base or when the base is 0).
    """
    rows = headline_metrics(summaries)
    out = pd.DataFrame([{"metric": k.split(".", 1)[1], "unit": unit, **values} for k, (unit, values) in rows.items()])
    if "base" in out and "current" in out:
        base, cur = out["base"].astype("float64"), out["current"].astype("float64")
        out["change"] = np.where(out["unit"] == "rate", cur - base, cur / base.where(base != 0) - 1)
    else:
        out["change"] = np.nan
    return out


def in_hours(df: pd.DataFrame) -> pd.DataFrame:
    """Columns `<x>_minutes` (except slot lengths) shown as `<x>_hours` for tables."""
    cols = [c for c in df.columns if c.endswith("_minutes") and "slot" not in c and "wait" not in c]
    out = df.copy()
    out[cols] = out[cols] / 60
    return out.rename(columns={c: c.replace("_minutes", "_hours") for c in cols})
