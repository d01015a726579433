"""The shared patient definitions (DESIGN §4): visit, acquired patient, first and last touch, months, CAC."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from audit_kit.ingest.keys import add_keys
from audit_kit.metrics import channels, patients as pt

from helpers import canon

T = pd.Timestamp

INVOICES = canon(
    "invoices",
    invoice_id=["i1", "i2", "i3", "i4", "i5", "i6", "i7", "i8", "i9"],
    patient_id=["P1", "P1", "P1", "P2", "P2", "P3", "P4", "P4", "P1"],
    paid_at=["2025-01-05 10:00", "2025-01-05 11:00", "2025-01-05 15:00", "2025-01-10 09:00", "2025-01-20 09:00",
             "2025-02-01 12:00", "2025-02-03 10:00", "2025-02-03 16:00", "2025-03-01 10:00"],
    amount=[1000.0, 500.0, 0.0, -300.0, 800.0, -500.0, 2000.0, -2000.0, 700.0],
    visit_id=["V1", "V1", None, None, None, None, "V9", "V9", None],
)
# P1: V1 (two rows) + a free patient-day on Jan 5 without visit_id + a patient-day on Mar 1 -> 3 visits.
# P2: a refund on Jan 10 (no visit) and a paid day on Jan 20 -> 1 visit, acquired Jan 20.
# P3: a refund only -> no visit, never acquired.
# P4: V9 paid and refunded the same day -> 1 visit (the row with amount >= 0 makes it), net 0.


class TestVisits:
    def test_codes_group_by_visit_id_else_patient_day(self):
        code = pt.visit_codes(INVOICES)
        assert code[0] == code[1]                 # same visit_id
        assert code[2] != code[0]                 # same patient and day, but no visit_id: its own patient-day
        assert code[6] == code[7]
        assert len(set(code.tolist())) == 7       # V1, P1-Jan5, P2-Jan10, P2-Jan20, P3-Feb1, V9, P1-Mar1

    def test_visits_count_free_visits_and_skip_refund_only_keys(self):
        v = pt.visits(INVOICES)
        assert v.groupby("patient_id").size().to_dict() == {"P1": 3, "P2": 1, "P4": 1}
        p1 = v.loc[v["patient_id"] == "P1"]
        assert p1["visited_at"].tolist() == [T("2025-01-05 10:00"), T("2025-01-05 15:00"), T("2025-03-01 10:00")]
        assert p1["amount"].tolist() == [1500.0, 0.0, 700.0]
        assert p1["invoice_row"].tolist() == [0, 2, 8]           # each visit's earliest invoice
        assert v.loc[v["patient_id"] == "P4", "amount"].tolist() == [0.0]

    def test_as_of_is_inclusive_and_drops_later_invoices(self):
        v = pt.visits(INVOICES, as_of=T("2025-02-28"))
        assert v.groupby("patient_id").size().to_dict() == {"P1": 2, "P2": 1, "P4": 1}
        assert len(pt.visits(INVOICES, as_of=T("2025-03-01"))) == 5
        later = pt.visits(INVOICES.iloc[3:], as_of=T("2025-03-01"))     # positions in the invoices given
        assert later.loc[later["patient_id"] == "P1", "invoice_row"].tolist() == [5]

    def test_codes_given_once_serve_every_as_of(self):
        """The grouping of the whole table, passed in, gives each as-of date's visits exactly."""
        codes = pt.visit_and_patient_codes(INVOICES)
        for as_of in (None, T("2025-01-05"), T("2025-02-28"), T("2024-12-31")):
            pd.testing.assert_frame_equal(pt.visits(INVOICES, as_of, codes), pt.visits(INVOICES, as_of))
        v = pt.visits(INVOICES, T("2025-01-31"), codes)
        assert v["patient_id"].tolist() == ["P1", "P1", "P2"] and v["invoice_row"].tolist() == [0, 2, 4]
        assert v["amount"].tolist() == [1500.0, 0.0, 800.0]
        assert len(pt.visits(INVOICES, T("2024-12-31"), codes)) == 0


class TestAcquisition:
    def test_first_invoice_with_amount_at_least_zero(self):
        acq = pt.acquisitions(INVOICES).set_index("patient_id")["acquired_at"]
        assert acq.to_dict() == {"P1": T("2025-01-05 10:00"), "P2": T("2025-01-20 09:00"), "P4": T("2025-02-03 10:00")}

    def test_free_first_visit_acquires(self):
        inv = canon("invoices", invoice_id=["a", "b"], patient_id=["P9", "P9"],
                    paid_at=["2025-01-02", "2025-02-02"], amount=[0.0, 900.0])
        assert pt.acquisitions(inv)["acquired_at"].tolist() == [T("2025-01-02")]

    def test_acquired_in_period(self):
        acq = pt.acquisitions(INVOICES)
        jan = pt.acquired_in(acq, T("2025-01-01"), T("2025-02-01"))
        assert jan["patient_id"].tolist() == ["P1", "P2"]


