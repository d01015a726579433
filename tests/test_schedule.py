"""Module 03 (schedule utilisation): every definition pinned on tiny hand-computed tables.

The last test runs the notebook once on a hand-computed two-doctor month
(tests/fixtures/schedule_two_doctors) and checks metrics.json and findings.json.
"""
from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import canon

from audit_kit.metrics import schedule as sc
from audit_kit.modules import schedule as section

T = pd.Timestamp
REPO = Path(__file__).resolve().parent.parent
FIXTURE = Path(__file__).resolve().parent / "fixtures" / "schedule_two_doctors"




def by_doctor(df: pd.DataFrame) -> pd.DataFrame:
    return df.set_index("doctor_id")


# -- slot length ---------------------------------------------------------------------------------

def test_slot_minutes_prefers_given_then_slot_end_then_default():
    # b1: slot_minutes 45 -> 45 (slot_end ignored); b2: no minutes, 09:00-09:40 -> 40;
    # b3: nothing -> default 20; b4: slot_minutes 0 (not positive) and end before start -> default 20.
    b = canon("bookings", booking_id=["b1", "b2", "b3", "b4"], doctor_id=["d"] * 4, patient_id=["p"] * 4,
              status=["completed"] * 4,
              slot_start=["2025-01-06 09:00"] * 4,
              slot_end=["2025-01-06 10:00", "2025-01-06 09:40", None, "2025-01-06 08:00"],
              slot_minutes=[45, None, None, 0])
    assert sc.slot_minutes(b, default_minutes=20).tolist() == [45.0, 40.0, 20.0, 20.0]


def test_slots_keep_only_completed_and_no_show_and_realise_completed_or_visited():
    # completed keeps+realised; no_show keeps, not realised; cancelled and rescheduled free the slot;
    # the no_show b5 has a visit (patient checked in, status not updated) -> realised.
    b = canon("bookings", booking_id=["b1", "b2", "b3", "b4", "b5"], doctor_id=["d"] * 5, patient_id=list("12345"),
              status=["completed", "no_show", "cancelled", "rescheduled", "no_show"],
              slot_start=["2025-01-06 09:00", "2025-01-06 09:30", "2025-01-06 10:00", "2025-01-06 10:30",
                          "2025-01-06 11:00"], slot_minutes=[30] * 5)
    v = canon("visits", visit_id=["v1", "v5"], patient_id=["1", "5"], booking_id=["b1", "b5"],
              checked_in_at=["2025-01-06 08:55", "2025-01-06 10:58"])
    s = sc.slots(b, 30, visits=v)
    assert s["keeps_slot"].tolist() == [True, True, False, False, True]
    assert s["realised"].tolist() == [True, False, False, False, True]
    assert s["booked_minutes"].tolist() == [30.0, 30.0, 0.0, 0.0, 30.0]
    assert s["realised_minutes"].tolist() == [30.0, 0.0, 0.0, 0.0, 30.0]
    assert s.loc[0, "slot_end"] == T("2025-01-06 09:30")
    # Without visits only the completed one is realised.
    assert sc.slots(b, 30)["realised"].tolist() == [True, False, False, False, False]


# -- shifts --------------------------------------------------------------------------------------

def test_shifts_cross_midnight_and_merge_overlaps_but_not_touching():
    # d1: 22:00-02:00 written with the end on the same date -> 22:00 to 02:00 next day = 240 min.
    # d2: 09:00-13:00 and 12:00-14:00 overlap -> one 09:00-14:00 shift (300 min, not 240 + 120);
    #     14:00-16:00 only touches it -> stays separate (120 min).
    sched = canon("schedule", doctor_id=["d1", "d2", "d2", "d2"],
                  shift_start=["2025-01-06 22:00", "2025-01-06 09:00", "2025-01-06 12:00", "2025-01-06 14:00"],
                  shift_end=["2025-01-06 02:00", "2025-01-06 13:00", "2025-01-06 14:00", "2025-01-06 16:00"])
    out = sc.shifts(sched)
    assert out["doctor_id"].tolist() == ["d1", "d2", "d2"]
    assert out["shift_end"].tolist() == [T("2025-01-07 02:00"), T("2025-01-06 14:00"), T("2025-01-06 16:00")]
    assert out["offered_minutes"].tolist() == [240.0, 300.0, 120.0]


# -- a small day for the timeline, utilisation and hours --------------------------------------------

def day_tables():
    """The raw tables behind `day()`."""
    sched = canon("schedule", doctor_id=["d1", "d2"], shift_start=["2025-01-06 09:00", "2025-01-06 22:00"],
                  shift_end=["2025-01-06 12:00", "2025-01-06 01:00"])
    b = canon("bookings", booking_id=[f"b{i}" for i in range(1, 7)], patient_id=list("123456"),
              doctor_id=["d1"] * 5 + ["d2"],
              status=["completed", "no_show", "rescheduled", "completed", "completed", "completed"],
              slot_start=["2025-01-06 09:00", "2025-01-06 09:15", "2025-01-06 10:00", "2025-01-06 11:30",
                          "2025-01-06 12:00", "2025-01-06 23:30"],
              slot_minutes=[30, 30, 30, None, 30, 60])
    return sched, b


def day():
    """d1 works 09:00-12:00 (180 min); d2 works 22:00-01:00 across midnight (180 min).

    d1 bookings (30 min unless said): b1 09:00 completed; b2 09:15 no_show (double-booked with b1
    09:15-09:30 = 15 min); b3 10:00 rescheduled (frees 10:00-10:30); b4 11:30 completed with no
    length -> default 20 (11:30-11:50); b5 12:00 completed 30 min, outside the shift (30 min).
    d2: b6 23:30 completed 60 min (23:30-00:30, across midnight).
    d1: offered 180, booked 30+30+20+30 = 110, realised 30+20+30 = 80;
        busy 09:00-09:45 and 11:30-11:50 inside the shift -> idle 180 - 45 - 20 = 115.
    d2: offered 180, booked = realised = 60; idle 120.
    """
    sched, b = day_tables()
    shifts = sc.shifts(sched)
    slots = sc.slots(b, 20)
    return shifts, slots, sc.timeline(shifts, slots)


def test_timeline_idle_double_booked_and_outside_shift_minutes():
    shifts, slots, seg = day()
    per = seg.groupby("doctor_id")[["idle_minutes", "double_booked_minutes", "outside_shift_minutes"]].sum()
    assert per.loc["d1"].tolist() == [115.0, 15.0, 30.0]
    assert per.loc["d2"].tolist() == [120.0, 0.0, 0.0]
    # The double-booked segment is 09:15-09:30 with two bookings at once.
    double = seg.loc[seg["double_booked_minutes"] > 0]
    assert (double["start"].tolist(), double["end"].tolist(), double["bookings"].tolist()) == (
        [T("2025-01-06 09:15")], [T("2025-01-06 09:30")], [2])


