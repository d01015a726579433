"""Cells as the systems write them (text, times, numbers, booleans, stages) and the file writers (csv,
xlsx, Bitrix24's HTML table saved as .xls)."""
from __future__ import annotations

import html
from pathlib import Path

import numpy as np
import pandas as pd

from .. import stable_files


# ---------------------------------------------------------------- helpers
def cell_text(col, empty: str = "") -> pd.Series:
    """A column as strings, missing (and empty) cells as `empty`."""
    s = pd.Series(col).astype("string").fillna("")
    return s.mask(s.eq(""), empty).astype(object) if empty else s.astype(object)


def cell_time(col, fmt: str, empty: str = "") -> pd.Series:
    """Timestamps formatted with strftime `fmt`; NaT as `empty`."""
    return pd.to_datetime(pd.Series(col)).dt.strftime(fmt).fillna(empty).astype(object)


def cell_int(col) -> pd.Series:
    return pd.Series(col).fillna(0).round().astype("int64")


def cell_bool(col) -> pd.Series:
    """Booleans as the strings true/false."""
    return pd.Series(np.where(pd.Series(col).astype(bool).to_numpy(), "true", "false"), index=pd.Series(col).index)


def cell_fixed(values, decimals: int = 2, point: str = ".") -> pd.Series:
    """Numbers as fixed-decimal text ('1234.50'), vectorised; missing as 0."""
    scale = 10 ** decimals
    v = pd.Series(values, dtype="float64").fillna(0.0)
    cents = np.round(v.to_numpy() * scale).astype("int64")
    whole = pd.Series(np.abs(cents) // scale, index=v.index).astype(str)
    frac = pd.Series(np.abs(cents) % scale, index=v.index).astype(str).str.zfill(decimals)
    sign = pd.Series(np.where(cents < 0, "-", ""), index=v.index)
    return (sign + whole + point + frac).astype(object)


def cell_comma(values, decimals: int = 2) -> pd.Series:
    """Numbers with a decimal comma and fixed decimals ('1234,50')."""
    return cell_fixed(values, decimals, ",")


def cell_epoch(col, timezone: str) -> pd.Series:
    """Local wall-clock Timestamps as Unix seconds."""
    t = pd.to_datetime(pd.Series(col)).dt.tz_localize(timezone)
    return ((t - pd.Timestamp("1970-01-01", tz="UTC")) // pd.Timedelta(seconds=1)).astype("int64")


def open_stages(outcome: pd.Series, choices: tuple[str, ...]) -> pd.Series:
    """An account's own stage for each open row, cycling through `choices` in row order (deterministic)."""
    k = outcome.eq("open").cumsum().sub(1).mod(len(choices)).to_numpy()
    return pd.Series(np.asarray(choices, dtype=object)[k], index=outcome.index)


def stage_names(outcome: pd.Series, won: str, lost: str, open_: tuple[str, ...]) -> pd.Series:
    return pd.Series(np.select([outcome.eq("won"), outcome.eq("lost")], [won, lost],
                               default=open_stages(outcome, open_).to_numpy()), index=outcome.index)


def write_csv(path, header, columns, **options) -> Path:
    return stable_files.write_csv(path, header, columns, **options)


def write_xlsx(path, header, columns, sheet: str) -> Path:
    return stable_files.write_xlsx(path, header, columns, sheet, creator="audit-kit system_exports")


def write_html_xls(path, header, columns) -> Path:
    """An HTML <table> saved as .xls, the way Bitrix24's "Excel" export writes it (UTF-8, CRLF)."""
    header, body = stable_files.table(header, columns)

    def esc(s: pd.Series) -> pd.Series:
        return (s.astype(str).str.replace("&", "&amp;", regex=False).str.replace("<", "&lt;", regex=False)
                .str.replace(">", "&gt;", regex=False).str.replace('"', "&quot;", regex=False))

    rows = pd.Series("<tr>", index=body.index, dtype=object)
    for c in body.columns:                                  # column by column, vectorised over rows
        rows = rows + "<td>" + esc(body[c]) + "</td>"
    rows = rows + "</tr>"
    head = "<tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in header) + "</tr>"
    lines = [
        "<html>",
        "<head>",
        '<meta http-equiv="Content-type" content="text/html;charset=utf-8" />',
        "<style>td {mso-number-format:\\@;}</style>",
        "</head>",
        "<body>",
        '<table border="1">',
        head,
        *rows.tolist(),
        "</table>",
        "</body>",
        "</html>",
    ]
    path = Path(path)
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("utf-8"))
    return path


def deal_budget(leads: pd.DataFrame) -> pd.Series:
    return cell_int(leads["budget"]) if "budget" in leads else pd.Series(0, index=leads.index, dtype="int64")


def blank_cells(n: int) -> pd.Series:
    return pd.Series([""] * n, dtype=object)
