"""Module 05 (RFM): every definition of issue 9 pinned by a hand-computed fixture."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from audit_kit.ingest.keys import add_keys
from audit_kit.metrics import rfm
from audit_kit.modules import rfm as section
from audit_kit.metrics.periods import AVG_MONTH_DAYS

from helpers import canon

T = pd.Timestamp
AS_OF = T("2025-03-31")


def invoices(rows):
    """rows: (patient, paid_at, amount, visit_id[, service])."""
    rows = [r + (None,) * (5 - len(r)) for r in rows]
    return canon("invoices", invoice_id=[f"i{i}" for i in range(len(rows))], patient_id=[r[0] for r in rows],
                 paid_at=[r[1] for r in rows], amount=[r[2] for r in rows], visit_id=[r[3] for r in rows],
                 service=[r[4] for r in rows])


def scored_table(**columns):
    """A per-patient table as `rfm_table` makes it, from plain lists (index P1, P2, …)."""
    n = len(next(iter(columns.values())))
    index = pd.Index(columns.pop("patient_id", [f"P{i + 1}" for i in range(n)]), name="patient_id", dtype="string")
    df = pd.DataFrame(columns, index=index)
    for col in ("first_visit", "last_visit"):
        if col in df:
            df[col] = pd.to_datetime(df[col])
    return df


class TestRfmTable:
    INV = invoices([
        ("A", "2025-03-01 10:00", 1000.0, "V1"),
        ("A", "2025-03-01 11:00", 500.0, "V1"),       # same visit_id: one visit
        ("A", "2025-03-01 12:00", 300.0, None),       # same day without visit_id: its own patient-day
        ("A", "2025-03-01 18:00", 200.0, None),       # ... the same patient-day
        ("A", "2025-03-05 09:00", 0.0, None),         # a free visit is a visit
        ("A", "2025-03-20 09:00", -400.0, None),      # a refund on another day: money, no visit
        ("A", "2025-04-01 09:00", 9000.0, "V7"),      # after the as-of: ignored
        ("B", "2025-03-31 23:30", 700.0, "V2"),       # on the as-of day: recency 0
        ("B", "2025-03-31 23:40", -700.0, "V2"),      # refunded the same visit: the visit stays, money 0
        ("C", "2025-02-01 10:00", -100.0, None),      # refunds only: no visit, not in the table
        ("D", "2025-01-10 10:00", 100.0, "V3"),
        ("D", "2025-01-10 10:00", 100.0, "V4"),       # two visit_ids on one day: two visits
    ])

    def test_definitions(self):
        t = rfm.rfm_table(self.INV, AS_OF).sort_index()
        assert t.index.tolist() == ["A", "B", "D"]
        assert t["frequency"].tolist() == [3, 1, 2]                 # A: V1, patient-day Mar 1, free Mar 5
        assert t["recency_days"].tolist() == [26, 0, 80]            # A: Mar 31 − Mar 5
        assert t["monetary"].tolist() == [1600.0, 0.0, 200.0]       # A: 1000 + 500 + 300 + 200 + 0 − 400
        assert t.loc["A", "first_visit"] == T("2025-03-01") and t.loc["A", "last_visit"] == T("2025-03-05")

    def test_as_of_is_inclusive_and_later_rows_count_later(self):
        t = rfm.rfm_table(self.INV, "2025-04-01").sort_index()
        assert t.loc["A", "frequency"] == 4 and t.loc["A", "monetary"] == 10600.0 and t.loc["A", "recency_days"] == 0

    def test_per_visit_money_and_ingest_keys(self):
        t = rfm.rfm_table(add_keys({"invoices": self.INV})["invoices"], AS_OF, monetary="per_visit").sort_index()
        assert t["monetary"].round(4).tolist() == [533.3333, 0.0, 100.0]
        assert t["paid"].tolist() == [1600.0, 0.0, 200.0]
        with pytest.raises(ValueError, match="option rfm_monetary: expected one of total, per_visit, got 'mean'"):
            rfm.rfm_table(self.INV, AS_OF, monetary="mean")


def plain_pandas_rfm(inv: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """An independent, slow, obvious computation of the same table (no shared code)."""
    inv = inv.loc[inv["paid_at"] < as_of + pd.Timedelta(days=1)].copy()
    day = inv["paid_at"].dt.normalize()
    inv["key"] = np.where(inv["visit_id"].isna(), "day:" + inv["patient_id"].astype(str) + ":" + day.astype(str),
                          "id:" + inv["visit_id"].astype(str))
    inv["day"] = day
    made = inv.loc[inv["amount"] >= 0].sort_values("invoice_id", kind="stable")
    rows = []
    for key, g in made.groupby("key", sort=False):
        rows.append({"key": key, "patient_id": g.sort_index()["patient_id"].iloc[0], "day": g["day"].min()})
    visits = pd.DataFrame(rows)
    per = visits.groupby("patient_id").agg(frequency=("key", "nunique"), first_visit=("day", "min"),
                                           last_visit=("day", "max"))
    per["recency_days"] = (as_of - per["last_visit"]).dt.days
    per["monetary"] = inv.groupby("patient_id")["amount"].sum().reindex(per.index)
    return per


def test_equals_plain_pandas_on_generated_invoices():
    rng = np.random.default_rng(7)
    n = 4000
    patient = rng.integers(0, 600, n).astype(str)
    day = T("2024-01-01") + pd.to_timedelta(rng.integers(0, 500, n), unit="D")
    at = day + pd.to_timedelta(rng.integers(8 * 60, 20 * 60, n), unit="min")
    amount = rng.choice([0.0, 500.0, 1500.0, 1500.0, 3200.0, -500.0, -1500.0], n)
    visit = np.where(rng.random(n) < 0.5, pd.Series(patient).str.cat(pd.Series(day.strftime("%m%d")), sep="-")
                     + "-" + rng.integers(0, 2, n).astype(str), None)
    inv = canon("invoices", invoice_id=[f"i{i:05d}" for i in range(n)], patient_id=list(patient),
                paid_at=list(at.strftime("%Y-%m-%d %H:%M")), amount=list(amount), visit_id=list(visit))
    inv = pd.concat([inv, inv.iloc[:50]], ignore_index=True)        # exact same-day duplicates as well
    as_of = T("2025-02-15")
    fast = rfm.rfm_table(inv, as_of).sort_index()
    slow = plain_pandas_rfm(inv, as_of).sort_index()
    assert len(fast) > 500
    assert fast.index.tolist() == slow.index.tolist()
    for col in ("recency_days", "frequency", "first_visit", "last_visit"):
        assert fast[col].tolist() == slow[col].tolist(), col
    assert np.allclose(fast["monetary"].to_numpy(), slow["monetary"].to_numpy(), rtol=0, atol=1e-6)


class TestScores:
    def test_ties_at_a_tercile_cut_get_the_same_score(self):
        # frequency 1,1,1,2,2,3: c1 = 1 (position 5/3 between two 1s), c2 = 2 (position 10/3 between two 2s)
        f = pd.Series([1, 1, 1, 2, 2, 3])
        assert rfm.tercile_cuts(f) == (1.0, 2.0)
        assert rfm.score(f, (1.0, 2.0)).tolist() == [1, 1, 1, 2, 2, 3]

    def test_recency_is_reversed_and_cut_at_values_of_the_data(self):
        r = pd.Series([10, 20, 20, 30, 40, 50])
        c1, c2 = rfm.tercile_cuts(r)
        # the smallest value with at least 1/3 (2/3) of the values at or below it: 20 (3 of 6), 30 (4 of 6)
        assert (c1, c2) == (20.0, 30.0)
        assert rfm.tercile_cuts(pd.concat([r] * 3)) == (c1, c2)    # three copies: the same cuts
        assert rfm.score(r, (c1, c2), lower_is_better=True).tolist() == [3, 3, 3, 2, 1, 1]

    def test_equal_cuts_leave_the_score_code_and_segment_empty(self):
        table = scored_table(recency_days=[5, 50, 100, 200, 300], frequency=[1, 1, 1, 1, 2],
                             monetary=[100.0, 200.0, 300.0, 400.0, 500.0], paid=[100.0, 200.0, 300.0, 400.0, 500.0])
        cuts = rfm.score_cuts(table)
        assert cuts["frequency"] == (1.0, 1.0)
        out = rfm.scored(table, cuts, rfm.segment_map())
        assert out["f"].isna().all() and out["code"].isna().all() and out["segment"].isna().all()
        assert out["r"].tolist() == [3, 3, 2, 2, 1]      # recency cuts 50 (2 of 5 at or below) and 200 (4 of 5)

    def test_fixed_thresholds(self):
        table = scored_table(recency_days=[90, 91, 180, 181], frequency=[1, 2, 3, 4],
                             monetary=[20000.0, 20001.0, 60000.0, 60001.0], paid=[1.0, 1.0, 1.0, 1.0])
        cuts = rfm.score_cuts(table, {"recency_days": [90, 180], "frequency": [1, 3], "monetary": [20000, 60000]})
        out = rfm.scored(table, cuts, rfm.segment_map())
        assert out["r"].tolist() == [3, 2, 2, 1]
        assert out["f"].tolist() == [1, 2, 2, 3]
        assert out["m"].tolist() == [1, 2, 2, 3]
        assert out["code"].tolist() == ["R3F1M1", "R2F2M2", "R2F2M2", "R1F3M3"]
        assert out["segment"].tolist() == ["promising", "needs_attention", "needs_attention", "former_best"]

    def test_fixed_thresholds_for_one_measure_terciles_for_the_rest(self):
        table = scored_table(recency_days=[1, 2, 3], frequency=[1, 2, 3], monetary=[1.0, 2.0, 3.0])
        cuts = rfm.score_cuts(table, {"frequency": [1, 3]})
        assert cuts["frequency"] == (1.0, 3.0) and cuts["recency_days"] == rfm.tercile_cuts([1, 2, 3])

    @pytest.mark.parametrize("given, message", [
        ({"frequency": [3, 1]}, r"option rfm_thresholds.frequency: expected two increasing numbers \[t1, t2\], got \[3, 1\]"),
        ({"frequency": [1]}, r"option rfm_thresholds.frequency: expected two increasing numbers"),
        ({"frequency": ["a", "b"]}, r"option rfm_thresholds.frequency: expected two increasing numbers"),
        ({"visits": [1, 2]}, r"option rfm_thresholds: unknown measure 'visits'; expected some of: recency_days, "
                             r"frequency, monetary"),
    ])
    def test_fixed_thresholds_are_checked(self, given, message):
        table = scored_table(recency_days=[1], frequency=[1], monetary=[1.0])
        with pytest.raises(ValueError, match=message):
            rfm.score_cuts(table, given)


class TestSegments:
    def test_every_code_in_exactly_one_segment(self):
        seg = rfm.segment_map()
        assert len(seg) == 27 and seg["code"].is_unique and set(seg["code"]) == set(rfm.CODES)
        lookup = dict(zip(seg["code"], seg["segment"]))
        assert lookup["R3F3M3"] == "best" and lookup["R1F3M3"] == "former_best" and lookup["R1F1M1"] == "lost"
        assert dict(zip(seg["segment"], seg["action"]))["former_best"] == "call"
        assert set(seg["action"]) <= set(rfm.ACTIONS)

    def test_overrides_move_single_codes(self):
        seg = rfm.segment_map({"R2F2M2": "at_risk"})
        assert dict(zip(seg["code"], seg["segment"]))["R2F2M2"] == "at_risk"
        assert dict(zip(seg["code"], seg["action"]))["R2F2M2"] == "call"
        with pytest.raises(ValueError, match="option rfm_segments.R2F2M2: unknown segment 'vip'; expected one of: best"):
            rfm.segment_map({"R2F2M2": "vip"})
        with pytest.raises(ValueError, match="option rfm_segments: 'R4F1M1' is not an RFM code like R3F3M3"):
            rfm.segment_map({"R4F1M1": "best"})

    def test_a_broken_segments_file_is_named(self, tmp_path):
        text = rfm.SEGMENTS_FILE.read_text(encoding="utf-8").replace("codes: [R1F3M3]", "codes: [R1F3M3, R3F3M3]")
        (tmp_path / "seg.yaml").write_text(text, encoding="utf-8")
        with pytest.raises(ValueError, match="code R3F3M3 is repeated"):
            rfm.load_segments(tmp_path / "seg.yaml")
        text = rfm.SEGMENTS_FILE.read_text(encoding="utf-8").replace("codes: [R1F3M3]", "codes: []")
        (tmp_path / "seg.yaml").write_text(text, encoding="utf-8")
        with pytest.raises(ValueError, match="codes without a segment: R1F3M3"):
            rfm.load_segments(tmp_path / "seg.yaml")

    def test_segment_summary_shares(self):
        table = scored_table(recency_days=[1, 2, 3], frequency=[1, 1, 1], monetary=[1.0, 1.0, 1.0],
                             paid=[100.0, 300.0, 600.0], segment=["best", "best", "lost"])
        s = rfm.segment_summary(table, rfm.segment_map()).set_index("segment")
        assert s.loc["best", "patients"] == 2 and s.loc["best", "paid_share"] == 0.4
        assert s.loc["lost", "patient_share"] == pytest.approx(1 / 3) and s.loc["at_risk", "patients"] == 0


class TestChurnThreshold:
    def test_gaps_between_distinct_visit_days(self):
        inv = invoices([("A", "2025-01-01 10:00", 100.0, "V1"), ("A", "2025-01-01 12:00", 100.0, "V2"),
                        ("A", "2025-01-11 10:00", 100.0, None), ("A", "2025-02-10 10:00", 100.0, None),
                        ("B", "2025-01-05 10:00", 100.0, None), ("A", "2025-01-20 10:00", -50.0, None)])
        g = rfm.gaps(rfm.visit_days(inv, AS_OF))
        assert g["patient_id"].tolist() == ["A", "A"] and g["gap_days"].tolist() == [10, 30]

    def test_quantile_of_frequent_patients_gaps(self):
        g = pd.DataFrame({"patient_id": pd.array(["A"] * 30 + ["B"], dtype="string"),
                          "gap_days": list(range(1, 31)) + [500]})
        th = rfm.churn_threshold(g, ["A"])
        assert th.basis == "f3" and th.gaps == 30
        assert th.days == 27.0                        # 27 of 30 gaps (90 %) are at most 27 days
        assert th.window == (20.0, 27.0)

    def test_falls_back_to_all_returning_patients(self):
        g = pd.DataFrame({"patient_id": pd.array(["A", "A", "A", "B", "C"], dtype="string"),
                          "gap_days": [10, 20, 30, 40, 50]})
        th = rfm.churn_threshold(g, ["A"], quantile=0.5, window_days=5)
        assert (th.basis, th.gaps, th.days, th.window) == ("all", 5, 30.0, (25.0, 30.0))
        assert rfm.churn_threshold(g.iloc[:0], ["A"]).days is None
        with pytest.raises(ValueError, match="option churn_quantile: expected a share between 0 and 1, got 90"):
            rfm.churn_threshold(g, ["A"], quantile=90)


class TestReturnCurve:
    def test_kaplan_meier_by_hand(self):
        # spells 2, 3, 3 (censored), 5, 6 (censored)
        km = rfm.kaplan_meier(np.array([2, 3, 3, 5, 6]), np.array([True, True, False, True, False]))
        assert km["days"].tolist() == [2, 3, 5, 6]
        assert km["at_risk"].tolist() == [5, 4, 2, 1]
        assert km["returned"].tolist() == [1, 1, 1, 0] and km["censored"].tolist() == [0, 1, 0, 1]
        assert km["still_away"].round(6).tolist() == [0.8, 0.6, 0.3, 0.3]     # 4/5, × 3/4, × 1/2, × 1
        assert rfm.still_away_at(km, 1) == 1.0 and rfm.still_away_at(km, 4) == pytest.approx(0.6)

    def test_a_censored_patient_counts_only_while_idle(self):
        gap_table = pd.DataFrame({"patient_id": pd.array(["A", "A"], dtype="string"), "gap_days": [10, 20]})
        table = scored_table(patient_id=["A", "B"], recency_days=[5, 15])
        curve = rfm.return_curve(gap_table, table, ["A", "B"])
        # spells: 5 (A now, censored), 10, 15 (B now, censored), 20
        assert curve["days"].tolist() == [5, 10, 15, 20]
        assert curve["still_away"].round(6).tolist() == [1.0, round(2 / 3, 6), round(2 / 3, 6), 0.0]


class TestReactivation:
    TABLE = scored_table(
        patient_id=["P1", "P2", "P3", "P4"], recency_days=[400, 120, 95, 30], frequency=[10, 6, 2, 1],
        monetary=[12000.0, 6000.0, 900.0, 100.0], paid=[12000.0, 6000.0, 900.0, 100.0],
        first_visit=["2024-01-01", "2024-06-01", "2024-11-01", "2025-03-01"],
        last_visit=["2024-01-31", "2024-12-01", "2024-12-26", "2025-03-01"],
        code=["R1F3M3", "R2F3M3", "R2F1M1", "R3F1M1"], segment=["former_best", "at_risk", "one_off", "promising"])
    TH = rfm.Threshold(100.0, "f3", 40, 0.9, 7)

    def test_segments_plus_contact_window_ranked_by_expected_value(self):
        out = rfm.reactivation_list(
            self.TABLE, self.TH, last_doctor=pd.Series({"P1": "Dr A"}, dtype="string"),
            last_service=pd.Series({"P1": "x", "P3": "y"}, dtype="string"),
            offers=pd.DataFrame({"service": ["x"], "next_service": ["z"]}))
        assert out.columns.tolist() == rfm.REACTIVATION_COLUMNS
        assert "full_name" not in out and "phone" not in out
        p1 = 12 * 12000 / (30 / AVG_MONTH_DAYS + 1)       # 30 active days -> 1.99 months
        p2 = 12 * 6000 / (183 / AVG_MONTH_DAYS + 1)
        p3 = 12 * 900 / (55 / AVG_MONTH_DAYS + 1)         # P3: idle 95 days, inside [93, 100)
        assert out["patient_id"].tolist() == ["P1", "P2", "P3"]
        assert out["expected_value"].tolist() == pytest.approx([p1, p2, p3])
        assert out["reason"].tolist() == ["former_best", "at_risk", "window"]
        assert out["priority"].tolist() == [1, 2, 3]
        assert out["last_doctor"].tolist()[:1] == ["Dr A"] and out["last_doctor"].isna().tolist() == [False, True, True]
        assert out.loc[0, "suggested_offer"] == "z" and pd.isna(out.loc[2, "suggested_offer"])

    def test_money_at_stake_is_the_former_best_monthly_value(self):
        assert rfm.money_at_stake(self.TABLE) == pytest.approx(12000 / (30 / AVG_MONTH_DAYS + 1))
        assert rfm.active_months(self.TABLE).iloc[3] == 1.0

    def test_next_best_offer(self):
        services = pd.DataFrame({"patient_id": ["A", "A", "A", "B", "B", "C", "C", "D"],
                                 "service": ["x", "y", "z", "x", "y", "x", "z", "x"]}).astype("string")
        nbo = rfm.next_best_offer(services).set_index("service")
        assert nbo.loc["x", "next_service"] == "y" and nbo.loc["x", "pairs"] == 2
        assert nbo.loc["x", "share"] == pytest.approx(2 / 3)
        assert nbo.loc["y", "next_service"] == "z" and "z" not in nbo.index   # nobody continued after z

    def test_visit_services_take_the_largest_line(self):
        inv = invoices([("A", "2025-01-01 10:00", 500.0, "V1", "consult"), ("A", "2025-01-01 10:05", 3000.0, "V1", "mri"),
                        ("A", "2025-02-01 10:00", 800.0, None, "consult"), ("A", "2025-02-03 10:00", -800.0, None, "consult")])
        s = rfm.visit_services(inv, AS_OF)
        assert s["service"].tolist() == ["mri", "consult"]
        assert rfm.last_services(s).to_dict() == {"A": "consult"}
        # the services read as categories (a module's `categorical` columns): the same visits and services
        coded = inv.assign(service=pd.Categorical(inv["service"], categories=["mri", "consult"]))
        pd.testing.assert_frame_equal(rfm.visit_services(coded, AS_OF), s)

    def test_last_doctor_from_visits_else_bookings_with_names(self):
        visits = canon("visits", visit_id=["v1", "v2", "v3"], patient_id=["A", "A", "B"], doctor_id=["d1", "d2", "d1"],
                       checked_in_at=["2025-01-01 10:00", "2025-02-01 10:00", "2025-04-02 10:00"])
        doctors = canon("doctors", doctor_id=["d1", "d2"], specialty=["t", "t"], doctor_name=["Dr One", None])
        assert rfm.last_doctors(AS_OF, visits, None, doctors).to_dict() == {"A": "d2"}   # B's visit is after the as-of
        bookings = canon("bookings", booking_id=["b1", "b2"], patient_id=["B", "B"], doctor_id=["d1", "d2"],
                         slot_start=["2025-01-01 10:00", "2025-01-05 10:00"], status=["completed", "no_show"])
        assert rfm.last_doctors(AS_OF, None, bookings, doctors).to_dict() == {"B": "Dr One"}
        assert rfm.last_doctors(AS_OF).empty


class TestCallPlan:
    def test_the_seed_example(self):
        p = rfm.call_plan(10_000, calls_per_hour=6, call_hours_per_day=6, dials_per_day=50, deadline_days=30,
                          reach_rate=0.7, return_rate=0.15, average_check=2000)
        assert p.conversations_per_day == 36
        assert p.operator_days == 200
        assert p.operators_needed == 7                    # ⌈200 ÷ 30⌉
        assert p.expected_returns == pytest.approx(1050)  # 10 000 × 0.7 × 0.15
        assert p.expected_revenue == pytest.approx(2_100_000)

    def test_exact_deadline_and_empty_list(self):
        assert rfm.call_plan(3000, deadline_days=30).operators_needed == 2     # 60 days ÷ 30: exactly 2
        assert rfm.call_plan(0).operators_needed == 0 and math.isnan(rfm.call_plan(0).expected_revenue)
        with pytest.raises(ValueError, match="option dials_per_day: expected a positive number, got 0"):
            rfm.call_plan(10, dials_per_day=0)


def test_branch_split_of_best_patients():
    table = scored_table(patient_id=["A", "B", "C"], recency_days=[1, 1, 1], segment=["best", "best", "lost"])
    bookings = canon("bookings", booking_id=[f"b{i}" for i in range(7)], patient_id=["A", "A", "A", "B", "B", "C", "C"],
                     doctor_id=["d"] * 7, branch_id=["north", "south", "south", "north", "north", "north", "south"],
                     slot_start=["2025-01-0%d 10:00" % (i + 1) for i in range(7)],
                     status=["completed"] * 6 + ["completed"])
    out = rfm.branch_split(table, bookings, AS_OF)
    assert out["patient_id"].tolist() == ["A"]                      # B uses one branch, C is not best
    assert out.loc[0, "main_branch"] == "south" and out.loc[0, "main_share"] == pytest.approx(2 / 3)
    assert out.loc[0, "split"] == "south: 2, north: 1"
    assert rfm.branch_split(table, bookings.assign(branch_id=pd.NA), AS_OF) is None
    # branches and statuses read as categories, in any order of the categories: the same table, text columns
    coded = bookings.assign(branch_id=pd.Categorical(bookings["branch_id"], categories=["south", "north"]),
                            status=pd.Categorical(bookings["status"]))
    pd.testing.assert_frame_equal(rfm.branch_split(table, coded, AS_OF), out)


def test_summarise_and_headlines_on_a_small_clinic():
    rows = []
    for p in range(10):                                  # 10 patients, patient p visits p + 1 times, 30 days apart
        for k in range(p + 1):
            rows.append((f"P{p:02d}", str((T("2024-01-01") + pd.Timedelta(days=30 * k + p)).date()) + " 10:00",
                         1000.0 * (1 + p % 3), None, "consult"))
    tables = {"invoices": invoices(rows)}
    from audit_kit.config import DEFAULT_OPTIONS

    S = rfm.summarise(tables, {"current": (T("2025-01-01"), T("2025-04-01"))}, DEFAULT_OPTIONS)
    cur = S["current"]
    assert cur.as_of == AS_OF and len(cur.table) == 10
    assert cur.threshold.basis == "all" and cur.threshold.days == 30.0     # F3 (8–10 visits): 24 gaps < 30
    metrics = rfm.headline_metrics(S)
    assert metrics["rfm.patients"] == ("count", {"current": 10})
    assert metrics["rfm.reactivation_list"][1]["current"] == len(cur.reactivation)
    assert metrics["rfm.operator_days"][1]["current"] == len(cur.reactivation) / 50
    assert cur.patients().columns.tolist() == rfm.PATIENT_COLUMNS and cur.patients()["patient_id"].is_monotonic_increasing


def test_call_list_workbook_is_formula_injection_safe(tmp_path):
    from openpyxl import load_workbook

    from audit_kit.report.xlsx import SheetTable, table_workbook

    df = pd.DataFrame({"priority": [1], "patient_id": pd.array(["=1+1"], dtype="string"),
                       "last_service": pd.array(["@SUM(A1)"], dtype="string"), "paid": [1500.0]})
    path = table_workbook(tmp_path / "reactivation.xlsx", SheetTable("reactivation", "rfm", "Call list", df,
                          {"paid": "money"}, {"patient_id": "Patient (ID)"}), "en", "₽")
    ws = load_workbook(path).active
    assert ws.title == "reactivation"
    assert [c.value for c in ws[1]] == ["priority", "Patient (ID)", "last_service", "paid"]
    assert [c.value for c in ws[2]] == [1, "'=1+1", "'@SUM(A1)", 1500]
    assert ws["D2"].number_format == '"₽"#,##0'


def test_appendix_prints_the_tables_modules_flag(tmp_path):
    import json

    from audit_kit.report.appendix import reference_tables
    from audit_kit.report.i18n import Translator

    folder = tmp_path / "modules" / "rfm" / "tables"
    folder.mkdir(parents=True)
    rfm.segment_map().to_parquet(folder / "rfm_segment_map.parquet")
    rfm.segment_map().to_parquet(folder / "rfm_patients.parquet")
    (tmp_path / "modules" / "rfm" / "tables.json").write_text(json.dumps(
        {"rfm_segment_map": {"title": "Codes", "formats": {}, "appendix": True},
         "rfm_patients": {"title": "Patients", "formats": {}}}), encoding="utf-8")
    tables = reference_tables(tmp_path, Translator("en"))
    assert [(tb.name, tb.title, tb.section, len(tb.df)) for tb in tables] == [("rfm_segment_map", "Codes", "rfm", 27)]
    assert tables[0].labels["segment"] == "Segment"


def test_a_period_before_any_visit_gives_an_empty_base_not_an_error():
    from audit_kit.config import DEFAULT_OPTIONS

    inv = invoices([("P", "2025-05-01 10:00", 100.0, None), ("Q", "2025-05-02 10:00", 200.0, None)])
    S = rfm.summarise({"invoices": inv}, {"current": (T("2025-01-01"), T("2025-04-01"))}, DEFAULT_OPTIONS)
    cur = S["current"]
    assert len(cur.table) == 0 and cur.threshold.days is None and cur.curve.empty and cur.reactivation.empty
    assert {k: v[1]["current"] for k, v in rfm.headline_metrics(S).items()} == {
        "rfm.patients": 0, "rfm.former_best": 0, "rfm.at_risk": 0, "rfm.churn_threshold_days": None,
        "rfm.reactivation_list": 0, "rfm.operator_days": 0.0, "rfm.money_at_stake_per_month": 0.0}
    assert section.finding_drafts(S, None) == []


def test_former_best_and_at_risk_priced_by_the_call_campaign():
    """40 former best on the list paying 12 000 ₽ a month while active (one active month each) × 70 % reached ×
    15 % returning = 50 400 ₽; 10 at-risk paying 6 000 ₽ = 6 300 ₽; other patients, so the module counts both."""
    from types import SimpleNamespace

    day = pd.Timestamp("2024-06-01")
    table = pd.DataFrame({"segment": pd.array(["former_best"] * 40 + ["at_risk"] * 10 + ["best"] * 5, dtype="string"),
                          "paid": [12_000.0] * 40 + [6_000.0] * 10 + [50_000.0] * 5,
                          "first_visit": day, "last_visit": day})
    listed = pd.DataFrame({"segment": pd.array(["former_best"] * 40 + ["at_risk"] * 10, dtype="string")})
    s = SimpleNamespace(table=table, reactivation=listed, plan=SimpleNamespace(reach_rate=0.7, return_rate=0.15))
    prices = section.prices(s)
    assert prices["former_best"].money == pytest.approx(50_400)
    assert prices["at_risk"].money == pytest.approx(6_300)
    assert (prices["former_best"].stage, prices["former_best"].acts_on) == ("return", "former_best")
    assert section.money_per_month({"current": s}) == {"current": pytest.approx(56_700)}
    # a segment left off the call list (option reactivation_segments) is not priced
    s.reactivation = listed.loc[listed["segment"].eq("at_risk")]
    assert section.prices(s)["former_best"] is None


def test_the_summary_by_ingest_keys_is_the_summary_by_ids():
    """As a run folder holds them (ingest's integer keys beside the IDs) and as plain IDs: the same RFM,
    services (ties of the largest line: the first row), last doctors, offers and call list."""
    import numpy as np

    from audit_kit.config import DEFAULT_OPTIONS
    from audit_kit.ingest.keys import add_keys

    rng = np.random.default_rng(5)
    rows, visit_rows = [], []
    for p in range(60):
        for k in range(1 + p % 7):
            day = T("2024-01-01") + pd.Timedelta(days=int(rng.integers(0, 450)))
            visit = f"V{p}_{k}" if k % 2 else None
            for line, amount in enumerate((1000.0 * (1 + k % 3), 1000.0 * (1 + k % 3), -200.0)[: 1 + k % 3]):
                rows.append((f"P{p:02d}", f"{day.date()} 1{line}:00", amount, visit, ["consult", "mri", "x-ray"][(p + k + line) % 3]))
            if visit:
                visit_rows.append({"visit_id": visit, "patient_id": f"P{p:02d}", "doctor_id": f"D{(p + k) % 4}",
                                   "checked_in_at": f"{day.date()} 09:5{k % 10}"})
    tables = {"invoices": invoices(rows), "visits": canon("visits", visit_rows),
              "doctors": canon("doctors", doctor_id=["D0", "D1", "D2"], specialty=["t"] * 3, doctor_name=["Dr A", None, "Dr C"])}
    keyed = add_keys(tables)
    assert "patient_key" in keyed["visits"] and "visit_key" in keyed["invoices"]
    periods = {"current": (T("2025-01-01"), T("2025-04-01"))}
    plain, by_key = rfm.summarise(tables, periods, DEFAULT_OPTIONS)["current"], rfm.summarise(keyed, periods, DEFAULT_OPTIONS)["current"]
    assert len(plain.reactivation) and plain.reactivation["last_doctor"].notna().any() and len(plain.offers)
    for name in ("reactivation", "offers", "by_segment", "curve"):
        pd.testing.assert_frame_equal(getattr(by_key, name), getattr(plain, name))
    pd.testing.assert_frame_equal(by_key.patients(), plain.patients())
    services = rfm.visit_services(keyed["invoices"], AS_OF)
    pd.testing.assert_frame_equal(services, rfm.visit_services(tables["invoices"], AS_OF))
    assert rfm.last_doctors(AS_OF, keyed["visits"], None, keyed["doctors"]).to_dict() == \
        rfm.last_doctors(AS_OF, tables["visits"], None, tables["doctors"]).to_dict()


def test_segment_branches_counts_patients_in_their_home_branch():
    """Patients p1, p2 (best) and p3 (lost) at home in A, p4 (best) in B, p5 (lost) without a home branch and
    p6 (home B) without a segment: A 3 patients (2 best, 1 lost), B 1 (1 best); every other segment 0."""
    from audit_kit.metrics import rfm as r

    segments = r.segment_map()
    table = pd.DataFrame({"segment": ["best", "best", "lost", "best", "lost", None]},
                         index=pd.Index(["p1", "p2", "p3", "p4", "p5", "p6"], name="patient_id"))
    home = pd.Series(["A", "A", "A", "B", "B"], index=pd.Index(["p1", "p2", "p3", "p4", "p6"], dtype="string"),
                     dtype="string")
    out = r.segment_branches(table, home, segments).set_index("branch_id")
    order = list(dict.fromkeys(segments["segment"]))
    assert out.columns.tolist() == ["patients"] + [f"{s}_patients" for s in order]
    assert out.loc["A", ["patients", "best_patients", "lost_patients"]].tolist() == [3, 2, 1]
    assert out.loc["B", ["patients", "best_patients", "lost_patients"]].tolist() == [1, 1, 0]
    assert out.drop(columns=["patients", "best_patients", "lost_patients"]).to_numpy().sum() == 0
    assert r.segment_branches(table, None, segments) is None


def test_periods_without_details_give_the_same_headlines_and_call_list():
    """`summarise(..., details=("current",))`: the base period carries no offers and no tables by branch, and its
    call list no last doctor, service or offer; its patients, call list (rows, order, money), plan and headline
    metrics are those of the detailed summary. The current period is the detailed one."""
    import numpy as np

    from audit_kit.config import DEFAULT_OPTIONS

    rng = np.random.default_rng(7)
    rows, booking_rows = [], []
    for p in range(80):
        for k in range(1 + p % 6):
            day = T("2024-01-01") + pd.Timedelta(days=int(rng.integers(0, 450)))
            rows.append((f"P{p:02d}", f"{day.date()} 10:00", 1000.0 * (1 + (p + k) % 4), None, ["consult", "mri"][k % 2]))
            booking_rows.append({"booking_id": f"B{p}_{k}", "patient_id": f"P{p:02d}", "doctor_id": f"D{p % 3}",
                                 "slot_start": f"{day.date()} 10:00", "status": "completed",
                                 "branch_id": ["A", "B"][(p + (k == 3)) % 2]})
    tables = {"invoices": invoices(rows), "bookings": canon("bookings", booking_rows)}
    periods = {"base": (T("2024-10-01"), T("2025-01-01")), "current": (T("2025-01-01"), T("2025-04-01"))}
    full = rfm.summarise(tables, periods, DEFAULT_OPTIONS)
    light = rfm.summarise(tables, periods, DEFAULT_OPTIONS, details=("current",))
    base, plain = light["base"], full["base"]
    assert base.offers is None and base.branches is None and base.segment_branches is None
    assert plain.segment_branches is not None and len(plain.offers) and len(plain.reactivation) > 0
    assert base.reactivation["last_service"].isna().all() and base.reactivation["suggested_offer"].isna().all()
    kept = ["priority", "patient_id", "reason", "segment", "code", "last_visit", "idle_days", "visits", "paid",
            "expected_value"]
    pd.testing.assert_frame_equal(base.reactivation[kept], plain.reactivation[kept])
    pd.testing.assert_frame_equal(base.patients(), plain.patients())
    assert base.plan == plain.plan and base.money_at_stake == plain.money_at_stake
    assert rfm.headline_metrics(light) == rfm.headline_metrics(full)
    for name in ("reactivation", "offers", "branches", "segment_branches", "curve"):
        pd.testing.assert_frame_equal(getattr(light["current"], name), getattr(full["current"], name))
