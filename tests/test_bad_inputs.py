"""A table of bad inputs a real clinic sends (config, file, value, injection, personal data), each run
through the CLI (`audit-kit validate`, or `run` where the check happens before any module) with the
exit code and the message the user sees. None may end in a traceback or echo personal data."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest
import yaml

from audit_kit.cli import main

LEADS_HEADER = ["ID заявки", "Дата создания", "Источник", "Причина отказа"]
LEADS = [["1", "05.01.2025 10:00", "SEO", "дорого"], ["2", "06.01.2025 11:00", "vk / social", ""]]
INVOICES_HEADER = ["Номер документа", "Код пациента", "Дата оплаты", "Сумма"]
PII = ("Иванов", "Иван", "912", "345-67", "ivan@mail", "Петрова")   # must never be echoed


def csv(rows, sep=";", encoding="utf-8") -> bytes:
    return ("\n".join(sep.join(r) for r in rows) + "\n").encode(encoding)


def xlsx(rows) -> bytes:
    import io

    from openpyxl import Workbook

    wb = Workbook()
    for r in rows:
        wb.active.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


@dataclass
class Case:
    id: str
    kind: str                                     # config | file | value | injection | pii
    code: int                                     # expected exit code
    text: str                                     # expected in stdout + stderr
    files: dict[str, bytes] = field(default_factory=lambda: {"data/leads.csv": csv([LEADS_HEADER] + LEADS)})
    data: dict | None = None                      # the `data:` section (default: the leads file)
    config: dict = field(default_factory=dict)    # other audit.yaml keys (None removes a key)
    raw_config: str | None = None                 # audit.yaml text as is
    command: str = "validate"
    extra_args: tuple[str, ...] = ()
    check: Callable[[Path], None] | None = None   # more checks on the client folder after the command


def leads_with(*rows, header=LEADS_HEADER) -> dict[str, bytes]:
    return {"data/leads.csv": csv([header, *rows])}


def invoices_with(*rows) -> dict[str, bytes]:
    return {"data/pay.csv": csv([INVOICES_HEADER, *rows])}


PAY = {"invoices": "data/pay.csv"}


def _canonical(folder: Path, table: str):
    from audit_kit.config import load_config
    from audit_kit.ingest import ingest

    return ingest(load_config(folder / "audit.yaml")).tables[table]


def _values(folder: Path, table: str, column: str, expected: list) -> None:
    got = _canonical(folder, table)[column]
    if isinstance(expected[0], str):
        expected = [__import__("pandas").Timestamp(v) for v in expected]
    assert got.tolist() == expected, got.tolist()


def _findings_have(folder: Path, rows: dict[str, str]) -> None:
    """The run's findings.json has these finding ids, each with its row count in the title."""
    import json

    found = {f["id"]: f for f in json.loads((folder / "out" / "findings.json").read_text(encoding="utf-8"))}
    for finding, n in rows.items():
        assert finding in found and f": {n}" in found[finding]["title"], (finding, sorted(found))


def _no_words(folder: Path, table: str, words: tuple[str, ...]) -> None:
    text = _canonical(folder, table).astype(str).to_csv(index=False)
    text = re.sub(r"h[0-9a-f]{16}", "", text)
    for word in words:
        assert word not in text, word


def kept_verbatim(table: str, column: str, value: str) -> Callable[[Path], None]:
    def check(folder: Path) -> None:
        assert value in _canonical(folder, table)[column].tolist()
    return check


def no_pii_in_tables(folder: Path) -> None:
    from audit_kit.config import load_config
    from audit_kit.ingest import ingest

    for name, df in ingest(load_config(folder / "audit.yaml")).tables.items():
        # pseudonyms are hex of a random salt's hash: '912' may occur in one by chance
        text = re.sub(r"h[0-9a-f]{16}", "", df.astype(str).to_csv(index=False))
        for secret in PII:
            assert secret not in text, (name, secret)


