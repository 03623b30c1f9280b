"""Indexing into PostgreSQL: one document, one transaction; any number of workers.

`index_into_postgres` is the worker loop: queue the given files, then claim a pending
document, parse it with the file store's own `parse_file`, embed it (through the shared
embedding cache), and write it with `write_document`, which replaces the document's rows and
marks it indexed in the transaction its claim opened. A reader therefore sees a document
either as it was or as it is, never half; a worker killed before the commit leaves the
document pending for another worker.

Inside that transaction the document's chunks are judged for near-duplicates against the
stored ones (`neardup`: only canonical chunks get vectors, and a better new copy can take
over from a stored one), and the term statistics and closed listings follow (`derived`).
A document whose worker keeps dying is given up after `queue.MAX_ATTEMPTS` claims. The
first load of an archive into an empty store writes without the search indexes and builds
them once the queue is empty (`search_indexes`): the same rows and transactions, much less
serial work per document.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import psycopg

from indexer.build import chunk_vectors, embedding_inputs, parse_file, scan_inputs
from indexer.dedupe import TextFeatures
from indexer.derived import term_delta
from indexer.embed import DEFAULT_BATCH_SIZE, Embedder
from indexer.lexical import lexical_text
from indexer.pg.connect import connect
from indexer.pg.derived import apply_term_delta, refresh_listings, replace_listings
from indexer.pg.embcache import PgEmbeddingCache
from indexer.pg.lexemes import document_lexemes
from indexer.pg.neardup import Judgement, judge, lock_archive, orphaned_copies
from indexer.pg.queue import MAX_ATTEMPTS, Claim, claim_next, enqueue, store_generation
from indexer.pg.schema import ensure_model, migrate
from indexer.pg.search_indexes import BULK_MIN_DOCUMENTS, build_deferred, defer_for_bulk_load
from indexer.pg.vectors import vector_literal
from indexer.settings import DEFAULT_CHUNK_OVERLAP, DEFAULT_CHUNK_SIZE
from indexer.store import sha256_file, text_key
from kommunesoeg.core.errors import DocumentError
from kommunesoeg.core.models import Chunk, Decision, decision_text

_EMBED_GROUP = 64  # texts per embed call between cache writes

_CHUNK_COLUMNS = (
    "chunk_id", "document", "meeting", "committee", "date", "punkt", "punkt_title", "bilag",
    "bilag_title", "section", "page_start", "page_end", "closed", "ocr", "case_number", "text",
    "header", "duplicate_of", "ord", "windows_json", "tokens", "n_tokens", "vector",
)
_DECISION_COLUMNS = (
    "document", "meeting", "committee", "date", "punkt", "punkt_title", "text", "outcome",
    "followups", "closed", "page", "chunk_id",
)


@dataclass
class DocumentVectors:
    """A document's vectors: one per window (in `embedding_inputs` order) and one per
    canonical chunk (the normalised mean of its windows, as the file store makes it)."""

    window_ids: list[str]
    window_texts: list[str]
    windows: np.ndarray
    chunk_vectors: dict[str, np.ndarray]


@dataclass
class WorkerReport:
    """What one worker did: the documents it committed, by status."""

    worker_id: str
    indexed: list[str] = field(default_factory=list)  # committed by this worker, status ok
    failed: list[str] = field(default_factory=list)  # committed by this worker, status error
    removed: list[str] = field(default_factory=list)  # pruned by this worker
    errors: list[DocumentError] = field(default_factory=list)  # unreadable and failed inputs
    skipped_unchanged: int = 0  # inputs already indexed with this content
    inputs_ok: int = 0  # inputs indexed (by anyone) after the run
    documents_total: int = 0  # documents indexed in the store after the run
    chunks: int = 0
    duplicates: int = 0
    embedded_texts: int = 0
    cached_texts: int = 0
    seconds: float = 0.0
    bulk_load: bool = False  # wrote without the search indexes (an empty store's first load)
    index_build_s: float | None = None  # built the deferred search indexes, in this many s


def cached_vectors(texts: Sequence[str], embedder: Embedder, cache: PgEmbeddingCache,
                   report: WorkerReport | None = None) -> dict[str, np.ndarray]:
    """text key -> vector of every text, embedding (and caching) only those the cache lacks."""
    text_of = {text_key(t): t for t in texts}
    known = cache.get_many(embedder.model_id, list(text_of))
    missing = sorted((k for k in text_of if k not in known), key=lambda k: len(text_of[k]))
    for start in range(0, len(missing), _EMBED_GROUP):
        group = missing[start : start + _EMBED_GROUP]
        vecs = embedder.embed_passages([text_of[k] for k in group], batch_size=DEFAULT_BATCH_SIZE)
        cache.put_many(embedder.model_id, group, vecs)
        known.update(zip(group, np.asarray(vecs, dtype=np.float32)))
    if report is not None:
        report.embedded_texts += len(missing)
        report.cached_texts += len(text_of) - len(missing)
    return known


def embed_document(chunks: Sequence[Chunk], embedder: Embedder, cache: PgEmbeddingCache,
                   report: WorkerReport | None = None) -> DocumentVectors:
    """Vectors of a document's canonical chunks and windows; cached texts are not embedded."""
    windows, whole = embedding_inputs(chunks)
    texts = [t for _, _, t in windows] + [t for _, t in whole]
    if not texts:
        return DocumentVectors([], [], np.zeros((0, 0), dtype=np.float32), {})
    keys = [text_key(t) for t in texts]
    known = cached_vectors(texts, embedder, cache, report)
    dim = len(next(iter(known.values())))
    matrix = np.array([known[k] for k in keys], dtype=np.float32).reshape(len(keys), dim)
    n = len(windows)
    window_ids = [cid for cid, _, _ in windows]
    chunk_ids, chunk_matrix = chunk_vectors(
        chunks, window_ids, matrix[:n], [cid for cid, _ in whole], matrix[n:])
    return DocumentVectors(window_ids, [w for _, w, _ in windows], matrix[:n],
                           dict(zip(chunk_ids, chunk_matrix)))


