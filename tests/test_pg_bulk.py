"""A bulk load into PostgreSQL (issue 13): an empty store loaded without its search indexes,
which are built once the queue is empty (`indexer.pg.search_indexes`). It must keep every
guarantee of the row-by-row load: the same rows, one transaction per document, a killed
worker losing nothing, row-level security hiding closed rows from the public role - while
the indexes are deferred as well as after - and a weekly add into existing indexes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

pytest_plugins = ["fixtures_index", "fixtures_pg"]
from fixtures_pg import (
    CLOSED_DOC,
    CORPUS,
    SMALL_DOC,
    doomed_worker,
    seed_embedding_cache,
    wait_for_release,
)

psycopg = pytest.importorskip(
    "psycopg", reason="PostgreSQL-tests kræver ekstraen: pip install -e '.[postgres]'")

from indexer.build import parse_file
from indexer.pg.connect import PUBLIC_ROLE, connect
from indexer.pg.lexemes import tsquery_literal
from indexer.pg.search_indexes import SEARCH_INDEXES, is_deferred
from indexer.pg.writer import index_into_postgres
from indexer.settings import DEFAULT_CHUNK_OVERLAP, DEFAULT_CHUNK_SIZE
from indexer.store import sha256_file

DATA = Path(__file__).resolve().parent / "data"
MEETING = "2024-05-02_TST_raadmandsmoede.txt"
SEARCH = {name for name, _, _, _ in SEARCH_INDEXES}


@pytest.fixture
def files(tmp_path) -> dict[str, Path]:
    """The closed-content meeting, a memo, a text meeting and (for the weekly add) a copy of
    that meeting under another name, which the near-duplicate judgement must link."""
    out = {}
    for name, source in ((CLOSED_DOC, CORPUS / CLOSED_DOC), (SMALL_DOC, CORPUS / SMALL_DOC),
                         (MEETING, DATA / MEETING),
                         ("2024-05-09_TST_referat.txt", DATA / MEETING)):
        out[name] = tmp_path / name
        shutil.copyfile(source, out[name])
    return out


def _fresh(pg_new_database, sample_index) -> str:
    """A new database whose embedding cache holds the sample corpus's vectors."""
    dsn = pg_new_database()
    seed_embedding_cache(dsn, sample_index)
    return dsn


def _indexes(conn) -> set[str]:
    return {r[0] for r in conn.execute(
        "SELECT indexname FROM pg_indexes WHERE tablename IN ('chunks', 'windows')")}


def _stored(dsn: str) -> dict:
    """Everything a reader can get from the store, as plain data (not who wrote it, or when)."""
    with connect(dsn) as conn:
        return {
            "documents": conn.execute(
                "SELECT file, status, pages FROM documents ORDER BY file").fetchall(),
            "chunks": conn.execute(
                "SELECT chunk_id, document, duplicate_of, closed, md5(text), tokens::text, "
                "n_tokens, vector::text FROM chunks ORDER BY chunk_id").fetchall(),
            "windows": conn.execute(
                "SELECT chunk_id, ord, md5(text), vector::text, closed FROM windows "
                "ORDER BY chunk_id, ord").fetchall(),
            "decisions": conn.execute(
                "SELECT document, punkt, md5(text), closed FROM decisions "
                "ORDER BY document, punkt, md5(text)").fetchall(),
            "term_df": conn.execute("SELECT term, df FROM term_df ORDER BY term").fetchall(),
            "listings": conn.execute(
                "SELECT * FROM closed_listings ORDER BY document, ord").fetchall(),
        }


def test_a_bulk_load_then_a_weekly_add_store_what_row_by_row_loading_stores(
        pg_new_database, sample_index, pg_embedder, files):
    first = [files[CLOSED_DOC], files[SMALL_DOC], files[MEETING]]
    later = [files["2024-05-09_TST_referat.txt"]]
    bulk_dsn = _fresh(pg_new_database, sample_index)
    plain_dsn = _fresh(pg_new_database, sample_index)
    during: list[tuple[bool, set[str]]] = []

    def look(claim) -> None:  # inside each document's transaction, from another connection
        with connect(bulk_dsn) as other:
            during.append((is_deferred(other), _indexes(other)))

    report = index_into_postgres(first, bulk_dsn, pg_embedder, "bulk", bulk=True,
                                 before_commit=look)
    assert report.bulk_load and report.index_build_s is not None and not report.errors
    assert len(during) == 3 and all(deferred and not idx & SEARCH for deferred, idx in during)
    with connect(bulk_dsn) as conn:
        assert not is_deferred(conn) and SEARCH <= _indexes(conn)
    plain = index_into_postgres(first, plain_dsn, pg_embedder, "plain", bulk=False)
    assert not plain.bulk_load and plain.index_build_s is None
    assert _stored(bulk_dsn) == _stored(plain_dsn)

    # the weekly add goes into the existing indexes: a store with rows is never bulk-loaded
    during.clear()
    again = index_into_postgres(later, bulk_dsn, pg_embedder, "weekly", bulk=True,
                                before_commit=look)
    assert not again.bulk_load and again.index_build_s is None and again.indexed == [later[0].name]
    assert during == [(False, during[0][1])] and SEARCH <= during[0][1]
    index_into_postgres(later, plain_dsn, pg_embedder, "plain")
    after = _stored(bulk_dsn)
    assert after == _stored(plain_dsn)
    assert any(dup is not None and doc == later[0].name  # judged against the bulk-loaded rows
               for _, doc, dup, *_ in after["chunks"])
    with connect(bulk_dsn) as conn:  # and the built graph is what a vector search uses
        conn.execute("SET enable_seqscan = off")
        plan = " ".join(r[0] for r in conn.execute(
            "EXPLAIN SELECT chunk_id FROM windows ORDER BY vector <#> "
            "(SELECT vector FROM windows LIMIT 1) LIMIT 5"))
        assert "windows_vector" in plan


