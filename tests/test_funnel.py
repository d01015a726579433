"""Tests for audit_kit.metrics.funnel: every definition on a tiny hand-computed fixture, plus a
dataset that reproduces a published quarter-over-quarter table exactly."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from helpers import canon

from audit_kit.metrics import funnel
from audit_kit.modules import funnel as section
from audit_kit.report.fmt import Formatter
from audit_kit.report.i18n import CATALOG_DIR, Translator

FIXTURES = Path(__file__).parent / "fixtures"
T = pd.Timestamp
Q4 = (T("2024-10-01"), T("2025-01-01"))
Q1 = (T("2025-01-01"), T("2025-04-01"))
JAN = (T("2025-01-01"), T("2025-02-01"))


def lead(i, created, channel="ads", **kw):
    return {"lead_id": f"L{i}", "created_at": created, "channel": channel, **kw}


def booking(i, lead_id, patient, slot, status="completed", **kw):
    return {"booking_id": f"B{i}", "lead_id": lead_id, "patient_id": patient, "doctor_id": "D1",
            "slot_start": slot, "status": status, **kw}


def invoice(i, patient, paid_at, amount, **kw):
    return {"invoice_id": f"I{i}", "patient_id": patient, "paid_at": paid_at, "amount": amount, **kw}


# -- a small clinic used by several tests ---------------------------------------------------------
# Leads in January 2025 (L1..L6) and one in February (L7):
# L1 and L2 came by phone (call_id, both calls answered); the others are written requests.
#   L1 ads  : two bookings (B1 rescheduled, B2 completed 10.01) -> booked, shown; invoice 10.01 -> paid;
#             second paid day 20.02 (41 days later, <= 90) -> treated.
#   L2 ads  : B3 no_show, but a visit V1 for B3 on 12.01 -> shown; invoice 11.01 is before the visit,
#             invoice 12.01 (5000) and a same-day refund (-1000) -> paid, first check 4000.
#   L3 form : B4 cancelled -> booked, not shown.
#   L4 form : no booking, lost_reason "price".
#   L5 form : no booking, no reason, never answered.
#   L6 ads  : B5 completed 20.01, only a refund afterwards -> shown, not paid.
#   L7 ads  : created 02.02 (outside January), booked+shown+paid.
#   B6 has no lead (walk-in): not part of the lead funnel.
def small_clinic() -> dict[str, pd.DataFrame]:
    leads = canon("leads", [
        lead(1, "2025-01-05 10:00", first_response_at="2025-01-05 10:03", call_id="C2"),
        lead(2, "2025-01-06 09:00", first_response_at="2025-01-06 09:20", call_id="C8"),
        lead(3, "2025-01-07 12:00", "form", first_response_at="2025-01-07 13:00"),
        lead(4, "2025-01-08 18:00", "form", first_response_at="2025-01-09 12:00", lost_reason="price"),
        lead(5, "2025-01-09 08:00", "form"),
        lead(6, "2025-01-10 11:00", first_response_at="2025-01-10 10:59"),
        lead(7, "2025-02-02 11:00", first_response_at="2025-02-03 12:00"),
    ])
    bookings = canon("bookings", [
        booking(1, "L1", "P1", "2025-01-09 10:00", "rescheduled"),
        booking(2, "L1", "P1", "2025-01-10 10:00"),
        booking(3, "L2", "P2", "2025-01-12 09:00", "no_show"),
        booking(4, "L3", "P3", "2025-01-15 09:00", "cancelled"),
        booking(5, "L6", "P6", "2025-01-20 09:00"),
        booking(6, None, "P9", "2025-01-21 09:00"),
        booking(7, "L7", "P7", "2025-02-04 09:00"),
    ])
    visits = canon("visits", [
        {"visit_id": "V1", "patient_id": "P2", "checked_in_at": "2025-01-12 09:05", "booking_id": "B3"},
        {"visit_id": "V2", "patient_id": "P9", "checked_in_at": "2025-01-21 09:00", "booking_id": "B6"},
    ])
    invoices = canon("invoices", [
        invoice(1, "P1", "2025-01-10 00:00", 3000),      # day-level stamp, same day as the visit
        invoice(2, "P1", "2025-02-20 12:00", 2000),      # second paid day -> treatment
        invoice(3, "P2", "2025-01-11 12:00", 700),       # before the visit: not the lead's payment
        invoice(4, "P2", "2025-01-12 10:00", 5000),
        invoice(5, "P2", "2025-01-12 11:00", -1000),     # same-day refund, netted in the first check
        invoice(6, "P6", "2025-01-25 10:00", -500),      # a refund is not a payment
        invoice(7, "P9", "2025-01-21 10:00", 1500),      # walk-in
        invoice(8, "P7", "2025-02-04 10:00", 2500),
    ])
    return {"leads": leads, "bookings": bookings, "visits": visits, "invoices": invoices}


def journey_of(tables, **kw):
    return funnel.lead_journey(tables["leads"], tables.get("bookings"), tables.get("visits"), tables.get("invoices"), **kw)


class TestPeriodMonths:
    def test_calendar_quarter_is_three_months(self):
        assert funnel.period_months(*Q4) == 3.0
        assert funnel.period_months(*JAN) == 1.0

    def test_unaligned_period_in_average_months(self):
        # 2025-01-15 .. 2025-02-14 = 30 days; 30 / (365.25 / 12) = 0.98563...
        assert funnel.period_months(T("2025-01-15"), T("2025-02-14")) == pytest.approx(30 / 30.4375)


class TestLeadJourney:
    def test_stages_per_lead(self):
        j = journey_of(small_clinic()).set_index("lead_id")
        assert j["booked"].to_dict() == {"L1": True, "L2": True, "L3": True, "L4": False, "L5": False,
                                         "L6": True, "L7": True}
        assert j["shown"].to_dict() == {"L1": True, "L2": True, "L3": False, "L4": False, "L5": False,
                                        "L6": True, "L7": True}
        assert j["paid"].to_dict() == {"L1": True, "L2": True, "L3": False, "L4": False, "L5": False,
                                       "L6": False, "L7": True}
        assert j["treated"].to_dict() == {"L1": True, "L2": False, "L3": False, "L4": False, "L5": False,
                                          "L6": False, "L7": False}

    def test_show_time_and_first_check(self):
        j = journey_of(small_clinic()).set_index("lead_id")
        assert j.loc["L1", "shown_at"] == T("2025-01-10 10:00")          # the completed booking, not B1
        assert j.loc["L2", "shown_at"] == T("2025-01-12 09:05")          # the visit's check-in
        assert j.loc["L1", "first_paid_at"] == T("2025-01-10")
        assert j.loc["L1", "first_check"] == 3000.0
        assert j.loc["L2", "first_check"] == 4000.0                      # 5000 - 1000 the same day
        assert np.isnan(j.loc["L6", "first_check"])

    def test_lead_with_two_bookings_counts_once(self):
        counts = funnel.stage_counts(journey_of(small_clinic()), *JAN)
        # L1 has two bookings, B6 has no lead: booked leads = L1, L2, L3, L6 = 4.
        assert counts.loc[0, "booked_leads"] == 4

    def test_treatment_horizon(self):
        tables = small_clinic()
        # L1's second paid day is 41 days after the first: treated with 90 days, not with 40.
        assert journey_of(tables, treatment_horizon_days=41).set_index("lead_id").loc["L1", "treated"]
        assert not journey_of(tables, treatment_horizon_days=40).set_index("lead_id").loc["L1", "treated"]

    def test_treatment_category(self):
        tables = small_clinic()
        tables["invoices"].loc[tables["invoices"]["invoice_id"] == "I8", "service_category"] = "implants"
        j = journey_of(tables, treatment_categories=["implants"]).set_index("lead_id")
        assert j.loc["L7", "treated"] and not j.loc["L2", "treated"]
        assert not journey_of(tables, treatment_categories=[]).set_index("lead_id").loc["L7", "treated"]

    def test_response_minutes(self):
        j = journey_of(small_clinic()).set_index("lead_id")
        assert j.loc["L1", "response_minutes"] == 3.0
        assert j.loc["L4", "response_minutes"] == 18 * 60.0
        assert np.isnan(j.loc["L5", "response_minutes"])                 # no response at all
        assert j.loc["L6", "response_minutes"] == 0.0                    # stamped before creation

    def test_missing_stages_are_absent_not_false(self):
        tables = small_clinic()
        assert "booked" not in funnel.lead_journey(tables["leads"]).columns
        no_invoices = funnel.lead_journey(tables["leads"], tables["bookings"], tables["visits"])
        assert "shown" in no_invoices and "paid" not in no_invoices and "treated" not in no_invoices
        unlinked = tables["bookings"].assign(lead_id=pd.array([pd.NA] * 7, dtype="string"))
        assert "booked" not in funnel.lead_journey(tables["leads"], unlinked).columns
        no_response = tables["leads"].assign(first_response_at=pd.NaT)
        assert "response_minutes" not in funnel.lead_journey(no_response).columns

    def test_shown_without_visits_table_uses_completed_bookings(self):
        tables = small_clinic()
        j = funnel.lead_journey(tables["leads"], tables["bookings"]).set_index("lead_id")
        assert not j.loc["L2", "shown"]       # only the visit said L2 came
        assert j.loc["L1", "shown"]


class TestStageCounts:
    def test_january(self):
        j = journey_of(small_clinic())
        counts = funnel.stage_counts(j, *JAN)
        assert counts.iloc[0][list(funnel.STAGES[1:])].to_dict() == {
            "leads": 6, "booked_leads": 4, "shown_leads": 3, "paid_leads": 2, "treated_leads": 1}
        assert "sessions" not in counts

    def test_downstream_follows_the_lead_after_period_end(self):
        # L1's treatment invoice is in February; it still counts for January's lead.
        j = journey_of(small_clinic())
        assert funnel.stage_counts(j, *JAN).loc[0, "treated_leads"] == 1
        assert funnel.stage_counts(j, T("2025-02-01"), T("2025-03-01")).loc[0, "leads"] == 1

    def test_by_channel_with_sessions(self):
        traffic = canon("site_traffic", [
            {"month": "2025-01-01", "channel": "ads", "sessions": 100},
            {"month": "2025-01-01", "channel": "seo", "sessions": 40},
            {"month": "2025-02-01", "channel": "ads", "sessions": 999},
        ])
        j = journey_of(small_clinic())
        total = funnel.stage_counts(j, *JAN, site_traffic=traffic)
        assert total.loc[0, "sessions"] == 140
        by = funnel.stage_counts(j, *JAN, site_traffic=traffic, by=["channel"]).set_index("channel")
        # ads: L1 L2 L6; form: L3 L4 L5 (no traffic rows -> NaN); seo: traffic only -> 0 leads.
        assert by.loc["ads", ["sessions", "leads", "booked_leads", "shown_leads", "paid_leads"]].tolist() == [100, 3, 3, 3, 2]
        assert np.isnan(by.loc["form", "sessions"]) and by.loc["form", "leads"] == 3
        assert by.loc["seo", "leads"] == 0 and by.loc["seo", "sessions"] == 40

    def test_by_month(self):
        j = journey_of(small_clinic())
        by = funnel.stage_counts(j, T("2025-01-01"), T("2025-03-01"), by=["month"])
        assert by["month"].tolist() == [T("2025-01-01"), T("2025-02-01")]
        assert by["leads"].tolist() == [6, 1]


class TestConversions:
    def test_adjacent_pairs(self):
        counts = pd.DataFrame({"sessions": [200.0], "leads": [10], "booked_leads": [5], "shown_leads": [4],
                               "paid_leads": [2], "treated_leads": [1]})
        conv = funnel.add_conversions(counts).iloc[0]
        assert conv[["session_to_lead", "lead_to_booking", "booking_to_show", "show_to_paid",
                     "paid_to_treatment"]].tolist() == [0.05, 0.5, 0.8, 0.5, 0.5]

    def test_zero_denominator_and_missing_stage(self):
        conv = funnel.add_conversions(pd.DataFrame({"leads": [0], "booked_leads": [0]}))
        assert np.isnan(conv.loc[0, "lead_to_booking"])
        assert "booking_to_show" not in conv and "session_to_lead" not in conv


class TestAvgCheck:
    def test_refunds_netted_but_not_counted(self):
        inv = canon("invoices", [
            invoice(1, "P1", "2025-01-03", 1000), invoice(2, "P2", "2025-01-20", 3000),
            invoice(3, "P1", "2025-01-25", -500), invoice(4, "P3", "2025-01-26", 0),
            invoice(5, "P3", "2025-02-01", 2000),
        ])
        # (1000 + 3000 - 500 + 0) / 2 positive invoices = 1750; February's invoice is outside.
        assert funnel.avg_check(inv, *JAN) == 1750.0
        assert funnel.paid_amount(inv, *JAN) == 3500.0
        assert np.isnan(funnel.avg_check(inv, T("2025-03-01"), T("2025-04-01")))

    def test_treatment_open_days(self):
        inv = canon("invoices", [invoice(1, "P1", "2025-03-31 14:00", 100)])
        # Payments end on 31 March (the next day is 1 April): the base period (to 1 January) + 90 days
        # = 1 April is complete; the current period (to 1 April) + 90 days lacks 90 days.
        assert funnel.treatment_open_days(inv, Q4[1], 90) == 0
        assert funnel.treatment_open_days(inv, Q1[1], 90) == 90
        assert funnel.treatment_open_days(inv, Q1[1], 30) == 30

    def test_avg_first_check(self):
        # January paid leads: L1 first check 3000, L2 4000 -> 3500.
        assert funnel.avg_first_check(journey_of(small_clinic()), *JAN) == 3500.0


def call(i, started, answered, **kw):
    return {"call_id": f"C{i}", "started_at": started, "answered": answered, **kw}


# Calls in January 2025 (6 Jan is a Monday):
#   C1 Mon 09:10 missed, called back 09:20 (10 min)      C2 Mon 09:40 answered
#   C3 Mon 13:05 missed, called back 14:30 (85 min)      C4 Mon 13:30 missed, never called back,
#                                                           but the caller got through at 15:00 (C6)
#   C5 Tue 10:00 missed, never called back (lead L5's call)  C6 Mon 15:00 answered
#   C7 Wed 11:00 missed, never called back, no later call  C8 Sat 10:00 answered, C9 answered=NA
def calls_fixture() -> pd.DataFrame:
    return canon("calls", [
        call(1, "2025-01-06 09:10", False, called_back_at="2025-01-06 09:20", caller_phone="ha"),
        call(2, "2025-01-06 09:40", True, caller_phone="hb"),
        call(3, "2025-01-06 13:05", False, called_back_at="2025-01-06 14:30", caller_phone="hc"),
        call(4, "2025-01-06 13:30", False, caller_phone="hd"),
        call(5, "2025-01-07 10:00", False, caller_phone="he"),
        call(6, "2025-01-06 15:00", True, caller_phone="hd"),
        call(7, "2025-01-08 11:00", False, caller_phone="hf"),
        call(8, "2025-01-11 10:00", True, caller_phone="hg"),
        call(9, "2025-01-11 11:00", None),
        call(10, "2025-02-03 09:00", False),
    ])


class TestMissedCalls:
    def test_rate(self):
        # January, answered known: C1..C8 = 8 calls, missed C1 C3 C4 C5 C7 = 5 -> 0.625.
        assert funnel.missed_call_rate(calls_fixture(), *JAN) == 5 / 8
        # C9 (answered unknown) counts in neither; C10 is February's
        assert funnel.missed_call_counts(calls_fixture(), *JAN) == (5, 8)

    def test_weekday_hour(self):
        wh = funnel.missed_by_weekday_hour(calls_fixture(), *JAN).set_index(["weekday", "hour"])
        assert wh.loc[(0, 9)].tolist() == [2, 1, 0.5]
        assert wh.loc[(0, 13)].tolist() == [2, 2, 1.0]
        assert wh.loc[(5, 10), "missed"] == 0
        assert len(wh) == 6       # Mon 9, 13, 15; Tue 10; Wed 11; Sat 10 (C9 answered=NA left out)

    def test_callbacks(self):
        s = funnel.callback_summary(calls_fixture(), *JAN, lead_call_ids=pd.Series(["C5", None], dtype="string"))
        assert (s["calls"], s["missed"]) == (8, 5)
        assert s["never_called_back"] == 3 / 5                # C4, C5, C7
        assert s["called_back_15m"] == 1 / 5                  # C1
        assert s["called_back_2h"] == 2 / 5                   # C1, C3
        # Lost: C4 got through later, C5 is a lead -> only C7.
        assert s["lost"] == 1

    def test_callbacks_unknown_without_called_back_at(self):
        calls = calls_fixture().assign(called_back_at=pd.NaT, caller_phone=pd.array([pd.NA] * 10, dtype="string"))
        s = funnel.callback_summary(calls, *JAN)
        assert np.isnan(s["never_called_back"]) and np.isnan(s["called_back_15m"])
        assert s["lost"] == 5

    def test_matrix(self):
        wh = funnel.missed_by_weekday_hour(calls_fixture(), *JAN)
        matrix = funnel.missed_matrix(wh)
        assert matrix.loc[0, 13] == 1.0 and np.isnan(matrix.loc[1, 9])
        # With at least 2 calls only Monday 9h and 13h remain; the other hours are dropped.
        assert funnel.missed_matrix(wh, min_calls=2).columns.tolist() == [9, 13]

    def test_peak_hours(self):
        wh = pd.DataFrame({"weekday": [0, 1, 2, 0, 5], "hour": [9, 9, 10, 13, 13],
                           "calls": [50, 50, 100, 40, 100], "missed": [20, 10, 5, 2, 90]})
        peaks = funnel.peak_hours(wh, ratio=1.5, min_calls=20).set_index("hour")
        # Weekdays pooled: 9h 30/100, 10h 5/100, 13h 2/40; overall 37/240 = 0.154; 1.5x = 0.231.
        assert peaks["missed"].tolist() == [30, 5, 2]
        assert peaks["is_peak"].to_dict() == {9: True, 10: False, 13: False}
        assert not funnel.peak_hours(wh, ratio=1.5, min_calls=101)["is_peak"].any()


class TestSpeedToLead:
    def test_bucket_edges(self):
        minutes = pd.Series([0, 4.99, 5, 29.9, 30, 119, 120, 1439, 1440, np.nan])
        assert list(funnel.response_bucket(minutes)) == [
            "under_5m", "under_5m", "5_30m", "5_30m", "30_120m", "30_120m", "2_24h", "2_24h", "over_24h", "never"]

    def test_conversion_by_bucket(self):
        b = funnel.response_buckets(journey_of(small_clinic()), *JAN).set_index("bucket")
        # under_5m: L1 (3 min, booked), L6 (0, booked); 5_30m: L2 booked; 30_120m: L3 booked;
        # 2_24h: L4 not booked; over_24h: none; never: L5 not booked.
        assert b["leads"].to_dict() == {"under_5m": 2, "5_30m": 1, "30_120m": 1, "2_24h": 1, "over_24h": 0, "never": 1}
        assert b.loc["under_5m", "lead_to_booking"] == 1.0 and b.loc["never", "lead_to_booking"] == 0.0
        assert np.isnan(b.loc["over_24h", "lead_to_booking"])

    def test_median_excludes_never(self):
        # January responses: 3, 20, 60, 1080, 0 minutes (L5 never) -> median 20.
        assert funnel.median_first_response_minutes(journey_of(small_clinic()), *JAN) == 20.0

    def test_by_channel(self):
        r = funnel.response_by(journey_of(small_clinic()), *JAN, by=["channel"]).set_index("channel")
        assert r.loc["form", "no_response"] == pytest.approx(1 / 3)
        assert r.loc["form", "median_response_minutes"] == (60 + 1080) / 2
        assert r.loc["ads", "within_5m"] == pytest.approx(2 / 3)
        assert r.loc["ads", "lead_to_booking"] == 1.0

    def test_by_kind(self):
        r = funnel.response_by(journey_of(small_clinic()), *JAN, by=["kind"]).set_index("kind")
        # calls: L1 3 min, L2 20 min (both booked); written: L3 60, L4 1080, L5 never, L6 0 (L3, L6 booked).
        assert r.loc["call", ["leads", "no_response", "median_response_minutes", "within_5m", "lead_to_booking"]].tolist() == [2, 0.0, 11.5, 0.5, 1.0]
        assert r.loc["written", ["leads", "no_response", "median_response_minutes", "within_5m", "lead_to_booking"]].tolist() == [4, 0.25, 60.0, 0.25, 0.5]

    def test_kind_needs_call_ids(self):
        j = journey_of(small_clinic()).set_index("lead_id")
        assert j["kind"].astype(str).to_dict() == {"L1": "call", "L2": "call", "L3": "written", "L4": "written",
                                                   "L5": "written", "L6": "written", "L7": "written"}
        no_calls = small_clinic()["leads"].assign(call_id=pd.array([pd.NA] * 7, dtype="string"))
        assert "kind" not in funnel.lead_journey(no_calls).columns
        assert funnel.response_by(funnel.lead_journey(no_calls), *JAN, by=["kind"]).empty

    def test_slow_response_units(self):
        buckets = pd.DataFrame({"bucket": ["under_5m", "5_30m", "2_24h", "never", "over_24h"],
                                "leads": [20, 10, 10, 5, 0], "lead_to_booking": [0.8, 0.9, 0.5, 0.2, np.nan]})
        # 10 x (0.8 - 0.5) + 5 x (0.8 - 0.2) = 3 + 3 = 6; 5_30m above the reference adds nothing.
        assert funnel.slow_response_units(buckets) == pytest.approx(6.0)
        assert np.isnan(funnel.slow_response_units(buckets, min_fast_leads=21))

    def test_absent_without_response_data(self):
        tables = small_clinic()
        tables["leads"] = tables["leads"].assign(first_response_at=pd.NaT)
        j = journey_of(tables)
        assert funnel.response_buckets(j, *JAN).empty
        assert np.isnan(funnel.median_first_response_minutes(j, *JAN))


class TestUnbooked:
    def test_without_reason(self):
        u = funnel.unbooked_without_reason(journey_of(small_clinic()), *JAN).set_index("channel")
        # form: L4 (reason "price"), L5 (no reason) unbooked; ads: all booked.
        assert u.loc["form", ["leads", "unbooked", "no_reason"]].tolist() == [3, 2, 1]
        assert u.loc["form", "no_reason_share"] == 0.5
        assert np.isnan(u.loc["ads", "no_reason_share"])
        total = funnel.unbooked_without_reason(journey_of(small_clinic()), *JAN, by=())
        assert total[["leads", "unbooked", "no_reason"]].iloc[0].tolist() == [6, 2, 1]

    def test_lost_reasons_ranked(self):
        leads = canon("leads", [lead(i, "2025-01-05", lost_reason=r)
                                for i, r in enumerate(["price", "far", "price", None, "far", "price", "time"])])
        bookings = canon("bookings", [booking(1, "L5", "P5", "2025-01-07")])   # L5 ("price") was booked
        r = funnel.lost_reasons(funnel.lead_journey(leads, bookings), *JAN)
        assert r["lost_reason"].tolist() == ["far", "price", "time"]
        assert r["leads"].tolist() == [2, 2, 1]
        assert r["share"].tolist() == [0.4, 0.4, 0.2]


class TestLeaks:
    def test_money_formula(self):
        totals = {"leads": 100, "booked_leads": 60, "shown_leads": 50, "paid_leads": 40}
        leaks = funnel.leak_table(totals, avg_first_check=3000.0, months=3.0, lost_calls=30, slow_response=6)
        leaks = leaks.set_index("leak")
        # lead->booking: 40 x (40/60) x 3000 / 3 = 26 666.67
        assert leaks.loc["lead_to_booking", "money_per_month"] == pytest.approx(40 * 40 / 60 * 1000)
        # booking->show: 10 x (40/50) x 1000 = 8000; show->paid: 10 x 1 x 1000 = 10 000
        assert leaks.loc["booking_to_show", "money_per_month"] == pytest.approx(8000)
        assert leaks.loc["show_to_paid", "money_per_month"] == pytest.approx(10000)
        # missed calls: 30 x (40/100) x 1000 = 12 000; slow response: 6 x (40/60) x 1000 = 4000
        assert leaks.loc["missed_calls", "money_per_month"] == pytest.approx(12000)
        assert leaks.loc["slow_response", "money_per_month"] == pytest.approx(4000)
        assert leaks["in_total"].to_dict() == {"lead_to_booking": True, "booking_to_show": True,
                                               "show_to_paid": True, "missed_calls": True, "slow_response": False}

    def test_without_paid_stage(self):
        leaks = funnel.leak_table({"leads": 10, "booked_leads": 6, "shown_leads": 5}, avg_first_check=np.nan, months=1)
        assert leaks["leak"].tolist() == ["lead_to_booking", "booking_to_show"]
        assert leaks["money_per_month"].isna().all()

    def test_period_summary_total(self):
        tables = small_clinic()
        s = funnel.period_summary(journey_of(tables), *JAN, invoices=tables["invoices"], calls=calls_fixture())
        # January: leads 6, booked 4, shown 3, paid 2; first checks 3000, 4000 -> 3500; 1 month.
        # lead->booking 2 x 2/4 x 3500 = 3500; booking->show 1 x 2/3 x 3500 = 2333.33;
        # show->paid 1 x 1 x 3500 = 3500; missed calls: lost 2 (C5 is not a lead here: L5 has no
        # call_id; C4 got through) x 2/6 x 3500 = 2333.33. Total 11 666.67.
        leaks = s["leaks"].set_index("leak")["money_per_month"]
        assert leaks["missed_calls"] == pytest.approx(2 * 2 / 6 * 3500)
        assert s["money_at_stake_per_month"] == pytest.approx(3500 + 7000 / 3 + 3500 + 7000 / 3)


# -- the published quarter table -------------------------------------------------------------------
# The reference case (seeds/000): base Oct–Dec 2024 vs case Jan–Mar 2025:
#   site visits 3 420 -> 4 080, leads 418 -> 564, bookings 236 -> 323, shows 171 -> 240,
#   average check 9 800 -> 9 850 ₽.
REFERENCE = {
    "base": {"sessions": 3420, "leads": 418, "booked_leads": 236, "shown_leads": 171, "avg_check": 9800.0},
    "current": {"sessions": 4080, "leads": 564, "booked_leads": 323, "shown_leads": 240, "avg_check": 9850.0},
}


def reference_clinic() -> dict[str, pd.DataFrame]:
    """Synthetic exports that reproduce the published table.

    Per quarter (start day d0, leads n, booked b, shown s, check c, walk-ins w):
      - leads created d0 + (i mod 60) days, channel alternating context/seo;
      - leads 0..b-1 booked, slot 3 days after the lead; leads 0..9 first had a rescheduled booking;
      - leads 0..s-6 completed; leads s-5..s-1 "no_show" in the MIS but with a visit (shown);
        leads s..b-1 no_show or cancelled (not shown);
      - every shown lead pays c on the slot day, except lead 0 (pays 15 000 / 11 000) whose
        partial refund (-5 200 / -1 150) comes a week later;
      - w walk-in bookings with no lead, completed and paid c;
      - positive invoices s + w; net = (s + w) x c, so the average check is exactly c:
        Q4: 173 x 9 800 + 15 000 - 5 200 = 174 x 9 800;  Q1: 241 x 9 850 + 11 000 - 1 150 = 242 x 9 850.
      - sessions: context 700 + seo 440 a month in Q4 (3 x 1 140 = 3 420); 800 + 560 in Q1 (4 080).
    Plus 5 September leads, booked and paid, which no period should count.
    """
    leads, bookings, visits, invoices = [], [], [], []
    quarters = [("q4", T("2024-10-01"), 418, 236, 171, 9800.0, 3, 15000.0, -5200.0),
                ("q1", T("2025-01-01"), 564, 323, 240, 9850.0, 2, 11000.0, -1150.0),
                ("sep", T("2024-09-01"), 5, 5, 5, 9999.0, 0, 9999.0, 0.0)]
    for q, d0, n, b, s, c, w, first_amount, refund in quarters:
        for i in range(n):
            created = d0 + pd.Timedelta(days=i % 60, hours=9 + i % 8)
            lid, pid = f"{q}-L{i}", f"{q}-P{i}"
            leads.append(lead(f"{q}-{i}", created, "context" if i % 2 == 0 else "seo", lead_id=lid, patient_id=pid,
                              first_response_at=created + pd.Timedelta(minutes=i % 50)))
            if i >= b:
                continue
            slot = created.normalize() + pd.Timedelta(days=3, hours=10)
            if i < 10:
                bookings.append(booking(f"{q}-r{i}", lid, pid, slot - pd.Timedelta(days=1), "rescheduled"))
            status = "completed" if i <= s - 6 else ("no_show" if i < s or i % 2 else "cancelled")
            bookings.append(booking(f"{q}-{i}", lid, pid, slot, status))
            if s - 5 <= i < s:
                visits.append({"visit_id": f"{q}-V{i}", "patient_id": pid, "checked_in_at": slot, "booking_id": f"B{q}-{i}"})
            if i < s:
                invoices.append(invoice(f"{q}-{i}", pid, slot + pd.Timedelta(hours=1), first_amount if i == 0 else c))
        if refund:
            invoices.append(invoice(f"{q}-refund", f"{q}-P0", d0 + pd.Timedelta(days=70), refund))
        for k in range(w):
            slot = d0 + pd.Timedelta(days=20 + k, hours=12)
            bookings.append(booking(f"{q}-w{k}", None, f"{q}-W{k}", slot))
            invoices.append(invoice(f"{q}-w{k}", f"{q}-W{k}", slot, c))
    traffic = [{"month": m, "channel": ch, "sessions": v}
               for months, split in ((pd.date_range("2024-10-01", periods=3, freq="MS"), (700, 440)),
                                     (pd.date_range("2025-01-01", periods=3, freq="MS"), (800, 560)))
               for m in months for ch, v in zip(("context", "seo"), split)]
    return {"leads": canon("leads", leads), "bookings": canon("bookings", bookings),
            "visits": canon("visits", visits), "invoices": canon("invoices", invoices),
            "site_traffic": canon("site_traffic", traffic)}


REFERENCE_PERIODS = {"base": Q4, "current": Q1}


class TestReferenceQuarterTable:
    def test_published_numbers_exactly(self):
        summaries = funnel.summarise(reference_clinic(), REFERENCE_PERIODS)
        for period, expected in REFERENCE.items():
            s = summaries[period]
            got = {k: s["totals"][k] for k in ("sessions", "leads", "booked_leads", "shown_leads")}
            got["avg_check"] = s["avg_check"]
            assert got == expected, period

    def test_headline_metrics(self):
        metrics = funnel.headline_metrics(funnel.summarise(reference_clinic(), REFERENCE_PERIODS))
        assert metrics["funnel.leads"] == ("count", {"base": 418, "current": 564})
        assert metrics["funnel.lead_to_booking"][1] == {"base": 236 / 418, "current": 323 / 564}
        assert metrics["funnel.booking_to_show"][1] == {"base": 171 / 236, "current": 240 / 323}
        assert metrics["funnel.paid_leads"][1] == {"base": 171, "current": 240}
        assert metrics["funnel.avg_check"] == ("money", {"base": 9800.0, "current": 9850.0})
        # No calls table: the missed-call rate is left out, not zero.
        assert "funnel.missed_call_rate" not in metrics
        assert metrics["funnel.treated_leads"][1] == {"base": 0, "current": 0}
        required = {"funnel.sessions", "funnel.leads", "funnel.booked_leads", "funnel.shown_leads",
                    "funnel.paid_leads", "funnel.lead_to_booking", "funnel.booking_to_show", "funnel.show_to_paid",
                    "funnel.avg_check", "funnel.median_first_response_minutes", "funnel.money_at_stake_per_month"}
        assert required <= set(metrics)

    def test_money_at_stake(self):
        s = funnel.summarise(reference_clinic(), REFERENCE_PERIODS)["base"]
        # Base: first checks 170 x 9 800 + 15 000 (lead 0's refund is another day) -> mean 9 832.16.
        check = (170 * 9800 + 15000) / 171
        assert s["avg_first_check"] == pytest.approx(check)
        # lead->booking 182 x 171/236; booking->show 65 x 1; show->paid 0; 3 months.
        expected = (182 * 171 / 236 + 65 * 1.0 + 0) * check / 3
        assert s["money_at_stake_per_month"] == pytest.approx(expected)

    def test_fixture_files_match_the_frames(self):
        """tests/fixtures/funnel_reference holds the same data as raw CSV exports."""
        frames = reference_clinic()
        for table, df in frames.items():
            raw = pd.read_csv(FIXTURES / "funnel_reference" / "data" / f"{table}.csv", dtype=str)
            assert len(raw) == len(df), table

    def test_through_ingest_and_module_api(self, tmp_path):
        """Raw CSV + audit.yaml -> ingest -> Module -> metrics.json, as the notebook does it."""
        from audit_kit.notebook import open_module

        client = tmp_path / "client"
        shutil.copytree(FIXTURES / "funnel_reference", client)
        m = open_module("funnel", "", client / "audit.yaml")
        summaries = funnel.summarise(m.data, m.periods, treatment_horizon_days=m.option("treatment_horizon_days"),
                                     treatment_categories=m.option("treatment_categories"))
        for key, (unit, values) in funnel.headline_metrics(summaries).items():
            m.metric(key, unit, values)
        metrics = json.loads((m.finish() / "metrics.json").read_text(encoding="utf-8"))
        for period, expected in REFERENCE.items():
            for key, value in expected.items():
                assert metrics[f"funnel.{key}"][period] == value, (key, period)


class TestHeadlineMissingData:
    def test_leads_only(self):
        tables = small_clinic()
        metrics = funnel.headline_metrics(funnel.summarise({"leads": tables["leads"]}, {"current": JAN}))
        # Only leads and the response time can be computed; money at stake is there but null.
        assert metrics == {"funnel.leads": ("count", {"current": 6}),
                           "funnel.median_first_response_minutes": ("minutes", {"current": 20.0}),
                           "funnel.money_at_stake_per_month": ("money", {"current": None})}

    def test_without_invoices(self):
        tables = small_clinic()
        del tables["invoices"]
        metrics = funnel.headline_metrics(funnel.summarise(tables, {"current": JAN}))
        assert metrics["funnel.shown_leads"] == ("count", {"current": 3})
        assert not {"funnel.paid_leads", "funnel.avg_check", "funnel.avg_first_check",
                    "funnel.show_to_paid"} & set(metrics)


def test_notebook_on_the_reference_exports(tmp_path):
    """The notebook itself, run by papermill on the raw reference exports: metrics.json holds the
    published numbers for both periods and the report shows them with the change."""
    import papermill

    from audit_kit.config import load_config
    from audit_kit.notebook import prepare_run

    client, run = tmp_path / "client", tmp_path / "run"
    shutil.copytree(FIXTURES / "funnel_reference", client)
    prepare_run(load_config(client / "audit.yaml"), run)
    notebook = Path(__file__).parent.parent / "notebooks" / "02_lead_loss.ipynb"
    papermill.execute_notebook(str(notebook), str(tmp_path / "out.ipynb"), kernel_name="python3",
                               parameters={"run_dir": str(run), "config_path": str(client / "audit.yaml")},
                               cwd=str(notebook.parent), progress_bar=False)
    metrics = json.loads((run / "modules" / "funnel" / "metrics.json").read_text(encoding="utf-8"))
    for period, expected in REFERENCE.items():
        for key, value in expected.items():
            assert metrics[f"funnel.{key}"][period] == value, (key, period)
    shown = (tmp_path / "out.ipynb").read_text(encoding="utf-8")
    # The stage table in Russian: base, current and the change (3 420 -> 4 080 is +19,3 %).
    for text in ("3\u00a0420", "4\u00a0080", "+19,3\u00a0%", "418", "564", "+34,9\u00a0%", "9\u00a0800\u00a0₽",
                 "9\u00a0850\u00a0₽", "+0,5\u00a0%"):
        assert text in shown, text
    findings = json.loads((run / "modules" / "funnel" / "findings.json").read_text(encoding="utf-8"))
    # no-shows of booked leads (25.7 % against 5 %) outweigh the gap to the 60 % booking target (57.3 %)
    assert [f["id"] for f in findings[:2]] == ["booked_no_show", "unbooked"]
    assert (findings[1]["stage"], findings[1]["counted"], findings[1]["price"]["target"]) == ("booking", True, 0.6)


class TestFindings:
    def test_reference_findings(self):
        summaries = funnel.summarise(reference_clinic(), REFERENCE_PERIODS)
        found = section.finding_drafts(summaries, Formatter("en", "RUB"), Translator("en"))
        ids = [f["id"] for f in found]
        # Current: 241 of 564 leads unbooked; then 83 booked leads that never came.
        assert ids[:2] == ["unbooked", "booked_no_show"]
        assert "lead_to_booking_up" in ids            # 56.5% -> 57.3%
        assert "period_growth" in ids                 # leads who came 171 -> 240
        cur = summaries["current"]
        check = cur["avg_first_check"]
        # the gap to the 60 % booking target: (60 % − 323/564) × 564/3 leads a month × 240/323 booked→paid × check
        assert found[0]["money"] == pytest.approx((0.6 - 323 / 564) * 564 / 3 * 240 / 323 * check)
        assert found[0]["price"].stage == "booking" and found[0]["price"].target_source == "default"
        # no-shows: (83/323 − 5 %) × 323/3 booked leads a month × 240/240 shown→paid × check
        no_show = found[1]["price"]
        assert no_show.money == pytest.approx((83 / 323 - 0.05) * 323 / 3 * check) and no_show.acts_on == "no_shows"
        assert "largest leak in both periods" in Translator("en")(found[0]["key"] + ".evidence", **found[0]["values"])
        growth = next(f for f in found if f["id"] == "period_growth")
        assert growth["values"]["change"] == "+40.4%" and growth["money"] is None
        assert "Leads 418 → 564 (+34.9%)" in growth["values"]["items"]
        assert "Booked leads 236 → 323 (+36.9%)" in growth["values"]["items"]
        up = next(f for f in found if f["id"] == "lead_to_booking_up")
        assert up["money"] is None and up["values"]["delta"] == "+0.8 pp"

    def test_missed_calls_and_no_reason_findings(self):
        tables = small_clinic()
        j = journey_of(tables)
        s = funnel.period_summary(j, *JAN, invoices=tables["invoices"], calls=calls_fixture())
        found = {f["id"]: f for f in section.finding_drafts({"current": s}, Formatter("en", "RUB"), Translator("en"))}
        assert found["missed_calls"]["values"]["rate"] == "62.5%"
        # (62.5 % − 5 %) × 8 calls × 2 of 5 missed never recovered × 2/6 lead→paid × 3 500: 4.6 × 0.4 × 2/6 × 3 500
        assert found["missed_calls"]["money"] == pytest.approx((5 / 8 - 0.05) * 8 * 2 / 5 * 2 / 6 * 3500)
        # 1 no-reason lead of 2 unbooked = 50% >= 20%.
        assert found["unbooked_no_reason"]["money"] is None
        assert "lead_to_booking_up" not in found and "lead_to_booking_down" not in found


class TestSlowResponseFinding:
    def test_written_requests_named(self):
        # 10 calls answered in 1 minute, all booked; 10 forms answered after 3 hours, 2 booked.
        # Slow units = 10 x (1.0 - 0.2) = 8 bookings; no invoices, so not priced.
        leads = canon("leads", [lead(i, "2025-01-06 10:00", "ads", call_id=f"C{i}", first_response_at="2025-01-06 10:01")
                                for i in range(10)]
                      + [lead(i, "2025-01-06 10:00", "form", first_response_at="2025-01-06 13:00") for i in range(10, 20)])
        bookings = canon("bookings", [booking(i, f"L{i}", f"P{i}", "2025-01-08 10:00") for i in (*range(10), 10, 11)])
        s = funnel.period_summary(funnel.lead_journey(leads, bookings), *JAN)
        assert s["slow_response_units"] == pytest.approx(8.0)
        found = {f["id"]: f for f in section.finding_drafts({"current": s}, Formatter("en", "RUB"), Translator("en"))}
        slow = found["slow_response"]
        assert slow["money"] is None and slow["severity"] == "medium"
        assert slow["values"]["who"] == "written requests (forms, chats, aggregators)"
        assert slow["values"]["who_median"] == "3.0 h" and slow["values"]["units"] == "8"
        assert "written requests from “form”, 3.0 h" in slow["values"]["slowest_note"]


class TestCatalogs:
    def test_same_keys_in_both_languages(self):
        ru = yaml.safe_load((CATALOG_DIR / "ru" / "funnel.yaml").read_text(encoding="utf-8"))
        en = yaml.safe_load((CATALOG_DIR / "en" / "funnel.yaml").read_text(encoding="utf-8"))

        def keys(node, prefix=""):
            return {k for key, v in node.items()
                    for k in (keys(v, f"{prefix}{key}.") if isinstance(v, dict) else {f"{prefix}{key}"})}

        assert keys(ru) == keys(en)

    def test_every_code_has_a_label(self):
        for lang in ("ru", "en"):
            t = Translator(lang)
            codes = ([f"funnel.stage.{s}" for s in funnel.STAGES] + [f"funnel.conversion.{c}" for c, _, _ in funnel.CONVERSIONS]
                     + [f"funnel.leak.{k}" for k in funnel.LEAKS] + [f"funnel.bucket.{b}" for b in funnel.BUCKET_ORDER]
                     + [f"funnel.kind.{k}" for k in funnel.KINDS] + [f"funnel.weekday.{d}" for d in range(7)])
            assert [c for c in codes if not t.has(c)] == [], lang

    def test_every_finding_key_has_its_three_texts(self):
        for lang in ("ru", "en"):
            t = Translator(lang)
            for id_ in ("unbooked", "booked_no_show", "shown_unpaid", "missed_calls", "missed_calls_peaks",
                        "slow_response", "unbooked_no_reason", "lead_to_booking_up", "lead_to_booking_down",
                        "period_growth", "period_decline"):
                for part in ("title", "evidence", "recommendation"):
                    assert t.has(f"funnel.finding.{id_}.{part}"), (lang, id_, part)


@pytest.mark.parametrize("clinic", [small_clinic, reference_clinic])
def test_the_journey_by_ingest_keys_is_the_journey_by_ids(clinic):
    """A run folder's tables carry ingest's integer keys; the journey looked up by them is the same."""
    from audit_kit.ingest.keys import add_keys

    tables = clinic()
    keyed = add_keys(tables)
    assert "lead_key" in keyed["bookings"] and "patient_key" in keyed["invoices"]
    plain = journey_of(tables, treatment_categories=["surgery"])
    pd.testing.assert_frame_equal(journey_of(keyed, treatment_categories=["surgery"]), plain)
    assert plain["paid"].any()


def test_branch_funnel_of_a_network():
    """Branch A: 4 leads, 3 booked, 2 shown, 1 paid; answered in 2, 10 and 30 minutes and once never.
    Branch B: 2 leads, 1 booked, 1 shown, 1 paid; answered in 1 and 3 minutes. One lead without a branch and
    one of branch B outside the period are left out.
    A: lead→booking 3/4, booking→show 2/3, show→paid 1/2; no response 1/4, median 10 min, within 5 min 1/4.
    B: 1/2, 1/1, 1/1; no response 0, median 2 min, within 5 min 2/2."""
    from audit_kit.metrics import funnel as fm

    t = pd.Timestamp("2024-03-05")
    journey = pd.DataFrame({
        "created_at": [t] * 7 + [pd.Timestamp("2023-01-01")],
        "branch_id": pd.array(["A", "A", "A", "A", "B", "B", None, "B"], dtype="string"),
        "booked": [True, True, True, False, True, False, True, True],
        "shown": [True, True, False, False, True, False, True, True],
        "paid": [True, False, False, False, True, False, True, True],
        "response_minutes": [2.0, 10.0, 30.0, np.nan, 1.0, 3.0, 1.0, 1.0]})
    out = fm.branch_funnel(journey, pd.Timestamp("2024-03-01"), pd.Timestamp("2024-04-01")).set_index("branch_id")
    assert out.index.tolist() == ["A", "B"]
    assert out[["leads", "booked_leads", "shown_leads", "paid_leads"]].to_numpy().tolist() == [[4, 3, 2, 1], [2, 1, 1, 1]]
    assert out["lead_to_booking"].tolist() == pytest.approx([0.75, 0.5])
    assert out["booking_to_show"].tolist() == pytest.approx([2 / 3, 1.0])
    assert out["show_to_paid"].tolist() == pytest.approx([0.5, 1.0])
    assert out["no_response"].tolist() == pytest.approx([0.25, 0.0])
    assert out["median_response_minutes"].tolist() == pytest.approx([10.0, 2.0])
    assert out["within_5m"].tolist() == pytest.approx([0.25, 1.0])
    # one clinic, or no branch at all: nothing by branch
    assert fm.branch_funnel(journey.assign(branch_id="A"), pd.Timestamp("2024-03-01"), pd.Timestamp("2024-04-01")) is None
    assert fm.branch_funnel(journey.drop(columns=["branch_id"]), pd.Timestamp("2024-03-01"), pd.Timestamp("2024-04-01")) is None


def test_lead_journey_carries_the_branch_only_when_leads_have_one():
    leads = pd.DataFrame({"lead_id": ["l1", "l2"], "created_at": pd.to_datetime(["2024-01-01", "2024-01-02"]),
                          "channel": ["a", "b"]})
    from audit_kit.metrics import funnel as fm

    assert "branch_id" not in fm.lead_journey(leads)
    assert "branch_id" not in fm.lead_journey(leads.assign(branch_id=pd.array([None, None], dtype="string")))
    assert fm.lead_journey(leads.assign(branch_id=["X", None]))["branch_id"].tolist() == ["X", pd.NA]
