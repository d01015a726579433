"""Source presets (audit_kit/ingest/presets/*.yaml): every fixture in tests/fixtures/exports is read with
no `columns:` line (the one allowed exception: amoCRM's own medical-card field), the ledger balances and
hand-checked rows come out right (tests/fixtures/exports/EXPECTED.md)."""
from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from audit_kit.cli import main
from audit_kit.config import load_config
from audit_kit.errors import InputError
from audit_kit.ingest import ingest
from audit_kit.ingest.presets import all_presets, detect

from conftest import write_config, write_csv

FIXTURES = Path(__file__).parent / "fixtures" / "exports"
T = pd.Timestamp


def read(tmp_path: Path, table: str, *specs, **extra):
    """Ingest fixture files (copied into a client folder) as one table: (canonical frame, ledger)."""
    entries = []
    for spec in specs:
        spec = {"path": spec} if isinstance(spec, str) else dict(spec)
        src = FIXTURES / spec["path"]
        if src.is_file():
            shutil.copy(src, tmp_path / src.name)
        entries.append(spec if len(spec) > 1 else spec["path"])
    config = write_config(tmp_path, {table: entries[0] if len(entries) == 1 else entries}, **extra)
    result = ingest(load_config(config))
    return result.tables[table], result.ledger.tables[table]


def balanced(ledger) -> bool:
    return ledger.balanced and ledger.read == ledger.used + ledger.rejected


def test_every_preset_file_is_valid_and_has_evidence():
    presets = all_presets()
    assert len(presets) >= 13
    for preset in presets.values():
        assert preset.evidence, preset.id
        assert preset.title["ru"] and preset.title["en"], preset.id


# -- leads --------------------------------------------------------------------------------------------
LEADS = {  # lead_id: (created_at, outcome, lost_reason)
    "1001": ("2025-01-05 09:15:00", "won", None),
    "1002": ("2025-01-05 10:24:00", "lost", "Дорого"),
    "1003": ("2025-01-06 11:02:00", "open", None),
    "1008": ("2025-02-01 00:10:00", "lost", "Выбрал другую клинику"),
}


@pytest.mark.parametrize("name", ["amocrm_deals.xlsx", "amocrm_deals.csv"])
def test_amocrm_deals(tmp_path, name):
    df, ledger = read(tmp_path, "leads", {"path": name, "columns": {"Номер медкарты": "patient_id"}})
    assert ledger.preset == "amocrm_deals" and balanced(ledger)
    assert (ledger.read, ledger.used, ledger.rejected) == (8, 8, 0)
    rows = df.set_index("lead_id")
    for lead, (created, outcome, reason) in LEADS.items():
        assert rows.at[lead, "created_at"] == T(created)
        assert rows.at[lead, "outcome"] == outcome
        assert (pd.isna(rows.at[lead, "lost_reason"]) if reason is None else rows.at[lead, "lost_reason"] == reason)
    # the deal's «Источник» (the first of two), not the contact's (lead 1004 has «Сарафанное радио» there)
    assert rows.at["1004", "channel"] == "prodoctorov" and rows.at["1001", "channel"] == "yandex / cpc"
    assert rows.at["1001", "patient_id"] == "000123" and pd.isna(rows.at["1002", "patient_id"])
    assert rows.at["1006", "status"] == "Записан на приём" and rows.at["1006", "outcome"] == "open"
    assert rows["full_name"].str.startswith("h").all()           # names and phones hashed on reading


def test_amocrm_without_the_card_field_still_reads(tmp_path):
    df, ledger = read(tmp_path, "leads", "amocrm_deals.csv")
    assert ledger.used == 8 and df["patient_id"].isna().all()


def test_bitrix24_leads(tmp_path):
    df, ledger = read(tmp_path, "leads", "bitrix24_leads.csv")
    assert ledger.preset == "bitrix24_leads" and (ledger.read, ledger.used) == (8, 8)
    rows = df.set_index("lead_id")
    assert rows["outcome"].to_dict() == {"1001": "won", "1002": "lost", "1003": "open", "1004": "won",
                                         "1005": "lost", "1006": "open", "1007": "won", "1008": "lost"}
    assert rows.at["1005", "lost_reason"] == "Не дозвонились"
    assert rows.at["1008", "created_at"] == T("2025-02-01 00:10:00")
    assert rows["full_name"].notna().all()          # Фамилия + Имя + Отчество joined, then hashed


