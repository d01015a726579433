"""metrics.ids: IDs looked up across tables by ingest's keys, else by Arrow's hash — the same answers."""
from __future__ import annotations

import pandas as pd


def test_same_as_previous_and_among_compare_ids_as_given():
    from audit_kit.metrics.ids import among, same_as_previous

    ids = pd.Series(["A", "A", "B", None, None, "b", "b"], dtype="string")
    assert same_as_previous(ids).tolist() == [False, True, False, False, False, False, True]   # NA never repeats
    assert same_as_previous(ids.iloc[:1]).tolist() == [False] and same_as_previous(ids.iloc[:0]).tolist() == []
    assert among(ids, ["A", "b"]).tolist() == [True, True, False, False, False, True, True]     # case kept
    assert among(pd.Index(["00123", "123"], dtype="string"), pd.Index(["123"], dtype="string")).tolist() == [False, True]
    assert among(ids, []).tolist() == [False] * 7


def test_found_in_by_keys_agrees_with_the_ids():
    """With ingest's keys (one code list per family across tables) and without them, the same answer."""
    from audit_kit.ingest.keys import add_keys
    from audit_kit.metrics.ids import found_in

    bookings = pd.DataFrame({"booking_id": pd.array(["B1", "B2", "B3"], dtype="string"),
                             "lead_id": pd.array(["L1", None, "L9"], dtype="string")})
    leads = pd.DataFrame({"lead_id": pd.array(["L1", "L2", None], dtype="string")})
    keyed = add_keys({"bookings": bookings, "leads": leads})
    assert "lead_key" in keyed["bookings"] and "lead_key" in keyed["leads"]
    assert found_in(keyed["bookings"], "lead_id", keyed["leads"]).tolist() == [True, False, False]
    assert found_in(bookings, "lead_id", leads).tolist() == [True, False, False]            # no keys: by the IDs
    assert found_in(keyed["bookings"], "lead_id", keyed["leads"].iloc[:0]).tolist() == [False] * 3
    assert found_in(keyed["leads"], "lead_id", keyed["bookings"].iloc[1:]).tolist() == [False, False, False]


def test_row_in_finds_the_first_row_by_keys_or_ids():
    from audit_kit.ingest.keys import add_keys
    from audit_kit.metrics.ids import row_in, with_keys

    visits = pd.DataFrame({"visit_id": pd.array(["V1", "V2", "V3", "V4"], dtype="string"),
                           "booking_id": pd.array(["B2", None, "B9", "B1"], dtype="string")})
    bookings = pd.DataFrame({"booking_id": pd.array(["B1", "B2", "B2"], dtype="string"),
                             "created_at": pd.to_datetime(["2025-01-01", "2025-01-02", "2025-01-03"])})
    keyed = add_keys({"visits": visits, "bookings": bookings})
    assert row_in(keyed["visits"], "booking_id", keyed["bookings"]).tolist() == [1, -1, -1, 0]   # B2: its first row
    assert row_in(visits, "booking_id", bookings).tolist() == [1, -1, -1, 0]
    assert with_keys(keyed["visits"], ["booking_id", "visit_id", "missing"]) == ["booking_id", "booking_key",
                                                                                 "visit_id", "visit_key"]
    assert with_keys(visits, ["booking_id", "checked_in_at"]) == ["booking_id"]