def test_timeline_counts_each_overlapping_booking_outside_shift():
    # Two 30-min bookings at 15:00 and one at 15:15, no shift: outside = 30 + 30 + 30 = 90 booking
    # minutes; two or more at once 15:00-15:30 (2, then 3 from 15:15) = 30 wall-clock minutes; from
    # 15:30 only c runs. The shift 09:00-10:00 has no booking: 60 idle.
    b = canon("bookings", booking_id=["a", "b", "c"], patient_id=list("abc"), doctor_id=["d"] * 3,
              status=["completed"] * 3, slot_minutes=[30] * 3,
              slot_start=["2025-01-06 15:00", "2025-01-06 15:00", "2025-01-06 15:15"])
    sched = canon("schedule", doctor_id=["d"], shift_start=["2025-01-06 09:00"], shift_end=["2025-01-06 10:00"])
    seg = sc.timeline(sc.shifts(sched), sc.slots(b))
    assert seg["outside_shift_minutes"].sum() == 90.0
    assert seg["double_booked_minutes"].sum() == 30.0
    assert seg["idle_minutes"].sum() == 60.0


def test_utilisation_per_doctor_specialty_and_total():
    shifts, slots, seg = day()
    out = by_doctor(sc.utilisation(shifts, slots, seg))
    assert out.loc["d1", ["offered_minutes", "booked_minutes", "realised_minutes"]].tolist() == [180.0, 110.0, 80.0]
    assert out.loc["d1", "utilisation"] == pytest.approx(110 / 180)
    assert out.loc["d1", "realised_utilisation"] == pytest.approx(80 / 180)
    assert out.loc["d2", "utilisation"] == pytest.approx(60 / 180)
    assert out.loc["d1", "idle_minutes"] == 115.0
    total = sc.utilisation(shifts, slots, seg, by=None).iloc[0]
    assert total["utilisation"] == pytest.approx(170 / 360)     # (110 + 60) / (180 + 180)
    assert total["realised_utilisation"] == pytest.approx(140 / 360)
    # By specialty: both doctors are therapists -> one row equal to the total.
    docs = canon("doctors", doctor_id=["d1", "d2"], specialty=["therapist", "therapist"],
                 doctor_name=["Dr A", None])
    spec = sc.utilisation(sc.with_doctors(shifts, docs), sc.with_doctors(slots, docs),
                          sc.with_doctors(seg, docs), by="specialty")
    assert spec["specialty"].tolist() == ["therapist"]
    assert spec.loc[0, "utilisation"] == pytest.approx(170 / 360)
    # A doctor without a name is shown by ID.
    assert sc.with_doctors(shifts, docs)["doctor"].tolist() == ["Dr A", "d2"]


def test_utilisation_without_shifts_is_nan_not_infinite():
    b = canon("bookings", booking_id=["a"], patient_id=["p"], doctor_id=["d"], status=["completed"],
              slot_start=["2025-01-06 15:00"], slot_minutes=[30])
    sched = canon("schedule", doctor_id=["x"], shift_start=["2025-01-06 09:00"], shift_end=["2025-01-06 10:00"])
    shifts, slots = sc.shifts(sched), sc.slots(b)
    out = by_doctor(sc.utilisation(shifts, slots, sc.timeline(shifts, slots)))
    assert math.isnan(out.loc["d", "utilisation"])
    assert out.loc["d", "booked_minutes"] == 30.0


def test_by_hour_splits_minutes_by_clock_hour_and_weekday_across_midnight():
    # d2's 22:00-01:00 shift on Monday 6 Jan: 60 min at Mon 22h, 60 at Mon 23h, 60 at Tue 0h;
    # its booking 23:30-00:30 puts 30 booked minutes in Mon 23h and 30 in Tue 0h.
    shifts, slots, seg = day()
    hourly = sc.by_hour(shifts, slots, seg).set_index(["weekday", "hour"])
    assert hourly.loc[(0, 22), "offered_minutes"] == 60.0
    assert hourly.loc[(0, 23), ["offered_minutes", "booked_minutes"]].tolist() == [60.0, 30.0]
    assert hourly.loc[(1, 0), ["offered_minutes", "booked_minutes", "utilisation"]].tolist() == [60.0, 30.0, 0.5]
    # d1 Monday 9h: b1 09:00-09:30 (30) + b2 09:15-09:45 (30) = 60 booked of 60 offered, 15 of them
    # double-booked; 12h: b5 outside the shift -> booked 30, offered 0 -> utilisation NaN.
    assert hourly.loc[(0, 9), ["booked_minutes", "double_booked_minutes", "utilisation"]].tolist() == [60.0, 15.0, 1.0]
    assert hourly.loc[(0, 12), "offered_minutes"] == 0.0 and math.isnan(hourly.loc[(0, 12), "utilisation"])
    # Idle: 10h fully idle (b3 was rescheduled) -> 60 min.
    assert hourly.loc[(0, 10), "idle_minutes"] == 60.0
    # A 09:30-11:00 interval: 30 minutes to 9h, 60 to 10h.
    bins = sc.hour_bins(np.array(["x"]), pd.Series([T("2025-01-06 09:30")]), pd.Series([T("2025-01-06 11:00")]))
    assert bins["hour"].tolist() == [9, 10] and bins["minutes"].tolist() == [30.0, 60.0]
    matrix = sc.weekday_hour_matrix(sc.by_hour(shifts, slots, seg))
    assert matrix.loc[1, 0] == 0.5 and list(matrix.index) == [0, 1]


def test_per_doctor_and_by_specialty_roll_up():
    # The day() doctors: d1 is Dr A (therapist); d2 is not in the doctors table -> no specialty, shown by ID.
    shifts, slots, seg = day()
    docs = canon("doctors", doctor_id=["d1"], specialty=["therapist"], doctor_name=["Dr A"])
    frames = sc.period_frames(shifts, slots, seg, None, (T("2025-01-01"), T("2025-02-01")))
    per = sc.per_doctor(frames, docs, default_slot_minutes=20)
    assert per["doctor"].tolist() == ["Dr A", "d2"]                  # busiest first: 110/180 > 60/180
    assert per["specialty"].isna().tolist() == [False, True]
    d1 = per.iloc[0]
    assert [d1[c] for c in ("offered_minutes", "booked_minutes", "realised_minutes", "idle_minutes",
                            "double_booked_minutes", "outside_shift_minutes", "typical_slot_minutes",
                            "idle_patients")] == [180.0, 110.0, 80.0, 115.0, 15.0, 30.0, 30.0, 3.0]
    assert [d1[c] for c in ("bookings", "completed", "no_show", "rescheduled")] == [5, 3, 1, 1]
    assert d1["no_show_rate"] == pytest.approx(1 / 4)
    spec = sc.by_specialty(per)
    assert spec["specialty"].isna().tolist() == [False, True]
    assert spec["utilisation"].tolist() == pytest.approx([110 / 180, 60 / 180])
    hours = sc.in_hours(per)
    assert hours.loc[0, "offered_hours"] == 3.0 and "typical_slot_minutes" in hours and "offered_minutes" not in hours
    # The clinic's hours are the doctors' hours summed.
    clinic = sc.clinic_hours(sc.by_hour(shifts, slots, seg, by="doctor_id")).set_index(["weekday", "hour"])
    direct = sc.by_hour(shifts, slots, seg).set_index(["weekday", "hour"])
    pd.testing.assert_frame_equal(clinic, direct, check_dtype=False)


