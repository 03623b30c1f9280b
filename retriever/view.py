"""The loaded view of one index generation: everything derived from it, once, at load.

Duplicate groups, decisions per chunk, sentence-window rows and the filter vocabularies are
made from the chunks' text-free metadata - the columns the build wrote (`indexer.columns`),
so no chunk is visited - when the Searcher loads and never change afterwards, so the verbs
share them without caches of their own and a Searcher can serve many threads. Chunk texts are not read at load (issue 12: an archive's text is gigabytes):
a chunk, a duplicate group (`members`) or a window text is fetched from the store when a
verb needs it, and the term statistics and closed listings, which the build derives from
every text, are read as stored.
The allowed set of a ranking (who may see which passage inside which filters) is a set of
boolean arrays over the rows (`retriever.masks.ChunkRows`), so a query costs no Python loop
over the archive.
The only lazily computed parts are embeddings (they need the embedder, and only the
texts a question reaches are worth embedding): the decision vectors of the timeline and
the decision card, and the quotable units an answer reranks - two lock-protected
`TextVectors` stores.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from indexer.columns import ChunkColumns, IdsAt
from indexer.embed import Embedder
from kommunesoeg.core.models import Chunk, Decision, decision_text
from kommunesoeg.core.results import ClosedListing, Filters
from retriever.access import closed_pages, may_see_chunk, may_see_decision
from retriever.closed_listing import find_closed_listings
from retriever.decision_index import DecisionIndex
from retriever.masks import AllowedRows, ChunkRows
from retriever.storage import RetrievalStore
from retriever.terms import TermStats


@dataclass
class TextVectors:
    """Passage embeddings computed when first asked for and kept (up to `capacity`, oldest
    dropped first; None keeps all): the decisions a timeline or a decision card compares
    with a question, the few quotable units an answer chooses between. Lock-protected, so
    a Searcher can serve many threads."""

    embedder: Embedder
    capacity: int | None = None
    # vectors the build already made (the index's embedding cache): looked up before the
    # model runs, so a timeline over an archive's decisions embeds nothing at question time
    stored: Callable[[Sequence[str]], dict[str, np.ndarray]] | None = None
    _vectors: dict[str, np.ndarray] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def of(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), dim), L2-normalised rows in the order given."""
        with self._lock:
            missing = list(dict.fromkeys(t for t in texts if t not in self._vectors))
            found = self.stored(missing) if missing and self.stored is not None else {}
            for text, v in found.items():
                self._vectors[text] = v / max(np.linalg.norm(v), 1e-12)
            missing = [t for t in missing if t not in found]
            if missing:
                vecs = np.asarray(self.embedder.embed_passages(missing), dtype=np.float32)
                for text, v in zip(missing, vecs):
                    self._vectors[text] = v / max(np.linalg.norm(v), 1e-12)
                while self.capacity is not None and len(self._vectors) > self.capacity:
                    self._vectors.pop(next(iter(self._vectors)))
            return np.stack([self._vectors[t] for t in texts])


UNIT_VECTORS_KEPT = 50_000  # ~75 MiB of 384-d float32: the units of many questions


def _derived(store: RetrievalStore) -> tuple[TermStats, tuple[ClosedListing, ...]]:
    """The term statistics and closed listings the build stored; derived from every chunk
    text (the slow way, the same numbers) only for a generation written before the build
    stored them."""
    stored_terms, stored_listings = store.term_frequencies, store.closed_listings
    if stored_terms is not None and stored_listings is not None:
        return TermStats(stored_terms, store.chunk_vector_count), tuple(stored_listings)
    chunks = store.chunks
    return (
        TermStats.of_texts(c.text for c in chunks if not c.duplicate_of),
        find_closed_listings(chunks),
    )


class WindowRows(Mapping[str, tuple[int, ...]]):
    """Canonical chunk id -> its sentence-window rows, from the window -> canonical row
    array (`ChunkRows.window_row`): a dict of tuples for every chunk of an archive was
    ~100 MB and most of a second at each open, and an answer asks for a few chunks'."""

    def __init__(self, rows: ChunkRows) -> None:
        self._rows = rows
        self._order = np.argsort(rows.window_row, kind="stable")  # window rows by chunk
        self._starts = np.searchsorted(rows.window_row[self._order],
                                       np.arange(len(rows.canonical_ids) + 1))

    def _span(self, row: int) -> tuple[int, int]:
        return int(self._starts[row]), int(self._starts[row + 1])

    def __getitem__(self, chunk_id: str) -> tuple[int, ...]:
        row = self._rows.row_of.get(chunk_id)
        if row is None:
            raise KeyError(chunk_id)
        start, end = self._span(row)
        if start == end:
            raise KeyError(chunk_id)
        return tuple(self._order[start:end].tolist())

    def __iter__(self) -> Iterator[str]:
        with_windows = np.flatnonzero(np.diff(self._starts))
        return (self._rows.canonical_ids[r] for r in with_windows.tolist())

    def __len__(self) -> int:
        return int(np.count_nonzero(np.diff(self._starts)))


