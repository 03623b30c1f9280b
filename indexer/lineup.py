"""The chunks of a new generation in index order, when most of them are the previous
generation's: ids and marks as arrays, a chunk itself read from the previous meta.sqlite
only when something needs it.

Why (issue 12): an adding build read every chunk of the archive into Python objects (14 s
at 300,000 chunks), judged duplicates over the whole list and wrote every row again
(17 s), although only one meeting changed. Index order is documents by name, each
document's chunks together; a document taken over unchanged (`settled`) is one block of
the previous generation's positions. A `ChunkLineup` lays the blocks of settled documents
and the chunks of documents parsed in this build side by side, and serves what
`indexer.dedupe.judge` asks (the `Lineup` protocol): every id and duplicate mark at once,
a chunk's text and flags when it is compared.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from indexer.columns import ChunkColumns
from indexer.meta_lazy import ChunkTexts
from kommunesoeg.core.models import Chunk


@dataclass(frozen=True)
class Block:
    """One document's place in the new index order: `old` its previous positions
    [start, stop) when it is settled, else `chunks` parsed in this build."""

    document: str
    old: tuple[int, int] | None
    chunks: Sequence[Chunk] = ()

    def __len__(self) -> int:
        return self.old[1] - self.old[0] if self.old is not None else len(self.chunks)


def document_blocks(columns: ChunkColumns) -> dict[str, tuple[int, int]]:
    """Each document of a generation -> its chunks' positions [start, stop) (a document's
    chunks are contiguous in index order)."""
    codes = columns["document"]
    if not len(codes):
        return {}
    starts = np.flatnonzero(np.concatenate([[True], codes[1:] != codes[:-1]]))
    stops = np.concatenate([starts[1:], [len(codes)]])
    names = columns.values("document")
    blocks = {names[int(codes[a])]: (int(a), int(b)) for a, b in zip(starts, stops)}
    if len(blocks) != len(starts):
        raise ValueError("a document's chunks are not contiguous in the previous generation")
    return blocks


class ChunkLineup:
    """The new index order (`Block`s in document-name order) over the previous generation's
    `columns` and meta.sqlite (`texts`): a `dedupe.Lineup`."""

    def __init__(self, blocks: Sequence[Block], columns: ChunkColumns, texts: ChunkTexts) -> None:
        self.blocks = list(blocks)
        self._texts = texts
        old_ids = columns.chunk_ids
        old_dup = columns["duplicate_of"]
        self.old_position = np.full(sum(len(b) for b in self.blocks), -1, dtype=np.int64)
        self.ids: list[str] = []
        self._parsed: dict[int, Chunk] = {}
        self._old_duplicates: dict[int, str] = {}  # position -> canonical id, settled copies
        self._blocks: dict[str, tuple[int, Block]] = {}  # document -> (first position, block)
        at = 0
        for block in self.blocks:
            self._blocks[block.document] = (at, block)
            if block.old is not None:
                start, stop = block.old
                self.old_position[at : at + stop - start] = np.arange(start, stop)
                self.ids.extend(old_ids[start:stop])
                for offset in np.flatnonzero(old_dup[start:stop] >= 0).tolist():
                    self._old_duplicates[at + offset] = old_ids[int(old_dup[start + offset])]
            else:
                for offset, chunk in enumerate(block.chunks):
                    self._parsed[at + offset] = chunk
                self.ids.extend(c.chunk_id for c in block.chunks)
            at += len(block)
        self._read: dict[int, Chunk] = {}

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> Chunk:
        chunk = self._parsed.get(i) or self._read.get(i)
        if chunk is None:
            chunk = self._read[i] = self._texts.chunk(self.ids[i])
        return chunk

    def duplicate_id(self, i: int) -> str | None:
        chunk = self._parsed.get(i)
        return chunk.duplicate_of if chunk is not None else self._old_duplicates.get(i)

    def settled(self) -> list[int]:
        """The positions of the settled documents' chunks."""
        return np.flatnonzero(self.old_position >= 0).tolist()

    def parsed(self) -> Mapping[int, Chunk]:
        """Position -> chunk, for the chunks parsed in this build."""
        return self._parsed

    def marked(self, duplicate_of: Mapping[int, int]) -> np.ndarray:
        """The canonical position of each position's chunk (-1: canonical), given the copy
        -> canonical positions `dedupe.judge` found."""
        out = np.full(len(self), -1, dtype=np.int64)
        if duplicate_of:
            copies = np.fromiter(duplicate_of.keys(), dtype=np.int64, count=len(duplicate_of))
            out[copies] = np.fromiter(duplicate_of.values(), dtype=np.int64, count=len(duplicate_of))
        return out

    def chunks_of(self, document: str) -> list[tuple[int, Chunk]]:
        """(position, chunk) of every chunk of `document`, in index order; a settled
        document's read in one query."""
        start, block = self._blocks[document]
        positions = range(start, start + len(block))
        if block.old is None:
            return list(zip(positions, block.chunks))
        chunks = self._texts.chunks(document)
        if [c.chunk_id for c in chunks] != self.ids[start : start + len(block)]:
            raise ValueError(f"the chunks of {document} are not the previous generation's")
        return list(zip(positions, chunks))
