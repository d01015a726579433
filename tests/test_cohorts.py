"""Module 06 (cohort LTV): every definition pinned on a hand-computed clinic.

The clinic (amounts in ₽), data end 2025-03-15 (so March is a partial month):
- P1 acquired 2025-01-10 (1 000), pays 500 in February, gets a 200 refund in March (no visit).
- P2 acquired 2025-01-20 with a free first visit (0 ₽), pays 800 on 2025-03-15.
- P3 acquired 2025-02-10 (2 000 + 300 ten days later), never comes back.
- P4 has a refund only: never acquired.
Month cohorts: 2025-01 = {P1, P2}, 2025-02 = {P3}.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from audit_kit.errors import ConfigError, InputError
from audit_kit.metrics import cohorts as cc
from audit_kit.metrics import patients as pt
from audit_kit.modules import cohorts as section
from audit_kit.report.fmt import Formatter
from audit_kit.report.i18n import Translator

from helpers import canon

NA = np.nan


def invoices(extra: list[tuple] = ()) -> pd.DataFrame:
    rows = [("I1", "P1", "2025-01-10 10:00", 1000.0), ("I2", "P1", "2025-02-05 10:00", 500.0),
            ("I3", "P1", "2025-03-03 10:00", -200.0), ("I4", "P2", "2025-01-20 10:00", 0.0),
            ("I5", "P2", "2025-03-15 10:00", 800.0), ("I6", "P3", "2025-02-10 10:00", 2000.0),
            ("I7", "P3", "2025-02-20 10:00", 300.0), ("I8", "P4", "2025-02-01 10:00", -100.0), *extra]
    ids, patients, paid, amounts = zip(*rows)
    return canon("invoices", invoice_id=list(ids), patient_id=list(patients), paid_at=list(paid), amount=list(amounts))


def leads() -> pd.DataFrame:
    return canon("leads", lead_id=["L1", "L2", "L3", "L4"], patient_id=["P1", "P2", "P3", "P1"],
                 created_at=["2025-01-05", "2025-01-15", "2025-02-01", "2025-02-01"],
                 channel=["Контекст", "Рекомендации", "SMM", "Повторные"])


def spend() -> pd.DataFrame:
    return canon("marketing_spend", month=["2025-01-01", "2025-02-01", "2025-03-01", "2025-02-01", "2025-01-01"],
                 channel=["Контекст", "Контекст", "Контекст", "SMM", "SEO"], spend=[400.0, 400.0, 400.0, 5000.0, 300.0])


def data(**extra) -> dict[str, pd.DataFrame]:
    return {"invoices": invoices(), "leads": leads(), "marketing_spend": spend(), **extra}


def triangle(inv=None, period="month", end=None) -> pd.DataFrame:
    inv = invoices() if inv is None else inv
    cells = cc.cohort_cells(inv, pt.acquisitions(inv), period=period, end=end)
    return cc.cohort_table(cells, period=period)


class TestCohortTable:
    def test_cells_by_hand(self):
        got = triangle()
        assert list(got["cohort"]) == ["2025-01"] * 3 + ["2025-02"] * 3
        assert list(got["month_index"]) == [0, 1, 2, 0, 1, 2]
        assert list(got["patients"]) == [2, 2, 2, 1, 1, 1]
        # the refund of March nets into P2's 800: Jan cohort's March = 600
        np.testing.assert_array_equal(got["revenue"], [1000, 500, 600, 2300, 0, NA])
        np.testing.assert_array_equal(got["cum_revenue"], [1000, 1500, 2100, 2300, 2300, NA])
        np.testing.assert_array_equal(got["cum_revenue_per_patient"], [500, 750, 1050, 2300, 2300, NA])
        # the free first visit is a visit (k = 0); the refund is none (P1 is not active in March)
        np.testing.assert_array_equal(got["active_patients"], [2, 1, 1, 1, 0, NA])
        np.testing.assert_array_equal(got["retention"], [1.0, 0.5, 0.5, 1.0, 0.0, NA])

    def test_unobserved_cell_is_blank_not_zero(self):
        got = triangle().set_index(["cohort", "month_index"])
        cell = got.loc[("2025-02", 2)]              # April 2025 is after the data end
        assert not cell["observed"]
        assert all(pd.isna(cell[c]) for c in cc.VALUES)
        assert got.loc[("2025-02", 1), "observed"] and got.loc[("2025-02", 1), "revenue"] == 0   # observed zero

    def test_partial_last_month(self):
        got = triangle()
        # data end 2025-03-15: the March cells are observed and partial
        assert list(got["partial"]) == [False, False, True, False, True, False]
        full = triangle(end=pd.Timestamp("2025-03-31"))
        assert not full["partial"].any()
        assert cc.is_month_end(pd.Timestamp("2025-02-28")) and not cc.is_month_end(pd.Timestamp("2025-03-15"))

    def test_as_of_an_earlier_end(self):
        got = triangle(end=pd.Timestamp("2025-01-31"))      # P3 not acquired yet, February unseen
        assert list(got["cohort"]) == ["2025-01"] and list(got["patients"]) == [2]
        assert got["revenue"].tolist() == [1000.0]

    def test_refunds_only_patient_is_in_no_cohort(self):
        cells = cc.cohort_cells(invoices(), pt.acquisitions(invoices()))
        assert cells.groupby("cohort")["patients"].first().sum() == 3          # P1, P2, P3 — not P4

    def test_quarter_cohorts(self):
        # P5 acquired 2024-11-05 (Q4), pays 700 in January = their month 2
        inv = invoices([("I9", "P5", "2024-11-05 09:00", 500.0), ("I10", "P5", "2025-01-07 09:00", 700.0)])
        got = triangle(inv, period="quarter")
        assert list(got["cohort"]) == ["2024-Q4"] * 4 + ["2025-Q1"] * 4
        assert list(got["month_index"]) == [0, 1, 2, 3] * 2
        # Q4's last month December + 3 = March: observed; Q1's March + 1 = April: not
        assert list(got["observed"]) == [True, True, True, True, True, False, False, False]
        np.testing.assert_array_equal(got["revenue"], [500, 0, 700, 0, 3300, NA, NA, NA])
        np.testing.assert_array_equal(got["active_patients"], [1, 0, 1, 0, 3, NA, NA, NA])
        np.testing.assert_array_equal(got["cum_revenue_per_patient"], [500, 500, 1200, 1200, 1100, NA, NA, NA])
        assert got["retention"].iloc[4] == 1.0                                   # 1.0 at k = 0 by construction

    def test_contract_columns(self):
        s = cc.summarise(data())
        assert list(s.contract_cohorts().columns) == ["cohort", "month_index", "patients", "revenue", "cum_revenue",
                                                      "cum_revenue_per_patient", "active_patients", "retention",
                                                      "observed"]
        assert list(s.contract_channels().columns) == ["channel", "patients", "ltv_6m", "ltv_12m", "cac", "ltv_cac",
                                                       "payback_month"]

    def test_labels(self):
        starts = pd.to_datetime(["2024-10-01", "2025-01-01"])
        assert list(cc.cohort_labels(starts, "month")) == ["2024-10", "2025-01"]
        assert list(cc.cohort_labels(starts, "quarter")) == ["2024-Q4", "2025-Q1"]


class TestCurves:
    def test_over_the_cohorts_where_observed(self):
        curve = cc.curves(triangle())
        assert list(curve["month_index"]) == [0, 1, 2]
        assert list(curve["patients"]) == [3, 3, 2]                 # month 2 only for the January cohort
        np.testing.assert_allclose(curve["cum_revenue_per_patient"], [1100, 3800 / 3, 1050])
        np.testing.assert_allclose(curve["retention"], [1.0, 1 / 3, 0.5])

    def test_ltv_is_months_zero_to_n_minus_one(self):
        s = cc.summarise(data(), ltv_months=[1, 2, 3])
        h = s.headlines()
        assert h["ltv_1m"] == pytest.approx(1100) and h["ltv_2m"] == pytest.approx(3800 / 3)
        assert h["ltv_3m"] == pytest.approx(1050)
        assert h["retention_m1"] == pytest.approx(1 / 3) and np.isnan(h["retention_m6"])

    def test_overview_per_cohort(self):
        got = cc.cohort_overview(triangle(), ltv_months=[1, 3], retention_months=[1, 2])
        assert list(got["cohort"]) == ["2025-01", "2025-02"]
        np.testing.assert_array_equal(got["ltv_3m"], [1050, NA])
        np.testing.assert_array_equal(got["retention_m2"], [0.5, NA])
        np.testing.assert_array_equal(got["observed_months"], [3, 2])
        np.testing.assert_array_equal(got["revenue_to_date"], [1050, 2300])


class TestChannels:
    def channels(self, **options) -> pd.DataFrame:
        return cc.summarise(data(), ltv_months=[1, 2], **options).channels.set_index("channel")

    def test_first_touch_ltv_and_cac(self):
        got = self.channels()
        assert sorted(got.index) == ["SEO", "SMM", "Контекст", "Рекомендации"]
        assert list(got.index) == ["SMM", "Контекст", "Рекомендации", "SEO"]     # by LTV 2 m: 2 300, 1 500, 0, none
        # CAC over the cohorts' acquisition months January–February: Контекст 800 ÷ 1 patient
        assert got.loc["Контекст", "spend"] == 800 and got.loc["Контекст", "cac"] == 800
        assert got.loc["Контекст", "ltv_1m"] == 1000 and got.loc["Контекст", "ltv_2m"] == 1500
        assert got.loc["Контекст", "ltv_cac"] == pytest.approx(1500 / 800)
        assert got.loc["Контекст", "payback_month"] == 0

    def test_channel_that_never_pays_back(self):
        smm = self.channels().loc["SMM"]
        assert smm["cac"] == 5000 and smm["ltv_2m"] == 2300
        assert np.isnan(smm["payback_month"]) and smm["observed_months"] == 2       # February + March observed
        t = Translator("en")
        assert section.payback_text(smm["payback_month"], t, smm["observed_months"]) == "not yet within 2 observed months"

    def test_gross_margin_moves_payback(self):
        # margin 0.6: 600 in January < 800, 900 by February ≥ 800
        assert self.channels(gross_margin=0.6).loc["Контекст", "payback_month"] == 1
        assert np.isnan(self.channels(gross_margin=0.5).loc["Контекст", "payback_month"])   # 500, 750, 650

    def test_channel_without_spend(self):
        ref = self.channels().loc["Рекомендации"]
        assert ref["patients"] == 1 and np.isnan(ref["spend"]) and np.isnan(ref["cac"])
        assert np.isnan(ref["ltv_cac"]) and np.isnan(ref["payback_month"])
        assert section.payback_text(ref["payback_month"], Translator("ru"), None) == "н/д (нет расходов)"

    def test_spend_without_patients(self):
        seo = self.channels().loc["SEO"]
        assert seo["patients"] == 0 and seo["spend"] == 300 and np.isnan(seo["cac"])

    def test_paid_channels_pooled(self):
        s = cc.summarise(data(), ltv_months=[1, 2])
        paid = s.paid.iloc[0]
        assert paid["cac"] == pytest.approx((800 + 5000 + 300) / 2)
        assert paid["ltv_1m"] == pytest.approx(1650) and paid["ltv_2m"] == pytest.approx(1900)
        assert np.isnan(s.headlines()["payback_month"])

    def test_shown_table_says_payback_in_words(self):
        shown = section.channel_table(cc.summarise(data(), ltv_months=[1, 2]), Translator("en")).set_index("channel")
        assert list(shown.index) == ["SMM", "Контекст", "Рекомендации", "SEO", "All paid channels together"]
        assert shown["payback"].tolist() == ["not yet within 2 observed months", "in the month of acquisition",
                                             "n/a (no spend)", "n/a (spend, but no new patient)",
                                             "not yet within 3 observed months"]

    def test_window_limits_the_channel_view(self):
        got = self.channels(channel_cohorts=["2025-02", None])
        assert got.loc["SMM", "patients"] == 1 and got.loc["Контекст", "patients"] == 0
        assert got.loc["Контекст", "spend"] == 400                         # February only

    def test_patients_known_before_the_data_are_left_out(self):
        # P6 registered years before the export's first payment; P1 and P2 booked ahead (5 and 56 days before
        # their first payment; P2 before the export begins)
        extra = invoices([("I11", "P6", "2025-01-12 10:00", 900.0)])
        patients = canon("patients", patient_id=["P1", "P2", "P6"], created_at=["2025-01-05", "2024-11-25", "2020-01-01"])
        s = cc.summarise({"invoices": extra, "patients": patients, "leads": leads()})
        assert s.known_before == 1
        assert s.cohorts.loc[s.cohorts["month_index"].eq(0), "patients"].tolist() == [2, 1]

    def test_no_new_patient_says_so_instead_of_failing(self):
        from audit_kit.errors import NotEnoughData

        refunds = canon("invoices", invoice_id=["I1"], patient_id=["P1"], paid_at=["2025-01-05"], amount=[-50.0])
        with pytest.raises(NotEnoughData) as err:
            cc.summarise({"invoices": refunds})
        assert err.value.args[0] == "cohorts.text.no_cohorts"

    def test_without_leads_no_channel_view(self):
        s = cc.summarise({"invoices": invoices()})
        assert s.channels is None and s.paid is None and s.contract_channels().empty

    def test_repeat_channel_is_not_a_first_touch(self):
        assert self.channels(repeat_channels=[]).loc["Контекст", "patients"] == 1    # P1's first lead is Контекст


class TestMetricsAndFindings:
    def test_headline_metrics_per_period_end(self):
        periods = {"base": (pd.Timestamp("2025-01-01"), pd.Timestamp("2025-02-01")),
                   "current": (pd.Timestamp("2025-02-01"), pd.Timestamp("2025-04-01"))}
        got = cc.headline_metrics(cc.summarise_periods(data(), periods, ltv_months=[1, 2]))
        assert set(got) == {"cohorts.ltv_1m", "cohorts.ltv_2m", "cohorts.retention_m1", "cohorts.retention_m6",
                            "cohorts.payback_month"}
        unit, values = got["cohorts.ltv_1m"]
        assert unit == "money" and values["base"] == pytest.approx(500) and values["current"] == pytest.approx(1100)
        assert got["cohorts.retention_m1"][0] == "rate" and np.isnan(got["cohorts.retention_m1"][1]["base"])
        assert got["cohorts.payback_month"][0] == "number"

    def test_prepared_once_equals_each_end_on_its_own(self):
        periods = {"base": (pd.Timestamp("2025-01-01"), pd.Timestamp("2025-03-01")),
                   "current": (pd.Timestamp("2025-03-01"), pd.Timestamp("2025-04-01"))}
        summaries = cc.summarise_periods(data(), periods)
        alone = cc.summarise(data(), end=pd.Timestamp("2025-02-28"))
        pd.testing.assert_frame_equal(summaries["base"].cohorts, alone.cohorts)
        pd.testing.assert_frame_equal(summaries["base"].channels, alone.channels)
        assert summaries["base"].cohorts["active_patients"].tolist()[:2] == [2.0, 1.0]

    def test_base_period_before_the_first_patient_has_no_values(self):
        periods = {"base": (pd.Timestamp("2024-10-01"), pd.Timestamp("2025-01-01")),
                   "current": (pd.Timestamp("2025-01-01"), pd.Timestamp("2025-04-01"))}
        summaries = cc.summarise_periods(data(), periods)
        assert list(summaries) == ["current"]
        assert set(cc.headline_metrics(summaries)["cohorts.ltv_6m"][1]) == {"current"}

    def test_never_pays_back_and_fastest(self):
        s = cc.summarise(data(), ltv_months=[1, 2])
        found = {f["id"]: f for f in section.finding_drafts(s, Formatter("en"), Translator("en"))}
        assert set(found) == {"never_pays_back", "fastest_payback"}
        # SMM: 5 000 over 2 months; 2 300 of 5 000 recovered by month 1 → 2 500 × 0.54 a month
        # priced once, by the channel section: here the unrecovered spend is evidence only
        assert found["never_pays_back"]["money"] is None
        assert found["never_pays_back"]["values"]["unrecovered"] == Formatter("en").money(2500 * (1 - 2300 / 5000))
        assert found["never_pays_back"]["values"]["channels"] == "SMM"
        assert found["fastest_payback"]["values"]["channel"] == "Контекст"
        assert found["fastest_payback"]["values"]["month"] == "in the month of acquisition"

    def test_unpaid_channel_worth_more(self):
        d = data(invoices=invoices([("I12", "P2", "2025-02-11 10:00", 9000.0)]))
        s = cc.summarise(d, ltv_months=[1, 2])
        found = {f["id"]: f for f in section.finding_drafts(s, Formatter("en"), Translator("en"))}
        # Рекомендации: 9 000 by month 1 against paid (1 500 + 2 300) ÷ 2 = 1 900
        assert found["unpaid_ltv"]["values"]["channel"] == "Рекомендации"
        assert found["unpaid_ltv"]["values"]["times"] == "4.7"

    def test_newer_cohorts_retaining_worse(self):
        starts = pd.date_range("2024-01-01", periods=5, freq="MS")
        table = pd.DataFrame({"cohort": cc.cohort_labels(starts), "cohort_start": starts, "month_index": 3,
                              "patients": [10, 10, 10, 10, 10], "active_patients": [5, 5, 2, 2, 2],
                              "cum_revenue": [3000, 3000, 1000, 1000, 1000], "observed": True})
        got = cc.retention_trend(table)
        assert got["labels"] == ["2024-03", "2024-04", "2024-05"]
        assert got["older_retention"] == 0.5 and got["newer_retention"] == pytest.approx(0.2)
        assert got["older_revenue"] == 300 and got["newer_revenue"] == 100 and got["newer_size"] == 10
        assert cc.retention_trend(table.iloc[:3]) is None                  # too few cohorts to compare


class TestOptions:
    @pytest.mark.parametrize("call, message", [
        (lambda: cc.check_period("week"), "options.cohort_period: expected one of month, quarter, got 'week'"),
        (lambda: cc.ltv_horizons([6, "12"]), "options.ltv_months: expected whole months ≥ 1, like [6, 12], got [6, '12']"),
        (lambda: cc.ltv_horizons(0), "options.ltv_months: expected whole months ≥ 1, like [6, 12], got 0"),
        (lambda: cc.check_margin(1.5), "options.gross_margin: expected a share in (0, 1], like 0.6, got 1.5"),
        (lambda: cc.cohort_window("2024"), "options.channel_cohorts: expected [first month, last month]"),
        (lambda: cc.cohort_window(["2024-13", None]), "options.channel_cohorts: expected months like '2024-01'"),
    ])
    def test_bad_option_names_the_key(self, call, message):
        with pytest.raises(ConfigError) as err:
            call()
        assert str(err.value).startswith(message)

    def test_defaults(self):
        from audit_kit.config import DEFAULT_OPTIONS

        assert cc.ltv_horizons(DEFAULT_OPTIONS["ltv_months"]) == [6, 12] and cc.ltv_horizons(12) == [12]
        assert DEFAULT_OPTIONS["gross_margin"] == 1.0 and DEFAULT_OPTIONS["cohort_period"] == "month"
        assert DEFAULT_OPTIONS["repeat_channels"] == list(pt.DEFAULT_REPEAT_CHANNELS)
        assert cc.cohort_window(["2024-01", "2024-12"]) == (pd.Timestamp("2024-01-01"), pd.Timestamp("2025-01-01"))


def test_workbook_writes_unobserved_cells_empty():
    from audit_kit.report.xlsx import column_cells

    table = cc.summarise(data()).contract_cohorts()
    cells = column_cells(table["revenue"]).head(len(table))
    assert cells[-1] is None and cells[4] == 0.0                        # blank, and an observed zero


@pytest.mark.parametrize("end", [None, "2025-02-28"])
def test_prepared_positions_give_the_same_cells_as_matching_ids(end):
    d = data()
    prepared = cc.prepare(d)
    end = None if end is None else pd.Timestamp(end)
    args = dict(by="channel", end=end, visits=prepared.visits)
    fast = cc.cohort_cells(d["invoices"], prepared.acquired, positions=prepared.positions, **args)
    slow = cc.cohort_cells(d["invoices"], prepared.acquired, **args)
    pd.testing.assert_frame_equal(fast, slow)
    assert fast["revenue"].sum() > 0 and fast["active_patients"].sum() > 0
    # the months prepared once: each invoice's and each visit's calendar month (months since 1970-01)
    assert prepared.months[0].tolist() == cc.month_numbers(d["invoices"]["paid_at"]).tolist()
    assert prepared.months[1].tolist() == cc.month_numbers(prepared.visits["visited_at"]).tolist()
    assert cc.month_numbers([pd.Timestamp("2025-02-28 23:00")])[0] == (2025 - 1970) * 12 + 1
    fastest = cc.cohort_cells(d["invoices"], prepared.acquired, positions=prepared.positions, months=prepared.months,
                              **args)
    pd.testing.assert_frame_equal(fastest, slow)


@pytest.mark.parametrize("period, per_month", [("month", 30.0), ("quarter", 10.0)])
def test_newer_cohorts_priced_against_the_older_ones(monkeypatch, period, per_month):
    """Newer cohorts bring 7 000 ₽ a patient by month 3 against 9 000 ₽ of the older ones (the benchmark), 30
    patients a cohort: (9 000 − 7 000) × 30 new patients a month = 60 000 ₽ (quarterly cohorts: 10 a month)."""
    from types import SimpleNamespace

    trend = {"k": 3, "labels": ["2025-02", "2025-03"], "older_labels": ["2024-10", "2025-01"], "older_retention": 0.5,
             "newer_retention": 0.4, "older_revenue": 9_000.0, "newer_revenue": 7_000.0, "newer_size": 30.0}
    monkeypatch.setattr(section, "retention_trend", lambda cohorts: trend)
    s = SimpleNamespace(ltv_months=[3, 6, 12], cohorts=None, period=period, channels=None, window=None)
    found = section.finding_drafts(s, Formatter("en"), Translator("en"))
    price = found[0]["price"]
    assert found[0]["id"] == "newer_cohorts_worse" and price.money == pytest.approx(2_000 * per_month)
    assert (price.stage, price.target_source, price.benchmark, price.rate_kind) == ("return", "benchmark",
                                                                                 "older_cohorts", "money")


def test_branch_cohorts_of_a_network():
    """P1 and P2 at home in branch A, P3 in B (P4, refunds only, is never acquired). As of 2025-03-15:
    A: 2 new patients; month 1 (February) P1 came back -> retention 1/2; month 2 (March) P2 did (P1's March
    refund is no visit) -> 1/2; LTV over month 0 = (1 000 + 0) / 2 = 500, over months 0-1 = (1 500) / 2 = 750.
    B: 1 new patient; March: no visit -> retention 0; month 2 (April) not observed -> NaN; LTV 2 300 and 2 300."""
    inv = invoices()
    prepared = cc.prepare({"invoices": inv})
    home = pd.Series(["A", "A", "B"], index=pd.Index(["P1", "P2", "P3"], dtype="string"), dtype="string")
    out = cc.branch_cohorts(inv, prepared, home, ltv_months=(1, 2), retention_months=(1, 2)).set_index("branch_id")
    assert out.columns.tolist() == ["new_patients", "retention_m1", "retention_m2", "ltv_1m", "ltv_2m"]
    assert out["new_patients"].tolist() == [2, 1]
    assert out.loc["A", ["retention_m1", "retention_m2", "ltv_1m", "ltv_2m"]].tolist() == pytest.approx([0.5, 0.5, 500, 750])
    b = out.loc["B"]
    assert (b["retention_m1"], b["ltv_1m"], b["ltv_2m"]) == (0.0, 2300.0, 2300.0) and np.isnan(b["retention_m2"])
    assert cc.branch_cohorts(inv, prepared, None) is None
    # a new patient without a home branch is left out
    partial = cc.branch_cohorts(inv, prepared, home.drop("P2"), ltv_months=(1,), retention_months=(1,)).set_index("branch_id")
    assert partial.loc["A", ["new_patients", "retention_m1", "ltv_1m"]].tolist() == [1, 1.0, 1000.0]


def test_periods_without_details_have_no_branch_cohorts_and_the_same_headlines():
    """`summarise_periods(..., details=("current",))`: the base period's cohorts by branch are not made (None);
    its cohorts, channels and headline metrics, and the whole current period, are those of the detailed run."""
    bookings = canon("bookings", booking_id=["B1", "B2", "B3", "B4"], patient_id=["P1", "P2", "P3", "P1"],
                     slot_start=["2025-01-05 10:00", "2025-01-20 10:00", "2025-02-10 10:00", "2025-02-05 10:00"],
                     status=["completed"] * 4, branch_id=["A", "A", "B", "A"])
    periods = {"base": (pd.Timestamp("2025-01-01"), pd.Timestamp("2025-03-01")),
               "current": (pd.Timestamp("2025-03-01"), pd.Timestamp("2025-04-01"))}
    full = cc.summarise_periods(data(bookings=bookings), periods, ltv_months=[1, 2])
    light = cc.summarise_periods(data(bookings=bookings), periods, details=("current",), ltv_months=[1, 2])
    assert light["base"].branches is None
    assert full["base"].branches["new_patients"].tolist() == [2, 1]            # A: P1, P2; B: P3
    pd.testing.assert_frame_equal(light["base"].cohorts, full["base"].cohorts)
    pd.testing.assert_frame_equal(light["base"].channels, full["base"].channels)
    pd.testing.assert_frame_equal(light["current"].branches, full["current"].branches)
    assert cc.headline_metrics(light).keys() == cc.headline_metrics(full).keys()
    for key, (unit, values) in cc.headline_metrics(full).items():
        assert cc.headline_metrics(light)[key][0] == unit
        np.testing.assert_array_equal(list(cc.headline_metrics(light)[key][1].values()), list(values.values()))
