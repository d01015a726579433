"""Module 01 (data quality & reconciliation): every definition pinned on tiny hand-computed tables."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from helpers import canon

from audit_kit.metrics import quality as q
from audit_kit.modules import quality as section

T = pd.Timestamp




# -- ledger ----------------------------------------------------------------------------------------

LEDGER = pd.DataFrame({"table": ["leads", "invoices"], "file": ["l.csv", "i.csv"], "read": [10, 4],
                       "used": [8, 4], "fixed": [1, 0], "rejected": [2, 0]})
REASONS = pd.DataFrame({
    "table": ["leads", "leads", "leads"], "kind": ["rejected", "rejected", "fixed"],
    "reason": ["missing:lead_id", "duplicate_row", "invalid_date:first_response_at (blanked)"],
    "rows": [1, 1, 1], "example_rows": ["3", "7", "9"]})


def test_ledger_overview_balances_and_reject_rate():
    # leads: 10 read = 8 used + 2 rejected, reasons 1 + 1 = 2 -> balanced; reject rate 2/10.
    # invoices: 4 = 4 + 0 with no reasons -> balanced, rate 0.
    out = q.ledger_overview(LEDGER, REASONS)
    assert out["balanced"].tolist() == [True, True]
    assert out["reject_rate"].tolist() == [0.2, 0.0]
    totals = q.ledger_totals(out)
    assert totals == {"read": 14, "used": 12, "fixed": 1, "rejected": 2, "reject_rate": 2 / 14}


def test_ledger_overview_flags_unbalanced_tables():
    # leads says 2 rejected but one reason of 1 row -> does not balance; invoices 4 != 3 + 0.
    ledger = LEDGER.assign(used=[8, 3])
    out = q.ledger_overview(ledger, REASONS.iloc[[0, 2]])
    assert out["balanced"].tolist() == [False, False]
    # A table with nothing read has no reject rate.
    empty = q.ledger_overview(LEDGER.assign(read=[10, 0], used=[8, 0]), REASONS)
    assert math.isnan(empty["reject_rate"].iloc[1])


def test_parse_reasons_splits_every_ledger_form():
    reasons = pd.Series(["missing:lead_id", "duplicate_row", "invalid_date:first_response_at (blanked)",
                         "empty:channel (set to (не указан))", "slot_end before slot_start (blanked)",
                         "shift_end before shift_start (moved to next day)", "duplicate_id:invoice_id",
                         "something odd!"])
    p = q.parse_reasons(reasons)
    assert p["code"].fillna("?").tolist() == ["missing", "duplicate_row", "invalid_date", "empty", "before", "before",
                                              "duplicate_id", "?"]
    assert p["column"].fillna("").tolist() == ["lead_id", "", "first_response_at", "channel", "slot_end", "shift_end",
                                               "invoice_id", ""]
    assert p["other"].fillna("").tolist()[4:6] == ["slot_start", "shift_start"]
    assert p["action"].fillna("").tolist() == ["", "", "blanked", "set_to", "blanked", "next_day", "", ""]
    assert p["action_value"].iloc[3] == "(не указан)"


def test_describe_reasons_translates_code_and_keeps_column():
    phrases = {code: f"<{code}:{{column}}>" for code in q.REASON_CODES}
    phrases |= {"before": "{column} < {other}", "action.blanked": "cleared", "action.set_to": "set {value}",
                "action.next_day": "next day", "with_action": "{reason}; {action}"}
    reasons = pd.Series(["missing:lead_id", "empty:channel (set to (не указан))",
                         "slot_end before slot_start (blanked)", "weird"])
    assert section.describe_reasons(reasons, phrases).tolist() == [
        "<missing:lead_id>", "<empty:channel>; set (не указан)", "slot_end < slot_start; cleared", "weird"]


def test_reason_phrases_exist_in_both_catalogs():
    from audit_kit.report.i18n import Translator

    for lang in ("ru", "en"):
        phrases = section.reason_phrases(Translator(lang))
        text = section.describe_reasons(pd.Series(["invalid_number:amount", "duplicate_row",
                                             "invalid_date:paid_at (blanked)"]), phrases)
        assert "amount" in text.iloc[0] and "invalid_number" not in text.iloc[0]
        assert "paid_at" in text.iloc[2] and "blanked" not in text.iloc[2]


def test_ingest_reasons_of_hardening_are_described_in_both_languages():
    from audit_kit.report.i18n import Translator

    reasons = pd.Series(["contact_in_text:lost_reason (masked)", "name_in_text:service (masked)",
                         "phone_as_id:patient_id (hashed)", "linked_by_phone:patient_id", "mixed_encoding (re-decoded)",
                         "too_few_fields", "too_many_fields"])
    assert q.parse_reasons(reasons)["action"].fillna("").tolist() == ["masked", "masked", "hashed", "", "redecoded", "", ""]
    en = section.describe_reasons(reasons, section.reason_phrases(Translator("en"))).tolist()
    assert en[0] == "phone or e-mail in lost_reason — masked"
    assert en[3] == "patient_id found by the phone number"
    assert en[4] == "row in another text encoding than the rest of the file — decoded again"
    ru = section.describe_reasons(reasons, section.reason_phrases(Translator("ru"))).tolist()
    assert ru[2] == "patient_id — номер телефона — заменено псевдонимом"


def test_lead_links_by_id_by_phone_and_none_per_window():
    leads = canon("leads", lead_id=["1", "2", "3", "4", "5"], channel=["a"] * 5,
                  created_at=["2025-01-05", "2025-01-06", "2025-01-07", "2025-02-01", "2024-12-31"],
                  patient_id=["P1", "P2", None, "P4", None])
    leads["_patient_link"] = pd.Series(["id", "phone", "none", "id", "none"], dtype="string")
    links = q.lead_links(leads, T("2025-01-01"), T("2025-04-01"))
    # four leads in the window: 2 by id (1, 4), 1 by phone (2), 1 none (3); lead 5 is outside
    assert links["link"].tolist() == ["id", "phone", "none"]
    assert links["leads"].tolist() == [2, 1, 1]
    assert links["share"].tolist() == [0.5, 0.25, 0.25]


def test_lead_links_without_the_ingest_column_and_with_no_leads():
    leads = canon("leads", lead_id=["1", "2"], channel=["a", "a"], created_at=["2025-01-05", "2025-01-06"],
                  patient_id=["P1", None])
    assert q.lead_links(leads)["leads"].tolist() == [1, 0, 1]
    empty = q.lead_links(leads, T("2030-01-01"), T("2030-02-01"))
    assert empty["leads"].tolist() == [0, 0, 0] and empty["share"].isna().all()


def test_catalogs_have_the_same_keys():
    import yaml
    from audit_kit.report.i18n import CATALOG_DIR, _flatten

    keys = {}
    for lang in ("ru", "en"):
        flat: dict = {}
        _flatten("", yaml.safe_load((CATALOG_DIR / lang / "quality.yaml").read_text(encoding="utf-8")), flat)
        keys[lang] = set(flat)
    assert keys["ru"] == keys["en"]


def test_ledger_duplicates_counts_rejected_duplicates_only():
    reasons = pd.DataFrame({"table": ["leads", "invoices", "invoices", "bookings"],
                            "kind": ["rejected", "rejected", "rejected", "fixed"],
                            "reason": ["duplicate_row", "duplicate_id:invoice_id", "missing:amount",
                                       "duplicate_row"],
                            "rows": [3, 2, 5, 1], "example_rows": ["4, 9", "11", "2", "5"]})
    out = q.ledger_duplicates(reasons)
    assert out[["table", "kind", "rows"]].values.tolist() == [["leads", "duplicate_row", 3],
                                                             ["invoices", "duplicate_id", 2]]


# -- ID chain --------------------------------------------------------------------------------------

LEADS = canon("leads", lead_id=["L1", "L2", "L3"], created_at=["2025-01-01"] * 3, channel=["a"] * 3,
              patient_id=["P1", None, "P2"])
PATIENTS = canon("patients", patient_id=["P3"])
DOCTORS = canon("doctors", doctor_id=["D1", "D2"], specialty=["x", "y"])
BOOKINGS = canon(
    "bookings", booking_id=["B1", "B2", "B3", "B4", "B5"], patient_id=["P1", "P2", "P3", "P4", "P1"],
    doctor_id=["D1", "D1", "D9", "D2", "D1"],
    slot_start=["2025-01-10 10:00", "2025-01-11 10:00", "2025-02-03 09:00", "2025-02-04 09:00", "2025-01-10 10:00"],
    status=["completed", "completed", "completed", "no_show", "cancelled"],
    lead_id=["L1", "L9", None, "L8", "L1"])
VISITS = canon("visits", visit_id=["V1", "V2", "V3", "V4"], patient_id=["P1", "P2", "P3", "P5"],
               checked_in_at=["2025-01-10 09:55", "2025-01-11 10:02", "2025-02-03 08:58", "2025-02-20 12:00"],
               booking_id=["B1", "B2", "B77", None])
INVOICES = canon("invoices", invoice_id=["I1", "I2", "I3", "I4", "I5", "I6"],
                 patient_id=["P1", "P2", "P3", "P6", "P6", "P7"],
                 paid_at=["2025-01-10 10:30", "2025-01-11 10:40", "2025-02-03 09:40", "2025-02-05 11:00",
                          "2025-02-05 11:00", "2025-02-06 12:00"],
                 amount=[3000.0, 2000.0, 1500.0, 1000.0, 1000.0, -500.0],
                 visit_id=["V1", "V2", None, "V99", None, None])


def test_id_chain_masks():
    # B2 (L9) and B4 (L8) point at leads that do not exist; B3 has no lead_id -> not counted.
    assert q.bookings_lead_missing(BOOKINGS, LEADS).tolist() == [False, True, False, True, False]
    # V3 points at unknown B77, V4 has no booking.
    assert q.visits_without_booking(VISITS, BOOKINGS).tolist() == [False, False, True, True]
    # I3, I5, I6 have no visit_id, I4 points at unknown V99.
    assert q.invoices_without_visit(INVOICES, VISITS).tolist() == [False, False, True, True, True, True]
    # B3's doctor D9 is not in doctors.
    assert q.bookings_unknown_doctor(BOOKINGS, DOCTORS).tolist() == [False, False, True, False, False]
    # Paying (amount > 0): P1, P2, P3, P6; CRM knows P1, P2 (leads) and P3 (patients) -> P6. P7 only has a refund.
    assert q.paid_patients_not_in_crm(INVOICES, LEADS, PATIENTS).tolist() == ["P6"]
    assert q.paid_patients_not_in_crm(INVOICES, LEADS, None).tolist() == ["P3", "P6"]


def test_id_chain_table_shares_amounts_and_examples():
    tables = {"leads": LEADS, "patients": PATIENTS, "doctors": DOCTORS, "bookings": BOOKINGS, "visits": VISITS,
              "invoices": INVOICES}
    out = q.id_chain(tables).set_index("check")
    # bookings with a lead_id: B1, B2, B4, B5 = 4; broken B2, B4 -> 2/4.
    assert out.loc["bookings_lead_missing", ["checked", "broken"]].tolist() == [4, 2]
    assert out.loc["bookings_lead_missing", "share"] == 0.5
    assert out.loc["bookings_lead_missing", "examples"] == "B2, B4"
    assert out.loc["visits_without_booking", ["checked", "broken"]].tolist() == [4, 2]
    # unlinked invoices I3..I6: 1500 + 1000 + 1000 − 500 = 3000 net.
    assert out.loc["invoices_without_visit", ["checked", "broken", "amount"]].tolist() == [6, 4, 3000.0]
    assert out.loc["paid_patients_not_in_crm", ["checked", "broken", "examples"]].tolist() == [4, 1, "P6"]
    assert out.loc["bookings_unknown_doctor", ["checked", "broken", "examples"]].tolist() == [5, 1, "B3"]
    # February only (by slot_start / checked_in_at / paid_at): B3 (no lead), B4 (broken) -> 1/1;
    # visits V3, V4 both broken; invoices I3..I6 all unlinked.
    feb = q.id_chain(tables, start=T("2025-02-01"), end=T("2025-03-01")).set_index("check")
    assert feb.loc["bookings_lead_missing", ["checked", "broken"]].tolist() == [1, 1]
    assert feb.loc["visits_without_booking", "share"] == 1.0
    assert feb.loc["invoices_without_visit", ["checked", "broken"]].tolist() == [4, 4]
    # Missing tables skip their checks; a window with no rows has no share.
    only = q.id_chain({"bookings": BOOKINGS, "leads": LEADS}, start=T("2030-01-01"))
    assert only["check"].tolist() == ["bookings_lead_missing"] and math.isnan(only["share"].iloc[0])


def test_id_chains_are_each_period_s_id_chain():
    tables = {"leads": LEADS, "patients": PATIENTS, "doctors": DOCTORS, "bookings": BOOKINGS, "visits": VISITS,
              "invoices": INVOICES}
    periods = {"jan": (T("2025-01-01"), T("2025-02-01")), "feb": (T("2025-02-01"), T("2025-03-01"))}
    out = q.id_chains(tables, periods)
    assert out["period"].tolist() == ["jan"] * 5 + ["feb"] * 5
    for name, (start, end) in periods.items():
        pd.testing.assert_frame_equal(out.loc[out["period"].eq(name)].drop(columns="period").reset_index(drop=True),
                                      q.id_chain(tables, start=start, end=end))
    feb = out.loc[out["period"].eq("feb")].set_index("check")
    assert feb.loc["invoices_without_visit", ["checked", "broken", "amount"]].tolist() == [4, 4, 3000.0]


def test_first_distinct_takes_the_first_ids_of_the_rows():
    ids = pd.Series(["A", None, "B", "A", "C", "D"] * 50, dtype="string")
    assert q.first_distinct(ids, np.arange(300), 3) == "A, B, C"
    assert q.first_distinct(ids, np.array([3, 4, 299]), 5) == "A, C, D"
    assert q.first_distinct(ids, np.array([], dtype=np.int64), 5) == ""


# -- reconciliation --------------------------------------------------------------------------------

def test_paid_visits_by_visit_id_or_patient_day_netting_refunds():
    inv = canon("invoices", invoice_id=["a", "b", "c", "d", "e", "f"], patient_id=["P1", "P1", "P2", "P2", "P3", "P3"],
                paid_at=["2025-01-05 10:00", "2025-01-05 10:30", "2025-01-06 09:00", "2025-01-06 18:00",
                         "2025-01-07 10:00", "2025-01-08 10:00"],
                amount=[1000.0, 500.0, 800.0, 200.0, 700.0, -700.0],
                visit_id=["V1", "V1", None, None, "V3", "V3"])
    # V1: two invoices, one visit (1500); P2 on Jan 6 without visit_id: one patient-day (1000);
    # V3 paid and fully refunded: net 0 -> not a paid visit. -> 2 paid visits.
    out = q.paid_visits(inv)
    assert sorted(out["amount"].tolist()) == [1000.0, 1500.0]
    assert out.loc[out["amount"] == 1500.0, "paid_at"].iloc[0] == T("2025-01-05 10:00")
    # Average check = net 2500 / 2 paid visits.
    assert q.average_check(inv) == 1250.0


def test_monthly_counts_and_mismatch_flag():
    # Completed by slot month: Jan B1, B2 = 2; Feb B3 = 1. Visits: Jan 2, Feb 2.
    # Paid visits: V1, V2 (Jan); patient-days P3 Feb 3, P6 Feb 5 and V99 (Feb); P7's refund alone is not one.
    counts = q.monthly_counts(BOOKINGS, VISITS, INVOICES)
    assert counts.index.tolist() == [T("2025-01-01"), T("2025-02-01")]
    assert counts["completed_bookings"].tolist() == [2, 1]
    assert counts["visits"].tolist() == [2, 2]
    assert counts["paid_visits"].tolist() == [2, 3]
    rec = q.reconcile_months(counts)
    # Jan all 2 -> gap 0; Feb (3 − 1) / 3 = 0.667 -> flagged.
    assert rec["gap"].round(3).tolist() == [0.0, 0.667]
    assert rec["mismatch"].tolist() == [False, True]
    assert q.months_mismatched(rec, T("2025-01-01"), T("2025-04-01")) == 1
    assert q.months_mismatched(rec, T("2025-01-01"), T("2025-02-01")) == 0


def test_reconcile_140_vs_120_is_flagged_and_11_percent_rule():
    counts = pd.DataFrame({"completed_bookings": [140.0, 100.0, 100.0], "visits": [120.0, 91.0, 89.0],
                           "paid_visits": [np.nan] * 3},
                          index=pd.DatetimeIndex(["2025-01-01", "2025-02-01", "2025-03-01"], name="month"))
    rec = q.reconcile_months(counts)
    # 20/140 = 14.3 % > 10 %; 9/100 = 9 % (kept); 11/100 = 11 % (flagged). Absent invoices are ignored.
    assert rec["gap"].round(4).tolist() == [0.1429, 0.09, 0.11]
    assert rec["mismatch"].tolist() == [True, False, True]
    # A single system cannot be reconciled.
    alone = q.reconcile_months(counts.assign(visits=np.nan))
    assert alone["gap"].isna().all() and not alone["mismatch"].any()
    assert q.months_mismatched(alone, T("2025-01-01"), T("2025-04-01")) is None


def test_monthly_counts_use_the_shared_span_and_fill_empty_months():
    # Bookings Jan..Apr (none in Mar), visits Feb..May: shared span Feb..Apr; March counts 0 bookings.
    b = canon("bookings", booking_id=["1", "2", "3", "4"], patient_id=["p"] * 4, doctor_id=["d"] * 4,
              slot_start=["2025-01-05", "2025-02-05", "2025-04-05", "2025-04-06"], status=["completed"] * 4)
    v = canon("visits", visit_id=["a", "b", "c", "d"], patient_id=["p"] * 4,
              checked_in_at=["2025-02-05", "2025-03-07", "2025-04-05", "2025-05-01"])
    counts = q.monthly_counts(bookings=b, visits=v)
    assert counts.index.tolist() == [T("2025-02-01"), T("2025-03-01"), T("2025-04-01")]
    assert counts["completed_bookings"].tolist() == [1, 0, 2]
    assert counts["visits"].tolist() == [1, 1, 1]
    assert counts["paid_visits"].isna().all()


def test_unpaid_completed_sums_positive_monthly_gaps_only():
    rec = pd.DataFrame({"month": pd.to_datetime(["2025-01-01", "2025-02-01", "2025-03-01"]),
                        "completed_bookings": [140.0, 100.0, 90.0], "visits": [np.nan] * 3,
                        "paid_visits": [120.0, 105.0, 85.0]})
    # Jan 20, Feb −5 -> 0 (no netting across months), Mar 5 -> 25.
    assert q.unpaid_completed(rec, T("2025-01-01"), T("2025-04-01")) == 25.0
    assert q.unpaid_completed(rec, T("2025-02-01"), T("2025-03-01")) == 0.0
    assert math.isnan(q.unpaid_completed(rec.assign(paid_visits=np.nan), T("2025-01-01"), T("2025-04-01")))


# -- duplicates & refunds --------------------------------------------------------------------------

def test_near_duplicates_in_bookings_and_invoices():
    # B5 repeats B1's patient P1 + doctor D1 + 2025-01-10 10:00 -> 1 extra booking.
    assert q.near_duplicates(BOOKINGS, ["patient_id", "doctor_id", "slot_start"]).tolist() == [
        False, False, False, False, True]
    # I5 repeats I4: P6 + 2025-02-05 11:00 + 1000 -> 1 extra invoice worth 1000.
    # duplicates() looks at bookings holding their slot, so B5 is made a no-show here (it is cancelled in BOOKINGS).
    kept = BOOKINGS.assign(status=BOOKINGS["status"].mask(BOOKINGS["booking_id"].eq("B5"), "no_show"))
    out = q.duplicates({"bookings": kept, "invoices": INVOICES}, REASONS).set_index(["table", "kind"])
    assert out.loc[("bookings", "near_duplicate"), "rows"] == 1
    assert out.loc[("bookings", "near_duplicate"), "example_ids"] == "B5"
    assert out.loc[("bookings", "near_duplicate"), "example_rows"] == "6"
    assert out.loc[("invoices", "near_duplicate"), ["rows", "amount", "example_ids"]].tolist() == [1, 1000.0, "I5"]
    # Found once and shared (the module does so), the same table; and by ingest's keys, the same rows.
    from audit_kit.ingest.keys import add_keys

    shared = q.near_duplicate_rows({"bookings": kept, "invoices": INVOICES})
    assert shared["bookings"].tolist() == [False, False, False, False, True] and shared["invoices"].sum() == 1
    pd.testing.assert_frame_equal(q.duplicates({"bookings": kept, "invoices": INVOICES}, REASONS, near_rows=shared)
                                  .set_index(["table", "kind"]), out)
    keyed = add_keys({"bookings": kept, "invoices": INVOICES})
    assert "patient_key" in keyed["bookings"]
    assert q.near_duplicate_rows(keyed)["bookings"].tolist() == shared["bookings"].tolist()
    # The ledger's duplicate_row for leads is carried over.
    assert out.loc[("leads", "duplicate_row"), "rows"] == 1
    cancelled = q.duplicates({"bookings": BOOKINGS}).set_index("kind")
    assert cancelled.loc["near_duplicate", "rows"] == 0
    # B5 is cancelled: it freed the slot, so among active bookings B1 has no duplicate.
    assert not q.near_duplicates(BOOKINGS, ["patient_id", "doctor_id", "slot_start"],
                                 q.active_bookings(BOOKINGS)).any()
    assert q.active_bookings(BOOKINGS).tolist() == [True, True, True, True, False]
    # A missing key value never makes a duplicate.
    partial = canon("bookings", booking_id=["1", "2"], patient_id=[None, None], doctor_id=["d", "d"],
                    slot_start=["2025-01-01", "2025-01-01"], status=["completed"] * 2)
    assert not q.near_duplicates(partial, ["patient_id", "doctor_id", "slot_start"]).any()


def test_refunds_counts_netted_negatives_and_orphans():
    # One refund (I6, −500) in February; gross Feb = 1500 + 1000 + 1000 = 3500; P7 never paid -> orphan.
    r = q.refunds(INVOICES, T("2025-02-01"), T("2025-03-01"))
    assert r == {"refunds": 1, "refund_amount": 500.0, "gross": 3500.0, "refund_share": 500 / 3500,
                 "orphan_refunds": 1}
    jan = q.refunds(INVOICES, T("2025-01-01"), T("2025-02-01"))
    assert jan["refunds"] == 0 and jan["refund_share"] == 0.0


# -- coverage --------------------------------------------------------------------------------------

def test_date_coverage_spans_gaps_and_period_coverage():
    # Visits: Nov 2024, Jan 2025, Feb 2025, one row in Jun 2025 -> span Nov..Jun = 8 months, 4 covered,
    # Dec, Mar, Apr, May empty. Periods base Oct–Dec 2024 (Oct, Nov, Dec -> 1 of 3 covered) and current
    # Jan–Mar 2025 (2 of 3). The June row is outside both periods.
    v = canon("visits", visit_id=["1", "2", "3", "4", "5"], patient_id=["p"] * 5,
              checked_in_at=["2024-11-15", "2025-01-02", "2025-02-28 23:00", "2025-02-01", "2025-06-10"])
    periods = {"base": (T("2024-10-01"), T("2025-01-01")), "current": (T("2025-01-01"), T("2025-04-01"))}
    cov = q.date_coverage({"visits": v, "doctors": DOCTORS}, periods)
    assert cov["table"].tolist() == ["visits"]       # doctors carry no date
    row = cov.iloc[0]
    assert row["first"] == T("2024-11-15") and row["last"] == T("2025-06-10")
    assert (row["months_covered"], row["months_in_span"], row["empty_months"]) == (4, 8, 4)
    assert row["missing_months"] == "2024-12, 2025-03, 2025-04, 2025-05"
    assert row["rows_outside"] == 1
    assert row["base_coverage"] == pytest.approx(1 / 3) and row["current_coverage"] == pytest.approx(2 / 3)
    gaps = q.coverage_gaps(cov, ["base", "current"])
    assert gaps["table"].tolist() == ["visits"]
    full = q.date_coverage({"visits": v.iloc[[1, 2]]}, {"current": (T("2025-01-01"), T("2025-03-01"))})
    assert full["current_coverage"].iloc[0] == 1.0 and full["empty_months"].iloc[0] == 0
    assert q.coverage_gaps(full, ["current"]).empty


def test_ledger_rejections_exclude_duplicates_and_near_duplicate_amount_by_window():
    reasons = pd.DataFrame({"table": ["leads", "leads", "invoices", "invoices"],
                            "kind": ["rejected", "rejected", "rejected", "fixed"],
                            "reason": ["duplicate_row", "missing:lead_id", "invalid_number:amount",
                                       "invalid_date:paid_at (blanked)"],
                            "rows": [3, 1, 4, 9], "example_rows": ["", "", "", ""]})
    # Not duplicates and not fixes: invalid_number (4) then missing (1).
    assert q.ledger_rejections(reasons)["reason"].tolist() == ["invalid_number:amount", "missing:lead_id"]
    # I5 (1000, 2025-02-05) repeats I4: counted in February, not in January.
    assert q.near_duplicate_amount(INVOICES, T("2025-02-01"), T("2025-03-01")) == 1000.0
    assert q.near_duplicate_amount(INVOICES, T("2025-01-01"), T("2025-02-01")) == 0.0


def test_ledger_overview_reads_the_ingest_ledger_object():
    from audit_kit.ingest.ledger import Ledger, TableLedger

    # bookings: 5 read, 1 rejected (missing:patient_id), 1 fixed (slot_end before slot_start) -> balanced.
    led = Ledger({"bookings": TableLedger("bookings", "b.csv", read=5, used=4, fixed=1, rejected=1,
                                          reasons={"missing:patient_id": 1},
                                          fixes={"slot_end before slot_start (blanked)": 1},
                                          examples={"missing:patient_id": [3]})})
    out = q.ledger_overview(led.frame(), led.reasons_frame())
    assert out[["table", "read", "used", "fixed", "rejected", "balanced"]].values.tolist() == [
        ["bookings", 5, 4, 1, 1, True]]
    assert out["reject_rate"].iloc[0] == 0.2
    assert q.ledger_rejections(led.reasons_frame())["example_rows"].tolist() == ["3"]


def test_coverage_gaps_never_judge_patient_registrations():
    # Registrations in Jan 2019 and Dec 2024: span of 72 months, 2 with rows -> 70 empty, normal for a patient list.
    patients = canon("patients", patient_id=["p1", "p2"], created_at=["2019-01-10", "2024-12-05"])
    periods = {"current": (T("2025-01-01"), T("2025-04-01"))}
    cov = q.date_coverage({"patients": patients}, periods)
    assert cov["empty_months"].iloc[0] == 70 and cov["current_coverage"].iloc[0] == 0.0
    assert q.coverage_gaps(cov, ["current"]).empty
    # An empty reconciliation cannot count mismatched months.
    empty = q.reconcile_months(q.monthly_counts())
    assert empty.empty and q.months_mismatched(empty, T("2025-01-01"), T("2025-04-01")) is None


def test_event_order_counts_impossible_times_and_keeps_the_rows():
    from audit_kit.ingest.ledger import Ledger, TableLedger

    bookings = canon("bookings", booking_id=["B1", "B2", "B3"], patient_id=["P1", "P1", "P2"],
                     doctor_id=["D1"] * 3, status=["completed"] * 3,
                     slot_start=["2025-01-10 10:00", "2025-01-10 11:00", "2025-01-12 09:00"],
                     created_at=["2025-01-05 09:00", "2025-01-11 08:00", "2025-01-12 08:30"])
    visits = canon("visits", visit_id=["V1", "V2", "V3"], patient_id=["P1", "P1", "P2"],
                   booking_id=["B1", "B2", "B3"], started_at=["2025-01-10 10:05", None, "2025-01-12 09:00"],
                   checked_in_at=["2025-01-04 09:55", "2025-01-10 10:50", "2025-01-12 08:50"])
    ledger = Ledger({"visits": TableLedger("visits", "v.csv", fixes={"ended_at before started_at (blanked)": 1},
                                           examples={"ended_at before started_at (blanked)": [4]})})
    out = q.event_order({"bookings": bookings, "visits": visits}, ledger).set_index("check")
    # B2 booked on the 11th for a slot on the 10th; V1 checked in on the 4th for a booking made on the 5th;
    # V2's booking (B2) was made after the check-in too
    assert out.loc["booked_after_slot", ["checked", "rows", "example_rows"]].tolist() == [3, 1, "3"]
    assert out.loc["checkin_before_booking", ["checked", "rows", "example_rows"]].tolist() == [3, 2, "2, 3"]
    assert out.loc["visit_ends_before_start", ["checked", "rows", "example_rows"]].tolist() == [2, 1, "4"]
    assert out.loc["booked_after_slot", "share"] == pytest.approx(1 / 3)


def test_ledger_files_shown_capped_for_a_network():
    """A network's payments table read from 5 files: the report names the first 3 and says how many more;
    a table of one file keeps its name; the ledger (workbook) keeps every file."""
    from audit_kit.modules.quality import files_shown
    from audit_kit.report.fmt import Formatter
    from audit_kit.report.i18n import Translator

    files = pd.Series(["p1.csv, p2.csv, p3.csv, p4.csv, p5.csv", "leads.csv"])
    shown = files_shown(files, Formatter("ru", "RUB"), Translator("ru"))
    assert shown.tolist() == ["p1.csv, p2.csv, p3.csv и ещё 2 — полный список в таблицах", "leads.csv"]
    assert files_shown(files, Formatter("en", "RUB"), Translator("en"), n=4).iloc[0] == (
        "p1.csv, p2.csv, p3.csv, p4.csv and 1 more — the full list is in the tables")


def test_lead_stages_count_each_stage_most_frequent_first():
    # «Новая» twice (open), «Отказ» and «Успешно» once each (ties: by name), a lead without a stage left out;
    # «Новая» and «Отказ» are mapped (their normalised names are known), «Успешно» is not
    leads = pd.DataFrame({"status": pd.array(["Новая", "Успешно", "Новая", None, "Отказ"], dtype="string"),
                          "outcome": pd.array(["open", "won", "open", "open", "lost"], dtype="string")})
    out = q.lead_stages(leads, {"новая": "open", "отказ": "lost"})
    assert out.to_dict("list") == {"status": ["Новая", "Отказ", "Успешно"], "outcome": ["open", "lost", "won"],
                                   "leads": [2, 1, 1], "mapped": [True, True, False]}
    coded = leads.astype({"status": "category", "outcome": "category"})       # read as categories: the same table
    pd.testing.assert_frame_equal(q.lead_stages(coded, {"новая": "open", "отказ": "lost"}), out)
    assert q.lead_stages(leads.assign(outcome=pd.NA), {}).empty
