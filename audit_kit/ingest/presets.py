"""Source presets: what a known system's export looks like, as data (`presets/*.yaml`, one per format).

A preset names the canonical table it feeds, its headers verbatim (-> canonical columns), the headers
that identify it (`detect`), its value vocabularies (booleans, call statuses, CRM stages -> lead
outcome), empty markers, date formats and structure (title rows, total rows, no header row with a
fixed field order, one row per product collapsed by ID, visits counted into sessions). Headers come
only from the evidence in `../shared/EXPORTS.md`; each file names its source under `evidence:`.

Detection (`detect`): a file's header row is matched against every preset's `detect` headers (all
must be present, compared after `normalise_header`); a header-less file is matched by its field
count and the fields that must be whole numbers. Two presets of one table matching the same file
is an error naming both and the `preset:` key: detection never guesses.

Adding a system is adding a YAML file here and a fixture test (tests/test_presets.py); no code.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd
import yaml

from ..errors import InputError
from .coerce import as_text, normalise_header, normalise_text, parse_number

OUTCOMES = ("won", "lost", "open")
KEYS = {"id", "system", "title", "table", "evidence", "detect", "headerless", "columns", "derive", "values",
        "stages", "empty", "dates", "total_rows", "collapse", "aggregate", "constants", "delimiter", "encoding",
        "formats", "skip_rows", "row_id"}
DERIVE_OPS = {"join", "positive", "difference", "divide", "constant"}
# Built-in first cells of a total row (any export): «Итого», «Итого и средние», «Всего», «Total rows: 12».
TOTAL_MARKERS = ("итого", "всего", "total", "totals", "итого и средние")


@dataclass(frozen=True)
class Preset:
    """One export format of one system (see the module docstring for the fields' meaning)."""

    id: str
    system: str
    title: dict[str, str]
    table: str
    evidence: str
    detect: tuple[str, ...] = ()
    headerless: tuple[str, ...] = ()          # field order of a file without a header row
    headerless_numeric: tuple[str, ...] = ()  # of those, fields that are whole numbers in every row
    columns: dict[str, str] = field(default_factory=dict)      # normalised raw header -> canonical
    derive: dict[str, dict] = field(default_factory=dict)      # canonical -> {op: operands}
    values: dict[str, dict[str, Any]] = field(default_factory=dict)   # canonical -> {normalised raw: value}
    stages: dict[str, str] = field(default_factory=dict)       # normalised stage -> won | lost
    empty: tuple[str, ...] = ()
    dates: tuple[str, ...] = ()
    total_rows: tuple[str, ...] = ()
    collapse: str | None = None
    aggregate: dict | None = None
    constants: dict[str, str] = field(default_factory=dict)
    delimiter: str | None = None
    encoding: str | None = None
    formats: tuple[str, ...] = ()
    skip_rows: dict | None = None             # {header, values | nonempty, reason}: rows not of this table
    row_id: str | None = None                 # a raw header that makes event rows unique (Metrika visitID)

    def label(self, language: str = "en") -> str:
        return self.title.get(language) or self.title.get("en") or self.system

    @property
    def headers(self) -> set[str]:
        """Every raw header this preset knows (normalised): for finding the header row."""
        names = set(self.columns) | set(self.detect) | {normalise_header(h) for h in self.headerless}
        for spec in self.derive.values():
            names |= {normalise_header(x) for x in _operands(spec) if isinstance(x, str)}
        if self.skip_rows:
            names.add(normalise_header(self.skip_rows["header"]))
        if self.row_id:
            names.add(normalise_header(self.row_id))
        return names

    def headers_in(self, frame: pd.DataFrame) -> list[str]:
        """The frame's columns whose header the preset reads (derived operands, skip and row-ID columns)."""
        known = self.headers
        return [c for c in frame.columns if normalise_header(c) in known]

    def matches(self, headers: set[str]) -> bool:
        return bool(self.detect) and set(self.detect) <= headers

    def missing(self, headers: set[str]) -> list[str]:
        return [h for h in self.detect if h not in headers]


def _operands(spec: dict) -> list:
    """The raw headers (and numbers) a derive spec reads, including `when_positive`."""
    out = [spec[k] for k in ("when_positive", "else") if k in spec]
    out += list(spec["otherwise"]) if isinstance(spec.get("otherwise"), (list, tuple)) else []
    for op in DERIVE_OPS & set(spec):
        arg = spec[op]
        out += list(arg) if isinstance(arg, (list, tuple)) else [arg]
    return out


def _fail(name: str, message: str) -> None:
    raise ValueError(f"preset {name}: {message}")


def _parse(name: str, raw: dict, tables: dict) -> Preset:
    """A preset file's mapping -> Preset, checked (a broken preset is a bug of the kit: ValueError)."""
    if not isinstance(raw, dict):
        _fail(name, "expected a mapping")
    unknown = set(raw) - KEYS
    if unknown:
        _fail(name, f"unknown keys {sorted(unknown)}")
    table = raw.get("table")
    if table not in tables:
        _fail(name, f"table {table!r} is not a canonical table")
    canonical = {c.name for c in tables[table].columns} | set(tables[table].alternatives.values())
    columns = {normalise_header(k): v for k, v in (raw.get("columns") or {}).items()}
    derive = raw.get("derive") or {}
    for target in list(columns.values()) + list(derive) + list(raw.get("constants") or {}):
        if target not in canonical and target != "outcome":
            _fail(name, f"{target!r} is not a column of {table}")
    for target, spec in derive.items():
        if not isinstance(spec, dict) or not (set(spec) & DERIVE_OPS):
            _fail(name, f"derive.{target}: expected one of {sorted(DERIVE_OPS)}")
    stages = {}
    for outcome, names in (raw.get("stages") or {}).items():
        if outcome not in ("won", "lost"):
            _fail(name, f"stages: {outcome!r} is not won or lost")
        stages |= {normalise_header(s): outcome for s in names}
    values = {col: {normalise_header(k): v for k, v in vocab.items()} for col, vocab in (raw.get("values") or {}).items()}
    headerless = raw.get("headerless") or {}
    detect = tuple(normalise_header(h) for h in raw.get("detect") or ())
    if not detect and not headerless:
        _fail(name, "needs `detect:` headers or a `headerless:` field order")
    return Preset(
        id=name, system=str(raw.get("system", name)), title=dict(raw.get("title") or {}), table=table,
        evidence=str(raw.get("evidence", "")), detect=detect,
        headerless=tuple(headerless.get("fields", ())), headerless_numeric=tuple(headerless.get("numeric", ())),
        columns=columns, derive=derive, values=values, stages=stages,
        empty=tuple(normalise_header(e) for e in raw.get("empty") or ()),
        dates=tuple(raw.get("dates") or ()),
        total_rows=tuple(normalise_header(t) for t in raw.get("total_rows") or ()),
        collapse=raw.get("collapse"), aggregate=raw.get("aggregate"), constants=dict(raw.get("constants") or {}),
        delimiter=raw.get("delimiter"), encoding=raw.get("encoding"), formats=tuple(raw.get("formats") or ()),
        skip_rows=raw.get("skip_rows"), row_id=raw.get("row_id"))


@functools.cache
def all_presets() -> dict[str, Preset]:
    """Every preset shipped in `audit_kit/ingest/presets/`, by id (the file name without .yaml)."""
    from .schema import TABLES

    out = {}
    for entry in sorted(resources.files("audit_kit.ingest").joinpath("presets").iterdir(), key=lambda p: p.name):
        if entry.name.endswith(".yaml"):
            name = entry.name[:-5]
            out[name] = _parse(name, yaml.safe_load(entry.read_text(encoding="utf-8")), TABLES)
    return out


@functools.cache
def known_headers() -> frozenset[str]:
    """Every header any preset knows (normalised); made once, read for every file's header row."""
    return frozenset().union(*(p.headers for p in all_presets().values()))


def headerless_match(first_row: list, table: str) -> Preset | None:
    """The header-less preset of `table` whose field count and whole-number fields fit the first row."""
    cells = [("" if pd.isna(v) else str(v)).strip() for v in first_row]
    while cells and not cells[-1]:
        cells.pop()
    for preset in all_presets().values():
        if preset.table != table or not preset.headerless or len(cells) != len(preset.headerless):
            continue
        numeric = [cells[preset.headerless.index(f)] for f in preset.headerless_numeric]
        if all(re.fullmatch(r"\d+", v) for v in numeric):
            return preset
    return None


def detect(headers: list[str], table: str, file: str, forced: str | None = None) -> Preset | None:
    """The preset of this file's header row, or None (built-in aliases then apply).

    `forced` (the source's `preset:`) must exist, feed this table and have its headers in the file.
    A file that matches presets of another table only is named as such; two matches of this table
    are an error naming both."""
    have = {normalise_header(h) for h in headers}
    presets = all_presets()
    if forced:
        if forced not in presets:
            raise InputError(f"{file}: unknown preset '{forced}' (data.{table}.preset in audit.yaml); "
                             f"expected one of: {', '.join(p for p in presets if presets[p].table == table)}")
        preset = presets[forced]
        if preset.table != table:
            raise InputError(f"{file}: preset '{forced}' ({preset.label()}) feeds table '{preset.table}', "
                             f"not '{table}'; remove data.{table}.preset or choose one of: "
                             f"{', '.join(p for p in presets if presets[p].table == table)}")
        if preset.detect and not preset.matches(have):
            missing = ", ".join(f"'{h}'" for h in preset.missing(have)[:5])
            raise InputError(f"{file}: does not look like a {preset.label()} file (data.{table}.preset: {forced}): "
                             f"headers {missing} not found; remove the preset: key to let the kit detect the format")
        return preset
    found = [p for p in presets.values() if p.matches(have)]
    mine = [p for p in found if p.table == table]
    if len(mine) > 1:
        names = " and ".join(f"'{p.id}' ({p.label()})" for p in mine)
        raise InputError(f"{file}: the headers fit two presets, {names}; say which one in audit.yaml: "
                         f"data.{table}.preset: {mine[0].id}")
    if mine:
        return mine[0]
    if found:
        other = found[0]
        raise InputError(f"{file}: this looks like a {other.label()} export, which feeds table '{other.table}', "
                         f"but audit.yaml lists it under data.{table}; move it to data.{other.table}")
    return None


def closest(headers: list[str], table: str) -> Preset | None:
    """The preset of `table` sharing the most of its `detect` headers with the file (at least half), for
    naming it in an error when a required column is missing."""
    have = {normalise_header(h) for h in headers}
    best, score = None, 0.0
    for p in all_presets().values():
        if p.table != table or not p.detect:
            continue
        share = sum(h in have for h in p.detect) / len(p.detect)
        if share >= 0.5 and share > score:
            best, score = p, share
    return best


# -- applying a preset to a file's raw cells ----------------------------------------------------------
def _column(text: pd.DataFrame, header: str, preset: Preset) -> pd.Series:
    """A raw column by its (normalised) header name, as text."""
    want = normalise_header(header)
    for col in text.columns:
        if normalise_header(col) == want:
            return text[col]
    raise InputError(f"preset {preset.id}: column '{header}' not found in the file; headers: "
                     f"{', '.join(map(str, list(text.columns)[:12]))}")


def blank_empty_markers(text: pd.DataFrame, markers: tuple[str, ...], columns=None) -> pd.DataFrame:
    """Cells holding an empty marker («<не указано>», «не закрыта») become NA, in `columns` (default:
    all). Compared once per distinct value of a column."""
    if not markers:
        return text
    out = text.copy()
    for col in (out.columns if columns is None else [c for c in columns if c in out.columns]):
        codes, uniques = pd.factorize(out[col])
        hit = normalise_text(pd.Series(uniques, dtype="string")).isin(markers).to_numpy(bool)
        if hit.any():
            out[col] = out[col].mask((codes >= 0) & hit[np.maximum(codes, 0)])
    return out


def derive(raw: pd.DataFrame, preset: Preset) -> dict[str, pd.Series]:
    """Canonical columns computed from raw ones (text, so that the usual coercion follows):
    `join` non-empty parts with `sep` (`else`: another column where all parts are empty); `positive`:
    'да' when the number > 0 else 'нет'; `difference`: a - b, and with `when_positive: g` only where
    g > 0, `otherwise` (c - d, or a number) elsewhere; `divide`: a / n;
    `constant`: the same value on every row."""
    out: dict[str, pd.Series] = {}
    for target, spec in preset.derive.items():
        if "constant" in spec:
            out[target] = pd.Series(str(spec["constant"]), index=raw.index, dtype="string")
        elif "join" in spec:
            parts = [as_text(_column(raw, h, preset)) for h in spec["join"]]
            joined = parts[0]
            sep = spec.get("sep", " ")
            for part in parts[1:]:
                joined = (joined + sep + part).fillna(joined).fillna(part)
            if "else" in spec:
                joined = joined.fillna(as_text(_column(raw, spec["else"], preset)))
            out[target] = joined
        elif "positive" in spec:
            number, _ = parse_number(as_text(_column(raw, spec["positive"], preset)))
            out[target] = pd.Series(np.where(number > 0, "да", "нет"), index=raw.index,
                                    dtype="string").mask(number.isna())
        elif "difference" in spec:
            a, b = (parse_number(as_text(_column(raw, h, preset)))[0] for h in spec["difference"])
            diff = a - b
            if "when_positive" in spec:
                gate, _ = parse_number(as_text(_column(raw, spec["when_positive"], preset)))
                other = spec.get("otherwise")
                if isinstance(other, (list, tuple)):
                    c, d = (parse_number(as_text(_column(raw, h, preset)))[0] for h in other)
                    other = c - d
                diff = diff.where(gate > 0, other if other is not None else np.nan).where(gate.notna())
            out[target] = _number_text(diff)
        elif "divide" in spec:
            head, by = spec["divide"]
            number, _ = parse_number(as_text(_column(raw, head, preset)))
            out[target] = _number_text(number / float(by))
    return out


def skipped_rows(raw: pd.DataFrame, preset: Preset | None) -> tuple[pd.Series, str]:
    """Rows the preset says are not of its table (a PBX's outgoing calls) and the ledger reason."""
    if preset is None or not preset.skip_rows:
        return pd.Series(False, index=raw.index), ""
    spec = preset.skip_rows
    values = as_text(_column(raw, spec["header"], preset))
    if spec.get("nonempty"):
        hit = values.notna()
    else:
        hit = normalise_text(values).isin([normalise_header(v) for v in spec.get("values", ())])
    return hit.fillna(False).astype(bool), str(spec.get("reason", "not_this_table"))


def row_ids(raw: pd.DataFrame, preset: Preset | None) -> pd.Series | None:
    """The raw event ID that tells apart rows whose mapped cells are equal (two visits of one day and
    channel), so that only a row repeated with its ID counts as a duplicate."""
    if preset is None or not preset.row_id:
        return None
    return as_text(_column(raw, preset.row_id, preset))


def _number_text(values: pd.Series) -> pd.Series:
    return values.map(repr, na_action="ignore").astype("string")


def apply_values(text: pd.DataFrame, preset: Preset | None) -> pd.DataFrame:
    """Preset vocabularies applied: a raw value the preset lists becomes its canonical value
    (`successful: true` -> да, Roistat `NOANSWER` -> нет); other values are left for the usual coercion."""
    if preset is not None:
        for col, vocab in preset.values.items():
            if col in text:
                mapped = normalise_text(text[col]).map(vocab)
                text[col] = mapped.astype("string").fillna(text[col].astype("string"))
    return text


def lead_outcome(status: pd.Series, preset: Preset | None, stages: dict[str, str]) -> pd.Series:
    """won | lost | open per lead from its stage; NA where the stage is empty, or when neither a preset
    nor the config's `stages:` says what any stage means (the file's stages are then not read)."""
    vocab = known_stages([preset.id] if preset is not None else [], stages)
    if not vocab:
        return pd.Series(pd.NA, index=status.index, dtype="string")
    key = normalise_text(status)
    out = key.map(vocab).astype("string")
    return out.mask(out.isna() & status.notna(), "open")


def known_stages(preset_ids, stages: dict[str, str]) -> dict[str, str]:
    """Every stage name (normalised) the given presets and the config's `stages:` give a meaning."""
    out: dict[str, str] = {}
    for pid in preset_ids:
        if pid and pid in all_presets():
            out |= all_presets()[pid].stages
    return out | {normalise_header(k): v for k, v in stages.items()}


_TOTAL_START = ("итог", "всего", "total")


# Python's whitespace (what str.strip() removes) as an RE2 class, for pyarrow's regex kernels.
SPACE_CLASS = r"[\t-\r\x1c-\x1f\x85\p{Z}]"


def is_total_row(raw: pd.DataFrame, markers: tuple[str, ...]) -> pd.Series:
    """Rows whose first non-empty cell (of the first three) is a total marker («Итого», «Итого и средние»,
    «Total rows: 12», or one the preset names). One anchored pyarrow regex over the first column picks the
    candidates (it starts with a marker's first word, case ignored, or is blank, so that the next cells
    decide); only those are normalised and compared."""
    import pyarrow.compute as pc

    from .keys import arrow_ids

    none = pd.Series(False, index=raw.index)
    if raw.empty:
        return none
    starts = tuple({*_TOTAL_START, *(m.split(" ")[0] for m in markers if m)})
    words = "|".join(re.escape(w) for w in sorted(starts))
    near = pc.match_substring_regex(arrow_ids(raw.iloc[:, 0]), f"^{SPACE_CLASS}*(?:(?i:{words})|$)")
    rows = np.flatnonzero(near.fill_null(True).to_numpy(zero_copy_only=False))
    if not len(rows):
        return none
    first = pd.Series(pd.NA, index=raw.index[rows], dtype="string")
    for i in range(min(3, raw.shape[1])):
        cells = raw.iloc[rows, i].astype("string").str.strip()
        first = first.fillna(cells.mask(cells.eq("")))
    candidate = first.str.lower().str.startswith(starts).fillna(False).to_numpy(bool)
    if not candidate.any():
        return none
    words = normalise_text(first[candidate]).str.replace(r"\s+\d+$", "", regex=True)
    allowed = set(TOTAL_MARKERS) | set(markers) | {"total rows"}
    none.iloc[rows[candidate]] = words.isin(allowed).fillna(False).to_numpy(bool)
    return none


__all__ = ["Preset", "OUTCOMES", "all_presets", "known_headers", "detect", "closest", "headerless_match",
           "blank_empty_markers", "known_stages", "derive", "skipped_rows", "row_ids", "apply_values", "lead_outcome", "is_total_row"]
