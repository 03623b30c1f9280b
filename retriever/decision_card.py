"""Answering "what was decided about X?" with the decision of the item about X.

The decisions were extracted from the minutes at index time (`Decision`: the decision
text, its outcome, the follow-up owners). A decision question is answered by the decision
of the agenda item the question is about - chosen by subject, not by how many passages of
an item the search returned (a long attachment like "Opfølgning på budgetforlig" mentions
everything and would win every count). An item is about the question's subject when the
question's rare words lie in its title and decision text and the two are close in meaning;
a question naming a meeting date prefers items of meetings near that date.

When the same case was treated at several meetings (same sagsnummer, or the same title
that is not a standing item like "Orientering fra Magistraten"), the card gives the latest
decision first and lists the earlier ones, newest first.

When no item is clearly about the subject - the decision was taken elsewhere and is only
reported inside an attachment ("Hvad blev besluttet om, hvordan pengene til
sundhedsklyngerne skal bruges?") - there is no card and the answer quotes the sentences
that report it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from kommunesoeg.core.config import AnswerConfig
from kommunesoeg.core.models import Decision
from kommunesoeg.core.results import DecisionCard, DecisionTreatment, Filters, Hit
from kommunesoeg.core.textnorm import content_terms
from retriever.access import may_see_chunk, may_see_decision, present
from retriever.hits import hit_for
from retriever.intent import question_parts
from retriever.items import (
    ItemKey,
    date_affinity,
    is_standing_item,
    item_of,
    item_title_terms,
    mentioned_dates,
    normalise_title,
)
from retriever.quotable import quotable_texts
from retriever.view import IndexView

TRUNCATED = " …"  # what the indexer appends to a decision text it shortened
MAX_QUOTED_CHARS = 650  # a longer decision is quoted in part: its first unit and the units
# most about the question, in document order; the card shows it whole


@dataclass(frozen=True)
class ScoredDecision:
    decision: Decision
    score: float
    coverage: float  # idf-weighted share of the question's terms in title + decision
    cosine: float


@dataclass(frozen=True)
class DecisionAnswer:
    """A decision card and the passages it cites (citation numbers 1..n in this order)."""

    card: DecisionCard
    citations: list[Hit]
    quoted: list[str]  # the units of the latest decision the answer text quotes
    chosen: ScoredDecision  # the decision the question is about (the card may lead with a
    # later treatment of the same case)
    margin: float  # its score over the next candidate's
    named: bool  # the question names the item by its title

    treatments: tuple[Decision, ...] = ()  # every treatment of the case on the card

    def is_item_of(self, hit: Hit) -> bool:
        """Whether `hit` belongs to an agenda item the card answers for (any treatment of
        the case)."""
        key = item_of(hit)
        return key is not None and any(
            key == item_of(d) for d in (self.chosen.decision, *self.treatments))


def _visible(view: IndexView, decision: Decision, filters: Filters, role: str) -> bool:
    """The role may see the decision AND the passage holding it, inside the filters (a
    closed passage is never cited for an open decision's sake)."""
    if not may_see_decision(decision, role):
        return False
    chunk = view.chunk(decision.chunk_id)
    return may_see_chunk(chunk, role) and view.passes(chunk, filters)


def _candidates(view: IndexView, question: str, pool: list[Hit], filters: Filters,
                role: str) -> list[Decision]:
    """Decisions of the items the search found (any passage of the item in the pool), and
    of the items the question names by title ("under punktet Eventuelt"): a short title
    is a weak search query but an exact pointer."""
    items = {item_of(h) for h in pool} - {None}
    found = view.decision_index.about(items, content_terms(question))
    return [d for d in found if _visible(view, d, filters, role)]


def title_named(asked: set[str], title: str) -> bool:
    """Whether the question's terms hold every content term of the item title."""
    terms = item_title_terms(title)
    return bool(terms) and terms <= asked


def score_decisions(view: IndexView, question: str, query_vec: np.ndarray, pool: list[Hit],
                    decisions: list[Decision]) -> list[ScoredDecision]:
    """Each decision scored by subject: meaning (question vs title + decision text), the
    question's rare words in title and text, the search rank of the item's best passage,
    and the meeting date when the question names one. Best first."""
    if not decisions:
        return []
    terms = content_terms(question)
    dates = mentioned_dates(question)
    best_rank: dict[ItemKey | None, int] = {}
    for position, hit in enumerate(pool, start=1):
        best_rank.setdefault(item_of(hit), position)
    cosines = view.vectors_of_decisions(decisions) @ query_vec
    scored = []
    for decision, cosine in zip(decisions, cosines):
        key = item_of(decision)
        title_cov = view.terms.coverage(terms, decision.punkt_title)
        cov = view.terms.coverage(terms, f"{decision.punkt_title}\n{decision.text}")
        named = 0.1 if title_named(terms, decision.punkt_title) else 0.0
        score = (float(cosine) + 0.25 * cov + 0.15 * title_cov + named
                 + 0.05 / best_rank.get(key, len(pool) + 1)
                 + 0.05 * date_affinity(decision.date, dates))
        scored.append(ScoredDecision(decision, score, cov, float(cosine)))
    return sorted(scored, key=lambda s: -s.score)


def same_case(view: IndexView, decision: Decision, filters: Filters, role: str) -> list[Decision]:
    """Every visible treatment of the case `decision` belongs to, newest first (itself
    included): the same sagsnummer, or the same title unless it is a standing item."""
    case = view.case_of(decision)
    title = normalise_title(decision.punkt_title)
    standing = is_standing_item(decision.punkt_title)

    def same(other: Decision) -> bool:
        if other is decision:
            return True
        if standing:
            return False  # "Eventuelt" at two meetings is two matters
        other_title = normalise_title(other.punkt_title)
        other_case = view.case_of(other)
        if case and other_case:
            # a sagsnummer is read per document part, which may hold several items: it
            # links two items only when their titles are about the same thing too
            return case == other_case and _similar_titles(title, other_title)
        return bool(title) and other_title == title

    treatments = [d for d in view.decision_index.of_case(case, title)
                  if same(d) and _visible(view, d, filters, role)]
    if decision not in treatments and _visible(view, decision, filters, role):
        treatments.append(decision)  # an untitled decision is found by no key
    # one treatment per meeting and item (a decision can be stored once per copy)
    unique: dict[tuple, Decision] = {}
    for d in treatments:
        unique.setdefault((d.document, d.meeting, d.date, d.punkt), d)
    return sorted(unique.values(), key=lambda d: (d.date or "", d.document, d.punkt), reverse=True)


def _similar_titles(a: str, b: str) -> bool:
    """Titles sharing at least half of their content words ("Renovering af svømmehallen i
    Lystrup" / "Svømmehallen i Lystrup - valg af model")."""
    ta, tb = content_terms(a), content_terms(b)
    return bool(ta and tb) and len(ta & tb) / min(len(ta), len(tb)) >= 0.5


def quote_decision(view: IndexView, text: str, question: str) -> list[str]:
    """The units of a decision text the answer quotes: all of it when short, else the first
    unit (the main decision) plus the units sharing most of the question's (or one of its
    parts', `intent.question_parts`) rare words, in document order, up to MAX_QUOTED_CHARS."""
    units = quotable_texts(text.removesuffix(TRUNCATED))
    if sum(len(u) for u in units) <= MAX_QUOTED_CHARS:
        return units
    # a question asking two things ("Hvad blev besluttet om videoen, og hvem skal være med
    # til at lave oplægget?") keeps the units of each part: a part's few words would weigh
    # little among the whole question's
    asked = [content_terms(question)] + [content_terms(p) for p in question_parts(question)[1:]]
    ranked = sorted(range(1, len(units)),
                    key=lambda i: -max(view.terms.coverage(t, units[i]) for t in asked))
    keep = {0}
    total = len(units[0])
    for i in ranked:
        if total + len(units[i]) > MAX_QUOTED_CHARS:
            continue
        keep.add(i)
        total += len(units[i])
    return [units[i] for i in sorted(keep)]


_NEXT_ITEM = re.compile(r"\b(?:Beslutning(?:er)? for )?Punkt \d{1,3}\s*(?:\(\s*Lukket\s*\))?\s*:")


def _continued(decision: str, holder: str) -> str:
    """A decision text the indexer shortened (it ends in TRUNCATED), continued from the
    passage that holds it up to the next item's heading: the part a question asks about
    ("... videokonceptet gentænkes", "oplæg udarbejdes i samarbejde med
    Kommunikationsteamet") may stand after the first 700 characters. `holder` is the
    passage text, whitespace collapsed."""
    if not decision.endswith(TRUNCATED):
        return decision
    kept = decision.removesuffix(TRUNCATED)
    units = quotable_texts(kept)
    at = holder.find(units[-1]) if units else -1
    if at < 0:
        return decision
    rest = holder[at + len(units[-1]):]
    following = _NEXT_ITEM.search(rest)
    return f"{kept} {rest[:following.start()] if following else rest}".strip()


def decision_answer(view: IndexView, question: str, query_vec: np.ndarray, pool: list[Hit],
                    config: AnswerConfig, *, filters: Filters, role: str) -> DecisionAnswer | None:
    """The decision card of the item a decision question is most likely about, with what
    the caller needs to judge it (`chosen`, `margin`, `named`); None when no visible
    decision is close in meaning at all."""
    scored = score_decisions(view, question, query_vec, pool,
                             _candidates(view, question, pool, filters, role))
    if not scored:
        return None
    best = scored[0]
    if best.cosine < config.decision_min_cosine:
        return None
    treatments = same_case(view, best.decision, filters, role)
    citations: list[Hit] = []
    rows: list[DecisionTreatment] = []
    for decision in treatments:
        chunk = view.chunk(decision.chunk_id)
        hit = hit_for(view, len(citations) + 1, best.score, view.canonical_id(chunk.chunk_id),
                      chunk, role)
        citations.append(hit)
        rows.append(DecisionTreatment(
            meeting=decision.meeting, committee=decision.committee, date=decision.date,
            punkt=decision.punkt, punkt_title=decision.punkt_title, outcome=decision.outcome,
            text=present(decision.text, role),
            followups=[present(o, role) for o in decision.followups],
            citation=len(citations),
        ))
    holder = " ".join(citations[0].text.split())
    quoted = [u for u in quote_decision(view, _continued(rows[0].text, holder), question)
              if u in holder]
    if not quoted:
        return None
    margin = best.score - scored[1].score if len(scored) > 1 else best.score
    named = title_named(content_terms(question), best.decision.punkt_title)
    return DecisionAnswer(DecisionCard(rows[0], rows[1:]), citations, quoted, best, margin, named,
                          tuple(treatments))
