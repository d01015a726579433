"""Data quality and reconciliation (module 01, DESIGN §4): the row ledger, ID-chain integrity,
counts that should agree across systems, duplicates, refunds and date coverage per table.

Every function takes canonical tables (DESIGN §3) and plain parameters and returns a DataFrame,
a Series or a number. Periods are half-open windows [start, end) of timestamps.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ..ingest.keys import key_of
from .ids import found_in, row_in, with_keys
from .patients import visits as patient_visits
from .periods import in_window, month_start

# The date that places a row of each table in time (doctors have none).
DATE_COLUMNS: dict[str, str] = {
    "leads": "created_at", "calls": "started_at", "bookings": "slot_start", "visits": "checked_in_at",
    "invoices": "paid_at", "schedule": "shift_start", "marketing_spend": "month", "site_traffic": "month",
    "patients": "created_at", "surveys": "answered_at",
}
# Tables of events whose exports should cover every month of an audit period; patients.created_at
# is a registration date that may lie years back, so it is shown but never judged.
EVENT_TABLES = ("leads", "calls", "bookings", "visits", "invoices", "schedule", "marketing_spend",
                "site_traffic", "surveys")

# ID-chain checks (see `id_chain`) in the order of the patient path.
CHECKS = ("bookings_lead_missing", "visits_without_booking", "invoices_without_visit", "paid_patients_not_in_crm",
          "bookings_unknown_doctor")

MISMATCH_TOLERANCE = 0.10      # months where the systems differ by more than this are flagged
SOURCES = ("completed_bookings", "visits", "paid_visits")

# Reason codes of the ingest ledger (audit_kit/ingest/load.py) and the fixes' actions.
REASON_CODES = ("missing", "invalid_date", "invalid_number", "invalid_yes_no", "unknown_status", "invalid_month",
                "duplicate_row", "duplicate_id", "empty_row", "empty", "before", "too_few_fields", "too_many_fields",
                "mixed_encoding", "contact_in_text", "name_in_text", "phone_as_id", "email_as_id",
                "linked_by_phone", "total_row", "product_row", "outgoing_call", "counted_into", "out_of_range",
                "assumed_day_first", "assumed_decimal")
ACTION_CODES = ("blanked", "set_to", "next_day", "masked", "hashed", "redecoded", "collapsed")
# Fix texts of the ingest (in brackets after the reason) -> action code; "set to ..." is matched apart.
ACTION_TEXTS = {"blanked": "blanked", "moved to next day": "next_day", "masked": "masked", "hashed": "hashed",
                "re-decoded": "redecoded", "collapsed": "collapsed"}
# How a lead is tied to a patient (ingest/link.py `_patient_link`).
LEAD_LINKS = ("id", "phone", "none")
_REASON_RE = (r"^(?:(?P<end>\w+) before (?P<other>\w+)|(?P<code>[a-z_]+)(?::(?P<column>\w+))?)"
              r"(?: \((?P<action>.*)\))?$")


# -- helpers ---------------------------------------------------------------------------------------

def _examples(ids: pd.Series, n: int) -> str:
    """The first n distinct IDs (in data order), comma-separated; IDs only, never PII."""
    return ", ".join(ids.dropna().drop_duplicates().head(n).astype(str).tolist())


def _isin(frame: pd.DataFrame, column: str, source: pd.DataFrame | None, source_column: str | None = None) -> pd.Series:
    """Whether each row's ``column`` ID is one of ``source``'s (missing -> False; no source: never), as a
    bool Series on the frame's index (`patients.found_in`: by ingest's integer keys, else Arrow's hash)."""
    if source is None:
        return pd.Series(False, index=frame.index)
    return pd.Series(found_in(frame, column, source, source_column), index=frame.index)


# -- 1. row ledger ---------------------------------------------------------------------------------

def ledger_overview(ledger: pd.DataFrame, reasons: pd.DataFrame) -> pd.DataFrame:
    """Per table: rows read, used, fixed, rejected, the reject rate and whether the ledger balances.

    ledger is `Ledger.frame()` (table, file, read, used, fixed, rejected), reasons is
    `Ledger.reasons_frame()`. reject_rate = rejected / read (NaN for a table with no rows read).
    balanced: read = used + rejected and rejected = the sum of the table's rejection reasons.
    """
    out = ledger[["table", "file", "read", "used", "fixed", "rejected"]].copy()
    by_reason = reasons.loc[reasons["kind"].eq("rejected")].groupby("table")["rows"].sum()
    explained = out["table"].map(by_reason).fillna(0).astype("int64")
    out["reject_rate"] = out["rejected"] / out["read"].where(out["read"] > 0)
    out["balanced"] = out["read"].eq(out["used"] + out["rejected"]) & out["rejected"].eq(explained)
    return out.reset_index(drop=True)


