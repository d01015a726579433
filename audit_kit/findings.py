"""Findings: what the audit found, in the report language, ranked by money at stake per month.

A finding is {module, id, title, severity, money_at_stake_per_month, evidence, recommendation}
(DESIGN §4). Money is in the config currency per month; None when it cannot be priced.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Iterable

SEVERITIES = ("high", "medium", "low")


@dataclass(frozen=True)
class Finding:
    module: str
    id: str
    title: str
    severity: str
    money_at_stake_per_month: float | None
    evidence: str
    recommendation: str

    def __post_init__(self):
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {SEVERITIES}, got {self.severity!r}")
        money = self.money_at_stake_per_month
        if money is not None and not math.isfinite(float(money)):
            object.__setattr__(self, "money_at_stake_per_month", None)
        elif money is not None:
            object.__setattr__(self, "money_at_stake_per_month", round(float(money), 2))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def rank(findings: Iterable[Finding | dict]) -> list[Finding]:
    """Most money at stake first; unpriced findings after priced ones; ties by severity, then module and id."""
    items = [f if isinstance(f, Finding) else Finding(**f) for f in findings]
    return sorted(items, key=lambda f: (f.money_at_stake_per_month is None,
                                        -(f.money_at_stake_per_month or 0.0),
                                        SEVERITIES.index(f.severity), f.module, f.id))
