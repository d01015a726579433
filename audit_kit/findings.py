"""Findings: what the audit found, in the report language, ranked by money at stake per month.

A finding is {module, id, title, severity, money_at_stake_per_month, evidence, recommendation}
(DESIGN §4). Money is in the config currency per month; None when it cannot be priced. A priced finding
also names its ``stage`` of the patient path and what it ``acts_on``, carries its arithmetic (``price``,
`audit_kit.money`), and — once `mark_counted` has run over a set of findings — whether it is
``counted`` in the total, the finding it is ``nested_in`` ('<module>.<id>') and the money it adds
(``money_counted_per_month``).

The one home of the severity rules (`severity_by_money`, `severity_by_share` with the data-quality
thresholds `SHARE_SEVERITY`) and of the ranking (`rank`): modules build findings in any order and
`Module` shows and writes them ranked.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any, Iterable, Mapping

from .money import Price, count_once, finding_ref, formula_text

SEVERITIES = ("high", "medium", "low")
HIGH_REVENUE_SHARE = 0.05      # money at stake of at least 5 % of the monthly revenue: high
MEDIUM_REVENUE_SHARE = 0.01    # ... from 1 %: medium; below: low
# Data-quality findings (module 01) carry no price: their severity is the share of rows affected,
# (high from, medium from).
SHARE_SEVERITY: dict[str, tuple[float, float]] = {
    "rejected_rows": (0.05, 0.01),             # of rows read
    "bookings_lead_missing": (0.05, 0.01),     # of bookings with a lead_id
    "visits_without_booking": (0.10, 0.03),    # of visits (walk-ins are normal in small numbers)
    "invoices_without_visit": (0.05, 0.01),    # of invoices
    "paid_patients_not_in_crm": (0.10, 0.03),  # of paying patients
    "bookings_unknown_doctor": (0.05, 0.01),   # of bookings
    "duplicates": (0.01, 0.002),               # of rows read
    "refunds": (0.05, 0.02),                   # of gross payments
    "completed_not_paid": (0.10, 0.03),        # of completed bookings
    "booked_after_slot": (0.02, 0.005),        # of bookings with both times
    "checkin_before_booking": (0.02, 0.005),   # of visits whose booking has a creation time
    "visit_ends_before_start": (0.02, 0.005),  # of visits with a start time
}


@dataclass(frozen=True)
class Finding:
    module: str
    id: str
    title: str
    severity: str
    money_at_stake_per_month: float | None
    evidence: str
    recommendation: str
    stage: str | None = None
    acts_on: str | None = None
    counted: bool = False
    nested_in: str | None = None
    money_counted_per_month: float | None = None
    price: dict[str, Any] | None = None

    def __post_init__(self):
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {SEVERITIES}, got {self.severity!r}")
        money = self.money_at_stake_per_month
        if money is not None and not math.isfinite(float(money)):
            object.__setattr__(self, "money_at_stake_per_month", None)
        elif money is not None:
            object.__setattr__(self, "money_at_stake_per_month", round(float(money), 2))
        counted = self.money_counted_per_month
        if counted is not None:
            object.__setattr__(self, "money_counted_per_month",
                               round(float(counted), 2) if math.isfinite(float(counted)) else None)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def rank(findings: Iterable[Finding | dict]) -> list[Finding]:
    """Most money at stake first; unpriced findings after priced ones; ties by severity, then module and id."""
    items = [f if isinstance(f, Finding) else Finding(**f) for f in findings]
    return sorted(items, key=lambda f: (f.money_at_stake_per_month is None,
                                        -(f.money_at_stake_per_month or 0.0),
                                        SEVERITIES.index(f.severity), f.module, f.id))


def from_catalog(module: str, t, *, id: str, severity: str, money: float | None = None, key: str,
                 values: Mapping[str, Any], price: Price | None = None, fmt=None) -> Finding:
    """A finding whose title, evidence and recommendation are the catalog sentences
    ``<key>.title|evidence|recommendation`` filled with ``values`` (``t``: `report.i18n.Translator`).

    With a ``price`` (`money.Price`) the money is the price's and the evidence ends with its arithmetic
    (`money.formula_text`, numbers by ``fmt``); ``values['money']`` is then the price's money formatted."""
    if price is None:
        return Finding(module, id, t(f"{key}.title", **values), severity, money,
                       t(f"{key}.evidence", **values), t(f"{key}.recommendation", **values))
    values = {**values, "money": fmt.money(price.money)}
    evidence = t(f"{key}.evidence", **values) + " " + formula_text(price, fmt, t)
    return Finding(module, id, t(f"{key}.title", **values), severity, price.money, evidence,
                   t(f"{key}.recommendation", **values), stage=price.stage, acts_on=price.acts_on,
                   price=price.to_dict())


def mark_counted(findings: Iterable[Finding | dict]) -> list[Finding]:
    """The findings with `money.count_once` applied: ``counted``, ``nested_in``, ``money_counted_per_month``."""
    items = [f if isinstance(f, Finding) else Finding(**f) for f in findings]
    decided = count_once(items)
    return [replace(f, counted=c.counted, nested_in=c.nested_in, money_counted_per_month=c.money_counted)
            for f, c in ((f, decided[finding_ref(f.module, f.id)]) for f in items)]


LIST_CAP = 5      # names in a finding's text: the first five (largest first), then how many more


def capped(items: Iterable[str], fmt, t, n: int = LIST_CAP) -> str:
    """Names for a finding's text: the first ``n`` joined by commas, then «и ещё 1 204 — полный список в таблицах»
    (``common.list_more``) — a list an owner of a network reads (the full list is in the section's tables)."""
    items = [str(x) for x in items]
    if len(items) <= n:
        return ", ".join(items)
    return ", ".join(items[:n]) + t("common.list_more", n=fmt.num(len(items) - n))


def severity_by_money(money_per_month: float | None, revenue_per_month: float) -> str:
    """high when the money at stake is at least 5 % of the clinic's monthly revenue, medium from
    1 %, else low; medium when it cannot be priced (no money or no revenue)."""
    if (money_per_month is None or not math.isfinite(money_per_month) or not math.isfinite(revenue_per_month)
            or revenue_per_month <= 0):
        return "medium"
    share = money_per_month / revenue_per_month
    return "high" if share >= HIGH_REVENUE_SHARE else ("medium" if share >= MEDIUM_REVENUE_SHARE else "low")


def severity_by_share(share: float, rule: str | tuple[float, float]) -> str:
    """'high' when the share affected is at least the rule's high threshold, 'medium' from its
    medium one, else 'low' (NaN counts as low). ``rule``: a name in `SHARE_SEVERITY` or (high, medium)."""
    high, medium = SHARE_SEVERITY[rule] if isinstance(rule, str) else rule
    if share is not None and not _isnan(share) and share >= high:
        return "high"
    if share is not None and not _isnan(share) and share >= medium:
        return "medium"
    return "low"


def _isnan(value: Any) -> bool:
    try:
        return math.isnan(float(value))
    except (TypeError, ValueError):
        return True
