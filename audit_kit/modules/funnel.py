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
from ..money import Factor, Price, gap_price, module_total, target_of
from ..metrics.periods import Window, hour_ranges

NAME = "funnel"


def summarise(tables: Mapping[str, pd.DataFrame], periods: Mapping[str, Window],
              options: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """`metrics.funnel.summarise` for every period, with the treatment options of audit.yaml."""
    return funnel.summarise(tables, periods, treatment_horizon_days=options["treatment_horizon_days"],
                            treatment_categories=options["treatment_categories"])


def headline_metrics(summary: Mapping[str, Mapping[str, Any]],
                     targets: Mapping[str, Any] | None = None) -> dict[str, tuple[str, dict[str, Any]]]:
    """`metrics.funnel.headline_metrics`; ``funnel.money_at_stake_per_month`` is the module's priced gaps
    counted once (`prices`, `money.module_total`) against ``targets`` (default: the method's)."""
    out = funnel.headline_metrics(summary)
    if "funnel.money_at_stake_per_month" in out:
        out["funnel.money_at_stake_per_month"] = ("money", money_per_month(summary, targets))
    return out


def rate_counts(summary: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, tuple[int, int]]]:
    """counts.json entries (`Module.proportions`): ``funnel.missed_call_rate`` -> {period: (missed, calls)} from each
    period's `funnel.callback_summary` (0 calls included: no interval then); none without a calls table. (The
    conversions' counts are the stage counts of metrics.json already.)"""
    pairs = {p: (int(s["calls"]["missed"]), int(s["calls"]["calls"])) for p, s in summary.items() if s.get("calls")}
    return {"funnel.missed_call_rate": pairs} if pairs else {}


def money_per_month(summary: Mapping[str, Mapping[str, Any]], targets: Mapping[str, Any] | None = None) -> dict[str, float]:
    """Per period: the module's money at stake per month, each rouble once (`money.module_total`)."""
    return {name: module_total(prices(s, targets, base=summary.get("base") if name == "current" else None))
            for name, s in summary.items()}


def build_findings(summary: Mapping[str, Mapping[str, Any]], fmt, t, targets: Mapping[str, Any]) -> list[Finding]:
    """`finding_drafts` as Findings, priced against the config's targets."""
    return [from_catalog(NAME, t, fmt=fmt, **draft) for draft in finding_drafts(summary, fmt, t, targets=targets)]


def _default_targets() -> Mapping[str, Any]:
    from ..config import DEFAULT_TARGETS
    return DEFAULT_TARGETS


