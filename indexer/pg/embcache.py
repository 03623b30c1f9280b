"""The embedding cache in the database: (model id, sha1 of the embedded text) -> vector.

Shared by every worker, so a document retried after a crash, a re-indexed changed file or
boilerplate repeated across meetings is embedded once. Written on its own autocommit
connection, outside the document transaction: a vector is true whatever happens to the
document, and concurrent writers must not wait on each other's long document transactions
(keys are inserted sorted, so two batches never lock in opposite orders).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import psycopg


class PgEmbeddingCache:
    """get_many / put_many over the embedding_cache table, on an autocommit connection."""

    def __init__(self, conn: psycopg.Connection) -> None:
        if not conn.autocommit:
            raise ValueError("PgEmbeddingCache needs an autocommit connection")
        self.conn = conn

    def get_many(self, model_id: str, keys: Sequence[str]) -> dict[str, np.ndarray]:
        if not keys:
            return {}
        rows = self.conn.execute(
            "SELECT key, vector FROM embedding_cache WHERE model_id = %s AND key = ANY(%s)",
            (model_id, list(keys))).fetchall()
        return {k: np.frombuffer(bytes(v), dtype=np.float32).copy() for k, v in rows}

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
