"""Money at stake: the one shape of every priced finding, and each rouble counted once (DESIGN §4).

**The shape.** Money at stake per month = the gap between today's rate and the target × the monthly volume
it applies to × the value of one unit (and, where the unit is not yet money, the clinic's own conversion
from that unit to a payment): the extra revenue per month if the gap closed. The target is the config's
(`targets:`), else the method's default (`config.DEFAULT_TARGETS`), else a stated internal benchmark (the
clinic's own best group, or its base period); a finding without a defensible target gets no price.
Groups of patients (former best, at risk) are priced by what a call campaign brings back: list ×
reach × return × the monthly revenue of one returning patient (`campaign_price`).

**Each rouble once** (`count_once`). Every priced finding names the stage of the patient path it acts on
(`STAGES`: lead handling → booking → show → visit capacity → return → marketing spend) and the patients or
units it acts on (``acts_on``). Findings acting on the same patients are nested: only the largest is
counted, the others are "part of" it (``nested_in``). Stages are chained: each gap is priced on today's
volume at its stage and carried to money through today's conversions downstream, so an upstream fix is
never also counted downstream at full volume; and idle doctor time (capacity) is filled first by the
patients the demand-side fixes bring (lead handling, booking, return): a capacity finding counts only what
is left after them. Data-quality findings carry no price.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

STAGES = ("lead_handling", "booking", "show", "capacity", "return", "marketing")
DEMAND_STAGES = ("lead_handling", "booking", "return")   # stages whose fixes bring new bookings
CAPACITY = "capacity"
TARGET_SOURCES = ("config", "default", "benchmark", "base")
FACTOR_KINDS = ("count", "rate", "money", "number", "hours")


@dataclass(frozen=True)
class Factor:
    """One factor of a price: ``key`` names it in the catalogs (``money.factor.<key>``), ``kind`` formats it."""

    key: str
    value: float
    kind: str = "count"

    def __post_init__(self):
        if self.kind not in FACTOR_KINDS:
            raise ValueError(f"factor kind must be one of {FACTOR_KINDS}, got {self.kind!r}")


@dataclass(frozen=True)
class Price:
    """A priced finding's arithmetic: money per month = gap × Π factors (campaign: Π factors).

    ``rate`` and ``target`` (gap shape): today's value and the target; ``lower_is_better`` orients the gap
    (no-shows: rate − target; bookings: target − rate). ``rate_kind``: 'rate' (a fraction) or 'money' (e.g.
    revenue per patient). ``target_source``: config | default | benchmark | base; ``benchmark`` the catalog
    key (``money.benchmark.<key>``) naming an internal benchmark.
    """

    stage: str
    acts_on: str
    factors: tuple[Factor, ...]
    rate: float | None = None
    target: float | None = None
    lower_is_better: bool = False
    target_source: str | None = None
    target_key: str | None = None       # the config's `targets:` name, when the target is one
    benchmark: str | None = None
    rate_kind: str = "rate"

    def __post_init__(self):
        if self.stage not in STAGES:
            raise ValueError(f"stage must be one of {STAGES}, got {self.stage!r}")
        if self.target_source is not None and self.target_source not in TARGET_SOURCES:
            raise ValueError(f"target_source must be one of {TARGET_SOURCES}, got {self.target_source!r}")

    @property
    def gap(self) -> float | None:
        """today's rate − target (lower is better) or target − today's rate; None for a campaign."""
        if self.rate is None:
            return None
        return self.rate - self.target if self.lower_is_better else self.target - self.rate

    @property
    def money(self) -> float:
        product = math.prod(f.value for f in self.factors)
        return product if self.gap is None else self.gap * product

    def to_dict(self) -> dict[str, Any]:
        """The arithmetic for findings.json (`price`): every factor by name, the gap's ends, the result."""
        return {"stage": self.stage, "acts_on": self.acts_on, "rate": self.rate, "target": self.target,
                "lower_is_better": self.lower_is_better, "target_source": self.target_source,
                "target_key": self.target_key, "benchmark": self.benchmark, "rate_kind": self.rate_kind,
                "factors": [{"key": f.key, "value": f.value, "kind": f.kind} for f in self.factors],
                "money_per_month": self.money}


def _finite(*values: Any) -> bool:
    try:
        return all(v is not None and math.isfinite(float(v)) for v in values)
    except (TypeError, ValueError):
        return False


