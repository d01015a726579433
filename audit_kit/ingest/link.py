"""Links by hashed phone where exports lack IDs: leads -> patients (patient_id), leads -> calls (call_id).

Runs in `ingest` after every table is read, so every module sees the linked tables. Phones are
compared as their pseudonyms (ingest/pii.py hashes +7 (912) 345-67-89 and 89123456789 alike).
Each link is a fix in the ledger ("linked_by_phone:<column>"); leads get `_patient_link`
(id | phone | none): how their patient_id was found.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from .keys import member, positions, shared_keys

# Tables whose rows carry both a patient_id and a phone: together they form the phone book.
PHONE_BOOK_TABLES = ("patients", "bookings", "visits", "invoices", "surveys", "leads")
LINK_VIA = {"id": "id", "phone": "phone", "none": "none"}


def phone_book(tables: Mapping[str, pd.DataFrame]) -> pd.Series:
    """Hashed phone -> patient_id from every table with both columns; a phone shared by two patients
    (a family number) is left out, as it cannot say which of them called."""
    pairs = [df[["phone", "patient_id"]].dropna() for name, df in tables.items()      # most rows of a visit
             if name in PHONE_BOOK_TABLES and {"phone", "patient_id"} <= set(df.columns)]     # export lack a phone
    if not pairs:
        return pd.Series(dtype="string")
    book = pd.concat(pairs, ignore_index=True).drop_duplicates()
    unique = book.groupby("phone")["patient_id"].transform("size").eq(1)
    return book.loc[unique].set_index("phone")["patient_id"].astype("string")


def link_patients(leads: pd.DataFrame, book: pd.Series) -> pd.Series:
    """patient_id for leads without one, from the phone book (NA where the phone is unknown or shared)."""
    need = leads["patient_id"].isna() & leads["phone"].notna()
    at = positions(leads["phone"].where(need), book.index.to_series())      # Arrow's hash lookup
    found = pd.api.extensions.take(book.astype("string").array, at, allow_fill=True)
    return pd.Series(found, index=leads.index, dtype="string")


def link_calls(leads: pd.DataFrame, calls: pd.DataFrame, window_minutes: float) -> pd.Series:
    """call_id for leads without one: the call from the same phone nearest to the lead's created_at,
    at most `window_minutes` apart; a call already named by a lead, or nearer to another lead, is not
    reused. Returns a call_id per lead (NA where none fits)."""
    out = pd.Series(pd.NA, index=leads.index, dtype="string")
    need = leads["call_id"].isna() & leads["phone"].notna() & leads["created_at"].notna()
    taken = member(calls["call_id"], leads["call_id"].dropna())      # a call a lead already names (Arrow's is_in)
    free = calls["caller_phone"].notna() & calls["started_at"].notna() & ~taken
    if not need.any() or not free.any():
        return out
    # phones as one integer code list for both sides: merge_asof matches `by` on integers, not strings
    lead_phone, call_phone = shared_keys(leads.loc[need, "phone"], calls.loc[free, "caller_phone"])
    left = pd.DataFrame({"lead": leads.index[need.to_numpy()], "phone": lead_phone,
                         "at": leads.loc[need, "created_at"].to_numpy()}).sort_values("at", kind="stable")
    right = pd.DataFrame({"call_id": calls.loc[free, "call_id"].astype(object),
                          "phone": call_phone,
                          "call_at": calls.loc[free, "started_at"].to_numpy()}).sort_values("call_at", kind="stable")
    right["at"] = right["call_at"]
    matched = pd.merge_asof(left, right, on="at", by="phone", direction="nearest",
                            tolerance=pd.Timedelta(minutes=float(window_minutes)))
    matched = matched.dropna(subset=["call_id"])
    matched["gap"] = (matched["at"] - matched["call_at"]).abs()
    matched = matched.sort_values("gap", kind="stable").drop_duplicates("call_id", keep="first")
    out.loc[matched["lead"].to_numpy()] = matched["call_id"].astype(str).to_numpy()
    return out


def link_by_phone(reads: Mapping[str, Any], *, window_minutes: float,
                  mark: Callable[[Any, pd.Series], None]) -> None:
    """Fill leads' patient_id and call_id by phone in place; count each link in the leads' ledger.

    `reads` maps table name -> object with `frame` and `ledger` (ingest/load.py `_Read`); `mark(read,
    rows)` counts rows as fixed.
    """
    if "leads" not in reads:
        return
    read = reads["leads"]
    leads = read.frame
    had_id = leads["patient_id"].notna()
    found = link_patients(leads, phone_book({n: r.frame for n, r in reads.items()}))
    linked = found.notna().to_numpy(bool)
    leads.loc[linked, "patient_id"] = found[linked]
    link = np.where(had_id, "id", np.where(linked, "phone", "none"))
    leads["_patient_link"] = pd.Series(link, index=leads.index, dtype="string")
    read.ledger.note("fixes", "linked_by_phone:patient_id", pd.Series(linked, index=leads.index), leads["_source_row"])
    mark(read, pd.Series(linked, index=leads.index))
    if "calls" in reads:
        call = link_calls(leads, reads["calls"].frame, window_minutes)
        got = call.notna()
        leads.loc[got, "call_id"] = call[got]
        read.ledger.note("fixes", "linked_by_phone:call_id", got, leads["_source_row"])
        mark(read, got)
