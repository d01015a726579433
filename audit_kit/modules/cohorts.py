"""Cohort LTV (module 06): the cohort metrics in sentences — findings, money at stake, the payback
in words and the channel table the report shows.

The numbers come from `audit_kit.metrics.cohorts`; this layer has the module shape of
`audit_kit.modules` (``summarise``, ``headline_metrics``, ``build_findings``).
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import pandas as pd

from ..findings import Finding, from_catalog
from ..metrics import cohorts
from ..metrics import patients as pt
from ..metrics.cohorts import RETENTION_GAP, CohortSummary, at_month, retention_trend
from ..metrics.periods import Window, period_months
from ..money import Factor, gap_price

NAME = "cohorts"


def summarise(tables: Mapping[str, pd.DataFrame], periods: Mapping[str, Window],
              options: Mapping[str, Any]) -> dict[str, cohorts.CohortSummary]:
    """`metrics.cohorts.summarise_periods` with the cohort options of audit.yaml; the cohorts by branch (shown for the
    current period only) made for the current period."""
    return cohorts.summarise_periods(tables, periods, details=("current",), period=options["cohort_period"],
                                     ltv_months=options["ltv_months"], gross_margin=options["gross_margin"],
                                     repeat_channels=options["repeat_channels"],
                                     channel_cohorts=options["channel_cohorts"])


def headline_metrics(summary: Mapping[str, cohorts.CohortSummary],
                     targets: Mapping[str, Any] | None = None) -> dict[str, tuple[str, dict[str, Any]]]:
    return cohorts.headline_metrics(summary)


def build_findings(summary: Mapping[str, cohorts.CohortSummary], fmt, t, targets: Mapping[str, Any]) -> list[Finding]:
    """`finding_drafts` of the current period as Findings."""
    return [from_catalog(NAME, t, fmt=fmt, **draft) for draft in finding_drafts(summary["current"], fmt, t)]


def finding_drafts(s: CohortSummary, fmt, t) -> list[dict]:
    """Findings as dicts {id, severity, money, key, values} for `Module.finding` (money per month):
    - newer_cohorts_worse: the newest cohorts retain ≥ 5 pp worse at month 3 than the older ones
      (priced, stage return: (older cohorts' revenue per patient by month k, the internal benchmark −
      the newer cohorts') × their new patients per month — in a steady state each month's cohort
      brings that much less);
    - never_pays_back: channels with spend whose patients have not paid back their CAC within the
      observed months; not priced here, because the channel section (module 04) prices the same
      loss as the channel's negative ROMI and the summary must count it once — the evidence still
      states ``unrecovered``: the monthly spend not recovered by the LTV at the longest horizon,
      else by the best margin reached;
    - fastest_payback: the paid channel that pays back first (ties: the higher LTV/CAC);
    - unpaid_ltv: the channel without spend (referrals) whose LTV is ≥ 1.5 × that of paid channels.
    ``t`` translates channel names (``unknown``) and payback months."""
    found: list[dict] = []
    n = max(s.ltv_months)
    name = lambda c: t("cohorts.unknown_channel") if c == pt.UNKNOWN_CHANNEL else str(c)  # noqa: E731

    def add(id_: str, severity: str, price=None, **values) -> None:
        money = price.money if price is not None else None
        found.append({"id": id_, "severity": severity, "money": money, "key": f"cohorts.finding.{id_}",
                      "price": price, "values": {"money": fmt.money(money), **values}})

    trend = retention_trend(s.cohorts)
    if trend and trend["older_retention"] - trend["newer_retention"] >= RETENTION_GAP:
        per_month = trend["newer_size"] / (3.0 if s.period == "quarter" else 1.0)
        price = gap_price(stage="return", acts_on="new_patients_return", rate=trend["newer_revenue"],
                          target=trend["older_revenue"], target_source="benchmark", benchmark="older_cohorts",
                          rate_kind="money", factors=(Factor("new_patients_per_month", per_month),))
        add("newer_cohorts_worse", "medium", price, k=trend["k"],
            cohorts=", ".join(trend["labels"]), older=" – ".join(trend["older_labels"]),
            newer_retention=fmt.pct(trend["newer_retention"]), older_retention=fmt.pct(trend["older_retention"]),
            newer_revenue=fmt.money(trend["newer_revenue"]), older_revenue=fmt.money(trend["older_revenue"]))
    if s.channels is None or s.window is None:
        return found
    months = max(1.0, period_months(*s.window))
    chans = s.channels
    paid = chans.loc[chans["cac"].notna()]
    never = paid.loc[paid["payback_month"].isna()].copy()
    if len(never):
        reached = never[f"ltv_{n}m"].fillna(never["best_margin_per_patient"] / s.gross_margin) * s.gross_margin
        never["unrecovered"] = never["spend"] / months * (1 - reached / never["cac"]).clip(lower=0)
        never = never.assign(reached=reached).sort_values("unrecovered", ascending=False)
        add("never_pays_back", "high", None, unrecovered=fmt.money(float(never["unrecovered"].sum())),
            channels=", ".join(name(c) for c in never["channel"]),
            details="; ".join(t("cohorts.finding.never_pays_back.detail", channel=name(c), months=int(m), n=n,
                                reached=fmt.money(r), cac=fmt.money(v), spend=fmt.money(sp / months))
                              for c, m, r, v, sp in zip(never["channel"], never["observed_months"], never["reached"],
                                                         never["cac"], never["spend"])))
    paying = paid.loc[paid["payback_month"].notna()].sort_values(["payback_month", "ltv_cac"],
                                                                   ascending=[True, False])
    if len(paying) and len(paid) > 1:
        best = paying.iloc[0]
        add("fastest_payback", "low", None, channel=name(best["channel"]), cac=fmt.money(best["cac"]),
            month=payback_text(best["payback_month"], t), ratio=fmt.num(best["ltv_cac"], 1), n=n)
    unpaid = chans.loc[chans["spend"].isna() & chans["channel"].ne(pt.UNKNOWN_CHANNEL)
                       & chans[f"ltv_{n}m"].notna()].sort_values(f"ltv_{n}m", ascending=False)
    paid_ltv = float(s.paid[f"ltv_{n}m"].iloc[0]) if s.paid is not None and len(s.paid) else np.nan
    if len(unpaid) and np.isfinite(paid_ltv) and paid_ltv > 0 and unpaid[f"ltv_{n}m"].iloc[0] >= 1.5 * paid_ltv:
        top = unpaid.iloc[0]
        add("unpaid_ltv", "medium", None, channel=name(top["channel"]), n=n, ltv=fmt.money(top[f"ltv_{n}m"]),
            paid=fmt.money(paid_ltv), times=fmt.num(top[f"ltv_{n}m"] / paid_ltv, 1),
            retention=fmt.pct(at_month(s.channel_curves.loc[s.channel_curves["channel"].eq(top["channel"])], 1,
                                       "retention")))
    return found


def channel_name(channel, t) -> str:
    """A first-touch channel as the report names it (the unknown channel in words)."""
    return t("cohorts.unknown_channel") if channel == pt.UNKNOWN_CHANNEL else str(channel)


def payback_text(k: Any, t, months: Any = None) -> str:
    """A payback month in words: "in the month of acquisition", "in month 3", "not yet within 18
    observed months" (CAC known, no payback) or "n/a" (no CAC: pass months=None and k NaN)."""
    if k is not None and not pd.isna(k):
        return t("cohorts.payback.first_month") if int(k) == 0 else t("cohorts.payback.month", k=int(k))
    if months is not None and not pd.isna(months):
        return t("cohorts.payback.not_yet", months=int(months))
    return t("cohorts.payback.na")


def channel_table(s: CohortSummary, t) -> pd.DataFrame:
    """The channel table the report shows: `channel_ltv` plus the pooled paid channels row, channel
    names and payback in words (`payback_text`); ``t`` translates. Columns: channel, patients,
    ltv_<N>m…, ltv_<longest>m_patients, spend, cac, ltv_cac, payback."""
    n = max(s.ltv_months)
    parts = [s.channels] + ([s.paid.assign(channel=t("cohorts.paid_channels"))] if s.paid is not None else [])
    table = pd.concat(parts, ignore_index=True)
    names = table["channel"].where(table["channel"].ne(pt.UNKNOWN_CHANNEL), t("cohorts.unknown_channel"))
    months = table["observed_months"].where(table["cac"].notna())
    payback = [payback_text(k, t, m) for k, m in zip(table["payback_month"], months)]   # one per channel
    unpaid = (table["spend"].gt(0) & table["patients"].eq(0)).to_numpy(bool)          # spend, nobody acquired
    payback = np.where(unpaid, t("cohorts.payback.no_patients"), np.asarray(payback, dtype=object))
    return table.assign(channel=names, payback=payback)[
        ["channel", "patients", *[f"ltv_{x}m" for x in s.ltv_months], f"ltv_{n}m_patients", "spend", "cac",
         "ltv_cac", "payback"]]
