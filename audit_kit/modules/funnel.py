"""Lead loss (module 02): the funnel's metrics in sentences — findings, money at stake, headline metrics.

The numbers come from `audit_kit.metrics.funnel`; this layer has the module shape of
`audit_kit.modules` (``summarise``, ``headline_metrics``, ``build_findings``).
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import pandas as pd

from ..findings import Finding, from_catalog, severity_by_money
from ..metrics import funnel
from ..metrics.periods import Window, hour_ranges

NAME = "funnel"


def summarise(tables: Mapping[str, pd.DataFrame], periods: Mapping[str, Window],
              options: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """`metrics.funnel.summarise` for every period, with the treatment options of audit.yaml."""
    return funnel.summarise(tables, periods, treatment_horizon_days=options["treatment_horizon_days"],
                            treatment_categories=options["treatment_categories"])


def headline_metrics(summary: Mapping[str, Mapping[str, Any]]) -> dict[str, tuple[str, dict[str, Any]]]:
    return funnel.headline_metrics(summary)


def build_findings(summary: Mapping[str, Mapping[str, Any]], fmt, t, targets: Mapping[str, Any]) -> list[Finding]:
    """`finding_drafts` as Findings, the missed-call target from the config's targets."""
    return [from_catalog(NAME, t, **draft)
            for draft in finding_drafts(summary, fmt, t, missed_call_target=targets["missed_call_rate"])]


def _duration(fmt, minutes: float) -> str:
    """Minutes up to two hours, hours (one decimal) beyond."""
    if minutes is None or not np.isfinite(minutes) or minutes < 120:
        return fmt.minutes(minutes)
    return fmt.hours(minutes / 60, 1)


def _largest_leak(summary: Mapping[str, Any] | None) -> str | None:
    if not summary:
        return None
    leaks = summary["leaks"]
    leaks = leaks.loc[leaks["in_total"] & leaks["money_per_month"].notna()]
    return None if leaks.empty else str(leaks.loc[leaks["money_per_month"].idxmax(), "leak"])


def _leak(summary: Mapping[str, Any] | None, name: str) -> dict[str, Any] | None:
    if not summary:
        return None
    rows = summary["leaks"].loc[summary["leaks"]["leak"] == name]
    return None if rows.empty else rows.iloc[0].to_dict()


