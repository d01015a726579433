"""Assertion-free helpers shared by the metric tests (like seaborn's _testing.py)."""
from __future__ import annotations

import pandas as pd

from audit_kit.ingest.schema import TABLES, conform


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
    given = pd.DataFrame({name: pd.Series(list(values), dtype="object") for name, values in columns.items()
                          if name != "_source_row"}, index=range(n))
    given["_source_row"] = pd.Series(columns.get("_source_row", range(2, n + 2)), dtype="int64")
    return conform(given, table)
