"""Measuring the planted problems back from the raw files (`read_raw`, `measure`), for sample_data/README.md
and the tests."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .. import system_exports
from .frames import CALLBACK_HEADER
from .facts import (BASE, CHANNELS, CHANNEL_MAP, CURRENT, END, PLANTS, START)


# ---------------------------------------------------------------- measuring the plants from the raw files
def read_raw(folder: Path) -> dict[str, pd.DataFrame]:
    """The demo exports read back with plain pandas under short English column names (for measure())."""
    d = Path(folder) / "data"
    dtf = "%d.%m.%Y %H:%M"

    def csv(name, enc, sep, skip=0):
        return pd.read_csv(d / name, sep=sep, encoding=enc, dtype=str, keep_default_na=False, skiprows=skip)

    def when(s, fmt=dtf):
        return pd.to_datetime(s.replace("", None), format=fmt)

    leads = pd.read_excel(d / "amocrm_leads.xlsx", engine="openpyxl", dtype={"ID сделки": str, "ID пациента": str, "ID звонка": str})
    leads.columns = ["lead_id", "created_at", "source", "patient_id", "call_id", "utm_source", "utm_medium",
                     "utm_campaign", "service", "stage", "lost_reason", "first_response_at", "responsible"]
    calls = csv("calltouch_calls.csv", "utf-8", ",").replace(system_exports.CALLTOUCH_EMPTY, "")
    calls = pd.DataFrame({"call_id": calls.callId, "started_at": when(calls.date, "%d/%m/%Y %H:%M:%S"),
                          "wait_seconds": calls.waitingConnect, "duration_seconds": calls.duration,
                          "source": calls.source.where(calls.medium.eq(""), calls.source + " / " + calls.medium),
                          "phone": calls.callerNumber,
                          "called_back_at": when(calls[CALLBACK_HEADER], "%d/%m/%Y %H:%M:%S"),
                          "region": calls.city, "answered": calls.successful == "true"})
    b = csv("mis_bookings.csv", "cp1251", ";")
    b.columns = ["booking_id", "patient_id", "doctor_id", "slot_start", "slot_minutes", "slot_end", "service",
                 "status", "lead_id", "created_at", "cancelled_at"]
    for c in ("slot_start", "slot_end", "created_at", "cancelled_at"):
        b[c] = when(b[c])
    v = pd.read_excel(d / "mis_visits.xlsx", engine="openpyxl", dtype={"Номер визита": str, "Код пациента": str, "Номер записи": str})
    v.columns = ["visit_id", "patient_id", "booking_id", "doctor_id", "checked_in_at", "started_at", "ended_at"]
    inv = csv("1c_payments.csv", "cp1251", ";", skip=2)
    inv.columns = ["invoice_id", "paid_at", "patient_id", "visit_id", "service", "service_category", "amount"]
    inv["paid_at"] = when(inv.paid_at)
    inv["amount"] = inv.amount.str.replace(" ", "", regex=False).str.replace(",", ".", regex=False).astype(float)
    sch = pd.read_excel(d / "schedule.xlsx", engine="openpyxl", dtype={"Код врача": str})
    sch.columns = ["doctor_id", "doctor_name", "shift_start", "shift_end", "room"]
    doctors = pd.read_csv(d / "doctors.csv", dtype=str)
    doctors.columns = ["doctor_id", "doctor_name", "specialty"]
    spend = pd.read_excel(d / "marketing_spend.xlsx", engine="openpyxl")
    spend.columns = ["month", "source", "spend"]
    traffic = pd.read_csv(d / "metrika_traffic.csv", encoding="utf-8-sig")
    traffic.columns = ["month", "source", "sessions"]
    patients = csv("mis_patients.csv", "cp1251", ";")
    surveys = pd.read_csv(d / "surveys.csv", dtype={"Код пациента": str, "ID визита": str})
    surveys.columns = ["patient_id", "answered_at", "nps", "csat", "visit_id", "doctor_id"]
    return {"leads": leads, "calls": calls, "bookings": b, "visits": v, "invoices": inv, "schedule": sch,
            "doctors": doctors, "marketing_spend": spend, "site_traffic": traffic, "patients": patients,
            "surveys": surveys}


def measure(folder: Path) -> dict:
    """The planted problems as measured on the raw files (figures quoted in sample_data/README.md)."""
    t = read_raw(folder)
    leads, calls, b, v, inv = t["leads"], t["calls"], t["bookings"], t["visits"], t["invoices"]
    out: dict = {"rows": {k: len(x) for k, x in t.items()}}
    base, cur = (pd.Timestamp(BASE[0]), pd.Timestamp(CURRENT[0])), (pd.Timestamp(CURRENT[0]), END)
    leads = leads.drop_duplicates()
    leads["channel"] = leads.source.map(CHANNEL_MAP)
    linked = b[b.lead_id != ""]
    booked_ids = set(linked.lead_id)
    shown_ids = set(linked.loc[linked.status == "пришёл", "lead_id"])
    leads["booked"] = leads.lead_id.isin(booked_ids)
    leads["shown"] = leads.lead_id.isin(shown_ids)

    def period(df, col, p):
        return df[(df[col] >= p[0]) & (df[col] < p[1])]
    lb, lc = period(leads, "created_at", base), period(leads, "created_at", cur)
    unbooked = lb[~lb.booked]
    out["funnel"] = {
        "leads_base": len(lb), "leads_current": len(lc), "leads_growth": len(lc) / len(lb) - 1,
        "shows_base": int(lb.shown.sum()), "shows_current": int(lc.shown.sum()),
        "shows_growth": lc.shown.sum() / lb.shown.sum() - 1,
        "unbooked_share_base": len(unbooked) / len(lb),
        "unbooked_no_reason_share_base": unbooked.lost_reason.isna().mean(),
        "lead_to_booking_base": lb.booked.mean(), "lead_to_booking_current": lc.booked.mean(),
    }
    # missed calls
    wd, hr = calls.started_at.dt.day_of_week, calls.started_at.dt.hour
    peak = (wd < 5) & hr.isin(PLANTS["peak_hours"])
    missed = ~calls.answered
    out["calls"] = {
        "calls": len(calls), "missed_share": missed.mean(),
        "missed_share_peak_hours": missed[peak].mean(), "missed_share_other_hours": missed[~peak].mean(),
        "missed_called_back_share": calls.called_back_at[missed].notna().mean(),
        "missed_never_called_back": int((missed & calls.called_back_at.isna()).sum()),
    }
    # speed to lead
    resp_min = (leads.first_response_at - leads.created_at).dt.total_seconds() / 60
    is_phone = leads.call_id.notna()
    bucket = pd.cut(resp_min, [-1, 15, 60, 240, 1440, np.inf], labels=["≤15 мин", "15–60 мин", "1–4 ч", "4–24 ч", ">24 ч"])
    bucket = bucket.cat.add_categories("нет ответа").fillna("нет ответа")
    new = leads.channel.isin(CHANNELS)
    out["speed"] = {
        "median_response_min_phone": float(resp_min[is_phone & new].median()),
        "median_response_min_forms": float(resp_min[~is_phone & new].median()),
        "booking_rate_by_response": leads[new].groupby(bucket[new], observed=True).booked.mean().round(3).to_dict(),
        "leads_by_response": leads[new].groupby(bucket[new], observed=True).size().to_dict(),
    }
    # no-shows
    kept = b[b.status.isin(["пришёл", "не пришёл"])].copy()
    kept["ns"] = kept.status == "не пришёл"
    ahead = (kept.slot_start - kept.created_at).dt.total_seconds() / 86400
    agg = kept.lead_id.map(leads.drop_duplicates("lead_id").set_index("lead_id").channel) == "Агрегаторы"
    out["no_show"] = {
        "rate": kept.ns.mean(), "rate_booked_over_7_days_ahead": kept.ns[ahead > 7].mean(),
        "rate_booked_within_7_days": kept.ns[ahead <= 7].mean(), "rate_aggregator_leads": kept.ns[agg].mean(),
        "rate_other": kept.ns[~agg].mean(),
        "rate_base": period(kept, "slot_start", base).ns.mean(), "rate_current": period(kept, "slot_start", cur).ns.mean(),
        "status_shares": b.status.value_counts(normalize=True).round(4).to_dict(),
    }
    # schedule utilisation (booked = completed or no-show) over the whole window and in the current quarter
    sch = t["schedule"]
    mins = (kept.slot_end - kept.slot_start).dt.total_seconds() / 60
    kept["minutes"] = mins
    util = {}
    for name, p in (("all", (START, END)), ("current", cur)):
        offered = period(sch, "shift_start", p).assign(
            m=lambda s: (s.shift_end - s.shift_start).dt.total_seconds() / 60).groupby("doctor_id").m.sum()
        booked = period(kept, "slot_start", p).groupby("doctor_id").minutes.sum()
        util[name] = (booked / offered).round(3).to_dict()
    ev_sch = sch[sch.shift_start.dt.hour == 14]
    ev_off = ev_sch.assign(m=180.0).groupby("doctor_id").m.sum()          # 17:00-20:00 of each evening shift
    ev_kept = kept[(kept.slot_start.dt.hour >= 17) & kept.slot_start.dt.normalize().isin(ev_sch.shift_start.dt.normalize())]
    key = kept.doctor_id + kept.slot_start.astype(str)
    dbl = kept[key.duplicated(keep=False) & (kept.slot_start.dt.hour >= 17)]
    shift_of = pd.merge_asof(kept.sort_values("slot_start"), sch.sort_values("shift_start"), left_on="slot_start",
                             right_on="shift_start", by="doctor_id", direction="backward")
    beyond = shift_of[shift_of.slot_end > shift_of.shift_end]
    out["schedule"] = {
        "utilisation_all": util["all"], "utilisation_current": util["current"],
        "evening_utilisation": (ev_kept.groupby("doctor_id").minutes.sum() / ev_off).round(3).to_dict(),
        "double_booked_after_17": dbl.doctor_id.value_counts().to_dict(),
        "beyond_shift_end": beyond.doctor_id.value_counts().to_dict(),
    }
    # waits and overruns
    wait = (v.started_at - v.checked_in_at).dt.total_seconds() / 60
    vv = v.merge(b[["booking_id", "slot_start", "slot_end"]], on="booking_id", how="left")
    over = ((vv.ended_at - vv.started_at) - (vv.slot_end - vv.slot_start)).dt.total_seconds() / 60
    out["waits"] = {
        "median_wait_min": float(wait.median()), "p90_wait_min": float(wait.quantile(0.9)),
        "share_over_15_min": float((wait > 15).mean()),
        "median_overrun_by_doctor": over.groupby(vv.doctor_id).median().round(1).to_dict(),
        "median_wait_by_doctor": wait.groupby(v.doctor_id).median().round(1).to_dict(),
    }
    # channels: first-touch channel of new patients, spend, CAC, 180-day revenue, ROMI, LTV, repeat
    pay = inv.drop_duplicates()
    first_lead = leads[new & leads.patient_id.notna()].sort_values("created_at").drop_duplicates("patient_id")
    first_pay = pay[pay.amount > 0].groupby("patient_id").paid_at.min()
    np_ = first_lead.assign(first_paid=first_lead.patient_id.map(first_pay)).dropna(subset=["first_paid"])
    pay_m = pay.merge(np_[["patient_id", "channel", "first_paid"]], on="patient_id")
    rev180 = pay_m[pay_m.paid_at < pay_m.first_paid + pd.Timedelta(days=180)].groupby("channel").amount.sum()
    ltv = pay_m.groupby("patient_id").amount.sum().groupby(np_.set_index("patient_id").channel).mean()
    days = pay_m.assign(d=pay_m.paid_at.dt.normalize()).groupby("patient_id").d.nunique()
    repeat = (days >= 2).groupby(np_.set_index("patient_id").channel).mean()
    spend = t["marketing_spend"].assign(channel=lambda s: s.source.map(CHANNEL_MAP)).groupby("channel").spend.sum()
    newp = np_.groupby("channel").size()
    ch = pd.DataFrame({"spend": spend, "new_paying": newp, "revenue_180d": rev180, "ltv_to_date": ltv.round(0),
                       "repeat_share": repeat.round(3)}).reindex(list(CHANNELS))
    ch["cac"] = (ch.spend / ch.new_paying).round(0)
    ch["romi_180d"] = ((ch.revenue_180d - ch.spend) / ch.spend).round(3)
    leads_n = leads[new].groupby("channel").size()
    ch["cpl"] = (ch.spend / leads_n).round(0)
    out["channels"] = ch.round(2).to_dict(orient="index")
    # RFM groups at the end of the current period
    paid = pay[pay.amount > 0].assign(d=lambda s: s.paid_at.dt.normalize())
    per = paid.groupby("patient_id").agg(last=("d", "max"), f=("d", "nunique"))
    per["m"] = pay.groupby("patient_id").amount.sum()
    rec = (END - pd.Timedelta(days=1) - per["last"]).dt.days
    former = per[(per.f >= 6) & (per.m >= 60_000) & (rec >= 180)]
    vis = v.sort_values("checked_in_at")
    gaps = vis.groupby("patient_id").checked_in_at.diff().dt.days
    gap_med = gaps[gaps > 45].groupby(vis.patient_id).median()
    n_vis = vis.groupby("patient_id").size()
    chronic = gap_med[(gap_med.between(80, 100)) & (n_vis.reindex(gap_med.index) >= 4)]
    score = {k: pd.qcut(s.rank(method="first"), 3, labels=[1, 2, 3]).astype(int)
             for k, s in (("r", -rec), ("f", per.f), ("m", per.m))}
    r1f3m3 = int(((score["r"] == 1) & (score["f"] == 3) & (score["m"] == 3)).sum())
    out["rfm"] = {"paying_patients": len(per), "former_best": len(former), "r1f3m3_terciles": r1f3m3,
                  "former_best_median_visits": float(former.f.median()), "former_best_median_paid": float(former.m.median()),
                  "chronic_90_day": len(chronic)}
    # data faults
    lead_set = set(leads.lead_id)
    orphan_b = linked[~linked.lead_id.isin(lead_set)]
    with_visit = inv[inv.visit_id != ""]
    orphan_i = with_visit[~with_visit.visit_id.isin(set(v.visit_id))]
    comp = b[b.status == "пришёл"].groupby(b.slot_start.dt.to_period("M")).size()
    vis_m = v.groupby(v.checked_in_at.dt.to_period("M")).size()
    diff = ((vis_m - comp) / comp).round(3)
    out["quality"] = {
        "bookings_missing_lead": len(orphan_b), "share_of_lead_linked_bookings": len(orphan_b) / len(linked),
        "share_of_all_bookings": len(orphan_b) / len(b),
        "invoices_missing_visit": len(orphan_i), "share_of_invoices_with_visit_id": len(orphan_i) / len(with_visit),
        "invoices_without_visit_id": int((inv.visit_id == "").sum()),
        "visits_vs_completed_worst_month": str(diff.abs().idxmax()), "worst_month_diff": float(diff[diff.abs().idxmax()]),
        "other_months_max_abs_diff": float(diff.drop(diff.abs().idxmax()).abs().max()),
        "worst_month_counts": (int(comp[diff.abs().idxmax()]), int(vis_m[diff.abs().idxmax()])),
        "duplicate_invoice_rows": int(inv.duplicated().sum()), "duplicate_lead_rows": int(t["leads"].duplicated().sum()),
        "refund_rows": int((inv.amount < 0).sum()), "refund_total": float(-inv.amount[inv.amount < 0].sum()),
        "bookings_without_slot_minutes": int((b.slot_minutes == "").sum()),
    }
    s = t["surveys"]
    out["surveys"] = {"answers": len(s), "nps": float(((s.nps >= 9).mean() - (s.nps <= 6).mean()) * 100),
                      "csat_satisfied": float((s.csat >= 4).mean())}
    out["revenue"] = {"total": float(pay.amount.sum()),
                      "base": float(period(pay, "paid_at", base).amount.sum()),
                      "current": float(period(pay, "paid_at", cur).amount.sum())}
    return out
