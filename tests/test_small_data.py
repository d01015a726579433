"""Every module on tiny and sparse data: seeded random canonical tables of a handful of rows (some tables
absent, some columns empty, a period without data, one patient, one booking per doctor) run through each
module's summarise -> headline_metrics -> build_findings without an exception (issue 19: runs that
never end in a traceback)."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from audit_kit.errors import NotEnoughData
from audit_kit.findings import Finding
from audit_kit.ingest import Ledger, TableLedger
from audit_kit.modules import MODULES, channels, cohorts, funnel, quality, rfm, schedule
from audit_kit.notebook import jsonable
from audit_kit.options import DEFAULT_OPTIONS
from audit_kit.report.fmt import Formatter
from audit_kit.report.i18n import Translator

from helpers import canon

PERIODS = {"base": (pd.Timestamp("2024-10-01"), pd.Timestamp("2025-01-01")),
           "current": (pd.Timestamp("2025-01-01"), pd.Timestamp("2025-04-01"))}
TARGETS = {"no_show_rate": 0.05, "wait_minutes": 15.0, "missed_call_rate": 0.05, "nps": 50.0, "csat": 0.9,
           "utilisation": 0.85, "lead_to_booking": None, "romi": None, "cac": None}
LAYERS = {"quality": quality, "funnel": funnel, "schedule": schedule, "channels": channels, "rfm": rfm,
          "cohorts": cohorts}
SEEDS = range(60)


def _times(rng, n: int, empty: float) -> list:
    """n times between Sep 2024 and Apr 2025 (around both periods, sometimes all in one month), some NaT."""
    start = pd.Timestamp("2024-09-01") if rng.random() < 0.7 else pd.Timestamp("2025-02-01")
    days = rng.integers(0, 210 if start.month == 9 else 20, n)
    minutes = rng.integers(8 * 60, 20 * 60, n)
    out = [str(start + pd.Timedelta(days=int(d), minutes=int(m))) for d, m in zip(days, minutes)]
    return [None if rng.random() < empty else t for t in out]


def tiny_clinic(seed: int) -> dict[str, pd.DataFrame]:
    """Canonical tables of 0-8 rows with shared IDs, random absences and empty optional columns."""
    rng = np.random.default_rng(seed)
    empty = rng.choice([0.0, 0.2, 0.6])
    n = {t: int(rng.integers(1 if t in ("invoices", "leads") else 0, 9)) for t in
         ("leads", "calls", "bookings", "invoices", "schedule", "spend", "traffic", "surveys")}
    patients = [f"P{i}" for i in range(int(rng.integers(1, 4)))]
    doctors = [f"D{i}" for i in range(int(rng.integers(1, 3)))]
    channels_ = ["SEO", "Контекст", "Повторные"][: int(rng.integers(1, 4))]
    pick = lambda values, k: list(rng.choice(values, k)) if k else []  # noqa: E731 (test shorthand)
    leads = canon("leads", lead_id=[f"L{i}" for i in range(n["leads"])], created_at=_times(rng, n["leads"], 0.0),
                  channel=pick(channels_, n["leads"]), patient_id=pick(patients + [None], n["leads"]),
                  call_id=pick([f"C{i}" for i in range(max(n["calls"], 1))] + [None], n["leads"]),
                  first_response_at=_times(rng, n["leads"], 0.5), lost_reason=pick(["дорого", None], n["leads"]),
                  outcome=pick(["won", "lost", "open", None], n["leads"]))
    calls = canon("calls", call_id=[f"C{i}" for i in range(n["calls"])], started_at=_times(rng, n["calls"], 0.0),
                  answered=pick([True, False], n["calls"]), wait_seconds=pick([5.0, 40.0, None], n["calls"]),
                  called_back_at=_times(rng, n["calls"], 0.7), channel=pick(channels_, n["calls"]))
    slots = _times(rng, n["bookings"], 0.0)
    bookings = canon("bookings", booking_id=[f"B{i}" for i in range(n["bookings"])],
                     patient_id=pick(patients, n["bookings"]), doctor_id=pick(doctors, n["bookings"]),
                     slot_start=slots, status=pick(["completed", "no_show", "cancelled", "rescheduled"], n["bookings"]),
                     lead_id=pick([f"L{i}" for i in range(max(n["leads"], 1))] + [None], n["bookings"]),
                     created_at=_times(rng, n["bookings"], empty), slot_minutes=pick([30.0, None], n["bookings"]))
    done = bookings.loc[bookings["status"].eq("completed")]
    visits = canon("visits", visit_id=[f"V{i}" for i in range(len(done))], patient_id=done["patient_id"].tolist(),
                   booking_id=done["booking_id"].tolist(), doctor_id=done["doctor_id"].tolist(),
                   checked_in_at=done["slot_start"].astype(str).tolist(),
                   started_at=(done["slot_start"] + pd.Timedelta(minutes=10)).astype(str).tolist(),
                   ended_at=(done["slot_start"] + pd.Timedelta(minutes=40)).astype(str).tolist())
    invoices = canon("invoices", invoice_id=[f"I{i}" for i in range(n["invoices"])],
                     patient_id=pick(patients, n["invoices"]), paid_at=_times(rng, n["invoices"], 0.0),
                     amount=list(rng.choice([0.0, 1500.0, 3900.0, -500.0], n["invoices"])),
                     visit_id=pick([f"V{i}" for i in range(max(len(done), 1))] + [None], n["invoices"]),
                     service_category=pick(["Лечение", "Консультация", None], n["invoices"]))
    shift_start = _times(rng, n["schedule"], 0.0)
    schedule_ = canon("schedule", doctor_id=pick(doctors, n["schedule"]), shift_start=shift_start,
                      shift_end=[str(pd.Timestamp(s) + pd.Timedelta(hours=6)) for s in shift_start])
    months = [str(m.date()) for m in pd.date_range("2024-10-01", "2025-03-01", freq="MS")]
    spend = canon("marketing_spend", month=pick(months, n["spend"]), channel=pick(channels_, n["spend"]),
                  spend=list(rng.choice([0.0, 10000.0, 25000.0], n["spend"])))
    traffic = canon("site_traffic", month=pick(months, n["traffic"]), channel=pick(channels_, n["traffic"]),
                    sessions=list(rng.choice([0.0, 120.0], n["traffic"])))
    doctors_ = canon("doctors", doctor_id=doctors, specialty=pick(["терапевт", "стоматолог"], len(doctors)))
    surveys = canon("surveys", patient_id=pick(patients, n["surveys"]), answered_at=_times(rng, n["surveys"], 0.0),
                    nps=pick([0.0, 7.0, 10.0, None], n["surveys"]), csat=pick([1.0, 5.0, None], n["surveys"]))
    people = canon("patients", patient_id=patients, first_channel=pick(channels_ + [None], len(patients)),
                   created_at=_times(rng, len(patients), 0.5))
    tables = {"leads": leads, "calls": calls, "bookings": bookings, "visits": visits, "invoices": invoices,
              "schedule": schedule_, "marketing_spend": spend, "site_traffic": traffic, "doctors": doctors_,
              "surveys": surveys, "patients": people}
    # some tables absent altogether (the module then skips or does less)
    return {name: df for name, df in tables.items() if name in ("invoices", "leads") or rng.random() < 0.75}


def ledger_of(tables: dict[str, pd.DataFrame]) -> Ledger:
    return Ledger({name: TableLedger(name, f"{name}.csv", read=len(df), used=len(df)) for name, df in tables.items()})


@pytest.mark.parametrize("seed", SEEDS)
def test_every_module_runs_on_tiny_random_data(seed):
    tables = tiny_clinic(seed)
    options = dict(DEFAULT_OPTIONS)
    t, fmt = Translator("ru"), Formatter("ru", "RUB")
    ran = []
    for name, spec in MODULES.items():
        if spec.missing(set(tables)):
            continue
        layer = LAYERS[name]
        try:
            if name == "quality":
                summary = layer.summarise(tables, PERIODS, options, ledger=ledger_of(tables))
            elif name == "schedule":
                summary = layer.summarise(tables, PERIODS, options, targets=TARGETS)
            else:
                summary = layer.summarise(tables, PERIODS, options)
        except NotEnoughData as exc:       # said in a sentence in the report (runner: skipped, not failed)
            assert t(exc.args[0]), name
            continue
        metrics = layer.headline_metrics(summary)
        json.dumps({k: {p: jsonable(v) for p, v in values.items()} for k, (_, values) in metrics.items()},
                   allow_nan=False)
        findings = layer.build_findings(summary, fmt, t, TARGETS)
        assert all(isinstance(f, Finding) and f.title for f in findings), name
        ran.append(name)
    assert "rfm" in ran and "funnel" in ran      # invoices and leads are always given
