"""The index directory: immutable generations, SQLite metadata, FAISS, embedding cache.

Layout (ARCHITECTURE.md):

    DIR/current -> gen-...      symlink, swapped atomically (os.replace of a temp symlink)
    DIR/gen-.../                manifest.json (written last), meta.sqlite, dense.faiss,
                                chunks.faiss, bm25/
    DIR/embcache.sqlite         (model_id, sha1(text)) -> vector
    DIR/lock                    flock: one writer at a time

Why generations: a reader resolves `current` once and then only reads files nobody writes
again, so search keeps working during a build, and a build killed at any instant leaves
`current` pointing at the last complete generation. A generation is complete exactly when
its manifest.json exists, which is written (and fsynced) after everything else.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import math
import os
import secrets
import shutil
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Self

import faiss
import numpy as np

from indexer.errors import IndexNotFound, KommunesoegError, ModelMismatch
from indexer.models import Chunk, Decision

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

FAISS_KINDS = ("flat", "hnsw", "ivf")
HNSW_M = 32
DEFAULT_EF_SEARCH = 128  # eval/bench_search.py: 64 gives Recall@10 0.94 at 1M vectors, 128 gives 0.96
DEFAULT_NPROBE = 16  # eval/bench_search.py: Recall@10 0.97 at 1M vectors, p50 ~1 ms
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
CREATE INDEX chunks_document ON chunks(document);
CREATE INDEX decisions_document ON decisions(document);
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
_DECISION_COLUMNS = (
    "document", "meeting", "committee", "date", "punkt", "punkt_title", "text", "outcome",
    "followups_json", "closed", "page", "chunk_id",
)


def embedding_text(header: str, text: str) -> str:
    """What gets embedded for a chunk or a window: its context line, then the text."""
    return f"{header}\n{text}" if header else text


def text_key(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------- file safety
def _fsync_path(path: Path) -> None:
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
            _fsync_path(Path(dirpath) / name)
        _fsync_path(Path(dirpath))


def write_json_atomic(path: Path, data: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, ensure_ascii=False, indent=2)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    _fsync_path(path.parent)


# --------------------------------------------------------------------------- lock
class WriteLock:
    """Exclusive flock on DIR/lock. The kernel drops it when the process dies, so a killed
    build never leaves a stale lock behind."""

    def __init__(self, index_dir: Path) -> None:
        self.path = Path(index_dir) / LOCK
        self._fh = None

    def __enter__(self) -> Self:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(self.path, "a+")
        try:
            fcntl.flock(self._fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._fh.close()
            self._fh = None
            raise KommunesoegError(
                f"{self.path.parent}: en anden indeksering skriver allerede til indekset; "
                "vent til den er færdig"
            ) from None
        return self

    def __exit__(self, *exc) -> None:
        if self._fh is not None:
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
    _fsync_path(Path(index_dir))


def collect_garbage(index_dir: Path, keep: Iterable[Path]) -> list[str]:
    """Remove generations and temp links not in `keep` (stray dirs of killed builds, and
    generations older than the previous one). Returns the removed names."""
    keep_names = {Path(p).name for p in keep if p is not None}
    removed = []
    for entry in Path(index_dir).iterdir():
        if entry.name.startswith(f".{CURRENT}.") and entry.is_symlink():
            entry.unlink(missing_ok=True)
            removed.append(entry.name)
        elif entry.name.startswith(GEN_PREFIX) and entry.name not in keep_names and entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry.name)
    return removed


# --------------------------------------------------------------------------- embedding cache
class EmbeddingCache:
    """(model_id, sha1(text)) -> float32 vector, shared by all generations.

    Committed per batch, so a build killed half-way keeps what it already paid for and the
    next build only embeds the rest.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.db = sqlite3.connect(self.path)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS emb (model TEXT NOT NULL, sha1 TEXT NOT NULL, "
            "vec BLOB NOT NULL, PRIMARY KEY (model, sha1)) WITHOUT ROWID"
        )
        self.db.commit()

    def get_many(self, model_id: str, keys: Sequence[str], dim: int | None = None) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), 500):
            part = unique[start : start + 500]
            marks = ",".join("?" * len(part))
            rows = self.db.execute(
                f"SELECT sha1, vec FROM emb WHERE model = ? AND sha1 IN ({marks})",
                [model_id, *part],
            )
            for key, blob in rows:
                vec = np.frombuffer(blob, dtype=np.float32)
                if dim is None or vec.shape[0] == dim:
                    found[key] = vec
        return found

    def put_many(self, model_id: str, keys: Sequence[str], vectors: np.ndarray) -> None:
        vectors = np.asarray(vectors, dtype=np.float32)
        self.db.executemany(
            "INSERT OR REPLACE INTO emb (model, sha1, vec) VALUES (?, ?, ?)",
            [(model_id, k, v.tobytes()) for k, v in zip(keys, vectors)],
        )
        self.db.commit()

    def close(self) -> None:
        self.db.close()


