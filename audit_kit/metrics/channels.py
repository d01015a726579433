"""Channel ROMI (DESIGN §4, module 04): what each acquisition channel costs and what its patients bring.

Pure, vectorised functions over the canonical tables; no I/O. Acquisition and first/last touch
come from `patients`; leads' bookings and shows from `funnel`; this module holds the money ratios.
Channel names are canonical already: ingest maps the channel column of every table (leads,
calls, marketing_spend, site_traffic, patients.first_channel) through the config's `channels:`.
"""
from __future__ import annotations

from typing import Any, Iterable, Mapping

import numpy as np
import pandas as pd

from ..ingest import keys as id_keys
from .funnel import lead_journey, stage_counts
from .patients import (ATTRIBUTIONS, DEFAULT_REPEAT_CHANNELS, UNKNOWN_CHANNEL, acquisition_rows,
                       data_end, touches)
from .periods import NS_PER_DAY, Window, in_window


def ratio(num, den):
    """num ÷ den, elementwise; NaN (null in metrics.json, "n/a" in the report) where the
    denominator is zero or missing — never an error or infinity."""
    num = pd.to_numeric(num, errors="coerce") if isinstance(num, pd.Series) else num
    if isinstance(den, pd.Series):
        den = pd.to_numeric(den, errors="coerce").astype("float64")
        return num / den.where(den != 0)
    den = float(den) if den is not None and not pd.isna(den) else np.nan
    return float(num) / den if den and np.isfinite(den) and not pd.isna(num) else np.nan


def cac(spend, new_patients):
    """Customer acquisition cost: spend ÷ acquired (new paying) patients, in the config currency.

    Null where there are no new patients or no spend figure (a channel without spend rows has
    spend NaN, not 0, and so no CAC)."""
    return ratio(spend, new_patients)


def monthly_spend(marketing_spend: pd.DataFrame) -> pd.DataFrame:
    """Ad spend per calendar month and canonical channel: columns ``month`` (first day), ``channel``,
    ``spend`` (config currency). Daily or weekly rows are summed into their month (ingest turns any
    date into its month's first day); rows without a month or amount are left out of the sum."""
    rows = marketing_spend.dropna(subset=["month", "spend"])
    out = (pd.DataFrame({"month": rows["month"].dt.to_period("M").dt.to_timestamp().astype("datetime64[ns]"),
                         "channel": rows["channel"].astype("string"), "spend": rows["spend"].astype("float64")})
           .groupby(["month", "channel"], sort=True, observed=True)["spend"].sum().reset_index())
    return out


