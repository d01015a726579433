"""The canonical data contract (DESIGN §3): tables, columns, types and header aliases.

Every raw export is mapped onto these names; nothing downstream of ingest sees a raw header.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import lru_cache

import numpy as np
import pandas as pd

DATE_FLOOR = pd.Timestamp("2000-01-01")     # earlier dates in a clinic's exports are typos
# Amounts of one row above this are typos or unit mix-ups (kopecks, micro-units); `options.money_ceiling`
# raises it for a table (a network's monthly spend of one channel may be larger).
MONEY_CEILING = {"invoices": 10_000_000.0, "marketing_spend": 100_000_000.0}

# Column kinds understood by the coercion step.
ID, TEXT, DATETIME, MONTH, MONEY, NUMBER, BOOL, STATUS, CHANNEL, PII, OUTCOME = (
    "id", "text", "datetime", "month", "money", "number", "bool", "status", "channel", "pii", "outcome",
)


@dataclass(frozen=True)
class Domain:
    """The values a column may take. Numbers: `low` ≤ x ≤ `high` (None: open), always finite. Dates:
    not before DATE_FLOOR and not later than `days_ahead` days after the run date (0: events that have
    happened; planned slots and shifts may lie ahead). A value outside is rejected (required column)
    or blanked (optional), counted as `out_of_range:<column>`."""

    low: float | None = None
    high: float | None = None
    days_ahead: int | None = None

    def label(self) -> str:
        if self.days_ahead is not None:
            return f"{DATE_FLOOR.date()} … {'the run date' if not self.days_ahead else f'{self.days_ahead} days after the run date'}"
        if self.low is not None and self.high is not None:
            return f"|x| ≤ {self.high:,.0f}" if self.low == -self.high else f"{self.low:g}–{self.high:g}"
        if self.low is not None:
            return f"≥ {self.low:g}"
        if self.high is not None:
            return f"≤ {self.high:g}"
        return "a finite number"


@dataclass(frozen=True)
class Column:
    name: str
    kind: str
    required: bool = False
    aliases: tuple[str, ...] = ()
    domain: Domain | None = None


@dataclass(frozen=True)
class Table:
    name: str
    title_ru: str
    columns: tuple[Column, ...]
    key: str | None = None            # unique id column, if any
    alternatives: dict[str, str] = field(default_factory=dict)  # required column -> accepted substitute

    @property
    def required(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


def _c(name, kind, required=False, *aliases):
    return Column(name, kind, required, tuple(aliases))


# Aliases are matched after normalisation (lower case, ё→е, spaces/punctuation collapsed);
# the canonical name itself always matches.
TABLES: dict[str, Table] = {
    t.name: t
    for t in [
        Table("leads", "Обращения", (
            _c("lead_id", ID, True, "id обращения", "id заявки", "номер заявки", "id сделки", "id лида", "номер обращения", "id", "lead id"),
            _c("created_at", DATETIME, True, "дата обращения", "дата создания", "создано", "дата заявки", "created", "date"),
            _c("channel", CHANNEL, True, "канал", "источник", "канал привлечения", "source", "источник обращения"),
            _c("patient_id", ID, False, "id пациента", "пациент id", "код пациента", "номер карты", "patient id"),
            _c("call_id", ID, False, "id звонка", "call id"),
            _c("utm_source", TEXT, False, "utm source", "utm-source"),
            _c("utm_medium", TEXT, False, "utm medium", "utm-medium"),
            _c("utm_campaign", TEXT, False, "utm campaign", "utm-campaign", "кампания"),
            _c("service", TEXT, False, "услуга", "направление"),
            _c("status", TEXT, False, "статус", "этап", "этап сделки", "статус заявки"),
            _c("lost_reason", TEXT, False, "причина отказа", "причина потери", "причина закрытия"),
            _c("first_response_at", DATETIME, False, "первый ответ", "дата первого ответа", "время первого ответа", "first response"),
            _c("branch_id", ID, False, "филиал", "id филиала", "branch"),
            # won | lost | open from `status` by the preset's system stages and the config's `stages:`
            # (ingest/presets.py lead_outcome); NA when neither says what the stages mean
            _c("outcome", OUTCOME, False),
        ), key="lead_id"),
        Table("calls", "Звонки", (
            _c("call_id", ID, True, "id звонка", "идентификатор звонка", "id", "call id"),
            _c("started_at", DATETIME, True, "дата звонка", "время звонка", "дата и время", "начало звонка", "date"),
            _c("answered", BOOL, True, "отвечен", "принят", "статус звонка", "статус", "answered"),
            _c("wait_seconds", NUMBER, False, "ожидание", "ожидание сек", "время ожидания", "время ожидания сек"),
            _c("duration_seconds", NUMBER, False, "длительность", "длительность сек", "продолжительность", "duration"),
            _c("channel", CHANNEL, False, "канал", "источник", "source"),
            _c("caller_phone", PII, False, "номер абонента", "телефон", "номер телефона", "номер звонящего", "phone",
               "моб телефон", "мобильный телефон", "телефон клиента", "контактный телефон"),
            _c("called_back_at", DATETIME, False, "перезвонили", "время перезвона", "дата перезвона", "callback",
               "перезвон менеджера"),
        ), key="call_id"),
        Table("bookings", "Записи", (
            _c("booking_id", ID, True, "id записи", "номер записи", "id", "booking id"),
            _c("patient_id", ID, True, "id пациента", "код пациента", "номер карты", "пациент id", "patient id"),
            _c("doctor_id", ID, True, "id врача", "код врача", "врач id", "doctor id"),
            _c("slot_start", DATETIME, True, "дата приема", "начало приема", "время приема", "дата и время приема", "начало", "slot"),
            _c("status", STATUS, True, "статус", "статус записи", "состояние"),
            _c("lead_id", ID, False, "id обращения", "id заявки", "id сделки", "номер заявки"),
            _c("created_at", DATETIME, False, "дата записи", "дата создания", "создана", "created"),
            _c("slot_minutes", NUMBER, False, "длительность", "длительность мин", "длительность приема", "минут", "duration"),
            _c("slot_end", DATETIME, False, "окончание приема", "конец приема", "окончание"),
            _c("service", TEXT, False, "услуга"),
            _c("branch_id", ID, False, "филиал", "id филиала"),
            _c("cancelled_at", DATETIME, False, "дата отмены", "отменена в"),
        ), key="booking_id"),
        Table("visits", "Явки", (
            _c("visit_id", ID, True, "id визита", "id приема", "номер визита", "id"),
            _c("patient_id", ID, True, "id пациента", "код пациента", "номер карты"),
            _c("checked_in_at", DATETIME, True, "время прихода", "отметка о приходе", "пришел", "регистрация", "check in"),
            _c("booking_id", ID, False, "id записи", "номер записи"),
            _c("doctor_id", ID, False, "id врача", "код врача"),
            _c("started_at", DATETIME, False, "начало приема", "начало", "начало визита"),
            _c("ended_at", DATETIME, False, "окончание приема", "окончание", "конец приема", "конец визита"),
        ), key="visit_id"),
        Table("invoices", "Оплаты", (
            _c("invoice_id", ID, True, "номер документа", "номер чека", "id оплаты", "номер оплаты", "документ", "id"),
            _c("patient_id", ID, True, "id пациента", "код пациента", "номер карты", "контрагент id"),
            _c("paid_at", DATETIME, True, "дата оплаты", "дата", "дата документа", "период"),
            _c("amount", MONEY, True, "сумма", "сумма оплаты", "сумма руб", "итого"),
            _c("visit_id", ID, False, "id визита", "id приема"),
            _c("service", TEXT, False, "услуга", "номенклатура"),
            _c("service_category", TEXT, False, "категория", "категория услуги", "группа услуг", "вид услуги"),
        ), key="invoice_id"),
        Table("schedule", "Расписание", (
            _c("doctor_id", ID, True, "id врача", "код врача", "врач id"),
            _c("shift_start", DATETIME, True, "начало смены", "начало", "смена с"),
            _c("shift_end", DATETIME, True, "конец смены", "окончание смены", "окончание", "смена по"),
            _c("branch_id", ID, False, "филиал", "id филиала"),
            _c("room", TEXT, False, "кабинет"),
        )),
        Table("doctors", "Врачи", (
            _c("doctor_id", ID, True, "id врача", "код врача", "id"),
            _c("specialty", TEXT, True, "специальность", "специализация", "профиль"),
            _c("doctor_name", TEXT, False, "врач", "фио врача", "имя врача", "доктор", "фио"),
        ), key="doctor_id"),
        Table("marketing_spend", "Расходы на рекламу", (
            _c("month", MONTH, True, "месяц", "период"),
            _c("channel", CHANNEL, True, "канал", "источник"),
            _c("spend", MONEY, True, "расход", "расходы", "бюджет", "сумма", "затраты"),
        ), alternatives={"month": "date"}),
        Table("site_traffic", "Трафик сайта", (
            _c("month", MONTH, True, "месяц", "период"),
            _c("channel", CHANNEL, True, "канал", "источник"),
            _c("sessions", NUMBER, True, "визиты", "сеансы", "сессии", "визитов"),
        ), alternatives={"month": "date"}),
        Table("patients", "Пациенты", (
            _c("patient_id", ID, True, "id пациента", "код пациента", "номер карты", "id"),
            _c("first_channel", CHANNEL, False, "первый источник", "источник", "канал привлечения", "откуда узнал"),
            _c("created_at", DATETIME, False, "дата регистрации", "дата создания", "создан"),
            _c("birth_year", NUMBER, False, "год рождения"),
            _c("sex", TEXT, False, "пол"),
            _c("district", TEXT, False, "район"),
        ), key="patient_id"),
        Table("surveys", "Опросы", (
            _c("patient_id", ID, True, "id пациента", "код пациента", "номер карты"),
            _c("answered_at", DATETIME, True, "дата ответа", "дата опроса", "дата"),
            _c("nps", NUMBER, False, "nps", "оценка nps", "готовность рекомендовать"),
            _c("csat", NUMBER, False, "csat", "удовлетворенность", "оценка"),
            _c("visit_id", ID, False, "id визита"),
            _c("doctor_id", ID, False, "id врача"),
        )),
    ]
}

PAST, PLANNED = Domain(days_ahead=0), Domain(days_ahead=731)      # events that happened; slots booked ahead
DOMAINS: dict[tuple[str, str], Domain] = {
    **{(t, c): PAST for t, c in (("leads", "created_at"), ("leads", "first_response_at"), ("calls", "started_at"),
                                 ("calls", "called_back_at"), ("bookings", "created_at"), ("bookings", "cancelled_at"),
                                 ("visits", "checked_in_at"), ("visits", "started_at"), ("visits", "ended_at"),
                                 ("invoices", "paid_at"), ("marketing_spend", "month"), ("site_traffic", "month"),
                                 ("patients", "created_at"), ("surveys", "answered_at"))},
    **{(t, c): PLANNED for t, c in (("bookings", "slot_start"), ("bookings", "slot_end"),
                                    ("schedule", "shift_start"), ("schedule", "shift_end"))},
    ("calls", "wait_seconds"): Domain(0, None), ("calls", "duration_seconds"): Domain(0, None),
    ("bookings", "slot_minutes"): Domain(0, 24 * 60),
    ("invoices", "amount"): Domain(-MONEY_CEILING["invoices"], MONEY_CEILING["invoices"]),
    ("marketing_spend", "spend"): Domain(-MONEY_CEILING["marketing_spend"], MONEY_CEILING["marketing_spend"]),
    ("site_traffic", "sessions"): Domain(0, None),
    ("patients", "birth_year"): Domain(1900, 2100),
    ("surveys", "nps"): Domain(0, 10), ("surveys", "csat"): Domain(1, 5),
}
TABLES = {name: Table(t.name, t.title_ru, tuple(replace(c, domain=DOMAINS.get((name, c.name))) for c in t.columns),
                      t.key, t.alternatives) for name, t in TABLES.items()}

# Contact columns (DESIGN §3: PII) that any table may carry, as CRM and call-tracking exports put the
# contact's name, phone and e-mail on every row. They are hashed at ingest (ingest/pii.py); the hashed
# phone links leads to patients and calls when IDs are missing (ingest/link.py).
PII_ALIASES: dict[str, tuple[str, ...]] = {
    "full_name": ("фио", "фио пациента", "фио клиента", "пациент", "имя", "имя клиента", "контакт", "контактное лицо",
                  "клиент", "full name", "name", "contact"),
    "phone": ("телефон", "мобильный телефон", "моб телефон", "номер телефона", "телефон клиента", "телефон пациента",
              "контактный телефон", "телефон контакта", "phone", "mobile"),
    "email": ("e-mail", "email", "e-mail клиента", "email клиента", "e-mail пациента", "электронная почта", "почта",
              "емейл", "эл почта"),
}


# Tables about staff, not patients: a name there is a doctor's working name (doctors.doctor_name), so
# they take no `full_name` (a staff phone or e-mail is still hashed).
STAFF_TABLES = ("doctors", "schedule")


def _with_contacts(table: Table) -> Table:
    """The table with the contact columns it lacks appended (calls keep their own `caller_phone`)."""
    have = {c.name for c in table.columns}
    if "caller_phone" in have:
        have.add("phone")
    if table.name in STAFF_TABLES:
        have.add("full_name")
    extra = tuple(Column(name, PII, False, aliases) for name, aliases in PII_ALIASES.items() if name not in have)
    return Table(table.name, table.title_ru, table.columns + extra, table.key, table.alternatives)


TABLES = {name: _with_contacts(table) for name, table in TABLES.items()}

# Booking statuses: canonical value -> accepted raw spellings (normalised like headers).
BOOKING_STATUSES: dict[str, tuple[str, ...]] = {
    "completed": ("completed", "done", "visited", "пришел", "пришла", "прием состоялся", "состоялся", "завершен", "завершена", "выполнен", "оказано"),
    "no_show": ("no_show", "no show", "noshow", "не пришел", "не пришла", "неявка", "не явился", "не явилась"),
    "cancelled": ("cancelled", "canceled", "отменена", "отменен", "отмена", "отменено"),
    "rescheduled": ("rescheduled", "перенесена", "перенесен", "перенос", "перенесено"),
}

# Booleans (e.g. calls.answered): raw spelling -> value.
TRUE_VALUES = ("да", "yes", "y", "true", "1", "отвечен", "принят", "answered", "успешный", "состоялся", "входящий принятый")
FALSE_VALUES = ("нет", "no", "n", "false", "0", "пропущен", "пропущенный", "не отвечен", "missed", "unanswered", "не принят", "неотвеченный", "входящий пропущенный")

PII_COLUMNS = tuple(dict.fromkeys(c.name for t in TABLES.values() for c in t.columns if c.kind == PII))


DTYPES = {DATETIME: "datetime64[ns]", MONTH: "datetime64[ns]", MONEY: "float64", NUMBER: "float64", BOOL: "boolean"}
EMPTY = {DATETIME: pd.NaT, MONTH: pd.NaT, MONEY: np.nan, NUMBER: np.nan}


NULL_CHUNK = 1 << 16


@lru_cache(maxsize=1)
def _null_chunk():
    import pyarrow as pa

    return pa.nulls(NULL_CHUNK, pa.large_string())


def _no_strings(index: pd.Index) -> pd.Series:
    """An all-missing "string" column: one chunk of `NULL_CHUNK` nulls shared by every stretch of rows and
    every such column (the dtype and values of `pd.Series(pd.NA, dtype="string")` without its 8 bytes of
    offsets a row: a network's absent contact and ID columns held ≈ 0.4 GB of them)."""
    import pyarrow as pa

    n = len(index)
    chunk = _null_chunk()
    chunks = [chunk] * (n // NULL_CHUNK) + ([chunk.slice(0, n % NULL_CHUNK)] if n % NULL_CHUNK or not n else [])
    return pd.Series(pd.arrays.ArrowStringArray(pa.chunked_array(chunks, pa.large_string())), index=index,
                     dtype="string")


def conform(df: pd.DataFrame, table: str | Table) -> pd.DataFrame:
    """`df` on the contract of `table`: every contract column in order with its dtype (ids, text,
    statuses and outcomes as string, dates as datetime64[ns] — text dates read as ISO 8601 —, money and
    numbers as float64, yes/no as boolean), optional columns `df` lacks added empty, and `_source_row`
    last when `df` has it. The one builder of canonical frames: ingest ends with it, tests build with it."""
    table = TABLES[table] if isinstance(table, str) else table
    out = {}
    for col in table.columns:
        if col.name not in df:      # made empty in its dtype at once (no column of None to convert)
            out[col.name] = (pd.Series(EMPTY.get(col.kind, pd.NA), index=df.index, dtype=DTYPES[col.kind])
                             if col.kind in DTYPES else _no_strings(df.index))
            continue
        values = df[col.name]
        if values.dtype == object:      # missing values as None, so that every dtype below takes them
            values = values.astype(object).where(values.notna(), None)
        if col.kind in (DATETIME, MONTH):
            out[col.name] = pd.to_datetime(values, format="ISO8601").astype("datetime64[ns]")
        elif col.kind in (MONEY, NUMBER):
            out[col.name] = values.astype("float64")
        elif col.kind == BOOL:
            out[col.name] = values.astype("boolean")
        else:
            out[col.name] = values.astype("string")
    frame = pd.DataFrame(out, index=df.index)
    if "_source_row" in df:
        frame["_source_row"] = df["_source_row"]
    return frame
