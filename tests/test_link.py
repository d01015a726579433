"""Links by hashed phone at ingest (audit_kit/ingest/link.py): leads -> patients, leads -> calls."""
from __future__ import annotations

import pandas as pd

from audit_kit.config import load_config
from audit_kit.ingest import ingest
from audit_kit.ingest.link import link_calls, phone_book

from conftest import write_csv
from helpers import canon

LEAD_HEADER = ["ID заявки", "Дата создания", "Источник", "Код пациента", "ID звонка", "Телефон"]


def _clinic(clinic, leads, patients=None, calls=None, **extra):
    folder, config = clinic
    data = {"leads": "data/leads.csv"}
    write_csv(folder / "data" / "leads.csv", [LEAD_HEADER] + leads, sep=";")
    if patients:
        write_csv(folder / "data" / "p.csv", [["ID пациента", "Телефон"]] + patients, sep=";")
        data["patients"] = "data/p.csv"
    if calls:
        write_csv(folder / "data" / "c.csv", [["call_id", "started_at", "answered", "caller_phone"]] + calls)
        data["calls"] = "data/c.csv"
    return ingest(load_config(config(data, **extra)))


def test_leads_without_patient_id_take_the_patient_of_their_phone(clinic):
    result = _clinic(clinic, [
        ["1", "05.01.2025 10:00", "SEO", "P1", "", "+7 912 000-00-01"],     # by ID
        ["2", "05.01.2025 11:00", "SEO", "", "", "8 (912) 000-00-02"],      # by phone, other spelling
        ["3", "05.01.2025 12:00", "SEO", "", "", "89120000003"],            # phone shared by P3 and P4
        ["4", "05.01.2025 13:00", "SEO", "", "", "89120000009"],            # unknown phone
        ["5", "05.01.2025 14:00", "SEO", "", "", ""],                       # no phone
    ], patients=[["P1", "89120000001"], ["P2", "+79120000002"], ["P3", "89120000003"], ["P4", "89120000003"]])
    leads = result.tables["leads"]
    assert leads["patient_id"].tolist() == ["P1", "P2", pd.NA, pd.NA, pd.NA]
    assert leads["_patient_link"].tolist() == ["id", "phone", "none", "none", "none"]
    led = result.ledger.tables["leads"]
    assert led.fixes == {"linked_by_phone:patient_id": 1}
    assert led.examples["linked_by_phone:patient_id"] == [3]
    assert (led.read, led.used, led.fixed) == (5, 5, 1)


def test_a_lead_with_an_id_teaches_the_phone_book(clinic):
    result = _clinic(clinic, [["1", "05.01.2025 10:00", "SEO", "P7", "", "89120000007"],
                              ["2", "06.01.2025 10:00", "SEO", "", "", "+7 912 000 00 07"]])
    assert result.tables["leads"]["patient_id"].tolist() == ["P7", "P7"]


def test_leads_without_call_id_take_the_nearest_call_of_their_phone_within_the_window(clinic):
    result = _clinic(clinic, [
        ["1", "05.01.2025 10:00", "SEO", "", "", "89120000001"],     # calls at 09:58 and 10:30: nearest
        ["2", "05.01.2025 12:00", "SEO", "", "", "89120000002"],     # the call is 2 h before: outside 60 min
        ["3", "05.01.2025 15:00", "SEO", "", "C9", "89120000003"],   # has its call already
        ["4", "05.01.2025 15:10", "SEO", "", "", "89120000003"],     # C9 is taken by lead 3
    ], calls=[["C1", "2025-01-05 09:58", "да", "+79120000001"], ["C2", "2025-01-05 10:30", "да", "89120000001"],
              ["C3", "2025-01-05 10:00", "нет", "89120000002"], ["C9", "2025-01-05 15:05", "да", "89120000003"]])
    assert result.tables["leads"]["call_id"].tolist() == ["C1", pd.NA, "C9", pd.NA]
    assert result.ledger.tables["leads"].fixes == {"linked_by_phone:call_id": 1}


def test_the_window_is_an_option(clinic):
    result = _clinic(clinic, [["2", "05.01.2025 12:00", "SEO", "", "", "89120000002"]],
                     calls=[["C3", "2025-01-05 10:00", "нет", "89120000002"]], options={"phone_link_window_minutes": 180})
    assert result.tables["leads"]["call_id"].tolist() == ["C3"]


def test_one_call_goes_to_the_nearest_of_two_leads():
    leads = canon("leads", lead_id=["1", "2"], created_at=["2025-01-05 10:00", "2025-01-05 10:20"], channel=["a", "a"],
                  phone=["h1", "h1"])
    calls = canon("calls", call_id=["C1"], started_at=["2025-01-05 10:15"], answered=[True], caller_phone=["h1"])
    assert link_calls(leads, calls, 60).tolist() == [pd.NA, "C1"]


def test_phone_book_leaves_out_shared_phones():
    tables = {"patients": canon("patients", patient_id=["P1", "P2", "P3"], phone=["h1", "h2", "h2"]),
              "invoices": canon("invoices", invoice_id=["I1"], patient_id=["P4"], paid_at=["2025-01-05"], amount=[1.0],
                                phone=["h4"])}
    assert phone_book(tables).to_dict() == {"h1": "P1", "h4": "P4"}
