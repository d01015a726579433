"""Schedule (module 03): waiting after check-in and appointments running over their slot."""
from __future__ import annotations


import numpy as np
import pandas as pd

from ..ids import row_in


# -- waiting and overruns -------------------------------------------------------------------

def waits(visits: pd.DataFrame, slot_table: pd.DataFrame) -> pd.DataFrame:
    """Per visit: wait after check-in and overrun of the slot, in minutes.

    wait_minutes = started_at − checked_in_at (NaN without started_at; negative values — the
    start recorded before the check-in — are clock errors and become NaN);
    overrun_minutes = (ended_at − started_at) − the booking's slot length (NaN without
    ended_at or a linked booking); positive = longer than planned.
    doctor_id: the visit's, else the booking's. Also returns checked_in_at and booking_id.
    """
    row = row_in(visits, "booking_id", slot_table)
    linked = row >= 0
    out = visits[["visit_id", "booking_id", "checked_in_at"]].copy()
    doctor = slot_table["doctor_id"]
    take = np.where(linked, row, -1)
    if isinstance(doctor.dtype, pd.CategoricalDtype):           # each doctor's name once, then integer codes
        codes = np.r_[doctor.cat.codes.to_numpy(np.int64), -1][take]
        booked = pd.array(doctor.cat.categories, dtype="string").take(codes, allow_fill=True)
    else:
        booked = pd.array(doctor, dtype="string").take(take, allow_fill=True)
    booking_doctor = pd.Series(booked, index=visits.index, dtype="string")
    out["doctor_id"] = visits["doctor_id"].astype("string").fillna(booking_doctor)
    wait = (visits["started_at"] - visits["checked_in_at"]).dt.total_seconds() / 60
    out["wait_minutes"] = wait.where(wait >= 0)
    duration = (visits["ended_at"] - visits["started_at"]).dt.total_seconds() / 60
    length = np.where(linked, slot_table["slot_minutes"].to_numpy("float64")[np.maximum(row, 0)], np.nan)
    out["overrun_minutes"] = duration - length
    return out


def wait_summary(wait_table: pd.DataFrame, *, target: float = 15, by: str | list[str] | None = None
                 ) -> pd.DataFrame:
    """Waits per group: visits, visits_timed (with a wait), median_wait, share_over_target
    (wait > target minutes, of timed visits), mean_overrun and share_overrun (overrun > 0, of
    visits with an overrun). Minutes and fractions; NaN when nothing was timed.
    """
    keys = [by] if isinstance(by, str) else list(by or [])
    df = wait_table.assign(
        timed=wait_table["wait_minutes"].notna(),
        over=(wait_table["wait_minutes"] > target).astype("float64").where(wait_table["wait_minutes"].notna()),
        overran=(wait_table["overrun_minutes"] > 0).astype("float64").where(wait_table["overrun_minutes"].notna()))
    agg = dict(visits=("visit_id", "size"), visits_timed=("timed", "sum"),
               median_wait=("wait_minutes", "median"), share_over_target=("over", "mean"),
               mean_overrun=("overrun_minutes", "mean"), share_overrun=("overran", "mean"))
    if keys:
        return df.groupby(keys, observed=True, dropna=False).agg(**agg).reset_index()
    return df.assign(_all=0).groupby("_all").agg(**agg).reset_index(drop=True)
