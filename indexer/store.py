"""The index directory: immutable generations, SQLite metadata, FAISS, embedding cache.

Layout (ARCHITECTURE.md):

    DIR/current -> gen-...      symlink, swapped atomically (os.replace of a temp symlink)
    DIR/gen-.../                manifest.json (written last), meta.sqlite, columns/,
                                dense.faiss, chunks.faiss, bm25/
    DIR/embcache.sqlite         (model_id, sha1(text)) -> vector
    DIR/lock                    flock: one writer at a time

Why generations: a reader resolves `current` once and then only reads files nobody writes
again, so search keeps working during a build, and a build killed at any instant leaves
`current` pointing at the last complete generation. A generation is complete exactly when
its manifest.json exists, which is written (and fsynced) after everything else.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import math
import os
import re
import secrets
import shutil
import sqlite3
import tempfile
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Self, TypeVar

import faiss
import numpy as np

from indexer.columns import COLUMNS_DIR, ChunkColumns, IdsAt, read_columns
from indexer.meta_lazy import (
    DECISION_COLUMNS,
    DECISIONS_SQL,
    ChunksById,
    ChunkTexts,
    StoredDecisions,
    WindowTexts,
    chunk_from_row,
    connect_ro,
    decision_from_values,
)
from indexer.settings import FAISS_KINDS
from indexer.threads import default_threads
from kommunesoeg.core.errors import (
    DiskFull,
    IndexDamaged,
    IndexFileDamaged,
    IndexLocked,
    IndexNotFound,
    KommunesoegError,
    ModelMismatch,
    ReadOnlyIndex,
)
from kommunesoeg.core.models import Chunk, Decision
from kommunesoeg.core.results import ClosedListing

_T = TypeVar("_T")

CURRENT = "current"
MANIFEST = "manifest.json"
META = "meta.sqlite"
DENSE = "dense.faiss"
CHUNK_DENSE = "chunks.faiss"
BM25_DIR = "bm25"
EMBCACHE = "embcache.sqlite"
LOCK = "lock"
GEN_PREFIX = "gen-"
FORMAT_VERSION = 1

HNSW_M = 32
DEFAULT_EF_SEARCH = 128  # eval/bench_search.py: 64 gives Recall@10 0.94 at 1M vectors, 128 gives 0.96
DEFAULT_NPROBE = 16  # the least an IVF search probes (eval/bench_search.py: Recall@10 0.97)
# An IVF search probes at least this share of its lists. Measured on the synthetic archive
# (eval/bench_archive.py, ivf-sq8), dev questions' Recall@5 / MRR@10 by lists probed:
# 100,000 chunks (2,148 window lists): 16 -> 0.562/0.440, 64 -> 0.875/0.705, 256 -> 0.938/0.818
# (every list: the same), flat 1.000/0.872; 300,000 chunks (3,729): 16 -> 0.562/0.506,
# 1/16 -> 0.688/0.674, 1/8 -> 0.750/0.738, every list 0.875/0.863. An archive is dense with
# near-identical windows, so a question's evidence often lies outside its 16 nearest lists;
# the 8-bit codes are not what costs (re-ranking candidates by exact vectors changed
# nothing at either size). 1/8 costs search p50 37 -> 49 ms at 300,000 chunks.
IVF_PROBE_SHARE = 1 / 8
BUILD_HINT = "kommunesoeg index corpus/"

_SCHEMA = """
CREATE TABLE documents (
    file TEXT PRIMARY KEY, sha256 TEXT, size INTEGER, pages INTEGER, ocr_pages INTEGER,
    meeting TEXT, committee TEXT, date TEXT, time TEXT, place TEXT, participants_json TEXT,
    status TEXT NOT NULL, error TEXT
);
CREATE TABLE chunks (
    chunk_id TEXT PRIMARY KEY, vec_row INTEGER, document TEXT NOT NULL, meeting TEXT,
    committee TEXT, date TEXT, punkt INTEGER, punkt_title TEXT, bilag INTEGER,
    bilag_title TEXT, section TEXT, page_start INTEGER, page_end INTEGER,
    closed INTEGER NOT NULL, ocr INTEGER NOT NULL, case_number TEXT, text TEXT NOT NULL,
    header TEXT NOT NULL, duplicate_of TEXT, ord INTEGER NOT NULL, windows_json TEXT NOT NULL
);
CREATE TABLE windows (vec_row INTEGER PRIMARY KEY, chunk_id TEXT NOT NULL, text TEXT NOT NULL);
CREATE TABLE decisions (
    document TEXT NOT NULL, meeting TEXT, committee TEXT, date TEXT, punkt INTEGER,
    punkt_title TEXT, text TEXT, outcome TEXT, followups_json TEXT, closed INTEGER NOT NULL,
    page INTEGER, chunk_id TEXT
);
CREATE TABLE sketches (chunk_id TEXT PRIMARY KEY, keys BLOB NOT NULL);
CREATE TABLE term_df (term TEXT PRIMARY KEY, df INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE closed_listings (
    ord INTEGER PRIMARY KEY, document TEXT NOT NULL, meeting TEXT NOT NULL, date TEXT,
    punkt INTEGER NOT NULL, title TEXT NOT NULL, page INTEGER NOT NULL
);
CREATE INDEX chunks_document ON chunks(document);
CREATE INDEX decisions_document ON decisions(document);
CREATE INDEX decisions_chunk ON decisions(chunk_id);
"""

_CHUNK_COLUMNS = (
    "chunk_id", "vec_row", "document", "meeting", "committee", "date", "punkt", "punkt_title",
    "bilag", "bilag_title", "section", "page_start", "page_end", "closed", "ocr",
    "case_number", "text", "header", "duplicate_of", "ord", "windows_json",
)
_DOCUMENT_COLUMNS = (
    "file", "sha256", "size", "pages", "ocr_pages", "meeting", "committee", "date", "time",
    "place", "participants_json", "status", "error",
)


def embedding_text(header: str, text: str) -> str:
    """What gets embedded for a chunk or a window: its context line, then the text."""
    return f"{header}\n{text}" if header else text


def text_key(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------- file safety
def sha256_file(path: Path) -> str:
    """Content hash of an input file: what makes indexing incremental and uploads versioned."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_tree(root: Path) -> None:
    """fsync every file and directory under root, so a power cut cannot leave a generation
    whose manifest made it to disk but whose data did not."""
    for dirpath, _dirnames, filenames in os.walk(root):
        for name in filenames:
            fsync_path(Path(dirpath) / name)
        fsync_path(Path(dirpath))


def write_json_atomic(path: Path, data: dict) -> None:
    atomic_write(path, json.dumps(data, ensure_ascii=False, indent=2).encode("utf-8"))


def atomic_write(target: Path, data: bytes) -> None:
    """Write `data` to `target` via a temporary file in the same folder and os.replace, so a
    reader (or a crash) sees the old file or the new one, never a partial one."""
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_path(target.parent)


# --------------------------------------------------------------------------- write errors
_SQLITE_CORRUPT, _SQLITE_NOTADB = 11, 26
_SQLITE_FULL, _SQLITE_READONLY, _SQLITE_CANTOPEN = 13, 8, 14
_READ_ONLY_ERRNOS = (errno.EROFS, errno.EACCES, errno.EPERM)
_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)


