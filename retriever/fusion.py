"""Weighted reciprocal rank fusion.

Equal-weight RRF let BM25 drag paraphrase questions down while BM25 alone is what finds
case numbers and names; so each ranking gets its own weight, and a ranking only
contributes for the items it actually ranks (a zero lexical score is no evidence).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

RRF_K = 60


def weighted_rrf(
    rankings: Mapping[str, Sequence[str]], weights: Mapping[str, float], k: int = RRF_K
) -> dict[str, float]:
    """Fuse ranked id lists: score(id) = sum_r weight_r / (k + rank_r(id))."""
    fused: dict[str, float] = {}
    for name, ranking in rankings.items():
        weight = weights.get(name, 0.0)
        if weight <= 0:
            continue
        for rank, item in enumerate(ranking, start=1):
            fused[item] = fused.get(item, 0.0) + weight / (k + rank)
    return fused
