"""The updating build: steps 6-8 on what changed only, when the previous generation allows it.
The settled documents' chunks stay where they are in the previous generation
(`indexer.lineup`), duplicates are judged for the new chunks, only the fresh rows' vectors
and tokens are read, and the new generation's files are the previous ones with the changes
applied (`meta_update`, `columns.spliced_columns`, `faiss_carry`, `postings`). The files equal
what a build over every chunk writes (tests/test_carry.py)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

from indexer import store
from indexer.build_types import BuildReport, Parsed, opened_cache
from indexer.carried import carried_faiss
from indexer.carry import Carry, plan_rows
from indexer.columns import COLUMNS_DIR, ChunkColumns, spliced_columns, write_columns
from indexer.dedupe import judge
from indexer.derived import listings_by_document, term_delta
from indexer.embed import Embedder
from indexer.faiss_carry import CARRIED_KINDS, carried_index
from indexer.generation_writer import generation_counts, generation_manifest, new_generation
from indexer.lexical import read_postings, write_lexical
from indexer.lineup import Block, ChunkLineup, document_blocks
from indexer.meta_lazy import ChunkTexts
from indexer.meta_update import MetaDelta, apply_delta, copy_meta
from indexer.parsing import check_unique_ids
from indexer.postings import Postings
from indexer.previous_generation import Previous, damaged
from indexer.progress import ProgressCallback
from indexer.vectors import embed_rows, lexical_tokens
from kommunesoeg.core.errors import IndexDamaged
from kommunesoeg.core.models import Chunk
from kommunesoeg.core.results import ClosedListing


@dataclass
class UpdatePlan:
    """What an updating build takes from the previous generation (`update_plan`)."""

    previous: Previous
    columns: ChunkColumns
    postings: Postings
    sketches: dict[str, tuple[int, ...]]


def update_plan(previous: Previous | None, settings: dict, faiss_kind: str) -> UpdatePlan | None:
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
    return UpdatePlan(previous, columns, found[0], sketches)


def update_generation(
    index_dir: Path, plan: UpdatePlan, parsed: list[Parsed], settled: set[str],
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
        raise damaged(index_dir, exc) from exc
    finally:
        texts.close()
    if update is None:
        return None
    with new_generation(index_dir) as gen_dir:
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
        counts = generation_counts(parsed, len(update.delta.ids), update.duplicates,
                                   len(update.rows.windows),
                                   store.count_decisions(gen_dir / store.META))
        manifest = generation_manifest(gen_dir, parsed, counts, update.dense[0].d, embedder,
                                       settings, parse_keys, faiss_params, chunk_params)
        manifest["columns"] = column_digests
        store.publish_generation(index_dir, gen_dir, manifest)
    return gen_dir, counts


@dataclass
class _Update:
    """An update read and worked out, ready to be written (`update_generation`)."""

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
    index_dir: Path, plan: UpdatePlan, texts: ChunkTexts, parsed: list[Parsed], settled: set[str],
    embedder: Embedder, settings: dict, faiss_kind: str, progress: bool | ProgressCallback,
    report: BuildReport,
) -> _Update | None:
    """Steps 6 and 7 of `update_generation`, with the previous generation's meta.sqlite
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
    dense = carried_faiss(previous, store.DENSE, "faiss", faiss_kind, len(rows.windows),
                          rows.old_window_rows)
    chunk_dense = carried_faiss(previous, store.CHUNK_DENSE, "chunk_faiss", faiss_kind,
                                len(rows.chunks), rows.old_chunk_rows)
    if dense is None or chunk_dense is None:
        return None
    fresh = [dataclasses.replace(lineup[p], duplicate_of=None) for p in rows.fresh.tolist()]
    term_df, listings = _derived_changes(previous, texts, lineup, marks, columns, parsed)
    # Step 7: the fresh rows' vectors and tokens.
    decisions = [d for p in parsed if not p.settled for d in p.decisions]
    with opened_cache(index_dir / store.EMBCACHE, report) as cache:
        fresh_windows, fresh_chunks = embed_rows(
            fresh, decisions, embedder, cache, progress, report, dense[0].d,
            int(window_counts[canonical].sum() + (window_counts[canonical] == 0).sum())
            - sum(len(c.windows) or 1 for c in fresh))
        tokens = lexical_tokens(fresh, cache, settings["index_code"])
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


def _lineup(parsed: list[Parsed], columns: ChunkColumns, texts: ChunkTexts) -> ChunkLineup | None:
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
        check_unique_ids(list(lineup.parsed().values()))
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


def _derived_changes(previous: Previous, texts: ChunkTexts, lineup: ChunkLineup, marks: np.ndarray,
                     columns: ChunkColumns, parsed: list[Parsed],
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