def finding_drafts(summaries: Mapping[str, Mapping[str, Any]], fmt, t, *, missed_call_target: float = 0.05,
                   min_change: float = 0.005, min_growth: float = 0.05,
                   no_reason_threshold: float = 0.2) -> list[dict[str, Any]]:
    """Findings of the current period (compared with the base when there is one).

    Returns dicts ``{id, severity, money, key, values}`` (`findings.from_catalog` makes them Findings); ``fmt`` formats
    numbers (``report.fmt.Formatter``), ``t`` (``report.i18n.Translator``) fills the optional
    sentences. Emitted when they apply:

    - ``unbooked``, ``booked_no_show``, ``shown_unpaid``: a funnel step lost leads (priced as in
      ``leak_table``); the evidence says when the step is the largest leak in either period.
    - ``missed_calls``: the missed-call rate is above ``missed_call_target`` or peak hours exist.
    - ``slow_response``: slower answers cost bookings (``slow_response_units`` > 0); names written
      requests when they wait longer than calls, and the slowest channel (and kind).
    - ``unbooked_no_reason``: at least ``no_reason_threshold`` of unbooked leads have no reason
      (not priced: those leads are inside the lead→booking leak).
    - ``lead_to_booking_up`` / ``lead_to_booking_down``: lead→booking moved by at least
      ``min_change`` against the base; a rise is not priced (it is a gain), a fall is priced as
      the bookings lost at the base rate.
    - ``period_growth`` / ``period_decline``: the leads who came (else the furthest stage known)
      changed by at least ``min_growth`` against the base; the evidence lists every stage,
      conversion and the missed-call rate in both periods (treatment left out while its horizon
      is still open for the current period's leads). Not priced.
    """
    cur = summaries["current"]
    base = summaries.get("base")
    revenue = cur["revenue_per_month"]
    totals = cur["totals"]
    found: list[dict[str, Any]] = []
    largest = {"current": _largest_leak(cur), "base": _largest_leak(base)}

    def largest_note(name: str) -> str:
        where = [p for p in ("current", "base") if largest[p] == name]
        if not where:
            return ""
        return " " + t(f"funnel.finding.largest_{'both' if len(where) == 2 else where[0]}")

    def base_note(leak_name: str, low: str) -> str:
        leak = _leak(base, leak_name)
        if leak is None or not base["totals"].get(low):
            return ""
        return " " + t("funnel.finding.base_note", value=fmt.pct(leak["lost_units"] / base["totals"][low]))

    def months_text(months: float) -> str:
        return fmt.num(months, 0 if float(months).is_integer() else 1)

    def add(id_: str, money: float | None, key: str, **values: Any) -> None:
        money = None if money is None or not np.isfinite(money) else float(money)
        found.append({"id": id_, "severity": severity_by_money(money, revenue), "money": money, "key": key,
                      "values": {"money": fmt.money(money), **values}})

    # Funnel steps.
    steps = (("unbooked", "lead_to_booking", "leads", "booked_leads"),
             ("booked_no_show", "booking_to_show", "booked_leads", "shown_leads"),
             ("shown_unpaid", "show_to_paid", "shown_leads", "paid_leads"))
    for id_, leak_name, low, high in steps:
        leak = _leak(cur, leak_name)
        if leak is None or leak["lost_units"] <= 0:
            continue
        priced = bool(np.isfinite(leak["money_per_month"]))
        values = dict(lost=fmt.num(leak["lost_units"]), total=fmt.num(totals[low]),
                      share=fmt.pct(leak["lost_units"] / totals[low]), base=base_note(leak_name, low),
                      largest=largest_note(leak_name), formula=" " + t("funnel.finding.formula",
                          lost=fmt.num(leak["lost_units"]), conversion=fmt.pct(leak["downstream_conversion"]),
                          check=fmt.money(leak["avg_first_check"]), months=months_text(leak["months"]),
                          money=fmt.money(leak["money_per_month"])) if priced else "")
        if id_ == "unbooked":
            ch = cur["by_channel"].assign(unbooked=lambda d: d["leads"] - d["booked_leads"])
            ch = ch.loc[ch["leads"] > 0].sort_values(["unbooked", "channel"], ascending=[False, True])
            if not ch.empty:
                top = ch.iloc[0]
                per_unit = leak["downstream_conversion"] * leak["avg_first_check"] / leak["months"]
                values.update(channel=str(top["channel"]), channel_share=fmt.pct(top["unbooked"] / top["leads"]),
                              channel_money=fmt.money(top["unbooked"] * per_unit))
                values["channel_note"] = " " + t("funnel.finding.unbooked_channel" + ("" if priced else "_unpriced"), **{
                    k: values[k] for k in ("channel", "channel_share", "channel_money")})
            else:
                values["channel_note"] = ""
        add(id_, leak["money_per_month"], f"funnel.finding.{id_}", **values)

    # Missed calls.
    calls = cur.get("calls")
    if calls and calls["calls"] > 0:
        peaks = cur["peaks"]
        peak_hours_ = peaks.loc[peaks["is_peak"], "hour"].tolist()
        if calls["missed_rate"] > missed_call_target or peak_hours_:
            leak = _leak(cur, "missed_calls")
            ranges = ", ".join(f"{a}:00–{b}:00" for a, b in hour_ranges(peak_hours_))
            at_peak = peaks.loc[peaks["is_peak"], ["calls", "missed"]].sum()
            off_peak = peaks.loc[~peaks["is_peak"], ["calls", "missed"]].sum()
            values = dict(rate=fmt.pct(calls["missed_rate"]), missed=fmt.num(calls["missed"]),
                          calls=fmt.num(calls["calls"]), target=fmt.pct(missed_call_target),
                          base=(" " + t("funnel.finding.base_note", value=fmt.pct(base["calls"]["missed_rate"]))
                                if base and base.get("calls") else ""),
                          lost=fmt.num(calls["lost"]),
                          peaks_note=(" " + t("funnel.finding.missed_peaks", peaks=ranges,
                                               peak_rate=fmt.pct(funnel.ratio_or_nan(at_peak["missed"], at_peak["calls"])),
                                               other_rate=fmt.pct(funnel.ratio_or_nan(off_peak["missed"], off_peak["calls"]))))
                          if peak_hours_ else "",
                          peaks=ranges or "—",
                          callback_note=(" " + t("funnel.finding.missed_callback",
                                                  never=fmt.pct(calls["never_called_back"]),
                                                  within_15m=fmt.pct(calls["called_back_15m"])))
                          if np.isfinite(calls["never_called_back"]) else "")
            add("missed_calls", leak["money_per_month"] if leak else None,
                "funnel.finding.missed_calls" + ("_peaks" if peak_hours_ else ""), **values)

    # Speed to lead.
    units = cur.get("slow_response_units", np.nan)
    if np.isfinite(units) and units > 0:
        leak = _leak(cur, "slow_response")
        buckets = cur["buckets"].set_index("bucket")
        rates = ", ".join(t("funnel.finding.bucket_rate", bucket=t(f"funnel.bucket.{b}"),
                            rate=fmt.pct(row["lead_to_booking"]))
                          for b, row in buckets.iterrows() if row["leads"] > 0)  # at most six buckets
        values = dict(fast_rate=fmt.pct(buckets.loc["under_5m", "lead_to_booking"]), bucket_rates=rates,
                      median=_duration(fmt, cur["median_first_response_minutes"]), units=fmt.num(units))
        slow_money = leak["money_per_month"] if leak else np.nan
        values["gain_note"] = " " + t("funnel.finding.slow_gain" + ("" if np.isfinite(slow_money) else "_unpriced"),
                                      fast_rate=values["fast_rate"], units=values["units"], money=fmt.money(slow_money))
        kinds = cur["response_by_kind"].set_index("kind")
        groups = cur["response_by_channel_kind"] if len(kinds) == 2 else cur["response_by_channel"]
        groups = groups.loc[groups["leads"] * (1 - groups["no_response"]) >= 10].dropna(subset=["median_response_minutes"])
        slowest = groups.sort_values(["median_response_minutes", "channel"], ascending=[False, True]).head(1)
        if len(kinds) == 2 and kinds.loc["written", "median_response_minutes"] > kinds.loc["call", "median_response_minutes"]:
            values["who"] = t("funnel.finding.slow_who_written")
            values["who_median"] = _duration(fmt, kinds.loc["written", "median_response_minutes"])
            values["who_note"] = " " + t("funnel.finding.slow_kinds", written=values["who_median"],
                                         calls=_duration(fmt, kinds.loc["call", "median_response_minutes"]),
                                         never=fmt.pct(kinds.loc["written", "no_response"]))
        elif len(slowest):
            values["who"] = t("funnel.finding.slow_who_channel", channel=str(slowest["channel"].iloc[0]))
            values["who_median"] = _duration(fmt, slowest["median_response_minutes"].iloc[0])
            values["who_note"] = ""
        else:
            values.update(who=t("funnel.finding.slow_who_all"), who_median=values["median"], who_note="")
        if len(slowest) and "kind" in slowest:
            row = slowest.iloc[0]
            values["slowest_note"] = " " + t("funnel.finding.slowest_group", channel=str(row["channel"]),
                                             kind=t(f"funnel.kind.{row['kind']}"),
                                             median=_duration(fmt, row["median_response_minutes"]))
        elif len(slowest):
            values["slowest_note"] = " " + t("funnel.finding.slowest_channel", channel=str(slowest["channel"].iloc[0]),
                                             median=_duration(fmt, slowest["median_response_minutes"].iloc[0]))
        else:
            values["slowest_note"] = ""
        add("slow_response", leak["money_per_month"] if leak else None, "funnel.finding.slow_response", **values)

    # Unbooked leads without a reason.
    unbooked = cur["unbooked"]
    if len(unbooked) and unbooked["unbooked"].sum() > 0:
        no_reason, total = unbooked["no_reason"].sum(), unbooked["unbooked"].sum()
        if no_reason / total >= no_reason_threshold:
            top = unbooked.sort_values(["no_reason", "channel"], ascending=[False, True]).iloc[0]
            add("unbooked_no_reason", None, "funnel.finding.unbooked_no_reason",
                no_reason=fmt.num(no_reason), unbooked=fmt.num(total), share=fmt.pct(no_reason / total),
                channel=str(top["channel"]), channel_no_reason=fmt.num(top["no_reason"]))

    # Change against the base.
    if base and "lead_to_booking" in totals and "lead_to_booking" in base["totals"]:
        now, before = totals["lead_to_booking"], base["totals"]["lead_to_booking"]
        if np.isfinite(now) and np.isfinite(before) and abs(now - before) >= min_change:
            leak = _leak(cur, "lead_to_booking")
            per_booking = (leak["downstream_conversion"] * leak["avg_first_check"] / leak["months"]) if leak else np.nan
            worth = abs(now - before) * totals["leads"] * per_booking
            change = lambda k: fmt.change(funnel.ratio_or_nan(totals[k] - base["totals"][k], base["totals"][k]))  # noqa: E731
            values = dict(base_rate=fmt.pct(before), current_rate=fmt.pct(now), delta=fmt.pp(now - before),
                          leads_change=change("leads"), booked_change=change("booked_leads"),
                          base_booked=fmt.num(base["totals"]["booked_leads"]),
                          current_booked=fmt.num(totals["booked_leads"]), worth=fmt.money(worth),
                          shown_change=change("shown_leads") if "shown_leads" in totals else "—")
            if now > before:
                found.append({"id": "lead_to_booking_up", "severity": "low", "money": None,
                              "key": "funnel.finding.lead_to_booking_up", "values": {"money": fmt.money(None), **values}})
            else:
                add("lead_to_booking_down", worth, "funnel.finding.lead_to_booking_down", **values)

    # Volume against the base: the patients who came (else the furthest stage known).
    if base:
        stage = next((k for k in ("shown_leads", "booked_leads", "leads")
                      if k in totals and k in base["totals"] and base["totals"][k] > 0), None)
        growth = funnel.ratio_or_nan(totals[stage] - base["totals"][stage], base["totals"][stage]) if stage else np.nan
        if np.isfinite(growth) and abs(growth) >= min_growth:
            # An incomplete treatment horizon would show as a fall that is not one: left out.
            skip = {"treated_leads", "paid_to_treatment"} if cur.get("treatment_open_days") else set()
            items = [t("funnel.finding.change_item", label=t(f"funnel.stage.{k}"), base=fmt.num(base["totals"][k]),
                       current=fmt.num(totals[k]), change=fmt.change(funnel.ratio_or_nan(totals[k] - base["totals"][k], base["totals"][k])))
                     for k in funnel.STAGES if k in totals and k in base["totals"] and k not in skip]
            items += [t("funnel.finding.change_item", label=t(f"funnel.conversion.{n}"), base=fmt.pct(base["totals"][n]),
                        current=fmt.pct(totals[n]), change=fmt.pp(totals[n] - base["totals"][n]))
                      for n, _, _ in funnel.CONVERSIONS if n in totals and n in base["totals"] and n not in skip]
            if calls and base.get("calls"):
                items.append(t("funnel.finding.change_item", label=t("funnel.finding.missed_label"),
                               base=fmt.pct(base["calls"]["missed_rate"]), current=fmt.pct(calls["missed_rate"]),
                               change=fmt.pp(calls["missed_rate"] - base["calls"]["missed_rate"])))
            id_ = "period_growth" if growth > 0 else "period_decline"
            found.append({"id": id_, "severity": "low" if growth > 0 else "medium", "money": None,
                          "key": f"funnel.finding.{id_}",
                          "values": {"money": fmt.money(None), "stage": t(f"funnel.stage.{stage}"),
                                     "stage_phrase": t(f"funnel.finding.stage_phrase.{stage}"),
                                     "change": fmt.change(growth), "base": fmt.num(base["totals"][stage]),
                                     "current": fmt.num(totals[stage]), "items": "; ".join(items)}})

    return found


