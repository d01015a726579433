"""One synthetic clinic written twice — once as files with the canonical headers, once as the systems write
them (amoCRM deals, Calltouch API calls, a Direct report plus an SEO contractor's spend file) — gives the
same funnel and channel numbers in metrics.json."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from audit_kit import system_exports
from audit_kit.config import load_config
from audit_kit.ingest import ingest, save_tables
from audit_kit.modules import MODULES
from audit_kit.runner import execute_module

from conftest import write_config

SOURCES = ("yandex / cpc", "google / organic", "prodoctorov")
CHANNELS = {"yandex / cpc": "Контекст", "Яндекс Директ": "Контекст", "google / organic": "SEO",
            "prodoctorov": "Агрегаторы"}
KEYS = ("funnel.leads", "funnel.booked_leads", "funnel.shown_leads", "funnel.paid_leads",
        "funnel.missed_call_rate", "funnel.lead_to_booking", "channels.spend", "channels.leads",
        "channels.new_patients", "channels.cac", "channels.revenue")


def clinic(seed: int = 7) -> dict[str, pd.DataFrame]:
    """Leads, calls, bookings, invoices and daily Direct spend of six months (Oct 2024 - Mar 2025)."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2024-10-01")
    n = 240
    created = start + pd.to_timedelta(np.sort(rng.integers(0, 182 * 86400, n)), unit="s")
    source = rng.choice(SOURCES, n)
    booked = rng.random(n) < 0.6
    outcome = np.where(booked, "won", np.where(rng.random(n) < 0.5, "lost", "open"))
    patient = np.where(booked, [f"{i:06d}" for i in range(n)], None)
    leads = pd.DataFrame({
        "lead_id": [str(9000 + i) for i in range(n)], "created_at": created.floor("s"), "source": source,
        "outcome": outcome, "lost_reason": np.where(outcome == "lost", "Дорого", None), "patient_id": patient,
        "utm_source": None, "utm_medium": None, "utm_campaign": None, "service": None,
        "full_name": [f"Тестова Пациентка {i}" for i in range(n)],
        "phone": [f"+7 900 {i:03d}-00-00" for i in range(n)], "email": None,
        "closed_at": pd.Series(created.floor("s") + pd.Timedelta(days=2)).where(outcome != "open"),
    })
    m = 1200      # working hours only, so that every weekday-hour cell of the quarter has calls
    day = pd.to_timedelta(rng.integers(0, 182, m), unit="D")
    started = pd.DatetimeIndex(np.sort(start + day + pd.to_timedelta(rng.integers(9 * 3600, 20 * 3600, m), unit="s")))
    answered = rng.random(m) < 0.8
    src = rng.choice(SOURCES, m)
    split = pd.Series(src).str.split(" / ", n=1, expand=True)
    calls = pd.DataFrame({
        "call_id": [str(50000 + i) for i in range(m)], "started_at": started.floor("s"), "answered": answered,
        "wait_seconds": rng.integers(3, 90, m), "duration_seconds": np.where(answered, rng.integers(20, 400, m), 0),
        "source": split[0], "medium": split[1], "utm_source": None, "utm_medium": None, "utm_campaign": None,
        "caller_phone": [f"7900{i:07d}" for i in range(m)], "city": "Москва",
    })
    lb = leads.loc[booked].reset_index(drop=True)
    slot = (lb["created_at"] + pd.Timedelta(days=3)).dt.floor("h") + pd.Timedelta(hours=1)
    status = np.where(rng.random(len(lb)) < 0.8, "completed", "no_show")
    bookings = pd.DataFrame({"booking_id": [f"B{i}" for i in range(len(lb))], "patient_id": lb["patient_id"],
                             "doctor_id": "D1", "slot_start": slot, "status": status, "lead_id": lb["lead_id"]})
    paid = bookings.loc[status == "completed"].reset_index(drop=True)
    invoices = pd.DataFrame({"invoice_id": [f"I{i}" for i in range(len(paid))], "patient_id": paid["patient_id"],
                             "paid_at": paid["slot_start"] + pd.Timedelta(minutes=40),
                             "amount": rng.integers(20, 90, len(paid)) * 100.0})
    days = pd.date_range(start, periods=182, freq="D")
    direct = pd.DataFrame({"date": np.repeat(days, 2), "campaign": np.tile(["Бренд", "Услуги"], 182),
                           "cost": np.round(rng.uniform(300, 900, 364), 2)})
    return {"leads": leads, "calls": calls, "bookings": bookings, "invoices": invoices, "direct": direct}


def _csv(frame: pd.DataFrame, path: Path) -> str:
    frame.to_csv(path, index=False, date_format="%Y-%m-%d %H:%M:%S")
    return path.name


