"""Ranking: fuse three views of the same canonical chunks into one ordered list.

1. dense, small-to-big: the query against short sentence windows (each with its item
   title); a chunk scores by its best window. Precise for paraphrases of one sentence.
2. dense, whole chunk: the query against header + chunk text. Catches questions whose
   answer is spread over a passage.
3. BM25 with Danish stemming and OCR folding: case numbers, amounts, names.
Filters and access rules are applied before ranking (the allowed set), so ranks are
contiguous and a closed passage can never push a public one out of the top k.

The query arrives embedded: the facade embeds it once per call, and every ranking and
answer step of that call reuses the vector.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kommunesoeg.core.config import FusionWeights, SearchConfig
from kommunesoeg.core.models import Chunk
from kommunesoeg.core.results import Filters
from retriever.fusion import weighted_rrf, zscore_fusion
from retriever.intent import is_decision_question
from retriever.view import IndexView


@dataclass(frozen=True)
class Candidate:
    """A ranked passage: its canonical id, the fused score, and the copy the role sees."""

    canonical_id: str
    score: float
    shown: Chunk


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
        shown = self.view.shown_members(role, filters)
        allowed = set(shown)
        scores = self._dense_scores(vector, allowed) if vector is not None else {}
        if self.weights.bm25 > 0:
            scores["bm25"] = self.view.store.chunks_by_terms(
                query, allowed, self.config.candidates
            )
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
        return [Candidate(cid, score, shown[cid]) for cid, score in ordered]

    def _dense_scores(self, vector: np.ndarray, allowed: set[str]) -> dict[str, dict[str, float]]:
        """Cosine similarity per canonical chunk: best window, and the whole chunk."""
        store, view = self.view.store, self.view
        limit = self.config.candidates
        result: dict[str, dict[str, float]] = {}
        if self.weights.windows > 0 and view.window_canonical:
            nearest = store.windows_by_vector(vector, limit * 4)
            result["windows"] = _best_allowed(
                ((view.window_canonical[row], sim) for row, sim in nearest), allowed, limit
            )
        if self.weights.chunks > 0 and store.chunk_vector_count:
            nearest_chunks = store.chunks_by_vector(vector, limit * 4)
            result["chunks"] = _best_allowed(
                ((view.canonical_id(cid), sim) for cid, sim in nearest_chunks), allowed, limit
            )
        return result


def _best_allowed(pairs, allowed: set[str], limit: int) -> dict[str, float]:
    """The first (best) score of each allowed id, up to `limit` ids."""
    best: dict[str, float] = {}
    for cid, sim in pairs:
        if cid in allowed and cid not in best:
            best[cid] = sim
            if len(best) >= limit:
                break
    return best
