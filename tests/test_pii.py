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

    @pytest.mark.parametrize("raw, masked", [
        ("8 912 34 56 789 после обеда", "[телефон] после обеда"),          # the regex misses these groupings
        ("моб. 8 (912) 3-456-789", "моб. [телефон]"),
        ("звонить +380 50 123 4567", "звонить [телефон]"),                 # foreign numbers
        ("+49 30 1234567", "[телефон]"),
        ("Минск +375 29 123-45-67", "Минск [телефон]"),                    # the code goes with the number
    ])
    def test_phones_the_regex_misses_are_found_by_phonenumbers(self, raw, masked):
        out, hit = mask_contacts(pd.Series([raw], dtype="string"))
        assert out.tolist() == [masked] and hit.tolist() == [True]

    @pytest.mark.parametrize("raw", ["2025-01-05 10:00", "3 900 000,00 ₽", "Приём 12.01.2025", "УЗИ 3D", "дорого",
                                     "кабинет 204", "INV-0012345", "Карта 4276 3800 1234 5678", "заказ 20250105123456",
                                     "100 000 руб 12 345 678 90", "Период 01.01.2025-31.03.2025", "2-22-33"])
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

    def test_a_known_name_in_another_case_and_with_e_for_yo(self):
        tokens = name_tokens(pd.Series(["Иванова Мария", "Петров Пётр", "Семёнова Ольга"]))
        text = pd.Series(["перезвонить Ивановой +7 916 [телефон]", "звонила петрову", "Петр придёт", "Петра нет",
                          "записать Семенову Ольгу", "Марии не дозвонились", "семёновой передать"], dtype="string")
        out, hit = mask_names(text, tokens)
        assert out.tolist() == ["перезвонить [имя] +7 916 [телефон]", "звонила [имя]", "[имя] придёт", "[имя] нет",
                                "записать [имя] [имя]", "[имя] не дозвонились", "[имя] передать"]
        assert hit.all()

    def test_a_lower_case_word_needs_a_likely_name_reading(self):
        """«зубов» is a form of the surname Зубов but far more likely the teeth; «розы» the flowers."""
        tokens = name_tokens(pd.Series(["Зубова Роза", "Зубов Лев", "Плантова Анна"]))
        out, hit = mask_names(pd.Series(["Лечение зубов", "розы", "Зубовой перезвонить", "звонила Розе", "Зубов звонил",
                                         "плантовой передать"], dtype="string"), tokens)
        assert out.tolist() == ["Лечение зубов", "розы", "[имя] перезвонить", "звонила [имя]", "[имя] звонил",
                                "[имя] передать"]   # плантовой: no dictionary word, so no other reading
        assert hit.tolist() == [False, False, True, True, True, True]

    @pytest.mark.parametrize("raw, masked", [
        ("Консультация (Петров Пётр, тел. [телефон])", "Консультация ([имя] [имя], тел. [телефон])"),
        ("Консультация (Сидоров Семён, тел. [телефон])", "Консультация ([имя] [имя], тел. [телефон])"),
        ("перезвонить Ольге", "перезвонить [имя]"),                    # a first name alone
        ("записалась Надежда Сергеевна", "записалась [имя] [имя]"),     # Надежда beside a patronymic
        ("Вера Комарова", "[имя] [имя]"),                               # weak tags, one beside the other
        ("Горшков А.", "[имя] А."),                                     # beside an initial
        ("со слов А. Б. Горшкова", "со слов А. Б. [имя]"),
        ("Римская-Корсакова", "[имя]-[имя]"),
    ])
    def test_a_name_in_no_name_column(self, raw, masked):
        out, hit = mask_names(pd.Series([raw], dtype="string"), pd.Series([], dtype="string"))
        assert out.tolist() == [masked] and hit.tolist() == [True]

    @pytest.mark.parametrize("raw", [
        "Роза", "Вера", "Лев", "Любовь", "Надежда", "Слава", "Майя", "Комаров Казаков",     # also common nouns
        "Приём терапевта", "Лечение зубов", "Повторный приём (невролог)", "Мазок на флору", "УЗИ органов малого таза",
        "Программа «Здоровое сердце»", "Гормоны щитовидной железы (ТТГ, Т4)", "Холтеровское мониторирование",
        "Дорого", "Выбрал другую клинику", "Нет удобного времени", "Не пришёл на приём", "Спам / ошибка",
        "yandex / cpc", "Яндекс Директ", "Яндекс Маркет", "ПроДокторов", "НаПоправку", "Сарафанное радио",
        "ВКонтакте таргет", "Верх-Исетский", "Кировский", "Чкаловский", "Орджоникидзевский", "Каб. 107", "ЛОР", "Ли Бо",
    ])
    def test_ordinary_words_are_kept(self, raw):
        out, hit = mask_names(pd.Series([raw], dtype="string"), pd.Series([], dtype="string"))
        assert out.tolist() == [raw] and hit.tolist() == [False]

    def test_missing_and_empty_cells_and_english_marker(self):
        out, hit = mask_names(pd.Series([None, "", "call Петров П."], dtype="string"), pd.Series([], dtype="string"), "en")
        assert out.tolist() == [pd.NA, "", "call [name] П."] and hit.tolist() == [False, False, True]

    def test_a_long_cell_is_masked_in_linear_time(self):
        """100,000 characters of a repeated note, and of words that are all different (the worst case:
        every word looked up): each distinct word is looked up once, and the time stays in seconds, not
        minutes (about 0.1 s and 0.4 s on an idle machine, see benchmarks/bench_pii.py; the bounds leave
        room for a machine busy with other tests)."""
        import time

        import numpy as np

        from audit_kit.ingest import names

        rng = np.random.default_rng(7)
        syllables = np.char.add(rng.choice(list("бвгдзклмнпрстхч"), (20_000, 4)), rng.choice(list("аеиоуя"), (20_000, 4)))
        words = ["".join(w[: 2 + i % 3]) for i, w in enumerate(syllables)]
        random_text = " ".join(w.capitalize() if i % 3 == 0 else w for i, w in enumerate(words))[:100_000]
        note = "Иванова просила перезвонить Петрову Петру Сергеевичу +7 912 345-67-89, дорого. " * 1220   # 100,040
        tokens = name_tokens(pd.Series(["Иванова Мария"]))
        for text, bound in ((note, 3.0), (random_text, 8.0)):
            names.dictionary_reading.cache_clear()
            started = time.perf_counter()
            cells, _ = mask_contacts(pd.Series([text], dtype="string"))
            out, _ = mask_names(cells, tokens)
            assert time.perf_counter() - started < bound
            assert names.dictionary_reading.cache_info().misses <= len(set(text.lower().split()))
        masked, _ = mask_names(mask_contacts(pd.Series([note], dtype="string"))[0], tokens)
        assert masked.iloc[0].startswith("[имя] просила перезвонить [имя] [имя] [имя] [телефон], дорого. [имя] просила")
        assert "Иванова" not in masked.iloc[0] and "Петру" not in masked.iloc[0] and "912" not in masked.iloc[0]


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

    def test_names_in_other_cases_and_in_no_name_column_are_masked_and_counted(self, clinic):
        folder, config = clinic
        write_csv(folder / "data" / "leads.csv", [
            ["ID заявки", "Дата создания", "Источник", "ФИО", "Причина отказа"],
            ["1", "05.01.2025", "SEO", "Иванова Мария", "перезвонить Ивановой +7 916 123-45-67"],
            ["2", "05.01.2025", "SEO", "Семёнов Пётр", "Семенову Петру дорого"],
            ["3", "06.01.2025", "SEO", "Орлова Анна", "Консультация (Сидоров Семён, тел. 8 912 34 56 789)"],
            ["4", "06.01.2025", "SEO", "Орлова Анна", "Нет удобного времени"]], sep=";")
        result = ingest(load_config(config({"leads": {"path": "data/leads.csv", "columns": {"ФИО": "full_name"}}})))
        assert result.tables["leads"]["lost_reason"].tolist() == [
            "перезвонить [имя] [телефон]", "[имя] [имя] дорого", "Консультация ([имя] [имя], тел. [телефон])",
            "Нет удобного времени"]
        led = result.ledger.tables["leads"]
        assert led.fixes == {"contact_in_text:lost_reason (masked)": 2, "name_in_text:lost_reason (masked)": 3}
        assert led.fixed == 3

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
