"""Ingest rules (DESIGN §3), each pinned on a tiny fixture: encodings, delimiters, dates, money,
aliases, the columns mapping, PII hashing, duplicates and the ledger balance."""
from __future__ import annotations

import pandas as pd
import pytest

from audit_kit.config import load_config
from audit_kit.errors import InputError
from audit_kit.ingest import ingest, load_tables, save_tables
from audit_kit.ingest.coerce import parse_datetime, parse_month, parse_number

from conftest import write_csv, write_xlsx

INVOICE_HEADER = ["Номер документа", "Код пациента", "Дата оплаты", "Сумма"]


def _invoices(clinic, rows, **csv_kws):
    folder, config = clinic
    write_csv(folder / "data" / "pay.csv", [INVOICE_HEADER] + rows, **csv_kws)
    return ingest(load_config(config({"invoices": "data/pay.csv"})))


class TestEncodingsAndDelimiters:
    @pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1251"])
    @pytest.mark.parametrize("sep", [",", ";", "\t"])
    def test_russian_headers_read_in_every_encoding_and_delimiter(self, clinic, encoding, sep):
        result = _invoices(clinic, [["1", "П-1", "2025-01-05", "100"], ["2", "П-2", "2025-01-06", "250"]],
                           encoding=encoding, sep=sep)
        inv = result.tables["invoices"]
        assert inv["patient_id"].tolist() == ["П-1", "П-2"]
        assert inv["amount"].tolist() == [100.0, 250.0]

    def test_title_rows_above_the_header_are_skipped(self, clinic):
        folder, config = clinic
        write_csv(folder / "data" / "pay.csv", [["Отчёт по оплатам"], [""], INVOICE_HEADER,
                                                ["1", "P1", "05.01.2025", "10"]], sep=";")
        result = ingest(load_config(config({"invoices": "data/pay.csv"})))
        assert result.tables["invoices"]["_source_row"].tolist() == [4]


class TestDates:
    def test_every_date_format(self):
        raw = pd.Series(["2025-01-31", "2025-01-31 14:05", "2025-01-31T14:05:09", "31.01.2025",
                         "31.01.2025 14:05", "31.01.2025 14:05:09", "45688", "45688.5"], dtype="string")
        parsed, bad = parse_datetime(raw)
        assert not bad.any()
        assert parsed.tolist() == [pd.Timestamp("2025-01-31"), pd.Timestamp("2025-01-31 14:05"),
                                   pd.Timestamp("2025-01-31 14:05:09"), pd.Timestamp("2025-01-31"),
                                   pd.Timestamp("2025-01-31 14:05"), pd.Timestamp("2025-01-31 14:05:09"),
                                   pd.Timestamp("2025-01-31"), pd.Timestamp("2025-01-31 12:00")]

    def test_impossible_dates_are_flagged_not_guessed(self):
        parsed, bad = parse_datetime(pd.Series(["32.13.2024", "2024-02-30", "вчера", None], dtype="string"))
        assert bad.tolist() == [True, True, True, False]
        assert parsed.isna().all()

    def test_months_in_clinic_spellings(self):
        parsed, bad = parse_month(pd.Series(["2024-10", "10.2024", "Октябрь 2024", "окт 2024", "2024-10-15"],
                                            dtype="string"))
        assert not bad.any()
        assert set(parsed) == {pd.Timestamp("2024-10-01")}

    def test_real_excel_dates_are_read(self, clinic):
        import datetime as dt

        folder, config = clinic
        write_xlsx(folder / "data" / "pay.xlsx", [INVOICE_HEADER, [1, "P1", dt.datetime(2025, 1, 5, 9, 30), 3900.5],
                                                  ["007", "P2", 45688, 100]])
        inv = ingest(load_config(config({"invoices": "data/pay.xlsx"}))).tables["invoices"]
        assert inv["paid_at"].tolist() == [pd.Timestamp("2025-01-05 09:30"), pd.Timestamp("2025-01-31")]
        assert inv["invoice_id"].tolist() == ["1", "007"]    # Excel number 1.0 -> "1"; text "007" kept


