"""The raw export frames of one simulated clinic (`build`): leads and calls, bookings, visits, payments,
schedule, doctors, spend, traffic, patients and surveys, with the Russian headers the exports carry."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .clinic import Clinic, names, phones
from .clock import (callback, miss_prob, month_of, pick, sample_times, stratified, ts)
from .facts import (ADMINS, CALL_HOURS, DAY, DIRECT, DISTRICTS, LOST_REASONS, MONTH_STARTS, N_MONTHS, PLANTS,
    REPEAT_SOURCE, SEED, SPECS, SPEC_SERVICE, TRANSLIT, T_END)


# ---------------------------------------------------------------- how the exports name and format things
XLSX_SHEETS = {"leads": "Сделки", "visits": "Визиты", "schedule": "Расписание", "marketing_spend": "Расходы"}
# The calls are a Calltouch API export (recognised by its preset) plus the call centre's own column of
# callback times; every other column of the frame is appended after the API fields as well.
CALLTOUCH = "calltouch_api"
CALLBACK_HEADER = "Перезвон менеджера"
CALLTOUCH_INPUT = ("call_id", "started_at", "answered", "wait_seconds", "duration_seconds", "source", "medium",
                   "utm_source", "utm_medium", "utm_campaign", "caller_phone", "city")
# The clinic's own MIS report of bookings names the doctor's code in a way no alias knows: the demo's
# one `columns:` line.
BOOKING_DOCTOR_HEADER = "Врач (код)"
INVOICE_TITLE = "Оплаты за период 01.10.2023 - 31.03.2025"


def fmt(ts: pd.Series) -> np.ndarray:
    """Timestamps as dd.mm.yyyy hh:mm text; missing as an empty cell."""
    return ts.dt.strftime("%d.%m.%Y %H:%M").fillna("").to_numpy()


def money(x: np.ndarray) -> np.ndarray:
    """Amounts as 1C writes them: '3 900,50'."""
    s = pd.Series(x).map("{:,.2f}".format)
    return s.str.replace(",", " ", regex=False).str.replace(".", ",", regex=False).to_numpy()



def build(seed: int = SEED) -> dict[str, tuple[str, pd.DataFrame, object]]:
    """Simulate the clinic and return {table: (file name, raw export frame, format)}."""
    c = Clinic(seed)
    rng = c.rng
    doctors = c.doctors
    contacts = c.new_contacts()
    pat = pd.concat([c.old_patients(), c.new_patients(contacts)], ignore_index=True)
    dem = c.demands(pat)
    nf = dem.new_first.to_numpy()
    dem.loc[nf, "created"] = contacts.booking_created.to_numpy()[dem.contact.to_numpy()[nf]]
    rows, shifts = c.bookings(dem, pat, contacts)
    visits = c.visits(rows, shifts)
    lines = c.invoices(visits, pat)

    # ids: patients by registration, bookings by creation, visits by check-in, payments by time
    n_pat = len(pat)
    pat_order = np.argsort(pat.registered.to_numpy(), kind="stable")
    pid = np.empty(n_pat, object)
    pid[pat_order] = (10001 + np.arange(n_pat)).astype(str)
    visits["visit_id"] = (300000 + np.cumsum(rng.integers(1, 3, len(visits)))).astype(str)

    # people
    fio = names(rng, pat.sex.to_numpy(), set(doctors.doctor_name))
    phone10 = phones(rng, n_pat + 4000)
    pat_phone, spare_phone = phone10[:n_pat], phone10[n_pat:]
    leads, calls = _leads_and_calls(rng, contacts, rows, pat, pid, pat_phone, spare_phone)
    spend, traffic = _spend(rng, leads), _traffic(rng, leads)

    # ---- faults planted in the exports
    # booked leads deleted in amoCRM: their bookings keep a lead_id that no longer exists
    booked_leads = leads.index[leads.booked & leads.lead_id.isin(rows.lead_id.dropna())]
    gone = rng.choice(booked_leads, int(round(PLANTS["lead_links_deleted"] * len(booked_leads))), replace=False)
    leads = leads.drop(index=gone)
    dup = rng.choice(leads.index, PLANTS["duplicate_leads"], replace=False)
    leads = pd.concat([leads, leads.loc[dup]]).sort_values(["created", "lead_id"], kind="stable")

    # the MIS lost check-ins for one month: visits missing, their payments without visit_id
    lost_month = pd.Period(PLANTS["visits_lost_month"])
    in_month = (ts(visits.checked_in).dt.to_period("M") == lost_month).to_numpy()
    lost = in_month & (rng.random(len(visits)) < PLANTS["visits_lost_share"])
    lines["visit_id"] = visits.visit_id.to_numpy()[lines.visit]
    lines.loc[lost[lines.visit.to_numpy()], "visit_id"] = None
    # refunds (negative), then payments whose visit number is not in the MIS, then double-exported rows
    ref = lines[rng.random(len(lines)) < PLANTS["refund_share"]].copy()
    ref["amount"] = -np.where(rng.random(len(ref)) < 0.7, ref.amount, np.round(ref.amount * 0.5, 2))
    ref["paid"] = ref.paid + rng.integers(1, 15, len(ref)) * DAY + rng.integers(-120, 240, len(ref))
    lines = pd.concat([lines, ref], ignore_index=True).sort_values("paid", kind="stable").reset_index(drop=True)
    lines = lines[lines.paid < T_END].reset_index(drop=True)
    has_visit = np.flatnonzero(lines.visit_id.notna().to_numpy() & (lines.amount.to_numpy() > 0))
    orphan = rng.choice(has_visit, int(round(PLANTS["invoice_orphans"] * lines.visit_id.notna().sum())), replace=False)
    numbers = visits.visit_id.astype(int).to_numpy()
    deleted = np.setdiff1d(np.arange(numbers.min(), numbers.max()), numbers)   # gaps: visits deleted in the MIS
    lines.loc[orphan, "visit_id"] = rng.choice(deleted, len(orphan), replace=False).astype(str)
    lines["invoice_id"] = np.char.add("ЧК-", np.char.zfill((15000 + np.arange(len(lines))).astype(str), 7))
    dup = rng.choice(lines.index, PLANTS["duplicate_invoices"], replace=False)
    lines = pd.concat([lines, lines.loc[dup]]).sort_index(kind="stable")
    surveys = _surveys(rng, visits[~lost], doctors, pid)
    visits_out = visits[~lost]

    # ---- raw export frames
    tables = {}
    tables["leads"] = ("amocrm_leads.xlsx", pd.DataFrame({
        "ID сделки": leads.lead_id.to_numpy(),
        "Дата создания": ts(leads.created).to_numpy(),
        "Источник": leads.source.to_numpy(),
        "ID пациента": leads.patient_id.to_numpy(),
        "ID звонка": leads.call_id.to_numpy(),
        "utm_source": leads.utm_source.to_numpy(), "utm_medium": leads.utm_medium.to_numpy(),
        "utm_campaign": leads.utm_campaign.to_numpy(),
        "Услуга": leads.service.to_numpy(),
        "Этап сделки": leads.stage.to_numpy(),
        "Причина отказа": leads.lost_reason.to_numpy(),
        "Дата первого ответа": ts(leads.resp.where(leads.resp >= 0)).to_numpy(),
        "Ответственный": leads.responsible.to_numpy(),
    }), "xlsx")
    source = calls.source.str.split(" / ", n=1, expand=True).reindex(columns=[0, 1])
    tables["calls"] = ("calltouch_calls.csv", pd.DataFrame({       # the input of system_exports.calltouch_api
        "call_id": calls.call_id.to_numpy(),
        "started_at": ts(calls.t).to_numpy(),
        "answered": ~calls.missed.to_numpy(bool),
        "wait_seconds": calls.wait_s.to_numpy(),
        "duration_seconds": calls.duration.to_numpy(),
        "source": source[0].to_numpy(), "medium": source[1].to_numpy(),
        "utm_source": source[0].to_numpy(), "utm_medium": source[1].to_numpy(), "utm_campaign": None,
        "caller_phone": np.char.add("7", calls.phone.astype(str).to_numpy()),
        "city": calls.region.to_numpy(),
        CALLBACK_HEADER: ts(calls.back_t.where(calls.back_t >= 0)).to_numpy(),
    }), CALLTOUCH)
    minutes = doctors.slot.to_numpy()[rows.doctor]
    no_minutes = rng.random(len(rows)) < PLANTS["slot_minutes_missing"]
    service = np.where(rows.j > 0, np.where(rows.spec == 2, "Лечение зубов", np.char.add(
        "Повторный приём (", np.char.add(np.array(SPECS)[rows.spec].astype(str), ")"))),
        np.array(SPEC_SERVICE)[rows.spec])
    tables["bookings"] = ("mis_bookings.csv", pd.DataFrame({
        "Номер записи": rows.booking_id.to_numpy(),
        "Код пациента": pid[rows.patient],
        BOOKING_DOCTOR_HEADER: doctors.doctor_id.to_numpy()[rows.doctor],
        "Дата и время приёма": fmt(ts(rows.slot)),
        "Длительность, мин": np.where(no_minutes, "", minutes.astype(str)),
        "Окончание приёма": fmt(ts(rows.slot + minutes)),
        "Услуга": service,
        "Статус записи": rows.status.to_numpy(),
        "ID заявки": rows.lead_id.fillna("").to_numpy(),
        "Дата записи": fmt(ts(rows.created)),
        "Дата отмены": fmt(ts(rows.cancelled_at.where(rows.cancelled_at >= 0))),
    }), ("cp1251", ";"))
    tables["visits"] = ("mis_visits.xlsx", pd.DataFrame({
        "Номер визита": visits_out.visit_id.to_numpy(),
        "Код пациента": pid[visits_out.patient],
        "Номер записи": visits_out.booking_id.to_numpy(),
        "Код врача": doctors.doctor_id.to_numpy()[visits_out.doctor],
        "Время прихода": ts(visits_out.checked_in).to_numpy(),
        "Начало приёма": ts(visits_out.started).to_numpy(),
        "Окончание приёма": ts(visits_out.ended).to_numpy(),
    }), "xlsx")
    tables["invoices"] = ("1c_payments.csv", pd.DataFrame({
        "Номер документа": lines.invoice_id.to_numpy(),
        "Дата оплаты": fmt(ts(lines.paid)),
        "Код пациента": pid[lines.patient],
        "ID визита": lines.visit_id.fillna("").to_numpy(),
        "Номенклатура": lines.service.to_numpy(),
        "Группа услуг": lines.category.to_numpy(),
        "Сумма": money(lines.amount.to_numpy()),
    }), ("cp1251", ";"))
    room = {d: f"Каб. {101 + i}" for i, d in enumerate(doctors.doctor_id)}
    tables["schedule"] = ("schedule.xlsx", pd.DataFrame({
        "Код врача": doctors.doctor_id.to_numpy()[shifts.doctor],
        "Врач": doctors.doctor_name.to_numpy()[shifts.doctor],
        "Начало смены": ts(shifts.start).to_numpy(),
        "Конец смены": ts(shifts.end).to_numpy(),
        "Кабинет": [room[d] for d in doctors.doctor_id.to_numpy()[shifts.doctor]],
    }), "xlsx")
    tables["doctors"] = ("doctors.csv", pd.DataFrame({
        "Код врача": doctors.doctor_id, "ФИО врача": doctors.doctor_name, "Специальность": doctors.specialty,
    }), ("utf-8", ","))
    tables["marketing_spend"] = ("marketing_spend.xlsx", spend, "xlsx")
    tables["site_traffic"] = ("metrika_traffic.csv", traffic, ("utf-8-sig", ","))
    tables["patients"] = ("mis_patients.csv", _patients_frame(rng, pat, pid, fio, pat_phone), ("cp1251", ";"))
    tables["surveys"] = ("surveys.csv", surveys, ("utf-8", ","))
    return tables


def _leads_and_calls(rng, contacts, rows, pat, pid, pat_phone, spare_phone):
    """amoCRM leads (new contacts + existing patients' requests) and the Calltouch call log.

    Sets rows["lead_id"] for bookings made from a lead.
    """
    nc = len(contacts)
    leads_pm = np.array(PLANTS["leads_per_month"])
    n_rep = np.round(leads_pm * PLANTS["repeat_lead_share"]).astype(int)
    contact_patient = pd.Series(pat.index.to_numpy(), index=pat.contact.to_numpy())
    contact_patient = contact_patient[contact_patient.index >= 0]
    lead_rows = rows[rows.contact >= 0]
    booked = np.zeros(nc, bool)
    booked[lead_rows.contact.unique()] = True
    shown = np.zeros(nc, bool)
    shown[lead_rows.loc[lead_rows.status == "пришёл", "contact"].unique()] = True
    cancelled = np.zeros(nc, bool)
    cancelled[lead_rows.loc[lead_rows.status == "отменена", "contact"].unique()] = True
    new = pd.DataFrame({
        "t": contacts.t, "source": contacts.source, "channel": contacts.channel, "spec": contacts.spec,
        "patient": contact_patient.reindex(np.arange(nc)).fillna(-1).astype(int).to_numpy(),
        "phone": contacts.kind == "phone", "missed": contacts.missed, "wait_s": contacts.wait_s,
        "back_t": contacts.back_t, "resp": contacts.resp, "booked": booked, "shown": shown, "cancelled": cancelled,
    })
    # existing patients' requests that ended in a booking (phone 80%, site form 20%)
    first_row = (rows.role == "moved") | ((rows.role == "main") & ~rows.demand.isin(rows.loc[rows.role == "moved", "demand"]))
    cand = rows[first_row & ~rows.new_first & rows.phone_booked & (rows.demand >= 0)]
    cand_month = month_of(cand.created.to_numpy())
    chosen = []
    for m in range(N_MONTHS):
        pool = cand.index[cand_month == m]
        k = min(len(pool), int(round(n_rep[m] * 0.94)))
        chosen.append(np.sort(rng.choice(pool, k, replace=False)))
    rep = rows.loc[np.concatenate(chosen)]
    r = len(rep)
    bc = rep.created.to_numpy()
    phone = rng.random(r) < 0.8
    t_call = bc - rng.integers(1, 5, r)
    missed = phone & (rng.random(r) < miss_prob(np.maximum(t_call, 0)))
    t_call = np.where(missed, bc - 10 - np.round(rng.lognormal(np.log(60), 0.8, r)).astype(np.int64), t_call)
    wait_s = np.where(missed, rng.integers(20, 95, r), np.round(rng.gamma(2.0, 9.0, r)) + 3).astype(int)
    t_form = bc - 2 - np.round(rng.lognormal(np.log(45), 1.0, r)).astype(np.int64)
    st = rows.groupby("demand").status.agg(lambda s: "пришёл" in set(s))
    rep_leads = pd.DataFrame({
        "t": np.where(phone, t_call, t_form), "source": REPEAT_SOURCE, "channel": 5, "spec": rep.spec.to_numpy(),
        "patient": rep.patient.to_numpy(), "phone": phone, "missed": missed, "wait_s": wait_s,
        "back_t": np.where(missed, bc - 1, -1),
        "resp": np.where(missed | ~phone, bc - 1, t_call + (wait_s + 59) // 60), "booked": True,
        "shown": st.reindex(rep.demand).to_numpy(dtype=bool),
        "cancelled": False, "demand": rep.demand.to_numpy(),
    })
    # existing patients' requests that did not end in a booking
    n_un = np.maximum(n_rep - np.array([len(x) for x in chosen]), 0)
    um = np.repeat(np.arange(N_MONTHS), n_un)
    u = len(um)
    ut = sample_times(rng, um, CALL_HOURS)
    active = rows.loc[rows.status == "пришёл", "patient"].unique()
    u_missed = rng.random(u) < miss_prob(ut)
    u_back = np.where(u_missed & (rng.random(u) < 0.5), callback(rng, ut), -1)
    u_wait = np.where(u_missed, rng.integers(20, 95, u), np.round(rng.gamma(2.0, 9.0, u)) + 3).astype(int)
    un_leads = pd.DataFrame({
        "t": ut, "source": REPEAT_SOURCE, "channel": 5, "spec": rng.integers(0, 6, u),
        "patient": rng.choice(active, u), "phone": True, "missed": u_missed, "wait_s": u_wait, "back_t": u_back,
        "resp": np.where(u_missed, u_back, ut + (u_wait + 59) // 60), "booked": False, "shown": False,
        "cancelled": False,
    })
    L = pd.concat([new, rep_leads.drop(columns="demand"), un_leads], ignore_index=True)
    L = L[L.t >= 0]
    L["spec"] = L.spec.to_numpy() % 6
    n = len(L)
    order = np.argsort(L.t.to_numpy(), kind="stable")
    lead_id = np.empty(n, object)
    lead_id[order] = (21_000_000 + np.cumsum(rng.integers(1, 30, n))).astype(str)
    L["lead_id"] = lead_id
    key_to_id = pd.Series(lead_id, index=L.index)
    rows["lead_id"] = None
    nf = rows.contact >= 0
    rows.loc[nf, "lead_id"] = key_to_id.reindex(rows.loc[nf, "contact"]).to_numpy()
    rep_key = pd.Series(np.arange(nc, nc + r), index=rep.demand.to_numpy())
    rep_key = rep_key[rep_key.isin(L.index)]
    on = rows.demand.isin(rep_key.index) & (rows.demand >= 0)
    rows.loc[on, "lead_id"] = key_to_id.reindex(rep_key.reindex(rows.loc[on, "demand"]).to_numpy()).to_numpy()

    # stage, lost reason, utm, service, responsible
    recent = L.t.to_numpy() > T_END - 10 * DAY
    never_reached = L.phone & L.missed & (L.back_t < 0)
    reason = np.where(never_reached, "Не дозвонились", pick(rng, LOST_REASONS, [20, 18, 16, 14, 8, 14, 10], n))
    reason = np.where(stratified(rng, month_of(L.t.to_numpy())) < PLANTS["lost_reason_empty"], "", reason)
    bk, sh = L.booked.to_numpy(), L.shown.to_numpy()
    L["stage"] = np.where(sh, "Успешно реализовано", np.where(
        ~bk & recent, "Первичный контакт", "Закрыто и не реализовано"))
    L["lost_reason"] = np.where(sh, "", np.where(bk, np.where(L.cancelled, "Отменил запись", "Не пришёл на приём"),
                                                 np.where(recent, "", reason)))
    src = L.source.to_numpy().astype(str)
    engine = np.char.partition(src, " / ")[:, 0]
    campaigns = np.array(["search_terapevt", "search_gyn", "search_stom", "search_nevro", "search_kardio", "search_endo"])
    camp = np.where(rng.random(n) < 0.8, campaigns[L.spec.to_numpy()], "rsya_checkup")
    has_utm = np.char.find(src, " / ") >= 0
    L["utm_source"] = np.where(has_utm, engine, None)
    L["utm_medium"] = np.where(has_utm, np.char.partition(src, " / ")[:, 2], None)
    L["utm_campaign"] = np.where(src == "yandex / cpc", camp, np.where(src == "vk / social", "vk_target_checkup",
                                 np.where(src == "telegram / social", "tg_posev", None)))
    L["service"] = np.array(SPEC_SERVICE)[L.spec.to_numpy()]
    L["responsible"] = pick(rng, ADMINS, [35, 30, 25, 10], n)
    L["patient_id"] = np.where(L.patient >= 0, pid[np.maximum(L.patient.to_numpy(), 0)], None)
    L["created"] = L.t

    # the call log: phone leads plus calls that are not leads (results, questions, spam)
    non = np.round(leads_pm * 0.55).astype(int)
    nm = np.repeat(np.arange(N_MONTHS), non)
    k = len(nm)
    kt = sample_times(rng, nm, CALL_HOURS)
    k_missed = rng.random(k) < miss_prob(kt)
    k_back = np.where(k_missed & (rng.random(k) < 0.3), callback(rng, kt), -1)
    k_phone = np.where(rng.random(k) < 0.7, pat_phone[rng.integers(0, len(pat_phone), k)],
                       spare_phone[rng.integers(0, len(spare_phone), k)])
    calls_lead = L[L.phone]
    lp = calls_lead.patient.to_numpy()
    c_phone = np.where(lp >= 0, pat_phone[np.maximum(lp, 0)], spare_phone[np.arange(len(lp)) % len(spare_phone)])
    c_src = calls_lead.source.to_numpy().astype(object)
    c_src[np.isin(c_src, ["рекомендация", REPEAT_SOURCE])] = DIRECT
    C = pd.DataFrame({
        "t": np.concatenate([calls_lead.t.to_numpy(), kt]),
        "missed": np.concatenate([calls_lead.missed.to_numpy(), k_missed]),
        "wait_s": np.concatenate([calls_lead.wait_s.to_numpy(),
                                  np.where(k_missed, rng.integers(20, 95, k), np.round(rng.gamma(2.0, 9.0, k)) + 3)]),
        "back_t": np.concatenate([calls_lead.back_t.to_numpy(), k_back]),
        "source": np.concatenate([c_src, pick(rng, [DIRECT, "yandex / cpc", "google / organic"], [85, 10, 5], k)]),
        "phone": np.concatenate([c_phone, k_phone]),
        "lead": np.concatenate([calls_lead.index.to_numpy(), np.full(k, -1)]),
    })
    C = C.sort_values("t", kind="stable").reset_index(drop=True)
    C["wait_s"] = C.wait_s.astype(int)
    C["duration"] = np.where(C.missed, 0, np.round(rng.lognormal(np.log(150), 0.6, len(C)))).astype(int)
    C["region"] = pick(rng, ["Свердловская область", "Челябинская область", "Тюменская область", "Москва"],
                        [92, 4, 2, 2], len(C))
    C["call_id"] = (418_000_000 + np.cumsum(rng.integers(3, 40, len(C)))).astype(str)
    L["call_id"] = pd.Series(C.call_id.to_numpy(), index=C.lead.to_numpy()).drop(-1, errors="ignore").reindex(L.index).to_numpy()
    L = L.iloc[order].reset_index(drop=True)
    return L, C


def _surveys(rng, visits: pd.DataFrame, doctors: pd.DataFrame, pid: np.ndarray) -> pd.DataFrame:
    """Post-visit survey answers (about one visit in five): NPS 0-10, CSAT 1-5, worse after long waits."""
    v = visits[rng.random(len(visits)) < 0.2]
    answered = v.ended.to_numpy() + rng.integers(120, 3 * DAY, len(v))
    v = v[answered < T_END]
    answered = answered[answered < T_END]
    long_wait = (v.started - v.checked_in).to_numpy() > 25
    n = len(v)
    good = [1, .5, 1, 1.5, 2, 3, 5, 8, 13, 20, 45]
    bad = [3, 2, 3, 4, 6, 8, 10, 12, 14, 16, 22]
    nps = np.where(long_wait, pick(rng, range(11), bad, n), pick(rng, range(11), good, n))
    csat = np.where(long_wait, pick(rng, range(1, 6), [5, 8, 17, 30, 40], n),
                    pick(rng, range(1, 6), [1, 2, 7, 28, 62], n))
    out = pd.DataFrame({
        "Код пациента": pid[v.patient], "Дата ответа": ts(answered).dt.strftime("%Y-%m-%d %H:%M").to_numpy(),
        "Оценка NPS": nps, "Удовлетворённость": csat, "ID визита": v.visit_id.to_numpy(),
        "ID врача": doctors.doctor_id.to_numpy()[v.doctor],
    })
    return out.iloc[np.argsort(answered, kind="stable")].reset_index(drop=True)


def _spend(rng, leads: pd.DataFrame) -> pd.DataFrame:
    """Monthly ad budget per platform: Direct and VK grow in the current quarter; aggregators bill per booking."""
    m = np.arange(N_MONTHS)
    month = month_of(leads.created.to_numpy())
    def booked(src):
        return np.bincount(month[(leads.source == src).to_numpy() & leads.booked.to_numpy()], minlength=N_MONTHS)
    direct = np.interp(m, [0, 12, 14, 15, 17], [150_000, 185_000, 188_000, 228_000, 240_000])
    vk = np.interp(m, [0, 12, 14, 15, 17], [60_000, 75_000, 76_000, 92_000, 98_000])
    rows_out = []
    for label, amount in [
        ("Яндекс Директ", direct * rng.normal(1, 0.05, N_MONTHS)),
        ("SEO-продвижение (подрядчик)", np.full(N_MONTHS, 25_000.0)),
        ("ВКонтакте таргет", vk * rng.normal(1, 0.05, N_MONTHS)),
        ("ПроДокторов", 12_000 + 1_450 * booked("prodoctorov")),
        ("НаПоправку", 8_000 + 1_200 * booked("napopravku")),
    ]:
        rows_out.append(pd.DataFrame({"Месяц": MONTH_STARTS[:-1], "Канал": label, "Расход": np.round(amount, 2)}))
    return pd.concat(rows_out).sort_values("Месяц", kind="stable").reset_index(drop=True)


def _traffic(rng, leads: pd.DataFrame) -> pd.DataFrame:
    """Monthly site sessions per source (Яндекс.Метрика), proportional to the leads each source brings."""
    month = month_of(leads.created.to_numpy())
    factors = {"yandex / cpc": 42, "yandex / organic": 55, "google / organic": 55, "vk / social": 60,
               "telegram / social": 45, "prodoctorov": 6, "napopravku": 5}
    parts = []
    for src, f in factors.items():
        cnt = np.bincount(month[(leads.source == src).to_numpy()], minlength=N_MONTHS)
        parts.append((src, np.round(cnt * f * rng.lognormal(0, 0.08, N_MONTHS)).astype(int)))
    parts.append((DIRECT, np.round((1400 + 25 * np.arange(N_MONTHS)) * rng.lognormal(0, 0.06, N_MONTHS)).astype(int)))
    out = pd.concat([pd.DataFrame({"Месяц": MONTH_STARTS[:-1].strftime("%Y-%m-%d"), "Источник": s, "Визиты": v})
                     for s, v in parts])
    return out.sort_values(["Месяц"], kind="stable").reset_index(drop=True)


def _patients_frame(rng, pat: pd.DataFrame, pid: np.ndarray, fio: np.ndarray, phone10: np.ndarray) -> pd.DataFrame:
    """The MIS patient list with PII (names, phones, e-mails) as clinics export it."""
    n = len(pat)
    ptype = pat.ptype.to_numpy()
    born = np.where(ptype == 2, rng.normal(1961, 9, n), np.where(np.isin(ptype, [3, 4]), rng.normal(1976, 9, n),
                                                                 rng.normal(1985, 12, n)))
    born = np.clip(np.round(born), 1938, 2007).astype(int)
    p = phone10.astype(str)
    phone = [f"+7 ({x[:3]}) {x[3:6]}-{x[6:8]}-{x[8:]}" for x in p]
    parts = [f.split() for f in fio]
    domains = pick(rng, ["mail.ru", "yandex.ru", "gmail.com", "bk.ru"], [35, 35, 20, 10], n)
    digits = rng.integers(1, 99, n)
    email = [f"{s.lower().translate(TRANSLIT)}.{f[0].lower().translate(TRANSLIT)}{d}@{dom}"
             for (s, f, _), d, dom in zip(parts, digits, domains)]
    email = np.where(rng.random(n) < 0.65, email, "")
    old_src = pick(rng, ["рекомендация", "yandex / cpc", "yandex / organic", "prodoctorov", "google / organic",
                          "vk / social", ""], [30, 20, 15, 10, 5, 5, 15], n)
    source = np.where(pat.contact.to_numpy() >= 0, pat.source.to_numpy().astype(object), old_src)
    out = pd.DataFrame({
        "Код пациента": pid, "ФИО": fio, "Пол": pat.sex.to_numpy(), "Год рождения": born,
        "Район": pick(rng, DISTRICTS, [14, 16, 10, 15, 12, 11, 12, 10], n), "Телефон": phone, "E-mail": email,
        "Дата регистрации": ts(pat.registered).dt.strftime("%d.%m.%Y").to_numpy(), "Откуда узнал": source,
    })
    return out.iloc[np.argsort(pid.astype(int), kind="stable")].reset_index(drop=True)
