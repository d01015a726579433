"""Read a raw export (csv, xlsx, xls or ods) into a frame of raw cell values, keeping source row numbers.

Encodings utf-8, utf-8-sig and cp1251; delimiters `,` `;` and tab; the header row is found
among the first rows (1C and MIS reports often put a title above it).
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..errors import InputError

ENCODINGS = ("utf-8-sig", "cp1251")
DELIMITERS = ",;\t"
HEADER_SCAN_ROWS = 15


@dataclass
class RawTable:
    """Raw cells as read (strings for csv; Excel-typed objects for xlsx) and where they came from."""

    frame: pd.DataFrame          # columns = raw headers as found; values untouched
    row_numbers: pd.Series       # source row number (1-based, as a spreadsheet shows it) per row
    file: Path
    from_excel: bool


def _decode(path: Path, encoding: str | None) -> tuple[str, str]:
    data = path.read_bytes()
    for enc in ([encoding] if encoding else ENCODINGS):
        try:
            return data.decode(enc), enc
        except (UnicodeDecodeError, LookupError):
            continue
    raise InputError(f"{path}: cannot decode the file as {' or '.join(ENCODINGS)}; save it as UTF-8 or Windows-1251 csv, or as xlsx")


def _sniff_delimiter(text: str) -> str:
    sample = "\n".join(text.splitlines()[:50])
    try:
        return csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        counts = {d: sample.count(d) for d in DELIMITERS}
        return max(counts, key=counts.get)


def find_header(rows: list[list], known: set[str]) -> int:
    """Index of the row among the first ones whose cells match the most known headers."""
    from .coerce import normalise_header

    best, best_hits = 0, -1
    for i, row in enumerate(rows[:HEADER_SCAN_ROWS]):
        hits = sum(1 for v in row if v is not None and str(v).strip() and normalise_header(str(v)) in known)
        if hits > best_hits:
            best, best_hits = i, hits
    return best


def read_grid(path: Path, known: set[str], *, sheet=None, encoding: str | None = None,
              delimiter: str | None = None) -> tuple[pd.DataFrame, int, bool]:
    """Cells from the header row down: (grid, header row index in the file (0-based), from_excel)."""
    suffix = path.suffix.lower()
    if path.stat().st_size == 0:
        raise InputError(f"{path}: the file is empty; expected a header row and at least one data row")
    try:
        if suffix in (".xlsx", ".xlsm", ".xls", ".ods"):
            # calamine (Rust) reads xlsx about ten times faster than openpyxl
            grid = pd.read_excel(path, sheet_name=0 if sheet is None else sheet, header=None, dtype=object,
                                 engine="calamine")
            head = find_header(grid.head(HEADER_SCAN_ROWS).values.tolist(), known)
            return grid.iloc[head:], head, True
        text, _ = _decode(path, encoding)
        if not text.strip():
            raise InputError(f"{path}: the file is empty; expected a header row and at least one data row")
        sep = delimiter or _sniff_delimiter(text)
        first = list(csv.reader(text.splitlines()[:HEADER_SCAN_ROWS], delimiter=sep))
        head = find_header(first, known)
        grid = pd.read_csv(io.StringIO(text), sep=sep, header=None, dtype=str, keep_default_na=False,
                           skip_blank_lines=False, skiprows=head, engine="c")
        grid.index = grid.index + head
        return grid, head, False
    except InputError:
        raise
    except pd.errors.EmptyDataError:
        raise InputError(f"{path}: the file is empty; expected a header row and at least one data row") from None
    except ValueError as exc:
        if "Worksheet" in str(exc) or "sheet" in str(exc).lower():
            raise InputError(f"{path}: sheet {sheet!r} not found: {exc}".splitlines()[0]) from None
        raise InputError(f"{path}: cannot read the file as {suffix.lstrip('.') or 'csv'}: {exc}".splitlines()[0]) from None
    except Exception as exc:  # zip/xml/tokenizer errors from a corrupt file
        raise InputError(f"{path}: cannot read the file ({type(exc).__name__}: {exc})".splitlines()[0]) from None


def to_raw_table(grid: pd.DataFrame, path: Path, from_excel: bool) -> RawTable:
    """First grid row is the header; data rows keep their 1-based source row numbers."""
    headers = [("" if pd.isna(h) else str(h)).strip() for h in grid.iloc[0]]
    frame = grid.iloc[1:].copy()
    frame.columns = _unique(headers)
    frame = frame.loc[:, [h for h in frame.columns if not h.startswith("__blank")]]
    row_numbers = pd.Series(frame.index.to_numpy() + 1, index=range(len(frame)))
    frame = frame.reset_index(drop=True)
    if frame.empty:
        raise InputError(f"{path}: the file has a header but no data rows; expected at least one row")
    return RawTable(frame, row_numbers, path, from_excel)


def _unique(headers: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for i, h in enumerate(headers):
        if not h:
            out.append(f"__blank{i}")
            continue
        n = seen.get(h, 0)
        seen[h] = n + 1
        out.append(h if n == 0 else f"{h}.{n}")
    return out
