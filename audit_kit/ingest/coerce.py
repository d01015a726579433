"""Vectorised parsing of raw cells into canonical types.

Each parser returns the parsed series and a boolean mask of cells that were present but
could not be parsed (so the caller can reject or blank them and say why).

Every parser works on the column's distinct values (`Distinct`: factorize -> convert the uniques ->
take): an export repeats a few thousand dates, amounts and statuses over millions of rows, so the
string work grows with the distinct values and only the factorize and the take grow with the rows.
"""
from __future__ import annotations

import re

import numpy as np
import pandas as pd

from .schema import BOOKING_STATUSES, FALSE_VALUES, TRUE_VALUES


EXCEL_EPOCH = pd.Timestamp("1899-12-30")
EXCEL_SERIAL_RANGE = (20000, 80000)   # 1954..2119: numbers outside are not taken for dates
DATE_FORMATS = ("%d.%m.%Y %H:%M:%S", "%d.%m.%Y %H:%M", "%d.%m.%Y", "%d.%m.%y %H:%M", "%d.%m.%y",
                "%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%d/%m/%Y")
DEFAULT_TIMEZONE = "Europe/Moscow"     # the clinic's local time unless audit.yaml says `timezone:`
UNIX = "unix"                          # a preset's date format: seconds since 1970-01-01 UTC
_OFFSET = r":\d{2}(?::\d{2})?(?:\.\d+)?\s*(?:[+-]\d{2}:?\d{2}|Z)$"   # a time followed by its UTC offset
MONTHS = {
    "январь": 1, "января": 1, "янв": 1, "january": 1, "jan": 1,
    "февраль": 2, "февраля": 2, "фев": 2, "february": 2, "feb": 2,
    "март": 3, "марта": 3, "мар": 3, "march": 3, "mar": 3,
    "апрель": 4, "апреля": 4, "апр": 4, "april": 4, "apr": 4,
    "май": 5, "мая": 5, "may": 5,
    "июнь": 6, "июня": 6, "июн": 6, "june": 6, "jun": 6,
    "июль": 7, "июля": 7, "июл": 7, "july": 7, "jul": 7,
    "август": 8, "августа": 8, "авг": 8, "august": 8, "aug": 8,
    "сентябрь": 9, "сентября": 9, "сен": 9, "сент": 9, "september": 9, "sep": 9, "sept": 9,
    "октябрь": 10, "октября": 10, "окт": 10, "october": 10, "oct": 10,
    "ноябрь": 11, "ноября": 11, "ноя": 11, "november": 11, "nov": 11,
    "декабрь": 12, "декабря": 12, "дек": 12, "december": 12, "dec": 12,
}


class Distinct:
    """A column as its distinct present values and, per cell, the position of its value among them.

    `values` ("string", in order of first appearance, as `pd.factorize` gives them), `codes` (int per
    cell, -1 for a missing cell) and `counts` (cells per distinct value, to count rows from a mask over
    the values). `spread` puts per-value results back on the cells. A long column whose first
    `PROBE` cells hardly repeat (timestamps to the second, amounts in kopecks) is not hashed: its
    `values` are then the cells themselves (missing ones included, with a count of 0), which every
    per-value step reads the same way."""

    PROBE = 1 << 16

    def __init__(self, cells: pd.Series):
        self.index = cells.index
        if len(cells) > 4 * self.PROBE and cells.iloc[:self.PROBE].nunique() > self.PROBE // 2:
            present = cells.notna().to_numpy(bool)
            self.codes = np.where(present, np.arange(len(cells)), -1)
            self.values = pd.Series(cells.to_numpy(dtype=object, na_value=None) if cells.dtype == object
                                    else cells.array, dtype="string").reset_index(drop=True)
            self.counts = present.astype(np.int64)
            return
        codes, uniques = pd.factorize(cells)
        self.codes = np.asarray(codes)
        self.values = pd.Series(uniques, dtype="string")
        self.counts = np.bincount(self.codes[self.codes >= 0], minlength=len(self.values))

    def first(self, mask, n: int) -> pd.Series:
        """The values of the first `n` cells (in row order) whose value is marked in `mask`."""
        mask = np.asarray(mask, dtype=bool)
        picked = np.zeros(0, dtype=self.codes.dtype)
        for lo in range(0, len(self.codes), 1 << 16):      # the first blocks hold the n cells: no full scan
            block = self.codes[lo:lo + (1 << 16)]
            block = block[block >= 0]
            picked = np.concatenate([picked, block[mask[block]]])
            if len(picked) >= n:
                break
        return self.values.iloc[picked[:n]].reset_index(drop=True)

    def where(self, keep) -> "Distinct":
        """The same cells with the values not kept (bool per value) read as missing."""
        out = object.__new__(Distinct)
        out.index, out.codes, out.counts = self.index, self.codes, self.counts
        out.values = self.values.where(np.asarray(keep, dtype=bool))
        return out

    def spread(self, per_value: pd.Series) -> pd.Series:
        """Per-value results on the cells (missing where the cell is missing), dtype kept."""
        taken = pd.api.extensions.take(per_value.array, self.codes, allow_fill=True)
        return pd.Series(taken, index=self.index, name=None)


