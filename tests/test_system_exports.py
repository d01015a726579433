"""The system-export writers themselves (audit_kit/system_exports.py), read back with plain pandas/openpyxl:
headers verbatim as in ../shared/EXPORTS.md, each system's quirks present, byte-stable output, and the
committed fixtures in tests/fixtures/exports/ equal to what make_fixtures.py writes today."""
from __future__ import annotations

import importlib.util
import io
import re
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from audit_kit import system_exports as sx

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "exports"

# Headers copied from EXPORTS.md by hand (a second entry, independent of the module's constants).
EXPORTS_MD = {
    "amocrm": "ID, Название сделки, Бюджет, Ответственный, Дата создания сделки, Кем создана сделка, Дата "
              "редактирования, Кем редактирована, Дата закрытия, Теги, Примечание, Примечание 2, Примечание 3, "
              "Примечание 4, Примечание 5, Этап сделки, Воронка, Полное имя контакта, Компания контакта, "
              "Ответственный за контакт, Компания, Рабочий телефон, Рабочий прямой телефон, Мобильный телефон, "
              "Факс, Домашний телефон, Другой телефон, Рабочий email, Личный email, Другой email, Город, Источник, "
              "Должность, Товар",
    "bitrix_leads": "ID, Название лида, Имя, Фамилия, Отчество, Дата рождения, Рабочий телефон, Мобильный телефон, "
                    "Рабочий e-mail, Частный e-mail, Стадия, Дополнительно о стадии, Возможная сумма, Валюта, "
                    "Источник, Дополнительно об источнике, Ответственный",
    "bitrix_deals": "ID, Название сделки, Стадия сделки, Воронка, Сумма, Валюта, Дата создания, Дата изменения, "
                    "Дата начала, Предполагаемая дата закрытия, Ответственный, Товар, Контакт: ID, Компания: "
                    "Название компании, UTM Source, UTM Medium, UTM Campaign",
    "calltouch_journal": "Номер звонка, Звонивший, Источник, utm_source, utm_medium, utm_campaign, Дата, "
                         "Длительность, Ожидание, Куда звонили, Статус",
    "calltouch_api": "callId, date, callerNumber, phoneNumber, redirectNumber, duration, waitingConnect, successful, "
                     "uniqueCall, targetCall, uniqTargetCall, callbackCall, source, medium, utmSource, utmMedium, "
                     "utmCampaign, utmContent, utmTerm, keyword, city, yaClientId, sessionId, statusDetails, manager, "
                     "callTags",
    "comagic": "id, start_time, finish_time, direction, is_lost, finish_reason, wait_duration, talk_duration, "
               "total_duration, clean_talk_duration, contact_phone_number, virtual_phone_number, visitor_id, "
               "ua_client_id, channel, source, utm_source, utm_medium, utm_campaign, utm_term, utm_content, "
               "campaign_name, search_query, referrer, tags, employees, last_answered_employee_full_name",
    "mango": "records, start, finish, answer, from_extension, from_number, to_extension, to_number, "
             "disconnect_reason, line_number, location, entry_id",
    "roistat": "id, caller, callee, date, duration, status, link, visit_id, marker, script_name, order_id",
    "direct_master": "Дата, Кампания, № Кампании, Группа, № Группы, № Объявления, Условие показа, Показы, Клики, "
                     "CTR (%), Расход (руб.), Ср. цена клика (руб.), Глубина (стр.), Отказы (%), Конверсии, "
                     "Конверсия (%), Цена цели (руб.)",
    "direct_api": "Date, CampaignId, CampaignName, Impressions, Clicks, Cost",
    "metrika_logs": "ym:s:visitID, ym:s:clientID, ym:s:date, ym:s:dateTime, ym:s:isNewUser, ym:s:startURL, "
                    "ym:s:pageViews, ym:s:visitDuration, ym:s:bounce, ym:s:lastTrafficSource, ym:s:lastAdvEngine, "
                    "ym:s:lastUTMSource, ym:s:lastUTMMedium, ym:s:lastUTMCampaign",
}


def md(name: str) -> list[str]:
    return EXPORTS_MD[name].split(", ")


