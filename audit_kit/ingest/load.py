"""Ingest: read → map columns → coerce types → validate → pseudonymise → canonical table + ledger.

`ingest(config)` does it for every table the config names; `save_tables` / `load_tables`
keep the canonical tables as parquet in the run folder.
"""
from __future__ import annotations

import json
import os
from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from ..config import AuditConfig, FileSource, TableSource
from ..errors import InputError
from ..memory import release_memory, use_pool
from . import coerce, presets
from .keys import arrow_ids, family_codes, family_of, with_keys
from .ledger import Ledger, TableLedger
from .link import link_by_phone
from .pii import email_ids, load_salt, mask_contacts, mask_names, name_tokens, phone_ids, pseudonymise
from .presets import Preset
from .readers import (MIXED_ENCODING, RawTable, file_kind, formulas_without_values, read_grid, redecode_mojibake,
                      to_raw_table)
from .schema import (BOOL, CHANNEL, DATETIME, ID, MONEY, MONTH, NUMBER, OUTCOME, PII, STAFF_TABLES, STATUS,
                     TABLES, TEXT, Table, conform)

UNKNOWN_CHANNEL = {"ru": "(не указан)", "en": "(not given)"}
PARSERS = {DATETIME: coerce.parse_datetime, MONTH: coerce.parse_month, MONEY: coerce.parse_number,
           NUMBER: coerce.parse_number, BOOL: coerce.parse_bool, STATUS: coerce.parse_status}
REASON_PREFIX = {DATETIME: "invalid_date", MONTH: "invalid_month", MONEY: "invalid_number",
                 NUMBER: "invalid_number", BOOL: "invalid_yes_no", STATUS: "unknown_status"}


FileHook = Callable[[str, Path, "int | None"], None]      # (table, file, rows read or None when starting)


@dataclass
class IngestResult:
    tables: MutableMapping[str, pd.DataFrame]     # a dict, or `_Tables` (frames made on access) from `ingest`
    ledger: Ledger


def _alias_index(table: Table, extra: dict[str, str], preset: Preset | None = None) -> dict[str, str]:
    """Normalised raw header -> canonical column: the config's mapping first, then the preset's
    headers, then canonical names, then the built-in aliases."""
    index: dict[str, str] = {}
    for raw, canon in extra.items():
        index.setdefault(coerce.normalise_header(raw), canon)
    if preset is not None:
        for raw, canon in preset.columns.items():
            index.setdefault(raw, canon)
    for col in table.columns:
        index.setdefault(coerce.normalise_header(col.name), col.name)
    for alt_for, alt in table.alternatives.items():
        index.setdefault(coerce.normalise_header(alt), alt)
    for col in table.columns:
        for alias in col.aliases:
            index.setdefault(coerce.normalise_header(alias), col.name)
    return index


def _map_columns(raw: RawTable, table: Table, index: dict[str, str], derived: set[str] = frozenset(),
                 preset: Preset | None = None) -> dict[str, str]:
    """Raw header -> canonical column (the first header of a canonical column wins); `derived` are the
    columns a preset computes or a source gives as a constant. Missing required columns: InputError."""
    mapping: dict[str, str] = {}
    taken: set[str] = set(derived)
    for header in raw.frame.columns:
        canon = index.get(coerce.normalise_header(header))
        if canon and canon not in taken:
            mapping[header] = canon
            taken.add(canon)
    for alt_for, alt in table.alternatives.items():
        if alt in taken and alt_for not in taken:
            for header, canon in mapping.items():
                if canon == alt:
                    mapping[header] = alt_for
            taken.add(alt_for)
    missing = [c for c in table.required if c not in taken]
    if missing and not mapping and _looks_like_data(raw.frame.columns):
        found = ", ".join(f"'{h}'" for h in _example_cells(raw.frame.columns))
        raise InputError(
            f"{raw.file} (table '{table.name}'): the file has no header row: expected the first row to name the "
            f"columns ({', '.join(table.required)} or their usual Russian names), found a row of data: {found}. "
            f"Export the file with headers, or add a header row")
    if missing:
        headers = ", ".join(f"'{h}'" for h in _example_cells(raw.frame.columns, n=len(raw.frame.columns), cut=False))
        col = missing[0]
        near = presets.closest(list(raw.frame.columns), table.name) if preset is None else None
        hint = (f" The file is close to the {near.label()} export (preset '{near.id}') but lacks "
                f"{', '.join(repr(h) for h in near.missing({coerce.normalise_header(h) for h in raw.frame.columns}))};"
                if near is not None else "")
        what = f" (read as {preset.label()})" if preset is not None else ""
        raise InputError(
            f"{raw.file} (table '{table.name}'{what}): required column '{col}' not found"
            f"{' (also missing: ' + ', '.join(missing[1:]) + ')' if len(missing) > 1 else ''}. "
            f"Headers in the file: {headers}.{hint} Add the mapping in audit.yaml under "
            f"data.{table.name}.columns, e.g. \"<header in the file>\": {col}")
    return mapping


def _looks_like_data(headers: pd.Index) -> bool:
    """Header cells that read as dates or numbers (a data row where the header should be)."""
    cells = coerce.as_text(pd.Series([h for h in headers if not str(h).startswith("__blank")], dtype="string"))
    cells = cells.str.replace(r"\.\d+$", "", regex=True)      # pandas' ".1" suffix on repeated headers
    if cells.dropna().empty:
        return False
    dates, _ = coerce.parse_datetime(cells)
    numbers, _ = coerce.parse_number(cells)
    return bool((dates.notna() | numbers.notna()).any())


