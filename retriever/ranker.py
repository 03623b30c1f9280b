"""Ranking: fuse three views of the same canonical chunks into one ordered list.

1. dense, small-to-big: the query against short sentence windows (each with its item
   title); a chunk scores by its best window. Precise for paraphrases of one sentence.
2. dense, whole chunk: the query against header + chunk text. Catches questions whose
   answer is spread over a passage.
3. BM25 with Danish stemming and OCR folding: case numbers, amounts, names.
Filters and access rules are applied before ranking (the allowed set), so ranks are
contiguous and a closed passage can never push a public one out of the top k. The allowed
set is a boolean mask over rows (`IndexView.allowed`, retriever/masks.py) that each
retriever applies inside its own search, so a query costs no Python work per chunk of the
archive, and the copy a role is shown is looked up only for the passages returned.

The query arrives embedded: the facade embeds it once per call, and every ranking and
answer step of that call reuses the vector.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from kommunesoeg.core.config import FusionWeights, SearchConfig
from kommunesoeg.core.models import Chunk
from kommunesoeg.core.results import Filters
from retriever.fusion import weighted_rrf, zscore_fusion
from retriever.intent import is_decision_question
from retriever.masks import AllowedRows
from retriever.view import IndexView


@dataclass(frozen=True)
class Candidate:
    """A ranked passage: its canonical id, the fused score, and the copy the role sees.

    The copy is decided at ranking (`shown_id`, from the masks) but read from the store only
    when a verb asks for it (`shown`): a search shows ten of the hundreds of passages it
    ranks, and reading each one's text would cost every query time (issue 12)."""

    canonical_id: str
    score: float
    shown_id: str
    fetch: Callable[[str], Chunk] = field(repr=False, compare=False)

    @cached_property
    def shown(self) -> Chunk:
        return self.fetch(self.shown_id)


class Ranker:
    """Weighted fusion of dense windows, dense chunks and BM25 over one index view."""

    def __init__(self, view: IndexView, config: SearchConfig, weights: FusionWeights) -> None:
        self.view = view
        self.config = config
        self.weights = weights

    @property
    def needs_vector(self) -> bool:
        """Whether ranking uses the query vector at all (not for BM25 alone)."""
        return self.weights.windows > 0 or self.weights.chunks > 0

    def rank(
        self, query: str, vector: np.ndarray | None, *, filters: Filters, role: str
    ) -> list[Candidate]:
        """Every passage `role` may see inside `filters`, best first (ties by id).

        `query` is validated text, `vector` its embedding (None only when
        `needs_vector` is false); the role is checked by the caller."""
        allowed = self.view.allowed(role, filters)
        scores = self._dense_scores(vector, allowed, role) if vector is not None else {}
        if self.weights.bm25 > 0:
            found = self.view.store.chunks_by_terms(
                query, None if allowed.everything else allowed.chunks, self.config.candidates,
                role=role,
            )
            row_of = self.view.rows.row_of
            # the store applied the mask; checked again so that no store can leak a passage
            scores["bm25"] = {cid: s for cid, s in found.items() if allowed.chunks[row_of[cid]]}
        weights = {"windows": self.weights.windows, "chunks": self.weights.chunks,
                   "bm25": self.weights.bm25}
        active = [name for name in scores if weights[name] > 0]
        if len(active) == 1:  # a single retriever: its own scores, not standardised ones
            fused = dict(scores[active[0]])
        else:
            if self.config.fusion == "rrf":
                fused = weighted_rrf(scores, weights, self.config.rrf_k)
            else:
                fused = zscore_fusion(scores, weights)
            if is_decision_question(query):
                for cid in fused:
                    if self.view.holds_decision(cid):
                        fused[cid] += self.config.decision_prior
        ordered = sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))
        fetch = self.view.chunk
        return [Candidate(cid, score, self._shown_id(cid, allowed), fetch) for cid, score in ordered]

    def _shown_id(self, canonical_id: str, allowed: AllowedRows) -> str:
        shown = self.view.rows.shown_id(canonical_id, allowed)
        if shown is None:  # every retriever's ids were checked against `allowed.chunks`
            raise RuntimeError(f"{canonical_id} was ranked but is not allowed")
        return shown

    def _dense_scores(
        self, vector: np.ndarray, allowed: AllowedRows, role: str
    ) -> dict[str, dict[str, float]]:
        """Cosine similarity per allowed canonical chunk: best window, and the whole chunk.

        The windows are the `4 * candidates` nearest allowed ones (a passage has several),
        giving up to `candidates` passages; the whole chunks the `candidates` nearest."""
        store, view = self.view.store, self.view
        limit = self.config.candidates
        everything = allowed.everything
        result: dict[str, dict[str, float]] = {}
        if self.weights.windows > 0 and view.window_canonical:
            nearest = store.windows_by_vector(
                vector, limit * 4, None if everything else allowed.windows, role=role
            )
            result["windows"] = _best_per_chunk(
                ((view.window_canonical[row], sim) for row, sim in nearest
                 if allowed.windows[row]),
                limit,
            )
        if self.weights.chunks > 0 and store.chunk_vector_count:
            nearest_chunks = store.chunks_by_vector(
                vector, limit, None if everything else allowed.chunks, role=role
            )
            row_of = view.rows.row_of
            result["chunks"] = _best_per_chunk(
                ((cid, sim) for cid, sim in nearest_chunks if allowed.chunks[row_of[cid]]),
                limit,
            )
        return result


def _best_per_chunk(pairs: Iterable[tuple[str, float]], limit: int) -> dict[str, float]:
    """The first (best) score of each id, up to `limit` ids."""
    best: dict[str, float] = {}
    for cid, sim in pairs:
        if cid not in best:
            best[cid] = sim
            if len(best) >= limit:
                break
    return best
