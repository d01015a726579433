"""Lead loss (DESIGN §4, module 02): the patient funnel from site visit to paid treatment,
and where it leaks — in patients and in money. (About 680 lines, over the ~600 of a module: the
lead journey, the stage counts, missed calls, speed to lead and the leak table share the
conventions below; split it by idea, as `schedule/`, when it grows.)

Pure, vectorised functions over the canonical tables; no I/O. Periods are ``[start, end)``
timestamps (end exclusive), as ``Module.periods`` gives them.

Shared conventions
------------------
- The funnel follows leads: a lead belongs to a period by ``leads.created_at``; its downstream
  stages (booked, shown, paid, treatment) follow that same lead whenever they happen.
- A stage whose data is missing is left out (its column is absent), never reported as zero.
- IDs are matched exactly as given (``00123`` is not ``123``); they are unique within their table
  (ingest rejects duplicate IDs), and a duplicate would match its first row.
"""
from __future__ import annotations

from typing import Any, Iterable, Mapping

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..ingest.keys import arrow_ids, member, positions
from .ids import found_in, row_in, with_keys
from .periods import Window, in_window, month_start, period_months

STAGES = ("sessions", "leads", "booked_leads", "shown_leads", "paid_leads", "treated_leads")
# name, from stage, to stage: conversion = to / from, for adjacent stages only.
CONVERSIONS = (
    ("session_to_lead", "sessions", "leads"),
    ("lead_to_booking", "leads", "booked_leads"),
    ("booking_to_show", "booked_leads", "shown_leads"),
    ("show_to_paid", "shown_leads", "paid_leads"),
    ("paid_to_treatment", "paid_leads", "treated_leads"),
)
# Speed-to-lead buckets: code, lower bound (minutes, inclusive); "never" = no response recorded.
RESPONSE_BUCKETS = (("under_5m", 0), ("5_30m", 5), ("30_120m", 30), ("2_24h", 120), ("over_24h", 1440))
NEVER = "never"
KINDS = ("call", "written")   # a lead with a call_id is a call; without one, a form, chat or aggregator request
BUCKET_ORDER = tuple(code for code, _ in RESPONSE_BUCKETS) + (NEVER,)
# Leaks (catalog labels `funnel.leak.<name>`): the funnel steps, disjoint sets of leads, then the rest.
STEP_LEAKS = ("lead_to_booking", "booking_to_show", "show_to_paid")
LEAKS = STEP_LEAKS + ("missed_calls", "slow_response")

# -- helpers ------------------------------------------------------------------------------------
def _in(times: pd.Series, start: pd.Timestamp, end: pd.Timestamp) -> np.ndarray:
    return in_window(times, start, end).to_numpy(dtype=bool)


def ratio_or_nan(num: float, den: float) -> float:
    """num / den as a float; NaN without a denominator."""
    return float(num) / float(den) if den else np.nan


def _has_values(df: pd.DataFrame | None, column: str) -> bool:
    return df is not None and column in df and bool(df[column].notna().any())


