"""Schedule utilisation (module 03): the schedule metrics in sentences — findings and money at stake.

The numbers come from `audit_kit.metrics.schedule`; this layer has the module shape of
`audit_kit.modules` (``summarise``, ``headline_metrics``, ``build_findings``).
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any, Mapping

import numpy as np
import pandas as pd

from ..findings import Finding, capped, from_catalog
from ..metrics import schedule
from ..money import Factor, Price, gap_price, module_total, target_of
from ..metrics.periods import Window, hour_ranges
from ..metrics.schedule import (FAR_AHEAD_BUCKETS, MIN_KEPT, MIN_VISITS, OUTSIDE_SHARE, OVERRUN_MINUTES, WAIT_SHARE_LIMIT,
                                PeriodSummary, booking_rates, excess_over, fill_gaps, main_hours, no_show_value,
                                overbooked, worse_groups)

NAME = "schedule"


def summarise(tables: Mapping[str, pd.DataFrame], periods: Mapping[str, Window], options: Mapping[str, Any], *,
              targets: Mapping[str, Any] | None = None) -> dict[str, schedule.PeriodSummary]:
    """`metrics.schedule.summarise` for every period. The money at stake depends on the targets: the
    config's ``targets:`` (default: the method's, `config.DEFAULT_TARGETS`); the wait target is the
    option ``wait_target_minutes``."""
    from ..config import DEFAULT_TARGETS

    targets = DEFAULT_TARGETS if targets is None else targets
    out = schedule.summarise(tables, dict(periods), default_slot_minutes=options["default_slot_minutes"],
                             wait_target=options["wait_target_minutes"], no_show_target=targets["no_show_rate"],
                             utilisation_target=targets["utilisation"])
    branches = doctor_branches(tables)
    if branches is None:
        return out
    return {name: replace(s, balance=branch_balance(s, branches)) for name, s in out.items()}


def branch_balance(cur: PeriodSummary, branches: pd.Series) -> pd.DataFrame:
    """A network's load balance: `specialty_balance` within each (branch, specialty) — doctors are compared with
    the colleagues of their own branch — naming each doctor as a finding does (`doctor_labels`)."""
    docs = cur.doctors.assign(doctor=cur.doctors["doctor_id"].astype("string").map(doctor_labels(cur.doctors))
                              .fillna(cur.doctors["doctor"].astype("string")),
                              branch_id=cur.doctors["doctor_id"].astype("string").map(branches))
    return schedule.specialty_balance(docs)


BALANCE_ROWS = 15          # rows of a network's balance table the report shows (most idle patients first)
BALANCE_NAMES = 3          # names per cell of the shown balance table, then «и ещё N»


def balance_shown(balance: pd.DataFrame, fmt, t, *, rows: int = BALANCE_ROWS, names: int = BALANCE_NAMES
                  ) -> pd.DataFrame:
    """The rows of a network's balance table the report shows: the imbalanced (branch, specialty) pairs first,
    then by idle patients, at most ``rows``; the over- and underloaded names capped at ``names`` (`capped`).
    The whole table stays in the workbook (``schedule_balance``)."""
    top = balance.assign(_imb=balance["imbalance"].astype(bool)).sort_values(
        ["_imb", "idle_patients", "branch_id", "specialty"], ascending=[False, False, True, True], kind="stable")
    top = top.drop(columns=["_imb", "idle_minutes", "imbalance"]).head(rows).reset_index(drop=True)
    for col in ("overloaded", "underloaded"):     # at most `rows` cells: a loop over the shown rows only
        top[col] = [capped([x for x in cell.split(", ") if x], fmt, t, names) for cell in top[col]]
    return top


def headline_metrics(summary: Mapping[str, schedule.PeriodSummary],
                     targets: Mapping[str, Any] | None = None) -> dict[str, tuple[str, dict[str, float]]]:
    """`metrics.schedule.headline_metrics`; ``schedule.money_at_stake_per_month`` is the module's priced gaps
    counted once (`prices`, `money.module_total`)."""
    out = schedule.headline_metrics(dict(summary))
    out["schedule.money_at_stake_per_month"] = ("money", money_per_month(summary, targets))
    return out


def rate_counts(summary: Mapping[str, schedule.PeriodSummary]) -> dict[str, dict[str, tuple[int, int]]]:
    """counts.json entries (`Module.proportions`): `schedule.<rate>` -> {period: (x, n)} (`schedule.rate_counts`)."""
    out: dict[str, dict[str, tuple[int, int]]] = {}
    for period, s in summary.items():
        for name, pair in s.counts.items():
            out.setdefault(f"schedule.{name}", {})[period] = pair
    return out


def money_per_month(summary: Mapping[str, schedule.PeriodSummary],
                    targets: Mapping[str, Any] | None = None) -> dict[str, float]:
    """Per period: the module's money at stake per month, each rouble once."""
    return {name: module_total(prices(s, targets)) for name, s in summary.items()}


