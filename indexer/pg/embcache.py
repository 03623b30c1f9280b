"""The embedding cache in the database: (model id, sha1 of the embedded text) -> vector.

Shared by every worker, so a document retried after a crash, a re-indexed changed file or
boilerplate repeated across meetings is embedded once. Written on its own autocommit
connection, outside the document transaction: a vector is true whatever happens to the
document, and concurrent writers must not wait on each other's long document transactions
(keys are inserted sorted, so two batches never lock in opposite orders).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import psycopg


def read_vectors(conn: psycopg.Connection, model_id: str, keys: Sequence[str]
                 ) -> dict[str, np.ndarray]:
    """key -> float32 vector of the `keys` the cache holds for `model_id` (any connection:
    the workers' autocommit one, a reader's snapshot)."""
    if not keys:
        return {}
    rows = conn.execute(
        "SELECT key, vector FROM embedding_cache WHERE model_id = %s AND key = ANY(%s)",
        (model_id, list(keys))).fetchall()
    return {k: np.frombuffer(bytes(v), dtype=np.float32).copy() for k, v in rows}


def seed_from_file_cache(conn: psycopg.Connection, path: Path, model_id: str | None = None
                         ) -> int:
    """Copy a file index's embedding cache (`indexer.store.EMBCACHE`: the same model ids,
    keys and float32 bytes) into the database's, so a worker indexing the same texts embeds
    none of them; vectors the database has are kept. Only `model_id`'s when given. Returns
    how many the file held. For moving an archive, the benchmarks and the tests."""
    source = sqlite3.connect(f"file:{Path(path)}?mode=ro", uri=True)
    try:
        sql, args = "SELECT model, sha1, vec FROM emb", ()
        if model_id is not None:
            sql, args = sql + " WHERE model = ?", (model_id,)
        rows = source.execute(sql, args)
        with conn.transaction():
            conn.execute("CREATE TEMP TABLE seed (LIKE embedding_cache) ON COMMIT DROP")
            copied = 0
            with conn.cursor() as cur, cur.copy("COPY seed (model_id, key, vector) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
                    copied += 1
            conn.execute("INSERT INTO embedding_cache SELECT * FROM seed ON CONFLICT DO NOTHING")
    finally:
        source.close()
    return copied


class PgEmbeddingCache:
    """get_many / put_many over the embedding_cache table, on an autocommit connection."""

    def __init__(self, conn: psycopg.Connection) -> None:
        if not conn.autocommit:
            raise ValueError("PgEmbeddingCache needs an autocommit connection")
        self.conn = conn

    def get_many(self, model_id: str, keys: Sequence[str]) -> dict[str, np.ndarray]:
        return read_vectors(self.conn, model_id, keys)

    def put_many(self, model_id: str, keys: Sequence[str], vectors: np.ndarray) -> None:
        if not len(keys):
            return
        order = sorted(range(len(keys)), key=lambda i: keys[i])
        vecs = np.asarray(vectors, dtype=np.float32)
        with self.conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO embedding_cache (model_id, key, vector) VALUES (%s, %s, %s) "
                "ON CONFLICT DO NOTHING",
                [(model_id, keys[i], vecs[i].tobytes()) for i in order])