def prices(s: Mapping[str, Any], targets: Mapping[str, Any] | None = None, *,
           base: Mapping[str, Any] | None = None) -> dict[str, Price | None]:
    """The priced findings of one period summary (finding id -> `money.Price`, None when not priced).

    - ``unbooked`` (stage booking, acts on unbooked leads): (target − lead→booking) × leads per month ×
      booked→paid × average first check; target ``lead_to_booking``.
    - ``slow_response`` (lead handling, unbooked leads): the response-time buckets booking less often than
      leads answered within 5 minutes (the internal benchmark): (benchmark − their booking rate) × their
      leads per month × booked→paid × first check (= `metrics.funnel.slow_response_units` priced).
    - ``lead_to_booking_down`` (booking, unbooked leads; with ``base``): (base rate − today's) × leads per
      month × booked→paid × first check.
    - ``booked_no_show`` (show, no-shows): (share of booked leads who never came − ``no_show_rate``) ×
      booked leads per month × shown→paid × first check.
    - ``missed_calls`` (lead handling, missed calls — callers not in the CRM, other people than the leads):
      (missed rate − ``missed_call_rate``) × calls per month × share of missed calls nobody recovered ×
      lead→paid × first check.
    - ``shown_unpaid``: not priced (no defensible target for show→paid).
    """
    targets = _default_targets() if targets is None else targets
    totals, months, check = s["totals"], s["months"], s["avg_first_check"]
    out: dict[str, Price | None] = {}

    def leak(name: str) -> Mapping[str, Any] | None:
        return _leak(s, name)

    unbooked = leak("lead_to_booking")
    if unbooked is not None:
        target, source = target_of(targets, "lead_to_booking")
        per_booking = (Factor("booking_to_paid", unbooked["downstream_conversion"], "rate"),
                       Factor("first_check", check, "money"))
        out["unbooked"] = gap_price(stage="booking", acts_on="unbooked_leads", rate=totals.get("lead_to_booking"),
                                    target=target, target_source=source, target_key="lead_to_booking",
                                    factors=(Factor("leads_per_month", totals["leads"] / months), *per_booking))
        buckets = s["buckets"]
        if np.isfinite(s.get("slow_response_units", np.nan)):
            fast = float(buckets.loc[buckets["bucket"] == "under_5m", "lead_to_booking"].iloc[0])
            slow = buckets.loc[(buckets["bucket"] != "under_5m") & (buckets["leads"] > 0)
                               & (buckets["lead_to_booking"] < fast)]
            leads = float(slow["leads"].sum())
            if leads > 0:
                out["slow_response"] = gap_price(
                    stage="lead_handling", acts_on="unbooked_leads", rate=float(slow["booked_leads"].sum()) / leads,
                    target=fast, target_source="benchmark", benchmark="fast_answer",
                    factors=(Factor("slow_leads_per_month", leads / months), *per_booking))
        if base is not None and "lead_to_booking" in base["totals"]:
            out["lead_to_booking_down"] = gap_price(
                stage="booking", acts_on="unbooked_leads", rate=totals.get("lead_to_booking"),
                target=base["totals"]["lead_to_booking"], target_source="base",
                factors=(Factor("leads_per_month", totals["leads"] / months), *per_booking))
    no_show = leak("booking_to_show")
    if no_show is not None and totals.get("booked_leads"):
        target, source = target_of(targets, "no_show_rate")
        out["booked_no_show"] = gap_price(
            stage="show", acts_on="no_shows", rate=no_show["lost_units"] / totals["booked_leads"], target=target,
            target_source=source, target_key="no_show_rate", lower_is_better=True,
            factors=(Factor("booked_per_month", totals["booked_leads"] / months),
                     Factor("show_to_paid", no_show["downstream_conversion"], "rate"), Factor("first_check", check, "money")))
    out["shown_unpaid"] = None
    calls, missed = s.get("calls"), leak("missed_calls")
    if calls and missed is not None and calls["missed"] > 0:
        target, source = target_of(targets, "missed_call_rate")
        out["missed_calls"] = gap_price(
            stage="lead_handling", acts_on="missed_calls", rate=calls["missed_rate"], target=target,
            target_source=source, target_key="missed_call_rate", lower_is_better=True,
            factors=(Factor("calls_per_month", calls["calls"] / months),
                     Factor("unrecovered_share", calls["lost"] / calls["missed"], "rate"),
                     Factor("lead_to_paid", missed["downstream_conversion"], "rate"), Factor("first_check", check, "money")))
    return out


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


