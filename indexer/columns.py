"""The per-chunk and per-window facts a reader needs at open, as columns the build writes.

Why (issue 12): opening an archive read these facts out of meta.sqlite row by row - chunk
ids, duplicates, vector rows, window owners, committee/document/section/date/closed of
every chunk - and the retriever then turned them into arrays again: 4-5 of the 9 s an open
of 300,000 chunks took, and hundreds of MB of short-lived Python objects. The build knows
all of them already, so it writes them once into the generation as numpy arrays (integer
codes instead of repeated strings) and a reader loads them in milliseconds.

Layout of `gen/columns/` (every file's sha256 is in the manifest, so a damaged, truncated
or swapped column is one `IndexFileDamaged` naming the file):

    strings.json        chunk ids in index order, and the vocabularies of the coded columns
    <name>.npy          one int32 / bool array per column (`CHUNK_COLUMNS`, `WINDOW_COLUMNS`)

Rows of a chunk column follow index order (`ord`, duplicates included); the window column
follows the dense.faiss rows. Absent integers (no Bilag, no vector row) are -1.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from collections.abc import Collection, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import overload

import numpy as np

from indexer.meta_lazy import ChunkFacts
from kommunesoeg.core.errors import IndexFileDamaged
from kommunesoeg.core.models import Chunk

COLUMNS_DIR = "columns"
STRINGS = "strings.json"
# name -> dtype; "vec_row": chunks.faiss row (-1: a duplicate), "duplicate_of": index
# position of the canonical copy (-1: canonical), "decision": a decision section or a
# chunk holding an extracted decision, "date": `date_number`
CHUNK_COLUMNS: dict[str, str] = {
    "vec_row": "<i4", "duplicate_of": "<i4", "committee": "<i4", "document": "<i4",
    "section": "<i4", "case_number": "<i4", "date": "<i4", "closed": "|b1", "decision": "|b1",
    "punkt": "<i4", "bilag": "<i4", "page_start": "<i4", "page_end": "<i4",
}
WINDOW_COLUMNS: dict[str, str] = {"window_chunk": "<i4"}  # window row -> chunk's index position
CODED = ("committee", "document", "section", "case_number")  # columns with a vocabulary

_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def date_number(iso: str | None) -> int:
    """"2023-01-10" -> 20230110, and 0 for no date. The indexer writes fixed-width ISO dates,
    so the numbers order exactly as the strings a filter compares; anything else counts as
    undated (no date filter accepts it)."""
    if iso and _ISO_DATE.fullmatch(iso):
        return int(iso.replace("-", ""))
    return 0


# What the columns are made of, per chunk copy: a `Chunk` (the build) or a store's
# text-free `ChunkFacts` (an older generation, the PostgreSQL store); the fields they share.
ChunkFields = Chunk | ChunkFacts


@dataclass(frozen=True)
class ChunkColumns:
    """Every chunk copy's facts as columns (index order), and each window's chunk."""

    chunk_ids: list[str]
    arrays: Mapping[str, np.ndarray]  # CHUNK_COLUMNS and WINDOW_COLUMNS by name
    vocabularies: Mapping[str, list]  # CODED column -> value of each code

    def __len__(self) -> int:
        return len(self.chunk_ids)

    def __getitem__(self, name: str) -> np.ndarray:
        return self.arrays[name]

    def values(self, name: str) -> list:
        """The vocabulary of a coded column (code -> value)."""
        return self.vocabularies[name]

    @property
    def canonical_positions(self) -> np.ndarray:
        """Index positions of the canonical chunks, in vector-row order."""
        vec_row = self.arrays["vec_row"]
        canonical = np.flatnonzero(vec_row >= 0)
        order = np.empty(len(canonical), dtype=np.int64)
        order[vec_row[canonical]] = canonical
        return order

    @classmethod
    def of(cls, chunks: Iterable[ChunkFields], canonical_ids: Sequence[str],
           window_chunk_ids: Sequence[str], decision_chunk_ids: Collection[str]) -> ChunkColumns:
        """Columns of chunks in index order; `canonical_ids` in vector-row order,
        `window_chunk_ids` in window-row order."""
        chunks = list(chunks)
        position = {c.chunk_id: i for i, c in enumerate(chunks)}
        vec_row = np.full(len(chunks), -1, dtype=np.int32)
        vec_row[np.fromiter((position[cid] for cid in canonical_ids), dtype=np.int64,
                            count=len(canonical_ids))] = np.arange(len(canonical_ids))
        arrays = {
            "vec_row": vec_row,
            "duplicate_of": _ints(position[c.duplicate_of] if c.duplicate_of is not None else -1
                                  for c in chunks),
            "date": _ints(date_number(c.date) for c in chunks),
            "closed": np.fromiter((bool(c.closed) for c in chunks), dtype=bool, count=len(chunks)),
            "decision": np.fromiter(
                (c.section == "beslutning" or c.chunk_id in decision_chunk_ids for c in chunks),
                dtype=bool, count=len(chunks)),
            "punkt": _ints(-1 if c.punkt is None else c.punkt for c in chunks),
            "bilag": _ints(-1 if c.bilag is None else c.bilag for c in chunks),
            "page_start": _ints(c.page_start for c in chunks),
            "page_end": _ints(c.page_end for c in chunks),
            "window_chunk": _ints(position[cid] for cid in window_chunk_ids),
        }
        vocabularies = {}
        for name in CODED:
            # committee and section read "" for none, as a reader's `ChunkFacts` do
            blank = "" if name in ("committee", "section") else None
            arrays[name], vocabularies[name] = _codes(
                [_or(getattr(c, name), blank) for c in chunks])
        return cls([c.chunk_id for c in chunks], arrays, vocabularies)


def spliced_columns(previous: ChunkColumns, ids: Sequence[str], old_position: np.ndarray,
                    parsed: Mapping[int, ChunkFields], duplicate_of: np.ndarray,
                    window_counts: np.ndarray, decision_chunk_ids: Collection[str]) -> ChunkColumns:
    """The columns of a new index order made of the previous generation's columns and the
    chunks parsed in this build, without visiting a settled chunk: `ids` and `old_position`
    (the previous position, -1 for a parsed chunk) per position, `parsed` position ->
    chunk, `duplicate_of` each position's canonical position (-1: canonical),
    `window_counts` each canonical position's windows, `decision_chunk_ids` the parsed
    chunks holding a decision. Equal, array for array and vocabulary for vocabulary, to
    `ChunkColumns.of` of the same chunks (tests/test_carry.py)."""
    n = len(ids)
    settled = np.flatnonzero(old_position >= 0)
    fresh = np.fromiter(sorted(parsed), dtype=np.int64, count=len(parsed))
    made = ChunkColumns.of([parsed[int(p)] for p in fresh], [], [], decision_chunk_ids)
    canonical = duplicate_of < 0
    vec_row = np.where(canonical, np.cumsum(canonical) - 1, -1).astype(np.int32)
    arrays: dict[str, np.ndarray] = {"vec_row": vec_row, "duplicate_of": duplicate_of.astype(np.int32)}
    for name, dtype in CHUNK_COLUMNS.items():
        if name in arrays or name in CODED:
            continue
        column = np.empty(n, dtype=dtype)
        column[settled] = previous[name][old_position[settled]]
        column[fresh] = made[name]
        arrays[name] = column
    vocabularies = {}
    for name in CODED:
        values = list(previous.values(name))
        codes = np.empty(n, dtype=np.int64)
        codes[settled] = previous[name][old_position[settled]]
        codes[fresh] = made[name] + len(values)  # duplicates of old values are merged below
        values += made.values(name)
        arrays[name], vocabularies[name] = _first_seen(codes, values)
    arrays["window_chunk"] = np.repeat(np.flatnonzero(canonical), window_counts[canonical]).astype(np.int32)
    return ChunkColumns(list(ids), arrays, vocabularies)


def _first_seen(codes: np.ndarray, values: list) -> tuple[np.ndarray, list]:
    """Codes renumbered as `_codes` numbers values: in the order they first occur (equal
    values under two codes become one)."""
    merged: dict[Hashable, int] = {}
    same = np.fromiter((merged.setdefault(v, len(merged)) for v in values), dtype=np.int64,
                       count=len(values))
    codes = same[codes]
    used, first = np.unique(codes, return_index=True)
    order = used[np.argsort(first, kind="stable")]
    renumber = np.empty(len(merged), dtype=np.int64)
    renumber[order] = np.arange(len(order))
    distinct = list(merged)
    return renumber[codes].astype(np.int32), [distinct[int(v)] for v in order]


def _or(value: Hashable | None, blank: str | None) -> Hashable | None:
    return value if blank is None else (value or blank)


class IdsAt(Sequence[str]):
    """ids[positions[i]] for each i, without a list of them: the copy ids, or each window
    row's canonical id, over an archive's hundreds of thousands of rows."""

    def __init__(self, ids: Sequence[str], positions: np.ndarray) -> None:
        self._ids = ids
        self._positions = positions

    def __len__(self) -> int:
        return len(self._positions)

    @overload
    def __getitem__(self, i: int) -> str: ...

    @overload
    def __getitem__(self, i: slice) -> list[str]: ...

    def __getitem__(self, i: int | slice) -> str | list[str]:
        if isinstance(i, slice):
            return [self._ids[p] for p in self._positions[i].tolist()]
        return self._ids[int(self._positions[i])]


def _ints(values: Iterable[int]) -> np.ndarray:
    return np.fromiter(values, dtype=np.int32)


def _codes(values: Sequence[Hashable]) -> tuple[np.ndarray, list]:
    """Each value as a small integer, and the vocabulary (code -> value)."""
    vocabulary: dict[Hashable, int] = {}
    codes = np.fromiter((vocabulary.setdefault(v, len(vocabulary)) for v in values),
                        dtype=np.int32, count=len(values))
    return codes, list(vocabulary)


# --------------------------------------------------------------------------- files
def write_columns(directory: Path, columns: ChunkColumns) -> dict[str, str]:
    """Write the columns into `directory`; returns file name -> sha256 for the manifest."""
    directory.mkdir(parents=True, exist_ok=True)
    strings = {"chunk_ids": columns.chunk_ids, "vocabularies": dict(columns.vocabularies)}
    (directory / STRINGS).write_text(json.dumps(strings, ensure_ascii=False), encoding="utf-8")
    for name, dtype in {**CHUNK_COLUMNS, **WINDOW_COLUMNS}.items():
        np.save(directory / f"{name}.npy", np.ascontiguousarray(columns[name], dtype=dtype),
                allow_pickle=False)
    return {path.name: _sha256(path.read_bytes()) for path in sorted(directory.iterdir())}


def read_columns(index_dir: Path, directory: Path, digests: Mapping[str, str],
                 chunks: int, windows: int) -> ChunkColumns:
    """The columns of a generation whose manifest lists `digests`, checked: each file is
    the one the build wrote (sha256), and the columns agree with each other and with the
    manifest's counts. Any problem is one IndexFileDamaged naming the file."""
    data = {name: _checked_bytes(index_dir, directory / name, digest)
            for name, digest in digests.items()}
    for name in (STRINGS, *(f"{n}.npy" for n in (*CHUNK_COLUMNS, *WINDOW_COLUMNS))):
        if name not in data:
            raise IndexFileDamaged(index_dir, directory / name, "mangler i manifest.json")
    strings = json.loads(data.pop(STRINGS).decode("utf-8"))
    arrays = {}
    for name, dtype in {**CHUNK_COLUMNS, **WINDOW_COLUMNS}.items():
        arrays[name] = _array(index_dir, directory / f"{name}.npy", data[f"{name}.npy"], dtype)
    columns = ChunkColumns(strings["chunk_ids"], arrays, strings["vocabularies"])
    problem = columns_problem(columns, chunks, windows)
    if problem:
        name, reason = problem
        raise IndexFileDamaged(index_dir, directory / name, reason)
    return columns


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _checked_bytes(index_dir: Path, path: Path, digest: str) -> bytes:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise IndexFileDamaged(index_dir, path, "mangler") from None
    except OSError as exc:
        raise IndexFileDamaged(index_dir, path, f"kan ikke læses ({exc.strerror})") from exc
    if _sha256(data) != digest:
        raise IndexFileDamaged(
            index_dir, path, "har ikke det indhold, bygningen skrev (ændret, afkortet eller byttet om)")
    return data


