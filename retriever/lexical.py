"""BM25 over canonical chunks (bm25s), with Danish stemming and OCR folding.

Built at index time into `gen_dir/bm25/` and memory-mapped by the searcher, so lexical
search costs no start-up tokenisation. The lexical side is what finds case numbers,
amounts and names that an embedding model blurs.
"""

from __future__ import annotations

import json
from pathlib import Path

import bm25s
import numpy as np

from indexer.models import Chunk
from retriever.textnorm import tokenize

IDS_FILE = "ids.json"


def lexical_text(chunk: Chunk) -> str:
    """What BM25 sees: the contextual header (item title, bilag name) and the passage."""
    return f"{chunk.header}\n{chunk.text}" if chunk.header else chunk.text


def build_lexical(chunks: list[Chunk], out_dir: Path) -> None:
    """Index the canonical chunks (duplicates are found through their canonical copy)."""
    canonical = [c for c in chunks if c.duplicate_of is None]
    out_dir.mkdir(parents=True, exist_ok=True)
    corpus_tokens = [tokenize(lexical_text(c)) or ["\u2205"] for c in canonical]
    model = bm25s.BM25(k1=1.2, b=0.75)
    model.index(corpus_tokens, show_progress=False)
    model.save(str(out_dir), show_progress=False)
    (out_dir / IDS_FILE).write_text(
        json.dumps([c.chunk_id for c in canonical], ensure_ascii=False), encoding="utf-8"
    )


class LexicalIndex:
    """A loaded BM25 index; `scores` returns one score per canonical chunk id."""

    def __init__(self, directory: Path) -> None:
        self.model = bm25s.BM25.load(str(directory), mmap=False, show_progress=False)
        self.ids: list[str] = json.loads((directory / IDS_FILE).read_text(encoding="utf-8"))
        self._vocab = self.model.vocab_dict

    def scores(self, query: str) -> np.ndarray:
        tokens = [t for t in tokenize(query, query=True) if t in self._vocab]
        if not tokens:
            return np.zeros(len(self.ids), dtype=np.float32)
        return np.asarray(self.model.get_scores(tokens), dtype=np.float32)