def normalise_text(s: pd.Series) -> pd.Series:
    """Lower-case, ё→е, punctuation and runs of spaces folded: how headers and codes are compared."""
    return (s.astype("string").str.lower().str.replace("ё", "е", regex=False)
            .str.replace(r"[^\w%]+", " ", regex=True).str.strip())


_NON_WORD = re.compile(r"[^\w%]+")


def normalise_header(name: str) -> str:
    """`normalise_text` for one string (headers, aliases, codes)."""
    return _NON_WORD.sub(" ", str(name).lower().replace("ё", "е")).strip()


EMPTY_TEXT = ("", "nan", "NaN", "NaT", "None", "<NA>")      # cells read as empty


# What Arrow's `utf8_trim_whitespace` strips: ASCII 9-13 and 28-32, U+0085, U+00A0, U+1680, U+2000-U+200A,
# U+2028, U+2029, U+202F, U+205F, U+3000 (every code point tried). A cell whose first byte starts no such
# character and whose last character is none of them is left as it is (`_stripped`).
_EDGE_SAFE_FIRST = np.zeros(256, dtype=bool)
_EDGE_SAFE_FIRST[0x21:0x7F] = True            # printable ASCII but the space
_EDGE_SAFE_FIRST[0xC3:0xE0] = True            # U+00C0-U+07FF (Cyrillic, Latin letters with marks)
_EDGE_SAFE_FIRST[0xE0] = True                 # U+0800-U+0FFF
_EDGE_SAFE_FIRST[0xE4:0xF5] = True            # U+4000 and above
_WHITESPACE_LAST_BYTES = [0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8A, 0x9F, 0xA0, 0xA8, 0xA9,
                          0xAF]      # the last byte of each non-ASCII character stripped
_EDGE_SAFE_LAST = np.zeros(256, dtype=bool)   # a last byte that ends no stripped character
_EDGE_SAFE_LAST[0x21:0x7F] = True
_EDGE_SAFE_LAST[0x80:0xC0] = True
_EDGE_SAFE_LAST[_WHITESPACE_LAST_BYTES] = False
_EMPTY_LENGTHS = sorted({len(v.encode()) for v in EMPTY_TEXT})