def _example_cells(headers: pd.Index, n: int = 4, cut: bool = True) -> list[str]:
    """The first cells of a row shown in an error (the header row, or the data row found in its place):
    phones, e-mails and what looks like a person's name masked, long values cut."""
    cells = pd.Series([h for h in headers if not str(h).startswith("__blank")][:n], dtype="string")
    masked, _ = mask_contacts(cells, "en")
    masked = masked.str.replace(r"^[А-ЯЁA-Z][а-яёa-z]+(?:\s+[А-ЯЁA-Z][а-яёa-z.]*){1,2}$", "[name]", regex=True)
    return [v if len(v) <= 30 or not cut else v[:27] + "..." for v in masked.astype(str)]


def ingest_table(source: TableSource, config: AuditConfig, salt: str) -> tuple[pd.DataFrame, TableLedger]:
    """One table's raw exports -> canonical DataFrame and its ledger entry (the table's own names masked
    in its text)."""
    read = _read_table(source, config, salt)
    mask_known_names({source.table: read}, name_tokens(read.names), config.language)
    return read.whole(), read.ledger


# A large table's low-variety text (services, statuses, channels, branches: a few hundred distinct values over
# millions of rows) is held dictionary-encoded (`pyarrow.compute.dictionary_encode`: int32 codes and the values
# once) from the moment the table is read until it is written: at 345 branches the read tables took 3.5 GB as
# "string" columns, ≈ 55 bytes a cell for a service name against 4 here. Tables below PACK_MIN_ROWS rows and columns
# whose distinct values exceed PACK_MAX_SHARE of the rows (IDs, free text) stay as they are.
PACK_MIN_ROWS = 1 << 16
PACK_MAX_SHARE = 0.05


@dataclass
class _Read:
    """A table as `_read_table` leaves it: `_fixed` marks rows already corrected, `names` holds the raw
    full names (never stored) for masking them in every table's free text. The columns in `packed` are
    held dictionary-encoded apart from `frame` (`_pack`, PACK_MIN_ROWS); `order` is the table's column order
    (columns added to `frame` later come after it); `whole()` is the table as one frame."""

    frame: pd.DataFrame
    ledger: TableLedger
    names: pd.Series
    packed: dict = field(default_factory=dict)
    order: list = field(default_factory=list)
    distinct: tuple = ()        # ID columns whose present values all differ (the key, its duplicates rejected)

    def column(self, name: str) -> pd.Series:
        """One column of the table as a "string" (or its own dtype) Series."""
        if name not in self.packed:
            return self.frame[name]
        import pyarrow as pa

        values = self.packed[name].cast(pa.large_string())
        return pd.Series(pd.arrays.ArrowStringArray(values), index=self.frame.index, dtype="string", name=name)

    def whole(self) -> pd.DataFrame:
        """The table as one frame in its column order, without `_fixed`."""
        if not self.packed:
            return self.frame.drop(columns="_fixed")
        columns = [c for c in self.order if c in self.frame or c in self.packed]
        columns += [c for c in self.frame.columns if c not in columns]
        df = self.frame.copy(deep=False)
        for name in self.packed:
            df[name] = self.column(name)
        return df[[c for c in columns if c != "_fixed"]]


@dataclass
class _FileRead:
    """One file parsed into canonical columns, every row kept (rejections are marks, not drops)."""

    out: pd.DataFrame           # parsed canonical values
    text: pd.DataFrame          # the mapped cells as text (exact duplicates are compared on these)
    reject: pd.Series
    fixed: pd.Series
    rows: pd.Series             # source row numbers
    ledger: TableLedger
    names: pd.Series
    preset: Preset | None

    def split(self, ledgers: list[TableLedger], bounds: np.ndarray) -> list[_FileRead]:
        """Files parsed as one (`_parse_files`) -> one read per file, rows ``bounds[i]:bounds[i + 1]`` with
        ``ledgers[i]`` (the raw full names go with the first: the table keeps each once)."""
        none = self.names.iloc[:0]
        return [_FileRead(self.out.iloc[lo:hi], self.text.iloc[lo:hi], self.reject.iloc[lo:hi], self.fixed.iloc[lo:hi],
                          self.rows.iloc[lo:hi], ledger, self.names if i == 0 else none, self.preset)
                for i, (ledger, lo, hi) in enumerate(zip(ledgers, bounds[:-1], bounds[1:]))]


class _FilesLedger:
    """The ledgers of files parsed as one (`_parse_files`), rows ``bounds[i]:bounds[i + 1]`` being file i's:
    each count, example and sample goes to the file its rows came from; a note of the whole column (values
    read by a default, `TableLedger.notes`) to the first, the table's ledger summing the files'."""

    def __init__(self, ledgers: list[TableLedger], bounds: np.ndarray):
        self.ledgers, self.bounds = ledgers, bounds
        self.notes = ledgers[0].notes

    def _files(self, hit: np.ndarray):
        for ledger, lo, hi in zip(self.ledgers, self.bounds[:-1], self.bounds[1:]):
            if hit[lo:hi].any():
                yield ledger, lo, hi

    def note(self, kind: str, reason: str, mask: pd.Series, row_numbers: pd.Series) -> None:
        hit = mask.to_numpy(bool)
        for ledger, lo, hi in self._files(hit):
            ledger.note(kind, reason, mask.iloc[lo:hi], row_numbers.iloc[lo:hi])

    def sample(self, reason: str, values: pd.Series) -> None:
        """`values`: rows of the joined files (labelled by position), e.g. those rejected for `reason`."""
        at = np.zeros(self.bounds[-1], bool)
        at[values.index.to_numpy()] = True
        for ledger, lo, hi in self._files(at):
            ledger.sample(reason, values[(values.index >= lo) & (values.index < hi)])


