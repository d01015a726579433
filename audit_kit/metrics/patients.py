"""Who a patient is to the audit: their visits, when the clinic acquired them, through which channel.

The one definition of each of these ideas; the channel (04), RFM (05) and cohort (06) modules
call these functions and never re-derive them (DESIGN §4). Pure, vectorised, no I/O.

- **visit**: an invoice's ``visit_id``, else the patient-day (patient and calendar day of
  ``paid_at``) of invoices without one; only invoices with amount ≥ 0 make a visit (a free
  visit is a visit; a refund is netted into money but is no visit).
- **acquired patient**: a patient whose first invoice with amount ≥ 0 falls in the period;
  ``acquired_at`` is that invoice's ``paid_at`` (= the time of the first visit). A patient with
  refunds only is never acquired, and neither is an existing patient: one registered in
  ``patients.created_at`` before the payment export begins and more than 60 days before their
  first payment in it (their first payment in the data is a return; `existing_patients`).
- **home branch** (a network): the branch of most of the patient's visits (`home_branch`).
- **first touch**: the channel of the patient's earliest lead from a new-contact channel
  (channels in ``repeat_channels`` are skipped); else ``patients.first_channel``; else
  ``unknown``. **last touch**: the channel of the latest such lead created on or before
  ``acquired_at``, with the same fall-backs.
"""
from __future__ import annotations

from typing import Iterable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..options import DEFAULT_REPEAT_CHANNELS
from ..ingest.keys import arrow_dictionary, arrow_ids, key_of, positions
from .ids import with_keys
from .periods import day_numbers, up_to

UNKNOWN_CHANNEL = "unknown"
ATTRIBUTIONS = ("first_touch", "last_touch")
KNOWN_BEFORE_DAYS = 60   # registered this long before the first payment, and before the export: an existing patient

def data_end(invoices: pd.DataFrame) -> pd.Timestamp:
    """The data end: the latest ``paid_at`` in the invoices, up to which revenue is observed (NaT when none)."""
    return pd.Timestamp(invoices["paid_at"].max())


def visit_codes(invoices: pd.DataFrame) -> np.ndarray:
    """The visit of each invoice row, as an integer code (rows of one visit share a code; the codes
    number the visits in no particular order and need not be consecutive).

    Rows with a ``visit_id`` share its ``visit_key``; rows without one share a code with the same
    patient's other rows without a visit_id on the same calendar day of ``paid_at`` (patient-day).
    -1 for a row without patient or date. This is only the grouping: which rows *make* a visit
    (amount ≥ 0) is decided by ``visits``.
    """
    return visit_and_patient_codes(invoices)[0]


def patient_grouping(invoices: pd.DataFrame) -> tuple[np.ndarray, pa.Array]:
    """Each invoice row's ``patient_key`` (-1: no patient; ingest's keys, else made here by
    `keys.key_of`) as int64, and the patient_id of each key as an Arrow string array (null for a key
    with no invoice here; taken from each key's first row, so no Python strings are made)."""
    key = key_of(invoices, "patient").astype(np.int64)
    n_keys = int(key.max()) + 1 if len(key) else 0
    rows = np.flatnonzero(key >= 0)
    first = np.full(n_keys, -1, np.int64)
    first[key[rows][::-1]] = rows[::-1]                      # each key's first row
    names = arrow_ids(invoices["patient_id"]).take(pa.array(first, mask=first < 0))
    return key, names


def id_index(names: pa.Array, codes: np.ndarray) -> pd.Index:
    """The IDs of the given codes (`patient_grouping`'s names) as a "string" Index."""
    return pd.Index(pd.array(names.take(pa.array(codes)).to_pandas(types_mapper=pd.ArrowDtype), dtype="string"))