def build_findings(summary: Mapping[str, schedule.PeriodSummary], fmt, t, targets: Mapping[str, Any]) -> list[Finding]:
    """`finding_drafts` as Findings (the wait target is the one the summary was computed with)."""
    drafts = finding_drafts(dict(summary), fmt, targets=targets, wait_target=summary["current"].wait_target, t=t)
    return [from_catalog(NAME, t, fmt=fmt, **draft) for draft in drafts]


def _default_targets() -> Mapping[str, Any]:
    from ..config import DEFAULT_TARGETS
    return DEFAULT_TARGETS


def prices(cur: PeriodSummary, targets: Mapping[str, Any] | None = None) -> dict[str, Price | None]:
    """The priced findings of one period (finding id -> `money.Price`, None when not priced). The value of a
    no-show is the average paid visit of its specialty, weighted by the no-shows (`no_show_value`).

    - ``no_show`` (stage show, acts on no-shows): (no-show rate − ``no_show_rate``) × kept bookings
      (completed + no-show) per month × value of a no-show;
    - ``no_show_lead_time`` (show, no-shows): (no-show rate of bookings made 8+ days ahead − that of the
      others, the internal benchmark) × such kept bookings per month × value of a no-show;
    - ``no_show_channel`` (show, no-shows): the worse channels pooled — (their no-show rate − the rate of
      the other channels, weighted by their bookings) × their kept bookings per month × value;
    - ``underloaded`` (capacity, idle hours): underloaded doctors below the ``utilisation`` target, pooled
      — (target − their utilisation) × their scheduled hours per month × the value of one booked hour
      (visit value ÷ typical slot length, weighted by each doctor's missing hours).
    The three no-show findings act on the same patients: counted once (`money.count_once`).
    """
    targets = _default_targets() if targets is None else targets
    months = cur.frames.months
    out: dict[str, Price | None] = {}
    value = no_show_value(cur.doctors, cur.visit_value)
    total = booking_rates(cur.frames.slots).iloc[0]
    kept = float(total["completed"] + total["no_show"])
    target, source = target_of(targets, "no_show_rate")
    if kept > 0:
        out["no_show"] = gap_price(stage="show", acts_on="no_shows", rate=float(total["no_show"]) / kept, target=target,
                                   target_source=source, target_key="no_show_rate", lower_is_better=True,
                                   factors=(Factor("kept_per_month", kept / months), Factor("no_show_value", value, "money")))
    ex = far_ahead_excess(cur)
    if ex is not None:
        out["no_show_lead_time"] = gap_price(
            stage="show", acts_on="no_shows", rate=ex["rate_in"], target=ex["rate_out"], target_source="benchmark",
            benchmark="near_bookings", lower_is_better=True,
            factors=(Factor("far_kept_per_month", ex["kept_in"] / months), Factor("no_show_value", value, "money")))
    worse = worse_groups(cur.rates["channel"], "channel")
    if len(worse):
        kept_w = float(worse["kept"].sum())
        out["no_show_channel"] = gap_price(
            stage="show", acts_on="no_shows", rate=float(worse["no_show"].sum()) / kept_w,
            target=float((worse["rate_out"] * worse["kept"]).sum()) / kept_w, target_source="benchmark",
            benchmark="other_channels", lower_is_better=True,
            factors=(Factor("channel_kept_per_month", kept_w / months), Factor("no_show_value", value, "money")))
    under = cur.money.underload
    target, source = target_of(targets, "utilisation")
    if len(under) and target is not None:
        under = under.loc[under["gap_minutes"] > 0]
        slot = (under["typical_slot_minutes"] if "typical_slot_minutes" in under
                else pd.Series(30.0, index=under.index)).fillna(30.0)
        offered, gap = float(under["offered_minutes"].sum()), float(under["gap_minutes"].sum())
        if offered > 0 and gap > 0:
            hour_value = float((under["gap_minutes"] * under["visit_value"] * 60 / slot).sum()) / gap
            out["underloaded"] = gap_price(
                stage="capacity", acts_on="idle_hours", rate=float(under["booked_minutes"].sum()) / offered,
                target=target, target_source=source, target_key="utilisation",
                factors=(Factor("offered_hours_per_month", offered / 60 / months, "hours"),
                         Factor("hour_value", hour_value, "money")))
    return out


