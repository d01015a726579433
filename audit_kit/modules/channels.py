"""Channel ROMI (module 04): the channel economics in sentences — findings and money at stake.

The numbers come from `audit_kit.metrics.channels`; this layer has the module shape of
`audit_kit.modules` (``summarise``, ``headline_metrics``, ``build_findings``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
import pandas as pd

from ..findings import Finding, from_catalog, severity_by_money
from ..metrics import channels
from ..metrics.channels import MIN_PATIENTS, ratio
from ..metrics.funnel import paid_amount
from ..metrics.periods import Window, period_months
from ..money import Factor, gap_price, target_of

NAME = "channels"


@dataclass
class ChannelsSummary:
    """What the module computed: the shared preparation, the economics per period × attribution ×
    channel, their totals, and the current period's length and revenue per month (for pricing)."""

    prepared: channels.Prepared
    economics: pd.DataFrame
    totals: pd.DataFrame
    months: float
    revenue_per_month: float
    horizon_days: int
    gross_margin: float


def summarise(tables: Mapping[str, pd.DataFrame], periods: Mapping[str, Window],
              options: Mapping[str, Any]) -> ChannelsSummary:
    """`metrics.channels.channel_economics` for every period with the options of audit.yaml."""
    horizon_days, gross_margin = int(options["revenue_horizon_days"]), float(options["gross_margin"])
    prepared = channels.prepare(tables, horizon_days=horizon_days, repeat_channels=options["repeat_channels"])
    economics = channels.channel_economics(tables, periods, gross_margin=gross_margin, prepared=prepared)
    start, end = periods["current"]
    months = period_months(start, end)
    return ChannelsSummary(prepared, economics, channels.totals(economics, gross_margin), months,
                           paid_amount(tables["invoices"], start, end) / months, horizon_days, gross_margin)


def headline_metrics(summary: ChannelsSummary,
                     targets: Mapping[str, Any] | None = None) -> dict[str, tuple[str, dict[str, Any]]]:
    return channels.headline_metrics(summary.totals)


def build_findings(summary: ChannelsSummary, fmt, t, targets: Mapping[str, Any]) -> list[Finding]:
    """`finding_drafts` of the current period (first touch) as Findings."""
    drafts = finding_drafts(summary.economics, fmt, months=summary.months, revenue_per_month=summary.revenue_per_month,
                            horizon_days=summary.horizon_days, targets=targets)
    return [from_catalog(NAME, t, fmt=fmt, **draft) for draft in drafts]


def _rows(econ: pd.DataFrame, period: str, attribution: str = "first_touch") -> pd.DataFrame:
    part = econ.loc[econ["period"].eq(period) & econ["attribution"].eq(attribution)]
    return part.set_index("channel", drop=False)


