"""The synthetic demo clinic: byte-for-byte deterministic, small, and carrying its planted problems.

The plants are checked with plain pandas on the raw files, read the way an analyst would read
them (Russian headers, cp1251 with ';', decimal commas, xlsx), not through audit_kit.ingest.
"""
from __future__ import annotations

import re
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import load_workbook

from audit_kit.config import load_config
from audit_kit.ingest.schema import TABLES
from audit_kit.ingest.presets import detect
from audit_kit.sample import BOOKING_DOCTOR_HEADER, CHANNEL_MAP, OVERBOOKED, OVERRUNS, UNDERLOADED, generate, measure
from audit_kit.stable_files import ZIP_TIME
from audit_kit.system_exports import CALLTOUCH_EMPTY

REPO = Path(__file__).resolve().parent.parent
COMMITTED = REPO / "sample_data" / "demo_clinic"
BASE = (pd.Timestamp("2024-10-01"), pd.Timestamp("2025-01-01"))
CURRENT = (pd.Timestamp("2025-01-01"), pd.Timestamp("2025-04-01"))
DT = "%d.%m.%Y %H:%M"


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> tuple[Path, Path]:
    """The demo clinic generated twice into two fresh folders."""
    first = generate(tmp_path_factory.mktemp("demo_a") / "clinic")
    second = generate(tmp_path_factory.mktemp("demo_b") / "clinic")
    return first.parent, second.parent


def _files(folder: Path) -> dict[str, Path]:
    return {p.relative_to(folder).as_posix(): p for p in sorted(folder.rglob("*")) if p.is_file()}


def _csv(path: Path, encoding: str, sep: str, skip: int = 0) -> pd.DataFrame:
    return pd.read_csv(path, sep=sep, encoding=encoding, dtype=str, keep_default_na=False, skiprows=skip)


def _when(s: pd.Series) -> pd.Series:
    return pd.to_datetime(s.replace("", None), format=DT)


@pytest.fixture(scope="module")
def raw(demo) -> dict[str, pd.DataFrame]:
    """The generated exports read with plain pandas, keeping their Russian headers."""
    d = demo[0] / "data"
    leads = pd.read_excel(d / "amocrm_leads.xlsx", engine="openpyxl", dtype={"ID сделки": str, "ID пациента": str, "ID звонка": str})
    api = _csv(d / "calltouch_calls.csv", "utf-8", ",").replace(CALLTOUCH_EMPTY, "")
    api_time = "%d/%m/%Y %H:%M:%S"
    calls = pd.DataFrame({      # the Calltouch API fields under the names these tests read
        "Идентификатор сессии": api["callId"],
        "Дата/время звонка": pd.to_datetime(api["date"], format=api_time),
        "Результат звонка": api["successful"].map({"true": "Принят", "false": "Пропущен"}),
        "Источник / канал": api["source"].where(api["medium"].eq(""), api["source"] + " / " + api["medium"]),
        "Телефон звонящего": api["callerNumber"],
        "Перезвон менеджера": pd.to_datetime(api["Перезвон менеджера"].replace("", None), format=api_time),
    })
    bookings = _csv(d / "mis_bookings.csv", "cp1251", ";").rename(columns={BOOKING_DOCTOR_HEADER: "Код врача"})
    for c in ("Дата и время приёма", "Окончание приёма", "Дата записи", "Дата отмены"):
        bookings[c] = _when(bookings[c])
    visits = pd.read_excel(d / "mis_visits.xlsx", engine="openpyxl", dtype={"Номер визита": str, "Код пациента": str, "Номер записи": str})
    invoices = _csv(d / "1c_payments.csv", "cp1251", ";", skip=2)     # 1C puts a title above the header
    invoices["Дата оплаты"] = _when(invoices["Дата оплаты"])
    invoices["amount"] = invoices["Сумма"].str.replace(" ", "").str.replace(",", ".").astype(float)
    return {
        "leads": leads, "calls": calls, "bookings": bookings, "visits": visits, "invoices": invoices,
        "schedule": pd.read_excel(d / "schedule.xlsx", engine="openpyxl", dtype={"Код врача": str}),
        "doctors": pd.read_csv(d / "doctors.csv", dtype=str),
        "marketing_spend": pd.read_excel(d / "marketing_spend.xlsx", engine="openpyxl"),
        "site_traffic": pd.read_csv(d / "metrika_traffic.csv", encoding="utf-8-sig"),
        "patients": _csv(d / "mis_patients.csv", "cp1251", ";"),
        "surveys": pd.read_csv(d / "surveys.csv", dtype=str),
    }


