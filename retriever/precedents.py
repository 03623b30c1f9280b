"""Precedent search: earlier agenda items that resemble a new case.

A caseworker pastes a case (a few sentences or a whole indstilling). Two views rank the
passages of the index:
1. the hybrid search (dense windows + whole chunks + BM25) with a condensed query: the
   case's opening plus its most distinctive sentences, within the searcher's query limit;
2. the whole case as ONE vector: the mean of the embeddings of consecutive windows of the
   case (a long text does not fit the model's 512 tokens, and the mean of its parts is a
   good summary of what it is about) against every chunk vector.
The two rankings are fused (reciprocal rank), passages are grouped into agenda items
(document + punkt + title + bilag), an item scores by its best passage, and each row
carries the item's decision (outcome, text, follow-ups) when the minutes have one.
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING

import numpy as np
from rapidfuzz import fuzz

from kommunesoeg.core.errors import InvalidQuery
from kommunesoeg.core.models import Chunk, Decision
from kommunesoeg.core.results import Filters, Hit, Precedent
from kommunesoeg.core.sentences import cut_long, split_sentences
from kommunesoeg.core.textnorm import content_terms, tokenize
from retriever.casetext import prepare_case_text
from retriever.fusion import weighted_rrf
from retriever.search import MAX_QUERY_CHARS

if TYPE_CHECKING:
    from retriever.search import Searcher

WINDOW_CHARS = 1200  # ~300 tokens of Danish: well inside the model's 512
MAX_WINDOWS = 12
POOL = 200  # passages considered per view
# Passages that state what the item proposes or decided describe the case best.
SECTION_WEIGHT = {"indstilling": 1.15, "beslutning": 1.1, "resume": 1.1}


def case_windows(case_text: str, max_chars: int = WINDOW_CHARS) -> list[str]:
    """Consecutive runs of whole sentences of at most ~max_chars each."""
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
    if len(windows) > MAX_WINDOWS:  # spread the budget over the whole text
        step = len(windows) / MAX_WINDOWS
        windows = [windows[int(i * step)] for i in range(MAX_WINDOWS)]
    return windows


def case_vector(searcher: Searcher, case_text: str) -> np.ndarray:
    """Mean of the window embeddings, re-normalised."""
    windows = case_windows(case_text) or [case_text[:WINDOW_CHARS]]
    vectors = np.stack([searcher.embed_query(w) for w in windows])
    mean = vectors.mean(axis=0)
    return (mean / max(float(np.linalg.norm(mean)), 1e-12)).astype(np.float32)


def condensed_query(case_text: str, searcher: Searcher, limit: int = MAX_QUERY_CHARS) -> str:
    """The case cut to the search limit: its opening plus its most distinctive sentences."""
    text = re.sub(r"\s+", " ", case_text).strip()
    if len(text) <= limit:
        return text
    from retriever.answer import term_weights

    df, n = term_weights(searcher)
    sentences = split_sentences(case_text)

    def distinctiveness(sentence: str) -> float:
        terms = set(tokenize(sentence))
        return sum(math.log(1 + n / (df.get(t, 0) + 1)) for t in terms) / math.sqrt(len(terms) + 1)

    head = text[: limit // 2].rsplit(" ", 1)[0]
    chosen = [head]
    budget = limit - len(head)
    for sentence in sorted(sentences, key=distinctiveness, reverse=True):
        if sentence in head or len(sentence) + 1 > budget:
            continue
        chosen.append(sentence)
        budget -= len(sentence) + 1
    return " ".join(chosen)[:limit]


def _check_known_words(searcher: Searcher, case_text: str) -> None:
    """InvalidQuery when no content word of the case occurs anywhere in the archive."""
    from retriever.answer import term_weights

    df, _ = term_weights(searcher)
    if not any(df.get(term) and not term.isdigit() for term in content_terms(case_text)):
        raise InvalidQuery(
            "case: ingen af sagstekstens ord forekommer i dokumenterne, så der er intet at "
            "sammenligne med"
        )


def _as_scores(ranking: list[str]) -> dict[str, float]:
    return {item: -float(rank) for rank, item in enumerate(ranking)}


def _item_key(chunk: Chunk) -> tuple:
    return (chunk.document, chunk.punkt, chunk.punkt_title, chunk.bilag)


def _decision_for(chunk: Chunk, decisions: list[Decision]) -> Decision | None:
    """The decision recorded for this item: same document and number, matching title."""
    same = [d for d in decisions if d.document == chunk.document and d.punkt == chunk.punkt]
    if not same:
        return None
    title = chunk.punkt_title or ""
    best = max(same, key=lambda d: fuzz.token_set_ratio(d.punkt_title, title))
    return best if fuzz.token_set_ratio(best.punkt_title, title) >= 80 else None


def find_precedents(
    searcher: Searcher,
    case_text: str,
    *,
    k: int = 10,
    filters: Filters | None = None,
    role: str = "public",
) -> list[Precedent]:
    """Earlier agenda items most similar to `case_text`, one row per item, best first.

    The text goes through `prepare_case_text` (the same preparation for the CLI, the app and
    library callers) and must share a word with the archive: without one, both views would
    rank passages by noise and present them as similar cases.
    """
    case_text = prepare_case_text(case_text)
    if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= 100:
        raise InvalidQuery("k: skal være et helt tal mellem 1 og 100")
    _check_known_words(searcher, case_text)
    query = condensed_query(case_text, searcher)
    ranked = searcher.rank(query, filters=filters, role=role)
    shown = {cid: member for cid, _, member in ranked}
    hybrid = [cid for cid, _, _ in ranked[:POOL]]

    vector = case_vector(searcher, case_text).reshape(1, -1)
    index = searcher.reader.chunk_dense
    _, rows = index.search(vector, min(index.ntotal, max(POOL * 3, 600)))
    ids = searcher.reader.chunk_vec_ids
    whole = []
    for row in rows[0]:
        if row < 0:
            continue
        canonical = searcher.canonical_id(ids[row])
        if canonical in shown and canonical not in whole:
            whole.append(canonical)
    # Equal-weight RRF: both views rank the same passages, and their scores (a fused
    # z-score, a cosine) are not on one scale.
    fused = weighted_rrf(
        {"hybrid": _as_scores(hybrid), "whole": _as_scores(whole[:POOL])},
        {"hybrid": 1.0, "whole": 1.0},
    )

    best: dict[tuple, tuple[float, str]] = {}
    for cid, score in fused.items():
        member = shown[cid]
        if member.punkt is None:  # not an agenda item (e.g. a memo)
            continue
        score *= SECTION_WEIGHT.get(member.section, 1.0)
        key = _item_key(member)
        if key not in best or score > best[key][0]:
            best[key] = (score, cid)

    decisions = searcher.visible_decisions(role)
    order = sorted(best.items(), key=lambda kv: (-kv[1][0], kv[0][0], kv[0][1] or 0))[:k]
    precedents = []
    for rank, (_, (score, cid)) in enumerate(order, start=1):
        member = shown[cid]
        hit: Hit = searcher.hit_for(rank, score, cid, member, role)
        decision = _decision_for(member, decisions)
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
                decision_text=searcher.present(decision.text, role) if decision else "",
                followups=list(decision.followups) if decision else [],
                citation=hit,
            )
        )
    return precedents
