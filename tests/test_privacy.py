"""No personal data in any output (DESIGN §3, 152-FZ practice): names, phones and e-mails planted in
every table and every free-text column of the demo clinic, then a whole audit, then every file the run
wrote — html, pdf text, xlsx cells, json, parquet, executed notebooks, logs — searched for them."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from audit_kit import sample
from audit_kit.config import load_config
from audit_kit.ingest.load import _alias_index
from audit_kit.ingest.schema import CHANNEL, ID, STAFF_TABLES, TABLES, TEXT

NAMES = ("Плантова Секретина", "Закладкин Шифрон", "Тайнёва Глафира", "Семенцов Аристарх")
PHONE, PHONE_ID = "+7 (999) 111-22-33", "8 999 555-44-33"
EMAIL = "plant.secret@example.com"
# A name in no name column of any table, next to its phone.
STRANGER, STRANGER_PHONE = "Кузякин Евлампий", "8 999 777-66-55"
# The names of the name column also in other grammatical cases, and with е for ё and ё for е.
NOTE = (f"{NAMES[0].split()[0]} просила перезвонить {PHONE}, {EMAIL}; Секретине, Закладкину Шифрону, Тайневой "
        f"Глафире и Семёнцову передать; консультация ({STRANGER}, тел. {STRANGER_PHONE})")
STAFF_NOTE = f"тел. {PHONE}, {EMAIL}"
# What must not appear anywhere (phones also as bare digits and in pieces a formatter might keep; names by
# their stems, so that no case form slips through).
SECRETS = ("Плантов", "Секретин", "Закладкин", "Шифрон", "Тайнёв", "Тайнев", "Глафир", "Семенцов", "Семёнцов",
           "Аристарх", "Кузякин", "Евлампи", "плантов", "секретин", "закладкин", "тайнев", "кузякин", "plant.secret",
           "9991112233", "111-22-33", "111 22 33", "9995554433", "555-44-33", "555 44 33", "9997776655", "777-66-55",
           "777 66 55")
PLANTED_ROWS = 3
FORMULA, SCRIPT = '=HYPERLINK("http://evil.example","жми")', "<script>alert('x')</script>"


def _plant(name: str, frame: pd.DataFrame, columns: dict[str, str]) -> pd.DataFrame:
    """Contact columns added, the planted note in the first rows of every free-text column, and one
    patient's ID replaced by a phone number."""
    frame = frame.copy()
    table = TABLES[name]
    index = _alias_index(table, columns)
    mapped = {h: index.get(_norm(h)) for h in frame.columns}
    n = len(frame)
    if name not in STAFF_TABLES:
        frame["ФИО"] = [NAMES[i % len(NAMES)] for i in range(n)]
    if "caller_phone" not in mapped.values():
        frame["Моб. телефон"] = PHONE
    frame["E-mail клиента"] = EMAIL
    for header, canon in mapped.items():
        if canon is None:
            continue
        kind = table.column(canon).kind
        if kind in (TEXT, CHANNEL):
            note = STAFF_NOTE if name in STAFF_TABLES else NOTE
            frame[header] = frame[header].astype(object)
            rows = frame.index[planted_rows(frame)]
            frame.loc[rows, header] = frame.loc[rows, header].fillna("").astype(str) + " " + note
        if kind == ID and canon == "patient_id":
            first = sample_patient()
            frame[header] = frame[header].astype(object).where(frame[header].astype(str) != first, PHONE_ID)
    return frame


def planted_rows(frame: pd.DataFrame, offset: int = 0, n: int = PLANTED_ROWS) -> slice:
    """Rows near the end of an export (the exports run in time order, so these fall in the current
    period, where the report shows them)."""
    start = min(int(len(frame) * 0.9), len(frame) - n) + offset
    return slice(start, start + n)


def _norm(header: str) -> str:
    from audit_kit.ingest.coerce import normalise_header

    return normalise_header(header)


_FIRST_PATIENT: list[str] = []


def sample_patient() -> str:
    return _FIRST_PATIENT[0]


@pytest.fixture(scope="module")
def planted_run(tmp_path_factory):
    from audit_kit.runner import run_audit

    folder = tmp_path_factory.mktemp("planted")
    tables = sample.build()
    _FIRST_PATIENT[:] = [str(tables["patients"][1]["Код пациента"].iloc[0])]
    config = sample.generate(folder)            # the demo's audit.yaml (channels, calls mapping) ...
    sources = load_config(config).sources
    for name, (fname, frame, fmt) in tables.items():   # ... and its exports, re-written with the plants
        planted = _plant(name, frame, sources[name].files[0].columns)
        path = folder / "data" / fname
        if name == "leads":      # injection attempts: HTML as a channel, a formula as a lost reason
            rows = planted.index[planted_rows(planted, PLANTED_ROWS, 40)]
            planted.loc[rows, "Источник"], planted.loc[rows, "Причина отказа"] = SCRIPT, FORMULA
            fmt, path = ("utf-8", ","), path.with_suffix(".csv")   # in an xlsx a formula is read as its value
            config.write_text(config.read_text(encoding="utf-8").replace(fname, path.name), encoding="utf-8")
        sample.write_export(name, planted, path, fmt)
    result = run_audit(config, out=folder / "reports" / "planted", progress=lambda s: None)
    return result