def finding_drafts(summaries: Mapping[str, Mapping[str, Any]], fmt, t, *, targets: Mapping[str, Any] | None = None,
                   min_change: float = 0.005, min_growth: float = 0.05,
                   no_reason_threshold: float = 0.2) -> list[dict[str, Any]]:
    """Findings of the current period (compared with the base when there is one).

    Returns dicts ``{id, severity, key, values, price}`` (`findings.from_catalog` makes them Findings; the
    money is the price's, `prices`); ``fmt`` formats numbers (``report.fmt.Formatter``), ``t``
    (``report.i18n.Translator``) fills the optional sentences. Emitted when they apply:

    - ``unbooked``, ``booked_no_show``, ``shown_unpaid``: a funnel step lost leads; the evidence says
      when the step is the largest leak in either period.
    - ``missed_calls``: the missed-call rate is above ``missed_call_target`` or peak hours exist.
    - ``slow_response``: slower answers cost bookings (``slow_response_units`` > 0); names written
      requests when they wait longer than calls, and the slowest channel (and kind).
    - ``unbooked_no_reason``: at least ``no_reason_threshold`` of unbooked leads have no reason
      (not priced: those leads are inside the lead→booking gap).
    - ``lead_to_booking_up`` / ``lead_to_booking_down``: lead→booking moved by at least
      ``min_change`` against the base; a rise is not priced (it is a gain), a fall is priced against
      the base rate (nested with the other findings on unbooked leads).
    - ``period_growth`` / ``period_decline``: the leads who came (else the furthest stage known)
      changed by at least ``min_growth`` against the base; the evidence lists every stage,
      conversion and the missed-call rate in both periods (treatment left out while its horizon
      is still open for the current period's leads). Not priced.
    """
    cur = summaries["current"]
    base = summaries.get("base")
    targets = _default_targets() if targets is None else targets
    missed_call_target = targets["missed_call_rate"]
    priced = prices(cur, targets, base=base)
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

    def add(id_: str, key: str, **values: Any) -> None:
        price = priced.get(id_)
        money = price.money if price is not None else None
        found.append({"id": id_, "severity": severity_by_money(money, revenue), "money": money, "key": key,
                      "price": price, "values": {"money": fmt.money(money), **values}})

    # Funnel steps.
    steps = (("unbooked", "lead_to_booking", "leads", "booked_leads"),
             ("booked_no_show", "booking_to_show", "booked_leads", "shown_leads"),
             ("shown_unpaid", "show_to_paid", "shown_leads", "paid_leads"))
    for id_, leak_name, low, high in steps:
        leak = _leak(cur, leak_name)
        if leak is None or leak["lost_units"] <= 0:
            continue
        values = dict(lost=fmt.num(leak["lost_units"]), total=fmt.num(totals[low]),
                      share=fmt.pct(leak["lost_units"] / totals[low]), base=base_note(leak_name, low),
                      largest=largest_note(leak_name),
                      formula="" if priced.get(id_) is not None else " " + t("money.no_target"))
        if id_ == "unbooked":
            ch = cur["by_channel"].assign(unbooked=lambda d: d["leads"] - d["booked_leads"])
            ch = ch.loc[ch["leads"] > 0].sort_values(["unbooked", "channel"], ascending=[False, True])
            if not ch.empty:
                top = ch.iloc[0]
                values["channel_note"] = " " + t("funnel.finding.unbooked_channel", channel=str(top["channel"]),
                                                 channel_share=fmt.pct(top["unbooked"] / top["leads"]))
            else:
                values["channel_note"] = ""
        add(id_, f"funnel.finding.{id_}", **values)

    # Missed calls.
    calls = cur.get("calls")
    if calls and calls["calls"] > 0:
        peaks = cur["peaks"]
        peak_hours_ = peaks.loc[peaks["is_peak"], "hour"].tolist()
        if calls["missed_rate"] > missed_call_target or peak_hours_:
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
            add("missed_calls", "funnel.finding.missed_calls" + ("_peaks" if peak_hours_ else ""), **values)

    # Speed to lead.
    units = cur.get("slow_response_units", np.nan)
    if np.isfinite(units) and units > 0:
        buckets = cur["buckets"].set_index("bucket")
        rates = ", ".join(t("funnel.finding.bucket_rate", bucket=t(f"funnel.bucket.{b}"),
                            rate=fmt.pct(row["lead_to_booking"]))
                          for b, row in buckets.iterrows() if row["leads"] > 0)  # at most six buckets
        values = dict(fast_rate=fmt.pct(buckets.loc["under_5m", "lead_to_booking"]), bucket_rates=rates,
                      median=_duration(fmt, cur["median_first_response_minutes"]), units=fmt.num(units))
        values["gain_note"] = " " + t("funnel.finding.slow_gain", fast_rate=values["fast_rate"], units=values["units"])
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
        add("slow_response", "funnel.finding.slow_response", **values)

    # Unbooked leads without a reason.
    unbooked = cur["unbooked"]
    if len(unbooked) and unbooked["unbooked"].sum() > 0:
        no_reason, total = unbooked["no_reason"].sum(), unbooked["unbooked"].sum()
        if no_reason / total >= no_reason_threshold:
            top = unbooked.sort_values(["no_reason", "channel"], ascending=[False, True]).iloc[0]
            add("unbooked_no_reason", "funnel.finding.unbooked_no_reason",
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
                add("lead_to_booking_down", "funnel.finding.lead_to_booking_down", **values)

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




def response_buckets_table(summary: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    """Machine-readable: leads and bookings by response-time bucket, every period (column ``period``) — the
    inputs of the ``slow_response`` price."""
    parts = [s["buckets"].assign(period=p) for p, s in summary.items() if not s["buckets"].empty]
    columns = ["period", "bucket", "leads", "booked_leads", "lead_to_booking"]
    return pd.concat(parts, ignore_index=True)[columns] if parts else pd.DataFrame(columns=columns)


def calls_table(summary: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    """Machine-readable: the calls of every period (`metrics.funnel.callback_summary`: calls, missed,
    missed_rate, never_called_back, called_back_15m, called_back_2h, lost) — the inputs of the
    ``missed_calls`` price."""
    rows = [{"period": p, **s["calls"]} for p, s in summary.items() if s.get("calls")]
    return pd.DataFrame(rows, columns=["period", "calls", "missed", "missed_rate", "never_called_back",
                                       "called_back_15m", "called_back_2h", "lost"])
