"""Module options (`options:` in audit.yaml): every option's default, its kind and its content
check, declared here for all modules as plain data and small pure functions.

`config.py` validates `options:` through this registry (it imports no metrics module), and the
modules read their parsed values and call the same checks (`cohorts` the cohort options, `rfm` the
RFM thresholds and segments), so each option is checked in one place.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import pandas as pd
import yaml

from .errors import ConfigError

DEFAULT_REPEAT_CHANNELS = ("Повторные", "Повторный", "повторный", "repeat", "Repeat")

# Module options (`options:` in audit.yaml) with their defaults; units in the names.
DEFAULT_OPTIONS: dict[str, Any] = {
    "treatment_horizon_days": 90,      # funnel: a second paid visit within this many days = treatment
    "treatment_categories": [],        # funnel: service categories that count as treatment at once
    "default_slot_minutes": 30,        # schedule: slot length when bookings carry none
    "wait_target_minutes": 15,         # schedule: wait-time target
    "revenue_horizon_days": 180,       # channels: revenue of new patients counted this long after first payment
    "ltv_months": [6, 12],             # cohorts: LTV horizons, months since acquisition (0..N-1); the longest gives LTV/CAC
    "cohort_period": "month",          # cohorts: cohort by acquisition month or quarter (month | quarter)
    "channel_cohorts": None,           # cohorts: [first, last] acquisition month of the channel view, e.g. ["2024-01", "2024-12"]; null = all
    "gross_margin": 1.0,               # channels, cohorts: share of revenue left after direct costs (1.0 = revenue)
    "repeat_channels": list(DEFAULT_REPEAT_CHANNELS),  # channels, cohorts: lead channels of existing patients, skipped by first touch
    "rfm_thresholds": None,            # rfm: fixed score cuts instead of terciles, e.g. {recency_days: [90, 180],
                                       #      frequency: [1, 3], monetary: [20000, 60000]} (measures left out: terciles)
    "rfm_monetary": "total",           # rfm: M = total net paid (total) or paid per visit (per_visit)
    "rfm_segments": {},                # rfm: code -> segment overrides of metrics/rfm_segments.yaml, e.g. {R2F2M2: at_risk}
    "reactivation_segments": ["former_best", "at_risk"],  # rfm: segments whose patients go on the call list
    "churn_quantile": 0.9,             # rfm: churn threshold = this quantile of frequent patients' gaps in days
    "contact_window_days": 7,          # rfm: contact window = [threshold - this many days, threshold)
    "calls_per_hour": 6,               # rfm: conversations an operator holds per hour
    "call_hours_per_day": 6,           # rfm: hours a day an operator spends calling the base
    "dials_per_day": 50,               # rfm: numbers dialled per operator-day (36 conversations + no-answers)
    "reactivation_deadline_days": 30,  # rfm: working days to finish the call list (sets the operators needed)
    "reach_rate": 0.7,                 # rfm: share of listed patients reached (estimate)
    "return_rate": 0.15,               # rfm: share of reached patients who book and come back (estimate)
    "phone_link_window_minutes": 60,   # ingest: a lead without call_id takes the same phone's call this close in time
    "money_ceiling": {},               # ingest: table -> the largest amount of one row (ingest/schema.py MONEY_CEILING)
}

# Kinds of an option beyond those its default implies (see config.py, `_option`) and the values a
# text option may take.
OPTION_TYPES: dict[str, tuple[str, ...]] = {
    "ltv_months": ("any",),          # 12 or [6, 12]: cohorts.ltv_horizons decides
    "channel_cohorts": ("any",),     # null or [first, last] with nulls allowed: cohorts.cohort_window decides
}
# A text option limited to a few values lists them here.
OPTION_CHOICES: dict[str, tuple[str, ...]] = {"rfm_monetary": ("total", "per_visit")}

# -- cohorts (module 06) ----------------------------------------------------------------------------
COHORT_PERIODS = ("month", "quarter")


def check_period(period: str) -> str:
    if period not in COHORT_PERIODS:
        raise ConfigError(f"options.cohort_period: expected one of {', '.join(COHORT_PERIODS)}, got {period!r}")
    return period


def ltv_horizons(ltv_months: Any) -> list[int]:
    """The option `ltv_months` as a sorted list of positive whole months ([6, 12] by default; 12 -> [12])."""
    values = ltv_months if isinstance(ltv_months, (list, tuple)) else [ltv_months]
    if not values or any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in values):
        raise ConfigError(f"options.ltv_months: expected whole months ≥ 1, like [6, 12], got {ltv_months!r}")
    return sorted(set(values))


def cohort_window(value: Any) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
    """The option `channel_cohorts`: null (all cohorts) or [first, last] acquisition month like
    ["2024-01", "2024-12"] (either may be null); returns [start, end) month bounds."""
    if value is None:
        return None, None
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise ConfigError(f"options.channel_cohorts: expected [first month, last month] like ['2024-01', '2024-12'] "
                          f"or null, got {value!r}")
    try:
        first, last = (None if v is None else pd.Period(str(v)[:7], freq="M") for v in value)
    except ValueError:
        raise ConfigError(f"options.channel_cohorts: expected months like '2024-01', got {value!r}") from None
    return (None if first is None else first.to_timestamp(),
            None if last is None else (last + 1).to_timestamp())


def check_margin(gross_margin: Any) -> float:
    if isinstance(gross_margin, bool) or not isinstance(gross_margin, (int, float)) or not 0 < gross_margin <= 1:
        raise ConfigError(f"options.gross_margin: expected a share in (0, 1], like 0.6, got {gross_margin!r}")
    return float(gross_margin)


# -- RFM (module 05) --------------------------------------------------------------------------------
SEGMENTS_FILE = Path(__file__).resolve().parent / "metrics" / "rfm_segments.yaml"
RFM_MEASURES = ("recency_days", "frequency", "monetary")
RFM_CODES = tuple(f"R{r}F{f}M{m}" for r in (3, 2, 1) for f in (3, 2, 1) for m in (3, 2, 1))
RFM_ACTIONS = ("call", "messenger", "recall", "none")


def load_segments(path: str | Path = SEGMENTS_FILE) -> dict[str, dict[str, Any]]:
    """The segments file: segment id -> {action, codes}, checked: each of the 27 codes exactly once."""
    raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))["segments"]
    seen: dict[str, str] = {}
    for segment, spec in raw.items():
        if spec.get("action") not in RFM_ACTIONS:
            raise ValueError(f"{path}: segment {segment}: action must be one of {', '.join(RFM_ACTIONS)}")
        for code in spec["codes"]:
            if code not in RFM_CODES or code in seen:
                raise ValueError(f"{path}: code {code} is {'repeated' if code in seen else 'not an RFM code'}")
            seen[code] = segment
    missing = [c for c in RFM_CODES if c not in seen]
    if missing:
        raise ValueError(f"{path}: codes without a segment: {', '.join(missing)}")
    return raw


def rfm_thresholds(thresholds: Mapping[str, Iterable[float]] | None) -> dict[str, tuple[float, float]]:
    """The option ``rfm_thresholds`` checked: a mapping of recency_days / frequency / monetary to
    [t1, t2] with t1 < t2; returns the fixed cuts given (measures left out are absent)."""
    thresholds = dict(thresholds or {})
    unknown = set(thresholds) - set(RFM_MEASURES)
    if unknown:
        raise ValueError(f"option rfm_thresholds: unknown measure '{sorted(unknown)[0]}'; expected some of: "
                         f"{', '.join(RFM_MEASURES)}")
    out = {}
    for measure in RFM_MEASURES:
        given = thresholds.get(measure)
        if given is None:
            continue
        given = list(given) if isinstance(given, (list, tuple)) else [given]
        if (len(given) != 2 or not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in given)
                or not given[0] < given[1]):
            raise ValueError(f"option rfm_thresholds.{measure}: expected two increasing numbers [t1, t2], got {given!r}")
        out[measure] = (float(given[0]), float(given[1]))
    return out


def rfm_segment_overrides(overrides: Mapping[str, str] | None, segments: Mapping[str, Any] | None = None
                          ) -> dict[str, str]:
    """The option ``rfm_segments`` checked: RFM code -> a segment id of the segments file."""
    segments = load_segments() if segments is None else segments
    for code, segment in (overrides or {}).items():
        if code not in RFM_CODES:
            raise ValueError(f"option rfm_segments: '{code}' is not an RFM code like R3F3M3")
        if segment not in segments:
            raise ValueError(f"option rfm_segments.{code}: unknown segment '{segment}'; expected one of: "
                             f"{', '.join(segments)}")
    return dict(overrides or {})


def segment_ids(value: Iterable[str]) -> list[str]:
    """The option ``reactivation_segments`` checked: segment ids of the segments file."""
    known = load_segments()
    unknown = [v for v in value if v not in known]
    if unknown:
        raise ValueError(f"unknown segment '{unknown[0]}'; expected some of: {', '.join(known)}")
    return list(value)


# Content checks: option -> a function that raises ValueError (or ConfigError) on a bad value, run by
# config.py after the type check, so a bad value stops the run with exit 2 naming the key instead of
# failing the module later. An option whose kinds are ("any",) in OPTION_TYPES is left to its check alone.
# -- ingest --------------------------------------------------------------------------------------------
def money_ceiling(value: Mapping[str, Any]) -> None:
    """money_ceiling: {invoices | marketing_spend: a positive amount} raising the schema's ceiling."""
    from .ingest.schema import MONEY_CEILING

    for table, ceiling in value.items():
        if table not in MONEY_CEILING:
            raise ValueError(f"unknown table {table!r}; expected one of: {', '.join(MONEY_CEILING)}")
        if isinstance(ceiling, bool) or not isinstance(ceiling, (int, float)) or not math.isfinite(ceiling) or ceiling <= 0:
            raise ValueError(f"expected a positive amount for {table}, got {ceiling!r}")


OPTION_CHECKS: dict[str, Callable[[Any], Any]] = {
    "rfm_thresholds": rfm_thresholds,
    "rfm_segments": rfm_segment_overrides,
    "reactivation_segments": segment_ids,
    "ltv_months": ltv_horizons,
    "cohort_period": check_period,
    "channel_cohorts": cohort_window,
    "gross_margin": check_margin,
    "money_ceiling": money_ceiling,
}