# --------------------------------------------------------------------------- FAISS
def make_faiss_index(vectors: np.ndarray, dim: int, kind: str = "flat") -> tuple[faiss.Index, dict]:
    """Exact inner product by default; HNSW / IVF for corpora where exact search is slow.

    Returns the index and its settings for the manifest (which the reader re-applies:
    search-time parameters such as efSearch/nprobe are not stored in the FAISS file).
    """
    vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, dim)
    n = vectors.shape[0]
    if kind == "flat":
        index, params = faiss.IndexFlatIP(dim), {"kind": "flat"}
    elif kind == "hnsw":
        index = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efSearch = DEFAULT_EF_SEARCH
        params = {"kind": "hnsw", "M": HNSW_M, "ef_search": DEFAULT_EF_SEARCH}
    elif kind == "ivf":
        # nlist ~ 4*sqrt(n), but never more than n/39 lists: k-means needs ~39 points per
        # centroid, and a tiny corpus simply gets one list (= exact search).
        nlist = max(1, min(int(4 * math.sqrt(n)), n // 39))
        quantizer = faiss.IndexFlatIP(dim)
        index = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
        if n:
            index.train(vectors)
        nprobe = min(DEFAULT_NPROBE, nlist)
        index.nprobe = nprobe
        params = {"kind": "ivf", "nlist": nlist, "nprobe": nprobe}
    else:
        raise ValueError(f"faiss: ukendt indekstype '{kind}' (tilladt: {', '.join(FAISS_KINDS)})")
    if n:
        index.add(vectors)
    return index, params


def _apply_search_params(index: faiss.Index, params: dict, ef_search: int | None, nprobe: int | None) -> None:
    kind = params.get("kind", "flat")
    if kind == "hnsw":
        faiss.downcast_index(index).hnsw.efSearch = int(ef_search or params.get("ef_search", DEFAULT_EF_SEARCH))
    elif kind == "ivf":
        ivf = faiss.extract_index_ivf(index)
        ivf.nprobe = int(nprobe or params.get("nprobe", DEFAULT_NPROBE))
        ivf.make_direct_map()  # reconstruct(row) for answer scoring


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


def write_meta(
    path: Path,
    documents: Sequence[DocumentRecord],
    chunks: Sequence[Chunk],
    chunk_rows: dict[str, int],
    windows: Sequence[tuple[str, str]],
    decisions: Sequence[Decision],
) -> None:
    """meta.sqlite for one generation. `chunk_rows`: canonical chunk id -> chunks.faiss row;
    `windows[i]` = (chunk_id, window text) for dense.faiss row i."""
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
            f"INSERT INTO decisions ({','.join(_DECISION_COLUMNS)}) "
            f"VALUES ({','.join('?' * len(_DECISION_COLUMNS))})",
            [
                (
                    d.document, d.meeting, d.committee, d.date, d.punkt, d.punkt_title, d.text,
                    d.outcome, json.dumps(d.followups, ensure_ascii=False), int(d.closed),
                    d.page, d.chunk_id,
                )
                for d in decisions
            ],
        )
        db.commit()
    finally:
        db.close()


# --------------------------------------------------------------------------- reading
def _connect_ro(path: Path) -> sqlite3.Connection:
    # immutable=1: a generation never changes after publish, so SQLite may skip locking and
    # never creates -wal/-shm files next to it (works on read-only media too).
    db = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)
    db.row_factory = sqlite3.Row
    return db


def _chunk_from_row(r: sqlite3.Row) -> Chunk:
    return Chunk(
        chunk_id=r["chunk_id"], document=r["document"], meeting=r["meeting"] or "",
        committee=r["committee"] or "", date=r["date"], punkt=r["punkt"],
        punkt_title=r["punkt_title"], bilag=r["bilag"], bilag_title=r["bilag_title"],
        section=r["section"] or "", page_start=r["page_start"], page_end=r["page_end"],
        closed=bool(r["closed"]), ocr=bool(r["ocr"]), text=r["text"], header=r["header"],
        case_number=r["case_number"], windows=json.loads(r["windows_json"] or "[]"),
        duplicate_of=r["duplicate_of"],
    )