CASES = [
    # -- config ------------------------------------------------------------------------------------
    Case("config_missing", "config", 2, "config file not found", raw_config=""),
    Case("config_not_yaml", "config", 2, "not valid YAML", raw_config="client: [unclosed\n"),
    Case("config_a_list", "config", 2, "expected a YAML mapping", raw_config="- leads\n- calls\n"),
    Case("unknown_key", "config", 2, "key 'colour': unknown key", config={"colour": "blue"}),
    Case("language", "config", 2, "key 'language': expected one of ru, en", config={"language": "de"}),
    Case("client_missing", "config", 2, "key 'client': expected the clinic's name", config={"client": None}),
    Case("client_a_number", "config", 2, "key 'client'", config={"client": 42}),
    Case("periods_missing", "config", 2, "key 'periods'", config={"periods": None}),
    Case("period_reversed", "config", 2, "key 'periods.current': the end 2025-01-01 is before the start",
         config={"periods": {"current": ["2025-03-31", "2025-01-01"]}}),
    Case("period_not_a_date", "config", 2, "key 'periods.current': expected a date like 2025-01-31",
         raw_config="client: K\nperiods:\n  current: [2025-02-30, 2025-03-31]\n"),
    Case("period_not_a_list", "config", 2, "key 'periods.current': expected [start, end]",
         config={"periods": {"current": "2025-Q1"}}),
    Case("period_typo_year", "config", 2, "expected a date between 1990 and 2100",
         config={"periods": {"current": ["2205-01-01", "2205-03-31"]}}),
    Case("base_overlaps", "config", 2, "key 'periods.base': the base period 2024-12-01..2025-01-31 overlaps",
         config={"periods": {"base": ["2024-12-01", "2025-01-31"], "current": ["2025-01-01", "2025-03-31"]}}),
    Case("target_percent", "config", 2, "key 'targets.no_show_rate': expected a number, a share between 0 and 1",
         config={"targets": {"no_show_rate": 5}}),
    Case("target_negative", "config", 2, "key 'targets.missed_call_rate'", config={"targets": {"missed_call_rate": -0.1}}),
    Case("target_nps", "config", 2, "key 'targets.nps': expected a number between -100 and 100",
         config={"targets": {"nps": 150}}),
    Case("target_text", "config", 2, "key 'targets.csat'", config={"targets": {"csat": "90%"}}),
    Case("target_unknown", "config", 2, "key 'targets.roi': unknown target", config={"targets": {"roi": 1}}),
    Case("target_cac_negative", "config", 2, "key 'targets.cac': expected a number of at least 0",
         config={"targets": {"cac": -5000}}),
    Case("target_romi_text", "config", 2, "key 'targets.romi': expected a number, got '50%'",
         config={"targets": {"romi": "50%"}}),
    Case("channel_number", "config", 2, "key 'channels.vk / social': expected the canonical channel name as text",
         config={"channels": {"vk / social": 7}}),
    Case("channel_empty", "config", 2, "key 'channels.SEO'", config={"channels": {"SEO": None}}),
    Case("channels_list", "config", 2, "key 'channels': expected a mapping", config={"channels": ["SEO", "vk"]}),
    Case("option_text_days", "config", 2, "key 'options.treatment_horizon_days': expected a whole number (days)",
         config={"options": {"treatment_horizon_days": "90 дней"}}),
    Case("option_zero", "config", 2, "key 'options.dials_per_day': expected a whole number greater than 0",
         config={"options": {"dials_per_day": 0}}),
    Case("option_huge", "config", 2, "key 'options.revenue_horizon_days'", config={"options": {"revenue_horizon_days": 10 ** 9}}),
    Case("option_text_list", "config", 2, "key 'options.treatment_categories': expected a list of texts",
         config={"options": {"treatment_categories": "Лечение"}}),
    Case("option_none_default", "config", 2, "key 'options.rfm_thresholds': expected null or a mapping",
         config={"options": {"rfm_thresholds": [30, 90]}}),
    Case("option_rfm_cuts_reversed", "config", 2, "key 'options.rfm_thresholds': recency_days: expected two increasing numbers",
         config={"options": {"rfm_thresholds": {"recency_days": [180, 90]}}}),
    Case("option_rfm_segment_unknown", "config", 2, "key 'options.rfm_segments': R3F3M3: unknown segment 'vip'",
         config={"options": {"rfm_segments": {"R3F3M3": "vip"}}}),
    Case("option_choice", "config", 2, "key 'options.rfm_monetary': expected one of total, per_visit, got 'mean'",
         config={"options": {"rfm_monetary": "mean"}}),
    Case("option_fraction", "config", 2, "key 'options.churn_quantile': expected a number greater than 0 and at most 1",
         config={"options": {"churn_quantile": 90}}),
    Case("option_cohort_months_text", "config", 2, "key 'options.ltv_months': expected whole months ≥ 1",
         config={"options": {"ltv_months": "год"}}),
    Case("option_cohort_window", "config", 2, "key 'options.channel_cohorts': expected months like '2024-01'",
         config={"options": {"channel_cohorts": ["2024-13", "2024-12"]}}),
    Case("option_margin", "config", 2, "key 'options.gross_margin': expected a share in (0, 1]",
         config={"options": {"gross_margin": 60}}),
    Case("option_unknown", "config", 2, "key 'options.horizon': unknown option", config={"options": {"horizon": 1}}),
    Case("table_unknown", "config", 2, "key 'data.crm': unknown table", data={"crm": "data/leads.csv"}),
    Case("data_file_missing", "config", 2, "key 'data.leads.path': file not found", data={"leads": "data/nope.csv"}),
    Case("encoding_unknown", "config", 2, "key 'data.leads.encoding': unknown encoding 'windows-1251x'",
         data={"leads": {"path": "data/leads.csv", "encoding": "windows-1251x"}}),
    Case("delimiter_long", "config", 2, "key 'data.leads.delimiter': expected one character",
         data={"leads": {"path": "data/leads.csv", "delimiter": "tab"}}),
    Case("mapping_unknown_column", "config", 2, "'client_name' is not a column of table 'leads'",
         data={"leads": {"path": "data/leads.csv", "columns": {"Клиент": "client_name"}}}),
    Case("module_unknown", "config", 2, "--modules: unknown module 'astrology'", command="run",
         extra_args=("--modules", "astrology")),
    # -- files ------------------------------------------------------------------------------------
    Case("file_empty", "file", 2, "leads.csv: the file is empty", files={"data/leads.csv": b""}),
    Case("file_header_only", "file", 2, "the file has a header but no data rows", files=leads_with()),
    Case("file_no_header", "file", 2, "leads.csv (table 'leads'): the file has no header row",
         files={"data/leads.csv": csv(LEADS)}),
    Case("file_unmapped_header", "file", 2, "required column 'channel' not found",
         files=leads_with(*LEADS, header=["ID заявки", "Дата создания", "Откуда", "Причина отказа"])),
    Case("file_corrupt_xlsx", "file", 2, "leads.xlsx: cannot read the file",
         files={"data/leads.xlsx": b"PK\x03\x04 not a workbook"}, data={"leads": "data/leads.xlsx"}),
    Case("file_wrong_encoding", "file", 2, "cannot decode the file as utf-8 (set in audit.yaml",
         files={"data/leads.csv": csv([LEADS_HEADER] + LEADS, encoding="cp1251")},
         data={"leads": {"path": "data/leads.csv", "encoding": "utf-8"}}),
    Case("file_sheet_missing", "file", 2, "sheet 'Лист9' not found",
         files={"data/leads.xlsx": xlsx([LEADS_HEADER] + LEADS)}, data={"leads": {"path": "data/leads.xlsx", "sheet": "Лист9"}}),
    Case("file_nothing_usable", "file", 2, "leads: 2 of 2 rows rejected — required column lead_id is empty",
         files=leads_with(["", "05.01.2025", "SEO", ""], ["", "06.01.2025", "SEO", ""])),
    Case("file_utf16", "file", 0, "total: 2 rows read, 2 used (0 fixed), 0 rejected",
         files={"data/leads.csv": b"\xff\xfe" + csv([LEADS_HEADER] + LEADS, sep="\t", encoding="utf-16-le")}),
    Case("file_mixed_encoding", "file", 0, "fixed in leads: mixed_encoding (re-decoded): 1",
         files={"data/leads.csv": csv([LEADS_HEADER] + LEADS) + csv([["3", "07.01.2025", "Сарафан", "Дорого"]], encoding="cp1251")}),
    Case("file_too_few_fields", "file", 0, "too_few_fields: 1", files=leads_with(*LEADS, ["3", "07.01.2025"])),
    Case("file_too_many_fields", "file", 0, "too_many_fields: 1",
         files=leads_with(*LEADS, ["3", "07.01.2025", "SEO", "дорого", "очень"])),
    # -- values -----------------------------------------------------------------------------------
    Case("value_bad_date", "value", 0, "invalid_date:created_at: 1", files=leads_with(*LEADS, ["3", "31.02.2025", "SEO", ""])),
    # a year outside what datetime64[ns] holds (a typo that still reads as a date): a bad date, not a crash
    Case("value_year_0202", "value", 0, "invalid_date:created_at: 1",
         files=leads_with(*LEADS, ["3", "01.01.0202 10:00", "SEO", ""])),
    Case("value_year_2302_iso", "value", 0, "invalid_date:paid_at: 1",
         files=invoices_with(["1", "P1", "2025-01-05", "100"], ["2", "P2", "2302-01-13", "100"]), data=PAY),
    Case("value_years_out_of_range_most_of_a_column", "value", 0,
         "warning: leads: 2 of 3 rows rejected — created_at '01.01.0202' is not a date in any known format",
         files=leads_with(["1", "01.01.0202", "SEO", ""], ["2", "05.01.9999", "SEO", ""], ["3", "05.01.2025", "SEO", ""])),
    Case("value_years_out_of_range_column_unusable", "value", 2,
         "no usable row in table 'leads': leads: 2 of 2 rows rejected — created_at '01.01.0202' is not a date",
         files=leads_with(["1", "01.01.0202", "SEO", ""], ["2", "05.01.9999", "SEO", ""])),
    Case("value_duplicate_row", "value", 0, "duplicate_row: 1", files=leads_with(*LEADS, LEADS[0])),
    Case("value_duplicate_id", "value", 0, "duplicate_id:lead_id: 1", files=leads_with(*LEADS, ["1", "07.01.2025", "SEO", ""])),
    Case("value_missing_id", "value", 0, "missing:lead_id: 1", files=leads_with(*LEADS, ["", "07.01.2025", "SEO", ""])),
    Case("value_bad_amount", "value", 0, "invalid_number:amount: 1",
         files=invoices_with(["1", "P1", "05.01.2025", "100"], ["2", "P2", "05.01.2025", "сто"]), data=PAY),
    Case("value_bad_optional_date", "value", 0, "fixed in leads: invalid_date:first_response_at (blanked): 1",
         files=leads_with(["1", "05.01.2025", "SEO", "потом"], header=["ID заявки", "Дата создания", "Источник", "Первый ответ"])),
    Case("value_empty_channel", "value", 0, "fixed in leads: empty:channel (set to (не указан)): 1",
         files=leads_with(["1", "05.01.2025", "", ""])),
    # -- injection ----------------------------------------------------------------------------------
    Case("inject_formula_in_text", "injection", 0, "total: 1 rows read, 1 used",
         files=leads_with(["1", "05.01.2025", "=HYPERLINK(\"http://x\",\"click\")", "=1+2"]),
         check=kept_verbatim("leads", "lost_reason", "=1+2")),
    Case("inject_html", "injection", 0, "total: 1 rows read, 1 used",
         files=leads_with(["1", "05.01.2025", "<script>alert(1)</script>", "<b>дорого</b>"]),
         check=kept_verbatim("leads", "channel", "<script>alert(1)</script>")),
    Case("inject_formula_header", "injection", 0, "total: 2 rows read, 2 used",
         files=leads_with(*[r + ["x"] for r in LEADS], header=LEADS_HEADER + ["=cmd|' /C calc'!A0"])),
    Case("inject_yaml_tag", "injection", 2, "not valid YAML",
         raw_config="client: !!python/object/apply:os.system ['echo hacked']\nperiods:\n  current: [2025-01-01, 2025-03-31]\n"),
    # -- values that look right but are wrong (issue 19): domains, day/month order, separators --------
    Case("value_lead_from_the_future", "value", 0, "rejected — created_at '05.01.2031' is outside 2000-01-01 … the run date",
         files=leads_with(["1", "05.01.2031", "SEO", ""], ["2", "06.01.2031", "SEO", ""], ["3", "06.01.2025", "SEO", ""])),
    Case("value_payment_in_2099", "value", 0, "out_of_range:paid_at: 1",
         files=invoices_with(["1", "P1", "05.01.2099", "100"], ["2", "P1", "05.01.2025", "100"]), data=PAY),
    Case("value_us_dates_proven_by_the_column", "value", 0, "total: 2 rows read, 2 used",
         files=leads_with(["1", "10/11/2024", "SEO", ""], ["2", "10/25/2024", "SEO", ""]),
         check=lambda folder: _values(folder, "leads", "created_at", ["2024-10-11", "2024-10-25"])),
    Case("value_slash_dates_without_evidence", "value", 0, "assumed_day_first:created_at: 2",
         files=leads_with(["1", "10/11/2024", "SEO", ""], ["2", "03/04/2024", "SEO", ""]),
         check=lambda folder: _values(folder, "leads", "created_at", ["2024-11-10", "2024-04-03"])),
    Case("value_slash_dates_contradict", "value", 2,
         "column created_at): the values contradict each other — day/month order: '25/10/2024' reads one way, '10/25/2024' the other",
         files=leads_with(["1", "25/10/2024", "SEO", ""], ["2", "10/25/2024", "SEO", ""])),
    Case("value_thousands_with_a_dot", "value", 0, "total: 2 rows read, 2 used",
         files=invoices_with(["1", "P1", "05.01.2025", "12.500"], ["2", "P1", "06.01.2025", "1.234,56"]), data=PAY,
         check=lambda folder: _values(folder, "invoices", "amount", [12500.0, 1234.56])),
    Case("value_dot_alone_read_as_decimal_and_noted", "value", 0, "assumed_decimal:amount: 1",
         files=invoices_with(["1", "P1", "05.01.2025", "12.500"]), data=PAY),
    Case("value_separators_contradict", "value", 2,
         "column amount): the values contradict each other — ',' is a thousands separator in some values",
         files=invoices_with(["1", "P1", "05.01.2025", "1,234.56"], ["2", "P1", "06.01.2025", "12,5"]), data=PAY),
    Case("value_infinite_amounts", "value", 0, "out_of_range:amount: 3",
         files=invoices_with(["1", "P1", "05.01.2025", "inf"], ["2", "P1", "05.01.2025", "-inf"],
                             ["3", "P1", "05.01.2025", "Infinity"], ["4", "P1", "05.01.2025", "100"]), data=PAY),
    Case("value_absurd_amount", "value", 0, "out_of_range:amount: 1",
         files=invoices_with(["1", "P1", "05.01.2025", "1e20"], ["2", "P1", "05.01.2025", "100"]), data=PAY),
    Case("value_raised_money_ceiling", "value", 0, "total: 1 rows read, 1 used",
         files=invoices_with(["1", "P1", "05.01.2025", "25 000 000"]), data=PAY,
         config={"options": {"money_ceiling": {"invoices": 50_000_000}}}),
    Case("value_negative_sessions", "value", 0, "out_of_range:sessions: 1",
         files={"data/t.csv": csv([["Месяц", "Канал", "Визиты"], ["2025-01", "SEO", "-40"], ["2025-02", "SEO", "400"]])},
         data={"site_traffic": "data/t.csv"}),
    Case("value_negative_wait_blanked", "value", 0, "out_of_range:wait_seconds (blanked): 1",
         files={"data/c.csv": csv([["ID звонка", "Дата звонка", "Принят", "Ожидание"],
                                   ["1", "05.01.2025 10:00", "да", "-15"], ["2", "05.01.2025 11:00", "да", "20"]])},
         data={"calls": "data/c.csv"}),
    Case("value_nps_and_csat_outside_their_scales", "value", 0,
         "fixed in surveys: out_of_range:nps (blanked): 2, out_of_range:csat (blanked): 2",
         files={"data/s.csv": csv([["ID пациента", "Дата ответа", "NPS", "CSAT"], ["P1", "05.01.2025", "11", "7"],
                                   ["P2", "05.01.2025", "99", "0"], ["P3", "05.01.2025", "9", "5"]])},
         data={"surveys": "data/s.csv"}),
    Case("value_mixed_utc_offsets", "value", 0, "total: 4 rows read, 4 used",
         files={"data/c.csv": csv([["ID звонка", "Дата звонка", "Принят"], ["1", "2025-01-05T10:00:00+03:00", "да"],
                                   ["2", "2025-01-05T07:00:00Z", "да"], ["3", "2025-01-05T12:00:00+05:00", "нет"],
                                   ["4", "2025-01-05 10:00:00", "да"]])},
         data={"calls": "data/c.csv"},
         check=lambda folder: _values(folder, "calls", "started_at", ["2025-01-05 10:00"] * 4)),
    Case("run_small_call_log", "value", 0, "02_lead_loss.ipynb: ok",
         files={"data/c.csv": csv([["ID звонка", "Дата звонка", "Принят"]] + [
             [str(i), (__import__("pandas").Timestamp("2024-10-01 09:00") + __import__("pandas").Timedelta(hours=11 * i)
                       ).strftime("%d.%m.%Y %H:%M"), "нет" if i % 5 == 0 else "да"] for i in range(400)]),
                "data/leads.csv": csv([LEADS_HEADER] + LEADS)},
         data={"leads": "data/leads.csv", "calls": "data/c.csv"}, command="run",
         extra_args=("--modules", "funnel", "quality")),
    Case("value_times_in_an_impossible_order", "value", 0, "01_data_quality.ipynb: ok",
         files={"data/b.csv": csv([["ID записи", "ID пациента", "ID врача", "Дата приема", "Статус", "Дата записи"],
                                   ["B1", "P1", "D1", "10.01.2025 10:00", "пришел", "05.01.2025 09:00"],
                                   ["B2", "P1", "D1", "10.01.2025 11:00", "пришел", "11.01.2025 08:00"]]),
                "data/v.csv": csv([["ID визита", "ID пациента", "Время прихода", "ID записи"],
                                   ["V1", "P1", "04.01.2025 09:55", "B1"], ["V2", "P1", "10.01.2025 10:50", "B2"]])},
         data={"bookings": "data/b.csv", "visits": "data/v.csv"}, command="run", extra_args=("--modules", "quality"),
         check=lambda folder: _findings_have(folder, {"booked_after_slot": "1", "checkin_before_booking": "2"})),
    # -- files recognised by their content, separators, formulas, the report folder --------------------
    Case("file_pipe_separated", "file", 0, "total: 2 rows read, 2 used",
         files={"data/leads.csv": csv([LEADS_HEADER] + LEADS, sep="|")}),
    Case("file_colon_separated_header", "file", 2, "the header reads as one column ('ID заявки:Дата создания:Источник:",
         files={"data/leads.csv": csv([LEADS_HEADER] + LEADS, sep=":")}),
    Case("file_xlsx_named_csv", "file", 0, "total: 2 rows read, 2 used",
         files={"data/leads.csv": xlsx([LEADS_HEADER] + LEADS)}),
    Case("file_formulas_without_saved_values", "file", 2,
         "column 'Сумма' (amount) holds formulas without saved values, so its cells read as empty; open the file in "
         "Excel and save it (откройте и сохраните файл в Excel)",
         files={"data/pay.xlsx": xlsx([INVOICES_HEADER + ["Цена"], ["1", "P1", "05.01.2025", "=E2*2", 100],
                                       ["2", "P1", "06.01.2025", "=E3*2", 200]])},
         data={"invoices": "data/pay.xlsx"}),
    Case("run_out_under_a_file", "file", 2, "cannot create or write the report folder",
         files={"data/leads.csv": csv([LEADS_HEADER] + LEADS), "a_file": b"x"}, command="run",
         extra_args=("--out", "{folder}/a_file/report")),
    # -- personal data ------------------------------------------------------------------------------
    Case("pii_phone_in_text", "pii", 0, "fixed in leads: contact_in_text:lost_reason (masked): 1",
         files=leads_with(["1", "05.01.2025", "SEO", "перезвонить +7 (912) 345-67-89"]), check=no_pii_in_tables),
    Case("pii_email_in_channel", "pii", 0, "contact_in_text:channel (masked): 1",
         files=leads_with(["1", "05.01.2025", "ivan@mail.ru", ""]), check=no_pii_in_tables),
    Case("pii_name_mapped_on_leads", "pii", 0, "name_in_text:lost_reason (masked): 1",
         files=leads_with(["1", "05.01.2025", "SEO", "Иванов передумал", "Иванов Иван"], header=LEADS_HEADER + ["Клиент ФИО"]),
         data={"leads": {"path": "data/leads.csv", "columns": {"Клиент ФИО": "full_name"}}}, check=no_pii_in_tables),
    Case("pii_contact_columns_on_payments", "pii", 0, "total: 1 rows read, 1 used (0 fixed)",
         files={"data/pay.csv": csv([INVOICES_HEADER + ["ФИО", "Телефон", "E-mail клиента"],
                                     ["1", "P1", "05.01.2025", "100", "Петрова Анна", "89123456789", "ivan@mail.ru"]])},
         data=PAY, check=no_pii_in_tables),
    Case("pii_phone_as_patient_id", "pii", 0, "fixed in invoices: phone_as_id:patient_id (hashed): 1",
         files=invoices_with(["1", "+7 912 345-67-89", "05.01.2025", "100"]), data=PAY, check=no_pii_in_tables),
    Case("pii_declined_name_beside_a_phone", "pii", 0, "name_in_text:lost_reason (masked): 2",
         files=leads_with(["1", "05.01.2025", "SEO", "перезвонить Ивановой +7 916 123-45-67", "Иванова Мария"],
                          ["2", "06.01.2025", "SEO", "Консультация (Петров Пётр, тел. 8 912 000-11-22)", ""],
                          header=LEADS_HEADER + ["ФИО"]),
         check=lambda folder: _no_words(folder, "leads", ("Иванов", "Петров", "Пётр", "916", "912"))),
    Case("pii_name_of_patient_in_payment_service", "pii", 0, "name_in_text:service (masked): 1",
         files={"data/pay.csv": csv([INVOICES_HEADER + ["Номенклатура"], ["1", "P1", "05.01.2025", "100", "Приём (Петрова)"]]),
                "data/p.csv": csv([["ID пациента", "ФИО"], ["P1", "Петрова Анна"]])},
         data={**PAY, "patients": "data/p.csv"}, check=no_pii_in_tables),
]


