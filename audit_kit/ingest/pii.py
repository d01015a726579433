"""PII pseudonymisation: names, phones and e-mails become salted keyed hashes at ingest.

The salt is per client, kept in the client folder (`.audit_salt`), never written to outputs.
The same phone in two formats (+7 (912) 000-00-00, 89120000000) gives the same pseudonym.
"""
from __future__ import annotations

import re
import secrets
from pathlib import Path

import numpy as np
import pandas as pd

from . import names as person_names
from .coerce import on_distinct

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
    """Salted keyed hash (SipHash via pandas) of the normalised value; NA stays NA.

    Hashed once per distinct value and spread back with Arrow's `take` (a phone recurs on many
    leads); the hex digits are made with numpy from the hashes' bytes, not formatted row by row."""
    import pyarrow as pa

    codes, uniques = pd.factorize(values.astype("string"))
    norm = _canonical_form(pd.Series(uniques, dtype="string"), column)
    present = (norm.notna() & (norm != "")).to_numpy(bool)
    hashed = pd.util.hash_pandas_object(norm[present].astype(str), index=False, hash_key=salt).to_numpy()
    digits = np.frombuffer(hashed.astype(">u8").tobytes().hex().encode("ascii"), dtype="S16").astype(str)
    pseudonyms = np.full(len(uniques), None, dtype=object)
    pseudonyms[present] = np.char.add("h", digits)
    spread = pa.array(pseudonyms, type=pa.large_string()).take(pa.array(codes, mask=codes < 0))
    return pd.Series(pd.arrays.ArrowStringArray(spread), index=values.index, dtype="string")


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
PHONE_DIGITS = 9        # a value with this many digits left after the regex goes to `phonenumbers`
# A whole run of 9 to 15 digits (spaces, dashes, dots, brackets between), not part of a longer run.
DIGIT_RUN = re.compile(r"(?<!\d)(?<!\d[\s\-.()])(?<!\d[\s\-.()]{2})(?<!\d[\s\-.()]{3})"
                       r"\+?\(?\d(?:[\s\-.()]{0,3}\d){8,14}(?![\s\-.()]{0,3}\d)")
MASKS = {"ru": {"phone": "[телефон]", "email": "[e-mail]", "name": "[имя]"},
         "en": {"phone": "[phone]", "email": "[e-mail]", "name": "[name]"}}


def _flag(values: pd.Series, pattern: str) -> pd.Series:
    return values.astype("string").str.contains(pattern, regex=True).fillna(False).astype(bool)


def mask_contacts(values: pd.Series, language: str = "ru") -> tuple[pd.Series, pd.Series]:
    """Phone numbers and e-mails inside free text replaced by a marker ([телефон], [e-mail]).

    Returns the masked text and a bool mask of the cells that held a contact. The regex runs once
    per distinct value (`coerce.on_distinct`); a value that still holds `PHONE_DIGITS` digits after it
    has its runs of digits checked by `phonenumbers`, which knows every country's numbering plan
    (8 912 34 56 789, 8 (912) 3-456-789, +380 50 123 4567, +49 30 1234567); a country or area code
    left before a masked number (+375 29 [телефон]) goes with it.
    """
    marks = MASKS.get(language, MASKS["en"])
    code_before = rf"\+[\d\s\-.()]{{1,12}}{re.escape(marks['phone'])}"

    def rewrite(distinct: pd.Series) -> tuple[pd.Series, pd.Series]:
        # every pattern needs an '@' or 7 digits (a local 345-67-89): other values are left as they are
        maybe = (distinct.str.count(r"\d").fillna(0).to_numpy(int) >= 7) | distinct.str.contains(
            "@", regex=False).fillna(False).to_numpy(bool)
        if not maybe.any():
            return distinct, pd.Series(False, index=distinct.index)
        hit = _flag(distinct, CONTACT_PATTERN)
        masked = (distinct.str.replace(EMAIL_PATTERN, marks["email"], regex=True)
                  .str.replace(PHONE_PATTERN, marks["phone"], regex=True)
                  .str.replace(code_before, marks["phone"], regex=True)) if hit.any() else distinct
        digits = (masked.str.count(r"\d").fillna(0).to_numpy(int) >= PHONE_DIGITS)
        if digits.any():
            before = masked[digits].astype(object)
            after = before.map(lambda text: DIGIT_RUN.sub(lambda run: _valid_phone(run.group(), marks["phone"]), text))
            masked, hit = masked.copy(), hit.copy()
            masked[digits] = after.to_numpy(dtype=object)
            hit[digits] = hit[digits].to_numpy(bool) | (after != before).to_numpy(bool)
        return masked, hit

    return on_distinct(values, rewrite)