def _chunk_row(ord_: int, c: Chunk, vector: np.ndarray | None) -> tuple:
    lexemes, length = document_lexemes(lexical_text(c))
    return (
        c.chunk_id, c.document, c.meeting, c.committee, c.date, c.punkt, c.punkt_title, c.bilag,
        c.bilag_title, c.section, c.page_start, c.page_end, c.closed, c.ocr, c.case_number,
        c.text, c.header, c.duplicate_of, ord_, json.dumps(c.windows, ensure_ascii=False),
        lexemes, length, None if vector is None else vector_literal(vector),
    )


def _decision_row(d: Decision) -> tuple:
    return (d.document, d.meeting, d.committee, d.date, d.punkt, d.punkt_title, d.text,
            d.outcome, json.dumps(d.followups, ensure_ascii=False), d.closed, d.page, d.chunk_id)


Embed = Callable[[Sequence[Chunk]], DocumentVectors]


@dataclass(frozen=True)
class Preview:
    """A judgement made before the near-duplicate lock, and the store's generation it was
    made on (`queue.store_generation`, read before it): under the lock it is used as it is
    when no document was committed or removed since - the usual case, and the judgement
    costs as much as the rest of writing a document."""

    generation: str
    judgement: Judgement


def write_document(conn: psycopg.Connection, claim: Claim, parsed, embed: Embed,
                   *, before_commit: Callable[[Claim], None] | None = None,
                   preview: Preview | None = None,
                   features: TextFeatures | None = None) -> Judgement:
    """Replace the claimed document's rows and mark it indexed, then commit: all or nothing.

    `parsed` is `indexer.build.parse_file`'s result (record, chunks, decisions); a record
    with status 'error' is stored with its reason and no rows, and is not claimed again
    until its file changes. Under the near-duplicate lock (`neardup`) the chunks are judged
    against the stored ones, `embed` gives the vectors of every chunk that is canonical
    afterwards (through the cache: the caller embedded them before taking the lock), and
    the term statistics and closed listings follow. `before_commit` runs inside the
    transaction, after every row is written (the tests use it to kill a worker at the worst
    moment). `features`: the worker's cache of compared texts (`neardup.judge`)."""
    record = parsed.record
    if record.file != claim.file:
        raise ValueError(f"write_document: parsed {record.file}, claimed {claim.file}")
    lock_archive(conn)
    if preview is not None and store_generation(conn) != preview.generation:
        preview = None  # another worker committed meanwhile: judge again
    updated = conn.execute(
        "UPDATE documents SET size = %s, pages = %s, ocr_pages = %s, meeting = %s, "
        "committee = %s, date = %s, time = %s, place = %s, participants = %s, status = %s, "
        "error = %s, indexed_by = %s, indexed_at = clock_timestamp(), change_seq = nextval('store_changes') "
        "WHERE file = %s AND sha256 = %s",
        (record.size, record.pages, record.ocr_pages, record.meeting, record.committee,
         record.date, record.time, record.place,
         json.dumps(record.participants, ensure_ascii=False), record.status, record.error,
         claim.worker_id, claim.file, claim.sha256)).rowcount
    if updated != 1:
        raise RuntimeError(f"write_document: {claim.file} ({claim.sha256[:12]}) is not queued")
    judgement = _replace_rows(conn, claim.file, parsed.chunks, embed, parsed.decisions,
                              preview.judgement if preview is not None else None, features)
    conn.execute("DELETE FROM claim_attempts WHERE file = %s", (claim.file,))
    if before_commit is not None:
        before_commit(claim)
    conn.commit()
    return judgement