def test_hour_profile():
    shifts, slots, seg = day()
    prof = sc.hour_profile(sc.by_hour(shifts, slots, seg)).set_index("hour")
    # 11h: offered 60, booked b4 20 -> 1/3
    assert prof.loc[11, "utilisation"] == pytest.approx(20 / 60)


# -- idle patients and imbalance ---------------------------------------------------------------

def test_idle_patients_counts_whole_slots_per_gap():
    # d1 gaps: 09:45-11:30 (105 min) and 11:50-12:00 (10 min); typical slot = median(30, 30, 20, 30) = 30
    # -> floor(105/30) + floor(10/30) = 3 + 0 = 3.
    # d2 gaps: 22:00-23:30 (90) and 00:30-01:00 (30); typical slot 60 -> 1 + 0 = 1, not floor(120/60) = 2:
    # a gap shorter than a slot holds nobody.
    shifts, slots, seg = day()
    typical = sc.typical_slot(slots)
    assert typical.to_dict() == {"d1": 30.0, "d2": 60.0}
    assert sc.idle_patients(seg, typical).to_dict() == {"d1": 3.0, "d2": 1.0}


def test_specialty_balance_flags_imbalance_within_a_specialty():
    # Therapists: A 98% (over), B 40% and C 55% (under), D 80% -> imbalance; busiest A, least B,
    # spread 0.58; underloaded idle 600 + 300 min, 20 + 10 patients.
    # Surgeons: E 99% (over) and F 70% -> spread but no imbalance. Gynaecologist G alone -> not compared.
    per = pd.DataFrame({"doctor_id": list("ABCDEFG"), "doctor": [f"Dr {x}" for x in "ABCDEFG"],
                        "specialty": ["ther"] * 4 + ["surg", "surg", "gyn"],
                        "utilisation": [0.98, 0.40, 0.55, 0.80, 0.99, 0.70, 0.30],
                        "idle_minutes": [0, 600, 300, 100, 0, 50, 900], "idle_patients": [0, 20, 10, 3, 0, 1, 30]})
    out = sc.specialty_balance(per).set_index("specialty")
    assert out.index.tolist() == ["surg", "ther"]
    ther = out.loc["ther"]
    assert (ther["busiest"], ther["least"], ther["overloaded"], ther["underloaded"]) == ("Dr A", "Dr B", "Dr A", "Dr B, Dr C")
    assert ther["spread"] == pytest.approx(0.58)
    assert (ther["idle_minutes"], ther["idle_patients"], ther["imbalance"]) == (900, 30, True)
    surg = out.loc["surg"]
    assert (surg["overloaded"], surg["underloaded"], surg["imbalance"]) == ("Dr E", "", False)


def test_overbooked_by_utilisation_or_double_booking():
    # A: 96% -> over 95%. B: 80% but double-booked 30 of 1000 offered minutes = 3% >= 2%. C: 90%, 1% double.
    per = pd.DataFrame({"doctor_id": list("ABC"), "doctor": ["Dr A", "Dr B", "Dr C"],
                        "utilisation": [0.96, 0.80, 0.90], "offered_minutes": [1000.0] * 3,
                        "double_booked_minutes": [0.0, 30.0, 10.0]})
    out = sc.overbooked(per)
    assert out["doctor_id"].tolist() == ["A", "B"]
    assert out["double_booked_share"].tolist() == pytest.approx([0.0, 0.03])


def test_main_hours_fill_gaps_and_peak_overload():
    # Overload by hour: 17h 50, 18h 30, 19h 5, 20h 40, 9h 5 (total 130) -> 80% = 104: 17 (50) + 20 (40)
    # + 18 (30) = 120 -> [17, 18, 20]; 19 between peak hours is filled -> 17-21.
    minutes = pd.Series({9: 5.0, 17: 50.0, 18: 30.0, 19: 5.0, 20: 40.0})
    assert sc.main_hours(minutes) == [17, 18, 20]
    assert sc.fill_gaps([17, 18, 20]) == [17, 18, 19, 20]
    assert section.hours_text([17, 18, 19, 20]) == "17:00–21:00"
    hourly = pd.DataFrame({
        "doctor_id": ["A"] * 5 + ["B"] * 5, "weekday": [0] * 10, "hour": [9, 17, 18, 19, 20] * 2,
        "offered_minutes": [60.0] * 10, "booked_minutes": [60.0, 100, 80, 60, 60, 30, 30, 30, 30, 30],
        "double_booked_minutes": [5.0, 40, 20, 5, 0, 0, 0, 0, 0, 0],
        "outside_shift_minutes": [0.0, 10, 10, 0, 40, 0, 0, 0, 0, 0]})
    peak = sc.peak_overload(hourly)
    # Peak 17-20: overload 50 + 30 + 5 + 40 = 125 of offered 8 × 60 = 480; booked (100+80+60+60+4*30)/480.
    assert peak.hours == [17, 18, 19, 20]
    assert (peak.overload_minutes, peak.offered_minutes) == (125.0, 480.0)
    assert peak.utilisation == pytest.approx(420 / 480)
    assert peak.other_utilisation == pytest.approx(90 / 120)
    assert peak.doctors["doctor_id"].tolist() == ["A"]          # B carries none of it
    assert peak.doctors["utilisation"].tolist() == pytest.approx([300 / 240])


def test_underload_gap_to_target():
    # B: offered 600, booked 240 (40%) -> gap 0.85*600 - 240 = 270 min -> 9 patients of 30 min;
    # C: 55% is under 60% too: offered 100, booked 55 -> gap 30 min, slot 20 -> 1 patient. D 80% is not under.
    per = pd.DataFrame({"doctor_id": list("BCD"), "offered_minutes": [600.0, 100.0, 100.0],
                        "booked_minutes": [240.0, 55.0, 80.0], "utilisation": [0.40, 0.55, 0.80],
                        "typical_slot_minutes": [30.0, 20.0, 30.0]})
    out = sc.underload_gap(per, target=0.85)
    assert out["doctor_id"].tolist() == ["B", "C"]
    assert out["gap_minutes"].tolist() == pytest.approx([270.0, 30.0])
    assert out["gap_patients"].tolist() == [9.0, 1.0]


# -- no-shows and cancellations ---------------------------------------------------------------

def rates_bookings():
    """Eight bookings on Monday 6 Jan (slot day) with leads and creation dates.

    status:   completed ×3, no_show ×2, cancelled ×2 (one late: 2 h before), rescheduled ×1.
    lead time (days from created_at to the slot's day): b1 0, b2 2, b3 3, b4 7, b5 8, b6 20, b7 none, b8 -1.
    channels: b1-b3 via lead l1 (site), b4-b5 via l2 (aggregator), b6-b8 no lead.
    """
    return canon(
        "bookings", booking_id=[f"b{i}" for i in range(1, 9)], patient_id=list("12345678"), doctor_id=["d"] * 8,
        status=["completed", "no_show", "completed", "cancelled", "no_show", "completed", "cancelled", "rescheduled"],
        slot_start=["2025-01-06 10:00"] * 8, lead_id=["l1", "l1", "l1", "l2", "l2", None, None, None],
        created_at=["2025-01-06 08:00", "2025-01-04 23:00", "2025-01-03 09:00", "2024-12-30 09:00",
                    "2024-12-29 09:00", "2024-12-17 09:00", None, "2025-01-07 09:00"],
        cancelled_at=[None, None, None, "2025-01-06 08:00", None, None, "2025-01-02 10:00", None])