class TestTouches:
    ACQ = pd.DataFrame({"patient_id": pd.Series(["A", "B", "C", "D", "E"], dtype="string"),
                        "acquired_at": pd.to_datetime(["2025-01-10", "2025-01-10", "2025-01-10", "2025-01-10",
                                                       "2025-01-10"]).astype("datetime64[ns]")})
    LEADS = canon("leads", lead_id=["l1", "l2", "l3", "l4", "l5", "l6"],
                  created_at=["2025-01-01", "2025-01-05", "2025-01-03", "2025-01-20", "2025-01-02", "2025-01-01"],
                  channel=["SEO", "Контекст", "Повторные", "SMM", "SMM", "Контекст"],
                  patient_id=["A", "A", "B", "B", "E", None])
    PATIENTS = canon("patients", patient_id=["B", "C", "A"], first_channel=["Рекомендации", "Агрегаторы", "SMM"])

    def test_first_and_last_touch_with_fallbacks(self):
        out = pt.touches(self.ACQ, self.LEADS, self.PATIENTS, repeat_channels=["Повторные"]).set_index("patient_id")
        # A: SEO first, Контекст last (both before acquisition); first_channel is only a fall-back.
        assert (out.loc["A", "first_touch"], out.loc["A", "last_touch"]) == ("SEO", "Контекст")
        # B: the repeat lead is skipped; SMM came after acquisition -> first touch SMM, last touch falls back.
        assert (out.loc["B", "first_touch"], out.loc["B", "last_touch"]) == ("SMM", "Рекомендации")
        # C: no lead -> patients.first_channel; D: nothing at all -> unknown.
        assert (out.loc["C", "first_touch"], out.loc["C", "last_touch"]) == ("Агрегаторы", "Агрегаторы")
        assert (out.loc["D", "first_touch"], out.loc["D", "last_touch"]) == (pt.UNKNOWN_CHANNEL, pt.UNKNOWN_CHANNEL)
        assert (out.loc["E", "first_touch"], out.loc["E", "last_touch"]) == ("SMM", "SMM")

    def test_without_leads_or_patients(self):
        out = pt.touches(self.ACQ)
        assert set(out["first_touch"]) == {pt.UNKNOWN_CHANNEL} and set(out["last_touch"]) == {pt.UNKNOWN_CHANNEL}


def test_cac_and_ratios_never_divide_by_zero():
    assert channels.cac(10_000, 4) == 2500.0
    assert np.isnan(channels.cac(10_000, 0)) and np.isnan(channels.cac(np.nan, 4))
    out = channels.cac(pd.Series([9000.0, 5000.0, np.nan]), pd.Series([3, 0, 2]))
    assert out.iloc[0] == 3000.0 and out.iloc[1:].isna().all()


def test_spend_summed_by_month_and_window():
    spend = canon("marketing_spend", month=["2025-01-01", "2025-01-01", "2025-02-01", "2025-04-01", "2025-01-01"],
                  channel=["SMM", "SMM", "SMM", "SMM", "Контекст"], spend=[100.0, 50.0, 70.0, 999.0, None])
    monthly = channels.monthly_spend(spend)
    assert monthly.loc[monthly["channel"] == "SMM", "spend"].tolist() == [150.0, 70.0, 999.0]
    window = channels.spend_by_channel(spend, T("2025-01-01"), T("2025-04-01"))
    assert window.to_dict() == {"SMM": 220.0}


def test_existing_patients_are_not_acquired():
    # The export's first payment is Jan 5. X registered in 2020 (before the export, years before its first
    # payment): existing. Y registered before the export but only 20 days before its first payment (booked
    # ahead): new. Z registered long before its first payment but after the export began: new.
    inv = canon("invoices", invoice_id=["a", "b", "c"], patient_id=["X", "Y", "Z"],
                paid_at=["2025-01-05", "2025-01-10", "2025-06-01"], amount=[100.0, 200.0, 300.0])
    reg = canon("patients", patient_id=["X", "Y", "Z"], created_at=["2020-03-01", "2024-12-21", "2025-01-06"])
    acquired, positions, existing = pt.acquisition_rows(inv, reg)
    assert acquired["patient_id"].tolist() == ["Y", "Z"] and existing == 1
    assert positions.tolist() == [-1, 0, 1]
    assert pt.acquisitions(inv, reg)["patient_id"].tolist() == ["Y", "Z"]
    assert pt.acquisitions(inv)["patient_id"].tolist() == ["X", "Y", "Z"]          # without registration dates
    assert pt.existing_patients(pt.acquisitions(inv), reg, T("2025-01-05")).tolist() == [True, False, False]
    # As a run folder holds them (ingest's keys; W is registered twice, the earliest date counts): the same.
    from audit_kit.ingest.keys import add_keys

    reg2 = canon("patients", patient_id=["X", "Y", "Z", "W", "W", None],
                 created_at=["2020-03-01", "2024-12-21", "2025-01-06", "2024-12-30", "2019-01-01", "2019-01-01"])
    inv2 = canon("invoices", invoice_id=["a", "b", "c", "d"], patient_id=["X", "Y", "Z", "W"],
                 paid_at=["2025-01-05", "2025-01-10", "2025-06-01", "2025-02-01"], amount=[100.0, 200.0, 300.0, 50.0])
    keyed = add_keys({"invoices": inv2, "patients": reg2})
    plain_rows, keyed_rows = pt.acquisition_rows(inv2, reg2), pt.acquisition_rows(keyed["invoices"], keyed["patients"])
    assert plain_rows[0]["patient_id"].tolist() == ["Y", "Z"] and plain_rows[2] == 2          # W: 2019, existing
    pd.testing.assert_frame_equal(keyed_rows[0], plain_rows[0])
    assert keyed_rows[1].tolist() == plain_rows[1].tolist() and keyed_rows[2] == plain_rows[2]