def remove_document(conn: psycopg.Connection, file: str, embed: Embed) -> bool:
    """Remove a document and everything derived from it in one transaction; copies of its
    chunks in other documents are judged anew (and embedded if they become canonical).
    False (and nothing done) when a worker holds the document right now."""
    held = conn.execute(  # as a claim locks it (queue.py says why not FOR UPDATE)
        "SELECT 1 FROM documents WHERE file = %s FOR NO KEY UPDATE SKIP LOCKED", (file,)).fetchone()
    if held is None:
        conn.rollback()
        return False
    lock_archive(conn)  # after the row lock, as a writer takes them: no deadlock
    _replace_rows(conn, file, [], embed, [])
    conn.execute("DELETE FROM documents WHERE file = %s", (file,))
    conn.execute("DELETE FROM claim_attempts WHERE file = %s", (file,))
    conn.commit()
    return True


def _replace_rows(conn: psycopg.Connection, file: str, chunks: Sequence[Chunk], embed: Embed,
                  decisions: Sequence[Decision], judged: Judgement | None = None,
                  features: TextFeatures | None = None) -> Judgement:
    """Under the near-duplicate lock: drop `file`'s rows, judge and write its new chunks
    (`judged`: a judgement already made on the current state), update the stored chunks
    whose `duplicate_of` changed, and the derived tables."""
    removed_texts = [r[0] for r in conn.execute(
        "SELECT text FROM chunks WHERE document = %s AND duplicate_of IS NULL", (file,))]
    orphans = orphaned_copies(conn, file) if judged is None else []
    conn.execute("DELETE FROM decisions WHERE document = %s", (file,))
    conn.execute("DELETE FROM chunks WHERE document = %s", (file,))  # windows, sketches cascade
    judgement = judged if judged is not None else judge(conn, file, chunks, orphans, features)
    revived = [c for c in judgement.changed if c.duplicate_of is None]
    vectors = embed([*judgement.new, *revived])
    with conn.cursor() as cur:
        with cur.copy(f"COPY chunks ({', '.join(_CHUNK_COLUMNS)}) FROM STDIN") as copy:
            for ord_, c in enumerate(judgement.new):
                copy.write_row(_chunk_row(ord_, c, vectors.chunk_vectors.get(c.chunk_id)))
        _update_changed(cur, judgement.changed, vectors)
        ords: dict[str, int] = {}
        closed = {c.chunk_id: c.closed for c in [*judgement.new, *judgement.changed]}
        with cur.copy("COPY windows (chunk_id, ord, text, vector, closed) FROM STDIN") as copy:
            for cid, text, vec in zip(vectors.window_ids, vectors.window_texts, vectors.windows):
                ords[cid] = ords.get(cid, -1) + 1
                copy.write_row((cid, ords[cid], text, vector_literal(vec), closed[cid]))
        with cur.copy("COPY chunk_sketches (key, chunk_id) FROM STDIN") as copy:
            for cid, keys in judgement.sketches.items():
                for key in keys:
                    copy.write_row((key, cid))
        with cur.copy(f"COPY decisions ({', '.join(_DECISION_COLUMNS)}) FROM STDIN") as copy:
            for d in decisions:
                copy.write_row(_decision_row(d))
    demoted = [c.text for c in judgement.changed if c.chunk_id in judgement.were_canonical]
    apply_term_delta(conn, term_delta(
        added=[c.text for c in [*judgement.new, *revived] if c.duplicate_of is None],
        removed=[*removed_texts, *demoted]))
    replace_listings(conn, file, [c for c in judgement.new if c.duplicate_of is None])
    refresh_listings(conn, {c.document for c in judgement.changed})
    return judgement


