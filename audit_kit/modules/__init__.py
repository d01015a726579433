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
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import audit_kit


@dataclass(frozen=True)
class ModuleSpec:
    name: str                      # short id used in --modules, findings and metrics keys
    notebook: str                  # file in notebooks/
    needs: tuple[str, ...]         # all of these tables are required
    needs_any: tuple[str, ...] = ()  # at least one of these (when given)

    @property
    def number(self) -> str:
        return self.notebook[:2]

    def missing(self, tables: set[str]) -> list[str]:
        """Tables whose absence stops this module (empty list: it can run)."""
        gone = [t for t in self.needs if t not in tables]
        if self.needs_any and not any(t in tables for t in self.needs_any):
            gone.append(" | ".join(self.needs_any))
        return gone


MODULES: dict[str, ModuleSpec] = {m.name: m for m in [
    ModuleSpec("quality", "01_data_quality.ipynb", (), ("leads", "calls", "bookings", "visits", "invoices",
                                                          "schedule", "doctors", "marketing_spend",
                                                          "site_traffic", "patients", "surveys")),
    ModuleSpec("funnel", "02_lead_loss.ipynb", ("leads",)),
    ModuleSpec("schedule", "03_schedule.ipynb", ("bookings", "schedule")),
    ModuleSpec("channels", "04_channels.ipynb", ("marketing_spend", "invoices"), ("leads", "patients")),
    ModuleSpec("rfm", "05_rfm.ipynb", ("invoices",)),
    ModuleSpec("cohorts", "06_cohorts.ipynb", ("invoices",)),
]}
SUMMARY = ModuleSpec("summary", "00_summary.ipynb", ())


def resource_dir(name: str) -> Path:
    """`notebooks` or `templates`: inside the installed package (wheel), else the source checkout."""
    packaged = Path(audit_kit.__file__).parent / name
    if packaged.is_dir():
        return packaged
    return Path(audit_kit.__file__).parent.parent / name


def notebook_path(spec: ModuleSpec) -> Path:
    return resource_dir("notebooks") / spec.notebook
