"""Which rows of a new generation's vector and BM25 files the previous generation already
holds, so that a build carries them over instead of reading every vector back from the
embedding cache and adding it to FAISS again (issue 12: at 300,000 chunks an added meeting
spent 33 s adding all 1.17 million window vectors to FAISS and 24 s reading them).

A row is carried when its chunk comes from a document the build took over unchanged from
the previous generation (`settled` documents: same content, same parse settings, so the
chunk, its header and its windows are the stored ones) and the chunk was canonical there
too: then its windows' and its own vector, and its BM25 counts, are exactly what the
previous generation stored. Every other canonical chunk is `fresh`: its vectors come from
the cache or the model, as in a build from scratch.

Rows keep the layout of a build from scratch: canonical chunks in index order, each
chunk's windows together in window order. So a carried file is the file a full build would
write, row for row, and carried rows keep their relative order (`RowMap.new_of_old`).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np

from indexer.columns import ChunkColumns
from kommunesoeg.core.models import Chunk


@dataclass(frozen=True)
class RowMap:
    """Per row of a new file, the previous generation's row holding the same entry (-1:
    a fresh row, made by this build)."""

    old: np.ndarray  # int64, one per new row

    def __len__(self) -> int:
        return len(self.old)

    @property
    def fresh(self) -> np.ndarray:
        """The new rows this build makes."""
        return np.flatnonzero(self.old < 0)

    @property
    def carried(self) -> np.ndarray:
        """The new rows taken from the previous generation."""
        return np.flatnonzero(self.old >= 0)

    def new_of_old(self, old_rows: int) -> np.ndarray:
        """Per row of the previous file, its row in the new one (-1: left)."""
        out = np.full(old_rows, -1, dtype=np.int64)
        carried = self.carried
        out[self.old[carried]] = carried
        return out


@dataclass(frozen=True)
class Carry:
    """The row maps of a build that carries rows over from the previous generation."""

    chunks: RowMap  # chunks.faiss and BM25 rows (canonical chunks, index order)
    windows: RowMap  # dense.faiss rows
    old_chunk_rows: int  # rows of the previous generation's chunks.faiss / BM25 index
    old_window_rows: int
    fresh: np.ndarray  # the index positions of the fresh chunk rows' chunks, in row order


def plan_rows(previous: ChunkColumns, old_position: np.ndarray, canonical: np.ndarray,
              window_counts: np.ndarray) -> Carry:
    """The row maps of a new index order against the previous generation's `columns`: per
    new position, `old_position` (the chunk's previous position when its document was taken
    over unchanged, else -1), `canonical` (bool) and `window_counts` (its windows)."""
    old_vec_row = previous["vec_row"]
    window_chunk = previous["window_chunk"]  # non-decreasing: windows follow chunk order
    old_first = np.searchsorted(window_chunk, np.arange(len(previous) + 1), side="left")
    positions = np.flatnonzero(canonical)
    before = old_position[positions]
    was = np.maximum(before, 0)
    row = np.where(before >= 0, old_vec_row[was], -1)
    counts = np.asarray(window_counts, dtype=np.int64)[positions]
    carried = (row >= 0) & (old_first[was + 1] - old_first[was] == counts)
    first = np.repeat(np.where(carried, old_first[was], -1), counts)
    offset = np.arange(len(first)) - np.repeat(np.cumsum(counts) - counts, counts)
    return Carry(
        chunks=RowMap(np.where(carried, row, -1).astype(np.int64)),
        windows=RowMap(np.where(first >= 0, first + offset, -1).astype(np.int64)),
        old_chunk_rows=int((old_vec_row >= 0).sum()),
        old_window_rows=len(window_chunk),
        fresh=positions[~carried],
    )


def plan_carry(previous: ChunkColumns, chunks: Sequence[Chunk], settled: Collection[str]) -> Carry:
    """`plan_rows` for `chunks` in index order (duplicates marked); `settled`: the
    documents taken over unchanged."""
    old_position = {cid: i for i, cid in enumerate(previous.chunk_ids)}
    return plan_rows(
        previous,
        np.fromiter((old_position.get(c.chunk_id, -1) if c.document in settled else -1 for c in chunks),
                    dtype=np.int64, count=len(chunks)),
        np.fromiter((c.duplicate_of is None for c in chunks), dtype=bool, count=len(chunks)),
        np.fromiter((len(c.windows) for c in chunks), dtype=np.int64, count=len(chunks)),
    )
