"""Channel ROMI (issue 8): every definition pinned by a hand-computed clinic.

The clinic (horizon 30 days; base = Q4 2024, current = Q1 2025; data end = 2025-04-05):
- A: leads SEO (Jan 5) then Контекст (Jan 8); pays 1000 on Jan 10 (acquired), 500 on Jan 20,
  a refund of 200 on Jan 25 (inside the horizon), 700 on Feb 15 (outside it) -> revenue 1300,
  2 paid days (returning). First touch SEO, last touch Контекст.
- B: lead SMM (Jan 28); a free first visit on Feb 1 (acquired), 2000 on Feb 5 -> revenue 2000, 1 paid day.
- C: lead SEO (Nov 1), pays 800 on Nov 10 (new in the base period); comes back through a Контекст
  lead (Jan 12) and pays 400 on Jan 15 -> not new in the current period.
- D: no lead, patient card says Рекомендации; pays 3000 on Mar 1, 100 on Apr 5 (outside the horizon).
- E: no lead, no card channel -> unknown; pays 500 on Mar 10 (horizon ends Apr 9 > data end: not observed).
- F: a refund only -> never acquired.
- G: only a repeat-channel lead (Повторные); card says SMM -> first and last touch SMM; pays 600 on Jan 4.
- Spend: SEO Nov 400, Jan 800, Feb 400, Apr 9999 (after the period); SMM Jan 2000; Контекст Jan 2000;
  ТВ Feb 700 (a channel with no leads at all).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from audit_kit.config import DEFAULT_OPTIONS, DEFAULT_TARGETS, load_config
from audit_kit.ingest import ingest
from audit_kit.metrics import channels as ch
from audit_kit.metrics import patients as pt
from audit_kit.metrics.patients import UNKNOWN_CHANNEL
from audit_kit.metrics.scorecard import scorecard
from audit_kit.modules import MODULES
from audit_kit.modules import channels as section
from audit_kit.report.fmt import Formatter

from conftest import write_csv
from helpers import canon

T = pd.Timestamp
PERIODS = {"base": (T("2024-10-01"), T("2025-01-01")), "current": (T("2025-01-01"), T("2025-04-01"))}
OPTS = dict(horizon_days=30, repeat_channels=["Повторные"])

INVOICES = canon(
    "invoices",
    invoice_id=[f"i{i}" for i in range(1, 14)],
    patient_id=["A", "A", "A", "A", "B", "B", "C", "C", "D", "D", "E", "F", "G"],
    paid_at=["2025-01-10 10:00", "2025-01-20 10:00", "2025-01-25 10:00", "2025-02-15 10:00", "2025-02-01 09:00",
             "2025-02-05 09:00", "2024-11-10 12:00", "2025-01-15 12:00", "2025-03-01 11:00", "2025-04-05 11:00",
             "2025-03-10 15:00", "2025-02-10 10:00", "2025-01-04 10:00"],
    amount=[1000.0, 500.0, -200.0, 700.0, 0.0, 2000.0, 800.0, 400.0, 3000.0, 100.0, 500.0, -300.0, 600.0],
)
LEADS = canon(
    "leads", lead_id=[f"l{i}" for i in range(1, 9)],
    created_at=["2025-01-05", "2025-01-08", "2025-01-28", "2024-11-01", "2025-01-12", "2025-01-03", "2025-02-20",
                "2025-03-20"],
    channel=["SEO", "Контекст", "SMM", "SEO", "Контекст", "Повторные", "SEO", "SMM"],
    patient_id=["A", "A", "B", "C", "C", "G", None, None],
)
BOOKINGS = canon(
    "bookings", booking_id=["b1", "b2", "b3", "b4"], patient_id=["A", "B", "X", "C"], doctor_id=["D1"] * 4,
    slot_start=["2025-01-10 10:00", "2025-01-30 10:00", "2025-02-21 10:00", "2025-01-14 10:00"],
    status=["completed", "no_show", "completed", "cancelled"], lead_id=["l1", "l3", "l7", "l5"],
)
PATIENTS = canon("patients", patient_id=["D", "G", "A"], first_channel=["Рекомендации", "SMM", "Агрегаторы"])
SPEND = canon("marketing_spend",
              month=["2024-11-01", "2025-01-01", "2025-02-01", "2025-04-01", "2025-01-01", "2025-01-01", "2025-02-01"],
              channel=["SEO", "SEO", "SEO", "SEO", "SMM", "Контекст", "ТВ"],
              spend=[400.0, 800.0, 400.0, 9999.0, 2000.0, 2000.0, 700.0])
TABLES = {"invoices": INVOICES, "leads": LEADS, "bookings": BOOKINGS, "patients": PATIENTS, "marketing_spend": SPEND}


@pytest.fixture(scope="module")
def econ():
    return ch.channel_economics(TABLES, PERIODS, **OPTS)


def row(econ, channel, period="current", attribution="first_touch"):
    part = econ.loc[econ["period"].eq(period) & econ["attribution"].eq(attribution) & econ["channel"].eq(channel)]
    assert len(part) == 1, (channel, period, attribution)
    return part.iloc[0]


class TestRevenue:
    def test_refund_inside_horizon_netted_payment_outside_left_out(self):
        acq = pt.acquisitions(INVOICES)
        rev = ch.patient_revenue(INVOICES, acq, 30).set_index("patient_id")
        assert rev["revenue"].to_dict() == {"A": 1300.0, "B": 2000.0, "C": 800.0, "D": 3000.0, "E": 500.0, "G": 600.0}
        assert rev["paid_days"].to_dict() == {"A": 2, "B": 1, "C": 1, "D": 1, "E": 1, "G": 1}

    def test_free_first_visit_acquires_and_refund_only_does_not(self):
        acq = pt.acquisitions(INVOICES).set_index("patient_id")["acquired_at"]
        assert acq["B"] == T("2025-02-01 09:00") and "F" not in acq.index

    def test_data_end_and_whole_horizon_observed(self):
        assert ch.data_end(INVOICES) == T("2025-04-05 11:00")
        rev = ch.patient_revenue(INVOICES, pt.acquisitions(INVOICES), 30).set_index("patient_id")
        # E: acquired Mar 10, horizon ends Apr 9 after the data end; D: Mar 1 + 30 days = Mar 31, observed
        assert rev["horizon_observed"].to_dict() == {"A": True, "B": True, "C": True, "D": True, "E": False, "G": True}

    def test_longer_horizon_takes_the_later_payment(self):
        rev = ch.patient_revenue(INVOICES, pt.acquisitions(INVOICES), 60).set_index("patient_id")
        assert rev.loc["A", "revenue"] == 2000.0 and rev.loc["D", "revenue"] == 3100.0


class TestEconomics:
    def test_canonical_columns_and_rows(self, econ):
        assert list(econ.columns) == ch.ECONOMICS_COLUMNS + ch.EXTRA_COLUMNS
        cur = econ.loc[econ["period"].eq("current") & econ["attribution"].eq("first_touch")]
        # paid channels by spend, then the others by new patients, unknown last
        assert cur["channel"].tolist() == ["SMM", "Контекст", "SEO", "ТВ", "Рекомендации", "Повторные", UNKNOWN_CHANNEL]

    def test_first_touch_current_period_by_hand(self, econ):
        seo = row(econ, "SEO")
        assert (seo["spend"], seo["leads"], seo["bookings"], seo["shows"], seo["new_patients"]) == (1200.0, 2, 2, 2, 1)
        assert seo["cpl"] == 600.0 and seo["cac"] == 1200.0 and seo["revenue"] == 1300.0
        assert seo["romi"] == pytest.approx(100 / 1200) and seo["drr"] == pytest.approx(1200 / 1300)
        assert seo["share_new_patients"] == pytest.approx(0.2)
        smm = row(econ, "SMM")        # B by its lead, G by its card (its only lead is a repeat lead)
        assert (smm["spend"], smm["leads"], smm["bookings"], smm["shows"], smm["new_patients"]) == (2000.0, 2, 1, 0, 2)
        assert smm["cac"] == 1000.0 and smm["revenue"] == 2600.0 and smm["romi"] == pytest.approx(0.3)
        assert smm["return_share"] == 0.0 and seo["return_share"] == 1.0

    def test_patient_acquired_in_base_is_not_new_again(self, econ):
        assert row(econ, "SEO", "base")["new_patients"] == 1 and row(econ, "SEO", "base")["revenue"] == 800.0
        assert row(econ, "SEO", "base")["romi"] == pytest.approx(1.0)
        kontext = row(econ, "Контекст")       # C's return lead counts as a lead, C is no new patient
        assert (kontext["leads"], kontext["bookings"], kontext["new_patients"]) == (2, 1, 0)

    def test_spend_without_revenue_is_minus_100_percent(self, econ):
        kontext = row(econ, "Контекст")
        assert kontext["romi"] == -1.0 and np.isnan(kontext["cac"]) and np.isnan(kontext["drr"])

    def test_spend_on_a_channel_without_leads_is_kept(self, econ):
        tv = row(econ, "ТВ")
        assert (tv["spend"], tv["leads"], tv["new_patients"]) == (700.0, 0, 0)
        assert np.isnan(tv["cpl"]) and tv["romi"] == -1.0

    def test_channel_without_spend_has_null_ratios_and_keeps_volume(self, econ):
        ref = row(econ, "Рекомендации")     # D: no lead, the patient card's channel
        assert np.isnan(ref["spend"]) and (ref["new_patients"], ref["revenue"]) == (1, 3000.0)
        assert all(np.isnan(ref[c]) for c in ("cpl", "cac", "romi", "drr"))
        unknown = row(econ, UNKNOWN_CHANNEL)  # E: no lead, no card channel
        assert (unknown["new_patients"], unknown["revenue"], unknown["horizon_observed"]) == (1, 500.0, 0)

    def test_repeat_channel_leads_counted_as_leads_only(self, econ):
        rep = row(econ, "Повторные")
        assert (rep["leads"], rep["new_patients"]) == (1, 0)

    def test_last_touch(self, econ):
        assert row(econ, "Контекст", attribution="last_touch")["new_patients"] == 1   # A's latest lead before paying
        assert row(econ, "Контекст", attribution="last_touch")["romi"] == pytest.approx(-0.35)
        assert row(econ, "SEO", attribution="last_touch")["new_patients"] == 0

    def test_gross_margin(self):
        econ = ch.channel_economics(TABLES, PERIODS, gross_margin=0.5, attribution="first_touch", **OPTS)
        assert row(econ, "SMM")["romi"] == pytest.approx((2600 * 0.5 - 2000) / 2000)
        assert set(econ["attribution"]) == {"first_touch"}

    def test_without_bookings_the_columns_are_absent(self):
        econ = ch.channel_economics({k: v for k, v in TABLES.items() if k != "bookings"}, PERIODS, **OPTS)
        assert "bookings" not in econ and "shows" not in econ and row(econ, "SEO")["leads"] == 2

    def test_patients_only_without_leads(self):
        tables = {k: v for k, v in TABLES.items() if k not in ("leads", "bookings")}
        econ = ch.channel_economics(tables, PERIODS, **OPTS)
        assert row(econ, "Агрегаторы")["new_patients"] == 1        # A by its card
        assert row(econ, "SEO")["leads"] == 0 and np.isnan(row(econ, "SEO")["cpl"])

    def test_unknown_attribution_is_an_error(self):
        with pytest.raises(ValueError, match="attribution 'linear': expected one of first_touch, last_touch"):
            ch.channel_economics(TABLES, PERIODS, attribution="linear")


class TestTotalsAndMonths:
    def test_totals_over_all_channels(self, econ):
        tot = ch.totals(econ).set_index(["period", "attribution"]).loc[("current", "first_touch")]
        assert (tot["spend"], tot["leads"], tot["new_patients"], tot["revenue"]) == (5900.0, 7, 5, 7400.0)
        assert tot["cac"] == 1180.0 and tot["romi"] == pytest.approx(1500 / 5900) and tot["drr"] == pytest.approx(5900 / 7400)
        assert tot["horizon_observed"] == 4

    def test_headline_metrics_null_not_nan(self, econ):
        tot = ch.totals(econ)
        tot.loc[tot["period"].eq("base"), "drr"] = np.nan
        metrics = ch.headline_metrics(tot)
        assert set(metrics) == {f"channels.{k}" for k in ("spend", "leads", "new_patients", "cpl", "cac", "revenue", "romi", "drr")}
        assert metrics["channels.romi"] == ("ratio", {"base": pytest.approx(1.0), "current": pytest.approx(1500 / 5900)})
        assert metrics["channels.drr"][1]["base"] is None and metrics["channels.leads"] == ("count", {"base": 1, "current": 7})

    def test_per_month(self):
        months = ch.channel_economics_monthly(TABLES, T("2025-01-01"), T("2025-04-01"), **OPTS)
        assert list(months.columns[:3]) == ["month", "attribution", "channel"]
        jan = months.loc[months["month"].eq(T("2025-01-01"))].set_index("channel")
        feb = months.loc[months["month"].eq(T("2025-02-01"))].set_index("channel")
        assert jan.loc["SEO", "spend"] == 800.0 and feb.loc["SEO", "spend"] == 400.0
        assert jan.loc["SMM", "new_patients"] == 1 and feb.loc["SMM", "new_patients"] == 1     # G in Jan, B in Feb
        assert feb.loc["ТВ", "romi"] == -1.0 and sorted(months["month"].unique()) == list(pd.date_range("2025-01-01", periods=3, freq="MS"))

    def test_attribution_comparison_names_sign_flips(self, econ):
        cmp = ch.attribution_comparison(econ, "current").set_index("channel")
        assert cmp.loc["SEO", "romi_flips"]                        # +8 % first touch, −100 % last touch
        assert not cmp.loc["Контекст", "romi_flips"] and not cmp.loc["Рекомендации", "romi_flips"]
        assert (cmp.loc["SEO", "new_patients_first_touch"], cmp.loc["SEO", "new_patients_last_touch"]) == (1, 0)

    def test_change_vs_base(self, econ):
        cur = ch.change_vs_base(econ).set_index("channel")
        assert cur.loc["SEO", "cac_change"] == pytest.approx(1200 / 400 - 1)
        assert cur.loc["SEO", "romi_change"] == pytest.approx(100 / 1200 - 1.0)
        assert np.isnan(cur.loc["SMM", "cac_change"])              # no SMM in the base period


class TestFindings:
    def findings(self, econ, **kw):
        return {f["id"]: f for f in section.finding_drafts(econ, Formatter("en"), months=3.0, revenue_per_month=10_000.0,
                                                           horizon_days=30, **kw)}

    def test_negative_romi_priced_as_monthly_loss(self, econ):
        found = self.findings(econ, min_patients=1)
        loss = found["negative_romi_Контекст"]                     # no base spend: judged on the current period
        assert loss["money"] == pytest.approx(2000 / 3) and loss["values"]["romi"] == "−100%"
        assert loss["values"]["base_romi"] == "—" and loss["severity"] == "high"   # 667 a month ≥ 5 % of 10 000
        assert "negative_romi_ТВ" not in found                      # no leads: untracked spend, not counted twice
        assert not any(k.startswith("negative_romi_S") for k in found)

    def test_channel_that_paid_back_in_the_base_is_not_condemned(self, econ):
        worse = econ.copy()
        seo = worse["period"].eq("current") & worse["channel"].eq("SEO")
        worse.loc[seo, "romi"] = -0.5
        assert "negative_romi_SEO" not in self.findings(worse)        # base ROMI +100 %
        worse = worse.loc[worse["period"].eq("current")]
        assert self.findings(worse)["negative_romi_SEO"]["money"] == pytest.approx(1200 * 0.5 / 3)

    def test_untracked_spend(self, econ):
        f = self.findings(econ)["untracked_spend_ТВ"]
        # a tagging problem, not a loss: the spend is in the evidence, nothing at stake
        assert f["money"] is None and f["values"]["spend"] == "₽700" and f["values"]["per_month"] == "₽233"

    def test_cac_range_and_cheap_leads(self, econ):
        found = self.findings(econ, min_patients=1)
        assert (found["cac_range"]["values"]["cheap"], found["cac_range"]["values"]["dear"]) == ("SMM", "SEO")
        assert found["cac_range"]["money"] is None
        # paid channels' median CPL = 1000 (600, 1000, 1000, n/a); SMM and SEO qualify; SMM's 0 % < all 20 %
        cheap = found["cheap_leads_low_return"]["values"]
        assert (cheap["channel"], cheap["share"], cheap["all_share"]) == ("SMM", "0.0%", "20.0%")
        assert "cac_range" not in self.findings(econ)              # fewer than 10 new patients per channel

    def test_ranked_by_money(self, econ):
        from audit_kit.findings import from_catalog, rank
        from audit_kit.report.i18n import Translator

        drafts = section.finding_drafts(econ.loc[econ["period"].eq("current")], Formatter("en"), months=3.0,
                                        revenue_per_month=1e6, horizon_days=30, min_patients=1)
        money = [f.money_at_stake_per_month for f in rank(from_catalog("channels", Translator("en"), fmt=Formatter("en"), **d) for d in drafts)]
        priced = [x for x in money if x is not None]
        assert priced == sorted(priced, reverse=True) and money[len(priced):] == [None] * (len(money) - len(priced))


def test_raw_spend_names_mapped_through_channels(clinic):
    folder, config = clinic
    write_csv(folder / "data" / "leads.csv", [["lead_id", "created_at", "channel", "patient_id"],
                                              ["1", "2025-01-05", "yandex / cpc", "P1"], ["2", "2025-01-06", "vk / social", ""]])
    write_csv(folder / "data" / "spend.csv", [["month", "channel", "spend"], ["2025-01-01", "Яндекс Директ", "1000"],
                                              ["2025-01-01", "ВКонтакте таргет", "300"], ["2025-01-01", "Наружка", "50"]])
    write_csv(folder / "data" / "pay.csv", [["invoice_id", "patient_id", "paid_at", "amount"], ["i1", "P1", "2025-01-07", "2500"]])
    cfg = config({"leads": "data/leads.csv", "marketing_spend": "data/spend.csv", "invoices": "data/pay.csv"},
                 channels={"yandex / cpc": "Контекст", "Яндекс Директ": "Контекст", "vk / social": "SMM",
                           "ВКонтакте таргет": "SMM"})
    tables = ingest(load_config(cfg)).tables
    econ = ch.channel_economics(tables, {"current": PERIODS["current"]}, attribution="first_touch")
    by = econ.set_index("channel")
    assert by.loc["Контекст", ["spend", "leads", "new_patients", "revenue"]].tolist() == [1000.0, 1, 1, 2500.0]
    assert by.loc["SMM", ["spend", "leads", "new_patients"]].tolist() == [300.0, 1, 0]
    assert by.loc["Наружка", "spend"] == 50.0 and by.loc["Наружка", "leads"] == 0     # kept, never dropped


def test_options_targets_and_module_spec():
    assert DEFAULT_OPTIONS["gross_margin"] == 1.0 and "Повторные" in DEFAULT_OPTIONS["repeat_channels"]
    assert DEFAULT_TARGETS["romi"] is None and DEFAULT_TARGETS["cac"] is None
    spec = MODULES["channels"]
    assert spec.missing({"marketing_spend", "invoices", "patients"}) == []
    assert spec.missing({"marketing_spend", "leads"}) == ["invoices"]
    assert spec.missing({"marketing_spend", "invoices"}) == ["leads | patients"]


def test_scorecard_rates_romi_and_cac_only_when_configured():
    metrics = {"channels.romi": {"unit": "ratio", "base": 1.2, "current": -0.1},
               "channels.cac": {"unit": "money", "base": 4000.0, "current": 5000.0}}
    assert scorecard(metrics, DEFAULT_TARGETS).query("kpi in ['romi', 'cac']").empty
    card = scorecard(metrics, {**DEFAULT_TARGETS, "romi": 0.0, "cac": 4500.0}).set_index("kpi")
    assert card.loc["romi", "status"] == "missed" and card.loc["cac", "status"] == "missed"
    card = scorecard(metrics, {"romi": -0.2, "cac": 6000.0}).set_index("kpi")
    assert card["status"].tolist() == ["met", "met"] and card.loc["romi", "unit"] == "ratio"


def test_present_channels_names_only_repeat_channels_in_the_data():
    assert ch.present_channels(["Повторные", "repeat"], LEADS) == ["Повторные"]
    assert ch.present_channels(["repeat"], None) == ["repeat"]


def test_prepared_once_gives_the_same_tables():
    prepared = ch.prepare(TABLES, **OPTS)
    pd.testing.assert_frame_equal(ch.channel_economics(TABLES, PERIODS, prepared=prepared),
                                  ch.channel_economics(TABLES, PERIODS, **OPTS))
    months = ch.channel_economics_monthly(TABLES, T("2025-01-01"), T("2025-02-01"), prepared=prepared)
    assert months.set_index("channel").loc["SEO", "spend"] == 800.0


def test_acquisition_rows_point_each_invoice_at_its_patient():
    from audit_kit.metrics.patients import acquisition_rows

    acq, rows, existing = acquisition_rows(INVOICES)
    assert acq["patient_id"].tolist() == ["A", "B", "C", "D", "E", "G"]
    # F (refund only) is not acquired: -1
    assert rows.tolist() == [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, -1, 5]
    assert existing == 0                                           # no registration dates: nobody is existing


def test_short_payment_history_is_flagged():
    # payments start 2024-11-10, after the base period began; a period from 2025-11-10 has 365 calendar days of payments before it
    assert ch.short_history(INVOICES, PERIODS)
    assert not ch.short_history(INVOICES, {"current": (T("2025-11-10"), T("2026-01-01"))})
    assert ch.short_history(INVOICES, {"current": (T("2025-11-09"), T("2026-01-01"))})     # 364 calendar days
    # with registration dates the existing patients are recognised, so the warning is not needed
    registered = canon("patients", patient_id=["A"], created_at=["2020-01-01"])
    assert not ch.short_history(INVOICES, PERIODS, patients=registered)


def test_branch_channels_and_totals_of_a_network():
    """New patients in March: P1 (SEO, 1 000 ₽, 2 paid days) and P2 (SEO, 500 ₽) at home in A, P3 (Context,
    3 000 ₽) in B, P4 (Context) without a home branch, P5 (SEO) acquired in February. Leads in March: A 3 SEO,
    B 1 SEO and 2 Context, one lead without a branch.
    A·SEO: 3 leads, 2 new, 1 500 ₽, 750 per patient, return share 1/2. B·Context: 2 leads, 1 new, 3 000 ₽.
    B·SEO: 1 lead, no new patient. Totals: A 3 leads, 2 new, main channel SEO (100 %); B 3 leads, 1 new,
    main channel Context (100 %)."""
    from types import SimpleNamespace

    from audit_kit.metrics import channels as c

    t = pd.Timestamp
    patients = pd.DataFrame({"patient_id": ["P1", "P2", "P3", "P4", "P5"],
                             "acquired_at": [t("2024-03-02"), t("2024-03-05"), t("2024-03-09"), t("2024-03-10"),
                                             t("2024-02-10")],
                             "first_touch": ["SEO", "SEO", "Context", "Context", "SEO"],
                             "revenue": [1000.0, 500.0, 3000.0, 700.0, 900.0], "paid_days": [2, 1, 1, 1, 1]})
    journey = pd.DataFrame({"created_at": [t("2024-03-01")] * 7, "channel": ["SEO"] * 4 + ["Context"] * 2 + ["SEO"],
                            "branch_id": pd.array(["A", "A", "A", "B", "B", "B", None], dtype="string")})
    prepared = SimpleNamespace(patients=patients, journey=journey)
    home = pd.Series(["A", "A", "B", "A"], index=pd.Index(["P1", "P2", "P3", "P5"], dtype="string"), dtype="string")
    out = c.branch_channels(prepared, t("2024-03-01"), t("2024-04-01"), home).set_index(["branch_id", "channel"])
    assert out.index.tolist() == [("A", "SEO"), ("B", "Context"), ("B", "SEO")]
    assert out[["leads", "new_patients", "returning_patients"]].to_numpy().tolist() == [[3, 2, 1], [2, 1, 0], [1, 0, 0]]
    assert out["revenue"].tolist() == [1500.0, 3000.0, 0.0]
    assert out.loc[("A", "SEO"), "revenue_per_patient"] == 750.0 and out.loc[("A", "SEO"), "return_share"] == 0.5
    assert np.isnan(out.loc[("B", "SEO"), "revenue_per_patient"])
    totals = c.branch_totals(out.reset_index()).set_index("branch_id")
    assert totals[["leads", "new_patients"]].to_numpy().tolist() == [[3, 2], [3, 1]]
    assert totals["main_channel"].tolist() == ["SEO", "Context"] and totals["main_channel_share"].tolist() == [1.0, 1.0]
    assert c.branch_channels(prepared, t("2024-03-01"), t("2024-04-01"), None) is None