def test_data_end_is_the_latest_payment_for_every_module():
    from audit_kit.metrics import cohorts

    assert pt.data_end(INVOICES) == T("2025-03-01 10:00")
    assert channels.data_end is pt.data_end and cohorts.data_end is pt.data_end      # one definition
    assert pd.isna(pt.data_end(INVOICES.iloc[:0]))


def test_visits_at_the_same_second_keep_table_order():
    """V6 is seen first (a refund, which makes no visit), but V7's paid row comes first in the table."""
    inv = canon("invoices", invoice_id=["i1", "i2", "i3"], patient_id=["B", "B", "B"],
                paid_at=["2025-01-05 09:00", "2025-01-05 09:00", "2025-01-05 09:00"],
                amount=[-100.0, 700.0, 900.0], visit_id=["V6", "V7", "V6"])
    v = pt.visits(inv)
    assert v["invoice_row"].tolist() == [1, 2] and v["amount"].tolist() == [700.0, 800.0]


def test_ingest_keys_give_the_same_results_as_keys_made_on_the_fly():
    """Keys shared with other tables (codes not consecutive within the invoices) group alike."""
    other = pd.DataFrame({"patient_id": pd.array(["Z9", "Y8", "A"], dtype="string"),
                          "visit_id": pd.array(["W1", None, "W2"], dtype="string")})
    keyed = add_keys({"visits": other, "invoices": INVOICES})["invoices"]
    assert "patient_key" in keyed and keyed["patient_key"].dtype == np.int32
    pd.testing.assert_frame_equal(pt.visits(keyed), pt.visits(INVOICES))
    pd.testing.assert_frame_equal(pt.visits(keyed, as_of=T("2025-02-01")), pt.visits(INVOICES, as_of=T("2025-02-01")))
    keyed_rows, plain_rows = pt.acquisition_rows(keyed), pt.acquisition_rows(INVOICES)
    pd.testing.assert_frame_equal(keyed_rows[0], plain_rows[0])
    assert keyed_rows[1].tolist() == plain_rows[1].tolist() and keyed_rows[2] == plain_rows[2]



def test_home_branch_is_the_branch_of_most_visits():
    """p1: 2 visits in B, 1 in A -> B. p2: 1 in A, 1 in B -> a tie, the first branch: A. p3: a no-show in A
    only -> no home. p4: a visit after the as-of day in A and one before in B -> B as of 2024-02-01.
    One branch, or no branch column: None."""
    from audit_kit.metrics.patients import home_branch

    b = pd.DataFrame({"patient_id": ["p1", "p1", "p1", "p2", "p2", "p3", "p4", "p4", "p4"],
                      "branch_id": ["B", "A", "B", "B", "A", "A", "A", "A", "B"],
                      "status": ["completed"] * 5 + ["no_show"] + ["completed"] * 3,
                      "slot_start": pd.to_datetime(["2024-01-05"] * 6 + ["2024-03-01", "2024-03-02", "2024-01-10"])})
    assert home_branch(b).to_dict() == {"p1": "B", "p2": "A", "p4": "A"}
    assert home_branch(b, pd.Timestamp("2024-02-01")).to_dict() == {"p1": "B", "p2": "A", "p4": "B"}
    keyed = b.assign(patient_key=[0, 0, 0, 1, 1, 2, 3, 3, 3])                      # ingest's keys: the same answer
    assert home_branch(keyed).to_dict() == {"p1": "B", "p2": "A", "p4": "A"}
    assert home_branch(b.assign(branch_id="A")) is None and home_branch(b.drop(columns=["branch_id"])) is None
    # the branch read as categories (not in sorted order; a missing branch): the tie still goes to A
    coded = b.assign(branch_id=pd.Categorical(["B", "A", "B", "B", "A", "A", "A", None, "B"], categories=["B", "A"]))
    assert home_branch(coded).to_dict() == {"p1": "B", "p2": "A", "p4": "A"}


def test_stable_order_is_numpy_s_stable_argsort():
    rng = np.random.default_rng(3)
    for key in (rng.integers(0, 50, 2000), rng.integers(0, 10**12, 2000), np.zeros(7, np.int64), np.array([], np.int64),
                np.array([5, 3, 5, 3, 1])):
        key = key.astype(np.int64)
        assert pt.stable_order(key).tolist() == np.argsort(key, kind="stable").tolist()
    assert pt.stable_order(np.array([5, 3, 5, 3, 1], np.int64)).tolist() == [4, 1, 3, 0, 2]