def ledger_totals(overview: pd.DataFrame) -> dict[str, float]:
    """Totals over tables: read, used, fixed, rejected (rows) and reject_rate = rejected / read (NaN if none read)."""
    totals = {k: int(overview[k].sum()) for k in ("read", "used", "fixed", "rejected")}
    totals["reject_rate"] = totals["rejected"] / totals["read"] if totals["read"] else float("nan")
    return totals


def parse_reasons(reasons: pd.Series) -> pd.DataFrame:
    """Split ledger reason texts into code, column, other column, action and action value.

    `missing:lead_id` -> (missing, lead_id); `duplicate_row` -> (duplicate_row, NA);
    `invalid_date:paid_at (blanked)` -> (invalid_date, paid_at, action blanked);
    `empty:channel (set to (не указан))` -> (empty, channel, action set_to, value "(не указан)");
    `slot_end before slot_start (blanked)` -> (before, slot_end, other slot_start, action blanked);
    `... (moved to next day)` -> action next_day. Text that fits no pattern gets code NA.
    """
    parts = reasons.astype("string").str.extract(_REASON_RE)
    before = parts["end"].notna()
    action_text = parts["action"]
    set_to = action_text.str.startswith("set to ").fillna(False).astype(bool)
    action = pd.Series(pd.NA, index=reasons.index, dtype="string")
    for text, code in ACTION_TEXTS.items():
        action = action.mask(action_text.eq(text).fillna(False).astype(bool), code)
    action = action.mask(set_to, "set_to")
    action = action.mask(action.isna() & action_text.notna(), "other")
    return pd.DataFrame({
        "code": parts["code"].mask(before, "before").astype("string"),
        "column": parts["column"].mask(before, parts["end"]).astype("string"),
        "other": parts["other"].astype("string"),
        "action": action,
        "action_value": action_text.str.slice(len("set to ")).where(set_to).astype("string"),
    }, index=reasons.index)


def ledger_rejections(reasons: pd.DataFrame) -> pd.DataFrame:
    """Rejected rows other than duplicates (empty, missing or unreadable values), per table and
    reason, most rows first. Duplicates are reported by `ledger_duplicates`."""
    rejected = reasons.loc[reasons["kind"].eq("rejected")
                           & ~reasons["reason"].astype("string").str.startswith("duplicate_").fillna(False)]
    return rejected.sort_values("rows", ascending=False, kind="stable").reset_index(drop=True)


def ledger_duplicates(reasons: pd.DataFrame) -> pd.DataFrame:
    """Rows the ingest rejected as duplicates, per table and kind (duplicate_row: every mapped cell
    equal to an earlier row; duplicate_id: the table's ID repeats), with example source row numbers."""
    codes = reasons["reason"].astype("string").str.extract(r"^(duplicate_row|duplicate_id)")[0]
    picked = reasons.loc[reasons["kind"].eq("rejected") & codes.notna()]
    return pd.DataFrame({"table": picked["table"], "kind": codes[picked.index], "rows": picked["rows"],
                         "example_rows": picked["example_rows"]}).reset_index(drop=True)


# -- 2. ID-chain integrity -------------------------------------------------------------------------

def bookings_lead_missing(bookings: pd.DataFrame, leads: pd.DataFrame) -> pd.Series:
    """Bookings whose lead_id is given but is not a lead_id of the leads table (bool per booking).

    A booking with no lead_id (walk-in, repeat patient) is not counted here.
    """
    given = bookings["lead_id"].notna()
    return (given & ~_isin(bookings, "lead_id", leads)).astype(bool)


def visits_without_booking(visits: pd.DataFrame, bookings: pd.DataFrame) -> pd.Series:
    """Visits whose booking_id is empty or not a booking_id of the bookings table (bool per visit)."""
    return (visits["booking_id"].isna() | ~_isin(visits, "booking_id", bookings)).astype(bool)


def invoices_without_visit(invoices: pd.DataFrame, visits: pd.DataFrame) -> pd.Series:
    """Invoices whose visit_id is empty or not a visit_id of the visits table (bool per invoice)."""
    return (invoices["visit_id"].isna() | ~_isin(invoices, "visit_id", visits)).astype(bool)


def bookings_unknown_doctor(bookings: pd.DataFrame, doctors: pd.DataFrame) -> pd.Series:
    """Bookings whose doctor_id is not in the doctors table (bool per booking)."""
    return (~_isin(bookings, "doctor_id", doctors)).astype(bool)


