"""What the PostgreSQL store derives across documents, against the file build's own functions:
near-duplicates (`indexer.dedupe`), term statistics (`TermStats` numbers) and closed listings
(`indexer.closed_listings`), kept right as documents arrive, change and go, and when two
workers write copies of each other at the same moment."""

from __future__ import annotations

import shutil
import threading
from dataclasses import astuple, replace
from pathlib import Path

import pytest

from indexer.build import parse_file
from indexer.closed_listings import find_closed_listings
from indexer.dedupe import mark_duplicates
from indexer.settings import DEFAULT_CHUNK_OVERLAP, DEFAULT_CHUNK_SIZE
from indexer.store import sha256_file
from kommunesoeg.core.textnorm import document_frequencies

pytest_plugins = ["fixtures_pg"]
from fixtures_pg import run_two_workers

psycopg = pytest.importorskip(
    "psycopg", reason="PostgreSQL-tests kræver ekstraen: pip install -e '.[postgres]'")

from indexer.pg.connect import connect
from indexer.pg.derived import canonical_count, read_term_df
from indexer.pg.writer import index_into_postgres

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
CORPUS = ROOT / "corpus"
MEETING = "2024-05-02_TST_raadmandsmoede.txt"  # its agenda lists a closed item
FIRST, SECOND = "2024-05-02_AAA_referat.txt", "2024-05-02_BBB_referat.txt"  # copies of it
MEMO = "2023-06-08_SBU_notat_relationel_velfaerd.pdf"
SCAN = "2023-06-08_SBU_notat_relationel_velfaerd_scan.pdf"


@pytest.fixture
def copies(tmp_path) -> dict[str, Path]:
    """The meeting as two files (a copy filed twice), and an unrelated memo."""
    out = {}
    for name, source in ((FIRST, MEETING), (SECOND, MEETING), ("seed-002_notat.txt", None)):
        out[name] = tmp_path / name
        shutil.copyfile(DATA / (source or name), out[name])
    return out


def _file_build(paths: list[Path]) -> list:
    """The chunks as the file build judges them: every document, sorted by file name."""
    chunks = []
    for path in sorted(paths, key=lambda p: p.name):
        chunks += parse_file(path, sha256_file(path), "structured", DEFAULT_CHUNK_SIZE,
                             DEFAULT_CHUNK_OVERLAP).chunks
    return mark_duplicates(chunks)


def _assert_like_the_file_build(dsn: str, expected: list) -> None:
    """duplicate_of, vectors, windows, term_df and closed listings as the file build has them."""
    canonical = [c for c in expected if c.duplicate_of is None]
    with connect(dsn) as conn:
        stored = dict(conn.execute("SELECT chunk_id, duplicate_of FROM chunks").fetchall())
        assert stored == {c.chunk_id: c.duplicate_of for c in expected}
        with_vector = {r[0] for r in conn.execute("SELECT chunk_id FROM chunks WHERE vector IS NOT NULL")}
        assert with_vector == {c.chunk_id for c in canonical}
        windowed = {r[0] for r in conn.execute("SELECT DISTINCT chunk_id FROM windows")}
        assert windowed == {c.chunk_id for c in canonical if c.windows}
        df, n = document_frequencies(c.text for c in canonical)  # = TermStats.of_texts
        assert read_term_df(conn) == df and canonical_count(conn) == n
        listings = conn.execute(
            "SELECT document, meeting, date, punkt, title, page FROM closed_listings "
            "ORDER BY document, ord").fetchall()
        assert listings == [astuple(x) for x in find_closed_listings(canonical)]


def test_a_better_copy_arriving_later_takes_over_and_pruning_revives(pg_dsn, pg_embedder, copies):
    first, second, memo = copies[FIRST], copies[SECOND], copies["seed-002_notat.txt"]
    index_into_postgres([second, memo], pg_dsn, pg_embedder, "w1")
    _assert_like_the_file_build(pg_dsn, _file_build([second, memo]))
    # FIRST sorts first, so its chunks become canonical and SECOND's stored ones its copies
    report = index_into_postgres([first], pg_dsn, pg_embedder, "w2")
    assert report.indexed == [FIRST]
    expected = _file_build([first, second, memo])
    assert any(c.duplicate_of for c in expected if c.document == SECOND)
    assert not any(c.duplicate_of for c in expected if c.document == FIRST)
    _assert_like_the_file_build(pg_dsn, expected)
    with connect(pg_dsn) as conn:  # the listing moved to the canonical copy
        assert {r[0] for r in conn.execute("SELECT document FROM closed_listings")} == {FIRST}
    # FIRST gone: SECOND's chunks are canonical again, with vectors and windows
    report = index_into_postgres([second, memo], pg_dsn, pg_embedder, "w3", prune=True)
    assert report.removed == [FIRST]
    _assert_like_the_file_build(pg_dsn, _file_build([second, memo]))