@pytest.mark.parametrize("name", ["bitrix24_deals.csv", "DEAL_20250405_bitrix24_deals_html.xls"])
def test_bitrix24_deals_collapse_product_rows(tmp_path, name):
    df, ledger = read(tmp_path, "leads", name)
    assert ledger.preset == "bitrix24_deals" and balanced(ledger)
    assert (ledger.read, ledger.used, ledger.rejected) == (11, 8, 3)
    assert ledger.reasons == {"product_row (collapsed)": 3}
    rows = df.set_index("lead_id")
    assert rows.index.is_unique and len(rows) == 8
    assert rows.at["1004", "service"] == "УЗИ малого таза"     # the deal's first product row stands for it
    assert rows.at["1001", "channel"] == "yandex / cpc"          # UTM Source / UTM Medium
    assert rows.at["1001", "outcome"] == "won" and rows.at["1002", "outcome"] == "lost"
    assert rows.at["1003", "status"] == "Записан" and rows.at["1003", "outcome"] == "open"


def test_config_stages_map_an_accounts_own_stage(tmp_path):
    df, _ = read(tmp_path, "leads", "bitrix24_deals.csv", stages={"Недозвон": "lost"})
    rows = df.set_index("lead_id")
    assert rows.at["1006", "outcome"] == "lost" and rows.at["1003", "outcome"] == "open"


# -- calls --------------------------------------------------------------------------------------------
CALLS = {"50001": ("2025-01-05 10:20:15", True, 12, 185), "50002": ("2025-01-05 10:47:03", False, 35, 0),
         "50008": ("2025-02-01 01:30:00", True, 7, 95)}


@pytest.mark.parametrize("name, preset", [("calltouch_api.csv", "calltouch_api"),
                                          ("calltouch_journal.xlsx", "calltouch_journal"),
                                          ("comagic_calls.csv", "comagic_calls"),
                                          ("mango_calls.csv", "mango_calls"),
                                          ("roistat_calls.csv", "roistat_calls")])
def test_call_exports(tmp_path, name, preset):
    df, ledger = read(tmp_path, "calls", name)
    assert ledger.preset == preset and balanced(ledger)
    assert (ledger.read, ledger.used, ledger.rejected) == (8, 8, 0)
    rows = df.set_index("call_id")
    assert int((~rows["answered"].astype(bool)).sum()) == 3            # 50002, 50004, 50006 missed
    for call, (started, answered, wait, talk) in CALLS.items():
        assert rows.at[call, "started_at"] == T(started), call      # local time (Mango, Roistat converted)
        assert bool(rows.at[call, "answered"]) is answered
        assert rows.at[call, "duration_seconds"] == talk
        if preset != "roistat_calls":                                # Roistat exports no wait
            assert rows.at[call, "wait_seconds"] == wait
    assert rows.loc["50002", "caller_phone"] == rows.loc["50004", "caller_phone"]   # the same caller, hashed alike


def test_calltouch_channel_is_source_and_medium_with_empty_markers_dropped(tmp_path):
    df, _ = read(tmp_path, "calls", "calltouch_api.csv")
    rows = df.set_index("call_id")
    assert rows.at["50001", "channel"] == "yandex / cpc"
    assert rows.at["50002", "channel"] == "prodoctorov"        # medium «<не указано>» is empty, not a value


def test_mango_line_number_maps_through_channels(tmp_path):
    df, _ = read(tmp_path, "calls", "mango_calls.csv", channels={"74950000001": "Контекст"})
    assert set(df["channel"]) == {"Контекст"}


def test_comagic_outgoing_calls_are_counted_apart(tmp_path):
    text = (FIXTURES / "comagic_calls.csv").read_text(encoding="utf-8").splitlines()
    out = text[1].replace(",in,", ",out,").replace("50001,", "59999,", 1)
    (tmp_path / "comagic.csv").write_text("\n".join(text + [out]) + "\n", encoding="utf-8")
    df, ledger = read(tmp_path, "calls", "comagic.csv")
    assert ledger.read == 9 and ledger.reasons == {"outgoing_call": 1} and "59999" not in set(df["call_id"])