def _valid_phone(run: str, mark: str) -> str:
    """`mark` if a run of digits is a valid phone number (`phonenumbers`, Russian numbering unless it
    starts with +), else the run. Only runs shaped like a number (+…, 10 digits, or 11 from 7 or 8)
    are parsed."""
    import phonenumbers

    digits = re.sub(r"\D", "", run)
    if not (run.startswith("+") or len(digits) == 10 or (len(digits) == 11 and digits[0] in "78")):
        return run
    try:
        number = phonenumbers.parse(run, "RU")
    except phonenumbers.NumberParseException:
        return run
    return mark if phonenumbers.is_valid_number(number) else run


_PHONE_STARTS = np.zeros(256, dtype=bool)
_PHONE_STARTS[[ord(c) for c in "+789("]] = True


def phone_ids(values: pd.Series) -> pd.Series:
    """ID cells that are phone numbers (bool per cell); they are hashed like a phone column.

    Only cells of phone length (10 to 22 characters) starting like a phone (+, 7, 8, 9 or a bracket) go to
    the regex; that test reads the lengths and first bytes from the Arrow array's buffers with numpy (an ID
    column of every row: at 345 branches the Arrow kernels it took before cost 10 s of a 100 s ingest)."""
    import pyarrow.compute as pc

    from .keys import arrow_bytes, arrow_ids

    ids = arrow_ids(values)
    offsets, data, present = arrow_bytes(ids)
    size = np.diff(offsets)
    # a character is 1 to 4 bytes: 10 or more bytes, then the exact length in characters of those few
    first = data[np.minimum(offsets[:-1], len(data) - 1)] if len(data) else np.zeros(len(ids), dtype=np.uint8)
    candidate = present & (size >= 10) & _PHONE_STARTS[first]
    if candidate.any():
        at = np.flatnonzero(candidate)
        length = pc.utf8_length(ids.take(at)).to_numpy(zero_copy_only=False)
        candidate[at] = (length >= 10) & (length <= 22)
    out = pd.Series(False, index=values.index)
    if candidate.any():
        txt = values.astype("string")
        out[candidate] = _flag(txt[candidate], PHONE_ID_PATTERN).to_numpy()
    return out


def email_ids(values: pd.Series) -> pd.Series:
    """ID cells that are e-mail addresses (bool per cell); they are hashed like an e-mail column. A column
    with no '@' in its bytes (numpy, on the Arrow buffer) has none."""
    import pyarrow.compute as pc

    from .keys import arrow_bytes, arrow_ids

    ids = arrow_ids(values)
    offsets, data, _ = arrow_bytes(ids)
    out = pd.Series(False, index=values.index)
    if not len(ids) or not (data[offsets[0]:offsets[-1]] == ord("@")).any():
        return out
    candidate = pc.match_substring(ids, "@").fill_null(False).to_numpy(zero_copy_only=False)
    if candidate.any():
        txt = values.astype("string")
        out[candidate] = _flag(txt[candidate], rf"^\s*{EMAIL_PATTERN}\s*$").to_numpy()
    return out


# -- patient names in free text ------------------------------------------------------------------------
NAME_TOKEN_MIN = person_names.NAME_TOKEN_MIN


def _fold(values: pd.Series) -> pd.Series:
    return values.astype("string").str.lower().str.replace("ё", "е", regex=False)


def name_tokens(names: pd.Series) -> pd.Series:
    """The distinct words (lower case, ё→е, at least NAME_TOKEN_MIN letters) of raw full names."""
    words = _fold(names.dropna()).str.split(r"[^\w]+", regex=True).explode()
    words = words[words.str.len().ge(NAME_TOKEN_MIN).fillna(False).astype(bool)
                  & ~words.str.contains(r"\d", regex=True).fillna(True).astype(bool)]
    return words.drop_duplicates().reset_index(drop=True).astype("string")


def mask_names(values: pd.Series, tokens: pd.Series, language: str = "ru") -> tuple[pd.Series, pd.Series]:
    """Person names inside free text replaced by [имя]: words of a known name (see `name_tokens`) in
    any grammatical case and with ё or е, and names that are in no name column (rules in
    `ingest/names.py`).

    Runs once per distinct cell (`coerce.on_distinct`); the words are analysed once per distinct word,
    so the cost grows with the text, not with the number of names. Returns the text and the bool mask
    of the cells changed.
    """
    known = frozenset(tokens.dropna().astype(str))
    mark = MASKS.get(language, MASKS["en"])["name"]
    return on_distinct(values, lambda distinct: person_names.mask(distinct, known, mark))
