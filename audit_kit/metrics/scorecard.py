"""KPI scorecard of the summary: patient satisfaction (NPS, CSAT), targets, and the counts behind rates.

The scorecard compares a few headline metrics with the method's targets (config `targets:`);
`headline_counts` recomputes the numerators and denominators of headline rates so that the
period comparison can put a 95% interval on their change.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
import pandas as pd

from .compare import NetScore, Proportion
from .periods import in_window

PROMOTER_MIN = 9        # NPS answer 9–10: promoter
DETRACTOR_MAX = 6       # NPS answer 0–6: detractor
SATISFIED_MIN = 4       # CSAT answer 4–5 of 5: satisfied
MET, MISSED, NO_DATA = "met", "missed", "no_data"


@dataclass(frozen=True)
class Kpi:
    name: str          # key in config targets (DEFAULT_TARGETS)
    metric: str        # metrics.json key whose value is compared
    direction: str     # "max": the value must be at most the target; "min": at least
    unit: str


KPIS: tuple[Kpi, ...] = (
    Kpi("no_show_rate", "schedule.no_show_rate", "max", "rate"),
    Kpi("wait_minutes", "schedule.median_wait_minutes", "max", "minutes"),
    Kpi("missed_call_rate", "funnel.missed_call_rate", "max", "rate"),
    Kpi("nps", "summary.nps", "min", "number"),
    Kpi("csat", "summary.csat", "min", "rate"),
    Kpi("utilisation", "schedule.utilisation", "min", "rate"),
    Kpi("lead_to_booking", "funnel.lead_to_booking", "min", "rate"),
    Kpi("romi", "channels.romi", "min", "ratio"),
    Kpi("cac", "channels.cac", "max", "money"),
)


def survey_scores(surveys: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> dict[str, float]:
    """NPS and CSAT of the survey answers given in [start, end) (by `answered_at`).

    NPS = % promoters (9–10) − % detractors (0–6) of the NPS answers, in points from −100 to 100;
    CSAT = share of CSAT answers that are 4 or 5 (of 1–5), a fraction. Missing answers and values
    outside the scale (NPS not an integer 0–10, CSAT not 1–5) count in neither. Returns
    nps_answers, promoters, detractors, nps (NaN without answers), csat_answers, satisfied, csat.
    """
    part = surveys.loc[in_window(surveys["answered_at"], start, end)]
    nps = pd.to_numeric(part["nps"], errors="coerce").astype("float64")
    nps = nps.where(nps.between(0, 10) & (nps % 1 == 0))
    csat = pd.to_numeric(part["csat"], errors="coerce").astype("float64")
    csat = csat.where(csat.between(1, 5))
    n_nps, n_csat = int(nps.notna().sum()), int(csat.notna().sum())
    promoters, detractors = int((nps >= PROMOTER_MIN).sum()), int((nps <= DETRACTOR_MAX).sum())
    satisfied = int((csat >= SATISFIED_MIN).sum())
    return {"nps_answers": n_nps, "promoters": promoters, "detractors": detractors,
            "nps": (promoters - detractors) / n_nps * 100 if n_nps else np.nan,
            "csat_answers": n_csat, "satisfied": satisfied, "csat": satisfied / n_csat if n_csat else np.nan}


def survey_counts(surveys: pd.DataFrame, periods: Mapping[str, tuple[pd.Timestamp, pd.Timestamp]]
                  ) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """Per period: metrics.json entries `summary.nps` (points) and `summary.csat` (fraction), and the
    counts behind them ({key: {period: NetScore | Proportion}}) for the comparison's intervals."""
    values: dict[str, dict[str, Any]] = {"summary.nps": {}, "summary.csat": {}}
    counts: dict[str, dict[str, Any]] = {"summary.nps": {}, "summary.csat": {}}
    for period, (start, end) in periods.items():
        s = survey_scores(surveys, start, end)
        values["summary.nps"][period] = None if np.isnan(s["nps"]) else s["nps"]
        values["summary.csat"][period] = None if np.isnan(s["csat"]) else s["csat"]
        counts["summary.nps"][period] = NetScore(s["promoters"], s["detractors"], s["nps_answers"])
        counts["summary.csat"][period] = Proportion(s["satisfied"], s["csat_answers"])
    return values, counts


# the rates whose counts come from the modules' counts.json (`Module.proportions`), else are counted again
RECOUNTED = ("schedule.no_show_rate", "schedule.cancel_rate", "schedule.late_cancel_rate",
             "schedule.share_wait_over_target", "funnel.missed_call_rate")


