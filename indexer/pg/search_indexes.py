"""The search indexes (HNSW over chunk and window vectors, GIN over chunk tokens): kept up
to date row by row, or - for the first load of an archive - built once after the rows.

Why a bulk load: every committed document inserts its vectors into two HNSW graphs and its
tokens into a GIN index, under the near-duplicate lock, so that time is serial for every
worker; building the graphs once from the loaded rows (`CREATE INDEX`, in memory, may use
parallel maintenance workers) is several times cheaper than the same inserts one document at
a time (measured in eval/RESULTS.md, "Indlæsning i bulk").

The deferral is state in the database (`store_settings` 'search_indexes' = 'deferred'), not
in a worker's memory, so it survives any worker: a worker that joins while the indexes are
deferred writes without them; the worker that finds no document pending builds them once
(under the schema lock) and clears the state; a worker killed before then leaves them
deferred, and the next `kommunesoeg index` run, even one with nothing to index, builds them.
Readers meanwhile search the same committed rows without the indexes: the same guarantees
(one transaction per document, row-level security), the vectors searched exactly instead of
through HNSW, only slower.

Only an empty store is loaded in bulk: dropping the indexes of a store that readers search
would turn every search into a scan for the whole load, and DROP INDEX would wait for every
reader's open snapshot.
"""

from __future__ import annotations

import time

import psycopg
from psycopg import sql

from indexer.pg.schema import SCHEMA_LOCK

# A first load of at least this many documents into an empty store defers the indexes by
# itself; fewer are written row by row (a building step of its own would cost more).
BULK_MIN_DOCUMENTS = 100
# maintenance_work_mem for the builds: an HNSW graph built in memory is much faster than
# one that spills (pgvector says so in a NOTICE); 1M windows of 384 floats is ~2 GB.
BUILD_MEMORY = "2GB"

_DEFERRED_KEY = "search_indexes"
# (index, table, access method, column and operator class), as migration 1 and
# schema.ensure_model create them.
SEARCH_INDEXES: tuple[tuple[str, str, str, str], ...] = (
    ("chunks_vector", "chunks", "hnsw", "vector vector_ip_ops"),
    ("windows_vector", "windows", "hnsw", "vector vector_ip_ops"),
    ("chunks_tokens", "chunks", "gin", "tokens"),
)


def is_deferred(conn: psycopg.Connection) -> bool:
    """Whether a bulk load has the search indexes deferred right now."""
    return conn.execute("SELECT EXISTS (SELECT 1 FROM store_settings WHERE key = %s)",
                        (_DEFERRED_KEY,)).fetchone()[0]


def defer_for_bulk_load(conn: psycopg.Connection) -> bool:
    """Drop the search indexes of an empty store and record that they are deferred; True when
    they are deferred now (by this call or an earlier worker's), False for a store that holds
    rows already (it is loaded row by row). Commits. Call after `schema.ensure_model`."""
    conn.commit()
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
        if is_deferred(conn):
            return True
        if conn.execute("SELECT EXISTS (SELECT 1 FROM chunks)").fetchone()[0]:
            return False
        for name, _, _, _ in SEARCH_INDEXES:
            conn.execute(sql.SQL("DROP INDEX IF EXISTS {}").format(sql.Identifier(name)))
        conn.execute("INSERT INTO store_settings (key, value) VALUES (%s, 'deferred')",
                     (_DEFERRED_KEY,))
    return True


def build_deferred(conn: psycopg.Connection) -> float | None:
    """Build the deferred search indexes when no document is pending any more; the seconds it
    took, or None when there was nothing to build or a document is still pending (held by
    another worker, which builds them when it is done). Commits."""
    conn.commit()
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
        if not is_deferred(conn):
            return None
        if conn.execute("SELECT EXISTS (SELECT 1 FROM documents WHERE status = 'pending')"
                        ).fetchone()[0]:
            return None
        start = time.perf_counter()
        conn.execute("SELECT set_config('maintenance_work_mem', %s, true)", (BUILD_MEMORY,))
        for name, table, method, column in SEARCH_INDEXES:
            conn.execute(sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} USING {} ({})").format(
                sql.Identifier(name), sql.Identifier(table), sql.SQL(method), sql.SQL(column)))
        conn.execute("DELETE FROM store_settings WHERE key = %s", (_DEFERRED_KEY,))
        return time.perf_counter() - start
