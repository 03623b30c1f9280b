"""BM25 over canonical chunks (bm25s), with Danish stemming and OCR folding.

Built at index time into `gen_dir/bm25/` and memory-mapped by the searcher, so lexical
search costs no start-up tokenisation. The lexical side is what finds case numbers,
amounts and names that an embedding model blurs.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path

import bm25s
import numpy as np

from kommunesoeg.core.errors import IndexFileDamaged
from kommunesoeg.core.models import Chunk
from kommunesoeg.core.textnorm import tokenize

IDS_FILE = "ids.json"


def lexical_text(chunk: Chunk) -> str:
    """What BM25 sees: the contextual header (item title, bilag name) and the passage."""
    return f"{chunk.header}\n{chunk.text}" if chunk.header else chunk.text


def build_lexical(chunks: list[Chunk], out_dir: Path,
                  tokens: Sequence[list[str]] | None = None) -> None:
    """Index the canonical chunks (duplicates are found through their canonical copy).
    `tokens`, when given, are `tokenize(lexical_text(c))` of those chunks, in order, made
    or cached by the caller (the build keeps them between generations)."""
    canonical = [c for c in chunks if c.duplicate_of is None]
    out_dir.mkdir(parents=True, exist_ok=True)
    if tokens is None:
        tokens = [tokenize(lexical_text(c)) for c in canonical]
    if len(tokens) != len(canonical):
        raise ValueError(f"tokens for {len(tokens)} chunks, but {len(canonical)} canonical chunks")
    corpus_tokens = [t or ["\u2205"] for t in tokens]
    model = bm25s.BM25(k1=1.2, b=0.75)
    model.index(corpus_tokens, show_progress=False)
    model.save(str(out_dir), show_progress=False)
    (out_dir / IDS_FILE).write_text(
        json.dumps([c.chunk_id for c in canonical], ensure_ascii=False), encoding="utf-8"
    )


class LexicalIndex:
    """A loaded BM25 index; `scores` returns one score per canonical chunk id.

    Loading checks what a damaged bm25/ folder would otherwise turn into a traceback at
    the first query, or into wrong hits (ids.json not matching the BM25 rows): every
    problem is one IndexFileDamaged naming the file. `index_dir` is only for the message
    (default: the directory two levels up, as in `index/gen-*/bm25`)."""

    def __init__(self, directory: Path, index_dir: Path | None = None) -> None:
        directory = Path(directory)
        self.directory = directory
        self._index_dir = Path(index_dir) if index_dir else directory.parent.parent
        if not directory.is_dir():
            raise IndexFileDamaged(self._index_dir, directory, "mangler")
        self.model = self._load_model(directory)
        self.ids: list[str] = self._load_ids(directory / IDS_FILE)
        self._vocab = self.model.vocab_dict
        self._check_rows(directory)

    def _load_model(self, directory: Path) -> bm25s.BM25:
        try:
            return bm25s.BM25.load(str(directory), mmap=False, show_progress=False)
        except Exception as exc:  # bm25s raises whatever numpy/json raise on a broken file
            file = Path(getattr(exc, "filename", None) or directory)
            raise IndexFileDamaged(
                self._index_dir, file, "BM25-indekset kan ikke læses (mangler, afkortet eller ødelagt)"
            ) from exc

    def _load_ids(self, path: Path) -> list[str]:
        if not path.is_file():
            raise IndexFileDamaged(self._index_dir, path, "mangler")
        try:
            ids = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise IndexFileDamaged(self._index_dir, path, "er ikke gyldig JSON") from exc
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise IndexFileDamaged(self._index_dir, path, "er ikke en liste af tekststykke-id'er")
        if len(set(ids)) != len(ids):
            raise IndexFileDamaged(self._index_dir, path, "nævner det samme tekststykke flere gange")
        return ids

    def _check_rows(self, directory: Path) -> None:
        """One BM25 row per id, and a scoring matrix that can actually be scored."""
        rows = self.model.scores.get("num_docs") if isinstance(self.model.scores, dict) else None
        if rows != len(self.ids):
            raise IndexFileDamaged(
                self._index_dir, directory / IDS_FILE,
                f"har {len(self.ids)} id'er, men BM25-indekset har {rows} rækker",
            )
        probe = next(iter(self._vocab), None)
        try:
            scored = len(self.model.get_scores([probe])) if probe is not None else rows
        except Exception as exc:  # inconsistent matrices fail here instead of at a query
            raise IndexFileDamaged(self._index_dir, directory, "BM25-indekset er inkonsistent") from exc
        if scored != rows:
            raise IndexFileDamaged(self._index_dir, directory, "BM25-indekset er inkonsistent")

    def check_ids(self, canonical_ids: Iterable[str]) -> None:
        """ids.json must name exactly the canonical chunks of meta.sqlite; ids from another
        build would map BM25 scores onto the wrong passages."""
        if set(self.ids) != set(canonical_ids):
            raise IndexFileDamaged(
                self._index_dir, self.directory / IDS_FILE,
                "passer ikke til tekststykkerne i meta.sqlite (stammer fra et andet indeks?)",
            )

    def scores(self, query: str) -> np.ndarray:
        tokens = [t for t in tokenize(query, query=True) if t in self._vocab]
        if not tokens:
            return np.zeros(len(self.ids), dtype=np.float32)
        return np.asarray(self.model.get_scores(tokens), dtype=np.float32)
