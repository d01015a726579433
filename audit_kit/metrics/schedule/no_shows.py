"""Schedule (module 03): no-shows and cancellations — rates by group, lead time, and what no-shows cost."""
from __future__ import annotations


import numpy as np
import pandas as pd

from ...ingest.keys import shared_keys
from ..ids import row_in, with_keys
from ..periods import day_numbers
from .intervals import STATUSES, plain_strings, shared_codes, take_codes, with_doctors


MIN_KEPT = 30            # a group needs this many kept bookings before its no-show rate is judged
LATE_CANCEL_HOURS = 24   # a cancellation this close to the slot (or after it) is late
LEAD_TIME_BUCKETS = ("same_day", "1_2", "3_7", "8_14", "15_plus")
FAR_AHEAD_BUCKETS = ("8_14", "15_plus")   # booked more than a week ahead
NO_GROUP = ""            # key of a missing group value (no specialty) in lookup tables

# -- no-shows and cancellations --------------------------------------------------------------

def lead_time_bucket(bookings: pd.DataFrame) -> pd.Series:
    """How far ahead each booking was made: calendar days from created_at to slot_start.

    Buckets: same_day (0), 1_2, 3_7, 8_14, 15_plus (ordered categorical). NA when created_at
    is missing or after the slot's day (a data error).
    """
    days = (bookings["slot_start"].dt.normalize() - bookings["created_at"].dt.normalize()).dt.days
    out = pd.cut(days, bins=[-0.5, 0.5, 2.5, 7.5, 14.5, np.inf], labels=list(LEAD_TIME_BUCKETS))
    return out.rename("lead_time")


def with_dimensions(slot_table: pd.DataFrame, doctors: pd.DataFrame | None = None,
                    leads: pd.DataFrame | None = None) -> pd.DataFrame:
    """Add what no-shows are cut by: specialty and doctor (`with_doctors`), channel, weekday, lead_time.

    channel = the channel of the booking's lead (NA without a lead or leads table);
    weekday = day of the slot (Monday = 0); hour = clock hour of the slot start.
    """
    out = with_doctors(slot_table, doctors)
    if leads is not None and len(leads):
        # `row_in` takes the first of duplicated lead IDs, as ingest keeps the first.
        out["channel"] = take_codes(leads["channel"], row_in(out, "lead_id", leads))
    else:
        out["channel"] = pd.Categorical.from_codes(np.full(len(out), -1), categories=pd.Index([], dtype="string"))
    out["weekday"] = out["slot_start"].dt.day_of_week.astype("int8")
    out["hour"] = out["slot_start"].dt.hour.astype("int8")
    out["lead_time"] = lead_time_bucket(out)
    return out


def booking_rates(bookings: pd.DataFrame, by: str | list[str] | None = None) -> pd.DataFrame:
    """Booking outcomes and rates per group.

    - no_show_rate = no_show ÷ (completed + no_show) (NaN with no kept booking);
    - cancel_rate = cancelled ÷ all bookings (rescheduled count in the denominator);
    - late_cancel_rate = cancellations made less than 24 h before the slot (or after it) ÷
      all bookings; cancellations without cancelled_at are not counted as late.
    Counts: bookings, completed, no_show, cancelled, rescheduled, late_cancelled.
    Rows with a missing group value are kept in a group of their own (NA).
    """
    keys = [by] if isinstance(by, str) else list(by or [])
    (code,), values = shared_codes(bookings["status"])
    is_status = {s: code == values.get_indexer([s])[0] if s in values else np.zeros(len(code), bool)
                 for s in STATUSES}
    late = is_status["cancelled"] & (
        bookings["cancelled_at"] > bookings["slot_start"] - pd.Timedelta(hours=LATE_CANCEL_HOURS)).to_numpy(bool)
    flags = pd.DataFrame({s: is_status[s].astype("int64") for s in STATUSES}, index=bookings.index)
    flags["late_cancelled"] = late.astype("int64")
    flags["bookings"] = 1
    if keys:
        counts = flags.join(bookings[keys]).groupby(keys, observed=True, dropna=False).sum()
    else:
        counts = flags.sum().to_frame().T
    kept = counts["completed"] + counts["no_show"]
    counts["no_show_rate"] = counts["no_show"] / kept.where(kept > 0)
    counts["cancel_rate"] = counts["cancelled"] / counts["bookings"].where(counts["bookings"] > 0)
    counts["late_cancel_rate"] = counts["late_cancelled"] / counts["bookings"].where(counts["bookings"] > 0)
    cols = ["bookings", "completed", "no_show", "cancelled", "rescheduled", "late_cancelled",
            "no_show_rate", "cancel_rate", "late_cancel_rate"]
    return plain_strings(counts[cols].reset_index()) if keys else counts[cols].reset_index(drop=True)


