"""Period-over-period comparison of headline metrics: changes, and 95% intervals for changes in rates.

A rate's change gets an interval only where its counts are known (numerator and denominator in
both periods); the method is Newcombe's hybrid score interval (Newcombe 1998, method 10), built
from the two Wilson score intervals. A net score (NPS) gets a normal-approximation interval.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
import pandas as pd

Z95 = 1.959963984540054   # two-sided 95% normal quantile


@dataclass(frozen=True)
class Proportion:
    """x successes out of n trials (e.g. 40 no-shows of 258 kept bookings)."""

    x: float
    n: float

    @property
    def rate(self) -> float:
        return self.x / self.n if self.n else np.nan


@dataclass(frozen=True)
class NetScore:
    """A net score from n answers: positive share − negative share (NPS: promoters − detractors)."""

    positive: float
    negative: float
    n: float

    @property
    def score(self) -> float:
        return (self.positive - self.negative) / self.n if self.n else np.nan


def wilson_interval(x, n, z: float = Z95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for a proportion x / n (vectorised).

    centre = (p + z²/2n) / (1 + z²/n); half-width = z / (1 + z²/n) · √(p(1 − p)/n + z²/4n²).
    Fractions in [0, 1]; NaN where n is 0 or missing.
    """
    x, n = np.asarray(x, dtype="float64"), np.asarray(n, dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        n = np.where(n > 0, n, np.nan)
        p = x / n
        z2 = z * z
        denom = 1 + z2 / n
        centre = (p + z2 / (2 * n)) / denom
        half = z / denom * np.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    return np.clip(centre - half, 0.0, 1.0), np.clip(centre + half, 0.0, 1.0)


def newcombe_interval(x1, n1, x2, n2, z: float = Z95) -> tuple[np.ndarray, np.ndarray]:
    """95% interval for the difference p1 − p2 of two independent proportions (vectorised).

    Newcombe's hybrid score interval (method 10): with Wilson limits (l1, u1) for p1 = x1/n1 and
    (l2, u2) for p2 = x2/n2, the difference d = p1 − p2 has
    lower = d − √((p1 − l1)² + (u2 − p2)²), upper = d + √((u1 − p1)² + (p2 − l2)²).
    Fractions (a change of 0.03 is 3 percentage points); NaN where either n is 0 or missing.
    """
    x1, n1, x2, n2 = (np.asarray(v, dtype="float64") for v in (x1, n1, x2, n2))
    l1, u1 = wilson_interval(x1, n1, z)
    l2, u2 = wilson_interval(x2, n2, z)
    with np.errstate(divide="ignore", invalid="ignore"):
        p1, p2 = x1 / np.where(n1 > 0, n1, np.nan), x2 / np.where(n2 > 0, n2, np.nan)
    d = p1 - p2
    lower = d - np.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    upper = d + np.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return lower, upper


def net_score_interval(current: NetScore, base: NetScore, z: float = Z95) -> tuple[float, float]:
    """95% interval for the change of a net score (current − base), as a fraction of answers.

    Each score s = P − D from n answers has variance (P + D − s²) / n (a trinomial: positive,
    neutral, negative); the two periods are independent, so the change has the summed variance
    and a normal-approximation interval change ± z·√(v1 + v2). NaN without answers in a period.
    """
    if not current.n or not base.n:
        return np.nan, np.nan
    variance = 0.0
    for s in (current, base):
        p, d = s.positive / s.n, s.negative / s.n
        variance += (p + d - (p - d) ** 2) / s.n
    change = current.score - base.score
    half = z * np.sqrt(variance)
    return change - half, change + half


def _number(v: Any) -> float:
    return np.nan if v is None else float(v)


def relative_change(base: Any, current: Any) -> float:
    """(current − base) / |base|; NaN when either is missing or the base is 0."""
    base, current = _number(base), _number(current)
    if not np.isfinite(base) or not np.isfinite(current) or base == 0:
        return np.nan
    return (current - base) / abs(base)


def compare_periods(metrics: Mapping[str, Mapping[str, Any]],
                    counts: Mapping[str, Mapping[str, Proportion | NetScore]] | None = None,
                    z: float = Z95) -> pd.DataFrame:
    """One row per metric: key, unit, base, current, change, relative_change, ci_low, ci_high, ci_method.

    metrics: metrics.json's `metrics` mapping (key -> {unit, base, current}); a metric without a
    base period value gets NaN changes. change = current − base in the metric's unit (for a rate,
    a difference of fractions = percentage points / 100); relative_change = change / |base|.
    counts: key -> {"base": Proportion | NetScore, "current": ...}; a rate whose counts are known
    in both periods gets Newcombe's interval ("newcombe"), a net score the normal one ("net_score"),
    scaled to the metric's unit (a net score metric in points is ×100). Others: NaN, method "".
    """
    counts = counts or {}
    rows = []
    for key, m in metrics.items():
        base, current = _number(m.get("base")), _number(m.get("current"))
        row = {"key": key, "unit": m.get("unit", "number"), "base": base, "current": current,
               "change": current - base, "relative_change": relative_change(base, current),
               "ci_low": np.nan, "ci_high": np.nan, "ci_method": ""}
        c = counts.get(key, {})
        cb, cc = c.get("base"), c.get("current")
        if isinstance(cb, Proportion) and isinstance(cc, Proportion):
            lo, hi = newcombe_interval(cc.x, cc.n, cb.x, cb.n, z)
            if np.isfinite(lo) and np.isfinite(hi):
                row.update(ci_low=float(lo), ci_high=float(hi), ci_method="newcombe")
        elif isinstance(cb, NetScore) and isinstance(cc, NetScore):
            lo, hi = net_score_interval(cc, cb, z)
            scale = 1.0 if row["unit"] == "rate" else 100.0
            if np.isfinite(lo) and np.isfinite(hi):
                row.update(ci_low=lo * scale, ci_high=hi * scale, ci_method="net_score")
        rows.append(row)
    columns = ["key", "unit", "base", "current", "change", "relative_change", "ci_low", "ci_high", "ci_method"]
    return pd.DataFrame(rows, columns=columns)


def significant(table: pd.DataFrame) -> pd.Series:
    """True where the interval of the change excludes 0 (a change unlikely to be chance), else False."""
    return ((table["ci_low"] > 0) | (table["ci_high"] < 0)).fillna(False).astype(bool)
