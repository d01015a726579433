"""Schedule (module 03): idle time and imbalance — idle patients, over- and underloaded doctors, peak overload."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .intervals import epoch_seconds, shared_codes, utilisation


OVERLOADED = 0.95        # a doctor booked above this share of offered time is overloaded
UNDERLOADED = 0.60       # ... and below this share underloaded (imbalance within a specialty)
DOUBLE_BOOKED_SHARE = 0.02   # double-booked minutes ≥ 2% of offered time also make a doctor overbooked

# -- idle time and imbalance --------------------------------------------------------------------

def typical_slot(slot_table: pd.DataFrame) -> pd.Series:
    """Median slot length (minutes) of each doctor's slot-keeping bookings (doctors with none absent)."""
    kept = slot_table.loc[slot_table["keeps_slot"], ["doctor_id", "slot_minutes"]]
    out = kept.groupby("doctor_id", observed=True)["slot_minutes"].median().rename("typical_slot_minutes")
    out.index = pd.Index(out.index.astype("string"), name="doctor_id")
    return out


def idle_patients(segments: pd.DataFrame, slot_length: pd.Series, default_minutes: float = 30) -> pd.Series:
    """Patients each doctor's idle time could have served: whole typical slots per idle gap.

    Contiguous idle segments of a doctor are joined into gaps; each gap holds
    floor(gap minutes ÷ the doctor's typical slot) patients (a 20-minute gap holds no
    30-minute patient). slot_length: typical slot minutes per doctor_id (`typical_slot`);
    `default_minutes` for doctors without bookings. Returns a count per doctor_id.
    """
    idle = segments.loc[segments["idle_minutes"] > 0, ["doctor_id", "start", "end"]]
    if idle.empty:
        return pd.Series(dtype="float64", name="idle_patients")
    (doc,), ids = shared_codes(idle["doctor_id"])
    start, end = epoch_seconds(idle["start"]), epoch_seconds(idle["end"])
    ordered = np.all((doc[1:] > doc[:-1]) | ((doc[1:] == doc[:-1]) & (start[1:] >= start[:-1])))
    if not ordered:   # `timeline` output is already sorted by doctor and start
        order = np.lexsort((start, doc))
        doc, start, end = doc[order], start[order], end[order]
    minutes = (end - start) / 60.0
    new_gap = np.r_[True, (doc[1:] != doc[:-1]) | (start[1:] != end[:-1])]
    first = np.flatnonzero(new_gap)
    gap_minutes = np.add.reduceat(minutes, first)
    gap_doc = doc[first]
    length = slot_length.reindex(ids.astype("string")).to_numpy("float64", na_value=np.nan)
    length = np.where(np.isnan(length), float(default_minutes), length)
    patients = np.floor(gap_minutes / length[gap_doc] + 1e-9)
    total = np.bincount(gap_doc, weights=patients, minlength=len(ids))
    present = np.unique(gap_doc)
    return pd.Series(total[present], index=pd.Index(ids[present].astype("string"), name="doctor_id"),
                     name="idle_patients")


def specialty_balance(per_doctor: pd.DataFrame, *, high: float = OVERLOADED, low: float = UNDERLOADED
                      ) -> pd.DataFrame:
    """Load spread within each specialty of two or more doctors (of each branch, in a network).

    per_doctor: `per_doctor` rows (doctor, specialty, utilisation, idle_minutes, idle_patients), with an
    optional ``branch_id``: when the rows carry one, doctors are compared within (branch, specialty) —
    the comparison an owner can act on (a doctor idle in one branch cannot take another branch's
    patients) — and the table gains a first column ``branch_id``; doctors without a branch are then
    not compared. Per group: busiest and least-loaded doctor with their utilisation, spread (busiest −
    least, fraction points), overloaded (names with utilisation > high, 0.95, busiest first),
    underloaded (names < low, 0.60, least first), the underloaded doctors' idle minutes and
    idle patients, and imbalance = someone is overloaded while a colleague is underloaded.
    Doctors without a specialty or without offered time are not compared.
    """
    keys = ["branch_id", "specialty"] if "branch_id" in per_doctor else ["specialty"]
    keep = per_doctor["specialty"].notna() & per_doctor["utilisation"].notna()
    if "branch_id" in per_doctor:
        keep &= per_doctor["branch_id"].notna()
    df = per_doctor.loc[keep]
    df = df.loc[df.groupby(keys, observed=True)["doctor"].transform("size") > 1].sort_values(
        keys + ["utilisation"], ascending=[True] * len(keys) + [False])
    cols = keys + ["busiest", "busiest_utilisation", "least", "least_utilisation", "spread",
                   "overloaded", "underloaded", "idle_minutes", "idle_patients", "imbalance"]
    if df.empty:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in cols})
    g = df.groupby(keys, sort=True, observed=True)
    out = pd.DataFrame({
        "busiest": g["doctor"].first(), "busiest_utilisation": g["utilisation"].first(),
        "least": g["doctor"].last(), "least_utilisation": g["utilisation"].last(),
    })
    out["spread"] = out["busiest_utilisation"] - out["least_utilisation"]
    over = df.loc[df["utilisation"] > high]
    under = df.loc[df["utilisation"] < low].sort_values("utilisation")
    out["overloaded"] = over.groupby(keys, observed=True)["doctor"].agg(", ".join).reindex(out.index).fillna("")
    out["underloaded"] = under.groupby(keys, observed=True)["doctor"].agg(", ".join).reindex(out.index).fillna("")
    for c in ("idle_minutes", "idle_patients"):
        out[c] = (under.groupby(keys, observed=True)[c].sum().reindex(out.index).fillna(0.0) if c in under
                  else np.nan)
    out["imbalance"] = (out["overloaded"] != "") & (out["underloaded"] != "")
    return out.reset_index()[cols]


