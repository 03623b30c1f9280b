"""Decisions about a topic over time, oldest first, each with its citation.

Candidates are the decisions the role may see (extracted at index time). A decision is
about the topic when its agenda item is: the topic is compared with the item title plus
the decision text (embedding cosine and idf-weighted word coverage) and with the hybrid
search rank of the passages of the same item. A decision is listed only when
- its item is among the hybrid search's top passages for the topic (`search_depth`), AND
- its title/decision text is close in meaning (cosine >= `min_cosine`) or shares the
  topic's key terms (coverage >= `min_coverage`) - the fields of `TimelineConfig`.
Both must hold so that neither a merely "similar sounding" decision nor a passing mention
in a long passage puts an unrelated decision on the timeline.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from kommunesoeg.core.config import TimelineConfig
from kommunesoeg.core.models import decision_text
from kommunesoeg.core.results import Filters, TimelineEntry
from kommunesoeg.core.textnorm import content_terms
from retriever.access import present
from retriever.hits import hit_for
from retriever.ranker import Ranker
from retriever.view import IndexView


def build_timeline(
    view: IndexView,
    ranker: Ranker,
    config: TimelineConfig,
    topic: str,
    query: str,
    query_vec: np.ndarray,
    *,
    filters: Filters,
    role: str,
) -> list[TimelineEntry]:
    """The role's visible decisions about `topic`, oldest first.

    `query` is the validated topic and `query_vec` its embedding (made once by the caller;
    it ranks the passages and is compared with the decisions). `filters` are the timeline
    filters with any section filter already dropped (sections do not apply to decisions).
    """
    ranked = ranker.rank(query, query_vec, filters=filters, role=role)[: config.search_depth]
    items_found = {(c.shown.document, c.shown.punkt) for c in ranked if c.shown.punkt is not None}
    decisions = [
        d
        for d in view.visible_decisions(role, items_found)
        if view.passes(view.chunk(d.chunk_id), filters)
    ]
    if not decisions:
        return []
    cosines = view.vectors_of_decisions(decisions) @ query_vec
    terms = content_terms(topic)
    found = []
    for decision, cosine in zip(decisions, cosines):
        cov = view.terms.coverage(terms, decision_text(decision))
        if cosine < config.min_cosine and cov < config.min_coverage:
            continue
        chunk = view.chunk(decision.chunk_id)
        hit = hit_for(view, 0, float(cosine), view.canonical_id(chunk.chunk_id), chunk, role)
        found.append(
            TimelineEntry(
                date=decision.date,
                meeting=decision.meeting,
                committee=decision.committee,
                punkt=decision.punkt,
                punkt_title=decision.punkt_title,
                outcome=decision.outcome,
                decision_text=present(decision.text, role),
                followups=list(decision.followups),
                citation=hit,
            )
        )
    found.sort(key=lambda e: (e.date or "9999", e.meeting, e.punkt))
    # a citation's rank is its entry's place on the timeline
    return [
        replace(entry, citation=replace(entry.citation, rank=rank))
        for rank, entry in enumerate(found, start=1)
    ]
