"""`kommunesoeg index --index postgresql://...` (issue 13): the file build's UX against the
test server, pruning, and giving up on a document whose workers keep dying."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from kommunesoeg.cli import cli

pytest_plugins = ["fixtures_pg"]
psycopg = pytest.importorskip(
    "psycopg", reason="PostgreSQL-tests kræver ekstraen: pip install -e '.[postgres]'")

from indexer.pg.connect import connect
from indexer.pg.queue import MAX_ATTEMPTS, claim_next, enqueue
from indexer.pg.schema import migrate
from indexer.pg.writer import default_worker_id, index_into_postgres

DATA = Path(__file__).resolve().parent / "data"
FILES = ("seed-002_notat.txt", "2024-05-02_TST_raadmandsmoede.txt")


@pytest.fixture(autouse=True)
def _session_model(monkeypatch, pg_embedder):
    """The CLI loads the session's model (the default one, its vectors reused across tests)."""
    monkeypatch.delenv("KOMMUNESOEG_INDEX", raising=False)
    monkeypatch.setattr("indexer.embed.get_embedder", lambda spec=None: pg_embedder)


@pytest.fixture
def corpus(tmp_path) -> Path:
    folder = tmp_path / "corpus"
    folder.mkdir()
    for name in FILES:
        shutil.copyfile(DATA / name, folder / name)
    return folder


def run(*args: str | Path, env: dict[str, str] | None = None):
    result = CliRunner().invoke(cli, ["index", *map(str, args), "--no-progress"], env=env)
    return result, result.output


def test_index_into_a_dsn_then_nothing_to_do(pg_dsn, corpus):
    result, out = run(corpus, "--index", pg_dsn, "--worker-id", "cli-1")
    assert result.exit_code == 0, out
    assert "Indekserede 2 dokument(er), 0 uændrede" in out and "arbejder cli-1" in out
    with connect(pg_dsn) as conn:
        owners = dict(conn.execute("SELECT file, indexed_by FROM documents").fetchall())
    assert owners == {name: "cli-1" for name in FILES}
    # KOMMUNESOEG_INDEX names the database as the file path does; a second run has no work
    result, out = run(corpus, env={"KOMMUNESOEG_INDEX": pg_dsn})
    assert result.exit_code == 0, out
    assert "Indekserede 0 dokument(er), 2 uændrede" in out and "0 tekster indlejret" in out


def test_a_bad_file_is_one_line_the_rest_is_indexed_exit_1(pg_dsn, corpus, data_dir):
    bad = min((data_dir / "corpus-bad").glob("*.pdf"))
    shutil.copyfile(bad, corpus / bad.name)
    result, out = run(corpus, corpus / "findes-ikke.pdf", "--index", pg_dsn)
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), out
    assert "Traceback" not in out
    errors = [line for line in out.splitlines() if line.startswith("FEJL: ")]
    assert len(errors) == 2 and any(bad.name in e for e in errors), out
    assert any("findes-ikke.pdf" in e for e in errors)
    assert "Indekserede 2 dokument(er)" in out and "2 fil(er) fejlede" in out


def test_only_bad_files_is_nothing_indexed(pg_dsn, tmp_path, data_dir):
    bad = min((data_dir / "corpus-bad").glob("*.pdf"))
    result, out = run(bad, "--index", pg_dsn)
    assert result.exit_code == 1, out
    final = [line for line in out.splitlines() if line.startswith("Error: ")]
    assert len(final) == 1 and "Ingen af filerne" in final[0], out


def test_a_bad_dsn_is_one_line_without_the_password(tmp_path, corpus):
    dsn = "postgresql://kommune:hemmelig@/ingen?host=/nonexistent-socket-dir"
    result, out = run(corpus, "--index", dsn)
    assert result.exit_code == 1, out
    assert "Traceback" not in out and "hemmelig" not in out
    lines = out.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: Kan ikke forbinde til PostgreSQL"), out


def test_a_folder_index_still_refuses_a_file(tmp_path, corpus):
    path = tmp_path / "index.txt"
    path.write_text("x")
    result, out = run(corpus, "--index", path)
    assert result.exit_code == 2 and "index.txt" in out  # click's usage error, as before