@dataclass
class _Opened:
    """One file read into raw cells, its preset found and its headers mapped (`_open_file`): what
    `_parse_files` turns into canonical columns, on its own or joined with files of the same shape."""

    source: FileSource
    raw: RawTable
    preset: Preset | None
    mapping: dict[str, str]
    ledger: TableLedger
    header_row: int

    @property
    def shape(self) -> tuple | None:
        """What consecutive files must share to be parsed as one (`_parse_files`): preset, mapped headers,
        every raw header and the source's constants. None: parsed on its own — a workbook (its formulas
        and re-decoded cells are checked file by file) or a preset that collapses a file's rows."""
        if self.raw.from_excel or (self.preset is not None and self.preset.collapse):
            return None
        return (self.preset.id if self.preset is not None else None, tuple(self.mapping.items()),
                tuple(map(str, self.raw.frame.columns)), self.source.channel, self.source.month)


def _open_file(source: FileSource) -> _Opened:
    """A file's raw cells, its preset (detected, or the one the config forces) and its header mapping."""
    table = TABLES[source.table]
    base_index = _alias_index(table, source.columns)
    known = set(base_index) | presets.known_headers()
    grid, header_row, from_excel = read_grid(source.path, known, sheet=source.sheet, encoding=source.encoding,
                                             delimiter=source.delimiter)
    if grid.empty:
        raise InputError(f"{source.path}: the file is empty; expected a header row and at least one data row")
    forced = presets.all_presets().get(source.preset) if source.preset else None
    headerless = forced if forced is not None and forced.headerless else None
    if headerless is None and not source.preset and not source.columns:
        headerless = presets.headerless_match(list(grid.iloc[0]), table.name)
        if headerless is not None and presets.detect([str(v) for v in grid.iloc[0] if pd.notna(v)], table.name,
                                                     str(source.path)) is not None:
            headerless = None
    if headerless is not None:      # no header row: the preset's field order names the columns
        names = list(headerless.headerless) + [f"__extra{i}" for i in range(grid.shape[1] - len(headerless.headerless))]
        grid = pd.concat([pd.DataFrame([names[:grid.shape[1]]], index=[-1], columns=grid.columns), grid])
        preset = headerless
    raw = to_raw_table(grid, source.path, from_excel)
    if headerless is None:
        preset = presets.detect(list(raw.frame.columns), table.name, str(source.path), source.preset)
    index = _alias_index(table, source.columns, preset)
    derived = set(preset.derive) | set(preset.constants) if preset is not None else set()
    for col in ("channel", "month"):
        if getattr(source, col):
            derived.add(col)
    mapping = _map_columns(raw, table, index, derived, preset)
    ledger = TableLedger(table.name, source.path.name, read=len(raw.frame), columns=dict(mapping),
                         ignored_columns=[h for h in raw.frame.columns if h not in mapping],
                         preset=preset.id if preset is not None else None)
    return _Opened(source, raw, preset, mapping, ledger, header_row)