def write_canonical(data: dict, folder: Path) -> Path:
    """The clinic as files whose headers are the canonical column names."""
    leads = data["leads"].rename(columns={"source": "channel"})[
        ["lead_id", "created_at", "channel", "patient_id", "lost_reason"]]
    calls = data["calls"].assign(
        channel=data["calls"]["source"].where(data["calls"]["medium"].isna(),
                                              data["calls"]["source"] + " / " + data["calls"]["medium"]),
        answered=data["calls"]["answered"].map({True: "да", False: "нет"}))[
        ["call_id", "started_at", "answered", "wait_seconds", "duration_seconds", "channel"]]
    spend = (data["direct"].assign(month=data["direct"]["date"].dt.strftime("%Y-%m"))
             .groupby("month", as_index=False)["cost"].sum().rename(columns={"cost": "spend"}))
    spend = pd.concat([spend.assign(channel="Яндекс Директ"), seo_spend().assign(channel="SEO")])
    files = {"leads": _csv(leads, folder / "leads.csv"), "calls": _csv(calls, folder / "calls.csv"),
             "bookings": _csv(data["bookings"], folder / "bookings.csv"),
             "invoices": _csv(data["invoices"], folder / "invoices.csv"),
             "marketing_spend": _csv(spend[["month", "channel", "spend"]], folder / "spend.csv")}
    return write_config(folder, files, channels=CHANNELS)


def seo_spend() -> pd.DataFrame:
    return pd.DataFrame({"month": [f"{m}" for m in pd.period_range("2024-10", "2025-03", freq="M").astype(str)],
                         "spend": 25000.0})


def write_presets(data: dict, folder: Path) -> Path:
    """The clinic as amoCRM, Calltouch and Yandex Direct write it, plus the SEO contractor's own file."""
    system_exports.amocrm_deals(data["leads"], folder / "amocrm.xlsx")
    system_exports.calltouch_api(data["calls"], folder / "calltouch.csv")
    system_exports.direct_master(data["direct"], folder / "direct.csv")
    seo_spend().rename(columns={"month": "Месяц", "spend": "Сумма"}).to_csv(folder / "seo.csv", index=False, sep=";")
    files = {"leads": {"path": "amocrm.xlsx", "columns": {"Номер медкарты": "patient_id"}},
             "calls": "calltouch.csv",
             "bookings": _csv(data["bookings"], folder / "bookings.csv"),
             "invoices": _csv(data["invoices"], folder / "invoices.csv"),
             "marketing_spend": ["direct.csv", {"path": "seo.csv", "channel": "SEO"}]}
    return write_config(folder, files, channels=CHANNELS)


def metrics(config_path: Path, run_dir: Path) -> dict:
    """Ingest, then the funnel and channels notebooks; their metrics.json entries."""
    config = load_config(config_path)
    save_tables(ingest(config), run_dir)
    out = {}
    for name in ("funnel", "channels"):
        status = execute_module(MODULES[name], str(run_dir), str(config.path))
        assert status.status == "ok", status.error
        out |= json.loads((run_dir / "modules" / name / "metrics.json").read_text(encoding="utf-8"))
    return out


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    data = clinic()
    canonical = tmp_path_factory.mktemp("canonical")
    presets = tmp_path_factory.mktemp("presets")
    return (metrics(write_canonical(data, canonical), canonical / "run"),
            metrics(write_presets(data, presets), presets / "run"), presets, canonical)


def test_the_preset_files_were_read_by_their_presets(both):
    ledger = json.loads((both[2] / "run" / "ledger.json").read_text(encoding="utf-8"))["tables"]
    assert ledger["leads"]["preset"] == "amocrm_deals" and ledger["calls"]["preset"] == "calltouch_api"
    assert ledger["marketing_spend"]["files"]["direct.csv"]["preset"] == "direct_master"
    assert ledger["marketing_spend"]["reasons"] == {"total_row": 1}


@pytest.mark.parametrize("key", KEYS)
def test_same_numbers_through_canonical_files_and_presets(both, key):
    canonical, presets = both[0], both[1]
    assert key in canonical, sorted(canonical)
    assert presets[key]["unit"] == canonical[key]["unit"]
    for period in ("base", "current"):     # daily Direct rows sum in another order than monthly ones
        assert presets[key][period] == pytest.approx(canonical[key][period], rel=1e-12), period


def test_the_calls_table_is_the_same(both):
    """The calls themselves (metrics.json has their missed share): the same rows, times and answers."""
    columns = ["call_id", "started_at", "answered", "wait_seconds", "duration_seconds", "channel"]
    canonical = pd.read_parquet(both[3] / "run" / "tables" / "calls.parquet")[columns]
    presets = pd.read_parquet(both[2] / "run" / "tables" / "calls.parquet")[columns]
    assert len(canonical) == 1200
    pd.testing.assert_frame_equal(canonical, presets)


def test_the_numbers_are_not_empty(both):
    canonical = both[0]
    assert canonical["funnel.leads"]["current"] > 100 and canonical["funnel.booked_leads"]["current"] > 50
    assert 0.1 < canonical["funnel.missed_call_rate"]["current"] < 0.3
    assert canonical["channels.spend"]["current"] > 75000