def test_booking_rates_definitions():
    # no-show = 2 / (3 + 2) = 0.4; cancel = 2 / 8 all bookings = 0.25; late cancel = 1 / 8 (b4 2 h before).
    r = sc.booking_rates(rates_bookings()).iloc[0]
    assert (r["bookings"], r["completed"], r["no_show"], r["cancelled"], r["rescheduled"]) == (8, 3, 2, 2, 1)
    assert r["no_show_rate"] == pytest.approx(0.4)
    assert r["cancel_rate"] == pytest.approx(0.25)
    assert r["late_cancel_rate"] == pytest.approx(0.125)


def test_lead_time_buckets_by_calendar_day():
    lt = sc.lead_time_bucket(rates_bookings())
    assert lt.astype("string").tolist() == ["same_day", "1_2", "3_7", "3_7", "8_14", "15_plus", pd.NA, pd.NA]


def test_rates_by_channel_through_lead_and_by_lead_time():
    leads = canon("leads", lead_id=["l1", "l2"], created_at=["2025-01-01", "2025-01-01"], channel=["site", "aggregator"])
    dims = sc.with_dimensions(sc.slots(rates_bookings()), leads=leads)
    assert dims["weekday"].unique().tolist() == [0]
    by_channel = sc.booking_rates(dims, "channel").set_index("channel")
    # site: b1 completed, b2 no_show, b3 completed -> 1/3; aggregator: b4 cancelled, b5 no_show -> 1/1.
    assert by_channel.loc["site", "no_show_rate"] == pytest.approx(1 / 3)
    assert by_channel.loc["aggregator", "no_show_rate"] == 1.0
    assert by_channel.loc["aggregator", "cancel_rate"] == 0.5
    assert by_channel["bookings"].sum() == 8      # b6-b8 without a lead form their own (NA) group
    by_lead = sc.booking_rates(dims, "lead_time").set_index("lead_time")
    assert by_lead.loc["8_14", "no_show_rate"] == 1.0 and by_lead.loc["same_day", "no_show_rate"] == 0.0


def test_excess_over_compares_worse_group_with_the_rest():
    # Far ahead (8_14, 15_plus): b5 no_show + b6 completed -> 1/2; the rest kept: b1, b2 (ns), b3 -> 1/3.
    # excess = 1 - (1/3) * 2 = 1/3.
    dims = sc.with_dimensions(sc.slots(rates_bookings()))
    rates = sc.booking_rates(dims, "lead_time")
    far = rates["lead_time"].isin(sc.FAR_AHEAD_BUCKETS).fillna(False).astype(bool)
    ex = sc.excess_over(rates, group_mask=far)
    assert (ex["rate_in"], ex["rate_out"], ex["kept_in"], ex["no_show_in"]) == (0.5, pytest.approx(1 / 3), 2, 1)
    assert ex["excess"] == pytest.approx(1 / 3)


@pytest.mark.parametrize("keyed", [False, True], ids=["ids", "ingest_keys"])
def test_paid_per_booking_via_visits_and_patient_day_and_visit_value(keyed):
    # b1 (therapist) visit v1: invoices 3000 and a refund -500 -> 2500 net.
    # b2 (therapist) no visit link: patient 2 paid 3500 on the slot's day -> matched by patient and day.
    # b3 (surgeon) completed, nothing paid -> NaN; b4 no_show -> NaN (i4 of patient 9 matches nothing).
    # b5 by doctor x, who is not in the doctors table (no specialty): paid 5000 on the day.
    # Visit value: therapist (2500 + 3500) / 2 = 3000; no specialty 5000; the surgeon has no paid
    # visit -> clinic average (2500 + 3500 + 5000) / 3.
    b = canon("bookings", booking_id=["b1", "b2", "b3", "b4", "b5"], patient_id=["1", "2", "3", "4", "5"],
              doctor_id=["t", "t", "s", "t", "x"], status=["completed", "completed", "completed", "no_show", "completed"],
              slot_start=["2025-01-06 10:00", "2025-01-06 11:00", "2025-01-06 12:00", "2025-01-06 13:00",
                          "2025-01-07 09:00"])
    v = canon("visits", visit_id=["v1"], patient_id=["1"], booking_id=["b1"], checked_in_at=["2025-01-06 09:58"])
    inv = canon("invoices", invoice_id=["i1", "i2", "i3", "i4", "i5"], patient_id=["1", "1", "2", "9", "5"],
                visit_id=["v1", "v1", None, None, None], amount=[3000, -500, 3500, 999, 5000],
                paid_at=["2025-01-06 10:40", "2025-01-08 12:00", "2025-01-06 11:50", "2025-01-06 12:00",
                         "2025-01-07 09:40"])
    docs = canon("doctors", doctor_id=["t", "s"], specialty=["therapist", "surgeon"])
    if keyed:      # as a run folder holds them: looked up by the integer keys, the same money
        from audit_kit.ingest.keys import add_keys

        b, v, inv, docs = add_keys({"b": b, "v": v, "inv": inv, "docs": docs}).values()
        assert "booking_key" in b and "patient_key" in inv
    slots = sc.with_doctors(sc.slots(b, visits=v), docs)
    assert ("booking_key" in slots) == keyed
    paid = sc.paid_per_booking(slots, inv, v)
    assert paid.tolist()[:2] + paid.tolist()[4:] == [2500.0, 3500.0, 5000.0]
    assert paid.iloc[2:4].isna().all()
    value = sc.visit_value(slots, paid)
    assert value.to_dict() == {"therapist": 3000.0, "surgeon": pytest.approx(11000 / 3), sc.NO_GROUP: 5000.0}
    looked_up = sc.value_for(pd.Series(["surgeon", None, "dentist"], dtype="string"), value)
    assert looked_up.iloc[:2].tolist() == [pytest.approx(11000 / 3), 5000.0] and math.isnan(looked_up.iloc[2])


