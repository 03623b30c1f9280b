"""A new generation's meta.sqlite as a copy of the previous one with only what changed
applied, in one transaction.

Why (issue 12): writing every row of an archive again was 17 s per added meeting at 300,000
chunks, and reading them all back first 14 s more. A file copy of the previous generation's
meta.sqlite is a fraction of that (no Python object per row), and the rows that change are
few: the documents that left or came, their chunks, windows, decisions and sketches, and
the settled rows whose numbering or duplicate mark moved. Rows are numbered as a build from
scratch numbers them - chunks' `ord` in index order, window rows as dense.faiss rows,
decisions' rowid in document order - so the file holds the rows a full build writes
(tests/test_carry.py compares every table). A document added at the end of the index order
(the next meeting, by date) moves no settled row; one added at the front moves every row
after it, which costs an update of those rows, never more than writing them.

Primary keys that move (window rows, decision rowids) go through negative numbers first, so
no moved row collides with one not yet moved.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from kommunesoeg.core.models import Chunk, Decision
from kommunesoeg.core.results import ClosedListing


@dataclass
class MetaDelta:
    """What changes between the previous generation's meta.sqlite and the new one."""

    gone_documents: Sequence[str]  # documents whose rows leave (removed, read again, failed)
    documents: Sequence[tuple]  # document rows to insert (`DocumentRecord.row()`)
    # every chunk of the new index order: its id, previous position (-1: parsed now), new
    # vec_row (-1: a duplicate) and its canonical chunk's position (-1: canonical)
    ids: Sequence[str]
    old_position: np.ndarray
    vec_row: np.ndarray
    duplicate_of: np.ndarray
    parsed: Mapping[int, Chunk]  # position -> chunk, for the chunks parsed in this build
    old_vec_row: np.ndarray  # per previous position
    old_duplicate_of: np.ndarray  # per previous position: its canonical's previous position
    window_old: np.ndarray  # per new window row, its previous row (-1: fresh)
    old_windows: int
    fresh_windows: Sequence[tuple[int, str, str]]  # (row, chunk id, text) of fresh rows
    decisions: Mapping[str, Sequence[Decision]]  # document -> decisions, documents parsed now
    document_order: Sequence[str]  # every document with decisions or not, index order
    sketches: Mapping[str, Sequence[int]]  # chunk id -> sketch, chunks parsed now
    term_df: Mapping[str, int]  # term -> document frequency now (0: the term leaves)
    closed_listings: Sequence[ClosedListing] = field(default_factory=tuple)


def copy_meta(previous: Path, target: Path) -> None:
    """The previous generation's meta.sqlite, copied (the kernel copies; no row is read)."""
    shutil.copyfile(previous, target)


def apply_delta(path: Path, delta: MetaDelta) -> None:
    """Apply `delta` to the copied meta.sqlite at `path`, in one transaction."""
    db = sqlite3.connect(path)
    try:
        db.execute("PRAGMA journal_mode=DELETE")
        with db:  # one transaction: committed at the end, rolled back on any error
            _drop_documents(db, delta.gone_documents)
            _renumber_windows(db, delta)
            _chunks(db, delta)
            _decisions(db, delta)
            db.executemany(f"INSERT INTO documents VALUES ({','.join('?' * 13)})", delta.documents)
            db.executemany("INSERT INTO sketches (chunk_id, keys) VALUES (?, ?)",
                           [(cid, np.asarray(keys, dtype="<i8").tobytes())
                            for cid, keys in delta.sketches.items()])
            _term_df(db, delta.term_df)
            db.execute("DELETE FROM closed_listings")
            db.executemany(
                "INSERT INTO closed_listings (ord, document, meeting, date, punkt, title, page) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(i, x.document, x.meeting, x.date, x.punkt, x.title, x.page)
                 for i, x in enumerate(delta.closed_listings)])
    finally:
        db.close()


def _drop_documents(db: sqlite3.Connection, documents: Sequence[str]) -> None:
    names = [(d,) for d in documents]
    db.executemany("DELETE FROM sketches WHERE chunk_id IN (SELECT chunk_id FROM chunks WHERE document = ?)", names)
    db.executemany("DELETE FROM chunks WHERE document = ?", names)
    db.executemany("DELETE FROM decisions WHERE document = ?", names)
    db.executemany("DELETE FROM documents WHERE file = ?", names)


