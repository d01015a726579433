"""Canonical-shaped frames written the way real systems export them (../shared/EXPORTS.md).

What it is for:
- the demo's exports (issue 17: `audit-kit sample` writes its calls, and may write its leads and spend, as
  Calltouch, amoCRM and Yandex Direct write them instead of through the kit's own headers);
- the preset fixtures in tests/fixtures/exports/ (made by make_fixtures.py next to them; EXPECTED.md there
  says what ingest must read from each);
- the equivalence test of issue 17: the same synthetic clinic written once through canonical headers and
  once through these writers must give the same metrics.

Every writer is `(frame, path, **options) -> Path`, takes a canonical-shaped frame (columns listed per
family below), writes one file and returns its path. System headers are verbatim from EXPORTS.md and
nothing else; where a writer needs a column EXPORTS.md does not list, it says so in its docstring. Output
is byte-stable: the same frame and options give the same bytes (xlsx with fixed document and zip times).

Input frames:
- leads: lead_id, created_at, source (raw: 'yandex / cpc', 'prodoctorov'), outcome ('won'|'lost'|'open'),
  lost_reason, patient_id (may be NA), utm_source, utm_medium, utm_campaign, service, full_name, phone,
  email, closed_at (NaT when open); optional budget (number) and products (a list per row, Bitrix24 deals).
- calls: call_id, started_at (clinic local time), answered (bool), wait_seconds, duration_seconds (talk
  time, 0 for a missed call), source, medium (may be empty), utm_source, utm_medium, utm_campaign,
  caller_phone ('79251234567'), city; optional called_back_at.
- spend: date (daily), campaign, cost (one channel: a Direct file carries campaigns, not the channel).
- traffic: month, source_label (a Metrika source label), sessions.
- visits (Metrika Logs API): date_time, source_label, utm_source, utm_medium, utm_campaign; optional
  visit_id, client_id, start_url, page_views, visit_duration, bounce, is_new_user.

Times in the frames are the clinic's local wall-clock time (naive Timestamps). Writers whose systems use
absolute time (Mango Unix timestamps, Roistat ISO with offset) convert from `timezone` (default
Europe/Moscow).
"""
from __future__ import annotations

import html
from pathlib import Path

import numpy as np
import pandas as pd

from . import stable_files

TIMEZONE = "Europe/Moscow"
MANAGER = "Администратор Тестовый"

# ---------------------------------------------------------------- system headers (EXPORTS.md, verbatim)
AMOCRM_SYSTEM = (
    "ID", "Название сделки", "Бюджет ", "Ответственный", "Дата создания сделки", "Кем создана сделка",
    "Дата редактирования", "Кем редактирована", "Дата закрытия", "Теги", "Примечание", "Примечание 2",
    "Примечание 3", "Примечание 4", "Примечание 5", "Этап сделки", "Воронка", "Полное имя контакта",
    "Компания контакта", "Ответственный за контакт", "Компания", "Рабочий телефон", "Рабочий прямой телефон",
    "Мобильный телефон", "Факс", "Домашний телефон", "Другой телефон", "Рабочий email", "Личный email",
    "Другой email", "Город", "Источник", "Должность", "Товар",
)
# The account's own fields after the system ones: UTM fields, the clinic's medical-card number (mapped by
# one `columns:` line), the refusal reason, and the contact's «Источник» (the second header of that name).
AMOCRM_CUSTOM = ("utm_source", "utm_medium", "utm_campaign", "Номер медкарты", "Причина отказа", "Источник")
AMOCRM_WON, AMOCRM_LOST = "Успешно реализовано", "Закрыто и не реализовано"
AMOCRM_OPEN = ("Первичный контакт", "Записан на приём")
AMOCRM_NOT_CLOSED = "не закрыта"
AMOCRM_PIPELINE = "Основная воронка"

BITRIX_LEADS = (
    "ID", "Название лида", "Имя", "Фамилия", "Отчество", "Дата рождения", "Рабочий телефон", "Мобильный телефон",
    "Рабочий e-mail", "Частный e-mail", "Стадия", "Дополнительно о стадии", "Возможная сумма", "Валюта",
    "Источник", "Дополнительно об источнике", "Ответственный",
)
BITRIX_LEAD_WON, BITRIX_LEAD_LOST = "Качественный лид", "Некачественный лид"
BITRIX_LEAD_OPEN = ("В работе", "Не обработан")
BITRIX_DEALS = (
    "ID", "Название сделки", "Стадия сделки", "Воронка", "Сумма", "Валюта", "Дата создания", "Дата изменения",
    "Дата начала", "Предполагаемая дата закрытия", "Ответственный", "Товар", "Контакт: ID",
    "Компания: Название компании", "UTM Source", "UTM Medium", "UTM Campaign",
)
BITRIX_DEAL_WON, BITRIX_DEAL_LOST = "Сделка успешна", "Сделка провалена"
BITRIX_DEAL_OPEN = ("Записан", "Недозвон")
BITRIX_PIPELINE = "Общая"
BITRIX_CURRENCY = "Российский рубль"

