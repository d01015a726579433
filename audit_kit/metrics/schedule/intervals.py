"""Schedule (module 03): shifts and slots as intervals, the timeline sweep, utilisation by doctor and hour.

Vocabulary: a *shift* is an interval of `schedule` (working time offered for booking); a *slot*
a booking's interval [slot_start, slot_start + slot length); a booking *keeps its slot* when its
status is completed or no_show; minutes are float minutes; a period is [start, end).
Internally doctor_id (and specialty, doctor) may be categorical: millions of rows then group and
look up by integer codes; every table a function returns has plain "string" columns.
"""
from __future__ import annotations


import numpy as np
import pandas as pd

from ..ids import found_in, with_keys

SLOT_KEEPING = ("completed", "no_show")
STATUSES = ("completed", "no_show", "cancelled", "rescheduled")
SLOT_COLUMNS = ("booking_id", "patient_id", "doctor_id", "lead_id", "status", "slot_start", "slot_end",
                "slot_minutes", "created_at", "cancelled_at")

NS_PER_MIN = 60 * 10**9
NS_PER_SEC = 10**9
SEC_PER_HOUR = 3600
EPOCH_WEEKDAY = 3       # 1970-01-01 was a Thursday (Monday = 0)
HOURS_PER_WEEK = 168
HOUR_CHUNK = 1_000_000       # intervals split into hours per numpy pass (bounds temporary memory)
SHIFT_START, BOOK_START, SHIFT_END, BOOK_END = 0, 1, 2, 3   # event kinds of the timeline sweep
EVENT_DELTA = np.array([1 << 32, 1, -(1 << 32), -1], dtype="int64")  # their increments (shifts high, bookings low)


# -- small helpers -----------------------------------------------------------------------------
# Internally doctor_id (and specialty, doctor) may be categorical: millions of rows then group
# and look up by integer codes. Every table a function returns has plain "string" columns.

def plain_strings(df: pd.DataFrame) -> pd.DataFrame:
    """Categorical columns as "string" columns (for returned tables)."""
    cats = [c for c in df.columns if isinstance(df[c].dtype, pd.CategoricalDtype)]
    if not cats:
        return df
    out = df.copy()
    for c in cats:
        out[c] = out[c].astype("string")
    return out


def shared_codes(*columns: pd.Series) -> tuple[list[np.ndarray], pd.Index]:
    """Integer codes (-1 = missing) of several ID columns over one shared list of values."""
    dtypes = [c.dtype for c in columns]
    if all(isinstance(d, pd.CategoricalDtype) for d in dtypes) and all(
            d.categories.equals(dtypes[0].categories) for d in dtypes):
        return [c.cat.codes.to_numpy().astype("int64") for c in columns], pd.Index(dtypes[0].categories)
    text = [c.astype("string") for c in columns]
    values = pd.Index(pd.concat(text, ignore_index=True).dropna().unique())
    return [values.get_indexer(t).astype("int64") for t in text], values


def take_codes(values: pd.Series | np.ndarray, codes: np.ndarray) -> pd.Categorical:
    """values[codes] as a categorical (-1 or a missing value gives NA), without touching strings per row."""
    vcodes, uniques = pd.factorize(values if isinstance(values, pd.Series) else pd.Series(values))
    vcodes = np.r_[vcodes, -1]                     # position -1 -> the appended NA code
    return pd.Categorical.from_codes(vcodes[codes], categories=pd.Index(uniques).astype("string"))


def as_categorical(values: pd.Series, categories: pd.Index) -> pd.Categorical:
    """values as a categorical over the given categories (hashing the values once)."""
    codes, uniques = pd.factorize(values)
    mapping = np.r_[categories.get_indexer(pd.Index(uniques).astype("string")), -1]
    return pd.Categorical.from_codes(mapping[codes], categories=categories)


