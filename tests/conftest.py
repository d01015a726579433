"""Shared fixtures: tiny raw exports written the way clinics send them, and a config around them."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
DEMO_CONFIG = REPO / "sample_data" / "demo_clinic" / "audit.yaml"


def write_csv(path: Path, rows: list[list[str]], *, encoding: str = "utf-8", sep: str = ",") -> Path:
    """Rows (header first) as a delimited text file in the given encoding."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "\n".join(sep.join(r) for r in rows) + "\n"
    path.write_bytes(text.encode(encoding))
    return path


def write_xlsx(path: Path, rows: list[list], sheet: str = "Sheet1") -> Path:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = sheet
    for r in rows:
        ws.append(r)
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path


def write_config(folder: Path, data: dict, **extra) -> Path:
    """audit.yaml in folder with the given `data:` section (paths relative to folder)."""
    cfg = {"client": "Тестовая клиника", "language": "ru", "currency": "RUB",
           "periods": {"base": ["2024-10-01", "2024-12-31"], "current": ["2025-01-01", "2025-03-31"]},
           "data": data, **extra}
    path = folder / "audit.yaml"
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture
def periods():
    """The demo's periods as `Module.periods` gives them: name -> [start, end), base first."""
    import pandas as pd

    return {"base": (pd.Timestamp("2024-10-01"), pd.Timestamp("2025-01-01")),
            "current": (pd.Timestamp("2025-01-01"), pd.Timestamp("2025-04-01"))}


@pytest.fixture
def clinic(tmp_path):
    """A tmp client folder: returns (folder, write_config bound to it)."""
    return tmp_path, lambda data, **extra: write_config(tmp_path, data, **extra)


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory):
    """One full audit of the demo clinic for the end-to-end tests (about half a minute)."""
    from audit_kit.runner import run_audit

    out = tmp_path_factory.mktemp("demo_run") / "run"
    result = run_audit(DEMO_CONFIG, out=out, progress=lambda s: None)
    return result


@pytest.fixture
def fixture_modules(monkeypatch):
    """The runner's modules and summary replaced by the tiny notebooks in tests/notebooks: one that works,
    one that fails, one whose table is missing, one with too little data; no summary notebook."""
    import audit_kit.runner as runner
    from audit_kit.modules import ModuleSpec

    here = Path(__file__).parent / "notebooks"
    monkeypatch.setattr(runner, "MODULES", {
        "ok": ModuleSpec("ok", str(here / "ok.ipynb"), ("invoices",)),
        "broken": ModuleSpec("broken", str(here / "broken.ipynb"), ()),
        "needs_leads": ModuleSpec("needs_leads", str(here / "ok.ipynb"), ("leads",)),
        "thin": ModuleSpec("thin", str(here / "thin.ipynb"), ("invoices",)),
    })
    monkeypatch.setattr(runner, "SUMMARY", ModuleSpec("summary", str(here / "absent.ipynb"), ()))
