"""Cohort LTV (DESIGN §4, module 06; issue 10): what the patients acquired in a month (or quarter)
bring month after month, how many keep coming back, and when a channel's patient has paid back.

Pure, vectorised functions over the canonical tables; no I/O. "Acquired patient", "first touch"
and "visit" come from `patients`, CAC from `channels`. Definitions:

- **cohort**: the calendar month (``period="month"``) or quarter (``"quarter"``) of the patient's
  acquisition (`patients.acquisitions`: first invoice with amount ≥ 0). Label ``YYYY-MM`` / ``YYYY-Qn``.
  Existing patients (`patients.existing_patients`: registered before the export's first payment
  and more than 60 days before their own) are not acquisitions and are in no cohort.
- **month_index** k: calendar months between an invoice's (or visit's) month and the patient's
  acquisition month; 0 is the acquisition month. For month cohorts that is the cohort month.
  Invoices before the acquisition month (a refund of something never paid in the data) are left out.
- **data end**: the latest ``paid_at`` in invoices, or the ``end`` given (the end of a period).
  A cell (cohort, k) is **observed** when its calendar month — for a quarter cohort the latest of
  its patients' months k, i.e. the quarter's last month (capped at the data end's month) + k — is
  not after the data end's month. The data end's month is **partial** when the data end is not the
  month's last day. Value columns of unobserved cells are NaN (blank), never 0.
- per cell: ``patients`` (cohort size), ``revenue`` (net invoices, refunds included, of the
  cohort's patients at month k), ``cum_revenue`` (k' = 0..k), ``cum_revenue_per_patient``
  (÷ cohort size), ``active_patients`` (patients with at least one visit, `patients.visits`, at
  month k), ``retention`` (active ÷ cohort size; 1.0 at k = 0 by construction).
- **curve** of a group (a channel, or all patients) at month k: sums over the cohorts for which k
  is observed — cumulative revenue per patient = Σ cum_revenue ÷ Σ patients of those cohorts;
  retention = Σ active ÷ Σ patients. ``patients`` says how many patients month k covers.
- **LTV at N months** = the curve's cumulative revenue per patient over the first N months,
  k = 0..N−1 (a January cohort's LTV 12 m is its revenue January to December, the seed's "first
  year"). **retention m K** = the curve's retention at k = K.
- **LTV/CAC** = LTV at the longest horizon × gross margin ÷ CAC; CAC (`channels.cac`) = the
  channel's spend over the cohorts' acquisition months ÷ patients acquired in them with that first
  touch. **payback month** = the first k at which cumulative revenue per patient × gross margin ≥
  CAC; NaN when it has not happened within the observed months (``observed_months`` says how
  many) or when the channel has no spend (no CAC).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from ..errors import NotEnoughData
from ..ingest import keys as id_keys
from ..options import COHORT_PERIODS as PERIODS  # noqa: F401  (cohorts.PERIODS: the choices)
from ..options import check_margin, check_period, cohort_window, ltv_horizons
from . import channels as ch
from . import patients as pt
from .patients import data_end
from .periods import in_window, up_to

COMPARE_MONTH = 3            # findings: cohorts compared by their retention and revenue at k = 3
NEWEST_COHORTS = 3           # findings: the newest cohorts with that month observed ...
RETENTION_GAP = 0.05         # ... retaining at least 5 pp worse than the older ones
CELL_COLUMNS = ["cohort", "month_index", "patients", "revenue", "cum_revenue", "cum_revenue_per_patient",
                "active_patients", "retention", "observed"]
VALUES = ["revenue", "cum_revenue", "cum_revenue_per_patient", "active_patients", "retention"]

NO_COHORTS = "cohorts.text.no_cohorts"     # NotEnoughData: no payment of 0 or more gives a new patient


def month_numbers(times) -> np.ndarray:
    """Calendar months since 1970-01 (int64) of datetime values; NaT gives the int64 minimum."""
    return np.asarray(times, dtype="datetime64[ns]").astype("datetime64[M]").astype("int64")


def from_month_numbers(numbers) -> pd.DatetimeIndex:
    """The first day of each month number (inverse of `month_numbers`)."""
    return pd.DatetimeIndex(np.asarray(numbers, dtype="int64").astype("datetime64[M]").astype("datetime64[ns]"))


def cohort_labels(starts, period: str = "month") -> pd.Index:
    """``YYYY-MM`` for month cohorts, ``YYYY-Qn`` for quarter cohorts, from their first days."""
    freq = "Q" if period == "quarter" else "M"
    index = pd.PeriodIndex(pd.DatetimeIndex(starts), freq=freq)
    return pd.Index(index.strftime("%Y-Q%q" if period == "quarter" else "%Y-%m"), dtype="string")


def is_month_end(day: pd.Timestamp) -> bool:
    """Whether the day is the last day of its month (the data end's month is then complete)."""
    return bool((pd.Timestamp(day).normalize() + pd.Timedelta(days=1)).day == 1)


def cohort_cells(invoices: pd.DataFrame, acquired: pd.DataFrame, *, period: str = "month", by: str | None = None,
                 end: pd.Timestamp | None = None, visits: pd.DataFrame | None = None,
                 positions: tuple[np.ndarray, np.ndarray] | None = None,
                 months: tuple[np.ndarray, np.ndarray] | None = None) -> pd.DataFrame:
    """One row per (``by`` group if given, cohort, month_index) with ``patients``, ``revenue``,
    ``active_patients``, ``observed`` and ``partial`` (see the module docstring).

    ``acquired``: `patients.acquisitions` (optionally with `touches` columns; ``by`` names one of
    them, e.g. ``first_touch``). ``end``: the data end (default: the latest ``paid_at``); invoices
    and acquisitions after its day are ignored. Month indices run from 0 to the largest observed
    one (for month cohorts: data end month − first cohort month); groups × cohorts without
    patients have no rows. ``cohort`` is the first day of
    the cohort's month or quarter. Unobserved cells have NaN revenue and active patients.
    ``visits``: `patients.visits(invoices)` when already at hand (those after ``end`` are ignored,
    which equals ``visits(invoices, as_of=end)`` for the patient and time of each visit).
    ``positions``: (each invoice's row in ``acquired``, each visit's row in ``acquired``; -1 for
    none) when already at hand (`prepare`), so that the patient IDs need not be matched again; ``months``:
    (`month_numbers` of the invoices' ``paid_at``, of the visits' ``visited_at``) likewise.
    """
    period = check_period(period)
    end = data_end(invoices) if end is None else pd.Timestamp(end)
    columns = ([by] if by else []) + ["cohort", "month_index", "patients", "revenue", "active_patients",
                                      "observed", "partial"]
    if pd.isna(end):
        return pd.DataFrame(columns=columns)
    kept = up_to(acquired["acquired_at"], end).to_numpy(bool)
    acq = acquired.loc[kept].reset_index(drop=True)
    if acq.empty:
        return pd.DataFrame(columns=columns)
    step = 3 if period == "quarter" else 1
    end_m = int(month_numbers([end])[0])
    acq_m = month_numbers(acq["acquired_at"])
    cohort_values, cohort = np.unique(acq_m - acq_m % step, return_inverse=True)
    if by:
        group, group_values = pd.factorize(acq[by].astype("string").fillna(pt.UNKNOWN_CHANNEL), sort=True)
    else:
        group, group_values = np.zeros(len(acq), np.int64), pd.Index([None])
    n_c, n_k = len(cohort_values), end_m - int(cohort_values[0]) + 1
    n_cells = len(group_values) * n_c * n_k
    patient_cell = (group * n_c + cohort) * n_k                     # cell of each patient at k = 0
    ids = acq["patient_id"]

    row = np.r_[np.where(kept, np.cumsum(kept) - 1, -1), -1]          # row in acquired -> row in acq (-1: none)

    def place(patient_ids, times, known: np.ndarray | None = None, month: np.ndarray | None = None
              ) -> tuple[np.ndarray, np.ndarray]:
        """Position of each row's patient among the acquired (-1: none) and its month index k."""
        pos = id_keys.positions(patient_ids, ids) if known is None else row[known]
        k = (month_numbers(times) if month is None else month) - acq_m[np.maximum(pos, 0)]
        return np.where((pos >= 0) & (k >= 0) & (k < n_k), pos, -1), k

    paid = up_to(invoices["paid_at"], end).to_numpy(bool) & invoices["amount"].notna().to_numpy(bool)
    pos, k = place(invoices["patient_id"], invoices["paid_at"], None if positions is None else positions[0],
                   None if months is None else months[0])
    ok = (pos >= 0) & paid
    revenue = np.bincount(patient_cell[pos[ok]] + k[ok], weights=invoices["amount"].to_numpy(dtype="float64")[ok],
                          minlength=n_cells)

    seen = pt.visits(invoices, as_of=end) if visits is None else visits
    in_data = up_to(seen["visited_at"], end).to_numpy(bool)
    seen_ids = seen["patient_id"] if positions is None else None            # matched by ID only without positions
    pos, k = place(None if seen_ids is None else seen_ids.loc[in_data], seen["visited_at"].to_numpy()[in_data],
                   None if positions is None else positions[1][in_data], None if months is None else months[1][in_data])
    # one (patient, month) pair however many visits: the patient counts once a month
    pair = pd.unique(pos[pos >= 0] * np.int64(n_k) + k[pos >= 0])
    active = np.bincount(patient_cell[pair // n_k] + pair % n_k, minlength=n_cells).astype("float64")
    size = np.bincount(group * n_c + cohort, minlength=len(group_values) * n_c)

    g, rest = np.divmod(np.arange(n_cells), n_c * n_k)
    c, k = np.divmod(rest, n_k)
    last_m = np.minimum(cohort_values + step - 1, end_m)[c]
    observed = last_m + k <= end_m
    out = pd.DataFrame({"cohort": from_month_numbers(cohort_values[c]), "month_index": k,
                        "patients": size[g * n_c + c], "revenue": np.where(observed, revenue, np.nan),
                        "active_patients": np.where(observed, active, np.nan), "observed": observed,
                        "partial": observed & (last_m + k == end_m) & (not is_month_end(end))})
    if by:
        out.insert(0, by, pd.array(np.asarray(group_values, dtype=object)[g], dtype="string"))
    largest = int(out.loc[out["observed"], "month_index"].max())     # quarter cohorts observe fewer months
    return out.loc[(out["patients"] > 0) & (out["month_index"] <= largest)].reset_index(drop=True)


def cohort_table(cells: pd.DataFrame, *, by: str | None = None, period: str = "month") -> pd.DataFrame:
    """The cohort triangle from `cohort_cells`: per (``by``,) cohort and month_index the cell columns
    plus ``cum_revenue``, ``cum_revenue_per_patient``, ``retention`` and the ``cohort`` label.

    Cells of other groups are summed (``by=None`` gives one triangle of all patients). Value columns
    are NaN where not observed. Columns: ``by``?, ``cohort`` (label), ``cohort_start``,
    ``month_index``, ``patients``, ``revenue``, ``cum_revenue``, ``cum_revenue_per_patient``,
    ``active_patients``, ``retention``, ``observed``, ``partial``."""
    keys = ([by] if by else []) + ["cohort", "month_index"]
    out = (cells.groupby(keys, sort=True, observed=True)
           .agg(patients=("patients", "sum"), revenue=("revenue", "sum"), active_patients=("active_patients", "sum"),
                observed=("observed", "all"), partial=("partial", "any")).reset_index())
    observed = out["observed"].to_numpy(bool)
    out["revenue"] = out["revenue"].where(observed)
    out["active_patients"] = out["active_patients"].where(observed)
    out["cum_revenue"] = out.groupby(keys[:-1], sort=False, observed=True)["revenue"].cumsum().where(observed)
    out["cum_revenue_per_patient"] = ch.ratio(out["cum_revenue"], out["patients"])
    out["retention"] = ch.ratio(out["active_patients"], out["patients"])
    out = out.rename(columns={"cohort": "cohort_start"})
    out.insert(len(keys) - 2, "cohort", cohort_labels(out["cohort_start"], period).to_numpy())
    out["patients"] = out["patients"].astype("int64")
    return out[keys[:-2] + ["cohort", "cohort_start", "month_index", "patients", "revenue", "cum_revenue",
                            "cum_revenue_per_patient", "active_patients", "retention", "observed", "partial"]]


def cohort_overview(table: pd.DataFrame, *, ltv_months: Sequence[int] = (6, 12),
                    retention_months: Sequence[int] = (1, 3, 6)) -> pd.DataFrame:
    """One row per cohort: ``patients``, ``ltv_<N>m`` (cumulative revenue per patient at k = N−1),
    ``retention_m<K>`` (at k = K), ``revenue_to_date`` per patient (last observed month) and
    ``observed_months``; NaN where the month is not observed yet."""
    wide = lambda col: table.pivot(index="cohort", columns="month_index", values=col)  # noqa: E731
    per_patient, retention = wide("cum_revenue_per_patient"), wide("retention")
    observed = wide("observed").fillna(False).astype(bool)
    out = pd.DataFrame({"patients": wide("patients")[0].astype("int64")})
    for n in ltv_months:
        out[f"ltv_{n}m"] = per_patient.reindex(columns=[n - 1]).iloc[:, 0]
    for k in retention_months:
        out[f"retention_m{k}"] = retention.reindex(columns=[k]).iloc[:, 0]
    last = observed.sum(axis=1)
    out["observed_months"] = last
    out["revenue_to_date"] = per_patient.to_numpy()[np.arange(len(out)), (last - 1).clip(lower=0).to_numpy()]
    return out.reset_index()


def curves(table: pd.DataFrame, *, by: str | None = None) -> pd.DataFrame:
    """Per (``by``,) month_index over the cohorts for which it is observed (module docstring):
    ``cohorts``, ``patients`` covered, ``cum_revenue``, ``cum_revenue_per_patient``,
    ``active_patients``, ``retention``. Months that no cohort has observed have no row."""
    keys = ([by] if by else []) + ["month_index"]
    out = (table.loc[table["observed"].to_numpy(bool)]
           .groupby(keys, sort=True, observed=True)
           .agg(cohorts=("cohort", "size"), patients=("patients", "sum"), cum_revenue=("cum_revenue", "sum"),
                active_patients=("active_patients", "sum")).reset_index())
    out["cum_revenue_per_patient"] = ch.ratio(out["cum_revenue"], out["patients"])
    out["retention"] = ch.ratio(out["active_patients"], out["patients"])
    return out


def at_month(curve: pd.DataFrame, k: int, column: str, *, by: str | None = None):
    """A curve's ``column`` at month index k: a number (``by=None``) or a Series per group; NaN where
    k is not observed."""
    part = curve.loc[curve["month_index"].eq(k)]
    if by is None:
        return float(part[column].iloc[0]) if len(part) else np.nan
    return part.set_index(by)[column]


def payback(curve: pd.DataFrame, cac: pd.Series, *, gross_margin: float = 1.0, by: str = "channel") -> pd.DataFrame:
    """Per group: ``observed_months`` (max observed k + 1), ``payback_month`` — the first k where
    cumulative revenue per patient × gross_margin ≥ CAC (NaN when never within the observed
    months, or when CAC is NaN) — and ``best_margin_per_patient`` (the highest cumulative margin
    per patient reached)."""
    c = cac.reindex(curve[by].to_numpy()).to_numpy(dtype="float64")
    margin = curve["cum_revenue_per_patient"].to_numpy(dtype="float64") * gross_margin
    frame = curve[[by, "month_index"]].assign(margin=margin, hit=margin >= c)
    grouped = frame.groupby(by, sort=True, observed=True)
    out = pd.DataFrame({"observed_months": grouped["month_index"].max() + 1,
                        "best_margin_per_patient": grouped["margin"].max()})
    out["payback_month"] = frame.loc[frame["hit"]].groupby(by, sort=True, observed=True)["month_index"].min() \
        .reindex(out.index).astype("float64")
    return out


def channel_ltv(channel_curves: pd.DataFrame, spend: pd.Series | None, *, ltv_months: Sequence[int] = (6, 12),
                gross_margin: float = 1.0) -> pd.DataFrame:
    """Per first-touch channel: ``patients`` (acquired in the cohorts of the view), ``ltv_<N>m`` for
    each horizon and the ``ltv_<N>m_patients`` it covers, ``spend`` (NaN: no spend rows), ``cac``,
    ``ltv_cac`` (longest horizon × gross_margin ÷ CAC), ``payback_month``, ``observed_months``,
    ``best_margin_per_patient``. Channels with spend but no patient get a row with 0 patients.
    Sorted by the longest LTV, highest first; ``unknown`` (no channel known) last."""
    by = "channel"
    patients = at_month(channel_curves, 0, "patients", by=by)
    spend = pd.Series(dtype="float64") if spend is None else spend.astype("float64")
    index = patients.index.union(spend.index[spend.notna()]).rename(by)
    out = pd.DataFrame(index=index)
    out["patients"] = patients.reindex(index).fillna(0).astype("int64")
    for n in ltv_months:
        out[f"ltv_{n}m"] = at_month(channel_curves, n - 1, "cum_revenue_per_patient", by=by).reindex(index)
        out[f"ltv_{n}m_patients"] = at_month(channel_curves, n - 1, "patients", by=by).reindex(index)
    out["spend"] = spend.reindex(index)
    out["cac"] = ch.cac(out["spend"], out["patients"])
    out["ltv_cac"] = ch.ratio(out[f"ltv_{max(ltv_months)}m"] * gross_margin, out["cac"])
    out = out.join(payback(channel_curves, out["cac"], gross_margin=gross_margin, by=by))
    out = out.reset_index().assign(_unknown=lambda d: d[by].eq(pt.UNKNOWN_CHANNEL))
    return (out.sort_values(["_unknown", f"ltv_{max(ltv_months)}m", "patients"], ascending=[True, False, False],
                            na_position="last", kind="stable").drop(columns="_unknown").reset_index(drop=True))


def spend_window(cohort_starts: pd.Series, period: str, end: pd.Timestamp) -> tuple[pd.Timestamp, pd.Timestamp]:
    """[start, end) of the acquisition months of the cohorts: first cohort's first day to the
    month after the last cohort's last month (capped at the data end's month)."""
    step = 3 if period == "quarter" else 1
    last = min(int(month_numbers([cohort_starts.max()])[0]) + step, int(month_numbers([end])[0]) + 1)
    return pd.Timestamp(cohort_starts.min()), from_month_numbers([last])[0]


def cohort_multiples(table: pd.DataFrame, marketing_spend: pd.DataFrame | None, *, months: int = 12,
                     period: str = "month") -> pd.DataFrame:
    """The seed's comparison per cohort: ``patients``, ``spend`` of the cohort's acquisition months
    (all channels; NaN without spend data), blended ``cac`` (spend ÷ patients), ``revenue_<N>m``
    (the cohort's revenue in its first N months; NaN until observed) and ``multiple`` = that revenue
    ÷ spend: "a rouble spent in January brought X roubles by December"."""
    first = table.loc[table["month_index"].eq(0), ["cohort", "cohort_start", "patients"]].set_index("cohort")
    revenue = table.loc[table["month_index"].eq(months - 1)].set_index("cohort")["cum_revenue"]
    out = first.assign(**{f"revenue_{months}m": revenue.reindex(first.index)})
    if marketing_spend is not None and len(marketing_spend):
        monthly = ch.monthly_spend(marketing_spend)
        m = month_numbers(monthly["month"])
        starts = from_month_numbers(m - m % (3 if period == "quarter" else 1))
        spend = monthly.groupby(starts, sort=True)["spend"].sum()
        out["spend"] = spend.reindex(out["cohort_start"].to_numpy()).to_numpy()
    else:
        out["spend"] = np.nan
    out["cac"] = ch.cac(out["spend"], out["patients"])
    out["multiple"] = ch.ratio(out[f"revenue_{months}m"], out["spend"])
    return out.reset_index()[["cohort", "cohort_start", "patients", "spend", "cac", f"revenue_{months}m", "multiple"]]


@dataclass
class CohortSummary:
    """Everything module 06 shows, as of one data end."""

    end: pd.Timestamp                       # data end (latest payment, or the period's end)
    partial: bool                           # the data end's month is incomplete
    period: str                             # month | quarter
    known_before: int                       # acquisitions left out: patients registered before the data
    ltv_months: list[int]
    gross_margin: float
    cohorts: pd.DataFrame                   # cohort triangle of all patients (`cohort_table`)
    curve: pd.DataFrame                     # all patients (`curves`)
    channel_cohorts: pd.DataFrame | None    # triangle per channel, cohorts of the channel view
    channel_curves: pd.DataFrame | None
    channels: pd.DataFrame | None           # `channel_ltv`
    paid: pd.DataFrame | None               # pooled over the channels with spend: one-row `channel_ltv`
    multiples: pd.DataFrame                 # `cohort_multiples`
    window: tuple[pd.Timestamp, pd.Timestamp] | None   # acquisition months of the channel view
    branches: pd.DataFrame | None = None    # `branch_cohorts` (a network), else None

    def headlines(self) -> dict[str, float]:
        """ltv_<N>m (money), retention_m1 / retention_m6 (rate), payback_month over all paid channels."""
        out = {f"ltv_{n}m": at_month(self.curve, n - 1, "cum_revenue_per_patient") for n in self.ltv_months}
        out |= {f"retention_m{k}": at_month(self.curve, k, "retention") for k in (1, 6)}
        out["payback_month"] = (float(self.paid["payback_month"].iloc[0]) if self.paid is not None and len(self.paid)
                                else np.nan)
        return out

    def contract_cohorts(self) -> pd.DataFrame:
        """modules/cohorts/tables/cohort_revenue.parquet: exactly the issue's columns."""
        return self.cohorts[CELL_COLUMNS].reset_index(drop=True)

    def contract_channels(self) -> pd.DataFrame:
        """modules/cohorts/tables/channel_ltv.parquet: channel, patients, ltv_<N>m…, cac, ltv_cac, payback_month."""
        cols = ["channel", "patients"] + [f"ltv_{n}m" for n in self.ltv_months] + ["cac", "ltv_cac", "payback_month"]
        if self.channels is None:
            return pd.DataFrame(columns=cols)
        return self.channels[cols].reset_index(drop=True)


@dataclass(frozen=True)
class Prepared:
    """What does not depend on the data end: the new patients (with their first-touch ``channel``
    when leads or patients are given), how many existing patients were left out, and the visits."""

    acquired: pd.DataFrame
    known_before: int
    visits: pd.DataFrame
    by_channel: bool
    positions: tuple[np.ndarray, np.ndarray]   # each invoice's and each visit's row in ``acquired`` (-1: none)
    months: tuple[np.ndarray, np.ndarray] | None = None   # each invoice's and each visit's `month_numbers`


def prepare(data: Mapping[str, pd.DataFrame], *,
            repeat_channels: Iterable[str] = pt.DEFAULT_REPEAT_CHANNELS) -> Prepared:
    """`patients.acquisition_rows` (existing patients left out), `patients.touches` and `patients.visits`, once
    for every period's `summarise`."""
    invoices = data["invoices"]
    acquired, invoice_rows, known = pt.acquisition_rows(invoices, data.get("patients"))
    by_channel = "leads" in data or "patients" in data
    if by_channel:
        acquired = pt.touches(acquired, data.get("leads"), data.get("patients"), repeat_channels=repeat_channels)
        acquired = acquired.rename(columns={"first_touch": "channel"})
    seen = pt.visits(invoices)
    visit_rows = invoice_rows[seen["invoice_row"].to_numpy()]          # the visit's patient among the acquired
    months = (month_numbers(invoices["paid_at"]), month_numbers(seen["visited_at"]))
    return Prepared(acquired, known, seen, by_channel, (invoice_rows, visit_rows), months)


def summarise(data: Mapping[str, pd.DataFrame], *, period: str = "month", ltv_months: Any = (6, 12),
              gross_margin: float = 1.0, repeat_channels: Iterable[str] = pt.DEFAULT_REPEAT_CHANNELS,
              channel_cohorts: Any = None, end: pd.Timestamp | None = None,
              prepared: Prepared | None = None, branches: bool = True) -> CohortSummary:
    """Module 06 as of ``end`` (default: the latest payment) from the canonical tables: needs
    ``invoices``; channels with ``leads`` or ``patients``; CAC and payback with ``marketing_spend``.

    Existing patients (`patients.existing_patients`) are left out of every cohort; the summary
    counts them (``known_before``). ``prepared``: `prepare(data)` when
    several data ends are summarised (``repeat_channels`` is then the one it was made with). ``branches=False``:
    the cohorts by branch are not made (``branches`` None, as for one clinic)."""
    period, horizons, gross_margin = check_period(period), ltv_horizons(ltv_months), check_margin(gross_margin)
    window_from, window_to = cohort_window(channel_cohorts)
    invoices = data["invoices"]
    end = data_end(invoices) if end is None else min(pd.Timestamp(end), data_end(invoices).normalize())
    prepared = prepare(data, repeat_channels=repeat_channels) if prepared is None else prepared
    by_channel = prepared.by_channel
    cells = cohort_cells(invoices, prepared.acquired, period=period, by="channel" if by_channel else None, end=end,
                         visits=prepared.visits, positions=prepared.positions, months=prepared.months)
    if cells.empty:
        raise NotEnoughData(NO_COHORTS)
    table = cohort_table(cells, period=period)
    multiples = cohort_multiples(table, data.get("marketing_spend"), months=max(horizons), period=period)
    summary = CohortSummary(end, not is_month_end(end), period, prepared.known_before, horizons, gross_margin, table,
                            curves(table), None, None, None, None, multiples, None)
    if branches:
        summary.branches = branch_cohorts(invoices, prepared, pt.home_branch(data.get("bookings"), end), period=period,
                                          end=end, ltv_months=horizons)
    if not by_channel:
        return summary
    view = cells.loc[in_window(cells["cohort"], window_from, window_to).to_numpy(bool)]
    if view.empty:
        return summary
    per_channel = cohort_table(view, by="channel", period=period)
    summary.channel_cohorts = per_channel
    summary.channel_curves = curves(per_channel, by="channel")
    summary.window = spend_window(view["cohort"], period, end)
    spend = (ch.spend_by_channel(data["marketing_spend"], *summary.window) if "marketing_spend" in data else None)
    summary.channels = channel_ltv(summary.channel_curves, spend, ltv_months=horizons, gross_margin=gross_margin)
    if spend is not None:
        paid_channels = summary.channels.loc[summary.channels["spend"].gt(0), "channel"]
        paid = per_channel.loc[per_channel["channel"].isin(paid_channels)].assign(channel="paid")
        if len(paid):
            pooled = curves(paid, by="channel")
            summary.paid = channel_ltv(pooled, pd.Series({"paid": spend.reindex(paid_channels).sum()}),
                                       ltv_months=horizons, gross_margin=gross_margin)
    return summary


BRANCH_RETENTION = (1, 3)     # retention months of a network's cohorts by branch


def branch_cohorts(invoices: pd.DataFrame, prepared: "Prepared", home: pd.Series | None, *, period: str = "month",
                   end: pd.Timestamp | None = None, ltv_months: Sequence[int] = (6, 12),
                   retention_months: Sequence[int] = BRANCH_RETENTION) -> pd.DataFrame | None:
    """A network's cohorts by branch: the new patients grouped by their home branch (`patients.home_branch`, the
    branch of most of their visits) into `cohort_cells` with ``by="branch_id"``; per branch ``new_patients``
    (acquired up to ``end``), ``retention_m<K>`` and ``ltv_<N>m`` (`at_month` of the branch's `curves`: pooled
    over the cohorts that have the month observed; NaN where none has). New patients without a home branch
    are left out. None when there is no home branch (one clinic). Sorted by branch."""
    if home is None:
        return None
    acquired = prepared.acquired.assign(
        branch_id=home.reindex(pd.Index(prepared.acquired["patient_id"].astype("string"))).to_numpy())
    known = acquired["branch_id"].notna().to_numpy(bool)
    cells = cohort_cells(invoices, acquired, period=period, by="branch_id", end=end, visits=prepared.visits,
                         positions=prepared.positions, months=prepared.months)
    cells = cells.loc[cells["branch_id"].isin(pd.unique(acquired["branch_id"].to_numpy()[known])).to_numpy(bool)]
    if cells.empty:
        return None
    curve = curves(cohort_table(cells, by="branch_id", period=period), by="branch_id")
    first = curve.loc[curve["month_index"].eq(0)].set_index("branch_id")
    out = pd.DataFrame({"new_patients": first["patients"].astype("int64")})
    for k in retention_months:
        out[f"retention_m{k}"] = at_month(curve, k, "retention", by="branch_id").reindex(out.index)
    for n in ltv_months:
        out[f"ltv_{n}m"] = at_month(curve, n - 1, "cum_revenue_per_patient", by="branch_id").reindex(out.index)
    out = out.rename_axis("branch_id").reset_index()
    out["branch_id"] = out["branch_id"].astype("string")
    return out.sort_values("branch_id", kind="stable").reset_index(drop=True)


def retention_trend(table: pd.DataFrame, *, k: int = COMPARE_MONTH, newest: int = NEWEST_COHORTS) -> dict[str, Any] | None:
    """The newest ``newest`` cohorts with month k observed against all older ones: pooled
    ``retention`` and cumulative revenue per patient at k of each side, the newest side's
    ``labels`` and its mean cohort size. None when fewer than newest + 1 cohorts have k observed."""
    cells = table.loc[table["month_index"].eq(k) & table["observed"]].sort_values("cohort_start")
    if len(cells) < newest + 1:
        return None
    side = np.r_[np.zeros(len(cells) - newest, bool), np.ones(newest, bool)]
    sums = cells.groupby(side)[["patients", "active_patients", "cum_revenue"]].sum()
    return {"k": k, "labels": list(cells["cohort"].iloc[-newest:]),
            "older_labels": (cells["cohort"].iloc[0], cells["cohort"].iloc[-newest - 1]),
            "newer_retention": ch.ratio(sums.at[True, "active_patients"], sums.at[True, "patients"]),
            "older_retention": ch.ratio(sums.at[False, "active_patients"], sums.at[False, "patients"]),
            "newer_revenue": ch.ratio(sums.at[True, "cum_revenue"], sums.at[True, "patients"]),
            "older_revenue": ch.ratio(sums.at[False, "cum_revenue"], sums.at[False, "patients"]),
            "newer_size": float(sums.at[True, "patients"]) / newest}


def headline_metrics(summaries: Mapping[str, CohortSummary]) -> dict[str, tuple[str, dict[str, Any]]]:
    """metrics.json entries ``cohorts.<key>`` -> (unit, {period: value}); each period's value is
    measured as of that period's end over every cohort acquired up to then."""
    units = {"payback_month": "number"}
    keys = summaries["current"].headlines().keys()
    values = {p: s.headlines() for p, s in summaries.items()}
    return {f"cohorts.{k}": (units.get(k, "rate" if k.startswith("retention") else "money"),
                             {p: v[k] for p, v in values.items()}) for k in keys}


def summarise_periods(data: Mapping[str, pd.DataFrame], periods: Mapping[str, tuple[pd.Timestamp, pd.Timestamp]],
                      details: Iterable[str] | None = None, **options: Any) -> dict[str, CohortSummary]:
    """`summarise` as of the last day of each ``[start, end)`` period (base first, then current).
    A period other than ``current`` that ends before the first new patient is left out (its
    metrics are null). ``details``: the periods whose cohorts by branch are made (None: all)."""
    out = {}
    prepared = prepare(data, repeat_channels=options.get("repeat_channels", pt.DEFAULT_REPEAT_CHANNELS))
    for name, (_, end) in periods.items():       # two periods at most
        try:
            out[name] = summarise(data, end=end - pd.Timedelta(days=1), prepared=prepared,
                                  branches=details is None or name in set(details), **options)
        except NotEnoughData:
            if name == "current":
                raise
    return out


