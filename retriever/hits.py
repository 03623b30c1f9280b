"""A ranked passage as one role may see it: the `Hit` every verb returns; and the search
verb itself (the top k of the ranking as hits)."""

from __future__ import annotations

import numpy as np

from kommunesoeg.core.models import Chunk
from kommunesoeg.core.results import Filters, Hit, Location
from retriever.access import may_see_chunk, may_see_decision, present
from retriever.ranker import Ranker
from retriever.view import IndexView


def hit_for(view: IndexView, rank: int, score: float, canonical_id: str, member: Chunk,
            role: str) -> Hit:
    """`member` (one copy of the passage `canonical_id`) as `role` may see it: its text
    presented for the role, the other copies the role may see as "also in", and the
    outcome of the first decision the role may see in any copy."""
    group = view.members[canonical_id]
    also_in = [
        Location.of(c) for c in group if c.chunk_id != member.chunk_id and may_see_chunk(c, role)
    ]
    decisions = [
        d
        for c in group
        if may_see_chunk(c, role)
        for d in view.decisions_of(c.chunk_id)
        if may_see_decision(d, role)
    ]
    return Hit(
        rank=rank,
        score=round(float(score), 6),
        chunk_id=member.chunk_id,
        text=present(member.text, role),
        document=member.document,
        meeting=member.meeting,
        committee=member.committee,
        date=member.date,
        punkt=member.punkt,
        punkt_title=member.punkt_title,
        bilag=member.bilag,
        bilag_title=member.bilag_title,
        page_start=member.page_start,
        page_end=member.page_end,
        section=member.section,
        closed=member.closed,
        ocr=member.ocr,
        case_number=member.case_number,
        also_in=also_in,
        outcome=decisions[0].outcome if decisions else None,
        followups=decisions[0].followups if decisions else [],
    )


def top_hits(view: IndexView, ranker: Ranker, query: str, vector: np.ndarray | None, *,
             k: int, filters: Filters, role: str) -> list[Hit]:
    """The search verb: the `k` best passages for `role`, ranked 1..k."""
    ranked = ranker.rank(query, vector, filters=filters, role=role)[:k]
    return [
        hit_for(view, rank, c.score, c.canonical_id, c.shown, role)
        for rank, c in enumerate(ranked, start=1)
    ]
