"""The commands and their exit codes (DESIGN §7): bad config or data -> exit 2 and one clear line."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
from openpyxl import load_workbook

from audit_kit.cli import main
from audit_kit.ingest.schema import TABLES

from conftest import write_csv


def _run(args, capsys):
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def leads_config(clinic):
    folder, config = clinic
    write_csv(folder / "data" / "l.csv", [["ID заявки", "Дата создания", "Источник"], ["1", "05.01.2025", "SEO"],
                                          ["", "05.01.2025", "SEO"], ["3", "32.13.2024", "SEO"]], sep=";")
    return config({"leads": "data/l.csv"})


def test_validate_json_contract(leads_config, capsys):
    code, out, _ = _run(["validate", str(leads_config), "--json"], capsys)
    assert code == 0
    summary = json.loads(out)
    contract = {k: summary["tables"]["leads"][k] for k in ("read", "used", "fixed", "rejected", "reasons")}
    assert contract == {"read": 3, "used": 1, "fixed": 0, "rejected": 2,
                        "reasons": {"missing:lead_id": 1, "invalid_date:created_at": 1}}
    # additive: the fixes, the preset and the files of each table, and the tables that lost most rows
    assert summary["tables"]["leads"]["preset"] is None and summary["tables"]["leads"]["files"] == {}
    assert summary["tables"]["leads"]["fixes"] == {}       # the same fix reasons as the text output
    assert summary["warnings"] == ["leads: 2 of 3 rows rejected — required column lead_id is empty"]


def test_validate_prints_the_ledger(leads_config, capsys):
    code, out, _ = _run(["validate", str(leads_config)], capsys)
    assert code == 0
    assert "leads" in out and "missing:lead_id: 1" in out and "total: 3 rows read, 1 used (0 fixed), 2 rejected" in out


@pytest.mark.parametrize("case, expected", [
    ("missing_file", "file not found"),
    ("unknown_table", "unknown table"),
    ("unmapped", "required column 'created_at' not found"),
    ("unreadable", "cannot read the file"),
    ("empty", "the file is empty"),
])
def test_bad_input_exits_2_with_one_line(clinic, capsys, case, expected):
    folder, config = clinic
    (folder / "data").mkdir()
    if case == "missing_file":
        cfg = config({"leads": "data/none.csv"})
    elif case == "unknown_table":
        cfg = config({"crm": "data/l.csv"})
    elif case == "unmapped":
        write_csv(folder / "data" / "l.csv", [["ID заявки", "Когда", "Источник"], ["1", "05.01.2025", "SEO"]])
        cfg = config({"leads": "data/l.csv"})
    elif case == "unreadable":
        (folder / "data" / "l.xlsx").write_bytes(b"\x00\x01garbage")
        cfg = config({"leads": "data/l.xlsx"})
    else:
        (folder / "data" / "l.csv").write_bytes(b"")
        cfg = config({"leads": "data/l.csv"})
    for command in (["validate", str(cfg)], ["run", str(cfg), "--out", str(folder / "out")]):
        code, out, err = _run(command, capsys)
        assert code == 2
        assert err.startswith("error: ") and expected in err
        assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_unknown_module_is_a_config_error(leads_config, capsys):
    code, _, err = _run(["run", str(leads_config), "--modules", "astrology"], capsys)
    assert code == 2 and "unknown module 'astrology'" in err


def test_console_script_exit_code_without_traceback(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "audit_kit.cli", "validate", str(tmp_path / "nope.yaml")],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert "config file not found" in proc.stderr and "Traceback" not in proc.stderr


def test_init_writes_config_and_data_request_workbook(tmp_path, capsys):
    code, out, _ = _run(["init", str(tmp_path / "klinika"), "--client", "Клиника «Пример»"], capsys)
    assert code == 0
    folder = tmp_path / "klinika"
    assert 'client: "Клиника «Пример»"' in (folder / "audit.yaml").read_text(encoding="utf-8")
    wb = load_workbook(folder / "data_request.xlsx")
    assert wb.sheetnames == ["Инструкция", "Выгрузки систем", *TABLES]
    known = list(wb["Выгрузки систем"].iter_rows(min_row=3, values_only=True))
    assert ("Обращения (leads)", "amoCRM: выгрузка сделок", "xlsx, csv") in known
    assert ("Звонки (calls)", "Mango Office: статистика звонков", "csv") in known
    leads = wb["leads"]
    assert leads["A2"].value.startswith("Сначала — выгрузка системы как есть: amoCRM: выгрузка сделок; ")
    rows = list(leads.iter_rows(min_row=4, values_only=True))
    assert rows[0][:3] == ("lead_id", "id обращения, id заявки, номер заявки", "да")
    assert [r[0] for r in rows] == [c.name for c in TABLES["leads"].columns]
    assert ".audit_salt" in (folder / ".gitignore").read_text(encoding="utf-8")
    # the starter config is valid as written (no tables yet)
    code, _, _ = _run(["validate", str(folder / "audit.yaml")], capsys)
    assert code == 2   # nothing to audit yet: no usable rows


def test_the_command_skips_the_iri_grammar_and_nbformat_still_validates():
    """rfc3987_syntax compiles a Lark grammar at import (≈ 2 s in each process that imports nbformat); the command
    marks it absent, jsonschema goes without its 'iri' check, and nbformat's validation works as before."""
    code = ("import sys; from audit_kit.cli import skip_unused_imports; skip_unused_imports()\n"
            "import nbformat, jsonschema\n"
            "nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell('1')]); nbformat.validate(nb)\n"
            "bad = nbformat.v4.new_notebook(); bad.cells.append({'cell_type': 'code'})\n"
            "try:\n    nbformat.validate(bad)\nexcept nbformat.ValidationError:\n    print('invalid caught')\n"
            "print(sorted(m for m in sys.modules if m.startswith(('rfc3987_syntax', 'lark')) and sys.modules[m]))\n"
            "print('iri' in jsonschema.Draft7Validator.FORMAT_CHECKER.checkers)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split("\n")
    assert out[:3] == ["invalid caught", "[]", "False"]


def test_entry_returns_mains_code_with_the_heap_frozen(monkeypatch):
    import gc

    from audit_kit import cli

    monkeypatch.setattr(cli, "main", lambda: 3)
    before = gc.get_freeze_count()
    try:
        assert cli.entry() == 3
        assert gc.get_freeze_count() > before
    finally:
        gc.unfreeze()
