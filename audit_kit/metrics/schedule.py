"""Schedule utilisation: doctors' time offered, booked and used; no-shows, cancellations and waits.

Pure, vectorised functions over the canonical tables (DESIGN §3, module 03); no I/O.

Vocabulary used throughout:
- *shift*: an interval of `schedule` (working time offered for booking);
- *slot*: a booking's interval [slot_start, slot_start + slot length);
- a booking *keeps its slot* when its status is completed or no_show (cancelled and
  rescheduled bookings free it);
- minutes are float minutes; a period is [start, end) timestamps (`AuditConfig.period_bounds`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..ingest.keys import positions
from .periods import in_window, period_months

SLOT_KEEPING = ("completed", "no_show")
STATUSES = ("completed", "no_show", "cancelled", "rescheduled")
SLOT_COLUMNS = ("booking_id", "patient_id", "doctor_id", "lead_id", "status", "slot_start", "slot_end",
                "slot_minutes", "created_at", "cancelled_at")
OVERLOADED = 0.95        # a doctor booked above this share of offered time is overloaded
UNDERLOADED = 0.60       # ... and below this share underloaded (imbalance within a specialty)
MIN_KEPT = 30            # a group needs this many kept bookings before its no-show rate is judged
DOUBLE_BOOKED_SHARE = 0.02   # double-booked minutes ≥ 2% of offered time also make a doctor overbooked
LATE_CANCEL_HOURS = 24   # a cancellation this close to the slot (or after it) is late
LEAD_TIME_BUCKETS = ("same_day", "1_2", "3_7", "8_14", "15_plus")
FAR_AHEAD_BUCKETS = ("8_14", "15_plus")   # booked more than a week ahead
NO_GROUP = ""            # key of a missing group value (no specialty) in lookup tables

_NS_PER_MIN = 60 * 10**9
_NS_PER_SEC = 10**9
_SEC_PER_HOUR = 3600
_EPOCH_WEEKDAY = 3       # 1970-01-01 was a Thursday (Monday = 0)
_HOURS_PER_WEEK = 168
_CHUNK = 1_000_000       # intervals split into hours per numpy pass (bounds temporary memory)
_SHIFT_START, _BOOK_START, _SHIFT_END, _BOOK_END = 0, 1, 2, 3   # event kinds of the timeline sweep
_DELTA = np.array([1 << 32, 1, -(1 << 32), -1], dtype="int64")  # their increments (shifts high, bookings low)


# -- small helpers -----------------------------------------------------------------------------
# Internally doctor_id (and specialty, doctor) may be categorical: millions of rows then group
# and look up by integer codes. Every table a function returns has plain "string" columns.

def _plain(df: pd.DataFrame) -> pd.DataFrame:
    """Categorical columns as "string" columns (for returned tables)."""
    cats = [c for c in df.columns if isinstance(df[c].dtype, pd.CategoricalDtype)]
    if not cats:
        return df
    out = df.copy()
    for c in cats:
        out[c] = out[c].astype("string")
    return out


def _codes(*columns: pd.Series) -> tuple[list[np.ndarray], pd.Index]:
    """Integer codes (-1 = missing) of several ID columns over one shared list of values."""
    dtypes = [c.dtype for c in columns]
    if all(isinstance(d, pd.CategoricalDtype) for d in dtypes) and all(
            d.categories.equals(dtypes[0].categories) for d in dtypes):
        return [c.cat.codes.to_numpy().astype("int64") for c in columns], pd.Index(dtypes[0].categories)
    text = [c.astype("string") for c in columns]
    values = pd.Index(pd.concat(text, ignore_index=True).dropna().unique())
    return [values.get_indexer(t).astype("int64") for t in text], values


def _take(values: pd.Series | np.ndarray, codes: np.ndarray) -> pd.Categorical:
    """values[codes] as a categorical (-1 or a missing value gives NA), without touching strings per row."""
    vcodes, uniques = pd.factorize(values if isinstance(values, pd.Series) else pd.Series(values))
    vcodes = np.r_[vcodes, -1]                     # position -1 -> the appended NA code
    return pd.Categorical.from_codes(vcodes[codes], categories=pd.Index(uniques).astype("string"))


def _categorical(values: pd.Series, categories: pd.Index) -> pd.Categorical:
    """values as a categorical over the given categories (hashing the values once)."""
    codes, uniques = pd.factorize(values)
    mapping = np.r_[categories.get_indexer(pd.Index(uniques).astype("string")), -1]
    return pd.Categorical.from_codes(mapping[codes], categories=categories)


def _seconds(times: pd.Series) -> np.ndarray:
    return times.to_numpy("datetime64[ns]").view("int64") // _NS_PER_SEC


# -- preparing intervals ----------------------------------------------------------------------

def slot_minutes(bookings: pd.DataFrame, default_minutes: float = 30) -> pd.Series:
    """Slot length of each booking, in minutes.

    `slot_minutes` when given and positive, else `slot_end − slot_start` when positive, else
    `default_minutes` (the config's `default_slot_minutes`). Never missing.
    """
    given = bookings["slot_minutes"].astype("float64")
    given = given.where(given > 0)
    span = (bookings["slot_end"] - bookings["slot_start"]).dt.total_seconds() / 60
    span = span.where(span > 0)
    return given.fillna(span).fillna(float(default_minutes)).astype("float64")


def shifts(schedule: pd.DataFrame) -> pd.DataFrame:
    """Offered working time per doctor as non-overlapping shifts.

    A shift whose end is not after its start crosses midnight: its end moves to the next
    day (ingest already does this; repeated here so the function stands alone). Overlapping
    shifts of one doctor (duplicated exports, two rooms at once) are merged into one, so no
    minute is offered twice; shifts that only touch stay separate. Rows without a doctor or a
    time are dropped. Returns doctor_id (categorical), shift_start, shift_end and
    offered_minutes (float minutes), sorted by doctor and start.
    """
    df = schedule.loc[schedule["doctor_id"].notna() & schedule["shift_start"].notna()
                      & schedule["shift_end"].notna(), ["doctor_id", "shift_start", "shift_end"]]
    start = df["shift_start"].to_numpy("datetime64[ns]")
    end = df["shift_end"].to_numpy("datetime64[ns]")
    end = np.where(end <= start, end + np.timedelta64(1, "D"), end)
    (codes,), doctors = _codes(df["doctor_id"])
    if len(df) == 0:
        return pd.DataFrame({"doctor_id": pd.Series(dtype="string"),
                             "shift_start": pd.Series(dtype="datetime64[ns]"),
                             "shift_end": pd.Series(dtype="datetime64[ns]"),
                             "offered_minutes": pd.Series(dtype="float64")})
    s, e = start.view("int64"), end.view("int64")
    order = np.lexsort((s, codes))
    codes, s, e = codes[order], s[order], e[order]
    # A new merged shift starts where the doctor changes or the start is at/after every
    # earlier end of that doctor (a running max of ends that restarts per doctor).
    running = pd.Series(e).groupby(codes).cummax().to_numpy()
    new = np.ones(len(s), dtype=bool)
    new[1:] = (codes[1:] != codes[:-1]) | (s[1:] >= running[:-1])
    first = np.flatnonzero(new)
    merged_end = np.maximum.reduceat(e, first)
    out = pd.DataFrame({
        "doctor_id": pd.Categorical.from_codes(codes[first], categories=doctors),
        "shift_start": s[first].view("datetime64[ns]"),
        "shift_end": merged_end.view("datetime64[ns]"),
    })
    out["offered_minutes"] = (merged_end - s[first]) / _NS_PER_MIN
    return out


def slots(bookings: pd.DataFrame, default_slot_minutes: float = 30,
          visits: pd.DataFrame | None = None) -> pd.DataFrame:
    """Bookings as time intervals with what they mean for the doctor's time.

    status becomes a categorical of STATUSES (an unknown status is NA).
    Adds: `slot_minutes` (see `slot_minutes`), `slot_end` = slot_start + slot length (the
    given slot_end is only used to derive the length), `keeps_slot` (completed or no_show),
    `realised` (completed, or a visit references the booking when `visits` is given — the
    patient checked in even if the status was not updated), `booked_minutes` (slot length
    when the slot is kept, else 0) and `realised_minutes` (slot length when realised, else 0).
    Bookings without a slot_start or doctor cannot be placed in time and are dropped; columns
    other than SLOT_COLUMNS are left out.
    """
    ok = bookings["slot_start"].notna() & bookings["doctor_id"].notna()
    df = bookings[[c for c in SLOT_COLUMNS if c in bookings]]
    df = df.copy(deep=False) if ok.all() else df.loc[ok]
    df["slot_minutes"] = slot_minutes(df, default_slot_minutes)
    df["slot_end"] = df["slot_start"] + pd.to_timedelta(df["slot_minutes"], unit="min")
    df["status"] = _categorical(df["status"].astype("string"), pd.Index(STATUSES, dtype="string"))
    status = df["status"]
    df["keeps_slot"] = status.isin(SLOT_KEEPING).fillna(False).astype(bool)
    realised = (status == "completed").fillna(False).astype(bool)
    if visits is not None and "booking_id" in visits:
        realised |= df["booking_id"].isin(visits["booking_id"].dropna()).astype(bool)
    df["realised"] = realised
    df["booked_minutes"] = df["slot_minutes"].where(df["keeps_slot"], 0.0)
    df["realised_minutes"] = df["slot_minutes"].where(df["realised"], 0.0)
    return df.reset_index(drop=True)


# -- the timeline sweep -------------------------------------------------------------------------

def timeline(shift_table: pd.DataFrame, slot_table: pd.DataFrame) -> pd.DataFrame:
    """Each doctor's time cut into segments of constant state: on shift or not, how many bookings.

    Sweeps the merged shifts (`shifts`) and the slot-keeping bookings (`slots`) of each
    doctor. A segment is [start, end) with `on_shift` (inside a shift) and `bookings` (how
    many slot-keeping bookings run at once), with derived minutes:
    - `idle_minutes`: on shift with no booking running;
    - `double_booked_minutes`: more than one booking at once (wall-clock minutes, counted once);
    - `outside_shift_minutes`: booking minutes outside every shift of the doctor (each
      booking counted, so two overlapping bookings outside a shift count twice).
    Only segments with one of these minutes are returned (a shift minute taken by exactly one
    booking is neither), sorted by doctor and start. Times are handled to the second.
    """
    keep = slot_table["keeps_slot"].to_numpy(bool)
    (sd, bd), doctors = _codes(shift_table["doctor_id"], slot_table["doctor_id"])
    bd = bd[keep]
    ss, se = _seconds(shift_table["shift_start"]), _seconds(shift_table["shift_end"])
    bs, be = _seconds(slot_table["slot_start"])[keep], _seconds(slot_table["slot_end"])[keep]
    ok_s, ok_b = sd >= 0, bd >= 0
    # One sortable int64 per event: doctor, second, then the event kind in the two lowest bits
    # (starts before ends at the same second, so a count never dips below zero).
    kinds = ((ss[ok_s], sd[ok_s], _SHIFT_START), (bs[ok_b], bd[ok_b], _BOOK_START),
             (se[ok_s], sd[ok_s], _SHIFT_END), (be[ok_b], bd[ok_b], _BOOK_END))
    times = np.concatenate([k[0] for k in kinds])
    t0 = int(times.min()) if len(times) else 0
    bits = max(int(times.max() - t0).bit_length(), 1) if len(times) else 1   # seconds need this many bits
    if (len(doctors) + 1).bit_length() + bits + 2 > 62:
        raise ValueError("timeline: the data spans too long a time to be swept at once; cut it by period")
    key = np.concatenate([(((d << bits) | (t - t0)) << 2) | kind for t, d, kind in kinds])
    key.sort()
    kind = key & 3
    doc = key >> (bits + 2)
    times = ((key >> 2) & ((1 << bits) - 1)) + t0
    # Shift and booking increments packed in one int64 (shift count in the high 32 bits);
    # each doctor's increments sum to zero, so one running sum restarts per doctor.
    state = np.cumsum(_DELTA[kind])
    on, booked = state >> 32, state & 0xFFFFFFFF
    same = doc[1:] == doc[:-1]
    length = times[1:] - times[:-1]
    on, booked = on[:-1], booked[:-1]
    interesting = ((on > 0) & (booked != 1)) | (booked > 1) | ((on <= 0) & (booked > 0))
    idx = np.flatnonzero(same & (length > 0) & interesting)
    minutes = length[idx] / 60.0
    on_shift, count = on[idx] > 0, booked[idx]
    return pd.DataFrame({
        "doctor_id": pd.Categorical.from_codes(doc[idx], categories=doctors),
        "start": (times[idx] * _NS_PER_SEC).view("datetime64[ns]"),
        "end": (times[idx + 1] * _NS_PER_SEC).view("datetime64[ns]"),
        "minutes": minutes,
        "on_shift": on_shift,
        "bookings": count,
        "idle_minutes": np.where(on_shift & (count == 0), minutes, 0.0),
        "double_booked_minutes": np.where(count > 1, minutes, 0.0),
        "outside_shift_minutes": np.where(~on_shift, minutes * count, 0.0),
    })


# -- utilisation ----------------------------------------------------------------------------

def utilisation(shift_table: pd.DataFrame, slot_table: pd.DataFrame, segments: pd.DataFrame | None = None,
                *, by: str | list[str] | None = "doctor_id") -> pd.DataFrame:
    """Offered, booked and realised time and utilisation per group, for one period.

    The caller passes the period's shifts (by shift_start) and bookings (by slot_start), and
    optionally its timeline segments (by segment start). Group columns must be present in
    every frame given (e.g. add `specialty` with `with_doctors`); by=None gives one total row.
    - offered_minutes = shift minutes; booked_minutes = slot minutes of slot-keeping
      bookings; realised_minutes = slot minutes of realised bookings;
    - utilisation = booked ÷ offered; realised_utilisation = realised ÷ offered (fractions;
      NaN when nothing was offered — bookings without shifts cannot be rated);
    - from segments: idle_minutes, double_booked_minutes, outside_shift_minutes (0 without).
    """
    keys = [by] if isinstance(by, str) else list(by or [])
    parts = [
        _sum_by(shift_table, keys, {"offered_minutes": "offered_minutes"}),
        _sum_by(slot_table, keys, {"booked_minutes": "booked_minutes", "realised_minutes": "realised_minutes"}),
    ]
    seg_cols = ["idle_minutes", "double_booked_minutes", "outside_shift_minutes"]
    if segments is not None:
        parts.append(_sum_by(segments, keys, {c: c for c in seg_cols}))
    out = pd.concat(parts, axis=1).fillna(0.0)
    for c in ["offered_minutes", "booked_minutes", "realised_minutes", *seg_cols]:
        if c not in out:
            out[c] = 0.0
    offered = out["offered_minutes"].where(out["offered_minutes"] > 0)
    out["utilisation"] = out["booked_minutes"] / offered
    out["realised_utilisation"] = out["realised_minutes"] / offered
    out = out[["offered_minutes", "booked_minutes", "realised_minutes", "utilisation", "realised_utilisation",
               *seg_cols]]
    return _plain(out.reset_index()) if keys else out.reset_index(drop=True)


def _sum_by(df: pd.DataFrame, keys: list[str], columns: dict[str, str]) -> pd.DataFrame:
    cols = list(columns)
    if not keys:
        return df[cols].sum().to_frame().T.rename(columns=columns)
    return df.groupby(keys, observed=True, dropna=False)[cols].sum().rename(columns=columns)


def with_doctors(df: pd.DataFrame, doctors: pd.DataFrame | None) -> pd.DataFrame:
    """Add `specialty` and `doctor` (the doctor's name, else the ID) from the doctors table.

    Doctors missing from the table (or no table) get specialty NA and their ID as the name.
    `doctor_name` is the doctor's working name, not patient PII. Both columns are
    categorical (looked up once per doctor, not per row).
    """
    out = df.copy(deep=False)
    (codes,), ids = _codes(out["doctor_id"])
    if doctors is not None and len(doctors):
        ref = doctors.drop_duplicates("doctor_id").set_index("doctor_id")
        specialty = ref["specialty"].reindex(ids)
        name = ref["doctor_name"].reindex(ids).fillna(pd.Series(ids, index=ids))
    else:
        specialty = pd.Series(pd.NA, index=ids, dtype="string")
        name = pd.Series(ids, index=ids, dtype="string")
    out["specialty"] = _take(specialty.to_numpy(), codes)
    out["doctor"] = _take(name.to_numpy(), codes)
    return out


def _hour_pieces(start: np.ndarray, end: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Clock-hour pieces of intervals given in seconds: (interval index, hour index since the
    epoch, minutes in that hour). Vectorised with numpy repeat."""
    first = start // _SEC_PER_HOUR
    n = np.maximum(-(-end // _SEC_PER_HOUR) - first, 0)
    idx = np.repeat(np.arange(len(n)), n)
    hour_index = first[idx] + (np.arange(len(idx)) - np.repeat(np.cumsum(n) - n, n))
    lo = np.maximum(start[idx], hour_index * _SEC_PER_HOUR)
    hi = np.minimum(end[idx], (hour_index + 1) * _SEC_PER_HOUR)
    return idx, hour_index, (hi - lo) / 60.0


def _week_hour(hour_index: np.ndarray) -> np.ndarray:
    """Hour index since the epoch -> weekday × 24 + hour (Monday 00:00 = 0)."""
    return ((hour_index // 24 + _EPOCH_WEEKDAY) % 7) * 24 + hour_index % 24


def hour_bins(keys: np.ndarray, start: pd.Series, end: pd.Series, weights: np.ndarray | None = None
              ) -> pd.DataFrame:
    """Split intervals into clock-hour pieces (vectorised with numpy repeat).

    Returns key, weekday (Monday = 0), hour (0–23) and minutes of each piece (× weights when
    given). An interval crossing midnight or several hours contributes to each hour it covers.
    """
    idx, hour_index, minutes = _hour_pieces(_seconds(start), _seconds(end))
    if weights is not None:
        minutes = minutes * np.asarray(weights, dtype="float64")[idx]
    wh = _week_hour(hour_index)
    return pd.DataFrame({"key": np.asarray(keys)[idx], "weekday": (wh // 24).astype("int8"),
                         "hour": (wh % 24).astype("int8"), "minutes": minutes})


def _hour_minutes(codes: np.ndarray, n_groups: int, start: np.ndarray, end: np.ndarray,
                  weights: np.ndarray | None = None) -> np.ndarray:
    """Minutes per (group code, weekday, hour), flattened: code × 168 + weekday × 24 + hour.

    Works through the intervals in chunks so the hour pieces never all sit in memory at once.
    """
    out = np.zeros(n_groups * _HOURS_PER_WEEK)
    keep = codes >= 0
    codes, start, end = codes[keep], start[keep], end[keep]
    weights = None if weights is None else np.asarray(weights, dtype="float64")[keep]
    for lo in range(0, len(codes), _CHUNK):
        part = slice(lo, lo + _CHUNK)
        idx, hour_index, minutes = _hour_pieces(start[part], end[part])
        if weights is not None:
            minutes = minutes * weights[part][idx]
        key = codes[part][idx] * _HOURS_PER_WEEK + _week_hour(hour_index)
        out += np.bincount(key, weights=minutes, minlength=len(out))
    return out


def by_hour(shift_table: pd.DataFrame, slot_table: pd.DataFrame, segments: pd.DataFrame | None = None,
            *, by: str | None = None) -> pd.DataFrame:
    """Offered, booked, realised (and idle, double-booked, outside-shift) minutes by weekday × clock hour.

    Every interval is split by clock hour, so a 09:30–11:00 shift gives 30 offered minutes to
    9 o'clock and 60 to 10 o'clock. Group by `by` (e.g. "doctor_id") as well when given.
    utilisation = booked ÷ offered in that hour (NaN where nothing was offered).
    Returns a long table of the hours with any minutes: [by,] weekday (Monday = 0), hour,
    minutes columns, utilisation.
    """
    frames = [shift_table, slot_table] + ([segments] if segments is not None else [])
    if by:
        codes, groups = _codes(*(df[by] for df in frames))
    else:
        codes, groups = [np.zeros(len(df), "int64") for df in frames], pd.Index([0])
    n = max(len(groups), 1)
    keep = slot_table["keeps_slot"].to_numpy(bool)
    real = slot_table["realised"].to_numpy(bool)
    bs, be = _seconds(slot_table["slot_start"]), _seconds(slot_table["slot_end"])
    sums = {
        "offered_minutes": _hour_minutes(codes[0], n, _seconds(shift_table["shift_start"]),
                                         _seconds(shift_table["shift_end"])),
        "booked_minutes": _hour_minutes(codes[1][keep], n, bs[keep], be[keep]),
        "realised_minutes": _hour_minutes(codes[1][real], n, bs[real], be[real]),
    }
    for name in ("idle_minutes", "double_booked_minutes", "outside_shift_minutes"):
        if segments is None:
            sums[name] = np.zeros(n * _HOURS_PER_WEEK)
            continue
        m = segments[name].to_numpy() > 0
        weights = segments["bookings"].to_numpy()[m] if name == "outside_shift_minutes" else None
        sums[name] = _hour_minutes(codes[2][m], n, _seconds(segments["start"])[m], _seconds(segments["end"])[m],
                                   weights)
    table = pd.DataFrame(sums)
    flat = np.arange(len(table))
    table.insert(0, "hour", (flat % 24).astype("int8"))
    table.insert(0, "weekday", (flat // 24 % 7).astype("int8"))
    if by:
        table.insert(0, by, pd.array(np.asarray(groups)[flat // _HOURS_PER_WEEK], dtype="string"))
    table = table.loc[table.filter(like="_minutes").to_numpy().any(axis=1)].reset_index(drop=True)
    offered = table["offered_minutes"].where(table["offered_minutes"] > 0)
    table["utilisation"] = table["booked_minutes"] / offered
    return table


def clinic_hours(hourly_by_group: pd.DataFrame) -> pd.DataFrame:
    """A grouped `by_hour` table summed over its groups (the whole clinic)."""
    cols = [c for c in hourly_by_group.columns if c.endswith("_minutes")]
    out = hourly_by_group.groupby(["weekday", "hour"], as_index=False)[cols].sum()
    out["utilisation"] = out["booked_minutes"] / out["offered_minutes"].where(out["offered_minutes"] > 0)
    return out


def weekday_hour_matrix(hourly: pd.DataFrame, value: str = "utilisation") -> pd.DataFrame:
    """Pivot `by_hour` (no grouping) into weekday rows × hour columns; for heatmaps.

    For a rate column the cells are re-derived from summed minutes; hours with no offered and
    no booked time are left out.
    """
    summed = hourly.groupby(["weekday", "hour"])[
        [c for c in hourly.columns if c.endswith("_minutes")]].sum()
    if value == "utilisation":
        summed["utilisation"] = summed["booked_minutes"] / summed["offered_minutes"].where(
            summed["offered_minutes"] > 0)
    elif value == "realised_utilisation":
        summed["realised_utilisation"] = summed["realised_minutes"] / summed["offered_minutes"].where(
            summed["offered_minutes"] > 0)
    active = (summed["offered_minutes"] > 0) | (summed["booked_minutes"] > 0)
    return summed.loc[active, value].unstack("hour").sort_index()


def hour_profile(hourly: pd.DataFrame) -> pd.DataFrame:
    """Utilisation by clock hour over all weekdays: hour, offered/booked/idle/double-booked minutes, utilisation."""
    cols = [c for c in hourly.columns if c.endswith("_minutes")]
    out = hourly.groupby("hour")[cols].sum()
    out = out.loc[(out["offered_minutes"] > 0) | (out["booked_minutes"] > 0)]
    out["utilisation"] = out["booked_minutes"] / out["offered_minutes"].where(out["offered_minutes"] > 0)
    return out.reset_index()


# -- idle time and imbalance --------------------------------------------------------------------

def typical_slot(slot_table: pd.DataFrame) -> pd.Series:
    """Median slot length (minutes) of each doctor's slot-keeping bookings (doctors with none absent)."""
    kept = slot_table.loc[slot_table["keeps_slot"], ["doctor_id", "slot_minutes"]]
    out = kept.groupby("doctor_id", observed=True)["slot_minutes"].median().rename("typical_slot_minutes")
    out.index = pd.Index(out.index.astype("string"), name="doctor_id")
    return out


def idle_patients(segments: pd.DataFrame, slot_length: pd.Series, default_minutes: float = 30) -> pd.Series:
    """Patients each doctor's idle time could have served: whole typical slots per idle gap.

    Contiguous idle segments of a doctor are joined into gaps; each gap holds
    floor(gap minutes ÷ the doctor's typical slot) patients (a 20-minute gap holds no
    30-minute patient). slot_length: typical slot minutes per doctor_id (`typical_slot`);
    `default_minutes` for doctors without bookings. Returns a count per doctor_id.
    """
    idle = segments.loc[segments["idle_minutes"] > 0, ["doctor_id", "start", "end"]]
    if idle.empty:
        return pd.Series(dtype="float64", name="idle_patients")
    (doc,), ids = _codes(idle["doctor_id"])
    start, end = _seconds(idle["start"]), _seconds(idle["end"])
    ordered = np.all((doc[1:] > doc[:-1]) | ((doc[1:] == doc[:-1]) & (start[1:] >= start[:-1])))
    if not ordered:   # `timeline` output is already sorted by doctor and start
        order = np.lexsort((start, doc))
        doc, start, end = doc[order], start[order], end[order]
    minutes = (end - start) / 60.0
    new_gap = np.r_[True, (doc[1:] != doc[:-1]) | (start[1:] != end[:-1])]
    first = np.flatnonzero(new_gap)
    gap_minutes = np.add.reduceat(minutes, first)
    gap_doc = doc[first]
    length = slot_length.reindex(ids.astype("string")).to_numpy("float64", na_value=np.nan)
    length = np.where(np.isnan(length), float(default_minutes), length)
    patients = np.floor(gap_minutes / length[gap_doc] + 1e-9)
    total = np.bincount(gap_doc, weights=patients, minlength=len(ids))
    present = np.unique(gap_doc)
    return pd.Series(total[present], index=pd.Index(ids[present].astype("string"), name="doctor_id"),
                     name="idle_patients")


def specialty_balance(per_doctor: pd.DataFrame, *, high: float = OVERLOADED, low: float = UNDERLOADED
                      ) -> pd.DataFrame:
    """Load spread within each specialty of two or more doctors.

    per_doctor: `per_doctor` rows (doctor, specialty, utilisation, idle_minutes, idle_patients).
    Per specialty: busiest and least-loaded doctor with their utilisation, spread (busiest −
    least, fraction points), overloaded (names with utilisation > high, 0.95, busiest first),
    underloaded (names < low, 0.60, least first), the underloaded doctors' idle minutes and
    idle patients, and imbalance = someone is overloaded while a colleague is underloaded.
    Doctors without a specialty or without offered time are not compared.
    """
    df = per_doctor.loc[per_doctor["specialty"].notna() & per_doctor["utilisation"].notna()]
    df = df.loc[df.groupby("specialty")["doctor"].transform("size") > 1].sort_values(
        ["specialty", "utilisation"], ascending=[True, False])
    cols = ["specialty", "busiest", "busiest_utilisation", "least", "least_utilisation", "spread",
            "overloaded", "underloaded", "idle_minutes", "idle_patients", "imbalance"]
    if df.empty:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in cols})
    g = df.groupby("specialty", sort=True)
    out = pd.DataFrame({
        "busiest": g["doctor"].first(), "busiest_utilisation": g["utilisation"].first(),
        "least": g["doctor"].last(), "least_utilisation": g["utilisation"].last(),
    })
    out["spread"] = out["busiest_utilisation"] - out["least_utilisation"]
    over = df.loc[df["utilisation"] > high]
    under = df.loc[df["utilisation"] < low].sort_values("utilisation")
    out["overloaded"] = over.groupby("specialty")["doctor"].agg(", ".join).reindex(out.index).fillna("")
    out["underloaded"] = under.groupby("specialty")["doctor"].agg(", ".join).reindex(out.index).fillna("")
    for c in ("idle_minutes", "idle_patients"):
        out[c] = under.groupby("specialty")[c].sum().reindex(out.index).fillna(0.0) if c in under else np.nan
    out["imbalance"] = (out["overloaded"] != "") & (out["underloaded"] != "")
    return out.reset_index()[cols]


def overbooked(per_doctor: pd.DataFrame, *, high: float = OVERLOADED,
               double_share: float = DOUBLE_BOOKED_SHARE) -> pd.DataFrame:
    """Overbooked doctors: utilisation > high (0.95), or double-booked minutes at least
    `double_share` (2%) of their offered minutes. Busiest first."""
    share = per_doctor["double_booked_minutes"] / per_doctor["offered_minutes"].where(per_doctor["offered_minutes"] > 0)
    flag = (per_doctor["utilisation"] > high) | (share >= double_share)
    return per_doctor.assign(double_booked_share=share).loc[flag.fillna(False)].sort_values(
        "utilisation", ascending=False)


def fill_gaps(hours: list[int]) -> list[int]:
    """A single quiet hour between two listed hours is added: [17, 18, 20] -> [17, 18, 19, 20]."""
    hs = set(hours)
    return sorted(hs | {h for h in range(24) if h - 1 in hs and h + 1 in hs})


def main_hours(minutes_by_hour: pd.Series, share: float = 0.8) -> list[int]:
    """The fewest clock hours holding at least `share` of the minutes (index: hour 0–23)."""
    s = minutes_by_hour[minutes_by_hour > 0].sort_values(ascending=False)
    if s.empty:
        return []
    covered = s.cumsum() / s.sum()
    n = int(np.searchsorted(covered.to_numpy(), share - 1e-9)) + 1
    return sorted(s.index[:n].astype(int).tolist())


@dataclass
class PeakOverload:
    """Clock hours when patients exceed the doctors' time (see `peak_overload`)."""

    hours: list[int]
    overload_minutes: float       # double-booked + outside-shift minutes in those hours
    offered_minutes: float        # offered minutes in those hours
    utilisation: float            # booked ÷ offered in those hours (all doctors)
    other_utilisation: float      # booked ÷ offered in the other hours
    doctors: pd.DataFrame         # doctor_id, overload_minutes, utilisation (in those hours), most first

    @property
    def share(self) -> float:
        return self.overload_minutes / self.offered_minutes if self.offered_minutes else np.inf


def peak_overload(hourly_by_doctor: pd.DataFrame, *, share: float = 0.8, doctor_share: float = 0.05
                  ) -> PeakOverload | None:
    """When in the day patients exceed doctors' time, and which doctors carry it.

    hourly_by_doctor: `by_hour(..., by="doctor_id")` with segments. Overload minutes =
    double-booked minutes + booking minutes outside shifts. The peak hours are the fewest
    clock hours holding `share` (80%) of all overload minutes (`main_hours`), with a single
    hour between two peak hours added to the peak; the doctors named
    hold at least `doctor_share` (5%) of the overload minutes in those hours. None when there
    is no overload at all.
    """
    df = hourly_by_doctor.assign(overload_minutes=hourly_by_doctor["double_booked_minutes"]
                                 + hourly_by_doctor["outside_shift_minutes"])
    by_hour_of_day = df.groupby("hour")["overload_minutes"].sum()
    hours = main_hours(by_hour_of_day, share)
    if not hours:
        return None
    hours = fill_gaps(hours)
    peak = df["hour"].isin(hours)
    sums = df.groupby(peak)[["offered_minutes", "booked_minutes", "overload_minutes"]].sum()
    inside = sums.loc[True]
    other = sums.loc[False] if False in sums.index else pd.Series({"offered_minutes": 0.0, "booked_minutes": 0.0})
    docs = df.loc[peak].groupby("doctor_id")[["offered_minutes", "booked_minutes", "overload_minutes"]].sum()
    docs = docs.loc[docs["overload_minutes"] >= doctor_share * inside["overload_minutes"]]
    docs["utilisation"] = docs["booked_minutes"] / docs["offered_minutes"].where(docs["offered_minutes"] > 0)
    docs = docs.sort_values("overload_minutes", ascending=False).reset_index()
    ratio = lambda b, o: b / o if o > 0 else np.nan  # noqa: E731
    return PeakOverload(hours, float(inside["overload_minutes"]), float(inside["offered_minutes"]),
                        ratio(inside["booked_minutes"], inside["offered_minutes"]),
                        ratio(other["booked_minutes"], other["offered_minutes"]),
                        docs[["doctor_id", "overload_minutes", "utilisation"]])


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
        # `positions` takes the first of duplicated lead IDs, as ingest keeps the first.
        out["channel"] = _take(leads["channel"], positions(out["lead_id"], leads["lead_id"]))
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
    (code,), values = _codes(bookings["status"])
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
    return _plain(counts[cols].reset_index()) if keys else counts[cols].reset_index(drop=True)


def paid_per_booking(slot_table: pd.DataFrame, invoices: pd.DataFrame,
                     visits: pd.DataFrame | None = None) -> pd.Series:
    """Net amount paid for each realised booking (refunds netted), NaN when nothing is linked.

    Link: invoice.visit_id → visit.booking_id when visits carry booking IDs; otherwise (or for
    invoices without a visit) the patient and the calendar day of paid_at matched to the
    patient and day of a realised booking (first such booking of that day).
    """
    realised = slot_table.loc[slot_table["realised"], ["booking_id", "patient_id", "slot_start"]]
    inv = invoices.loc[invoices["amount"].notna(), ["visit_id", "patient_id", "paid_at", "amount"]]
    amount = inv["amount"].to_numpy("float64")
    paid = np.zeros(len(realised))
    hits = np.zeros(len(realised))
    used = np.zeros(len(inv), dtype=bool)
    if visits is not None and len(visits) and visits["booking_id"].notna().any():
        linked_visits = visits.loc[visits["booking_id"].notna() & visits["visit_id"].notna()].drop_duplicates("visit_id")
        visit_row = positions(inv["visit_id"], linked_visits["visit_id"])          # invoice -> visit
        booking_row = positions(linked_visits["booking_id"], realised["booking_id"])  # visit -> booking
        used = visit_row >= 0
        target = np.where(used, booking_row[np.maximum(visit_row, 0)], -1)
        ok = target >= 0
        paid += np.bincount(target[ok], weights=amount[ok], minlength=len(realised))
        hits += np.bincount(target[ok], minlength=len(realised))
    rest = inv.loc[~used]
    if len(rest):
        first = realised.assign(day=realised["slot_start"].dt.normalize()).drop_duplicates(["patient_id", "day"])
        key_b = pd.MultiIndex.from_arrays([first["patient_id"], first["day"]])
        by_day = rest.groupby([rest["patient_id"], rest["paid_at"].dt.normalize()])["amount"].sum()
        hit = by_day.reindex(key_b).to_numpy("float64", na_value=np.nan)
        row = realised.index.get_indexer(first.index)
        paid[row] += np.nan_to_num(hit)
        hits[row] += ~np.isnan(hit)
    out = pd.Series(np.nan, index=slot_table.index, name="paid")
    out.loc[realised.index] = np.where(hits > 0, paid, np.nan)
    return out


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
    (codes,), groups = _codes(bookings[by])
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


# -- waiting and overruns -------------------------------------------------------------------

def waits(visits: pd.DataFrame, slot_table: pd.DataFrame) -> pd.DataFrame:
    """Per visit: wait after check-in and overrun of the slot, in minutes.

    wait_minutes = started_at − checked_in_at (NaN without started_at; negative values — the
    start recorded before the check-in — are clock errors and become NaN);
    overrun_minutes = (ended_at − started_at) − the booking's slot length (NaN without
    ended_at or a linked booking); positive = longer than planned.
    doctor_id: the visit's, else the booking's. Also returns checked_in_at and booking_id.
    """
    row = positions(visits["booking_id"], slot_table["booking_id"])
    linked = row >= 0
    out = visits[["visit_id", "booking_id", "checked_in_at"]].copy()
    booking_doctor = pd.Series(pd.NA, index=visits.index, dtype="string")
    booking_doctor[linked] = slot_table["doctor_id"].iloc[row[linked]].astype("string").to_numpy()
    out["doctor_id"] = visits["doctor_id"].astype("string").fillna(booking_doctor)
    wait = (visits["started_at"] - visits["checked_in_at"]).dt.total_seconds() / 60
    out["wait_minutes"] = wait.where(wait >= 0)
    duration = (visits["ended_at"] - visits["started_at"]).dt.total_seconds() / 60
    length = np.where(linked, slot_table["slot_minutes"].to_numpy("float64")[np.maximum(row, 0)], np.nan)
    out["overrun_minutes"] = duration - length
    return out


def wait_summary(wait_table: pd.DataFrame, *, target: float = 15, by: str | list[str] | None = None
                 ) -> pd.DataFrame:
    """Waits per group: visits, visits_timed (with a wait), median_wait, share_over_target
    (wait > target minutes, of timed visits), mean_overrun and share_overrun (overrun > 0, of
    visits with an overrun). Minutes and fractions; NaN when nothing was timed.
    """
    keys = [by] if isinstance(by, str) else list(by or [])
    df = wait_table.assign(
        timed=wait_table["wait_minutes"].notna(),
        over=(wait_table["wait_minutes"] > target).astype("float64").where(wait_table["wait_minutes"].notna()),
        overran=(wait_table["overrun_minutes"] > 0).astype("float64").where(wait_table["overrun_minutes"].notna()))
    agg = dict(visits=("visit_id", "size"), visits_timed=("timed", "sum"),
               median_wait=("wait_minutes", "median"), share_over_target=("over", "mean"),
               mean_overrun=("overrun_minutes", "mean"), share_overrun=("overran", "mean"))
    if keys:
        return df.groupby(keys, observed=True, dropna=False).agg(**agg).reset_index()
    return df.assign(_all=0).groupby("_all").agg(**agg).reset_index(drop=True)


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


def headlines(frames: PeriodFrames, *, wait_target: float = 15) -> dict[str, float]:
    """The module's headline numbers for one period (metrics.json, without money).

    offered/booked/realised/idle hours, utilisation, realised_utilisation, no_show_rate,
    cancel_rate, double_booked_hours, outside_shift_hours, median_wait_minutes (NaN without
    timed visits), share_wait_over_target.
    """
    total = utilisation(frames.shifts, frames.slots, frames.segments, by=None).iloc[0]
    rates = booking_rates(frames.slots).iloc[0]
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


def prepare(tables: dict[str, pd.DataFrame], *, default_slot_minutes: float = 30) -> Prepared:
    """Build every whole-data frame from the canonical tables (bookings and schedule required;
    doctors, visits, invoices and leads used when present).

    doctor_id becomes one categorical over every doctor so millions of rows group by integer
    codes. The visit value is computed over all the data given (one price level for every period).
    """
    doctors, visits = tables.get("doctors"), tables.get("visits")
    ids = [tables["schedule"]["doctor_id"], tables["bookings"]["doctor_id"]]
    categories = pd.Index(ids[0].dropna().unique()).union(pd.Index(ids[1].dropna().unique()))
    categories = categories.astype("string")
    schedule = tables["schedule"].assign(doctor_id=_categorical(ids[0], categories))
    bookings = tables["bookings"].assign(doctor_id=_categorical(ids[1], categories))
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
    out = _plain(with_doctors(out, doctors))
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
        return _total(self.no_show["cost"]) / self.months

    @property
    def no_show_excess_per_month(self) -> float:
        return _total(self.no_show["excess_cost"]) / self.months

    @property
    def underload_per_month(self) -> float:
        return _total(self.underload["gap_value"]) / self.months

    @property
    def at_stake_per_month(self) -> float:
        """No-shows above the target plus underloaded doctors' capacity below the utilisation target."""
        return self.no_show_excess_per_month + self.underload_per_month


def _total(s: pd.Series) -> float:
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


def summarise(tables: dict[str, pd.DataFrame], periods: dict[str, tuple[pd.Timestamp, pd.Timestamp]], *,
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
            waits_by_doctor = _plain(wait_summary(f.waits, target=wait_target, by=["doctor_id", "doctor", "specialty"]))
        hourly_by_doctor = by_hour(f.shifts, f.slots, f.segments, by="doctor_id")
        out[name] = PeriodSummary(
            name=name, bounds=bounds, frames=f, headlines=headlines(f, wait_target=wait_target),
            doctors=doctors_table, specialties=by_specialty(doctors_table),
            balance=specialty_balance(doctors_table),
            hourly=clinic_hours(hourly_by_doctor), hourly_by_doctor=hourly_by_doctor,
            rates={by: booking_rates(f.slots, by) for by in ("lead_time", "channel", "weekday")},
            money=money(f, doctors_table, prepared.visit_value, no_show_target=no_show_target,
                        utilisation_target=utilisation_target),
            peak=peak_overload(hourly_by_doctor),
            waits_by_doctor=waits_by_doctor, visit_value=prepared.visit_value, wait_target=wait_target,
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
