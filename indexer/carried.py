"""What a build takes over from the previous generation's files instead of making them again:
its FAISS files (memory-mapped) and BM25 counts, with the row maps of `indexer.carry` that
say where their rows go. Shared by the build over every chunk and the updating build."""

from __future__ import annotations

from dataclasses import dataclass

import faiss

from indexer import store
from indexer.carry import Carry, plan_carry
from indexer.faiss_carry import can_carry
from indexer.lexical import read_postings
from indexer.postings import Postings
from indexer.previous_generation import Previous
from kommunesoeg.core.models import Chunk


@dataclass
class Carried:
    """What a build takes over from the previous generation (`indexer.carry`): the row maps,
    the previous FAISS files (memory-mapped, with their manifest settings) when both can be
    carried, and the previous BM25 counts when they can."""

    rows: Carry
    settled: frozenset[str]  # documents taken over unchanged
    dense: tuple[faiss.Index, dict] | None
    chunk_dense: tuple[faiss.Index, dict] | None
    postings: Postings | None

    @property
    def vectors(self) -> bool:
        return self.dense is not None and self.chunk_dense is not None


def carried_over(previous: Previous | None, settings: dict, faiss_kind: str, chunks: list[Chunk],
                 settled: set[str]) -> Carried | None:
    """What of the previous generation this build can carry over (None: nothing, it has no
    columns to tell its rows by). Vectors need the same model and FAISS files that can be
    carried (`faiss_carry.can_carry`); BM25 counts the same tokenizer code and counts whose
    rows are the previous generation's canonical chunks."""
    columns = previous.columns if previous is not None else None
    if columns is None:
        return None
    before = previous.manifest.get("settings", {})
    rows = plan_carry(columns, chunks, settled)
    dense = chunk_dense = None
    if before.get("model_id") == settings["model_id"]:
        dense = carried_faiss(previous, store.DENSE, "faiss", faiss_kind,
                              len(rows.windows), rows.old_window_rows)
        chunk_dense = carried_faiss(previous, store.CHUNK_DENSE, "chunk_faiss", faiss_kind,
                                    len(rows.chunks), rows.old_chunk_rows)
    postings = None
    if before.get("index_code") == settings["index_code"]:
        found = read_postings(previous.gen_dir / store.BM25_DIR)
        canonical = columns.canonical_positions.tolist()
        if found is not None and found[1] == [columns.chunk_ids[i] for i in canonical]:
            postings = found[0]
    return Carried(rows, frozenset(settled), dense, chunk_dense, postings)


def carried_faiss(previous: Previous, name: str, key: str, kind: str, rows: int,
                  old_rows: int) -> tuple[faiss.Index, dict] | None:
    """The previous generation's FAISS file `name` (manifest settings `key`) when it can be
    carried into an index of `rows` vectors of `kind`."""
    params = previous.manifest.get(key)
    if not isinstance(params, dict):
        return None
    old = store.read_previous_faiss(previous.gen_dir / name)
    if old is None or old.ntotal != old_rows or not can_carry(old, params, kind, old.d, rows):
        return None
    return old, params
