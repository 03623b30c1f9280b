"""Reading chunk texts from a generation's meta.sqlite when they are asked for, not at open.

Why (issue 12): decoding every chunk (text, windows, header) and every window text into
Python objects at open made an archive's open time and memory grow with its text - ~1.7 GiB
and 23 s at 100,000 chunks. A reader keeps only what every query needs for every chunk
(`ChunkFacts`, which the retriever turns into arrays once) and fetches a chunk or a window
text by id from SQLite when a verb needs it; the last few thousand fetched are kept (LRU).

A generation never changes after publish, so the connection is opened once with
immutable=1 and kept: on POSIX the open file stays readable even after a later build
removes the generation, which is what lets a Searcher outlive its generation. One
connection serves every thread, under a lock (SQLite lookups by primary key take
microseconds; the lock is never held while a caller works with the result).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import overload

from kommunesoeg.core.models import Chunk, Decision

CHUNKS_KEPT = 4096  # decoded chunks kept per reader: a few questions' candidates and groups
TERMS_KEPT = 200_000  # term frequencies kept per reader (a term is ~100 bytes kept)


class Kept:
    """The last `capacity` values fetched by key (least recently used dropped first),
    thread-safe: what a reader keeps of the texts it read on demand, whichever store."""

    def __init__(self, capacity: int = CHUNKS_KEPT) -> None:
        self._items: OrderedDict = OrderedDict()
        self._capacity = capacity
        self._lock = threading.Lock()

    def get(self, key):
        """The value kept for `key`, or None."""
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key, value) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self._capacity:
                self._items.popitem(last=False)


def connect_ro(path: Path, *, shared: bool = False) -> sqlite3.Connection:
    """A read-only connection; immutable=1: a generation never changes after publish, so
    SQLite may skip locking and never creates -wal/-shm files next to it (works on
    read-only media too). `shared`: usable from every thread (callers lock)."""
    db = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True, check_same_thread=not shared)
    db.row_factory = sqlite3.Row
    return db


def chunk_from_row(r: sqlite3.Row) -> Chunk:
    return Chunk(
        chunk_id=r["chunk_id"], document=r["document"], meeting=r["meeting"] or "",
        committee=r["committee"] or "", date=r["date"], punkt=r["punkt"],
        punkt_title=r["punkt_title"], bilag=r["bilag"], bilag_title=r["bilag_title"],
        section=r["section"] or "", page_start=r["page_start"], page_end=r["page_end"],
        closed=bool(r["closed"]), ocr=bool(r["ocr"]), text=r["text"], header=r["header"],
        case_number=r["case_number"], windows=json.loads(r["windows_json"] or "[]"),
        duplicate_of=r["duplicate_of"],
    )


DECISION_COLUMNS = (
    "document", "meeting", "committee", "date", "punkt", "punkt_title", "text", "outcome",
    "followups_json", "closed", "page", "chunk_id",
)
DECISIONS_SQL = f"SELECT {', '.join(DECISION_COLUMNS)} FROM decisions ORDER BY rowid"
_DECISIONS_OF_CHUNK_SQL = f"SELECT {', '.join(DECISION_COLUMNS)} FROM decisions WHERE chunk_id = ? ORDER BY rowid"


def decision_from_values(document, meeting, committee, date, punkt, punkt_title, text, outcome,
                         followups_json, closed, page, chunk_id) -> Decision:
    """A decision from its row's DECISION_COLUMNS, positionally (a third faster than by
    name, which counts at an archive's 100,000+ decisions)."""
    return Decision(
        document=document, meeting=meeting or "", committee=committee or "", date=date,
        punkt=punkt, punkt_title=punkt_title or "", text=text or "", outcome=outcome or "andet",
        followups=json.loads(followups_json) if followups_json and followups_json != "[]" else [],
        closed=bool(closed), page=page, chunk_id=chunk_id or "",
    )


@dataclass(frozen=True, slots=True)
class ChunkFacts:
    """One chunk copy without its text: what access (`closed`), the filters (committee,
    document, section, date), the closed pages (pages), the duplicate groups and the case
    of a decision (`case_number`) need of every chunk. The fields mean what the same
    fields of `Chunk` mean."""

    chunk_id: str
    document: str
    committee: str
    date: str | None
    section: str
    punkt: int | None
    bilag: int | None
    page_start: int
    page_end: int
    closed: bool
    duplicate_of: str | None
    case_number: str | None


FACT_COLUMNS = ("chunk_id", "document", "committee", "date", "section", "punkt", "bilag",
                "page_start", "page_end", "closed", "duplicate_of", "case_number")