def visit_and_patient_codes(invoices: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, pa.Array]:
    """`visit_codes` together with the patient grouping it needs anyway: (visit codes, patient keys
    (-1 for no patient), the patient_id of each patient key)."""
    patient, names = patient_grouping(invoices)
    n = len(invoices)
    visit = (key_of(invoices, "visit").astype(np.int64) if "visit_id" in invoices else np.full(n, -1, np.int64))
    day = day_numbers(invoices["paid_at"])
    by_day = (visit < 0) & (patient >= 0) & invoices["paid_at"].notna().to_numpy(bool)
    day_of_row = day[by_day]
    combined = patient[by_day] * np.int64(1 << 20) + (day_of_row - day_of_row.min() if len(day_of_row) else 0)
    day_visit = pd.factorize(combined)[0]                    # one code per (patient, day)
    n_ids = int(visit.max()) + 1 if n else 0
    visit[by_day] = max(n_ids, 0) + day_visit                # rows with neither stay -1
    return visit, patient, names


def visit_columns(invoices: pd.DataFrame) -> list[str]:
    """The invoice columns `visits` and `visit_and_patient_codes` read (with ingest's keys when present):
    a slice of these is all a function needs to cut the invoices by date."""
    return with_keys(invoices, ["patient_id", "visit_id", "paid_at", "amount"])


def ascending_rows(rows: np.ndarray, n: int) -> np.ndarray:
    """The distinct ``rows`` (positions among n) in ascending order, through a mask instead of a sort."""
    mask = np.zeros(n, bool)
    mask[rows] = True
    return np.flatnonzero(mask)


def stable_order(key: np.ndarray) -> np.ndarray:
    """``np.argsort(key, kind="stable")`` for int64 keys with few ties: numpy's unstable sort (about 1.7× faster on
    3.4 M visit keys than its stable timsort, measured), then each run of equal keys put back in position order."""
    order = np.argsort(key)
    ordered = key[order]
    tied = np.flatnonzero(ordered[1:] == ordered[:-1])
    if len(tied):
        runs = np.unique(np.r_[tied, tied + 1])                  # the sorted positions inside runs of equal keys
        members = order[runs]
        order[runs] = members[np.lexsort((members, key[members]))]
    return order


def visits(invoices: pd.DataFrame, as_of: pd.Timestamp | None = None,
           codes: tuple[np.ndarray, np.ndarray, pa.Array] | None = None) -> pd.DataFrame:
    """One row per visit (see the module docstring), up to ``as_of`` inclusive when given.

    Columns: ``patient_id`` (the patient of the visit's earliest invoice); ``visited_at`` — the
    earliest ``paid_at`` of the visit's invoices with amount ≥ 0; ``day`` (its calendar day);
    ``amount`` — the net of all the visit's invoices up to ``as_of`` (refunds included; a refund on
    another day without a visit_id nets into no visit and is left out here, but counts in a
    patient's money); ``invoice_row`` — the position of the visit's earliest invoice in ``invoices``
    (to follow a visit back to per-invoice arrays). Sorted by patient, then time (to the second), then
    table order.

    ``codes``: `visit_and_patient_codes(invoices)` when the caller has them already (several as-of dates
    over one table: the grouping of a row does not depend on the others, so the rows after ``as_of`` are
    masked out rather than sliced off — no string column is copied).
    """
    code, patient, names = visit_and_patient_codes(invoices) if codes is None else codes
    amount = invoices["amount"].to_numpy(dtype="float64")
    at = invoices["paid_at"].to_numpy(dtype="datetime64[ns]").view("int64")
    valid = code >= 0
    if as_of is not None:
        valid &= up_to(invoices["paid_at"], as_of).to_numpy(bool)
    n_codes = int(code.max()) + 1 if valid.any() else 0
    net = np.bincount(code[valid], weights=np.nan_to_num(amount[valid]), minlength=n_codes)
    made = np.flatnonzero(valid & (amount >= 0))
    big = np.iinfo(np.int64).max
    earliest = np.full(n_codes, big, np.int64)
    np.minimum.at(earliest, code[made], at[made])
    first_row = np.full(n_codes, big, np.int64)                    # the visit's earliest invoice (table order on ties)
    earliest_rows = made[at[made] == earliest[code[made]]]
    np.minimum.at(first_row, code[earliest_rows], earliest_rows)
    first = ascending_rows(first_row[first_row != big], len(code))   # visits in table order (ties below)
    name_array = names
    rank = np.empty(len(names), np.int64)                          # patient codes in the order of their IDs
    rank[np.asarray(pc.sort_indices(name_array))] = np.arange(len(names))
    seconds = (at[first] - at[first].min()) // 10**9 if len(first) else at[first]
    first = first[stable_order(rank[patient[first]] * (int(seconds.max()) + 1 if len(first) else 1) + seconds)]
    when = at[first].view("datetime64[ns]")                        # by patient, then time (to the second)
    ids = pc.take(name_array, pa.array(patient[first]))
    return pd.DataFrame({
        "patient_id": pd.Series(ids.to_pandas(types_mapper=pd.ArrowDtype)).astype("string"),
        "visited_at": when,
        "day": when.astype("datetime64[D]").astype("datetime64[ns]"),
        "amount": net[code[first]],
        "invoice_row": first,
    })