def spend_by_channel(marketing_spend: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> pd.Series:
    """Spend per channel over the months whose first day lies in ``[start, end)``; a Series indexed
    by channel (channels without spend rows in the window are absent, i.e. spend unknown, not 0)."""
    spend = monthly_spend(marketing_spend)
    part = spend.loc[((spend["month"] >= start) & (spend["month"] < end)).to_numpy(bool)]
    return part.groupby("channel", sort=True)["spend"].sum()


# -- the channel economics ------------------------------------------------------------------------
# The contract table modules/channels/tables/channel_economics.parquet: exactly these columns.
ECONOMICS_COLUMNS = ["period", "attribution", "channel", "spend", "leads", "cpl", "bookings", "shows",
                     "new_patients", "cac", "revenue", "romi", "drr", "share_new_patients"]
# Also returned by channel_economics (shown in the report, not part of the contract).
EXTRA_COLUMNS = ["revenue_per_patient", "returning_patients", "return_share", "horizon_observed"]
COUNTS = ("leads", "bookings", "shows", "new_patients", "returning_patients", "horizon_observed")
TOTAL = "total"              # the channel label of a totals row in display tables (never in the contract table)
# Workbook formats of the contract columns (raw numbers; Excel formats them).
FORMATS = {"spend": "money", "leads": "count", "cpl": "money", "bookings": "count", "shows": "count",
           "new_patients": "count", "cac": "money", "revenue": "money", "romi": "ratio", "drr": "ratio",
           "share_new_patients": "rate"}
MIN_PATIENTS = 10            # a channel needs this many new patients to be named cheapest/dearest or least returning
HISTORY_DAYS = 365           # payments history wanted before a period, so that "first payment" means a new patient


def short_history(invoices: pd.DataFrame, periods: Mapping[str, Window], min_days: int = HISTORY_DAYS,
                  patients: pd.DataFrame | None = None) -> bool:
    """Whether the payments export starts less than ``min_days`` before the earliest period while
    the patients' registration dates are unknown: then some "new" patients of that period may be
    long-standing patients returning for the first time since before the export began (their first
    payment *in the data* falls in the period). With ``patients.created_at`` such patients are
    recognised (`patients.existing_patients`) and this is False."""
    if patients is not None and "created_at" in patients and patients["created_at"].notna().any():
        return False
    first = invoices["paid_at"].min()
    earliest = min(pd.Timestamp(start) for start, _ in periods.values())
    return bool(pd.notna(first) and (earliest.normalize() - first.normalize()).days < min_days)   # calendar days


def patient_revenue(invoices: pd.DataFrame, acquired: pd.DataFrame, horizon_days: int,
                    positions: np.ndarray | None = None) -> pd.DataFrame:
    """``acquired`` (``patients.acquisitions`` rows) with what each patient brought within the horizon.

    - ``revenue``: the net sum (refunds included) of the patient's invoices with ``paid_at`` in
      ``[acquired_at, acquired_at + horizon_days)``, as far as the data holds (up to ``data_end``).
    - ``paid_days``: calendar days in that window with an invoice of amount > 0; a patient with
      ``paid_days ≥ 2`` is *returning*.
    - ``horizon_observed``: ``acquired_at + horizon_days ≤ data_end`` (the whole horizon is in the data).

    ``positions``: each invoice's row in ``acquired`` when known (``patients.acquisition_rows``),
    else the patient IDs are matched here.
    """
    out = acquired.reset_index(drop=True).copy()
    n = len(out)
    pos = id_keys.positions(invoices["patient_id"], out["patient_id"]) if positions is None else np.asarray(positions)
    paid = invoices["paid_at"].to_numpy(dtype="datetime64[ns]").view("int64")
    amount = np.nan_to_num(invoices["amount"].to_numpy(dtype="float64"))
    acq = out["acquired_at"].to_numpy(dtype="datetime64[ns]").view("int64")
    horizon = np.int64(horizon_days) * NS_PER_DAY
    own = pos >= 0
    pos, paid, amount = pos[own], paid[own], amount[own]
    start = acq[pos]
    inside = (paid >= start) & (paid < start + horizon)
    out["revenue"] = np.bincount(pos[inside], weights=amount[inside], minlength=n)[:n]
    positive = inside & (amount > 0)
    pairs = np.sort(pos[positive] * np.int64(1 << 24) + paid[positive] // NS_PER_DAY)   # (patient, day)
    days = pairs[np.r_[True, pairs[1:] != pairs[:-1]]] if len(pairs) else pairs            # distinct pairs
    out["paid_days"] = np.bincount(days >> 24, minlength=n)[:n]
    end = data_end(invoices).to_datetime64().astype("datetime64[ns]").view("int64") if len(invoices) else np.iinfo(np.int64).min
    out["horizon_observed"] = acq + horizon <= end
    return out


def add_ratios(df: pd.DataFrame, gross_margin: float = 1.0) -> pd.DataFrame:
    """``df`` (counts and money of one or more channel rows) with the ratios, null on a zero or
    missing denominator, never an error or infinity:

    CPL = spend ÷ leads; CAC = spend ÷ new patients (``cac``); ROMI = (revenue × gross_margin −
    spend) ÷ spend (spend with no revenue: −100 %); ДРР = spend ÷ revenue; revenue per patient =
    revenue ÷ new patients; return share = returning patients (≥ 2 paid days) ÷ new patients.
    A row without spend (NaN) has null CPL, CAC, ROMI and ДРР."""
    out = df.copy()
    out["cpl"] = ratio(out["spend"], out["leads"])
    out["cac"] = cac(out["spend"], out["new_patients"])
    out["romi"] = ratio(out["revenue"] * float(gross_margin) - out["spend"], out["spend"])
    out["drr"] = ratio(out["spend"], out["revenue"])
    out["revenue_per_patient"] = ratio(out["revenue"], out["new_patients"])
    out["return_share"] = ratio(out["returning_patients"], out["new_patients"])
    return out


class Prepared:
    """What every window shares, computed once (``prepare``): the acquired patients with their
    touches and revenue, the lead journey, the spend."""

    def __init__(self, tables: Mapping[str, pd.DataFrame], horizon_days: int, repeat_channels: Iterable[str]):
        invoices = tables["invoices"]
        leads, patients_t = tables.get("leads"), tables.get("patients")
        acquired, positions, self.existing_patients = acquisition_rows(invoices, patients_t)
        acquired = touches(acquired, leads, patients_t, repeat_channels=repeat_channels)
        self.patients = patient_revenue(invoices, acquired, horizon_days, positions)
        self.spend = tables.get("marketing_spend")
        self.journey = None
        if leads is not None:
            self.journey = lead_journey(leads, tables.get("bookings"), tables.get("visits"))
        self.has_bookings = self.journey is not None and "booked" in self.journey

    def window(self, start: pd.Timestamp, end: pd.Timestamp, attribution: str) -> pd.DataFrame:
        """One row per channel for acquisitions, leads and spend in ``[start, end)`` (counts and money)."""
        part = self.patients.loc[in_window(self.patients["acquired_at"], start, end).to_numpy(bool)]
        frame = pd.DataFrame({"channel": part[attribution].to_numpy(dtype=object),
                              "new_patients": 1, "revenue": part["revenue"].to_numpy(),
                              "returning_patients": (part["paid_days"] >= 2).to_numpy(np.int64),
                              "horizon_observed": part["horizon_observed"].to_numpy(np.int64)})
        out = frame.groupby("channel", sort=True).sum()
        if self.journey is not None:
            stages = stage_counts(self.journey, start, end, by=["channel"]).set_index("channel")
            stages = stages.rename(columns={"booked_leads": "bookings", "shown_leads": "shows"})
            stages.index = stages.index.astype(object)
            out = out.join(stages[[c for c in ("leads", "bookings", "shows") if c in stages]], how="outer")
        if self.spend is not None:
            spend = spend_by_channel(self.spend, start, end)
            spend.index = spend.index.astype(object)
            out = out.join(spend.rename("spend"), how="outer")
        wanted = ("spend", "leads", "revenue") + (("bookings", "shows") if self.has_bookings else ())
        for col in wanted:
            if col not in out:
                out[col] = np.nan if col == "spend" else 0
        counts = [c for c in COUNTS if c in out]
        out[counts] = out[counts].fillna(0).astype("int64")
        out["revenue"] = out["revenue"].fillna(0.0).astype("float64")
        out.index.name = "channel"
        return out.reset_index()


BRANCH_CHANNEL_COLUMNS = ["branch_id", "channel", "leads", "new_patients", "revenue", "revenue_per_patient",
                          "returning_patients", "return_share"]
BRANCH_COLUMNS = ["branch_id", "leads", "new_patients", "revenue", "revenue_per_patient", "return_share",
                  "main_channel", "main_channel_share"]


def branch_channels(prepared: Prepared, start: pd.Timestamp, end: pd.Timestamp, home: pd.Series | None, *,
                    attribution: str = "first_touch") -> pd.DataFrame | None:
    """What a network's channels bring each branch in ``[start, end)``: per (branch, channel) the ``leads``
    created (by the lead's own ``branch_id``; 0 when leads carry no branch) and the ``new_patients`` acquired
    (by ``attribution``, at home in the branch: `patients.home_branch`) with their ``revenue`` within the
    horizon, ``returning_patients`` and the ratios of `add_ratios` that need no spend. Spend is the
    network's per channel and is not split: no CAC or ROMI by branch. None without a home branch."""
    if home is None:
        return None
    part = prepared.patients.loc[in_window(prepared.patients["acquired_at"], start, end).to_numpy(bool)]
    frame = pd.DataFrame({"branch_id": home.reindex(pd.Index(part["patient_id"].astype("string"))).to_numpy(),
                          "channel": part[attribution].astype("string").to_numpy(), "new_patients": 1,
                          "revenue": part["revenue"].to_numpy(),
                          "returning_patients": (part["paid_days"] >= 2).to_numpy(np.int64)}).dropna(subset=["branch_id"])
    out = frame.groupby(["branch_id", "channel"], sort=True).sum()
    journey = prepared.journey
    if journey is not None and "branch_id" in journey:
        leads = stage_counts(journey.loc[journey["branch_id"].notna().to_numpy(bool)], start, end,
                             by=["branch_id", "channel"]).set_index(["branch_id", "channel"])["leads"]
        leads.index = leads.index.set_levels([lv.astype("string") for lv in leads.index.levels])
        out = out.join(leads, how="outer")
    for col in ("leads", "new_patients", "returning_patients"):
        out[col] = out[col].fillna(0).astype("int64") if col in out else 0
    out["revenue"] = out["revenue"].fillna(0.0)
    out["revenue_per_patient"] = ratio(out["revenue"], out["new_patients"])
    out["return_share"] = ratio(out["returning_patients"], out["new_patients"])
    out = out.reset_index()
    out[["branch_id", "channel"]] = out[["branch_id", "channel"]].astype("string")
    return out[BRANCH_CHANNEL_COLUMNS]


def branch_totals(by_channel: pd.DataFrame) -> pd.DataFrame:
    """`branch_channels` rolled up to one row per branch: ``leads``, ``new_patients``, ``revenue``, the ratios,
    and ``main_channel`` — the channel that brought the branch most new patients (ties: first by name) — with
    its share of them. Sorted by branch."""
    sums = by_channel.groupby("branch_id", sort=True)[["leads", "new_patients", "revenue", "returning_patients"]].sum()
    sums["revenue_per_patient"] = ratio(sums["revenue"], sums["new_patients"])
    sums["return_share"] = ratio(sums["returning_patients"], sums["new_patients"])
    top = (by_channel.loc[by_channel["new_patients"] > 0]
           .sort_values(["branch_id", "new_patients", "channel"], ascending=[True, False, True], kind="stable")
           .drop_duplicates("branch_id").set_index("branch_id"))
    sums["main_channel"] = top["channel"].reindex(sums.index)
    sums["main_channel_share"] = ratio(top["new_patients"].reindex(sums.index), sums["new_patients"])
    out = sums.reset_index()
    out["branch_id"] = out["branch_id"].astype("string")
    return out[BRANCH_COLUMNS]


def _order(df: pd.DataFrame) -> pd.DataFrame:
    """Paid channels by spend (largest first), then the others by new patients; ``unknown`` last."""
    key = pd.DataFrame({"unknown": df["channel"].eq(UNKNOWN_CHANNEL), "unpaid": df["spend"].isna(),
                        "spend": -df["spend"].fillna(0), "new": -df["new_patients"]})
    return df.loc[key.sort_values(["unknown", "unpaid", "spend", "new"], kind="stable").index]


def prepare(tables: Mapping[str, pd.DataFrame], *, horizon_days: int = 180,
            repeat_channels: Iterable[str] = DEFAULT_REPEAT_CHANNELS) -> Prepared:
    """The shared part of ``channel_economics`` and ``channel_economics_monthly``; pass it to both
    as ``prepared=`` to compute it once."""
    return Prepared(tables, horizon_days, repeat_channels)


def _economics(prepared: Prepared, windows: Mapping[Any, Window], label: str, attributions: Iterable[str],
               gross_margin: float) -> pd.DataFrame:
    frames = []
    for attribution in attributions:
        for name, (start, end) in windows.items():
            part = _order(prepared.window(pd.Timestamp(start), pd.Timestamp(end), attribution))
            part.insert(0, "attribution", attribution)
            part.insert(0, label, name)
            total = part["new_patients"].sum()
            part["share_new_patients"] = part["new_patients"] / total if total else np.nan
            frames.append(part)
    out = add_ratios(pd.concat(frames, ignore_index=True), gross_margin)
    columns = [label] + ECONOMICS_COLUMNS[1:] + EXTRA_COLUMNS
    out = out[[c for c in columns if c in out]]
    out["channel"] = out["channel"].astype("string")
    return out.reset_index(drop=True)


def _attributions(attribution: str | Iterable[str]) -> tuple[str, ...]:
    chosen = (attribution,) if isinstance(attribution, str) else tuple(attribution)
    wrong = [a for a in chosen if a not in ATTRIBUTIONS]
    if wrong:
        raise ValueError(f"attribution '{wrong[0]}': expected one of {', '.join(ATTRIBUTIONS)}")
    return chosen


def channel_economics(tables: Mapping[str, pd.DataFrame], periods: Mapping[str, Window], *,
                      attribution: str | Iterable[str] = ATTRIBUTIONS, horizon_days: int = 180,
                      gross_margin: float = 1.0, repeat_channels: Iterable[str] = DEFAULT_REPEAT_CHANNELS,
                      prepared: Prepared | None = None) -> pd.DataFrame:
    """One row per period, attribution and channel: what the channel cost and what its patients brought.

    ``periods``: name -> ``[start, end)``; ``attribution``: ``first_touch``, ``last_touch`` or both
    (the default). Needs ``invoices``; uses ``leads``, ``bookings``, ``visits``, ``patients`` and
    ``marketing_spend`` when present (channel names are canonical: ingest maps every channel
    column through the config's ``channels:``).

    - **spend**: marketing_spend months whose first day lies in the period, summed (NaN: no spend
      rows for the channel, i.e. unknown, not 0). A spend channel without leads is kept.
    - **leads**, **bookings**, **shows**: leads created in the period by their own channel (all
      leads), and how many of them were booked and came, as ``funnel.lead_journey`` /
      ``stage_counts`` define them; bookings and shows only when bookings with ``lead_id`` exist.
    - **new_patients**: patients acquired in the period (``patients.acquisitions`` /
      ``acquired_in``), by their first or last touch (``patients.touches``; ``unknown`` when no channel).
    - **revenue**: their net revenue within ``horizon_days`` of acquisition (``patient_revenue``).
    - ratios (``add_ratios``) and **share_new_patients** = the channel's new patients ÷ all new
      patients of the period under that attribution.
    Extra columns: ``revenue_per_patient``, ``returning_patients`` (≥ 2 paid days within the
    horizon), ``return_share``,
    ``horizon_observed`` (new patients whose whole horizon is in the data).
    ``prepared`` (from ``prepare``) replaces ``tables``, ``horizon_days`` and ``repeat_channels``.
    """
    prepared = prepared or Prepared(tables, horizon_days, repeat_channels)
    return _economics(prepared, periods, "period", _attributions(attribution), gross_margin)


def month_windows(start: pd.Timestamp, end: pd.Timestamp) -> dict[pd.Timestamp, Window]:
    """Calendar months overlapping ``[start, end)``, each as its whole month, keyed by its first day."""
    first = pd.Timestamp(start).to_period("M").to_timestamp()
    months = pd.date_range(first, pd.Timestamp(end) - pd.Timedelta(microseconds=1), freq="MS")
    return {m: (m, m + pd.offsets.MonthBegin(1)) for m in months}


def channel_economics_monthly(tables: Mapping[str, pd.DataFrame], start: pd.Timestamp, end: pd.Timestamp, *,
                              attribution: str | Iterable[str] = "first_touch", horizon_days: int = 180,
                              gross_margin: float = 1.0,
                              repeat_channels: Iterable[str] = DEFAULT_REPEAT_CHANNELS,
                              prepared: Prepared | None = None) -> pd.DataFrame:
    """``channel_economics`` per calendar month of ``[start, end)`` (``month_windows``): the same
    columns with ``month`` (first day) in place of ``period``."""
    prepared = prepared or Prepared(tables, horizon_days, repeat_channels)
    return _economics(prepared, month_windows(start, end), "month", _attributions(attribution), gross_margin)


def totals(econ: pd.DataFrame, gross_margin: float = 1.0, by: str = "period") -> pd.DataFrame:
    """Over all channels, per period (``by``) and attribution: spend (NaN when no channel has
    any), leads, bookings, shows, new patients, revenue and the ratios of those sums."""
    counts = [c for c in COUNTS if c in econ]
    grouped = econ.groupby([by, "attribution"], sort=False)
    out = grouped[counts + ["revenue"]].sum()
    out["spend"] = grouped["spend"].sum(min_count=1)
    out = add_ratios(out.reset_index(), gross_margin)
    out["share_new_patients"] = np.where(out["new_patients"] > 0, 1.0, np.nan)
    return out[[c for c in [by] + ECONOMICS_COLUMNS[1:] + EXTRA_COLUMNS if c in out and c != "channel"]]


def attribution_comparison(econ: pd.DataFrame, period: str) -> pd.DataFrame:
    """First touch against last touch in one period, per channel: new patients, CAC and ROMI under
    each, and ``romi_flips`` — ROMI known under both and of opposite sign (one ≥ 0, the other < 0)."""
    part = econ.loc[econ["period"].eq(period)]
    wide = part.pivot_table(index="channel", columns="attribution", values=["new_patients", "cac", "romi"],
                            aggfunc="first", dropna=False, observed=True, sort=False)
    out = pd.DataFrame(index=wide.index)
    for col in ("new_patients", "cac", "romi"):
        for a in ATTRIBUTIONS:
            out[f"{col}_{a}"] = wide[(col, a)] if (col, a) in wide else np.nan
    first, last = out["romi_first_touch"], out["romi_last_touch"]
    out["romi_flips"] = (first.notna() & last.notna() & ((first >= 0) != (last >= 0))).to_numpy(bool)
    for a in ATTRIBUTIONS:
        out[f"new_patients_{a}"] = out[f"new_patients_{a}"].fillna(0).astype("int64")
    order = part.loc[part["attribution"].eq("first_touch"), "channel"].tolist()
    order += [c for c in out.index if c not in order]
    return out.reindex(order).reset_index()


def change_vs_base(econ: pd.DataFrame, attribution: str = "first_touch") -> pd.DataFrame:
    """The current period's rows of one attribution with the change against the base: ``cac_change``
    (relative, a fraction) and ``romi_change`` (current − base ROMI, a fraction). NaN without a base."""
    part = econ.loc[econ["attribution"].eq(attribution)]
    cur = part.loc[part["period"].eq("current")].drop(columns=["period", "attribution"]).reset_index(drop=True)
    base = part.loc[part["period"].eq("base")].set_index("channel")
    base_cac = base["cac"].reindex(cur["channel"]).to_numpy() if len(base) else np.nan
    base_romi = base["romi"].reindex(cur["channel"]).to_numpy() if len(base) else np.nan
    cur["cac_change"] = ratio(cur["cac"] - base_cac, pd.Series(base_cac, index=cur.index))
    cur["romi_change"] = cur["romi"] - base_romi
    return cur


def present_channels(channels: Iterable[str], leads: pd.DataFrame | None) -> list[str]:
    """The given channels that some lead carries (all of them when there are no leads) — for naming
    the repeat channels that were actually skipped."""
    chosen = list(channels)
    if leads is None:
        return chosen
    seen = set(leads["channel"].dropna().astype(str).unique())
    return [c for c in chosen if c in seen]


def cac_vs_revenue(rows: pd.DataFrame) -> pd.DataFrame:
    """Long table for the chart "CAC against revenue per patient": ``channel``, ``measure``
    (``cac`` | ``revenue_per_patient``), ``value``; channels with new patients, ``unknown`` left out.
    A channel without spend has no CAC bar."""
    part = rows.loc[rows["new_patients"].gt(0) & rows["channel"].ne(UNKNOWN_CHANNEL)]
    long = part.melt(id_vars="channel", value_vars=["cac", "revenue_per_patient"], var_name="measure")
    return long.dropna(subset=["value"]).reset_index(drop=True)


def headline_metrics(total: pd.DataFrame) -> dict[str, tuple[str, dict[str, Any]]]:
    """metrics.json entries from ``totals`` (first touch), key -> (unit, {period: value}); a value
    that cannot be computed is None. ROMI and ДРР are ``ratio`` (a fraction that may be < 0 or > 1)."""
    part = total.loc[total["attribution"].eq("first_touch")].set_index("period")
    units = {"spend": "money", "leads": "count", "new_patients": "count", "cpl": "money", "cac": "money",
             "revenue": "money", "romi": "ratio", "drr": "ratio"}
    out = {}
    for col, unit in units.items():
        if col not in part:
            continue
        values = {}
        for period, v in part[col].items():
            v = None if pd.isna(v) else (int(v) if unit == "count" else float(v))
            values[period] = v
        out[f"channels.{col}"] = (unit, values)
    return out
