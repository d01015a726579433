"""Large inputs are read by two threads (`ingest/load.py`, `_read_tables`): the same tables, ledger and
progress-hook calls as when the tables are read one after the other, and the same error."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pandas as pd
import pytest

from audit_kit.config import load_config
from audit_kit.errors import InputError
from audit_kit.ingest import ingest, load

from conftest import DEMO_CONFIG, write_config, write_csv


@pytest.fixture
def submitted(monkeypatch):
    """The tables handed to the threads (the parallel path forced for any input size)."""
    names: list[str] = []
    submit = ThreadPoolExecutor.submit

    def spy(pool, fn, source, *args, **kwargs):
        if hasattr(source, "table"):     # not the writer's or the keys' threads
            names.append(source.table)
        return submit(pool, fn, source, *args, **kwargs)

    monkeypatch.setattr(ThreadPoolExecutor, "submit", spy)
    monkeypatch.setattr(load, "PARALLEL_BYTES", 0)
    return names


def test_the_demo_read_by_two_threads_is_the_demo_read_table_by_table(submitted, monkeypatch):
    config = load_config(DEMO_CONFIG)
    hooks_parallel: list[tuple] = []
    parallel = ingest(config, on_file=lambda *a: hooks_parallel.append(a))
    assert sorted(submitted) == sorted(config.sources) and len(submitted) == 11
    monkeypatch.setattr(load, "PARALLEL_BYTES", 1 << 62)
    hooks_serial: list[tuple] = []
    serial = ingest(config, on_file=lambda *a: hooks_serial.append(a))
    assert list(parallel.tables) == list(serial.tables) == list(config.sources)
    for name, frame in serial.tables.items():
        pd.testing.assert_frame_equal(parallel.tables[name], frame, check_exact=True)
    assert parallel.ledger.to_dict() == serial.ledger.to_dict()
    assert len(hooks_serial) == 2 * sum(len(s.files) for s in config.sources.values())
    assert sorted(hooks_parallel, key=repr) == sorted(hooks_serial, key=repr)
    for name in config.sources:        # each table's own calls in its files' order: start, rows read
        assert [h for h in hooks_parallel if h[0] == name] == [h for h in hooks_serial if h[0] == name]


def test_the_error_is_the_first_failing_table_s_as_table_by_table(clinic, submitted, monkeypatch):
    folder, config_at = clinic
    write_csv(folder / "leads.csv", [["ID заявки", "Источник"], ["1", "SEO"]])                  # no created_at
    write_csv(folder / "pay.csv", [["Номер документа", "Сумма"], ["1", "100"]])                 # no paid_at
    write_csv(folder / "calls.csv", [["ID звонка", "Дата звонка", "Отвечен"], ["1", "05.01.2025 10:00", "да"]])
    config = load_config(config_at({"calls": "calls.csv", "leads": "leads.csv", "invoices": "pay.csv"}))
    with pytest.raises(InputError) as parallel:
        ingest(config)
    assert sorted(submitted) == ["calls", "invoices", "leads"]     # read by the threads
    monkeypatch.setattr(load, "PARALLEL_BYTES", 1 << 62)
    with pytest.raises(InputError) as serial:
        ingest(config)
    assert str(parallel.value) == str(serial.value)
    assert "leads.csv (table 'leads'): required column 'created_at' not found" in str(serial.value)


def test_inputs_above_the_ceiling_are_read_table_by_table(submitted, monkeypatch):
    monkeypatch.setattr(load, "PARALLEL_MAX_BYTES", 1 << 20)       # the demo's csv: 5.7 MB
    config = load_config(DEMO_CONFIG)
    assert len(ingest(config).tables) == 11 and submitted == []
    monkeypatch.setattr(load, "PARALLEL_MAX_BYTES", 1 << 30)
    assert len(ingest(config).tables) == 11 and len(submitted) == 11


@pytest.mark.parametrize("rows", [0, 1, 70_000, 3 * 65_536])
def test_an_absent_string_column_is_missing_values_in_one_shared_chunk(rows):
    import pyarrow as pa

    from audit_kit.ingest.schema import conform

    given = pd.DataFrame({"doctor_id": pd.Series(["D1"] * rows, dtype="string")})
    before = pa.total_allocated_bytes()
    frame = conform(given, "doctors")
    pd.testing.assert_series_equal(frame["specialty"], pd.Series(pd.NA, index=frame.index, dtype="string",
                                                                 name="specialty"), check_exact=True)
    assert frame["doctor_name"].isna().all() and len(frame) == rows
    # the two absent columns share one chunk of nulls: far less than 8 bytes a row each
    assert pa.total_allocated_bytes() - before < rows * 11 + (1 << 20)      # the ID column copied, 0.5 MB of nulls