def test_prune_removes_documents_not_among_the_inputs(pg_dsn, corpus):
    assert run(corpus, "--index", pg_dsn)[0].exit_code == 0
    (corpus / FILES[1]).unlink()
    result, out = run(corpus, "--index", pg_dsn, "--prune")
    assert result.exit_code == 0, out
    assert f"Fjernet fra indekset: {FILES[1]}" in out and "1 fjernet; 1 i alt" in out
    with connect(pg_dsn) as conn:
        assert [r[0] for r in conn.execute("SELECT file FROM documents")] == [FILES[0]]
        docs = {r[0] for r in conn.execute("SELECT DISTINCT document FROM chunks")}
        assert docs == {FILES[0]}
        assert conn.execute("SELECT count(*) FROM decisions WHERE document = %s",
                            (FILES[1],)).fetchone()[0] == 0
    # without --prune the others stay
    only = corpus.parent / "only"
    only.mkdir()
    shutil.copyfile(DATA / FILES[1], only / FILES[1])
    assert run(only, "--index", pg_dsn)[0].exit_code == 0
    with connect(pg_dsn) as conn:
        assert conn.execute("SELECT count(*) FROM documents").fetchone()[0] == 2


def test_default_worker_id_is_host_and_pid():
    import os
    import socket

    assert default_worker_id() == f"{socket.gethostname()}:{os.getpid()}"


# ------------------------------------------------------------------ attempts
def test_a_document_whose_workers_keep_dying_is_given_up(pg_dsn, corpus, pg_embedder):
    with connect(pg_dsn) as conn, connect(pg_dsn, autocommit=True) as tally:
        migrate(conn)
        enqueue(conn, [("doomed.pdf", "d" * 64, 1)])
        for attempt in range(MAX_ATTEMPTS):  # a worker claims it and dies (its rollback)
            claim = claim_next(conn, f"w{attempt}", tally=tally)
            assert claim is not None and claim.file == "doomed.pdf"
            conn.rollback()
        assert claim_next(conn, "w-last", tally=tally) is None  # given up, not handed out
        status, error = conn.execute(
            "SELECT status, error FROM documents WHERE file = 'doomed.pdf'").fetchone()
        assert status == "error" and f"afbrudt {MAX_ATTEMPTS} gange" in error and "\n" not in error
        conn.rollback()
        # a changed file is queued again, its count starting over
        enqueue(conn, [("doomed.pdf", "e" * 64, 2)])
        assert claim_next(conn, "w-new", tally=tally).file == "doomed.pdf"
        conn.rollback()


def test_a_committed_document_clears_its_count(pg_dsn, corpus, pg_embedder):
    path = corpus / FILES[0]
    from indexer.store import sha256_file

    with connect(pg_dsn) as conn, connect(pg_dsn, autocommit=True) as tally:
        migrate(conn)
        enqueue(conn, [(path.name, sha256_file(path), path.stat().st_size)])
        for _ in range(MAX_ATTEMPTS - 1):
            assert claim_next(conn, "dies", tally=tally) is not None
            conn.rollback()
    report = index_into_postgres([path], pg_dsn, pg_embedder, "survivor")
    assert report.indexed == [path.name] and not report.errors
    with connect(pg_dsn) as conn:
        assert conn.execute("SELECT count(*) FROM claim_attempts").fetchone()[0] == 0


def test_the_judgement_before_the_lock_is_reused_only_while_nothing_was_committed(
        pg_dsn, corpus, pg_embedder, monkeypatch):
    """A worker judges a document's near-duplicates before taking the lock (to embed what
    will be canonical); under the lock that judgement is reused unless another document was
    committed meanwhile - then it is made again, on what is stored now."""
    from indexer.pg import writer

    calls: list[str] = []
    real_judge = writer.judge

    def counting(conn, document, chunks, orphans=(), features=None):
        calls.append(document)
        return real_judge(conn, document, chunks, orphans, features)

    monkeypatch.setattr(writer, "judge", counting)
    first, second = sorted(corpus.iterdir())
    index_into_postgres([first], pg_dsn, pg_embedder, "w1")
    assert calls == [first.name]  # one judgement, reused under the lock

    calls.clear()
    other = [second]

    def meanwhile(claim) -> None:  # another worker's commit between the judgement and the lock
        if other:
            index_into_postgres([other.pop()], pg_dsn, pg_embedder, "w-other")

    real_write = writer.write_document

    def write_after_other(conn, claim, parsed, embed, **kwargs):
        meanwhile(claim)
        return real_write(conn, claim, parsed, embed, **kwargs)

    monkeypatch.setattr(writer, "write_document", write_after_other)
    changed = corpus / first.name
    changed.write_text(changed.read_text(encoding="utf-8") + "\nÆndret.\n", encoding="utf-8")
    index_into_postgres([changed], pg_dsn, pg_embedder, "w1")
    assert calls.count(first.name) == 2  # before the lock, and again under it
    with connect(pg_dsn) as conn:
        assert conn.execute("SELECT count(*) FROM documents WHERE status = 'ok'").fetchone()[0] == 2