_FACT_SQL = f"SELECT {', '.join(FACT_COLUMNS)} FROM chunks ORDER BY ord"


def chunk_facts_of(rows: Iterable[Sequence]) -> Iterator[ChunkFacts]:
    """`ChunkFacts` of rows holding FACT_COLUMNS in that order (either store's). Repeated
    strings (document, committee, section, date) share one object, so the facts of an
    archive stay small."""
    shared: dict[str, str] = {}

    def one(value: str | None) -> str | None:
        return None if value is None else shared.setdefault(value, value)

    for r in rows:
        yield ChunkFacts(
            chunk_id=r[0], document=one(r[1]), committee=one(r[2] or ""), date=one(r[3]),
            section=one(r[4] or ""), punkt=r[5], bilag=r[6], page_start=r[7],
            page_end=r[8], closed=bool(r[9]), duplicate_of=r[10], case_number=r[11],
        )


class ChunkTexts:
    """Chunks and window texts of one generation, fetched by id on demand (see module)."""

    def __init__(self, path: Path, window_count: int, kept: int = CHUNKS_KEPT) -> None:
        self.path = Path(path)
        self.window_count = window_count
        self._db = connect_ro(self.path, shared=True)
        # sqlite3 connections sit in a reference cycle of their own (their statement
        # cache), so without this the file would stay open until a garbage collection -
        # long enough to keep a read-only mount busy after the reader is gone.
        weakref.finalize(self, self._db.close)
        self._lock = threading.Lock()  # for the shared connection
        self._kept: Kept = Kept(kept)

    def close(self) -> None:
        """Close meta.sqlite now (otherwise when this object is freed)."""
        self._db.close()

    def chunk(self, chunk_id: str) -> Chunk:
        """The chunk with this id (KeyError when there is none)."""
        chunk = self._kept.get(chunk_id)
        if chunk is not None:
            return chunk
        with self._lock:
            row = self._db.execute("SELECT * FROM chunks WHERE chunk_id = ?", (chunk_id,)).fetchone()
        if row is None:
            raise KeyError(chunk_id)
        chunk = chunk_from_row(row)
        self._kept.put(chunk_id, chunk)
        return chunk

    def contains(self, chunk_id: str) -> bool:
        with self._lock:
            return self._db.execute("SELECT 1 FROM chunks WHERE chunk_id = ?", (chunk_id,)).fetchone() is not None

    def chunks(self, document: str | None = None) -> list[Chunk]:
        """Every chunk of `document` (or of the archive) in index order: one query per
        request, for the callers that truly need them all (a document page, stats)."""
        if document is None:
            sql, args = "SELECT * FROM chunks ORDER BY ord", ()
        else:
            sql, args = "SELECT * FROM chunks WHERE document = ? ORDER BY ord", (document,)
        with self._lock:
            rows = self._db.execute(sql, args).fetchall()
        return [chunk_from_row(r) for r in rows]

    def facts(self) -> Iterator[ChunkFacts]:
        """`ChunkFacts` of every chunk in index order."""
        with self._lock:
            rows = self._db.execute(_FACT_SQL).fetchall()
        return chunk_facts_of(rows)

    def window_text(self, row: int) -> str:
        with self._lock:
            found = self._db.execute("SELECT text FROM windows WHERE vec_row = ?", (row,)).fetchone()
        if found is None:
            raise IndexError(row)
        return found[0]

    def window_texts(self) -> WindowTexts:
        return WindowTexts(self.window_text, self.window_count)

    def decisions(self) -> list[Decision]:
        """Every decision, in stored order."""
        with self._lock:
            rows = self._db.execute(DECISIONS_SQL).fetchall()
        return [decision_from_values(*r) for r in rows]

    def decisions_of(self, chunk_id: str) -> tuple[Decision, ...]:
        """The decisions held by one chunk (index decisions_chunk), in stored order."""
        with self._lock:
            rows = self._db.execute(_DECISIONS_OF_CHUNK_SQL, (chunk_id,)).fetchall()
        return tuple(decision_from_values(*r) for r in rows)

    def term_frequencies(self) -> TermFrequencies:
        """The stored document frequencies (table term_df), looked up term by term."""
        return TermFrequencies(self._db, self._lock)