class TestMoney:
    def test_money_strings(self):
        """Each form in a column of its own: a column's separators are read from its own values, and one
        that uses ',' both ways is an error (tests/test_evidence.py)."""
        forms = {"3 900,50 ₽": 3900.5, "3\u00a0900,50": 3900.5, "3900.5": 3900.5, "1,234.50": 1234.5,
                 "-1 200": -1200.0, "9 800,00 руб.": 9800.0, "12": 12.0}
        for text, value in forms.items():
            parsed, bad = parse_number(pd.Series([text, "100"], dtype="string"))
            assert not bad.any() and parsed.tolist() == [value, 100.0], text
        parsed, _ = parse_number(pd.Series(["3 900,50 ₽", "3\u00a0900,50", "-1 200", "9 800,00 руб.", "12"], dtype="string"))
        assert parsed.tolist() == [3900.5, 3900.5, -1200.0, 9800.0, 12.0]       # a 1C column, comma decimals

    def test_refund_is_kept_as_negative_amount(self, clinic):
        result = _invoices(clinic, [["1", "P1", "2025-01-05", "3 900,00"], ["2", "P1", "2025-01-06", "-3 900,00"]],
                           sep=";")
        assert result.tables["invoices"]["amount"].sum() == 0.0
        assert result.ledger.tables["invoices"].used == 2


class TestIds:
    def test_ids_stay_strings_with_leading_zeros(self, clinic):
        inv = _invoices(clinic, [["00123", "0042", "2025-01-05", "1"], ["123", "42", "2025-01-05", "1"]]).tables["invoices"]
        assert inv["invoice_id"].tolist() == ["00123", "123"]
        assert inv["patient_id"].tolist() == ["0042", "42"]


class TestAliasesAndMapping:
    def test_english_and_canonical_headers(self, clinic):
        folder, config = clinic
        write_csv(folder / "data" / "b.csv", [["booking_id", "Patient ID", "doctor_id", "slot_start", "Status"],
                                              ["B1", "P1", "D1", "2025-01-10 10:00", "no show"],
                                              ["B2", "P1", "D1", "2025-01-11 10:00", "пришёл"]])
        b = ingest(load_config(config({"bookings": "data/b.csv"}))).tables["bookings"]
        assert b["status"].tolist() == ["no_show", "completed"]

    def test_columns_mapping_from_config(self, clinic):
        folder, config = clinic
        write_csv(folder / "data" / "calls.csv", [["ID", "Когда", "Итог"], ["c1", "10.01.2025 09:15", "Пропущен"],
                                                  ["c2", "10.01.2025 09:20", "Принят"]], sep=";")
        cfg = config({"calls": {"path": "data/calls.csv", "columns": {"Когда": "started_at", "Итог": "answered"}}})
        calls = ingest(load_config(cfg)).tables["calls"]
        assert calls["answered"].tolist() == [False, True]
        assert calls["started_at"].iloc[0] == pd.Timestamp("2025-01-10 09:15")

    def test_channel_values_mapped(self, clinic):
        folder, config = clinic
        write_csv(folder / "data" / "leads.csv", [["ID заявки", "Дата создания", "Источник"],
                                                  ["1", "05.01.2025", "yandex / cpc"], ["2", "05.01.2025", "Prodoctorov"],
                                                  ["3", "05.01.2025", "сарафан"], ["4", "05.01.2025", ""]])
        cfg = config({"leads": "data/leads.csv"}, channels={"yandex / cpc": "Контекст", "prodoctorov": "Агрегаторы"})
        result = ingest(load_config(cfg))
        assert result.tables["leads"]["channel"].tolist() == ["Контекст", "Агрегаторы", "сарафан", "(не указан)"]
        assert result.ledger.tables["leads"].fixed == 1

    def test_unmapped_required_column_names_file_column_and_headers(self, clinic):
        folder, config = clinic
        write_csv(folder / "data" / "b.csv", [["ID записи", "Пациент", "Дата приема", "Статус"], ["1", "P", "2025-01-01", "пришел"]])
        with pytest.raises(InputError) as err:
            ingest(load_config(config({"bookings": "data/b.csv"})))
        msg = str(err.value)
        assert "b.csv" in msg and "'patient_id' not found" in msg and "'Пациент'" in msg
        assert "data.bookings.columns" in msg