def epoch_seconds(times: pd.Series) -> np.ndarray:
    return times.to_numpy("datetime64[ns]").view("int64") // NS_PER_SEC


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
    (codes,), doctors = shared_codes(df["doctor_id"])
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
    out["offered_minutes"] = (merged_end - s[first]) / NS_PER_MIN
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
    other than SLOT_COLUMNS (and ingest's keys of their IDs, for lookups by key) are left out.
    """
    ok = bookings["slot_start"].notna() & bookings["doctor_id"].notna()
    df = bookings[with_keys(bookings, SLOT_COLUMNS)]
    df = df.copy(deep=False) if ok.all() else df.loc[ok]
    df["slot_minutes"] = slot_minutes(df, default_slot_minutes)
    df["slot_end"] = df["slot_start"] + pd.to_timedelta(df["slot_minutes"], unit="min")
    df["status"] = as_categorical(df["status"].astype("string"), pd.Index(STATUSES, dtype="string"))
    status = df["status"]
    df["keeps_slot"] = status.isin(SLOT_KEEPING).fillna(False).astype(bool)
    realised = (status == "completed").fillna(False).astype(bool)
    if visits is not None and "booking_id" in visits:
        realised |= found_in(df, "booking_id", visits)                 # by key (`isin` loops in Python)
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
    (sd, bd), doctors = shared_codes(shift_table["doctor_id"], slot_table["doctor_id"])
    bd = bd[keep]
    ss, se = epoch_seconds(shift_table["shift_start"]), epoch_seconds(shift_table["shift_end"])
    bs, be = epoch_seconds(slot_table["slot_start"])[keep], epoch_seconds(slot_table["slot_end"])[keep]
    ok_s, ok_b = sd >= 0, bd >= 0
    # One sortable int64 per event: doctor, second, then the event kind in the two lowest bits
    # (starts before ends at the same second, so a count never dips below zero).
    kinds = ((ss[ok_s], sd[ok_s], SHIFT_START), (bs[ok_b], bd[ok_b], BOOK_START),
             (se[ok_s], sd[ok_s], SHIFT_END), (be[ok_b], bd[ok_b], BOOK_END))
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
    state = np.cumsum(EVENT_DELTA[kind])
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
        "start": (times[idx] * NS_PER_SEC).view("datetime64[ns]"),
        "end": (times[idx + 1] * NS_PER_SEC).view("datetime64[ns]"),
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
        sum_by(shift_table, keys, {"offered_minutes": "offered_minutes"}),
        sum_by(slot_table, keys, {"booked_minutes": "booked_minutes", "realised_minutes": "realised_minutes"}),
    ]
    seg_cols = ["idle_minutes", "double_booked_minutes", "outside_shift_minutes"]
    if segments is not None:
        parts.append(sum_by(segments, keys, {c: c for c in seg_cols}))
    out = pd.concat(parts, axis=1).fillna(0.0)
    for c in ["offered_minutes", "booked_minutes", "realised_minutes", *seg_cols]:
        if c not in out:
            out[c] = 0.0
    offered = out["offered_minutes"].where(out["offered_minutes"] > 0)
    out["utilisation"] = out["booked_minutes"] / offered
    out["realised_utilisation"] = out["realised_minutes"] / offered
    out = out[["offered_minutes", "booked_minutes", "realised_minutes", "utilisation", "realised_utilisation",
               *seg_cols]]
    return plain_strings(out.reset_index()) if keys else out.reset_index(drop=True)


def sum_by(df: pd.DataFrame, keys: list[str], columns: dict[str, str]) -> pd.DataFrame:
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
    (codes,), ids = shared_codes(out["doctor_id"])
    if doctors is not None and len(doctors):
        ref = doctors.drop_duplicates("doctor_id").set_index("doctor_id")
        specialty = ref["specialty"].reindex(ids)
        name = ref["doctor_name"].reindex(ids).fillna(pd.Series(ids, index=ids))
    else:
        specialty = pd.Series(pd.NA, index=ids, dtype="string")
        name = pd.Series(ids, index=ids, dtype="string")
    out["specialty"] = take_codes(specialty.to_numpy(), codes)
    out["doctor"] = take_codes(name.to_numpy(), codes)
    return out


def hour_pieces(start: np.ndarray, end: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Clock-hour pieces of intervals given in seconds: (interval index, hour index since the
    epoch, minutes in that hour). Vectorised with numpy repeat."""
    first = start // SEC_PER_HOUR
    n = np.maximum(-(-end // SEC_PER_HOUR) - first, 0)
    idx = np.repeat(np.arange(len(n)), n)
    hour_index = first[idx] + (np.arange(len(idx)) - np.repeat(np.cumsum(n) - n, n))
    lo = np.maximum(start[idx], hour_index * SEC_PER_HOUR)
    hi = np.minimum(end[idx], (hour_index + 1) * SEC_PER_HOUR)
    return idx, hour_index, (hi - lo) / 60.0


def week_hour(hour_index: np.ndarray) -> np.ndarray:
    """Hour index since the epoch -> weekday × 24 + hour (Monday 00:00 = 0)."""
    return ((hour_index // 24 + EPOCH_WEEKDAY) % 7) * 24 + hour_index % 24


def hour_bins(keys: np.ndarray, start: pd.Series, end: pd.Series, weights: np.ndarray | None = None
              ) -> pd.DataFrame:
    """Split intervals into clock-hour pieces (vectorised with numpy repeat).

    Returns key, weekday (Monday = 0), hour (0–23) and minutes of each piece (× weights when
    given). An interval crossing midnight or several hours contributes to each hour it covers.
    """
    idx, hour_index, minutes = hour_pieces(epoch_seconds(start), epoch_seconds(end))
    if weights is not None:
        minutes = minutes * np.asarray(weights, dtype="float64")[idx]
    wh = week_hour(hour_index)
    return pd.DataFrame({"key": np.asarray(keys)[idx], "weekday": (wh // 24).astype("int8"),
                         "hour": (wh % 24).astype("int8"), "minutes": minutes})


def hour_minutes(codes: np.ndarray, n_groups: int, start: np.ndarray, end: np.ndarray,
                  weights: np.ndarray | None = None) -> np.ndarray:
    """Minutes per (group code, weekday, hour), flattened: code × 168 + weekday × 24 + hour.

    Works through the intervals in chunks so the hour pieces never all sit in memory at once.
    """
    out = np.zeros(n_groups * HOURS_PER_WEEK)
    keep = codes >= 0
    codes, start, end = codes[keep], start[keep], end[keep]
    weights = None if weights is None else np.asarray(weights, dtype="float64")[keep]
    for lo in range(0, len(codes), HOUR_CHUNK):
        part = slice(lo, lo + HOUR_CHUNK)
        idx, hour_index, minutes = hour_pieces(start[part], end[part])
        if weights is not None:
            minutes = minutes * weights[part][idx]
        key = codes[part][idx] * HOURS_PER_WEEK + week_hour(hour_index)
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
        codes, groups = shared_codes(*(df[by] for df in frames))
    else:
        codes, groups = [np.zeros(len(df), "int64") for df in frames], pd.Index([0])
    n = max(len(groups), 1)
    keep = slot_table["keeps_slot"].to_numpy(bool)
    real = slot_table["realised"].to_numpy(bool)
    bs, be = epoch_seconds(slot_table["slot_start"]), epoch_seconds(slot_table["slot_end"])
    sums = {
        "offered_minutes": hour_minutes(codes[0], n, epoch_seconds(shift_table["shift_start"]),
                                         epoch_seconds(shift_table["shift_end"])),
        "booked_minutes": hour_minutes(codes[1][keep], n, bs[keep], be[keep]),
        "realised_minutes": hour_minutes(codes[1][real], n, bs[real], be[real]),
    }
    for name in ("idle_minutes", "double_booked_minutes", "outside_shift_minutes"):
        if segments is None:
            sums[name] = np.zeros(n * HOURS_PER_WEEK)
            continue
        m = segments[name].to_numpy() > 0
        weights = segments["bookings"].to_numpy()[m] if name == "outside_shift_minutes" else None
        sums[name] = hour_minutes(codes[2][m], n, epoch_seconds(segments["start"])[m], epoch_seconds(segments["end"])[m],
                                   weights)
    table = pd.DataFrame(sums)
    flat = np.arange(len(table))
    table.insert(0, "hour", (flat % 24).astype("int8"))
    table.insert(0, "weekday", (flat // 24 % 7).astype("int8"))
    if by:
        labels = np.asarray(groups, dtype=object) if len(groups) else np.array([None], dtype=object)   # no rows at all
        table.insert(0, by, pd.array(labels[flat // HOURS_PER_WEEK], dtype="string"))
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
