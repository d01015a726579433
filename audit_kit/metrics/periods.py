"""How long a period is: the one definition of "months in a period" that every module divides by.

Periods are ``[start, end)`` timestamps (end exclusive), as ``Module.periods`` gives them.
"""
from __future__ import annotations

import pandas as pd

AVG_MONTH_DAYS = 365.25 / 12


def period_months(start: pd.Timestamp, end: pd.Timestamp) -> float:
    """Length of ``[start, end)`` in months: whole calendar months when both bounds are the
    first of a month (a quarter is exactly 3, a year 12), else days ÷ 30.44 (365.25 / 12)."""
    start, end = pd.Timestamp(start), pd.Timestamp(end)
    if start == start.normalize() and end == end.normalize() and start.day == 1 and end.day == 1:
        return float((end.year - start.year) * 12 + end.month - start.month)
    return (end - start) / pd.Timedelta(days=1) / AVG_MONTH_DAYS