CALLTOUCH_API = (
    "callId", "date", "callerNumber", "phoneNumber", "redirectNumber", "duration", "waitingConnect", "successful",
    "uniqueCall", "targetCall", "uniqTargetCall", "callbackCall", "source", "medium", "utmSource", "utmMedium",
    "utmCampaign", "utmContent", "utmTerm", "keyword", "city", "yaClientId", "sessionId", "statusDetails",
    "manager", "callTags",
)
CALLTOUCH_JOURNAL = (
    "Номер звонка", "Звонивший", "Источник", "utm_source", "utm_medium", "utm_campaign", "Дата", "Длительность",
    "Ожидание", "Куда звонили", "Статус",
)
CALLTOUCH_EMPTY = "<не указано>"
COMAGIC_CALLS = (
    "id", "start_time", "finish_time", "direction", "is_lost", "finish_reason", "wait_duration", "talk_duration",
    "total_duration", "clean_talk_duration", "contact_phone_number", "virtual_phone_number", "visitor_id",
    "ua_client_id", "channel", "source", "utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content",
    "campaign_name", "search_query", "referrer", "tags", "employees", "last_answered_employee_full_name",
)
MANGO_FIELDS = (
    "records", "start", "finish", "answer", "from_extension", "from_number", "to_extension", "to_number",
    "disconnect_reason", "line_number", "location", "entry_id",
)
ROISTAT_CALLS = ("id", "caller", "callee", "date", "duration", "status", "link", "visit_id", "marker",
                 "script_name", "order_id")
ROISTAT_MISSED = ("NOANSWER", "BUSY", "CANCEL")

DIRECT_MASTER = (
    "Дата", "Кампания", "№ Кампании", "Группа", "№ Группы", "№ Объявления", "Условие показа", "Показы", "Клики",
    "CTR (%)", "Расход (руб.)", "Ср. цена клика (руб.)", "Глубина (стр.)", "Отказы (%)", "Конверсии",
    "Конверсия (%)", "Цена цели (руб.)",
)
DIRECT_MASTER_COST_VARIANT = "Расход всего (руб.)"
DIRECT_MASTER_TOTAL = "Итого"
DIRECT_API = ("Date", "CampaignId", "CampaignName", "Impressions", "Clicks", "Cost")

METRIKA_UI_METRICS = ("Визиты", "Посетители", "Отказы", "Глубина просмотра", "Время на сайте")
METRIKA_UI_DIMENSION = "Источник трафика"
METRIKA_TOTAL = "Итого и средние"
METRIKA_LOGS = (
    "ym:s:visitID", "ym:s:clientID", "ym:s:date", "ym:s:dateTime", "ym:s:isNewUser", "ym:s:startURL",
    "ym:s:pageViews", "ym:s:visitDuration", "ym:s:bounce", "ym:s:lastTrafficSource", "ym:s:lastAdvEngine",
    "ym:s:lastUTMSource", "ym:s:lastUTMMedium", "ym:s:lastUTMCampaign",
)
# UI source labels (EXPORTS.md) -> the TrafficSource identifiers the Logs API writes in ym:s:lastTrafficSource.
# The identifiers are not in EXPORTS.md: they are Metrika's documented TrafficSource values
# (yandex.ru/dev/metrika/ru/management/table-source).
METRIKA_SOURCE_IDS = {
    "Переходы из поисковых систем": "organic",
    "Переходы по рекламе": "ad",
    "Прямые заходы": "direct",
    "Переходы по ссылкам на сайтах": "referral",
    "Внутренние переходы": "internal",
    "Переходы из социальных сетей": "social",
    "Переходы из рекомендательных систем": "recommend",
    "Переходы из мессенджеров": "messenger",
    "Переходы по email-рассылкам": "email",
    "Переходы с сохранённых страниц": "saved",
}


# ---------------------------------------------------------------- helpers
def _text(col, empty: str = "") -> pd.Series:
    """A column as strings, missing (and empty) cells as `empty`."""
    s = pd.Series(col).astype("string").fillna("")
    return s.mask(s.eq(""), empty).astype(object) if empty else s.astype(object)


def _when(col, fmt: str, empty: str = "") -> pd.Series:
    """Timestamps formatted with strftime `fmt`; NaT as `empty`."""
    return pd.to_datetime(pd.Series(col)).dt.strftime(fmt).fillna(empty).astype(object)


def _int(col) -> pd.Series:
    return pd.Series(col).fillna(0).round().astype("int64")


def _tf(col) -> pd.Series:
    """Booleans as the strings true/false."""
    return pd.Series(np.where(pd.Series(col).astype(bool).to_numpy(), "true", "false"), index=pd.Series(col).index)


