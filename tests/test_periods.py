"""metrics/periods.py: the period window, months in a period, window masks, months, clock-hour ranges."""
from __future__ import annotations

import pandas as pd
import pytest

from audit_kit.metrics import periods as pr

T = pd.Timestamp


def test_months_in_a_period(periods):
    assert pr.period_months(*periods["current"]) == 3.0          # Jan-Mar 2025: whole calendar months
    assert pr.period_months(*periods["base"]) == 3.0
    assert pr.period_months(T("2025-01-01"), T("2026-01-01")) == 12.0
    assert pr.period_months(T("2025-01-15"), T("2025-02-14")) == pytest.approx(30 / 30.4375)
    assert pr.period_months(T("2025-01-01"), T("2025-01-16")) == pytest.approx(15 / (365.25 / 12))


def test_in_window_is_start_inclusive_end_exclusive(periods):
    dates = pd.Series([T("2025-01-01"), T("2025-03-31 23:59"), T("2025-04-01"), pd.NaT])
    assert pr.in_window(dates, *periods["current"]).tolist() == [True, True, False, False]
    assert pr.in_window(dates).tolist() == [True, True, True, True]
    assert pr.in_window(dates, None, T("2025-02-01")).tolist() == [True, False, False, False]
    aware = dates.dt.tz_localize("Europe/Moscow")                  # the pandas path: NaT is outside too
    assert pr.in_window(aware, T("2025-01-01", tz="Europe/Moscow")).tolist() == [True, True, True, False]


def test_month_start_and_up_to():
    dates = pd.Series([T("2025-01-31 10:00"), T("2025-02-01"), pd.NaT])
    assert pr.month_start(dates).tolist()[:2] == [T("2025-01-01"), T("2025-02-01")]
    assert pd.isna(pr.month_start(dates).iloc[2])
    assert pr.up_to(dates, T("2025-01-31")).tolist() == [True, False, False]   # the whole as-of day


def test_hour_ranges():
    assert pr.hour_ranges([17, 18, 19, 9]) == [(9, 10), (17, 20)]
    assert pr.hour_ranges([13, 9, 18, 14, 14]) == [(9, 10), (13, 15), (18, 19)]
    assert pr.hour_ranges([]) == []


def test_window_is_a_pair_of_timestamps(periods):
    assert all(isinstance(w, tuple) and len(w) == 2 for w in periods.values())
    start, end = periods["current"]
    assert (start, end) == (T("2025-01-01"), T("2025-04-01"))
