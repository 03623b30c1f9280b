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
changed, the result is a complete new generation published atomically (see indexer/store.py), so a build killed at any point leaves
the previous index in place. A build that can index nothing at all, or fails (full disk,
read-only folder), leaves the index exactly as it was and raises one domain error.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import json
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import faiss
import numpy as np
from tqdm import tqdm

from indexer import store
from indexer.carry import Carry, RowMap, plan_carry, plan_rows
from indexer.chunk import make_chunks, naive_chunks
from indexer.columns import COLUMNS_DIR, ChunkColumns, read_columns, spliced_columns, write_columns
from indexer.decisions import extract_decisions
from indexer.dedupe import Deduplicated, deduplicate, judge
from indexer.derived import derive_for_readers, listings_by_document, term_delta
from indexer.embed import DEFAULT_BATCH_SIZE, Embedder, ensure_available, get_embedder
from indexer.extract import SUPPORTED_SUFFIXES, extract_pages
from indexer.faiss_carry import CARRIED_KINDS, can_carry, carried_index
from indexer.filehash import hash_files
from indexer.lexical import lexical_text, read_postings, write_lexical
from indexer.lineup import Block, ChunkLineup, document_blocks
from indexer.meta_lazy import ChunkTexts
from indexer.meta_update import MetaDelta, apply_delta, copy_meta
from indexer.postings import Postings
from indexer.settings import DEFAULT_CHUNK_OVERLAP, DEFAULT_CHUNK_SIZE
from indexer.store import DocumentRecord, EmbeddingCache, embedding_text, sha256_file, text_key
from indexer.structure import parse_document
from kommunesoeg.core.errors import (
    DocumentError,
    IndexDamaged,
    InvalidSetting,
    KommunesoegError,
    NothingIndexed,
)
from kommunesoeg.core.models import Chunk, Decision, decision_text
from kommunesoeg.core.pages import closed_pages_of
from kommunesoeg.core.results import ClosedListing
from kommunesoeg.core.textnorm import tokenize

CHUNKINGS = ("structured", "naive")
WINDOW_SENTENCES = 3
# Texts per embedding call and cache commit: small enough that a killed build loses little
# work, large enough that SQLite commits are negligible next to the model.
EMBED_GROUP = 32
CACHE_SLICE = 20_000  # vectors read from the embedding cache at a time (~30 MB)
# Source files whose code decides what a file parses into. A change in any of them makes
# the next build parse every file again (embeddings stay cached by text).
_PARSE_MODULES = (
    "indexer/extract.py", "indexer/ocr.py", "indexer/textclean.py", "indexer/structure.py",
    "indexer/chunk.py", "indexer/decisions.py", "kommunesoeg/core/models.py",
    "kommunesoeg/core/sentences.py", "kommunesoeg/core/outcomes.py",
)
# ... and files that only change how the parsed chunks are indexed.
# (indexer/columns.py: a generation written before the columns existed is rewritten, with
# its vectors from the embedding cache, by the next build)
_INDEX_MODULES = ("indexer/dedupe.py", "indexer/lexical.py", "indexer/postings.py",
                  "kommunesoeg/core/textnorm.py", "indexer/columns.py")

ProgressCallback = Callable[[int, int, str], None]


@dataclass
class BuildReport:
    """What a build did; the CLI prints it, the app shows it."""

    documents_indexed: int = 0  # parsed in this build and now in the index
    documents_skipped_unchanged: int = 0  # unchanged since the last build, reused as they were
    documents_removed: int = 0  # indexed before, not any more (pruned, or now failing)
    removed_files: list[str] = field(default_factory=list)  # their names
    # kept from the previous generation (not among the inputs) but parsed with other
    # settings or parser code than this build's: read again by a build that includes them
    stale_files: list[str] = field(default_factory=list)
    errors: list[DocumentError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # e.g. a damaged cache moved aside
    chunks: int = 0
    duplicates: int = 0
    embedded_texts: int = 0  # texts the model embedded in this build
    cached_texts: int = 0  # texts whose vector came from the embedding cache
    seconds: float = 0.0
    changed: bool = False  # a new generation was published
    generation: str | None = None  # name of the current generation after the build
    documents_total: int = 0  # documents in the index after the build


@dataclass
class _Parsed:
    """One input file after parsing, or a document taken over from the previous generation
    (`settled`: its chunks and decisions are read from there when a build needs them, see
    `_read_settled`)."""

    record: DocumentRecord
    chunks: list[Chunk] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)
    settled: bool = False