def test_no_show_cost_and_excess_over_target():
    # Therapists: 18 completed, 2 no-shows -> rate 10%; target 5% -> excess 2 - 0.05*20 = 1;
    # visit value 3000 -> cost 6000, excess cost 3000. Surgeons: 20 completed, 0 no-show -> excess 0.
    n = 40
    b = canon("bookings", booking_id=[f"b{i}" for i in range(n)], patient_id=[str(i) for i in range(n)],
              doctor_id=["t"] * 20 + ["s"] * 20, status=["no_show"] * 2 + ["completed"] * 38,
              slot_start=["2025-01-06 10:00"] * n)
    docs = canon("doctors", doctor_id=["t", "s"], specialty=["therapist", "surgeon"])
    slots = sc.with_doctors(sc.slots(b), docs)
    value = pd.Series({"therapist": 3000.0, "surgeon": 5000.0})
    counts = sc.booking_rates(slots, "specialty")
    cost = sc.no_show_cost(counts, value, target=0.05).set_index("specialty")
    assert cost.loc["therapist", ["no_show_rate", "cost", "excess_no_show", "excess_cost"]].tolist() == \
        pytest.approx([0.1, 6000.0, 1.0, 3000.0])
    assert cost.loc["surgeon", ["cost", "excess_cost"]].tolist() == [0.0, 0.0]
    # One lost slot is priced at the no-shows' own specialties: both therapists -> 3000.
    assert sc.no_show_value(counts, value) == 3000.0
    # Without a visit value nothing is priced.
    assert sc.no_show_cost(counts, None, target=0.05)["cost"].isna().all()


# -- waits --------------------------------------------------------------------------------------

def test_waits_overruns_and_share_over_target():
    # v1: check-in 09:50, start 10:05 -> wait 15 (not over 15); ran 10:05-10:45 = 40 min vs slot 30 -> +10.
    # v2: 10:20 -> 10:50 -> wait 30 (over); 10:50-11:10 = 20 vs 30 -> -10.
    # v3: start before check-in -> clock error, wait NaN; no booking -> overrun NaN; doctor from the visit.
    # v4: no start -> no wait. Median of (15, 30) = 22.5; over target 1 of 2 timed; mean overrun 0.
    b = canon("bookings", booking_id=["b1", "b2"], patient_id=["1", "2"], doctor_id=["d1", "d1"],
              status=["completed"] * 2, slot_start=["2025-01-06 10:00", "2025-01-06 10:30"], slot_minutes=[30, 30])
    v = canon("visits", visit_id=["v1", "v2", "v3", "v4"], patient_id=list("1234"), booking_id=["b1", "b2", None, None],
              doctor_id=[None, None, "d2", "d2"],
              checked_in_at=["2025-01-06 09:50", "2025-01-06 10:20", "2025-01-06 12:10", "2025-01-06 13:00"],
              started_at=["2025-01-06 10:05", "2025-01-06 10:50", "2025-01-06 12:00", None],
              ended_at=["2025-01-06 10:45", "2025-01-06 11:10", "2025-01-06 12:30", None])
    w = sc.waits(v, sc.slots(b))
    assert w["doctor_id"].tolist() == ["d1", "d1", "d2", "d2"]
    assert w["wait_minutes"].iloc[:2].tolist() == [15.0, 30.0] and w["wait_minutes"].iloc[2:].isna().all()
    assert w["overrun_minutes"].iloc[:2].tolist() == [10.0, -10.0] and w["overrun_minutes"].iloc[2:].isna().all()
    s = sc.wait_summary(w, target=15).iloc[0]
    assert (s["visits"], s["visits_timed"], s["median_wait"], s["share_over_target"]) == (4, 2, 22.5, 0.5)
    assert (s["mean_overrun"], s["share_overrun"]) == (0.0, 0.5)
    per = sc.wait_summary(w, target=15, by="doctor_id").set_index("doctor_id")
    assert per.loc["d1", "median_wait"] == 22.5 and math.isnan(per.loc["d2", "median_wait"])


# -- periods and headlines ----------------------------------------------------------------------

def test_period_frames_assign_by_shift_start_and_slot_start():
    # A shift 31 Jan 22:00 - 1 Feb 02:00 belongs to January (its start); its 60-min booking at
    # 1 Feb 00:30 belongs to February (its slot_start). January: offered 240, booked 0.
    sched = canon("schedule", doctor_id=["d"], shift_start=["2025-01-31 22:00"], shift_end=["2025-02-01 02:00"])
    b = canon("bookings", booking_id=["b"], patient_id=["p"], doctor_id=["d"], status=["no_show"],
              slot_start=["2025-02-01 00:30"], slot_minutes=[60])
    shifts, slots = sc.shifts(sched), sc.slots(b)
    seg = sc.timeline(shifts, slots)
    jan = sc.headlines(sc.period_frames(shifts, slots, seg, None, (T("2025-01-01"), T("2025-02-01"))))
    feb = sc.headlines(sc.period_frames(shifts, slots, seg, None, (T("2025-02-01"), T("2025-03-01"))))
    assert (jan["offered_hours"], jan["booked_hours"], jan["idle_hours"]) == (4.0, 0.0, 2.5)  # 22:00-00:30 idle
    assert (feb["offered_hours"], feb["booked_hours"], feb["idle_hours"]) == (0.0, 1.0, 0.5)  # 01:30-02:00 idle
    assert math.isnan(feb["utilisation"]) and feb["no_show_rate"] == 1.0
    assert math.isnan(jan["no_show_rate"]) and math.isnan(jan["median_wait_minutes"])


def test_rate_counts_are_the_headline_rates_numerators_and_denominators():
    """January: 4 bookings — 2 completed, 1 no-show, 1 cancelled 2 h before its slot (late); 3 timed visits wait 5, 20
    and 40 min (target 15): no-shows 1 of 3 kept, cancellations 1 of 4, late 1 of 4, waits over target 2 of 3."""
    b = canon("bookings", booking_id=["b1", "b2", "b3", "b4"], patient_id=["p1", "p2", "p3", "p4"],
              doctor_id=["d"] * 4, status=["completed", "completed", "no_show", "cancelled"],
              slot_start=["2025-01-06 09:00", "2025-01-06 10:00", "2025-01-06 11:00", "2025-01-06 12:00"],
              cancelled_at=[None, None, None, "2025-01-06 10:00"], slot_minutes=[30] * 4)
    sched = canon("schedule", doctor_id=["d"], shift_start=["2025-01-06 09:00"], shift_end=["2025-01-06 13:00"])
    shifts, slots = sc.shifts(sched), sc.slots(b)
    waits = pd.DataFrame({"checked_in_at": pd.to_datetime(["2025-01-06 08:55", "2025-01-06 09:40", "2025-01-06 10:20",
                                                           "2025-01-06 11:00"]),
                          "wait_minutes": [5.0, 20.0, 40.0, np.nan], "overrun_minutes": np.nan,
                          "visit_id": ["v1", "v2", "v3", "v4"]})
    frames = sc.period_frames(shifts, slots, sc.timeline(shifts, slots), waits, (T("2025-01-01"), T("2025-02-01")))
    counts = sc.rate_counts(frames, wait_target=15)
    assert counts == {"no_show_rate": (1, 3), "cancel_rate": (1, 4), "late_cancel_rate": (1, 4),
                      "share_wait_over_target": (2, 3)}
    head = sc.headlines(frames, wait_target=15)
    for name, (x, n) in counts.items():
        assert head[name] == pytest.approx(x / n)
    none = sc.period_frames(shifts, slots, sc.timeline(shifts, slots), None, (T("2025-01-01"), T("2025-02-01")))
    assert "share_wait_over_target" not in sc.rate_counts(none)


# -- the module as a whole: summaries, metrics, findings -------------------------------------------

