"""Fusing the rankings of several retrievers into one.

Equal-weight reciprocal rank fusion lowered paraphrase questions: it throws away how
*sure* each retriever is, so a confident dense match (one window far above the rest) is
outvoted by BM25's and the whole-chunk ranking's mediocre opinions. Z-score fusion keeps
the margins: each retriever's scores are standardised over the shared candidate pool and
summed with a weight per retriever (tuned with `kommunesoeg eval`). Weighted RRF is kept
for comparison in the evaluation harness.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np


def weighted_rrf(
    scores: Mapping[str, Mapping[str, float]], weights: Mapping[str, float], k: int
) -> dict[str, float]:
    """score(id) = sum_r weight_r / (k + rank_r(id)), over the ids each retriever returned;
    `k` is `SearchConfig.rrf_k`."""
    fused: dict[str, float] = {}
    for name, by_id in scores.items():
        weight = weights.get(name, 0.0)
        if weight <= 0:
            continue
        ranking = sorted(by_id, key=lambda i: (-by_id[i], i))
        for rank, item in enumerate(ranking, start=1):
            fused[item] = fused.get(item, 0.0) + weight / (k + rank)
    return fused


def zscore_fusion(
    scores: Mapping[str, Mapping[str, float]], weights: Mapping[str, float]
) -> dict[str, float]:
    """score(id) = sum_r weight_r * z_r(id); an id a retriever did not return gets that
    retriever's lowest returned score (it ranked below everything it did return)."""
    pool = sorted({i for name, by_id in scores.items() if weights.get(name, 0) > 0 for i in by_id})
    if not pool:
        return {}
    total = np.zeros(len(pool))
    for name, by_id in scores.items():
        weight = weights.get(name, 0.0)
        if weight <= 0 or not by_id:
            continue
        floor = min(by_id.values())
        values = np.array([by_id.get(i, floor) for i in pool], dtype=np.float64)
        spread = values.std()
        # equal scores (one returned id: every other gets its floor) must add nothing; their
        # float mean can miss the value by an ulp, which a zero test would divide by
        if spread > 1e-9 * max(1.0, float(np.abs(values).max())):
            total += weight * (values - values.mean()) / spread
    return dict(zip(pool, total.tolist()))
