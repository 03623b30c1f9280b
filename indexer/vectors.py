"""Step 7 of a build: the vectors of the rows it makes (from the embedding cache, or the model
for texts it lacks) and the BM25 tokens and counts of the canonical chunks. A chunk with
windows gets the mean of its window vectors (`embedding_inputs`, `chunk_vectors`, also used
by the PostgreSQL indexer through `indexer.build`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from indexer.build_types import BuildReport
from indexer.carried import Carried
from indexer.embed import DEFAULT_BATCH_SIZE, Embedder
from indexer.lexical import lexical_text
from indexer.postings import Postings
from indexer.progress import Progress, ProgressCallback
from indexer.store import EmbeddingCache, embedding_text, text_key
from kommunesoeg.core.models import Chunk, Decision, decision_text
from kommunesoeg.core.textnorm import tokenize

# Texts per embedding call and cache commit: small enough that a killed build loses little
# work, large enough that SQLite commits are negligible next to the model.
EMBED_GROUP = 32
CACHE_SLICE = 20_000  # vectors read from the embedding cache at a time (~30 MB)


@dataclass
class Vectors:
    """The rows of a generation's dense files as step 7 made them."""

    window_ids: list[str]  # dense.faiss row -> chunk id
    window_texts: list[str]  # the window text (without header), as stored
    chunk_ids: list[str]  # chunks.faiss row -> canonical chunk id
    windows: np.ndarray  # the vectors of the fresh window rows (every row if none is carried)
    chunks: np.ndarray  # the vectors of the fresh chunk rows
    dim: int


def embedding_inputs(chunks: Sequence[Chunk]) -> tuple[list[tuple[str, str, str]], list[tuple[str, str]]]:
    """What the model embeds: (chunk_id, window, header+window) for every window of every
    canonical chunk, and (chunk_id, header+text) for canonical chunks WITHOUT windows.

    A chunk with windows gets the normalised mean of its window vectors as its whole-chunk
    vector instead of an embedding of its own: that halves the indexing time, and on the
    development and extra question sets it ranks as well as embedding the chunk (the
    engine itself averages windows for texts over 512 tokens). Duplicates are found
    through their canonical copy and are not embedded."""
    canonical = [c for c in chunks if c.duplicate_of is None]
    windows = [(c.chunk_id, w, embedding_text(c.header, w)) for c in canonical for w in c.windows]
    whole = [(c.chunk_id, embedding_text(c.header, c.text)) for c in canonical if not c.windows]
    return windows, whole


def chunk_vectors(chunks: Sequence[Chunk], window_ids: list[str], window_vecs: np.ndarray,
                   whole_ids: list[str], whole_vecs: np.ndarray) -> tuple[list[str], np.ndarray]:
    """One vector per canonical chunk, in chunk order: its windows' mean, or its own."""
    dim = window_vecs.shape[1] if len(window_vecs) else whole_vecs.shape[1]
    sums: dict[str, np.ndarray] = {}
    for cid, vec in zip(window_ids, window_vecs):
        sums[cid] = sums[cid] + vec if cid in sums else vec.astype(np.float32).copy()
    sums.update(zip(whole_ids, whole_vecs))
    ids = [c.chunk_id for c in chunks if c.duplicate_of is None and c.chunk_id in sums]
    matrix = np.array([sums[i] for i in ids], dtype=np.float32).reshape(len(ids), dim)
    matrix /= np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)
    return ids, matrix


def embed_chunks(
    chunks: list[Chunk],
    decisions: Sequence[Decision],
    embedder: Embedder,
    cache: EmbeddingCache,
    progress: bool | ProgressCallback,
    report: BuildReport,
    carried: Carried | None = None,
) -> Vectors:
    """The vectors of the rows this build makes: every canonical chunk's, or, when the
    previous generation's vectors are carried, the fresh chunks' only (and the decisions of
    the documents read in this build)."""
    canonical = [c for c in chunks if c.duplicate_of is None]
    todo, dim = canonical, None
    if carried is not None and carried.vectors:
        todo, dim = [chunks[i] for i in carried.rows.fresh.tolist()], carried.dense[0].d
        decisions = [d for d in decisions if d.document not in carried.settled]
    carried_texts = sum(len(c.windows) or 1 for c in canonical) - sum(len(c.windows) or 1 for c in todo)
    windows, chunk_matrix = embed_rows(todo, decisions, embedder, cache, progress, report, dim,
                                       carried_texts)
    return Vectors(
        window_ids=[c.chunk_id for c in canonical for _ in c.windows],
        window_texts=[w for c in canonical for w in c.windows],
        chunk_ids=[c.chunk_id for c in canonical],
        windows=windows,
        chunks=chunk_matrix,
        dim=windows.shape[1],
    )