def _stripped(cells):
    """Text cells (one Arrow array) stripped (`utf8_trim_whitespace`) and the EMPTY_TEXT ones made null, with
    Arrow's kernels run only on the cells that may change: their first and last bytes and their lengths are
    read with numpy from the buffers (`keys.arrow_bytes`); an empty cell is one of no bytes, or one of the
    few of EMPTY_TEXT's lengths that `is_in` finds; those become null in a new validity bitmap over the same
    buffers. Most cells of an export need neither, and the kernels on every cell made two new copies of each
    column (41 + 14 ns a cell; ~130 M cells at 345 branches)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from .keys import arrow_bytes

    if not len(cells):
        return cells
    offsets, data, present = arrow_bytes(cells)
    size = np.diff(offsets)
    filled = present & (size > 0)
    if filled.any():
        safe_first = _EDGE_SAFE_FIRST[data.take(offsets[:-1], mode="clip")]
        edge = filled & ~(safe_first & _EDGE_SAFE_LAST[data.take(offsets[1:] - 1, mode="clip")])
        at = np.flatnonzero(edge & safe_first)
        if len(at):     # a last byte such as 80 (р is D1 80): the character is a letter if it has 2 bytes
            before = data.take(offsets[1:][at] - 2, mode="clip")
            last = data.take(offsets[1:][at] - 1, mode="clip")
            edge[at] = ~((size[at] >= 2) & (before >= 0xC3) & (before < 0xE0) & (last >= 0x80) & (last < 0xC0))
        if edge.any():
            at = np.flatnonzero(edge)
            cells = pc.replace_with_mask(cells, pa.array(edge), pc.utf8_trim_whitespace(cells.take(pa.array(at))))
            offsets, data, present = arrow_bytes(cells)
            size = np.diff(offsets)
    empty = present & (size == 0)
    maybe = present & np.isin(size, [n for n in _EMPTY_LENGTHS if n])
    if maybe.any():
        at = np.flatnonzero(maybe)
        empty[at] = pc.is_in(cells.take(pa.array(at)), value_set=pa.array(EMPTY_TEXT)).to_numpy(zero_copy_only=False)
    if not empty.any():
        return cells
    valid = np.concatenate([np.zeros(cells.offset, dtype=bool), present & ~empty])
    return pa.Array.from_buffers(cells.type, len(cells), [pa.py_buffer(np.packbits(valid, bitorder="little")),
                                                          *cells.buffers()[1:]], offset=cells.offset)


def as_text(raw: pd.Series, *, from_excel: bool = False) -> pd.Series:
    """Cells as stripped strings; empty cells become NA. Excel numbers 123.0 become '123'."""
    if pd.api.types.is_datetime64_any_dtype(raw):
        txt = raw.dt.strftime("%Y-%m-%d %H:%M:%S").astype("string")
    elif not from_excel and isinstance(raw.array, pd.arrays.ArrowStringArray):
        # the same steps on the Arrow array itself: a third of the time on the column of one export
        import pyarrow as pa
        import pyarrow.compute as pc

        chunks = raw.array.__arrow_array__()     # one array: numpy's steps cost per chunk (a grid has dozens)
        txt = pa.chunked_array([_stripped(chunks.combine_chunks() if chunks.num_chunks > 1 else
                                          chunks.chunk(0) if chunks.num_chunks else pa.array([], chunks.type))],
                               type=chunks.type)
        return pd.Series(pd.arrays.ArrowStringArray(txt), index=raw.index, dtype="string")
    else:
        txt = raw.astype("string").str.strip()
        if from_excel:
            txt = txt.str.replace(r"^(-?\d+)\.0$", r"\1", regex=True)
    return txt.mask(txt.isin(list(EMPTY_TEXT)))


def _candidates(extra: tuple[str, ...], order: str | None) -> list[str]:
    """The formats a date column is tried in, in list order: the preset's (`extra`, without `unix`), ISO, then
    DATE_FORMATS; a column whose slash dates are proven month first (`order`, `slash_order`) has its
    dd/mm formats turned into mm/dd ones."""
    extra = tuple(f for f in extra if f != UNIX)
    if order != "month":
        return list(dict.fromkeys([*extra, "ISO8601", *DATE_FORMATS]))
    month = tuple(f.replace("%d/%m", "%m/%d") for f in extra) + tuple(
        f.replace("%d/%m", "%m/%d") for f in DATE_FORMATS if "/" in f)
    return [f for f in dict.fromkeys([*month, "ISO8601", *DATE_FORMATS]) if "%d/%m" not in f]


def _formats_by_fit(txt: pd.Series, formats: list[str]):
    """The candidate formats (`_candidates`), those that parse most of a sample first (an export uses
    one or two; ties in list order), yielded lazily: fits are counted in list order up to the first
    format that reads the whole sample, which no other can precede; the others' fits only when a value
    is left for them."""
    sample = txt.dropna().head(200)
    if sample.empty:
        yield from formats
        return
    fit: dict[str, int] = {}
    top = None
    for f in formats:
        fit[f] = int(_strptime(sample, f).notna().sum())
        if fit[f] == len(sample):
            top = f
            yield f
            break
    for f in formats:
        if f not in fit:
            fit[f] = int(_strptime(sample, f).notna().sum())
    yield from (f for f in sorted(formats, key=lambda f: -fit[f]) if f != top)


def _strptime(txt: pd.Series, fmt: str) -> pd.Series:
    """`pd.to_datetime(txt, format=fmt, errors="coerce")`, the values written in the format's fixed
    width (`fixed_width_times`) read with numpy first: pandas' strptime reads about 0.2 M values a
    second, which an export of a few million distinct timestamps (a payment's minute) cannot wait for."""
    quick, hit = fixed_width_times(txt, fmt)
    rest = txt.notna().to_numpy(bool) & ~hit
    layout = _layout(fmt)
    if layout is not None and rest.any():
        # pandas' pattern for such a format matches only digits where the fields are, the literals in
        # order and any whitespace for a space: a value whose other characters differ cannot match it
        others = txt[rest].astype("string").str.replace(r"[\d\s]", "", regex=True)
        rest[rest] = (others == _skeleton(layout)).fillna(False).to_numpy(bool)
    if not rest.any():
        return pd.Series(quick, index=txt.index)
    parsed = within_ns(pd.to_datetime(txt.where(rest), format=fmt, errors="coerce"))
    if not hit.any():
        return parsed
    if getattr(parsed.dt, "tz", None) is not None:      # a format with %z: nothing is read quickly
        return parsed
    return parsed.where(~hit, pd.Series(quick, index=txt.index).astype(parsed.dtype))   # pandas' unit kept


NS_YEARS = (1678, 2261)      # the whole years datetime64[ns] holds (1677-09-22 … 2262-04-11)


def within_ns(parsed: pd.Series) -> pd.Series:
    """Parsed times in nanoseconds (their time zone kept); a time whose year is outside `NS_YEARS` (a typo
    such as 01.01.0202, which pandas reads in a coarser unit) is NaT, so it counts as unparseable rather
    than failing the cast to the canonical datetime64[ns]."""
    if not len(parsed) or getattr(parsed.dt, "unit", "ns") == "ns":
        return parsed
    year = parsed.dt.year
    inside = year.between(*NS_YEARS).fillna(False).to_numpy(bool)
    return parsed.where(inside).dt.as_unit("ns")


_WIDTHS = {"d": 2, "m": 2, "y": 2, "Y": 4, "H": 2, "M": 2, "S": 2}
_DAYS_IN_MONTH = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])


