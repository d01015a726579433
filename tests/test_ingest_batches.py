"""Consecutive files of one shape are parsed as one (`ingest/load.py`: `_Opened.shape`, `_parse_files`,
`BATCH_ROWS`): the same table and the same ledger — each file's own counts, examples and samples — as when
each file is parsed on its own; a column's reading is decided on the files together, and files whose values
contradict each other are parsed one by one."""
from __future__ import annotations

import pandas as pd
import pytest

from audit_kit.config import load_config
from audit_kit.ingest import ingest, load

from conftest import DEMO_CONFIG, write_csv

HEADER = ["Номер документа", "Дата оплаты", "Код пациента", "Сумма"]


def _read(config_path, monkeypatch, batch_rows: int):
    monkeypatch.setattr(load, "BATCH_ROWS", batch_rows)
    return ingest(load_config(config_path))


@pytest.fixture
def batches(monkeypatch):
    """Calls of `_parse_files`: the number of files each parsed at once."""
    sizes: list[int] = []
    parse = load._parse_files

    def spy(files, *args, **kwargs):
        sizes.append(len(files))
        return parse(files, *args, **kwargs)

    monkeypatch.setattr(load, "_parse_files", spy)
    return sizes


def _payments(folder):
    """Four exports of one shape with rejected rows in different files, a total row, a
    duplicate across two files, then one of another shape (an extra column)."""
    write_csv(folder / "pay" / "a.csv", [HEADER, ["1", "05.01.2025 10:00", "P1", "1 500,00"],
                                         ["2", "не дата", "P2", "900,00"],            # rejected: invalid date
                                         ["3", "06.01.2025 11:00", "P3", "abc"]], sep=";")      # rejected: invalid number
    write_csv(folder / "pay" / "b.csv", [HEADER, ["4", "07.01.2025 12:00", "", "300,00"],   # no patient
                                         ["5", "08.01.2025 09:30", "P5", "2 000,50"],
                                         ["Итого", "", "", "3 800,50"]], sep=";")              # a total row
    write_csv(folder / "pay" / "c.csv", [HEADER, ["5", "08.01.2025 09:30", "P5", "2 000,50"],  # duplicate of b's
                                         ["6", "31.02.2025 10:00", "P6", "700,00"]], sep=";")   # no such day
    write_csv(folder / "pay" / "d.csv", [HEADER, ["7", "09.01.2025 15:45", "P7", "1 200,00"]], sep=";")
    write_csv(folder / "pay" / "e.csv", [HEADER + ["Касса"], ["8", "10.01.2025 16:00", "P8", "500,00", "1"]], sep=";")
    return folder


def test_files_of_one_shape_parsed_as_one_give_each_file_s_own_ledger(clinic, monkeypatch, batches):
    folder, config_at = clinic
    config = config_at({"invoices": "pay/*.csv"}, salt_file=str(_payments(folder) / "salt.txt"))
    joined = _read(config, monkeypatch, 1 << 20)
    assert batches == [4, 1]        # a.csv … d.csv at once, then e.csv (another header) alone
    batches.clear()
    alone = _read(config, monkeypatch, 0)
    assert batches == [1, 1, 1, 1, 1]
    pd.testing.assert_frame_equal(joined.tables["invoices"], alone.tables["invoices"], check_exact=True)
    assert joined.ledger.to_dict() == alone.ledger.to_dict()
    ledger = joined.ledger.tables["invoices"]
    assert (ledger.read, ledger.used, ledger.rejected) == (10, 4, 6)
    files = ledger.files
    assert files["a.csv"]["reasons"] == {"invalid_date:paid_at": 1, "invalid_number:amount": 1}
    assert files["a.csv"]["examples"] == {"invalid_date:paid_at": [3], "invalid_number:amount": [4]}
    assert files["b.csv"]["reasons"] == {"total_row": 1, "missing:patient_id": 1}
    assert files["b.csv"]["examples"] == {"total_row": [4], "missing:patient_id": [2]}   # its own source rows
    assert files["c.csv"]["reasons"] == {"invalid_date:paid_at": 1, "duplicate_row": 1}
    assert files["c.csv"]["examples"] == {"invalid_date:paid_at": [3], "duplicate_row": [2]}
    assert (files["d.csv"]["used"], files["e.csv"]["used"]) == (1, 1)
    assert ledger.samples == {"invalid_date:paid_at": "не дата", "invalid_number:amount": "abc"}


def test_a_batch_is_cut_at_batch_rows(clinic, monkeypatch, batches):
    folder, config_at = clinic
    config = config_at({"invoices": "pay/*.csv"}, salt_file=str(_payments(folder) / "salt.txt"))
    _read(config, monkeypatch, 5)       # a.csv (3 rows) + b.csv (3) would pass 5 rows
    assert batches == [1, 2, 1, 1]      # a | b + c | d | e


def test_a_reading_is_decided_on_the_files_together(clinic, monkeypatch):
    """'12.500' alone reads 12.5 by default (counted as assumed); beside '1.234,56' of the same export
    the dot is proven a thousands separator there, as it would be in one file holding both."""
    folder, config_at = clinic
    write_csv(folder / "pay" / "a.csv", [HEADER, ["1", "05.01.2025 10:00", "P1", "1.234,56"]], sep=";")
    write_csv(folder / "pay" / "b.csv", [HEADER, ["2", "06.01.2025 10:00", "P2", "12.500"]], sep=";")
    config = config_at({"invoices": "pay/*.csv"}, salt_file=str(folder / "salt.txt"))
    joined = _read(config, monkeypatch, 1 << 20)
    assert joined.tables["invoices"]["amount"].tolist() == [1234.56, 12500.0]
    assert joined.ledger.tables["invoices"].notes == {}
    alone = _read(config, monkeypatch, 0)
    assert alone.tables["invoices"]["amount"].tolist() == [1234.56, 12.5]
    assert alone.ledger.tables["invoices"].notes == {"assumed_decimal:amount": 1}


def test_files_that_contradict_each_other_are_read_one_by_one(clinic, monkeypatch, batches):
    """'1,234.50' and '1.234,56' cannot be one export's numbers: each file keeps its own reading, no error."""
    folder, config_at = clinic
    write_csv(folder / "pay" / "a.csv", [HEADER, ["1", "05.01.2025 10:00", "P1", "1,234.50"],
                                         ["Итого", "", "", "1,234.50"]], sep=";")
    write_csv(folder / "pay" / "b.csv", [HEADER, ["2", "06.01.2025 10:00", "P2", "1.234,56"],
                                         ["3", "07.01.2025 10:00", "", "10,00"]], sep=";")
    config = config_at({"invoices": "pay/*.csv"}, salt_file=str(folder / "salt.txt"))
    read = _read(config, monkeypatch, 1 << 20)
    assert batches == [2, 1, 1]
    assert read.tables["invoices"]["amount"].tolist() == [1234.5, 1234.56]
    alone = _read(config, monkeypatch, 0)       # what the joined parse noted before the conflict is not kept
    assert read.ledger.to_dict() == alone.ledger.to_dict()
    assert read.ledger.tables["invoices"].reasons == {"total_row": 1, "missing:patient_id": 1}


def test_the_demo_reads_the_same_in_batches_and_file_by_file(monkeypatch):
    joined = _read(DEMO_CONFIG, monkeypatch, 1 << 20)
    alone = _read(DEMO_CONFIG, monkeypatch, 0)
    for name, frame in alone.tables.items():
        pd.testing.assert_frame_equal(joined.tables[name], frame, check_exact=True)
    assert joined.ledger.to_dict() == alone.ledger.to_dict()
