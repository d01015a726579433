"""Looking IDs up across the canonical tables at scale: by the integer keys ingest writes next to each
ID (`ingest.keys`: one code list per ID family for every table of a run), else by Arrow's hash over
the IDs themselves. pandas' own ``isin`` on Arrow strings loops over the wanted values in Python, and
slicing whole tables to test a few IDs copies every string column; these functions do neither.
Pure, vectorised, no I/O; IDs compared as given (``00123`` is not ``123``), a missing ID never matches.
"""
from __future__ import annotations

from typing import Iterable

import numpy as np
import pandas as pd
import pyarrow.compute as pc

from ..ingest.keys import arrow_ids, family_of, key_column, member, positions


def same_as_previous(ids: pd.Series) -> np.ndarray:
    """Whether each row's ID equals the row before it (False for the first row and for a missing ID):
    where a sorted table's run of one patient goes on. Compared by Arrow, no Python strings made."""
    arr = arrow_ids(ids)
    if len(arr) < 2:
        return np.zeros(len(arr), bool)
    same = pc.equal(arr.slice(1), arr.slice(0, len(arr) - 1)).fill_null(False)
    return np.r_[False, same.to_numpy(zero_copy_only=False)]


def among(ids: pd.Series | pd.Index, wanted: Iterable[str] | pd.Index | pd.Series) -> np.ndarray:
    """Whether each ID is one of ``wanted`` (a missing ID never is): `keys.member` for an Index or any
    iterable of IDs (pandas' ``isin`` on Arrow strings loops over ``wanted`` in Python)."""
    def series(values) -> pd.Series:
        return values if isinstance(values, pd.Series) else pd.Series(
            values if isinstance(values, pd.Index) else list(values), dtype="string")
    return member(series(ids), series(wanted))


def with_keys(frame: pd.DataFrame, columns: Iterable[str]) -> list[str]:
    """The given columns of the frame, each ID column followed by ingest's key column of its family when
    the frame has one (so that a slice of the frame still looks IDs up by key); absent columns left out."""
    out = []
    for column in columns:
        family = family_of(column)
        out += [c for c in (column, key_column(family) if family else None) if c in frame and c not in out]
    return out


def row_in(frame: pd.DataFrame, column: str, source: pd.DataFrame, source_column: str | None = None) -> np.ndarray:
    """For each row's ID ``frame[column]``, the position of the first row of ``source`` with that ID in
    ``source[source_column]`` (default the same name); -1 when absent or missing. By ingest's keys when
    both frames carry them (see `found_in`), else Arrow's hash (`keys.positions`)."""
    source_column = source_column or column
    family = family_of(column)
    if family is not None and family == family_of(source_column) and key_column(family) in frame \
            and key_column(family) in source:
        mine = frame[key_column(family)].to_numpy(np.int64)
        theirs = source[key_column(family)].to_numpy(np.int64)
        size = int(max(mine.max(initial=-1), theirs.max(initial=-1))) + 1
        first = np.full(size + 1, -1, np.int64)         # the last slot stands for a missing ID (key -1)
        rows = np.flatnonzero(theirs >= 0)[::-1]        # assigned last to first: the first row wins
        first[theirs[rows]] = rows
        return first[np.where(mine >= 0, mine, size)]
    return positions(frame[column], source[source_column])


def found_in(frame: pd.DataFrame, column: str, source: pd.DataFrame, source_column: str | None = None) -> np.ndarray:
    """Whether each row's ID ``frame[column]`` is one of the IDs of ``source[source_column]`` (default
    the same column name; a missing ID never is). When both frames carry ingest's integer key of the ID
    family (``<family>_key``, one code list per family for every table of a run), by the keys: one
    boolean array indexed by key, no string hashed; otherwise `among`."""
    source_column = source_column or column
    family, other = family_of(column), family_of(source_column)
    if family is not None and family == other and key_column(family) in frame and key_column(family) in source:
        mine = frame[key_column(family)].to_numpy(np.int64)
        theirs = source[key_column(family)].to_numpy(np.int64)
        size = int(max(mine.max(initial=-1), theirs.max(initial=-1))) + 1
        present = np.zeros(size + 1, bool)               # the last slot stands for a missing ID (key -1)
        present[theirs[theirs >= 0]] = True
        return present[np.where(mine >= 0, mine, size)]
    return among(frame[column], source[source_column])
