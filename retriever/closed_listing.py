"""Closed agenda items listed by an open part of the documents: matching a question to one,
and how a refusal names it.

Issue 11, deliverable 6: a public refusal says in general words that closed agenda items are
not searchable for the public, and never names or hints at a specific closed item whose
title is printed only inside closed material. Only where an open part of the documents
itself lists a closed item may the answer say that this item is closed, with the printed
title, meeting and date, and no content. Finding those open lines is the indexer's
(`indexer/closed_listings.py`, run once per generation at build time and stored); the
finder is re-exported here for the generations written before it was stored and for the
callers that imported it from here.
"""

from __future__ import annotations

from collections.abc import Iterable

from indexer.closed_listings import INITIALS_RE, find_closed_listings, listed_in, read_listing
from kommunesoeg.core.danish import long_date
from kommunesoeg.core.results import ClosedListing
from kommunesoeg.core.textnorm import content_terms
from retriever.terms import TermStats

__all__ = [
    "closed_listing_text", "find_closed_listings", "listed_in", "match_listing", "read_listing",
    "title_terms",
]

# Matching a question to a listed title (see `match_listing`).
MIN_TITLE_COVERAGE = 0.5  # idf-weighted share of the title's terms the question mentions
MAX_COMMON_SHARE = 0.25  # a term in more chunks than this share is too common to match on
MIN_TERM_CHARS = 4
MAX_INFLECTION_CHARS = 3  # "regr" (Sygedagpenge regres) meets "regres" (regressen)

# --- matching a question ---------------------------------------------------------------------


def match_listing(
    question: str, listings: Iterable[ClosedListing], terms: TermStats
) -> ClosedListing | None:
    """The listed closed item the question is about, or None.

    The question must mention the item's subject: at least `MIN_TITLE_COVERAGE` of the
    title's content terms, weighted by idf (initials such as "(NH)" are no subject), among
    them at least two of them (one for a one-word title) and at least one term that is not
    common in the collection. Definite and inflected forms meet through the stemmer
    ("pasningsgarantien" - "Pasningsgaranti") and, for stems the stemmer cuts differently,
    by a short inflection ("regressen" - "regres"). The best-covered listing wins.
    """
    asked = content_terms(question)
    best: tuple[float, ClosedListing] | None = None
    for listing in listings:
        score = _title_coverage(asked, listing.title, terms)
        if score is not None and (best is None or score > best[0]):
            best = (score, listing)
    return best[1] if best else None


def title_terms(title: str) -> set[str]:
    """The content terms of a printed title, without the initials of the responsible."""
    return content_terms(INITIALS_RE.sub(" ", title))


def _title_coverage(asked: set[str], title: str, terms: TermStats) -> float | None:
    """Idf-weighted share of the title's terms in the question, None when it does not match."""
    wanted = title_terms(title)
    if not wanted or not asked:
        return None
    matched = {t for t in wanted if _mentioned(t, asked)}
    total = sum(terms.idf(t) for t in wanted)
    coverage = sum(terms.idf(t) for t in matched) / total if total else 0.0
    if coverage < MIN_TITLE_COVERAGE or len(matched) < min(2, len(wanted)):
        return None
    if not any(_distinctive(t, terms) for t in matched):
        return None
    return coverage


def _mentioned(term: str, asked: set[str]) -> bool:
    return term in asked or any(_same_word(term, word) for word in asked)


def _same_word(a: str, b: str) -> bool:
    """Two stems of one word: the shorter starts the longer, which adds an inflection."""
    short, long = sorted((a, b), key=len)
    return (
        len(short) >= MIN_TERM_CHARS
        and long.startswith(short)
        and len(long) - len(short) <= MAX_INFLECTION_CHARS
    )


def _distinctive(term: str, terms: TermStats) -> bool:
    share = terms.df.get(term, 0) / max(terms.n, 1)
    return len(term) >= MIN_TERM_CHARS and share <= MAX_COMMON_SHARE


# --- the sentence a refusal appends ----------------------------------------------------------


def closed_listing_text(listing: ClosedListing, english: bool = False) -> str:
    """What a public refusal says about a listed closed item: where the open documents
    list it (meeting, date, page), its number and printed title, and that its content is
    closed - nothing else. "Where it is listed", because the list may be the agenda of
    another meeting printed inside these documents (a committee agenda attached to a
    rådmandsmøde), so the item is not necessarily an item of this meeting."""
    when = long_date(listing.date, english)
    if english:
        where = ", ".join(p for p in (listing.meeting, when, f"p. {listing.page}") if p)
        return (
            f'The documents of {where}, list item {listing.punkt} "{listing.title}" as a '
            "closed item; its content cannot be searched by the public."
        )
    where = " ".join(p for p in (listing.meeting, f"den {when}" if when else "") if p)
    return (
        f"Dokumenterne fra {where} (s. {listing.page}) opfører punkt {listing.punkt} "
        f"»{listing.title}« som et lukket punkt; dets indhold kan ikke søges af offentligheden."
    )
