"""Progress of `audit-kit run`: plain lines off a terminal (pinned here), tqdm bars on one, and ingest's
per-file hook that feeds them."""
from __future__ import annotations

import io
import re
from pathlib import Path

import audit_kit.runner as runner
from audit_kit.config import load_config
from audit_kit.ingest import ingest
from audit_kit.progress import Bars, Lines, as_progress, for_stream

from conftest import write_csv


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _pay(folder: Path, name: str, rows: list[list[str]]) -> None:
    write_csv(folder / "data" / name, [["invoice_id", "patient_id", "paid_at", "amount"], *rows])


def test_plain_lines_of_a_run_are_pinned(fixture_modules, clinic, tmp_path):
    folder, config = clinic
    _pay(folder, "pay.csv", [["1", "P1", "2025-01-05", "100"], ["2", "P2", "2025-01-06", "сто"]])
    lines: list[str] = []
    runner.run_audit(config({"invoices": "data/pay.csv"}), out=tmp_path / "run", progress=lines.append, workers=1)
    shown = [re.sub(r"\(\d+(?:\.\d+)? s\)", "(N s)", line) for line in lines]
    assert shown == [
        f"ingest: 1 tables from {folder.resolve()}",
        "ingest: 2 rows read, 1 used, 1 rejected (N s)",
        "modules: running 3 (ok, broken, thin) on 1 workers",
        "  [1/3] ok.ipynb: ok (N s)",
        "  [2/3] broken.ipynb: FAILED — ValueError: planted failure (N s)",
        "  [3/3] thin.ipynb: skipped (N s)",
        "  skipped ok.ipynb: no leads",
        "  skipped thin.ipynb: not enough data (cohorts.text.no_cohorts)",
    ]


def test_ingest_tells_each_file_as_it_starts_and_when_it_is_read(clinic):
    folder, config = clinic
    _pay(folder, "pay_1.csv", [["1", "P1", "2025-01-05", "100"], ["2", "P2", "2025-01-06", "200"]])
    _pay(folder, "pay_2.csv", [["3", "P1", "2025-02-05", "100"]])
    seen: list[tuple[str, str, int | None]] = []
    ingest(load_config(config({"invoices": "data/pay_*.csv"})), on_file=lambda t, p, n: seen.append((t, p.name, n)))
    assert seen == [("invoices", "pay_1.csv", None), ("invoices", "pay_1.csv", 2),
                    ("invoices", "pay_2.csv", None), ("invoices", "pay_2.csv", 1)]


def test_a_terminal_gets_bars_with_files_rows_and_modules():
    stream = Terminal()
    show = for_stream(stream)
    assert isinstance(show, Bars)
    show.line("ingest: 2 tables")
    show.stage("ingest", 2)
    show.file("bookings", Path("/x/mis_bookings.csv"), None)
    show.file("bookings", Path("/x/mis_bookings.csv"), 441_105)
    show.file("invoices", Path("/x/pay.csv"), None)
    show.file("invoices", Path("/x/pay.csv"), 12)
    show.close()
    show.stage("modules", 2)
    show.running(["rfm", "schedule"])
    show.advance("rfm")
    show.running(["schedule"])
    show.advance("schedule")
    show.close()
    out = stream.getvalue()
    assert out.startswith("ingest: 2 tables\n")
    assert "ingest: 0/2" in out and "0 rows; reading bookings: mis_bookings.csv" in out
    assert "ingest: 1/2" in out and "441,105 rows; reading invoices: pay.csv" in out
    assert "modules: 0/2" in out and "running: rfm, schedule" in out
    assert "modules: 1/2" in out and "done: rfm; running: schedule" in out


def test_off_a_terminal_only_the_plain_lines_are_printed():
    stream = io.StringIO()
    show = for_stream(stream)
    assert type(show) is Lines
    show.stage("ingest", 1)
    show.file("invoices", Path("pay.csv"), None)
    show.line("ingest: 1 tables from x")
    show.file("invoices", Path("pay.csv"), 3)
    show.advance("ok")
    show.close()
    assert stream.getvalue() == "ingest: 1 tables from x\n"
    got: list[str] = []
    assert as_progress(got.append).line("a") is None and got == ["a"]