def _load_make_fixtures():
    spec = importlib.util.spec_from_file_location("make_fixtures", FIXTURES / "make_fixtures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


mf = _load_make_fixtures()


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("exports")
    mf.main(out)
    return out


def _csv(path: Path, sep: str = ",", header="infer", encoding: str = "utf-8", skiprows=0) -> pd.DataFrame:
    return pd.read_csv(path, sep=sep, header=header, dtype=str, keep_default_na=False, encoding=encoding,
                       skiprows=skiprows)


def _xlsx_rows(path: Path) -> list[tuple]:
    return list(openpyxl.load_workbook(path, read_only=True).active.iter_rows(values_only=True))


# ---------------------------------------------------------------- stability
def test_two_writes_give_the_same_bytes(written, tmp_path):
    again = tmp_path / "again"
    paths = mf.main(again)
    assert len(paths) == 14
    for p in paths:
        assert p.read_bytes() == (written / p.name).read_bytes(), p.name


def test_committed_fixtures_are_what_make_fixtures_writes(written):
    for p in sorted(written.iterdir()):
        assert (FIXTURES / p.name).read_bytes() == p.read_bytes(), f"{p.name}: rerun make_fixtures.py"


# ---------------------------------------------------------------- CRM
def test_amocrm_xlsx_headers_and_quirks(written):
    rows = _xlsx_rows(written / "amocrm_deals.xlsx")
    header = list(rows[0])
    system = md("amocrm")
    system[system.index("Бюджет")] = "Бюджет "                    # the trailing space is the quirk
    assert header[:34] == system
    assert header[34:] == ["utm_source", "utm_medium", "utm_campaign", "Номер медкарты", "Причина отказа", "Источник"]
    assert header.count("Источник") == 2
    data = pd.DataFrame(rows[1:], columns=range(len(header)))
    col = {h: i for i, h in reversed(list(enumerate(header)))}  # first occurrence
    assert len(data) == 8
    assert data[col["ID"]].tolist()[:2] == [1001, 1002]
    assert data[col["Дата создания сделки"]].str.fullmatch(r"\d\d\.\d\d\.\d{4} \d\d:\d\d:\d\d").all()
    closed = dict(zip(data[0], data[col["Дата закрытия"]]))
    assert closed[1003] == closed[1006] == "не закрыта" and closed[1002] == "07.01.2025 18:30:00"
    stage = dict(zip(data[0], data[col["Этап сделки"]]))
    assert stage[1001] == "Успешно реализовано" and stage[1002] == "Закрыто и не реализовано"
    assert {stage[1003], stage[1006]} == {"Первичный контакт", "Записан на приём"}
    assert set(data[col["Воронка"]]) == {"Основная воронка"}
    deal_source, contact_source = data[col["Источник"]], data[len(header) - 1]
    assert deal_source[3] == "prodoctorov" and contact_source[3] == "Сарафанное радио"
    assert dict(zip(data[0], data[col["Причина отказа"]]))[1002] == "Дорого"
    assert dict(zip(data[0], data[col["Номер медкарты"]]))[1001] == "000123"


def test_amocrm_csv_utf8_commas_and_cp1251_option(written, tmp_path):
    text = (written / "amocrm_deals.csv").read_text(encoding="utf-8")
    first = text.split("\n")[0]
    assert first.startswith("ID,Название сделки,Бюджет ,Ответственный,") and first.endswith(",Причина отказа,Источник")
    df = _csv(written / "amocrm_deals.csv")
    assert "Источник.1" in df.columns and len(df) == 8
    p = sx.amocrm_deals(mf.leads(), tmp_path / "cp.csv", fmt="csv", encoding="cp1251")
    raw = p.read_bytes()
    assert b"\r\n" in raw and raw.decode("cp1251").startswith("ID,Название сделки,Бюджет ,")
    with pytest.raises(ValueError):
        sx.amocrm_deals(mf.leads(), tmp_path / "x", fmt="ods")


def test_bitrix24_leads(written, tmp_path):
    df = _csv(written / "bitrix24_leads.csv", sep=";")
    assert list(df.columns[:17]) == md("bitrix_leads")
    assert list(df.columns[17:]) == ["Дата создания"]
    assert df.loc[0, ["Фамилия", "Имя", "Отчество"]].tolist() == ["Тестова", "Анна", "Петровна"]
    assert df.loc[7, "Отчество"] == ""
    status = dict(zip(df.ID, df["Стадия"]))
    assert status["1001"] == "Качественный лид" and status["1002"] == "Некачественный лид"
    assert (status["1003"], status["1006"]) == ("В работе", "Не обработан")
    assert dict(zip(df.ID, df["Дополнительно о стадии"]))["1002"] == "Дорого"
    p = sx.bitrix24_leads(mf.leads(), tmp_path / "l.csv", created_header=None)
    assert _csv(p, sep=";").columns.tolist() == md("bitrix_leads")


def test_bitrix24_deals_csv_one_row_per_product(written):
    df = _csv(written / "bitrix24_deals.csv", sep=";")
    assert list(df.columns) == md("bitrix_deals")
    assert len(df) == 11 and df.ID.nunique() == 8
    d1004 = df[df.ID == "1004"]
    assert d1004["Товар"].tolist() == ["УЗИ малого таза", "Приём гинеколога", "Мазок на флору"]
    assert (d1004.drop(columns="Товар").nunique() == 1).all()       # every other cell repeated
    stage = df.drop_duplicates("ID").set_index("ID")["Стадия сделки"]
    assert stage["1001"] == "Сделка успешна" and stage["1002"] == "Сделка провалена"
    assert (stage["1003"], stage["1006"]) == ("Записан", "Недозвон")
    assert df["Дата создания"].str.fullmatch(r"\d\d\.\d\d\.\d{4} \d\d:\d\d:\d\d").all()
    assert df["Дата начала"].str.fullmatch(r"\d\d\.\d\d\.\d{4}").all()


def test_bitrix24_deals_html_xls(written):
    path = written / mf.BITRIX_HTML_NAME
    assert re.fullmatch(r"DEAL_\d{8}_.+\.xls", path.name)
    text = path.read_bytes().decode("utf-8")
    assert text.startswith("<html>") and '<meta http-equiv="Content-type" content="text/html;charset=utf-8" />' in text
    assert '<table border="1">' in text and not path.read_bytes().startswith(b"PK")
    rows = re.findall(r"<tr>(.*?)</tr>", text)
    assert re.findall(r"<th>(.*?)</th>", rows[0]) == md("bitrix_deals")
    cells = [re.findall(r"<td>(.*?)</td>", r) for r in rows[1:]]
    assert len(cells) == 11 and all(len(c) == 17 for c in cells)
    csv_rows = _csv(written / "bitrix24_deals.csv", sep=";").values.tolist()
    assert cells == csv_rows                                        # the same table as the csv


# ---------------------------------------------------------------- call tracking
def test_calltouch_api(written, tmp_path):
    df = _csv(written / "calltouch_api.csv")
    assert list(df.columns) == md("calltouch_api")
    assert df.date.str.fullmatch(r"\d\d/\d\d/\d{4} \d\d:\d\d:\d\d").all()
    assert df.loc[0, "date"] == "05/01/2025 10:20:15"
    for c in ("successful", "uniqueCall", "targetCall", "uniqTargetCall", "callbackCall"):
        assert set(df[c]) <= {"true", "false"}
    row = df.set_index("callId").loc["50002"]
    assert (row.successful, row.waitingConnect, row.medium) == ("false", "35", "<не указано>")
    assert df.set_index("callId").loc["50004", "uniqueCall"] == "false"    # repeat caller
    calls = mf.calls()
    p = sx.calltouch_api(calls, tmp_path / "ct.csv", extra_columns={"Перезвон менеджера": calls.called_back_at})
    extra = _csv(p)
    assert list(extra.columns) == md("calltouch_api") + ["Перезвон менеджера"]
    assert extra["Перезвон менеджера"].tolist()[:2] == ["<не указано>", "05/01/2025 11:05:00"]


def test_calltouch_journal(written):
    rows = _xlsx_rows(written / "calltouch_journal.xlsx")
    assert list(rows[0]) == md("calltouch_journal")
    first = dict(zip(rows[0], rows[1]))
    assert first["Дата"] == pd.Timestamp("2025-01-05 10:20:15").to_pydatetime()
    assert (first["Ожидание"], first["Длительность"], first["Статус"]) == (12, 185, "Успешный")
    assert dict(zip(rows[0], rows[2]))["Статус"] == "Неуспешный"
    assert len(rows) == 9


def test_comagic_calls(written):
    df = _csv(written / "comagic_calls.csv")
    assert list(df.columns) == md("comagic")
    assert set(df.direction) == {"in"} and set(df.is_lost) == {"true", "false"}
    assert df.start_time.str.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d").all()
    row = df.set_index("id").loc["50002"]
    assert (row.is_lost, row.wait_duration, row.talk_duration) == ("true", "35", "0")


def test_mango_calls_headerless_unix(written):
    text = (written / "mango_calls.csv").read_text(encoding="utf-8")
    assert not text.startswith("records")
    df = _csv(written / "mango_calls.csv", sep=";", header=None)
    df.columns = md("mango")
    assert len(df) == 8 and df.shape[1] == 12
    start, finish, answer = (df[c].astype(int) for c in ("start", "finish", "answer"))
    local = pd.to_datetime(start, unit="s", utc=True).dt.tz_convert("Europe/Moscow").dt.tz_localize(None)
    assert local.tolist() == mf.calls().started_at.tolist()
    missed = answer.eq(0)
    assert missed.tolist() == (~mf.calls().answered).tolist()
    assert (answer - start)[~missed].tolist() == mf.calls().wait_seconds[~missed].tolist()
    assert (finish - answer)[~missed].tolist() == mf.calls().duration_seconds[~missed].tolist()
    assert df.entry_id.tolist() == mf.calls().call_id.tolist()


def test_roistat_calls(written):
    df = _csv(written / "roistat_calls.csv")
    assert list(df.columns) == md("roistat")
    assert df.date.tolist()[0] == "2025-01-05T07:20:15+0000"      # local 10:20:15 Moscow, written in UTC
    assert df.date.tolist()[-1] == "2025-01-31T22:30:00+0000"     # local 01:30 on 1 February
    assert df.status.tolist() == ["ANSWER", "NOANSWER", "ANSWER", "BUSY", "ANSWER", "CANCEL", "ANSWER", "ANSWER"]


# ---------------------------------------------------------------- advertising and web analytics
def test_direct_master(written, tmp_path):
    lines = (written / "direct_master.csv").read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("Мастер отчётов") and lines[1].startswith("Период: ") and lines[2] == "Валюта: RUB"
    assert lines[3].split(";") == md("direct_master")
    assert lines[-1].startswith("Итого;") and len(lines) == 4 + 6 + 1
    df = _csv(written / "direct_master.csv", sep=";", skiprows=3)
    data = df[df["Дата"] != "Итого"]
    assert data["Дата"].str.fullmatch(r"\d\d\.\d\d\.\d{4}").all()
    cost = data["Расход (руб.)"].str.replace(",", ".").astype(float)
    assert data["Расход (руб.)"].iloc[0] == "1234,56"
    assert df.iloc[-1]["Расход (руб.)"] == "10235,81" and round(cost.sum(), 2) == 10235.81
    variant = sx.direct_master(mf.spend(), tmp_path / "v.csv", cost_header=sx.DIRECT_MASTER_COST_VARIANT)
    assert "Расход всего (руб.)" in variant.read_text(encoding="utf-8").splitlines()[3].split(";")


def test_direct_api_tsv(written):
    lines = (written / "direct_api.tsv").read_text(encoding="utf-8").splitlines()
    assert lines[0] == '"Расходы по кампаниям (2025-01-30 - 2025-02-01)"'
    assert lines[1].split("\t") == md("direct_api")
    assert lines[-1] == "Total rows: 6" and len(lines) == 1 + 1 + 6 + 1
    assert lines[2].split("\t") == ["2025-01-30", "70000001", "Бренд_Поиск", "766", "33", "1234560000"]


def test_metrika_ui(written, tmp_path):
    raw = (written / "metrika_ui.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    df = _csv(written / "metrika_ui.csv", encoding="utf-8-sig")
    assert list(df.columns) == ["Источник трафика", "Визиты", "Посетители", "Отказы", "Глубина просмотра", "Время на сайте"]
    assert df.iloc[0, 0] == "Итого и средние" and int(df.iloc[0, 1]) == df.iloc[1:, 1].astype(int).sum() == 4871
    assert set(df.iloc[1:, 0]) <= set(sx.METRIKA_SOURCE_IDS)
    two = pd.concat([mf.traffic(), mf.traffic().assign(month=pd.Timestamp("2025-02-01"))])
    with pytest.raises(ValueError, match="one month"):
        sx.metrika_ui(two, tmp_path / "m.csv")
    paths = sx.metrika_ui_months(two, tmp_path)
    assert [p.name for p in paths] == ["metrika_2025-01-01_2025-01-31.csv", "metrika_2025-02-01_2025-02-28.csv"]


def test_metrika_logs(written):
    df = _csv(written / "metrika_logs.tsv", sep="\t")
    assert list(df.columns) == md("metrika_logs")
    assert len(df) == 10
    assert df["ym:s:lastTrafficSource"].tolist()[:4] == ["ad", "ad", "organic", "direct"]
    assert df["ym:s:dateTime"].str.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d").all()
    per_month = df.groupby([df["ym:s:date"].str[:7], "ym:s:lastTrafficSource"]).size()
    assert per_month[("2025-01", "ad")] == 3 and per_month[("2025-02", "ad")] == 1


def test_vectorised_writers_scale(tmp_path):
    """A demo-sized frame (20,000 calls) is written without per-row Python work (a loose time bound)."""
    import time

    calls = pd.concat([mf.calls()] * 2500, ignore_index=True)
    calls["call_id"] = (calls.index + 1).astype(str)
    t = time.perf_counter()
    for writer in (sx.calltouch_api, sx.comagic_calls, sx.mango_calls, sx.roistat_calls):
        writer(calls, tmp_path / f"{writer.__name__}.csv")
    assert time.perf_counter() - t < 10
