"""Advertising and web analytics: Yandex Direct (report wizard, Reports API), Yandex Metrika (interface
report, Logs API)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .. import stable_files
from .headers import (DIRECT_API, DIRECT_MASTER, DIRECT_MASTER_TOTAL, METRIKA_LOGS, METRIKA_SOURCE_IDS,
    METRIKA_TOTAL, METRIKA_UI_DIMENSION, METRIKA_UI_METRICS)
from .cells import (cell_comma, cell_fixed, cell_int, cell_text, cell_time, write_csv)


# ---------------------------------------------------------------- advertising
def _spend_numbers(spend: pd.DataFrame) -> pd.DataFrame:
    """Deterministic impressions, clicks, conversions for a spend frame (given ones are kept)."""
    df = spend.reset_index(drop=True)
    cost = df["cost"].astype("float64")
    clicks = cell_int(df["clicks"]) if "clicks" in df else np.maximum(1, (cost / 37.0).round()).astype("int64")
    shows = cell_int(df["impressions"]) if "impressions" in df else (clicks * 23 + 7).astype("int64")
    conv = cell_int(df["conversions"]) if "conversions" in df else (clicks // 9).astype("int64")
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
        cell_time(d.date, "%d.%m.%Y"), d.campaign.astype(object), d.campaign_id.astype(str).astype(object),
        pd.Series(["Группа 1"] * n, dtype=object), (d.campaign_id + 4000000000).astype(str).astype(object),
        (d.campaign_id + 15000000000).astype(str).astype(object), pd.Series(["---"] * n, dtype=object),
        d.shows, d.clicks, cell_comma(d.clicks / ctr * 100), cell_comma(d.cost), cell_comma(d.cost / d.clicks),
        cell_comma(1.5 + (d.clicks % 7) / 10), cell_comma(10 + (d.clicks % 13)), d.conv,
        cell_comma(d.conv / d.clicks * 100), cell_comma((d.cost / d.conv.where(d.conv > 0)).fillna(0)),
    ]
    header = list(DIRECT_MASTER)
    header[header.index("Расход (руб.)")] = cost_header
    tc, tk, ts, tv = d.cost.sum(), int(d.clicks.sum()), int(d.shows.sum()), int(d.conv.sum())
    total = [DIRECT_MASTER_TOTAL, "", "", "", "", "", "", str(ts), str(tk), cell_comma([tk / ts * 100])[0],
             cell_comma([tc])[0], cell_comma([tc / tk])[0], "", "", str(tv), cell_comma([tv / tk * 100])[0],
             cell_comma([tc / tv if tv else 0])[0]]
    period = f"{d.date.min():%d.%m.%Y} - {d.date.max():%d.%m.%Y}"
    title = [f"Мастер отчётов: {report_name}", f"Период: {period}", f"Валюта: {currency}"]
    return write_csv(path, header, columns, sep=";", encoding=encoding, before=title, after=[";".join(total)])


def direct_api_tsv(spend: pd.DataFrame, path, report_name: str = "Расходы по кампаниям") -> Path:
    """Yandex Direct Reports API TSV: a title row, `Date, CampaignId, CampaignName, Impressions, Clicks,
    Cost`, one row per date and campaign, and the closing «Total rows: N» line.

    Quirks reproduced: the title row is the report name with the date range in quotes
    (`"Расходы по кампаниям (2025-01-30 - 2025-02-01)"`); dates `YYYY-MM-DD`; Cost in micro-units (rubles
    × 1,000,000, integer); tab-separated UTF-8.
    """
    d = _spend_numbers(spend)
    columns = [cell_time(d.date, "%Y-%m-%d"), d.campaign_id, d.campaign.astype(object), d.shows, d.clicks,
               (d.cost * 1_000_000).round().astype("int64")]
    title = f'"{report_name} ({d.date.min():%Y-%m-%d} - {d.date.max():%Y-%m-%d})"'
    return write_csv(path, DIRECT_API, columns, sep="\t", encoding="utf-8", before=[title],
                after=[f"Total rows: {len(d)}"])


# ---------------------------------------------------------------- web analytics
def _metrika_numbers(sessions: pd.Series) -> pd.DataFrame:
    s = cell_int(sessions)
    visitors = (s * 0.8).round().astype("int64")
    bounce = 10 + (s % 17)                               # percent
    depth = 1.2 + (s % 9) / 10
    secs = 40 + (s % 120)
    return pd.DataFrame({"sessions": s, "visitors": visitors, "bounce": bounce.astype("float64"),
                         "depth": depth, "secs": secs})


def _hms(secs) -> pd.Series:
    s = cell_int(secs)
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
             cell_fixed([(m.bounce * w).sum()])[0], cell_fixed([(m.depth * w).sum()])[0], _hms([(m.secs * w).sum()])[0]]
    columns = [cell_text(df["source_label"]), m.sessions, m.visitors, cell_fixed(m.bounce), cell_fixed(m.depth), _hms(m.secs)]
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
    labels = cell_text(df["source_label"])
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
    pages = cell_int(opt("page_views", 1 + seq % 5))
    bounce = cell_int(opt("bounce", (pages == 1).astype("int64")))
    utm_source = cell_text(df["utm_source"])
    adv = pd.Series(np.where(source.eq("ad") & utm_source.eq("yandex"), "ya_direct", ""), dtype=object)
    columns = [
        cell_text(visit), cell_text(client), cell_time(when, "%Y-%m-%d"), cell_time(when, "%Y-%m-%d %H:%M:%S"),
        cell_int(opt("is_new_user", (~pd.Series(client).duplicated()).astype("int64"))),
        cell_text(opt("start_url", pd.Series(["https://clinic.example/"] * n))), pages,
        cell_int(opt("visit_duration", 15 + (seq * 37) % 400)), bounce, source.astype(object), adv, utm_source,
        cell_text(df["utm_medium"]), cell_text(df["utm_campaign"]),
    ]
    return write_csv(path, METRIKA_LOGS, columns, sep="\t", encoding="utf-8")
