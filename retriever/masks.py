"""The allowed set of a ranking as boolean arrays, so that a query never walks the archive.

A ranking considers only the passages a role may see inside the filters (retriever/ranker.py).
Deciding that chunk by chunk in Python costs every query time in proportion to the archive,
so the chunks are turned into numpy arrays once, at load: for every copy of a passage (the
canonical chunk and its duplicates) its canonical row, committee, document and section codes,
its date as a number, whether it holds a decision, and - asked of `access.may_see_chunks`,
the one access policy, never re-derived here - whether each role may see it. The columns
come from the store (`indexer.columns`: the build writes them), so no chunk is visited. A
query then costs a few vectorised comparisons, and a role's mask without filters is computed
once and reused.

The semantics are those of `IndexView.passes` and `access.may_see_chunk` for one chunk: a
canonical passage is allowed when ANY copy of it is visible to the role and inside the
filters, and the copy the role is shown is the first such copy, canonical first, duplicates in
index order (`ChunkRows.shown`). tests/test_ranker_masks.py holds the chunk-by-chunk reference.

Rows: canonical rows follow `RetrievalStore.canonical_ids` (the chunk vectors, and the order
the store reads a chunk mask in); window rows follow `RetrievalStore.window_chunk_ids`.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np

from indexer.columns import ChunkColumns, ChunkFields, IdsAt
from kommunesoeg.core.models import Chunk
from kommunesoeg.core.results import Filters
from kommunesoeg.core.roles import ROLES
from retriever.access import check_role, may_see_chunks


def _iso(number: int) -> str:
    """20230110 -> "2023-01-10" (the inverse of `date_number` for a dated chunk)."""
    return f"{number // 10_000:04d}-{number // 100 % 100:02d}-{number % 100:02d}"


def _day_number(day: date) -> int:
    return day.year * 10_000 + day.month * 100 + day.day


def _vocabulary(values: Sequence[Hashable]) -> dict[Hashable, int]:
    """value -> code of a coded column's vocabulary (code -> value)."""
    return {value: code for code, value in enumerate(values)}


def _accepted(vocabulary: Mapping[Hashable, int], wanted: Collection[Hashable]) -> np.ndarray:
    """A lookup table code -> accepted: indexing it with a code array is the `in` test."""
    table = np.zeros(len(vocabulary), dtype=bool)
    for value in wanted:
        code = vocabulary.get(value)
        if code is not None:
            table[code] = True
    return table


def has_filters(filters: Filters) -> bool:
    """Whether any filter is set (an empty list is no filter, as in `IndexView.passes`)."""
    return bool(
        filters.committees or filters.documents or filters.sections or filters.decisions_only
        or filters.date_from or filters.date_to
    )


@dataclass(frozen=True)
class AllowedRows:
    """What one role may rank inside one set of filters."""

    chunks: np.ndarray  # bool per canonical row: some copy of the passage is allowed
    windows: np.ndarray  # bool per window row: its passage is allowed
    copies: np.ndarray  # bool per copy (`ChunkRows.copy_ids`): visible and inside the filters
    everything: bool  # nothing is excluded, so a store may search without a mask


