"""Assertion-free helpers shared by the metric tests (like seaborn's _testing.py)."""
from __future__ import annotations

import pandas as pd

from audit_kit.ingest.schema import BOOL, DATETIME, MONEY, MONTH, NUMBER, TABLES


def canon(table: str, **columns) -> pd.DataFrame:
    """A canonical table as ingest makes it: every contract column, the contract dtypes, and the
    `_source_row` of each row (2, 3, … unless given)."""
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