def acquisitions(invoices: pd.DataFrame, patients: pd.DataFrame | None = None) -> pd.DataFrame:
    """Every patient the clinic acquired, with ``acquired_at``: the ``paid_at`` of their first invoice
    with amount ≥ 0 (a free first visit counts: the patient came). Patients with refunds only are
    absent, and so are existing patients (`existing_patients`, when ``patients`` has ``created_at``).
    Columns ``patient_id``, ``acquired_at``; one row per patient, sorted by patient."""
    return acquisition_rows(invoices, patients)[0]


def existing_patients(acquired: pd.DataFrame, patients: pd.DataFrame | None, since: pd.Timestamp,
                      keys: np.ndarray | None = None) -> np.ndarray:
    """Which rows of an acquisitions table are patients the clinic already had before the payment
    export begins: registered (``patients.created_at``) before the day ``since`` (the export's first
    payment) and more than `KNOWN_BEFORE_DAYS` before their own first payment (the margin keeps new
    patients who registered when booking ahead). Their first invoice in the data is a return, not
    an acquisition (left censoring). Without ``patients.created_at`` nobody is excluded. A bool mask.
    ``keys``: each acquired row's ingest ``patient_key``, when ``patients`` carries the same keys — the
    earliest registration is then found per key, no ID hashed."""
    if patients is None or "created_at" not in patients or pd.isna(since) or not len(acquired):
        return np.zeros(len(acquired), bool)
    if keys is not None and "patient_key" in patients:
        key = patients["patient_key"].to_numpy(np.int64)
        at = patients["created_at"].to_numpy(dtype="datetime64[ns]").view("int64")
        valid = (key >= 0) & patients["created_at"].notna().to_numpy(bool)
        never = np.iinfo(np.int64).max
        earliest = np.full(int(max(key.max(initial=-1), keys.max(initial=-1))) + 1, never, np.int64)
        np.minimum.at(earliest, key[valid], at[valid])
        found = earliest[keys]
        registered = np.where(found == never, np.iinfo(np.int64).min, found).view("datetime64[ns]")   # NaT: unknown
    else:
        created = patients.dropna(subset=["created_at"]).groupby("patient_id", sort=False)["created_at"].min()
        registered = created.reindex(acquired["patient_id"].astype("string").to_numpy()).to_numpy(dtype="datetime64[ns]")
    before = registered < np.datetime64(pd.Timestamp(since).normalize())
    long_before = registered < acquired["acquired_at"].to_numpy(dtype="datetime64[ns]") - np.timedelta64(KNOWN_BEFORE_DAYS, "D")
    return before & long_before