# -- spend and traffic ---------------------------------------------------------------------------------
@pytest.mark.parametrize("name, preset", [("direct_master.csv", "direct_master"), ("direct_api.tsv", "direct_api")])
def test_direct_reports(tmp_path, name, preset):
    df, ledger = read(tmp_path, "marketing_spend", name, channels={"Яндекс Директ": "Контекст"})
    assert ledger.preset == preset and balanced(ledger)
    assert (ledger.read, ledger.used) == (7, 6) and ledger.reasons == {"total_row": 1}
    by_month = df.groupby("month")["spend"].sum().round(2)
    assert by_month.to_dict() == {T("2025-01-01"): 7155.41, T("2025-02-01"): 3080.40}
    assert set(df["channel"]) == {"Контекст"}


def test_a_constant_channel_on_the_source_wins(tmp_path):
    df, _ = read(tmp_path, "marketing_spend", {"path": "direct_master.csv", "channel": "Контекст (бренд)"})
    assert set(df["channel"]) == {"Контекст (бренд)"}


def test_metrika_ui_report_with_its_month(tmp_path):
    df, ledger = read(tmp_path, "site_traffic", {"path": "metrika_ui.csv", "month": "2025-01"})
    assert ledger.preset == "metrika_ui" and ledger.reasons == {"total_row": 1} and ledger.used == 6
    rows = df.set_index("channel")
    assert rows.at["Переходы по рекламе", "sessions"] == 2310 and df["sessions"].sum() == 4871
    assert set(df["month"]) == {T("2025-01-01")}


def test_metrika_logs_visits_counted_into_sessions(tmp_path):
    df, ledger = read(tmp_path, "site_traffic", "metrika_logs.tsv")
    assert ledger.preset == "metrika_logs" and (ledger.read, ledger.used, ledger.rejected) == (10, 10, 0)
    assert len(df) == 8 and df["sessions"].sum() == 10
    jan = df.loc[df["month"].eq(T("2025-01-01"))].set_index("channel")["sessions"]
    assert jan["yandex / cpc"] == 3 and jan["Прямые заходы"] == 1     # UTM source / medium, else the source label


# -- detection -----------------------------------------------------------------------------------------
def test_detection_is_reported_by_validate(tmp_path, capsys):
    shutil.copy(FIXTURES / "calltouch_api.csv", tmp_path / "calls.csv")
    config = write_config(tmp_path, {"calls": "calls.csv"})
    assert main(["validate", str(config)]) == 0
    out = capsys.readouterr().out
    assert "calls: Calltouch calls journal (API), 8 rows" in out


def test_ambiguous_headers_name_both_presets_and_the_key():
    both = ["ID", "Название сделки", "Дата создания сделки", "Этап сделки", "Стадия сделки", "Воронка"]
    with pytest.raises(InputError) as err:
        detect(both, "leads", "deals.csv")
    assert "'amocrm_deals'" in str(err.value) and "'bitrix24_deals'" in str(err.value)
    assert "data.leads.preset: " in str(err.value)


def test_a_preset_forced_on_the_wrong_file(tmp_path, capsys):
    shutil.copy(FIXTURES / "comagic_calls.csv", tmp_path / "calls.csv")
    config = write_config(tmp_path, {"calls": {"path": "calls.csv", "preset": "calltouch_api"}})
    assert main(["validate", str(config)]) == 2
    err = capsys.readouterr().err
    assert "does not look like a Calltouch calls journal (API) file (data.calls.preset: calltouch_api)" in err
    assert "'callid'" in err


def test_a_file_of_another_table_is_named(tmp_path, capsys):
    shutil.copy(FIXTURES / "calltouch_api.csv", tmp_path / "x.csv")
    config = write_config(tmp_path, {"leads": "x.csv"})
    assert main(["validate", str(config)]) == 2
    assert "looks like a Calltouch calls journal (API) export, which feeds table 'calls'" in capsys.readouterr().err


def test_an_unknown_preset_is_a_config_error(tmp_path, capsys):
    write_csv(tmp_path / "l.csv", [["lead_id", "created_at", "channel"], ["1", "2025-01-01", "SEO"]])
    config = write_config(tmp_path, {"leads": {"path": "l.csv", "preset": "amocrm"}})
    assert main(["validate", str(config)]) == 2
    assert "key 'data.leads.preset': unknown preset 'amocrm' for table 'leads'; expected one of: amocrm_deals" \
        in capsys.readouterr().err