class TestPii:
    def test_phones_names_emails_are_hashed_and_consistent(self, clinic):
        folder, config = clinic
        write_csv(folder / "data" / "p.csv", [["ID пациента", "ФИО", "Телефон", "E-mail"],
                                              ["1", "Иванов Иван", "+7 (912) 345-67-89", "Ivan@Mail.ru"],
                                              ["2", "иванов  иван", "89123456789", "ivan@mail.ru"]], sep=";")
        result = ingest(load_config(config({"patients": "data/p.csv"})))
        p = result.tables["patients"]
        pii = ["full_name", "phone", "email"]
        for col in pii:      # a salted hash (the salt is random per client, so digits may recur in the hex)
            assert p[col].str.fullmatch(r"h[0-9a-f]{16}").all(), col
        text = p.drop(columns=pii).astype(str).to_string()
        for secret in ("Иван", "иван", "912", "345-67", "mail.ru"):
            assert secret not in text
        assert p["phone"].iloc[0] == p["phone"].iloc[1]
        assert p["full_name"].iloc[0] == p["full_name"].iloc[1]
        assert p["email"].iloc[0] == p["email"].iloc[1]

    def test_hash_depends_on_the_client_salt(self, tmp_path):
        from audit_kit.ingest.pii import pseudonymise

        s = pd.Series(["+79123456789"], dtype="string")
        assert pseudonymise(s, "phone", "a" * 16).iloc[0] != pseudonymise(s, "phone", "b" * 16).iloc[0]

    def test_unmapped_columns_are_dropped(self, clinic):
        folder, config = clinic
        write_csv(folder / "data" / "pay.csv", [INVOICE_HEADER + ["Комментарий"], ["1", "P1", "2025-01-05", "1", "звонить Марии"]])
        result = ingest(load_config(config({"invoices": "data/pay.csv"})))
        assert "Комментарий" in result.ledger.tables["invoices"].ignored_columns
        assert "Марии" not in result.tables["invoices"].astype(str).to_string()