def _decision_from_row(r: sqlite3.Row) -> Decision:
    return Decision(
        document=r["document"], meeting=r["meeting"] or "", committee=r["committee"] or "",
        date=r["date"], punkt=r["punkt"], punkt_title=r["punkt_title"] or "", text=r["text"] or "",
        outcome=r["outcome"] or "andet", followups=json.loads(r["followups_json"] or "[]"),
        closed=bool(r["closed"]), page=r["page"], chunk_id=r["chunk_id"] or "",
    )


@dataclass
class MetaContents:
    """Everything meta.sqlite holds, decoded into the contract's objects."""

    documents: list[dict]  # documents rows; participants_json decoded as "participants"
    chunks: list[Chunk]  # ord order, duplicates included
    chunk_rows: dict[str, int]  # canonical chunk id -> chunks.faiss row
    windows: list[tuple[str, str]]  # dense.faiss row order: (chunk_id, window text)
    decisions: list[Decision]


def read_meta(path: Path) -> MetaContents:
    db = _connect_ro(path)
    try:
        documents = []
        for r in db.execute("SELECT * FROM documents ORDER BY file"):
            row = dict(r)
            row["participants"] = json.loads(row.pop("participants_json") or "[]")
            documents.append(row)
        rows = db.execute("SELECT * FROM chunks ORDER BY ord").fetchall()
        chunks = [_chunk_from_row(r) for r in rows]
        chunk_rows = {r["chunk_id"]: r["vec_row"] for r in rows if r["vec_row"] is not None}
        windows = [(r["chunk_id"], r["text"]) for r in db.execute("SELECT * FROM windows ORDER BY vec_row")]
        decisions = [_decision_from_row(r) for r in db.execute("SELECT * FROM decisions ORDER BY rowid")]
    finally:
        db.close()
    return MetaContents(documents, chunks, chunk_rows, windows, decisions)


@dataclass
class IndexReader:
    """One loaded generation, entirely in memory: safe to keep while a writer builds a new
    generation (or removes this one two builds later)."""

    index_dir: Path
    gen_dir: Path
    manifest: dict
    chunks: list[Chunk]
    chunk_by_id: dict[str, Chunk]
    window_chunk_ids: list[str]
    window_texts: list[str]
    dense: faiss.Index
    chunk_vec_ids: list[str]
    chunk_dense: faiss.Index
    decisions: list[Decision]
    documents: list[dict]
    model_id: str

    @classmethod
    def open(cls, index_dir: Path | str, *, ef_search: int | None = None, nprobe: int | None = None) -> IndexReader:
        """Load the current generation; `ef_search` / `nprobe` override the manifest's
        search settings of an approximate (hnsw / ivf) index."""
        index_dir = Path(index_dir)
        gen_dir = current_generation(index_dir)
        if gen_dir is None:
            raise IndexNotFound(f"Der er intet indeks i {index_dir}. Byg et med: {BUILD_HINT}")
        try:
            manifest = json.loads((gen_dir / MANIFEST).read_text(encoding="utf-8"))
            meta = read_meta(gen_dir / META)
            dense = faiss.read_index(str(gen_dir / DENSE))
            chunk_dense = faiss.read_index(str(gen_dir / CHUNK_DENSE))
        except (OSError, sqlite3.Error, RuntimeError, ValueError) as exc:
            raise IndexNotFound(
                f"Indekset i {gen_dir} kan ikke læses ({exc}). Byg det igen med: {BUILD_HINT}"
            ) from exc
        faiss_params = manifest.get("faiss", {"kind": "flat"})
        _apply_search_params(dense, faiss_params, ef_search, nprobe)
        _apply_search_params(chunk_dense, faiss_params, ef_search, nprobe)
        chunk_vec_ids = sorted(meta.chunk_rows, key=meta.chunk_rows.__getitem__)
        return cls(
            index_dir=index_dir,
            gen_dir=gen_dir,
            manifest=manifest,
            chunks=meta.chunks,
            chunk_by_id={c.chunk_id: c for c in meta.chunks},
            window_chunk_ids=[cid for cid, _ in meta.windows],
            window_texts=[text for _, text in meta.windows],
            dense=dense,
            chunk_vec_ids=chunk_vec_ids,
            chunk_dense=chunk_dense,
            decisions=meta.decisions,
            documents=meta.documents,
            model_id=manifest["model_id"],
        )

    def check_model(self, embedder) -> None:
        """Query vectors from another model are meaningless against these vectors."""
        if embedder.model_id != self.model_id:
            raise ModelMismatch(
                f"indekset er bygget med {self.model_id}; du bad om {embedder.model_id}. "
                f"Byg indekset igen med --model {embedder.model_id}, eller brug samme model"
            )