def _texts(run_dir: Path):
    """(file, text) for every file the run wrote that can hold text."""
    from openpyxl import load_workbook
    from pypdf import PdfReader

    for path in sorted(p for p in run_dir.rglob("*") if p.is_file()):
        suffix = path.suffix.lower()
        if suffix in (".html", ".json", ".ipynb", ".log", ".txt", ".csv", ".md", ".yaml"):
            yield path, path.read_text(encoding="utf-8", errors="replace")
        elif suffix == ".pdf":
            yield path, "\n".join(page.extract_text() or "" for page in PdfReader(path).pages)
        elif suffix == ".xlsx":
            wb = load_workbook(path, read_only=True)
            yield path, "\n".join(str(v) for ws in wb.worksheets for row in ws.iter_rows(values_only=True)
                                  for v in row if v is not None)
            wb.close()
        elif suffix == ".parquet":
            df = pd.read_parquet(path)
            yield path, df.astype(str).to_csv(index=False) + " ".join(map(str, df.columns))
        elif suffix == ".png":
            continue
        else:
            yield path, path.read_bytes().decode("utf-8", errors="replace")


def test_the_planted_audit_runs(planted_run):
    assert planted_run.exit_code == 0, [(m.name, m.error) for m in planted_run.modules if m.status != "ok"]
    kinds = {p.suffix for p in planted_run.run_dir.rglob("*") if p.is_file()}
    assert {".html", ".pdf", ".xlsx", ".json", ".parquet", ".ipynb", ".log"} <= kinds


def test_no_planted_name_phone_or_email_in_any_output(planted_run):
    leaks = [(str(path.relative_to(planted_run.run_dir)), secret)
             for path, text in _texts(planted_run.run_dir) for secret in SECRETS if secret in text]
    assert not leaks, leaks[:20]


def test_formulas_and_html_from_cells_are_neutralised(planted_run):
    from openpyxl import load_workbook

    html = (planted_run.run_dir / "report.html").read_text(encoding="utf-8")
    assert "<script>alert" not in html and "&lt;script&gt;alert" in html
    wb = load_workbook(planted_run.run_dir / "tables.xlsx", read_only=True)
    cells = [v for ws in wb.worksheets for row in ws.iter_rows(values_only=True) for v in row if isinstance(v, str)]
    assert any("HYPERLINK" in v for v in cells) and not any(v.startswith("=") for v in cells)


def test_the_plants_were_counted_in_the_ledger(planted_run):
    ledger = json.loads((planted_run.run_dir / "ledger.json").read_text(encoding="utf-8"))["tables"]
    fixes = {name: t["fixes"] for name, t in ledger.items()}
    assert fixes["leads"]["contact_in_text:lost_reason (masked)"] == PLANTED_ROWS
    assert fixes["leads"]["name_in_text:lost_reason (masked)"] == PLANTED_ROWS
    assert fixes["doctors"]["contact_in_text:specialty (masked)"] == PLANTED_ROWS
    assert "name_in_text:specialty (masked)" not in fixes["doctors"]         # doctors keep their names
    assert fixes["invoices"]["phone_as_id:patient_id (hashed)"] >= 1
    masked_columns = {(name, reason.split(":")[1].split(" ")[0]) for name, f in fixes.items() for reason in f
                      if reason.startswith("contact_in_text:")}
    named_columns = {(name, reason.split(":")[1].split(" ")[0]): n for name, f in fixes.items()
                     for reason, n in f.items() if reason.startswith("name_in_text:")}
    for name, table in TABLES.items():
        for col in table.columns:
            if col.kind in (TEXT, CHANNEL) and col.name in ledger[name]["columns"].values():
                assert (name, col.name) in masked_columns, (name, col.name)
                if name not in STAFF_TABLES:      # every planted note holds names; nothing else is taken for one
                    assert named_columns.get((name, col.name)) == PLANTED_ROWS, (name, col.name, named_columns)


def test_the_phone_id_still_joins_across_tables(planted_run):
    tables = {p.stem: pd.read_parquet(p) for p in (planted_run.run_dir / "tables").glob("*.parquet")}
    hashed = tables["patients"]["patient_id"].iloc[0]
    assert hashed.startswith("h") and (tables["invoices"]["patient_id"] == hashed).any()


def test_the_scan_finds_the_plants_in_the_raw_exports(planted_run):
    """The search itself works: the same scan over the client's raw exports (csv and xlsx) finds them."""
    data = planted_run.run_dir.parent.parent / "data"
    found = {path.suffix for path, text in _texts(data) if all(s in text for s in ("Плантова", "plant.secret", "111-22-33"))}
    assert found == {".csv", ".xlsx"}