def paid_per_booking(slot_table: pd.DataFrame, invoices: pd.DataFrame,
                     visits: pd.DataFrame | None = None) -> pd.Series:
    """Net amount paid for each realised booking (refunds netted), NaN when nothing is linked.

    Link: invoice.visit_id → visit.booking_id when visits carry booking IDs; otherwise (or for
    invoices without a visit) the patient and the calendar day of paid_at matched to the
    patient and day of a realised booking (first such booking of that day).
    """
    # IDs are looked up by ingest's integer keys where the frames carry them (`patients.row_in`).
    realised = slot_table.loc[slot_table["realised"].to_numpy(bool),
                              with_keys(slot_table, ["booking_id", "patient_id", "slot_start"])]
    inv = invoices.loc[invoices["amount"].notna().to_numpy(bool),
                       with_keys(invoices, ["visit_id", "patient_id", "paid_at", "amount"])]
    amount = inv["amount"].to_numpy("float64")
    paid = np.zeros(len(realised))
    hits = np.zeros(len(realised))
    used = np.zeros(len(inv), dtype=bool)
    if visits is not None and len(visits) and visits["booking_id"].notna().any():
        linked_visits = visits.loc[(visits["booking_id"].notna() & visits["visit_id"].notna()).to_numpy(bool),
                                   with_keys(visits, ["visit_id", "booking_id"])]
        linked_visits = linked_visits.drop_duplicates(with_keys(linked_visits, ["visit_id"])[-1])   # by key if any
        visit_row = row_in(inv, "visit_id", linked_visits)                 # invoice -> visit
        booking_row = row_in(linked_visits, "booking_id", realised)        # visit -> booking
        used = visit_row >= 0
        target = np.where(used, booking_row[np.maximum(visit_row, 0)], -1)
        ok = target >= 0
        paid += np.bincount(target[ok], weights=amount[ok], minlength=len(realised))
        hits += np.bincount(target[ok], minlength=len(realised))
    rest = inv.loc[~used]
    if len(rest):
        # One int64 per patient-day: the patient's key (shared by both frames) and the calendar day.
        patient_b, patient_i = patient_codes(realised, rest)
        day_b, day_i = day_numbers(realised["slot_start"]), day_numbers(rest["paid_at"])
        dated = rest["paid_at"].notna().to_numpy(bool) & (patient_i >= 0)
        low = min(day_b.min(initial=0), day_i[dated].min(initial=0))
        span = max(day_b.max(initial=0), day_i[dated].max(initial=0)) - low + 1
        key_b = patient_b * span + (day_b - low)
        key_i = patient_i[dated] * span + (day_i[dated] - low)
        first = ~pd.Series(key_b).duplicated().to_numpy(bool)            # each patient-day's first booking
        by_day = pd.Series(amount[~used][dated]).groupby(key_i).sum()     # as pandas sums (same rounding)
        hit = by_day.reindex(key_b[first]).to_numpy("float64", na_value=np.nan)
        row = np.flatnonzero(first)
        paid[row] += np.nan_to_num(hit)
        hits[row] += ~np.isnan(hit)
    out = pd.Series(np.nan, index=slot_table.index, name="paid")
    out.loc[realised.index] = np.where(hits > 0, paid, np.nan)
    return out


