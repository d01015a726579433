"""A large table's low-variety text is held dictionary-encoded between reading and writing (`ingest/load.py`,
`_pack`, PACK_MIN_ROWS): the tables, the ledger and the run folder's files are those of the tables held
as "string" columns."""
from __future__ import annotations

import pandas as pd
import pyarrow.parquet as pq
import pytest

from audit_kit.config import load_config
from audit_kit.ingest import ingest, load, save_tables

from conftest import DEMO_CONFIG, write_csv


@pytest.fixture
def packed(monkeypatch):
    """Every table packed whatever its size; the names of the columns packed, per table."""
    seen: dict[str, list[str]] = {}
    pack = load._pack

    def spy(df, table):
        out = pack(df, table)
        seen[table.name] = sorted(out)
        return out

    monkeypatch.setattr(load, "_pack", spy)
    monkeypatch.setattr(load, "PACK_MIN_ROWS", 0)
    return seen


def _unpacked(monkeypatch, config):
    monkeypatch.setattr(load, "PACK_MIN_ROWS", 1 << 62)
    return ingest(config)


def test_the_demo_packed_is_the_demo_as_strings_in_memory_and_in_the_run_folder(packed, monkeypatch, tmp_path):
    config = load_config(DEMO_CONFIG)
    small = ingest(config)
    save_tables(small, tmp_path / "packed")
    assert packed["invoices"] == ["service", "service_category"]
    assert packed["bookings"] == ["service", "status"]
    assert {"channel", "status", "service", "outcome"} <= set(packed["leads"])
    plain = _unpacked(monkeypatch, config)
    save_tables(plain, tmp_path / "plain")
    assert list(small.tables) == list(plain.tables)
    for name in plain.tables:
        pd.testing.assert_frame_equal(small.tables[name], plain.tables[name], check_exact=True)
        a, b = (tmp_path / run / "tables" / f"{name}.parquet" for run in ("packed", "plain"))
        assert pq.read_schema(a).equals(pq.read_schema(b), check_metadata=True)
        pd.testing.assert_frame_equal(pd.read_parquet(a), pd.read_parquet(b), check_exact=True)
    assert small.ledger.to_dict() == plain.ledger.to_dict()
    assert (tmp_path / "packed" / "ledger.json").read_text() == (tmp_path / "plain" / "ledger.json").read_text()


def test_names_in_a_packed_column_are_masked_and_counted_as_in_a_string_column(clinic, packed, monkeypatch):
    folder, config = clinic
    write_csv(folder / "data" / "leads.csv", [
        ["ID заявки", "Дата создания", "Источник", "ФИО", "Причина отказа"],
        ["1", "05.01.2025", "SEO", "Иванова Мария", "перезвонить Ивановой"],
        ["2", "05.01.2025", "SEO", "Семёнов Пётр", "дорого"],
        ["3", "06.01.2025", "SEO", "Орлова Анна", "перезвонить Ивановой"],
        ["4", "06.01.2025", "SEO", "Орлова Анна", ""]], sep=";")
    cfg = load_config(config({"leads": {"path": "data/leads.csv", "columns": {"ФИО": "full_name"}}}))
    monkeypatch.setattr(load, "PACK_MAX_SHARE", 1.0)
    small = ingest(cfg)
    assert "lost_reason" in packed["leads"]
    assert small.tables["leads"]["lost_reason"].tolist() == ["перезвонить [имя]", "дорого", "перезвонить [имя]", pd.NA]
    assert small.ledger.tables["leads"].fixes == {"name_in_text:lost_reason (masked)": 2}
    assert small.ledger.tables["leads"].fixed == 2
    plain = _unpacked(monkeypatch, cfg)
    pd.testing.assert_frame_equal(small.tables["leads"], plain.tables["leads"], check_exact=True)
    assert small.ledger.to_dict() == plain.ledger.to_dict()


def test_a_column_with_many_distinct_values_stays_a_string_column(clinic, packed, monkeypatch):
    folder, config = clinic
    rows = [["ID заявки", "Дата создания", "Источник", "Причина отказа"]]
    rows += [[str(i), "05.01.2025", "SEO", f"причина {i}" if i % 2 else "дорого"] for i in range(40)]
    write_csv(folder / "data" / "leads.csv", rows, sep=";")
    cfg = load_config(config({"leads": "data/leads.csv"}))
    monkeypatch.setattr(load, "PACK_MAX_SHARE", 0.25)       # 21 distinct reasons in 40 rows: kept as strings
    result = ingest(cfg)
    assert "channel" in packed["leads"] and "lost_reason" not in packed["leads"]
    assert result.tables["leads"]["lost_reason"].tolist()[:3] == ["дорого", "причина 1", "дорого"]
    assert str(result.tables["leads"]["channel"].dtype) == "string"


def test_large_inputs_hand_the_memory_of_each_table_s_reading_back(monkeypatch):
    calls: list[int] = []
    pools: list[int] = []
    monkeypatch.setattr(load, "release_memory", lambda collect=True: calls.append(collect))
    monkeypatch.setattr(load, "use_pool", lambda backend: pools.append(backend))      # the test process's pool untouched
    config = load_config(DEMO_CONFIG)
    monkeypatch.setattr(load, "RELEASE_BYTES", 1 << 62)         # the demo: 5.7 MB of exports
    ingest(config)
    assert calls == [] and pools == []
    monkeypatch.setattr(load, "RELEASE_BYTES", 0)
    ingest(config)
    assert calls == [False] * len(config.sources) and len(calls) == 11 and pools == ["jemalloc"]