@dataclass
class _Previous:
    """The current generation as a build sees it: its manifest and documents at once, every
    chunk (`meta`) only when the build writes a new generation - a re-index that finds
    nothing changed never reads the archive's chunks."""

    gen_dir: Path
    manifest: dict
    summary: store.MetaSummary
    index_dir: Path

    @functools.cached_property
    def meta(self) -> store.MetaContents:
        try:
            return store.read_meta(self.gen_dir / store.META)
        except (OSError, ValueError, store.sqlite3.Error, KommunesoegError) as exc:
            raise _damaged(self.index_dir, exc) from None

    @functools.cached_property
    def columns(self) -> ChunkColumns | None:
        """The generation's columns (`indexer.columns`), or None when it has none or they
        cannot be read: the build then makes every row anew, as before they existed."""
        digests, counts = self.manifest.get("columns"), self.manifest.get("counts", {})
        if not isinstance(digests, dict):
            return None
        try:
            return read_columns(self.index_dir, self.gen_dir / COLUMNS_DIR, digests,
                                counts["chunks"], counts["windows"])
        except (KeyError, ValueError, KommunesoegError):
            return None

    def parse_key(self, file: str) -> str:
        """Which parse settings the document `file` was parsed with (manifest
        'parse_keys'; an index from before add-mode builds used one for all)."""
        keys = self.manifest.get("parse_keys") or {}
        return keys.get(file) or _parse_key(self.manifest.get("settings", {}).get("parse", {}))


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
) -> BuildReport:
    """Add every .pdf / .txt under `paths` to `index_dir` (new and changed files are read,
    the index's other documents stay); with `prune=True` the index then holds exactly these
    files. Bad files are reported in `BuildReport.errors`, never raised; a build that can
    index none of its inputs raises NothingIndexed and changes nothing."""
    started = time.perf_counter()
    _check_settings(chunking, chunk_size, chunk_overlap, faiss_kind)
    index_dir = Path(index_dir)
    embedder = embedder or get_embedder(None)
    ensure_available(embedder)  # an unknown --model fails now, not after parsing
    settings = _settings(embedder, chunking, chunk_size, chunk_overlap, faiss_kind)
    report = BuildReport()
    with store.WriteLock(index_dir):
        # Step 1: find the input files.
        files, scan_errors = scan_inputs(paths)
        report.errors.extend(scan_errors)
        if not files:
            raise NothingIndexed(_nothing_found_message(paths, scan_errors), report.errors)
        # Step 2: hash them.
        hashes, files = _hash_all(files, index_dir, report, prune)
        if not files:
            raise NothingIndexed(_nothing_indexed_message(_has_index(index_dir)), report.errors)
        # Step 3: the previous generation, if any.
        previous = _load_previous(index_dir, required=not prune)
        # Step 4: nothing changed -> keep the current generation.
        if previous and _nothing_changed(previous, settings, hashes, prune):
            return _unchanged_report(report, previous, hashes, started)
        # Step 5: parse new and changed files, reuse the unchanged ones, keep the others.
        reusable = _reusable_documents(previous, settings, hashes)
        inputs = _parse_all(files, hashes, reusable, chunking, chunk_size, chunk_overlap, progress)
        failed = [p.record for p in inputs if p.record.status != "ok"]
        report.errors.extend(DocumentError(r.file, r.error or "") for r in failed)
        if len(failed) == len(inputs):
            raise NothingIndexed(_nothing_indexed_message(previous is not None), report.errors)
        kept = _kept_documents(previous, hashes, prune)
        parsed = sorted([*inputs, *kept.values()], key=lambda p: p.record.file)
        parse_keys = _parse_keys(previous, settings, inputs, kept)
        settled = {*reusable, *kept}
        # Steps 6-8 on what changed only, when the previous generation allows it: the
        # archive's other rows are carried over, never read (`_update_generation`).
        plan = _update_plan(previous, settings, faiss_kind)
        written = plan and _update_generation(
            index_dir, plan, parsed, settled, embedder, settings, parse_keys, faiss_kind,
            progress, report)
        if written:
            gen_dir, counts = written
        else:
            _read_settled(previous, parsed)
            gen_dir, counts = _build_generation(
                index_dir, previous, parsed, settled, embedder, settings, parse_keys, faiss_kind,
                progress, report)
        store.collect_garbage(index_dir, keep=[gen_dir, previous.gen_dir if previous else None])

    report.stale_files = sorted(f for f in kept if parse_keys[f] != _parse_key(settings["parse"]))
    return _changed_report(report, inputs, parsed, reusable, previous, counts, gen_dir, started)


