"""Precedent search: earlier agenda items that resemble a new case.

A caseworker pastes a case (a few sentences or a whole indstilling). Two views rank the
passages of the index:
1. the hybrid search (dense windows + whole chunks + BM25) with a condensed query: the
   case's opening plus its most distinctive sentences, within the searcher's query limit;
2. the whole case as ONE vector: the mean of the embeddings of consecutive windows of the
   case (a long text does not fit the model's 512 tokens, and the mean of its parts is a
   good summary of what it is about) against every chunk vector.
The two rankings are fused (weighted reciprocal rank; weights, pools and the section
weights in `PrecedentConfig`), passages are grouped into agenda items (document + punkt +
title + bilag), an item scores by its best passage, and each row carries the item's decision (outcome, text, follow-ups) when the minutes have one.
"""

from __future__ import annotations

import math
import re

import numpy as np
from rapidfuzz import fuzz

from indexer.embed import Embedder
from kommunesoeg.core.config import PrecedentConfig
from kommunesoeg.core.errors import InvalidQuery
from kommunesoeg.core.models import Chunk, Decision
from kommunesoeg.core.results import Filters, Precedent
from kommunesoeg.core.sentences import cut_long, split_sentences
from kommunesoeg.core.textnorm import content_terms, tokenize
from retriever.access import present
from retriever.fusion import weighted_rrf
from retriever.hits import hit_for
from retriever.ranker import Ranker
from retriever.terms import TermStats
from retriever.view import IndexView


def case_windows(case_text: str, config: PrecedentConfig | None = None) -> list[str]:
    """Consecutive runs of whole sentences of at most ~`config.window_chars` each, at most
    `config.max_windows` of them spread over the whole text (default: PrecedentConfig())."""
    config = config or PrecedentConfig()
    max_chars = config.window_chars
    windows: list[str] = []
    current = ""
    sentences = [piece for s in split_sentences(case_text) for piece in cut_long(s, max_chars)]
    for sentence in sentences:
        if current and len(current) + 1 + len(sentence) > max_chars:
            windows.append(current)
            current = sentence
        else:
            current = f"{current} {sentence}".strip()
    if current:
        windows.append(current)
    if len(windows) > config.max_windows:  # spread the budget over the whole text
        step = len(windows) / config.max_windows
        windows = [windows[int(i * step)] for i in range(config.max_windows)]
    return windows


def case_vector(embedder: Embedder, case_text: str, config: PrecedentConfig) -> np.ndarray:
    """Mean of the window embeddings, re-normalised."""
    windows = case_windows(case_text, config) or [case_text[: config.window_chars]]
    vectors = np.stack([np.asarray(embedder.embed_query(w), dtype=np.float32) for w in windows])
    mean = vectors.mean(axis=0)
    return (mean / max(float(np.linalg.norm(mean)), 1e-12)).astype(np.float32)


def condensed_query(case_text: str, terms: TermStats, limit: int) -> str:
    """The case cut to the search limit: its opening plus its most distinctive sentences."""
    text = re.sub(r"\s+", " ", case_text).strip()
    if len(text) <= limit:
        return text
    sentences = split_sentences(case_text)

    def distinctiveness(sentence: str) -> float:
        words = set(tokenize(sentence))
        return sum(terms.sentence_rarity(t) for t in words) / math.sqrt(len(words) + 1)

    head = text[: limit // 2].rsplit(" ", 1)[0]
    chosen = [head]
    budget = limit - len(head)
    for sentence in sorted(sentences, key=distinctiveness, reverse=True):
        if sentence in head or len(sentence) + 1 > budget:
            continue
        chosen.append(sentence)
        budget -= len(sentence) + 1
    return " ".join(chosen)[:limit]


def precedent_query(view: IndexView, case_text: str, limit: int) -> str:
    """The search query for a prepared case; InvalidQuery when no content word of the case
    occurs anywhere in the archive (both views would then rank passages by noise and
    present them as similar cases)."""
    if not any(view.terms.known(term) and not term.isdigit() for term in content_terms(case_text)):
        raise InvalidQuery(
            "case: ingen af sagstekstens ord forekommer i dokumenterne, så der er intet at "
            "sammenligne med"
        )
    return condensed_query(case_text, view.terms, limit)


def _as_scores(ranking: list[str]) -> dict[str, float]:
    return {item: -float(rank) for rank, item in enumerate(ranking)}


def _item_key(chunk: Chunk) -> tuple:
    return (chunk.document, chunk.punkt, chunk.punkt_title, chunk.bilag)


def _decision_for(chunk: Chunk, view: IndexView, role: str) -> Decision | None:
    """The decision recorded for this item that `role` may see: same document and number,
    matching title."""
    same = view.visible_decisions(role, [(chunk.document, chunk.punkt)])
    if not same:
        return None
    title = chunk.punkt_title or ""
    best = max(same, key=lambda d: fuzz.token_set_ratio(d.punkt_title, title))
    return best if fuzz.token_set_ratio(best.punkt_title, title) >= 80 else None


def find_precedents(
    view: IndexView,
    ranker: Ranker,
    embedder: Embedder,
    config: PrecedentConfig,
    rrf_k: int,
    case_text: str,
    query: str,
    query_vec: np.ndarray | None,
    *,
    k: int,
    filters: Filters,
    role: str,
) -> list[Precedent]:
    """Earlier agenda items most similar to `case_text`, one row per item, best first.

    `case_text` is prepared (`retriever.casetext.prepare_case_text`, the same for the CLI,
    the app and library callers); `query` is its `precedent_query` and `query_vec` that
    query's embedding. The case itself is embedded here, window by window.
    """
    ranked = ranker.rank(query, query_vec, filters=filters, role=role)
    shown = {c.canonical_id: c.shown for c in ranked}
    hybrid = [c.canonical_id for c in ranked[: config.pool]]

    vector = case_vector(embedder, case_text, config)
    whole = []
    for chunk_id, _ in view.store.chunks_by_vector(vector, max(config.pool * 3, 600)):
        canonical = view.canonical_id(chunk_id)
        if canonical in shown and canonical not in whole:
            whole.append(canonical)
    # Weighted RRF: both views rank the same passages, and their scores (a fused
    # z-score, a cosine) are not on one scale.
    fused = weighted_rrf(
        {"hybrid": _as_scores(hybrid), "whole": _as_scores(whole[: config.pool])},
        {"hybrid": config.weight_hybrid, "whole": config.weight_whole},
        rrf_k,
    )

    best: dict[tuple, tuple[float, str]] = {}
    for cid, score in fused.items():
        member = shown[cid]
        if member.punkt is None:  # not an agenda item (e.g. a memo)
            continue
        score *= config.section_weight(member.section)
        key = _item_key(member)
        if key not in best or score > best[key][0]:
            best[key] = (score, cid)

    order = sorted(best.items(), key=lambda kv: (-kv[1][0], kv[0][0], kv[0][1] or 0))[:k]
    precedents = []
    for rank, (_, (score, cid)) in enumerate(order, start=1):
        member = shown[cid]
        decision = _decision_for(member, view, role)
        precedents.append(
            Precedent(
                rank=rank,
                score=round(float(score), 6),
                document=member.document,
                meeting=member.meeting,
                committee=member.committee,
                date=member.date,
                punkt=member.punkt,
                punkt_title=member.punkt_title or "",
                outcome=decision.outcome if decision else "andet",
                decision_text=present(decision.text, role) if decision else "",
                followups=list(decision.followups) if decision else [],
                citation=hit_for(view, rank, score, cid, member, role),
            )
        )
    return precedents
