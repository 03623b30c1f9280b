"""BM25 counts (indexer/postings.py): the scores made from them are bit for bit bm25s's, and
counts updated with passages gone and come equal counts made afresh."""

from __future__ import annotations

import random

import bm25s
import numpy as np
import pytest

from indexer.lexical import LexicalIndex, lexical_text, read_postings, write_lexical
from indexer.postings import EMPTY_TOKEN, Postings
from indexer.store import IndexReader
from kommunesoeg.core.textnorm import tokenize

pytest_plugins = ["fixtures_index"]


@pytest.fixture(scope="module")
def sample_tokens(sample_index) -> tuple[list[str], list[list[str]]]:
    canonical = [c for c in IndexReader.open(sample_index).chunks if c.duplicate_of is None]
    tokens = [tokenize(lexical_text(c)) for c in canonical]
    tokens[3] = []  # a passage without tokens, as a page of numbers can be
    return [c.chunk_id for c in canonical], tokens


def score_table(vocab: list[str] | dict[str, int], data, indices, indptr) -> dict[tuple[str, int], bytes]:
    """(term, row) -> the stored score's bytes, whatever the order of the vocabulary."""
    terms = dict(enumerate(vocab)) if isinstance(vocab, list) else {i: t for t, i in vocab.items()}
    return {(terms[t], int(indices[j])): data[j].tobytes()
            for t in range(len(indptr) - 1) for j in range(indptr[t], indptr[t + 1])}


def test_scores_are_bm25s_scores_bit_for_bit(sample_tokens):
    _, tokens = sample_tokens
    model = bm25s.BM25(k1=1.2, b=0.75)
    model.index([t or [EMPTY_TOKEN] for t in tokens], show_progress=False)
    expected = score_table(model.vocab_dict, model.scores["data"], model.scores["indices"],
                           model.scores["indptr"])
    postings = Postings.of(tokens)
    assert score_table(postings.vocab, postings.scores(), postings.docs, postings.indptr) == expected


def test_updated_counts_equal_counts_made_afresh(sample_tokens):
    _, tokens = sample_tokens
    rng = random.Random(12)
    before = Postings.of(tokens)
    n = len(tokens)
    for trial in range(4):
        kept_old = sorted(rng.sample(range(n), n - 25))  # 25 passages leave
        total = len(kept_old) + 30
        fresh_rows = sorted(rng.sample(range(total), 30))  # 30 come, anywhere in the order
        kept_new = [r for r in range(total) if r not in set(fresh_rows)]
        new_of_old = np.full(n, -1)
        new_of_old[kept_old] = kept_new
        added = [(row, [*tokens[rng.randrange(n)], f"nyord{trial}"]) for row in fresh_rows]
        after = before.updated(new_of_old, added, total)
        lineup: list[list[str]] = [[] for _ in range(total)]
        for old, new in zip(kept_old, kept_new):
            lineup[new] = tokens[old]
        for row, toks in added:
            lineup[row] = toks
        fresh = Postings.of(lineup)
        assert sorted(after.vocab) == sorted(fresh.vocab)  # terms whose passages all left are gone
        assert np.array_equal(after.doc_len, fresh.doc_len)
        assert (score_table(after.vocab, after.scores(), after.docs, after.indptr)
                == score_table(fresh.vocab, fresh.scores(), fresh.docs, fresh.indptr))


def test_kept_passages_must_keep_their_order(sample_tokens):
    _, tokens = sample_tokens
    postings = Postings.of(tokens[:5])
    with pytest.raises(ValueError, match="order"):
        postings.updated(np.array([1, 0, 2, 3, 4]), [], 5)


def test_written_index_reads_back_and_scores_as_bm25s(sample_tokens, tmp_path):
    ids, tokens = sample_tokens
    postings = Postings.of(tokens)
    write_lexical(postings, ids, tmp_path / "bm25")
    found = read_postings(tmp_path / "bm25")
    assert found is not None and found[1] == ids
    back = found[0]
    assert back.vocab == postings.vocab and np.array_equal(back.docs, postings.docs)
    assert np.array_equal(back.tf, postings.tf) and np.array_equal(back.doc_len, postings.doc_len)
    model = bm25s.BM25(k1=1.2, b=0.75)
    model.index([t or [EMPTY_TOKEN] for t in tokens], show_progress=False)
    lexical = LexicalIndex(tmp_path / "bm25", tmp_path)
    for query in ("Opgang til Opgang", "EMN-2023-000692", "klimavenlig mad i daginstitutioner"):
        terms = [t for t in tokenize(query, query=True) if t in model.vocab_dict]
        assert np.array_equal(lexical.scores(query), model.get_scores(terms)), query


def test_counts_that_do_not_fit_read_as_none(sample_tokens, tmp_path):
    ids, tokens = sample_tokens
    write_lexical(Postings.of(tokens), ids, tmp_path / "bm25")
    np.save(tmp_path / "bm25" / "doc_len.npy", np.ones(3, dtype=np.int32))
    assert read_postings(tmp_path / "bm25") is None  # the build then counts every passage
    (tmp_path / "bm25" / "tf.npy").unlink()
    assert read_postings(tmp_path / "bm25") is None