def _build_generation(
    index_dir: Path, previous: _Previous | None, parsed: list[_Parsed], settled: set[str],
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
    _check_unique_ids(chunks)
    # Step 7: embed what the cache does not have, and make the BM25 tokens of texts no
    # earlier build tokenised (both kept in the same cache file). What the previous
    # generation holds already is carried over, not made again.
    carried = _carried(previous, settings, faiss_kind, chunks, settled)
    with _opened_cache(index_dir / store.EMBCACHE, report) as cache:
        vectors = _embed(chunks, decisions, embedder, cache, progress, report, carried)
        postings = _postings(chunks, cache, settings["index_code"], carried)
    # Step 8: write a new generation and publish it.
    gen_dir = _write_generation(
        index_dir, parsed, deduplicated, decisions, vectors, postings, embedder, settings,
        parse_keys, faiss_kind, previous, carried,
    )
    return gen_dir, _counts(parsed, len(chunks), sum(1 for c in chunks if c.duplicate_of),
                            len(vectors.window_ids), len(decisions))


@dataclass
class _UpdatePlan:
    """What an updating build takes from the previous generation (`_update_plan`)."""

    previous: _Previous
    columns: ChunkColumns
    postings: Postings
    sketches: dict[str, tuple[int, ...]]


def _update_plan(previous: _Previous | None, settings: dict, faiss_kind: str) -> _UpdatePlan | None:
    """Whether steps 6-8 can work on the changed documents only: the previous generation
    was written with this model, FAISS kind and dedupe/tokenizer code (parse settings may
    differ: a settled document keeps its chunks), and holds its columns, its BM25 counts
    (for its canonical chunks, in row order) and its near-duplicate sketches. Otherwise
    None, and the build works on every chunk."""
    if previous is None or faiss_kind not in CARRIED_KINDS:
        return None
    before = previous.manifest.get("settings", {})
    if any(before.get(key) != settings[key] for key in ("format", "model_id", "faiss", "index_code")):
        return None
    columns = previous.columns
    if columns is None:
        return None
    found = read_postings(previous.gen_dir / store.BM25_DIR)
    if found is None or found[1] != [columns.chunk_ids[i] for i in columns.canonical_positions.tolist()]:
        return None
    sketches = store.read_sketches(previous.gen_dir / store.META)
    if sketches is None:
        return None
    return _UpdatePlan(previous, columns, found[0], sketches)


def _update_generation(
    index_dir: Path, plan: _UpdatePlan, parsed: list[_Parsed], settled: set[str],
    embedder: Embedder, settings: dict, parse_keys: dict[str, str], faiss_kind: str,
    progress: bool | ProgressCallback, report: BuildReport,
) -> tuple[Path, dict] | None:
    """Steps 6-8 on what changed: the settled documents' chunks stay in the previous
    generation (`indexer.lineup`), duplicates are judged for the new chunks, only the
    fresh rows' vectors and tokens are read, and the new generation's files are the
    previous ones with the changes applied (meta.sqlite copied and updated, columns
    spliced, FAISS and BM25 carried). None when a FAISS file cannot be carried (its IVF
    training would be redone): the build then works on every chunk."""
    texts = ChunkTexts(plan.previous.gen_dir / store.META, 0)
    try:
        update = _prepare_update(index_dir, plan, texts, parsed, settled, embedder, settings,
                                 faiss_kind, progress, report)
    except (store.sqlite3.Error, KeyError) as exc:  # a row of the previous generation
        raise _damaged(index_dir, exc) from exc
    finally:
        texts.close()
    if update is None:
        return None
    with _new_generation(index_dir) as gen_dir:
        copy_meta(plan.previous.gen_dir / store.META, gen_dir / store.META)
        apply_delta(gen_dir / store.META, update.delta)
        store.record_written(gen_dir / store.META)
        column_digests = write_columns(gen_dir / COLUMNS_DIR, update.columns)
        index, faiss_params = carried_index(*update.dense, faiss_kind, update.rows.windows,
                                            update.fresh_windows)
        faiss.write_index(index, str(gen_dir / store.DENSE))
        index, chunk_params = carried_index(*update.chunk_dense, faiss_kind, update.rows.chunks,
                                            update.fresh_chunks)
        faiss.write_index(index, str(gen_dir / store.CHUNK_DENSE))
        del index
        write_lexical(update.postings, update.canonical_ids, gen_dir / store.BM25_DIR)
        counts = _counts(parsed, len(update.delta.ids), update.duplicates,
                         len(update.rows.windows), store.count_decisions(gen_dir / store.META))
        manifest = _manifest(gen_dir, parsed, counts, update.dense[0].d, embedder,
                             settings, parse_keys, faiss_params, chunk_params)
        manifest["columns"] = column_digests
        store.publish_generation(index_dir, gen_dir, manifest)
    return gen_dir, counts


@dataclass
class _Update:
    """An update read and worked out, ready to be written (`_update_generation`)."""

    delta: MetaDelta
    columns: ChunkColumns
    rows: Carry
    dense: tuple[faiss.Index, dict]
    chunk_dense: tuple[faiss.Index, dict]
    fresh_windows: np.ndarray
    fresh_chunks: np.ndarray
    postings: Postings
    canonical_ids: list[str]
    duplicates: int


def _prepare_update(
    index_dir: Path, plan: _UpdatePlan, texts: ChunkTexts, parsed: list[_Parsed], settled: set[str],
    embedder: Embedder, settings: dict, faiss_kind: str, progress: bool | ProgressCallback,
    report: BuildReport,
) -> _Update | None:
    """Steps 6 and 7 of `_update_generation`, with the previous generation's meta.sqlite
    open (`texts`); None when a FAISS file cannot be carried."""
    previous, columns = plan.previous, plan.columns
    lineup = _lineup(parsed, columns, texts)
    if lineup is None:
        return None
    # Step 6: the new chunks' near-duplicates, with the sketches the archive stored.
    copies, sketches = judge(lineup, settled=lineup.settled(), known_sketches=plan.sketches)
    marks = lineup.marked(copies)
    canonical = marks < 0
    window_counts = _window_counts(columns, lineup, canonical)
    rows = plan_rows(columns, lineup.old_position, canonical, window_counts)
    dense = _carried_faiss(previous, store.DENSE, "faiss", faiss_kind, len(rows.windows),
                           rows.old_window_rows)
    chunk_dense = _carried_faiss(previous, store.CHUNK_DENSE, "chunk_faiss", faiss_kind,
                                 len(rows.chunks), rows.old_chunk_rows)
    if dense is None or chunk_dense is None:
        return None
    fresh = [dataclasses.replace(lineup[p], duplicate_of=None) for p in rows.fresh.tolist()]
    term_df, listings = _derived_changes(previous, texts, lineup, marks, columns, parsed)
    # Step 7: the fresh rows' vectors and tokens.
    decisions = [d for p in parsed if not p.settled for d in p.decisions]
    with _opened_cache(index_dir / store.EMBCACHE, report) as cache:
        fresh_windows, fresh_chunks = _embed_rows(
            fresh, decisions, embedder, cache, progress, report, dense[0].d,
            int(window_counts[canonical].sum() + (window_counts[canonical] == 0).sum())
            - sum(len(c.windows) or 1 for c in fresh))
        tokens = _lexical_tokens(fresh, cache, settings["index_code"])
    postings = plan.postings.updated(rows.chunks.new_of_old(rows.old_chunk_rows),
                                     list(zip(rows.chunks.fresh.tolist(), tokens)), len(rows.chunks))
    # Step 8: the previous generation's files with the changes, published.
    vec_row = np.where(canonical, np.cumsum(canonical) - 1, -1)
    delta = MetaDelta(
        gone_documents=[d.file for d in previous.summary.documents if d.file not in settled],
        documents=[p.record.row() for p in parsed if not p.settled],
        ids=lineup.ids, old_position=lineup.old_position, vec_row=vec_row,
        duplicate_of=marks, parsed=lineup.parsed(), old_vec_row=columns["vec_row"],
        old_duplicate_of=columns["duplicate_of"], window_old=rows.windows.old,
        old_windows=rows.old_window_rows,
        fresh_windows=[(int(row), cid, text) for row, (cid, text) in zip(
            rows.windows.fresh, ((c.chunk_id, w) for c in fresh for w in c.windows))],
        decisions={p.record.file: p.decisions for p in parsed if not p.settled},
        document_order=[p.record.file for p in parsed],
        sketches={lineup.ids[i]: keys for i, keys in sketches.items() if lineup.old_position[i] < 0},
        term_df=term_df, closed_listings=listings,
    )
    return _Update(
        delta=delta,
        columns=spliced_columns(columns, lineup.ids, lineup.old_position, lineup.parsed(), marks,
                                window_counts, {d.chunk_id for d in decisions}),
        rows=rows, dense=dense, chunk_dense=chunk_dense, fresh_windows=fresh_windows,
        fresh_chunks=fresh_chunks, postings=postings,
        canonical_ids=[lineup.ids[p] for p in np.flatnonzero(canonical).tolist()],
        duplicates=int((~canonical).sum()),
    )


def _lineup(parsed: list[_Parsed], columns: ChunkColumns, texts: ChunkTexts) -> ChunkLineup | None:
    """The new index order: settled documents as their previous positions, parsed ones as
    their chunks (None when a settled document has no chunks there to take)."""
    before = document_blocks(columns)
    blocks = []
    for p in parsed:
        if p.record.status != "ok":
            continue
        if not p.settled:
            blocks.append(Block(p.record.file, None, p.chunks))
        elif p.record.file in before:
            blocks.append(Block(p.record.file, before[p.record.file]))
        else:
            return None
    lineup = ChunkLineup(blocks, columns, texts)
    if len(set(lineup.ids)) != len(lineup.ids):
        _check_unique_ids(list(lineup.parsed().values()))
        raise RuntimeError("et tekststykke-id forekommer to gange")
    return lineup


def _window_counts(columns: ChunkColumns, lineup: ChunkLineup, canonical: np.ndarray) -> np.ndarray:
    """The windows of each position's chunk (canonical positions; a duplicate has none):
    a settled chunk's from the previous columns, unless it was a copy there (then from
    the chunk), a parsed chunk's from itself."""
    counts = np.zeros(len(lineup), dtype=np.int64)
    old = lineup.old_position
    settled = old >= 0
    counts[settled] = np.bincount(columns["window_chunk"], minlength=len(columns))[old[settled]]
    was_copy = np.zeros(len(lineup), dtype=bool)
    was_copy[settled] = columns["vec_row"][old[settled]] < 0
    for p in np.flatnonzero(was_copy & canonical).tolist():
        counts[p] = len(lineup[p].windows)
    for p, chunk in lineup.parsed().items():
        counts[p] = len(chunk.windows)
    return counts


def _derived_changes(previous: _Previous, texts: ChunkTexts, lineup: ChunkLineup, marks: np.ndarray,
                     columns: ChunkColumns, parsed: list[_Parsed],
                     ) -> tuple[dict[str, int], tuple[ClosedListing, ...]]:
    """The term statistics that change (term -> document frequency now, 0: gone) and the
    closed listings now, from the canonical chunks that came or left (`indexer.derived`)."""
    ids = lineup.ids
    before = {columns.chunk_ids[i] for i in np.flatnonzero(columns["vec_row"] >= 0).tolist()}
    now = {ids[p]: p for p in np.flatnonzero(marks < 0).tolist()}
    change = term_delta((lineup[p].text for cid, p in now.items() if cid not in before),
                        (texts.chunk(cid).text for cid in before if cid not in now))
    stored = texts.term_frequencies()
    term_df = {term: stored.get(term, 0) + n for term, n in change.items() if n}
    if any(df < 0 for df in term_df.values()):
        raise IndexDamaged(f"{previous.gen_dir / store.META}: termstatistikken passer ikke til tekststykkerne")
    # documents whose canonical chunks changed: the parsed ones, and settled ones where a
    # chunk became or stopped being a copy
    old = lineup.old_position
    was_canonical = np.zeros(len(lineup), dtype=bool)
    was_canonical[old >= 0] = columns["vec_row"][old[old >= 0]] >= 0
    flipped = np.flatnonzero((old >= 0) & (was_canonical != (marks < 0))).tolist()
    changed: dict[str, list[Chunk]] = {}
    for p in [*lineup.parsed(), *flipped]:
        document = lineup[p].document
        if document not in changed:
            changed[document] = [
                dataclasses.replace(c, duplicate_of=None if marks[q] < 0 else ids[int(marks[q])])
                for q, c in lineup.chunks_of(document)]
    documents = [p.record.file for p in parsed if p.record.status == "ok"]
    return term_df, listings_by_document(documents, store.read_closed_listings(previous.gen_dir / store.META),
                                         changed)


# --------------------------------------------------------------------------- step 1-4
def scan_inputs(paths: Sequence[Path | str]) -> tuple[list[Path], list[DocumentError]]:
    """Files to index, sorted by name; folders are searched recursively for .pdf and .txt.

    A file named on the command line is taken whatever its suffix (extraction then says
    why it cannot be read). Hidden files and hidden folders below a given folder are skipped
    (the app keeps old versions of uploads in `corpus/.versioner/`); folder symlinks are
    followed, each real folder once, so a symlink loop ends. File names must be unique:
    they are the documents' ids. The same file reached twice is taken once, the same name
    with the same content in two places silently once, the same name with other content is
    an error for the later one.
    """
    errors: list[DocumentError] = []
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found.extend(_walk(path, errors))
        elif path.is_file():
            found.append(path)
        elif path.is_symlink():
            errors.append(DocumentError(str(raw), "henvisningen (symlink) peger på noget, der ikke findes"))
        elif path.exists():
            errors.append(DocumentError(str(raw), "er hverken en almindelig fil eller en mappe"))
        else:
            errors.append(DocumentError(str(raw), "filen eller mappen findes ikke"))
    by_name: dict[str, Path] = {}
    places: set[tuple[str, str]] = set()
    for path in found:
        place = (os.path.realpath(path.parent), path.name)  # the same file given twice
        if place in places:
            continue
        places.add(place)
        first = by_name.get(path.name)
        if first is None:
            by_name[path.name] = path
        elif not _same_content(first, path):
            errors.append(DocumentError(
                str(path), f"samme filnavn som {first}, men andet indhold; filnavne skal være entydige"
            ))
    return [by_name[name] for name in sorted(by_name)], errors


def _walk(root: Path, errors: list[DocumentError]) -> list[Path]:
    """Supported, non-hidden files under root, top-down (a folder's own files before its
    subfolders'), each real folder visited once."""
    found: list[Path] = []
    visited: set[str] = set()

    def unreadable(exc: OSError) -> None:
        errors.append(DocumentError(str(exc.filename or root), f"mappen kan ikke læses ({exc.strerror})"))

    for dirpath, dirnames, filenames in os.walk(root, followlinks=True, onerror=unreadable):
        real = os.path.realpath(dirpath)
        if real in visited:  # a symlink back to a folder already searched (or a loop)
            dirnames[:] = []
            continue
        visited.add(real)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if name.startswith(".") or path.suffix.lower() not in SUPPORTED_SUFFIXES:
                continue
            if path.is_file():
                found.append(path)
            elif path.is_symlink():
                errors.append(DocumentError(str(path), "henvisningen (symlink) peger på en fil, der ikke findes"))
    return found


def _same_content(a: Path, b: Path) -> bool:
    try:
        return a.stat().st_size == b.stat().st_size and sha256_file(a) == sha256_file(b)
    except OSError:
        return False


def _hash_all(files: list[Path], index_dir: Path, report: BuildReport,
              prune: bool) -> tuple[dict[str, str], list[Path]]:
    """sha256 per file name (an unchanged file's from the cache, `indexer.filehash`); a file
    that cannot be read is reported and left out. A pruning build names every input of the
    index, so the remembered hashes of other files are forgotten."""
    with _opened_cache(index_dir / store.EMBCACHE, report) as cache:
        found, failed = hash_files(files, cache, forget_others=prune)
    for path, exc in failed.items():
        report.errors.append(DocumentError(path.name, f"filen kan ikke læses ({exc.strerror or exc})"))
    readable = [path for path in files if path in found]
    return {path.name: found[path] for path in readable}, readable


def _nothing_found_message(paths: Sequence[Path | str], scan_errors: list[DocumentError]) -> str:
    where = ", ".join(str(p) for p in paths)
    if scan_errors:
        return f"ingen filer at indeksere i {where}; indekset er ikke ændret"
    return (
        f"ingen PDF- eller .txt-filer i {where} (undermapper gennemsøges, skjulte springes over); "
        "indekset er ikke ændret"
    )


def _has_index(index_dir: Path) -> bool:
    return store.current_generation(index_dir) is not None


def _nothing_indexed_message(has_index: bool) -> str:
    outcome = "indekset er ikke ændret" if has_index else "der er ikke oprettet noget indeks"
    return f"ingen af filerne kunne indekseres; {outcome}"


def _check_settings(chunking: str, chunk_size: int, chunk_overlap: int, faiss_kind: str) -> None:
    if chunking not in CHUNKINGS:
        raise InvalidSetting(f"chunking: ukendt opdeling '{chunking}' (tilladt: {', '.join(CHUNKINGS)})")
    if faiss_kind not in store.FAISS_KINDS:
        raise InvalidSetting(f"faiss: ukendt indekstype '{faiss_kind}' (tilladt: {', '.join(store.FAISS_KINDS)})")
    if chunk_size <= 0:
        raise InvalidSetting(f"chunk_size: skal være større end 0 (fik {chunk_size})")
    if not 0 <= chunk_overlap < chunk_size:
        raise InvalidSetting(f"chunk_overlap: skal være mellem 0 og chunk_size-1 (fik {chunk_overlap})")


def _source_fingerprint(files: Sequence[Path]) -> str:
    digest = hashlib.sha1()
    for path in files:
        digest.update(path.name.encode())
        digest.update(path.read_bytes() if path.is_file() else b"")
    return digest.hexdigest()[:16]


def _settings(embedder: Embedder, chunking: str, chunk_size: int, chunk_overlap: int, faiss_kind: str) -> dict:
    """Everything besides the inputs that decides the index's content (manifest 'settings').

    `parse` groups what decides a file's chunks: if it is equal, unchanged files are reused
    without parsing even when the model or FAISS type changes.
    """
    root = Path(__file__).resolve().parent.parent
    parse = {
        "chunking": chunking,
        "chunk_size": chunk_size,
        "chunk_overlap": chunk_overlap,
        "window_sentences": WINDOW_SENTENCES,
        "code": _source_fingerprint([root / m for m in _PARSE_MODULES]),
    }
    return {
        "format": store.FORMAT_VERSION,
        "model_id": embedder.model_id,
        "faiss": faiss_kind,
        "parse": parse,
        "index_code": _source_fingerprint([root / m for m in _INDEX_MODULES]),
    }


def _parse_key(parse_settings: dict) -> str:
    """Short fingerprint of the settings and code a document was parsed with."""
    return hashlib.sha1(json.dumps(parse_settings, sort_keys=True).encode()).hexdigest()[:16]


def _load_previous(index_dir: Path, *, required: bool) -> _Previous | None:
    """The current generation's manifest and metadata.

    An unreadable one counts as none when the build replaces the whole index (`prune`):
    that is how a damaged index is repaired. When the build adds to the index (`required`)
    it would silently drop every other document, so it refuses instead."""
    gen_dir = store.current_generation(index_dir)
    link = index_dir / store.CURRENT
    try:
        if gen_dir is None:
            if required and (link.is_symlink() or link.exists()):
                raise ValueError(f"{store.CURRENT} peger ikke på en hel generation")
            return None
        manifest = json.loads((gen_dir / store.MANIFEST).read_text(encoding="utf-8"))
        summary = store.read_meta_summary(gen_dir / store.META)
        if not isinstance(manifest, dict) or not isinstance(manifest.get("inputs", {}), dict):
            raise IndexDamaged(f"{store.MANIFEST} har ikke den forventede form")
        previous = _Previous(gen_dir, manifest, summary, index_dir)
        if not required:  # a damaged generation is replaced: find out now, not half-way
            _check_sound(previous)
    except (OSError, ValueError, store.sqlite3.Error, KommunesoegError) as exc:
        if not required:
            return None
        raise _damaged(index_dir, exc) from None
    return previous


def _check_sound(previous: _Previous) -> None:
    """Raise when the previous generation is damaged: meta.sqlite checked as a reader
    checks it (`store.check_meta_file`, skipped for the file a build recorded as written)
    and the columns against their digests - or, for a generation without columns, every
    row read (an archive's update must not read every row just to look)."""
    if "columns" not in previous.manifest:
        _ = previous.meta  # read (and kept) now; damage raises IndexDamaged here
        return
    store.check_meta_file(previous.index_dir, previous.gen_dir / store.META, previous.manifest)
    if previous.columns is None:
        raise IndexDamaged(f"{COLUMNS_DIR}/ kan ikke læses")


def _damaged(index_dir: Path, exc: BaseException) -> IndexDamaged:
    return IndexDamaged(
        f"{index_dir}: det nuværende indeks kan ikke læses ({exc}), så filerne kan ikke "
        "føjes til det; byg det helt forfra med: kommunesoeg index MAPPE --prune")


def _nothing_changed(previous: _Previous, settings: dict, hashes: dict[str, str], prune: bool) -> bool:
    """Same settings, every input already indexed with this content and these parse
    settings, and (when pruning) no other document in the index."""
    if previous.manifest.get("settings") != settings:
        return False
    indexed = previous.manifest.get("inputs") or {}
    if prune and set(indexed) != set(hashes):
        return False
    current = _parse_key(settings["parse"])
    return all(indexed.get(name) == digest and previous.parse_key(name) == current for name, digest in hashes.items())


def _previous_ok_files(previous: _Previous | None) -> set[str]:
    if previous is None:
        return set()
    return {d.file for d in previous.summary.documents if d.status == "ok"}


def _unchanged_report(report: BuildReport, previous: _Previous, hashes: dict[str, str], started: float) -> BuildReport:
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
    inputs: list[_Parsed],
    parsed: list[_Parsed],
    reusable: dict[str, _Parsed],
    previous: _Previous | None,
    counts: dict,
    gen_dir: Path,
    started: float,
) -> BuildReport:
    ok_inputs = {p.record.file for p in inputs if p.record.status == "ok"}
    ok = {p.record.file for p in parsed if p.record.status == "ok"}
    report.documents_skipped_unchanged = len(ok_inputs & set(reusable))
    report.documents_indexed = len(ok_inputs) - report.documents_skipped_unchanged
    report.removed_files = sorted(_previous_ok_files(previous) - ok)
    report.documents_removed = len(report.removed_files)
    report.documents_total = len(ok)
    report.chunks = counts["chunks"]
    report.duplicates = counts["duplicates"]
    report.changed = True
    report.generation = gen_dir.name
    report.seconds = time.perf_counter() - started
    return report


