"""The term counts behind the BM25 index, kept so that a new generation's BM25 index is made
from the previous generation's counts plus the changed passages, not from every passage again.

Why (issue 12): bm25s stores finished scores, and every score depends on the whole archive
(the term's idf, the average passage length), so adding one meeting changes every stored
number; rebuilding them from all tokens was 26 s of the 171 s an added meeting cost at
300,000 chunks, plus 16 s reading the tokens back. The raw counts - which term occurs in
which passage how often, and each passage's length - do not change when other passages
come or go. A generation keeps them beside the bm25s files (`tf.npy`, `doc_len.npy`; the
posting rows are bm25s's own `indices` and `indptr`), and a new generation drops the
postings of passages that left, renumbers the rest, merges in the new passages' postings
and recomputes every score from the counts with numpy.

The scores are computed with the arithmetic of bm25s's default ("lucene") scoring in the
same floating-point types, so they are bit for bit what `bm25s.BM25.index` makes of the
same tokens (tests/test_postings.py); only the order of the vocabulary differs, which bm25s
itself draws from a set.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

K1 = 1.2
B = 0.75
EMPTY_TOKEN = "\u2205"  # the token of a passage without any (bm25s needs one per passage)
# postings scored at a time: bounds the float64 temporaries (~100 MB) at any archive size
_SCORE_BLOCK = 4_000_000


@dataclass(frozen=True)
class Postings:
    """Term-major counts: the postings of term t are rows `indptr[t]:indptr[t+1]` of `docs`
    (passage rows, ascending) and `tf` (how often t occurs there); `doc_len[d]` is passage
    d's token count. The layout of bm25s's CSC matrix, with counts instead of scores."""

    vocab: list[str]  # term id -> term
    indptr: np.ndarray  # int64, len(vocab) + 1
    docs: np.ndarray  # int32
    tf: np.ndarray  # unsigned ints
    doc_len: np.ndarray  # int32, one per passage

    @property
    def passages(self) -> int:
        return len(self.doc_len)

    @classmethod
    def of(cls, tokens: Sequence[list[str]]) -> Postings:
        """The counts of passages given as token lists (a passage without tokens counts as
        the one token EMPTY_TOKEN, as the BM25 index has always indexed it)."""
        vocab: dict[str, int] = {}
        terms, docs, counts = _counted(
            ((row, toks) for row, toks in enumerate(tokens)), vocab)
        order = np.argsort(terms, kind="stable")  # rows stay ascending within a term
        indptr = _indptr(terms, len(vocab))
        doc_len = np.fromiter((len(t) or 1 for t in tokens), dtype=np.int32, count=len(tokens))
        return cls(list(vocab), indptr, docs[order].astype(np.int32), _tf_array(counts[order]), doc_len)

    def updated(self, new_row_of_old: np.ndarray, added: Sequence[tuple[int, list[str]]],
                passages: int) -> Postings:
        """The counts after some passages left and others came: `new_row_of_old[r]` is old
        row r's row now (-1: gone; kept rows must keep their order), `added` the new rows
        with their tokens, `passages` the number of rows now. Work in proportion to the
        added tokens, plus a few numpy passes over the postings."""
        new_row_of_old = np.asarray(new_row_of_old, dtype=np.int64)
        kept_rows = new_row_of_old[new_row_of_old >= 0]
        if (np.diff(kept_rows) <= 0).any():
            raise ValueError("kept passages must keep their order")
        vocab = {term: i for i, term in enumerate(self.vocab)}
        terms, docs, counts = _counted(added, vocab)
        order = np.lexsort((docs, terms))
        terms, docs, counts = terms[order], docs[order], counts[order]
        # the kept postings, renumbered; term-major order and row order within a term stay
        moved = new_row_of_old[self.docs]
        alive = moved >= 0
        old_docs = moved[alive].astype(np.int32)
        old_tf = self.tf[alive]
        cumulative = np.concatenate([[0], np.cumsum(alive, dtype=np.int64)])
        old_indptr = cumulative[self.indptr]  # the kept postings' term boundaries
        old_indptr = np.concatenate([old_indptr, np.full(len(vocab) - len(self.vocab), old_indptr[-1])])
        # where each new posting goes among the kept ones: its term's slice, by row
        at = np.empty(len(terms), dtype=np.int64)
        for i, (term, doc) in enumerate(zip(terms.tolist(), docs.tolist())):
            lo, hi = old_indptr[term], old_indptr[term + 1]
            at[i] = lo + np.searchsorted(old_docs[lo:hi], doc)
        merged_docs = np.insert(old_docs, at, docs.astype(np.int32))
        merged_tf = np.insert(old_tf.astype(np.uint32), at, counts)
        df = np.diff(old_indptr) + np.bincount(terms, minlength=len(vocab))
        doc_len = np.zeros(passages, dtype=np.int32)
        doc_len[kept_rows] = self.doc_len[new_row_of_old >= 0]
        for row, tokens in added:
            doc_len[row] = len(tokens) or 1
        live = df > 0  # terms whose every passage left are dropped, as a new build would
        words = list(vocab)
        indptr = np.concatenate([[0], np.cumsum(df[live], dtype=np.int64)])
        return Postings([w for w, keep in zip(words, live.tolist()) if keep], indptr,
                        merged_docs, _tf_array(merged_tf), doc_len)

    def scores(self) -> np.ndarray:
        """The BM25 score of every posting (float32), as bm25s computes it at index time:
        lucene idf log(1 + (N - df + 0.5) / (df + 0.5)) rounded to float32, times
        tf / (k1 * (1 - b + b * len / avg_len) + tf) in float64, rounded to float32."""
        n = self.passages
        df = np.diff(self.indptr)
        unique_df, inverse = np.unique(df, return_inverse=True)
        idf = np.array([_idf(int(d), n) for d in unique_df.tolist()], dtype=np.float32)[inverse]
        avg_len = self.doc_len.astype(np.int64).mean()  # what bm25s takes the mean of
        out = np.empty(len(self.docs), dtype=np.float32)
        term_starts = self.indptr[:-1]
        start = 0
        while start < len(self.docs):
            stop = min(len(self.docs), start + _SCORE_BLOCK)
            first = int(np.searchsorted(term_starts, start, side="right")) - 1
            last = int(np.searchsorted(term_starts, stop, side="left"))
            spans = np.minimum(self.indptr[first + 1 : last + 1], stop) - np.maximum(term_starts[first:last], start)
            term_idf = np.repeat(idf[first:last], spans)
            tf = self.tf[start:stop].astype(np.float32)
            lengths = self.doc_len[self.docs[start:stop]].astype(np.int64)
            tfc = tf / (K1 * ((1 - B) + B * lengths / avg_len) + tf)
            out[start:stop] = term_idf * tfc
            start = stop
        return out


def _idf(df: int, n: int) -> float:
    """bm25s's lucene idf (math.log: numpy's log may differ in the last bit)."""
    return math.log(1 + (n - df + 0.5) / (df + 0.5)) if df else 0.0


def _counted(passages, vocab: dict[str, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(term id, row, count) of every distinct term of every (row, tokens); terms not yet in
    `vocab` are added to it."""
    terms: list[int] = []
    docs: list[int] = []
    counts: list[int] = []
    for row, tokens in passages:
        for term, count in Counter(tokens or [EMPTY_TOKEN]).items():
            terms.append(vocab.setdefault(term, len(vocab)))
            docs.append(row)
            counts.append(count)
    return (np.array(terms, dtype=np.int64), np.array(docs, dtype=np.int64),
            np.array(counts, dtype=np.uint32))


def _indptr(terms: np.ndarray, n_terms: int) -> np.ndarray:
    indptr = np.zeros(n_terms + 1, dtype=np.int64)
    np.cumsum(np.bincount(terms, minlength=n_terms), out=indptr[1:])
    return indptr


def _tf_array(counts: np.ndarray) -> np.ndarray:
    """Counts as uint16 (a passage of ~1,500 characters repeats no term 65,535 times), wider
    only when one does."""
    return counts.astype(np.uint16 if counts.size == 0 or counts.max() < 2**16 else np.uint32)