def _array(index_dir: Path, path: Path, data: bytes, dtype: str) -> np.ndarray:
    try:
        array = np.load(io.BytesIO(data), allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise IndexFileDamaged(index_dir, path, "kan ikke læses som numpy-array") from exc
    if array.dtype != np.dtype(dtype) or array.ndim != 1:
        raise IndexFileDamaged(index_dir, path, f"har typen {array.dtype}{list(array.shape)}, ikke {dtype}")
    return array


def columns_problem(columns: ChunkColumns, chunks: int, windows: int) -> tuple[str, str] | None:
    """(file, what is wrong) when the columns disagree with each other or the counts."""
    n = len(columns.chunk_ids)
    if n != chunks:
        return STRINGS, f"har {n} tekststykker, men manifest.json siger {chunks}"
    if len(set(columns.chunk_ids)) != n:
        return STRINGS, "nævner det samme tekststykke flere gange"
    for name in CHUNK_COLUMNS:
        if len(columns[name]) != n:
            return f"{name}.npy", f"har {len(columns[name])} rækker, ikke {n}"
    for name in CODED:
        codes = columns[name]
        if n and (codes.min() < 0 or codes.max() >= len(columns.values(name))):
            return f"{name}.npy", "har koder uden for sit ordforråd"
    vec_row, duplicate_of = columns["vec_row"], columns["duplicate_of"]
    canonical = vec_row >= 0
    if not np.array_equal(np.sort(vec_row[canonical]), np.arange(int(canonical.sum()))):
        return "vec_row.npy", f"tekststykkernes vektorrækker er ikke nummereret 0..{int(canonical.sum()) - 1}"
    targets = duplicate_of[~canonical]
    if ((duplicate_of >= 0) == canonical).any() or (targets >= n).any() or not canonical[targets].all():
        return "duplicate_of.npy", "en dublet henviser ikke til et tekststykke uden dubletmærke"
    window_chunk = columns["window_chunk"]
    if len(window_chunk) != windows:
        return "window_chunk.npy", f"har {len(window_chunk)} vinduer, men manifest.json siger {windows}"
    if windows and (window_chunk.min() < 0 or window_chunk.max() >= n):
        return "window_chunk.npy", "et vindue henviser til et tekststykke, der ikke findes"
    return None