def _parse_files(files: list[_Opened], config: AuditConfig, salt: str,
                 shared: dict[str, coerce.SharedFormat] | None = None) -> list[_FileRead]:
    """Opened files of one shape (`_Opened.shape`) parsed as one: the preset's structure and vocabularies
    applied, types coerced, every step once over their rows joined; reasons and fixes go to each file's
    own ledger (`_FilesLedger`), and each file gets its own `_FileRead`. `shared` (column ->
    `coerce.SharedFormat`, one per table) carries each date column's format from the table's earlier
    files. A column's reading (date format, day/month order, separators) is decided on all of them
    together, as for one export; where their values contradict each other (`coerce.EvidenceConflict`) the
    caller opens and parses each file on its own. Each file's raw cells are let go once they are joined
    (or, alone, once its columns are mapped)."""
    head = files[0]
    source, preset, mapping = head.source, head.preset, head.mapping
    table = TABLES[source.table]
    from_excel = head.raw.from_excel        # a workbook is parsed on its own (`_Opened.shape`)
    if len(files) == 1:
        raw_frame, rows, problems, ledger = head.raw.frame, head.raw.row_numbers, head.raw.problems, head.ledger
    else:
        raw_frame = pd.concat([f.raw.frame for f in files], ignore_index=True)
        rows = pd.Series(np.concatenate([f.raw.row_numbers.to_numpy() for f in files]))
        reasons = list(dict.fromkeys(r for f in files for r in f.raw.problems))
        problems = {r: pd.Series(np.concatenate([
            f.raw.problems[r].reindex(f.raw.frame.index, fill_value=False).to_numpy(bool) if r in f.raw.problems
            else np.zeros(len(f.raw.frame), bool) for f in files])) for r in reasons}
        bounds = np.cumsum([0] + [len(f.raw.frame) for f in files])
        ledger = _FilesLedger([f.ledger for f in files], bounds)
        for f in files:     # their cells are in the joined frame now
            f.raw = None
    frame = raw_frame
    if preset is not None and preset.empty:
        frame = presets.blank_empty_markers(frame, preset.empty, list(dict.fromkeys([*mapping, *preset.headers_in(frame)])))
    cells = frame[list(mapping)].rename(columns=mapping)
    text = pd.DataFrame({c: coerce.as_text(cells[c], from_excel=from_excel) for c in cells.columns},
                        index=cells.index)
    if from_excel and file_kind(source.path) == "excel":
        _formula_check(text, mapping, table, source, head.header_row)
    blank = (text.isna().all(axis=1) if text.shape[1]      # the mapped cells, before constants and
             else pd.Series(False, index=text.index))       # derived columns fill every row
    if preset is not None:
        for col, values in presets.derive(frame, preset).items():
            text[col] = values
        for col, value in preset.constants.items():
            text[col] = pd.Series(value, index=text.index, dtype="string")
        text = presets.apply_values(text, preset)
    for col in ("channel", "month"):      # the source's constant wins over the file's and the preset's
        if getattr(source, col):
            text[col] = pd.Series(getattr(source, col), index=text.index, dtype="string")
    reject = pd.Series(False, index=text.index)
    if from_excel:      # csv lines in another encoding were re-decoded by the reader
        text, fixed = redecode_mojibake(text)
    else:
        fixed = pd.Series(False, index=text.index)

    total = presets.is_total_row(raw_frame, preset.total_rows if preset is not None else ()) & ~blank
    ledger.note("reasons", "total_row", total, rows)
    reject |= total
    skipped, skip_reason = presets.skipped_rows(frame, preset)
    ledger.note("reasons", skip_reason, skipped & ~reject & ~blank, rows)
    reject |= skipped & ~blank
    ledger.note("fixes", MIXED_ENCODING, fixed & ~blank, rows)
    ledger.note("reasons", "empty_row", blank & ~reject, rows)
    reject |= blank
    for reason, bad in problems.items():      # ragged rows, text in another encoding
        bad = bad.reindex(text.index, fill_value=False) & ~blank
        if reason.endswith(")"):
            ledger.note("fixes", reason, bad & ~reject, rows)
            fixed |= bad
        else:
            ledger.note("reasons", reason, bad & ~reject, rows)
            reject |= bad
    ids = presets.row_ids(frame, preset)
    if ids is not None:
        text["_row_id"] = ids
    del raw_frame, frame, cells     # every raw column of the files: not needed past here (memory of big exports)
    head.raw = None

    out = pd.DataFrame(index=text.index)
    names = pd.Series([], dtype="string")
    dates = preset.dates if preset is not None else ()
    for col in table.columns:
        if col.name not in text:
            continue
        values = text[col.name]
        if col.kind == OUTCOME:     # worked out from the stage below
            continue
        if col.kind in PARSERS:
            try:
                if col.kind == DATETIME and shared is not None:
                    parsed, bad = coerce.parse_datetime(values, dates, config.timezone,
                                                        shared.setdefault(col.name, coerce.SharedFormat()))
                elif col.kind in (DATETIME, MONTH):
                    parsed, bad = PARSERS[col.kind](values, dates, config.timezone)
                else:
                    parsed, bad = PARSERS[col.kind](values)
            except coerce.EvidenceConflict as exc:
                if len(files) > 1:      # files joined: the caller reads each on its own
                    raise
                first, second = exc.examples
                raise InputError(f"{source.path} (table '{table.name}', column {col.name}): the values contradict "
                                 f"each other — {exc.what}: '{first}' reads one way, '{second}' the other; export "
                                 f"the column in one format") from None
            assumed = int(parsed.attrs.get("assumed", 0))
            if assumed:
                which = "day_first" if col.kind in (DATETIME, MONTH) else "decimal"
                ledger.notes[f"assumed_{which}:{col.name}"] = ledger.notes.get(f"assumed_{which}:{col.name}", 0) + assumed
            checks = [(f"{REASON_PREFIX[col.kind]}:{col.name}", bad)]
            if col.kind in (DATETIME, MONTH, MONEY, NUMBER):
                checks.append((f"out_of_range:{col.name}", coerce.outside_domain(
                    parsed, col.domain, high=_ceiling(config, table.name, col)) & ~bad))
            for reason, bad in checks:
                if not bad.to_numpy(bool).any():     # nothing to count, sample, reject or blank
                    continue
                if col.required:
                    ledger.note("reasons", reason, bad & ~reject, rows)
                    ledger.sample(reason, values[bad & ~reject])
                    reject |= bad
                else:
                    ledger.note("fixes", f"{reason} (blanked)", bad & ~reject, rows)
                    ledger.sample(f"{reason} (blanked)", values[bad & ~reject])
                    fixed |= bad
                    parsed = parsed.mask(bad)
            values = parsed
        elif col.kind in (TEXT, CHANNEL):
            if col.kind == CHANNEL:      # mapped first: a PBX line number is a channel once `channels:` names it
                values = coerce.map_channel(values, config.channels)
            values, contact = mask_contacts(values, config.language)
            ledger.note("fixes", f"contact_in_text:{col.name} (masked)", contact & ~reject, rows)
            fixed |= contact
            if col.kind == CHANNEL:
                if col.required:
                    empty = values.isna()
                    ledger.note("fixes", f"empty:{col.name} (set to {UNKNOWN_CHANNEL[config.language]})",
                                empty & ~reject, rows)
                    fixed |= empty
                    values = values.fillna(UNKNOWN_CHANNEL[config.language])
        elif col.kind == ID:      # some CRMs key contacts by phone or e-mail: hashed like those columns
            for contact, found in (("phone", phone_ids(values)), ("email", email_ids(values))):
                if found.any():
                    ledger.note("fixes", f"{contact}_as_id:{col.name} (hashed)", found & ~reject, rows)
                    fixed |= found
                    values = values.mask(found, pseudonymise(values.where(found), contact, salt))
        elif col.kind == PII:
            if col.name == "full_name":
                names = values.where(~reject).dropna().drop_duplicates()
            values = pseudonymise(values, col.name, salt)
        if col.required and col.kind != CHANNEL:
            missing = values.isna() & text[col.name].isna() & ~blank
            ledger.note("reasons", f"missing:{col.name}", missing & ~reject, rows)
            reject |= missing
        out[col.name] = values
    if table.name == "leads":
        status = text["status"] if "status" in text else pd.Series(pd.NA, index=text.index, dtype="string")
        out["outcome"] = presets.lead_outcome(status, preset, config.stages)
    if preset is not None and preset.collapse and preset.collapse in out:
        # one row per product: the deal's first row stands for it, the others are collapsed into it
        repeat = out[preset.collapse].where(~reject).duplicated(keep="first") & ~reject & out[preset.collapse].notna()
        ledger.note("reasons", "product_row (collapsed)", repeat, rows)
        reject |= repeat
    read = _FileRead(out, text, reject, fixed, rows, ledger, names, preset)
    return [read] if len(files) == 1 else read.split([f.ledger for f in files], bounds)


