"""The allowed set of a ranking as boolean arrays, so that a query never walks the archive.

A ranking considers only the passages a role may see inside the filters (retriever/ranker.py).
Deciding that chunk by chunk in Python costs every query time in proportion to the archive,
so the chunks are turned into numpy arrays once, at load: for every copy of a passage (the
canonical chunk and its duplicates) its canonical row, committee, document and section codes,
its date as a number, whether it holds a decision, and - asked of `access.may_see_chunk`, the
one access policy, never re-derived here - whether each role may see it. A query then costs
a few vectorised comparisons, and a role's mask without filters is computed once and reused.

The semantics are those of `IndexView.passes` and `access.may_see_chunk` for one chunk: a
canonical passage is allowed when ANY copy of it is visible to the role and inside the
filters, and the copy the role is shown is the first such copy, canonical first, duplicates in
index order (`ChunkRows.shown`). tests/test_ranker_masks.py holds the chunk-by-chunk reference.

Rows: canonical rows follow `RetrievalStore.canonical_ids` (the chunk vectors, and the order
the store reads a chunk mask in); window rows follow `RetrievalStore.window_chunk_ids`.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Hashable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np

from kommunesoeg.core.models import Chunk
from kommunesoeg.core.results import Filters
from kommunesoeg.core.roles import ROLES
from retriever.access import may_see_chunk

_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def date_number(iso: str | None) -> int:
    """"2023-01-10" -> 20230110, and 0 for no date. The indexer writes fixed-width ISO dates,
    so the numbers order exactly as the strings `IndexView.passes` compares; anything else
    counts as undated (no date filter accepts it)."""
    if iso and _ISO_DATE.fullmatch(iso):
        return int(iso.replace("-", ""))
    return 0


def _day_number(day: date) -> int:
    return day.year * 10_000 + day.month * 100 + day.day


def _codes(values: Sequence[Hashable]) -> tuple[np.ndarray, dict[Hashable, int]]:
    """Each value as a small integer, and the vocabulary (value -> code)."""
    vocabulary: dict[Hashable, int] = {}
    codes = np.fromiter(
        (vocabulary.setdefault(v, len(vocabulary)) for v in values), dtype=np.int32,
        count=len(values),
    )
    return codes, vocabulary


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
    copies: np.ndarray  # bool per copy (`ChunkRows.copies`): visible and inside the filters
    everything: bool  # nothing is excluded, so a store may search without a mask


class ChunkRows:
    """Every copy of every passage of one generation as arrays (see the module docstring).

    Copies are ordered canonical chunks first, in canonical row order (copy i < canonical
    count is canonical row i), then the duplicates in index order."""

    def __init__(
        self,
        canonical_ids: Sequence[str],
        chunks: Sequence[Chunk],
        window_chunk_ids: Sequence[str],
        decision_chunk_ids: Collection[str],
    ) -> None:
        self.canonical_ids: tuple[str, ...] = tuple(canonical_ids)
        self.row_of: dict[str, int] = {cid: row for row, cid in enumerate(self.canonical_ids)}
        by_id = {c.chunk_id: c for c in chunks}
        duplicates = [c for c in chunks if c.duplicate_of is not None]
        self.copies: tuple[Chunk, ...] = (
            tuple(by_id[cid] for cid in self.canonical_ids) + tuple(duplicates)
        )
        n_canonical = len(self.canonical_ids)
        self._duplicate_rows = np.fromiter(
            (self.row_of[c.duplicate_of] for c in duplicates), dtype=np.int64,
            count=len(duplicates),
        )
        # canonical row -> its duplicates' copy indices, in index order (few rows have any)
        self._duplicates: dict[int, tuple[int, ...]] = {}
        for i, row in enumerate(self._duplicate_rows.tolist()):
            self._duplicates[row] = (*self._duplicates.get(row, ()), n_canonical + i)
        self._committee, self._committees = _codes([c.committee for c in self.copies])
        self._document, self._documents = _codes([c.document for c in self.copies])
        self._section, self._sections = _codes([c.section for c in self.copies])
        self._date = np.fromiter(
            (date_number(c.date) for c in self.copies), dtype=np.int32, count=len(self.copies)
        )
        self._decision = np.fromiter(
            (c.section == "beslutning" or c.chunk_id in decision_chunk_ids for c in self.copies),
            dtype=bool, count=len(self.copies),
        )
        window_rows = [
            self.row_of[by_id[cid].duplicate_of or cid] for cid in window_chunk_ids
        ]
        self.window_row = np.asarray(window_rows, dtype=np.int64)  # window row -> canonical row
        self._visible = {role: self._visible_to(role) for role in ROLES}
        self._unfiltered = {role: self._allowed(self._visible[role]) for role in ROLES}

    def _visible_to(self, role: str) -> np.ndarray:
        """Per copy: `access.may_see_chunk`, the one access policy."""
        return np.fromiter(
            (may_see_chunk(c, role) for c in self.copies), dtype=bool, count=len(self.copies)
        )

    def inside(self, filters: Filters) -> np.ndarray:
        """Per copy: inside the filters (`IndexView.passes`, vectorised; access is separate)."""
        inside = np.ones(len(self.copies), dtype=bool)
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
        filtered = has_filters(filters)
        if not filtered and role in self._unfiltered:
            return self._unfiltered[role]
        visible = self._visible[role] if role in self._visible else self._visible_to(role)
        return self._allowed(visible & self.inside(filters) if filtered else visible)

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
        row = self.row_of[canonical_id]
        if allowed.copies[row]:
            return self.copies[row]
        for i in self._duplicates.get(row, ()):
            if allowed.copies[i]:
                return self.copies[i]
        return None