def target_of(targets: Mapping[str, Any], key: str) -> tuple[float | None, str | None]:
    """A KPI target and where it comes from: ('config' when audit.yaml set it, else 'default'); (None, None)
    when the target is unset (no defensible target: no price)."""
    value = targets.get(key) if targets is not None else None
    if value is None or not _finite(value):
        return None, None
    source = targets.source(key) if hasattr(targets, "source") else "default"
    return float(value), source


def gap_price(*, stage: str, acts_on: str, rate: float | None, target: float | None, target_source: str | None,
              factors: Iterable[Factor], lower_is_better: bool = False, target_key: str | None = None,
              benchmark: str | None = None, rate_kind: str = "rate") -> Price | None:
    """The gap shape; None (no price) when the target is missing, any number is unknown, today is at or
    better than the target, or the money is not positive."""
    factors = tuple(factors)
    if target is None or not _finite(rate, target, *(f.value for f in factors)):
        return None
    price = Price(stage, acts_on, factors, float(rate), float(target), lower_is_better, target_source, target_key,
                  benchmark, rate_kind)
    return price if price.gap > 0 and price.money > 0 else None


def campaign_price(*, acts_on: str, patients: float, reach_rate: float, return_rate: float,
                   monthly_value: float) -> Price | None:
    """A group of patients priced by what a call campaign brings back: patients on the list × reach rate
    × return rate × the monthly revenue of one returning patient (stage 'return'); None when unknown or 0."""
    factors = (Factor("campaign_list", patients, "count"), Factor("reach_rate", reach_rate, "rate"),
               Factor("return_rate", return_rate, "rate"), Factor("returning_value", monthly_value, "money"))
    if not _finite(*(f.value for f in factors)):
        return None
    price = Price("return", acts_on, factors)
    return price if price.money > 0 else None


@dataclass
class Counted:
    """What `count_once` decided for one finding."""

    counted: bool = False
    nested_in: str | None = None
    money_counted: float | None = None
    covered: float = 0.0                 # capacity: the part the demand-side fixes fill
    nested: list[str] = field(default_factory=list)


def finding_ref(module: str, id: str) -> str:
    """How one finding names another (``nested_in``): '<module>.<id>'."""
    return f"{module}.{id}"


def count_once(findings: Iterable[Any]) -> dict[str, Counted]:
    """Each rouble once: per finding ('<module>.<id>') whether it is counted in the total, the finding it is
    nested in, and the money it adds to the total per month.

    Findings are anything with ``module``, ``id``, ``money_at_stake_per_month``, ``stage`` and ``acts_on``.
    Priced findings acting on the same patients (same ``acts_on``) are nested: the largest (ties: the
    earlier in the given order) is counted, the others name it in ``nested_in`` and add nothing. A
    counted capacity finding adds only what exceeds the counted money of the demand stages (lead
    handling, booking, return) — the patients those fixes bring fill idle doctor time first. Unpriced
    findings are not counted and add None.
    """
    items = list(findings)
    out = {finding_ref(f.module, f.id): Counted() for f in items}
    priced = [f for f in items if f.money_at_stake_per_month is not None and f.stage is not None]
    heads: dict[str, Any] = {}
    for f in priced:
        key = f.acts_on or finding_ref(f.module, f.id)
        if key not in heads or f.money_at_stake_per_month > heads[key].money_at_stake_per_month:
            heads[key] = f
    for f in priced:
        head = heads[f.acts_on or finding_ref(f.module, f.id)]
        ref = finding_ref(f.module, f.id)
        if head is f:
            out[ref].counted, out[ref].money_counted = True, float(f.money_at_stake_per_month)
        else:
            out[ref].nested_in, out[ref].money_counted = finding_ref(head.module, head.id), 0.0
            out[finding_ref(head.module, head.id)].nested.append(ref)
    demand = math.fsum(out[finding_ref(f.module, f.id)].money_counted for f in heads.values()
                       if f.stage in DEMAND_STAGES)
    for f in sorted((f for f in heads.values() if f.stage == CAPACITY), key=lambda f: -f.money_at_stake_per_month):
        c = out[finding_ref(f.module, f.id)]
        c.covered = min(demand, c.money_counted)
        c.money_counted -= c.covered
        demand -= c.covered
        c.counted = c.money_counted > 0
    return out


def counted_total(findings: Iterable[Any]) -> float | None:
    """The counted money at stake per month of findings already marked by `count_once` (their
    ``money_counted_per_month``); None when nothing is priced."""
    values = [f.money_counted_per_month for f in findings if f.money_counted_per_month is not None]
    return math.fsum(values) if values else None