def test_a_file_close_to_a_preset_names_it(tmp_path, capsys):
    text = (FIXTURES / "calltouch_api.csv").read_text(encoding="utf-8").replace("callId", "callID_").replace(
        "successful", "success").replace("date,", "dt,", 1)
    (tmp_path / "calls.csv").write_text(text, encoding="utf-8")
    config = write_config(tmp_path, {"calls": "calls.csv"})
    assert main(["validate", str(config)]) == 2
    err = capsys.readouterr().err
    assert "required column 'call_id' not found" in err
    assert "close to the Calltouch calls journal (API) export (preset 'calltouch_api')" in err


def test_a_file_of_no_known_system_falls_back_to_aliases(tmp_path):
    write_csv(tmp_path / "l.csv", [["ID заявки", "Дата обращения", "Источник"], ["1", "05.01.2025", "SEO"]])
    df, ledger = read(tmp_path, "leads", "l.csv")
    assert ledger.preset is None and ledger.used == 1 and df["outcome"].isna().all()


# -- several files ---------------------------------------------------------------------------------------
def test_a_list_of_spend_files_with_constant_channels(tmp_path):
    write_csv(tmp_path / "seo.csv", [["Месяц", "Расход"], ["2025-01", "30000"], ["2025-02", "30000"]], sep=";")
    df, ledger = read(tmp_path, "marketing_spend", "direct_master.csv", {"path": "seo.csv", "channel": "SEO"},
                      channels={"Яндекс Директ": "Контекст"})
    totals = df.groupby("channel")["spend"].sum().round(2).to_dict()
    assert totals == {"Контекст": 10235.81, "SEO": 60000.0}
    assert ledger.read == 9 and ledger.used == 8 and balanced(ledger)
    assert set(ledger.files) == {"direct_master.csv", "seo.csv"}
    assert ledger.files["direct_master.csv"]["reasons"] == {"total_row": 1}
    assert ledger.files["seo.csv"]["used"] == 2 and ledger.files["direct_master.csv"]["preset"] == "direct_master"


def test_overlapping_monthly_exports_count_the_repeated_rows_once(tmp_path):
    header = ["Номер документа", "Код пациента", "Дата оплаты", "Сумма"]
    jan = [["1", "P1", "10.01.2025", "1000"], ["2", "P2", "31.01.2025", "2000"]]
    feb = [["2", "P2", "31.01.2025", "2000"], ["3", "P1", "03.02.2025", "1500"]]     # the export overlaps on 31.01
    (tmp_path / "payments").mkdir()
    write_csv(tmp_path / "payments" / "2025-01.csv", [header] + jan, sep=";")
    write_csv(tmp_path / "payments" / "2025-02.csv", [header] + feb, sep=";")
    df, ledger = read(tmp_path, "invoices", "payments/*.csv")
    assert sorted(df["invoice_id"]) == ["1", "2", "3"] and df["amount"].sum() == 4500
    assert (ledger.read, ledger.used, ledger.rejected) == (4, 3, 1) and ledger.reasons == {"duplicate_row": 1}
    assert ledger.files["2025-02.csv"]["reasons"] == {"duplicate_row": 1}
    assert ledger.files["2025-01.csv"]["rejected"] == 0


def test_a_glob_that_matches_nothing_is_a_config_error(tmp_path, capsys):
    config = write_config(tmp_path, {"invoices": "payments/*.xlsx"})
    assert main(["validate", str(config)]) == 2
    assert "key 'data.invoices.path': no file matches 'payments/*.xlsx'" in capsys.readouterr().err