def test_a_changed_canonical_document_hands_its_copies_on(pg_dsn, pg_embedder, copies):
    first, second = copies[FIRST], copies[SECOND]
    index_into_postgres([first, second], pg_dsn, pg_embedder, "w1")
    _assert_like_the_file_build(pg_dsn, _file_build([first, second]))
    first.write_text("Notat om skolevejen i Tilst.\n\nSkolevejen får ny belysning i 2026.\n")
    index_into_postgres([first], pg_dsn, pg_embedder, "w2")
    _assert_like_the_file_build(pg_dsn, _file_build([first, second]))


def test_two_workers_writing_copies_at_once_do_not_miss_each_other(pg_dsn, pg_embedder, copies):
    files = [copies[FIRST], copies[SECOND]]
    # both claim, parse and embed at once; the lock orders the judging
    reports = run_two_workers(files, pg_dsn, pg_embedder, pause=0.5)
    assert all(r.indexed for r in reports), "each worker should have written one copy"
    _assert_like_the_file_build(pg_dsn, _file_build(files))


@pytest.mark.slow
def test_scan_indexed_before_its_original_ends_as_the_file_build_judges(pg_dsn, pg_embedder):
    """The OCR scan first (its chunks canonical), then the born-digital memo: the scan's
    chunks become the memo's copies, exactly as the file build marks them (test_dedupe)."""
    scan = index_into_postgres([CORPUS / SCAN], pg_dsn, pg_embedder, "w1")
    assert scan.indexed == [SCAN]
    assert index_into_postgres([CORPUS / MEMO], pg_dsn, pg_embedder, "w2").indexed == [MEMO]
    with connect(pg_dsn) as conn:
        from indexer.pg.neardup import CHUNK_FIELDS, chunk_of_row

        rows = conn.execute(f"SELECT {', '.join(CHUNK_FIELDS)} FROM chunks").fetchall()
    # in the file build's order (file name, then position); parsed once: the scan is OCR
    stored = [s.chunk for s in sorted(map(chunk_of_row, rows),
                                      key=lambda s: (s.chunk.document, s.ord))]
    expected = mark_duplicates([replace(c, duplicate_of=None) for c in stored])
    assert {c.chunk_id: c.duplicate_of for c in stored} == {
        c.chunk_id: c.duplicate_of for c in expected}
    by_id = {c.chunk_id: c for c in stored}
    scan_chunks = [c for c in stored if c.document == SCAN]
    assert scan_chunks and all(c.duplicate_of for c in scan_chunks)
    assert {by_id[c.duplicate_of].document for c in scan_chunks} == {MEMO}
    _assert_like_the_file_build(pg_dsn, expected)


def test_reviving_copies_of_a_claimed_document_does_not_wait_for_its_worker(
        pg_dsn, pg_embedder, copies):
    """SECOND's copies become canonical (and get closed listings) when FIRST is pruned while
    another worker holds SECOND: the pruning must not wait on that claim, or the two would
    deadlock as soon as the holder asks for the near-duplicate lock."""
    from indexer.pg.neardup import lock_archive
    from indexer.pg.queue import claim_next, enqueue

    first, second = copies[FIRST], copies[SECOND]
    index_into_postgres([first, second], pg_dsn, pg_embedder, "w1")
    holder = connect(pg_dsn)
    try:
        enqueue(holder, [(SECOND, "0" * 64, 1)])  # SECOND changed on some machine: queued
        assert claim_next(holder, "slow-worker").file == SECOND  # ... and held
        done = threading.Event()
        errors: list[BaseException] = []

        def prune() -> None:
            try:
                index_into_postgres([copies["seed-002_notat.txt"]], pg_dsn, pg_embedder, "w2",
                                    prune=True)
            except BaseException as exc:  # noqa: BLE001 - re-raised in the test thread
                errors.append(exc)
            done.set()

        pruner = threading.Thread(target=prune)
        pruner.start()
        finished = done.wait(timeout=15)
        lock_archive(holder)  # the holder now wants the lock: no deadlock either way
        holder.rollback()
        pruner.join()
        assert finished, "pruning waited for the worker holding SECOND"
        assert not errors, errors
    finally:
        holder.close()
    with connect(pg_dsn) as conn:
        assert {r[0] for r in conn.execute("SELECT document FROM closed_listings")} == {SECOND}
        assert conn.execute("SELECT count(*) FROM chunks WHERE duplicate_of IS NOT NULL"
                            ).fetchone()[0] == 0