def hundred_bookings():
    """Doctor d1 (Dr A): a 09:00-19:00 shift on each of 10 days from Mon 6 Jan 2025; 100 bookings of
    30 min, ten a day at 09:00, 10:00, ... 18:00.

    b0-b49 were made 10 days ahead, b50-b99 one day ahead. No-shows: b0-b19 (far) and b50-b54
    (near); the rest completed. Leads: b0-b29 and b50-b59 from "aggregator", the rest from "site".
    Every completed booking has a visit: check-in 10 min before the slot, start 10 min after it
    (wait 20 min), 40 min long (overrun +10 min over the 30-min slot).
    """
    days = pd.date_range("2025-01-06", periods=10, freq="D")
    slot = [d + pd.Timedelta(hours=9 + h) for d in days for h in range(10)]
    ahead = [10] * 50 + [1] * 50
    no_show = set(range(20)) | set(range(50, 55))
    aggregator = set(range(30)) | set(range(50, 60))
    b = canon("bookings", booking_id=[f"b{i}" for i in range(100)], patient_id=[f"p{i}" for i in range(100)],
              doctor_id=["d1"] * 100, slot_start=[str(t) for t in slot],
              status=["no_show" if i in no_show else "completed" for i in range(100)],
              created_at=[str(t - pd.Timedelta(days=a)) for t, a in zip(slot, ahead)],
              lead_id=[f"l{i}" for i in range(100)], slot_minutes=[30] * 100)
    leads = canon("leads", lead_id=[f"l{i}" for i in range(100)], created_at=["2024-12-01"] * 100,
                  channel=["aggregator" if i in aggregator else "site" for i in range(100)])
    sched = canon("schedule", doctor_id=["d1"] * 10, shift_start=[str(d + pd.Timedelta(hours=9)) for d in days],
                  shift_end=[str(d + pd.Timedelta(hours=19)) for d in days])
    came = [i for i in range(100) if i not in no_show]
    v = canon("visits", visit_id=[f"v{i}" for i in came], patient_id=[f"p{i}" for i in came],
              booking_id=[f"b{i}" for i in came], doctor_id=["d1"] * len(came),
              checked_in_at=[str(slot[i] - pd.Timedelta(minutes=10)) for i in came],
              started_at=[str(slot[i] + pd.Timedelta(minutes=10)) for i in came],
              ended_at=[str(slot[i] + pd.Timedelta(minutes=50)) for i in came])
    docs = canon("doctors", doctor_id=["d1"], specialty=["therapist"], doctor_name=["Dr A"])
    return {"bookings": b, "leads": leads, "schedule": sched, "visits": v, "doctors": docs}


def test_summarise_headlines_and_pattern_findings():
    from audit_kit.report.fmt import Formatter

    period = {"current": (T("2025-01-01"), T("2025-02-01"))}
    S = sc.summarise(hundred_bookings(), period, wait_target=15, no_show_target=0.05)
    cur = S["current"]
    # Offered 10 × 600 = 6000 min; booked 100 × 30 = 3000 -> 0.5; realised 75 × 30 = 2250; idle 3000.
    h = cur.headlines
    assert (h["offered_hours"], h["booked_hours"], h["realised_hours"], h["idle_hours"]) == (100.0, 50.0, 37.5, 50.0)
    assert h["no_show_rate"] == 0.25 and h["median_wait_minutes"] == 20.0 and h["share_wait_over_target"] == 1.0
    metrics = sc.headline_metrics(S)
    assert metrics["schedule.utilisation"] == ("rate", {"current": 0.5})
    assert math.isnan(metrics["schedule.money_at_stake_per_month"][1]["current"])   # no invoices: not priced
    found = {f["id"]: f for f in section.finding_drafts(S, Formatter("en"))}
    # Far ahead: 20 / 50 = 40% vs near 5 / 50 = 10%: 4 times; excess 20 - 0.1 × 50 = 15 a month.
    lt = found["no_show_lead_time"]["values"]
    assert (lt["far"], lt["near"], lt["ratio"], lt["far_share"], lt["excess"]) == ("40.0%", "10.0%", "4.0", "50.0%", "15.0")
    # Aggregator: (20 + 5) / 40 = 62.5% vs site 0 / 60; excess 25.
    ch = found["no_show_channel"]["values"]
    assert (ch["channels"], ch["rates"], ch["rest"], ch["excess"]) == ("aggregator", "aggregator 62.5%", "0.0%", "25.0")
    assert found["no_show"]["values"]["rate"] == "25.0%" and found["no_show"]["money"] is None
    assert found["waits"]["values"]["doctors"] == "Dr A (20 min)"
    assert found["overrun"]["values"]["doctors"] == "Dr A (+10 min, 100.0%)"
    # Utilisation 50% < 60%: underloaded, but nothing to price it with.
    assert found["underloaded"]["values"]["names"] == "Dr A" and found["underloaded"]["money"] is None
    assert "overbooked" not in found and "peak_overload" not in found
    assert sc.comparison(S)["change"].isna().all()    # no base period


def test_findings_fill_their_sentences_in_both_languages():
    # day(): d1 books 30 of its 170 booked minutes after the shift (17.6% >= 5%) -> outside_shifts;
    # d1 double-booked 15 of 180 offered (8% >= 2%) -> overbooked, with the overload at 9h and 12h.
    from audit_kit.report.fmt import Formatter
    from audit_kit.report.i18n import Translator

    sched, b = day_tables()
    S = sc.summarise({"schedule": sched, "bookings": b}, {"current": (T("2025-01-01"), T("2025-02-01"))},
                     default_slot_minutes=20)
    for lang in ("ru", "en"):
        found = section.finding_drafts(S, Formatter(lang))
        assert {"outside_shifts", "overbooked", "peak_overload", "no_show"} <= {f["id"] for f in found}
        t = Translator(lang)
        for f in found:
            for part in ("title", "evidence", "recommendation"):
                assert "{" not in t(f"{f['key']}.{part}", **f["values"])
    values = {f["id"]: f["values"] for f in section.finding_drafts(S, Formatter("en"))}
    assert values["outside_shifts"] == {"money": "—", "outside": "0.5 h", "share": "17.6%"}
    assert values["overbooked"]["names"] == "d1" and values["overbooked"]["hours"] == "09:00–10:00, 12:00–13:00"


def test_catalogs_agree_and_cover_every_finding():
    import string

    from audit_kit.report.i18n import catalog

    ru, en = ({k: str(v) for k, v in catalog(lang).items() if k.startswith("schedule.")} for lang in ("ru", "en"))
    assert ru.keys() == en.keys()
    fields = lambda text: {f for _, f, _, _ in string.Formatter().parse(text) if f}  # noqa: E731
    assert [k for k in ru if fields(ru[k]) != fields(en[k])] == []
    for id_ in sc.FINDINGS:
        for part in ("title", "evidence", "recommendation"):
            assert f"schedule.finding.{id_}.{part}" in ru


# -- the notebook on a hand-computed two-doctor month --------------------------------------------

