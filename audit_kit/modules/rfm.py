"""The patient base (module 05): the RFM metrics in sentences — findings and money at stake.

The numbers come from `audit_kit.metrics.rfm`; this layer has the module shape of
`audit_kit.modules` (``summarise``, ``headline_metrics``, ``build_findings``).
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import pandas as pd

from ..findings import Finding, from_catalog
from ..metrics import rfm
from ..money import Price, campaign_price, module_total
from ..metrics.periods import Window
from ..metrics.rfm import AT_RISK, FORMER_BEST, RfmSummary, in_contact_window, monthly_value, top_counts

NAME = "rfm"


def summarise(tables: Mapping[str, pd.DataFrame], periods: Mapping[str, Window],
              options: Mapping[str, Any]) -> dict[str, rfm.RfmSummary]:
    """`metrics.rfm.summarise`: the patient base as of the end of every period; the tables the page shows (offers,
    branches, the call list's details) for the current period only — the others give the headline metrics."""
    return rfm.summarise(tables, periods, options, details=("current",))


def headline_metrics(summary: Mapping[str, rfm.RfmSummary],
                     targets: Mapping[str, Any] | None = None) -> dict[str, tuple[str, dict[str, Any]]]:
    """`metrics.rfm.headline_metrics`; ``rfm.money_at_stake_per_month`` is what the call campaign brings back
    from the former best and at-risk patients (`prices`), not what they used to pay."""
    out = rfm.headline_metrics(summary)
    out["rfm.money_at_stake_per_month"] = ("money", money_per_month(summary))
    return out


def money_per_month(summary: Mapping[str, rfm.RfmSummary]) -> dict[str, float]:
    """Per period: the module's money at stake per month (`prices` counted once)."""
    return {name: module_total(prices(s)) for name, s in summary.items()}


def prices(s: RfmSummary) -> dict[str, Price | None]:
    """``former_best`` and ``at_risk`` priced by what the call campaign brings back (`money.campaign_price`):
    the segment's patients on the reactivation list × ``reach_rate`` × ``return_rate`` (the call plan's
    options) × the segment's average monthly value while active (`metrics.rfm.monthly_value`). A segment
    not on the list (option ``reactivation_segments``) is not priced. Stage 'return'; the two segments are
    other patients, so both count."""
    out: dict[str, Price | None] = {}
    for id_, segment in (("former_best", FORMER_BEST), ("at_risk", AT_RISK)):
        listed = int(s.reactivation["segment"].eq(segment).fillna(False).sum())
        group = s.table.loc[s.table["segment"].eq(segment).fillna(False).to_numpy(bool)]
        value = float(monthly_value(group).mean()) if len(group) else np.nan
        out[id_] = campaign_price(acts_on=segment, patients=listed, reach_rate=s.plan.reach_rate,
                                  return_rate=s.plan.return_rate, monthly_value=value) if listed else None
    return out


def build_findings(summary: Mapping[str, rfm.RfmSummary], fmt, t, targets: Mapping[str, Any]) -> list[Finding]:
    """`finding_drafts` as Findings (no target applies: groups are priced by what a call campaign brings back)."""
    return [from_catalog(NAME, t, fmt=fmt, **draft) for draft in finding_drafts(summary, fmt)]


def finding_drafts(summaries: Mapping[str, RfmSummary], fmt) -> list[dict]:
    """Findings of the current period: dicts {id, severity, money, key, values} for `Module.finding`.

    - former_best: R1F3M3 patients exist (priced by the call campaign, `prices`; what they paid per month
      while active is in the evidence, unpriced);
    - at_risk: at-risk patients exist (priced likewise; other patients than the former best);
    - contact_window: patients are inside the contact window now (not priced: they are still returning);
    - call_plan: the reactivation list and the operator-days and operators it takes (an estimate).
    """
    cur = summaries["current"]
    found: list[dict] = []
    priced = prices(cur)

    def add(id_: str, severity: str, money_: float | None, **values) -> None:
        price = priced.get(id_)
        money_ = price.money if price is not None else None
        found.append({"id": id_, "severity": severity, "money": money_, "key": f"rfm.finding.{id_}", "price": price,
                      "values": {"money": fmt.money(money_), **values}})

    table = cur.table
    best = table.loc[table["segment"].eq(FORMER_BEST).fillna(False).to_numpy(bool)]
    if len(best):
        listed = cur.former_best()
        joined = lambda pairs: ", ".join(f"{v} ({n})" for v, n in pairs) or "—"   # noqa: E731
        add("former_best", "high", None, patients=fmt.num(len(best)), paid=fmt.money(best["paid"].sum()),
            used=fmt.money(cur.money_at_stake),
            visits=fmt.num(best["frequency"].median()), idle=fmt.num(best["recency_days"].median()),
            doctors=joined(top_counts(listed["last_doctor"])), services=joined(top_counts(listed["last_service"])))
    risk = table.loc[table["segment"].eq(AT_RISK).fillna(False).to_numpy(bool)]
    if len(risk):
        add("at_risk", "medium", None, patients=fmt.num(len(risk)), used=fmt.money(float(monthly_value(risk).sum())),
            paid=fmt.money(risk["paid"].sum()), idle=fmt.num(risk["recency_days"].median()))
    window = in_contact_window(table, cur.threshold)
    if window.any():
        lo, hi = cur.threshold.window
        add("contact_window", "medium", None, patients=fmt.num(int(window.sum())), threshold=fmt.num(hi),
            share=fmt.pct(cur.threshold.quantile, 0),
            low=fmt.num(lo), high=fmt.num(hi))
    plan = cur.plan
    if plan.patients:
        add("call_plan", "medium", None, patients=fmt.num(plan.patients), days=fmt.num(plan.operator_days, 1),
            dials=fmt.num(plan.dials_per_day),
            operators=fmt.num(plan.operators_needed), deadline=fmt.num(plan.deadline_days),
            returns=fmt.num(plan.expected_returns), revenue=fmt.money(plan.expected_revenue))
    return found


def segment_labels(ids, t, segments) -> pd.Series:
    """Segment ids as the report names them (``segments``: the ids named; others "—")."""
    names = {segment: t(f"rfm.segments.{segment}.name") for segment in segments}
    return pd.Series(ids, dtype="string").map(names).fillna("—")


def action_labels(ids, t) -> pd.Series:
    """Next-best-action ids (`metrics.rfm.ACTIONS`) in words."""
    return pd.Series(ids, dtype="string").map({action: t(f"rfm.actions.{action}") for action in rfm.ACTIONS})


def cuts_text(cuts, formatter) -> str:
    """A measure's two score cuts, formatted: "90 / 180"."""
    return " / ".join(formatter(cut) for cut in cuts)


def plain_number(fmt, value) -> str:
    """A whole number without decimals, else one decimal."""
    return fmt.num(value, 0 if float(value).is_integer() else 1)
