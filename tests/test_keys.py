"""ingest/keys.py: one code list per ID family across tables, -1 for a missing ID; ID lookups."""
from __future__ import annotations

import numpy as np
import pandas as pd

from audit_kit.ingest import keys


def ids(*values):
    return pd.array(list(values), dtype="string")


def test_one_code_list_per_family_shared_across_tables():
    tables = {
        "bookings": pd.DataFrame({"booking_id": ids("B1", "B2", "B3"), "patient_id": ids("00017_3", "104567", None),
                                  "doctor_id": ids("D1", "D1", "D2")}),
        "invoices": pd.DataFrame({"invoice_id": ids("I1", "I2"), "patient_id": ids("104567", "МК-2024-000123"),
                                  "visit_id": ids(None, "V1")}),
        "patients": pd.DataFrame({"patient_id": ids("МК-2024-000123", "00017_3", "17_3")}),
    }
    out = keys.add_keys(tables)
    # patient IDs in table order: 00017_3 -> 0, 104567 -> 1, МК-2024-000123 -> 2, 17_3 -> 3 ("00017_3" is not "17_3")
    assert out["bookings"]["patient_key"].tolist() == [0, 1, -1]
    assert out["invoices"]["patient_key"].tolist() == [1, 2]
    assert out["patients"]["patient_key"].tolist() == [2, 0, 3]
    assert out["invoices"]["visit_key"].tolist() == [-1, 0]
    assert out["bookings"]["doctor_key"].tolist() == [0, 0, 1]
    assert out["bookings"]["patient_key"].dtype == np.int32
    # each key column stands right after its ID column; the input frames are left as they were
    assert list(out["invoices"].columns) == ["invoice_id", "invoice_key", "patient_id", "patient_key", "visit_id",
                                             "visit_key"]
    assert list(tables["invoices"].columns) == ["invoice_id", "patient_id", "visit_id"]


def test_a_family_held_by_one_distinct_key_is_coded_without_hashing_as_the_hash_codes_it(monkeypatch):
    tables = {"invoices": pd.DataFrame({"invoice_id": ids("I7", None, "I2", "I9", None, "I1"),
                                        "patient_id": ids("P1", "P2", "P1", None, "P3", "P1")}),
              "patients": pd.DataFrame({"patient_id": ids("P3", "P4")})}
    hashed = keys.family_codes(tables)
    hashing = []
    real = keys._codes
    monkeypatch.setattr(keys, "_codes", lambda columns: hashing.append(len(columns)) or real(columns))
    coded = keys.family_codes(tables, {"invoices": ("invoice_id",), "patients": ("patient_id",)})
    assert coded["invoices"]["invoice_id"].tolist() == [0, -1, 1, 2, -1, 3] == hashed["invoices"]["invoice_id"].tolist()
    assert coded["invoices"]["invoice_id"].dtype == np.int32
    # the patients' key shares its family with the invoices' patient_id: hashed as before, the same codes
    assert coded["patients"]["patient_id"].tolist() == [2, 3] == hashed["patients"]["patient_id"].tolist()
    assert [n for n in hashing if n] == [2]       # the patient family alone went through the hash


def test_ingest_codes_its_keys_once_and_still_rejects_the_same_duplicates(tmp_path):
    from audit_kit.config import load_config
    from audit_kit.ingest import ingest, save_tables

    (tmp_path / "pay.csv").write_text("Номер документа;Код пациента;Дата оплаты;Сумма\n1;P1;05.01.2025;100\n"
                                      "2;P2;05.01.2025;200\n1;P3;06.01.2025;300\n;P4;06.01.2025;400\n"
                                      "3;P1;07.01.2025;500\n", encoding="utf-8")
    (tmp_path / "audit.yaml").write_text("client: t\nperiods: {current: [2025-01-01, 2025-01-31]}\n"
                                         "data: {invoices: pay.csv}\n", encoding="utf-8")
    result = ingest(load_config(tmp_path / "audit.yaml"))
    assert result.ledger.tables["invoices"].reasons == {"duplicate_id:invoice_id": 1, "missing:invoice_id": 1}
    assert result.tables.distinct("invoices") == ("invoice_id",)
    save_tables(result, tmp_path / "run")
    written = pd.read_parquet(tmp_path / "run" / "tables" / "invoices.parquet")
    assert written["invoice_id"].tolist() == ["1", "2", "3"] and written["invoice_key"].tolist() == [0, 1, 2]
    assert written["invoice_key"].tolist() == keys.family_codes({"invoices": written})["invoices"]["invoice_id"].tolist()


def test_key_of_uses_the_ingest_keys_else_makes_them():
    frame = pd.DataFrame({"patient_id": ids("b", "a", "b", None)})
    assert keys.key_of(frame, "patient").tolist() == [0, 1, 0, -1]
    frame["patient_key"] = np.array([7, 3, 7, -1], np.int32)
    assert keys.key_of(frame, "patient").tolist() == [7, 3, 7, -1]
    left, right = keys.shared_keys(pd.Series(ids("x", "y")), pd.Series(ids("y", None, "z")))
    assert left.tolist() == [0, 1] and right.tolist() == [1, -1, 2]


def test_positions_and_member():
    values, known = pd.Series(ids("b", "zz", None, "a")), pd.Series(ids("a", "b", "b"))
    assert keys.positions(values, known).tolist() == [1, -1, -1, 0]       # first occurrence; NA never matches
    assert keys.member(values, known).tolist() == [True, False, False, True]
    assert keys.family_of("patient_id") == "patient" and keys.family_of("branch_id") is None


def test_text_codes_and_arrow_dictionary_read_a_categorical_by_its_codes():
    # categories in no sorted order, a missing value: codes -1 / null there, each code naming its text
    cat = pd.Series(pd.Categorical(["b", None, "a", "b"], categories=["b", "a"]))
    codes, names = keys.text_codes(cat)
    assert codes.tolist() == [0, -1, 1, 0] and names.tolist() == ["b", "a"] and str(names.dtype) == "string"
    text = pd.Series(ids("b", None, "a", "b"))
    t_codes, t_names = keys.text_codes(text)
    assert t_codes.tolist() == [0, -1, 1, 0] and t_names.tolist() == ["b", "a"]
    for values in (cat, text):
        d = keys.arrow_dictionary(values)
        assert d.indices.to_pylist() == [0, None, 1, 0] and d.dictionary.to_pylist() == ["b", "a"]
        assert d.to_pylist() == ["b", None, "a", "b"]
