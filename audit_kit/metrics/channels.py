"""Channel ROMI (DESIGN §4, module 04): what each acquisition channel costs and what its patients bring.

Pure, vectorised functions over the canonical tables; no I/O. Acquisition and first/last touch
come from `patients`; this module holds the money ratios.
"""
from __future__ import annotations

import numpy as np
import pandas as pd


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
