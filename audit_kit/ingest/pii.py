"""PII pseudonymisation: names, phones and e-mails become salted keyed hashes at ingest.

The salt is per client, kept in the client folder (`.audit_salt`), never written to outputs.
The same phone in two formats (+7 (912) 000-00-00, 89120000000) gives the same pseudonym.
"""
from __future__ import annotations

import re
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


# -- contacts in free text ---------------------------------------------------------------------------
# Written for RE2 (pyarrow's regex engine, used by pandas' string methods): no look-behind.
# A phone: +7 / 8 / 7 prefix or none, a 3-digit code (maybe in brackets), then 3-2-2 digits with
# spaces, dashes or dots between; or a local 3-2-2 number written with dashes (345-67-89).
PHONE_PATTERN = (r"(?:(?:\+\s?7|\b[78])[\s\-.]*\(?\d{3}\)?|\(\d{3}\)|\b\d{3})[\s\-.]*\d{3}[\s\-.]*\d{2}[\s\-.]*\d{2}\b"
                 r"|\b\d{3}-\d{2}-\d{2}\b")
EMAIL_PATTERN = r"[^\s@,;:<>()\[\]\"']+@[^\s@,;:<>()\[\]\"']+\.[^\s@,;:<>()\[\]\"'.]{2,}"
CONTACT_PATTERN = f"{EMAIL_PATTERN}|{PHONE_PATTERN}"
# An ID cell that is a phone number: the whole cell, +7/8/7 and 10 digits, or 10 digits starting with 9,
# brackets, spaces and dashes allowed.
PHONE_ID_PATTERN = r"^\s*(?:(?:\+\s?7|[78])[\s\-]*\(?\d{3}\)?|\(?9\d{2}\)?)[\s\-]*\d{3}[\s\-]*\d{2}[\s\-]*\d{2}\s*$"
MASKS = {"ru": {"phone": "[телефон]", "email": "[e-mail]", "name": "[имя]"},
         "en": {"phone": "[phone]", "email": "[e-mail]", "name": "[name]"}}


def _flag(values: pd.Series, pattern: str) -> pd.Series:
    return values.astype("string").str.contains(pattern, regex=True).fillna(False).astype(bool)


def mask_contacts(values: pd.Series, language: str = "ru") -> tuple[pd.Series, pd.Series]:
    """Phone numbers and e-mails inside free text replaced by a marker ([телефон], [e-mail]).

    Returns the masked text and a bool mask of the cells that held a contact. Only the cells that
    match are rewritten, so a clean column costs one regex scan.
    """
    hit = _flag(values, CONTACT_PATTERN)
    if not hit.any():
        return values, hit
    marks = MASKS.get(language, MASKS["en"])
    masked = (values[hit].astype("string").str.replace(EMAIL_PATTERN, marks["email"], regex=True)
              .str.replace(PHONE_PATTERN, marks["phone"], regex=True))
    out = values.astype("string").copy()
    out[hit] = masked
    return out, hit


def phone_ids(values: pd.Series) -> pd.Series:
    """ID cells that are phone numbers (bool per cell); they are hashed like a phone column."""
    return _flag(values, PHONE_ID_PATTERN)


# -- patient names in free text ------------------------------------------------------------------------
NAME_TOKEN_MIN = 3          # initials and short particles are not masked on their own


def _fold(values: pd.Series) -> pd.Series:
    return values.astype("string").str.lower().str.replace("ё", "е", regex=False)


def name_tokens(names: pd.Series) -> pd.Series:
    """The distinct words (lower case, ё→е, at least NAME_TOKEN_MIN letters) of raw full names."""
    words = _fold(names.dropna()).str.split(r"[^\w]+", regex=True).explode()
    words = words[words.str.len().ge(NAME_TOKEN_MIN).fillna(False).astype(bool)
                  & ~words.str.contains(r"\d", regex=True).fillna(True).astype(bool)]
    return words.drop_duplicates().reset_index(drop=True).astype("string")


def mask_names(values: pd.Series, tokens: pd.Series, language: str = "ru") -> tuple[pd.Series, pd.Series]:
    """Every word of a known patient name (see `name_tokens`) inside free text replaced by [имя].

    The cells are split into words and the words looked up in the name list (a hash join), so the
    cost grows with the text, not with the number of names; only cells with a hit are rewritten,
    with one pattern made of the names actually found. Returns the text and the bool hit mask.
    """
    hit = pd.Series(False, index=values.index)
    if tokens.empty or values.isna().all():
        return values, hit
    words = _fold(values).str.split(r"[^\w]+", regex=True).explode()
    found = words.astype(object).isin(set(tokens.astype(object)))
    if not found.any():
        return values, hit
    hit = pd.Series(found.to_numpy(), index=words.index).groupby(level=0).any().reindex(values.index, fill_value=False)
    names = sorted(set(words[found.to_numpy()].astype(str)), key=len, reverse=True)
    alternatives = "|".join(re.escape(w).replace("е", "[её]") for w in names)
    pattern = re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE)
    mark = MASKS.get(language, MASKS["en"])["name"]
    masked = values[hit].astype(object).str.replace(pattern, mark, regex=True)
    out = values.astype("string").copy()
    out[hit] = masked.astype("string")
    return out, hit