def finding_drafts(econ: pd.DataFrame, fmt, *, months: float, revenue_per_month: float, horizon_days: int,
                   min_patients: int = MIN_PATIENTS, targets: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """Findings of the current period under first touch, as dicts ``{id, severity, money, key, values}``
    for ``Module.finding`` (catalog keys ``channels.finding.<id>``); ``fmt`` formats the numbers.

    - ``negative_romi`` (one per channel): a paid channel with leads whose ROMI is below 0 in the
      current period and not at least 0 in the base period (a channel that paid back in the base is
      not condemned on a current horizon that is still open). Money at stake per month (stage
      marketing, acts on the channel) = (target ROMI − its ROMI) × its spend per month; the target is
      the config's ``romi``, else break-even (0: the price is then its monthly loss, (spend − revenue ×
      margin) ÷ months). A channel without leads is ``untracked_spend`` instead.
    - ``untracked_spend`` (one per channel): spend in the current period on a channel with no
      leads — a tagging problem, not a loss: not priced (the spend per month is in the evidence and
      sets the severity).
    - ``cac_range``: the cheapest and the most expensive paid channel per new patient, among
      channels with at least ``min_patients`` new patients (needs two). Not priced.
    - ``cheap_leads_low_return``: among paid channels with leads at most the median CPL of paid
      channels and at least ``min_patients`` new patients, the one whose patients return least
      (share with ≥ 2 paid days within the horizon), when below the share of all new patients. Not priced.
    Severity as the funnel's (``findings.severity_by_money``: share of the clinic's monthly revenue).
    """
    cur = _rows(econ, "current")
    has_base = econ["period"].eq("base").any()
    base = _rows(econ, "base") if has_base else None
    found: list[dict[str, Any]] = []
    paid = cur.loc[cur["spend"].gt(0)]
    total_new = int(cur["new_patients"].sum())
    observed = int(cur["horizon_observed"].sum())
    target, source = target_of(targets or {}, "romi")
    if target is None or target < 0:
        target, source = 0.0, "benchmark"
    for channel, r in paid.loc[paid["romi"].lt(0) & paid["leads"].gt(0)].iterrows():   # a handful of channels
        base_romi = base["romi"].get(channel, np.nan) if base is not None else np.nan
        if base_romi >= 0:
            continue
        loss = -r["spend"] * r["romi"] / months          # = (spend − revenue × margin) ÷ months
        price = gap_price(stage="marketing", acts_on=f"channel:{channel}", rate=r["romi"], target=target,
                          target_source=source, target_key="romi", benchmark="break_even",
                          factors=(Factor("spend_per_month", r["spend"] / months, "money"),))
        money = price.money if price is not None else None
        found.append({"id": f"negative_romi_{channel}", "severity": severity_by_money(money, revenue_per_month),
                      "money": money, "price": price, "key": "channels.finding.negative_romi",
                      "values": {"channel": channel, "spend": fmt.money(r["spend"]), "revenue": fmt.money(r["revenue"]),
                                 "horizon": horizon_days, "romi": fmt.change(r["romi"], 0),
                                 "base_romi": fmt.change(base_romi, 0), "patients": fmt.num(r["new_patients"]),
                                 "cac": fmt.money(r["cac"]), "loss": fmt.money(loss), "observed": fmt.num(observed),
                                 "total": fmt.num(total_new)}})
    for channel, r in paid.loc[paid["leads"].eq(0)].iterrows():
        money = r["spend"] / months
        found.append({"id": f"untracked_spend_{channel}", "severity": severity_by_money(money, revenue_per_month), "money": None,
                      "key": "channels.finding.untracked_spend",
                      "values": {"channel": channel, "spend": fmt.money(r["spend"]), "per_month": fmt.money(money),
                                 "patients": fmt.num(r["new_patients"])}})
    rated = paid.loc[paid["new_patients"].ge(min_patients) & paid["cac"].notna()]
    if len(rated) >= 2:
        low, high = rated.loc[rated["cac"].idxmin()], rated.loc[rated["cac"].idxmax()]
        found.append({"id": "cac_range", "severity": "medium", "money": None, "key": "channels.finding.cac_range",
                      "values": {"cheap": low["channel"], "cheap_cac": fmt.money(low["cac"]),
                                 "dear": high["channel"], "dear_cac": fmt.money(high["cac"]),
                                 "times": fmt.num(high["cac"] / low["cac"], 1),
                                 "cheap_romi": fmt.change(low["romi"], 0), "dear_romi": fmt.change(high["romi"], 0)}})
    median_cpl = paid["cpl"].median()
    cheap = paid.loc[paid["cpl"].le(median_cpl) & paid["new_patients"].ge(min_patients) & paid["return_share"].notna()]
    all_share = ratio(float(cur["returning_patients"].sum()), float(total_new))
    if len(cheap) and np.isfinite(all_share):
        r = cheap.loc[cheap["return_share"].idxmin()]
        if r["return_share"] < all_share:
            found.append({"id": "cheap_leads_low_return", "severity": "medium", "money": None,
                          "key": "channels.finding.cheap_leads_low_return",
                          "values": {"channel": r["channel"], "cpl": fmt.money(r["cpl"]),
                                     "median_cpl": fmt.money(median_cpl), "share": fmt.pct(r["return_share"]),
                                     "all_share": fmt.pct(all_share), "horizon": horizon_days,
                                     "revenue_per_patient": fmt.money(r["revenue_per_patient"])}})
    return found
