"""How many OpenMP threads the embedding engine and FAISS may use: one rule for both.

A module of its own, free of heavy imports, because the embedder, the index writer
(`indexer.store`, which builds FAISS indexes) and the reader (`retriever.storage`) all apply
it, and the indexer's stages must not import each other.
"""

from __future__ import annotations

import os


def default_threads() -> int:
    """OpenMP threads for the embedding engine and for FAISS (the retriever's store sets it
    at open): one rule for both.

    KOMMUNESOEG_THREADS wins; otherwise all cores (2 on the target machine), which measured
    faster than 1 thread for both single queries and passage batches. Never more than
    OMP_THREAD_LIMIT when that is set: libgomp runs no more threads than that anyway, but
    FAISS plans its work for the count it is given, and a flat FAISS search over ~57,000
    vectors hangs with OMP_THREAD_LIMIT=1 and FAISS believing it has two threads.
    """
    env = os.environ.get("KOMMUNESOEG_THREADS")
    if env and env.isdigit() and int(env) > 0:
        threads = int(env)
    else:
        threads = max(1, os.cpu_count() or 1)
    limit = os.environ.get("OMP_THREAD_LIMIT", "").strip()
    if limit.isdigit() and int(limit) > 0:
        threads = min(threads, int(limit))
    return threads