def _write_clinic(folder: Path, case: Case) -> Path:
    for rel, content in case.files.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(content)
    path = folder / "audit.yaml"
    if case.raw_config is not None:
        if case.raw_config:
            path.write_text(case.raw_config, encoding="utf-8")
        return path
    cfg = {"client": "Тестовая клиника", "language": "ru",
           "periods": {"base": ["2024-10-01", "2024-12-31"], "current": ["2025-01-01", "2025-03-31"]},
           "data": case.data if case.data is not None else {"leads": "data/leads.csv"}}
    for key, value in case.config.items():
        if value is None:
            cfg.pop(key, None)
        else:
            cfg[key] = value
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def test_the_table_covers_every_kind_with_at_least_40_cases():
    kinds = {c.kind for c in CASES}
    assert kinds == {"config", "file", "value", "injection", "pii"}
    assert len(CASES) >= 40 and len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_bad_input(tmp_path, capsys, case):
    path = _write_clinic(tmp_path, case)
    extra = [a.replace("{folder}", str(tmp_path)) for a in case.extra_args]
    default_out = ["--out", str(tmp_path / "out")] if case.command == "run" and "--out" not in extra else []
    args = [case.command, str(path), *default_out, *extra]
    code = main(args)
    out, err = capsys.readouterr()
    assert code == case.code, (out, err)
    assert case.text in out + err, (out, err)
    assert "Traceback" not in err
    if code == 2:
        assert err.startswith("error: ") and len(err.strip().splitlines()) == 1, err
    for secret in PII:
        assert secret not in out + err, secret
    if case.check:
        case.check(tmp_path)
