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


def test_lists_in_findings_are_capped():
    from audit_kit.findings import LIST_CAP, capped
    from audit_kit.report.fmt import Formatter
    from audit_kit.report.i18n import Translator

    names = [f"Врач {i}" for i in range(1209)]
    text = capped(names, Formatter("ru"), Translator("ru"))
    assert LIST_CAP == 5
    assert text == "Врач 0, Врач 1, Врач 2, Врач 3, Врач 4 и ещё 1\u00a0204 — полный список в таблицах"
    assert capped(names[:5], Formatter("en"), Translator("en")) == "Врач 0, Врач 1, Врач 2, Врач 3, Врач 4"
    assert capped(names[:7], Formatter("en"), Translator("en")).endswith(" and 2 more — the full list is in the tables")


def test_doctors_sharing_a_name_are_told_apart():
    import pandas as pd

    from audit_kit.modules.schedule import doctor_labels

    doctors = pd.DataFrame({"doctor_id": ["B1-D1", "B2-D1", "B1-D2"],
                            "doctor": ["Смирнов Павел Игоревич", "Смирнов Павел Игоревич", "Фролова Наталья Сергеевна"]})
    assert doctor_labels(doctors).to_dict() == {"B1-D1": "Смирнов Павел Игоревич (B1-D1)",
                                                "B2-D1": "Смирнов Павел Игоревич (B2-D1)",
                                                "B1-D2": "Фролова Наталья Сергеевна"}
