"""The storage boundary: what the retriever needs from an index, and the file store behind it.

The retriever asks an index for candidates (by vector against the sentence windows or the
whole chunks, by terms through BM25) and for metadata (chunks, decisions, documents by id);
everything else - duplicate groups, access, filters, fusion - it derives itself. Any store
that serves `RetrievalStore` can stand behind the Searcher: the file store of one index
generation (FAISS + bm25s in memory, chunk texts read from SQLite on demand, below) and a
snapshot of a PostgreSQL + pgvector database (retriever/pg_store.py).

What a ranking may consider reaches the store as a boolean mask over rows (canonical chunk
rows in `canonical_ids` order, or window rows), made by `retriever.masks` from the access
policy and the filters: the store applies it inside its own search, so a query costs no
Python work per chunk of the archive and a narrow filter still gets its `n` results.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Protocol

import faiss
import numpy as np

from indexer.columns import ChunkColumns
from indexer.embed import Embedder
from indexer.lexical import LexicalIndex
from indexer.meta_lazy import ChunkFacts
from indexer.store import EMBCACHE, DocumentRecord, IndexReader, read_cached_vectors
from indexer.threads import default_threads
from kommunesoeg.core.models import Chunk, Decision
from kommunesoeg.core.results import ClosedListing


class RetrievalStore(Protocol):
    """One loaded index generation as the retriever sees it."""

    @property
    def generation(self) -> str:
        """Identifies the loaded generation: a new one means new results."""
        ...

    @property
    def generation_name(self) -> str:
        """The generation's short name, for people (e.g. gen-20240101T120000-ab12cd)."""
        ...

    @property
    def vector_index_kind(self) -> str:
        """How the vectors are searched: "flat" (exact), "hnsw", "ivf" or "ivf-sq8" (8-bit codes)."""
        ...

    @property
    def total_bytes(self) -> int:
        """Size of the whole store (every generation, caches)."""
        ...

    @property
    def model_id(self) -> str: ...

    @property
    def created(self) -> str | None: ...

    @property
    def size_bytes(self) -> int: ...

    @property
    def chunks(self) -> Sequence[Chunk]:
        """Every chunk, duplicates included, in index order - the whole archive's text, read
        when asked for: no search or answer needs it (`chunk_facts`, `chunk`, `chunks_of`)."""
        ...

    def chunk_facts(self) -> Iterable[ChunkFacts]:
        """Every chunk's metadata without its text, duplicates included, in index order:
        what the view turns into arrays at load (access, filters, duplicate groups)."""
        ...

    def chunks_of(self, document: str) -> Sequence[Chunk]:
        """The chunks of one document, in index order."""
        ...

    @property
    def decisions(self) -> Sequence[Decision]: ...

    @property
    def documents(self) -> Sequence[DocumentRecord]:
        """One row per indexed file (file, sha256, status, pages, meeting, date, ...)."""
        ...

    @property
    def window_chunk_ids(self) -> Sequence[str]:
        """The chunk id of every sentence window, in window-row order."""
        ...

    @property
    def window_texts(self) -> Sequence[str]: ...

    @property
    def chunk_vector_count(self) -> int:
        """How many whole-chunk vectors there are (one per canonical chunk)."""
        ...

    @property
    def canonical_ids(self) -> Sequence[str]:
        """Every canonical chunk id, in canonical row order: the rows of a chunk mask and of
        the whole-chunk vectors."""
        ...

    @property
    def term_frequencies(self) -> Mapping[str, int] | None:
        """Document frequency of every term over the canonical chunk texts, as the build
        stored it (`kommunesoeg.core.textnorm.document_frequencies`); None when the store
        does not hold it (an older generation) and the view must derive it from the texts."""
        ...

    @property
    def closed_listings(self) -> Sequence[ClosedListing] | None:
        """The closed items open chunks list (`indexer.closed_listings`), as the build
        stored them; None when the store does not hold them (an older generation)."""
        ...

    def chunk(self, chunk_id: str) -> Chunk:
        """The chunk with this id, text included (KeyError when there is none)."""
        ...

    def stored_vectors(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """The vectors the build made for any of these passage texts (e.g. the decisions'),
        text -> vector; texts it did not embed are left out (the caller embeds them)."""
        ...

    def check_model(self, embedder: Embedder) -> None:
        """Refuse an embedder other than the one the vectors were made with."""
        ...

    # `role` in the searches: whose request it is ("public", "internal"; None: the store's
    # own reading). A store that enforces access itself as well (PostgreSQL's row-level
    # security) searches as that role; the mask already holds the access policy's answer.
    def windows_by_vector(
        self, vector: np.ndarray, n: int, mask: np.ndarray | None = None,
        *, role: str | None = None,
    ) -> list[tuple[int, float]]:
        """The `n` nearest sentence windows among those `mask` keeps (a bool per window row;
        None: all) as (window row, cosine), nearest first."""
        ...

    def chunks_by_vector(
        self, vector: np.ndarray, n: int, mask: np.ndarray | None = None,
        *, role: str | None = None,
    ) -> list[tuple[str, float]]:
        """The `n` nearest whole chunks among those `mask` keeps (a bool per canonical row;
        None: all) as (canonical chunk id, cosine), nearest first."""
        ...

    def chunks_by_terms(self, query: str, mask: np.ndarray | None, n: int,
                        *, role: str | None = None) -> dict[str, float]:
        """Up to `n` canonical chunks among those `mask` keeps (a bool per canonical row;
        None: all) with a positive BM25 score for the query's terms, best first (ties in
        BM25 row order)."""
        ...


class FileStore:
    """`RetrievalStore` over the files of one generation: FAISS + SQLite (IndexReader)
    and the bm25s index; chunk and window texts are read from SQLite when asked for. Every file is checked at load, before any embedder loads, so a
    damaged index is one clear error naming the file."""

    def __init__(self, index_dir: Path) -> None:
        # FAISS sizes its OpenMP work by its own thread count, which ignores OMP_THREAD_LIMIT:
        # with the limit at 1 it still plans for every core, and a flat search over ~57,000
        # windows hangs. The embedder's rule (which honours the limit) sets it.
        faiss.omp_set_num_threads(default_threads())
        self._reader = IndexReader.open(index_dir)
        self._lexical = LexicalIndex(self._reader.gen_dir / "bm25", index_dir)
        # BM25 row -> canonical row; None when both orders agree (as the indexer writes them)
        self._bm25_rows: np.ndarray | None = None
        if self._lexical.ids != self._reader.chunk_vec_ids:
            self._lexical.check_ids(self._reader.chunk_vec_ids)
            row_of = {cid: row for row, cid in enumerate(self._reader.chunk_vec_ids)}
            self._bm25_rows = np.array([row_of[cid] for cid in self._lexical.ids], dtype=np.int64)

    @property
    def reader(self) -> IndexReader:
        return self._reader

    @property
    def generation(self) -> str:
        return str(self._reader.gen_dir)

    @property
    def generation_name(self) -> str:
        return self._reader.gen_dir.name

    @property
    def vector_index_kind(self) -> str:
        return self._reader.manifest.get("faiss", {}).get("kind", "flat")

    @property
    def total_bytes(self) -> int:
        return _tree_size(self._reader.index_dir)

    @property
    def model_id(self) -> str:
        return self._reader.model_id

    @property
    def created(self) -> str | None:
        return self._reader.manifest.get("created")

    @property
    def size_bytes(self) -> int:
        return _tree_size(self._reader.gen_dir)

    @property
    def chunks(self) -> Sequence[Chunk]:
        return self._reader.chunks

    def chunk_facts(self) -> Iterable[ChunkFacts]:
        return self._reader.texts.facts()

    def chunk_columns(self) -> ChunkColumns:
        """The chunks' facts as the build wrote them (`indexer.columns`): what the view
        turns into its arrays without visiting a chunk."""
        return self._reader.columns

    def chunks_of(self, document: str) -> Sequence[Chunk]:
        return self._reader.texts.chunks(document)

    @property
    def decisions(self) -> Sequence[Decision]:
        return self._reader.decisions

    @property
    def documents(self) -> Sequence[DocumentRecord]:
        return self._reader.documents

    @property
    def window_chunk_ids(self) -> Sequence[str]:
        return self._reader.window_chunk_ids

    @property
    def window_texts(self) -> Sequence[str]:
        return self._reader.window_texts

    @property
    def chunk_vector_count(self) -> int:
        return len(self._reader.chunk_vec_ids)

    @property
    def canonical_ids(self) -> Sequence[str]:
        return self._reader.chunk_vec_ids

    @property
    def term_frequencies(self) -> Mapping[str, int] | None:
        derived = self._reader.derived
        return None if derived is None else derived.term_df

    @property
    def closed_listings(self) -> Sequence[ClosedListing] | None:
        derived = self._reader.derived
        return None if derived is None else derived.closed_listings

    def chunk(self, chunk_id: str) -> Chunk:
        return self._reader.texts.chunk(chunk_id)

    def stored_vectors(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        return read_cached_vectors(self._reader.index_dir / EMBCACHE, self.model_id, texts)

    def check_model(self, embedder: Embedder) -> None:
        self._reader.check_model(embedder)

    def windows_by_vector(
        self, vector: np.ndarray, n: int, mask: np.ndarray | None = None,
        *, role: str | None = None,
    ) -> list[tuple[int, float]]:
        return nearest_rows(self._reader.dense, vector, n, mask)

    def chunks_by_vector(
        self, vector: np.ndarray, n: int, mask: np.ndarray | None = None,
        *, role: str | None = None,
    ) -> list[tuple[str, float]]:
        ids = self._reader.chunk_vec_ids
        nearest = nearest_rows(self._reader.chunk_dense, vector, n, mask)
        return [(ids[row], sim) for row, sim in nearest]

    def chunks_by_terms(self, query: str, mask: np.ndarray | None, n: int,
                        *, role: str | None = None) -> dict[str, float]:
        scores = self._lexical.scores(query)  # one per BM25 row
        if mask is not None:
            keep = mask if self._bm25_rows is None else mask[self._bm25_rows]
            scores = np.where(keep, scores, np.float32(0))
        ids = self._lexical.ids
        return {ids[row]: float(scores[row]) for row in best_positive(scores, n)}


def best_positive(scores: np.ndarray, n: int) -> np.ndarray:
    """Rows of the `n` best positive scores, best first, ties in row order - what a stable
    sort of all scores would give, at the cost of a partition plus a sort of `n`."""
    rows = np.flatnonzero(scores > 0)
    if n <= 0:
        return rows[:0]
    if len(rows) > n:
        values = scores[rows]
        cut = np.partition(values, len(values) - n)[len(values) - n]  # the n-th best score
        above = rows[values > cut]
        rows = np.concatenate([above, rows[values == cut][: n - len(above)]])  # ties: row order
    return rows[np.lexsort((rows, -scores[rows]))]


# A mask that keeps at least this share of the rows is applied after an ordinary (a little
# deeper) search; a narrower one - a committee, a year - makes FAISS skip the other rows
# itself (IDSelectorBitmap), so it still gets its `n` nearest rows instead of the few of
# them that happen to lie among the archive's nearest.
POST_FILTER_SHARE = 0.5
# An approximate index only looks where the query's nearest vectors are (an IVF index in
# its nprobe nearest lists, HNSW along its graph), and a narrow filter's rows are mostly
# elsewhere. A mask of at most this many rows is therefore searched exactly: its vectors
# are decoded and compared with the query (20,000 rows of 384 values: a few ms); a wider
# one makes an IVF index probe as many more lists as the filter is narrow, so it weighs
# as many allowed candidates as an unfiltered search would (and at least twice `n`).
EXACT_MASK_ROWS = 20_000


def nearest_rows(
    index: faiss.Index, vector: np.ndarray, n: int, mask: np.ndarray | None = None
) -> list[tuple[int, float]]:
    """The `n` nearest rows of `index` among those `mask` keeps, as (row, cosine)."""
    query = np.asarray(vector, dtype=np.float32).reshape(1, -1)
    total = index.ntotal
    if mask is None:
        return _search(index, query, min(n, total))
    if len(mask) != total:
        raise ValueError(f"mask has {len(mask)} rows, the index {total}")
    kept = int(np.count_nonzero(mask))
    n = min(n, kept)
    if n <= 0:
        return []
    if kept == total:
        return _search(index, query, n)
    if kept >= POST_FILTER_SHARE * total:
        deeper = min(total, math.ceil(n * total / kept * 1.25) + 16)
        found = [(row, sim) for row, sim in _search(index, query, deeper) if mask[row]]
        if len(found) >= n or deeper == total:
            return found[:n]
    concrete = faiss.downcast_index(index)
    if kept <= EXACT_MASK_ROWS and not isinstance(concrete, faiss.IndexFlat):
        return _nearest_decoded(index, query[0], n, np.flatnonzero(mask))
    bitmap = np.packbits(mask, bitorder="little")  # row i is bit i & 7 of byte i >> 3
    selector = faiss.IDSelectorBitmap(len(bitmap), faiss.swig_ptr(bitmap))  # n: bytes
    ivf = faiss.try_extract_index_ivf(index)
    if ivf is None:
        return _search(index, query, n, _params_with(index, selector))
    nprobe = min(ivf.nlist, max(math.ceil(ivf.nprobe * total / kept),
                                math.ceil(2 * n * ivf.nlist / kept)))
    while True:  # rows of a filter can crowd into few lists: probe more until n are found
        params = faiss.SearchParametersIVF(sel=selector, nprobe=nprobe, max_codes=ivf.max_codes)
        found = _search(index, query, n, params)
        if len(found) >= n or nprobe >= ivf.nlist:
            return found
        nprobe = min(ivf.nlist, nprobe * 4)


def _nearest_decoded(index: faiss.Index, query: np.ndarray, n: int,
                     rows: np.ndarray) -> list[tuple[int, float]]:
    """The `n` best of `rows` by the inner product of their stored (decoded) vectors with
    `query`; ties in row order, as FAISS orders them."""
    sims = index.reconstruct_batch(rows.astype(np.int64)) @ query
    order = np.lexsort((rows, -sims))[:n]
    return [(int(rows[i]), float(sims[i])) for i in order]


def _params_with(index: faiss.Index, selector: faiss.IDSelector) -> faiss.SearchParameters:
    """Search parameters carrying `selector`; an approximate index gets its own kind, with
    its current efSearch (FAISS refuses, or resets it with, the generic kind)."""
    concrete = faiss.downcast_index(index)
    if isinstance(concrete, faiss.IndexHNSW):
        return faiss.SearchParametersHNSW(sel=selector, efSearch=concrete.hnsw.efSearch)
    return faiss.SearchParameters(sel=selector)


def _search(
    index: faiss.Index, query: np.ndarray, k: int, params: faiss.SearchParameters | None = None
) -> list[tuple[int, float]]:
    if k <= 0:
        return []
    sims, rows = index.search(query, k, params=params)
    return [(int(row), float(sim)) for sim, row in zip(sims[0], rows[0]) if row >= 0]


def _tree_size(root: Path) -> int:
    """Bytes of the regular files under `root` (symlinks, such as `current`, not followed)."""
    total = 0
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            path = Path(dirpath) / name
            if not path.is_symlink():
                total += path.stat().st_size
    return total