# --------------------------------------------------------------------------- step 5
def _reusable_documents(previous: _Previous | None, settings: dict, hashes: dict[str, str]) -> dict[str, _Parsed]:
    """Indexed input documents of the previous generation whose content and parse settings
    are unchanged. Failed files are always tried again (the cause may have been fixed)."""
    if previous is None:
        return {}
    current = _parse_key(settings["parse"])
    names = {
        row.file for row in previous.summary.documents
        if row.status == "ok" and hashes.get(row.file) == row.sha256 and previous.parse_key(row.file) == current
    }
    return _previous_documents(previous, names)


def _kept_documents(previous: _Previous | None, hashes: dict[str, str], prune: bool) -> dict[str, _Parsed]:
    """Documents (indexed or failed) of the previous generation that are not among the
    inputs: an adding build keeps them as they are, a pruning one drops them."""
    if prune or previous is None:
        return {}
    return _previous_documents(previous, {row.file for row in previous.summary.documents if row.file not in hashes})


def _previous_documents(previous: _Previous, names: set[str]) -> dict[str, _Parsed]:
    """The named documents of the previous generation, settled: their chunks and decisions
    stay in its meta.sqlite until a build needs them (`_read_settled`)."""
    return {row.file: _Parsed(row, settled=True) for row in previous.summary.documents if row.file in names}