def _in(frame: pd.DataFrame, col: str, period: tuple[pd.Timestamp, pd.Timestamp]) -> pd.DataFrame:
    return frame[(frame[col] >= period[0]) & (frame[col] < period[1])]


@pytest.fixture(scope="module")
def leads(raw) -> pd.DataFrame:
    """Leads (duplicates dropped) with their canonical channel and funnel flags from the bookings."""
    out = raw["leads"].drop_duplicates().copy()
    b = raw["bookings"]
    out["channel"] = out["Источник"].map(CHANNEL_MAP)
    out["booked"] = out["ID сделки"].isin(set(b["ID заявки"]) - {""})
    out["shown"] = out["ID сделки"].isin(set(b.loc[b["Статус записи"] == "пришёл", "ID заявки"]))
    return out


# ------------------------------------------------------------------ determinism, size, config
def test_same_bytes_every_time(demo):
    a, b = (_files(f) for f in demo)
    assert list(a) == list(b)
    assert len(a) == 12                                          # audit.yaml + 11 tables
    for name in a:
        assert a[name].read_bytes() == b[name].read_bytes(), name


def test_xlsx_have_fixed_timestamps(demo):
    for path in (demo[0] / "data").glob("*.xlsx"):
        with zipfile.ZipFile(path) as z:
            assert {i.date_time for i in z.infolist()} == {ZIP_TIME}, path.name
            core = z.read("docProps/core.xml").decode()
        assert re.findall(r"<dcterms:(?:created|modified)[^>]*>([^<]+)<", core) == ["2025-04-01T00:00:00Z"] * 2


def test_size_budget(demo):
    assert sum(p.stat().st_size for p in _files(demo[0]).values()) < 6_000_000


def test_committed_sample_is_current(demo):
    """sample_data/demo_clinic is exactly what generate() writes (xlsx compared by content)."""
    if not (COMMITTED / "audit.yaml").is_file():
        pytest.skip("sample_data/demo_clinic is not in this checkout")
    fresh = _files(demo[0])
    for name, path in fresh.items():
        kept = COMMITTED / name
        assert kept.is_file(), f"{name} missing from sample_data/demo_clinic; run `audit-kit sample sample_data/demo_clinic`"
        if path.suffix == ".xlsx":
            with zipfile.ZipFile(path) as new, zipfile.ZipFile(kept) as old:
                assert sorted(new.namelist()) == sorted(old.namelist()), name
                for entry in new.namelist():
                    assert new.read(entry) == old.read(entry), f"{name}:{entry} is stale"
        else:
            assert path.read_bytes() == kept.read_bytes(), f"{name} is stale; regenerate the sample"


def test_config_loads_and_maps_every_channel(demo, raw):
    config = load_config(demo[0] / "audit.yaml")
    assert set(config.sources) == set(TABLES)
    assert config.client == "Клиника «Здоровье» (демо)" and config.language == "ru" and config.currency == "RUB"
    assert [(a.date().isoformat(), b.date().isoformat()) for a, b in config.periods.values()] == [
        ("2024-10-01", "2024-12-31"), ("2025-01-01", "2025-03-31")]
    assert "Лечение" in config.options["treatment_categories"]
    raw_values = (set(raw["leads"]["Источник"]) | set(raw["calls"]["Источник / канал"])
                  | set(raw["marketing_spend"]["Канал"]) | set(raw["site_traffic"]["Источник"])
                  | set(raw["patients"]["Откуда узнал"]) - {""})
    assert raw_values <= set(config.channels)
    lead_channels = {config.channels[v] for v in raw["leads"]["Источник"]}
    assert lead_channels == {"Контекст", "SEO", "SMM", "Агрегаторы", "Рекомендации", "Повторные"}


def _norm(header: str) -> str:
    return re.sub(r"[^\w%]+", " ", header.lower().replace("ё", "е")).strip()