def by_stage(findings: Iterable[Any]) -> dict[str, float]:
    """Counted money per month per stage, in path order (stages with nothing counted left out)."""
    totals: dict[str, float] = {}
    for f in findings:
        if f.money_counted_per_month and f.stage:
            totals[f.stage] = totals.get(f.stage, 0.0) + f.money_counted_per_month
    return {s: totals[s] for s in STAGES if s in totals}


# -- the arithmetic in words -------------------------------------------------------------------------------

def _factor_value(fmt, factor: Factor) -> str:
    if factor.kind == "rate":
        return fmt.pct(factor.value)
    if factor.kind == "money":
        return fmt.money(factor.value)
    if factor.kind == "hours":
        return fmt.num(factor.value, 1)
    digits = 0 if float(factor.value).is_integer() or abs(factor.value) >= 100 else 1
    return fmt.num(factor.value, digits)


def _rate_value(fmt, price: Price, value: float) -> str:
    return fmt.money(value) if price.rate_kind == "money" else fmt.pct(value)


def formula_text(price: Price, fmt, t) -> str:
    """«Расчёт: (60 % − 51,2 %) × 355 × 77,1 % × 7 707 ₽ = 185 640 ₽ в месяц, где 355 — обращений в месяц, …;
    цель 60 % — по умолчанию методики.» (``fmt``: `report.fmt.Formatter`, ``t``: `report.i18n.Translator`)."""
    values = [_factor_value(fmt, f) for f in price.factors]
    parts = list(values)
    if price.gap is not None:
        high, low = (price.rate, price.target) if price.lower_is_better else (price.target, price.rate)
        low_text = _rate_value(fmt, price, low)
        if low < 0:
            low_text = f"({low_text})"
        parts.insert(0, f"({_rate_value(fmt, price, high)} − {low_text})")
    legend = "; ".join(t(f"money.factor.{f.key}", value=v) for f, v in zip(price.factors, values))
    text = t("money.formula", product=" × ".join(parts), money=fmt.money(price.money), legend=legend)
    if price.gap is not None:
        target = _rate_value(fmt, price, price.target)
        source = price.target_source or "default"
        if source == "benchmark":
            text += " " + t("money.target.benchmark", target=target, benchmark=t(f"money.benchmark.{price.benchmark}"))
        else:
            text += " " + t(f"money.target.{source}", target=target, name=price.target_key or "")
    else:
        text += " " + t("money.campaign_note")
    return text


def module_total(prices: Mapping[str, Price | None]) -> float:
    """One module's money at stake per month (`<module>.money_at_stake_per_month`): its prices (finding
    id -> Price or None) counted once as `count_once` counts findings, within the module; NaN when none."""
    from types import SimpleNamespace

    items = [SimpleNamespace(module="", id=k, money_at_stake_per_month=p.money, stage=p.stage, acts_on=p.acts_on)
             for k, p in prices.items() if p is not None]
    if not items:
        return float("nan")
    return math.fsum(c.money_counted for c in count_once(items).values() if c.money_counted is not None)


def revenue_per_month(invoices, periods: Mapping[str, tuple[Any, Any]]) -> dict[str, float]:
    """The clinic's revenue per month in each period ([start, end)): net paid (`metrics.funnel.paid_amount`)
    ÷ months in the period (`metrics.periods.period_months`) — the base the money at stake is set against."""
    from .metrics.funnel import paid_amount
    from .metrics.periods import period_months

    return {name: paid_amount(invoices, start, end) / period_months(start, end) for name, (start, end) in periods.items()}


def summary_metrics(findings: Iterable[Any], revenue: Mapping[str, float] | None) -> dict[str, dict[str, Any]]:
    """metrics.json entries of the whole run (current period): ``summary.money_at_stake_per_month`` (the counted
    total, each rouble once), ``summary.revenue_per_month`` (every period) and ``summary.money_at_stake_share``
    (the total ÷ the current revenue). ``findings`` are marked by `findings.mark_counted`."""
    findings = list(findings)
    total = counted_total(findings)
    clean = lambda v: float(v) if _finite(v) else None   # noqa: E731  (metrics.json: null, never NaN)
    out: dict[str, dict[str, Any]] = {"summary.money_at_stake_per_month": {"unit": "money", "current": clean(total)}}
    if revenue:
        out["summary.revenue_per_month"] = {"unit": "money", **{k: clean(v) for k, v in revenue.items()}}
        current = revenue.get("current")
        share = total / current if total is not None and _finite(current) and current > 0 else None
        out["summary.money_at_stake_share"] = {"unit": "rate", "current": clean(share)}
    return out