class StoredDecisions(Sequence[Decision]):
    """A generation's decisions, read from meta.sqlite when first needed as a whole (a
    timeline, a precedent, a decision question) and then kept; one chunk's decisions
    (what every hit shows) are looked up by chunk id without reading the rest.

    Why: decoding an archive's decisions was the largest part of an open once the chunk
    facts became columns (111,170 decisions, 0.8 s and ~100 MB at 300,000 chunks), and a
    search reads the decisions of its ten hits only."""

    def __init__(self, texts: ChunkTexts) -> None:
        self._texts = texts
        self._all: list[Decision] | None = None
        self._lock = threading.Lock()
        self._by_chunk: Kept = Kept()

    def _loaded(self) -> list[Decision]:
        with self._lock:
            if self._all is None:
                self._all = self._texts.decisions()
            return self._all

    def __len__(self) -> int:
        return len(self._loaded())

    @overload
    def __getitem__(self, i: int) -> Decision: ...

    @overload
    def __getitem__(self, i: slice) -> list[Decision]: ...

    def __getitem__(self, i: int | slice) -> Decision | list[Decision]:
        return self._loaded()[i]

    def __iter__(self) -> Iterator[Decision]:
        return iter(self._loaded())

    def of_chunk(self, chunk_id: str) -> tuple[Decision, ...]:
        """The decisions `chunk_id` holds (empty when none), in stored order."""
        found = self._by_chunk.get(chunk_id)
        if found is None:
            found = self._texts.decisions_of(chunk_id)
            self._by_chunk.put(chunk_id, found)
        return found


class TermFrequencies(Mapping[str, int]):
    """term -> document frequency from a generation's `term_df` table, read when asked.

    Why: an archive has hundreds of thousands of terms (476,650 at 300,000 chunks); reading
    them all into a dict was ~0.9 s and ~60 MB of every open, while a question asks for a
    few dozen. Terms asked for are kept (a question's terms recur in every sentence it
    scores). Iterating reads the whole table (tests, a full comparison)."""

    def __init__(self, db: sqlite3.Connection, lock: threading.Lock) -> None:
        self._db = db
        self._lock = lock
        self._kept: dict[str, int | None] = {}

    def get(self, term: str, default=None):  # type: ignore[override]
        found = self._kept.get(term, -1)
        if found == -1:
            with self._lock:
                row = self._db.execute("SELECT df FROM term_df WHERE term = ?", (term,)).fetchone()
                found = None if row is None else int(row[0])
                if len(self._kept) < TERMS_KEPT:
                    self._kept[term] = found
        return default if found is None else found

    def __getitem__(self, term: str) -> int:
        found = self.get(term)
        if found is None:
            raise KeyError(term)
        return found

    def __contains__(self, term: object) -> bool:
        return isinstance(term, str) and self.get(term) is not None

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM term_df").fetchone()[0])

    def __iter__(self) -> Iterator[str]:
        with self._lock:
            terms = [t for (t,) in self._db.execute("SELECT term FROM term_df")]
        return iter(terms)

    def items(self):  # one query instead of one per term
        with self._lock:
            return dict(self._db.execute("SELECT term, df FROM term_df")).items()


class WindowTexts(Sequence[str]):
    """The window texts in window-row order, each read from the store (`fetch`) when indexed."""

    def __init__(self, fetch: Callable[[int], str], count: int) -> None:
        self._fetch = fetch
        self._count = count

    def __len__(self) -> int:
        return self._count

    @overload
    def __getitem__(self, row: int) -> str: ...

    @overload
    def __getitem__(self, row: slice) -> list[str]: ...

    def __getitem__(self, row: int | slice) -> str | list[str]:
        if isinstance(row, slice):
            return [self._fetch(r) for r in range(*row.indices(len(self)))]
        if row < 0:
            row += len(self)
        if not 0 <= row < len(self):
            raise IndexError(row)
        return self._fetch(row)


class ChunksById:
    """`IndexReader.chunk_by_id` as it was (a mapping id -> Chunk), fetching on demand."""

    def __init__(self, texts: ChunkTexts, ids: Sequence[str]) -> None:
        self._texts = texts
        self._ids = ids

    def __getitem__(self, chunk_id: str) -> Chunk:
        return self._texts.chunk(chunk_id)

    def __contains__(self, chunk_id: object) -> bool:
        return isinstance(chunk_id, str) and self._texts.contains(chunk_id)

    def __len__(self) -> int:
        return len(self._ids)

    def __iter__(self) -> Iterator[str]:
        return iter(self._ids)

    def get(self, chunk_id: str, default: Chunk | None = None) -> Chunk | None:
        try:
            return self._texts.chunk(chunk_id)
        except KeyError:
            return default
