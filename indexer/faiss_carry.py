"""A new generation's FAISS index made from the previous generation's and the fresh vectors:
the carried rows' stored entries are renumbered and kept, only the fresh vectors are
assigned and encoded (issue 12: adding all 1.17 million window vectors of a 300,000-chunk
archive again took 33 s per added meeting, reading them back from the cache 24 s more).

The result holds what `store.make_faiss_index` would make of every vector with the previous
training (`indexer.carry` keeps the rows of a build from scratch): a flat index the same
matrix; an IVF index the same codes in the same lists under the same ids, each list in row
order as an index filled row by row has it, so ties between equal scores fall the same way.
FAISS assigns and encodes the fresh vectors itself (in a scratch index of the same
training), so their codes are its own. HNSW is not carried (its graph depends on the order
its vectors arrived in): such a build makes the index from every vector.
"""

from __future__ import annotations

import faiss
import numpy as np

from indexer.carry import RowMap
from indexer.store import IVF_KINDS, ivf_params, trained_like, training_fits

CARRIED_KINDS = ("flat", *IVF_KINDS)


def can_carry(old: faiss.Index, params: dict, kind: str, dim: int, rows: int) -> bool:
    """Whether `old` (the previous generation's index, its manifest settings `params`) can
    be carried into an index of `rows` vectors of `kind`: the same kind and dimension, and
    for IVF a training a build from scratch would keep as well (`store.training_fits`)."""
    if kind not in CARRIED_KINDS or params.get("kind", "flat") != kind or old.d != dim:
        return False
    return kind == "flat" or training_fits(old, params, kind, dim, rows)


def carried_index(old: faiss.Index, params: dict, kind: str, rows: RowMap,
                  fresh: np.ndarray) -> tuple[faiss.Index, dict]:
    """The index of `rows` (new row -> old row or fresh) whose fresh rows hold `fresh`, in
    row order; and its manifest settings."""
    fresh = np.ascontiguousarray(fresh, dtype=np.float32).reshape(-1, old.d)
    if len(fresh) != len(rows.fresh):
        raise ValueError(f"{len(fresh)} fresh vectors for {len(rows.fresh)} fresh rows")
    if kind == "flat":
        return _carried_flat(old, rows, fresh), {"kind": "flat"}
    index = _carried_ivf(old, kind, rows, fresh)
    return index, ivf_params(index, kind, params["trained_on"])


def _carried_flat(old: faiss.Index, rows: RowMap, fresh: np.ndarray) -> faiss.Index:
    flat = faiss.downcast_index(old)
    stored = faiss.rev_swig_ptr(flat.get_xb(), flat.ntotal * flat.d).reshape(flat.ntotal, flat.d)
    matrix = np.empty((len(rows), flat.d), dtype=np.float32)
    carried = rows.carried
    matrix[carried] = stored[rows.old[carried]]
    matrix[rows.fresh] = fresh
    index = faiss.IndexFlatIP(flat.d)
    index.add(matrix)
    return index


def _carried_ivf(old: faiss.Index, kind: str, rows: RowMap, fresh: np.ndarray) -> faiss.IndexIVF:
    index = trained_like(old, kind, old.d)
    scratch = trained_like(old, kind, old.d)  # FAISS assigns and encodes the fresh vectors
    if len(fresh):
        scratch.add_with_ids(fresh, rows.fresh.astype(np.int64))
    new_of_old = rows.new_of_old(old.ntotal)
    before = faiss.extract_index_ivf(old).invlists
    code_size = index.code_size
    for lst in range(index.nlist):
        old_ids, old_codes = _entries(before, lst, code_size)
        moved = new_of_old[old_ids]
        keep = moved >= 0
        new_ids, new_codes = _entries(scratch.invlists, lst, code_size)
        ids = np.concatenate([moved[keep], new_ids])
        if not len(ids):
            continue
        codes = np.concatenate([old_codes[keep], new_codes])
        order = np.argsort(ids, kind="stable")
        ids = np.ascontiguousarray(ids[order], dtype=np.int64)
        codes = np.ascontiguousarray(codes[order])
        index.invlists.add_entries(lst, len(ids), faiss.swig_ptr(ids), faiss.swig_ptr(codes))
    if sum(index.invlists.list_size(lst) for lst in range(index.nlist)) != len(rows):
        raise ValueError("the carried and fresh entries do not fill every row once")
    index.ntotal = len(rows)
    index.make_direct_map()  # reconstruct(row), as store.make_faiss_index sets it up
    return index


def _entries(invlists: faiss.InvertedLists, lst: int, code_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Copies of one inverted list's ids and codes."""
    n = invlists.list_size(lst)
    if not n:
        return np.empty(0, dtype=np.int64), np.empty((0, code_size), dtype=np.uint8)
    id_ptr = invlists.get_ids(lst)
    code_ptr = invlists.get_codes(lst)
    try:
        ids = faiss.rev_swig_ptr(id_ptr, n).copy()
        codes = faiss.rev_swig_ptr(code_ptr, n * code_size).reshape(n, code_size).copy()
    finally:
        invlists.release_ids(lst, id_ptr)
        invlists.release_codes(lst, code_ptr)
    return ids, codes
