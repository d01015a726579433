"""The client's audit config (audit.yaml, DESIGN §6): load, validate, expose typed values.

Every mistake is a ConfigError naming the key, the file and what was expected.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from .errors import ConfigError
from .ingest.schema import TABLES
from .metrics.patients import DEFAULT_REPEAT_CHANNELS

LANGUAGES = ("ru", "en")

# KPI targets of the method (DESIGN §4, module 00); `targets:` overrides them.
DEFAULT_TARGETS: dict[str, float | None] = {
    "no_show_rate": 0.05,          # share of kept bookings, at most
    "wait_minutes": 15.0,          # median wait after check-in, at most
    "missed_call_rate": 0.05,      # share of inbound calls unanswered, at most
    "nps": 50.0,                   # Net Promoter Score, at least
    "csat": 0.90,                  # share of satisfied answers (4-5 of 5), at least
    "utilisation": 0.85,           # booked / offered doctor time, at least
    "lead_to_booking": 0.60,       # share of leads booked, at least
    "romi": None,                  # channels: ROMI of all channels, a fraction (0.5 = +50 %), at least; None = not rated
    "cac": None,                   # channels: cost per new patient, config currency, at most; None = not rated
}
# A target that is None has no default (it depends on the clinic's prices): its KPI is shown in the
# scorecard only when audit.yaml sets it under `targets:`.

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
}

KNOWN_KEYS = {"client", "language", "currency", "periods", "data", "channels", "targets", "options", "salt_file"}
SOURCE_KEYS = {"path", "sheet", "columns", "encoding", "delimiter"}


@dataclass(frozen=True)
class TableSource:
    """Where one canonical table comes from."""

    table: str
    path: Path
    sheet: str | int | None = None
    columns: dict[str, str] = field(default_factory=dict)   # raw header -> canonical name
    encoding: str | None = None
    delimiter: str | None = None


@dataclass(frozen=True)
class AuditConfig:
    """A validated audit.yaml. Periods are inclusive (start 00:00 to end 23:59:59)."""

    path: Path
    client: str
    language: str
    currency: str
    periods: dict[str, tuple[pd.Timestamp, pd.Timestamp]]
    sources: dict[str, TableSource]
    channels: dict[str, str]
    targets: dict[str, float | None]
    options: dict[str, Any]
    salt_file: Path

    @property
    def client_dir(self) -> Path:
        return self.path.parent

    def period_bounds(self, name: str) -> tuple[pd.Timestamp, pd.Timestamp]:
        """[start, end) of a period as timestamps: the end is the day after the inclusive end date."""
        start, end = self.periods[name]
        return start, end + pd.Timedelta(days=1)

    def to_dict(self) -> dict[str, Any]:
        """Plain values for run.json (no secrets: the salt itself is never included)."""
        return {
            "client": self.client,
            "language": self.language,
            "currency": self.currency,
            "periods": {k: [a.date().isoformat(), b.date().isoformat()] for k, (a, b) in self.periods.items()},
            "tables": sorted(self.sources),
            "targets": self.targets,
            "options": self.options,
        }


def _fail(path: Path, key: str, message: str) -> None:
    raise ConfigError(f"{path}: key '{key}': {message}")


def _date(path: Path, key: str, value: Any) -> pd.Timestamp:
    if isinstance(value, (dt.date, dt.datetime)):
        return pd.Timestamp(value).normalize()
    try:
        return pd.Timestamp(dt.date.fromisoformat(str(value)))
    except ValueError:
        _fail(path, key, f"expected a date like 2025-01-31, got {value!r}")


def _periods(path: Path, raw: Any) -> dict[str, tuple[pd.Timestamp, pd.Timestamp]]:
    if not isinstance(raw, dict) or "current" not in raw:
        _fail(path, "periods", "expected a mapping with 'current: [start, end]' and optionally 'base: [start, end]'")
    out = {}
    for name, value in raw.items():
        key = f"periods.{name}"
        if name not in ("current", "base"):
            _fail(path, key, "unknown period; expected 'current' or 'base'")
        if not isinstance(value, (list, tuple)) or len(value) != 2:
            _fail(path, key, f"expected [start, end], got {value!r}")
        start, end = _date(path, key, value[0]), _date(path, key, value[1])
        if end < start:
            _fail(path, key, f"the end {end.date()} is before the start {start.date()}")
        out[name] = (start, end)
    return dict(sorted(out.items(), key=lambda kv: kv[0] != "base"))  # base first, then current


def _sources(path: Path, raw: Any) -> dict[str, TableSource]:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        _fail(path, "data", "expected a mapping of table name -> file path")
    out = {}
    for table, spec in raw.items():
        key = f"data.{table}"
        if table not in TABLES:
            _fail(path, key, f"unknown table; expected one of: {', '.join(TABLES)}")
        if spec is None:
            continue
        if isinstance(spec, str):
            spec = {"path": spec}
        if not isinstance(spec, dict) or "path" not in spec:
            _fail(path, key, "expected a file path or a mapping with 'path:'")
        unknown = set(spec) - SOURCE_KEYS
        if unknown:
            _fail(path, f"{key}.{sorted(unknown)[0]}", f"unknown key; expected one of: {', '.join(sorted(SOURCE_KEYS))}")
        columns = spec.get("columns") or {}
        if not isinstance(columns, dict):
            _fail(path, f"{key}.columns", "expected a mapping of raw header -> canonical column name")
        canonical = {c.name for c in TABLES[table].columns} | set(TABLES[table].alternatives.values())
        for raw_name, name in columns.items():
            if name not in canonical:
                _fail(path, f"{key}.columns.{raw_name}", f"'{name}' is not a column of table '{table}'; expected one of: {', '.join(sorted(canonical))}")
        file = (path.parent / str(spec["path"])).resolve()
        if not file.is_file():
            _fail(path, f"{key}.path", f"file not found: {file}")
        out[table] = TableSource(table, file, spec.get("sheet"), {str(k): str(v) for k, v in columns.items()},
                                 spec.get("encoding"), spec.get("delimiter"))
    return out


def load_config(path: str | Path) -> AuditConfig:
    """Read and validate an audit.yaml; raise ConfigError with the key, file and expectation."""
    path = Path(path).resolve()
    if path.is_dir():
        path = path / "audit.yaml"
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found; create one with 'audit-kit init <client folder>'")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}".splitlines()[0]) from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a YAML mapping with keys client, periods, data")
    unknown = set(raw) - KNOWN_KEYS
    if unknown:
        _fail(path, sorted(unknown)[0], f"unknown key; expected one of: {', '.join(sorted(KNOWN_KEYS))}")
    language = raw.get("language", "ru")
    if language not in LANGUAGES:
        _fail(path, "language", f"expected one of {', '.join(LANGUAGES)}, got {language!r}")
    channels = raw.get("channels") or {}
    if not isinstance(channels, dict):
        _fail(path, "channels", "expected a mapping of raw channel value -> canonical channel")
    targets = dict(DEFAULT_TARGETS)
    for key, value in (raw.get("targets") or {}).items():
        if key not in DEFAULT_TARGETS:
            _fail(path, f"targets.{key}", f"unknown target; expected one of: {', '.join(DEFAULT_TARGETS)}")
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            _fail(path, f"targets.{key}", f"expected a number, got {value!r}")
        targets[key] = float(value)
    options = dict(DEFAULT_OPTIONS)
    for key, value in (raw.get("options") or {}).items():
        if key not in DEFAULT_OPTIONS:
            _fail(path, f"options.{key}", f"unknown option; expected one of: {', '.join(DEFAULT_OPTIONS)}")
        options[key] = value
    client = raw.get("client")
    if not client or not isinstance(client, str):
        _fail(path, "client", "expected the clinic's name as text (shown on the report cover)")
    return AuditConfig(
        path=path,
        client=client,
        language=language,
        currency=str(raw.get("currency", "RUB")),
        periods=_periods(path, raw.get("periods")),
        sources=_sources(path, raw.get("data")),
        channels={str(k): str(v) for k, v in channels.items()},
        targets=targets,
        options=options,
        salt_file=(path.parent / str(raw.get("salt_file", ".audit_salt"))).resolve(),
    )