def _sqlite_code(exc: BaseException) -> int:
    """Primary SQLite result code of an sqlite3 error (0 when it has none)."""
    return int(getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF


def disk_full_message(index_dir: Path) -> str:
    return (
        f"Disken er fuld: den nye udgave af indekset i {index_dir} kunne ikke skrives. "
        "Det hidtidige indeks bruges stadig; frigør plads og kør indekseringen igen"
    )


def translate_write_error(exc: BaseException, index_dir: Path) -> KommunesoegError | None:
    """The domain error for a failed write into the index directory, or None when `exc`
    is not one a user can do something about (a full disk, a read-only folder).

    FAISS reports a failed write as RuntimeError with the C library's message, SQLite as
    sqlite3.OperationalError with a result code, Python as OSError with an errno."""
    if isinstance(exc, KommunesoegError):
        return exc
    full = (
        (isinstance(exc, OSError) and exc.errno in _FULL_ERRNOS)
        or (isinstance(exc, sqlite3.Error) and _sqlite_code(exc) == _SQLITE_FULL)
        or (isinstance(exc, RuntimeError) and "No space left on device" in str(exc))
    )
    if full:
        return DiskFull(disk_full_message(index_dir))
    read_only = (
        (isinstance(exc, OSError) and exc.errno in _READ_ONLY_ERRNOS)
        or (isinstance(exc, sqlite3.Error) and _sqlite_code(exc) in (_SQLITE_READONLY, _SQLITE_CANTOPEN))
        or (isinstance(exc, RuntimeError) and ("Read-only file system" in str(exc) or "Permission denied" in str(exc)))
    )
    if read_only:
        return ReadOnlyIndex(
            f"{index_dir}: indeksmappen er skrivebeskyttet ({exc}); indeksering kræver skriveadgang - "
            "søgning virker stadig"
        )
    return None


# --------------------------------------------------------------------------- lock
# What a Kommunesøg index directory holds (ARCHITECTURE.md). Anything else in a folder
# without these means `--index` points at someone else's folder.
_INDEX_ENTRIES = ("current", "lock", "embcache.sqlite", "audit.jsonl")
_GEN_NAME = re.compile(r"^gen-\d{8}T\d{6}-[0-9a-f]{6}$")


def check_index_dir(index_dir: Path) -> None:
    """Refuse an `--index` that is a file, or a non-empty folder that is not an index: a
    build must never write into (or garbage-collect) a folder of other files."""
    index_dir = Path(index_dir)
    if index_dir.exists() and not index_dir.is_dir():
        raise IndexDamaged(f"--index {index_dir}: er en fil, ikke en indeksmappe; vælg en mappe")
    if not index_dir.is_dir():
        return
    names = [e.name for e in index_dir.iterdir() if not e.name.startswith(".")]
    is_index = any(n in _INDEX_ENTRIES or n.startswith("embcache.sqlite") or _GEN_NAME.match(n) for n in names)
    if names and not is_index:
        raise IndexDamaged(
            f"--index {index_dir}: mappen indeholder andre filer og er ikke et Kommunesøg-indeks; "
            "vælg en ny eller tom mappe (intet er ændret)"
        )


class WriteLock:
    """Exclusive flock on DIR/lock. The kernel drops it when the process dies, so a killed
    build never leaves a stale lock behind. Taking it is also the first write into DIR, so
    this is where a wrong `--index`, a read-only folder and a second build are refused."""

    def __init__(self, index_dir: Path) -> None:
        self.path = Path(index_dir) / LOCK
        self._fh = None
        self._created = False

    def __enter__(self) -> Self:
        index_dir = self.path.parent
        check_index_dir(index_dir)
        try:
            self._created = not index_dir.exists()
            index_dir.mkdir(parents=True, exist_ok=True)
            self._fh = open(self.path, "a+")
        except (NotADirectoryError, FileExistsError):
            raise IndexDamaged(f"--index {index_dir}: en del af stien er en fil, ikke en mappe") from None
        except OSError as exc:
            raise translate_write_error(exc, index_dir) or exc from None
        try:
            fcntl.flock(self._fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._fh.close()
            self._fh = None
            raise IndexLocked(
                f"{index_dir}: indekset er låst af en anden indeksering (en anden indeksering "
                "skriver allerede til indekset); vent til den er færdig, og prøv igen"
            ) from None
        return self

    def __exit__(self, *exc) -> None:
        if self._fh is not None:
            # A folder this lock created for a build that published nothing (no usable
            # input, full disk) is removed again: no half index is left behind.
            if self._created and not os.path.lexists(self.path.parent / CURRENT):
                shutil.rmtree(self.path.parent, ignore_errors=True)
            fcntl.flock(self._fh.fileno(), fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None


# --------------------------------------------------------------------------- generations
def current_generation(index_dir: Path) -> Path | None:
    """The complete generation `current` points at, or None."""
    link = Path(index_dir) / CURRENT
    try:
        target = os.readlink(link)
    except OSError:
        return None
    gen_dir = Path(index_dir) / target
    return gen_dir if (gen_dir / MANIFEST).is_file() else None


def new_generation_dir(index_dir: Path) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    gen_dir = Path(index_dir) / f"{GEN_PREFIX}{stamp}-{secrets.token_hex(3)}"
    gen_dir.mkdir(parents=True)
    return gen_dir


def publish_generation(index_dir: Path, gen_dir: Path, manifest: dict) -> None:
    """Make gen_dir the current generation: data fsynced, manifest last, then the swap."""
    fsync_tree(gen_dir)
    write_json_atomic(gen_dir / MANIFEST, manifest)
    tmp_link = Path(index_dir) / f".{CURRENT}.{secrets.token_hex(4)}"
    os.symlink(gen_dir.name, tmp_link)  # relative: the index directory can be moved
    os.replace(tmp_link, Path(index_dir) / CURRENT)
    fsync_path(Path(index_dir))


def collect_garbage(index_dir: Path, keep: Iterable[Path]) -> list[str]:
    """Remove generations and temp links not in `keep` (stray dirs of killed builds, and
    generations older than the previous one). Returns the removed names."""
    keep_names = {Path(p).name for p in keep if p is not None}
    removed = []
    for entry in Path(index_dir).iterdir():
        if entry.name.startswith(f".{CURRENT}.") and entry.is_symlink():
            entry.unlink(missing_ok=True)
            removed.append(entry.name)
        # Only names this module makes: a foreign "gen-notes/" folder is never deleted.
        elif _GEN_NAME.match(entry.name) and entry.name not in keep_names and entry.is_dir() \
                and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry.name)
    return removed


# --------------------------------------------------------------------------- embedding cache
class EmbeddingCache:
    """(model_id, sha1(text)) -> float32 vector, shared by all generations; and, in a table
    of its own, (tokenizer code, sha1(text)) -> the BM25 tokens of a passage, because
    tokenising every passage again was the largest part of adding a meeting to an archive
    (27 of 67 s at 100,000 chunks).

    Committed per batch, so a build killed half-way keeps what it already paid for and the
    next build only embeds the rest. It is only a cache: a damaged file (garbage bytes, a
    malformed page) is moved aside as `embcache.sqlite.corrupt-<time>` and started afresh,
    with a line in `warnings`, instead of failing this and every later build.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.warnings: list[str] = []
        try:
            self.db = self._open()
        except sqlite3.DatabaseError as exc:
            self._recover(exc)

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute(
                "CREATE TABLE IF NOT EXISTS emb (model TEXT NOT NULL, sha1 TEXT NOT NULL, "
                "vec BLOB NOT NULL, PRIMARY KEY (model, sha1)) WITHOUT ROWID"
            )
            db.execute(
                "CREATE TABLE IF NOT EXISTS tok (code TEXT NOT NULL, sha1 TEXT NOT NULL, "
                "tokens TEXT NOT NULL, PRIMARY KEY (code, sha1)) WITHOUT ROWID"
            )
            db.execute(
                "CREATE TABLE IF NOT EXISTS filehash (path TEXT NOT NULL PRIMARY KEY, "
                "signature TEXT NOT NULL, sha256 TEXT NOT NULL) WITHOUT ROWID"
            )
            db.commit()
        except BaseException:
            db.close()
            raise
        return db

    def _recover(self, exc: sqlite3.DatabaseError) -> None:
        """Corruption: move the file (and its -wal/-shm) aside and open a fresh cache.
        A full disk or a read-only folder becomes its domain error instead."""
        if _sqlite_code(exc) not in (_SQLITE_CORRUPT, _SQLITE_NOTADB):
            raise translate_write_error(exc, self.path.parent) or exc
        if getattr(self, "db", None) is not None:
            self.db.close()
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        aside = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        if aside.exists():
            aside = aside.with_name(f"{aside.name}-{secrets.token_hex(2)}")
        try:
            os.replace(self.path, aside)
            for suffix in ("-wal", "-shm"):
                side = self.path.with_name(self.path.name + suffix)
                if side.exists():
                    os.replace(side, aside.with_name(aside.name + suffix))
        except OSError as move_exc:
            raise translate_write_error(move_exc, self.path.parent) or move_exc from exc
        self.warnings.append(
            f"{self.path.name} var beskadiget ({exc}); flyttet til {aside.name}, og cachen "
            "bygges forfra (tekster indlejres igen)"
        )
        self.db = self._open()

    def _read(self, read: Callable[[sqlite3.Connection], _T], empty: _T) -> _T:
        """A read of the cache; a damaged file is set aside (`_recover`) and reads as
        `empty`: for a cache, damage is only a miss."""
        try:
            return read(self.db)
        except sqlite3.DatabaseError as exc:
            self._recover(exc)
            return empty

    def get_many(self, model_id: str, keys: Sequence[str], dim: int | None = None) -> dict[str, np.ndarray]:
        return self._read(lambda db: _select_vectors(db, model_id, keys, dim), {})

    def cached_keys(self, model_id: str, keys: Sequence[str]) -> set[str]:
        """Which of `keys` the cache holds, without reading their vectors: a build of an
        archive asks about millions of texts and must not hold them all as arrays."""
        return self._read(lambda db: _select_keys(db, model_id, keys), set())

    def put_many(self, model_id: str, keys: Sequence[str], vectors: np.ndarray) -> None:
        rows = [(model_id, k, v.tobytes()) for k, v in zip(keys, np.asarray(vectors, dtype=np.float32))]
        self._put_rows("INSERT OR REPLACE INTO emb (model, sha1, vec) VALUES (?, ?, ?)", rows)

    def get_tokens(self, code: str, keys: Sequence[str]) -> dict[str, list[str]]:
        """text key -> its tokens, as made by the tokenizer whose source fingerprint is
        `code` (a changed tokenizer misses every entry, so nothing stale is reused)."""
        query = "SELECT sha1, tokens FROM tok WHERE code = ? AND sha1 IN ({})"
        return self._read(lambda db: {key: text.split(" ") if text else []
                                      for key, text in _rows_by_key(db, query, code, keys)}, {})

    def put_tokens(self, code: str, tokens: Mapping[str, list[str]]) -> None:
        """Store tokens by text key (tokens never hold a space: `textnorm.tokenize`)."""
        rows = [(code, key, " ".join(t)) for key, t in tokens.items()]
        self._put_rows("INSERT OR REPLACE INTO tok (code, sha1, tokens) VALUES (?, ?, ?)", rows)

    def get_file_hashes(self, signatures: Mapping[str, str]) -> dict[str, str]:
        """path -> the sha256 recorded for the file at `path` when its stat signature was
        the one given (`indexer.filehash`); paths recorded with another signature miss."""
        query = "SELECT path, signature, sha256 FROM filehash WHERE path IN ({})"
        return self._read(lambda db: {
            path: sha for path, signature, sha in _rows_by_key(db, query, None, list(signatures))
            if signatures[path] == signature}, {})

    def put_file_hashes(self, hashes: Mapping[str, tuple[str, str]]) -> None:
        """Record path -> (stat signature, sha256)."""
        rows = [(path, signature, sha) for path, (signature, sha) in hashes.items()]
        self._put_rows("INSERT OR REPLACE INTO filehash (path, signature, sha256) VALUES (?, ?, ?)", rows)

    def keep_file_hashes(self, paths: Collection[str]) -> None:
        """Forget the recorded hashes of every path but `paths`."""
        stale = [(path,) for (path,) in self._read(
            lambda db: db.execute("SELECT path FROM filehash").fetchall(), []) if path not in paths]
        if stale:
            self._put_rows("DELETE FROM filehash WHERE path = ?", stale)

    def _put_rows(self, sql: str, rows: list[tuple]) -> None:
        try:
            self._put(sql, rows)
        except sqlite3.DatabaseError as exc:
            self._recover(exc)  # raises unless the file was corrupt; then one retry on the fresh file
            self._put(sql, rows)

    def _put(self, sql: str, rows: list[tuple]) -> None:
        try:
            self.db.executemany(sql, rows)
            self.db.commit()
        except BaseException:
            try:
                self.db.rollback()
            except sqlite3.Error:
                pass  # a damaged file may refuse even that; the original error says more
            raise

    def close(self) -> None:
        self.db.close()


def read_cached_vectors(path: Path, model_id: str, texts: Sequence[str]) -> dict[str, np.ndarray]:
    """text -> the vector the build stored for it (embedding cache at `path`), for the texts
    found. Read-only and a connection per call, so any reader thread may ask, on read-only
    media too; a missing or unreadable cache is only a miss (the caller embeds instead)."""
    by_key = {text_key(t): t for t in texts}
    if not by_key or not Path(path).is_file():
        return {}
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error:
        return {}
    try:
        found = _select_vectors(db, model_id, list(by_key))
    except sqlite3.Error:
        return {}
    finally:
        db.close()
    return {by_key[key]: vec for key, vec in found.items()}


def _rows_by_key(db: sqlite3.Connection, query: str, scope: str | None,
                 keys: Sequence[str]) -> Iterator[tuple]:
    """The rows of `query` ("... WHERE <scope column> = ? AND sha1 IN ({})", or without the
    scope when `scope` is None) for `keys`: 500 keys a query (SQLite's bound-parameter
    limit), in key order - neighbouring pages of the cache's B-tree, 2.5 times faster than
    the order a build asks in (100,000 look-ups 2.75 -> 1.04 s)."""
    unique = sorted(set(keys))
    scoped = [] if scope is None else [scope]
    for start in range(0, len(unique), 500):
        part = unique[start : start + 500]
        yield from db.execute(query.format(",".join("?" * len(part))), [*scoped, *part])


def _select_keys(db: sqlite3.Connection, model_id: str, keys: Sequence[str]) -> set[str]:
    """The keys among `keys` the cache holds."""
    return {key for (key,) in _rows_by_key(
        db, "SELECT sha1 FROM emb WHERE model = ? AND sha1 IN ({})", model_id, keys)}


def _select_vectors(db: sqlite3.Connection, model_id: str, keys: Sequence[str],
                    dim: int | None = None) -> dict[str, np.ndarray]:
    """text key -> vector for the keys the cache holds (of `dim` values, when given): the
    build's cache and the retriever's read-only lookup share it."""
    found: dict[str, np.ndarray] = {}
    for key, blob in _rows_by_key(
            db, "SELECT sha1, vec FROM emb WHERE model = ? AND sha1 IN ({})", model_id, keys):
        vec = np.frombuffer(blob, dtype=np.float32)
        if dim is None or vec.shape[0] == dim:
            found[key] = vec
    return found


# --------------------------------------------------------------------------- FAISS
def make_faiss_index(vectors: np.ndarray, dim: int, kind: str = "flat",
                     previous: tuple[faiss.Index, dict] | None = None) -> tuple[faiss.Index, dict]:
    """Exact inner product by default; HNSW / IVF for corpora where exact search is slow,
    and IVF over 8-bit codes ("ivf-sq8") where the vectors must also shrink.

    Why "ivf-sq8": float32 vectors of a ten-year archive (~3 million windows + 1 million
    chunks, 384 dimensions) are ~5.9 GB that a reader holds in memory; one byte per
    dimension (FAISS's scalar quantizer, per-dimension ranges learned from the vectors)
    is a quarter of that, and the inverted lists make a search read ~nprobe/nlist of them.

    `previous` is the previous generation's index of these vectors with its settings: an
    IVF index takes its trained centroids (and code ranges) from it while the collection
    stays within half to twice the size they were trained on, so adding a meeting to an
    archive does not run k-means over every vector again (at 100,000 chunks that was more
    than half of the 113 s an added meeting took).

    Returns the index and its settings for the manifest (which the reader re-applies:
    search-time parameters such as efSearch/nprobe are not stored in the FAISS file).
    """
    # FAISS plans its OpenMP work for its own thread count, which ignores OMP_THREAD_LIMIT:
    # with the limit at 1 (as the OCR setup advises) training the 8-bit codes hangs, as a
    # flat search does in the reader (retriever.storage.FileStore) - the same rule here.
    faiss.omp_set_num_threads(default_threads())
    vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, dim)
    n = vectors.shape[0]
    if kind == "flat":
        index, params = faiss.IndexFlatIP(dim), {"kind": "flat"}
    elif kind == "hnsw":
        index = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efSearch = DEFAULT_EF_SEARCH
        params = {"kind": "hnsw", "M": HNSW_M, "ef_search": DEFAULT_EF_SEARCH}
    elif kind in IVF_KINDS:
        index, trained_on = _trained_ivf(vectors, dim, kind, previous)
        index.make_direct_map()  # reconstruct(row): a narrow filter's rows are compared exactly
        params = ivf_params(index, kind, trained_on)
    else:
        raise ValueError(f"faiss: ukendt indekstype '{kind}' (tilladt: {', '.join(FAISS_KINDS)})")
    if n:
        index.add(vectors)
    return index, params


IVF_KINDS = ("ivf", "ivf-sq8")


def empty_ivf(kind: str, dim: int, nlist: int, quantizer: faiss.Index) -> faiss.IndexIVF:
    """An IVF index of `kind` over `quantizer`'s lists, holding no vectors."""
    if kind == "ivf":
        index = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
    else:
        index = faiss.IndexIVFScalarQuantizer(
            quantizer, dim, nlist, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT)
    index.referenced_objects = [quantizer]  # the Python object must outlive the index
    return index


def _trained_ivf(vectors: np.ndarray, dim: int, kind: str,
                 previous: tuple[faiss.Index, dict] | None) -> tuple[faiss.IndexIVF, int]:
    """An empty, trained IVF index and the vector count its training saw: the previous
    generation's training when it fits (same kind and dimension, this many vectors within
    half to twice what it was trained on), otherwise k-means over `vectors` now."""
    n = vectors.shape[0]
    if previous is not None and training_fits(*previous, kind, dim, n):
        old, params = previous
        return trained_like(old, kind, dim), params["trained_on"]
    # nlist ~ 4*sqrt(n), but never more than n/39 lists: k-means needs ~39 points per
    # centroid, and a tiny corpus simply gets one list (= exact search).
    nlist = max(1, min(int(4 * math.sqrt(n)), n // 39))
    index = empty_ivf(kind, dim, nlist, faiss.IndexFlatIP(dim))
    if n:
        index.train(vectors)
    return index, n


def training_fits(old: faiss.Index, params: dict, kind: str, dim: int, n: int) -> bool:
    """Whether a new IVF index of `n` vectors keeps the training of `old` (its manifest
    settings `params`): same kind and dimension, and `n` within half to twice the vectors
    the training saw."""
    trained_on = params.get("trained_on")
    return (params.get("kind") == kind and old.d == dim and isinstance(trained_on, int)
            and trained_on / 2 <= n <= trained_on * 2)


def trained_like(old: faiss.Index, kind: str, dim: int) -> faiss.IndexIVF:
    """An empty IVF index with the centroids (and 8-bit code ranges) of `old`."""
    ivf = faiss.extract_index_ivf(old)
    index = empty_ivf(kind, dim, ivf.nlist, faiss.clone_index(ivf.quantizer))
    if kind == "ivf-sq8":
        index.sq.trained = faiss.downcast_index(old).sq.trained
    index.is_trained = True
    return index


def ivf_params(index: faiss.IndexIVF, kind: str, trained_on: int) -> dict:
    """An IVF index's manifest settings; sets its nprobe: at least DEFAULT_NPROBE lists
    and IVF_PROBE_SHARE of them."""
    nprobe = min(index.nlist, max(DEFAULT_NPROBE, math.ceil(index.nlist * IVF_PROBE_SHARE)))
    index.nprobe = nprobe
    return {"kind": kind, "nlist": index.nlist, "nprobe": nprobe, "trained_on": trained_on}


def read_previous_faiss(path: Path) -> faiss.Index | None:
    """A previous generation's FAISS file, memory-mapped (its trained centroids are what a
    build wants, not its vectors); None when it cannot be read - the build then trains."""
    try:
        return faiss.read_index(str(path), faiss.IO_FLAG_MMAP)
    except (RuntimeError, OSError, ValueError, MemoryError):  # missing, damaged, other kind
        return None


def _apply_search_params(index: faiss.Index, params: dict, ef_search: int | None, nprobe: int | None) -> None:
    kind = params.get("kind", "flat")
    if kind == "hnsw":
        faiss.downcast_index(index).hnsw.efSearch = int(ef_search or params.get("ef_search", DEFAULT_EF_SEARCH))
    elif kind in IVF_KINDS:
        ivf = faiss.extract_index_ivf(index)
        ivf.nprobe = int(nprobe or params.get("nprobe", DEFAULT_NPROBE))
        ivf.make_direct_map()  # reconstruct(row): a narrow filter's rows (retriever.storage)


# --------------------------------------------------------------------------- writing
@dataclass
class DocumentRecord:
    """One input file as stored in the documents table (indexed or failed)."""

    file: str
    sha256: str
    size: int
    status: str  # "ok" | "error"
    pages: int = 0
    ocr_pages: int = 0
    meeting: str | None = None
    committee: str | None = None
    date: str | None = None
    time: str | None = None
    place: str | None = None
    participants: list[str] = field(default_factory=list)
    error: str | None = None

    def row(self) -> tuple:
        return (
            self.file, self.sha256, self.size, self.pages, self.ocr_pages, self.meeting,
            self.committee, self.date, self.time, self.place,
            json.dumps(self.participants, ensure_ascii=False), self.status, self.error,
        )


@dataclass(frozen=True)
class Derived:
    """What the build derives from every canonical chunk text and stores in meta.sqlite, so
    that opening an archive reads it instead of re-deriving it (issue 12): the document
    frequency of each term (`kommunesoeg.core.textnorm.document_frequencies`, the term
    statistics of `retriever.terms.TermStats`) and the closed items open chunks list
    (`indexer.closed_listings.find_closed_listings`)."""

    term_df: Mapping[str, int]
    closed_listings: Sequence[ClosedListing]


def write_meta(
    path: Path,
    documents: Sequence[DocumentRecord],
    chunks: Sequence[Chunk],
    chunk_rows: dict[str, int],
    windows: Sequence[tuple[str, str]],
    decisions: Sequence[Decision],
    sketches: Mapping[str, Sequence[int]] | None = None,
    derived: Derived | None = None,
) -> None:
    """meta.sqlite for one generation. `chunk_rows`: canonical chunk id -> chunks.faiss row;
    `windows[i]` = (chunk_id, window text) for dense.faiss row i; `sketches`: the
    near-duplicate sketch of each chunk long enough to have one (indexer/dedupe.py), kept
    so that the next adding build need not sketch the whole archive again; `derived`: what
    the retriever would otherwise derive from every chunk text at each open (None writes
    empty tables, which a reader cannot tell from an archive without terms or listings, so
    the build always passes it)."""
    db = sqlite3.connect(path)
    try:
        db.executescript(_SCHEMA)
        db.executemany(
            f"INSERT INTO documents VALUES ({','.join('?' * len(_DOCUMENT_COLUMNS))})",
            [d.row() for d in documents],
        )
        db.executemany(
            f"INSERT INTO chunks ({','.join(_CHUNK_COLUMNS)}) "
            f"VALUES ({','.join('?' * len(_CHUNK_COLUMNS))})",
            [
                (
                    c.chunk_id, chunk_rows.get(c.chunk_id), c.document, c.meeting, c.committee,
                    c.date, c.punkt, c.punkt_title, c.bilag, c.bilag_title, c.section,
                    c.page_start, c.page_end, int(c.closed), int(c.ocr), c.case_number, c.text,
                    c.header, c.duplicate_of, ord_, json.dumps(c.windows, ensure_ascii=False),
                )
                for ord_, c in enumerate(chunks)
            ],
        )
        db.executemany(
            "INSERT INTO windows (vec_row, chunk_id, text) VALUES (?, ?, ?)",
            [(row, cid, text) for row, (cid, text) in enumerate(windows)],
        )
        db.executemany(
            f"INSERT INTO decisions ({','.join(DECISION_COLUMNS)}) "
            f"VALUES ({','.join('?' * len(DECISION_COLUMNS))})",
            [
                (
                    d.document, d.meeting, d.committee, d.date, d.punkt, d.punkt_title, d.text,
                    d.outcome, json.dumps(d.followups, ensure_ascii=False), int(d.closed),
                    d.page, d.chunk_id,
                )
                for d in decisions
            ],
        )
        db.executemany(
            "INSERT INTO sketches (chunk_id, keys) VALUES (?, ?)",
            [(cid, np.asarray(keys, dtype="<i8").tobytes()) for cid, keys in (sketches or {}).items()],
        )
        if derived is not None:
            db.executemany("INSERT INTO term_df (term, df) VALUES (?, ?)", derived.term_df.items())
            db.executemany(
                "INSERT INTO closed_listings (ord, document, meeting, date, punkt, title, page) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (i, x.document, x.meeting, x.date, x.punkt, x.title, x.page)
                    for i, x in enumerate(derived.closed_listings)
                ],
            )
        db.commit()
    finally:
        db.close()


def read_sketches(path: Path) -> dict[str, tuple[int, ...]] | None:
    """The near-duplicate sketches a generation stored, or None when it holds none (an
    index written before they were kept): the build then computes them."""
    db = _connect_ro(path)
    try:
        rows = db.execute("SELECT chunk_id, keys FROM sketches").fetchall()
    except sqlite3.OperationalError:
        return None
    finally:
        db.close()
    return {r["chunk_id"]: tuple(int(k) for k in np.frombuffer(r["keys"], dtype="<i8")) for r in rows}


# --------------------------------------------------------------------------- reading
def _connect_ro(path: Path) -> sqlite3.Connection:
    return connect_ro(path)


_chunk_from_row = chunk_from_row


def read_decisions(db: sqlite3.Connection) -> list[Decision]:
    """Every decision in stored order."""
    return [decision_from_values(*r) for r in db.execute(DECISIONS_SQL)]


@dataclass
class MetaContents:
    """Everything meta.sqlite holds, decoded into the contract's objects."""

    documents: list[DocumentRecord]
    chunks: list[Chunk]  # ord order, duplicates included
    chunk_rows: dict[str, int]  # canonical chunk id -> chunks.faiss row
    windows: list[tuple[str, str]]  # dense.faiss row order: (chunk_id, window text)
    decisions: list[Decision]
    derived: Derived | None = None  # None: a generation written before it was stored


def _has_table(db: sqlite3.Connection, name: str) -> bool:
    return db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)).fetchone() is not None


def _has_index(db: sqlite3.Connection, name: str) -> bool:
    return db.execute("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?", (name,)).fetchone() is not None


def _strict_int(value: object) -> int:
    """SQLite gives back whatever a damaged row holds; a count or a page must be an int."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"forventede et heltal, fandt {value!r}")
    return value


def _strict_str(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"forventede en tekst, fandt {value!r}")
    return value


def _derived_tables(db: sqlite3.Connection) -> bool:
    """Whether the generation stores the derived tables (False: it predates them, and the
    retriever derives them as before). One table without the other is damage (ValueError)."""
    present = (_has_table(db, "term_df"), _has_table(db, "closed_listings"))
    if present != (True, True) and present != (False, False):
        raise ValueError("kun den ene af tabellerne term_df og closed_listings findes")
    return present == (True, True)


def _read_listings(db: sqlite3.Connection) -> tuple[ClosedListing, ...]:
    return tuple(
        ClosedListing(
            document=_strict_str(r["document"]), meeting=_strict_str(r["meeting"]),
            date=None if r["date"] is None else _strict_str(r["date"]),
            punkt=_strict_int(r["punkt"]), title=_strict_str(r["title"]), page=_strict_int(r["page"]),
        )
        for r in db.execute("SELECT * FROM closed_listings ORDER BY ord")
    )


def count_decisions(path: Path) -> int:
    """How many decisions a meta.sqlite holds (the manifest's count after an update)."""
    db = _connect_ro(path)
    try:
        return int(db.execute("SELECT count(*) FROM decisions").fetchone()[0])
    finally:
        db.close()


def read_closed_listings(path: Path) -> tuple[ClosedListing, ...]:
    """The closed listings a generation stored (an updating build keeps those of the
    documents that did not change)."""
    db = _connect_ro(path)
    try:
        return _read_listings(db)
    finally:
        db.close()


def read_derived(db: sqlite3.Connection) -> Derived | None:
    """The stored term statistics and closed listings, or None when the generation predates
    them (both tables missing: the retriever then derives them as before). One table
    without the other, or a row of the wrong type, is damage (ValueError)."""
    if not _derived_tables(db):
        return None
    term_df = {_strict_str(t): _strict_int(df) for t, df in db.execute("SELECT term, df FROM term_df")}
    return Derived(term_df, _read_listings(db))


def _term_df_problem(db: sqlite3.Connection, canonical: int) -> str | None:
    """What is wrong with the stored term statistics, checked in SQLite (no Python dict)."""
    if not _has_table(db, "term_df"):
        return None
    bad = db.execute(
        "SELECT count(*) FROM term_df WHERE typeof(df) != 'integer' OR typeof(term) != 'text' "
        "OR df <= 0 OR df > ?", (canonical,)).fetchone()[0]
    if bad:
        return "termstatistikken (term_df) har en dokumentfrekvens uden for 1..antal tekststykker"
    return None


def _document_from_row(r: sqlite3.Row) -> DocumentRecord:
    row = dict(r)
    participants = row.pop("participants_json")
    participants = json.loads(participants) if participants and participants != "[]" else []
    return DocumentRecord(participants=participants, **row)


@dataclass(frozen=True)
class MetaSummary:
    """What a no-change re-index needs of a generation: its documents and two counts (reading
    every chunk, as `read_meta` does, was 4.3 of a no-change re-index's 4.9 s at 100,000
    chunks, and grows with the archive)."""

    documents: list[DocumentRecord]
    chunks: int
    duplicates: int


def read_meta_summary(path: Path) -> MetaSummary:
    db = _connect_ro(path)
    try:
        documents = [_document_from_row(r) for r in db.execute("SELECT * FROM documents ORDER BY file")]
        chunks, duplicates = db.execute("SELECT count(*), count(duplicate_of) FROM chunks").fetchone()
    finally:
        db.close()
    return MetaSummary(documents, int(chunks), int(duplicates))


def read_meta(path: Path) -> MetaContents:
    db = _connect_ro(path)
    try:
        documents = [_document_from_row(r) for r in db.execute("SELECT * FROM documents ORDER BY file")]
        rows = db.execute("SELECT * FROM chunks ORDER BY ord").fetchall()
        chunks = [_chunk_from_row(r) for r in rows]
        chunk_rows = {r["chunk_id"]: r["vec_row"] for r in rows if r["vec_row"] is not None}
        windows = [(r["chunk_id"], r["text"]) for r in db.execute("SELECT * FROM windows ORDER BY vec_row")]
        decisions = read_decisions(db)
        derived = read_derived(db)
    finally:
        db.close()
    return MetaContents(documents, chunks, chunk_rows, windows, decisions, derived)


@dataclass
class MetaIndex:
    """What a reader keeps of meta.sqlite at open: everything but the texts (issue 12:
    chunk and window texts are fetched on demand, `indexer.meta_lazy`)."""

    documents: list[DocumentRecord]
    chunk_ids: list[str]  # ord order, duplicates included
    duplicate_of: list[str | None]  # per chunk_ids entry
    chunk_rows: dict[str, int]  # canonical chunk id -> chunks.faiss row
    window_chunk_ids: list[str]  # dense.faiss row order
    decisions: list[Decision]
    derived: Derived | None


def read_meta_index(path: Path) -> MetaIndex:
    db = _connect_ro(path)
    try:
        documents = [_document_from_row(r) for r in db.execute("SELECT * FROM documents ORDER BY file")]
        rows = db.execute("SELECT chunk_id, vec_row, duplicate_of FROM chunks ORDER BY ord").fetchall()
        chunk_ids = [_strict_str(r[0]) for r in rows]
        duplicate_of = [r[2] for r in rows]
        chunk_rows = {r[0]: _strict_int(r[1]) for r in rows if r[1] is not None}
        same = {cid: cid for cid in chunk_ids}  # window rows share their chunk's id string
        window_chunk_ids = [same.get(r[0], r[0]) for r in db.execute("SELECT chunk_id FROM windows ORDER BY vec_row")]
        decisions = read_decisions(db)
        derived = read_derived(db)
    finally:
        db.close()
    return MetaIndex(documents, chunk_ids, duplicate_of, chunk_rows, window_chunk_ids, decisions, derived)


# --------------------------------------------------------------------------- reader checks
# A reader refuses a damaged generation at load time with one IndexFileDamaged naming the
# file: a traceback helps no user, and some damage (dense.faiss and chunks.faiss swapped, a
# bm25/ids.json from another build) would otherwise give wrong hits without any error.
_META_READ_ERRORS = (sqlite3.Error, ValueError, KeyError, IndexError, TypeError)


def resolve_current(index_dir: Path) -> Path:
    """The generation directory `current` points at. Unlike `current_generation` (the
    builder's "is there a previous index?"), every way the link can be wrong gets its own
    message: no index at all, a file or a generation given as the index, a dangling or
    looping link."""
    index_dir = Path(index_dir)
    if index_dir.is_file():
        raise IndexNotFound(
            f"{index_dir} er en fil, ikke en indeksmappe. Angiv mappen, som `kommunesoeg index` byggede"
        )
    if (index_dir / MANIFEST).is_file():
        raise IndexNotFound(
            f"{index_dir} er én generation af et indeks, ikke selve indeksmappen; "
            f"angiv mappen over: {index_dir.parent}"
        )
    link = index_dir / CURRENT
    if not os.path.lexists(link):
        raise IndexNotFound(f"Der er intet indeks i {index_dir}. Byg et med: {BUILD_HINT}")
    if not link.is_symlink():
        if link.is_dir():  # an index copied without keeping symlinks (cp -rL, zip): usable
            return link
        raise IndexFileDamaged(index_dir, link, "er ikke en henvisning (symlink) til en generation")
    target = os.readlink(link)
    gen_dir = index_dir / target
    try:
        os.stat(gen_dir)
    except OSError as exc:
        reason = (
            f"henviser i ring (peger på {target})" if exc.errno == errno.ELOOP
            else f"peger på {target}, som ikke findes"
        )
        raise IndexFileDamaged(index_dir, link, reason) from None
    if not gen_dir.is_dir():
        raise IndexFileDamaged(index_dir, link, f"peger på {target}, som ikke er en mappe")
    return gen_dir


def _positive_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _manifest_problem(manifest: dict) -> str | None:
    """What is wrong with a decoded manifest, in Danish, or None."""
    if "format" not in manifest:
        return "feltet format mangler"
    if manifest["format"] != FORMAT_VERSION:
        return f"format {manifest['format']!r} kan ikke læses af denne version (den læser format {FORMAT_VERSION})"
    if not isinstance(manifest.get("model_id"), str) or not manifest["model_id"]:
        return "feltet model_id mangler"
    if not _positive_int(manifest.get("dim")):
        return "feltet dim mangler eller er ikke et positivt heltal"
    params = manifest.get("faiss", {"kind": "flat"})
    if not isinstance(params, dict):
        return "feltet faiss er ikke et objekt"
    if params.get("kind", "flat") not in FAISS_KINDS:
        return f"faiss-typen {params.get('kind')!r} er ukendt (tilladt: {', '.join(FAISS_KINDS)})"
    for key in ("M", "ef_search", "nlist", "nprobe"):
        if key in params and not _positive_int(params[key]):
            return f"faiss.{key} skal være et positivt heltal, ikke {params[key]!r}"
    if not isinstance(manifest.get("counts", {}), dict):
        return "feltet counts er ikke et objekt"
    if "columns" in manifest:
        columns = manifest["columns"]
        if not isinstance(columns, dict) or not all(isinstance(v, str) for v in columns.values()):
            return "feltet columns er ikke et objekt af filnavn -> sha256"
        if not all(isinstance(manifest["counts"].get(k), int) for k in ("chunks", "windows")):
            return "counts.chunks og counts.windows mangler (dem kræver columns)"
    return None


def read_manifest(index_dir: Path, gen_dir: Path) -> dict:
    """The generation's manifest, checked field by field (the reader relies on each)."""
    path = gen_dir / MANIFEST
    if not path.is_file():
        raise IndexFileDamaged(index_dir, path, "mangler")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise IndexFileDamaged(index_dir, path, f"kan ikke læses ({exc.strerror})") from exc
    except ValueError as exc:
        raise IndexFileDamaged(index_dir, path, f"er ikke gyldig JSON ({exc})") from exc
    if not isinstance(manifest, dict):
        raise IndexFileDamaged(index_dir, path, "er ikke et JSON-objekt")
    problem = _manifest_problem(manifest)
    if problem:
        raise IndexFileDamaged(index_dir, path, problem)
    return manifest


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


VERIFIED = "meta.verified"  # beside meta.sqlite: the file facts of its last full check


def check_meta_file(index_dir: Path, path: Path, manifest: dict | None = None) -> None:
    """meta.sqlite exists, is a sound SQLite file (PRAGMA quick_check), its windows are
    numbered 0..n-1 like the dense.faiss rows they describe, and (given the manifest) it
    holds the manifest's counts of chunks and windows and sound term statistics.

    quick_check reads every page: ~1 ms on the sample index, 2.9 s at 100,000 chunks, half
    a minute at a million - most of opening an archive; counting the windows reads every
    window's page too (0.6 s at 300,000 chunks). A generation's files never change once
    published, so the first open that finds the file sound records its size, inode, change
    and modification times (`meta.verified`), and later opens of the same unchanged file
    skip these walks. Any write to the file (a bit flip, a truncation, a copy from
    elsewhere) changes those facts, and the next open checks everything again. On
    read-only media the record cannot be written and every open checks in full.
    """
    if not path.is_file():
        raise IndexFileDamaged(index_dir, path, "mangler")
    facts = _file_facts(path)
    if facts["size"] == 0:
        raise IndexFileDamaged(index_dir, path, "er tom (0 bytes)")
    if _verified_facts(path) == facts:
        return
    try:
        db = _connect_ro(path)
        try:
            problems = [row[0] for row in db.execute("PRAGMA quick_check(3)")]
            count, low, high = db.execute("SELECT count(*), min(vec_row), max(vec_row) FROM windows").fetchone()
            problem = None if manifest is None else _counts_problem(db, manifest, count)
        finally:
            db.close()
    except sqlite3.Error as exc:
        raise IndexFileDamaged(index_dir, path, f"er ikke en brugbar SQLite-database ({_one_line(exc)})") from exc
    if problems != ["ok"]:
        raise IndexFileDamaged(index_dir, path, f"SQLite fandt fejl i databasen ({_one_line('; '.join(problems))})")
    if count and (low, high) != (0, count - 1):
        raise IndexFileDamaged(index_dir, path, f"vinduerne er ikke nummereret 0..{count - 1}")
    if problem:
        raise IndexFileDamaged(index_dir, path, problem)
    _record_verified(path, facts)


def _counts_problem(db: sqlite3.Connection, manifest: dict, windows: int) -> str | None:
    """meta.sqlite against the manifest's counts, and its term statistics' range."""
    counts = manifest.get("counts", {})
    chunks, duplicates = db.execute("SELECT count(*), count(duplicate_of) FROM chunks").fetchone()
    for key, actual, label in (("chunks", chunks, "tekststykker"), ("windows", windows, "vinduer")):
        if isinstance(counts.get(key), int) and counts[key] != actual:
            return f"har {actual} {label}, men manifest.json siger {counts[key]}"
    return _term_df_problem(db, chunks - duplicates)


def record_written(path: Path) -> None:
    """Record a meta.sqlite the build has just written (and closed) as checked, so that the
    first open of a new generation skips the page walk too (at 300,000 chunks the first
    open took 30 s, a later one 9 s). The build's own SQLite write is what a later check
    would find; any change after this instant changes the recorded facts."""
    _record_verified(path, _file_facts(path))


def _file_facts(path: Path) -> dict[str, int]:
    st = path.stat()
    return {"size": st.st_size, "inode": st.st_ino, "ctime_ns": st.st_ctime_ns, "mtime_ns": st.st_mtime_ns}


def _verified_facts(path: Path) -> dict | None:
    try:
        facts = json.loads((path.parent / VERIFIED).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return facts if isinstance(facts, dict) else None


def _record_verified(path: Path, facts: dict[str, int]) -> None:
    """Best effort and atomic: a reader that cannot write (read-only media, another
    user's index) simply checks in full next time."""
    tmp: str | None = None
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{VERIFIED}.")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(facts, fh)
        os.replace(tmp, path.parent / VERIFIED)
    except OSError:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def _meta_problem(meta: MetaIndex, manifest: dict) -> str | None:
    """Cross-references inside meta.sqlite, and its counts against the manifest's."""
    ids = set(meta.chunk_ids)
    canonical = {cid for cid, dup in zip(meta.chunk_ids, meta.duplicate_of) if dup is None}
    if set(meta.chunk_rows) != canonical:
        return "tekststykkernes vec_row passer ikke med hvilke tekststykker der er dubletter"
    if sorted(meta.chunk_rows.values()) != list(range(len(meta.chunk_rows))):
        return f"tekststykkernes vec_row er ikke nummereret 0..{len(meta.chunk_rows) - 1}"
    if any(dup not in canonical for dup in meta.duplicate_of if dup is not None):
        return "en dublet henviser til et tekststykke, der ikke findes"
    if any(cid not in ids for cid in meta.window_chunk_ids):
        return "et vindue henviser til et tekststykke, der ikke findes"
    if meta.derived is not None:
        if any(df <= 0 or df > len(canonical) for df in meta.derived.term_df.values()):
            return "termstatistikken (term_df) har en dokumentfrekvens uden for 1..antal tekststykker"
        documents = {d.file for d in meta.documents}
        if any(x.document not in documents for x in meta.derived.closed_listings):
            return "en lukket punkt-opførelse (closed_listings) henviser til et dokument uden tekststykker"
    counts = manifest.get("counts", {})
    for key, actual, label in (("chunks", len(meta.chunk_ids), "tekststykker"),
                               ("windows", len(meta.window_chunk_ids), "vinduer")):
        if isinstance(counts.get(key), int) and counts[key] != actual:
            return f"har {actual} {label}, men manifest.json siger {counts[key]}"
    return None


def load_meta(index_dir: Path, gen_dir: Path, manifest: dict) -> MetaIndex:
    """read_meta_index of a file `check_meta_file` accepted, with every decoding failure
    as IndexFileDamaged."""
    path = gen_dir / META
    try:
        meta = read_meta_index(path)
    except _META_READ_ERRORS as exc:
        raise IndexFileDamaged(index_dir, path, f"kan ikke læses ({_one_line(exc)})") from exc
    problem = _meta_problem(meta, manifest)
    if problem:
        raise IndexFileDamaged(index_dir, path, problem)
    return meta


@dataclass
class Stored:
    """What a reader keeps of a generation's metadata at open (texts are fetched later)."""

    columns: ChunkColumns
    documents: list[DocumentRecord]
    decisions: Sequence[Decision]  # the columnar format: read when first asked for
    derived: Derived | None


def load_stored(index_dir: Path, gen_dir: Path, manifest: dict, texts: ChunkTexts) -> Stored:
    """The generation's columns (`indexer.columns`, written by the build) and the rest of
    what a reader keeps, checked; a generation written before the columns existed has
    them made from meta.sqlite's rows (slower, as every open was before: the next
    `kommunesoeg index` writes them, without embedding anything again)."""
    if "columns" not in manifest:
        meta = load_meta(index_dir, gen_dir, manifest)
        canonical = sorted(meta.chunk_rows, key=meta.chunk_rows.__getitem__)
        columns = ChunkColumns.of(texts.facts(), canonical, meta.window_chunk_ids,
                                  {d.chunk_id for d in meta.decisions})
        return Stored(columns, meta.documents, meta.decisions, meta.derived)
    path = gen_dir / META  # checked by the caller (`check_meta_file`)
    counts = manifest["counts"]
    columns = read_columns(index_dir, gen_dir / COLUMNS_DIR, manifest["columns"],
                           counts["chunks"], counts["windows"])
    try:
        db = _connect_ro(path)
        try:
            documents = [_document_from_row(r) for r in db.execute("SELECT * FROM documents ORDER BY file")]
            # one chunk's decisions are looked up by index decisions_chunk; without it (a
            # generation written before it existed) each look-up would scan them all
            decisions = StoredDecisions(texts) if _has_index(db, "decisions_chunk") else read_decisions(db)
            derived = Derived(texts.term_frequencies(), _read_listings(db)) if _derived_tables(db) else None
        finally:
            db.close()
    except _META_READ_ERRORS as exc:
        raise IndexFileDamaged(index_dir, path, f"kan ikke læses ({_one_line(exc)})") from exc
    files = {d.file for d in documents}
    if derived is not None and any(x.document not in files for x in derived.closed_listings):
        raise IndexFileDamaged(
            index_dir, path, "en lukket punkt-opførelse (closed_listings) henviser til et dokument uden tekststykker")
    return Stored(columns, documents, decisions, derived)


def _faiss_kind(index: faiss.Index) -> str:
    concrete = faiss.downcast_index(index)
    kinds = (("hnsw", faiss.IndexHNSW), ("ivf-sq8", faiss.IndexIVFScalarQuantizer),
             ("ivf", faiss.IndexIVF), ("flat", faiss.IndexFlat))
    for kind, cls in kinds:
        if isinstance(concrete, cls):
            return kind
    return type(concrete).__name__


def read_faiss(
    index_dir: Path, path: Path, rows: int, what: str, manifest: dict,
    ef_search: int | None = None, nprobe: int | None = None,
) -> faiss.Index:
    """A FAISS file whose size, dimension and type agree with meta.sqlite and the manifest.
    dense.faiss and chunks.faiss differ in row count, so a swap is caught here."""
    if not path.is_file():
        raise IndexFileDamaged(index_dir, path, "mangler")
    try:
        index = faiss.read_index(str(path))
    except Exception as exc:  # faiss raises RuntimeError, but a garbage file may raise anything
        raise IndexFileDamaged(index_dir, path, "kan ikke læses som FAISS-indeks (afkortet eller ødelagt)") from exc
    if index.ntotal != rows:
        raise IndexFileDamaged(
            index_dir, path,
            f"har {index.ntotal} vektorer, men meta.sqlite har {rows} {what} "
            f"(er {DENSE} og {CHUNK_DENSE} byttet om, eller stammer filen fra et andet indeks?)",
        )
    manifest_path = path.parent / MANIFEST
    if index.d != manifest["dim"]:
        raise IndexFileDamaged(index_dir, manifest_path, f"dim er {manifest['dim']}, men {path.name} har dimension {index.d}")
    params = manifest.get("faiss", {"kind": "flat"})
    kind = _faiss_kind(index)
    if kind != params.get("kind", "flat"):
        raise IndexFileDamaged(
            index_dir, manifest_path, f"faiss-typen er {params.get('kind', 'flat')}, men {path.name} er et {kind}-indeks"
        )
    if index.metric_type != faiss.METRIC_INNER_PRODUCT:
        raise IndexFileDamaged(index_dir, path, "bruger ikke indre produkt som afstandsmål")
    try:
        _apply_search_params(index, params, ef_search, nprobe)
    except (RuntimeError, AttributeError, TypeError, ValueError) as exc:
        raise IndexFileDamaged(index_dir, manifest_path, f"faiss-indstillingerne kan ikke bruges ({_one_line(exc)})") from exc
    return index


@dataclass
class IndexReader:
    """One loaded generation: its vectors, the chunks' and windows' facts as columns
    (`indexer.columns`), decisions and documents in memory, its chunk and window texts
    fetched from meta.sqlite on demand (`texts`, issue 12). Safe to keep while a writer
    builds a new generation (or removes this one two builds later): the generation's
    files never change, and the open meta.sqlite stays readable."""

    index_dir: Path
    gen_dir: Path
    manifest: dict
    texts: ChunkTexts
    columns: ChunkColumns
    chunk_ids: list[str]  # every chunk, index order, duplicates included
    window_chunk_ids: Sequence[str]
    dense: faiss.Index
    chunk_vec_ids: list[str]
    chunk_dense: faiss.Index
    decisions: Sequence[Decision]  # a `StoredDecisions` (read on first use) or a list
    documents: list[DocumentRecord]
    model_id: str
    derived: Derived | None = None  # None: an older generation; the retriever derives it

    @classmethod
    def open(cls, index_dir: Path | str, *, ef_search: int | None = None, nprobe: int | None = None) -> IndexReader:
        """Load the current generation; `ef_search` / `nprobe` override the manifest's
        search settings of an approximate (hnsw / ivf) index. A missing index raises
        IndexNotFound, a damaged one IndexFileDamaged naming the file."""
        index_dir = Path(index_dir)
        gen_dir = resolve_current(index_dir)
        manifest = read_manifest(index_dir, gen_dir)
        check_meta_file(index_dir, gen_dir / META, manifest)
        texts = ChunkTexts(gen_dir / META, 0)
        stored = load_stored(index_dir, gen_dir, manifest, texts)
        columns = stored.columns
        windows = len(columns["window_chunk"])
        texts.window_count = windows
        chunk_vec_ids = [columns.chunk_ids[i] for i in columns.canonical_positions.tolist()]
        dense = read_faiss(index_dir, gen_dir / DENSE, windows, "vinduer", manifest, ef_search, nprobe)
        chunk_dense = read_faiss(
            index_dir, gen_dir / CHUNK_DENSE, len(chunk_vec_ids), "tekststykker (uden dubletter)",
            manifest, ef_search, nprobe,
        )
        return cls(
            index_dir=index_dir,
            gen_dir=gen_dir,
            manifest=manifest,
            texts=texts,
            columns=columns,
            chunk_ids=columns.chunk_ids,
            window_chunk_ids=IdsAt(columns.chunk_ids, columns["window_chunk"]),
            dense=dense,
            chunk_vec_ids=chunk_vec_ids,
            chunk_dense=chunk_dense,
            decisions=stored.decisions,
            documents=stored.documents,
            model_id=manifest["model_id"],
            derived=stored.derived,
        )

    @property
    def chunks(self) -> list[Chunk]:
        """Every chunk, decoded now from meta.sqlite (the whole archive's text: for a
        caller that truly needs it all, never for a search)."""
        return self.texts.chunks()

    @property
    def chunk_by_id(self) -> ChunksById:
        """Chunk by id, fetched on demand."""
        return ChunksById(self.texts, self.chunk_ids)

    @property
    def window_texts(self) -> WindowTexts:
        """Window texts in dense.faiss row order, fetched on demand."""
        return self.texts.window_texts()

    def check_model(self, embedder) -> None:
        """Query vectors from another model are meaningless against these vectors."""
        if embedder.model_id != self.model_id:
            raise ModelMismatch(
                f"indekset er bygget med {self.model_id}; du bad om {embedder.model_id}. "
                f"Byg indekset igen med --model {embedder.model_id}, eller brug samme model"
            )
