"""The work queue several indexing machines share: the documents table's pending rows.

A worker claims a document with `SELECT ... FOR UPDATE SKIP LOCKED` and keeps that
transaction open while it parses, embeds and writes; the rows and the status change commit
together (`writer.write_document`). So no two workers hold the same document, a committed
document is never claimed again, and a worker that dies (killed, connection dropped, machine
gone) loses its transaction: PostgreSQL releases the row lock and the document is simply
pending again for the next claim. No lease times to tune, no cleanup of stale claims.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import psycopg


@dataclass(frozen=True)
class Claim:
    """A document this worker holds until its connection commits or rolls back."""

    file: str
    sha256: str
    worker_id: str


def enqueue(conn: psycopg.Connection, files: Iterable[tuple[str, str, int]]) -> int:
    """Queue (file name, sha256, size) triples; returns how many became pending.

    A new file becomes pending; a known file whose content changed becomes pending again;
    an unchanged file is left alone (it never waits for a worker that holds it: DO NOTHING
    and an UPDATE whose condition is false take no row lock). Commits."""
    files = sorted(set(files))  # one order for every worker: no lock-order deadlocks
    pending = 0
    with conn.transaction():
        for file, sha256, size in files:
            cur = conn.execute(
                "INSERT INTO documents (file, sha256, size) VALUES (%s, %s, %s) "
                "ON CONFLICT (file) DO NOTHING", (file, sha256, size))
            if cur.rowcount:
                pending += 1
                continue
            cur = conn.execute(
                "UPDATE documents SET sha256 = %s, size = %s, status = 'pending', error = NULL, "
                "queued_at = now(), indexed_by = NULL, indexed_at = NULL "
                "WHERE file = %s AND sha256 <> %s", (sha256, size, file, sha256))
            pending += cur.rowcount
    return pending


def claim_next(conn: psycopg.Connection, worker_id: str,
               files: Iterable[tuple[str, str]] | None = None) -> Claim | None:
    """Claim one pending document, or None when none is left that no one else holds.

    `files` limits the claim to (file, sha256) pairs this worker can read (each machine
    reads its own copy of the corpus; a copy with other content is not the queued document).
    Opens the transaction the document will be written in: the caller must end it with
    `write_document` (commit) or a rollback."""
    if conn.autocommit:
        raise ValueError("claim_next needs a connection with autocommit off")
    if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        raise RuntimeError("claim_next: the connection already has a transaction open")
    if files is None:
        row = conn.execute(
            "SELECT file, sha256 FROM documents WHERE status = 'pending' "
            "ORDER BY queued_at, file LIMIT 1 FOR UPDATE SKIP LOCKED").fetchone()
    else:
        pairs = sorted(set(files))
        row = conn.execute(
            "SELECT d.file, d.sha256 FROM documents d "
            "JOIN unnest(%s::text[], %s::text[]) AS mine(file, sha256) "
            "  ON mine.file = d.file AND mine.sha256 = d.sha256 "
            "WHERE d.status = 'pending' "
            "ORDER BY d.queued_at, d.file LIMIT 1 FOR UPDATE OF d SKIP LOCKED",
            ([f for f, _ in pairs], [s for _, s in pairs])).fetchone()
    if row is None:
        conn.rollback()
        return None
    return Claim(file=row[0], sha256=row[1], worker_id=worker_id)


def pending_count(conn: psycopg.Connection) -> int:
    """Documents not yet indexed (including ones a worker holds right now)."""
    return conn.execute("SELECT count(*) FROM documents WHERE status = 'pending'").fetchone()[0]
