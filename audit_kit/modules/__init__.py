"""The audit modules: which notebook each one is, which tables it needs, and its findings layer.

A module whose tables are missing is skipped with a sentence naming the data that would
enable it (catalog key `modules.<name>.needs`).

Every module has one shape. `audit_kit/metrics/<area>.py` computes tables and numbers only (no
sentences, no formatting); `audit_kit/modules/<area>.py` turns them into the module's results with
the same three functions everywhere:

- ``summarise(tables, periods, options)`` — the metrics of every period (``periods``: name ->
  [start, end), base first; ``options``: the config's options);
- ``headline_metrics(summary)`` — the metrics.json entries: key -> (unit, {period: value});
- ``build_findings(summary, fmt, t, targets) -> list[Finding]`` — the findings, their sentences
  from the i18n catalogs (``t``), numbers formatted by ``fmt``, targets from the config.

The notebook `notebooks/NN_<area>.ipynb` calls these three and draws the tables and charts.

`ModuleSpec.reads` names, for the large tables a module uses, the columns it reads (its metrics, its
findings layer and its notebook, IDs included); the notebook's `Module.data` reads only those (and
every ingest key, `<family>_key`) from the run folder. Measured on the 345-branch network, reading every column cost each
kernel seconds per table and doubled its memory (invoices alone 1.3 GB). A column left out that the
module uses fails loudly (KeyError) or shows in `tests/test_modules_reads.py`, which runs every module
with and without the subset.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import audit_kit


@dataclass(frozen=True)
class ModuleSpec:
    name: str                      # short id used in --modules, findings and metrics keys
    notebook: str                  # file in notebooks/
    needs: tuple[str, ...]         # all of these tables are required
    needs_any: tuple[str, ...] = ()  # at least one of these (when given)
    reads: dict[str, tuple[str, ...]] = field(default_factory=dict, hash=False)   # table -> columns (keys always)
    weight: float = 1.0            # seconds on the 345-branch network (measured): the runner starts the heaviest first
    # table -> text columns of few distinct values read as pandas categoricals (`notebook.RunTables`); the module's
    # code reads them through `ingest.keys.text_codes` / `arrow_dictionary` or compares them to a value
    categorical: dict[str, tuple[str, ...]] = field(default_factory=dict, hash=False)

    @property
    def number(self) -> str:
        return self.notebook[:2]

    def missing(self, tables: set[str]) -> list[str]:
        """Tables whose absence stops this module (empty list: it can run)."""
        gone = [t for t in self.needs if t not in tables]
        if self.needs_any and not any(t in tables for t in self.needs_any):
            gone.append(" | ".join(self.needs_any))
        return gone


# The columns a lead, booking, visit and payment are read with by the modules that follow them.
_LEADS = ("lead_id", "patient_id", "call_id", "created_at", "channel", "status", "lost_reason", "first_response_at",
          "outcome")
_BOOKINGS = ("booking_id", "patient_id", "lead_id", "slot_start", "status", "created_at")
_SLOTS = _BOOKINGS + ("doctor_id", "slot_minutes", "slot_end", "cancelled_at")
_PAYMENTS = ("patient_id", "visit_id", "paid_at", "amount")

MODULES: dict[str, ModuleSpec] = {m.name: m for m in [
    ModuleSpec("quality", "01_data_quality.ipynb", (), ("leads", "calls", "bookings", "visits", "invoices",
                                                          "schedule", "doctors", "marketing_spend",
                                                          "site_traffic", "patients", "surveys"), weight=20,
               reads={"leads": ("lead_id", "patient_id", "call_id", "created_at", "channel", "status", "outcome",
                                "phone", "_source_row", "_patient_link"),
                      "calls": ("call_id", "started_at", "_source_row"),
                      "bookings": _BOOKINGS + ("doctor_id", "_source_row"),
                      "visits": ("visit_id", "patient_id", "booking_id", "doctor_id", "checked_in_at", "started_at",
                                 "_source_row"),
                      "invoices": _PAYMENTS + ("invoice_id", "_source_row"),
                      "patients": ("patient_id", "created_at", "first_channel", "_source_row"),
                      "surveys": ("patient_id", "visit_id", "doctor_id", "answered_at", "_source_row")},
               categorical={"leads": ("status", "outcome", "channel"), "bookings": ("status",),
                            "patients": ("first_channel",)}),
    ModuleSpec("funnel", "02_lead_loss.ipynb", ("leads",), weight=17,
               reads={"leads": _LEADS + ("branch_id",),
                      "calls": ("call_id", "started_at", "answered", "channel", "caller_phone", "called_back_at"),
                      "bookings": _BOOKINGS, "visits": ("booking_id", "checked_in_at", "started_at"),
                      "invoices": _PAYMENTS + ("service_category",)}),
    ModuleSpec("schedule", "03_schedule.ipynb", ("bookings", "schedule"), weight=17,
               reads={"leads": ("lead_id", "created_at", "channel", "status"), "bookings": _SLOTS,
                      "visits": ("visit_id", "booking_id", "doctor_id", "checked_in_at", "started_at", "ended_at"),
                      "invoices": _PAYMENTS}),
    ModuleSpec("channels", "04_channels.ipynb", ("marketing_spend", "invoices"), ("leads", "patients"), weight=11,
               reads={"leads": _LEADS + ("branch_id",), "bookings": _BOOKINGS + ("branch_id",),
                      "visits": ("booking_id", "checked_in_at", "started_at"),
                      "invoices": _PAYMENTS + ("service_category",),
                      "patients": ("patient_id", "first_channel", "created_at")}),
    ModuleSpec("rfm", "05_rfm.ipynb", ("invoices",), weight=25,
               reads={"bookings": ("patient_id", "doctor_id", "slot_start", "status", "branch_id"),
                      "visits": ("patient_id", "doctor_id", "checked_in_at"), "invoices": _PAYMENTS + ("service",)},
               categorical={"bookings": ("status", "branch_id"), "invoices": ("service",)}),
    ModuleSpec("cohorts", "06_cohorts.ipynb", ("invoices",), weight=13,
               reads={"leads": _LEADS, "invoices": _PAYMENTS + ("service_category",),
                      "bookings": ("patient_id", "slot_start", "status", "branch_id"),
                      "patients": ("patient_id", "first_channel", "created_at")}),
]}
SUMMARY = ModuleSpec("summary", "00_summary.ipynb", (),
                     reads={"leads": ("lead_id", "patient_id", "created_at"), "calls": ("started_at", "answered"),
                            "bookings": _SLOTS, "visits": ("visit_id", "booking_id", "doctor_id", "checked_in_at",
                                                          "started_at", "ended_at"),
                            "invoices": _PAYMENTS + ("invoice_id",), "patients": ("patient_id", "created_at"),
                            "surveys": ("answered_at", "nps", "csat")})


def heaviest_first(specs: list[ModuleSpec]) -> list[ModuleSpec]:
    """The order the runner hands modules to its workers: by `ModuleSpec.weight`, heaviest first (ties keep
    their order), so that no long module starts last while the other worker idles."""
    return sorted(specs, key=lambda spec: -spec.weight)


def resource_dir(name: str) -> Path:
    """`notebooks` or `templates`: inside the installed package (wheel), else the source checkout."""
    packaged = Path(audit_kit.__file__).parent / name
    if packaged.is_dir():
        return packaged
    return Path(audit_kit.__file__).parent.parent / name


def notebook_path(spec: ModuleSpec) -> Path:
    return resource_dir("notebooks") / spec.notebook
