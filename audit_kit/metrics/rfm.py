"""RFM (module 05): the patient base scored by recency, frequency and money; segments with their next
best action; the churn threshold and contact window; the return curve; the reactivation list and the
call-centre plan to work it. Pure, vectorised functions, no I/O.

Definitions (issue 9; a visit is `patients.visit_codes` / `patients.visits`: an invoice's visit_id,
else a patient-day, made by invoices with amount ≥ 0):
- **as-of**: an inclusive date (the end of the period); invoices paid after it are ignored.
- per patient with at least one visit up to the as-of: ``recency_days`` = as-of − day of the last
  visit (a visit on the as-of day is 0); ``frequency`` = distinct visits; ``paid`` = net total of all
  the patient's invoices up to the as-of (refunds included); ``monetary`` = paid (option
  ``rfm_monetary: total``) or paid ÷ frequency (``per_visit``).
- **scores 1-3** (3 best): c1, c2 = the 1/3 and 2/3 quantiles (linear interpolation, as pandas) of
  the patients' values; F and M: 1 + (v > c1) + (v > c2); R: 3 − (v > c1) − (v > c2). Equal values
  get equal scores; when c1 = c2 the score stays empty (NA), and so do the code and the segment.
  Fixed thresholds [t1, t2] per measure (option ``rfm_thresholds``) use the same comparisons.
- **code** ``R{r}F{f}M{m}``; **segment**: `rfm_segments.yaml` maps each of the 27 codes to one segment.
- **churn threshold** T: the ``churn_quantile`` quantile of the gaps in days between consecutive
  visit days of F3 patients (fewer than ``MIN_GAPS`` such gaps: of all patients with ≥ 2 visit days);
  **contact window** = [T − ``contact_window_days``, T).
- **active months** of a patient = (last visit − first visit) in months (30.44 days) + 1; their
  **monthly value** = paid ÷ active months; **expected value** = 12 × monthly value (= money per
  visit × visits per year while active). **Money at stake** = the former best patients' monthly value.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np
import pandas as pd
import yaml

from ..options import RFM_ACTIONS as ACTIONS
from ..options import RFM_CODES as CODES
from ..options import RFM_MEASURES as MEASURES
from ..options import SEGMENTS_FILE, load_segments, rfm_segment_overrides, rfm_thresholds
from ..ingest.keys import positions, text_codes
from .ids import among, same_as_previous, with_keys
from .patients import (ascending_rows, home_branch, id_index, visit_and_patient_codes, visit_codes, visit_columns,
                       visits as patient_visits)
from .periods import AVG_MONTH_DAYS, NS_PER_DAY, day_numbers, in_window, up_to

SCORE_OF = {"recency_days": "r", "frequency": "f", "monetary": "m"}
MONETARY = ("total", "per_visit")
MIN_GAPS = 30                      # fewer completed F3 gaps than this: the threshold uses all returning patients
FORMER_BEST = "former_best"
AT_RISK = "at_risk"
BEST = "best"
WINDOW = "window"                  # reason of a listed patient who is inside the contact window


# -- the per-patient table ---------------------------------------------------------------------

def rfm_table(invoices: pd.DataFrame, as_of: Any, *, monetary: str = "total",
              codes: tuple[np.ndarray, np.ndarray, Any] | None = None) -> pd.DataFrame:
    """Recency, frequency and money of every patient with a visit up to ``as_of`` (inclusive).

    Patients and visits are grouped by their keys (`patients.visit_and_patient_codes`: the ingest's
    ``patient_key`` / ``visit_key``, else keys made on the fly). Index ``patient_id`` (in no particular order); columns
    ``recency_days``, ``frequency`` (int64), ``monetary``, ``paid`` (float64), ``first_visit``,
    ``last_visit`` (days, datetime64). See the module docstring for the definitions. ``codes``:
    `patients.visit_and_patient_codes(invoices)` when the caller has them already.
    """
    if monetary not in MONETARY:
        raise ValueError(f"option rfm_monetary: expected one of {', '.join(MONETARY)}, got {monetary!r}")
    codes, patient, names = visit_and_patient_codes(invoices) if codes is None else codes
    as_of_day = int(day_numbers(pd.Series([pd.Timestamp(as_of).normalize()]))[0])
    day = day_numbers(invoices["paid_at"])
    keep = up_to(invoices["paid_at"], as_of).to_numpy(bool) & (patient >= 0)
    n_patients = len(names)
    amount = invoices["amount"].to_numpy(dtype="float64")
    if not keep.all():                                # as-of before the data end: copy the rows kept
        amount, day, code, patient = amount[keep], day[keep], codes[keep], patient[keep]
    else:
        code = codes
    paid = np.bincount(patient, weights=np.nan_to_num(amount), minlength=n_patients)
    made = (amount >= 0) & (code >= 0)
    n_codes = int(code.max()) + 1 if len(code) else 0
    # A visit happened on its earliest day and belongs to the patient of its first row on that day:
    # one minimum per visit of (day, row) packed in an int64; rows that make no visit go to a spare slot.
    row_bits = max(len(code), 1).bit_length()
    first_day = int(day.min()) if len(day) else 0
    stamp = day - first_day
    stamp <<= row_bits
    stamp |= np.arange(len(code), dtype=np.int64)
    earliest = np.full(n_codes + 1, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(earliest, np.where(made, code, n_codes), stamp)
    earliest = earliest[:n_codes]
    first_rows = ascending_rows(earliest[earliest != np.iinfo(np.int64).max] & ((1 << row_bits) - 1), len(code))
    owner, when = patient[first_rows], day[first_rows]
    frequency = np.bincount(owner, minlength=n_patients)
    last = np.full(n_patients, np.iinfo(np.int64).min, dtype=np.int64)
    np.maximum.at(last, owner, when)
    first = np.full(n_patients, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(first, owner, when)
    seen = np.flatnonzero(frequency)                 # the patients with a visit; columns built in place
    last, first, paid, frequency = last[seen], first[seen], paid[seen], frequency[seen]
    recency = as_of_day - last
    last *= NS_PER_DAY
    first *= NS_PER_DAY
    columns = {"recency_days": recency, "frequency": frequency.astype(np.int64, copy=False),
               "monetary": paid.copy() if monetary == "total" else paid / frequency, "paid": paid,
               "first_visit": first.view("datetime64[ns]"), "last_visit": last.view("datetime64[ns]")}
    return pd.DataFrame(columns, index=id_index(names, seen).rename("patient_id"), copy=False)   # no block copies


# -- scores, codes, segments -------------------------------------------------------------------

def empirical_quantile(values: np.ndarray, q: float | list[float]) -> np.ndarray:
    """The q quantile(s) of the empirical distribution: the smallest value with at least a share q of the values at
    or below it (Hyndman–Fan type 1, numpy's ``inverted_cdf``). Always a value of the data, and the same for a
    network of identical copies of a clinic as for the clinic itself (cuts, thresholds and the money they
    drive grow with the data, never shift with its size)."""
    return np.quantile(np.asarray(values, dtype="float64"), q, method="inverted_cdf")


def tercile_cuts(values: pd.Series | np.ndarray) -> tuple[float, float]:
    """c1, c2: the 1/3 and 2/3 quantiles of the values (`empirical_quantile`)."""
    # a Series' own to_numpy: numpy's asarray probes it for array attributes, and each miss looks the name up in
    # the index, which hashes every patient ID once (0.9 s of RFM at 345 branches)
    values = values.to_numpy(dtype="float64") if isinstance(values, pd.Series) else np.asarray(values, dtype="float64")
    if not len(values):
        return (math.nan, math.nan)
    c1, c2 = empirical_quantile(values, [1 / 3, 2 / 3])
    return float(c1), float(c2)


def score(values: pd.Series, cuts: tuple[float, float], *, lower_is_better: bool = False) -> pd.Series:
    """Scores 1-3 (3 best): 1 + (v > c1) + (v > c2), or 3 − (v > c1) − (v > c2) when fewer is better
    (recency). All NA when c1 = c2 (or a cut is missing): the measure cannot split the patients."""
    c1, c2 = cuts
    if not (np.isfinite(c1) and np.isfinite(c2)) or c1 == c2:
        return pd.Series(pd.NA, index=values.index, dtype="Int8")
    v = values.to_numpy(dtype="float64")
    up = (v > c1).astype(np.int8) + (v > c2).astype(np.int8)
    return pd.Series(3 - up if lower_is_better else 1 + up, index=values.index, dtype="Int8")


def score_cuts(table: pd.DataFrame, thresholds: Mapping[str, Iterable[float]] | None = None
               ) -> dict[str, tuple[float, float]]:
    """The cuts per measure: the config's fixed thresholds (option ``rfm_thresholds``: a mapping of
    recency_days / frequency / monetary to [t1, t2], t1 < t2; measures left out use terciles) or terciles."""
    given = rfm_thresholds(thresholds)
    return {measure: given.get(measure) or tercile_cuts(table[measure]) for measure in MEASURES}


def segment_map(overrides: Mapping[str, str] | None = None, path: str | Path = SEGMENTS_FILE) -> pd.DataFrame:
    """One row per code (R3F3M3 … R1F1M1): ``code``, ``segment``, ``action``; `overrides` (option
    ``rfm_segments``: code -> segment id of the file) move single codes to another segment."""
    segments = load_segments(path)
    mapping = {code: seg for seg, spec in segments.items() for code in spec["codes"]}
    mapping.update(rfm_segment_overrides(overrides, segments))
    return pd.DataFrame({"code": list(CODES), "segment": [mapping[c] for c in CODES],
                         "action": [segments[mapping[c]]["action"] for c in CODES]}).astype("string")


def scored(table: pd.DataFrame, cuts: Mapping[str, tuple[float, float]], segments: pd.DataFrame) -> pd.DataFrame:
    """`table` with scores ``r``, ``f``, ``m`` (Int8), ``code`` and ``segment``/``action`` (NA when a score is)."""
    out = table.copy()
    for measure, col in SCORE_OF.items():
        out[col] = score(out[measure], cuts[measure], lower_is_better=measure == "recency_days")
    # The code of each patient as a position among the 27 codes R1F1M1 … R3F3M3 (-1: a score is empty);
    # code, segment and action are taken from 27-entry arrays, no string is built per patient.
    scores = [out[c].to_numpy(dtype="float64", na_value=np.nan) for c in ("r", "f", "m")]
    complete = ~(np.isnan(scores[0]) | np.isnan(scores[1]) | np.isnan(scores[2]))
    position = np.where(complete, (np.nan_to_num(scores[0]) - 1) * 9 + (np.nan_to_num(scores[1]) - 1) * 3
                        + np.nan_to_num(scores[2]) - 1, -1).astype(np.int64)
    codes = pd.Index([f"R{r}F{f}M{m}" for r in (1, 2, 3) for f in (1, 2, 3) for m in (1, 2, 3)], dtype="string")
    lookup = segments.set_index("code").reindex(codes)
    for column, values in (("code", codes), ("segment", lookup["segment"]), ("action", lookup["action"])):
        out[column] = pd.array(values, dtype="string").take(position, allow_fill=True)
    return out


def segment_summary(table: pd.DataFrame, segments: pd.DataFrame) -> pd.DataFrame:
    """Per segment (in the file's order): patients, share of patients, paid, share of money, median
    recency/frequency, and the action. Patients without a segment (a score was empty) are left out."""
    order = list(dict.fromkeys(segments["segment"]))
    grouped = table.dropna(subset=["segment"]).groupby("segment", sort=False)
    out = pd.DataFrame({"patients": grouped.size(), "paid": grouped["paid"].sum(),
                        "median_recency_days": grouped["recency_days"].median(),
                        "median_frequency": grouped["frequency"].median()}).reindex(order)
    out["patients"] = out["patients"].fillna(0).astype(np.int64)
    out["paid"] = out["paid"].fillna(0.0)
    out["patient_share"] = out["patients"] / max(int(out["patients"].sum()), 1)
    total = out["paid"].sum()
    out["paid_share"] = out["paid"] / total if total else np.nan
    out["action"] = segments.drop_duplicates("segment").set_index("segment")["action"].reindex(order).to_numpy()
    out["codes"] = segments.groupby("segment", sort=False)["code"].agg(", ".join).reindex(order).to_numpy()
    return out.rename_axis("segment").reset_index()[
        ["segment", "codes", "action", "patients", "patient_share", "paid", "paid_share",
         "median_recency_days", "median_frequency"]]


def segment_branches(table: pd.DataFrame, home: pd.Series | None, segments: pd.DataFrame) -> pd.DataFrame | None:
    """A network's segments by branch: per home branch (`patients.home_branch`: the branch of most of the
    patient's visits) ``patients`` (with a segment) and the patients of each segment, one column
    ``<segment>_patients`` per segment in the file's order (``best_patients``, …, ``lost_patients``). Patients
    without a home branch or without a segment are left out. None when there is no home branch (one clinic)."""
    if home is None:
        return None
    order = list(dict.fromkeys(segments["segment"]))
    branch = home.reindex(pd.Index(table.index.astype("string"))).array       # Arrow strings: no Python str each
    part = pd.DataFrame({"branch_id": branch, "segment": table["segment"].array}).dropna()
    counts = (part.groupby(["branch_id", "segment"], observed=True).size().unstack("segment", fill_value=0)
              .reindex(columns=order, fill_value=0).astype(np.int64))
    counts.columns = [f"{segment}_patients" for segment in counts.columns.astype(str)]
    counts.insert(0, "patients", counts.sum(axis=1))
    out = counts.rename_axis(columns=None).reset_index()
    out["branch_id"] = out["branch_id"].astype("string")
    return out


def grid(table: pd.DataFrame) -> pd.DataFrame:
    """The R × F grid: per (r, f) the patients, their paid total and mean M score (for the chart)."""
    g = table.dropna(subset=["r", "f"]).groupby(["r", "f"])
    return pd.DataFrame({"patients": g.size(), "paid": g["paid"].sum(), "mean_m": g["m"].mean()}).reset_index()


# -- churn threshold and return curve -----------------------------------------------------------

def visit_days(invoices: pd.DataFrame, as_of: Any, seen: pd.DataFrame | None = None) -> pd.DataFrame:
    """Distinct visit days per patient up to ``as_of`` (from `patients.visits`; ``seen``: those visits
    when the caller has them already): ``patient_id``, ``day``, sorted by patient and day."""
    v = patient_visits(invoices, as_of) if seen is None else seen
    day = day_numbers(v["day"])
    repeat = same_as_previous(v["patient_id"]) & np.r_[False, day[1:] == day[:-1]]   # a patient's rows are adjacent
    return v.loc[~repeat, ["patient_id", "day"]].reset_index(drop=True)


def gaps(days: pd.DataFrame) -> pd.DataFrame:
    """Completed gaps: days between consecutive visit days of a patient (``patient_id``, ``gap_days``).
    ``days`` as from `visit_days` (sorted by patient and day)."""
    d = day_numbers(days["day"])
    same = same_as_previous(days["patient_id"])
    diff = np.r_[0, np.diff(d)] if len(d) else np.zeros(0, np.int64)
    return pd.DataFrame({"patient_id": days["patient_id"].array[same], "gap_days": diff[same].astype(np.int64)})


@dataclass
class Threshold:
    """The churn threshold T (days), its basis (``f3`` or ``all``), the gaps it came from, the window."""

    days: float | None
    basis: str | None
    gaps: int
    quantile: float
    window_days: int

    @property
    def window(self) -> tuple[float, float] | None:
        """[T − window_days, T): idle days during which a patient should be contacted."""
        return None if self.days is None else (self.days - self.window_days, self.days)


def churn_threshold(gap_table: pd.DataFrame, frequent: Iterable[str], *, quantile: float = 0.9,
                    window_days: int = 7, min_gaps: int = MIN_GAPS) -> Threshold:
    """T = the ``quantile`` quantile (`empirical_quantile`) of the completed gaps of the ``frequent`` (F3) patients;
    with fewer than ``min_gaps`` such gaps, of all gaps (every patient with ≥ 2 visit days); None when
    there are no gaps at all."""
    if not 0 < quantile < 1:
        raise ValueError(f"option churn_quantile: expected a share between 0 and 1, got {quantile!r}")
    own = among(gap_table["patient_id"], frequent)
    basis, chosen = "f3", gap_table["gap_days"].to_numpy()[own]
    if len(chosen) < min_gaps:
        basis, chosen = "all", gap_table["gap_days"].to_numpy()
    if not len(chosen):
        return Threshold(None, None, 0, quantile, window_days)
    return Threshold(float(empirical_quantile(chosen, quantile)), basis, int(len(chosen)), quantile,
                     int(window_days))


def kaplan_meier(durations: np.ndarray, observed: np.ndarray) -> pd.DataFrame:
    """Kaplan–Meier estimate of the share still not back after d idle days.

    ``durations``: idle spells in days; ``observed``: True when the spell ended with a return (a
    completed gap), False when censored (still idle at the as-of). At each distinct duration d:
    ``at_risk`` = spells ≥ d, ``returned`` = returns at d, ``censored``; ``still_away`` =
    Π (1 − returned ÷ at_risk) over durations ≤ d (returns counted before censoring at the same d).
    """
    durations = np.asarray(durations, dtype="float64")
    observed = np.asarray(observed, dtype=bool)
    days, inverse = np.unique(durations, return_inverse=True)
    returned = np.bincount(inverse, weights=observed.astype("float64"), minlength=len(days)).astype("float64")
    total = np.bincount(inverse, minlength=len(days)).astype("float64")
    at_risk = total[::-1].cumsum()[::-1]
    still = np.cumprod(1.0 - np.divide(returned, at_risk, out=np.zeros_like(returned), where=at_risk > 0))
    return pd.DataFrame({"days": days, "at_risk": at_risk.astype(np.int64), "returned": returned.astype(np.int64),
                         "censored": (total - returned).astype(np.int64), "still_away": still})


def return_curve(gap_table: pd.DataFrame, table: pd.DataFrame, patients: Iterable[str]) -> pd.DataFrame:
    """The return curve of ``patients``: their completed gaps are returns, their current idle spell
    (``recency_days`` at the as-of) is censored; `kaplan_meier` of these spells."""
    ids = patients if isinstance(patients, pd.Index) else pd.Index(list(patients), dtype="string")
    done = gap_table.loc[among(gap_table["patient_id"], ids), "gap_days"].to_numpy()
    open_ = table.loc[among(table.index, ids), "recency_days"].to_numpy()
    return kaplan_meier(np.r_[done, open_], np.r_[np.ones(len(done), bool), np.zeros(len(open_), bool)])


def still_away_at(curve: pd.DataFrame, days: float) -> float:
    """The curve's value after ``days`` idle days (step function; 1.0 before the first return)."""
    pos = np.searchsorted(curve["days"].to_numpy(), days, side="right") - 1
    return 1.0 if pos < 0 else float(curve["still_away"].to_numpy()[pos])


# -- what the patients last did, and what comes next -------------------------------------------

def visit_services(invoices: pd.DataFrame, as_of: Any, seen: pd.DataFrame | None = None,
                   codes: tuple[np.ndarray, np.ndarray, Any] | None = None) -> pd.DataFrame:
    """One row per visit up to ``as_of`` (`patients.visits`; ``seen``: ``visits(invoices, as_of)`` when the
    caller has it already) with its main service (the service of its largest invoice up to ``as_of``
    with amount ≥ 0 and a service): ``patient_id``, ``visited_at``, ``service``; sorted by patient, then
    time. Visits are grouped over all the rows (a row's visit does not depend on the others), lines
    taken up to ``as_of``. ``codes``: `patients.visit_and_patient_codes(invoices)` when at hand."""
    kept = up_to(invoices["paid_at"], as_of).to_numpy(bool)
    seen = patient_visits(invoices, as_of, codes) if seen is None else seen   # invoice_row: rows of `invoices`
    code = visit_codes(invoices[visit_columns(invoices)]) if codes is None else codes[0]
    amount = invoices["amount"].to_numpy(dtype="float64")
    service = (invoices["service"] if "service" in invoices
               else pd.Series(pd.NA, index=invoices.index, dtype="string"))
    service_code, names = text_codes(service)                          # services as integer codes (-1: none)
    line = np.flatnonzero(kept & (code >= 0) & (amount >= 0) & (service_code >= 0))
    # Each visit's largest line (ties: the first row), found by the largest amount per visit and then the
    # first row holding it: two linear passes instead of sorting every line.
    n_codes = int(code.max()) + 2 if len(code) else 1
    largest = np.full(n_codes, -np.inf)
    np.maximum.at(largest, code[line], amount[line])
    top = line[amount[line] == largest[code[line]]][::-1]
    chosen = np.full(n_codes, -1, np.int64)
    chosen[code[top]] = top                                            # assigned last to first: the first row wins
    main = np.full(n_codes, -1, np.int64)                              # visit code -> its main service
    main[chosen >= 0] = service_code[chosen[chosen >= 0]]
    wanted = main[code[seen["invoice_row"].to_numpy()]]
    services = names.take(wanted, allow_fill=True)                      # -1: NA
    return pd.DataFrame({"patient_id": seen["patient_id"].astype("string").array,
                         "visited_at": seen["visited_at"].to_numpy(), "service": services})


def next_best_offer(services: pd.DataFrame) -> pd.DataFrame:
    """For each service, the most common service of the patient's next visit (over patients who came
    back): ``service``, ``next_service``, ``pairs`` (visits followed by that next service), ``share`` of
    the service's continued visits. Ties: the alphabetically first next service."""
    n = len(services)
    same = np.r_[same_as_previous(services["patient_id"])[1:], False] if n else np.zeros(0, bool)   # a next visit follows
    code, names = text_codes(services["service"])                          # integer codes, -1: no service
    now, then = code[same], code[np.r_[False, same[:-1]]] if n else code
    known = (now >= 0) & (then >= 0)
    pairs = pd.DataFrame({"service": now[known], "next_service": then[known]})
    counts = pairs.groupby(["service", "next_service"]).size().rename("pairs").reset_index()
    counts["service"] = names.take(counts["service"].to_numpy())
    counts["next_service"] = names.take(counts["next_service"].to_numpy())
    counts["share"] = counts["pairs"] / counts.groupby("service")["pairs"].transform("sum")
    best = (counts.sort_values(["service", "pairs", "next_service"], ascending=[True, False, True], kind="stable")
            .drop_duplicates("service"))
    return best.reset_index(drop=True).astype({"service": "string", "next_service": "string"})


def last_services(services: pd.DataFrame) -> pd.Series:
    """Each patient's last visit's main service (index patient_id)."""
    known = services.loc[services["service"].notna().to_numpy(bool), ["patient_id", "service"]]
    last = ~np.r_[same_as_previous(known["patient_id"])[1:], False] if len(known) else np.zeros(0, bool)
    last = known.loc[last]                                   # a patient's visits are adjacent: the run's last row
    return pd.Series(last["service"].astype("string").array, index=pd.Index(last["patient_id"].array, dtype="string"),
                     dtype="string")


def last_doctors(as_of: Any, visits: pd.DataFrame | None = None, bookings: pd.DataFrame | None = None,
                 doctors: pd.DataFrame | None = None) -> pd.Series:
    """Each patient's last doctor up to ``as_of``: from MIS visits (latest ``checked_in_at`` with a
    doctor), else completed bookings (latest ``slot_start``); the doctor's name when `doctors` has one,
    else the doctor_id. Index patient_id; empty when neither table is given."""
    source = at = None
    if visits is not None and "doctor_id" in visits and visits["doctor_id"].notna().any():
        source, at = visits, "checked_in_at"
    elif bookings is not None:
        source, at = bookings.loc[bookings["status"].eq("completed").fillna(False).to_numpy(bool)], "slot_start"
    if source is None:
        return pd.Series(dtype="string")
    keep = up_to(source[at], as_of).to_numpy(bool) & source["doctor_id"].notna().to_numpy(bool)
    rows = np.flatnonzero(keep)
    rows = rows[np.argsort(source[at].to_numpy()[rows], kind="stable")]           # by time, then table order
    # Each patient's last row (a missing patient_id is one patient of its own), by ingest's key when given:
    # the IDs of the chosen rows only are taken, not of every visit.
    patient = (source["patient_key"].to_numpy(np.int64) if "patient_key" in source
               else pd.factorize(source["patient_id"].astype("string"))[0].astype(np.int64))[rows]
    patient = np.where(patient >= 0, patient, patient.max(initial=-1) + 1)
    latest = np.full(int(patient.max(initial=-1)) + 1, -1, np.int64)
    latest[patient] = np.arange(len(rows))                                         # the last assignment wins
    rows = rows[np.sort(latest[latest >= 0])]
    last = pd.DataFrame({"patient_id": source["patient_id"].array.take(rows),
                         "doctor_id": source["doctor_id"].array.take(rows)})
    code, ids = pd.factorize(last["doctor_id"].astype("string"))                    # each doctor named once
    label = pd.Series(ids, dtype="string")
    if doctors is not None and "doctor_name" in doctors:
        names = doctors.dropna(subset=["doctor_name"]).drop_duplicates("doctor_id").set_index("doctor_id")["doctor_name"]
        named = names.reindex(ids).to_numpy()
        label = pd.Series(np.where(pd.isna(named), label.to_numpy(), named), dtype="string")
    return pd.Series(pd.array(label, dtype="string").take(code, allow_fill=True),
                     index=pd.Index(last["patient_id"], dtype="string"), dtype="string")


# -- value, reactivation, money ----------------------------------------------------------------

def active_months(table: pd.DataFrame) -> pd.Series:
    """(last visit − first visit) in months of 30.44 days, + 1: a patient seen once was active one month."""
    return (table["last_visit"] - table["first_visit"]).dt.days / AVG_MONTH_DAYS + 1.0


def monthly_value(table: pd.DataFrame) -> pd.Series:
    """What the patient paid per month while active: paid ÷ active months."""
    return table["paid"] / active_months(table)


def money_at_stake(table: pd.DataFrame, segment: str = FORMER_BEST) -> float:
    """Per month: what the segment's patients (default the former best) used to pay per month while active.
    Summed exactly (`math.fsum`), so the result does not depend on the order of the patients."""
    values = monthly_value(table.loc[table["segment"].eq(segment).fillna(False).to_numpy(bool)])
    return math.fsum(values.dropna().to_numpy(dtype="float64"))


def in_contact_window(table: pd.DataFrame, threshold: Threshold) -> pd.Series:
    """Patients whose idle days are now inside the contact window [T − window, T)."""
    if threshold.window is None:
        return pd.Series(False, index=table.index)
    lo, hi = threshold.window
    return (table["recency_days"] >= lo) & (table["recency_days"] < hi)


REACTIVATION_COLUMNS = ["priority", "patient_id", "reason", "segment", "code", "last_visit", "idle_days", "visits",
                        "paid", "expected_value", "last_doctor", "last_service", "suggested_offer"]


def _at(values: pd.Series | None, ids: pd.Index) -> pd.api.extensions.ExtensionArray:
    """``values.reindex(ids)`` for a Series indexed by unique patient IDs, as a "string" array (NA where
    absent), looked up by Arrow's hash (`keys.positions`) instead of building a pandas index of them."""
    if values is None or not len(values) or not len(ids):
        return pd.array([pd.NA] * len(ids), dtype="string")
    found = positions(pd.Series(ids), pd.Series(values.index))
    return pd.array(values.array, dtype="string").take(found, allow_fill=True)


def reactivation_list(table: pd.DataFrame, threshold: Threshold, *, segments: Iterable[str] = (FORMER_BEST, AT_RISK),
                      last_doctor: pd.Series | None = None, last_service: pd.Series | None = None,
                      offers: pd.DataFrame | None = None) -> pd.DataFrame:
    """Patients to call: those in ``segments`` (option ``reactivation_segments``) plus those now inside
    the contact window (``reason`` = their segment, or ``window``), ranked by expected value (12 ×
    monthly value) descending, then patient_id. Only the clinic's pseudonymous patient_id identifies
    them. ``suggested_offer`` = the next best offer for the last service (`next_best_offer`)."""
    wanted = table["segment"].isin(list(segments)).fillna(False).to_numpy(bool)
    window = in_contact_window(table, threshold).to_numpy(bool)
    picked = table.loc[wanted | window]
    reason = np.where(wanted[wanted | window], picked["segment"].to_numpy(dtype=object), WINDOW)
    ids = picked.index.astype("string")
    service = _at(last_service, ids)
    offer_map = (offers.set_index("service")["next_service"] if offers is not None and len(offers)
                 else pd.Series(dtype="string"))
    out = pd.DataFrame({
        "patient_id": ids.to_numpy(), "reason": reason, "segment": picked["segment"].to_numpy(),
        "code": picked["code"].to_numpy(), "last_visit": picked["last_visit"].to_numpy(),
        "idle_days": picked["recency_days"].to_numpy(), "visits": picked["frequency"].to_numpy(),
        "paid": picked["paid"].to_numpy(), "expected_value": 12.0 * monthly_value(picked).to_numpy(),
        "last_doctor": _at(last_doctor, ids),
        "last_service": service, "suggested_offer": offer_map.reindex(service).to_numpy() if len(service) else [],
    })
    out = out.sort_values(["expected_value", "patient_id"], ascending=[False, True], kind="stable").reset_index(drop=True)
    out.insert(0, "priority", np.arange(1, len(out) + 1, dtype=np.int64))
    for col in ("patient_id", "reason", "segment", "code", "last_doctor", "last_service", "suggested_offer"):
        out[col] = out[col].astype("string")
    return out[REACTIVATION_COLUMNS]


@dataclass
class CallPlan:
    """The seed's call-centre arithmetic; every input is an option printed on the page."""

    patients: int
    calls_per_hour: float
    call_hours_per_day: float
    dials_per_day: float
    deadline_days: float
    reach_rate: float
    return_rate: float
    average_check: float
    conversations_per_day: float = field(init=False)
    operator_days: float = field(init=False)
    operators_needed: int = field(init=False)
    expected_returns: float = field(init=False)
    expected_revenue: float = field(init=False)

    def __post_init__(self) -> None:
        self.conversations_per_day = self.calls_per_hour * self.call_hours_per_day
        self.operator_days = self.patients / self.dials_per_day
        self.operators_needed = int(math.ceil(self.operator_days / self.deadline_days - 1e-9)) if self.patients else 0
        self.expected_returns = self.patients * self.reach_rate * self.return_rate
        self.expected_revenue = self.expected_returns * self.average_check


def call_plan(patients: int, *, calls_per_hour: float = 6, call_hours_per_day: float = 6, dials_per_day: float = 50,
              deadline_days: float = 30, reach_rate: float = 0.7, return_rate: float = 0.15,
              average_check: float = math.nan) -> CallPlan:
    """Conversations per operator-day = calls_per_hour × call_hours_per_day (6 × 6 = 36, ≈ 50 dials with
    no-answers); operator-days = patients ÷ dials_per_day (10 000 ÷ 50 = 200); operators to finish within
    ``deadline_days`` working days = ⌈operator-days ÷ deadline⌉; expected returning patients = patients ×
    reach_rate × return_rate, their revenue at ``average_check``. An estimate: its assumptions are options."""
    for name, value in (("dials_per_day", dials_per_day), ("reactivation_deadline_days", deadline_days)):
        if not value > 0:
            raise ValueError(f"option {name}: expected a positive number, got {value!r}")
    return CallPlan(int(patients), calls_per_hour, call_hours_per_day, dials_per_day, deadline_days, reach_rate,
                    return_rate, average_check)


def branch_split(table: pd.DataFrame, bookings: pd.DataFrame | None, as_of: Any,
                 segments: Iterable[str] = (BEST,)) -> pd.DataFrame | None:
    """Best patients who visit more than one branch (completed bookings up to ``as_of`` with a
    ``branch_id``): ``patient_id``, ``branches``, ``visits``, ``main_branch``, ``main_share``, ``split``
    (branch: visits, most first). None when bookings carry no branch."""
    if bookings is None or "branch_id" not in bookings or not bookings["branch_id"].notna().any():
        return None
    best = table.index[table["segment"].isin(list(segments)).fillna(False).to_numpy(bool)]
    b = bookings.loc[bookings["status"].eq("completed").fillna(False).to_numpy(bool)
                     & up_to(bookings["slot_start"], as_of).to_numpy(bool)
                     & bookings["branch_id"].notna().to_numpy(bool)
                     & among(bookings["patient_id"], best), ["patient_id", "branch_id"]]
    per = b.groupby(["patient_id", "branch_id"], observed=True).size().rename("n").reset_index()
    if isinstance(per["branch_id"].dtype, pd.CategoricalDtype):   # read as categories: the pairs' branches as text
        per["branch_id"] = per["branch_id"].astype("string")
    per = per.loc[per["patient_id"].duplicated(keep=False).to_numpy(bool)]   # more than one branch: the rows shown
    per = per.sort_values(["patient_id", "n", "branch_id"], ascending=[True, False, True], kind="stable")
    per["part"] = per["branch_id"].astype(str) + ": " + per["n"].astype(str)
    g = per.groupby("patient_id", sort=True)
    out = pd.DataFrame({"branches": g.size(), "visits": g["n"].sum(), "main_branch": g["branch_id"].first(),
                        "main_visits": g["n"].first(), "split": g["part"].agg(", ".join)})
    out = out.loc[out["branches"] > 1]
    out["main_share"] = out["main_visits"] / out["visits"]
    return out.reset_index()[["patient_id", "branches", "visits", "main_branch", "main_share", "split"]]


# -- one period, the whole module ----------------------------------------------------------------

PATIENT_COLUMNS = ["patient_id", "recency_days", "frequency", "monetary", "r", "f", "m", "code", "segment",
                   "paid", "first_visit", "last_visit"]


@dataclass
class RfmSummary:
    """Everything the page shows for one as-of date."""

    as_of: pd.Timestamp
    table: pd.DataFrame                   # scored per-patient table (index patient_id)
    cuts: dict[str, tuple[float, float]]
    fixed: list[str]                      # measures scored by fixed thresholds
    empty: list[str]                      # measures whose score stayed empty (c1 = c2)
    segments: pd.DataFrame                # code -> segment, action
    by_segment: pd.DataFrame
    threshold: Threshold
    curve: pd.DataFrame
    offers: pd.DataFrame | None           # None: a period summarised without details (`summarise_one`)
    reactivation: pd.DataFrame
    plan: CallPlan
    money_at_stake: float
    branches: pd.DataFrame | None
    segment_branches: pd.DataFrame | None = None   # `segment_branches` (a network), else None

    def patients(self) -> pd.DataFrame:
        """The contract table ``rfm_patients``: one row per patient, canonical columns, sorted by id."""
        return self.table.reset_index().sort_values("patient_id", kind="stable")[PATIENT_COLUMNS].reset_index(drop=True)

    def count(self, segment: str) -> int:
        return int(self.table["segment"].eq(segment).fillna(False).sum())

    def former_best(self) -> pd.DataFrame:
        """The former best patients' rows of the reactivation list (what they last did and with whom)."""
        return self.reactivation.loc[self.reactivation["segment"].eq(FORMER_BEST).fillna(False).to_numpy(bool)]


def summarise_one(tables: Mapping[str, pd.DataFrame], as_of: Any, options: Mapping[str, Any],
                  codes: tuple[np.ndarray, np.ndarray, Any] | None = None, *, detailed: bool = True) -> RfmSummary:
    """The module for one as-of date; ``options`` as `config.DEFAULT_OPTIONS` (see README, module rfm).
    ``codes``: `patients.visit_and_patient_codes` of the invoices, when the caller has them (`summarise`).
    ``detailed=False``: only what the headline metrics and the money need — the next best offers, the tables by
    branch (``offers``, ``branches``, ``segment_branches`` are None) and the call list's last doctor, last service
    and offer (NA) are not made; every other field is the same."""
    invoices = tables["invoices"]
    as_of = pd.Timestamp(as_of).normalize()
    codes = visit_and_patient_codes(invoices) if codes is None else codes   # once for every step below
    table = rfm_table(invoices, as_of, monetary=options.get("rfm_monetary", "total"), codes=codes)
    thresholds = options.get("rfm_thresholds") or {}
    cuts = score_cuts(table, thresholds)
    segments = segment_map(options.get("rfm_segments"))
    table = scored(table, cuts, segments)
    empty = [m for m in MEASURES if table[SCORE_OF[m]].isna().all() and len(table)]
    seen = patient_visits(invoices, as_of, codes)          # once: the days and the services of the visits
    days = visit_days(invoices, as_of, seen)
    gap_table = gaps(days)
    frequent = table.index[table["f"].eq(3).fillna(False).to_numpy(bool)]
    threshold = churn_threshold(gap_table, frequent, quantile=float(options.get("churn_quantile", 0.9)),
                                window_days=int(options.get("contact_window_days", 7)))
    basis = frequent if threshold.basis == "f3" else table.index[table["frequency"].ge(2).to_numpy(bool)]
    curve = return_curve(gap_table, table, basis)
    listed = options.get("reactivation_segments") or (FORMER_BEST, AT_RISK)
    if detailed:
        services = visit_services(invoices, as_of, seen, codes)
        offers = next_best_offer(services)
        reactivation = reactivation_list(
            table, threshold, segments=listed, offers=offers, last_service=last_services(services),
            last_doctor=last_doctors(as_of, tables.get("visits"), tables.get("bookings"), tables.get("doctors")))
    else:
        offers, reactivation = None, reactivation_list(table, threshold, segments=listed)
    visits_listed = reactivation["visits"].sum()
    plan = call_plan(len(reactivation), calls_per_hour=options.get("calls_per_hour", 6),
                     call_hours_per_day=options.get("call_hours_per_day", 6),
                     dials_per_day=options.get("dials_per_day", 50),
                     deadline_days=options.get("reactivation_deadline_days", 30),
                     reach_rate=options.get("reach_rate", 0.7), return_rate=options.get("return_rate", 0.15),
                     average_check=float(reactivation["paid"].sum() / visits_listed) if visits_listed else math.nan)
    return RfmSummary(as_of, table, cuts, [m for m in MEASURES if thresholds.get(m) is not None], empty, segments,
                      segment_summary(table, segments), threshold, curve, offers, reactivation, plan,
                      money_at_stake(table), branch_split(table, tables.get("bookings"), as_of) if detailed else None,
                      segment_branches(table, home_branch(tables.get("bookings"), as_of), segments) if detailed
                      else None)


def summarise(tables: Mapping[str, pd.DataFrame], periods: Mapping[str, tuple[pd.Timestamp, pd.Timestamp]],
              options: Mapping[str, Any], *, details: Iterable[str] | None = None) -> dict[str, RfmSummary]:
    """`summarise_one` at the end of each period ([start, end) bounds: as-of = end − 1 day); the invoices' visits and
    patients grouped once for all of them (`patients.visit_and_patient_codes`). ``details``: the periods summarised
    with every table (`summarise_one`'s ``detailed``; the others carry what the headline metrics need); None: all."""
    codes = visit_and_patient_codes(tables["invoices"])
    return {name: summarise_one(tables, end - pd.Timedelta(days=1), options, codes,
                                detailed=details is None or name in set(details))
            for name, (_, end) in periods.items()}


HEADLINE_UNITS = {"patients": "count", "former_best": "count", "at_risk": "count", "churn_threshold_days": "days",
                  "reactivation_list": "count", "operator_days": "days", "money_at_stake_per_month": "money"}


def headline_metrics(summaries: Mapping[str, RfmSummary]) -> dict[str, tuple[str, dict[str, Any]]]:
    """metrics.json keys ``rfm.*`` -> (unit, {period: value})."""
    values = {
        "patients": lambda s: len(s.table), "former_best": lambda s: s.count(FORMER_BEST),
        "at_risk": lambda s: s.count(AT_RISK), "churn_threshold_days": lambda s: s.threshold.days,
        "reactivation_list": lambda s: len(s.reactivation), "operator_days": lambda s: s.plan.operator_days,
        "money_at_stake_per_month": lambda s: s.money_at_stake,
    }
    return {f"rfm.{k}": (HEADLINE_UNITS[k], {p: f(s) for p, s in summaries.items()}) for k, f in values.items()}


def top_counts(values: pd.Series, n: int = 3) -> list[tuple[str, int]]:
    """The n most common non-empty values with their counts (ties: alphabetical)."""
    counts = values.dropna().value_counts()
    counts = counts.rename_axis("value").reset_index(name="n").sort_values(["n", "value"], ascending=[False, True])
    return list(zip(counts["value"].astype(str).head(n), counts["n"].astype(int).head(n)))