def acquisition_rows(invoices: pd.DataFrame, patients: pd.DataFrame | None = None
                     ) -> tuple[pd.DataFrame, np.ndarray, int]:
    """``acquisitions(invoices, patients)``, for each invoice row the position of its patient in it
    (-1: no patient, a patient never acquired, or an existing patient) — so callers that follow the
    acquired patients' invoices need not match the IDs again — and how many existing patients
    (`existing_patients`) were left out. Patients are grouped by their key (`patient_grouping`)."""
    code, ids = patient_grouping(invoices)
    dictionary = ids
    paid = invoices["paid_at"].to_numpy(dtype="datetime64[ns]").view("int64")
    kept = invoices["amount"].ge(0).fillna(False).to_numpy(bool) & invoices["paid_at"].notna().to_numpy(bool) & (code >= 0)
    never = np.iinfo(np.int64).max
    first = np.full(len(dictionary), never, dtype=np.int64)
    np.minimum.at(first, code[kept], paid[kept])
    acquired = np.flatnonzero(first != never)
    names = dictionary.take(pa.array(acquired))
    order = np.asarray(pc.sort_indices(names))
    out = pd.DataFrame({"patient_id": pd.Series(names.take(pa.array(order)).to_pandas(types_mapper=pd.ArrowDtype)
                                                ).astype("string"),
                        "acquired_at": first[acquired][order].view("datetime64[ns]")})
    by_key = "patient_key" in invoices and patients is not None and "patient_key" in patients   # one code list
    existing = existing_patients(out, patients, invoices["paid_at"].min(), acquired[order] if by_key else None)
    row = np.where(existing, -1, np.cumsum(~existing) - 1)              # old row -> kept row (-1: left out)
    row_of_code = np.full(len(dictionary) + 1, -1, dtype=np.int64)       # last slot: code -1 (no patient)
    row_of_code[acquired[order]] = row
    return out.loc[~existing].reset_index(drop=True), row_of_code[code], int(existing.sum())