def _update_changed(cur: psycopg.Cursor, changed: Sequence[Chunk], vectors: DocumentVectors
                    ) -> None:
    """Stored chunks of other documents whose judgement changed: a new copy loses its
    vector and windows (only canonical chunks are searched), a revived one gets them."""
    for c in changed:
        vec = vectors.chunk_vectors.get(c.chunk_id) if c.duplicate_of is None else None
        cur.execute("UPDATE chunks SET duplicate_of = %s, vector = %s WHERE chunk_id = %s",
                    (c.duplicate_of, None if vec is None else vector_literal(vec), c.chunk_id))
        cur.execute("DELETE FROM windows WHERE chunk_id = %s", (c.chunk_id,))


def prepare_worker_session(conn: psycopg.Connection) -> None:
    """Session settings for a connection that holds a claim while it parses and embeds.

    The claim transaction is idle for as long as a document takes (OCR: minutes), so a
    server-wide idle_in_transaction_session_timeout must not end it; and a worker machine that
    vanishes must not hold its document for the operating system's default two hours of TCP
    keepalive: the server probes after 60 s and drops the connection (releasing the claim)
    about two minutes later. All are settings any user may change for its own session (the
    keepalives are ignored on Unix sockets)."""
    for setting, value in (("idle_in_transaction_session_timeout", "0"),
                           ("tcp_keepalives_idle", "60"), ("tcp_keepalives_interval", "10"),
                           ("tcp_keepalives_count", "6")):
        conn.execute("SELECT set_config(%s, %s, false)", (setting, value))
    conn.commit()


def default_worker_id() -> str:
    """hostname:pid - unique among the workers of one database, and says where to look."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _inputs(paths: Sequence[Path | str], report: WorkerReport) -> dict[str, tuple[Path, str, int]]:
    """file name -> (path, sha256, size) of every readable input (directories walked); the
    paths that cannot be read become the report's errors."""
    files, errors = scan_inputs(paths)
    report.errors.extend(errors)
    inputs: dict[str, tuple[Path, str, int]] = {}
    for p in files:
        try:
            inputs[p.name] = (p, sha256_file(p), p.stat().st_size)
        except OSError as exc:
            report.errors.append(DocumentError(p.name, f"kan ikke læses ({exc.strerror or exc})"))
    return inputs


