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
    preset: str | None = None                                      # the source preset the file was read by
    samples: dict[str, str] = field(default_factory=dict)          # reason -> one raw value (bad dates, numbers)
    files: dict[str, dict[str, Any]] = field(default_factory=dict) # file -> its own counts (several files)
    # readings chosen by default for lack of evidence in the column (rows): 'assumed_day_first:<col>'
    # (slash dates that no value shows the order of), 'assumed_decimal:<col>' ('12.500' read as 12.5)
    notes: dict[str, int] = field(default_factory=dict)

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

    def sample(self, reason: str, values: pd.Series) -> None:
        """Keep the first raw value behind a reason (for the loss warning), contacts masked."""
        from .pii import mask_contacts

        if reason not in self.samples:
            first = values.dropna().head(1)
            if len(first):
                masked, _ = mask_contacts(first.astype("string"), "en")
                self.samples[reason] = str(masked.iloc[0])[:60]

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "read": self.read, "used": self.used, "fixed": self.fixed,
                "rejected": self.rejected, "reasons": dict(self.reasons), "fixes": dict(self.fixes),
                "examples": {k: list(v) for k, v in self.examples.items()},
                "columns": dict(self.columns), "ignored_columns": list(self.ignored_columns),
                "preset": self.preset, "samples": dict(self.samples), "files": dict(self.files),
                "notes": dict(self.notes)}

    def file_counts(self) -> dict[str, Any]:
        return {"read": self.read, "used": self.used, "fixed": self.fixed, "rejected": self.rejected,
                "reasons": dict(self.reasons), "fixes": dict(self.fixes), "preset": self.preset,
                "examples": {k: list(v) for k, v in self.examples.items()}}

    @classmethod
    def combine(cls, table: str, parts: list["TableLedger"]) -> "TableLedger":
        """A table's ledger from its files' ledgers: counts summed, each file's own kept under `files`
        (example rows come from the first file that has them). One file: that file's ledger."""
        if len(parts) == 1:
            return parts[0]
        out = cls(table, ", ".join(p.file for p in parts))
        presets = {p.preset for p in parts}
        out.preset = presets.pop() if len(presets) == 1 else None
        for p in parts:
            out.read += p.read
            out.used += p.used
            out.fixed += p.fixed
            out.rejected += p.rejected
            for book in ("reasons", "fixes", "notes"):
                for reason, n in getattr(p, book).items():
                    getattr(out, book)[reason] = getattr(out, book).get(reason, 0) + n
            for reason, rows in p.examples.items():
                out.examples.setdefault(reason, list(rows))
            for reason, value in p.samples.items():
                out.samples.setdefault(reason, value)
            out.columns.update({k: v for k, v in p.columns.items() if k not in out.columns})
            out.ignored_columns += [c for c in p.ignored_columns if c not in out.ignored_columns]
            name = p.file if p.file not in out.files else f"{p.file} ({len(out.files) + 1})"
            out.files[name] = p.file_counts()
        return out

    def loss(self) -> str | None:
        """'4,653 of 4,653 rows rejected — started_at '01/10/2023 10:24:00' is not a date in any known
        format' when more than half of the rows were rejected, else None."""
        if not self.read or self.rejected * 2 <= self.read:
            return None
        top = max(self.reasons.items(), key=lambda kv: kv[1])[0] if self.reasons else ""
        return f"{self.table}: {self.rejected:,} of {self.read:,} rows rejected — {describe_reason(top, self.samples.get(top))}"

    @classmethod
    def from_dict(cls, table: str, data: dict[str, Any]) -> "TableLedger":
        return cls(table=table, **data)


REASON_WORDS = {"invalid_date": "is not a date in any known format", "invalid_month": "is not a month",
                "invalid_number": "is not a number", "invalid_yes_no": "is not a yes/no value",
                "unknown_status": "is not a known booking status"}


def describe_reason(reason: str, sample: str | None) -> str:
    """A rejection reason in words, with its example raw value where there is one."""
    kind, _, column = reason.partition(":")
    if kind == "out_of_range":
        from .schema import TABLES

        column = column.split(" ")[0]
        domain = next((c.domain for t in TABLES.values() for c in t.columns if c.name == column and c.domain), None)
        value = f" '{sample}'" if sample is not None else ""
        return f"{column}{value} is outside {domain.label() if domain else 'its range'}"
    if kind in REASON_WORDS:
        value = f" '{sample}'" if sample is not None else ""
        return f"{column}{value} {REASON_WORDS[kind]}"
    if kind == "missing":
        return f"required column {column} is empty"
    return reason.replace("_", " ")


@dataclass
class Ledger:
    tables: dict[str, TableLedger] = field(default_factory=dict)

    def totals(self) -> dict[str, int]:
        keys = ("read", "used", "fixed", "rejected")
        return {k: sum(getattr(t, k) for t in self.tables.values()) for k in keys}

    def to_dict(self) -> dict[str, Any]:
        return {"tables": {name: t.to_dict() for name, t in self.tables.items()}, "totals": self.totals()}

    def summary(self) -> dict[str, Any]:
        """The `validate --json` contract: {"tables": {table: {read, used, fixed, rejected, reasons}}},
        with (additively) the fixes, the preset each table was read by and its files' own counts."""
        keys = ("read", "used", "fixed", "rejected", "reasons", "fixes", "notes", "preset", "files")
        return {"tables": {name: {k: t.to_dict()[k] for k in keys} for name, t in self.tables.items()},
                "warnings": self.warnings()}

    def warnings(self) -> list[str]:
        """One line per table that lost more than half of its rows (TableLedger.loss)."""
        return [w for w in (t.loss() for t in self.tables.values()) if w]

    def frame(self) -> pd.DataFrame:
        rows = [{"table": n, "file": t.file, "read": t.read, "used": t.used, "fixed": t.fixed,
                 "rejected": t.rejected} for n, t in self.tables.items()]
        return pd.DataFrame(rows, columns=["table", "file", "read", "used", "fixed", "rejected"])

    def reasons_frame(self) -> pd.DataFrame:
        """One row per (table, kind, reason) with the count and example source rows."""
        rows = []
        for name, t in self.tables.items():
            for kind, book in (("rejected", t.reasons), ("fixed", t.fixes), ("note", t.notes)):
                for reason, n in book.items():
                    rows.append({"table": name, "kind": kind, "reason": reason, "rows": n,
                                 "example_rows": ", ".join(map(str, t.examples.get(reason, [])))})
        return pd.DataFrame(rows, columns=["table", "kind", "reason", "rows", "example_rows"])

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Ledger":
        return cls({name: TableLedger.from_dict(name, t) for name, t in data["tables"].items()})