# -- the lead journey ---------------------------------------------------------------------------
def lead_journey(leads: pd.DataFrame, bookings: pd.DataFrame | None = None,
                 visits: pd.DataFrame | None = None, invoices: pd.DataFrame | None = None, *,
                 treatment_horizon_days: int = 90,
                 treatment_categories: Iterable[str] = ()) -> pd.DataFrame:
    """One row per lead with the funnel stages it reached (booleans) and when.

    - ``booked``: at least one booking whose ``bookings.lead_id`` is this lead (bookings without
      a lead are not part of the lead funnel). Needs bookings with ``lead_id``.
    - ``shown``: one of those bookings is ``completed`` or has a visit (``visits.booking_id``).
      ``shown_at`` = the earliest such slot start or check-in; its booking's patient is the
      lead's patient for payment.
    - ``paid``: that patient has an invoice with a positive amount paid on or after the day of
      ``shown_at`` (calendar days, so a same-day invoice stamped 00:00 counts). Needs invoices.
      ``first_paid_at`` = the day of the first such invoice; ``first_check`` = the patient's net
      amount that day (refunds, i.e. negative amounts, netted), in the config currency.
    - ``treated``: a paid lead with a second paid day later than ``first_paid_at`` and at most
      ``treatment_horizon_days`` after it, or an invoice (positive, on or after the show day,
      within the horizon) whose ``service_category`` is one of ``treatment_categories``.
      Recent leads may not have had the whole horizon yet.
    - ``response_minutes``: ``first_response_at − created_at`` in minutes (a response stamped
      before creation counts as 0; NaN = no response). Present only when some lead has
      ``first_response_at``.
    - ``kind``: ``call`` when the lead has a ``call_id``, else ``written`` (form, chat, aggregator).
      Present only when some lead has a ``call_id``.

    - ``branch_id``: the lead's branch, when some lead has one (a network's CRM).

    Stages whose data is missing (no bookings table or no ``lead_id`` in it; no invoices) are
    absent columns, not False. Also carried: ``lead_id``, ``created_at``, ``month`` (first day),
    ``channel``, ``call_id``, ``lost_reason``, ``outcome`` (won | lost | open from the CRM stage, NA
    when the stages are not known: ingest/presets.py).
    """
    out = leads[["lead_id", "created_at", "channel"]].reset_index(drop=True)
    out["created_at"] = out["created_at"].astype("datetime64[ns]")
    out["month"] = month_start(out["created_at"])
    for col in ("call_id", "lost_reason", "outcome"):
        out[col] = (leads[col].astype("string").reset_index(drop=True) if col in leads
                    else pd.Series(pd.NA, index=out.index, dtype="string"))
    if _has_values(leads, "branch_id"):          # a network: the branch the lead came to (`branch_funnel`)
        out["branch_id"] = leads["branch_id"].astype("string").reset_index(drop=True)
    if _has_values(leads, "call_id"):
        written = out["call_id"].isna().to_numpy(bool)
        out["kind"] = pd.Categorical.from_codes(written.astype(np.int8), categories=list(KINDS))
    if _has_values(leads, "first_response_at"):
        delay = (leads["first_response_at"] - leads["created_at"]).dt.total_seconds().to_numpy() / 60.0
        out["response_minutes"] = np.clip(delay, 0.0, None)
    if not _has_values(bookings, "lead_id"):
        return out

    n = len(out)
    lead_pos = row_in(bookings, "lead_id", leads)          # by ingest's keys when the tables carry them
    linked = lead_pos >= 0
    booked = np.zeros(n, dtype=bool)
    booked[lead_pos[linked]] = True
    out["booked"] = booked

    completed = bookings["status"].eq("completed").fillna(False).to_numpy(bool)
    b = pd.DataFrame({
        "lead_pos": lead_pos[linked],
        "patient_id": bookings["patient_id"].loc[linked].reset_index(drop=True),
        "show_at": np.where(completed, bookings["slot_start"].to_numpy(dtype="datetime64[ns]"),
                            np.datetime64("NaT"))[linked],
    })
    if "patient_key" in bookings:
        b["patient_key"] = bookings["patient_key"].to_numpy()[linked]
    if _has_values(visits, "booking_id"):
        booking_pos = row_in(visits, "booking_id", bookings.loc[linked, with_keys(bookings, ["booking_id"])])
        hit = booking_pos >= 0
        first_visit = (pd.Series(visits["checked_in_at"].to_numpy(dtype="datetime64[ns]")[hit])
                       .groupby(booking_pos[hit]).min())
        visit_at = np.full(len(b), np.datetime64("NaT"), dtype="datetime64[ns]")
        visit_at[first_visit.index.to_numpy()] = first_visit.to_numpy()
        b["show_at"] = np.fmin(b["show_at"].to_numpy(), visit_at)  # fmin skips NaT
    shows = (b.dropna(subset=["show_at"]).sort_values("show_at", kind="stable")
             .drop_duplicates("lead_pos", keep="first"))
    shown = np.zeros(n, dtype=bool)
    shown[shows["lead_pos"].to_numpy()] = True
    out["shown"] = shown
    shown_at = np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
    shown_at[shows["lead_pos"].to_numpy()] = shows["show_at"].to_numpy()
    out["shown_at"] = shown_at
    if invoices is None:
        return out

    paid = _payments(shows, invoices, treatment_horizon_days, treatment_categories)
    for col, empty in (("paid", False), ("treated", False), ("first_paid_at", np.datetime64("NaT")),
                       ("first_check", np.nan)):
        values = np.full(n, empty, dtype=paid[col].dtype)
        values[paid["lead_pos"].to_numpy()] = paid[col].to_numpy()
        out[col] = values
    return out


def _payments(shows: pd.DataFrame, invoices: pd.DataFrame, horizon_days: int,
              categories: Iterable[str]) -> pd.DataFrame:
    """Per shown lead: paid, first_paid_at, first_check, treated (see ``lead_journey``)."""
    if "patient_key" in shows and "patient_key" in invoices:      # ingest's keys: the shown leads' patients by key
        code = np.where(found_in(invoices, "patient_id", shows), invoices["patient_key"].to_numpy(np.int64), -1)
        show_patient = shows["patient_key"].to_numpy(np.int64)
    else:
        patients = pc.unique(arrow_ids(shows["patient_id"]))
        code = positions(invoices["patient_id"], patients)
        show_patient = positions(shows["patient_id"], patients)
    mine = code >= 0
    inv = pd.DataFrame({
        "patient": code[mine],
        "day": invoices["paid_at"].to_numpy(dtype="datetime64[ns]")[mine].astype("datetime64[D]").astype("datetime64[ns]"),
        "amount": invoices["amount"].to_numpy(dtype="float64")[mine],
    })
    if "service_category" in invoices and categories:
        inv["treatment"] = member(invoices["service_category"], pa.array(list(categories), pa.large_string()))[mine]
    else:
        inv["treatment"] = False
    inv = inv.dropna(subset=["day"])
    positive = inv.loc[inv["amount"] > 0].sort_values("day", kind="stable")
    net_by_day = inv.groupby(["patient", "day"], sort=False)["amount"].sum().rename("first_check")

    left = pd.DataFrame({
        "lead_pos": shows["lead_pos"].to_numpy(),
        "patient": show_patient,
        "show_day": shows["show_at"].to_numpy(dtype="datetime64[ns]").astype("datetime64[D]").astype("datetime64[ns]"),
    }).sort_values("show_day", kind="stable")
    pay_days = positive[["patient", "day"]].rename(columns={"day": "first_paid_at"})
    res = pd.merge_asof(left, pay_days, left_on="show_day", right_on="first_paid_at", by="patient",
                        direction="forward")
    res["paid"] = res["first_paid_at"].notna()
    res = res.join(net_by_day, on=["patient", "first_paid_at"])
    horizon_end = res["first_paid_at"] + pd.Timedelta(days=int(horizon_days))

    # Second paid day: the first positive invoice on a later day than the first paid day.
    res["after_first"] = res["first_paid_at"] + pd.Timedelta(days=1)
    later = res.loc[res["paid"]].sort_values("after_first", kind="stable")
    later = pd.merge_asof(later, positive[["patient", "day"]].rename(columns={"day": "second_paid_at"}),
                          left_on="after_first", right_on="second_paid_at", by="patient", direction="forward")
    res = res.merge(later[["lead_pos", "second_paid_at"]], on="lead_pos", how="left")
    treated = (res["second_paid_at"] <= horizon_end).fillna(False).to_numpy(bool)

    cat = positive.loc[positive["treatment"], ["patient", "day"]].rename(columns={"day": "treatment_at"})
    if len(cat):
        by_cat = pd.merge_asof(res.sort_values("show_day", kind="stable"), cat, left_on="show_day",
                               right_on="treatment_at", by="patient", direction="forward")
        by_cat = res[["lead_pos"]].merge(by_cat[["lead_pos", "treatment_at"]], on="lead_pos", how="left")
        treated = treated | (by_cat["treatment_at"] <= horizon_end).fillna(False).to_numpy(bool)
    res["treated"] = treated & res["paid"].to_numpy(bool)
    res["first_check"] = res["first_check"].where(res["paid"])
    return res[["lead_pos", "paid", "treated", "first_paid_at", "first_check"]]


