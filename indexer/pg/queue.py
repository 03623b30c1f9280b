"""The work queue several indexing machines share: the documents table's pending rows.

A worker claims a document with `SELECT ... FOR NO KEY UPDATE SKIP LOCKED` and keeps that
transaction open while it parses, embeds and writes; the rows and the status change commit
together (`writer.write_document`). So no two workers hold the same document, a committed
document is never claimed again, and a worker that dies (killed, connection dropped, machine
gone) loses its transaction: PostgreSQL releases the row lock and the document is simply
pending again for the next claim. No lease times to tune, no cleanup of stale claims.

The claim is FOR NO KEY UPDATE, not FOR UPDATE: another writer may have to insert rows that
reference a claimed document (its closed listings, when its copies become canonical because
a third document went), and a foreign-key check's KEY SHARE lock would wait for a FOR UPDATE
claim - while the claimer waits for that writer's near-duplicate lock: a deadlock.

A document that kills its worker every time (a PDF that exhausts memory, a parser that
hangs until the machine is restarted) would otherwise be retried forever. So every claim is
counted on a second, autocommit connection (`claim_attempts`, which survives the rollback);
`write_document` clears the count in the transaction that commits the document, and a
document claimed more than `MAX_ATTEMPTS` times without committing is marked 'error' with a
reason instead of being handed out again (until its file changes).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import psycopg

MAX_ATTEMPTS = 3  # claims that never committed, before a document is given up


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
               files: Iterable[tuple[str, str]] | None = None, *,
               tally: psycopg.Connection | None = None,
               max_attempts: int = MAX_ATTEMPTS) -> Claim | None:
    """Claim one pending document, or None when none is left that no one else holds.

    `files` limits the claim to (file, sha256) pairs this worker can read (each machine
    reads its own copy of the corpus; a copy with other content is not the queued document).
    With `tally` (an autocommit connection) the claim is counted, and a document already
    claimed `max_attempts` times without a commit is marked failed and the next one taken.
    Opens the transaction the document will be written in: the caller must end it with
    `write_document` (commit) or a rollback."""
    pairs = None if files is None else sorted(set(files))
    while True:
        claim = _claim_one(conn, worker_id, pairs)
        if claim is None or tally is None:
            return claim
        attempts = count_attempt(tally, claim)
        if attempts <= max_attempts:
            return claim
        give_up(conn, claim, attempts - 1)


def count_attempt(tally: psycopg.Connection, claim: Claim) -> int:
    """Count one more claim of the document (committed at once, on `tally`); the count
    including this one. Only the holder of the document's row lock gets here, so nobody
    else writes the row meanwhile."""
    if not tally.autocommit:
        raise ValueError("count_attempt needs an autocommit connection")
    return tally.execute(
        "INSERT INTO claim_attempts AS a (file, sha256, attempts, last_worker) "
        "VALUES (%s, %s, 1, %s) ON CONFLICT (file) DO UPDATE SET "
        "attempts = CASE WHEN a.sha256 = EXCLUDED.sha256 THEN a.attempts + 1 ELSE 1 END, "
        "sha256 = EXCLUDED.sha256, last_worker = EXCLUDED.last_worker, last_claimed_at = now() "
        "RETURNING attempts", (claim.file, claim.sha256, claim.worker_id)).fetchone()[0]


def give_up(conn: psycopg.Connection, claim: Claim, attempts: int) -> None:
    """Mark the claimed document failed after `attempts` workers died on it; commits."""
    reason = (f"opgivet: indekseringen blev afbrudt {attempts} gange uden at blive færdig "
              "(arbejderen døde eller mistede forbindelsen); prøves igen, når filen ændres")
    conn.execute(
        "UPDATE documents SET status = 'error', error = %s, indexed_by = %s, indexed_at = now() "
        "WHERE file = %s AND sha256 = %s", (reason, claim.worker_id, claim.file, claim.sha256))
    conn.execute("DELETE FROM claim_attempts WHERE file = %s", (claim.file,))
    conn.commit()


def _claim_one(conn: psycopg.Connection, worker_id: str,
               pairs: list[tuple[str, str]] | None) -> Claim | None:
    if conn.autocommit:
        raise ValueError("claim_next needs a connection with autocommit off")
    if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        raise RuntimeError("claim_next: the connection already has a transaction open")
    if pairs is None:
        row = conn.execute(
            "SELECT file, sha256 FROM documents WHERE status = 'pending' "
            "ORDER BY queued_at, file LIMIT 1 FOR NO KEY UPDATE SKIP LOCKED").fetchone()
    else:
        row = conn.execute(
            "SELECT d.file, d.sha256 FROM documents d "
            "JOIN unnest(%s::text[], %s::text[]) AS mine(file, sha256) "
            "  ON mine.file = d.file AND mine.sha256 = d.sha256 "
            "WHERE d.status = 'pending' "
            "ORDER BY d.queued_at, d.file LIMIT 1 FOR NO KEY UPDATE OF d SKIP LOCKED",
            ([f for f, _ in pairs], [s for _, s in pairs])).fetchone()
    if row is None:
        conn.rollback()
        return None
    return Claim(file=row[0], sha256=row[1], worker_id=worker_id)


def pending_count(conn: psycopg.Connection) -> int:
    """Documents not yet indexed (including ones a worker holds right now)."""
    return conn.execute("SELECT count(*) FROM documents WHERE status = 'pending'").fetchone()[0]


def store_generation(conn: psycopg.Connection) -> str:
    """Names the committed state of the store: moves whenever a document is committed,
    re-queued or removed (`documents.change_seq` comes from one sequence for all workers,
    so the sum moves even when two workers commit out of their sequence order). A reader
    opened on one value and a judgement made on one value stand while it stands."""
    count, total, last = conn.execute(
        "SELECT count(*), coalesce(sum(change_seq), 0), coalesce(max(change_seq), 0) "
        "FROM documents").fetchone()
    return f"pg-{count}-{last}-{total}"