def headline_counts(tables: Mapping[str, pd.DataFrame], periods: Mapping[str, tuple[pd.Timestamp, pd.Timestamp]],
                    metrics: Mapping[str, Mapping[str, Any]], *, default_slot_minutes: float = 30,
                    wait_target_minutes: float = 15, chain: pd.DataFrame | None = None,
                    published: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, dict[str, Proportion]]:
    """Numerator and denominator of headline rates per period, for intervals of their change.

    Funnel conversions take their counts from the stage counts in metrics.json (lead_to_booking
    = booked_leads / leads, ...). The data-quality chain checks take theirs from the quality module's
    `id_chain` table when given as `chain` (columns check_code, period_code, checked, broken), else they
    are recounted. Missed calls, no-shows, cancellations, late cancellations and waits over the target
    come from `published` (the modules' counts.json, key -> {period: [x, n]}: what the module counted
    when it computed the rate); a rate not published there (a run of an older kit) is recounted from the
    canonical tables with the modules' own functions. A count pair is kept only where it reproduces the
    published rate (to 1e-9): a definition that drifted yields no interval rather than a wrong one.
    """
    from . import funnel, quality, schedule

    out: dict[str, dict[str, Proportion]] = {}

    def add(key: str, period: str, x: float, n: float) -> None:
        out.setdefault(key, {})[period] = Proportion(float(x), float(n))

    for name, num, den in funnel.CONVERSIONS:
        key, top, bottom = f"funnel.{name}", metrics.get(f"funnel.{num}"), metrics.get(f"funnel.{den}")
        if key in metrics and top and bottom:
            for period in periods:
                x, n = bottom.get(period), top.get(period)
                if x is not None and n:
                    add(key, period, x, n)
    published = published or {}
    for key in RECOUNTED:
        for period, pair in (published.get(key) or {}).items():
            if period in periods and pair is not None and len(pair) == 2:
                add(key, period, pair[0], pair[1])
    # rates the modules did not publish: counted again (each table read only when one of its rates is missing)
    missing = {key for key in RECOUNTED if key in metrics and key not in published}
    slots = waits = None
    if "bookings" in tables and any(key.startswith("schedule.") for key in missing):
        slots = schedule.slots(tables["bookings"], default_slot_minutes, tables.get("visits"))
        if "schedule.share_wait_over_target" in missing and "visits" in tables and len(tables["visits"]):
            waits = schedule.waits(tables["visits"], slots)
    for period, (start, end) in periods.items():
        if "funnel.missed_call_rate" in missing and "calls" in tables:
            add("funnel.missed_call_rate", period, *funnel.missed_call_counts(tables["calls"], start, end))
        if slots is not None:
            r = schedule.booking_rates(slots.loc[in_window(slots["slot_start"], start, end)]).iloc[0]
            for name, (x, n) in schedule.booking_rate_counts(r).items():
                if f"schedule.{name}" in missing:
                    add(f"schedule.{name}", period, x, n)
        if waits is not None:
            w = waits.loc[in_window(waits["checked_in_at"], start, end), "wait_minutes"]
            add("schedule.share_wait_over_target", period, *schedule.wait_counts(w, wait_target_minutes))
        if any(k.startswith("quality.") for k in metrics):
            if chain is not None and {"check_code", "period_code"} <= set(chain.columns):
                rows = chain.loc[chain["period_code"].eq(period)].assign(check=lambda d: d["check_code"])
            else:
                rows = quality.id_chain(tables, start=start, end=end)
            for check, broken, checked in zip(rows["check"], rows["broken"], rows["checked"]):
                key = {"bookings_lead_missing": "bookings_without_lead"}.get(check, check)
                add(f"quality.{key}_rate", period, broken, checked)
    return {key: per for key, per in out.items() if _reproduces(per, metrics.get(key))}


def _reproduces(counts: Mapping[str, Proportion], metric: Mapping[str, Any] | None) -> bool:
    if not metric:
        return False
    for period, c in counts.items():
        published = metric.get(period)
        if published is None or not c.n or abs(c.rate - float(published)) > 1e-9:
            return False
    return True


def status(value: Any, target: float, direction: str) -> str:
    """met / missed against a target (direction "max": value ≤ target, "min": value ≥ target); no_data."""
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return NO_DATA
    ok = value <= target if direction == "max" else value >= target
    return MET if ok else MISSED


def scorecard(metrics: Mapping[str, Mapping[str, Any]], targets: Mapping[str, float],
              kpis: tuple[Kpi, ...] = KPIS) -> pd.DataFrame:
    """One row per KPI: kpi, metric, unit, direction, target, base, current, status.

    The target of a rate is a fraction, of the NPS points, of the wait minutes; the status compares
    the current period's value (`no_data` when the metric is absent or null — the module did not
    run, or its data was missing). A KPI whose target is not configured (absent or None) is left out.
    """
    rows = []
    for k in kpis:
        if targets.get(k.name) is None:
            continue
        m = metrics.get(k.metric) or {}
        current, base = m.get("current"), m.get("base")
        rows.append({"kpi": k.name, "metric": k.metric, "unit": k.unit, "direction": k.direction,
                     "target": float(targets[k.name]), "base": np.nan if base is None else float(base),
                     "current": np.nan if current is None else float(current),
                     "status": status(current, float(targets[k.name]), k.direction)})
    return pd.DataFrame(rows, columns=["kpi", "metric", "unit", "direction", "target", "base", "current", "status"])
