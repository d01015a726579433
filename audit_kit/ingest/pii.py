"""PII pseudonymisation: names, phones and e-mails become salted keyed hashes at ingest.

The salt is per client, kept in the client folder (`.audit_salt`), never written to outputs.
The same phone in two formats (+7 (912) 000-00-00, 89120000000) gives the same pseudonym.
"""
from __future__ import annotations

import secrets
from pathlib import Path

import pandas as pd

SALT_BYTES = 16


def load_salt(salt_file: Path) -> str:
    """The client's salt (16 characters), created on first use."""
    if salt_file.is_file():
        salt = salt_file.read_text(encoding="utf-8").strip()
        if len(salt) == SALT_BYTES:
            return salt
    salt = secrets.token_hex(SALT_BYTES // 2)
    salt_file.parent.mkdir(parents=True, exist_ok=True)
    salt_file.write_text(salt + "\n", encoding="utf-8")
    return salt


def _canonical_form(values: pd.Series, column: str) -> pd.Series:
    s = values.astype("string").str.strip().str.lower()
    if column in ("phone", "caller_phone"):
        digits = s.str.replace(r"\D", "", regex=True)
        s = digits.str[-10:].where(digits.str.len() >= 10, digits)   # +7 / 8 prefixes agree
    elif column == "full_name":
        s = s.str.replace("ё", "е", regex=False).str.replace(r"\s+", " ", regex=True)
    return s


def pseudonymise(values: pd.Series, column: str, salt: str) -> pd.Series:
    """Salted keyed hash (SipHash via pandas) of the normalised value; NA stays NA."""
    norm = _canonical_form(values, column)
    present = norm.notna() & (norm != "")
    hashed = pd.util.hash_pandas_object(norm[present].astype(str), index=False, hash_key=salt)
    out = pd.Series(pd.NA, index=values.index, dtype="string")
    out[present] = "h" + pd.Series(hashed.to_numpy(), index=hashed.index).map("{:016x}".format).astype("string")
    return out