def patient_codes(a: pd.DataFrame, b: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes of two frames' patient_id over one code list (-1: missing): ingest's patient_key
    when both carry it, else codes made here."""
    if "patient_key" in a and "patient_key" in b:
        return a["patient_key"].to_numpy(np.int64), b["patient_key"].to_numpy(np.int64)
    mine, theirs = shared_keys(a["patient_id"], b["patient_id"])
    return mine.astype(np.int64), theirs.astype(np.int64)


def visit_value(bookings: pd.DataFrame, paid: pd.Series, by: str = "specialty") -> pd.Series:
    """Average paid amount of a realised visit, per group (money).

    Mean of `paid` (from `paid_per_booking`) over realised bookings with a positive net
    payment. A group without such visits takes the clinic-wide average; NaN when nothing
    at all was paid. Index: the group values present in `bookings`; NO_GROUP ("") stands for
    a missing value (e.g. a doctor without a specialty) — look values up with `value_for`.
    """
    ok = (bookings["realised"] & (paid > 0)).to_numpy(bool)
    amounts = paid.to_numpy("float64")
    overall = amounts[ok].mean() if ok.any() else np.nan
    (codes,), groups = shared_codes(bookings[by])
    codes = np.where(codes < 0, len(groups), codes)               # a missing group -> NO_GROUP
    labels = pd.Index([*groups.astype("string"), NO_GROUP], dtype="string")
    total = np.bincount(codes[ok], weights=amounts[ok], minlength=len(labels))
    count = np.bincount(codes[ok], minlength=len(labels))
    present = np.bincount(codes, minlength=len(labels)) > 0
    means = np.where(count > 0, total / np.maximum(count, 1), overall)
    return pd.Series(means[present], index=labels[present], dtype="float64", name="visit_value")


def value_for(keys: pd.Series, value: pd.Series | None) -> pd.Series:
    """Look up a `visit_value` for each key (missing key -> NO_GROUP); NaN when unknown."""
    if value is None:
        return pd.Series(np.nan, index=keys.index, dtype="float64")
    return keys.astype("string").fillna(NO_GROUP).map(value).astype("float64")


def no_show_cost(counts: pd.DataFrame, value: pd.Series | None, *, target: float,
                 by: str = "specialty") -> pd.DataFrame:
    """What no-shows cost, per group (money over the period of the counts).

    counts: completed and no_show per group (e.g. `booking_rates(bookings, "specialty")`).
    cost = no-show slots × average paid visit of the group (`visit_value`);
    excess_no_show = max(no_show − target × (completed + no_show), 0) — the no-shows above
    the target rate; excess_cost = excess_no_show × visit value (what reaching the target
    would bring back). NaN cost when the group has no visit value.
    """
    out = counts.groupby(by, dropna=False, as_index=False)[["completed", "no_show"]].sum()
    kept = out["completed"] + out["no_show"]
    out["no_show_rate"] = out["no_show"] / kept.where(kept > 0)
    out["visit_value"] = value_for(out[by], value)
    out["excess_no_show"] = np.maximum(out["no_show"] - target * kept, 0.0)
    out["cost"] = out["no_show"] * out["visit_value"]
    out["excess_cost"] = out["excess_no_show"] * out["visit_value"]
    return out[[by, "completed", "no_show", "no_show_rate", "visit_value", "cost", "excess_no_show", "excess_cost"]]


def excess_over(rates: pd.DataFrame, *, group_mask: pd.Series) -> dict:
    """No-shows of the flagged groups above the rate of the other groups.

    rates: `booking_rates` rows; group_mask: which rows form the worse group. Returns
    rate_in / rate_out (no-show rates of the two sides), kept_in, no_show_in, kept_out,
    excess = max(no_show_in − rate_out × kept_in, 0) and z, the two-proportion z statistic
    (|z| > 2: the difference is unlikely to be chance).
    """
    kept = rates["completed"] + rates["no_show"]
    kin, nin = kept[group_mask].sum(), rates.loc[group_mask, "no_show"].sum()
    kout, nout = kept[~group_mask].sum(), rates.loc[~group_mask, "no_show"].sum()
    rate_in = nin / kin if kin else np.nan
    rate_out = nout / kout if kout else np.nan
    excess = max(nin - rate_out * kin, 0.0) if kin and kout else np.nan
    pooled = (nin + nout) / (kin + kout) if kin + kout else np.nan
    se = np.sqrt(pooled * (1 - pooled) * (1 / kin + 1 / kout)) if kin and kout else np.nan
    z = (rate_in - rate_out) / se if se and np.isfinite(se) and se > 0 else np.nan
    return {"rate_in": rate_in, "rate_out": rate_out, "kept_in": int(kin), "no_show_in": int(nin),
            "kept_out": int(kout), "excess": excess, "z": z}


def worse_groups(rates: pd.DataFrame, by: str, *, min_kept: int = MIN_KEPT, z: float = 2.0) -> pd.DataFrame:
    """Groups (e.g. channels) whose no-show rate is clearly above the other groups'.

    rates: `booking_rates(..., by)`. Rows with a missing group value are left out of the
    comparison. For each group: rate_out = no-show rate of all the other groups, z = the
    two-proportion z statistic, excess = max(no_show − rate_out × kept, 0). Returns the groups
    with at least `min_kept` (30) kept bookings and z ≥ `z` (2), worst first.
    """
    known = rates.loc[rates[by].notna()].copy()
    kept = (known["completed"] + known["no_show"]).astype("float64")
    total_kept, total_ns = kept.sum(), known["no_show"].sum()
    rest_kept = total_kept - kept
    known["kept"] = kept
    known["rate_out"] = (total_ns - known["no_show"]) / rest_kept.where(rest_kept > 0)
    pooled = total_ns / total_kept if total_kept else np.nan
    se = np.sqrt(pooled * (1 - pooled) * (1 / kept.where(kept > 0) + 1 / rest_kept.where(rest_kept > 0)))
    known["z"] = (known["no_show_rate"] - known["rate_out"]) / se.where(se > 0)
    known["excess"] = np.maximum(known["no_show"] - known["rate_out"] * kept, 0.0)
    out = known.loc[(kept >= min_kept) & (known["z"] >= z)]
    return out.sort_values("no_show_rate", ascending=False)[
        [by, "kept", "no_show", "no_show_rate", "rate_out", "z", "excess"]].reset_index(drop=True)


def no_show_value(counts: pd.DataFrame, value: pd.Series | None, by: str = "specialty") -> float:
    """Average visit value of no-show slots: Σ no_show × value of the group ÷ Σ no_show.

    counts: no_show per group (e.g. `per_doctor` rows with specialty). The price of one lost
    slot when no-shows are not split by specialty; NaN when unknown.
    """
    v = value_for(counts[by], value)
    known = v.notna() & (counts["no_show"] > 0)
    n = counts.loc[known, "no_show"].sum()
    return float((counts.loc[known, "no_show"] * v[known]).sum() / n) if n else np.nan