# -- stage counts and conversions ----------------------------------------------------------------
def stage_counts(journey: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp, *,
                 site_traffic: pd.DataFrame | None = None, by: Iterable[str] = ()) -> pd.DataFrame:
    """Leads created in ``[start, end)`` and how many of them reached each later stage.

    Columns: ``by`` (``channel`` and/or ``month``), then the stages present among ``sessions``
    (site_traffic rows whose ``month`` lies in the period, summed; a monthly table counts a month
    when its first day is in the period), ``leads``, ``booked_leads``, ``shown_leads``,
    ``paid_leads``, ``treated_leads``; counts. A stage whose data is missing is not a column.
    By channel, sessions are matched on the channel name: a channel with traffic but no leads
    gets 0 leads; a channel with leads but no traffic rows gets NaN sessions.
    """
    by = list(by)
    flags = {"leads": None, "booked_leads": "booked", "shown_leads": "shown", "paid_leads": "paid",
             "treated_leads": "treated"}
    part = journey.loc[_in(journey["created_at"], start, end)]
    cols = {stage: (part[flag] if flag else pd.Series(True, index=part.index)).astype("int64")
            for stage, flag in flags.items() if flag is None or flag in part}
    counts = pd.DataFrame(cols, index=part.index)
    if by:
        counts = pd.concat([part[by], counts], axis=1).groupby(by, observed=True, sort=True).sum()
    else:
        counts = counts.sum().to_frame().T
    if site_traffic is not None:
        traffic = site_traffic.loc[_in(site_traffic["month"], start, end)]
        if by:
            traffic = traffic.assign(month=month_start(traffic["month"]), channel=traffic["channel"].astype("string"))
            sessions = traffic.groupby(by, observed=True, sort=True)["sessions"].sum()
            counts = counts.join(sessions, how="outer")
            lead_cols = [c for c in counts.columns if c != "sessions"]
            counts[lead_cols] = counts[lead_cols].fillna(0).astype("int64")
        else:
            counts.insert(0, "sessions", float(traffic["sessions"].sum()))
        counts = counts[["sessions"] + [c for c in counts.columns if c != "sessions"]]
    return counts.reset_index() if by else counts.reset_index(drop=True)


def add_conversions(counts: pd.DataFrame) -> pd.DataFrame:
    """``counts`` with the conversion between every pair of adjacent stages present:
    ``session_to_lead`` = leads ÷ sessions, ``lead_to_booking`` = booked ÷ leads,
    ``booking_to_show`` = shown ÷ booked, ``show_to_paid`` = paid ÷ shown,
    ``paid_to_treatment`` = treated ÷ paid. Fractions; NaN where the denominator is 0 or unknown.
    """
    out = counts.copy()
    for name, low, high in CONVERSIONS:
        if low in out and high in out:
            den = out[low].astype("float64")
            out[name] = out[high].astype("float64") / den.where(den > 0)
    return out