def paid_patients_not_in_crm(invoices: pd.DataFrame, leads: pd.DataFrame | None = None,
                             patients: pd.DataFrame | None = None) -> pd.Series:
    """Paying patients unknown to the CRM: distinct patient_id with at least one invoice of a positive
    amount that appears neither in leads.patient_id nor in patients.patient_id (whichever are given).

    Returns the missing patient IDs (a Series of distinct IDs, in data order).
    """
    paying = invoices.loc[invoices["amount"].gt(0).fillna(False).to_numpy(bool)
                          & invoices["patient_id"].notna().to_numpy(bool),
                          with_keys(invoices, ["patient_id"])].drop_duplicates("patient_id")
    known = _isin(paying, "patient_id", leads) | _isin(paying, "patient_id", patients)
    return paying.loc[~known.to_numpy(bool), "patient_id"].reset_index(drop=True)


def id_chain(tables: Mapping[str, pd.DataFrame], *, start: pd.Timestamp | None = None,
             end: pd.Timestamp | None = None, examples: int = 5) -> pd.DataFrame:
    """Integrity of the ID chain lead → booking → visit → invoice (and patients, doctors).

    One row per check whose tables are present (CHECKS): `checked` rows of the checked table in
    [start, end) by its date (bookings.slot_start, visits.checked_in_at, invoices.paid_at) — for
    bookings_lead_missing only bookings with a lead_id count, for paid_patients_not_in_crm the unit
    is distinct paying patients; `broken` of them fail the check; share = broken / checked (NaN
    when nothing was checked); `amount` is the net invoice amount of the broken invoices
    (invoices_without_visit only, else NaN); `examples` a few IDs of broken rows. The referenced
    table is searched whole, whatever the dates.
    """
    return id_chains(tables, {None: (start, end)}, examples=examples).drop(columns="period")


def first_distinct(ids: pd.Series, rows: np.ndarray, n: int) -> str:
    """`_examples` of ``ids`` at the positions ``rows`` (ascending), taking only as many rows' IDs as it needs:
    the first n distinct IDs among them, comma-separated (the rows' IDs are never copied whole)."""
    size = max(4 * n, 64)
    while True:
        part = ids.take(rows[:size])
        if size >= len(rows) or part.dropna().nunique() >= n:
            return _examples(part, n)
        size *= 8


def id_chains(tables: Mapping[str, pd.DataFrame], periods: Mapping[Any, tuple[pd.Timestamp | None, pd.Timestamp | None]],
              *, examples: int = 5) -> pd.DataFrame:
    """`id_chain` of every period ([start, end) by name), one frame with a ``period`` column (periods in the given
    order). Each check's broken rows are found once over the whole table (`bookings_lead_missing`, …);
    a period only counts its rows and takes the IDs of its first broken rows for the examples."""
    rows = []

    def add(period, check: str, checked: int, broken: np.ndarray, ids: pd.Series, amount: float = np.nan):
        n = len(broken)
        rows.append({"check": check, "checked": checked, "broken": n, "share": n / checked if checked else np.nan,
                     "amount": amount, "examples": first_distinct(ids, broken, examples), "period": period})

    checks = []          # (check, table, bad rows over the whole table, rows that count as checked)
    if "bookings" in tables and "leads" in tables:
        b = tables["bookings"]
        given = b["lead_id"].notna().to_numpy(bool)
        checks.append(("bookings_lead_missing", "bookings", bookings_lead_missing(b, tables["leads"]).to_numpy(bool),
                       given, "booking_id"))
    if "visits" in tables and "bookings" in tables:
        v = tables["visits"]
        checks.append(("visits_without_booking", "visits",
                       visits_without_booking(v, tables["bookings"]).to_numpy(bool), None, "visit_id"))
    if "invoices" in tables and "visits" in tables:
        inv = tables["invoices"]
        checks.append(("invoices_without_visit", "invoices",
                       invoices_without_visit(inv, tables["visits"]).to_numpy(bool), None, "invoice_id"))
    crm = "invoices" in tables and ("leads" in tables or "patients" in tables)
    if crm:
        inv = tables["invoices"]
        paying_rows = inv["amount"].gt(0).fillna(False).to_numpy(bool) & inv["patient_id"].notna().to_numpy(bool)
        patient_key = key_of(inv, "patient").astype(np.int64)
    if "bookings" in tables and "doctors" in tables:
        b = tables["bookings"]
        checks.append(("bookings_unknown_doctor", "bookings",
                       bookings_unknown_doctor(b, tables["doctors"]).to_numpy(bool), None, "booking_id"))
    order = [c[0] for c in checks]
    if crm:
        order.insert(len([c for c in checks if c[0] != "bookings_unknown_doctor"]), "paid_patients_not_in_crm")
    names = sorted({c[1] for c in checks} | ({"invoices"} if crm else set()))
    for period, (start, end) in periods.items():
        inside = {name: in_window(tables[name][DATE_COLUMNS[name]], start, end).to_numpy(bool) for name in names}
        by_check = {}
        for check, name, bad, counted, id_column in checks:
            window = inside[name]
            checked = int((window & counted).sum()) if counted is not None else int(window.sum())
            broken = np.flatnonzero(window & bad)
            amount = (float(tables[name]["amount"].take(broken).sum()) if check == "invoices_without_visit"
                      else np.nan)
            by_check[check] = (checked, broken, tables[name][id_column], amount)
        for check in order:
            if check == "paid_patients_not_in_crm":
                inv = tables["invoices"]
                paying = np.flatnonzero(inside["invoices"] & paying_rows)
                _, first = np.unique(patient_key[paying], return_index=True)      # each paying patient's first row
                distinct = inv.iloc[np.sort(paying[first]), inv.columns.get_indexer(with_keys(inv, ["patient_id", "amount"]))]
                missing = paid_patients_not_in_crm(distinct, tables.get("leads"), tables.get("patients"))
                rows.append({"check": check, "checked": len(distinct), "broken": len(missing),
                             "share": len(missing) / len(distinct) if len(distinct) else np.nan, "amount": np.nan,
                             "examples": _examples(missing, examples), "period": period})
            else:
                add(period, check, *by_check[check])
    return pd.DataFrame(rows, columns=["check", "checked", "broken", "share", "amount", "examples", "period"])