def test_headers_map_by_aliases_except_calls_and_one_booking_column(demo):
    """Every table but calls maps through the built-in aliases; calls are a Calltouch API export read by
    its preset; the bookings (the clinic's own MIS report) need the config's one columns: line."""
    config = load_config(demo[0] / "audit.yaml")
    ignored = {"Ответственный", "Врач", "Регион"}                 # extra export columns, not in the contract
    for name, source in config.sources.items():
        table = TABLES[name]
        source = source.files[0]
        builtin = {_norm(a): c.name for c in table.columns for a in (c.name, *c.aliases)}
        index = builtin | {_norm(k): v for k, v in source.columns.items()}
        path = source.path
        if name == "calls":
            headers = path.read_text(encoding="utf-8").splitlines()[0].split(",")
            assert detect(headers, "calls", path.name).id == "calltouch_api" and not source.columns
            continue
        if name == "bookings":
            assert source.columns == {BOOKING_DOCTOR_HEADER: "doctor_id"}
            assert _norm(BOOKING_DOCTOR_HEADER) not in builtin
        if path.suffix == ".xlsx":
            book = load_workbook(path, read_only=True)
            headers = list(next(book.worksheets[0].iter_rows(max_row=1, values_only=True)))
            book.close()
        else:
            enc = "cp1251" if b";" in path.read_bytes()[:400] and name != "site_traffic" else "utf-8-sig"
            text = path.read_bytes().decode(enc).splitlines()
            line = next(x for x in text if ";" in x or "," in x)
            headers = line.split(";" if ";" in line else ",")
        mapped = {h: index.get(_norm(h)) for h in headers if h not in ignored}
        assert None not in mapped.values(), (name, mapped)
        assert set(table.required) - set(table.alternatives) <= set(mapped.values()), name


# ------------------------------------------------------------------ the clinic itself
def test_clinic_shape(raw):
    doctors = raw["doctors"]
    assert len(doctors) >= 12 and doctors["Специальность"].nunique() >= 4
    b = raw["bookings"]
    assert b["Дата и время приёма"].min() >= pd.Timestamp("2023-10-01")
    assert b["Дата и время приёма"].max() < pd.Timestamp("2025-04-01")
    assert b["Дата и время приёма"].dt.to_period("M").nunique() == 18
    assert set(b["Статус записи"]) == {"пришёл", "не пришёл", "отменена", "перенесена"}
    assert (b["Дата записи"] < b["Дата и время приёма"]).all()
    assert ((b["Длительность, мин"] == "") & b["Окончание приёма"].notna()).sum() > 100
    shifts = raw["schedule"]
    hours = set(zip(shifts["Начало смены"].dt.hour, shifts["Конец смены"].dt.hour))
    assert hours == {(8, 14), (14, 20), (9, 21)}
    assert set(raw["invoices"]["Группа услуг"]) == {"Консультация", "Диагностика", "Лечение", "Анализы"}
    s = raw["surveys"]
    assert s["Оценка NPS"].astype(int).between(0, 10).all() and s["Удовлетворённость"].astype(int).between(1, 5).all()


def test_id_chain(raw):
    leads, calls, b, v, inv, p = (raw[k] for k in ("leads", "calls", "bookings", "visits", "invoices", "patients"))
    patients = set(p["Код пациента"])
    assert p["Код пациента"].is_unique and set(b["Код пациента"]) <= patients
    assert set(leads["ID пациента"].dropna()) <= patients and set(inv["Код пациента"]) <= patients
    assert set(leads["ID звонка"].dropna()) <= set(calls["Идентификатор сессии"])
    assert set(v["Номер записи"]) <= set(b["Номер записи"])
    joined = v.merge(b, on="Номер записи", suffixes=("", "_b"))
    assert (joined["Код пациента"] == joined["Код пациента_b"]).all() and (joined["Статус записи"] == "пришёл").all()
    linked = b[b["ID заявки"] != ""].merge(leads.drop_duplicates(), left_on="ID заявки", right_on="ID сделки")
    assert (linked["Код пациента"] == linked["ID пациента"]).all()
    assert (linked["Дата создания"] <= linked["Дата записи"]).all()
    ids = pd.concat([leads["ID сделки"], b["Номер записи"], v["Номер визита"], p["Код пациента"]])
    assert not ids.str.contains(r"\.0$").any()


def test_pii_columns_look_real(raw):
    p = raw["patients"]
    assert p["ФИО"].str.fullmatch(r"[А-ЯЁ][а-яё-]+ [А-ЯЁ][а-яё]+ [А-ЯЁ][а-яё]+(вич|вна|ич|на)").all()
    assert p["Телефон"].str.fullmatch(r"\+7 \(9\d\d\) \d{3}-\d\d-\d\d").all() and p["Телефон"].is_unique
    emails = p["E-mail"][p["E-mail"] != ""]
    assert len(emails) > len(p) / 2 and emails.str.fullmatch(r"[a-z]+\.[a-z]+\d+@[a-z]+\.[a-z]+").all()
    assert raw["calls"]["Телефон звонящего"].str.fullmatch(r"79\d{9}").all()
    assert not set(p["ФИО"]) & set(raw["doctors"]["ФИО врача"]), "a patient must never share a doctor's name"