class TestLedger:
    def test_the_acceptance_export(self, clinic):
        """Russian-header xlsx + cp1251 ';' csv mapped through columns: 3 rows without ID, 2 impossible
        dates and 2 exact duplicates rejected with reasons; a refund kept."""
        folder, config = clinic
        header = ["Документ №", "Карта", "Дата и время", "Сумма, руб"]
        rows = [["1", "P1", "01.10.2024 10:30", "9 800,00"], ["2", "P2", "01.10.2024 11:00", "-9 800,00"],
                ["", "P3", "02.10.2024 10:00", "100"], ["", "P4", "02.10.2024 10:00", "200"], ["", "P5", "02.10.2024 10:00", "300"],
                ["6", "P6", "32.13.2024 10:00", "100"], ["7", "P7", "32.13.2024", "100"],
                ["8", "P8", "03.10.2024 09:00", "500"], ["8", "P8", "03.10.2024 09:00", "500"],
                ["9", "P9", "03.10.2024 09:00", "700"], ["9", "P9", "03.10.2024 09:00", "700"]]
        write_csv(folder / "data" / "1c.csv", [header] + rows, encoding="cp1251", sep=";")
        write_xlsx(folder / "data" / "mis.xlsx", [["ID записи", "Код пациента", "Код врача", "Дата приема", "Статус"],
                                                  ["B1", "P1", "D1", "01.10.2024 10:00", "Пришёл"]])
        cfg = config({"invoices": {"path": "data/1c.csv", "columns": {"Документ №": "invoice_id", "Карта": "patient_id",
                                                                       "Дата и время": "paid_at", "Сумма, руб": "amount"}},
                      "bookings": "data/mis.xlsx"})
        result = ingest(load_config(cfg))
        led = result.ledger.tables["invoices"]
        assert (led.read, led.used, led.rejected) == (11, 4, 7)
        assert led.reasons == {"missing:invoice_id": 3, "invalid_date:paid_at": 2, "duplicate_row": 2}
        assert led.examples["missing:invoice_id"] == [4, 5, 6]
        assert led.examples["invalid_date:paid_at"] == [7, 8]
        assert led.examples["duplicate_row"] == [10, 12]
        inv = result.tables["invoices"]
        assert inv.loc[inv["invoice_id"] == "2", "amount"].item() == -9800.0
        assert result.tables["bookings"]["status"].tolist() == ["completed"]
        assert all(t.balanced for t in result.ledger.tables.values())

    def test_duplicate_id_with_different_content(self, clinic):
        result = _invoices(clinic, [["1", "P1", "2025-01-05", "100"], ["1", "P2", "2025-01-05", "100"]])
        led = result.ledger.tables["invoices"]
        assert led.reasons == {"duplicate_id:invoice_id": 1}
        assert (led.read, led.used) == (2, 1)

    def test_bad_optional_value_is_blanked_and_counted_fixed(self, clinic):
        folder, config = clinic
        write_csv(folder / "data" / "leads.csv", [["lead_id", "created_at", "channel", "first_response_at"],
                                                  ["1", "2025-01-05 10:00", "SEO", "потом"], ["2", "2025-01-05 10:00", "SEO", "2025-01-05 10:07"]])
        result = ingest(load_config(config({"leads": "data/leads.csv"})))
        led = result.ledger.tables["leads"]
        assert (led.used, led.fixed, led.rejected) == (2, 1, 0)
        assert led.fixes == {"invalid_date:first_response_at (blanked)": 1}
        assert result.tables["leads"]["first_response_at"].isna().tolist() == [True, False]

    def test_shift_crossing_midnight_moves_to_next_day(self, clinic):
        folder, config = clinic
        write_csv(folder / "data" / "s.csv", [["doctor_id", "shift_start", "shift_end"], ["D1", "2025-01-05 20:00", "2025-01-05 02:00"]])
        s = ingest(load_config(config({"schedule": "data/s.csv"}))).tables["schedule"]
        assert s["shift_end"].item() == pd.Timestamp("2025-01-06 02:00")

    def test_parquet_cache_round_trip(self, clinic, tmp_path):
        result = _invoices(clinic, [["1", "P1", "2025-01-05", "100"]])
        save_tables(result, tmp_path / "run")
        back = load_tables(tmp_path / "run")
        # the cache adds an int32 key next to each ID column (ingest/keys.py); everything else round-trips
        keyed = back.tables["invoices"]
        assert keyed[["invoice_key", "patient_key", "visit_key"]].to_numpy().tolist() == [[0, 0, -1]]
        pd.testing.assert_frame_equal(keyed.drop(columns=["invoice_key", "patient_key", "visit_key"]),
                                      result.tables["invoices"])
        assert back.ledger.to_dict() == result.ledger.to_dict()


class TestUnreadable:
    def test_empty_file(self, clinic):
        folder, config = clinic
        (folder / "data").mkdir()
        (folder / "data" / "pay.csv").write_bytes(b"")
        with pytest.raises(InputError, match=r"pay\.csv: the file is empty"):
            ingest(load_config(config({"invoices": "data/pay.csv"})))

    def test_header_only(self, clinic):
        folder, config = clinic
        write_csv(folder / "data" / "pay.csv", [INVOICE_HEADER])
        with pytest.raises(InputError, match="header but no data rows"):
            ingest(load_config(config({"invoices": "data/pay.csv"})))

    def test_corrupt_xlsx(self, clinic):
        folder, config = clinic
        (folder / "data").mkdir()
        (folder / "data" / "pay.xlsx").write_bytes(b"PK\x03\x04 this is not a workbook")
        with pytest.raises(InputError, match=r"pay\.xlsx: cannot read the file"):
            ingest(load_config(config({"invoices": "data/pay.xlsx"})))