def lead_links(leads: pd.DataFrame, start: pd.Timestamp | None = None,
               end: pd.Timestamp | None = None) -> pd.DataFrame:
    """How the leads created in [start, end) are tied to a patient, one row per way (LEAD_LINKS).

    id: the export gave the lead's patient_id; phone: the ingest found it by the hashed phone
    (ingest/link.py, `_patient_link`); none: no patient. Columns link, leads (count) and share
    (of the window's leads; NaN when there are none). Tables without `_patient_link` count a
    given patient_id as id.
    """
    window = leads.loc[in_window(leads["created_at"], start, end)]
    if "_patient_link" in window:
        how = window["_patient_link"].fillna("none")
    else:
        how = pd.Series(np.where(window["patient_id"].notna(), "id", "none"), index=window.index)
    counts = how.value_counts().reindex(list(LEAD_LINKS), fill_value=0).astype("int64")
    total = int(counts.sum())
    share = counts / total if total else pd.Series(np.nan, index=counts.index)
    return pd.DataFrame({"link": list(LEAD_LINKS), "leads": counts.to_numpy(), "share": share.to_numpy(dtype=float)})


# -- 3. counts that should agree across systems ----------------------------------------------------

def paid_visits(invoices: pd.DataFrame) -> pd.DataFrame:
    """Paid visits: the visits of `patients.visits` (the one definition of a visit: an invoice's
    visit_id, else the patient-day; made by an invoice of amount ≥ 0) whose net amount, refunds
    included, is positive.

    Data quality counts *paid* visits rather than visits on purpose: it sets the visits the
    accounting system was paid for against completed bookings (CRM) and check-ins (MIS), and a free
    or fully refunded visit has no payment to reconcile. Columns: patient_id, paid_at (the visit's
    first payment), day, amount (net).
    """
    seen = patient_visits(invoices)
    return (seen.loc[seen["amount"] > 0, ["patient_id", "visited_at", "day", "amount"]]
            .rename(columns={"visited_at": "paid_at"}).reset_index(drop=True))


def monthly_counts(bookings: pd.DataFrame | None = None, visits: pd.DataFrame | None = None,
                   invoices: pd.DataFrame | None = None) -> pd.DataFrame:
    """Counts per calendar month that should agree across systems.

    completed_bookings: bookings with status 'completed' by month of slot_start (CRM);
    visits: visits by month of checked_in_at (MIS); paid_visits: paid visits (see `paid_visits`)
    by month of their first payment (accounting). Months run over the span all given tables share
    (latest first month to earliest last month), so an export that starts later is a coverage
    question, not a mismatch; inside it a month without rows counts 0. An absent table gives an
    all-NA column. Index: month (first day), named 'month'.
    """
    series = {}
    if bookings is not None:
        done = bookings.loc[bookings["status"].eq("completed").fillna(False).astype(bool), "slot_start"]
        series["completed_bookings"] = month_start(done.dropna())
    if visits is not None:
        series["visits"] = month_start(visits["checked_in_at"].dropna())
    if invoices is not None:
        series["paid_visits"] = month_start(paid_visits(invoices)["paid_at"].dropna())
    present = {k: v for k, v in series.items() if len(v)}
    if not present:
        return pd.DataFrame(columns=list(SOURCES), index=pd.DatetimeIndex([], name="month"), dtype="float64")
    first = max(v.min() for v in present.values())
    last = min(v.max() for v in present.values())
    months = pd.date_range(first, last, freq="MS", name="month") if first <= last else pd.DatetimeIndex([], name="month")
    out = pd.DataFrame(index=months)
    for name in SOURCES:
        if name in series:
            out[name] = series[name].value_counts().reindex(months, fill_value=0).astype("float64")
        else:
            out[name] = np.nan
    return out


