"""Call-tracking exports: Calltouch (API and journal), CoMagic / UIS, Mango Office, Roistat."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .headers import (CALLTOUCH_API, CALLTOUCH_EMPTY, CALLTOUCH_JOURNAL, COMAGIC_CALLS, MANAGER, MANGO_FIELDS,
    ROISTAT_CALLS, ROISTAT_MISSED, TIMEZONE)
from .cells import (blank_cells, cell_bool, cell_epoch, cell_int, cell_text, cell_time, write_csv, write_xlsx)


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
    caller = cell_text(df["caller_phone"])
    target = answered & cell_int(df["duration_seconds"]).ge(target_seconds)
    uniq_target = target & ~caller.where(target).duplicated()
    fmt = "%d/%m/%Y %H:%M:%S"
    e = pd.Series([empty] * n, dtype=object)
    columns = [
        cell_text(df["call_id"]), cell_time(df["started_at"], fmt), caller, pd.Series([TRACKED_NUMBER] * n, dtype=object),
        pd.Series([REDIRECT_NUMBER] * n, dtype=object), cell_int(df["duration_seconds"]), cell_int(df["wait_seconds"]),
        cell_bool(answered), cell_bool(~caller.duplicated()), cell_bool(target), cell_bool(uniq_target), cell_bool(pd.Series(False, index=df.index)),
        cell_text(df["source"], empty), cell_text(df["medium"], empty), cell_text(df["utm_source"], empty),
        cell_text(df["utm_medium"], empty), cell_text(df["utm_campaign"], empty), e, e, e, cell_text(df["city"], empty), e, e,
        pd.Series(np.where(answered, "Успешный звонок", "Неуспешный звонок"), dtype=object), e, e,
    ]
    header = list(CALLTOUCH_API)
    for name, values in (extra_columns or {}).items():
        values = pd.Series(values).reset_index(drop=True)
        header.append(name)
        columns.append(cell_time(values, fmt, empty) if pd.api.types.is_datetime64_any_dtype(values) else cell_text(values, empty))
    return write_csv(path, header, columns, sep=sep, encoding=encoding)


def calltouch_journal(calls: pd.DataFrame, path, statuses: tuple[str, str] = ("Успешный", "Неуспешный")) -> Path:
    """Calltouch calls journal downloaded from the UI (xlsx), only the 11 columns EXPORTS.md names.

    The real journal has ~54 columns; only the listed ones are written, in EXPORTS.md's order. «Дата» is an
    Excel datetime (local time), «Длительность» and «Ожидание» seconds, «Номер звонка» a number, «Статус»
    text: `statuses` (answered, missed), default «Успешный» / «Неуспешный» (EXPORTS.md gives no status
    vocabulary for the journal: these are this writer's choice). Empty UTM cells stay empty.
    """
    df = calls.reset_index(drop=True)
    n = len(df)
    ids = cell_text(df["call_id"])
    if ids.str.fullmatch(r"\d+").all():
        ids = ids.astype("int64")
    columns = [
        ids, cell_text(df["caller_phone"]), cell_text(df["source"]), cell_text(df["utm_source"]), cell_text(df["utm_medium"]),
        cell_text(df["utm_campaign"]), pd.to_datetime(df["started_at"]), cell_int(df["duration_seconds"]),
        cell_int(df["wait_seconds"]), pd.Series([TRACKED_NUMBER] * n, dtype=object),
        pd.Series(np.where(df["answered"].astype(bool), statuses[0], statuses[1]), dtype=object),
    ]
    return write_xlsx(path, CALLTOUCH_JOURNAL, columns, sheet="Журнал звонков")


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
    wait, talk = cell_int(df["wait_seconds"]), cell_int(df["duration_seconds"])
    start = pd.to_datetime(df["started_at"])
    fmt = "%Y-%m-%d %H:%M:%S"
    who = pd.Series(np.where(answered, MANAGER, ""), dtype=object)
    b = blank_cells(n)
    columns = [
        cell_text(df["call_id"]), cell_time(start, fmt), cell_time(start + pd.to_timedelta(wait + talk, unit="s"), fmt),
        pd.Series(["in"] * n, dtype=object), cell_bool(~answered),
        pd.Series(np.where(answered, "subscriber_disconnects", "no_operators"), dtype=object),
        wait, talk, wait + talk, talk, cell_text(df["caller_phone"]), pd.Series([TRACKED_NUMBER] * n, dtype=object),
        b, b, cell_text(df["medium"]), cell_text(df["source"]), cell_text(df["utm_source"]), cell_text(df["utm_medium"]),
        cell_text(df["utm_campaign"]), b, b, cell_text(df["utm_campaign"]), b, b, b, who, who,
    ]
    return write_csv(path, COMAGIC_CALLS, columns, sep=sep, encoding="utf-8")


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
    start = cell_epoch(df["started_at"], timezone)
    wait, talk = cell_int(df["wait_seconds"]), cell_int(df["duration_seconds"])
    answer = (start + wait).where(answered, 0)
    finish = (start + wait + talk.where(answered, 0))
    ids = cell_text(df["call_id"])
    columns = [
        pd.Series(np.where(answered, "[rec-" + ids + "]", ""), dtype=object), start, finish, answer,
        blank_cells(n), cell_text(df["caller_phone"]), pd.Series(np.where(answered, "101", ""), dtype=object),
        pd.Series([TRACKED_NUMBER] * n, dtype=object), pd.Series(np.where(answered, "1100", "1110"), dtype=object),
        pd.Series([TRACKED_NUMBER] * n, dtype=object), pd.Series(np.where(answered, "abonent", "queue"), dtype=object),
        ids,
    ]
    return write_csv(path, MANGO_FIELDS, columns, sep=";", encoding="utf-8", write_header=False)


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
    ids = cell_text(df["call_id"])
    b = blank_cells(n)
    columns = [
        ids, cell_text(df["caller_phone"]), pd.Series([TRACKED_NUMBER] * n, dtype=object),
        utc.dt.strftime("%Y-%m-%dT%H:%M:%S+0000").astype(object), cell_int(df["duration_seconds"]).where(answered, 0),
        pd.Series(status, dtype=object),
        pd.Series(np.where(answered, "https://records.example.invalid/" + ids + ".mp3", ""), dtype=object),
        pd.Series(np.arange(n) + 100001).astype(str).astype(object), cell_text(df["source"]), b, b,
    ]
    return write_csv(path, ROISTAT_CALLS, columns, sep=sep, encoding="utf-8")