# ------------------------------------------------------------------ planted problems
def test_current_quarter_grows(leads):
    base, cur = _in(leads, "Дата создания", BASE), _in(leads, "Дата создания", CURRENT)
    assert len(cur) / len(base) - 1 == pytest.approx(0.35, abs=0.03)
    assert cur.shown.sum() / base.shown.sum() - 1 == pytest.approx(0.40, abs=0.05)


def test_half_of_base_leads_never_booked(leads):
    base = _in(leads, "Дата создания", BASE)
    unbooked = base[~base.booked]
    assert len(unbooked) / len(base) == pytest.approx(0.5, abs=0.05)
    assert unbooked["Причина отказа"].isna().mean() == pytest.approx(0.5, abs=0.07)


def test_missed_calls(raw):
    calls = raw["calls"]
    missed = calls["Результат звонка"] == "Пропущен"
    t = calls["Дата/время звонка"]
    peak = (t.dt.day_of_week < 5) & t.dt.hour.isin([9, 13, 18])
    assert missed.mean() == pytest.approx(0.20, abs=0.03)
    assert missed[peak].mean() > 2.5 * missed[~peak].mean()
    called_back = calls["Перезвон менеджера"].notna()
    assert called_back[missed].mean() == pytest.approx(0.42, abs=0.1)
    assert not called_back[~missed].any()


def test_slow_answers_to_web_forms(leads):
    new = leads[leads.channel.isin(["Контекст", "SEO", "SMM", "Агрегаторы", "Рекомендации"])]
    minutes = (new["Дата первого ответа"] - new["Дата создания"]).dt.total_seconds() / 60
    phone = new["ID звонка"].notna()
    assert minutes[phone].median() <= 5 and minutes[~phone].median() >= 120
    fast, slow = new.booked[minutes <= 15].mean(), new.booked[minutes > 240].mean()
    assert fast > 2 * slow


def test_no_shows(raw, leads):
    b = raw["bookings"]
    kept = b[b["Статус записи"].isin(["пришёл", "не пришёл"])]
    ns = kept["Статус записи"] == "не пришёл"
    assert 0.15 <= ns.mean() <= 0.20
    ahead = (kept["Дата и время приёма"] - kept["Дата записи"]).dt.days
    assert ns[ahead > 7].mean() > 1.8 * ns[ahead <= 7].mean()
    aggregator = kept["ID заявки"].map(leads.drop_duplicates("ID сделки").set_index("ID сделки").channel) == "Агрегаторы"
    assert ns[aggregator].mean() > 1.5 * ns[~aggregator].mean()


def _utilisation(raw, evening: bool = False) -> pd.Series:
    b, s = raw["bookings"], raw["schedule"]
    kept = b[b["Статус записи"].isin(["пришёл", "не пришёл"])]
    minutes = (kept["Окончание приёма"] - kept["Дата и время приёма"]).dt.total_seconds() / 60
    offered = (s["Конец смены"] - s["Начало смены"]).dt.total_seconds() / 60
    if evening:                                   # 17:00-20:00 of the 14:00-20:00 shifts
        ev = s["Начало смены"].dt.hour == 14
        days = set(zip(s.loc[ev, "Код врача"], s.loc[ev, "Начало смены"].dt.normalize()))
        late = kept["Дата и время приёма"].dt.hour >= 17
        on_ev = pd.Series(list(zip(kept["Код врача"], kept["Дата и время приёма"].dt.normalize())), index=kept.index).isin(days)
        return minutes[late & on_ev].groupby(kept["Код врача"]).sum() / (180 * ev.groupby(s["Код врача"]).sum())
    return minutes.groupby(kept["Код врача"]).sum() / offered.groupby(s["Код врача"]).sum()


def test_overbooked_and_underloaded_doctors(raw):
    util = _utilisation(raw)
    assert set(util[util < 0.5].index) == set(UNDERLOADED)
    normal = util.drop(list(UNDERLOADED) + list(OVERBOOKED))
    assert normal.between(0.6, 0.95).all(), normal.round(2).to_dict()
    evening = _utilisation(raw, evening=True)
    assert (evening[list(OVERBOOKED)] > 1.0).all(), evening.round(2).to_dict()
    assert set(evening[evening > 1.0].index) == set(OVERBOOKED)
    kept = raw["bookings"][raw["bookings"]["Статус записи"].isin(["пришёл", "не пришёл"])]
    double = kept[kept.duplicated(["Код врача", "Дата и время приёма"], keep=False)]
    assert set(double["Код врача"]) == set(OVERBOOKED) and (double["Дата и время приёма"].dt.hour >= 17).all()


