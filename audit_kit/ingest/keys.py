"""Integer keys for the ID families: one code list per family, shared by every table.

When the canonical tables are written (`family_codes` and `with_keys`, called by `save_tables`;
`add_keys` for frames at hand), each ID column
``<family>_id`` gets an int32 ``<family>_key`` column next to it. The codes of a family come from
one dictionary encoding (`pyarrow.compute.dictionary_encode`, the Arrow counterpart of
`pd.factorize`) over the concatenation of that family's columns in every table (in the tables' order), so equal IDs have equal keys across tables (a booking's ``patient_key`` is the patient's
``patient_key``) and a missing ID is -1. IDs are compared as given (``00123`` is not ``123``).

Metrics join and group on the keys (`np.bincount`, integer indexing); a frame without key columns
(a test's hand-made table) gets them computed on the fly by the same code (`key_of`,
`shared_keys`), valid among the frames coded together.
"""
from __future__ import annotations

from typing import Collection, Mapping

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

FAMILIES = ("patient", "visit", "booking", "lead", "call", "doctor", "invoice")
KEY_DTYPE = np.int32


def id_column(family: str) -> str:
    return f"{family}_id"


def key_column(family: str) -> str:
    return f"{family}_key"


def family_of(column: str) -> str | None:
    """``patient_id`` -> ``patient``; None for a column that is no family's ID."""
    family = column.removesuffix("_id")
    return family if column.endswith("_id") and family in FAMILIES else None


def _codes(columns: list[pd.Series]) -> list[np.ndarray]:
    """One dictionary encoding (Arrow's `dictionary_encode`, codes in order of first appearance like
    `pd.factorize`) over the concatenated columns: int32 codes per column, -1 for missing."""
    if not columns:
        return []
    # One chunked array over the columns' own chunks (no copy of the IDs): Arrow's hash kernel keeps one
    # memo table across chunks, so the codes are those of the concatenation.
    chunks = [chunk if chunk.type == pa.large_string() else chunk.cast(pa.large_string())
              for c in columns for chunk in _chunks(c)]
    encoded = pc.dictionary_encode(pa.chunked_array(chunks, type=pa.large_string()))
    codes = np.concatenate([np.zeros(0, dtype=KEY_DTYPE)] + [
        chunk.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(KEY_DTYPE) for chunk in encoded.chunks])
    cuts = np.cumsum([len(c) for c in columns])[:-1]
    return list(np.split(codes, cuts))


def _chunks(ids: pd.Series) -> list[pa.Array]:
    """The Arrow chunks of an ID column as the "string" dtype holds them."""
    arrow = ids.astype("string").array.__arrow_array__()
    return list(arrow.chunks) if isinstance(arrow, pa.ChunkedArray) else [arrow]


def shared_keys(*columns: pd.Series) -> list[np.ndarray]:
    """Keys of several ID columns of one family over one code list (for frames without key columns)."""
    return _codes(list(columns))