def test_notebook_two_doctor_month_metrics_and_findings(tmp_path):
    """tests/fixtures/schedule_two_doctors: therapists Dr Ivanova (D1) and Dr Petrov (D2).

    Current period = March 2025 (exactly one month):
    - D1 shifts Mon 3, 10, 17, 24 March 09:00-13:00 = 4 × 240 = 960 min. 35 bookings: eight 30-min
      slots a day 09:00-12:30 (32), plus 03.03 10:00 and 10.03 10:00 on top of taken slots
      (double-booked 2 × 30 = 60 min) and 17.03 13:00 after the shift (outside 30 min).
      Statuses: no_show 4 (03/10/17 at 09:00, the extra 10.03 10:00), cancelled 2 (24.03 12:00,
      12:30), rescheduled 1 (24.03 11:30), completed 28. 24.03 09:00 has no length -> option
      default_slot_minutes = 20; 24.03 09:30 has slot_end 10:00 -> 30.
      Booked = 32 kept: 31 × 30 + 20 = 950; realised = 28 completed: 27 × 30 + 20 = 830.
      Idle: 24.03 09:20-09:30 (10) + 11:30-13:00 (90) = 100.
    - D2 shifts 04.03 and 11.03 18:00-22:00 (240 each) and 18.03 20:00-"02:00" across midnight
      (360) = 840 min. 8 bookings: completed 5 (04.03 18:00, 18:30; 11.03 18:00; 18.03 23:30 for
      60 min; 19.03 01:00), no_show 1 (04.03 19:00), cancelled 2. Booked 30+30+30+30+60+30 = 210,
      realised 180. Idle: 150 + 210 + (360 - 90) = 630.
    Totals: offered 1800 min = 30 h; booked 1160 min; realised 1010 min; idle 730 min;
    utilisation 1160/1800; no-show 5 / (33 + 5); cancellations 4 / 43 bookings.
    Waits (visits V1-V3): 5, 10, 30 min -> median 10.
    Money: every paid visit nets 3000 (V2 2000 + 1000, V3 3500 - 500 refund) -> visit value 3000.
    No-shows above 5%: (5/38 − 5 %) × 38 kept × 3000 = 3.1 × 3000 = 9300; D2 underloaded (25% < 60%):
    (85 % − 25 %) × 14 scheduled hours × 3000 per 30-min visit = 6000 an hour -> 50400 (= 504 missing
    minutes ÷ 30 × 3000); at stake 59700 a month.
    Base = February: D1's 24.02 shift (240 min) and one no-show (30 min): utilisation 0.125,
    no-show 1.0, idle 210 min; money (1.0 − 0.05) × 1 × 3000 + (0.85 − 0.125) × 4 h × 6000 = 2850 + 17400 = 20250.
    """
    import papermill

    from audit_kit.config import load_config
    from audit_kit.notebook import prepare_run

    client = tmp_path / "client"
    shutil.copytree(FIXTURE, client)
    cfg_path = client / "audit.yaml"
    run = tmp_path / "run"
    prepare_run(load_config(cfg_path), run)
    papermill.execute_notebook(str(REPO / "notebooks" / "03_schedule.ipynb"), str(tmp_path / "out.ipynb"),
                               parameters={"run_dir": str(run), "config_path": str(cfg_path)},
                               kernel_name="python3", cwd=str(REPO / "notebooks"), progress_bar=False)
    metrics = json.loads((run / "modules" / "schedule" / "metrics.json").read_text(encoding="utf-8"))
    expected = {
        "schedule.offered_hours": ("hours", 4.0, 30.0),
        "schedule.booked_hours": ("hours", 0.5, 1160 / 60),
        "schedule.realised_hours": ("hours", 0.0, 1010 / 60),
        "schedule.utilisation": ("rate", 30 / 240, 1160 / 1800),
        "schedule.realised_utilisation": ("rate", 0.0, 1010 / 1800),
        "schedule.idle_hours": ("hours", 3.5, 730 / 60),
        "schedule.double_booked_hours": ("hours", 0.0, 1.0),
        "schedule.outside_shift_hours": ("hours", 0.0, 0.5),
        "schedule.no_show_rate": ("rate", 1.0, 5 / 38),
        "schedule.cancel_rate": ("rate", 0.0, 4 / 43),
        "schedule.median_wait_minutes": ("minutes", None, 10.0),
        "schedule.no_show_cost_per_month": ("money", 3000.0, 15000.0),
        "schedule.money_at_stake_per_month": ("money", 20250.0, 59700.0),
    }
    for key, (unit, base, current) in expected.items():
        got = metrics[key]
        assert got["unit"] == unit, key
        assert got["current"] == pytest.approx(current, rel=1e-12), key
        assert got["base"] == (None if base is None else pytest.approx(base, rel=1e-12)), key

    findings = {f["id"]: f for f in json.loads((run / "modules" / "schedule" / "findings.json").read_text("utf-8"))}
    assert {"overbooked", "underloaded", "imbalance", "peak_overload", "no_show", "waits"} <= set(findings)
    assert "no_show_lead_time" not in findings and "overrun" not in findings   # no created_at; too few visits
    assert "Dr Ivanova" in findings["overbooked"]["title"] and "Dr Petrov" not in findings["overbooked"]["title"]
    assert "Dr Petrov" in findings["underloaded"]["title"]
    assert "Dr Ivanova" in findings["peak_overload"]["evidence"]
    assert findings["peak_overload"]["title"].startswith("Overload at 10:00–11:00, 13:00–14:00")
    assert findings["no_show"]["money_at_stake_per_month"] == pytest.approx(9300.0)
    assert findings["underloaded"]["money_at_stake_per_month"] == pytest.approx(50400.0)
    assert findings["underloaded"]["price"]["factors"] == [
        {"key": "offered_hours_per_month", "value": pytest.approx(14.0), "kind": "hours"},
        {"key": "hour_value", "value": pytest.approx(6000.0), "kind": "money"}]
    assert (findings["underloaded"]["stage"], findings["no_show"]["stage"]) == ("capacity", "show")
    assert findings["overbooked"]["money_at_stake_per_month"] is None


