"""Money at stake (audit_kit/money.py): the one shape of a priced finding, campaigns, each rouble once —
hand-computed fixtures."""
from __future__ import annotations

import math

import pandas as pd
import pytest

from audit_kit.config import Targets
from audit_kit.findings import Finding, from_catalog, mark_counted
from audit_kit.money import (Factor, campaign_price, count_once, formula_text, gap_price, module_total,
                             revenue_per_month, summary_metrics, target_of)
from audit_kit.report.fmt import Formatter
from audit_kit.report.i18n import Translator

RU, EN = Translator("ru"), Translator("en")
FMT = Formatter("ru")


def plain(text: str) -> str:
    """Non-breaking spaces (the formatter's thousands and units) as plain spaces, for readable expectations."""
    return text.replace("\xa0", " ")


def finding(module, id, money, stage=None, acts_on=None):
    return Finding(module, id, f"{module}.{id}", "medium", money, "", "", stage=stage, acts_on=acts_on)


def test_gap_shape_against_a_config_target():
    """(60 % − 45 %) × 300 leads a month × 80 % booked→paid × 5 000 ₽ = 180 000 ₽."""
    targets = Targets({"lead_to_booking": 0.6}, ["lead_to_booking"])
    target, source = target_of(targets, "lead_to_booking")
    assert (target, source) == (0.6, "config")
    price = gap_price(stage="booking", acts_on="unbooked_leads", rate=0.45, target=target, target_source=source,
                      target_key="lead_to_booking",
                      factors=(Factor("leads_per_month", 300), Factor("booking_to_paid", 0.8, "rate"),
                               Factor("first_check", 5000, "money")))
    assert price.gap == pytest.approx(0.15)
    assert price.money == pytest.approx(180_000)
    text = plain(formula_text(price, FMT, RU))
    assert text.startswith("Расчёт: (60,0 % − 45,0 %) × 300 × 80,0 % × 5 000 ₽ = 180 000 ₽ в месяц, где 300 — обращений в месяц")
    assert "задана в audit.yaml (targets.lead_to_booking)" in text


def test_default_target_and_lower_is_better():
    """No-shows: (15 % − 5 %) × 600 kept bookings × 4 000 ₽ = 240 000 ₽; the target is the method's."""
    target, source = target_of(Targets({"no_show_rate": 0.05}), "no_show_rate")
    assert source == "default"
    price = gap_price(stage="show", acts_on="no_shows", rate=0.15, target=target, target_source=source,
                      lower_is_better=True, target_key="no_show_rate",
                      factors=(Factor("kept_per_month", 600), Factor("no_show_value", 4000, "money")))
    assert price.money == pytest.approx(240_000)
    assert "Calculation: (15.0% − 5.0%) × 600 × ₽4,000 = ₽240,000 a month" in plain(formula_text(price, Formatter("en"), EN))


def test_no_defensible_target_no_price():
    assert target_of(Targets({"romi": None}), "romi") == (None, None)
    assert gap_price(stage="booking", acts_on="x", rate=0.4, target=None, target_source=None,
                     factors=(Factor("leads_per_month", 100),)) is None
    # at or better than the target: nothing at stake
    assert gap_price(stage="show", acts_on="x", rate=0.04, target=0.05, target_source="default", lower_is_better=True,
                     factors=(Factor("kept_per_month", 100),)) is None
    # an unknown factor: no price rather than NaN
    assert gap_price(stage="show", acts_on="x", rate=0.2, target=0.05, target_source="default", lower_is_better=True,
                     factors=(Factor("kept_per_month", float("nan")),)) is None


def test_former_best_priced_by_the_call_plan():
    """The issue's fixture: list 40 × reach 70 % × return 15 % × 12 000 ₽ a month = 50 400 ₽."""
    price = campaign_price(acts_on="former_best", patients=40, reach_rate=0.7, return_rate=0.15, monthly_value=12_000)
    assert price.stage == "return" and price.gap is None
    assert price.money == pytest.approx(50_400)
    text = plain(formula_text(price, FMT, RU))
    assert text.startswith("Расчёт: 40 × 70,0 % × 15,0 % × 12 000 ₽ = 50 400 ₽ в месяц")
    assert "сколько группа платила раньше, в сумму не входит" in text
    assert campaign_price(acts_on="former_best", patients=0, reach_rate=0.7, return_rate=0.15, monthly_value=1) is None


