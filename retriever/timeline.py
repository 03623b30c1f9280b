"""Decisions about a topic over time, oldest first, each with its citation.

Candidates are the decisions the role may see (extracted at index time). A decision is
about the topic when its agenda item is: the topic is compared with the item title plus
the decision text (embedding cosine and idf-weighted word coverage) and with the hybrid
search rank of the passages of the same item. A decision is listed only when
- its item is among the hybrid search's top passages for the topic, AND
- its title/decision text is close in meaning (cosine >= `MIN_COSINE`) or shares the
  topic's key terms (coverage >= `MIN_COVERAGE`).
Both must hold so that neither a merely "similar sounding" decision nor a passing mention
in a long passage puts an unrelated decision on the timeline.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from kommunesoeg.core.models import Decision
from kommunesoeg.core.results import Filters, TimelineEntry
from kommunesoeg.core.textnorm import content_terms

if TYPE_CHECKING:
    from retriever.search import Searcher

MIN_COSINE = 0.85
MIN_COVERAGE = 0.6
SEARCH_DEPTH = 30  # top passages whose items count as "about the topic"

def _decision_text(decision: Decision) -> str:
    return f"{decision.punkt_title}\n{decision.text}"


def _vectors(searcher: Searcher, decisions: list[Decision]) -> np.ndarray:
    """Passage embeddings of title + decision text, cached per loaded index."""
    cache: dict[str, np.ndarray] = searcher.cache.setdefault("decision_vectors", {})
    missing = [d for d in decisions if d.chunk_id + d.text not in cache]
    if missing:
        vecs = searcher.embedder.embed_passages([_decision_text(d) for d in missing])
        for d, v in zip(missing, np.asarray(vecs, dtype=np.float32)):
            cache[d.chunk_id + d.text] = v / max(np.linalg.norm(v), 1e-12)
    return np.stack([cache[d.chunk_id + d.text] for d in decisions])


def build_timeline(
    searcher: Searcher, topic: str, *, filters: Filters | None = None, role: str = "public"
) -> list[TimelineEntry]:
    """The role's visible decisions about `topic`, oldest first."""
    from retriever.answer import coverage, term_weights

    filters = filters or Filters()
    searcher.check_filters(filters)
    # Section filters do not apply to decisions; date/committee/document filters do.
    search_filters = Filters(filters.date_from, filters.date_to, filters.committees,
                             filters.documents)
    ranked = searcher.rank(topic, filters=search_filters, role=role)[:SEARCH_DEPTH]
    items_found = {
        (member.document, member.punkt) for _, _, member in ranked if member.punkt is not None
    }
    decisions = [
        d
        for d in searcher.visible_decisions(role)
        if searcher.passes(searcher.reader.chunk_by_id[d.chunk_id], search_filters)
        and (d.document, d.punkt) in items_found
    ]
    if not decisions:
        return []
    query = searcher.embed_query(topic)
    cosines = _vectors(searcher, decisions) @ query
    df, n = term_weights(searcher)
    terms = content_terms(topic)
    entries = []
    for decision, cosine in zip(decisions, cosines):
        cov = coverage(terms, _decision_text(decision), df, n)
        if cosine < MIN_COSINE and cov < MIN_COVERAGE:
            continue
        chunk = searcher.reader.chunk_by_id[decision.chunk_id]
        canonical = searcher.canonical_id(chunk.chunk_id)
        hit = searcher.hit_for(0, float(cosine), canonical, chunk, role)
        entries.append(
            TimelineEntry(
                date=decision.date,
                meeting=decision.meeting,
                committee=decision.committee,
                punkt=decision.punkt,
                punkt_title=decision.punkt_title,
                outcome=decision.outcome,
                decision_text=searcher.present(decision.text, role),
                followups=list(decision.followups),
                citation=hit,
            )
        )
    entries.sort(key=lambda e: (e.date or "9999", e.meeting, e.punkt))
    for rank, entry in enumerate(entries, start=1):
        entry.citation.rank = rank
    return entries