def _formula_check(text: pd.DataFrame, mapping: dict[str, str], table: Table, source: FileSource,
                   header_row: int) -> None:
    """A required column of a workbook that came out mostly empty because its cells are formulas with
    no saved value: an error naming the column and the fix, not a table of 'missing' rows."""
    empty = [c for c in table.required if c in text and text[c].isna().mean() > 0.5]
    if not empty:
        return
    headers = [h for h, c in mapping.items() if c in empty]
    found = formulas_without_values(source.path, source.sheet, header_row, headers)
    if found:
        raise InputError(f"{source.path} (table '{table.name}'): column '{found[0]}' ({mapping[found[0]]}) holds "
                         f"formulas without saved values, so its cells read as empty; open the file in Excel and "
                         f"save it (откройте и сохраните файл в Excel), then run again")


# Consecutive files of a table with the same shape (`_Opened.shape`: a network's 345 payment exports) are parsed as
# one, up to this many rows: each step of `_parse_files` costs ≈ 60 ms of fixed work a file whatever its rows
# (pandas' per-call overhead over ≈ 20 columns and steps), which at 345 files of ≈ 18 k rows was half of the
# table's reading.
BATCH_ROWS = 1 << 18


def _read_table(source: TableSource, config: AuditConfig, salt: str, on_file: FileHook | None = None) -> _Read:
    """Every file of a table read (consecutive files of one shape parsed as one, `_parse_files`), then joined:
    rows repeated across overlapping exports are duplicates once (exact rows, then the table's ID), consistency
    fixes, types; the table's ledger is the sum of its files' (each file's counts kept under `files`)."""
    table = TABLES[source.table]
    parts = []
    shared: dict[str, coerce.SharedFormat] = {}     # a date column's format, found once for every file
    batch: list[_Opened] = []
    batch_rows = 0

    def parse() -> None:        # the files opened so far, as one (`_parse_files`), or one by one if they disagree
        nonlocal batch_rows
        try:
            parts.extend(_parse_files(batch, config, salt, shared))
        except coerce.EvidenceConflict:
            if len(batch) == 1:
                raise
            for opened in batch:        # opened again: their cells were let go, and nothing noted so far counts
                parts.extend(_parse_files([_open_file(opened.source)], config, salt, shared))
        batch.clear()
        batch_rows = 0

    for f in source.files:
        if on_file is not None:
            on_file(source.table, f.path, None)
        opened = _open_file(f)
        if on_file is not None:     # its rows are read (they are parsed with the files of its shape)
            on_file(source.table, f.path, opened.ledger.read)
        if batch and (opened.shape is None or opened.shape != batch[0].shape
                      or batch_rows + opened.ledger.read > BATCH_ROWS):
            parse()
        batch.append(opened)
        batch_rows += opened.ledger.read
    parse()
    sizes = [len(p.out) for p in parts]
    bounds = np.cumsum([0] + sizes)
    out = pd.concat([p.out for p in parts], ignore_index=True) if len(parts) > 1 else parts[0].out
    text = pd.concat([p.text for p in parts], ignore_index=True) if len(parts) > 1 else parts[0].text
    reject = pd.Series(np.concatenate([p.reject.to_numpy(bool) for p in parts]), index=out.index)
    fixed = pd.Series(np.concatenate([p.fixed.to_numpy(bool) for p in parts]), index=out.index)
    rows = pd.Series(np.concatenate([p.rows.to_numpy() for p in parts]), index=out.index)
    for part in parts:      # the files' own frames are in the joined ones now (memory of many exports)
        part.out = part.text = None

    def note(kind: str, reason: str, mask: pd.Series) -> None:
        for part, lo, hi in zip(parts, bounds[:-1], bounds[1:]):
            part.ledger.note(kind, reason, mask.iloc[lo:hi].reset_index(drop=True), part.rows)

    # Exact duplicates: the same raw cells in every mapped column (and the preset's row ID); the first is kept.
    # Two equal rows have equal keys: with a key column, only rows whose key repeats (or is missing) are compared.
    codes = pd.factorize(out[table.key])[0] if table.key and table.key in out else None
    if codes is None:
        dup = text.duplicated(keep="first") & ~reject
    else:
        repeats = np.bincount(codes[codes >= 0], minlength=1)[np.maximum(codes, 0)] > 1
        could = (codes < 0) | repeats
        dup = pd.Series(False, index=text.index)
        if could.any():
            dup[could] = text[could].duplicated(keep="first").to_numpy()
        dup &= ~reject
    note("reasons", "duplicate_row", dup)
    reject |= dup
    del text
    if codes is not None:       # rejected rows count as one missing key, as before (`where(~reject)`)
        keyed = pd.Series(np.where(reject.to_numpy() | (codes < 0), -1, codes))
        dup_key = pd.Series(keyed.duplicated(keep="first").to_numpy(), index=out.index) & ~reject
        note("reasons", f"duplicate_id:{table.key}", dup_key)
        reject |= dup_key
    out = _fix_table(table.name, out, note, reject)
    fixed |= out.pop("_fixed")
    for part, lo, hi in zip(parts, bounds[:-1], bounds[1:]):
        part.ledger.rejected = int(reject.iloc[lo:hi].sum())
        part.ledger.used = part.ledger.read - part.ledger.rejected
        part.ledger.fixed = int((fixed.iloc[lo:hi] & ~reject.iloc[lo:hi]).sum())
    ledger = TableLedger.combine(table.name, [p.ledger for p in parts])
    keep = ~reject.to_numpy()
    aggregate = next((p.preset.aggregate for p in parts if p.preset is not None and p.preset.aggregate), None)
    # packed before the rejected rows are dropped: the rows kept are a copy, of codes rather than of text
    packed = {} if aggregate else _pack(out, table)
    out = out.drop(columns=list(packed))
    result = out.loc[keep].reset_index(drop=True) if not keep.all() else out     # no copy when every row is kept
    result["_source_row"] = rows[keep].to_numpy()
    result = _finalise_dtypes(result, table)
    result["_fixed"] = fixed.to_numpy()[keep]
    if aggregate:
        result = _aggregate(result, aggregate, ledger, table)
    names = pd.concat([pd.Series([], dtype="string")] + [p.names for p in parts], ignore_index=True)
    distinct = (table.key,) if codes is not None and not aggregate else ()
    if not packed:
        return _Read(result, ledger, names.drop_duplicates(), distinct=distinct)
    if not keep.all():
        import pyarrow as pa

        mask = pa.array(keep)
        packed = {name: values.filter(mask) for name, values in packed.items()}
    order = list(result.columns)        # `conform` put an empty column where each packed one goes
    return _Read(result.drop(columns=list(packed)), ledger, names.drop_duplicates(), packed, order, distinct)