def _read_settled(previous: _Previous | None, parsed: list[_Parsed]) -> None:
    """Fill in the chunks and decisions of the settled documents, read back from the
    previous generation's meta.sqlite instead of parsing the files again (a build that
    writes every row; an updating build never reads them all, `_update_generation`)."""
    docs = {p.record.file: p for p in parsed if p.settled}
    if previous is None or not docs:
        return
    for chunk in previous.meta.chunks:
        if chunk.document in docs:
            docs[chunk.document].chunks.append(chunk)
    for decision in previous.meta.decisions:
        if decision.document in docs:
            docs[decision.document].decisions.append(decision)


def _parse_keys(previous: _Previous | None, settings: dict, inputs: list[_Parsed], kept: dict[str, _Parsed]) -> dict[str, str]:
    """Per document, the parse settings its chunks were made with (kept documents keep
    theirs: their files are not at hand to read again)."""
    current = _parse_key(settings["parse"])
    keys = {p.record.file: current for p in inputs}
    if previous is not None:
        keys.update({name: previous.parse_key(name) for name in kept})
    return keys


def _parse_all(
    files: list[Path],
    hashes: dict[str, str],
    reusable: dict[str, _Parsed],
    chunking: str,
    chunk_size: int,
    chunk_overlap: int,
    progress: bool | ProgressCallback,
) -> list[_Parsed]:
    todo = [f for f in files if f.name not in reusable]
    parsed = {name: p for name, p in reusable.items()}
    bar = _Progress(progress, len(todo), "Læser dokumenter", "fil")
    for path in todo:
        bar.set_message(f"Læser {path.name}")
        parsed[path.name] = parse_file(path, hashes[path.name], chunking, chunk_size, chunk_overlap)
        bar.update(1)
    bar.close()
    return [parsed[f.name] for f in files]


