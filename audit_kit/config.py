"""The client's audit config (audit.yaml, DESIGN §6): load, validate, expose typed values.

Every mistake is a ConfigError naming the key, the file and what was expected.
"""
from __future__ import annotations

import codecs
import datetime as dt
import glob
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

import pandas as pd
import yaml

from .errors import ConfigError
from .ingest.coerce import DEFAULT_TIMEZONE
from .ingest.schema import TABLES
from .options import DEFAULT_OPTIONS, OPTION_CHECKS, OPTION_CHOICES, OPTION_TYPES

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


class Targets(dict):
    """The KPI targets in force (name -> value) and which of them audit.yaml set: `source(name)` is
    'config' for those, 'default' for the method's (money at stake states where its target comes from)."""

    def __init__(self, values: Mapping[str, float | None], set_in_config: Iterable[str] = ()):
        super().__init__(values)
        self.set_in_config = frozenset(set_in_config)

    def source(self, key: str) -> str:
        return "config" if key in self.set_in_config else "default"

# How an `options:` value is checked (`_option`), so a new option needs no code here:
# - by the type of its default: int -> a whole number, float -> a number, bool -> true/false,
#   str -> text, list -> a list whose items have the type of the default's items (texts when the
#   default is empty), dict -> a mapping with text keys, None -> null or a mapping;
# - a number must be > 0 when its default is > 0 (>= 0 when it is 0) and at most the ceiling of its
#   unit (the name's suffix, NUMBER_CEILINGS); a name ending in _rate, _share or _quantile is a
#   fraction (at most 1);
# - OPTION_TYPES overrides the kinds (null, int, number, bool, text, list, mapping; "any" leaves the
#   value to its OPTION_CHECKS entry), OPTION_CHOICES lists the values a text option may take, and
#   OPTION_CHECKS runs the owning module's own check of the content at load time.
FRACTION_SUFFIXES = ("_rate", "_share", "_quantile")
NUMBER_CEILINGS = {"_days": 36_500, "_months": 1_200, "_hours": 876_000, "_minutes": 525_600, "_seconds": 31_536_000}
DEFAULT_CEILING = 1e9


# Allowed range of each target; a target not listed is a share in [0, 1] when its name ends in
# _rate or _share, else any finite number.
TARGET_RANGES: dict[str, tuple[float, float]] = {
    "no_show_rate": (0, 1), "missed_call_rate": (0, 1), "csat": (0, 1), "utilisation": (0, 1),
    "lead_to_booking": (0, 1), "nps": (-100, 100), "wait_minutes": (0, 1440), "cac": (0, math.inf),
}
YEARS = (1990, 2100)        # audit periods outside these years are typos

KNOWN_KEYS = {"client", "language", "currency", "periods", "data", "channels", "targets", "options", "salt_file",
              "timezone", "stages"}
SOURCE_KEYS = {"path", "sheet", "columns", "encoding", "delimiter", "preset", "channel", "month"}
GLOB_CHARS = "*?["


@dataclass(frozen=True)
class FileSource:
    """One file of a canonical table, with its own reading options."""

    table: str
    path: Path
    sheet: str | int | None = None
    columns: dict[str, str] = field(default_factory=dict)   # raw header -> canonical name
    encoding: str | None = None
    delimiter: str | None = None
    preset: str | None = None          # force a source preset (ingest/presets/<id>.yaml)
    channel: str | None = None         # a constant raw channel for every row (a Direct report is one channel)
    month: str | None = None           # a constant month (YYYY-MM) for a report that does not carry it


@dataclass(frozen=True)
class TableSource:
    """Where one canonical table comes from: one file or several (a list or a glob in audit.yaml)."""

    table: str
    files: tuple[FileSource, ...]

    @property
    def paths(self) -> list[Path]:
        return [f.path for f in self.files]


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
    timezone: str = DEFAULT_TIMEZONE
    stages: dict[str, str] = field(default_factory=dict)     # CRM stage -> won | lost | open

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
            "timezone": self.timezone,
            "targets": self.targets,
            "options": self.options,
        }


