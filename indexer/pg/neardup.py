"""Near-duplicates across documents in PostgreSQL, judged one document at a time.

The file build judges a new document's chunks against the archive with `indexer.dedupe.
deduplicate(chunks, settled=..., known_sketches=...)`; this module gives that function the
same inputs from the database instead of from a previous generation: the new chunks, and
only the stored chunks that can matter - those sharing at least `MIN_SHARED_KEYS` sketch keys
(`chunk_sketches`) with a chunk being judged, the canonical chunks of those that are copies,
the copies of those that are canonical (they move along when their canonical chunk becomes
a copy), and each one's neighbours in its own document (a scan's chunk often straddles two
chunks of its original). Everything is ordered by (document, ord), as the file build orders
its chunks, so "first seen" breaks ties the same way.

Why serialised: a transaction reads with its own snapshot, so two workers writing copies of
each other at the same moment would each find no candidate (the other's chunks are not
committed yet), and both copies would stay canonical. `lock_archive` takes a
transaction-level advisory lock before the candidates are read and holds it until the
document commits; the next worker's candidate query (READ COMMITTED: a fresh snapshot per
statement) then sees the chunks just committed. The lock is taken after the slow part
(parsing, embedding) and before any write to `chunks`, so every writer takes its locks in
one order (its document row, then this lock) and two writers never deadlock.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace

import psycopg

from indexer.dedupe import MAX_BUCKET, MIN_SHARED_KEYS, TextFeatures, deduplicate
from kommunesoeg.core.models import Chunk

# pg_advisory_xact_lock key: "kommunesoeg dedupe" (the schema lock is another constant).
ARCHIVE_LOCK = 0x6B73_6464

CHUNK_FIELDS = (
    "chunk_id", "document", "meeting", "committee", "date", "punkt", "punkt_title", "bilag",
    "bilag_title", "section", "page_start", "page_end", "closed", "ocr", "text", "header",
    "case_number", "windows_json", "duplicate_of", "ord",
)


@dataclass(frozen=True)
class Stored:
    """A chunk read back from the database with its position in its document."""

    chunk: Chunk
    ord: int


@dataclass(frozen=True)
class Judgement:
    """The new chunks with `duplicate_of` set, the stored chunks whose `duplicate_of`
    changed, and the sketch of every new chunk long enough to take part."""

    new: list[Chunk]
    changed: list[Chunk]
    sketches: dict[str, tuple[int, ...]]
    were_canonical: frozenset[str] = frozenset()  # changed chunks that were canonical before


def lock_archive(conn: psycopg.Connection) -> None:
    """Serialise judging and writing near-duplicates until this transaction ends (see the
    module docstring)."""
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (ARCHIVE_LOCK,))


def chunk_of_row(row: Sequence) -> Stored:
    """A `chunks` row in CHUNK_FIELDS order back as the Chunk it was written from, and its
    position in its document."""
    (chunk_id, document, meeting, committee, date, punkt, punkt_title, bilag, bilag_title,
     section, page_start, page_end, closed, ocr, text, header, case_number, windows,
     duplicate_of, ord_) = row
    return Stored(Chunk(chunk_id, document, meeting, committee, date, punkt, punkt_title, bilag,
                        bilag_title, section, page_start, page_end, closed, ocr, text, header,
                        case_number, list(windows or []), duplicate_of), ord_)


def judge(conn: psycopg.Connection, document: str, new: Sequence[Chunk],
          orphans: Sequence[Stored] = (), features: TextFeatures | None = None) -> Judgement:
    """Judge `document`'s `new` chunks (in order; none when it is being removed) and the
    `orphans` (stored copies of its old chunks, which are going) against the stored chunks
    of other documents; nothing is written.

    Call under `lock_archive` when the result will be written; without it for a preview
    (which chunks to embed before taking the lock). A worker passes the same `features`
    for every document: the stored chunks one document is compared with are mostly the
    ones the previous documents were compared with."""
    fresh = [Stored(c, i) for i, c in enumerate(new)]
    fresh += [Stored(replace(o.chunk, duplicate_of=None), o.ord) for o in orphans]
    probe = deduplicate(list(new), features=features).sketches
    probe.update(_stored_sketches(conn, [o.chunk.chunk_id for o in orphans]))
    fresh_ids = {s.chunk.chunk_id for s in fresh}
    settled = _stored_context(conn, probe, document, fresh_ids,
                              also=[o.chunk.chunk_id for o in orphans])
    before = {s.chunk.chunk_id: s.chunk.duplicate_of for s in [*orphans, *settled]}
    ordered = sorted([*fresh, *settled], key=lambda s: (s.chunk.document, s.ord))
    chunks = [s.chunk for s in ordered]
    positions = [i for i, c in enumerate(chunks) if c.chunk_id not in fresh_ids]
    known = _stored_sketches(conn, [s.chunk.chunk_id for s in settled])
    result = deduplicate(chunks, settled=positions, known_sketches=known, features=features)
    by_id = {c.chunk_id: c for c in result.chunks}
    new_ids = {c.chunk_id for c in new}
    changed = [by_id[cid] for cid, was in before.items() if by_id[cid].duplicate_of != was]
    return Judgement([by_id[c.chunk_id] for c in new], changed,
                     {cid: keys for cid, keys in result.sketches.items() if cid in new_ids},
                     frozenset(c.chunk_id for c in changed if before[c.chunk_id] is None))


def orphaned_copies(conn: psycopg.Connection, document: str) -> list[Stored]:
    """Chunks of other documents that are copies of `document`'s chunks: when its chunks go,
    these are judged anew (they may become canonical and then need vectors)."""
    cols = ", ".join(f"c.{f}" for f in CHUNK_FIELDS)
    rows = conn.execute(
        f"SELECT {cols} FROM chunks c JOIN chunks o ON c.duplicate_of = o.chunk_id "
        f"WHERE o.document = %s AND c.document <> %s ORDER BY c.document, c.ord",
        (document, document)).fetchall()
    return [chunk_of_row(r) for r in rows]


def _stored_sketches(conn: psycopg.Connection, chunk_ids: Sequence[str]
                     ) -> dict[str, tuple[int, ...]]:
    if not chunk_ids:
        return {}
    keys: dict[str, list[int]] = {}
    for chunk_id, key in conn.execute(
            "SELECT chunk_id, key FROM chunk_sketches WHERE chunk_id = ANY(%s)",
            (list(chunk_ids),)):
        keys.setdefault(chunk_id, []).append(int(key))
    return {cid: tuple(sorted(k)) for cid, k in keys.items()}


def _sharing(conn: psycopg.Connection, probe: dict[str, tuple[int, ...]], document: str
             ) -> set[str]:
    """Stored chunks of other documents sharing >= MIN_SHARED_KEYS keys with a probed chunk;
    a key in more than MAX_BUCKET chunks is boilerplate and skipped, as `deduplicate` skips
    its bucket (at most MAX_BUCKET + 1 rows are read per key)."""
    keys = sorted({k for ks in probe.values() for k in ks})
    if not keys:
        return set()
    members: dict[int, list[str]] = {}
    for key, chunk_id, owner in conn.execute(
            "SELECT k.key, s.chunk_id, s.document FROM unnest(%s::bigint[]) AS k(key) "
            "CROSS JOIN LATERAL (SELECT cs.chunk_id, c.document FROM chunk_sketches cs "
            "JOIN chunks c USING (chunk_id) WHERE cs.key = k.key LIMIT %s) s",
            (keys, MAX_BUCKET + 1)):
        if owner != document:
            members.setdefault(int(key), []).append(chunk_id)
    in_probe = Counter(k for ks in probe.values() for k in ks)
    found: set[str] = set()
    for keys_of in probe.values():
        shared: Counter[str] = Counter()
        for key in keys_of:
            stored = members.get(key, [])
            if len(stored) + in_probe[key] <= MAX_BUCKET:
                shared.update(stored)
        found.update(cid for cid, n in shared.items() if n >= MIN_SHARED_KEYS)
    return found


def _stored_context(conn: psycopg.Connection, probe: dict[str, tuple[int, ...]], document: str,
                    exclude: set[str], also: Sequence[str] = ()) -> list[Stored]:
    """The stored chunks a judgement needs (see the module docstring); `also` are stored
    chunks judged anew (orphans), whose neighbours are needed too. `exclude` is left out."""
    core = (_sharing(conn, probe, document) - exclude) | set(also)
    if not core:
        return []
    cols = ", ".join(f"c.{f}" for f in CHUNK_FIELDS)
    rows = conn.execute(
        "WITH core AS (SELECT chunk_id, duplicate_of FROM chunks WHERE chunk_id = ANY(%(core)s)), "
        "related AS ("
        "  SELECT chunk_id FROM core"
        "  UNION SELECT duplicate_of FROM core WHERE duplicate_of IS NOT NULL"
        "  UNION SELECT c.chunk_id FROM chunks c JOIN core ON c.duplicate_of = core.chunk_id), "
        "near AS ("
        "  SELECT c.chunk_id FROM chunks c JOIN chunks r ON r.chunk_id IN (SELECT chunk_id FROM related)"
        "   AND c.document = r.document AND c.ord BETWEEN r.ord - 1 AND r.ord + 1), "
        "wanted AS (SELECT chunk_id FROM related UNION SELECT chunk_id FROM near), "
        "targets AS (SELECT c.duplicate_of AS chunk_id FROM chunks c JOIN wanted w USING (chunk_id)"
        "  WHERE c.duplicate_of IS NOT NULL) "
        f"SELECT {cols} FROM chunks c WHERE c.document <> %(document)s AND c.chunk_id IN "
        "(SELECT chunk_id FROM wanted UNION SELECT chunk_id FROM targets)",
        {"core": sorted(core), "document": document}).fetchall()
    return [chunk_of_row(r) for r in rows if r[0] not in exclude]