def add_keys(tables: Mapping[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The tables with a ``<family>_key`` column right after each ``<family>_id`` column (new frames)."""
    codes = family_codes({name: df for name, df in tables.items()})
    return {name: with_keys(df, codes[name]) for name, df in tables.items()}


def family_codes(ids: Mapping[str, Mapping[str, pd.Series]],
                 distinct: Mapping[str, Collection[str]] | None = None) -> dict[str, dict[str, np.ndarray]]:
    """The keys of every family: ``ids`` maps table -> its columns (a frame, or only its ID columns: ingest
    keeps the rest of a large table apart until it is written); returns table -> ``<family>_id`` -> int32
    codes, one code list per family over every table in order. ``distinct`` (table -> its ID columns whose
    present values all differ: a table's key once ingest has rejected its duplicates, the hash having been
    made there) lets a family held by that one column alone be coded without hashing it again
    (`_distinct_codes`)."""
    from concurrent.futures import ThreadPoolExecutor

    holders = {family: [name for name, cols in ids.items() if id_column(family) in cols] for family in FAMILIES}
    known = distinct or {}
    # the families coded two at a time: Arrow's hash kernel runs without the GIL
    with ThreadPoolExecutor(max_workers=2) as pool:
        coded = {family: pool.submit(_codes, [ids[name][id_column(family)] for name in names])
                 for family, names in holders.items()
                 if not (len(names) == 1 and id_column(family) in known.get(names[0], ()))}
    out: dict[str, dict[str, np.ndarray]] = {name: {} for name in ids}
    for family in FAMILIES:
        codes = (coded[family].result() if family in coded
                 else [_distinct_codes(ids[holders[family][0]][id_column(family)])])
        for name, column_codes in zip(holders[family], codes):
            out[name][id_column(family)] = column_codes
    return out


def _distinct_codes(ids: pd.Series) -> np.ndarray:
    """`_codes` of one column whose present values all differ: in order of first appearance, each present
    value is the next code (-1 for missing), with no hashing (at 345 branches the invoice family is 6.4 M
    IDs held by the invoices' key alone)."""
    present = ids.notna().to_numpy(bool)
    return np.where(present, np.cumsum(present) - 1, -1).astype(KEY_DTYPE)


def with_keys(df: pd.DataFrame, codes: Mapping[str, np.ndarray]) -> pd.DataFrame:
    """``df`` (not changed) with each ``<family>_key`` of ``codes`` (``<family>_id`` -> codes, from
    `family_codes`) right after its ID column, in the order of FAMILIES."""
    df = df.copy(deep=False)
    for family in FAMILIES:
        if id_column(family) not in codes:
            continue
        df = df.drop(columns=[key_column(family)], errors="ignore")
        df.insert(df.columns.get_loc(id_column(family)) + 1, key_column(family), codes[id_column(family)])
    return df


def key_of(frame: pd.DataFrame, family: str) -> np.ndarray:
    """The frame's ``<family>_key`` column when ingest wrote one, else keys computed for this frame alone."""
    column = key_column(family)
    if column in frame.columns:
        return frame[column].to_numpy()
    return _codes([frame[id_column(family)]])[0]


def arrow_ids(ids: pd.Series | pa.Array | pa.ChunkedArray) -> pa.Array:
    """IDs as one Arrow large_string array (zero-copy for the Arrow-backed "string" dtype)."""
    if isinstance(ids, pd.Series):
        ids = ids.astype("string").array.__arrow_array__()
    if isinstance(ids, pa.ChunkedArray):
        ids = ids.combine_chunks() if ids.num_chunks != 1 else ids.chunk(0)
    return ids if ids.type == pa.large_string() else ids.cast(pa.large_string())


def text_codes(values: pd.Series) -> tuple[np.ndarray, pd.arrays.ArrowStringArray]:
    """A text column as (int64 code per row, -1 where missing; the distinct texts as "string"): a categorical
    column (`notebook.RunTables` reads a module's ``ModuleSpec.categorical`` columns so) by its own codes and
    categories, no text touched per row; any other column by `pd.factorize`. Codes number the texts in no
    particular order: use them to group and look up, and the texts to show."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        return (values.cat.codes.to_numpy().astype(np.int64),
                pd.array(values.cat.categories.astype("string"), dtype="string"))
    codes, names = pd.factorize(values.astype("string"))
    return codes.astype(np.int64, copy=False), pd.array(names, dtype="string")


def arrow_dictionary(values: pd.Series) -> pa.DictionaryArray:
    """A text column as an Arrow dictionary array (indices into the distinct texts, null where missing): a
    categorical column from its codes and categories, any other by `pyarrow.compute.dictionary_encode`."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        codes = values.cat.codes.to_numpy()
        return pa.DictionaryArray.from_arrays(pa.array(codes, mask=codes < 0),
                                              arrow_ids(pd.Series(values.cat.categories, dtype="string")))
    return pc.dictionary_encode(arrow_ids(values))


def arrow_bytes(strings: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """An Arrow string array's cells as numpy views of its buffers: (int64 byte offset of each cell and the
    end of the last, the bytes (no copy), bool per cell: present). For tests on the bytes of every cell
    (lengths, first and last bytes) that Arrow's kernels would make a new array for."""
    width = np.int64 if pa.types.is_large_string(strings.type) or pa.types.is_large_binary(strings.type) else np.int32
    offsets = np.frombuffer(strings.buffers()[1], dtype=width)[strings.offset:strings.offset + len(strings) + 1]
    data = strings.buffers()[2]
    data = np.frombuffer(data, dtype=np.uint8) if data is not None else np.zeros(0, dtype=np.uint8)
    present = (strings.is_valid().to_numpy(zero_copy_only=False) if strings.null_count
               else np.ones(len(strings), dtype=bool))
    return offsets.astype(np.int64, copy=False), data, present


def positions(values, keys) -> np.ndarray:
    """Position of each ID of ``values`` in ``keys`` (first occurrence); -1 when absent or NA.
    Arrow's hash lookup (`pyarrow.compute.index_in`); IDs matched as given."""
    found = pc.index_in(arrow_ids(values), options=pc.SetLookupOptions(value_set=arrow_ids(keys), skip_nulls=True))
    return found.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)


def member(values, keys) -> np.ndarray:
    """Whether each ID of ``values`` is among ``keys`` (NA: never)."""
    found = pc.is_in(arrow_ids(values), options=pc.SetLookupOptions(value_set=arrow_ids(keys), skip_nulls=True))
    return found.fill_null(False).to_numpy(zero_copy_only=False).astype(bool)