def _aggregate(df: pd.DataFrame, spec: dict, ledger: TableLedger, table: Table) -> pd.DataFrame:
    """Rows that are events (one per site visit) summed into the table's grain (sessions per month and
    channel); the first source row of each group is kept, and every used row is counted as a fix."""
    by, total = list(spec["by"]), spec["sum"]
    if "month" in by and ("month" not in df or df["month"].isna().all()):
        df["month"] = df["date"].dt.to_period("M").dt.to_timestamp()
    grouped = (df.groupby(by, sort=True, dropna=False)
               .agg(**{total: (total, "sum"), "_source_row": ("_source_row", "min"), "_fixed": ("_fixed", "max")})
               .reset_index())
    ledger.fixes[f"counted_into:{total}"] = len(df)
    return _finalise_dtypes(grouped.drop(columns=["_fixed"]), table).assign(_fixed=grouped["_fixed"].to_numpy())


def _ceiling(config: AuditConfig, table: str, col) -> float | None:
    """The money ceiling of a table when `options.money_ceiling` raises it (schema.MONEY_CEILING else)."""
    if col.kind != MONEY:
        return None
    raised = (config.options.get("money_ceiling") or {}) if hasattr(config, "options") else {}
    return float(raised[table]) if table in raised else None


def mask_known_names(tables: dict[str, _Read], tokens: pd.Series, language: str) -> None:
    """Person names masked in every free-text column of the patient-side tables: the patients' names
    (from any table's `full_name`) in any grammatical case, and words the analyser takes for a name
    (ingest/names.py); staff tables keep their doctors' names. Each cell counted as fixed."""
    for name, read in tables.items():
        if name in STAFF_TABLES:
            continue
        df, rows = read.frame, read.frame["_source_row"]
        for col in TABLES[name].columns:
            if col.kind not in (TEXT, CHANNEL) or (col.name not in df and col.name not in read.packed):
                continue
            if col.name in read.packed:     # the distinct values are the dictionary's
                read.packed[col.name], hit = _mask_packed(read.packed[col.name], tokens, language, df.index)
            else:
                df[col.name], hit = mask_names(df[col.name], tokens, language)
            read.ledger.note("fixes", f"name_in_text:{col.name} (masked)", hit, rows)
            _count_fixed(read, hit)


def _mask_packed(encoded, tokens: pd.Series, language: str, index: pd.Index):
    """`mask_names` on a dictionary-encoded column (one dictionary in every chunk, `_Read.pack`): the names
    masked in the dictionary, which holds each distinct value once, as `coerce.on_distinct` does on a
    "string" column; returns the column and the bool mask of rows changed."""
    import pyarrow as pa

    dictionary = encoded.chunk(0).dictionary
    new, changed = mask_names(pd.Series(pd.arrays.ArrowStringArray(dictionary.cast(pa.large_string())),
                                        dtype="string"), tokens, language)
    changed = changed.to_numpy(bool)
    if not changed.any():
        return encoded, pd.Series(False, index=index)
    codes = np.concatenate([np.zeros(0, dtype=np.int64)] + [
        c.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64) for c in encoded.chunks])
    hit = (codes >= 0) & changed[np.maximum(codes, 0)]
    values = arrow_ids(new).cast(dictionary.type)       # the masked dictionary as one Arrow array
    out = pa.chunked_array([pa.DictionaryArray.from_arrays(c.indices, values) for c in encoded.chunks])
    return out, pd.Series(hit, index=index)