def acquired_in(acquired: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    """The rows of ``acquisitions`` whose ``acquired_at`` lies in ``[start, end)``: the period's new patients."""
    at = acquired["acquired_at"]
    return acquired.loc[((at >= start) & (at < end)).fillna(False).to_numpy(bool)]


def touches(acquired: pd.DataFrame, leads: pd.DataFrame | None = None, patients: pd.DataFrame | None = None, *,
            repeat_channels: Iterable[str] = DEFAULT_REPEAT_CHANNELS) -> pd.DataFrame:
    """``acquired`` with ``first_touch`` and ``last_touch`` channel columns (see the module docstring).

    Leads count when their ``patient_id`` is known and their channel is not a repeat channel.
    First touch takes the earliest such lead whenever it was created; last touch the latest one
    created on or before ``acquired_at`` (ties: the later row of the leads table). A patient with
    no such lead falls back to ``patients.first_channel``, then to ``unknown``.
    """
    out = acquired[["patient_id", "acquired_at"]].reset_index(drop=True)
    n = len(out)
    first = np.full(n, -1, dtype=np.int64)                 # codes into `names`; -1 = no lead
    last = np.full(n, -1, dtype=np.int64)
    names = pd.Index([], dtype="string")
    if leads is not None and len(leads) and n:
        keep = (leads["patient_id"].notna() & leads["channel"].notna() & leads["created_at"].notna()
                & ~leads["channel"].isin(list(repeat_channels))).to_numpy(bool)
        pos = positions(leads["patient_id"], out["patient_id"])[keep]
        own = pos >= 0
        pos = pos[own]
        created = leads["created_at"].to_numpy(dtype="datetime64[ns]")[keep][own].view("int64")
        channel, names = pd.factorize(leads["channel"].astype("string")[keep][own])
        names = pd.Index(names, dtype="string")
        by_time = np.argsort(created, kind="stable")       # = np.lexsort((created, pos)), about twice as fast:
        order = by_time[np.argsort(pos[by_time], kind="stable")]   # by patient, then time, then table order
        pos_s, created_s, channel_s = pos[order], created[order], channel[order].astype(np.int64)
        start = np.r_[True, pos_s[1:] != pos_s[:-1]] if len(pos_s) else np.zeros(0, bool)
        first[pos_s[start]] = channel_s[start]
        acquired_ns = out["acquired_at"].to_numpy(dtype="datetime64[ns]").view("int64")
        before = created_s <= acquired_ns[pos_s]
        pos_b, channel_b = pos_s[before], channel_s[before]
        end = np.r_[pos_b[1:] != pos_b[:-1], True] if len(pos_b) else np.zeros(0, bool)
        last[pos_b[end]] = channel_b[end]
    # Every channel is a code into one list of names; the string columns are built once at the end.
    given = np.full(n, -1, dtype=np.int64)
    card_names = pd.Index([], dtype="string")
    if patients is not None and "first_channel" in patients and n:
        registered = patients.loc[patients["first_channel"].notna().to_numpy(bool)]
        row = positions(out["patient_id"], registered["patient_id"])      # first row of a duplicated patient
        card, card_names = pd.factorize(registered["first_channel"].astype("string"))
        found = row >= 0
        given[found] = card[row[found]]
    all_names = pd.Index(list(names) + list(card_names) + [UNKNOWN_CHANNEL], dtype="string").unique()
    lead_code = all_names.get_indexer(pd.Index(names, dtype="string"))
    card_code = all_names.get_indexer(pd.Index(card_names, dtype="string"))
    fallback = np.where(given >= 0, card_code[np.maximum(given, 0)] if len(card_code) else -1,
                        all_names.get_loc(UNKNOWN_CHANNEL))
    for col, code in (("first_touch", first), ("last_touch", last)):
        codes = np.where(code >= 0, lead_code[np.maximum(code, 0)] if len(lead_code) else -1, fallback)
        out[col] = pd.Series(all_names.to_numpy(dtype=object)[codes], dtype="string")
    return out


def home_branch(bookings: pd.DataFrame | None, as_of: pd.Timestamp | None = None) -> pd.Series | None:
    """A network's **home branch** of each patient: the branch of most of their visits — completed bookings
    with a ``branch_id`` (slot on or before ``as_of``'s day when given); a tie goes to the first branch in sort
    order. Returns branch_id (string) indexed by patient_id, patients without such a visit absent; None when
    the bookings carry no ``branch_id`` or a single branch (one clinic: nothing is split by branch).

    The one definition the modules' tables by branch use (RFM segments, cohorts). Vectorised: the (patient,
    branch) pairs are counted on integer codes (ingest's ``patient_key`` when present), one sort picks each
    patient's branch."""
    if bookings is None or "branch_id" not in bookings:
        return None
    branch = bookings["branch_id"]
    keep = (bookings["status"].eq("completed").fillna(False).to_numpy(bool) & branch.notna().to_numpy(bool)
            & bookings["patient_id"].notna().to_numpy(bool))
    if as_of is not None:
        keep &= up_to(bookings["slot_start"], as_of).to_numpy(bool)
    rows = np.flatnonzero(keep)
    # The branches as codes in sort order, from the column's dictionary (no string copied per row); codes
    # consecutive over the branches of the rows kept, as `pd.factorize(..., sort=True)` of those rows numbers them.
    encoded = arrow_dictionary(branch)
    dictionary = encoded.dictionary
    rank = np.empty(len(dictionary), np.int64)
    by_name = np.asarray(pc.sort_indices(dictionary), np.int64)
    rank[by_name] = np.arange(len(dictionary))
    b_rank = rank[encoded.indices.fill_null(0).to_numpy()[rows]]
    present = np.zeros(len(dictionary), bool)
    present[b_rank] = True
    if present.sum() < 2:
        return None
    b_code = (np.cumsum(present) - 1)[b_rank]
    b_values = dictionary.take(pa.array(by_name[present]))
    if "patient_key" in bookings:
        p_code = bookings["patient_key"].to_numpy(np.int64)[rows]
    else:
        p_code = pd.factorize(bookings["patient_id"].take(rows))[0].astype(np.int64)
    some_row = np.zeros(int(p_code.max()) + 1, np.int64)
    some_row[p_code] = rows                                      # a booking of each patient (one ID per code)
    n_b = len(b_values)
    pair = np.sort(p_code * n_b + b_code)                        # (patient, branch) pairs, counted by runs
    starts = np.flatnonzero(np.r_[True, pair[1:] != pair[:-1]])
    visits = np.diff(np.r_[starts, len(pair)])
    patient, branch_of = np.divmod(pair[starts], n_b)
    order = np.lexsort((branch_of, -visits, patient))           # per patient: most visits, then first branch
    top = order[np.r_[True, patient[order][1:] != patient[order][:-1]]]
    ids = bookings["patient_id"].take(some_row[patient[top]]).astype("string")
    return pd.Series(pd.arrays.ArrowStringArray(b_values.take(pa.array(branch_of[top]))).astype("string"),
                     index=pd.Index(ids.array, name="patient_id"), name="branch_id")