def test_a_store_is_loaded_in_bulk_by_itself_only_when_empty_and_large(
        pg_new_database, sample_index, pg_embedder, files, monkeypatch):
    from indexer.pg import writer

    dsn = _fresh(pg_new_database, sample_index)
    small = index_into_postgres([files[SMALL_DOC]], dsn, pg_embedder, "w1")
    assert not small.bulk_load  # one document: row by row
    monkeypatch.setattr(writer, "BULK_MIN_DOCUMENTS", 1)
    more = index_into_postgres([files[MEETING]], dsn, pg_embedder, "w2")
    assert not more.bulk_load  # the store has rows: readers keep their indexes
    empty = _fresh(pg_new_database, sample_index)
    first = index_into_postgres([files[MEETING]], empty, pg_embedder, "w3")
    assert first.bulk_load and first.index_build_s is not None


def _public_reads_no_closed_text(dsn: str, login: str, closed_only: set[str]) -> int:
    """Raw SELECTs as a login that is only the public role; how many open chunks it read."""
    with connect(login) as public:
        texts = {r[0] for r in public.execute("SELECT text FROM chunks")}
        windows = {r[0] for r in public.execute("SELECT text FROM windows")}
        assert not texts & closed_only and not windows & closed_only
        assert public.execute("SELECT count(*) FROM chunks WHERE closed").fetchone()[0] == 0
        assert public.execute("SELECT count(*) FROM windows WHERE closed").fetchone()[0] == 0
        assert public.execute("SELECT count(*) FROM decisions WHERE closed").fetchone()[0] == 0
        for text in sorted(closed_only)[:5]:  # the full-text path, with or without its GIN index
            query = tsquery_literal(text, operator="&")
            if query is None:
                continue
            ids = {r[0] for r in public.execute(
                "SELECT chunk_id FROM open_term_matches(%s::tsquery)", (query,))}
            with connect(dsn) as owner:
                assert not owner.execute(
                    "SELECT count(*) FROM chunks WHERE closed AND chunk_id = ANY(%s)",
                    (list(ids),)).fetchone()[0]
        return len(texts)


def test_row_level_security_holds_while_the_indexes_are_deferred_and_after(
        pg_new_database, sample_index, pg_embedder, pg_login_role, files):
    dsn = _fresh(pg_new_database, sample_index)
    parsed = parse_file(files[CLOSED_DOC], sha256_file(files[CLOSED_DOC]), "structured",
                        DEFAULT_CHUNK_SIZE, DEFAULT_CHUNK_OVERLAP)
    open_texts = {c.text for c in parsed.chunks if not c.closed} | {
        w for c in parsed.chunks if not c.closed for w in c.windows}
    closed_only = ({c.text for c in parsed.chunks if c.closed} | {
        w for c in parsed.chunks if c.closed for w in c.windows}) - open_texts
    assert closed_only
    web: list[str] = []
    seen: list[int] = []

    def check(claim) -> None:  # the closed meeting is committed first; the memo is in hand
        if claim.file == SMALL_DOC:
            with connect(dsn) as conn:
                assert is_deferred(conn) and not _indexes(conn) & SEARCH
            if not web:
                web.append(pg_login_role(dsn, "kt_web_bulk", PUBLIC_ROLE))
            seen.append(_public_reads_no_closed_text(dsn, web[0], closed_only))

    report = index_into_postgres([files[CLOSED_DOC], files[SMALL_DOC]], dsn, pg_embedder, "w1",
                                 bulk=True, before_commit=check)
    assert report.bulk_load and report.index_build_s is not None and seen and seen[0] > 0
    assert _public_reads_no_closed_text(dsn, web[0], closed_only) > seen[0]


def test_a_worker_killed_during_a_bulk_load_loses_nothing(
        pg_new_database, sample_index, pg_embedder, tmp_path):
    dsn = _fresh(pg_new_database, sample_index)
    docs = [CORPUS / SMALL_DOC, CORPUS / CLOSED_DOC]
    with (doomed_worker(dsn, docs, tmp_path / "inside-transaction", bulk=True) as held,
          connect(dsn) as reader):  # nothing of the document in hand, indexes deferred
        assert reader.execute("SELECT count(*) FROM chunks").fetchone()[0] == 0
        assert is_deferred(reader) and not _indexes(reader) & SEARCH
    wait_for_release(dsn, held)

    # a worker that knows nothing of the bulk load finishes the queue and builds the indexes
    report = index_into_postgres(docs, dsn, pg_embedder, "survivor")
    assert sorted(report.indexed) == sorted(p.name for p in docs) and held in report.indexed
    assert report.index_build_s is not None
    expected = [c.chunk_id for p in docs for c in parse_file(
        p, sha256_file(p), "structured", DEFAULT_CHUNK_SIZE, DEFAULT_CHUNK_OVERLAP).chunks]
    with connect(dsn) as conn:
        assert sorted(r[0] for r in conn.execute("SELECT chunk_id FROM chunks")) == sorted(expected)
        assert not is_deferred(conn) and SEARCH <= _indexes(conn)