def test_validate_json_shows_tables_and_files(tmp_path, capsys):
    import json

    write_csv(tmp_path / "seo.csv", [["Месяц", "Расход"], ["2025-01", "30000"]], sep=";")
    shutil.copy(FIXTURES / "direct_master.csv", tmp_path / "direct_master.csv")
    config = write_config(tmp_path, {"marketing_spend": ["direct_master.csv", {"path": "seo.csv", "channel": "SEO"}]})
    assert main(["validate", str(config), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)["tables"]["marketing_spend"]
    assert (out["read"], out["used"], out["rejected"]) == (8, 7, 1)
    assert out["files"]["direct_master.csv"]["read"] == 7 and out["files"]["seo.csv"]["read"] == 1


# -- no table lost quietly -----------------------------------------------------------------------------
def test_a_table_losing_most_rows_is_said_out_loud(tmp_path, capsys):
    rows = [["ID", "Дата обращения", "Источник"]] + [[str(i), "2025-01-0%d" % (i + 1), "SEO"] for i in range(3)] + \
        [[str(i), "вчера", "SEO"] for i in range(3, 7)]
    write_csv(tmp_path / "l.csv", rows)
    config = write_config(tmp_path, {"leads": "l.csv"})
    assert main(["validate", str(config)]) == 0
    err = capsys.readouterr().err
    assert "warning: leads: 4 of 7 rows rejected — created_at 'вчера' is not a date in any known format" in err


def test_a_table_with_no_usable_row_is_exit_2(tmp_path, capsys):
    rows = [["ID звонка", "Дата звонка", "Принят"]] + [[str(i), "2025.13.45 10:24", "да"] for i in range(4)]
    write_csv(tmp_path / "c.csv", rows)
    config = write_config(tmp_path, {"calls": "c.csv"})
    assert main(["validate", str(config)]) == 2
    err = capsys.readouterr().err
    assert "no usable row in table 'calls': calls: 4 of 4 rows rejected — started_at '2025.13.45 10:24' " \
           "is not a date in any known format" in err


def test_calltouch_api_dates_with_slashes_and_seconds_are_read_day_first(tmp_path):
    df, ledger = read(tmp_path, "calls", "calltouch_api.csv")
    assert ledger.rejected == 0 and df["started_at"].min() == T("2025-01-05 10:20:15")


def test_the_demo_config_has_no_calls_mapping():
    demo = yaml.safe_load((Path(__file__).parent.parent / "sample_data" / "demo_clinic" / "audit.yaml").read_text(
        encoding="utf-8"))
    assert isinstance(demo["data"]["calls"], str)
    assert demo["data"]["bookings"]["columns"]       # the clinic's own MIS report still needs one line


# -- file formats and time zones ------------------------------------------------------------------------
LEGACY_ROWS = [["ID заявки", "Дата обращения", "Источник"], ["00017", "05.01.2025 10:24", "SEO"],
               ["00018", "06.01.2025 11:00", "Контекст"]]


def test_a_legacy_biff_xls_is_read(tmp_path):
    xlwt = pytest.importorskip("xlwt")
    book = xlwt.Workbook()
    sheet = book.add_sheet("Лист1")
    for r, row in enumerate(LEGACY_ROWS):
        for c, value in enumerate(row):
            sheet.write(r, c, value)
    book.save(str(tmp_path / "leads.xls"))
    df, ledger = read(tmp_path, "leads", "leads.xls")
    assert ledger.used == 2 and list(df["lead_id"]) == ["00017", "00018"]
    assert df["created_at"].iloc[0] == T("2025-01-05 10:24")


def test_an_ods_is_read(tmp_path):
    pytest.importorskip("odf")
    pd.DataFrame(LEGACY_ROWS[1:], columns=LEGACY_ROWS[0]).to_excel(tmp_path / "leads.ods", index=False, engine="odf")
    df, ledger = read(tmp_path, "leads", "leads.ods")
    assert ledger.used == 2 and list(df["lead_id"]) == ["00017", "00018"]


def test_an_html_table_named_csv_is_read_as_html(tmp_path):
    shutil.copy(FIXTURES / "DEAL_20250405_bitrix24_deals_html.xls", tmp_path / "deals.csv")
    df, ledger = read(tmp_path, "leads", "deals.csv")
    assert ledger.preset == "bitrix24_deals" and ledger.used == 8


def test_times_with_an_offset_follow_the_configured_time_zone(tmp_path):
    df, _ = read(tmp_path, "calls", "roistat_calls.csv", timezone="Asia/Yekaterinburg")     # UTC+5
    assert df.set_index("call_id").at["50001", "started_at"] == T("2025-01-05 12:20:15")


def test_an_unknown_time_zone_is_a_config_error(tmp_path, capsys):
    shutil.copy(FIXTURES / "roistat_calls.csv", tmp_path / "calls.csv")
    config = write_config(tmp_path, {"calls": "calls.csv"}, timezone="Europe/Moskow")
    assert main(["validate", str(config)]) == 2
    assert "key 'timezone': unknown time zone 'Europe/Moskow'" in capsys.readouterr().err
