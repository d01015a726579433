"""Period comparison: Wilson and Newcombe intervals on hand-computed cases, changes, NPS intervals."""
from __future__ import annotations

import math

import numpy as np
import pytest

from audit_kit.metrics.compare import (NetScore, Proportion, compare_periods, net_score_interval, newcombe_interval,
                                       relative_change, significant, wilson_interval)


class TestWilson:
    def test_hand_computed(self):
        # 56/70: p = 0.8, z = 1.959964, z² = 3.841459, n = 70
        # centre = (0.8 + 3.841459/140) / (1 + 3.841459/70) = 0.827439 / 1.054878 = 0.784393
        # half = 1.959964 / 1.054878 · √(0.8·0.2/70 + 3.841459/(4·4900)) = 1.858002 · 0.049817 = 0.092559
        lo, hi = wilson_interval(56, 70)
        assert lo == pytest.approx(0.691834, abs=1e-5)
        assert hi == pytest.approx(0.876953, abs=1e-5)

    def test_zero_successes_and_empty(self):
        # 0/10: centre = (z²/20)/(1 + z²/10) = 0.192073/1.384146 = 0.138766 = half -> [0, 0.277533]
        lo, hi = wilson_interval(0, 10)
        assert lo == 0.0
        assert hi == pytest.approx(0.277533, abs=1e-5)
        lo, hi = wilson_interval(0, 0)
        assert math.isnan(lo) and math.isnan(hi)

    def test_vectorised(self):
        lo, hi = wilson_interval(np.array([56, 0]), np.array([70, 10]))
        assert lo.shape == (2,) and hi[1] == pytest.approx(0.277533, abs=1e-5)


class TestNewcombe:
    # Newcombe (1998), Statistics in Medicine 17:873–890, Table II, method 10 (hybrid score).
    @pytest.mark.parametrize("x1, n1, x2, n2, low, high", [
        (56, 70, 48, 80, 0.0524, 0.3339),
        (9, 10, 3, 10, 0.1705, 0.8090),
        (6, 7, 2, 7, 0.0582, 0.8062),
        (5, 56, 0, 29, -0.0381, 0.1926),
    ])
    def test_published_examples(self, x1, n1, x2, n2, low, high):
        lo, hi = newcombe_interval(x1, n1, x2, n2)
        assert lo == pytest.approx(low, abs=5e-5)
        assert hi == pytest.approx(high, abs=5e-5)

    def test_built_from_the_two_wilson_intervals(self):
        # 56/70 − 48/80 = 0.8 − 0.6 = 0.2; Wilson: (0.691834, 0.876953) and (0.490464, 0.700569)
        # lower = 0.2 − √((0.8 − 0.691834)² + (0.700569 − 0.6)²) = 0.2 − √(0.011700 + 0.010114) = 0.052306...
        l1, u1 = wilson_interval(56, 70)
        l2, u2 = wilson_interval(48, 80)
        lo, hi = newcombe_interval(56, 70, 48, 80)
        assert lo == pytest.approx(0.2 - math.sqrt((0.8 - l1) ** 2 + (u2 - 0.6) ** 2))
        assert hi == pytest.approx(0.2 + math.sqrt((u1 - 0.8) ** 2 + (0.6 - l2) ** 2))

    def test_no_denominator_gives_nan(self):
        lo, hi = newcombe_interval(3, 10, 0, 0)
        assert math.isnan(lo) and math.isnan(hi)


def test_net_score_interval_hand_computed():
    # current: 60 promoters, 20 detractors of 100 -> NPS 0.40, variance (0.6 + 0.2 − 0.16)/100 = 0.0064
    # base: 40 promoters, 30 detractors of 100 -> NPS 0.10, variance (0.4 + 0.3 − 0.01)/100 = 0.0069
    # change 0.30 ± 1.959964·√0.0133 = 0.30 ± 0.226034
    lo, hi = net_score_interval(NetScore(60, 20, 100), NetScore(40, 30, 100))
    assert lo == pytest.approx(0.073966, abs=1e-5)
    assert hi == pytest.approx(0.526034, abs=1e-5)
    assert all(math.isnan(v) for v in net_score_interval(NetScore(1, 0, 2), NetScore(0, 0, 0)))


def test_relative_change():
    assert relative_change(400, 500) == pytest.approx(0.25)
    assert relative_change(-200, -100) == pytest.approx(0.5)     # less negative = up, against |base|
    assert math.isnan(relative_change(0, 5))
    assert math.isnan(relative_change(None, 5))


class TestComparePeriods:
    metrics = {
        "funnel.leads": {"unit": "count", "base": 400, "current": 500},
        "funnel.lead_to_booking": {"unit": "rate", "base": 0.6, "current": 0.8},
        "summary.nps": {"unit": "number", "base": 10.0, "current": 40.0},
        "quality.rows_read": {"unit": "count", "base": None, "current": 90},
        "schedule.utilisation": {"unit": "rate", "base": 0.7, "current": 0.75},
    }
    counts = {
        "funnel.lead_to_booking": {"base": Proportion(48, 80), "current": Proportion(56, 70)},
        "summary.nps": {"base": NetScore(40, 30, 100), "current": NetScore(60, 20, 100)},
    }

    def test_rows(self):
        table = compare_periods(self.metrics, self.counts).set_index("key")
        leads = table.loc["funnel.leads"]
        assert leads["change"] == 100 and leads["relative_change"] == pytest.approx(0.25)
        assert math.isnan(leads["ci_low"]) and leads["ci_method"] == ""        # a count gets no interval
        rate = table.loc["funnel.lead_to_booking"]
        assert rate["change"] == pytest.approx(0.2)                             # 20 percentage points
        assert rate["ci_low"] == pytest.approx(0.0524, abs=5e-5) and rate["ci_high"] == pytest.approx(0.3339, abs=5e-5)
        assert rate["ci_method"] == "newcombe"
        nps = table.loc["summary.nps"]                                          # points: ×100
        assert nps["ci_low"] == pytest.approx(7.3966, abs=1e-3) and nps["ci_method"] == "net_score"
        missing = table.loc["quality.rows_read"]
        assert math.isnan(missing["base"]) and math.isnan(missing["change"]) and math.isnan(missing["relative_change"])
        util = table.loc["schedule.utilisation"]                                # a rate without counts: no interval
        assert util["change"] == pytest.approx(0.05) and util["ci_method"] == ""

    def test_significance(self):
        table = compare_periods(self.metrics, self.counts).set_index("key")
        sig = significant(table)
        assert sig["funnel.lead_to_booking"] and sig["summary.nps"]
        assert not sig["funnel.leads"] and not sig["schedule.utilisation"]

    def test_counts_in_one_period_only_give_no_interval(self):
        table = compare_periods(self.metrics, {"funnel.lead_to_booking": {"current": Proportion(56, 70)}})
        assert table.set_index("key").loc["funnel.lead_to_booking", "ci_method"] == ""