def index_into_postgres(
    paths: Sequence[Path | str],
    dsn: str,
    embedder: Embedder,
    worker_id: str | None = None,
    *,
    chunking: str = "structured",
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    chunk_overlap: int = DEFAULT_CHUNK_OVERLAP,
    prune: bool = False,
    max_attempts: int = MAX_ATTEMPTS,
    progress: Callable[[int, int, str], None] | None = None,
    before_commit: Callable[[Claim], None] | None = None,
    bulk: bool | None = None,
) -> WorkerReport:
    """One worker: queue `paths`, then index pending documents it can read until none is left.

    Run it on as many machines as wanted against one database: each document is claimed by
    one worker at a time and committed once. With `prune`, documents not among `paths` are
    removed first (one transaction each). `progress(done, total, file)` is called after
    each document this worker commits. Bad files are in `WorkerReport.errors`, never raised.

    `bulk`: load an empty store without its search indexes and build them once the queue is
    empty (`search_indexes`); None decides by itself (a first load of at least
    `BULK_MIN_DOCUMENTS` documents), False never defers. Whatever it is, a worker that finds
    the queue empty builds indexes an earlier bulk load left deferred."""
    started = time.monotonic()
    report = WorkerReport(worker_id or default_worker_id())
    inputs = _inputs(paths, report)
    work = connect(dsn)
    cache_conn = connect(dsn, autocommit=True)
    try:
        prepare_worker_session(work)
        migrate(work)
        enqueue(work, [(name, sha, size) for name, (_, sha, size) in inputs.items()])
        before = dict(work.execute("SELECT file, status FROM documents").fetchall())
        work.commit()
        report.skipped_unchanged = sum(1 for f in inputs if before.get(f) == "ok")
        stale = sorted(set(before) - set(inputs)) if prune else []
        pending = sum(1 for s in before.values() if s == "pending")
        if stale or pending:
            # Before any claim: typing the vector columns needs a transaction of its own.
            ensure_model(work, embedder.model_id, embedder.dim)
        if pending and (bulk or (bulk is None and pending >= BULK_MIN_DOCUMENTS)):
            report.bulk_load = defer_for_bulk_load(work)
        cache = PgEmbeddingCache(cache_conn)

        def embed(chunks: Sequence[Chunk]) -> DocumentVectors:
            extra = WorkerReport(report.worker_id)  # only what the cache did not have counts
            vectors = embed_document(chunks, embedder, cache, extra)
            report.embedded_texts += extra.embedded_texts
            return vectors

        for file in stale:
            if remove_document(work, file, embed):
                report.removed.append(file)
        mine = [(name, sha) for name, (_, sha, _) in inputs.items()]
        features = TextFeatures()  # one per worker: its documents meet the same stored chunks
        total = sum(1 for f in inputs if before.get(f) == "pending")
        while (claim := claim_next(work, report.worker_id, mine, tally=cache_conn,
                                   max_attempts=max_attempts)) is not None:
            try:
                path = inputs[claim.file][0]
                parsed = parse_file(path, claim.sha256, chunking, chunk_size, chunk_overlap)
                seen = store_generation(work)  # before the judgement it names
                preview = judge(work, claim.file, parsed.chunks, orphaned_copies(work, claim.file),
                                features)
                # the slow part before the lock: embed what will most likely be canonical
                embed_document([*preview.new, *(c for c in preview.changed
                                                if c.duplicate_of is None)],
                               embedder, cache, report)
                # and the decisions, into the cache only: a timeline or a decision question
                # compares them with the question (the file build does the same)
                cached_vectors([decision_text(d) for d in parsed.decisions], embedder, cache,
                               report)
                write_document(work, claim, parsed, embed, before_commit=before_commit,
                               preview=Preview(seen, preview), features=features)
            except BaseException:
                work.rollback()
                raise
            (report.indexed if parsed.record.status == "ok" else report.failed).append(claim.file)
            if progress is not None:
                progress(len(report.indexed) + len(report.failed), max(total, 1), claim.file)
        report.index_build_s = build_deferred(work)
        _final_counts(work, report, set(inputs))
    finally:
        work.close()
        cache_conn.close()
    report.seconds = time.monotonic() - started
    return report


def _final_counts(conn: psycopg.Connection, report: WorkerReport, inputs: set[str]) -> None:
    """The store's totals, and every input that is recorded as failed (by any worker, now or
    in an earlier run, as the file build reports an unchanged bad file again)."""
    for file, error in conn.execute(
            "SELECT file, error FROM documents WHERE status = 'error' AND file = ANY(%s) "
            "ORDER BY file", (sorted(inputs),)):
        report.errors.append(DocumentError(file, error or ""))
    report.inputs_ok = conn.execute(
        "SELECT count(*) FROM documents WHERE status = 'ok' AND file = ANY(%s)",
        (sorted(inputs),)).fetchone()[0]
    report.documents_total = conn.execute(
        "SELECT count(*) FROM documents WHERE status = 'ok'").fetchone()[0]
    report.chunks, report.duplicates = conn.execute(
        "SELECT count(*), count(duplicate_of) FROM chunks").fetchone()
    conn.rollback()