def _pack(df: pd.DataFrame, table: Table) -> dict:
    """The low-variety "string" columns of a table of PACK_MIN_ROWS rows or more (no ID family's, no personal
    data), dictionary-encoded (one dictionary in every chunk): column -> pyarrow ChunkedArray."""
    import pyarrow.compute as pc

    packed: dict = {}
    if len(df) < PACK_MIN_ROWS:
        return packed
    for col in table.columns:
        if (col.name not in df or col.kind == PII or family_of(col.name) is not None
                or df[col.name].dtype != "string" or not isinstance(df[col.name].array, pd.arrays.ArrowStringArray)):
            continue
        encoded = pc.dictionary_encode(df[col.name].array.__arrow_array__()).unify_dictionaries()
        if encoded.num_chunks and len(encoded.chunk(0).dictionary) <= PACK_MAX_SHARE * len(df):
            packed[col.name] = encoded
    return packed


def _count_fixed(read: _Read, rows: pd.Series) -> None:
    """Mark rows fixed by a step after the table was read and keep the ledger's `fixed` in step."""
    new = rows.to_numpy(bool) & ~read.frame["_fixed"].to_numpy(bool)
    read.ledger.fixed += int(new.sum())
    read.frame["_fixed"] = read.frame["_fixed"].to_numpy(bool) | rows.to_numpy(bool)


def _fix_table(name: str, out: pd.DataFrame, note, reject: pd.Series) -> pd.DataFrame:
    """Table-specific consistency fixes (end before start -> end blanked)."""
    fixed = pd.Series(False, index=out.index)
    for start, end in (("slot_start", "slot_end"), ("started_at", "ended_at"), ("shift_start", "shift_end")):
        if start in out and end in out:
            bad = out[end].notna() & out[start].notna() & (out[end] <= out[start])
            if name == "schedule":
                # A shift that ends "before" it starts crosses midnight: end on the next day.
                note("fixes", f"{end} before {start} (moved to next day)", bad & ~reject)
                out.loc[bad, end] = out.loc[bad, end] + pd.Timedelta(days=1)
            else:
                note("fixes", f"{end} before {start} (blanked)", bad & ~reject)
                out.loc[bad, end] = pd.NaT
            fixed |= bad
    out["_fixed"] = fixed
    return out


def _finalise_dtypes(df: pd.DataFrame, table: Table) -> pd.DataFrame:
    """The parsed table on the contract (`schema.conform`): metrics can rely on every column."""
    return conform(df, table)


# Tables read by two threads at once when the inputs are at least this large. Every table is read on its own
# until names are masked across tables (`ingest`), and most of a table's reading runs in pyarrow's and pandas'
# kernels, which release the GIL: two threads use both cores for much of it, with no copy of any table (worker
# processes were measured too: sending the tables back cost more than they saved, and their memory adds up).
# Smaller inputs are read one table after the other, as the tests and the demo always were; so are inputs above
# PARALLEL_MAX_BYTES (not measured there), where two tables' intermediate frames at once may cost more memory than
# the time is worth. Measured (bench_ingest.py, two tables at once vs one after the other, same load): 35 branches
# (250 MB of csv) 15.5 vs 18.6 s (median of 3 pairs, load ≈ 1), peak RSS 0.98 vs 0.85 GB; 345 branches (2.5 GB,
# load ≈ 2) with every table held as "string" columns 72.9 vs 82.6 s but peak RSS 6.43 vs 5.67 GB, so inputs
# above 1 GB were read table by table. With a large table's text packed (`_pack`), the memory each table's reading
# freed handed back (RELEASE_BYTES) and Arrow's buffers in jemalloc, 345 branches read two tables at a time peak
# at 4.31–4.47 GB (two runs; 4.71–4.80 GB with mimalloc, the pool Arrow uses by default).
PARALLEL_BYTES = 64 << 20
PARALLEL_MAX_BYTES = 4 << 30
# Inputs from this size on hand the memory a table's reading freed back to the system as each table is read
# (`memory.release_memory`; the allocators otherwise keep it, each thread's apart), with Arrow's buffers in
# jemalloc's pool (`memory.use_pool`).
RELEASE_BYTES = 256 << 20
INGEST_THREADS = 2
# What reading one more file costs, in bytes of a file's reading (header, preset, date formats verified): the
# tables are started costliest first (a network's 345 payment files before its one larger calls export).
FILE_COST_BYTES = 2 << 20


def _read_tables(config: AuditConfig, salt: str, on_file: FileHook | None = None) -> dict[str, _Read]:
    """Every table of the config read (`_read_table`), in the config's order: by two threads when the inputs
    are large but not huge (`PARALLEL_BYTES`, `PARALLEL_MAX_BYTES`), the costliest tables started first; else
    one after the other. `on_file` is called from one thread at a time. An error is the one the first failing table (in the config's order)
    raises, as when the tables are read one after the other."""
    sources = config.sources
    cost = {name: sum(f.path.stat().st_size + FILE_COST_BYTES for f in src.files if f.path.is_file())
            for name, src in sources.items()}
    threads = min(INGEST_THREADS, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else
                  (os.cpu_count() or 1), len(sources))
    large = sum(cost.values()) >= RELEASE_BYTES
    if large:
        use_pool("jemalloc")

    def read(source: TableSource, hook: FileHook | None) -> _Read:
        done = _read_table(source, config, salt, hook)
        if large:
            release_memory(collect=False)
        return done

    if threads < 2 or not PARALLEL_BYTES <= sum(cost.values()) <= PARALLEL_MAX_BYTES:
        return {name: read(source, on_file) for name, source in sources.items()}
    import threading
    from concurrent.futures import ThreadPoolExecutor

    lock = threading.Lock()

    def hook(table: str, path: Path, rows: int | None) -> None:
        with lock:
            on_file(table, path, rows)

    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="ingest") as pool:
        futures = {name: pool.submit(read, sources[name], hook if on_file else None)
                   for name in sorted(sources, key=lambda n: -cost[n])}
        try:
            return {name: futures[name].result() for name in sources}
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise


