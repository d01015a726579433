"""Ingest: read → map columns → coerce types → validate → pseudonymise → canonical table + ledger.

`ingest(config)` does it for every table the config names; `save_tables` / `load_tables`
keep the canonical tables as parquet in the run folder.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..config import AuditConfig, TableSource
from ..errors import InputError
from . import coerce
from .keys import add_keys
from .ledger import Ledger, TableLedger
from .link import link_by_phone
from .pii import email_ids, load_salt, mask_contacts, mask_names, name_tokens, phone_ids, pseudonymise
from .readers import MIXED_ENCODING, RawTable, read_grid, redecode_mojibake, to_raw_table
from .schema import (BOOL, CHANNEL, DATETIME, ID, MONEY, MONTH, NUMBER, PII, STAFF_TABLES, STATUS, TABLES,
                     TEXT, Table)

UNKNOWN_CHANNEL = {"ru": "(не указан)", "en": "(not given)"}
PARSERS = {DATETIME: coerce.parse_datetime, MONTH: coerce.parse_month, MONEY: coerce.parse_number,
           NUMBER: coerce.parse_number, BOOL: coerce.parse_bool, STATUS: coerce.parse_status}
REASON_PREFIX = {DATETIME: "invalid_date", MONTH: "invalid_month", MONEY: "invalid_number",
                 NUMBER: "invalid_number", BOOL: "invalid_yes_no", STATUS: "unknown_status"}


@dataclass
class IngestResult:
    tables: dict[str, pd.DataFrame]
    ledger: Ledger


def _alias_index(table: Table, extra: dict[str, str]) -> dict[str, str]:
    """Normalised raw header -> canonical column; config mapping first, then names, then aliases."""
    index: dict[str, str] = {}
    for raw, canon in extra.items():
        index.setdefault(coerce.normalise_header(raw), canon)
    for col in table.columns:
        index.setdefault(coerce.normalise_header(col.name), col.name)
    for alt_for, alt in table.alternatives.items():
        index.setdefault(coerce.normalise_header(alt), alt)
    for col in table.columns:
        for alias in col.aliases:
            index.setdefault(coerce.normalise_header(alias), col.name)
    return index


def _map_columns(raw: RawTable, table: Table, source: TableSource, index: dict[str, str]) -> dict[str, str]:
    mapping: dict[str, str] = {}
    taken: set[str] = set()
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
        raise InputError(
            f"{raw.file} (table '{table.name}'): required column '{col}' not found"
            f"{' (also missing: ' + ', '.join(missing[1:]) + ')' if len(missing) > 1 else ''}. "
            f"Headers in the file: {headers}. Add the mapping in audit.yaml under "
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
    """One raw export -> canonical DataFrame and its ledger entry (the table's own names masked in its text)."""
    read = _read_table(source, config, salt)
    mask_known_names({source.table: read}, name_tokens(read.names), config.language)
    return read.frame.drop(columns="_fixed"), read.ledger


@dataclass
class _Read:
    """A table as `_read_table` leaves it: `_fixed` marks rows already corrected, `names` holds the raw
    full names (never stored) for masking them in every table's free text."""

    frame: pd.DataFrame
    ledger: TableLedger
    names: pd.Series


def _read_table(source: TableSource, config: AuditConfig, salt: str) -> _Read:
    table = TABLES[source.table]
    index = _alias_index(table, source.columns)
    grid, _, from_excel = read_grid(source.path, set(index), sheet=source.sheet, encoding=source.encoding,
                                    delimiter=source.delimiter)
    if grid.empty:
        raise InputError(f"{source.path}: the file is empty; expected a header row and at least one data row")
    raw = to_raw_table(grid, source.path, from_excel)
    mapping = _map_columns(raw, table, source, index)
    ledger = TableLedger(table.name, source.path.name, read=len(raw.frame), columns=dict(mapping),
                         ignored_columns=[h for h in raw.frame.columns if h not in mapping])
    rows = raw.row_numbers
    cells = raw.frame[list(mapping)].rename(columns=mapping)
    text = pd.DataFrame({c: coerce.as_text(cells[c], from_excel=raw.from_excel) for c in cells.columns},
                        index=cells.index)
    reject = pd.Series(False, index=text.index)
    if raw.from_excel:      # csv lines in another encoding were re-decoded by the reader
        text, fixed = redecode_mojibake(text)
    else:
        fixed = pd.Series(False, index=text.index)

    blank = text.isna().all(axis=1)
    ledger.note("fixes", MIXED_ENCODING, fixed & ~blank, rows)
    ledger.note("reasons", "empty_row", blank, rows)
    reject |= blank
    for reason, bad in raw.problems.items():      # ragged rows, text in another encoding
        bad = bad.reindex(text.index, fill_value=False) & ~blank
        if reason.endswith(")"):
            ledger.note("fixes", reason, bad & ~reject, rows)
            fixed |= bad
        else:
            ledger.note("reasons", reason, bad & ~reject, rows)
            reject |= bad

    out = pd.DataFrame(index=text.index)
    names = pd.Series([], dtype="string")
    for col in table.columns:
        if col.name not in text:
            continue
        values = text[col.name]
        if col.kind in PARSERS:
            parsed, bad = PARSERS[col.kind](values)
            if col.required:
                ledger.note("reasons", f"{REASON_PREFIX[col.kind]}:{col.name}", bad & ~reject, rows)
                reject |= bad
            else:
                ledger.note("fixes", f"{REASON_PREFIX[col.kind]}:{col.name} (blanked)", bad & ~reject, rows)
                fixed |= bad
            values = parsed
        elif col.kind in (TEXT, CHANNEL):
            values, contact = mask_contacts(values, config.language)
            ledger.note("fixes", f"contact_in_text:{col.name} (masked)", contact & ~reject, rows)
            fixed |= contact
            if col.kind == CHANNEL:
                values = coerce.map_channel(values, config.channels)
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

    # Exact duplicates: the same raw cells in every mapped column; the first is kept.
    dup = text.duplicated(keep="first") & ~reject
    ledger.note("reasons", "duplicate_row", dup, rows)
    reject |= dup
    if table.key and table.key in out:
        dup_key = out[table.key].where(~reject).duplicated(keep="first") & ~reject
        ledger.note("reasons", f"duplicate_id:{table.key}", dup_key, rows)
        reject |= dup_key
    out = _fix_table(table.name, out, ledger, rows, reject)
    fixed |= out.pop("_fixed")

    ledger.rejected = int(reject.sum())
    ledger.used = ledger.read - ledger.rejected
    ledger.fixed = int((fixed & ~reject).sum())
    keep = ~reject.to_numpy()
    result = out.loc[keep].reset_index(drop=True)
    result["_source_row"] = rows[keep].to_numpy()
    result = _finalise_dtypes(result, table)
    result["_fixed"] = fixed.to_numpy()[keep]
    return _Read(result, ledger, names)


def mask_known_names(tables: dict[str, _Read], tokens: pd.Series, language: str) -> None:
    """Words of the patients' names (from any table's `full_name`) masked in every free-text column
    of the patient-side tables (staff tables keep their doctors' names); each cell counted as fixed."""
    if tokens.empty:
        return
    for name, read in tables.items():
        if name in STAFF_TABLES:
            continue
        df, rows = read.frame, read.frame["_source_row"]
        for col in TABLES[name].columns:
            if col.kind not in (TEXT, CHANNEL) or col.name not in df:
                continue
            df[col.name], hit = mask_names(df[col.name], tokens, language)
            read.ledger.note("fixes", f"name_in_text:{col.name} (masked)", hit, rows)
            _count_fixed(read, hit)


def _count_fixed(read: _Read, rows: pd.Series) -> None:
    """Mark rows fixed by a step after the table was read and keep the ledger's `fixed` in step."""
    new = rows.to_numpy(bool) & ~read.frame["_fixed"].to_numpy(bool)
    read.ledger.fixed += int(new.sum())
    read.frame["_fixed"] = read.frame["_fixed"].to_numpy(bool) | rows.to_numpy(bool)


def _fix_table(name: str, out: pd.DataFrame, ledger: TableLedger, rows: pd.Series, reject: pd.Series) -> pd.DataFrame:
    """Table-specific consistency fixes (end before start -> end blanked)."""
    fixed = pd.Series(False, index=out.index)
    for start, end in (("slot_start", "slot_end"), ("started_at", "ended_at"), ("shift_start", "shift_end")):
        if start in out and end in out:
            bad = out[end].notna() & out[start].notna() & (out[end] <= out[start])
            if name == "schedule":
                # A shift that ends "before" it starts crosses midnight: end on the next day.
                ledger.note("fixes", f"{end} before {start} (moved to next day)", bad & ~reject, rows)
                out.loc[bad, end] = out.loc[bad, end] + pd.Timedelta(days=1)
            else:
                ledger.note("fixes", f"{end} before {start} (blanked)", bad & ~reject, rows)
                out.loc[bad, end] = pd.NaT
            fixed |= bad
    out["_fixed"] = fixed
    return out


def _finalise_dtypes(df: pd.DataFrame, table: Table) -> pd.DataFrame:
    for col in table.columns:
        if col.name not in df:
            continue
        if col.kind in (ID, TEXT, CHANNEL, PII, STATUS):
            df[col.name] = df[col.name].astype("string")
        elif col.kind in (DATETIME, MONTH):
            df[col.name] = pd.to_datetime(df[col.name]).astype("datetime64[ns]")
        elif col.kind in (MONEY, NUMBER):
            df[col.name] = df[col.name].astype("float64")
        elif col.kind == BOOL:
            df[col.name] = df[col.name].astype("boolean")
    # Optional columns the file lacks are added empty, so metrics can rely on the full contract.
    empty = {DATETIME: (pd.NaT, "datetime64[ns]"), MONTH: (pd.NaT, "datetime64[ns]"), MONEY: (float("nan"), "float64"),
             NUMBER: (float("nan"), "float64"), BOOL: (pd.NA, "boolean")}
    for col in table.columns:
        if col.name not in df:
            value, dtype = empty.get(col.kind, (pd.NA, "string"))
            df[col.name] = pd.Series(value, index=df.index, dtype=dtype)
    order = [c.name for c in table.columns] + ["_source_row"]
    return df[order]


def ingest(config: AuditConfig) -> IngestResult:
    """Every table the config names -> canonical tables and the ledger. Raises InputError.

    After every table is read: patient names from any table are masked in every table's free text,
    and leads missing patient_id or call_id are linked by hashed phone (ingest/link.py)."""
    salt = load_salt(config.salt_file)
    reads = {name: _read_table(source, config, salt) for name, source in config.sources.items()}
    tokens = name_tokens(pd.concat([pd.Series([], dtype="string")] + [r.names for r in reads.values()],
                                   ignore_index=True))
    mask_known_names(reads, tokens, config.language)
    link_by_phone(reads, window_minutes=config.options.get("phone_link_window_minutes", 60), mark=_count_fixed)
    ledger = Ledger({name: r.ledger for name, r in reads.items()})
    return IngestResult({name: r.frame.drop(columns="_fixed") for name, r in reads.items()}, ledger)


def save_tables(result: IngestResult, run_dir: Path) -> None:
    """Canonical tables as parquet plus ledger.json in the run folder."""
    folder = Path(run_dir) / "tables"
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.parquet"):      # a table dropped from the config must not linger
        stale.unlink()
    for name, df in add_keys(result.tables).items():     # int32 <family>_key next to each ID (keys.py)
        df.to_parquet(folder / f"{name}.parquet", index=False)
    (Path(run_dir) / "ledger.json").write_text(json.dumps(result.ledger.to_dict(), ensure_ascii=False, indent=2),
                                               encoding="utf-8")


def load_tables(run_dir: Path) -> IngestResult:
    """Read back what `save_tables` wrote."""
    folder = Path(run_dir) / "tables"
    tables = {p.stem: pd.read_parquet(p) for p in sorted(folder.glob("*.parquet"))}
    ledger = Ledger.from_dict(json.loads((Path(run_dir) / "ledger.json").read_text(encoding="utf-8")))
    return IngestResult(tables, ledger)
