"""Runner: skipped modules name their data, a failing module does not stop the others, results merge."""
from __future__ import annotations

import datetime as dt
import json
import os

import pytest

import audit_kit.runner as runner
from audit_kit.modules import MODULES, ModuleSpec

from conftest import write_csv


@pytest.fixture
def invoices_config(clinic):
    folder, config = clinic
    write_csv(folder / "data" / "pay.csv", [["invoice_id", "patient_id", "paid_at", "amount"],
                                            ["1", "P1", "2025-01-05", "100"], ["2", "P2", "2025-01-06", "<script>x</script>"]])
    return config({"invoices": "data/pay.csv"})


def test_failure_isolation_skip_and_merge(fixture_modules, invoices_config, tmp_path):
    lines = []
    result = runner.run_audit(invoices_config, out=tmp_path / "run", progress=lines.append)
    status = {m.name: m for m in result.modules}
    assert result.exit_code == 1
    assert status["ok"].status == "ok"
    assert status["broken"].status == "failed" and status["broken"].error == "ValueError: planted failure"
    assert status["needs_leads"].status == "skipped" and status["needs_leads"].missing_tables == ["leads"]
    # a module whose tables are there but too thin says so in a sentence: skipped, not failed
    assert status["thin"].status == "skipped" and status["thin"].reason == "cohorts.text.no_cohorts"
    run = tmp_path / "run"
    # the failing notebook is kept with its error for the analyst
    assert "planted failure" in (run / "notebooks" / "broken.ipynb").read_text(encoding="utf-8")
    metrics = json.loads((run / "metrics.json").read_text(encoding="utf-8"))
    assert metrics == {"periods": {"base": ["2024-10-01", "2024-12-31"], "current": ["2025-01-01", "2025-03-31"]},
                       "metrics": {"ok.rows": {"unit": "count", "base": None, "current": 1},
                                   # the run's money keys: nothing priced; revenue = 100 paid in January ÷ 3 months
                                   "summary.money_at_stake_per_month": {"unit": "money", "base": None, "current": None},
                                   "summary.revenue_per_month": {"unit": "money", "base": 0.0, "current": 100 / 3},
                                   "summary.money_at_stake_share": {"unit": "rate", "base": None, "current": None}}}
    html = (run / "report.html").read_text(encoding="utf-8")
    assert "planted failure" in html            # the failure is named in the report
    assert "в оплатах нет ни одного нового пациента" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert(1)" not in html
    assert "stderr noise" not in html            # stderr never reaches the report
    info = json.loads((run / "run.json").read_text(encoding="utf-8"))
    assert info["ledger"]["totals"] == {"read": 2, "used": 1, "fixed": 0, "rejected": 1}
    assert set(info["timings_seconds"]) >= {"ingest", "modules", "report", "total"}
    import hashlib
    digest = info["inputs"]["invoices"]["sha256"]
    assert digest == hashlib.sha256(open(info["inputs"]["invoices"]["file"], "rb").read()).hexdigest()
    started, finished = (dt.datetime.fromisoformat(info[k]) for k in ("started_at", "finished_at"))
    assert started <= finished and (finished - started).total_seconds() >= info["timings_seconds"]["total"] - 1
    assert any("broken.ipynb: FAILED" in line for line in lines)


def test_background_work_returns_its_result_or_raises_where_asked():
    assert runner._on_daemon_thread(sum, [1, 2, 3]).result(timeout=5) == 6
    failing = runner._on_daemon_thread(int, "x")
    with pytest.raises(ValueError, match="invalid literal"):
        failing.result(timeout=5)


def test_registered_notebooks_exist():
    from audit_kit.modules import notebook_path

    for spec in MODULES.values():
        assert notebook_path(spec).is_file(), spec.notebook


def test_modules_are_handed_out_heaviest_first():
    from audit_kit.modules import heaviest_first

    assert [s.name for s in heaviest_first(list(MODULES.values()))] == ["rfm", "quality", "funnel", "schedule",
                                                                          "cohorts", "channels"]
    light = [ModuleSpec("a", "a.ipynb", ()), ModuleSpec("b", "b.ipynb", ()), ModuleSpec("c", "c.ipynb", (), weight=3)]
    assert [s.name for s in heaviest_first(light)] == ["c", "a", "b"]       # equal weights keep their order


def test_kernels_warm_during_ingest_when_its_peak_and_theirs_fit_in_half_the_memory():
    from audit_kit.runner import INGEST_BYTES_PER_INPUT_BYTE, KERNEL_BYTES, warm_during_ingest

    network = int(2.5e9)                                  # the 345-branch network's csv
    need = network * INGEST_BYTES_PER_INPUT_BYTE + 2 * KERNEL_BYTES
    assert need == 4_375_000_000 + 2 * 167 * 2**20          # 4.73 GB
    assert warm_during_ingest(network, 2, memory_bytes=24 * 2**30)
    assert not warm_during_ingest(network, 2, memory_bytes=8 * 2**30)       # a laptop of 8 GB: ingest keeps it
    assert warm_during_ingest(network, 2, memory_bytes=int(2 * need) + 1)
    assert not warm_during_ingest(network, 2, memory_bytes=int(2 * need) - 2)
    assert warm_during_ingest(50_000_000, 2, memory_bytes=8 * 2**30)        # the demo's few MB, anywhere
    assert warm_during_ingest(network, 2) == (need <= os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 2)