def _fail(path: Path, key: str, message: str) -> None:
    raise ConfigError(f"{path}: key '{key}': {message}")


class _Loader(yaml.SafeLoader):
    """YAML without implicit dates: `2025-02-30` stays text, so `_date` can name it instead of YAML failing."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _date(path: Path, key: str, value: Any) -> pd.Timestamp:
    if isinstance(value, (dt.date, dt.datetime)):
        day = value if not isinstance(value, dt.datetime) else value.date()
    else:
        try:
            day = dt.date.fromisoformat(str(value).strip())
        except ValueError:
            _fail(path, key, f"expected a date like 2025-01-31 (a real calendar day), got {value!r}")
    if not YEARS[0] <= day.year <= YEARS[1]:
        _fail(path, key, f"expected a date between {YEARS[0]} and {YEARS[1]}, got {value!r}")
    return pd.Timestamp(day)


def _periods(path: Path, raw: Any) -> dict[str, tuple[pd.Timestamp, pd.Timestamp]]:
    if not isinstance(raw, dict) or "current" not in raw or any(not isinstance(k, str) for k in raw):
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
    if "base" in out:
        (b0, b1), (c0, c1) = out["base"], out["current"]
        if b0 <= c1 and c0 <= b1:
            _fail(path, "periods.base", f"the base period {b0.date()}..{b1.date()} overlaps the current period "
                                        f"{c0.date()}..{c1.date()}; expected a base that ends before the current starts")
    return dict(sorted(out.items(), key=lambda kv: kv[0] != "base"))  # base first, then current


def _sources(path: Path, raw: Any) -> dict[str, TableSource]:
    """data: table -> a path, a glob, a mapping with path: and options, or a list of those."""
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
        specs = spec if isinstance(spec, list) else [spec]
        if not specs:
            _fail(path, key, "expected a file path, a mapping with 'path:' or a list of them; got an empty list")
        files: list[FileSource] = []
        for i, one in enumerate(specs):
            files += _file_sources(path, table, f"{key}[{i}]" if isinstance(spec, list) else key, one)
        seen = set()
        unique = [f for f in files if not (f.path in seen or seen.add(f.path))]
        out[table] = TableSource(table, tuple(unique))
    return out


def _file_sources(path: Path, table: str, key: str, spec: Any) -> list[FileSource]:
    """One entry of data.<table>: its files (several when the path is a glob) with its options."""
    if isinstance(spec, str):
        spec = {"path": spec}
    if not isinstance(spec, dict) or "path" not in spec:
        _fail(path, key, "expected a file path, a glob such as data/payments/*.xlsx, or a mapping with 'path:'")
    unknown = set(spec) - SOURCE_KEYS
    if unknown:
        _fail(path, f"{key}.{sorted(unknown, key=str)[0]}", f"unknown key; expected one of: {', '.join(sorted(SOURCE_KEYS))}")
    columns = spec.get("columns") or {}
    if not isinstance(columns, dict):
        _fail(path, f"{key}.columns", "expected a mapping of raw header -> canonical column name")
    canonical = {c.name for c in TABLES[table].columns} | set(TABLES[table].alternatives.values())
    if table == "calls":       # the calls' phone is caller_phone; `phone` is understood as the same
        columns = {k: ("caller_phone" if v == "phone" else v) for k, v in columns.items()}
    for raw_name, name in columns.items():
        if not isinstance(name, str) or raw_name is None:
            _fail(path, f"{key}.columns.{raw_name}", f"expected a canonical column name as text, got {name!r}")
        if name not in canonical:
            _fail(path, f"{key}.columns.{raw_name}", f"'{name}' is not a column of table '{table}'; expected one of: {', '.join(sorted(canonical))}")
    _source_options(path, key, spec)
    for opt in ("preset", "channel"):
        value = spec.get(opt)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            _fail(path, f"{key}.{opt}", f"expected text, got {value!r}")
    if spec.get("preset") is not None:
        from .ingest.presets import all_presets
        presets = {k: p for k, p in all_presets().items() if p.table == table}
        if spec["preset"] not in presets:
            _fail(path, f"{key}.preset", f"unknown preset {spec['preset']!r} for table '{table}'; expected one of: "
                                         f"{', '.join(presets) or '(none for this table)'}")
    if spec.get("channel") is not None and not any(c.kind == "channel" for c in TABLES[table].columns):
        _fail(path, f"{key}.channel", f"table '{table}' has no channel column")
    month = spec.get("month")
    if month is not None:
        if "month" not in {c.name for c in TABLES[table].columns}:
            _fail(path, f"{key}.month", f"table '{table}' has no month column")
        try:
            month = pd.Period(str(month), freq="M").strftime("%Y-%m")
        except (ValueError, TypeError):
            _fail(path, f"{key}.month", f"expected a month like 2025-01, got {month!r}")
    if not isinstance(spec["path"], str) or not spec["path"].strip():
        _fail(path, f"{key}.path", f"expected a file path as text, got {spec['path']!r}")
    pattern = str(spec["path"])
    if any(c in pattern for c in GLOB_CHARS):
        # glob.glob rather than Path.glob, which refuses an absolute pattern (/data/client/payments/*.csv)
        found = sorted(p.resolve() for p in (path.parent / match for match in glob.glob(
            pattern, root_dir=path.parent, recursive=True, include_hidden=True)) if p.is_file())
        if not found:
            _fail(path, f"{key}.path", f"no file matches {pattern!r} (relative to {path.parent})")
    else:
        found = [(path.parent / pattern).resolve()]
        if not found[0].is_file():
            _fail(path, f"{key}.path", f"file not found: {found[0]}")
    cols = {str(k): str(v) for k, v in columns.items()}
    return [FileSource(table, f, spec.get("sheet"), cols, spec.get("encoding"), spec.get("delimiter"),
                       spec.get("preset"), spec.get("channel"), month) for f in found]


def _timezone(path: Path, raw: Any) -> str:
    if raw is None:
        return DEFAULT_TIMEZONE
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError
    try:
        ZoneInfo(str(raw))
    except (ZoneInfoNotFoundError, ValueError):
        _fail(path, "timezone", f"unknown time zone {raw!r}; expected a name such as Europe/Moscow or Asia/Yekaterinburg")
    return str(raw)


def _stages(path: Path, raw: Any) -> dict[str, str]:
    stages = _mapping(path, "stages", raw, "CRM stage -> won, lost or open")
    for key, value in stages.items():
        if value not in ("won", "lost", "open"):
            _fail(path, f"stages.{key}", f"expected won, lost or open, got {value!r}")
    return {str(k): v for k, v in stages.items()}


def _source_options(path: Path, key: str, spec: dict) -> None:
    """sheet: a name or a 0-based index; encoding: one Python knows; delimiter: one character."""
    sheet, encoding, delimiter = spec.get("sheet"), spec.get("encoding"), spec.get("delimiter")
    if sheet is not None and (isinstance(sheet, bool) or not isinstance(sheet, (str, int)) or
                              (isinstance(sheet, int) and sheet < 0)):
        _fail(path, f"{key}.sheet", f"expected a sheet name or a 0-based sheet number, got {sheet!r}")
    if encoding is not None:
        try:
            codecs.lookup(str(encoding))
        except LookupError:
            _fail(path, f"{key}.encoding", f"unknown encoding {encoding!r}; expected e.g. utf-8, cp1251 or utf-16 "
                                           f"(or remove the key: the kit detects these itself)")
        if not isinstance(encoding, str):
            _fail(path, f"{key}.encoding", f"expected an encoding name as text, got {encoding!r}")
    if delimiter is not None and (not isinstance(delimiter, str) or len(delimiter) != 1 or delimiter in "\"\r\n"):
        _fail(path, f"{key}.delimiter", f"expected one character such as ';', ',' or a tab, got {delimiter!r}")


def _mapping(path: Path, key: str, raw: Any, what: str) -> dict:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        _fail(path, key, f"expected a mapping of {what}, got {type(raw).__name__} {raw!r}"[:200])
    return raw


def _number(path: Path, key: str, value: Any, what: str = "a number") -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        _fail(path, key, f"expected {what}, got {value!r}")
    return value


def _target(path: Path, key: str, value: Any) -> float:
    """A target value within its range (TARGET_RANGES; shares in [0, 1])."""
    name = key.split(".", 1)[1]
    low, high = TARGET_RANGES.get(name, (0, 1) if name.endswith(("_rate", "_share")) else (-math.inf, math.inf))
    what = ("a number, a share between 0 and 1 (5% is 0.05)" if (low, high) == (0, 1)
            else "a number" if (low, high) == (-math.inf, math.inf)
            else f"a number of at least {low:g}" if high == math.inf else f"a number between {low:g} and {high:g}")
    value = _number(path, key, value, what)
    if not low <= value <= high:
        _fail(path, key, f"expected {what}, got {value!r}")
    return float(value)


def _option_kinds(name: str) -> tuple[str, ...]:
    if name in OPTION_TYPES:
        return OPTION_TYPES[name]
    default = DEFAULT_OPTIONS[name]
    if default is None:
        return ("null", "mapping")
    for kind, types in (("bool", bool), ("int", int), ("number", float), ("text", str), ("list", (list, tuple)),
                        ("mapping", dict)):
        if isinstance(default, types):
            return (kind,)
    return ("null", "mapping", "list", "text", "number", "bool")


KIND_WORDS = {"null": "null", "int": "a whole number", "number": "a number", "bool": "true or false",
              "text": "text", "list": "a list of texts", "mapping": "a mapping", "any": "a value"}


def _list_of_numbers(name: str) -> bool:
    """A list option whose default holds numbers takes numbers (else texts)."""
    default = DEFAULT_OPTIONS[name]
    return isinstance(default, (list, tuple)) and bool(default) and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in default)


def _option(path: Path, name: str, value: Any) -> Any:
    """An option value checked against its kinds (`_option_kinds`); numbers also against their range."""
    key = f"options.{name}"
    kinds = _option_kinds(name)
    if "any" in kinds:
        return value
    unit = next((suffix.strip("_") for suffix in NUMBER_CEILINGS if name.endswith(suffix)), "")
    default = DEFAULT_OPTIONS[name]
    positive = isinstance(default, (int, float)) and not isinstance(default, bool) and default > 0
    ceiling = next((c for suffix, c in NUMBER_CEILINGS.items() if name.endswith(suffix)), DEFAULT_CEILING)
    if name.endswith(FRACTION_SUFFIXES):
        ceiling = 1
    words = {**KIND_WORDS, "list": "a list of numbers" if _list_of_numbers(name) else KIND_WORDS["list"]}
    expected = " or ".join(words[k] for k in kinds) + (f" ({unit})" if unit else "")
    if "int" in kinds or "number" in kinds:
        expected += f" {'greater than 0' if positive else '0 or more'} and at most {ceiling:,.0f}"
    is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if value is None and "null" in kinds:
        return None
    if isinstance(value, bool) and "bool" in kinds:
        return value
    if is_number and ("int" in kinds or "number" in kinds):
        whole = math.isfinite(value) and float(value).is_integer()
        in_range = math.isfinite(value) and (value > 0 if positive else value >= 0) and value <= ceiling
        if not in_range or ("number" not in kinds and not whole):
            _fail(path, key, f"expected {expected}, got {value!r}")
        return int(value) if "number" not in kinds else value
    if isinstance(value, str) and "text" in kinds:
        if name in OPTION_CHOICES and value not in OPTION_CHOICES[name]:
            _fail(path, key, f"expected one of {', '.join(OPTION_CHOICES[name])}, got {value!r}")
        return value
    if isinstance(value, (list, tuple)) and "list" in kinds:
        if _list_of_numbers(name):
            bad = [v for v in value if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v)]
        else:
            bad = [v for v in value if not isinstance(v, str) or not v.strip()]
        if bad:
            _fail(path, key, f"expected {expected}, got an item {bad[0]!r}")
        return list(value)
    if isinstance(value, dict) and "mapping" in kinds:
        bad = [k for k in value if not isinstance(k, str)]
        if bad:
            _fail(path, key, f"expected {expected} with text keys, got the key {bad[0]!r}")
        return value
    _fail(path, key, f"expected {expected}, got {value!r}"[:300])


def _channels(path: Path, raw: Any) -> dict[str, str]:
    channels = _mapping(path, "channels", raw, "raw channel value -> canonical channel")
    out = {}
    for key, value in channels.items():
        if key is None or isinstance(key, (bool, list, dict)):
            _fail(path, f"channels.{key}", "expected a raw channel or utm value as text on the left")
        if not isinstance(value, str) or not value.strip():
            _fail(path, f"channels.{key}", f"expected the canonical channel name as text, got {value!r}")
        out[str(key)] = value.strip()
    return out


def load_config(path: str | Path) -> AuditConfig:
    """Read and validate an audit.yaml; raise ConfigError with the key, file and expectation."""
    path = Path(path).resolve()
    if path.is_dir():
        path = path / "audit.yaml"
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found; create one with 'audit-kit init <client folder>'")
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)  # noqa: S506 (a SafeLoader)
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}".splitlines()[0]) from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a YAML mapping with keys client, periods, data")
    unknown = set(raw) - KNOWN_KEYS
    if unknown:
        _fail(path, str(sorted(unknown, key=str)[0]), f"unknown key; expected one of: {', '.join(sorted(KNOWN_KEYS))}")
    language = raw.get("language", "ru")
    if language not in LANGUAGES:
        _fail(path, "language", f"expected one of {', '.join(LANGUAGES)}, got {language!r}")
    channels = _channels(path, raw.get("channels"))
    targets, set_in_config = dict(DEFAULT_TARGETS), []
    for key, value in _mapping(path, "targets", raw.get("targets"), "target name -> value").items():
        if key not in DEFAULT_TARGETS:
            _fail(path, f"targets.{key}", f"unknown target; expected one of: {', '.join(DEFAULT_TARGETS)}")
        if value is None and DEFAULT_TARGETS[key] is None:    # left unrated, as by default
            continue
        targets[key] = _target(path, f"targets.{key}", value)
        set_in_config.append(key)
    options = dict(DEFAULT_OPTIONS)
    for key, value in _mapping(path, "options", raw.get("options"), "option name -> value").items():
        if key not in DEFAULT_OPTIONS:
            _fail(path, f"options.{key}", f"unknown option; expected one of: {', '.join(DEFAULT_OPTIONS)}")
        options[key] = _option(path, key, value)
        if key in OPTION_CHECKS and options[key] is not None:
            try:
                OPTION_CHECKS[key](options[key])
            except (ValueError, TypeError, ConfigError) as exc:
                message = str(exc).removeprefix(f"option {key}").removeprefix(f"options.{key}").lstrip(":. ")
                _fail(path, f"options.{key}", message)
    client = raw.get("client")
    if not client or not isinstance(client, str):
        _fail(path, "client", "expected the clinic's name as text (shown on the report cover)")
    for key in ("currency", "salt_file"):
        if key in raw and (not isinstance(raw[key], str) or not raw[key].strip()):
            _fail(path, key, f"expected text, got {raw[key]!r}")
    return AuditConfig(
        path=path,
        client=client,
        language=language,
        currency=str(raw.get("currency", "RUB")),
        periods=_periods(path, raw.get("periods")),
        sources=_sources(path, raw.get("data")),
        channels=channels,
        targets=Targets(targets, set_in_config),
        options=options,
        salt_file=(path.parent / str(raw.get("salt_file", ".audit_salt"))).resolve(),
        timezone=_timezone(path, raw.get("timezone")),
        stages=_stages(path, raw.get("stages")),
    )
