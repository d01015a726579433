"""CRM exports: amoCRM deals, Bitrix24 leads and deals."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .headers import (AMOCRM_LOST, AMOCRM_WON, BITRIX_DEAL_LOST, BITRIX_DEAL_WON, BITRIX_LEAD_LOST, BITRIX_LEAD_WON,
    AMOCRM_CUSTOM, AMOCRM_NOT_CLOSED, AMOCRM_OPEN, AMOCRM_PIPELINE, AMOCRM_SYSTEM,
    BITRIX_CURRENCY, BITRIX_DEALS, BITRIX_DEAL_OPEN, BITRIX_LEADS, BITRIX_LEAD_OPEN, BITRIX_PIPELINE, MANAGER)
from .cells import (blank_cells, cell_text, cell_time, deal_budget, open_stages, stage_names, write_csv,
    write_html_xls, write_xlsx)


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
    created = cell_time(df["created_at"], "%d.%m.%Y %H:%M:%S")
    closed = cell_time(df["closed_at"], "%d.%m.%Y %H:%M:%S", empty=AMOCRM_NOT_CLOSED)
    edited = cell_time(df["closed_at"].fillna(df["created_at"]), "%d.%m.%Y %H:%M:%S")
    ids = cell_text(df["lead_id"])
    xlsx = fmt == "xlsx"
    if xlsx and ids.str.fullmatch(r"\d+").all():
        ids = ids.astype("int64")
    who = pd.Series([manager] * n, dtype=object)
    b = blank_cells(n)
    reason = cell_text(df["lost_reason"]).where(outcome.eq("lost"), "")
    contact = blank_cells(n) if contact_source is None else cell_text(pd.Series(contact_source).reset_index(drop=True))
    columns = [
        ids, "Сделка #" + cell_text(df["lead_id"]), deal_budget(df), who, created, who, edited, who, closed, b,
        b, b, b, b, b, stage_names(outcome, AMOCRM_WON, AMOCRM_LOST, AMOCRM_OPEN),
        pd.Series([AMOCRM_PIPELINE] * n, dtype=object), cell_text(df["full_name"]), b, who, b, b, b,
        cell_text(df["phone"]), b, b, b, b, cell_text(df["email"]), b, b, cell_text(df["source"]), b, b,
        cell_text(df["utm_source"]), cell_text(df["utm_medium"]), cell_text(df["utm_campaign"]), cell_text(df["patient_id"]),
        reason, contact,
    ]
    header = AMOCRM_SYSTEM + AMOCRM_CUSTOM
    if xlsx:
        return write_xlsx(path, header, columns, sheet="Сделки")
    if fmt != "csv":
        raise ValueError(f"fmt must be 'xlsx' or 'csv', not {fmt!r}")
    eol = "\r\n" if encoding.lower() in ("cp1251", "windows-1251") else "\n"
    return write_csv(path, header, columns, sep=",", encoding=encoding, eol=eol)


def _bitrix_write(path, header, columns, fmt: str) -> Path:
    if fmt == "csv":
        return write_csv(path, header, columns, sep=";", encoding="utf-8")
    if fmt == "html_xls":
        return write_html_xls(path, header, columns)
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
    parts = cell_text(df["full_name"]).str.split(n=2, expand=True).reindex(columns=range(3)).fillna("")
    b = blank_cells(n)
    columns = [
        cell_text(df["lead_id"]), "Лид #" + cell_text(df["lead_id"]), parts[1], parts[0], parts[2], b, b,
        cell_text(df["phone"]), b, cell_text(df["email"]), stage_names(outcome, BITRIX_LEAD_WON, BITRIX_LEAD_LOST, BITRIX_LEAD_OPEN),
        cell_text(df["lost_reason"]).where(outcome.eq("lost"), ""), deal_budget(df),
        pd.Series([BITRIX_CURRENCY] * n, dtype=object), cell_text(df["source"]), b,
        pd.Series([manager] * n, dtype=object),
    ]
    header = list(BITRIX_LEADS)
    if created_header:
        header.append(created_header)
        columns.append(cell_time(df["created_at"], "%d.%m.%Y %H:%M:%S"))
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
        product = cell_text(df["products"])
    else:
        product = blank_cells(len(df))
    n = len(df)
    outcome = df["outcome"].astype(str)
    created = pd.to_datetime(df["created_at"])
    closed = pd.to_datetime(df["closed_at"])
    # open stages cycle per deal, not per product row
    first = ~df["lead_id"].duplicated()
    open_stage = open_stages(outcome.where(first, "x"), BITRIX_DEAL_OPEN).where(first)
    open_stage = open_stage.groupby(df["lead_id"].astype(str), sort=False).transform("first")
    stage = pd.Series(np.select([outcome.eq("won"), outcome.eq("lost")], [BITRIX_DEAL_WON, BITRIX_DEAL_LOST],
                                default=open_stage.to_numpy()), index=df.index)
    columns = [
        cell_text(df["lead_id"]), "Сделка #" + cell_text(df["lead_id"]), stage,
        pd.Series([BITRIX_PIPELINE] * n, dtype=object), deal_budget(df), pd.Series([BITRIX_CURRENCY] * n, dtype=object),
        cell_time(created, "%d.%m.%Y %H:%M:%S"), cell_time(closed.fillna(created), "%d.%m.%Y %H:%M:%S"),
        cell_time(created, "%d.%m.%Y"), cell_time(closed.fillna(created + pd.Timedelta(days=7)), "%d.%m.%Y"),
        pd.Series([manager] * n, dtype=object), product, cell_text(df["patient_id"]), blank_cells(n),
        cell_text(df["utm_source"]), cell_text(df["utm_medium"]), cell_text(df["utm_campaign"]),
    ]
    return _bitrix_write(path, BITRIX_DEALS, columns, fmt)
