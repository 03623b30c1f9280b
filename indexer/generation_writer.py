"""Step 8 of a build: a new generation directory written and published (`store`), removed
again when anything fails before the swap; and the counts and manifest every generation
carries, whichever way its files were made."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import faiss
import numpy as np

from indexer import store
from indexer.build_types import Parsed
from indexer.carried import Carried
from indexer.carry import RowMap
from indexer.columns import COLUMNS_DIR, ChunkColumns, write_columns
from indexer.dedupe import Deduplicated
from indexer.derived import derive_for_readers
from indexer.embed import Embedder
from indexer.faiss_carry import carried_index
from indexer.lexical import write_lexical
from indexer.postings import Postings
from indexer.previous_generation import Previous
from indexer.vectors import Vectors
from kommunesoeg.core.models import Decision


def write_generation(
    index_dir: Path,
    parsed: list[Parsed],
    deduplicated: Deduplicated,
    decisions: list[Decision],
    vectors: Vectors,
    postings: Postings,
    embedder: Embedder,
    settings: dict,
    parse_keys: dict[str, str],
    faiss_kind: str,
    previous: Previous | None,
    carried: Carried | None,
) -> Path:
    """Step 8 of a build over every chunk: every file written, then published."""
    chunks = deduplicated.chunks
    with new_generation(index_dir) as gen_dir:
        store.write_meta(
            gen_dir / store.META,
            [p.record for p in parsed],
            chunks,
            {cid: row for row, cid in enumerate(vectors.chunk_ids)},
            list(zip(vectors.window_ids, vectors.window_texts)),
            decisions,
            deduplicated.sketches,
            derive_for_readers(
                chunks, previous.meta.chunks if previous else (), previous.meta.derived if previous else None
            ),
        )
        store.record_written(gen_dir / store.META)
        columns = ChunkColumns.of(chunks, vectors.chunk_ids, vectors.window_ids,
                                  {d.chunk_id for d in decisions})
        column_digests = write_columns(gen_dir / COLUMNS_DIR, columns)
        del columns
        moved = carried if carried is not None and carried.vectors else None
        dense, faiss_params = _faiss_file(
            vectors.windows, vectors.dim, faiss_kind, previous, store.DENSE, "faiss",
            None if moved is None else (moved.dense, moved.rows.windows))
        faiss.write_index(dense, str(gen_dir / store.DENSE))
        del dense
        chunk_dense, chunk_params = _faiss_file(
            vectors.chunks, vectors.dim, faiss_kind, previous, store.CHUNK_DENSE, "chunk_faiss",
            None if moved is None else (moved.chunk_dense, moved.rows.chunks))
        faiss.write_index(chunk_dense, str(gen_dir / store.CHUNK_DENSE))
        del chunk_dense
        write_lexical(postings, vectors.chunk_ids, gen_dir / store.BM25_DIR)
        counts = generation_counts(parsed, len(chunks), sum(1 for c in chunks if c.duplicate_of),
                                   len(vectors.window_ids), len(decisions))
        manifest = generation_manifest(gen_dir, parsed, counts, vectors.dim, embedder, settings,
                                       parse_keys, faiss_params, chunk_params)
        manifest["columns"] = column_digests  # file -> sha256: a reader checks each
        store.publish_generation(index_dir, gen_dir, manifest)
    return gen_dir


@contextlib.contextmanager
def new_generation(index_dir: Path) -> Iterator[Path]:
    """A new generation directory to write and publish in; an error (or Ctrl-C) before the
    swap removes it, so `current` keeps the previous generation."""
    gen_dir: Path | None = None
    try:
        gen_dir = store.new_generation_dir(index_dir)
        yield gen_dir
    except BaseException as exc:
        # Ctrl-C or an error before the swap: current still points at the previous
        # generation, so drop the half-written one now. (SIGKILL cannot be caught; the next
        # build removes what it leaves.)
        if gen_dir is not None and store.current_generation(index_dir) != gen_dir:
            shutil.rmtree(gen_dir, ignore_errors=True)
        # A full disk or a read-only folder is the user's to fix: one domain error.
        domain = store.translate_write_error(exc, index_dir) if isinstance(exc, Exception) else None
        if domain is not None and domain is not exc:
            raise domain from exc
        raise


def _faiss_file(fresh: np.ndarray, dim: int, kind: str, previous: Previous | None, name: str,
                key: str, carry: tuple[tuple[faiss.Index, dict], RowMap] | None,
                ) -> tuple[faiss.Index, dict]:
    """The FAISS index `name` and its manifest settings: the previous generation's with the
    fresh rows added (`indexer.faiss_carry`) when `carry` says it can be, else made from
    `fresh` (every row then), reusing the previous training where it fits."""
    if carry is not None:
        (old, params), rows = carry
        return carried_index(old, params, kind, rows, fresh)
    return store.make_faiss_index(fresh, dim, kind, _previous_faiss(previous, name, key))


def _previous_faiss(previous: Previous | None, name: str, key: str) -> tuple[faiss.Index, dict] | None:
    """The previous generation's FAISS file `name` and its manifest settings `key`, for an
    IVF build to reuse the training of (`store.make_faiss_index`); None when there is none."""
    if previous is None or not isinstance(previous.manifest.get(key), dict):
        return None
    if previous.manifest[key].get("kind") not in store.IVF_KINDS:
        return None
    old = store.read_previous_faiss(previous.gen_dir / name)
    return None if old is None else (old, previous.manifest[key])


def generation_counts(parsed: list[Parsed], chunks: int, duplicates: int, windows: int, decisions: int) -> dict:
    """The manifest's counts of a generation of the documents `parsed`."""
    ok = [p.record for p in parsed if p.record.status == "ok"]
    return {
        "documents": len(ok),
        "failed_documents": len(parsed) - len(ok),
        "pages": sum(r.pages for r in ok),
        "ocr_pages": sum(r.ocr_pages for r in ok),
        "chunks": chunks,
        "duplicates": duplicates,
        "windows": windows,
        "decisions": decisions,
    }


def generation_manifest(
    gen_dir: Path,
    parsed: list[Parsed],
    counts: dict,
    dim: int,
    embedder: Embedder,
    settings: dict,
    parse_keys: dict[str, str],
    faiss_params: dict,
    chunk_params: dict,
) -> dict:
    """The manifest a generation is published with: what it holds and the settings it was
    written with, which the next build compares with its own."""
    return {
        "format": store.FORMAT_VERSION,
        "generation": gen_dir.name,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "model_id": embedder.model_id,
        "dim": dim,
        "backend": embedder.model_id.split(":", 1)[0],
        "chunking": settings["parse"],
        "faiss": faiss_params,
        "chunk_faiss": chunk_params,  # the same kind; its own training (IVF) is kept apart
        "settings": settings,
        "inputs": {p.record.file: p.record.sha256 for p in parsed},  # every document record
        "parse_keys": parse_keys,
        "counts": counts,
    }
