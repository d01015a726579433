"""Personal data at ingest (audit_kit/ingest/pii.py, DESIGN §3): contact columns on any table, phones
and e-mails masked in free text, patient names masked wherever they appear, phone-number IDs hashed."""
from __future__ import annotations

import pandas as pd
import pytest

from audit_kit.config import load_config
from audit_kit.errors import ConfigError
from audit_kit.ingest import ingest
from audit_kit.ingest.pii import mask_contacts, mask_names, name_tokens, phone_ids, pseudonymise
from audit_kit.ingest.schema import PII, TABLES

from conftest import write_csv

HASH = r"h[0-9a-f]{16}"


class TestMaskContacts:
    @pytest.mark.parametrize("raw, masked", [
        ("звонить +7 (912) 345-67-89 вечером", "звонить [телефон] вечером"),
        ("8 912 345 67 89", "[телефон]"),
        ("89123456789", "[телефон]"),
        ("тел.79123456789!", "тел.[телефон]!"),
        ("моб. 912-345-67-89", "моб. [телефон]"),
        ("городской 345-67-89", "городской [телефон]"),
        ("пишите ivan.petrov@mail.ru", "пишите [e-mail]"),
        ("ответ на иван@почта.рф", "ответ на [e-mail]"),
    ])
    def test_phones_and_emails_are_masked(self, raw, masked):
        out, hit = mask_contacts(pd.Series([raw], dtype="string"))
        assert out.tolist() == [masked] and hit.tolist() == [True]

    @pytest.mark.parametrize("raw", ["2025-01-05 10:00", "3 900 000,00 ₽", "Приём 12.01.2025", "УЗИ 3D", "дорого",
                                     "кабинет 204", "INV-0012345"])
    def test_dates_money_and_plain_text_are_kept(self, raw):
        out, hit = mask_contacts(pd.Series([raw], dtype="string"))
        assert out.tolist() == [raw] and hit.tolist() == [False]

    def test_english_markers_and_missing_cells(self):
        out, hit = mask_contacts(pd.Series(["call 89123456789", None, "a@b.com"], dtype="string"), "en")
        assert out.tolist() == ["call [phone]", pd.NA, "[e-mail]"]
        assert hit.tolist() == [True, False, True]


class TestPhoneIds:
    def test_phone_numbers_among_ids(self):
        ids = pd.Series(["89123456789", "+7 912 345-67-89", "9123456789", "(912) 345-67-89", "418000070",
                         "21000022", "P-501", "7001234", "ЧК-0015000", "1234567890"], dtype="string")
        assert phone_ids(ids).tolist() == [True, True, True, True, False, False, False, False, False, False]

    def test_a_phone_as_patient_id_is_hashed_like_the_phone_column(self, clinic):
        folder, config = clinic
        write_csv(folder / "data" / "pay.csv", [["Номер документа", "Код пациента", "Дата оплаты", "Сумма"],
                                                ["1", "+7 (912) 345-67-89", "05.01.2025", "100"],
                                                ["2", "P-2", "05.01.2025", "100"]], sep=";")
        write_csv(folder / "data" / "p.csv", [["ID пациента", "Телефон"], ["89123456789", "89123456789"]], sep=";")
        result = ingest(load_config(config({"invoices": "data/pay.csv", "patients": "data/p.csv"})))
        inv, patients = result.tables["invoices"], result.tables["patients"]
        assert inv["patient_id"].iloc[0] == patients["patient_id"].iloc[0] == patients["phone"].iloc[0]
        assert inv["patient_id"].iloc[0].startswith("h") and inv["patient_id"].iloc[1] == "P-2"
        assert result.ledger.tables["invoices"].fixes == {"phone_as_id:patient_id (hashed)": 1}
        assert result.ledger.tables["invoices"].fixed == 1


    def test_an_email_as_patient_id_is_hashed(self, clinic):
        folder, config = clinic
        write_csv(folder / "data" / "pay.csv", [["Номер документа", "Код пациента", "Дата оплаты", "Сумма"],
                                                ["1", "Ivan@Mail.ru", "05.01.2025", "100"],
                                                ["2", "ivan@mail.ru", "06.01.2025", "100"], ["3", "P@3", "06.01.2025", "1"]])
        result = ingest(load_config(config({"invoices": "data/pay.csv"})))
        ids = result.tables["invoices"]["patient_id"]
        assert ids.iloc[0] == ids.iloc[1] and ids.iloc[0].startswith("h") and ids.iloc[2] == "P@3"
        assert result.ledger.tables["invoices"].fixes == {"email_as_id:patient_id (hashed)": 2}