UNDERLOAD_COLUMNS = ["doctor", "specialty", "offered_minutes", "booked_minutes", "utilisation", "typical_slot_minutes",
                     "visit_value", "gap_minutes"]


def underload_table(cur: PeriodSummary) -> pd.DataFrame:
    """Machine-readable: the underloaded doctors of a period with what prices them (``underloaded`` in `prices`):
    scheduled and booked minutes, typical slot, the visit value of their specialty and the minutes missing to
    the utilisation target (whole period)."""
    under = cur.money.underload
    out = under.reindex(columns=UNDERLOAD_COLUMNS)
    out["doctor"] = out["doctor"].astype("string")
    out["specialty"] = out["specialty"].astype("string")
    return out.reset_index(drop=True)


def far_ahead_excess(cur: PeriodSummary) -> dict | None:
    """`excess_over` of bookings made far ahead (`FAR_AHEAD_BUCKETS`) against the others, when the far ones
    are clearly worse (at least `MIN_KEPT` kept, z ≥ 2); else None."""
    lt = cur.rates["lead_time"]
    known = lt.loc[lt["lead_time"].notna()]
    far = known["lead_time"].isin(FAR_AHEAD_BUCKETS).astype(bool)
    if not (far.any() and (~far).any()):
        return None
    ex = excess_over(known, group_mask=far)
    if ex["kept_in"] >= MIN_KEPT and ex["z"] >= 2 and ex["rate_in"] > ex["rate_out"]:
        return {**ex, "kept_share": ex["kept_in"] / float((known["completed"] + known["no_show"]).sum())}
    return None


def hours_text(hours: list[int]) -> str:
    """Clock hours as ranges: [17, 18, 19] -> '17:00–20:00'."""
    return ", ".join(f"{a:02d}:00–{b:02d}:00" for a, b in hour_ranges(hours))


def doctor_labels(doctors: pd.DataFrame) -> pd.Series:
    """doctor_id -> the name a finding shows: the doctor's name, with the doctor's ID added where two doctors
    share a name (networks: the same name in several branches), so no name repeats in a list."""
    names = doctors["doctor"].astype("string")
    shared = names.duplicated(keep=False).to_numpy(bool)
    shown = names.where(~shared, names + " (" + doctors["doctor_id"].astype("string") + ")")
    return pd.Series(shown.to_numpy(), index=doctors["doctor_id"].astype("string").to_numpy())


def imbalance_text(imbalanced: pd.DataFrame, fmt, t) -> tuple[str, str]:
    """The imbalance finding's names: the specialties (each once) and the pairs «specialty: overloaded ↔
    underloaded», capped (`capped`). In a network (a ``branch_id`` column, `branch_balance`) each pair names its
    branch, «branch · specialty», the pairs with the most idle patients first."""
    imb, where = imbalanced, imbalanced["specialty"].astype(str)
    if "branch_id" in imb:
        imb = imb.sort_values(["idle_patients", "branch_id", "specialty"], ascending=[False, True, True], kind="stable")
        where = imb["branch_id"].astype(str) + " · " + imb["specialty"].astype(str)
    pairs = capped((f"{w}: {o} ↔ {u}" for w, o, u in zip(where, imb["overloaded"], imb["underloaded"])), fmt, t)
    return capped(imb["specialty"].astype(str).unique(), fmt, t), pairs


