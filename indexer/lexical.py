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

from indexer.postings import K1, B, Postings
from kommunesoeg.core.errors import IndexFileDamaged
from kommunesoeg.core.models import Chunk
from kommunesoeg.core.textnorm import tokenize

IDS_FILE = "ids.json"
TF_FILE = "tf.npy"  # each posting's term count (`indexer.postings`)
DOC_LEN_FILE = "doc_len.npy"  # each row's token count
# bm25s's own file names (`bm25s.BM25.save`)
_VOCAB_FILE, _INDPTR_FILE, _INDICES_FILE = "vocab.index.json", "indptr.csc.index.npy", "indices.csc.index.npy"


def lexical_text(chunk: Chunk) -> str:
    """What BM25 sees: the contextual header (item title, bilag name) and the passage."""
    return f"{chunk.header}\n{chunk.text}" if chunk.header else chunk.text


def build_lexical(chunks: list[Chunk], out_dir: Path,
                  tokens: Sequence[list[str]] | None = None) -> None:
    """Index the canonical chunks (duplicates are found through their canonical copy).
    `tokens`, when given, are `tokenize(lexical_text(c))` of those chunks, in order, made
    or cached by the caller (the build keeps them between generations)."""
    canonical = [c for c in chunks if c.duplicate_of is None]
    if tokens is None:
        tokens = [tokenize(lexical_text(c)) for c in canonical]
    if len(tokens) != len(canonical):
        raise ValueError(f"tokens for {len(tokens)} chunks, but {len(canonical)} canonical chunks")
    write_lexical(Postings.of(tokens), [c.chunk_id for c in canonical], out_dir)


def write_lexical(postings: Postings, ids: Sequence[str], out_dir: Path) -> None:
    """The bm25s index of `postings` (the scores bm25s would compute, `indexer.postings`),
    the counts it was made of (for the next generation's `read_postings`) and `ids`, the
    canonical chunk id of each row."""
    if len(ids) != postings.passages:
        raise ValueError(f"{len(ids)} ids for {postings.passages} BM25 rows")
    out_dir.mkdir(parents=True, exist_ok=True)
    model = bm25s.BM25(k1=K1, b=B)
    model.scores = {"data": postings.scores(), "indices": postings.docs,
                    "indptr": postings.indptr, "num_docs": postings.passages}
    # bm25s adds the empty token after the terms (`BM25.index`, create_empty_token)
    model.vocab_dict = {**{term: i for i, term in enumerate(postings.vocab)}, "": len(postings.vocab)}
    model.nonoccurrence_array = None
    model.save(str(out_dir), show_progress=False)
    np.save(out_dir / TF_FILE, postings.tf, allow_pickle=False)
    np.save(out_dir / DOC_LEN_FILE, postings.doc_len, allow_pickle=False)
    (out_dir / IDS_FILE).write_text(json.dumps(list(ids), ensure_ascii=False), encoding="utf-8")


def read_postings(directory: Path) -> tuple[Postings, list[str]] | None:
    """The counts and row ids a generation's BM25 index was made of, or None when it does
    not hold them (written before they were kept) or they do not fit together: the build
    then makes the index from every passage's tokens, as it always did."""
    try:
        vocab_ids = json.loads((directory / _VOCAB_FILE).read_text(encoding="utf-8"))
        ids = json.loads((directory / IDS_FILE).read_text(encoding="utf-8"))
        indptr = np.load(directory / _INDPTR_FILE, allow_pickle=False)
        docs = np.load(directory / _INDICES_FILE, allow_pickle=False)
        tf = np.load(directory / TF_FILE, allow_pickle=False)
        doc_len = np.load(directory / DOC_LEN_FILE, allow_pickle=False)
        vocab = [""] * (len(indptr) - 1)
        for term, i in vocab_ids.items():
            if 0 <= i < len(vocab):
                vocab[i] = term
    except (OSError, ValueError, TypeError, AttributeError):  # missing, or not what was written
        return None
    sound = (
        len(vocab_ids) in (len(vocab), len(vocab) + 1) and "" not in vocab and len(ids) == len(doc_len)
        and len(docs) == len(tf) == int(indptr[-1]) and tf.dtype.kind == "u" and docs.dtype == np.int32
        and (len(docs) == 0 or (0 <= docs.min() and docs.max() < len(doc_len)))
    )
    if not sound:
        return None
    return Postings(vocab, indptr.astype(np.int64), docs, tf, doc_len.astype(np.int32)), ids


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
