"""What the build derives from every chunk text for the readers, and how an adding build
derives it from the previous generation's instead of from the whole archive again.

Why: a reader used to tokenise every canonical chunk text (term statistics) and read every
open chunk for closed-item listings at each open - most of an archive's open time (issue 12).
The build now stores both (`store.Derived`). Computing them from scratch at every build
would move that cost to every added meeting instead, so a build with a previous generation
that holds them starts from those and only works on what changed:

- term statistics are document frequencies, a sum over canonical chunks: remove the terms of
  the chunks that stopped being canonical, add those of the new canonical chunks. A chunk id
  is a hash of document, position and text, so a chunk id in both generations is the same
  text.
- closed listings are found per document (their key begins with the document): a document
  whose open canonical chunks are the same (id, meeting, date, first page) as before keeps
  its listings; the others are read again.

The result is exactly what `derive_from_scratch` gives (tests/test_derived.py).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

from indexer.closed_listings import find_closed_listings
from indexer.store import Derived
from kommunesoeg.core.models import Chunk
from kommunesoeg.core.results import ClosedListing
from kommunesoeg.core.textnorm import document_frequencies, tokenize


def derive_from_scratch(chunks: Sequence[Chunk]) -> Derived:
    """Term statistics over the canonical chunks and the closed items open chunks list."""
    canonical = [c for c in chunks if c.duplicate_of is None]
    term_df, _ = document_frequencies(c.text for c in canonical)
    return Derived(term_df=term_df, closed_listings=find_closed_listings(canonical))


def derive_for_readers(
    chunks: Sequence[Chunk],
    previous_chunks: Sequence[Chunk] = (),
    previous: Derived | None = None,
) -> Derived:
    """`derive_from_scratch(chunks)`, from the previous generation's derived tables and
    chunks when it has them (see the module docstring)."""
    if previous is None:
        return derive_from_scratch(chunks)
    try:
        term_df = _updated_frequencies(chunks, previous_chunks, previous.term_df)
    except KeyError:  # the previous numbers do not fit its chunks: trust only the texts
        return derive_from_scratch(chunks)
    return Derived(
        term_df=term_df,
        closed_listings=_updated_listings(chunks, previous_chunks, previous.closed_listings),
    )


def _canonical(chunks: Sequence[Chunk]) -> dict[str, Chunk]:
    return {c.chunk_id: c for c in chunks if c.duplicate_of is None}


def _updated_frequencies(
    chunks: Sequence[Chunk], previous_chunks: Sequence[Chunk], previous_df: dict[str, int]
) -> dict[str, int]:
    now, before = _canonical(chunks), _canonical(previous_chunks)
    removed = [c for cid, c in before.items() if cid not in now]
    added = [c for cid, c in now.items() if cid not in before]
    if len(removed) + len(added) >= len(now):  # mostly new (other settings): less work
        return document_frequencies(c.text for c in now.values())[0]
    df = dict(previous_df)
    for chunk in removed:
        for term in set(tokenize(chunk.text)):
            left = df[term] - 1
            if left:
                df[term] = left
            else:
                del df[term]
    for chunk in added:
        for term in set(tokenize(chunk.text)):
            df[term] = df.get(term, 0) + 1
    return df


def _open_canonical_by_document(chunks: Sequence[Chunk]) -> dict[str, list[Chunk]] | None:
    """The open canonical chunks per document in chunk order; None when a document's chunks
    are not contiguous (then per-document listings would not be in chunk order)."""
    by_document: dict[str, list[Chunk]] = {}
    last = None
    for chunk in chunks:
        if chunk.document != last and chunk.document in by_document:
            return None
        last = chunk.document
        group = by_document.setdefault(chunk.document, [])
        if not chunk.closed and chunk.duplicate_of is None:
            group.append(chunk)
    return by_document


def _updated_listings(
    chunks: Sequence[Chunk], previous_chunks: Sequence[Chunk], previous: Sequence[ClosedListing]
) -> tuple[ClosedListing, ...]:
    now, before = _open_canonical_by_document(chunks), _open_canonical_by_document(previous_chunks)
    if now is None or before is None:
        return find_closed_listings(c for c in chunks if c.duplicate_of is None)
    kept: dict[str, list[ClosedListing]] = {}
    for listing in previous:
        kept.setdefault(listing.document, []).append(listing)

    def signature(group: list[Chunk]) -> list[tuple]:
        return [(c.chunk_id, c.meeting, c.date, c.page_start) for c in group]

    listings: list[ClosedListing] = []
    for document, group in now.items():
        if document in before and signature(group) == signature(before[document]):
            listings += kept.get(document, [])
        else:
            listings += find_closed_listings(group)
    return tuple(listings)


def term_delta(added: Iterable[str], removed: Iterable[str]) -> Counter[str]:
    """Per term, how many more texts use it: +1 for each added text using it, -1 for each
    removed one (a text counts a term once, as `document_frequencies` does). What an
    update applies to the stored term statistics, reading only the texts that changed (the
    file build's `indexer.meta_update`, PostgreSQL's `indexer.pg.derived`)."""
    delta: Counter[str] = Counter()
    for text in added:
        delta.update(set(tokenize(text)))
    for text in removed:
        delta.subtract(set(tokenize(text)))
    return delta


def listings_by_document(
    documents: Sequence[str],
    previous: Sequence[ClosedListing],
    changed: Mapping[str, Sequence[Chunk]],
) -> tuple[ClosedListing, ...]:
    """The closed listings of `documents` (index order): those of the documents in
    `changed` found again in their chunks (duplicate marks as they are now), every other
    document's as the previous generation stored them."""
    kept: dict[str, list[ClosedListing]] = {}
    for listing in previous:
        kept.setdefault(listing.document, []).append(listing)
    listings: list[ClosedListing] = []
    for document in documents:
        if document in changed:
            listings += find_closed_listings(c for c in changed[document] if c.duplicate_of is None)
        else:
            listings += kept.get(document, [])
    return tuple(listings)