class ChunkRows:
    """Every copy of every passage of one generation as arrays (see the module docstring).

    Copies are ordered canonical chunks first, in canonical row order (copy i < canonical
    count is canonical row i), then the duplicates in index order. Made from a store's
    `ChunkColumns` (`indexer.columns`: written by the build, or made from the chunks'
    facts); only ids are kept: the copy a role is shown is fetched with `fetch` (the
    store's `chunk`, which reads its text on demand)."""

    def __init__(self, columns: ChunkColumns, fetch: Callable[[str], Chunk]) -> None:
        canonical = columns.canonical_positions  # index position of each canonical row
        duplicates = np.flatnonzero(columns["duplicate_of"] >= 0)
        copy_position = np.concatenate([canonical, duplicates])
        self.canonical_ids: list[str] = [columns.chunk_ids[i] for i in canonical.tolist()]
        self.row_of: dict[str, int] = dict(zip(self.canonical_ids, range(len(canonical))))
        self.copy_ids: Sequence[str] = IdsAt(columns.chunk_ids, copy_position)
        # index position -> canonical row of its passage (a duplicate: its canonical's)
        row_at = np.full(len(columns), -1, dtype=np.int64)
        row_at[canonical] = np.arange(len(canonical))
        row_at[duplicates] = row_at[columns["duplicate_of"][duplicates]]
        # duplicate id -> its canonical id (a few per cent of the chunks have one)
        self.canonical_of: dict[str, str] = {
            columns.chunk_ids[d]: self.canonical_ids[r]
            for d, r in zip(duplicates.tolist(), row_at[duplicates].tolist())
        }
        self._fetch = fetch
        n_canonical = len(canonical)
        self._duplicate_rows = row_at[duplicates]
        # canonical row -> its duplicates' copy indices, in index order (few rows have any)
        self._duplicates: dict[int, tuple[int, ...]] = {}
        for i, row in enumerate(self._duplicate_rows.tolist()):
            self._duplicates[row] = (*self._duplicates.get(row, ()), n_canonical + i)
        self._committee = columns["committee"][copy_position]
        self._committees = _vocabulary(columns.values("committee"))
        self._document = columns["document"][copy_position]
        self._documents = _vocabulary(columns.values("document"))
        self._section = columns["section"][copy_position]
        self._sections = _vocabulary(columns.values("section"))
        self._date = columns["date"][copy_position]
        self._decision = columns["decision"][copy_position]
        self.window_row = row_at[columns["window_chunk"]]  # window row -> canonical row
        # Per copy and role: `access.may_see_chunks`, the one access policy over the
        # closed column - asked here, at load, for every role there is (`check_role`
        # refuses any other before a ranking).
        closed = columns["closed"][copy_position]
        self._visible = {role: may_see_chunks(closed, role) for role in ROLES}
        self._unfiltered = {role: self._allowed(self._visible[role]) for role in ROLES}

    @classmethod
    def of_chunks(
        cls,
        canonical_ids: Sequence[str],
        chunks: Iterable[ChunkFields],
        window_chunk_ids: Sequence[str],
        decision_chunk_ids: Collection[str],
        fetch: Callable[[str], Chunk] | None = None,
    ) -> ChunkRows:
        """The rows of chunks (or their facts) in index order; without `fetch` the given
        objects themselves are what `shown` returns."""
        chunks = list(chunks)
        columns = ChunkColumns.of(chunks, canonical_ids, window_chunk_ids, decision_chunk_ids)
        return cls(columns, fetch or {c.chunk_id: c for c in chunks}.__getitem__)

    @property
    def committees(self) -> tuple[str, ...]:
        """Every committee a chunk names, sorted (the filter vocabulary)."""
        return tuple(sorted(c for c in self._committees if c))

    @property
    def documents(self) -> tuple[str, ...]:
        return tuple(sorted(self._documents))

    @property
    def sections(self) -> tuple[str, ...]:
        return tuple(sorted(self._sections))

    def date_span(self, role: str) -> tuple[str, str] | None:
        """(first, last) ISO date of the chunks `role` may see; None when none is dated."""
        dated = self._date[self._visible[check_role(role)] & (self._date > 0)]
        if not dated.size:
            return None
        return _iso(int(dated.min())), _iso(int(dated.max()))

    def canonical_id(self, chunk_id: str) -> str:
        """The canonical copy's id of any copy's id (KeyError for an unknown id)."""
        if chunk_id in self.row_of:
            return chunk_id
        return self.canonical_of[chunk_id]

    def holds_decision(self, canonical_id: str) -> bool:
        """Whether any copy of the passage is a decision section or holds a decision."""
        row = self.row_of[canonical_id]
        return bool(self._decision[row]) or any(self._decision[i] for i in self._duplicates.get(row, ()))

    def group(self, canonical_id: str) -> tuple[str, ...]:
        """The ids of every copy of the passage: canonical first, duplicates in index order."""
        row = self.row_of[canonical_id]
        return (canonical_id, *(self.copy_ids[i] for i in self._duplicates.get(row, ())))

    def inside(self, filters: Filters) -> np.ndarray:
        """Per copy: inside the filters (`IndexView.passes`, vectorised; access is separate)."""
        inside = np.ones(len(self.copy_ids), dtype=bool)
        if filters.committees:
            inside &= _accepted(self._committees, filters.committees)[self._committee]
        if filters.documents:
            inside &= _accepted(self._documents, filters.documents)[self._document]
        if filters.sections:
            inside &= _accepted(self._sections, filters.sections)[self._section]
        if filters.decisions_only:
            inside &= self._decision
        if filters.date_from or filters.date_to:
            inside &= self._date > 0
            if filters.date_from:
                inside &= self._date >= _day_number(filters.date_from)
            if filters.date_to:
                inside &= self._date <= _day_number(filters.date_to)
        return inside

    def allowed(self, role: str, filters: Filters) -> AllowedRows:
        """The rows `role` may rank inside `filters` (without filters: computed at load)."""
        visible = self._visible[check_role(role)]
        if not has_filters(filters):
            return self._unfiltered[role]
        return self._allowed(visible & self.inside(filters))

    def _allowed(self, copies: np.ndarray) -> AllowedRows:
        n_canonical = len(self.canonical_ids)
        chunks = copies[:n_canonical].copy()
        chunks[self._duplicate_rows[copies[n_canonical:]]] = True  # any allowed copy
        return AllowedRows(
            chunks=chunks,
            windows=chunks[self.window_row],
            copies=copies,
            everything=bool(chunks.all()),
        )

    def shown(self, canonical_id: str, allowed: AllowedRows) -> Chunk | None:
        """The copy of the passage the role is shown: the first allowed one, canonical
        first; None when no copy is allowed."""
        shown = self.shown_id(canonical_id, allowed)
        return None if shown is None else self._fetch(shown)

    def shown_id(self, canonical_id: str, allowed: AllowedRows) -> str | None:
        """The id of the copy `shown` returns, without reading the chunk."""
        row = self.row_of[canonical_id]
        if allowed.copies[row]:
            return self.copy_ids[row]
        for i in self._duplicates.get(row, ()):
            if allowed.copies[i]:
                return self.copy_ids[i]
        return None