def finding_drafts(summaries: dict[str, PeriodSummary], fmt, *, targets: Mapping[str, Any] | None = None,
                   wait_target: float = 15, t=None) -> list[dict]:
    """Findings of the current period: dicts {id, severity, key, values, price} (money: `prices`).

    `fmt` formats the values (`report.fmt.Formatter`); money is per month. Emitted when:
    - overbooked: a doctor is above 95% utilisation or double-booked ≥ 2% of offered time;
    - underloaded: a doctor is below 60% (priced: patients lacking to the utilisation target);
    - imbalance: a specialty has an overloaded and an underloaded doctor at once;
    - peak_overload: double-booked or outside-shift minutes exist (the hours holding most; the
      waits compared are those of the named doctors' patients, at those hours vs other hours);
    - no_show: the no-show rate is above the target (priced: no-shows above the target);
    - no_show_lead_time: bookings made 8+ days ahead have a clearly higher no-show rate (z ≥ 2);
    - no_show_channel: a channel's no-show rate is clearly above the others (`worse_groups`);
    - waits: more than 25% wait longer than the target, or the median is above it;
    - overrun: a doctor's appointments run ≥ 5 minutes over the slot on average;
    - outside_shifts: ≥ 5% of booked minutes lie outside every shift.
    Pattern findings (lead time, channel) are priced as their excess no-shows and nested in the no-show
    finding (the same patients, `money.count_once`).
    """
    targets = _default_targets() if targets is None else targets
    if t is None:                     # the report's catalogs in the formatter's language
        from ..report.i18n import Translator
        t = Translator(fmt.language)
    no_show_target, utilisation_target = targets["no_show_rate"], targets["utilisation"]
    cur = summaries["current"]
    months = cur.frames.months
    found: list[dict] = []
    per_month = lambda x: x / months  # noqa: E731
    priced = prices(cur, targets)

    def add(id_: str, severity: str, money_: float | None, **values) -> None:
        price = priced.get(id_)
        money_ = price.money if price is not None else None
        found.append({"id": id_, "severity": severity, "money": money_, "key": f"schedule.finding.{id_}",
                      "price": price, "values": {"money": fmt.money(money_), **values}})

    labels = doctor_labels(cur.doctors)

    def label(df: pd.DataFrame) -> pd.Series:
        return df["doctor_id"].map(labels).fillna(df["doctor"].astype(str)) if "doctor_id" in df else df["doctor"].astype(str)

    def names(df: pd.DataFrame, pattern: str, **cols) -> str:
        parts = [label(df)]
        for col, kind in cols.items():
            parts.append(df[col].map(kind))
        return capped((pattern.format(*row) for row in zip(*parts)), fmt, t)

    def plain(df: pd.DataFrame) -> str:
        return capped(label(df), fmt, t)

    docs = cur.doctors
    # Overbooked doctors.
    over = overbooked(docs)
    if len(over):
        hd = cur.hourly_by_doctor.loc[cur.hourly_by_doctor["doctor_id"].isin(over["doctor_id"])]
        hours = fill_gaps(main_hours(hd.groupby("hour")["double_booked_minutes"].sum()
                                     + hd.groupby("hour")["outside_shift_minutes"].sum()))
        add("overbooked", "high", None, names=plain(over),
            doctors=names(over, "{} ({})", utilisation=fmt.pct),
            double=fmt.hours(per_month(over["double_booked_minutes"].sum()) / 60, 1),
            outside=fmt.hours(per_month(over["outside_shift_minutes"].sum()) / 60, 1),
            hours=hours_text(hours) or "—")
    # Underloaded doctors and the busiest colleague of their specialty.
    under = cur.money.underload
    if len(under):
        busiest = docs.dropna(subset=["utilisation"]).sort_values("utilisation", ascending=False) \
            .drop_duplicates("specialty").set_index("specialty")
        mates = busiest.reindex(under["specialty"].dropna().unique())
        mates = mates.loc[~mates["doctor_id"].isin(under["doctor_id"])].dropna(subset=["doctor_id"])
        add("underloaded", "medium", None,
            names=plain(under),
            doctors=names(under, "{} ({})", utilisation=fmt.pct),
            idle=fmt.hours(per_month(under["idle_minutes"].sum()) / 60),
            patients=fmt.num(per_month(under["idle_patients"].sum())),
            gap=fmt.num(per_month(under["gap_patients"].sum())),
            colleagues=names(mates, "{} ({})", utilisation=fmt.pct) or "—",
            target=fmt.pct(utilisation_target, 0))
    # Imbalance within a specialty.
    imb = cur.balance.loc[cur.balance["imbalance"].astype(bool)] if len(cur.balance) else cur.balance
    if len(imb):
        specialties, pairs = imbalance_text(imb, fmt, t)
        add("imbalance", "medium", None, specialties=specialties, pairs=pairs,
            patients=fmt.num(per_month(imb["idle_patients"].sum())))
    # Peak-hour overload.
    peak = cur.peak
    if peak is not None and peak.overload_minutes > 0:
        named = peak.doctors.merge(docs[["doctor_id", "doctor"]], on="doctor_id", how="left")
        wait_peak = wait_other = np.nan
        if cur.frames.waits is not None:
            w = cur.frames.waits.loc[cur.frames.waits["doctor_id"].isin(peak.doctors["doctor_id"])]
            in_peak = w["checked_in_at"].dt.hour.isin(peak.hours)
            wait_peak = w.loc[in_peak, "wait_minutes"].median()
            wait_other = w.loc[~in_peak, "wait_minutes"].median()
        add("peak_overload", "high" if peak.share >= 0.1 else "medium", None, hours=hours_text(peak.hours),
            overload=fmt.hours(per_month(peak.overload_minutes) / 60, 1), share=fmt.pct(peak.share),
            doctors=names(named, "{} ({})", utilisation=fmt.pct),
            wait_peak=fmt.minutes(wait_peak), wait_other=fmt.minutes(wait_other),
            other_util=fmt.pct(peak.other_utilisation))
    # No-shows above the target.
    total = booking_rates(cur.frames.slots).iloc[0]
    rate = total["no_show_rate"]
    if pd.notna(rate) and no_show_target is not None and rate > no_show_target:
        add("no_show", "high" if rate > 2 * no_show_target else "medium", None,
            rate=fmt.pct(rate), target=fmt.pct(no_show_target, 0), no_shows=fmt.num(per_month(total["no_show"])),
            cost=fmt.money(cur.money.no_show_cost_per_month))
    # Booked far ahead.
    ex = far_ahead_excess(cur)
    if ex is not None:
        add("no_show_lead_time", "medium", None, far=fmt.pct(ex["rate_in"]),
            near=fmt.pct(ex["rate_out"]), ratio=fmt.num(ex["rate_in"] / ex["rate_out"], 1) if ex["rate_out"] else "—",
            far_share=fmt.pct(ex["kept_share"]), excess=fmt.num(per_month(ex["excess"]), 1))
    # Channels with more no-shows.
    worse = worse_groups(cur.rates["channel"], "channel")
    if len(worse):
        rest = worse["rate_out"].iloc[0]
        add("no_show_channel", "medium", None,
            channels=capped(worse["channel"].astype(str), fmt, t),
            rates=capped((f"{c} {fmt.pct(r)}" for c, r in zip(worse["channel"], worse["no_show_rate"])), fmt, t),
            rest=fmt.pct(rest), excess=fmt.num(per_month(worse["excess"].sum()), 1))
    # Waits and overruns.
    h = cur.headlines
    wd = cur.waits_by_doctor
    if wd is not None and (h["share_wait_over_target"] > WAIT_SHARE_LIMIT or h["median_wait_minutes"] > wait_target):
        slow = wd.loc[(wd["visits_timed"] >= MIN_VISITS) & (wd["median_wait"] > wait_target)] \
            .sort_values("median_wait", ascending=False)
        add("waits", "medium", None, median=fmt.minutes(h["median_wait_minutes"]),
            share=fmt.pct(h["share_wait_over_target"]), target=fmt.num(wait_target),
            doctors=names(slow, "{} ({})", median_wait=fmt.minutes) or "—")
    if wd is not None:
        late = wd.loc[(wd["visits_timed"] >= MIN_VISITS) & (wd["mean_overrun"] >= OVERRUN_MINUTES)] \
            .sort_values("mean_overrun", ascending=False)
        if len(late):
            add("overrun", "medium", None, names=plain(late),
                doctors=names(late, "{} (+{}, {})", mean_overrun=fmt.minutes, share_overrun=fmt.pct))
    # Bookings outside the schedule.
    if h["booked_hours"] > 0 and h["outside_shift_hours"] / h["booked_hours"] >= OUTSIDE_SHARE:
        add("outside_shifts", "low", None, outside=fmt.hours(per_month(h["outside_shift_hours"]), 1),
            share=fmt.pct(h["outside_shift_hours"] / h["booked_hours"]))
    return found