def parse_file(path: Path, sha256: str, chunking: str, chunk_size: int, chunk_overlap: int) -> _Parsed:
    """One file -> its record, chunks and decisions; any failure becomes an error record."""
    size = path.stat().st_size
    try:
        pages = extract_pages(path)
        meeting, sections = parse_document(pages)
        if chunking == "naive":
            chunks = naive_chunks(path.name, meeting, pages, closed_pages_of(sections),
                                  size=chunk_size, overlap=chunk_overlap)
        else:
            chunks = make_chunks(
                meeting, sections, chunk_size=chunk_size, chunk_overlap=chunk_overlap,
                window_sentences=WINDOW_SENTENCES,
            )
        decisions = extract_decisions(meeting, sections, chunks)
    except DocumentError as exc:
        return _Parsed(DocumentRecord(path.name, sha256, size, "error", error=exc.reason))
    except Exception as exc:  # noqa: BLE001 - one odd file must not stop the whole build
        reason = f"uventet fejl under læsning ({type(exc).__name__}: {exc})"
        return _Parsed(DocumentRecord(path.name, sha256, size, "error", error=reason))
    if not chunks:
        return _Parsed(DocumentRecord(path.name, sha256, size, "error", error="filen indeholder ingen tekst"))
    record = DocumentRecord(
        path.name, sha256, size, "ok", pages=len(pages), ocr_pages=sum(p.ocr for p in pages),
        meeting=meeting.name, committee=meeting.committee, date=meeting.date, time=meeting.time,
        place=meeting.place, participants=list(meeting.participants),
    )
    return _Parsed(record, chunks, decisions)


