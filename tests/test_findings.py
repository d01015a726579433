"""findings.py: the Finding record, the severity rules and the one ranking."""
from __future__ import annotations

import math

import numpy as np
import pytest

from audit_kit.findings import SHARE_SEVERITY, Finding, rank, severity_by_money, severity_by_share


def finding(id_: str, money: float | None, severity: str = "medium", module: str = "funnel") -> Finding:
    return Finding(module, id_, f"title {id_}", severity, money, "evidence", "recommendation")


class TestFinding:
    def test_money_rounded_to_kopecks_and_non_finite_unpriced(self):
        assert finding("a", 1234.5678).money_at_stake_per_month == 1234.57
        assert finding("a", math.inf).money_at_stake_per_month is None
        assert finding("a", np.float64("nan")).money_at_stake_per_month is None

    def test_unknown_severity_is_an_error(self):
        with pytest.raises(ValueError, match="severity must be one of"):
            finding("a", 1.0, severity="critical")


class TestRank:
    def test_money_first_then_unpriced_by_severity_module_and_id(self):
        found = [finding("waits", None, "medium", "schedule"), finding("small", 100.0, "low"),
                 finding("overbooked", None, "high", "schedule"), finding("big", 5000.0, "high"),
                 finding("overrun", None, "medium", "schedule"), finding("tie_b", 100.0, "high"),
                 {"module": "cohorts", "id": "x", "title": "t", "severity": "medium",
                  "money_at_stake_per_month": None, "evidence": "e", "recommendation": "r"}]
        order = [(f.module, f.id) for f in rank(found)]
        # 5000 > 100 (high before low on the tie) > unpriced: high, then medium by module then id.
        assert order == [("funnel", "big"), ("funnel", "tie_b"), ("funnel", "small"), ("schedule", "overbooked"),
                         ("cohorts", "x"), ("schedule", "overrun"), ("schedule", "waits")]


class TestSeverity:
    def test_by_money_share_of_monthly_revenue(self):
        # 600 of 10 000 = 6 % >= 5 %: high; 100 = 1 %: medium; 99 = 0.99 %: low
        assert [severity_by_money(m, 10_000) for m in (600, 500, 100, 99)] == ["high", "high", "medium", "low"]
        assert severity_by_money(None, 10_000) == "medium"            # unpriced
        assert severity_by_money(600, 0) == "medium" and severity_by_money(600, np.nan) == "medium"

    def test_by_share_with_named_or_given_thresholds(self):
        assert [severity_by_share(s, (0.05, 0.01)) for s in (0.2, 0.05, 0.02, 0.001, np.nan, None)] == [
            "high", "high", "medium", "low", "low", "low"]
        assert SHARE_SEVERITY["duplicates"] == (0.01, 0.002)
        assert [severity_by_share(s, "duplicates") for s in (0.01, 0.002, 0.0019)] == ["high", "medium", "low"]