def _layout(fmt: str) -> tuple[int, list[tuple[str, int]], list[tuple[int, int]]] | None:
    """(width, [(directive, position)], [(position, byte)]) of a format made of %d %m %y %Y %H %M %S and
    ASCII punctuation or spaces; None for any other format."""
    fields, literals, pos, i = [], [], 0, 0
    while i < len(fmt):
        if fmt[i] == "%":
            if fmt[i + 1:i + 2] not in _WIDTHS:
                return None
            fields.append((fmt[i + 1], pos))
            pos += _WIDTHS[fmt[i + 1]]
            i += 2
            continue
        if not fmt[i].isascii() or fmt[i].isalnum():
            return None
        literals.append((pos, ord(fmt[i])))
        pos += 1
        i += 1
    return (pos, fields, literals) if fields else None


def fixed_width_times(txt: pd.Series, fmt: str) -> tuple[np.ndarray, np.ndarray]:
    """Values written exactly in `fmt`'s fixed width (every field zero-padded: '01.10.2023 09:05' for
    '%d.%m.%Y %H:%M') that are a real date and time, read with numpy from their bytes: (datetime64[ns]
    per value, NaT elsewhere; bool per value: read). pandas reads such a value to the same time; the
    others (unpadded, other spacing, impossible dates, years outside 1678-2261) are left to it.
    Hand-written because pandas' strptime is a Python-speed loop (~0.2 M values/s) and pyarrow's
    `strptime` rolls 31.02 over into March where pandas rejects it; this reads ~10 M values/s."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from .keys import arrow_ids

    out = np.full(len(txt), np.datetime64("NaT", "ns"))
    hit = np.zeros(len(txt), dtype=bool)
    layout = _layout(fmt)
    if layout is None or not len(txt):
        return out, hit
    width, fields, literals = layout
    arr = arrow_ids(txt)
    at = np.flatnonzero(pc.equal(pc.binary_length(arr), width).fill_null(False).to_numpy(zero_copy_only=False))
    if not len(at):
        return out, hit
    fixed = pc.cast(arr.take(pa.array(at)), pa.binary(width))
    cells = np.frombuffer(fixed.buffers()[1], dtype=np.uint8, count=len(at) * width).reshape(-1, width)
    ok = np.ones(len(at), dtype=bool)
    for pos, byte in literals:
        ok &= cells[:, pos] == byte
    value = {}
    for directive, pos in fields:
        number = np.zeros(len(at), dtype=np.int32)
        for col in range(pos, pos + _WIDTHS[directive]):     # column by column: numpy's fast path
            digit = cells[:, col] - np.uint8(48)
            ok &= digit < 10
            number = number * 10 + digit
        value[directive] = number
    year = value["Y"] if "Y" in value else (value["y"] + np.where(value["y"] <= 68, 2000, 1900) if "y" in value else None)
    if year is None or "m" not in value or "d" not in value:
        return out, hit
    month, day = value["m"], value["d"]
    hour, minute, second = (value.get(k, np.zeros(len(at), dtype=np.int32)) for k in ("H", "M", "S"))
    leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
    month_ok = (month >= 1) & (month <= 12)
    last = _DAYS_IN_MONTH[np.where(month_ok, month, 0)] + (leap & (month == 2))
    ok &= (year >= 1678) & (year <= 2261) & month_ok & (day >= 1) & (day <= last)
    ok &= (hour < 24) & (minute < 60) & (second < 60)
    # days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil)
    y = year - (month <= 2)
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (month + np.where(month > 2, -3, 9)) + 2) // 5 + day - 1
    days = era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468
    seconds = days.astype(np.int64) * 86400 + hour * 3600 + minute * 60 + second
    out[at[ok]] = (seconds[ok] * 1_000_000_000).astype("datetime64[ns]")
    hit[at[ok]] = True
    return out, hit


def _with_offset(txt: pd.Series) -> pd.Series:
    """Values that end in a time with a UTC offset (`_OFFSET`). The offset's sign or the Z is within the
    last seven characters (a final newline counted): that cheap test (pyarrow) picks the values the
    regex (Python's, for its `\\s`) reads."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from .keys import arrow_ids

    tail = pc.binary_slice(arrow_ids(txt).cast(pa.large_binary()), -7)     # the last 7 bytes: all ASCII there
    maybe = pc.match_substring_regex(tail, "[-+Z]").fill_null(False).to_numpy(zero_copy_only=False)
    out = pd.Series(False, index=txt.index)
    if maybe.any():
        out[maybe] = txt[maybe].str.contains(_OFFSET, regex=True).fillna(False).to_numpy(bool)
    return out


def _local(parsed: pd.Series, timezone: str | None) -> pd.Series:
    """Aware times -> naive wall-clock times of the clinic's time zone."""
    return parsed.dt.tz_convert(timezone or DEFAULT_TIMEZONE).dt.tz_localize(None).astype("datetime64[ns]")


class SharedFormat:
    """The date format the files of one table share in one column (`parse_datetime(..., shared=)`): an
    export system writes every file alike, so the format found on one file is only verified on the next
    (`_read_by_shared`), and the candidates are tried in full again (`_formats_by_fit`) only on a file
    where it does not hold. `fmt` is the format that alone read every value of the last file detected in
    full (None before one did); `detected` counts those full detections."""

    def __init__(self) -> None:
        self.fmt: str | None = None
        self.detected = 0


def parse_datetime(txt: pd.Series, formats: tuple[str, ...] = (), timezone: str | None = None,
                   shared: SharedFormat | None = None) -> tuple[pd.Series, pd.Series]:
    """ISO, dd.mm.yyyy[ hh:mm[:ss]], dd/mm/yyyy[ hh:mm[:ss]] and Excel serial numbers -> datetime64[ns];
    `formats` (a preset's) are tried first, `unix` among them reads seconds since 1970 (UTC).
    Times with a UTC offset (`+03:00`, `+0000`, `Z`) and Unix times become the clinic's local time
    (`timezone`, default Europe/Moscow); times without an offset are taken as local already.
    Each distinct value is parsed once (`Distinct`); `attrs["assumed"]` counts cells. With `shared`
    (one per table and column), the format of the table's earlier files is verified first: the result
    is the same as without it."""
    values = Distinct(txt)
    read = _read_by_shared(values, formats, shared.fmt) if shared is not None and shared.fmt else None
    parsed, assumed = read if read is not None else _parse_distinct_datetimes(values, formats, timezone, shared)
    out = values.spread(parsed)
    out.attrs["assumed"] = assumed
    return out, out.isna() & txt.notna()


def _skeleton(layout) -> str:
    """The characters other than digits and whitespace that a value of a `_layout` format holds, in order."""
    return "".join(chr(byte) for _, byte in layout[2] if not chr(byte).isspace())


def _read_by_shared(values: Distinct, formats: tuple[str, ...], fmt: str) -> tuple[pd.Series, int] | None:
    """`_parse_distinct_datetimes` on a column whose every distinct value `fmt` reads in its fixed width
    (`fixed_width_times`), without trying the candidates; None (detect in full) unless that is proven the
    same: no value can be a Unix time (`fmt` writes a separator) or carry a UTC offset (`fmt` writes no
    '+' or '-', or no value ends in one), `fmt` is among the candidates of the column's slash order, and
    no candidate before it reads the whole sample the full detection would take — a candidate in a fixed
    width whose non-digit characters differ from `fmt`'s cannot read one of these values (`_strptime`);
    the others are tried on the sample's first value, then on the sample."""
    layout = _layout(fmt)
    txt = values.values
    present = txt.notna().to_numpy(bool)
    if layout is None:
        return None
    if not present.any():       # an empty column: nothing any format reads
        return pd.Series(pd.NaT, index=txt.index, dtype="datetime64[ns]"), 0
    literals = {chr(byte) for _, byte in layout[2]}
    if UNIX in formats and not literals:
        return None
    quick, hit = fixed_width_times(txt, fmt)
    if not hit[present].all():
        return None
    order, assumed = slash_order(txt, counts=values.counts) if "/" in literals else (None, 0)
    if literals & {"+", "-"} and _with_offset(txt).any():
        return None
    candidates = _candidates(formats, order)
    if fmt not in candidates:
        return None
    sample = None
    for other in candidates[:candidates.index(fmt)]:
        other_layout = _layout(other)
        if other_layout is not None and _skeleton(other_layout) != _skeleton(layout):
            continue
        if sample is None:
            sample = values.first(present, 200)
        if _strptime(sample.head(1), other).notna().all() and _strptime(sample, other).notna().all():
            return None
    return pd.Series(quick, index=txt.index), assumed


def _parse_distinct_datetimes(values: Distinct, formats: tuple[str, ...], timezone: str | None,
                              shared: SharedFormat | None = None) -> tuple[pd.Series, int]:
    """`parse_datetime` on the distinct values: (datetime64[ns] per value, cells read day first by default);
    `shared` learns the format when one alone read every value."""
    txt = values.values
    out = pd.Series(pd.NaT, index=txt.index, dtype="datetime64[ns]")
    order, assumed = slash_order(txt, counts=values.counts)
    if UNIX in formats:
        seconds = pd.to_numeric(txt.where(txt.str.fullmatch(r"\d{9,10}").fillna(False)), errors="coerce")
        if seconds.notna().any():
            out = out.where(seconds.isna(), _local(pd.to_datetime(seconds, unit="s", utc=True), timezone))
    aware = _with_offset(txt) & out.isna()
    if aware.any():
        parsed = within_ns(pd.to_datetime(txt.where(aware), format="ISO8601", utc=True, errors="coerce"))
        out = out.where(~aware, _local(parsed, timezone))
    # the formats that fit the first cells still unread (row order, repeats counted) are tried first
    unread = (out.isna() & txt.notna()).to_numpy()
    alone = unread.any() and not (txt.notna().to_numpy(bool) & ~unread).any()   # no Unix time, no offset
    candidates = _formats_by_fit(values.first(unread, 200), _candidates(formats, order))
    if shared is not None:
        shared.detected += 1
    tried = 0
    while (todo := out.isna() & txt.notna()).any():     # the next candidate only when a value is left
        fmt = next(candidates, None)
        if fmt is None:
            break
        tried += 1
        parsed = _strptime(txt.where(todo), fmt)
        if getattr(parsed.dt, "tz", None) is not None:
            parsed = parsed.dt.tz_localize(None)
        out = out.where(~todo, parsed.astype("datetime64[ns]"))
    todo = out.isna() & txt.notna()
    if shared is not None and alone and tried == 1 and not todo.any():
        shared.fmt = fmt
    if todo.any():
        serial = pd.to_numeric(txt.where(todo).str.replace(",", ".", regex=False), errors="coerce")
        serial = serial.where(serial.between(*EXCEL_SERIAL_RANGE))
        out = out.where(~todo, EXCEL_EPOCH + pd.to_timedelta((serial * 86400).round(), unit="s"))
    return out, assumed


def parse_month(txt: pd.Series, formats: tuple[str, ...] = (),
                timezone: str | None = None) -> tuple[pd.Series, pd.Series]:
    """A month as its first day: '2024-10', '10.2024', 'Октябрь 2024', a date or an Excel serial
    (each distinct value read once)."""
    values = Distinct(txt)
    low = normalise_text(values.values)
    ym = low.str.extract(r"^(\d{4}) (\d{1,2})$")
    my = low.str.extract(r"^(\d{1,2}) (\d{4})$")
    named = low.str.extract(r"^([^\W\d]+) (\d{4})$")
    year = ym[0].fillna(my[1]).fillna(named[1])
    month = ym[1].fillna(my[0]).fillna(named[0].map(MONTHS, na_action="ignore").astype("Int64").astype("string"))
    built = within_ns(pd.to_datetime(year + "-" + month.str.zfill(2) + "-01", format="%Y-%m-%d", errors="coerce"))
    dates, _ = _parse_distinct_datetimes(values.where(built.isna().to_numpy()), formats, None)
    out = values.spread(built.astype("datetime64[ns]").fillna(dates).dt.to_period("M").dt.to_timestamp())
    return out, out.isna() & txt.notna()


_NUMBER_JUNK = re.compile(r"[\s\u00a0\u202f'₽$€]|руб\.?|р\.|rub", re.IGNORECASE)


class EvidenceConflict(ValueError):
    """A column whose own values contradict each other on how to read them (day/month order,
    thousands/decimal separator); `examples` holds one value of each reading."""

    def __init__(self, what: str, examples: tuple[str, str]):
        super().__init__(what)
        self.what, self.examples = what, examples


_GROUPED = r"^-?\d{{1,3}}(?:[{sep}]\d{{3}})+$"


def separator_roles(s: pd.Series, counts: np.ndarray | None = None) -> tuple[dict[str, str], int]:
    """How a number column uses '.' and ',' by its own values (after spaces and currency are removed):
    each is 'decimal' or 'thousands'. Proof of thousands: two of the mark ('1.234.567'), or it comes first
    when both appear ('1.234,56'); proof of decimal: one mark not followed by exactly three digits
    ('12.5', '3900,50'), or it comes last when both appear. A mark proven both ways: EvidenceConflict.
    Unproven: a comma is decimal; a dot is thousands when the comma is proven decimal, else decimal.
    Returns the roles and the number of values read by such a default although they could be read
    both ways ('12.500' with no other evidence); with `counts` (cells per value of `s`, its values then
    being a column's distinct ones) that number counts cells."""
    # Every test below reads only where the marks are and how many digits stand between them, so it is
    # made once per shape of value (digits as '9': a column of amounts has a handful) in plain Python.
    codes, shapes = pd.factorize(s.astype("string").str.replace(r"\d", "9", regex=True))
    codes = np.asarray(codes)
    shapes = [str(x) for x in shapes]
    roles, proof = {}, {}
    for mark, other in ((".", ","), (",", ".")):
        grouped = re.compile(_GROUPED.format(sep=re.escape(mark)))
        thousands, decimal = np.zeros(len(shapes), bool), np.zeros(len(shapes), bool)
        for i, shape in enumerate(shapes):
            has, has_other = mark in shape, other in shape
            many = shape.count(mark) > 1
            if has and has_other:
                first = shape.find(mark) < shape.find(other)
                thousands[i], decimal[i] = first, not first
            elif has:
                thousands[i], decimal[i] = many, not many and grouped.fullmatch(shape) is None
        if thousands.any() and decimal.any():
            raise EvidenceConflict(f"'{mark}' is a thousands separator in some values and a decimal mark in others",
                                   (_first_of(s, codes, thousands), _first_of(s, codes, decimal)))
        proof[mark] = "thousands" if thousands.any() else ("decimal" if decimal.any() else None)
    roles[","] = proof[","] or ("thousands" if proof["."] == "decimal" else "decimal")
    roles["."] = proof["."] or ("thousands" if roles[","] == "decimal" and proof[","] == "decimal" else "decimal")
    unsure = np.zeros(len(shapes), bool)
    for mark in (".", ","):
        if proof[mark] is None:
            grouped = re.compile(_GROUPED.format(sep=re.escape(mark)))
            unsure |= np.array([grouped.fullmatch(shape) is not None for shape in shapes], dtype=bool)
    if not unsure.any():
        return roles, 0
    hit = (codes >= 0) & unsure[np.maximum(codes, 0)]
    return roles, int(hit.sum() if counts is None else counts[hit].sum())


def _first_of(s: pd.Series, codes: np.ndarray, marked: np.ndarray) -> str:
    """The first value of `s` whose shape (`codes`) is marked."""
    return str(s.iloc[int(np.flatnonzero((codes >= 0) & marked[np.maximum(codes, 0)])[0])])


def parse_number(txt: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Numbers and money: '3 900,50 ₽', '3900.5', '1,234.50', '1.234,56', '12.500' (with '1.234,56' in the
    column: 12 500), '-1 200' -> float. The separators' roles come from the column's own values
    (`separator_roles`); a column that contradicts itself raises EvidenceConflict. Each distinct
    value is read once (`Distinct`); `attrs["assumed"]` counts cells."""
    values = Distinct(txt)
    s = values.values.str.replace(_NUMBER_JUNK, "", regex=True)
    assumed = 0
    if s.str.contains(r"[.,]", regex=True).any():
        roles, assumed = separator_roles(s, values.counts)
        for mark in (".", ","):
            if roles[mark] == "thousands":
                s = s.str.replace(mark, "", regex=False)
        s = s.str.replace(",", ".", regex=False)
    out = values.spread(pd.to_numeric(s, errors="coerce").astype("float64"))
    out.attrs["assumed"] = assumed         # values read by the default reading (ingest notes them)
    return out, out.isna() & txt.notna()


_SLASH = r"^\s*(\d{1,2})/(\d{1,2})/\d{2,4}"


def slash_order(txt: pd.Series, counts: np.ndarray | None = None) -> tuple[str | None, int]:
    """Day/month order of a date column written with slashes, by its own values: a first field above
    12 proves day first, a second field above 12 proves month first (both: EvidenceConflict with one
    example of each). Returns 'day', 'month' or None (no slashes) and the number of slash dates read
    day first by default because no value shows the order (`counts`: cells per value of `txt`, its
    values then being a column's distinct ones)."""
    if not txt.str.contains("/", regex=False).fillna(False).any():
        return None, 0
    distinct = pd.Series(txt.dropna().unique(), dtype="string")
    fields = distinct.str.extract(_SLASH).astype("float64")
    day, month = fields[0].gt(12), fields[1].gt(12)
    if day.any() and month.any():
        raise EvidenceConflict("day/month order", (str(distinct[day].iloc[0]), str(distinct[month].iloc[0])))
    if month.any():
        return "month", 0
    if day.any():
        return "day", 0
    slashed = txt.str.contains(r"^\s*\d{1,2}/\d{1,2}/\d{2,4}", regex=True).fillna(False).to_numpy(bool)
    return "day", int(slashed.sum() if counts is None else counts[slashed].sum())


def _lookup(txt: pd.Series, table: dict[str, object]) -> tuple[pd.Series, pd.Series]:
    """Cells looked up (normalised) in `table`, once per distinct value."""
    values = Distinct(txt)
    out = values.spread(normalise_text(values.values).map(table).astype(object))
    return out, out.isna() & txt.notna()


def parse_bool(txt: pd.Series) -> tuple[pd.Series, pd.Series]:
    """да/нет, yes/no, 1/0, true/false and call statuses (принят/пропущен) -> bool."""
    table = {v: True for v in TRUE_VALUES} | {v: False for v in FALSE_VALUES} | {"1 0": True, "0 0": False}
    out, bad = _lookup(txt, {normalise_header(k): v for k, v in table.items()})
    return out.astype("boolean"), bad


def parse_status(txt: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Booking statuses in Russian or English -> completed | no_show | cancelled | rescheduled."""
    table = {normalise_header(raw): canon for canon, raws in BOOKING_STATUSES.items() for raw in raws}
    out, bad = _lookup(txt, table)
    return out.astype("string"), bad


def outside_domain(values: pd.Series, domain, *, high: float | None = None,
                   today: pd.Timestamp | None = None) -> pd.Series:
    """Parsed values outside the column's `schema.Domain` (bool per cell; NA is never outside): numbers
    that are not finite or not within low…high (`high` overrides the domain's ceiling, and its
    negative the floor of a symmetric domain); dates before DATE_FLOOR or more than `days_ahead` days
    after `today` (default: the run date)."""
    from .schema import DATE_FLOOR

    present = values.notna()
    if pd.api.types.is_datetime64_any_dtype(values):
        if domain is None or domain.days_ahead is None:
            return pd.Series(False, index=values.index)
        latest = (today or pd.Timestamp.now()).normalize() + pd.Timedelta(days=domain.days_ahead + 1)
        return present & ((values < DATE_FLOOR) | (values >= latest))
    number = values.astype("float64")
    out = present & ~np.isfinite(number.fillna(0.0))
    if domain is None:
        return out
    low, top = domain.low, domain.high
    if high is not None and top is not None:
        low, top = (-high if low is not None and low == -top else low), high
    if low is not None:
        out |= present & (number < low)
    if top is not None:
        out |= present & (number > top)
    return out.fillna(False).astype(bool)


def map_channel(txt: pd.Series, mapping: dict[str, str]) -> pd.Series:
    """Raw channel/utm values -> canonical channel via the config map (exact, then normalised match)."""
    if not mapping:
        return txt
    values = Distinct(txt)
    distinct = values.values
    norm = {normalise_header(k): v for k, v in mapping.items()}
    mapped = distinct.map(mapping).fillna(normalise_text(distinct).map(norm)).fillna(distinct).astype("string")
    return values.spread(mapped)


def on_distinct(values: pd.Series, rewrite) -> tuple[pd.Series, pd.Series]:
    """Apply `rewrite(distinct) -> (new values, changed mask)` to the distinct values only and spread
    the result back: clinic text columns repeat a few service names or reasons over millions of rows,
    so regex work is done once per distinct value. Returns (values, bool mask of changed cells)."""
    distinct = Distinct(values)
    none = pd.Series(False, index=values.index)
    if not len(distinct.values):
        return values, none
    new, changed = rewrite(distinct.values)
    changed = changed.to_numpy(bool)
    if not changed.any():
        return values, none
    codes = distinct.codes
    hit = (codes >= 0) & changed[np.maximum(codes, 0)]
    out = values.astype("string").copy()
    out[hit] = new.to_numpy(dtype=object)[codes[hit]]
    return out, pd.Series(hit, index=values.index)


def is_blank_row(frame: pd.DataFrame) -> pd.Series:
    return frame.isna().all(axis=1) if len(frame.columns) else pd.Series(True, index=frame.index)


__all__ = ["normalise_text", "normalise_header", "as_text", "parse_datetime", "SharedFormat", "parse_month", "parse_number",
           "parse_bool", "parse_status", "outside_domain", "map_channel", "on_distinct", "Distinct", "is_blank_row",
           "np"]