def _columns(store: RetrievalStore, decision_chunk_ids: Collection[str]) -> ChunkColumns:
    """The chunks' facts as columns: as the build wrote them (the file store), or made
    from the store's `chunk_facts` (the PostgreSQL store, which keeps them as rows)."""
    stored = getattr(store, "chunk_columns", None)
    if stored is not None:  # `decision_chunk_ids` is not read: the build knew them
        return stored()
    return ChunkColumns.of(store.chunk_facts(), store.canonical_ids, store.window_chunk_ids,
                           decision_chunk_ids)


def _decision_cases(columns: ChunkColumns) -> dict[str, str | None]:
    """The sagsnummer of every chunk that is or holds a decision (a decision's case
    without reading its chunk; a few decision sections without an extracted decision are
    included, which changes no answer: their case is the chunk's own)."""
    cases = columns.values("case_number")
    codes = columns["case_number"]
    return {columns.chunk_ids[i]: cases[codes[i]] for i in np.flatnonzero(columns["decision"]).tolist()}


class DecisionsByChunk(Mapping[str, tuple[Decision, ...]]):
    """Chunk id -> the decisions it holds, looked up in the store when asked for
    (`StoredDecisions.of_chunk`): a search reads its hits' decisions, never all of them."""

    def __init__(self, decisions: Sequence[Decision], of_chunk: Callable[[str], tuple[Decision, ...]]) -> None:
        self._decisions = decisions
        self._of_chunk = of_chunk

    def __getitem__(self, chunk_id: str) -> tuple[Decision, ...]:
        found = self._of_chunk(chunk_id)
        if not found:
            raise KeyError(chunk_id)
        return found

    def __contains__(self, chunk_id: object) -> bool:
        return isinstance(chunk_id, str) and bool(self._of_chunk(chunk_id))

    def __iter__(self) -> Iterator[str]:
        return iter(dict.fromkeys(d.chunk_id for d in self._decisions))

    def __len__(self) -> int:
        return len(dict.fromkeys(d.chunk_id for d in self._decisions))


def _decisions_by_chunk(decisions: Sequence[Decision]) -> Mapping[str, tuple[Decision, ...]]:
    """Looked up on demand when the store reads decisions lazily (the file store);
    grouped now when it holds them as a list (PostgreSQL, an older generation)."""
    of_chunk = getattr(decisions, "of_chunk", None)
    if of_chunk is not None:
        return DecisionsByChunk(decisions, of_chunk)
    grouped: dict[str, list[Decision]] = {}
    for decision in decisions:
        grouped.setdefault(decision.chunk_id, []).append(decision)
    return {cid: tuple(ds) for cid, ds in grouped.items()}


class Members(Mapping[str, tuple[Chunk, ...]]):
    """Canonical chunk id -> every copy of the passage (canonical first, duplicates in index
    order), fetched from the store when asked for: only a hit's own group is ever read."""

    def __init__(self, rows: ChunkRows, store: RetrievalStore) -> None:
        self._rows = rows
        self._store = store

    def __getitem__(self, canonical_id: str) -> tuple[Chunk, ...]:
        return tuple(self._store.chunk(cid) for cid in self._rows.group(canonical_id))

    def __iter__(self) -> Iterator[str]:
        return iter(self._rows.canonical_ids)

    def __len__(self) -> int:
        return len(self._rows.canonical_ids)


def _case_of(store: RetrievalStore, cases: Mapping[str, str | None],
             decision: Decision) -> str | None:
    """The sagsnummer of the passage holding `decision`: from the metadata read at load,
    else (a decision whose chunk the metadata did not list) from the chunk itself."""
    if decision.chunk_id in cases:
        return cases[decision.chunk_id]
    return store.chunk(decision.chunk_id).case_number if decision.chunk_id else None