def _renumber_windows(db: sqlite3.Connection, delta: MetaDelta) -> None:
    """Window rows that left are deleted, carried rows that moved take their new number
    (via -1 - row), fresh rows are inserted."""
    new_of_old = np.full(delta.old_windows, -1, dtype=np.int64)
    carried = np.flatnonzero(delta.window_old >= 0)
    new_of_old[delta.window_old[carried]] = carried
    gone = np.flatnonzero(new_of_old < 0)
    db.executemany("DELETE FROM windows WHERE vec_row = ?", ((int(r),) for r in gone))
    moved = np.flatnonzero((new_of_old >= 0) & (new_of_old != np.arange(delta.old_windows)))
    db.executemany("UPDATE windows SET vec_row = ? WHERE vec_row = ?",
                   ((-1 - int(new_of_old[r]), int(r)) for r in moved))
    db.executemany("INSERT INTO windows (vec_row, chunk_id, text) VALUES (?, ?, ?)", delta.fresh_windows)
    if len(moved):
        db.execute("UPDATE windows SET vec_row = -1 - vec_row WHERE vec_row < 0")


def _chunks(db: sqlite3.Connection, delta: MetaDelta) -> None:
    """Settled chunks whose ord, vec_row or duplicate mark changed are updated; the chunks
    parsed in this build are inserted."""
    ids = delta.ids
    settled = np.flatnonzero(delta.old_position >= 0)
    old = delta.old_position[settled]
    new_of_old = np.full(len(delta.old_vec_row), -2, dtype=np.int64)  # -2: left
    new_of_old[old] = settled
    old_dup = delta.old_duplicate_of[old]
    old_dup_now = np.where(old_dup >= 0, new_of_old[np.maximum(old_dup, 0)], -1)
    changed = settled[(old != settled) | (delta.vec_row[settled] != delta.old_vec_row[old])
                      | (delta.duplicate_of[settled] != old_dup_now)]

    def row(p: int) -> int | None:
        return None if delta.vec_row[p] < 0 else int(delta.vec_row[p])

    def canonical(p: int) -> str | None:
        return None if delta.duplicate_of[p] < 0 else ids[int(delta.duplicate_of[p])]

    db.executemany("UPDATE chunks SET ord = ?, vec_row = ?, duplicate_of = ? WHERE chunk_id = ?",
                   [(p, row(p), canonical(p), ids[p]) for p in changed.tolist()])
    db.executemany(
        "INSERT INTO chunks (chunk_id, vec_row, document, meeting, committee, date, punkt, "
        "punkt_title, bilag, bilag_title, section, page_start, page_end, closed, ocr, case_number, "
        "text, header, duplicate_of, ord, windows_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
        "?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (c.chunk_id, row(p), c.document, c.meeting, c.committee, c.date, c.punkt,
             c.punkt_title, c.bilag, c.bilag_title, c.section, c.page_start, c.page_end,
             int(c.closed), int(c.ocr), c.case_number, c.text, c.header, canonical(p), p,
             json.dumps(c.windows, ensure_ascii=False))
            for p, c in sorted(delta.parsed.items())
        ],
    )


def _decisions(db: sqlite3.Connection, delta: MetaDelta) -> None:
    """Decisions keep document order in their rowids (1, 2, ...): a settled document's move
    by the decisions of the documents before it that came or left; the new ones go in."""
    old = {doc: (int(first), int(count)) for doc, first, count in db.execute(
        "SELECT document, min(rowid), count(*) FROM decisions GROUP BY document")}
    next_rowid = 1
    shifts = []
    inserts = []
    for document in delta.document_order:
        if document in delta.decisions:
            for d in delta.decisions[document]:
                inserts.append((next_rowid, d.document, d.meeting, d.committee, d.date, d.punkt,
                                d.punkt_title, d.text, d.outcome,
                                json.dumps(d.followups, ensure_ascii=False), int(d.closed), d.page,
                                d.chunk_id))
                next_rowid += 1
        elif document in old:
            first, count = old[document]
            if first != next_rowid:
                shifts.append((next_rowid - first, document))
            next_rowid += count
    db.executemany("UPDATE decisions SET rowid = -(rowid + ?) WHERE document = ?", shifts)
    db.executemany(
        "INSERT INTO decisions (rowid, document, meeting, committee, date, punkt, punkt_title, "
        "text, outcome, followups_json, closed, page, chunk_id) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", inserts)
    if shifts:
        db.execute("UPDATE decisions SET rowid = -rowid WHERE rowid < 0")


def _term_df(db: sqlite3.Connection, term_df: Mapping[str, int]) -> None:
    db.executemany("DELETE FROM term_df WHERE term = ?", [(t,) for t, df in term_df.items() if df <= 0])
    db.executemany("INSERT OR REPLACE INTO term_df (term, df) VALUES (?, ?)",
                   [(t, df) for t, df in term_df.items() if df > 0])
