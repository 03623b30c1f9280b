"""Build (or update) an index directory from PDF / .txt files, as numbered steps.

Adds and updates by default: the inputs are added to the index (a file whose name is
already indexed with other content is read again) and every other document stays. With
`prune=True` the index mirrors the inputs and documents not among them are removed; that is
explicit because a user adding this week's minutes expects the rest to stay.

Incremental by content hash: files whose sha256 and parse settings match the current
generation are not parsed again (their chunks and decisions are read back from its
meta.sqlite), texts already in the embedding cache are not embedded again, and when nothing
at all changed no generation is written. What the previous generation holds unchanged is
carried over (`indexer.carry`): its FAISS entries and BM25 counts are renumbered and kept,
and only the changed chunks' vectors are read and added - the files are the ones a build
from every vector and every passage's tokens would write (tests/test_carry.py). Whatever
changed, the result is a complete new generation published atomically (see indexer/store.py),
so a build killed at any point leaves the previous index in place. A build that can index
nothing at all, or fails (full disk, read-only folder), leaves the index exactly as it was
and raises one domain error.

This module keeps `build_index` and the order of its steps; each step lives in a module of
its own (ARCHITECTURE.md): `inputs` (1-2), `previous_generation` (3-5), `parsing` (5),
`vectors` (7), `generation_writer` (8), and `updating_build` for steps 6-8 on what changed.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from indexer import store
from indexer.build_settings import check_settings, index_settings, parse_key
from indexer.build_types import BuildReport, Parsed, opened_cache
from indexer.carried import carried_over
from indexer.dedupe import Deduplicated, deduplicate
from indexer.embed import Embedder, ensure_available, get_embedder
from indexer.generation_writer import generation_counts, write_generation
from indexer.inputs import (
    has_index,
    hash_all,
    nothing_found_message,
    nothing_indexed_message,
    scan_inputs,
)
from indexer.parsing import check_unique_ids, parse_all, parse_file
from indexer.previous_generation import (
    Previous,
    document_parse_keys,
    kept_documents,
    load_previous,
    nothing_changed,
    previous_ok_files,
    read_settled,
    reusable_documents,
)
from indexer.progress import ProgressCallback
from indexer.settings import DEFAULT_CHUNK_OVERLAP, DEFAULT_CHUNK_SIZE
from indexer.updating_build import update_generation, update_plan
from indexer.vectors import bm25_postings, chunk_vectors, embed_chunks, embedding_inputs
from kommunesoeg.core.errors import DocumentError, NothingIndexed

# Imported from here by the command line, the app, the PostgreSQL indexer, the benchmarks
# and the tests: the build's entry points stay `indexer.build.*` whichever module holds them.
__all__ = [
    "BuildReport",
    "ProgressCallback",
    "build_index",
    "chunk_vectors",
    "embedding_inputs",
    "parse_file",
    "scan_inputs",
]


def build_index(
    paths: Sequence[Path | str],
    index_dir: Path | str,
    *,
    embedder: Embedder | None = None,
    chunking: str = "structured",
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    chunk_overlap: int = DEFAULT_CHUNK_OVERLAP,
    faiss_kind: str = "flat",
    progress: bool | ProgressCallback = True,
    prune: bool = False,
    rebuild: bool = False,
) -> BuildReport:
    """Add every .pdf / .txt under `paths` to `index_dir` (new and changed files are read,
    the index's other documents stay); with `prune=True` the index then holds exactly these
    files. Bad files are reported in `BuildReport.errors`, never raised; a build that can
    index none of its inputs raises NothingIndexed and changes nothing.

    `rebuild=True` reads every input file again and writes every file of the new generation
    from the parsed documents and the embedding cache, taking nothing from the previous
    generation's files but the documents that are not among `paths` (kept unless `prune`):
    an updating build carries the previous FAISS entries and BM25 counts over as they are,
    so a file that still reads but holds wrong entries is only replaced this way."""
    started = time.perf_counter()
    check_settings(chunking, chunk_size, chunk_overlap, faiss_kind)
    index_dir = Path(index_dir)
    embedder = embedder or get_embedder(None)
    ensure_available(embedder)  # an unknown --model fails now, not after parsing
    settings = index_settings(embedder, chunking, chunk_size, chunk_overlap, faiss_kind)
    report = BuildReport()
    with store.WriteLock(index_dir):
        # Step 1: find the input files.
        files, scan_errors = scan_inputs(paths)
        report.errors.extend(scan_errors)
        if not files:
            raise NothingIndexed(nothing_found_message(paths, scan_errors), report.errors)
        # Step 2: hash them.
        hashes, files = hash_all(files, index_dir, report, prune)
        if not files:
            raise NothingIndexed(nothing_indexed_message(has_index(index_dir)), report.errors)
        # Step 3: the previous generation, if any.
        previous = load_previous(index_dir, required=not prune)
        # Step 4: nothing changed -> keep the current generation.
        if previous and not rebuild and nothing_changed(previous, settings, hashes, prune):
            return _unchanged_report(report, previous, hashes, started)
        # Step 5: parse new and changed files, reuse the unchanged ones, keep the others.
        reusable = {} if rebuild else reusable_documents(previous, settings, hashes)
        inputs = parse_all(files, hashes, reusable, chunking, chunk_size, chunk_overlap, progress)
        failed = [p.record for p in inputs if p.record.status != "ok"]
        report.errors.extend(DocumentError(r.file, r.error or "") for r in failed)
        if len(failed) == len(inputs):
            raise NothingIndexed(nothing_indexed_message(previous is not None), report.errors)
        kept = kept_documents(previous, hashes, prune)
        parsed = sorted([*inputs, *kept.values()], key=lambda p: p.record.file)
        parse_keys = document_parse_keys(previous, settings, inputs, kept)
        settled = {*reusable, *kept}
        # Steps 6-8 on what changed only, when the previous generation allows it: the
        # archive's other rows are carried over, never read (`update_generation`).
        plan = None if rebuild else update_plan(previous, settings, faiss_kind)
        written = plan and update_generation(
            index_dir, plan, parsed, settled, embedder, settings, parse_keys, faiss_kind,
            progress, report)
        if written:
            gen_dir, counts = written
        else:
            read_settled(previous, parsed)
            # a rebuild judges, embeds and writes everything as a first build would
            gen_dir, counts = _build_generation(
                index_dir, None if rebuild else previous, parsed, set() if rebuild else settled,
                embedder, settings, parse_keys, faiss_kind, progress, report)
        store.collect_garbage(index_dir, keep=[gen_dir, previous.gen_dir if previous else None])

    report.stale_files = sorted(f for f in kept if parse_keys[f] != parse_key(settings["parse"]))
    return _changed_report(report, inputs, parsed, reusable, previous, counts, gen_dir, started)


def _build_generation(
    index_dir: Path, previous: Previous | None, parsed: list[Parsed], settled: set[str],
    embedder: Embedder, settings: dict, parse_keys: dict[str, str], faiss_kind: str,
    progress: bool | ProgressCallback, report: BuildReport,
) -> tuple[Path, dict]:
    """Steps 6-8 over every chunk (a first build, other settings or code, a previous
    generation without what an update needs); returns the generation and its counts."""
    # Step 6: near-duplicates across the whole index (an adding build judges its new
    # chunks against the index, not every pair again).
    deduplicated = _deduplicate(parsed, previous, settings, settled_docs=settled)
    chunks = deduplicated.chunks
    decisions = [d for p in parsed for d in p.decisions]
    check_unique_ids(chunks)
    # Step 7: embed what the cache does not have, and make the BM25 tokens of texts no
    # earlier build tokenised (both kept in the same cache file). What the previous
    # generation holds already is carried over, not made again.
    carried = carried_over(previous, settings, faiss_kind, chunks, settled)
    with opened_cache(index_dir / store.EMBCACHE, report) as cache:
        vectors = embed_chunks(chunks, decisions, embedder, cache, progress, report, carried)
        postings = bm25_postings(chunks, cache, settings["index_code"], carried)
    # Step 8: write a new generation and publish it.
    gen_dir = write_generation(
        index_dir, parsed, deduplicated, decisions, vectors, postings, embedder, settings,
        parse_keys, faiss_kind, previous, carried,
    )
    duplicates = sum(1 for c in chunks if c.duplicate_of)
    return gen_dir, generation_counts(parsed, len(chunks), duplicates, len(vectors.window_ids),
                                      len(decisions))


def _deduplicate(parsed: list[Parsed], previous: Previous | None, settings: dict,
                 settled_docs: set[str]) -> Deduplicated:
    """Near-duplicates of the index's chunks. The documents taken over from the previous
    generation (`settled_docs`) keep its judgement and its stored sketches, so adding a
    meeting to an archive compares the meeting's chunks, not every chunk again; a change of
    the dedupe code (settings 'index_code') judges everything anew."""
    chunks = [c for p in parsed for c in p.chunks]
    same_code = previous is not None and (
        previous.manifest.get("settings", {}).get("index_code") == settings["index_code"])
    if not same_code:
        return deduplicate(chunks)
    settled = [i for i, c in enumerate(chunks) if c.document in settled_docs]
    return deduplicate(chunks, settled=settled,
                       known_sketches=store.read_sketches(previous.gen_dir / store.META))


def _unchanged_report(report: BuildReport, previous: Previous, hashes: dict[str, str], started: float) -> BuildReport:
    docs = previous.summary.documents
    report.errors.extend(
        DocumentError(d.file, d.error or "") for d in docs if d.status != "ok" and d.file in hashes
    )
    report.documents_skipped_unchanged = sum(1 for d in docs if d.status == "ok" and d.file in hashes)
    report.documents_total = sum(1 for d in docs if d.status == "ok")
    report.chunks = previous.summary.chunks
    report.duplicates = previous.summary.duplicates
    report.generation = previous.gen_dir.name
    report.seconds = time.perf_counter() - started
    return report


def _changed_report(
    report: BuildReport,
    inputs: list[Parsed],
    parsed: list[Parsed],
    reusable: dict[str, Parsed],
    previous: Previous | None,
    counts: dict,
    gen_dir: Path,
    started: float,
) -> BuildReport:
    ok_inputs = {p.record.file for p in inputs if p.record.status == "ok"}
    ok = {p.record.file for p in parsed if p.record.status == "ok"}
    report.documents_skipped_unchanged = len(ok_inputs & set(reusable))
    report.documents_indexed = len(ok_inputs) - report.documents_skipped_unchanged
    report.removed_files = sorted(previous_ok_files(previous) - ok)
    report.documents_removed = len(report.removed_files)
    report.documents_total = len(ok)
    report.chunks = counts["chunks"]
    report.duplicates = counts["duplicates"]
    report.changed = True
    report.generation = gen_dir.name
    report.seconds = time.perf_counter() - started
    return report