def _fixed(values, decimals: int = 2, point: str = ".") -> pd.Series:
    """Numbers as fixed-decimal text ('1234.50'), vectorised; missing as 0."""
    scale = 10 ** decimals
    v = pd.Series(values, dtype="float64").fillna(0.0)
    cents = np.round(v.to_numpy() * scale).astype("int64")
    whole = pd.Series(np.abs(cents) // scale, index=v.index).astype(str)
    frac = pd.Series(np.abs(cents) % scale, index=v.index).astype(str).str.zfill(decimals)
    sign = pd.Series(np.where(cents < 0, "-", ""), index=v.index)
    return (sign + whole + point + frac).astype(object)


def _comma(values, decimals: int = 2) -> pd.Series:
    """Numbers with a decimal comma and fixed decimals ('1234,50')."""
    return _fixed(values, decimals, ",")


def _epoch(col, timezone: str) -> pd.Series:
    """Local wall-clock Timestamps as Unix seconds."""
    t = pd.to_datetime(pd.Series(col)).dt.tz_localize(timezone)
    return ((t - pd.Timestamp("1970-01-01", tz="UTC")) // pd.Timedelta(seconds=1)).astype("int64")


def _nth_open(outcome: pd.Series, choices: tuple[str, ...]) -> pd.Series:
    """An account's own stage for each open row, cycling through `choices` in row order (deterministic)."""
    k = outcome.eq("open").cumsum().sub(1).mod(len(choices)).to_numpy()
    return pd.Series(np.asarray(choices, dtype=object)[k], index=outcome.index)


def _stage(outcome: pd.Series, won: str, lost: str, open_: tuple[str, ...]) -> pd.Series:
    return pd.Series(np.select([outcome.eq("won"), outcome.eq("lost")], [won, lost],
                               default=_nth_open(outcome, open_).to_numpy()), index=outcome.index)


def _csv(path, header, columns, **options) -> Path:
    return stable_files.write_csv(path, header, columns, **options)


def _xlsx(path, header, columns, sheet: str) -> Path:
    return stable_files.write_xlsx(path, header, columns, sheet, creator="audit-kit system_exports")


def _html_xls(path, header, columns) -> Path:
    """An HTML <table> saved as .xls, the way Bitrix24's "Excel" export writes it (UTF-8, CRLF)."""
    header, body = stable_files.table(header, columns)

    def esc(s: pd.Series) -> pd.Series:
        return (s.astype(str).str.replace("&", "&amp;", regex=False).str.replace("<", "&lt;", regex=False)
                .str.replace(">", "&gt;", regex=False).str.replace('"', "&quot;", regex=False))

    rows = pd.Series("<tr>", index=body.index, dtype=object)
    for c in body.columns:                                  # column by column, vectorised over rows
        rows = rows + "<td>" + esc(body[c]) + "</td>"
    rows = rows + "</tr>"
    head = "<tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in header) + "</tr>"
    lines = [
        "<html>",
        "<head>",
        '<meta http-equiv="Content-type" content="text/html;charset=utf-8" />',
        "<style>td {mso-number-format:\\@;}</style>",
        "</head>",
        "<body>",
        '<table border="1">',
        head,
        *rows.tolist(),
        "</table>",
        "</body>",
        "</html>",
    ]
    path = Path(path)
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("utf-8"))
    return path


def _budget(leads: pd.DataFrame) -> pd.Series:
    return _int(leads["budget"]) if "budget" in leads else pd.Series(0, index=leads.index, dtype="int64")


def _blank(n: int) -> pd.Series:
    return pd.Series([""] * n, dtype=object)


# ---------------------------------------------------------------- CRM
def amocrm_deals(leads: pd.DataFrame, path, fmt: str = "xlsx", encoding: str = "utf-8",
                 manager: str = MANAGER, contact_source=None) -> Path:
    """amoCRM (Kommo) deals export, xlsx or csv.

    Quirks reproduced (EXPORTS.md): the 34 system headers in order, «Бюджет » with its trailing space;
    dates `dd.mm.yyyy HH:MM:SS` as text; an open deal's «Дата закрытия» is «не закрыта»; system stages
    «Успешно реализовано» (won) / «Закрыто и не реализовано» (lost), open deals in the account's own stages
    («Первичный контакт», «Записан на приём», alternating in row order); «Воронка» «Основная воронка»; the
    header «Источник» twice: the first (system list, after «Город», column 32) holds the deal's raw source,
    the second (last custom field) the contact's (`contact_source`, a Series; empty by default). Custom
    fields after the system ones: utm_source, utm_medium, utm_campaign, «Номер медкарты» (patient_id; the
    account's own field, mapped by one `columns:` line), «Причина отказа» (lost deals only). csv: UTF-8 with
    commas (`encoding='cp1251'` for the Windows variant, CRLF). IDs and budget are numbers in xlsx.
    """
    df = leads.reset_index(drop=True)
    n = len(df)
    outcome = df["outcome"].astype(str)
    created = _when(df["created_at"], "%d.%m.%Y %H:%M:%S")
    closed = _when(df["closed_at"], "%d.%m.%Y %H:%M:%S", empty=AMOCRM_NOT_CLOSED)
    edited = _when(df["closed_at"].fillna(df["created_at"]), "%d.%m.%Y %H:%M:%S")
    ids = _text(df["lead_id"])
    xlsx = fmt == "xlsx"
    if xlsx and ids.str.fullmatch(r"\d+").all():
        ids = ids.astype("int64")
    who = pd.Series([manager] * n, dtype=object)
    b = _blank(n)
    reason = _text(df["lost_reason"]).where(outcome.eq("lost"), "")
    contact = _blank(n) if contact_source is None else _text(pd.Series(contact_source).reset_index(drop=True))
    columns = [
        ids, "Сделка #" + _text(df["lead_id"]), _budget(df), who, created, who, edited, who, closed, b,
        b, b, b, b, b, _stage(outcome, AMOCRM_WON, AMOCRM_LOST, AMOCRM_OPEN),
        pd.Series([AMOCRM_PIPELINE] * n, dtype=object), _text(df["full_name"]), b, who, b, b, b,
        _text(df["phone"]), b, b, b, b, _text(df["email"]), b, b, _text(df["source"]), b, b,
        _text(df["utm_source"]), _text(df["utm_medium"]), _text(df["utm_campaign"]), _text(df["patient_id"]),
        reason, contact,
    ]
    header = AMOCRM_SYSTEM + AMOCRM_CUSTOM
    if xlsx:
        return _xlsx(path, header, columns, sheet="Сделки")
    if fmt != "csv":
        raise ValueError(f"fmt must be 'xlsx' or 'csv', not {fmt!r}")
    eol = "\r\n" if encoding.lower() in ("cp1251", "windows-1251") else "\n"
    return _csv(path, header, columns, sep=",", encoding=encoding, eol=eol)


def _bitrix_write(path, header, columns, fmt: str) -> Path:
    if fmt == "csv":
        return _csv(path, header, columns, sep=";", encoding="utf-8")
    if fmt == "html_xls":
        return _html_xls(path, header, columns)
    raise ValueError(f"fmt must be 'csv' or 'html_xls', not {fmt!r}")


def bitrix24_leads(leads: pd.DataFrame, path, fmt: str = "csv", manager: str = MANAGER,
                   created_header: str | None = "Дата создания") -> Path:
    """Bitrix24 leads export: csv (`;`, UTF-8) or the HTML-table `.xls`.

    Quirks reproduced: the 17 lead headers of EXPORTS.md in order; full_name split into «Фамилия», «Имя»,
    «Отчество» (surname first in the input); default statuses «Качественный лид» (won), «Некачественный
    лид» (lost, reason in «Дополнительно о стадии»), open leads «В работе» / «Не обработан» alternating;
    «Источник» the raw source. EXPORTS.md lists no date column for leads: the creation date is appended as
    `created_header` (default «Дата создания», Bitrix24's header for a deal's creation date in EXPORTS.md),
    `dd.mm.yyyy HH:MM:SS`; pass None to write the 17 listed headers only (then the file has no date).
    """
    df = leads.reset_index(drop=True)
    n = len(df)
    outcome = df["outcome"].astype(str)
    parts = _text(df["full_name"]).str.split(n=2, expand=True).reindex(columns=range(3)).fillna("")
    b = _blank(n)
    columns = [
        _text(df["lead_id"]), "Лид #" + _text(df["lead_id"]), parts[1], parts[0], parts[2], b, b,
        _text(df["phone"]), b, _text(df["email"]), _stage(outcome, BITRIX_LEAD_WON, BITRIX_LEAD_LOST, BITRIX_LEAD_OPEN),
        _text(df["lost_reason"]).where(outcome.eq("lost"), ""), _budget(df),
        pd.Series([BITRIX_CURRENCY] * n, dtype=object), _text(df["source"]), b,
        pd.Series([manager] * n, dtype=object),
    ]
    header = list(BITRIX_LEADS)
    if created_header:
        header.append(created_header)
        columns.append(_when(df["created_at"], "%d.%m.%Y %H:%M:%S"))
    return _bitrix_write(path, header, columns, fmt)


def bitrix24_deals(leads: pd.DataFrame, path, fmt: str = "csv", manager: str = MANAGER) -> Path:
    """Bitrix24 deals export: csv (`;`, UTF-8) or the HTML-table `.xls` (name it `DEAL_YYYYMMDD_….xls`).

    Quirks reproduced: the 17 deal headers of EXPORTS.md in order; a deal with several `products` is
    written on several rows, one per product («Товар» differs, every other cell repeated), a deal without
    products on one row with «Товар» empty; stages «Сделка успешна» (won), «Сделка провалена» (lost), open
    deals in a portal's own stages «Записан» / «Недозвон» alternating; «Воронка» «Общая»; «Дата создания»
    and «Дата изменения» `dd.mm.yyyy HH:MM:SS`, «Дата начала» and «Предполагаемая дата закрытия»
    `dd.mm.yyyy` (the close date, or creation + 7 days while open). «Контакт: ID» carries patient_id. The
    deal list has no source and no refusal-reason header in EXPORTS.md: the channel is only in the UTM
    columns, the lost reason is not exported.
    """
    df = leads.reset_index(drop=True)
    if "products" in df:
        df = df.explode("products", ignore_index=True)
        product = _text(df["products"])
    else:
        product = _blank(len(df))
    n = len(df)
    outcome = df["outcome"].astype(str)
    created = pd.to_datetime(df["created_at"])
    closed = pd.to_datetime(df["closed_at"])
    # open stages cycle per deal, not per product row
    first = ~df["lead_id"].duplicated()
    open_stage = _nth_open(outcome.where(first, "x"), BITRIX_DEAL_OPEN).where(first)
    open_stage = open_stage.groupby(df["lead_id"].astype(str), sort=False).transform("first")
    stage = pd.Series(np.select([outcome.eq("won"), outcome.eq("lost")], [BITRIX_DEAL_WON, BITRIX_DEAL_LOST],
                                default=open_stage.to_numpy()), index=df.index)
    columns = [
        _text(df["lead_id"]), "Сделка #" + _text(df["lead_id"]), stage,
        pd.Series([BITRIX_PIPELINE] * n, dtype=object), _budget(df), pd.Series([BITRIX_CURRENCY] * n, dtype=object),
        _when(created, "%d.%m.%Y %H:%M:%S"), _when(closed.fillna(created), "%d.%m.%Y %H:%M:%S"),
        _when(created, "%d.%m.%Y"), _when(closed.fillna(created + pd.Timedelta(days=7)), "%d.%m.%Y"),
        pd.Series([manager] * n, dtype=object), product, _text(df["patient_id"]), _blank(n),
        _text(df["utm_source"]), _text(df["utm_medium"]), _text(df["utm_campaign"]),
    ]
    return _bitrix_write(path, BITRIX_DEALS, columns, fmt)


# ---------------------------------------------------------------- call tracking
TRACKED_NUMBER = "74950000001"     # the clinic's tracked (virtual) number, obviously fake
REDIRECT_NUMBER = "74950000099"    # where the call was forwarded


def calltouch_api(calls: pd.DataFrame, path, extra_columns: dict | None = None, sep: str = ",",
                  encoding: str = "utf-8", target_seconds: int = 30, empty: str = CALLTOUCH_EMPTY) -> Path:
    """Calltouch calls as the API returns them (and csv made from it), 26 fields in EXPORTS.md order.

    Quirks reproduced: `date` `dd/mm/yyyy HH:MM:SS` (local time); booleans `true`/`false` (successful =
    answered; uniqueCall = first call of that callerNumber in the frame; targetCall = answered and at least
    `target_seconds` of talk; uniqTargetCall = the first target call of the number; callbackCall false);
    empty values «<не указано>» (`empty`), e.g. an empty medium, utmContent, keyword. `duration` is talk
    seconds, `waitingConnect` wait seconds. statusDetails «Успешный звонок» / «Неуспешный звонок» (values
    not in EXPORTS.md: read `successful`, not this). `extra_columns` {header: Series} are appended after
    the API fields (the demo's clinic adds «Перезвон менеджера»); datetimes there use the same date format.
    """
    df = calls.reset_index(drop=True)
    n = len(df)
    answered = df["answered"].astype(bool)
    caller = _text(df["caller_phone"])
    target = answered & _int(df["duration_seconds"]).ge(target_seconds)
    uniq_target = target & ~caller.where(target).duplicated()
    fmt = "%d/%m/%Y %H:%M:%S"
    e = pd.Series([empty] * n, dtype=object)
    columns = [
        _text(df["call_id"]), _when(df["started_at"], fmt), caller, pd.Series([TRACKED_NUMBER] * n, dtype=object),
        pd.Series([REDIRECT_NUMBER] * n, dtype=object), _int(df["duration_seconds"]), _int(df["wait_seconds"]),
        _tf(answered), _tf(~caller.duplicated()), _tf(target), _tf(uniq_target), _tf(pd.Series(False, index=df.index)),
        _text(df["source"], empty), _text(df["medium"], empty), _text(df["utm_source"], empty),
        _text(df["utm_medium"], empty), _text(df["utm_campaign"], empty), e, e, e, _text(df["city"], empty), e, e,
        pd.Series(np.where(answered, "Успешный звонок", "Неуспешный звонок"), dtype=object), e, e,
    ]
    header = list(CALLTOUCH_API)
    for name, values in (extra_columns or {}).items():
        values = pd.Series(values).reset_index(drop=True)
        header.append(name)
        columns.append(_when(values, fmt, empty) if pd.api.types.is_datetime64_any_dtype(values) else _text(values, empty))
    return _csv(path, header, columns, sep=sep, encoding=encoding)


def calltouch_journal(calls: pd.DataFrame, path, statuses: tuple[str, str] = ("Успешный", "Неуспешный")) -> Path:
    """Calltouch calls journal downloaded from the UI (xlsx), only the 11 columns EXPORTS.md names.

    The real journal has ~54 columns; only the listed ones are written, in EXPORTS.md's order. «Дата» is an
    Excel datetime (local time), «Длительность» and «Ожидание» seconds, «Номер звонка» a number, «Статус»
    text: `statuses` (answered, missed), default «Успешный» / «Неуспешный» (EXPORTS.md gives no status
    vocabulary for the journal: these are this writer's choice). Empty UTM cells stay empty.
    """
    df = calls.reset_index(drop=True)
    n = len(df)
    ids = _text(df["call_id"])
    if ids.str.fullmatch(r"\d+").all():
        ids = ids.astype("int64")
    columns = [
        ids, _text(df["caller_phone"]), _text(df["source"]), _text(df["utm_source"]), _text(df["utm_medium"]),
        _text(df["utm_campaign"]), pd.to_datetime(df["started_at"]), _int(df["duration_seconds"]),
        _int(df["wait_seconds"]), pd.Series([TRACKED_NUMBER] * n, dtype=object),
        pd.Series(np.where(df["answered"].astype(bool), statuses[0], statuses[1]), dtype=object),
    ]
    return _xlsx(path, CALLTOUCH_JOURNAL, columns, sheet="Журнал звонков")


def comagic_calls(calls: pd.DataFrame, path, sep: str = ",") -> Path:
    """CoMagic / UIS Data API `get.calls_report` as csv (UTF-8, comma), the 27 fields in EXPORTS.md order.

    Quirks reproduced: dates `YYYY-MM-DD HH:MM:SS` (local time); `direction` `in`; `is_lost` true/false
    (answered = not is_lost); wait_duration, talk_duration, total_duration = wait + talk,
    clean_talk_duration = talk; `source` the call's source and `channel` its medium; employees and
    last_answered_employee_full_name empty on a lost call. finish_reason values are this writer's choice.
    """
    df = calls.reset_index(drop=True)
    n = len(df)
    answered = df["answered"].astype(bool)
    wait, talk = _int(df["wait_seconds"]), _int(df["duration_seconds"])
    start = pd.to_datetime(df["started_at"])
    fmt = "%Y-%m-%d %H:%M:%S"
    who = pd.Series(np.where(answered, MANAGER, ""), dtype=object)
    b = _blank(n)
    columns = [
        _text(df["call_id"]), _when(start, fmt), _when(start + pd.to_timedelta(wait + talk, unit="s"), fmt),
        pd.Series(["in"] * n, dtype=object), _tf(~answered),
        pd.Series(np.where(answered, "subscriber_disconnects", "no_operators"), dtype=object),
        wait, talk, wait + talk, talk, _text(df["caller_phone"]), pd.Series([TRACKED_NUMBER] * n, dtype=object),
        b, b, _text(df["medium"]), _text(df["source"]), _text(df["utm_source"]), _text(df["utm_medium"]),
        _text(df["utm_campaign"]), b, b, _text(df["utm_campaign"]), b, b, b, who, who,
    ]
    return _csv(path, COMAGIC_CALLS, columns, sep=sep, encoding="utf-8")


def mango_calls(calls: pd.DataFrame, path, timezone: str = TIMEZONE) -> Path:
    """Mango Office call statistics csv: `;`-separated, NO header row, the 12 fields in EXPORTS.md order.

    Quirks reproduced: start / finish / answer as Unix timestamps (from local time in `timezone`); a
    missed call has answer = 0; for an answered call answer = start + wait and finish = answer + talk (so
    wait = answer − start, talk = finish − answer); for a missed one finish = start + wait. entry_id is
    call_id, from_number the caller, to_number and line_number the clinic's number; records, extensions,
    disconnect_reason and location are this writer's plausible fillers.
    """
    df = calls.reset_index(drop=True)
    n = len(df)
    answered = df["answered"].astype(bool)
    start = _epoch(df["started_at"], timezone)
    wait, talk = _int(df["wait_seconds"]), _int(df["duration_seconds"])
    answer = (start + wait).where(answered, 0)
    finish = (start + wait + talk.where(answered, 0))
    ids = _text(df["call_id"])
    columns = [
        pd.Series(np.where(answered, "[rec-" + ids + "]", ""), dtype=object), start, finish, answer,
        _blank(n), _text(df["caller_phone"]), pd.Series(np.where(answered, "101", ""), dtype=object),
        pd.Series([TRACKED_NUMBER] * n, dtype=object), pd.Series(np.where(answered, "1100", "1110"), dtype=object),
        pd.Series([TRACKED_NUMBER] * n, dtype=object), pd.Series(np.where(answered, "abonent", "queue"), dtype=object),
        ids,
    ]
    return _csv(path, MANGO_FIELDS, columns, sep=";", encoding="utf-8", write_header=False)


def roistat_calls(calls: pd.DataFrame, path, timezone: str = TIMEZONE, sep: str = ",") -> Path:
    """Roistat calls csv (UTF-8), the 11 fields in EXPORTS.md order.

    Quirks reproduced: `date` ISO with offset, written in UTC (`2025-01-05T07:20:15+0000` for a local
    10:20:15 in Europe/Moscow); `status` ANSWER for an answered call, NOANSWER / BUSY / CANCEL cycling over
    the missed ones in row order; `duration` talk seconds (no wait time is exported); `marker` the raw
    source; `link` a recording URL on answered calls only.
    """
    df = calls.reset_index(drop=True)
    n = len(df)
    answered = df["answered"].astype(bool)
    utc = pd.to_datetime(df["started_at"]).dt.tz_localize(timezone).dt.tz_convert("UTC")
    k = (~answered).cumsum().sub(1).mod(len(ROISTAT_MISSED)).to_numpy()
    status = np.where(answered, "ANSWER", np.asarray(ROISTAT_MISSED, dtype=object)[k])
    ids = _text(df["call_id"])
    b = _blank(n)
    columns = [
        ids, _text(df["caller_phone"]), pd.Series([TRACKED_NUMBER] * n, dtype=object),
        utc.dt.strftime("%Y-%m-%dT%H:%M:%S+0000").astype(object), _int(df["duration_seconds"]).where(answered, 0),
        pd.Series(status, dtype=object),
        pd.Series(np.where(answered, "https://records.example.invalid/" + ids + ".mp3", ""), dtype=object),
        pd.Series(np.arange(n) + 100001).astype(str).astype(object), _text(df["source"]), b, b,
    ]
    return _csv(path, ROISTAT_CALLS, columns, sep=sep, encoding="utf-8")


# ---------------------------------------------------------------- advertising
def _spend_numbers(spend: pd.DataFrame) -> pd.DataFrame:
    """Deterministic impressions, clicks, conversions for a spend frame (given ones are kept)."""
    df = spend.reset_index(drop=True)
    cost = df["cost"].astype("float64")
    clicks = _int(df["clicks"]) if "clicks" in df else np.maximum(1, (cost / 37.0).round()).astype("int64")
    shows = _int(df["impressions"]) if "impressions" in df else (clicks * 23 + 7).astype("int64")
    conv = _int(df["conversions"]) if "conversions" in df else (clicks // 9).astype("int64")
    ids = pd.Series(pd.factorize(df["campaign"].astype(str), sort=True)[0] + 70000001, index=df.index)
    return pd.DataFrame({"date": pd.to_datetime(df["date"]), "campaign": df["campaign"].astype(str),
                         "campaign_id": ids, "cost": cost, "clicks": clicks, "shows": shows, "conv": conv})


def direct_master(spend: pd.DataFrame, path, report_name: str = "Расходы по кампаниям",
                  cost_header: str = "Расход (руб.)", currency: str = "RUB", encoding: str = "utf-8") -> Path:
    """Yandex Direct «Мастер отчётов» csv: `;`-separated, title rows, the 17-column header, «Итого».

    Quirks reproduced: three title rows before the header (report name, period `dd.mm.yyyy - dd.mm.yyyy`,
    currency), each a single cell; the header of EXPORTS.md (`cost_header` «Расход всего (руб.)» for the
    variant); one row per date and campaign, dates `dd.mm.yyyy`; money and ratios with a decimal comma;
    a final «Итого» row (first cell «Итого», sums of impressions, clicks, cost and conversions, overall
    ratios, empty dimension cells). Group and ad columns are filled with one group and one ad per campaign
    («Группа 1», deterministic numbers); «Условие показа» «---».
    """
    d = _spend_numbers(spend)
    n = len(d)
    ctr = d.shows.where(d.shows > 0)
    columns = [
        _when(d.date, "%d.%m.%Y"), d.campaign.astype(object), d.campaign_id.astype(str).astype(object),
        pd.Series(["Группа 1"] * n, dtype=object), (d.campaign_id + 4000000000).astype(str).astype(object),
        (d.campaign_id + 15000000000).astype(str).astype(object), pd.Series(["---"] * n, dtype=object),
        d.shows, d.clicks, _comma(d.clicks / ctr * 100), _comma(d.cost), _comma(d.cost / d.clicks),
        _comma(1.5 + (d.clicks % 7) / 10), _comma(10 + (d.clicks % 13)), d.conv,
        _comma(d.conv / d.clicks * 100), _comma((d.cost / d.conv.where(d.conv > 0)).fillna(0)),
    ]
    header = list(DIRECT_MASTER)
    header[header.index("Расход (руб.)")] = cost_header
    tc, tk, ts, tv = d.cost.sum(), int(d.clicks.sum()), int(d.shows.sum()), int(d.conv.sum())
    total = [DIRECT_MASTER_TOTAL, "", "", "", "", "", "", str(ts), str(tk), _comma([tk / ts * 100])[0],
             _comma([tc])[0], _comma([tc / tk])[0], "", "", str(tv), _comma([tv / tk * 100])[0],
             _comma([tc / tv if tv else 0])[0]]
    period = f"{d.date.min():%d.%m.%Y} - {d.date.max():%d.%m.%Y}"
    title = [f"Мастер отчётов: {report_name}", f"Период: {period}", f"Валюта: {currency}"]
    return _csv(path, header, columns, sep=";", encoding=encoding, before=title, after=[";".join(total)])


def direct_api_tsv(spend: pd.DataFrame, path, report_name: str = "Расходы по кампаниям") -> Path:
    """Yandex Direct Reports API TSV: a title row, `Date, CampaignId, CampaignName, Impressions, Clicks,
    Cost`, one row per date and campaign, and the closing «Total rows: N» line.

    Quirks reproduced: the title row is the report name with the date range in quotes
    (`"Расходы по кампаниям (2025-01-30 - 2025-02-01)"`); dates `YYYY-MM-DD`; Cost in micro-units (rubles
    × 1,000,000, integer); tab-separated UTF-8.
    """
    d = _spend_numbers(spend)
    columns = [_when(d.date, "%Y-%m-%d"), d.campaign_id, d.campaign.astype(object), d.shows, d.clicks,
               (d.cost * 1_000_000).round().astype("int64")]
    title = f'"{report_name} ({d.date.min():%Y-%m-%d} - {d.date.max():%Y-%m-%d})"'
    return _csv(path, DIRECT_API, columns, sep="\t", encoding="utf-8", before=[title],
                after=[f"Total rows: {len(d)}"])


# ---------------------------------------------------------------- web analytics
def _metrika_numbers(sessions: pd.Series) -> pd.DataFrame:
    s = _int(sessions)
    visitors = (s * 0.8).round().astype("int64")
    bounce = 10 + (s % 17)                               # percent
    depth = 1.2 + (s % 9) / 10
    secs = 40 + (s % 120)
    return pd.DataFrame({"sessions": s, "visitors": visitors, "bounce": bounce.astype("float64"),
                         "depth": depth, "secs": secs})


def _hms(secs) -> pd.Series:
    s = _int(secs)
    return (s // 3600).astype(str) + ":" + ((s // 60) % 60).astype(str).str.zfill(2) + ":" + (s % 60).astype(str).str.zfill(2)


def metrika_ui(traffic: pd.DataFrame, path) -> Path:
    """Yandex Metrika UI report csv (UTF-8 with BOM) for ONE month: «Источник трафика» and the metrics.

    Quirks reproduced: dimension `Источник трафика` with the Russian source labels; metrics `Визиты,
    Посетители, Отказы, Глубина просмотра, Время на сайте`; the row right after the header is «Итого и
    средние» (sum of visits and visitors, visit-weighted averages of the rest); Отказы in percent and
    Глубина with a decimal point, Время на сайте `H:MM:SS`.

    How the month is carried: EXPORTS.md names no date or month dimension for the UI report, and the file
    has no title row, so nothing inside says which period it covers. The faithful option is what a
    consultant downloads: one report per month, the period known from the file name or the config (a
    constant `month:` per source, like the constant `channel:`). So this writer takes a single month and
    raises on more; `metrika_ui_months` writes one file per month named `<stem>_YYYY-MM-DD_YYYY-MM-DD.csv`.
    """
    months = pd.to_datetime(traffic["month"]).dt.to_period("M").unique()
    if len(months) != 1:
        raise ValueError(f"metrika_ui writes one month per file, got {len(months)}: use metrika_ui_months")
    df = traffic.reset_index(drop=True)
    m = _metrika_numbers(df["sessions"])
    w = m.sessions / max(int(m.sessions.sum()), 1)
    total = [METRIKA_TOTAL, str(int(m.sessions.sum())), str(int(m.visitors.sum())),
             _fixed([(m.bounce * w).sum()])[0], _fixed([(m.depth * w).sum()])[0], _hms([(m.secs * w).sum()])[0]]
    columns = [_text(df["source_label"]), m.sessions, m.visitors, _fixed(m.bounce), _fixed(m.depth), _hms(m.secs)]
    header, body = stable_files.table((METRIKA_UI_DIMENSION,) + METRIKA_UI_METRICS, columns)
    body = pd.concat([pd.DataFrame([total], columns=body.columns), body.astype(str)], ignore_index=True)
    path = Path(path)
    path.write_bytes(body.to_csv(index=False, header=header, lineterminator="\n").encode("utf-8-sig"))
    return path


def metrika_ui_months(traffic: pd.DataFrame, folder, stem: str = "metrika") -> list[Path]:
    """`metrika_ui` once per month of `traffic`, files `<stem>_YYYY-MM-DD_YYYY-MM-DD.csv` in `folder`."""
    folder = Path(folder)
    month = pd.to_datetime(traffic["month"]).dt.to_period("M")
    out = []
    for period, part in traffic.groupby(month, sort=True):
        name = f"{stem}_{period.start_time:%Y-%m-%d}_{period.end_time:%Y-%m-%d}.csv"
        out.append(metrika_ui(part, folder / name))
    return out


def metrika_logs(visits: pd.DataFrame, path) -> Path:
    """Yandex Metrika Logs API (visits) TSV: one row per visit, the 14 `ym:s:` fields of EXPORTS.md.

    Quirks reproduced: tab-separated UTF-8 with the field names as header; ym:s:date `YYYY-MM-DD` and
    ym:s:dateTime `YYYY-MM-DD HH:MM:SS` (the counter's time zone = local); ym:s:lastTrafficSource as
    Metrika's TrafficSource identifier (organic, ad, direct, referral, internal, social, recommend,
    messenger, email, saved: METRIKA_SOURCE_IDS maps the UI labels; the identifiers are Metrika's
    documented values, not in EXPORTS.md); ym:s:lastAdvEngine `ya_direct` on ad visits with
    utm_source yandex, else empty; 0/1 flags; visitID and clientID long integers.
    """
    df = visits.reset_index(drop=True)
    n = len(df)
    labels = _text(df["source_label"])
    unknown = sorted(set(labels) - set(METRIKA_SOURCE_IDS))
    if unknown:
        raise ValueError(f"unknown Metrika source labels: {unknown}")
    source = labels.map(METRIKA_SOURCE_IDS)
    when = pd.to_datetime(df["date_time"])
    seq = pd.Series(np.arange(n, dtype="int64"))

    def opt(name, default):
        return df[name].reset_index(drop=True) if name in df else default

    client = opt("client_id", (1700000000000000000 + seq * 7919).astype(str))
    visit = opt("visit_id", (9100000000000000000 + seq * 104729).astype(str))
    pages = _int(opt("page_views", 1 + seq % 5))
    bounce = _int(opt("bounce", (pages == 1).astype("int64")))
    utm_source = _text(df["utm_source"])
    adv = pd.Series(np.where(source.eq("ad") & utm_source.eq("yandex"), "ya_direct", ""), dtype=object)
    columns = [
        _text(visit), _text(client), _when(when, "%Y-%m-%d"), _when(when, "%Y-%m-%d %H:%M:%S"),
        _int(opt("is_new_user", (~pd.Series(client).duplicated()).astype("int64"))),
        _text(opt("start_url", pd.Series(["https://clinic.example/"] * n))), pages,
        _int(opt("visit_duration", 15 + (seq * 37) % 400)), bounce, source.astype(object), adv, utm_source,
        _text(df["utm_medium"]), _text(df["utm_campaign"]),
    ]
    return _csv(path, METRIKA_LOGS, columns, sep="\t", encoding="utf-8")