class TestNames:
    def test_tokens_are_words_of_three_letters_or_more(self):
        assert name_tokens(pd.Series(["Семёнова Ольга И.", "Ли Бо", None])).tolist() == ["семенова", "ольга"]

    def test_every_word_of_a_known_name_is_masked_in_any_case(self):
        tokens = name_tokens(pd.Series(["Иванов Иван Иванович", "Семёнова Ольга"]))
        text = pd.Series(["Иванов просил перезвонить", "семенова передумала", "дорого", "ИВАН", None,
                          "Семенова О.", "Ивановская улица"], dtype="string")
        out, hit = mask_names(text, tokens)
        assert out.tolist() == ["[имя] просил перезвонить", "[имя] передумала", "дорого", "[имя]", pd.NA,
                                "[имя] О.", "Ивановская улица"]
        assert hit.tolist() == [True, True, False, True, False, True, False]


class TestContactColumnsOnAnyTable:
    @pytest.mark.parametrize("table", ["leads", "calls", "bookings", "visits", "invoices", "patients", "surveys",
                                       "marketing_spend", "site_traffic"])
    def test_every_patient_side_table_takes_name_phone_and_email(self, table):
        names = {c.name for c in TABLES[table].columns if c.kind == PII}
        assert {"full_name", "email"} <= names
        assert "phone" in names or "caller_phone" in names

    def test_staff_tables_take_no_full_name(self):
        assert "full_name" not in {c.name for c in TABLES["doctors"].columns}
        assert "full_name" not in {c.name for c in TABLES["schedule"].columns}

    def test_leads_with_name_phone_and_email_by_alias_and_mapping(self, clinic):
        folder, config = clinic
        write_csv(folder / "data" / "leads.csv", [
            ["ID заявки", "Дата создания", "Источник", "ФИО", "Моб. телефон", "E-mail клиента", "Причина отказа"],
            ["1", "05.01.2025", "SEO", "Иванов Иван", "+7 912 345-67-89", "ivan@mail.ru", "Иванов: дорого"],
            ["2", "05.01.2025", "SEO", "Петрова Анна", "89001112233", "", "нет времени"]], sep=";")
        cfg = load_config(config({"leads": {"path": "data/leads.csv", "columns": {"ФИО": "full_name"}}}))
        result = ingest(cfg)
        leads = result.tables["leads"]
        for col in ("full_name", "phone"):
            assert leads[col].str.fullmatch(HASH).all(), col
        assert leads["email"].iloc[0] != "ivan@mail.ru" and pd.isna(leads["email"].iloc[1])
        assert leads["lost_reason"].tolist() == ["[имя]: дорого", "нет времени"]
        led = result.ledger.tables["leads"]
        assert led.fixes == {"name_in_text:lost_reason (masked)": 1} and led.fixed == 1
        assert led.columns["Моб. телефон"] == "phone" and led.columns["E-mail клиента"] == "email"

    def test_phone_mapped_on_calls_means_caller_phone(self, clinic):
        folder, config = clinic
        write_csv(folder / "data" / "c.csv", [["id", "Когда", "Итог", "Номер"], ["1", "2025-01-05 10:00", "да", "89123456789"]])
        cfg = load_config(config({"calls": {"path": "data/c.csv", "columns": {"Когда": "started_at", "Итог": "answered",
                                                                              "Номер": "phone"}}}))
        calls = ingest(cfg).tables["calls"]
        assert calls["caller_phone"].iloc[0] == pseudonymise(pd.Series(["+79123456789"]), "phone",
                                                             cfg.salt_file.read_text().strip()).iloc[0]

    def test_mapping_to_full_name_on_doctors_is_an_error(self, clinic):
        folder, config = clinic
        write_csv(folder / "data" / "d.csv", [["Код врача", "ФИО", "Специальность"], ["D1", "Орлова Мария", "терапевт"]])
        with pytest.raises(ConfigError, match=r"'data.doctors.columns.ФИО': 'full_name' is not a column of table 'doctors'"):
            load_config(config({"doctors": {"path": "data/d.csv", "columns": {"ФИО": "full_name"}}}))

    def test_doctor_names_survive_a_patient_with_the_same_surname(self, clinic):
        folder, config = clinic
        write_csv(folder / "data" / "d.csv", [["Код врача", "ФИО", "Специальность"], ["D1", "Орлова Мария", "терапевт"]])
        write_csv(folder / "data" / "p.csv", [["ID пациента", "ФИО"], ["P1", "Орлова Анна"]])
        result = ingest(load_config(config({"doctors": "data/d.csv", "patients": "data/p.csv"})))
        assert result.tables["doctors"]["doctor_name"].tolist() == ["Орлова Мария"]
