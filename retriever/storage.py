"""The storage boundary: what the retriever needs from an index, and the file store behind it.

The retriever asks an index for candidates (by vector against the sentence windows or the
whole chunks, by terms through BM25) and for metadata (chunks, decisions, documents by id);
everything else - duplicate groups, access, filters, fusion - it derives itself. Any store
that serves `RetrievalStore` can stand behind the Searcher: today the file store of one
index generation (FAISS + SQLite + bm25s, loaded into memory), later a database.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from indexer.embed import Embedder
from indexer.lexical import LexicalIndex
from indexer.store import DocumentRecord, IndexReader
from kommunesoeg.core.models import Chunk, Decision


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
        """How the vectors are searched: "flat" (exact), "hnsw" or "ivf"."""
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
        """Every chunk, duplicates included, in index order."""
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

    def chunk(self, chunk_id: str) -> Chunk: ...

    def check_model(self, embedder: Embedder) -> None:
        """Refuse an embedder other than the one the vectors were made with."""
        ...

    def windows_by_vector(self, vector: np.ndarray, n: int) -> list[tuple[int, float]]:
        """The `n` nearest sentence windows as (window row, cosine), nearest first."""
        ...

    def chunks_by_vector(self, vector: np.ndarray, n: int) -> list[tuple[str, float]]:
        """The `n` nearest whole chunks as (canonical chunk id, cosine), nearest first."""
        ...

    def chunks_by_terms(self, query: str, allowed: Collection[str], n: int) -> dict[str, float]:
        """Up to `n` canonical chunks among `allowed` with a positive BM25 score for the
        query's terms, best first (ties in index order)."""
        ...


class FileStore:
    """`RetrievalStore` over the files of one generation: FAISS + SQLite (IndexReader)
    and the bm25s index. Every file is checked at load, before any embedder loads, so a
    damaged index is one clear error naming the file."""

    def __init__(self, index_dir: Path) -> None:
        self._reader = IndexReader.open(index_dir)
        self._lexical = LexicalIndex(self._reader.gen_dir / "bm25", index_dir)
        self._lexical.check_ids(self._reader.chunk_vec_ids)

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

    def chunk(self, chunk_id: str) -> Chunk:
        return self._reader.chunk_by_id[chunk_id]

    def check_model(self, embedder: Embedder) -> None:
        self._reader.check_model(embedder)

    def windows_by_vector(self, vector: np.ndarray, n: int) -> list[tuple[int, float]]:
        return _nearest(self._reader.dense, vector, n)

    def chunks_by_vector(self, vector: np.ndarray, n: int) -> list[tuple[str, float]]:
        ids = self._reader.chunk_vec_ids
        return [(ids[row], sim) for row, sim in _nearest(self._reader.chunk_dense, vector, n)]

    def chunks_by_terms(self, query: str, allowed: Collection[str], n: int) -> dict[str, float]:
        scores = self._lexical.scores(query)
        best: dict[str, float] = {}
        for i in np.argsort(-scores, kind="stable"):
            if scores[i] <= 0 or len(best) >= n:
                break
            chunk_id = self._lexical.ids[i]
            if chunk_id in allowed:
                best[chunk_id] = float(scores[i])
        return best


def _nearest(index, vector: np.ndarray, n: int) -> list[tuple[int, float]]:
    n = min(index.ntotal, n)
    if n <= 0:
        return []
    sims, rows = index.search(np.asarray(vector, dtype=np.float32).reshape(1, -1), n)
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