def _check_unique_ids(chunks: list[Chunk]) -> None:
    seen: dict[str, str] = {}
    for c in chunks:
        if c.chunk_id in seen:
            raise RuntimeError(f"chunk id {c.chunk_id} forekommer to gange ({seen[c.chunk_id]}, {c.document})")
        seen[c.chunk_id] = c.document


# --------------------------------------------------------------------------- step 6
def _deduplicate(parsed: list[_Parsed], previous: _Previous | None, settings: dict,
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


# --------------------------------------------------------------------------- step 7
@dataclass
class _Vectors:
    window_ids: list[str]  # dense.faiss row -> chunk id
    window_texts: list[str]  # the window text (without header), as stored
    chunk_ids: list[str]  # chunks.faiss row -> canonical chunk id
    windows: np.ndarray  # the vectors of the fresh window rows (every row if none is carried)
    chunks: np.ndarray  # the vectors of the fresh chunk rows
    dim: int


@dataclass
class _Carried:
    """What a build takes over from the previous generation (`indexer.carry`): the row maps,
    the previous FAISS files (memory-mapped, with their manifest settings) when both can be
    carried, and the previous BM25 counts when they can."""

    rows: Carry
    settled: frozenset[str]  # documents taken over unchanged
    dense: tuple[faiss.Index, dict] | None
    chunk_dense: tuple[faiss.Index, dict] | None
    postings: Postings | None

    @property
    def vectors(self) -> bool:
        return self.dense is not None and self.chunk_dense is not None


def _carried(previous: _Previous | None, settings: dict, faiss_kind: str, chunks: list[Chunk],
             settled: set[str]) -> _Carried | None:
    """What of the previous generation this build can carry over (None: nothing, it has no
    columns to tell its rows by). Vectors need the same model and FAISS files that can be
    carried (`faiss_carry.can_carry`); BM25 counts the same tokenizer code and counts whose
    rows are the previous generation's canonical chunks."""
    columns = previous.columns if previous is not None else None
    if columns is None:
        return None
    before = previous.manifest.get("settings", {})
    rows = plan_carry(columns, chunks, settled)
    dense = chunk_dense = None
    if before.get("model_id") == settings["model_id"]:
        dense = _carried_faiss(previous, store.DENSE, "faiss", faiss_kind,
                               len(rows.windows), rows.old_window_rows)
        chunk_dense = _carried_faiss(previous, store.CHUNK_DENSE, "chunk_faiss", faiss_kind,
                                     len(rows.chunks), rows.old_chunk_rows)
    postings = None
    if before.get("index_code") == settings["index_code"]:
        found = read_postings(previous.gen_dir / store.BM25_DIR)
        canonical = columns.canonical_positions.tolist()
        if found is not None and found[1] == [columns.chunk_ids[i] for i in canonical]:
            postings = found[0]
    return _Carried(rows, frozenset(settled), dense, chunk_dense, postings)


def _carried_faiss(previous: _Previous, name: str, key: str, kind: str, rows: int,
                   old_rows: int) -> tuple[faiss.Index, dict] | None:
    """The previous generation's FAISS file `name` (manifest settings `key`) when it can be
    carried into an index of `rows` vectors of `kind`."""
    params = previous.manifest.get(key)
    if not isinstance(params, dict):
        return None
    old = store.read_previous_faiss(previous.gen_dir / name)
    if old is None or old.ntotal != old_rows or not can_carry(old, params, kind, old.d, rows):
        return None
    return old, params


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


def _embed(
    chunks: list[Chunk],
    decisions: Sequence[Decision],
    embedder: Embedder,
    cache: EmbeddingCache,
    progress: bool | ProgressCallback,
    report: BuildReport,
    carried: _Carried | None = None,
) -> _Vectors:
    """The vectors of the rows this build makes: every canonical chunk's, or, when the
    previous generation's vectors are carried, the fresh chunks' only (and the decisions of
    the documents read in this build)."""
    canonical = [c for c in chunks if c.duplicate_of is None]
    todo, dim = canonical, None
    if carried is not None and carried.vectors:
        todo, dim = [chunks[i] for i in carried.rows.fresh.tolist()], carried.dense[0].d
        decisions = [d for d in decisions if d.document not in carried.settled]
    carried_texts = sum(len(c.windows) or 1 for c in canonical) - sum(len(c.windows) or 1 for c in todo)
    windows, chunk_matrix = _embed_rows(todo, decisions, embedder, cache, progress, report, dim,
                                        carried_texts)
    return _Vectors(
        window_ids=[c.chunk_id for c in canonical for _ in c.windows],
        window_texts=[w for c in canonical for w in c.windows],
        chunk_ids=[c.chunk_id for c in canonical],
        windows=windows,
        chunks=chunk_matrix,
        dim=windows.shape[1],
    )


def _embed_rows(
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
    matrix, lacking = _cached_matrix(cache, embedder, keys, dim)
    only_decisions = [k for k in decisions_of if k not in text_of]
    cached_decisions = cache.cached_keys(embedder.model_id, only_decisions)
    text_of.update(decisions_of)
    # Sorted by length: the engine pads a batch to its longest text.
    missing = sorted([*lacking, *(k for k in only_decisions if k not in cached_decisions)],
                     key=lambda k: len(text_of[k]))
    report.cached_texts = len(text_of) - len(missing) + carried_texts
    report.embedded_texts = len(missing)
    bar = _Progress(progress, len(missing), "Indlejrer tekster", "tekst")
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


def _postings(chunks: list[Chunk], cache: EmbeddingCache, code: str,
              carried: _Carried | None) -> Postings:
    """The BM25 counts of the canonical chunks: the previous generation's with the fresh
    chunks' merged in when they can be carried, else counted from every chunk's tokens."""
    if carried is not None and carried.postings is not None:
        rows = carried.rows.chunks
        tokens = _lexical_tokens([chunks[i] for i in carried.rows.fresh.tolist()], cache, code)
        return carried.postings.updated(rows.new_of_old(carried.rows.old_chunk_rows),
                                        list(zip(rows.fresh.tolist(), tokens)), len(rows))
    return Postings.of(_lexical_tokens(chunks, cache, code))


@contextlib.contextmanager
def _opened_cache(cache_path: Path, report: BuildReport) -> Iterator[EmbeddingCache]:
    """The index's embedding cache, open while the build embeds and tokenises; what it had
    to say (a damaged file set aside) goes into the build report once."""
    cache = EmbeddingCache(cache_path)
    try:
        yield cache
    finally:
        report.warnings.extend(w for w in cache.warnings if w not in report.warnings)
        cache.close()


def _cached_matrix(cache: EmbeddingCache, embedder: Embedder, keys: list[str],
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


# --------------------------------------------------------------------------- step 8
def _write_generation(
    index_dir: Path,
    parsed: list[_Parsed],
    deduplicated: Deduplicated,
    decisions: list[Decision],
    vectors: _Vectors,
    postings: Postings,
    embedder: Embedder,
    settings: dict,
    parse_keys: dict[str, str],
    faiss_kind: str,
    previous: _Previous | None,
    carried: _Carried | None,
) -> Path:
    """Step 8 of a build over every chunk: every file written, then published."""
    chunks = deduplicated.chunks
    with _new_generation(index_dir) as gen_dir:
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
        counts = _counts(parsed, len(chunks), sum(1 for c in chunks if c.duplicate_of),
                         len(vectors.window_ids), len(decisions))
        manifest = _manifest(gen_dir, parsed, counts, vectors.dim, embedder, settings, parse_keys,
                             faiss_params, chunk_params)
        manifest["columns"] = column_digests  # file -> sha256: a reader checks each
        store.publish_generation(index_dir, gen_dir, manifest)
    return gen_dir


@contextlib.contextmanager
def _new_generation(index_dir: Path) -> Iterator[Path]:
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


def _faiss_file(fresh: np.ndarray, dim: int, kind: str, previous: _Previous | None, name: str,
                key: str, carry: tuple[tuple[faiss.Index, dict], RowMap] | None,
                ) -> tuple[faiss.Index, dict]:
    """The FAISS index `name` and its manifest settings: the previous generation's with the
    fresh rows added (`indexer.faiss_carry`) when `carry` says it can be, else made from
    `fresh` (every row then), reusing the previous training where it fits."""
    if carry is not None:
        (old, params), rows = carry
        return carried_index(old, params, kind, rows, fresh)
    return store.make_faiss_index(fresh, dim, kind, _previous_faiss(previous, name, key))


def _lexical_tokens(chunks: list[Chunk], cache: EmbeddingCache, code: str) -> list[list[str]]:
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


def _previous_faiss(previous: _Previous | None, name: str, key: str) -> tuple[faiss.Index, dict] | None:
    """The previous generation's FAISS file `name` and its manifest settings `key`, for an
    IVF build to reuse the training of (`store.make_faiss_index`); None when there is none."""
    if previous is None or not isinstance(previous.manifest.get(key), dict):
        return None
    if previous.manifest[key].get("kind") not in store.IVF_KINDS:
        return None
    old = store.read_previous_faiss(previous.gen_dir / name)
    return None if old is None else (old, previous.manifest[key])


def _counts(parsed: list[_Parsed], chunks: int, duplicates: int, windows: int, decisions: int) -> dict:
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


def _manifest(
    gen_dir: Path,
    parsed: list[_Parsed],
    counts: dict,
    dim: int,
    embedder: Embedder,
    settings: dict,
    parse_keys: dict[str, str],
    faiss_params: dict,
    chunk_params: dict,
) -> dict:
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


# --------------------------------------------------------------------------- progress
class _Progress:
    """tqdm on a terminal, a caller's callback (the app), or nothing."""

    def __init__(self, progress: bool | ProgressCallback, total: int, desc: str, unit: str) -> None:
        self.callback = progress if callable(progress) else None
        self.total = total
        self.done = 0
        self.desc = desc
        self.bar = None
        if progress is True and total and sys.stderr.isatty():
            self.bar = tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, leave=False)

    def set_message(self, message: str) -> None:
        self.desc = message
        if self.bar is not None:
            self.bar.set_postfix_str(message, refresh=False)

    def update(self, n: int) -> None:
        self.done += n
        if self.bar is not None:
            self.bar.update(n)
        if self.callback is not None:
            self.callback(self.done, self.total, self.desc)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