def test_branch_league_of_a_network(tmp_path):
    """Branch A: d1 (6 000 offered minutes, 3 000 booked, 90 completed, 10 no-shows) and d2 (6 000, 5 400, 95, 5);
    branch B: d3 (6 000, 5 700, 100, 0); one month, a no-show worth 1 000 ₽.
    A: no-shows 15 of 200 = 7.5 % → (7.5 % − 5 %) × 200 × 1 000 = 5 000; d1 at 50 % lacks 0.85 × 6 000 − 3 000 =
    2 100 minutes = 70 visits of 30 minutes × 1 000 = 70 000; at stake 75 000. B: better than both targets: 0."""
    from types import SimpleNamespace

    from audit_kit.modules import schedule as sec
    from audit_kit.report import summary
    from audit_kit.report.i18n import Translator

    sched = pd.DataFrame({"doctor_id": ["d1", "d1", "d2", "d3", "d3", "d3"],
                          "branch_id": ["A", "A", "A", "B", "B", "A"]})          # d3 once in A: its branch is B
    branches = sec.doctor_branches({"schedule": sched})
    assert branches.to_dict() == {"d1": "A", "d2": "A", "d3": "B"}
    assert sec.doctor_branches({"schedule": sched.assign(branch_id="A")}) is None        # one clinic
    doctors = pd.DataFrame({"doctor_id": ["d1", "d2", "d3"], "specialty": ["s", "s", "s"],
                            "offered_minutes": [6000.0] * 3, "booked_minutes": [3000.0, 5400.0, 5700.0],
                            "completed": [90, 95, 100], "no_show": [10, 5, 0]})
    underload = pd.DataFrame({"doctor_id": ["d1"], "gap_minutes": [2100.0], "visit_value": [1000.0],
                              "typical_slot_minutes": [30.0]})
    cur = SimpleNamespace(doctors=doctors, visit_value=pd.Series({"s": 1000.0}),
                          frames=SimpleNamespace(months=1.0, slots=pd.DataFrame({"doctor_id": ["d1", "d2", "d3"],
                                                                                 "paid": [50_000.0, 60_000.0, 100_000.0]})),
                          money=SimpleNamespace(underload=underload))
    table = sec.branch_table(cur, branches)
    a, b = table.iloc[0], table.iloc[1]
    assert (a["branch_id"], b["branch_id"]) == ("A", "B")
    assert a["utilisation"] == pytest.approx(8400 / 12000) and a["no_show_rate"] == pytest.approx(0.075)
    assert (a["no_show_money_per_month"], a["idle_money_per_month"]) == (pytest.approx(5_000), pytest.approx(70_000))
    assert (a["money_per_month"], b["money_per_month"]) == (pytest.approx(75_000), 0.0)
    assert (a["visit_revenue_per_month"], b["visit_revenue_per_month"]) == (110_000.0, 100_000.0)
    folder = tmp_path / "modules" / "schedule" / "tables"
    folder.mkdir(parents=True)
    table.to_parquet(folder / "schedule_branches.parquet")
    league = summary.league_table(tmp_path)
    assert league["mark"].tolist() == ["worst", "best"] and league["share"].iloc[0] == pytest.approx(75 / 110)
    shown = summary.league_rows(league, Translator("ru"))
    assert shown["mark"].tolist() == ["больше всего под угрозой", "лучший"]
    assert summary.league_table(tmp_path / "nowhere") is None


def test_specialty_balance_within_each_branch_of_a_network():
    """Branch A: therapists A1 98 % (over) and A2 40 % (under, 600 idle min, 20 patients) -> imbalance.
    Branch B: therapists B1 50 % and B2 45 % (both under, 10 + 5 patients) -> no imbalance, spread 5 pp.
    B3 (surgeon) is the only surgeon of B; C1, a therapist without a branch, is compared with nobody.
    Across the network the four therapists would have made one row; within branches they make two."""
    per = pd.DataFrame({"doctor_id": ["A1", "A2", "B1", "B2", "B3", "C1"],
                        "doctor": ["Dr A1", "Dr A2", "Dr B1", "Dr B2", "Dr B3", "Dr C1"],
                        "specialty": ["ther", "ther", "ther", "ther", "surg", "ther"],
                        "branch_id": ["A", "A", "B", "B", "B", None],
                        "utilisation": [0.98, 0.40, 0.50, 0.45, 0.70, 0.10],
                        "idle_minutes": [0, 600, 300, 150, 10, 900], "idle_patients": [0, 20, 10, 5, 0, 30]})
    out = sc.specialty_balance(per)
    assert out.columns[:2].tolist() == ["branch_id", "specialty"]
    assert list(zip(out["branch_id"], out["specialty"])) == [("A", "ther"), ("B", "ther")]
    a, b = out.iloc[0], out.iloc[1]
    assert (a["busiest"], a["least"], a["overloaded"], a["underloaded"], a["imbalance"]) == (
        "Dr A1", "Dr A2", "Dr A1", "Dr A2", True)
    assert (a["idle_minutes"], a["idle_patients"]) == (600, 20)
    assert (b["overloaded"], b["underloaded"], b["imbalance"]) == ("", "Dr B2, Dr B1", False)
    assert b["spread"] == pytest.approx(0.05) and b["idle_patients"] == 15
    # without the column: one comparison per specialty across the network, the table as before
    plain = sc.specialty_balance(per.drop(columns=["branch_id"]))
    assert plain.columns[0] == "specialty" and plain["underloaded"].tolist() == ["Dr C1, Dr A2, Dr B2, Dr B1"]


def test_network_balance_shown_rows_and_names_capped():
    """Three (branch, specialty) rows: X imbalanced with 2 idle patients, Y not with 50, Z not with 9.
    Shown: the imbalanced first, then by idle patients; two rows; names capped at two, then «и ещё 2»."""
    from audit_kit.report.fmt import Formatter
    from audit_kit.report.i18n import Translator

    balance = pd.DataFrame({"branch_id": ["X", "Y", "Z"], "specialty": ["s", "s", "s"],
                            "busiest": ["a", "b", "c"], "busiest_utilisation": [0.99, 0.5, 0.5],
                            "least": ["d", "e", "f"], "least_utilisation": [0.1, 0.2, 0.3], "spread": [0.89, 0.3, 0.2],
                            "overloaded": ["a", "", ""], "underloaded": ["d, g, h, i", "e", "f"],
                            "idle_minutes": [60.0, 1500.0, 270.0], "idle_patients": [2.0, 50.0, 9.0],
                            "imbalance": [True, False, False]})
    shown = section.balance_shown(balance, Formatter("ru", "RUB"), Translator("ru"), rows=2, names=2)
    assert shown["branch_id"].tolist() == ["X", "Y"]
    assert shown["underloaded"].tolist() == ["d, g и ещё 2 — полный список в таблицах", "e"]
    assert "imbalance" not in shown and "idle_minutes" not in shown


def test_network_imbalance_finding_names_branches_and_each_specialty_once():
    """Therapists imbalanced in branches A (20 idle patients) and B (30): the pairs name the branch, most idle first;
    the specialty is named once. Without branches: one pair per specialty, as before."""
    from audit_kit.report.fmt import Formatter
    from audit_kit.report.i18n import Translator

    per = pd.DataFrame({"doctor_id": ["A1", "A2", "B1", "B2"], "doctor": ["Dr A1", "Dr A2", "Dr B1", "Dr B2"],
                        "specialty": ["ther"] * 4, "branch_id": ["A", "A", "B", "B"],
                        "utilisation": [0.98, 0.40, 0.99, 0.30], "idle_minutes": [0, 600, 0, 900],
                        "idle_patients": [0, 20, 0, 30]})
    fmt, t = Formatter("en", "RUB"), Translator("en")
    specialties, pairs = section.imbalance_text(sc.specialty_balance(per), fmt, t)
    assert specialties == "ther"
    assert pairs == "B · ther: Dr B1 ↔ Dr B2, A · ther: Dr A1 ↔ Dr A2"
    specialties, pairs = section.imbalance_text(sc.specialty_balance(per.drop(columns=["branch_id"])), fmt, t)
    assert (specialties, pairs) == ("ther", "ther: Dr B1, Dr A1 ↔ Dr B2, Dr A2")
