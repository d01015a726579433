"""Small vectorised helpers on the simulation's clock (minutes since START): timestamps, months, weighted
picks, arrival times, office hours, missed-call chances and callbacks."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .facts import (CLOSED, DAY, MONTH_EDGES, N_DAYS, N_MONTHS, PLANTS, START, T_END, WEEKDAY, WEEKDAY_W)


# ---------------------------------------------------------------- small vectorised helpers
def ts(t) -> pd.Series:
    """Minutes since START -> timestamps (NaN/NaT stays missing)."""
    t = pd.Series(np.asarray(t, dtype=float))
    return START + pd.to_timedelta(t, unit="min")


def month_of(t: np.ndarray) -> np.ndarray:
    return np.searchsorted(MONTH_EDGES, t, side="right") - 1


def pick(rng, choices, p, size) -> np.ndarray:
    p = np.asarray(p, float)
    return np.asarray(choices)[rng.choice(len(p), size=size, p=p / p.sum())]


def sample_times(rng, month: np.ndarray, hour_w: np.ndarray) -> np.ndarray:
    """Moments within the given months, weighted by weekday (holidays quieter) and hour of day."""
    dayw = WEEKDAY_W[WEEKDAY[:N_DAYS]] * np.where(CLOSED[:N_DAYS] & (WEEKDAY[:N_DAYS] != 6), 0.3, 1.0)
    out = np.zeros(len(month), np.int64)
    for m in range(N_MONTHS):
        sel = np.flatnonzero(month == m)
        d0, d1 = MONTH_EDGES[m] // DAY, MONTH_EDGES[m + 1] // DAY
        p = dayw[d0:d1] / dayw[d0:d1].sum()
        out[sel] = (d0 + rng.choice(d1 - d0, size=len(sel), p=p)) * DAY
    return out + rng.choice(24, size=len(month), p=hour_w / hour_w.sum()) * 60 + rng.integers(0, 60, len(month))


def stratified(rng, group: np.ndarray) -> np.ndarray:
    """Uniforms spread evenly over [0, 1) within each group, so planted rates hold per month/channel
    instead of drifting with sampling noise (each value is still uniform)."""
    group = np.asarray(group)
    n = len(group)
    order = np.lexsort((rng.random(n), group))
    g = group[order]
    starts = np.r_[0, np.flatnonzero(g[1:] != g[:-1]) + 1]
    sizes = np.diff(np.r_[starts, n])
    rank = np.arange(n) - np.repeat(starts, sizes)
    u = np.empty(n)
    u[order] = (rank + rng.random(n)) / np.repeat(sizes, sizes)
    return u


def office(rng, t: np.ndarray) -> np.ndarray:
    """Move moments outside office hours (Mon-Sat 08:00-20:00, not holidays) to the next morning."""
    t = np.asarray(t, np.int64).copy()
    for _ in range(12):
        day = np.minimum(t // DAY, len(CLOSED) - 1)
        mod = t % DAY
        closed = CLOSED[day] | (mod >= 20 * 60)
        early = ~closed & (mod < 8 * 60)
        if not (closed | early).any():
            break
        t = np.where(closed, (day + 1) * DAY + 9 * 60, np.where(early, day * DAY + 9 * 60, t))
        t = t + np.where(closed | early, rng.integers(0, 90, len(t)), 0)
    return t


def miss_prob(t: np.ndarray) -> np.ndarray:
    """P(an inbound call is missed): high at the weekday peak hours, low otherwise."""
    day = np.minimum(t // DAY, len(WEEKDAY) - 1)
    hour = (t % DAY) // 60
    wd = WEEKDAY[day]
    peak = np.isin(hour, PLANTS["peak_hours"]) & (wd < 5)
    return np.where(wd >= 5, PLANTS["missed_weekend"], np.where(peak, PLANTS["missed_peak"], PLANTS["missed_offpeak"]))


def callback(rng, t: np.ndarray) -> np.ndarray:
    """When a missed call is called back (office hours, median ~2 h later); -1 if after the export."""
    back = office(rng, t + np.round(rng.lognormal(np.log(110), 1.0, len(t))).astype(np.int64) + 5)
    return np.where(back < T_END, back, -1)