# -- money --------------------------------------------------------------------------------------
def avg_check(invoices: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> float:
    """Average check: net paid amount ÷ number of paid invoices, invoices by ``paid_at`` in the period.

    Refunds (negative amounts) are netted into the amount but are not counted as invoices: the
    denominator counts invoices with a positive amount. Zero-amount rows count in neither.
    Money in the config currency; NaN when the period has no positive invoice.
    """
    amount = invoices["amount"].to_numpy(dtype="float64")[_in(invoices["paid_at"], start, end)]
    return ratio_or_nan(np.nansum(amount), int((amount > 0).sum()))


def treatment_open_days(invoices: pd.DataFrame, end: pd.Timestamp, horizon_days: int) -> int:
    """How many days of the treatment horizon of the period's last leads lie beyond the payments
    data (its latest ``paid_at``): 0 when the treatment stage is complete; otherwise it is
    understated for the leads of the period's last weeks (right-censoring), in days."""
    if not len(invoices) or invoices["paid_at"].isna().all():
        return int(horizon_days)
    last = invoices["paid_at"].max().normalize() + pd.Timedelta(days=1)
    return int(max(0, (pd.Timestamp(end) + pd.Timedelta(days=int(horizon_days)) - last).days))


def paid_amount(invoices: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> float:
    """Net amount paid in the period (refunds netted), by ``paid_at``; money."""
    return float(np.nansum(invoices["amount"].to_numpy(dtype="float64")[_in(invoices["paid_at"], start, end)]))


def avg_first_check(journey: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> float:
    """Mean ``first_check`` (net amount of the first paid day) of the paid leads created in the
    period; money. NaN when no lead paid or invoices are missing."""
    if "first_check" not in journey:
        return np.nan
    part = journey.loc[_in(journey["created_at"], start, end)]
    return float(part.loc[part["paid"], "first_check"].mean()) if part["paid"].any() else np.nan


# -- missed calls -------------------------------------------------------------------------------
def _calls_in(calls: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    part = calls.loc[_in(calls["started_at"], start, end)]
    return part.loc[part["answered"].notna().to_numpy(bool)]


def _missed(part: pd.DataFrame) -> np.ndarray:
    """Which calls of `_calls_in` were missed: not answered (bool per row)."""
    return ~part["answered"].to_numpy(bool)


def missed_call_counts(calls: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> tuple[int, int]:
    """(unanswered calls, all calls) started in the period; calls whose ``answered`` is unknown count in
    neither. The two counts of `missed_call_rate`."""
    part = _calls_in(calls, start, end)
    return int(_missed(part).sum()), len(part)


def missed_call_rate(calls: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> float:
    """Unanswered calls ÷ all calls started in the period (fraction), `missed_call_counts`; NaN when the
    period has no call."""
    return ratio_or_nan(*missed_call_counts(calls, start, end))


def missed_by_weekday_hour(calls: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    """Calls of the period by weekday (0 = Monday) × hour of ``started_at``: ``calls``, ``missed``
    (unanswered) and ``missed_rate`` = missed ÷ calls. Only weekday-hours with calls appear."""
    part = _calls_in(calls, start, end)
    frame = pd.DataFrame({"weekday": part["started_at"].dt.day_of_week.to_numpy(),
                          "hour": part["started_at"].dt.hour.to_numpy(),
                          "missed": _missed(part).astype("int64")})
    out = (frame.groupby(["weekday", "hour"], sort=True)
           .agg(calls=("missed", "size"), missed=("missed", "sum")).reset_index())
    out["missed_rate"] = out["missed"] / out["calls"]
    return out


def peak_hours(by_weekday_hour: pd.DataFrame, *, ratio: float = 1.5, min_calls: int = 20,
               weekdays: Iterable[int] = range(5)) -> pd.DataFrame:
    """Hours of the day (weekdays Monday–Friday pooled by default) and whether each is a peak.

    Per hour: ``calls``, ``missed``, ``missed_rate``; ``is_peak`` when the hour has at least
    ``min_calls`` calls and its missed rate is at least ``ratio`` × the pooled rate of those
    weekdays. A peak is where the phone is left ringing more than usual, not just a busy hour.
    """
    part = by_weekday_hour.loc[by_weekday_hour["weekday"].isin(list(weekdays))]
    out = part.groupby("hour", sort=True)[["calls", "missed"]].sum().reset_index()
    overall = ratio_or_nan(out["missed"].sum(), out["calls"].sum())
    out["missed_rate"] = out["missed"] / out["calls"].where(out["calls"] > 0)
    out["is_peak"] = (out["calls"] >= min_calls) & (out["missed_rate"] >= ratio * overall) & (out["missed"] > 0)
    return out


def callback_summary(calls: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp, *,
                     lead_call_ids: pd.Series | None = None, recovery_hours: float = 24.0) -> dict[str, float]:
    """What happened to the period's missed (unanswered) calls.

    - ``calls``, ``missed``; ``missed_rate`` = missed ÷ calls.
    - With ``called_back_at`` recorded (some call has it): ``never_called_back`` = share of
      missed calls with no callback; ``called_back_15m`` / ``called_back_2h`` = share called back
      within 15 minutes / 2 hours of the call. Otherwise these are NaN (unknown, not zero).
    - ``lost``: missed calls nobody recovered: no callback (when recorded), no answered call from
      the same caller (``caller_phone``, when recorded) within ``recovery_hours`` after it, and
      not linked to a lead (``lead_call_ids``, the leads' ``call_id``: such callers are followed
      by the lead funnel instead). A count.
    """
    part = _calls_in(calls, start, end)
    missed_mask = _missed(part)
    missed = part.loc[missed_mask]
    out: dict[str, float] = {"calls": float(len(part)), "missed": float(len(missed)),
                             "missed_rate": ratio_or_nan(len(missed), len(part)),
                             "never_called_back": np.nan, "called_back_15m": np.nan, "called_back_2h": np.nan}
    lost = np.ones(len(missed), dtype=bool)
    if _has_values(calls, "called_back_at"):
        delay = (missed["called_back_at"] - missed["started_at"]).to_numpy(dtype="timedelta64[ns]")
        back = ~np.isnat(delay)
        out["never_called_back"] = ratio_or_nan(int((~back).sum()), len(missed))
        out["called_back_15m"] = ratio_or_nan(int((back & (delay <= np.timedelta64(15, "m"))).sum()), len(missed))
        out["called_back_2h"] = ratio_or_nan(int((back & (delay <= np.timedelta64(120, "m"))).sum()), len(missed))
        lost &= ~back
    if _has_values(calls, "caller_phone") and len(missed):
        window = _in(calls["started_at"], start, end + pd.Timedelta(hours=recovery_hours))
        answered = calls.loc[window & calls["answered"].fillna(False).to_numpy(bool)
                             & calls["caller_phone"].notna().to_numpy(bool)]
        callers = pc.unique(arrow_ids(missed["caller_phone"]))
        right = pd.DataFrame({"caller": positions(answered["caller_phone"], callers),
                              "through_at": answered["started_at"].to_numpy(dtype="datetime64[ns]")})
        right = right.loc[right["caller"] >= 0].sort_values("through_at", kind="stable")
        left = pd.DataFrame({"row": np.arange(len(missed)), "caller": positions(missed["caller_phone"], callers),
                             "at": missed["started_at"].to_numpy(dtype="datetime64[ns]")}).sort_values("at", kind="stable")
        hit = pd.merge_asof(left, right, left_on="at", right_on="through_at", by="caller", direction="forward",
                            allow_exact_matches=False, tolerance=pd.Timedelta(hours=recovery_hours))
        through = np.zeros(len(missed), dtype=bool)
        through[hit["row"].to_numpy()] = (hit["through_at"].notna() & (hit["caller"] >= 0)).to_numpy(bool)
        lost &= ~through
    if lead_call_ids is not None and lead_call_ids.notna().any():
        lost &= ~member(missed["call_id"], lead_call_ids)
    out["lost"] = float(lost.sum())
    return out


# -- speed to lead ------------------------------------------------------------------------------
def response_bucket(minutes: pd.Series) -> pd.Series:
    """Response-time bucket code per lead: under_5m (<5 min), 5_30m, 30_120m, 2_24h, over_24h
    (lower bounds inclusive), never (no response recorded). Ordered categorical."""
    edges = [b for _, b in RESPONSE_BUCKETS] + [np.inf]
    codes = pd.cut(minutes, edges, right=False, labels=[c for c, _ in RESPONSE_BUCKETS])
    return pd.Categorical(codes.astype("object").where(codes.notna(), NEVER), categories=BUCKET_ORDER, ordered=True)


def response_buckets(journey: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp,
                     by: Iterable[str] = ()) -> pd.DataFrame:
    """Leads of the period by response-time bucket: ``leads``, ``booked_leads`` and
    ``lead_to_booking`` = booked ÷ leads. Empty when no response times are recorded or bookings
    are missing (the section is then left out)."""
    if "response_minutes" not in journey or "booked" not in journey:
        return pd.DataFrame(columns=[*by, "bucket", "leads", "booked_leads", "lead_to_booking"])
    part = journey.loc[_in(journey["created_at"], start, end)]
    frame = part[list(by)].assign(bucket=response_bucket(part["response_minutes"]),
                                  booked=part["booked"].astype("int64"))
    out = (frame.groupby([*by, "bucket"], observed=False, sort=True)
           .agg(leads=("booked", "size"), booked_leads=("booked", "sum")).reset_index())
    out["lead_to_booking"] = out["booked_leads"] / out["leads"].where(out["leads"] > 0)
    out["bucket"] = out["bucket"].astype("string")
    return out


def median_first_response_minutes(journey: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> float:
    """Median minutes from lead creation to first response, over the period's leads that got a
    response (leads never answered are excluded here and counted in the ``never`` bucket).
    NaN when response times are not recorded."""
    if "response_minutes" not in journey:
        return np.nan
    minutes = journey.loc[_in(journey["created_at"], start, end), "response_minutes"]
    return float(minutes.median()) if minutes.notna().any() else np.nan


def response_by(journey: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp,
                by: Iterable[str] = ("channel",)) -> pd.DataFrame:
    """Speed to lead per group (``channel`` and/or ``kind``): ``leads``, ``no_response`` (share
    never answered), ``median_response_minutes`` (over answered leads), ``within_5m`` (share of
    all leads answered within 5 minutes) and ``lead_to_booking`` (when bookings are known).
    Empty when response times (or the requested grouping) are not recorded."""
    by = list(by)
    if "response_minutes" not in journey or any(b not in journey for b in by):
        return pd.DataFrame(columns=[*by, "leads", "no_response", "median_response_minutes", "within_5m"])
    part = journey.loc[_in(journey["created_at"], start, end)]
    minutes = part["response_minutes"]
    frame = part[by].assign(minutes=minutes, never=minutes.isna().astype("int64"), fast=(minutes < 5).astype("int64"))
    aggs = {"leads": ("never", "size"), "no_response": ("never", "mean"),
            "median_response_minutes": ("minutes", "median"), "within_5m": ("fast", "mean")}
    if "booked" in part:
        frame["booked"] = part["booked"].astype("int64")
        aggs["lead_to_booking"] = ("booked", "mean")
    out = frame.groupby(by, sort=True, observed=True).agg(**aggs).reset_index()
    for col in by:
        out[col] = out[col].astype("string")
    return out


def slow_response_units(buckets: pd.DataFrame, *, min_fast_leads: int = 10) -> float:
    """Bookings lost to slow answers: Σ over the slower buckets (``never`` included) of
    leads × (booking rate of leads answered under 5 minutes − the bucket's rate), counting only
    buckets below the fast rate. NaN when fewer than ``min_fast_leads`` leads were answered under
    5 minutes (the reference rate would be noise)."""
    if buckets.empty:
        return np.nan
    fast = buckets.loc[buckets["bucket"] == "under_5m"]
    if fast.empty or fast["leads"].iloc[0] < min_fast_leads:
        return np.nan
    ref = float(fast["lead_to_booking"].iloc[0])
    slow = buckets.loc[(buckets["bucket"] != "under_5m") & (buckets["leads"] > 0)]
    return float((slow["leads"] * (ref - slow["lead_to_booking"]).clip(lower=0)).sum())


# -- unbooked leads and reasons -----------------------------------------------------------------
def unbooked_without_reason(journey: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp,
                            by: Iterable[str] = ("channel",)) -> pd.DataFrame:
    """Leads of the period never booked, and those of them with no ``lost_reason`` recorded:
    ``leads``, ``unbooked``, ``no_reason`` (counts), ``no_reason_share`` = no_reason ÷ unbooked and
    ``open`` (unbooked leads whose CRM stage says they are still being worked: not lost, so they need
    no reason and are not in ``no_reason``). Empty when bookings are missing."""
    columns = [*by, "leads", "unbooked", "no_reason", "no_reason_share", "open"]
    if "booked" not in journey:
        return pd.DataFrame(columns=columns)
    part = journey.loc[_in(journey["created_at"], start, end)]
    unbooked = ~part["booked"].to_numpy(bool)
    still_open = (part["outcome"].eq("open").fillna(False).to_numpy(bool) if "outcome" in part
                  else np.zeros(len(part), dtype=bool))
    no_reason = unbooked & part["lost_reason"].isna().to_numpy(bool) & ~still_open
    frame = part[list(by)].assign(unbooked=unbooked.astype("int64"), no_reason=no_reason.astype("int64"),
                                  open=(unbooked & still_open).astype("int64"))
    out = (frame.groupby(list(by), sort=True).agg(leads=("unbooked", "size"), unbooked=("unbooked", "sum"),
                                                 no_reason=("no_reason", "sum"), open=("open", "sum")).reset_index()
           if by else frame[["unbooked", "no_reason", "open"]].sum().to_frame().T.assign(leads=len(frame)))
    out["no_reason_share"] = out["no_reason"] / out["unbooked"].where(out["unbooked"] > 0)
    return out[columns]


def lost_reasons(journey: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    """Recorded ``lost_reason`` of the period's unbooked leads, most frequent first: ``lost_reason``,
    ``leads`` and ``share`` of unbooked leads with a reason. Ties by reason text."""
    if "booked" not in journey:
        return pd.DataFrame(columns=["lost_reason", "leads", "share"])
    part = journey.loc[_in(journey["created_at"], start, end)]
    reasons = part.loc[~part["booked"].to_numpy(bool), "lost_reason"].dropna()
    out = reasons.value_counts().rename("leads").rename_axis("lost_reason").reset_index()
    out = out.sort_values(["leads", "lost_reason"], ascending=[False, True], kind="stable").reset_index(drop=True)
    out["share"] = out["leads"] / out["leads"].sum() if len(out) else pd.Series(dtype="float64")
    return out


# -- leaks and money at stake -------------------------------------------------------------------
def leak_table(totals: Mapping[str, float], *, avg_first_check: float, months: float,
               lost_calls: float | None = None, slow_response: float | None = None) -> pd.DataFrame:
    """Money at stake per month for each leak = lost units × downstream conversion observed ×
    average first paid check ÷ months in the period.

    - ``lead_to_booking``: leads never booked × (paid ÷ booked).
    - ``booking_to_show``: booked leads that never came × (paid ÷ shown).
    - ``show_to_paid``: leads that came but never paid × 1.
    - ``missed_calls``: missed calls nobody recovered (``callback_summary``'s ``lost``) × (paid ÷ leads).
    - ``slow_response``: bookings lost to slow answers (``slow_response_units``) × (paid ÷ booked).

    ``totals`` holds the period's stage counts. The three funnel steps concern disjoint leads and
    missed calls exclude calls linked to leads, so they add up (``in_total``); slow response is
    a part of the lead→booking leak and is not added. Rows whose inputs are missing are left out.
    """
    get = lambda k: float(totals[k]) if k in totals and pd.notna(totals[k]) else np.nan  # noqa: E731
    leads, booked, shown, paid = get("leads"), get("booked_leads"), get("shown_leads"), get("paid_leads")
    rows = [
        ("lead_to_booking", leads - booked, ratio_or_nan(paid, booked), True),
        ("booking_to_show", booked - shown, ratio_or_nan(paid, shown), True),
        ("show_to_paid", shown - paid, 1.0 if shown == shown and paid == paid else np.nan, True),
    ]
    if lost_calls is not None and pd.notna(lost_calls):
        rows.append(("missed_calls", float(lost_calls), ratio_or_nan(paid, leads), True))
    if slow_response is not None and pd.notna(slow_response):
        rows.append(("slow_response", float(slow_response), ratio_or_nan(paid, booked), False))
    out = pd.DataFrame(rows, columns=["leak", "lost_units", "downstream_conversion", "in_total"])
    out = out.loc[out["lost_units"].notna()].reset_index(drop=True)
    out["avg_first_check"] = avg_first_check
    out["months"] = months
    out["money_per_month"] = out["lost_units"] * out["downstream_conversion"] * avg_first_check / months
    return out


# -- one period, headline metrics ------------------------------------------------------
BRANCH_RESPONSE = ("no_response", "median_response_minutes", "within_5m")   # `response_by` columns by branch


def branch_funnel(journey: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame | None:
    """A network's funnel by the leads' ``branch_id``: per branch the `stage_counts` of the period's leads
    (``leads``, ``booked_leads``, ``shown_leads``, ``paid_leads``, ``treated_leads`` where known) with the
    conversions of `add_conversions`, and, when response times are recorded, ``no_response``,
    ``median_response_minutes`` and ``within_5m`` (`response_by`). Site sessions and calls are network-wide
    (no branch): not split. Leads without a branch are left out. None without branches or with one branch.
    Sorted by branch."""
    if "branch_id" not in journey or journey["branch_id"].nunique() < 2:
        return None
    part = journey.loc[journey["branch_id"].notna().to_numpy(bool) & _in(journey["created_at"], start, end)]
    out = add_conversions(stage_counts(part, start, end, by=["branch_id"]))
    out["branch_id"] = out["branch_id"].astype("string")
    if "response_minutes" in part:
        speed = response_by(part, start, end, ["branch_id"])[["branch_id", *BRANCH_RESPONSE]]
        out = out.merge(speed, on="branch_id", how="left")
    return out.reset_index(drop=True)


def period_summary(journey: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp, *,
                   site_traffic: pd.DataFrame | None = None, invoices: pd.DataFrame | None = None,
                   calls: pd.DataFrame | None = None, treatment_horizon_days: int = 90) -> dict[str, Any]:
    """Everything the report says about one period, computed once.

    Keys: ``start``, ``end``, ``months``, ``totals`` (stage counts and conversions, a dict),
    ``by_channel`` and ``by_month`` (stage counts with conversions), ``avg_check``,
    ``revenue_per_month`` (net paid ÷ months), ``avg_first_check``, ``calls`` (``callback_summary``
    or None), ``by_weekday_hour`` and ``peaks`` (or None), ``buckets``, ``response_by_channel``,
    ``response_by_kind`` and ``response_by_channel_kind``,
    ``median_first_response_minutes``, ``unbooked`` (by channel), ``reasons``, ``leaks``,
    ``by_branch`` (`branch_funnel`: a network's funnel by branch, else None),
    ``money_at_stake_per_month`` (sum of the leaks marked ``in_total``; NaN if none priced),
    ``available`` (names of the stages and conversions computed, and of ``invoices``, ``calls``,
    ``response`` when present), ``treatment_open_days`` (see ``treatment_open_days``).
    """
    months = period_months(start, end)
    leads = journey
    # The period's leads sliced once: every step below keeps only the leads created in [start, end) (the slice
    # again, at no cost), except the calls' lead IDs and the branch funnel's count of branches (all leads).
    journey = journey.loc[_in(journey["created_at"], start, end)]
    totals = add_conversions(stage_counts(journey, start, end, site_traffic=site_traffic)).iloc[0].to_dict()
    out: dict[str, Any] = {
        "start": start, "end": end, "months": months, "totals": totals,
        "by_channel": add_conversions(stage_counts(journey, start, end, site_traffic=site_traffic, by=["channel"])),
        "by_month": add_conversions(stage_counts(journey, start, end, site_traffic=site_traffic, by=["month"])),
        "avg_check": avg_check(invoices, start, end) if invoices is not None else np.nan,
        "revenue_per_month": paid_amount(invoices, start, end) / months if invoices is not None else np.nan,
        "avg_first_check": avg_first_check(journey, start, end),
        "calls": None, "by_weekday_hour": None, "peaks": None,
        # what data this period had: the stages and conversions computed, plus tables and fields
        "available": set(totals) | {name for name, present in (
            ("invoices", invoices is not None), ("calls", calls is not None),
            ("response", "response_minutes" in journey)) if present},
    }
    if calls is not None:
        out["calls"] = callback_summary(calls, start, end, lead_call_ids=leads["call_id"])
        out["by_weekday_hour"] = missed_by_weekday_hour(calls, start, end)
        out["peaks"] = peak_hours(out["by_weekday_hour"])
    out["treatment_open_days"] = (treatment_open_days(invoices, end, treatment_horizon_days)
                                  if "treated" in journey else 0)
    out["by_branch"] = branch_funnel(leads, start, end)
    out["buckets"] = response_buckets(journey, start, end)
    out["response_by_channel"] = response_by(journey, start, end, ["channel"])
    out["response_by_kind"] = response_by(journey, start, end, ["kind"])
    out["response_by_channel_kind"] = response_by(journey, start, end, ["channel", "kind"])
    out["median_first_response_minutes"] = median_first_response_minutes(journey, start, end)
    out["unbooked"] = unbooked_without_reason(journey, start, end)
    out["reasons"] = lost_reasons(journey, start, end)
    out["slow_response_units"] = slow_response_units(out["buckets"])
    out["leaks"] = leak_table(totals, avg_first_check=out["avg_first_check"], months=months,
                              lost_calls=out["calls"]["lost"] if out["calls"] else None,
                              slow_response=out["slow_response_units"])
    priced = out["leaks"].loc[out["leaks"]["in_total"], "money_per_month"].dropna()
    out["money_at_stake_per_month"] = float(priced.sum()) if len(priced) else np.nan
    return out


def summarise(tables: Mapping[str, pd.DataFrame], periods: Mapping[str, Window], *,
              treatment_horizon_days: int = 90, treatment_categories: Iterable[str] = ()) -> dict[str, dict[str, Any]]:
    """The whole funnel computation: the lead journey once, then ``period_summary`` per period."""
    journey = lead_journey(tables["leads"], tables.get("bookings"), tables.get("visits"), tables.get("invoices"),
                           treatment_horizon_days=treatment_horizon_days,
                           treatment_categories=treatment_categories or ())
    return {name: period_summary(journey, start, end, site_traffic=tables.get("site_traffic"),
                                 invoices=tables.get("invoices"), calls=tables.get("calls"),
                                 treatment_horizon_days=treatment_horizon_days)
            for name, (start, end) in periods.items()}


# metrics.json key -> (unit, where it is in a period summary, what data it needs besides leads)
HEADLINE: dict[str, tuple[str, Any, str | None]] = {
    **{f"funnel.{stage}": ("count", stage, stage) for stage in STAGES},
    **{f"funnel.{name}": ("rate", name, name) for name, _, _ in CONVERSIONS},
    "funnel.avg_check": ("money", "avg_check", "invoices"),
    "funnel.avg_first_check": ("money", "avg_first_check", "paid_leads"),
    "funnel.missed_call_rate": ("rate", ("calls", "missed_rate"), "calls"),
    "funnel.median_first_response_minutes": ("minutes", "median_first_response_minutes", "response"),
    "funnel.money_at_stake_per_month": ("money", "money_at_stake_per_month", None),
}


def headline_metrics(summaries: Mapping[str, Mapping[str, Any]]) -> dict[str, tuple[str, dict[str, Any]]]:
    """metrics.json entries: key -> (unit, {period: value}).

    A key whose data is missing in every period (its stage, the invoices, the calls, the response
    times) is left out; a value that cannot be computed is None; counts are integers."""
    out: dict[str, tuple[str, dict[str, Any]]] = {}
    for key, (unit, path, needs) in HEADLINE.items():
        if needs and not any(needs in s["available"] for s in summaries.values()):
            continue
        values: dict[str, Any] = {}
        for period, s in summaries.items():
            if isinstance(path, tuple):
                section = s.get(path[0])
                value = section.get(path[1]) if section else None
            else:
                value = s["totals"][path] if path in s["totals"] else s.get(path)
            if value is None or (isinstance(value, (float, np.floating)) and not np.isfinite(value)):
                value = None
            elif unit == "count" and float(value).is_integer():
                value = int(value)
            values[period] = value
        out[key] = (unit, values)
    return out


# -- tables for the report (small by construction: one row per stage, channel, leak) ---------------
def comparison(summaries: Mapping[str, Mapping[str, Any]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Stage counts and conversions side by side per period: ``(counts, rates)``.

    counts: ``stage`` + one column per period (+ ``change`` = current ÷ base − 1 with a base);
    rates: ``conversion`` + one column per period (+ ``change`` = current − base, in fractions).
    Only stages and conversions present in some period are listed.
    """
    periods = list(summaries)
    stages = [s for s in STAGES if any(s in x["totals"] for x in summaries.values())]
    rates = [n for n, _, _ in CONVERSIONS if any(n in x["totals"] for x in summaries.values())]
    counts = pd.DataFrame({"stage": stages, **{p: [float(summaries[p]["totals"].get(s, np.nan)) for s in stages]
                                               for p in periods}})
    conv = pd.DataFrame({"conversion": rates, **{p: [float(summaries[p]["totals"].get(r, np.nan)) for r in rates]
                                                 for p in periods}})
    if "base" in summaries and "current" in summaries:
        counts["change"] = counts["current"] / counts["base"].where(counts["base"] > 0) - 1
        conv["change"] = conv["current"] - conv["base"]
    return counts, conv


def channel_table(summaries: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    """The current period by channel (stage counts and conversions), with the base period's
    lead → booking and its change (current − base) when both exist. Channels with no leads
    (traffic only) are left out."""
    cur = summaries["current"]["by_channel"]
    cols = ["channel"] + [c for c in ("leads", "booked_leads", "shown_leads", "paid_leads", "lead_to_booking",
                                       "booking_to_show", "show_to_paid") if c in cur]
    out = cur.loc[cur["leads"] > 0, cols].reset_index(drop=True)
    base = summaries.get("base")
    if base is not None and "lead_to_booking" in out and "lead_to_booking" in base["by_channel"]:
        b = base["by_channel"].loc[base["by_channel"]["leads"] > 0, ["channel", "lead_to_booking"]]
        out = out.merge(b.rename(columns={"lead_to_booking": "lead_to_booking_base"}), on="channel", how="left")
        out["lead_to_booking_change"] = out["lead_to_booking"] - out["lead_to_booking_base"]
    return out


def month_table(summaries: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    """Stage counts and conversions by month of lead creation, all periods in time order."""
    parts = [s["by_month"] for s in summaries.values()]
    out = pd.concat(parts, ignore_index=True).sort_values("month", kind="stable").reset_index(drop=True)
    keep = ["month"] + [c for c in (*STAGES, *(n for n, _, _ in CONVERSIONS)) if c in out]
    return out[keep]


def leak_report(summaries: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    """Every period's leak table stacked, with a ``period`` column, most money first in each period."""
    parts = [s["leaks"].assign(period=name).sort_values("money_per_month", ascending=False, kind="stable")
             for name, s in summaries.items()]
    out = pd.concat(parts, ignore_index=True)
    return out[["period", "leak", "lost_units", "downstream_conversion", "avg_first_check", "months",
                "money_per_month", "in_total"]]


def missed_matrix(by_weekday_hour: pd.DataFrame, *, min_calls: int = 1) -> pd.DataFrame:
    """Missed-call share as a weekday (rows, 0 = Monday) × hour (columns) matrix; NaN where the
    weekday-hour has fewer than ``min_calls`` calls (a share of one or two calls is noise); hours
    left with no value at all are dropped."""
    rates = by_weekday_hour["missed_rate"].where(by_weekday_hour["calls"] >= min_calls)
    return (by_weekday_hour.assign(missed_rate=rates)
            .pivot(index="weekday", columns="hour", values="missed_rate").sort_index().dropna(axis=1, how="all"))
