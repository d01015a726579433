"""Numbers formatted for the report language: `3 900 ₽`, `12,5 %` (ru); `₽3,900`, `12.5%` (en).

A missing value (None, NaN, ±inf) is shown as a dash in both languages.
"""
from __future__ import annotations

import math
from typing import Any

import pandas as pd

NBSP = "\u00a0"
CURRENCY_SIGNS = {"RUB": "₽", "USD": "$", "EUR": "€", "KZT": "₸"}
MISSING = "—"


def _missing(x: Any) -> bool:
    if x is None or x is pd.NA or x is pd.NaT:
        return True
    try:
        return not math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


class Formatter:
    """Format numbers, money, rates, dates and durations for one language and currency."""

    def __init__(self, language: str = "ru", currency: str = "RUB"):
        self.language = language
        self.currency = currency
        self.sign = CURRENCY_SIGNS.get(currency, currency)

    def _group(self, x: float, digits: int) -> str:
        text = f"{x:,.{digits}f}"
        if self.language == "ru":
            text = text.replace(",", NBSP).replace(".", ",")
        return text

    def num(self, x: Any, digits: int = 0) -> str:
        """A plain number with thousands separators: 12 345 (ru) / 12,345 (en)."""
        return MISSING if _missing(x) else self._group(float(x), digits)

    def money(self, x: Any, digits: int = 0) -> str:
        """Money in the config currency: 3 900 ₽ (ru) / ₽3,900 (en); negatives keep their sign."""
        if _missing(x):
            return MISSING
        x = float(x)
        body = self._group(abs(x), digits)
        minus = "−" if x < 0 and round(abs(x), digits) > 0 else ""
        return f"{minus}{body}{NBSP}{self.sign}" if self.language == "ru" else f"{minus}{self.sign}{body}"

    def pct(self, x: Any, digits: int = 1) -> str:
        """A fraction as a percentage: 0.125 -> 12,5 % (ru) / 12.5% (en)."""
        if _missing(x):
            return MISSING
        body = self._group(float(x) * 100, digits)
        return f"{body}{NBSP}%" if self.language == "ru" else f"{body}%"

    def pp(self, x: Any, digits: int = 1) -> str:
        """A change of a rate in percentage points, signed: +3,2 п. п. / +3.2 pp."""
        if _missing(x):
            return MISSING
        body = self._group(abs(float(x)) * 100, digits)
        sign = "+" if x > 0 else ("−" if x < 0 else "")
        return f"{sign}{body}{NBSP}п.{NBSP}п." if self.language == "ru" else f"{sign}{body} pp"

    def change(self, x: Any, digits: int = 1) -> str:
        """A relative change, signed: +35,0 % / +35.0%."""
        if _missing(x):
            return MISSING
        sign = "+" if x > 0 else ("−" if x < 0 else "")
        body = self._group(abs(float(x)) * 100, digits)
        return f"{sign}{body}{NBSP}%" if self.language == "ru" else f"{sign}{body}%"

    def minutes(self, x: Any) -> str:
        if _missing(x):
            return MISSING
        return f"{self.num(x)}{NBSP}мин" if self.language == "ru" else f"{self.num(x)} min"

    def hours(self, x: Any, digits: int = 0) -> str:
        if _missing(x):
            return MISSING
        return f"{self.num(x, digits)}{NBSP}ч" if self.language == "ru" else f"{self.num(x, digits)} h"

    def date(self, x: Any) -> str:
        if _missing(x):
            return MISSING
        ts = pd.Timestamp(x)
        return ts.strftime("%d.%m.%Y") if self.language == "ru" else ts.strftime("%Y-%m-%d")

    def month(self, x: Any) -> str:
        if _missing(x):
            return MISSING
        ts = pd.Timestamp(x)
        return ts.strftime("%m.%Y") if self.language == "ru" else ts.strftime("%Y-%m")

    def period(self, start: Any, end: Any) -> str:
        return f"{self.date(start)} – {self.date(end)}"

    def value(self, x: Any, unit: str) -> str:
        """Format by unit name: count, money, rate, ratio, minutes, hours, days, number.

        A ratio is a fraction that may be negative or above 1 (ROMI, ДРР), shown as a percentage."""
        return {"count": self.num, "money": self.money, "rate": self.pct, "ratio": self.pct, "minutes": self.minutes,
                "hours": self.hours}.get(unit, lambda v: self.num(v, 1))(x)

    def column(self, s: pd.Series, kind: str) -> pd.Series:
        """Format a whole column (for display tables); kind as in `value`, plus 'date', 'month', 'text'."""
        if kind in ("text", None):
            return s.astype("string").fillna(MISSING)
        fn = {"date": self.date, "month": self.month, "pp": self.pp, "change": self.change}.get(kind)
        fn = fn or (lambda v: self.value(v, kind))
        return s.map(fn)  # display-only: report tables are small by construction
