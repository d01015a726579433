"""Assertion-free helpers shared by the metric tests (like seaborn's _testing.py)."""
from __future__ import annotations

import pandas as pd

from audit_kit.ingest.schema import BOOL, DATETIME, MONEY, MONTH, NUMBER, TABLES


def canon(table: str, rows: list[dict] | None = None, **columns) -> pd.DataFrame:
    """A canonical table as ingest makes it: every contract column, the contract dtypes, and the
    `_source_row` of each row (2, 3, … unless given). Given by column (``canon("leads", lead_id=[...],
    ...)``) or as rows (``canon("leads", [{"lead_id": "L1", ...}, ...])``; keys left out are missing)."""
    if rows is not None:
        names = [c.name for c in TABLES[table].columns] + ["_source_row"]
        columns = {name: [row.get(name) for row in rows] for name in names if any(name in row for row in rows)}
        if not columns:
            columns = {TABLES[table].columns[0].name: [None] * len(rows)}
    n = len(next(iter(columns.values())))
    out = {}
    for col in TABLES[table].columns:
        values = columns.get(col.name, [None] * n)
        if col.kind in (DATETIME, MONTH):
            out[col.name] = pd.to_datetime(pd.Series(values), format="ISO8601").astype("datetime64[ns]")
        elif col.kind in (MONEY, NUMBER):
            out[col.name] = pd.Series(values, dtype="float64")
        elif col.kind == BOOL:
            out[col.name] = pd.Series(values, dtype="boolean")
        else:
            out[col.name] = pd.Series(values, dtype="string")
    out["_source_row"] = pd.Series(columns.get("_source_row", range(2, n + 2)), dtype="int64")
    return pd.DataFrame(out)