def test_nested_no_shows_counted_once():
    """Module 02's no-shows of booked leads (250 000) and module 03's no-shows (680 000) are the same patients:
    only the larger counts, the other names it."""
    found = [finding("funnel", "booked_no_show", 250_000, "show", "no_shows"),
             finding("schedule", "no_show", 680_000, "show", "no_shows"),
             finding("schedule", "no_show_channel", 50_000, "show", "no_shows"),
             finding("funnel", "missed_calls", 60_000, "lead_handling", "missed_calls")]
    marked = {f"{f.module}.{f.id}": f for f in mark_counted(found)}
    assert marked["schedule.no_show"].counted and marked["schedule.no_show"].money_counted_per_month == 680_000
    assert marked["funnel.booked_no_show"].nested_in == "schedule.no_show"
    assert marked["funnel.booked_no_show"].money_counted_per_month == 0 and not marked["funnel.booked_no_show"].counted
    assert marked["schedule.no_show_channel"].nested_in == "schedule.no_show"
    assert sum(f.money_counted_per_month for f in marked.values()) == 740_000


def test_capacity_is_filled_by_demand_first():
    """Idle doctor time (300 000) after lead handling 100 000 + return 50 000 counts 150 000; show does not fill it."""
    found = [finding("schedule", "underloaded", 300_000, "capacity", "idle_hours"),
             finding("funnel", "slow_response", 100_000, "lead_handling", "unbooked_leads"),
             finding("funnel", "unbooked", 80_000, "booking", "unbooked_leads"),
             finding("rfm", "former_best", 50_000, "return", "former_best"),
             finding("schedule", "no_show", 500_000, "show", "no_shows")]
    decided = count_once(found)
    assert decided["schedule.underloaded"].money_counted == pytest.approx(150_000)
    assert decided["schedule.underloaded"].covered == pytest.approx(150_000)
    assert decided["funnel.unbooked"].nested_in == "funnel.slow_response"
    # demand larger than the idle time: the capacity finding adds nothing and is not counted
    found[0] = finding("schedule", "underloaded", 120_000, "capacity", "idle_hours")
    decided = count_once(found)
    assert decided["schedule.underloaded"].money_counted == 0 and not decided["schedule.underloaded"].counted


def test_data_quality_findings_carry_no_price():
    found = [Finding("quality", "refunds", "Возвраты", "low", None, "132 557 ₽", ""),
             finding("funnel", "missed_calls", 60_000, "lead_handling", "missed_calls")]
    marked = mark_counted(found)
    assert marked[0].money_counted_per_month is None and not marked[0].counted and marked[0].nested_in is None
    assert summary_metrics(marked, None)["summary.money_at_stake_per_month"]["current"] == 60_000


def test_module_total_nests_within_the_module():
    prices = {"no_show": gap_price(stage="show", acts_on="no_shows", rate=0.15, target=0.05, target_source="default",
                                   lower_is_better=True, factors=(Factor("kept_per_month", 100), Factor("v", 1000, "money"))),
              "no_show_channel": gap_price(stage="show", acts_on="no_shows", rate=0.3, target=0.1,
                                           target_source="benchmark", lower_is_better=True,
                                           factors=(Factor("kept_per_month", 10), Factor("v", 1000, "money"))),
              "overrun": None}
    assert module_total(prices) == pytest.approx(10_000)     # 0.1 × 100 × 1000; the channel's 2 000 is inside it
    assert math.isnan(module_total({"overrun": None}))


def test_from_catalog_appends_the_arithmetic():
    price = campaign_price(acts_on="former_best", patients=40, reach_rate=0.7, return_rate=0.15, monthly_value=12_000)
    f = from_catalog("rfm", RU, id="former_best", severity="high", key="rfm.finding.former_best", price=price, fmt=FMT,
                     values={"patients": "40", "paid": "1 ₽", "used": "2 ₽", "visits": "5", "idle": "200",
                             "doctors": "—", "services": "—"})
    assert f.money_at_stake_per_month == 50_400 and f.stage == "return" and f.acts_on == "former_best"
    assert "обзвон вернёт около 50 400 ₽ в месяц" in plain(f.title)
    assert f.evidence.endswith(formula_text(price, FMT, RU))
    assert f.price["factors"][0] == {"key": "campaign_list", "value": 40, "kind": "count"}


def test_revenue_per_month_and_share():
    invoices = pd.DataFrame({"paid_at": pd.to_datetime(["2025-01-10", "2025-02-10", "2025-03-10", "2025-03-11"]),
                             "amount": [100_000.0, 200_000.0, 320_000.0, -20_000.0]})
    window = {"current": (pd.Timestamp("2025-01-01"), pd.Timestamp("2025-04-01"))}
    revenue = revenue_per_month(invoices, window)
    assert revenue == {"current": pytest.approx(200_000)}
    found = mark_counted([finding("funnel", "missed_calls", 36_000, "lead_handling", "missed_calls")])
    out = summary_metrics(found, revenue)
    assert out["summary.money_at_stake_share"] == {"unit": "rate", "current": pytest.approx(0.18)}
    assert out["summary.revenue_per_month"]["current"] == pytest.approx(200_000)
