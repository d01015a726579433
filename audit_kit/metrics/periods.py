"""Periods and months: the period window type, the one definition of "months in a period" that
every module divides by, the [start, end) window mask, the calendar month of a date and clock-hour
ranges.

Periods are ``[start, end)`` timestamps (end exclusive), as ``Module.periods`` gives them.
"""
from __future__ import annotations

from typing import Iterable

import numpy as np
import pandas as pd

AVG_MONTH_DAYS = 365.25 / 12

NS_PER_DAY = 86_400 * 10**9

Window = tuple[pd.Timestamp, pd.Timestamp]     # a period [start, end): start inclusive, end exclusive


def period_months(start: pd.Timestamp, end: pd.Timestamp) -> float:
    """Length of ``[start, end)`` in months: whole calendar months when both bounds are the
    first of a month (a quarter is exactly 3, a year 12), else days ÷ 30.44 (365.25 / 12)."""
    start, end = pd.Timestamp(start), pd.Timestamp(end)
    if start == start.normalize() and end == end.normalize() and start.day == 1 and end.day == 1:
        return float((end.year - start.year) * 12 + end.month - start.month)
    return (end - start) / pd.Timedelta(days=1) / AVG_MONTH_DAYS


def in_window(dates: pd.Series, start: pd.Timestamp | None = None, end: pd.Timestamp | None = None) -> pd.Series:
    """Rows whose date lies in [start, end); a missing bound is open; a missing date is outside any bounded window."""
    if isinstance(dates.dtype, np.dtype) and dates.dtype.kind == "M":     # naive datetimes: numpy, NaT compares False
        values = dates.to_numpy()
        mask = np.ones(len(values), bool)
        if start is not None:
            mask &= values >= pd.Timestamp(start).to_datetime64()
        if end is not None:
            mask &= values < pd.Timestamp(end).to_datetime64()
        return pd.Series(mask, index=dates.index)
    mask = pd.Series(True, index=dates.index)
    if start is not None:
        mask &= dates.ge(start).fillna(False).astype(bool)
    if end is not None:
        mask &= dates.lt(end).fillna(False).astype(bool)
    return mask


def day_numbers(times: pd.Series) -> np.ndarray:
    """Calendar day numbers since 1970-01-01 (int64; NaT becomes a very negative number)."""
    return times.to_numpy(dtype="datetime64[ns]").view("int64") // NS_PER_DAY


def month_start(dates: pd.Series) -> pd.Series:
    """First day of each date's calendar month (datetime64[ns]; NaT stays NaT)."""
    values = dates.to_numpy(dtype="datetime64[ns]").astype("datetime64[M]").astype("datetime64[ns]")
    return pd.Series(values, index=dates.index)


def up_to(dates: pd.Series, as_of) -> pd.Series:
    """Rows dated on or before the as-of day (inclusive: up to its 23:59:59); missing dates are out."""
    return in_window(dates, None, pd.Timestamp(as_of).normalize() + pd.Timedelta(days=1))


def hour_ranges(hours: Iterable[int]) -> list[tuple[int, int]]:
    """Clock hours folded into consecutive [from, to) ranges: [17, 18, 19, 9] -> [(9, 10), (17, 20)]."""
    unique = np.unique(np.asarray(list(hours), dtype=int))
    if len(unique) == 0:
        return []
    breaks = np.flatnonzero(np.diff(unique) != 1)
    starts = np.r_[unique[0], unique[breaks + 1]]
    ends = np.r_[unique[breaks], unique[-1]] + 1
    return list(zip(starts.tolist(), ends.tolist()))
