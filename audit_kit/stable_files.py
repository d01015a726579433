"""Byte-stable files for generated exports (the demo clinic, the preset fixtures): the same input
writes the same bytes, so committed samples can be compared with what the generators write now.

`write_xlsx` fixes the document times and the zip entry times; `write_csv` adds raw lines before and
after the table (report titles, a closing row count). Both take a header (repeated names allowed, as
some exports have) and positional columns.
"""
from __future__ import annotations

import datetime as dt
import io
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

FIXED_STAMP = dt.datetime(2025, 4, 1)                # xlsx document properties
ZIP_TIME = (2025, 4, 1, 0, 0, 0)                     # xlsx zip entry times


def table(header, columns) -> tuple[list[str], pd.DataFrame]:
    """Header (duplicates allowed) and positional columns as one frame."""
    header = list(header)
    if len(header) != len(columns):
        raise ValueError(f"{len(header)} headers for {len(columns)} columns")
    body = pd.DataFrame({i: pd.Series(c).reset_index(drop=True) for i, c in enumerate(columns)})
    return header, body


def cells(col: pd.Series) -> list:
    """One column as Python cell values for openpyxl (datetimes as datetime, missing as None)."""
    if pd.api.types.is_datetime64_any_dtype(col):
        return col.to_numpy(dtype="datetime64[us]").astype(object).tolist()
    return [None if (v is None or (isinstance(v, float) and np.isnan(v))) else v for v in col.astype(object)]


def write_csv(path, header, columns, *, sep=",", encoding="utf-8", eol="\n", write_header=True,
              before: list[str] = (), after: list[str] = ()) -> Path:
    """Delimited text with an optional header row and extra raw lines before and after the table."""
    header, body = table(header, columns)
    text = body.to_csv(sep=sep, index=False, header=header if write_header else False, lineterminator=eol)
    text = "".join(line + eol for line in before) + text + "".join(line + eol for line in after)
    path = Path(path)
    path.write_bytes(text.encode(encoding))
    return path


def write_xlsx(path, header, columns, sheet: str, creator: str) -> Path:
    """An xlsx with real Excel dates and byte-stable output (fixed document times and zip entry times)."""
    from openpyxl import Workbook
    from openpyxl.writer.excel import ExcelWriter

    header, body = table(header, columns)
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(sheet)
    ws.append(header)
    for row in zip(*(cells(body[c]) for c in body.columns)):
        ws.append(row)
    wb.properties.creator = creator
    wb.properties.created = wb.properties.modified = FIXED_STAMP
    raw = io.BytesIO()
    with zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as archive:
        ExcelWriter(wb, archive).write_data()
    out = io.BytesIO()
    with zipfile.ZipFile(raw) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            entry = zipfile.ZipInfo(info.filename, date_time=ZIP_TIME)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o644 << 16
            entry.create_system = 3
            dst.writestr(entry, src.read(info.filename))
    path = Path(path)
    path.write_bytes(out.getvalue())
    return path