def overbooked(per_doctor: pd.DataFrame, *, high: float = OVERLOADED,
               double_share: float = DOUBLE_BOOKED_SHARE) -> pd.DataFrame:
    """Overbooked doctors: utilisation > high (0.95), or double-booked minutes at least
    `double_share` (2%) of their offered minutes. Busiest first."""
    share = per_doctor["double_booked_minutes"] / per_doctor["offered_minutes"].where(per_doctor["offered_minutes"] > 0)
    flag = (per_doctor["utilisation"] > high) | (share >= double_share)
    return per_doctor.assign(double_booked_share=share).loc[flag.fillna(False)].sort_values(
        "utilisation", ascending=False)


def fill_gaps(hours: list[int]) -> list[int]:
    """A single quiet hour between two listed hours is added: [17, 18, 20] -> [17, 18, 19, 20]."""
    hs = set(hours)
    return sorted(hs | {h for h in range(24) if h - 1 in hs and h + 1 in hs})


def main_hours(minutes_by_hour: pd.Series, share: float = 0.8) -> list[int]:
    """The fewest clock hours holding at least `share` of the minutes (index: hour 0–23)."""
    s = minutes_by_hour[minutes_by_hour > 0].sort_values(ascending=False)
    if s.empty:
        return []
    covered = s.cumsum() / s.sum()
    n = int(np.searchsorted(covered.to_numpy(), share - 1e-9)) + 1
    return sorted(s.index[:n].astype(int).tolist())


@dataclass
class PeakOverload:
    """Clock hours when patients exceed the doctors' time (see `peak_overload`)."""

    hours: list[int]
    overload_minutes: float       # double-booked + outside-shift minutes in those hours
    offered_minutes: float        # offered minutes in those hours
    utilisation: float            # booked ÷ offered in those hours (all doctors)
    other_utilisation: float      # booked ÷ offered in the other hours
    doctors: pd.DataFrame         # doctor_id, overload_minutes, utilisation (in those hours), most first

    @property
    def share(self) -> float:
        return self.overload_minutes / self.offered_minutes if self.offered_minutes else np.inf


def peak_overload(hourly_by_doctor: pd.DataFrame, *, share: float = 0.8, doctor_share: float = 0.05
                  ) -> PeakOverload | None:
    """When in the day patients exceed doctors' time, and which doctors carry it.

    hourly_by_doctor: `by_hour(..., by="doctor_id")` with segments. Overload minutes =
    double-booked minutes + booking minutes outside shifts. The peak hours are the fewest
    clock hours holding `share` (80%) of all overload minutes (`main_hours`), with a single
    hour between two peak hours added to the peak; the doctors named
    hold at least `doctor_share` (5%) of the overload minutes in those hours. None when there
    is no overload at all.
    """
    df = hourly_by_doctor.assign(overload_minutes=hourly_by_doctor["double_booked_minutes"]
                                 + hourly_by_doctor["outside_shift_minutes"])
    by_hour_of_day = df.groupby("hour")["overload_minutes"].sum()
    hours = main_hours(by_hour_of_day, share)
    if not hours:
        return None
    hours = fill_gaps(hours)
    peak = df["hour"].isin(hours)
    sums = df.groupby(peak)[["offered_minutes", "booked_minutes", "overload_minutes"]].sum()
    inside = sums.loc[True]
    other = sums.loc[False] if False in sums.index else pd.Series({"offered_minutes": 0.0, "booked_minutes": 0.0})
    docs = df.loc[peak].groupby("doctor_id")[["offered_minutes", "booked_minutes", "overload_minutes"]].sum()
    docs = docs.loc[docs["overload_minutes"] >= doctor_share * inside["overload_minutes"]]
    docs["utilisation"] = docs["booked_minutes"] / docs["offered_minutes"].where(docs["offered_minutes"] > 0)
    docs = docs.sort_values("overload_minutes", ascending=False).reset_index()
    ratio = lambda b, o: b / o if o > 0 else np.nan  # noqa: E731
    return PeakOverload(hours, float(inside["overload_minutes"]), float(inside["offered_minutes"]),
                        ratio(inside["booked_minutes"], inside["offered_minutes"]),
                        ratio(other["booked_minutes"], other["offered_minutes"]),
                        docs[["doctor_id", "overload_minutes", "utilisation"]])