def test_save_tables_removes_tables_no_longer_in_the_config(clinic, tmp_path):
    folder, config = clinic
    write_csv(folder / "data" / "pay.csv", [INVOICE_HEADER, ["1", "P1", "2025-01-05", "100"]])
    write_csv(folder / "data" / "l.csv", [["lead_id", "created_at", "channel"], ["1", "2025-01-05", "SEO"]])
    save_tables(ingest(load_config(config({"invoices": "data/pay.csv", "leads": "data/l.csv"}))), tmp_path / "run")
    save_tables(ingest(load_config(config({"invoices": "data/pay.csv"}))), tmp_path / "run")
    assert set(load_tables(tmp_path / "run").tables) == {"invoices"}


class TestAwkwardFiles:
    ROWS = [["1", "P1", "05.01.2025", "100"], ["2", "P2", "06.01.2025", "200"], ["3", "P3", "07.01.2025", "300"]]

    def _write(self, clinic, data: bytes, **source):
        folder, config = clinic
        (folder / "data").mkdir(exist_ok=True)
        (folder / "data" / "pay.csv").write_bytes(data)
        return ingest(load_config(config({"invoices": {"path": "data/pay.csv", **source}})))

    @staticmethod
    def _text(rows, sep=";"):
        return "\n".join(sep.join(r) for r in rows) + "\n"

    @pytest.mark.parametrize("bom, encoding", [(b"\xff\xfe", "utf-16-le"), (b"", "utf-16-le"), (b"\xfe\xff", "utf-16-be")])
    def test_excel_unicode_text_is_read(self, clinic, bom, encoding):
        """Excel's "Unicode text": UTF-16 with a BOM, tab-delimited (and the same without a BOM)."""
        result = self._write(clinic, bom + self._text([INVOICE_HEADER] + self.ROWS, "\t").encode(encoding))
        inv = result.tables["invoices"]
        assert inv["patient_id"].tolist() == ["P1", "P2", "P3"] and inv["amount"].sum() == 600.0

    def test_a_cp1251_row_in_a_utf8_file_is_decoded_and_counted(self, clinic):
        rows = [INVOICE_HEADER + ["Номенклатура"], ["1", "P1", "05.01.2025", "100", "Приём"],
                ["2", "P2", "06.01.2025", "200", "Анализы"]]
        data = self._text(rows).encode("utf-8") + self._text([["3", "П-3", "07.01.2025", "300", "УЗИ"]]).encode("cp1251")
        result = self._write(clinic, data)
        assert result.tables["invoices"]["patient_id"].tolist() == ["P1", "P2", "П-3"]
        led = result.ledger.tables["invoices"]
        assert led.fixes == {"mixed_encoding (re-decoded)": 1} and led.examples["mixed_encoding (re-decoded)"] == [4]
        assert (led.used, led.fixed) == (3, 1)

    @pytest.mark.parametrize("service", ["Анализы", "Исследование"])   # "И" has the byte 0x98, undefined in cp1251
    def test_a_utf8_row_in_a_cp1251_file_is_decoded_and_counted(self, clinic, service):
        rows = [INVOICE_HEADER + ["Номенклатура"], ["1", "P1", "05.01.2025", "100", "Приём"],
                ["2", "P2", "06.01.2025", "200", "УЗИ"]]
        data = self._text(rows).encode("cp1251") + self._text([["3", "P3", "07.01.2025", "300", service]]).encode("utf-8")
        result = self._write(clinic, data)
        assert result.tables["invoices"]["service"].tolist() == ["Приём", "УЗИ", service]
        assert result.ledger.tables["invoices"].fixes == {"mixed_encoding (re-decoded)": 1}

    def test_mojibake_cells_in_an_xlsx_are_decoded_and_counted(self, clinic):
        """UTF-8 text pasted into a cp1251 program shows as 'РџСЂРёС‘Рј'; ordinary Russian text is left alone."""
        folder, config = clinic
        garbled = "Приём терапевта".encode("utf-8").decode("cp1251")
        write_xlsx(folder / "data" / "pay.xlsx", [INVOICE_HEADER + ["Номенклатура"],
                                                  ["1", "P1", "05.01.2025", 100, garbled],
                                                  ["2", "P2", "05.01.2025", 100, "Сёстринский уход: приём"]])
        result = ingest(load_config(config({"invoices": "data/pay.xlsx"})))
        assert result.tables["invoices"]["service"].tolist() == ["Приём терапевта", "Сёстринский уход: приём"]
        assert result.ledger.tables["invoices"].fixes == {"mixed_encoding (re-decoded)": 1}

    def test_unknown_configured_encoding_is_named(self, clinic):
        from audit_kit.errors import ConfigError

        with pytest.raises(ConfigError, match=r"key 'data.invoices.encoding': unknown encoding 'win-1251'"):
            self._write(clinic, self._text([INVOICE_HEADER] + self.ROWS).encode(), encoding="win-1251")

    def test_configured_encoding_that_does_not_fit_is_named(self, clinic):
        with pytest.raises(InputError, match=r"pay\.csv: cannot decode the file as utf-8 \(set in audit\.yaml"):
            self._write(clinic, self._text([INVOICE_HEADER] + self.ROWS).encode("cp1251"), encoding="utf-8")

    def test_ragged_rows_are_rejected_with_their_reason(self, clinic):
        rows = [INVOICE_HEADER, self.ROWS[0], ["2", "P2", "06.01.2025"], ["3", "P3", "07.01.2025", "3", "900,50"],
                ["4", "P4", "08.01.2025", "400", ""], ['"5"', '"P;5"', "09.01.2025", "500"]]
        result = self._write(clinic, self._text(rows).encode())
        led = result.ledger.tables["invoices"]
        assert led.reasons == {"too_few_fields": 1, "too_many_fields": 1}
        assert led.examples["too_few_fields"] == [3] and led.examples["too_many_fields"] == [4]
        assert result.tables["invoices"]["invoice_id"].tolist() == ["1", "4", "5"]   # a trailing ';' is fine, quotes too
        assert led.balanced

    def test_a_file_without_a_header_row_is_named(self, clinic):
        with pytest.raises(InputError) as err:
            self._write(clinic, self._text(self.ROWS).encode())
        msg = str(err.value)
        assert "pay.csv (table 'invoices'): the file has no header row" in msg
        assert "invoice_id, patient_id, paid_at, amount" in msg and "'1', 'P1', '05.01.2025', '100'" in msg

    def test_the_no_header_example_hides_contacts(self, clinic):
        rows = [["1", "Иванов Иван", "+7 912 345-67-89", "05.01.2025", "100"]]
        with pytest.raises(InputError) as err:
            self._write(clinic, self._text(rows).encode())
        assert "912" not in str(err.value) and "Иванов" not in str(err.value)

    def test_unknown_headers_still_ask_for_a_mapping(self, clinic):
        with pytest.raises(InputError, match=r"required column 'invoice_id' not found"):
            self._write(clinic, self._text([["Док №", "Клиент", "Когда", "Сколько"]] + self.ROWS).encode())


def test_a_data_row_taken_for_headers_is_not_echoed_with_contacts(clinic):
    folder, config = clinic
    write_csv(folder / "data" / "l.csv", [["Иванов Иван", "ivan@mail.ru", "SEO"], ["Петрова Анна", "anna@mail.ru", "vk"]])
    with pytest.raises(InputError) as err:
        ingest(load_config(config({"leads": "data/l.csv"})))
    msg = str(err.value)
    assert "required column 'lead_id' not found" in msg and "'[name]', '[e-mail]', 'SEO'" in msg
    assert "Иванов" not in msg and "ivan@" not in msg