BRANCH_COLUMNS = ["branch_id", "doctors", "offered_hours_per_month", "utilisation", "no_show_rate", "kept_per_month",
                  "visit_revenue_per_month", "no_show_money_per_month", "idle_money_per_month", "money_per_month"]


def doctor_branches(tables: Mapping[str, pd.DataFrame]) -> pd.Series | None:
    """doctor_id -> branch_id: the branch of the doctor's shifts (schedule), else of their bookings; a doctor seen
    in several branches takes the one with the most rows. None without a ``branch_id`` or with one branch."""
    parts = [tables[name][["doctor_id", "branch_id"]] for name in ("schedule", "bookings")
             if name in tables and "branch_id" in tables[name] and tables[name]["branch_id"].notna().any()]
    if not parts:
        return None
    rows = parts[0].dropna()
    if rows["branch_id"].nunique() < 2:
        return None
    counts = rows.groupby(["doctor_id", "branch_id"], observed=True).size().rename("n").reset_index()
    counts = counts.sort_values(["doctor_id", "n", "branch_id"], ascending=[True, False, True], kind="stable")
    first = counts.drop_duplicates("doctor_id")
    return pd.Series(first["branch_id"].astype("string").to_numpy(), index=first["doctor_id"].astype("string").to_numpy())


def branch_table(cur: PeriodSummary, branches: pd.Series | None,
                 targets: Mapping[str, Any] | None = None) -> pd.DataFrame | None:
    """The network's branches in one period, each against the targets with the shape of `prices` (money per month):

    - ``utilisation`` = booked ÷ offered minutes of the branch's doctors; ``no_show_rate`` = no-shows ÷ kept bookings;
    - ``visit_revenue_per_month``: payments tied to the branch's realised bookings ÷ months;
    - ``no_show_money_per_month`` = (the branch's no-show rate − target)⁺ × its kept bookings a month × the
      network's value of a no-show (`no_show_value`);
    - ``idle_money_per_month`` = the ``underloaded`` price of the branch's own underloaded doctors;
    - ``money_per_month`` = the two (other patients: a no-show is booked time, idle time is not).
    Each branch is held to the target on its own, so the branches' sums can exceed the network's findings
    (a branch better than the target adds nothing there). None without branches."""
    if branches is None:
        return None
    targets = _default_targets() if targets is None else targets
    months = cur.frames.months
    docs = cur.doctors.assign(branch_id=cur.doctors["doctor_id"].astype("string").map(branches))
    docs = docs.loc[docs["branch_id"].notna()]
    out = docs.groupby("branch_id", observed=True).agg(
        doctors=("doctor_id", "size"), offered=("offered_minutes", "sum"), booked=("booked_minutes", "sum"),
        completed=("completed", "sum"), no_show=("no_show", "sum"))
    kept = out["completed"] + out["no_show"]
    out["offered_hours_per_month"] = out["offered"] / 60 / months
    out["utilisation"] = out["booked"] / out["offered"].where(out["offered"] > 0)
    out["no_show_rate"] = out["no_show"] / kept.where(kept > 0)
    out["kept_per_month"] = kept / months
    slots = cur.frames.slots
    paid = pd.Series(slots["paid"].to_numpy("float64", na_value=np.nan),
                     index=slots["doctor_id"].astype("string").map(branches).to_numpy())
    out["visit_revenue_per_month"] = paid.groupby(level=0).sum().reindex(out.index).fillna(0.0) / months
    target = targets.get("no_show_rate")
    value = no_show_value(cur.doctors, cur.visit_value)
    gap = (out["no_show_rate"] - target).clip(lower=0) if target is not None else np.nan
    out["no_show_money_per_month"] = gap * out["kept_per_month"] * value
    under = cur.money.underload
    under = under.loc[under["gap_minutes"] > 0]
    slot = (under["typical_slot_minutes"] if "typical_slot_minutes" in under
            else pd.Series(30.0, index=under.index)).fillna(30.0)
    idle = pd.Series((under["gap_minutes"] / slot * under["visit_value"]).to_numpy("float64") / months,
                     index=under["doctor_id"].astype("string").map(branches).to_numpy())
    out["idle_money_per_month"] = idle.groupby(level=0).sum().reindex(out.index).fillna(0.0)
    out["money_per_month"] = out["no_show_money_per_month"].fillna(0.0) + out["idle_money_per_month"]
    out = out.reset_index().sort_values(["money_per_month", "branch_id"], ascending=[False, True], kind="stable")
    out["branch_id"] = out["branch_id"].astype("string")
    return out[BRANCH_COLUMNS].reset_index(drop=True)