def ingest(config: AuditConfig, on_file: FileHook | None = None) -> IngestResult:
    """Every table the config names -> canonical tables and the ledger. Raises InputError.

    After every table is read: patient names from any table are masked in every table's free text,
    and leads missing patient_id or call_id are linked by hashed phone (ingest/link.py). `on_file(table,
    path, rows)` is told of each file as it starts (rows None) and when it is read (its rows)."""
    salt = load_salt(config.salt_file)
    reads = _read_tables(config, salt, on_file)
    for name, read in reads.items():
        if read.ledger.read and not read.ledger.used:
            files = ", ".join(str(p) for p in config.sources[name].paths)
            raise InputError(f"{files}: no usable row in table '{name}': {read.ledger.loss()}. Check the "
                             f"column mapping (data.{name}.columns in audit.yaml) or the export itself")
    tokens = name_tokens(pd.concat([pd.Series([], dtype="string")] + [r.names for r in reads.values()],
                                   ignore_index=True))
    mask_known_names(reads, tokens, config.language)
    link_by_phone(reads, window_minutes=config.options.get("phone_link_window_minutes", 60), mark=_count_fixed)
    ledger = Ledger({name: r.ledger for name, r in reads.items()})
    return IngestResult(_Tables(reads), ledger)


class _Tables(MutableMapping):
    """`IngestResult.tables` as `ingest` returns it: each table made one frame when it is asked for
    (`_Read.whole`), so that its packed columns are decoded one table at a time as `save_tables` writes them."""

    def __init__(self, reads: dict[str, _Read]):
        self._items: dict = dict(reads)

    def __getitem__(self, name: str) -> pd.DataFrame:
        item = self._items[name]
        return item.whole() if isinstance(item, _Read) else item

    def __setitem__(self, name: str, df: pd.DataFrame) -> None:
        self._items[name] = df

    def __delitem__(self, name: str) -> None:
        del self._items[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def clear(self) -> None:
        self._items.clear()

    def ids(self, name: str) -> pd.DataFrame:
        """The table's ID columns (never packed) without making the whole frame."""
        item = self._items[name]
        frame = item.frame if isinstance(item, _Read) else item
        return frame[[c for c in frame.columns if family_of(c) is not None]]

    def rows(self, name: str) -> int:
        item = self._items[name]
        return len(item.frame if isinstance(item, _Read) else item)

    def distinct(self, name: str) -> tuple:
        """The table's ID columns whose present values all differ, as ingest left them (`_Read.distinct`); none
        known of a frame set from outside."""
        item = self._items[name]
        return item.distinct if isinstance(item, _Read) else ()


# How the run folder's tables are written: every module reads them whole, nothing filters on statistics,
# and mostly-unique IDs and timestamps gain nothing from dictionary pages. Measured on the 35-branch network
# (1.95 M rows): writing 0.7 s of CPU instead of 1.2 s with pyarrow's defaults (dictionary, statistics,
# snappy), reading them back 0.54 s instead of 0.70 s, 89 MB instead of 64 MB on disk.
PARQUET_OPTIONS = {"compression": "lz4", "use_dictionary": False, "write_statistics": False}


def save_tables(result: IngestResult, run_dir: Path) -> None:
    """Canonical tables as parquet plus ledger.json in the run folder."""
    folder = Path(run_dir) / "tables"
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.parquet"):      # a table dropped from the config must not linger
        stale.unlink()
    from concurrent.futures import ThreadPoolExecutor

    tables = result.tables if isinstance(result.tables, _Tables) else _Tables(dict(result.tables))
    # int32 <family>_key next to each ID (keys.py), coded from the ID columns alone; a key whose duplicates ingest
    # rejected, when no other table holds its family, coded without hashing it again
    codes = family_codes({name: tables.ids(name) for name in tables}, {name: tables.distinct(name) for name in tables})

    def write(name: str) -> None:       # each table made whole (`_Tables`) only while it is written
        with_keys(tables[name], codes[name]).to_parquet(folder / f"{name}.parquet", index=False, **PARQUET_OPTIONS)

    # two tables written at once: pyarrow's writer encodes and compresses without the GIL (at 345 branches
    # 9.9–11.1 s of wall for 16–18 CPU s)
    size = {name: tables.rows(name) for name in tables}
    with ThreadPoolExecutor(max_workers=INGEST_THREADS) as pool:
        for done in [pool.submit(write, name) for name in sorted(tables, key=lambda n: -size[n])]:
            done.result()
    (Path(run_dir) / "ledger.json").write_text(json.dumps(result.ledger.to_dict(), ensure_ascii=False, indent=2),
                                               encoding="utf-8")


def load_tables(run_dir: Path) -> IngestResult:
    """Read back what `save_tables` wrote."""
    folder = Path(run_dir) / "tables"
    tables = {p.stem: pd.read_parquet(p) for p in sorted(folder.glob("*.parquet"))}
    ledger = Ledger.from_dict(json.loads((Path(run_dir) / "ledger.json").read_text(encoding="utf-8")))
    return IngestResult(tables, ledger)