def reconcile_months(counts: pd.DataFrame, tolerance: float = MISMATCH_TOLERANCE) -> pd.DataFrame:
    """Flag months where the systems disagree.

    gap = (largest − smallest) / largest of the sources present in the month (140 vs 120 ->
    20 / 140 = 14.3 %); NaN when fewer than two sources are given or all are 0. mismatch = gap >
    tolerance. Returns the counts with columns gap and mismatch added and month as a column.
    """
    values = counts[list(SOURCES)]
    present = values.notna().sum(axis=1)
    top, bottom = values.max(axis=1), values.min(axis=1)
    gap = ((top - bottom) / top.where(top > 0)).where(present >= 2)
    out = counts.copy()
    out["gap"] = gap
    out["mismatch"] = gap.gt(tolerance).fillna(False).astype(bool)
    return out.reset_index()


def months_mismatched(reconciled: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> int | None:
    """Number of flagged months whose first day lies in [start, end); None when no two systems can be compared."""
    if reconciled.empty or reconciled["gap"].isna().all():
        return None
    inside = in_window(reconciled["month"], start, end)
    return int((reconciled["mismatch"] & inside).sum())


def unpaid_completed(reconciled: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> float:
    """Completed bookings not matched by a paid visit: Σ over months in [start, end) of
    max(completed_bookings − paid_visits, 0) (count; NaN when either source is absent)."""
    inside = reconciled.loc[in_window(reconciled["month"], start, end)]
    if inside.empty or inside["completed_bookings"].isna().all() or inside["paid_visits"].isna().all():
        return float("nan")
    return float((inside["completed_bookings"] - inside["paid_visits"]).clip(lower=0).sum())


def average_check(invoices: pd.DataFrame, start: pd.Timestamp | None = None, end: pd.Timestamp | None = None) -> float:
    """Net invoice amount in [start, end) (refunds netted) / paid visits first paid in it (money; NaN if none)."""
    inv = invoices.loc[in_window(invoices["paid_at"], start, end)]
    visits = paid_visits(inv)
    return float(inv["amount"].sum() / len(visits)) if len(visits) else float("nan")


# -- 4. duplicates and refunds ---------------------------------------------------------------------

def near_duplicates(df: pd.DataFrame, subset: list[str], among: pd.Series | None = None) -> pd.Series:
    """Rows that repeat an earlier row on every column of subset (the first of a group is not
    counted; rows with a missing value in subset are never duplicates). Only rows where `among`
    is True take part (default: all). Bool per row."""
    eligible = df[subset].notna().all(axis=1)
    if among is not None:
        eligible &= among.fillna(False).astype(bool)
    by = [next((k for k in with_keys(df, [c])[1:]), c) for c in subset]   # an ID by its ingest key (same groups)
    eligible = eligible.to_numpy(bool)
    out = np.zeros(len(df), bool)
    out[eligible] = df.loc[eligible, by].duplicated(keep="first").to_numpy(bool)
    return pd.Series(out, index=df.index)


def active_bookings(bookings: pd.DataFrame) -> pd.Series:
    """Bookings that hold their slot: status completed or no_show (or unknown). A cancelled or
    rescheduled booking freed its slot, so rebooking the same slot is not a duplicate."""
    return ~bookings["status"].isin(["cancelled", "rescheduled"]).fillna(False).astype(bool)


NEAR_DUPLICATE_KEYS = {"bookings": (["patient_id", "doctor_id", "slot_start"], "booking_id"),
                       "invoices": (["patient_id", "paid_at", "amount"], "invoice_id")}


def near_duplicate_rows(tables: Mapping[str, pd.DataFrame]) -> dict[str, pd.Series]:
    """`near_duplicates` of each table of NEAR_DUPLICATE_KEYS that is given (bookings: among those
    holding their slot), by table name — found once, for `duplicates` and `near_duplicate_amount`."""
    return {name: near_duplicates(tables[name], subset, active_bookings(tables[name]) if name == "bookings" else None)
            for name, (subset, _) in NEAR_DUPLICATE_KEYS.items() if name in tables}


def duplicates(tables: Mapping[str, pd.DataFrame], reasons: pd.DataFrame | None = None, *,
               examples: int = 5, near_rows: Mapping[str, pd.Series] | None = None) -> pd.DataFrame:
    """Duplicates rejected at ingest (from the ledger) and near-duplicates still in the data.

    kind duplicate_row / duplicate_id: rows the ingest rejected (exact copies, repeated IDs);
    kind near_duplicate: rows kept in the data that repeat an earlier row's patient + doctor +
    slot_start (bookings holding their slot, see `active_bookings`) or patient + paid_at + amount
    (invoices) under another ID. rows = count of
    extra rows; amount = their net invoice amount (near-duplicate invoices only, else NaN).
    example_rows are source row numbers, example_ids the extra rows' IDs. ``near_rows``: the
    `near_duplicate_rows` of these tables when the caller has them already.
    """
    parts = []
    if reasons is not None and len(reasons):
        led = ledger_duplicates(reasons)
        led["amount"] = np.nan
        led["example_ids"] = ""
        parts.append(led)
    near = []
    near_rows = near_duplicate_rows(tables) if near_rows is None else near_rows
    for name, (subset, key) in NEAR_DUPLICATE_KEYS.items():
        if name not in tables:
            continue
        df = tables[name]
        dup = near_rows[name]
        source = df["_source_row"] if "_source_row" in df else pd.Series(pd.NA, index=df.index)
        near.append({"table": name, "kind": "near_duplicate", "rows": int(dup.sum()),
                     "example_rows": _examples(source[dup], examples),
                     "amount": float(df.loc[dup, "amount"].sum()) if name == "invoices" else np.nan,
                     "example_ids": _examples(df.loc[dup, key], examples)})
    if near:
        parts.append(pd.DataFrame(near))
    columns = ["table", "kind", "rows", "amount", "example_rows", "example_ids"]
    if not parts:
        return pd.DataFrame(columns=columns)
    return pd.concat(parts, ignore_index=True)[columns]


def near_duplicate_amount(invoices: pd.DataFrame, start: pd.Timestamp | None = None,
                          end: pd.Timestamp | None = None, near: pd.Series | None = None) -> float:
    """Net amount of near-duplicate invoices (see `duplicates`) paid in [start, end) (money; 0 if none);
    ``near``: the invoices' `near_duplicates` when the caller has them already."""
    subset, _ = NEAR_DUPLICATE_KEYS["invoices"]
    near = near_duplicates(invoices, subset) if near is None else near
    extra = near & in_window(invoices["paid_at"], start, end)
    return float(invoices.loc[extra, "amount"].sum())


def refunds(invoices: pd.DataFrame, start: pd.Timestamp | None = None, end: pd.Timestamp | None = None) -> dict[str, float]:
    """Refunds in [start, end) by paid_at: invoices with a negative amount (netted in every revenue figure).

    refunds: count; refund_amount: their total as a positive number; gross: total of positive
    invoices; refund_share = refund_amount / gross (NaN when gross is 0); orphan_refunds: refunds
    of patients with no positive invoice anywhere in the data (a refund of what?).
    """
    inv = invoices.loc[in_window(invoices["paid_at"], start, end).to_numpy(bool), with_keys(invoices, ["patient_id", "amount"])]
    negative = inv["amount"].lt(0).fillna(False).astype(bool)
    refund_amount = float(-inv.loc[negative, "amount"].sum())
    gross = float(inv.loc[inv["amount"].gt(0).fillna(False).astype(bool), "amount"].sum())
    payers = invoices.loc[invoices["amount"].gt(0).fillna(False).to_numpy(bool), with_keys(invoices, ["patient_id"])]
    orphan = int((negative & ~_isin(inv, "patient_id", payers)).sum())
    return {"refunds": int(negative.sum()), "refund_amount": refund_amount, "gross": gross,
            "refund_share": refund_amount / gross if gross else float("nan"), "orphan_refunds": orphan}


# -- 5. date coverage ------------------------------------------------------------------------------

def date_coverage(tables: Mapping[str, pd.DataFrame],
                  periods: Mapping[str, tuple[pd.Timestamp, pd.Timestamp]]) -> pd.DataFrame:
    """Per table with a date (DATE_COLUMNS): what time its rows cover.

    rows; dated_rows (date given); first, last (earliest / latest date); months_covered (calendar
    months with ≥ 1 row); months_in_span (months from the first to the last); empty_months
    (months inside the span with no row) and missing_months ('YYYY-MM, ...'); rows_outside
    (dated rows in none of the periods [start, end)); and for each period p, `<p>_coverage` =
    share of the calendar months touching the period that have ≥ 1 row (1.0 = covered).
    """
    rows = []
    for name, column in DATE_COLUMNS.items():
        if name not in tables:
            continue
        dates = tables[name][column]
        dated = dates.dropna()
        months = pd.DatetimeIndex(_months_present(dated.to_numpy()))
        row = {"table": name, "date_column": column, "rows": len(dates), "dated_rows": len(dated),
               "first": dated.min() if len(dated) else pd.NaT, "last": dated.max() if len(dated) else pd.NaT,
               "months_covered": len(months)}
        if len(months):
            span = pd.date_range(months.min(), months.max(), freq="MS")
            missing = span.difference(months)
        else:
            span = missing = pd.DatetimeIndex([])
        row |= {"months_in_span": len(span), "empty_months": len(missing),
                "missing_months": ", ".join(missing.strftime("%Y-%m"))}
        inside = pd.Series(False, index=dated.index)
        for p, (start, end) in periods.items():
            inside |= in_window(dated, start, end)
            wanted = pd.date_range(pd.Timestamp(start).to_period("M").to_timestamp(),
                                   pd.Timestamp(end) - pd.Timedelta(nanoseconds=1), freq="MS")
            row[f"{p}_coverage"] = wanted.isin(months).mean() if len(wanted) else np.nan
        row["rows_outside"] = int((~inside).sum()) if periods else 0
        rows.append(row)
    columns = ["table", "date_column", "rows", "dated_rows", "first", "last", "months_covered", "months_in_span",
               "empty_months", "missing_months", "rows_outside"] + [f"{p}_coverage" for p in periods]
    out = pd.DataFrame(rows, columns=columns)
    out["first"] = pd.to_datetime(out["first"]).astype("datetime64[ns]")
    out["last"] = pd.to_datetime(out["last"]).astype("datetime64[ns]")
    return out


def _months_present(dates: np.ndarray) -> np.ndarray:
    """The distinct calendar months of the (non-missing) dates, ascending, as datetime64[ns] first days:
    counted per month number (`np.bincount`) rather than sorted (`np.unique`), linear in the rows."""
    month = dates.astype("datetime64[M]").astype(np.int64)
    if not len(month):
        return np.array([], dtype="datetime64[ns]")
    first = int(month.min())
    present = np.flatnonzero(np.bincount(month - first)) + first
    return present.astype("datetime64[M]").astype("datetime64[ns]")


def coverage_gaps(coverage: pd.DataFrame, periods: list[str]) -> pd.DataFrame:
    """Event tables (EVENT_TABLES) that miss part of an audit period or have empty months inside
    their span: the coverage rows where some `<p>_coverage` < 1 or empty_months > 0."""
    event = coverage["table"].isin(EVENT_TABLES) & coverage["dated_rows"].gt(0)
    short = pd.Series(False, index=coverage.index)
    for p in periods:
        short |= coverage[f"{p}_coverage"].lt(1).fillna(False).astype(bool)
    return coverage.loc[event & (short | coverage["empty_months"].gt(0))].reset_index(drop=True)


# -- what was read: sources, CRM stages, tables that lost most rows -----------------------------------
LOSS_SHARE = 0.5      # a table that rejects more than this share of its rows is named first (TableLedger.loss)


def sources_read(ledger) -> pd.DataFrame:
    """One row per file of every table (`ingest.Ledger`): ``table``, ``file``, ``preset`` (the id of
    the source preset it was read by, NA when read by column names), ``read``, ``used``, ``rejected``."""
    rows = []
    for name, t in ledger.tables.items():
        files = t.files or {t.file: {"preset": t.preset, "read": t.read, "used": t.used, "rejected": t.rejected}}
        for file, f in files.items():
            rows.append({"table": name, "file": file, "preset": f.get("preset"), "read": f["read"],
                         "used": f["used"], "rejected": f["rejected"]})
    out = pd.DataFrame(rows, columns=["table", "file", "preset", "read", "used", "rejected"])
    out["preset"] = out["preset"].astype("string")
    return out


def lead_stages(leads: pd.DataFrame, known: Mapping[str, str]) -> pd.DataFrame:
    """The CRM stages of the leads with their count and meaning: ``status``, ``outcome`` (won | lost |
    open, ingest/presets.py lead_outcome), ``leads`` and ``mapped`` (True when a preset's system stage
    or the config's `stages:` names it; False: an account's own stage read as open until the config
    maps it). `known` is every normalised stage name the presets and the config map. Most frequent first."""
    from ..ingest.coerce import normalise_text

    columns = ["status", "outcome", "leads", "mapped"]
    if "status" not in leads or "outcome" not in leads or leads["outcome"].isna().all():
        return pd.DataFrame(columns=columns)
    part = leads.loc[leads["status"].notna(), ["status", "outcome"]]
    out = part.groupby(["status", "outcome"], sort=False, observed=True).size().rename("leads").reset_index()
    out = out.astype({c: "string" for c in ("status", "outcome") if isinstance(out[c].dtype, pd.CategoricalDtype)})
    out["mapped"] = normalise_text(out["status"]).isin(list(known)).fillna(False).astype(bool).to_numpy()
    return out.sort_values(["leads", "status"], ascending=[False, True], kind="stable").reset_index(drop=True)[columns]


def loss_warnings(overview: pd.DataFrame, reasons: pd.DataFrame, samples: Mapping[str, Mapping[str, str]]
                  ) -> pd.DataFrame:
    """Tables that rejected more than LOSS_SHARE of their rows (from `ledger_overview` and
    `Ledger.reasons_frame`): ``table``, ``rejected``, ``read``, ``reject_rate``, ``reason`` (the most
    frequent rejection reason) and ``example`` (a raw value behind it, when kept)."""
    columns = ["table", "rejected", "read", "reject_rate", "reason", "example"]
    lost = overview.loc[overview["reject_rate"].gt(LOSS_SHARE).fillna(False).astype(bool)]
    if lost.empty:
        return pd.DataFrame(columns=columns)
    rejected = reasons.loc[reasons["kind"].eq("rejected")].sort_values(["table", "rows"], ascending=[True, False],
                                                                       kind="stable")
    top = rejected.drop_duplicates("table").set_index("table")["reason"]
    out = lost[["table", "rejected", "read", "reject_rate"]].copy()
    out["reason"] = out["table"].map(top)
    out["example"] = [samples.get(t, {}).get(r) for t, r in zip(out["table"], out["reason"])]
    return out.reset_index(drop=True)[columns]


# -- event order: times the MIS wrote in an impossible order (kept, counted, shown) --------------------
ORDER_CHECKS = ("booked_after_slot", "checkin_before_booking", "visit_ends_before_start")


def event_order(tables: Mapping[str, pd.DataFrame], ledger=None, examples: int = 5) -> pd.DataFrame:
    """Rows whose times are in an impossible order — kept as the clinic's MIS wrote them and counted:
    ``booked_after_slot`` bookings whose ``created_at`` is after their ``slot_start``;
    ``checkin_before_booking`` visits whose ``checked_in_at`` is before their booking's ``created_at``
    (the booking found by ``visits.booking_id``); ``visit_ends_before_start`` visits whose ``ended_at``
    was before ``started_at`` (ingest blanked that ended_at; counted from the ledger's fixes).
    One row per check whose data is present: ``check``, ``table``, ``checked`` (rows with both times),
    ``rows`` (in the wrong order), ``share`` (rows ÷ checked) and ``example_rows`` (source rows)."""
    out = []

    def add(check: str, table: str, checked: int, bad: np.ndarray, source_rows) -> None:
        rows = int(bad.sum())
        where = ", ".join(str(int(r)) for r in np.asarray(source_rows)[bad][:examples])
        out.append({"check": check, "table": table, "checked": checked, "rows": rows,
                    "share": rows / checked if checked else np.nan, "example_rows": where})

    bookings, visits = tables.get("bookings"), tables.get("visits")
    if bookings is not None and bookings["created_at"].notna().any():
        both = (bookings["created_at"].notna() & bookings["slot_start"].notna()).to_numpy(bool)
        bad = both & (bookings["created_at"] > bookings["slot_start"]).fillna(False).to_numpy(bool)
        add("booked_after_slot", "bookings", int(both.sum()), bad, bookings["_source_row"])
    if visits is not None and bookings is not None and bookings["created_at"].notna().any():
        pos = row_in(visits, "booking_id", bookings)                 # the first booking with the visit's ID
        booked_at = np.where(pos >= 0, bookings["created_at"].to_numpy()[np.maximum(pos, 0)], np.datetime64("NaT"))
        both = (pos >= 0) & ~pd.isna(booked_at) & visits["checked_in_at"].notna().to_numpy(bool)
        bad = both & (visits["checked_in_at"].to_numpy() < booked_at)
        add("checkin_before_booking", "visits", int(both.sum()), bad, visits["_source_row"])
    if visits is not None and ledger is not None and "visits" in ledger.tables:
        fixes = ledger.tables["visits"].fixes
        rows = sum(n for reason, n in fixes.items() if reason.startswith("ended_at before started_at"))
        checked = int((visits["started_at"].notna()).sum())
        examples_rows = next((v for k, v in ledger.tables["visits"].examples.items()
                              if k.startswith("ended_at before started_at")), [])
        out.append({"check": "visit_ends_before_start", "table": "visits", "checked": checked, "rows": int(rows),
                    "share": rows / checked if checked else np.nan,
                    "example_rows": ", ".join(str(r) for r in examples_rows[:examples])})
    return pd.DataFrame(out, columns=["check", "table", "checked", "rows", "share", "example_rows"])