def test_waits_and_overruns(raw):
    v = raw["visits"].merge(raw["bookings"], on="Номер записи", suffixes=("", "_b"))
    wait = (v["Начало приёма"] - v["Время прихода"]).dt.total_seconds() / 60
    assert wait.median() < 15 and wait.quantile(0.9) > 25
    over = ((v["Окончание приёма"] - v["Начало приёма"])
            - (v["Окончание приёма_b"] - v["Дата и время приёма"])).dt.total_seconds() / 60
    by_doctor = over.groupby(v["Код врача"]).median()
    assert set(by_doctor[by_doctor >= 10].index) == set(OVERRUNS)


def test_channel_economics(raw, leads):
    inv = raw["invoices"].drop_duplicates()
    new = leads[leads.channel.isin(["Контекст", "SEO", "SMM", "Агрегаторы", "Рекомендации"]) & leads["ID пациента"].notna()]
    first = new.sort_values("Дата создания").drop_duplicates("ID пациента").set_index("ID пациента").channel
    paid = inv[inv.amount > 0]
    paying = first[first.index.isin(set(paid["Код пациента"]))]
    spend = raw["marketing_spend"].assign(ch=lambda s: s["Канал"].map(CHANNEL_MAP)).groupby("ch")["Расход"].sum()
    cac = (spend / paying.value_counts()).dropna()
    assert cac.idxmin() == "SEO" and "Рекомендации" not in spend
    revenue = inv[inv["Код пациента"].isin(paying.index)].groupby("Код пациента").amount.sum()
    ltv = revenue.groupby(paying).mean()
    assert ltv.idxmax() == "Рекомендации"
    assert revenue.groupby(paying).sum()["SMM"] < spend["SMM"]                      # negative ROMI
    visit_days = paid.assign(d=paid["Дата оплаты"].dt.normalize()).groupby("Код пациента").d.nunique()
    returning = (visit_days.reindex(paying.index) >= 2).groupby(paying).mean()
    assert returning.idxmin() == "Агрегаторы"
    cpl = spend / leads.channel.value_counts()
    assert cpl["Агрегаторы"] < min(cpl["Контекст"], cpl["SMM"])


def test_former_best_and_chronic_patients(raw):
    inv = raw["invoices"].drop_duplicates()
    paid = inv[inv.amount > 0].assign(d=lambda s: s["Дата оплаты"].dt.normalize())
    per = paid.groupby("Код пациента").agg(last=("d", "max"), visits=("d", "nunique"))
    per["total"] = inv.groupby("Код пациента").amount.sum()
    former = per[(per.visits >= 6) & (per.total >= 60_000) & (per["last"] <= pd.Timestamp("2024-10-01"))]
    assert len(former) >= 80
    v = raw["visits"].sort_values("Время прихода")
    gap = v.groupby("Код пациента")["Время прихода"].diff().dt.days
    median_gap = gap[gap > 45].groupby(v["Код пациента"]).median()
    assert median_gap.between(80, 100).sum() >= 100


def test_data_faults(raw, leads):
    b, v, inv = raw["bookings"], raw["visits"], raw["invoices"]
    linked = b[b["ID заявки"] != ""]
    missing = ~linked["ID заявки"].isin(set(leads["ID сделки"]))
    assert missing.mean() == pytest.approx(0.03, abs=0.01)
    with_visit = inv[inv["ID визита"] != ""]
    assert (~with_visit["ID визита"].isin(set(v["Номер визита"]))).mean() == pytest.approx(0.02, abs=0.005)
    completed = b[b["Статус записи"] == "пришёл"].groupby(b["Дата и время приёма"].dt.to_period("M")).size()
    visits = v.groupby(v["Время прихода"].dt.to_period("M")).size()
    gap = (visits / completed - 1).abs()
    assert gap[gap > 0.10].index.astype(str).tolist() == ["2024-07"]
    assert inv.drop(columns="amount").duplicated().sum() >= 5 and raw["leads"].duplicated().sum() >= 5
    assert (inv.amount < 0).sum() > 50


def test_measure_runs(demo):
    figures = measure(demo[0])
    assert figures["quality"]["visits_vs_completed_worst_month"] == "2024-07"
    assert set(figures["rows"]) == set(TABLES)