def embed_rows(
    todo: list[Chunk],
    decisions: Sequence[Decision],
    embedder: Embedder,
    cache: EmbeddingCache,
    progress: bool | ProgressCallback,
    report: BuildReport,
    dim: int | None,
    carried_texts: int,
) -> tuple[np.ndarray, np.ndarray]:
    """The window vectors and whole-chunk vectors of the canonical chunks `todo`, from the
    cache or the model; `decisions` are embedded into the cache only. `carried_texts`: the
    texts whose vectors the build carries over (counted as not embedded)."""
    windows, whole = embedding_inputs(todo)
    texts = [t for _, _, t in windows] + [t for _, t in whole]
    keys = [text_key(t) for t in texts]
    text_of = dict(zip(keys, texts))
    # The decisions are embedded too, into the cache only: a timeline or a decision question
    # compares the question with them, and embedding an archive's decisions at question time
    # was 97 % of a timeline's time (2.4 s at 100k chunks).
    decisions_of = {text_key(t): t for t in map(decision_text, decisions)}
    # One read of the cache straight into the matrix; the decisions' vectors are only
    # looked for, never loaded (an archive's build held every vector twice before).
    matrix, lacking = cached_matrix(cache, embedder, keys, dim)
    only_decisions = [k for k in decisions_of if k not in text_of]
    cached_decisions = cache.cached_keys(embedder.model_id, only_decisions)
    text_of.update(decisions_of)
    # Sorted by length: the engine pads a batch to its longest text.
    missing = sorted([*lacking, *(k for k in only_decisions if k not in cached_decisions)],
                     key=lambda k: len(text_of[k]))
    report.cached_texts = len(text_of) - len(missing) + carried_texts
    report.embedded_texts = len(missing)
    bar = Progress(progress, len(missing), "Indlejrer tekster", "tekst")
    for start in range(0, len(missing), EMBED_GROUP):
        group = missing[start : start + EMBED_GROUP]
        vecs = embedder.embed_passages([text_of[k] for k in group], batch_size=DEFAULT_BATCH_SIZE)
        cache.put_many(embedder.model_id, group, vecs)
        for key, vec in zip(group, vecs):
            if key in lacking:
                matrix[lacking[key]] = vec
        bar.update(len(group))
    bar.close()
    n_windows = len(windows)
    todo_ids, chunk_matrix = chunk_vectors(
        todo, [cid for cid, _, _ in windows], matrix[:n_windows], [cid for cid, _ in whole],
        matrix[n_windows:])
    if todo_ids != [c.chunk_id for c in todo]:
        raise RuntimeError("a canonical chunk has neither windows nor a vector of its own")
    return matrix[:n_windows], chunk_matrix.reshape(len(todo_ids), matrix.shape[1])


def bm25_postings(chunks: list[Chunk], cache: EmbeddingCache, code: str,
                  carried: Carried | None) -> Postings:
    """The BM25 counts of the canonical chunks: the previous generation's with the fresh
    chunks' merged in when they can be carried, else counted from every chunk's tokens."""
    if carried is not None and carried.postings is not None:
        rows = carried.rows.chunks
        tokens = lexical_tokens([chunks[i] for i in carried.rows.fresh.tolist()], cache, code)
        return carried.postings.updated(rows.new_of_old(carried.rows.old_chunk_rows),
                                        list(zip(rows.fresh.tolist(), tokens)), len(rows))
    return Postings.of(lexical_tokens(chunks, cache, code))


def lexical_tokens(chunks: list[Chunk], cache: EmbeddingCache, code: str) -> list[list[str]]:
    """The BM25 tokens of each canonical chunk: from the cache for texts an earlier build
    tokenised with the same tokenizer code (`settings["index_code"]`), tokenised now for
    the rest, which are then cached."""
    texts = [lexical_text(c) for c in chunks if c.duplicate_of is None]
    keys = [text_key(t) for t in texts]
    known = cache.get_tokens(code, keys)
    new = {k: tokenize(t) for k, t in zip(keys, texts) if k not in known}
    if new:
        cache.put_tokens(code, new)
    known.update(new)
    return [known[k] for k in keys]


def cached_matrix(cache: EmbeddingCache, embedder: Embedder, keys: list[str],
                  dim: int | None = None) -> tuple[np.ndarray, dict[str, list[int]]]:
    """The vectors of `keys` the cache holds, in key order, read a slice at a time straight
    into one float32 matrix; and, for each key it lacks, the matrix rows still to fill.
    `dim`, when known, sizes a matrix of no cached vector without asking the model."""
    rows_of: dict[str, list[int]] = {}
    for row, key in enumerate(keys):
        rows_of.setdefault(key, []).append(row)
    unique = sorted(rows_of)  # the cache's key order (see store._select_vectors)
    matrix: np.ndarray | None = None  # sized by the first vector found: no model load for it
    lacking: dict[str, list[int]] = {}
    for start in range(0, len(unique), CACHE_SLICE):
        part = unique[start : start + CACHE_SLICE]
        found = cache.get_many(embedder.model_id, part, None if matrix is None else matrix.shape[1])
        if matrix is None and found:
            matrix = np.empty((len(keys), len(next(iter(found.values())))), dtype=np.float32)
        for key in part:
            vec = found.get(key)
            if vec is None:
                lacking[key] = rows_of[key]
            else:
                matrix[rows_of[key]] = vec
    if matrix is None:  # nothing cached (a first build): the model says how wide
        matrix = np.empty((len(keys), dim or embedder.dim), dtype=np.float32)
    return matrix, lacking
