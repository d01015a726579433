"""The row ledger: every input row is used or rejected with a reason (read = used + rejected).

`fixed` counts used rows that needed a correction (an unparseable optional value blanked,
an empty channel filled); reasons and fixes keep example source row numbers.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

MAX_EXAMPLES = 5


@dataclass
class TableLedger:
    table: str
    file: str
    read: int = 0
    used: int = 0
    fixed: int = 0
    rejected: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    fixes: dict[str, int] = field(default_factory=dict)
    examples: dict[str, list[int]] = field(default_factory=dict)   # reason or fix -> source row numbers
    columns: dict[str, str] = field(default_factory=dict)          # raw header -> canonical name
    ignored_columns: list[str] = field(default_factory=list)

    @property
    def balanced(self) -> bool:
        return self.read == self.used + self.rejected and self.rejected == sum(self.reasons.values())

    def note(self, kind: str, reason: str, mask: pd.Series, row_numbers: pd.Series) -> None:
        """Count the rows in `mask` under `reason` (kind is 'reasons' or 'fixes') with examples."""
        n = int(mask.sum())
        if not n:
            return
        book = getattr(self, kind)
        book[reason] = book.get(reason, 0) + n
        rows = row_numbers[mask.to_numpy()].head(MAX_EXAMPLES).astype(int).tolist()
        self.examples.setdefault(reason, []).extend(rows[: MAX_EXAMPLES - len(self.examples.get(reason, []))])

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "read": self.read, "used": self.used, "fixed": self.fixed,
                "rejected": self.rejected, "reasons": dict(self.reasons), "fixes": dict(self.fixes),
                "examples": {k: list(v) for k, v in self.examples.items()},
                "columns": dict(self.columns), "ignored_columns": list(self.ignored_columns)}

    @classmethod
    def from_dict(cls, table: str, data: dict[str, Any]) -> "TableLedger":
        return cls(table=table, **data)


@dataclass
class Ledger:
    tables: dict[str, TableLedger] = field(default_factory=dict)

    def totals(self) -> dict[str, int]:
        keys = ("read", "used", "fixed", "rejected")
        return {k: sum(getattr(t, k) for t in self.tables.values()) for k in keys}

    def to_dict(self) -> dict[str, Any]:
        return {"tables": {name: t.to_dict() for name, t in self.tables.items()}, "totals": self.totals()}

    def summary(self) -> dict[str, Any]:
        """The `validate --json` contract: {"tables": {table: {read, used, fixed, rejected, reasons}}}."""
        return {"tables": {name: {k: t.to_dict()[k] for k in ("read", "used", "fixed", "rejected", "reasons")}
                           for name, t in self.tables.items()}}

    def frame(self) -> pd.DataFrame:
        rows = [{"table": n, "file": t.file, "read": t.read, "used": t.used, "fixed": t.fixed,
                 "rejected": t.rejected} for n, t in self.tables.items()]
        return pd.DataFrame(rows, columns=["table", "file", "read", "used", "fixed", "rejected"])

    def reasons_frame(self) -> pd.DataFrame:
        """One row per (table, kind, reason) with the count and example source rows."""
        rows = []
        for name, t in self.tables.items():
            for kind, book in (("rejected", t.reasons), ("fixed", t.fixes)):
                for reason, n in book.items():
                    rows.append({"table": name, "kind": kind, "reason": reason, "rows": n,
                                 "example_rows": ", ".join(map(str, t.examples.get(reason, [])))})
        return pd.DataFrame(rows, columns=["table", "kind", "reason", "rows", "example_rows"])

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Ledger":
        return cls({name: TableLedger.from_dict(name, t) for name, t in data["tables"].items()})