@dataclass(frozen=True)
class IndexView:
    """One generation as the verbs read it; build with `IndexView.load`."""

    store: RetrievalStore
    # duplicates grouped under their canonical chunk, canonical first
    members: Mapping[str, tuple[Chunk, ...]]
    decisions_by_chunk: Mapping[str, tuple[Decision, ...]]
    window_canonical: Sequence[str]  # window row -> canonical chunk id
    window_rows: Mapping[str, tuple[int, ...]]  # chunk id -> its window rows
    rows: ChunkRows  # chunks and windows as arrays: the allowed set of a ranking
    terms: TermStats  # over the canonical chunks
    committees: tuple[str, ...]
    documents: tuple[str, ...]
    sections: tuple[str, ...]
    decision_vectors: TextVectors  # of `decision_text(d)`; see `vectors_of_decisions`
    unit_vectors: TextVectors
    # closed items as open tables of contents list them (retriever/closed_listing.py)
    closed_listings: tuple[ClosedListing, ...]
    # sagsnummer of every chunk that holds a decision, so a decision's case needs no chunk text
    decision_cases: Mapping[str, str | None]
    # the decisions by item, title words and case, for decision questions (built on first use)
    decision_index: DecisionIndex

    @classmethod
    def load(cls, store: RetrievalStore, embedder: Embedder) -> IndexView:
        """Arrays and lookups from the chunks' metadata; no chunk text is read (except, once,
        for a generation that predates the stored term statistics and closed listings)."""
        decisions = _decisions_by_chunk(store.decisions)
        columns = _columns(store, decisions)
        rows = ChunkRows(columns, fetch=store.chunk)
        decision_cases = _decision_cases(columns)
        terms, closed_listings = _derived(store)
        return cls(
            store=store,
            members=Members(rows, store),
            decisions_by_chunk=decisions,
            window_canonical=IdsAt(rows.canonical_ids, rows.window_row),
            window_rows=WindowRows(rows),
            rows=rows,
            terms=terms,
            committees=rows.committees,
            documents=rows.documents,
            sections=rows.sections,
            decision_vectors=TextVectors(embedder, stored=store.stored_vectors),
            unit_vectors=TextVectors(embedder, capacity=UNIT_VECTORS_KEPT),
            closed_listings=closed_listings,
            decision_cases=decision_cases,
            decision_index=DecisionIndex(store.decisions,
                                         functools.partial(_case_of, store, decision_cases)),
        )

    # ----------------------------------------------------------------- chunks
    def chunk(self, chunk_id: str) -> Chunk:
        return self.store.chunk(chunk_id)

    def canonical_id(self, chunk_id: str) -> str:
        """The id of the copy of this passage that is embedded and indexed."""
        return self.rows.canonical_id(chunk_id)

    def holds_decision(self, canonical_id: str) -> bool:
        """Whether any copy is a decision section or holds an extracted decision."""
        return self.rows.holds_decision(canonical_id)

    def vectors_of_decisions(self, decisions: Sequence[Decision]) -> np.ndarray:
        """(len(decisions), dim): title + decision text of each, embedded once."""
        return self.decision_vectors.of([decision_text(d) for d in decisions])

    def case_of(self, decision: Decision) -> str | None:
        """The sagsnummer of the passage holding `decision`, without reading its text."""
        return _case_of(self.store, self.decision_cases, decision)

    def decisions_of(self, chunk_id: str) -> tuple[Decision, ...]:
        return self.decisions_by_chunk.get(chunk_id, ())

    # ----------------------------------------------------------------- filters and access
    def passes(self, chunk: Chunk, filters: Filters) -> bool:
        """Whether `chunk` is inside the filters (access is a separate question).
        `retriever.masks.ChunkRows.inside` is the same rule over arrays: change both."""
        if filters.committees and chunk.committee not in filters.committees:
            return False
        if filters.documents and chunk.document not in filters.documents:
            return False
        if filters.sections and chunk.section not in filters.sections:
            return False
        if filters.decisions_only and not (
            chunk.section == "beslutning" or chunk.chunk_id in self.decisions_by_chunk
        ):
            return False
        if filters.date_from or filters.date_to:
            if not chunk.date:
                return False
            if filters.date_from and chunk.date < filters.date_from.isoformat():
                return False
            if filters.date_to and chunk.date > filters.date_to.isoformat():
                return False
        return True

    def allowed(self, role: str, filters: Filters) -> AllowedRows:
        """The rows a ranking for `role` inside `filters` may consider: canonical passages
        with a copy `role` may see (`access.may_see_chunk`) that `passes` the filters."""
        return self.rows.allowed(role, filters)

    def shown(self, canonical_id: str, allowed: AllowedRows) -> Chunk | None:
        """The copy of the passage `canonical_id` the role sees under `allowed` (the first
        allowed copy, canonical first); None when the passage is not allowed."""
        return self.rows.shown(canonical_id, allowed)

    def visible_chunks(self, role: str, document: str | None = None) -> list[Chunk]:
        """Chunks `role` may see, of one document or of all (all: the whole archive's
        text, read from the store now - a document page asks for one document)."""
        chunks = self.store.chunks if document is None else self.store.chunks_of(document)
        return [c for c in chunks if may_see_chunk(c, role)]

    def date_span(self, role: str) -> tuple[str, str] | None:
        """(first, last) meeting date of the chunks `role` may see, from the arrays."""
        return self.rows.date_span(role)

    def visible_decisions(self, role: str,
                          numbers: Iterable[tuple[str, int | None]] | None = None) -> list[Decision]:
        """The decisions `role` may see: all of them, or those recorded under these
        (document, item number) pairs (looked up, not scanned: a precedent row, a timeline)."""
        decisions = self.store.decisions if numbers is None else self.decision_index.numbered(numbers)
        return [d for d in decisions if may_see_decision(d, role)]

    def closed_pages(self, document: str) -> set[int]:
        """Pages of `document` holding closed text."""
        return closed_pages(self.store.chunks_of(document), document)
