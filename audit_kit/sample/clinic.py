"""The simulation: new contacts and patients' treatment episodes matched to free slots of the doctors'
schedule; completed bookings become visits and visits payments (`Clinic`); names and phones."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .clock import (callback, miss_prob, month_of, office, pick, sample_times, stratified)
from .facts import (BOOK_FACTOR, CALL_HOURS, CATALOG, CHANNELS, CHANNEL_SHARE, CLOSED, DAY, DOCTORS, FEMALE_NAMES,
    FORM_HOURS, MALE_NAMES, N_DAYS, N_MONTHS, OVERBOOKED, OVERRUNS, PATRONYMIC_ROOTS, PHONE_SHARE, PLANTS,
    RAW_SOURCES, SHIFTS, SPECS, SPEC_LINES, SPEC_P, START, SURNAMES, TYPE_P, T_END, WEEKDAY)


# ---------------------------------------------------------------- the simulation
class Clinic:
    """Builds every table of the demo clinic in memory (internal ids are row positions)."""

    def __init__(self, seed: int):
        self.rng = np.random.default_rng(seed)
        self.doctors = pd.DataFrame(DOCTORS, columns=["doctor_id", "doctor_name", "specialty", "slot", "util",
                                                      "share", "overrun", "template"])
        self.doctors["spec"] = self.doctors.specialty.map({s: i for i, s in enumerate(SPECS)})

    # -- people
    def old_patients(self) -> pd.DataFrame:
        """Patients registered before the window: regular, chronic, best, former best, dormant."""
        rng = self.rng
        n_fb, n_ch, n_best, n_reg, n_dorm = PLANTS["former_best"], PLANTS["chronic"], 75, 830, 295
        ptype = np.repeat([4, 2, 3, 1, 5], [n_fb, n_ch, n_best, n_reg, n_dorm])
        n = len(ptype)
        sex = np.where(rng.random(n) < 0.62, "Ж", "М")
        spec = np.where(sex == "Ж", pick(rng, range(6), SPEC_P["Ж"], n), pick(rng, range(6), SPEC_P["М"], n))
        chronic_spec = pick(rng, [0, 3, 4, 5], [0.25, 0.2, 0.3, 0.25], n)
        spec = np.where(ptype == 2, chronic_spec, spec)
        first = np.array([0, 240, 90, 35, 30, 0])[ptype] * DAY * rng.random(n)
        churn_lo, churn_hi = ((pd.Timestamp(d) - START).days for d in ("2024-01-15", "2024-07-31"))
        churn = np.where(ptype == 4, rng.uniform(churn_lo, churn_hi, n) * DAY, np.inf)
        reg_days = rng.uniform((pd.Timestamp("2017-03-01") - START).days, -3, n)
        return pd.DataFrame({"ptype": ptype, "sex": sex, "spec": spec, "t0": first.astype(np.int64),
                             "churn": churn, "registered": reg_days * DAY, "channel": -1,
                             "source": None, "contact": -1})

    def new_contacts(self) -> pd.DataFrame:
        """Inbound requests of new people: channel, time, how fast they were answered, booked or not."""
        rng = self.rng
        leads = np.array(PLANTS["leads_per_month"])
        n_new = leads - np.round(leads * PLANTS["repeat_lead_share"]).astype(int)
        month = np.repeat(np.arange(N_MONTHS), n_new)
        n = len(month)
        ch = np.searchsorted(np.cumsum(CHANNEL_SHARE), stratified(rng, month) * sum(CHANNEL_SHARE), side="right")
        source = np.empty(n, object)
        for c, name in enumerate(CHANNELS):
            sel = ch == c
            source[sel] = pick(rng, RAW_SOURCES[name][0], RAW_SOURCES[name][1], sel.sum())
        phone = stratified(rng, month * 5 + ch) < np.array(PHONE_SHARE)[ch]
        kind = np.where(phone, "phone", np.where(ch == 3, "aggregator", "form"))
        t = np.where(phone, sample_times(rng, month, CALL_HOURS), sample_times(rng, month, FORM_HOURS))
        # phone: answered at once or missed (then maybe called back); forms: office-hours delay
        missed = phone & (stratified(rng, month) < miss_prob(t))
        wait_s = np.where(missed, rng.integers(20, 95, n), np.round(rng.gamma(2.0, 9.0, n)) + 3).astype(int)
        called_back = missed & (rng.random(n) < PLANTS["callback_new"])
        back_t = np.where(called_back, callback(rng, t), -1)
        form_delay = np.round(rng.lognormal(np.log(PLANTS["form_response_median_min"]), 1.1, n)).astype(np.int64)
        agg_delay = np.round(rng.lognormal(np.log(25), 0.9, n)).astype(np.int64)
        office_resp = office(rng, t + np.where(kind == "aggregator", agg_delay, form_delay))
        never = (kind != "phone") & (rng.random(n) < PLANTS["form_never_answered"])
        resp = np.where(phone & ~missed, t + (wait_s + 59) // 60, np.where(phone, back_t, office_resp))
        resp = np.where(never | (resp >= T_END), -1, resp)
        # booking probability falls with the response delay
        delay = np.where(resp >= 0, resp - t, -1)
        edges = np.array([5, 30, 120, 480, 1440])
        p_book = np.array([0.56, 0.47, 0.36, 0.27, 0.20, 0.13])[np.searchsorted(edges, delay, side="right")]
        p_book = np.where(resp < 0, 0.03, p_book) * np.array(BOOK_FACTOR)[ch]
        p_book *= np.where(month >= 15, PLANTS["current_booking_lift"], 1.0)
        booked = stratified(rng, month) < np.minimum(p_book, 0.95)
        sex = np.where(rng.random(n) < 0.62, "Ж", "М")
        spec = np.where(sex == "Ж", pick(rng, range(6), SPEC_P["Ж"], n), pick(rng, range(6), SPEC_P["М"], n))
        # the booking is made while answering (or when the patient calls again after no answer)
        again = office(rng, t + rng.integers(1, 4, n) * DAY)
        booking_created = np.where(resp >= 0, resp + rng.integers(1, 7, n), again)
        days_ahead = pick(rng, np.arange(22), [12, 22, 16, 12, 8, 6, 5] + [1.4] * 15, n)
        left = (T_END - booking_created) // DAY - 1          # the export ends: late leads book sooner
        days_ahead = np.where(days_ahead > left, np.floor(np.maximum(left, 0) * rng.uniform(0.2, 0.9, n)), days_ahead)
        want = (booking_created // DAY + days_ahead) * DAY + rng.integers(8 * 60, 20 * 60, n)
        want = np.where(want < booking_created + 90, booking_created + 90 + rng.integers(0, 120, n), want)
        want = np.minimum(want, T_END - 60 - rng.integers(0, 300, n))
        booked &= booking_created < want
        frame = pd.DataFrame({"t": t, "month": month, "channel": ch, "source": source, "kind": kind,
                              "missed": missed, "wait_s": wait_s, "back_t": back_t, "resp": resp,
                              "booked": booked, "sex": sex, "spec": spec,
                              "booking_created": booking_created, "want": want})
        return frame.sort_values("t", kind="stable").reset_index(drop=True)

    def new_patients(self, contacts: pd.DataFrame) -> pd.DataFrame:
        """One patient per booked new contact; the type depends on the acquisition channel."""
        rng = self.rng
        b = contacts[contacts.booked]
        n = len(b)
        u = stratified(rng, b.channel.to_numpy())
        cum = np.cumsum(np.array(TYPE_P)[b.channel.to_numpy()], axis=1)
        ptype = (u[:, None] > cum).sum(axis=1)          # 0..3
        return pd.DataFrame({"ptype": ptype, "sex": b.sex.to_numpy(), "spec": b.spec.to_numpy(),
                             "t0": b.want.to_numpy(), "churn": np.inf,
                             "registered": b.booking_created.to_numpy().astype(float),
                             "channel": b.channel.to_numpy(), "source": b.source.to_numpy(),
                             "contact": b.index.to_numpy()})

    # -- demand: episodes and follow-ups per patient
    def demands(self, pat: pd.DataFrame) -> pd.DataFrame:
        """Desired visit moments of every patient (vectorised over a patients x episodes grid)."""
        rng = self.rng
        n, e_max = len(pat), 24
        ptype = pat.ptype.to_numpy()
        shape = np.array([2.0, 2.5, 50.0, 5.0, 5.0, 2.0])[ptype]
        mean = np.array([150, 150, 90, 34, 30, 150])[ptype]
        gaps = rng.gamma(shape[:, None], (mean / shape)[:, None], (n, e_max - 1))
        cont = np.array([0.0, 0.72, 0.985, 0.985, 1.0, 0.0])[ptype]
        alive = np.cumprod(rng.random((n, e_max - 1)) < cont[:, None], axis=1).astype(bool)
        t0 = pat.t0.to_numpy()
        ep_t = t0[:, None] + np.concatenate([np.zeros((n, 1)), np.cumsum(gaps, axis=1) * DAY], axis=1)
        redraw = (ep_t // DAY) * DAY + rng.integers(8 * 60, 20 * 60, (n, e_max))
        ep_t[:, 1:] = redraw[:, 1:]
        valid = np.concatenate([np.ones((n, 1), bool), alive], axis=1)
        valid &= (ep_t < T_END) & (ep_t < pat.churn.to_numpy()[:, None]) & (ptype != 5)[:, None]
        pi, ei = np.nonzero(valid)
        t = ep_t[pi, ei].astype(np.int64)
        sex = pat.sex.to_numpy()[pi]
        spec = pat.spec.to_numpy()[pi].copy()
        switch = (ei > 0) & (rng.random(len(pi)) < 0.2)
        other = np.where(sex == "Ж", pick(rng, range(6), SPEC_P["Ж"], len(pi)), pick(rng, range(6), SPEC_P["М"], len(pi)))
        spec = np.where(switch, other, spec)
        # follow-up visits of an episode (treatment courses), 7-21 days apart
        k = np.where(spec == 2, np.minimum(rng.poisson(1.3, len(pi)), 4),
                     rng.binomial(np.array([1, 1, 0, 3, 1, 1])[spec], np.array([.3, .45, 0, .3, .35, .4])[spec]))
        k = np.where(ptype[pi] == 0, rng.binomial(k, 0.3), k)
        rep = 1 + k
        d_p, d_e, d_t, d_s = (np.repeat(a, rep) for a in (pi, ei, t, spec))
        start = np.repeat(np.cumsum(rep) - rep, rep)
        j = np.arange(len(d_p)) - start
        step = np.where(j > 0, rng.integers(7, 22, len(d_p)) * DAY, 0)
        cs = np.cumsum(step)
        offset = cs - cs[start]
        d_t = np.where(j > 0, ((d_t + offset) // DAY) * DAY + rng.integers(8 * 60, 20 * 60, len(d_p)), d_t)
        keep = (d_t < T_END) & (d_t < pat.churn.to_numpy()[d_p] + 20 * DAY)
        dem = pd.DataFrame({"patient": d_p, "episode": d_e, "j": j, "spec": d_s, "want": d_t,
                            "step": step})[keep].reset_index(drop=True)
        dem["ptype"] = ptype[dem.patient]
        dem["new_first"] = (pat.contact.to_numpy()[dem.patient] >= 0) & (dem.episode == 0) & (dem.j == 0)
        # which doctor: each patient sticks to one doctor per specialty
        u_p = rng.random(n)
        u = (u_p[dem.patient] + 0.618 * dem.spec) % 1.0
        doc = np.empty(len(dem), int)
        for s in range(6):
            idx = np.flatnonzero(self.doctors.spec == s)
            cum = np.cumsum(self.doctors.share.to_numpy()[idx])
            sel = dem.spec.to_numpy() == s
            doc[sel] = idx[np.minimum(np.searchsorted(cum / cum[-1], u[sel]), len(idx) - 1)]
        dem["doctor"] = doc
        # when the booking was made: at the previous visit (long lead) or by phone shortly before
        m = len(dem)
        desk = np.where(dem.j > 0, rng.random(m) < 0.7, rng.random(m) < 0.35)
        ahead = np.where(dem.j > 0, dem.step, rng.integers(14, 61, m) * DAY)
        short = np.round(rng.uniform(0.2, 6.5, m) * DAY).astype(np.int64)
        created = dem.want.to_numpy() - np.where(desk, ahead, short)
        created = (created // DAY) * DAY + rng.integers(int(8.5 * 60), int(19.5 * 60), m)
        created = np.minimum(created, dem.want.to_numpy() - 120)
        new_first = dem.new_first.to_numpy()
        contact = pat.contact.to_numpy()[dem.patient]
        dem["created"] = np.where(new_first, -1, created)
        dem["contact"] = np.where(new_first, contact, -1)
        dem["phone_booked"] = ~desk
        return dem

    # -- schedule sized to the demand, then slot matching
    def schedule(self, rows: pd.DataFrame) -> pd.DataFrame:
        """Shifts per doctor: weekly templates filled until offered minutes ~ demand / target utilisation."""
        rng = self.rng
        out = []
        first_monday = int(np.argmax(WEEKDAY[:7] == 0))
        for d, doc in self.doctors.iterrows():
            mine = rows[rows.doctor == d]
            per_day = np.bincount(np.minimum(mine.want.to_numpy() // DAY, N_DAYS - 1), minlength=N_DAYS)
            need = pd.Series(per_day * doc.slot / doc.util).rolling(28, center=True, min_periods=1).mean().to_numpy()
            template = [(int(x[0]), x[1]) for x in doc.template.split()]
            vac0 = int(rng.integers((pd.Timestamp("2024-06-03") - START).days, (pd.Timestamp("2024-08-19") - START).days))
            vac0 -= (vac0 - first_monday) % 7
            carry = 0.0
            for w0 in range(first_monday, N_DAYS, 7):
                target = need[w0:w0 + 7].sum() + carry
                got = 0.0
                for wd, code in template:
                    day = w0 + wd
                    length = SHIFTS[code][1] - SHIFTS[code][0]
                    if got + length / 2 > target:
                        break
                    if day >= N_DAYS or CLOSED[day] or vac0 <= day < vac0 + 14 or rng.random() < 0.015:
                        continue                     # closed, on vacation or sick: the next template day covers it
                    got += length
                    out.append((d, day * DAY + SHIFTS[code][0], day * DAY + SHIFTS[code][1], code))
                carry = target - got
        return pd.DataFrame(out, columns=["doctor", "start", "end", "code"]).sort_values(
            ["doctor", "start"], kind="stable").reset_index(drop=True)

    def match(self, rows: pd.DataFrame, shifts: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """First come, first served: each booking takes the next free slot after the wish, with the
        patient's doctor or, failing that, a colleague of the same specialty. Returns (slot, doctor)."""
        slots, parent = [], []
        for d, doc in self.doctors.iterrows():
            sh = shifts[shifts.doctor == d]
            n_slots = ((sh.end - sh.start) // doc.slot).to_numpy()
            slots.append(np.repeat(sh.start.to_numpy(), n_slots) + doc.slot * (
                np.arange(n_slots.sum()) - np.repeat(np.cumsum(n_slots) - n_slots, n_slots)))
            parent.append(list(range(len(slots[-1]) + 1)))
        colleagues = {d: [d] + [o for o in self.doctors.index[self.doctors.spec == spec] if o != d]
                      for d, spec in self.doctors.spec.items()}
        order = np.lexsort((rows.want.to_numpy(), rows.created.to_numpy()))
        want, doctor = rows.want.to_numpy(), rows.doctor.to_numpy()
        slot_of = np.full(len(rows), -1, np.int64)
        doc_of = doctor.copy()
        for row in order:
            for d in colleagues[doctor[row]]:
                par, sl = parent[d], slots[d]
                i = root = int(np.searchsorted(sl, want[row]))
                while par[root] != root:
                    root = par[root]
                while par[i] != root:
                    par[i], i = root, par[i]
                if root < len(sl) and sl[root] <= want[row] + 40 * DAY:
                    slot_of[row], doc_of[row] = sl[root], d
                    par[root] = root + 1
                    break
        return slot_of, doc_of

    # -- bookings: rescheduled pairs, cancellations, squeezed-in evening patients, statuses
    def bookings(self, dem: pd.DataFrame, pat: pd.DataFrame, contacts: pd.DataFrame):
        """Booking rows with slots and statuses, and the doctors' shifts they were matched to."""
        rng = self.rng
        m = len(dem)
        dem = dem.assign(demand=np.arange(m))
        u = stratified(rng, month_of(dem.want.to_numpy()))
        moved = u < PLANTS["rescheduled"]
        cancel = (u >= PLANTS["rescheduled"]) & (u < PLANTS["rescheduled"] + PLANTS["cancelled"])
        main = dem.assign(role="main", cancel=cancel)
        main.loc[moved, "want"] += rng.integers(2, 11, moved.sum()) * DAY
        rows = pd.concat([dem[moved].assign(role="moved", cancel=False), main], ignore_index=True)
        shifts = self.schedule(rows)
        rows["slot"], rows["doctor"] = self.match(rows, shifts)
        rows = rows[rows.slot >= 0].reset_index(drop=True)
        rows["cancelled_at"] = -1
        # a rescheduled booking is cancelled at the moment the new one is made
        mv = rows.index[rows.role == "moved"]
        mate = rows[rows.role == "main"].reset_index().set_index("demand")["index"]
        partner = rows.loc[mv, "demand"].map(mate)
        has = partner.notna().to_numpy()
        first_slot = np.where(has, np.minimum(rows.loc[mv, "slot"].to_numpy(),
                                              rows.slot.reindex(partner.fillna(-1).astype(int)).fillna(np.inf).to_numpy()),
                              rows.loc[mv, "slot"].to_numpy())
        c0 = rows.loc[mv, "created"].to_numpy()
        moment = (c0 + rng.uniform(0.2, 0.95, len(mv)) * np.maximum(first_slot - 60 - c0, 1)).astype(np.int64)
        rows.loc[mv, "cancelled_at"] = moment
        rows.loc[partner[has].astype(int).to_numpy(), "created"] = moment[has]
        # cancellations: 40% late (within a day of the slot)
        cx = rows.index[rows.cancel]
        slot, created = rows.loc[cx, "slot"].to_numpy(), rows.loc[cx, "created"].to_numpy()
        late = (rng.random(len(cx)) < 0.4) | (slot - created < 2 * DAY)
        early_t = created + rng.uniform(0.1, 0.9, len(cx)) * (slot - DAY - created)
        late_t = np.maximum(slot - rng.integers(60, DAY, len(cx)), created + 5)
        rows.loc[cx, "cancelled_at"] = np.where(late, late_t, early_t).astype(np.int64)
        rows = pd.concat([rows, self._evening_extras(rows, shifts)], ignore_index=True)
        # statuses: no-shows depend on how far ahead the booking was made, on the channel and the patient
        lead_days = (rows.slot - rows.created) / DAY
        ch = np.where(rows.contact.to_numpy() >= 0, contacts.channel.to_numpy()[np.maximum(rows.contact.to_numpy(), 0)], -1)
        p_ns = (PLANTS["no_show_base"] + PLANTS["no_show_long_lead"] * (lead_days > 7)
                + PLANTS["no_show_aggregator"] * (ch == 3) + 0.02 * (ch == 2) + 0.03 * rows.new_first
                - 0.03 * rows.ptype.isin([2, 3, 4])).to_numpy()
        p_ns = np.where(rows.role == "extra", 0.08, p_ns)
        status = np.where(rows.role == "moved", "перенесена", np.where(
            rows.cancel, "отменена", np.where(stratified(rng, month_of(rows.slot.to_numpy())) < p_ns,
                                               "не пришёл", "пришёл")))
        rows["status"] = status
        # a new patient who never came to the first booking is lost: drop the rest of their chain
        came = rows.loc[rows.new_first & (rows.status == "пришёл"), "patient"].unique()
        is_new = (pat.contact.to_numpy() >= 0)[rows.patient]
        rows = rows[~(is_new & ~rows.new_first & ~rows.patient.isin(came))]
        rows = rows.sort_values(["created", "slot"], kind="stable").reset_index(drop=True)
        rows["booking_id"] = (100000 + np.cumsum(rng.integers(1, 4, len(rows)))).astype(str)
        return rows, shifts

    def _evening_extras(self, rows: pd.DataFrame, shifts: pd.DataFrame) -> pd.DataFrame:
        """Overbooked doctors: patients squeezed in after 17:00, on taken slots or after the shift."""
        rng = self.rng
        idx = self.doctors.index[self.doctors.doctor_id.isin(OVERBOOKED)]
        ev = shifts[shifts.doctor.isin(idx) & (shifts.code == "E")]
        cnt = rng.poisson(PLANTS["evening_extra_per_shift"], len(ev))
        sh = ev.loc[np.repeat(ev.index, cnt)].reset_index(drop=True)
        slot_len = self.doctors.slot.to_numpy()[sh.doctor]
        lo = -(-(17 * 60 - 14 * 60) // slot_len)
        hi = (360 + 59) // slot_len
        k = rng.integers(lo, hi + 1)
        slot = sh.start.to_numpy() + k * slot_len
        donors = np.concatenate([rng.choice(rows.index[(rows.doctor == d) & (rows.role == "main")],
                                            (sh.doctor == d).sum()) for d in idx])
        order = np.argsort(sh.doctor.to_numpy(), kind="stable")
        donor = np.empty(len(sh), int)
        donor[order] = donors
        base = rows.loc[donor, ["patient", "spec", "ptype", "doctor"]].reset_index(drop=True)
        return base.assign(episode=0, j=0, want=slot, step=0, new_first=False, contact=-1, phone_booked=True,
                           created=slot - rng.integers(120, 1800, len(sh)), demand=-1, role="extra",
                           cancel=False, slot=slot, cancelled_at=-1)

    # -- visits and payments
    def visits(self, rows: pd.DataFrame, shifts: pd.DataFrame) -> pd.DataFrame:
        """Check-in, start and end of every completed booking (waits and overruns)."""
        rng = self.rng
        v = rows[rows.status == "пришёл"].copy()
        n = len(v)
        slot_len = self.doctors.slot.to_numpy()[v.doctor]
        shift_start = np.empty(n, np.int64)
        for d in range(len(self.doctors)):
            sel = (v.doctor == d).to_numpy()
            st = shifts.loc[shifts.doctor == d, "start"].to_numpy()
            shift_start[sel] = st[np.maximum(np.searchsorted(st, v.slot.to_numpy()[sel], side="right") - 1, 0)]
        into_h = (v.slot.to_numpy() - shift_start) / 60
        early = np.clip(np.round(rng.normal(7, 5, n)), -10, 30)
        delay = rng.lognormal(np.log(2.5), 0.9, n)
        slow = self.doctors.doctor_id.isin(OVERRUNS).to_numpy()[v.doctor]
        delay += np.where(slow, np.minimum(into_h * rng.uniform(5, 11, n), 70), 0)
        squeezed = (v.role == "extra").to_numpy()
        delay += np.where(squeezed, slot_len * rng.uniform(0.3, 0.9, n), 0)
        checked = v.slot.to_numpy() - early
        started = np.maximum(v.slot.to_numpy() + np.round(delay), checked + 1)
        overrun = rng.normal(self.doctors.overrun.to_numpy()[v.doctor], np.where(slow, 7, 4))
        ended = started + np.maximum(np.round(slot_len + overrun), 8)
        v["checked_in"] = checked.astype(np.int64)
        v["started"] = started.astype(np.int64)
        v["ended"] = ended.astype(np.int64)
        return v.sort_values("checked_in", kind="stable").reset_index(drop=True)

    def invoices(self, v: pd.DataFrame, pat: pd.DataFrame) -> pd.DataFrame:
        """Payment lines per visit: consultation, diagnostics, tests, treatment, programmes."""
        rng = self.rng
        n = len(v)
        spec, j, ptype = v.spec.to_numpy(), v.j.to_numpy(), v.ptype.to_numpy()
        p = np.array([SPEC_LINES[s] for s in SPECS])[spec]
        first_with_spec = v.groupby(["patient", "spec"]).cumcount().to_numpy() == 0
        treat_follow = (j > 0) & (rng.random(n) < p[:, 3])
        loyal = np.isin(ptype, [3, 4])
        parts = [
            (np.flatnonzero(~treat_follow), np.where(first_with_spec[~treat_follow], "first", "repeat")),
            (np.flatnonzero(treat_follow), "treat"),
            (np.flatnonzero((j == 0) & (rng.random(n) < p[:, 0])), "diag"),
            (np.flatnonzero(rng.random(n) < np.where(j == 0, p[:, 1], p[:, 1] * 0.4)), "lab"),
            (np.flatnonzero((j == 0) & (rng.random(n) < p[:, 2])), "treat"),
            (np.flatnonzero((j == 0) & loyal & (rng.random(n) < 0.45)), "program"),
            (np.flatnonzero(loyal & (rng.random(n) < 0.35)), "treat"),
        ]
        vi = np.concatenate([x for x, _ in parts])
        kind = np.concatenate([np.broadcast_to(k, len(x)) for x, k in parts])
        order = np.lexsort((kind, vi))
        vi, kind = vi[order], kind[order]
        cat = pd.DataFrame(CATALOG, columns=["spec", "service", "category", "price", "kind"])
        cat["spec"] = cat.spec.map({s: i for i, s in enumerate(SPECS)})
        line_spec = spec[vi]
        rich = loyal[vi]
        service = np.empty(len(vi), object)
        category = np.empty(len(vi), object)
        price = np.zeros(len(vi))
        for (s, k, r), grp in pd.DataFrame({"s": line_spec, "k": kind, "r": rich}).groupby(["s", "k", "r"]).groups.items():
            opts = cat[(cat.spec == s) & (cat.kind == k)]
            if opts.empty:
                opts = cat[(cat.spec == s) & (cat.kind == "repeat")]
            w = opts.price.to_numpy(float) ** (1.0 if r else -0.3)
            chosen = opts.iloc[rng.choice(len(opts), size=len(grp), p=w / w.sum())]
            service[grp], category[grp], price[grp] = chosen.service, chosen.category, chosen.price
        discount = pick(rng, [0, 0.05, 0.10, 0.15], [78, 12, 7, 3], len(vi))
        ch = np.where(pat.contact.to_numpy() >= 0, pat.channel.to_numpy(), -1)[v.patient.to_numpy()[vi]]
        promo = (ch == 2) & (v.episode.to_numpy()[vi] == 0)          # SMM promo: 40% off the first episode
        amount = np.round(price * (1 - np.where(promo, 0.4, discount)), 2)
        paid = v.ended.to_numpy()[vi] + rng.integers(1, 20, len(vi)) + rng.integers(0, 3, len(vi))
        return pd.DataFrame({"visit": vi, "patient": v.patient.to_numpy()[vi], "paid": paid, "amount": amount,
                             "service": service, "category": category})


def names(rng, sex: np.ndarray, avoid: set[str]) -> np.ndarray:
    """Russian full names (surname, first name, patronymic) that never equal a doctor's name."""
    n = len(sex)
    fem = sex == "Ж"
    sur = np.array(SURNAMES)[rng.integers(0, len(SURNAMES), n)]
    sur = np.where(fem, np.char.add(sur.astype(str), "а"), sur)
    first = np.where(fem, np.array(FEMALE_NAMES)[rng.integers(0, len(FEMALE_NAMES), n)],
                     np.array(MALE_NAMES)[rng.integers(0, len(MALE_NAMES), n)])
    root = np.array(PATRONYMIC_ROOTS)[rng.integers(0, len(PATRONYMIC_ROOTS), n)]
    pat = np.where(fem, np.char.add(root, "на"), np.char.add(root, "ич"))
    full = np.char.add(np.char.add(np.char.add(np.char.add(sur, " "), first), " "), pat).astype(object)
    clash = np.isin(full, list(avoid))
    full[clash] = np.char.add(np.char.add(np.char.add(sur[clash], " "), first[clash]),
                              np.where(fem[clash], " Ильинична", " Ильич"))
    return full


def phones(rng, n: int) -> np.ndarray:
    """Unique Russian mobile numbers as 10 digits (9xxxxxxxxx)."""
    nums = np.unique(rng.integers(9_000_000_000, 9_999_999_999, int(n * 1.2)))
    return rng.permutation(nums)[:n]
