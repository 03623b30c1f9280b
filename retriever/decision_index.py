"""The index's decisions looked up by agenda item, by title words and by case.

A decision question reads the decisions of the items its search found, of the items it
names by title ("under punktet Eventuelt"), and of the other treatments of the chosen case
(same sagsnummer, or the same title); a precedent row and a timeline read those of the
item numbers they found. Scanning every decision for each of these - and stemming every
title again - costs each question time in proportion to the archive (a ten-year archive
holds on the order of 100,000 decisions). This index answers these lookups from
dictionaries built once per loaded generation, on first use (a search-only process never
pays for it), under a lock so a Searcher can serve many threads.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from kommunesoeg.core.models import Decision
from retriever.items import ItemKey, item_of, item_title_terms, normalise_title


@dataclass
class _Tables:
    """Positions in `DecisionIndex.decisions` (the store's order) per key."""

    by_item: dict[ItemKey | None, list[int]]
    by_term: dict[str, list[int]]  # title term -> the decisions whose title has it
    terms: list[frozenset[str]]  # per decision: its title's content terms
    by_title: dict[str, list[int]]  # normalised title -> decisions
    by_case: dict[str, list[int]]  # sagsnummer -> decisions
    by_number: dict[tuple[str, int | None], list[int]]  # (document, punkt) -> decisions


@dataclass
class DecisionIndex:
    """Lookups over `decisions` (all of a generation, every role: callers apply access).
    `case_of` gives a decision's sagsnummer (read from the passage holding it)."""

    decisions: Sequence[Decision]
    case_of: Callable[[Decision], str | None]
    _tables: _Tables | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _built(self) -> _Tables:
        with self._lock:
            if self._tables is None:
                self._tables = self._build()
            return self._tables

    def _build(self) -> _Tables:
        tables = _Tables({}, {}, [], {}, {}, {})
        by_title_terms: dict[str, frozenset[str]] = {}  # standing titles repeat thousands of times
        for position, decision in enumerate(self.decisions):
            tables.by_item.setdefault(item_of(decision), []).append(position)
            tables.by_number.setdefault((decision.document, decision.punkt), []).append(position)
            title = normalise_title(decision.punkt_title)
            if decision.punkt_title not in by_title_terms:
                by_title_terms[decision.punkt_title] = item_title_terms(decision.punkt_title)
            terms = by_title_terms[decision.punkt_title]
            tables.terms.append(terms)
            for term in terms:
                tables.by_term.setdefault(term, []).append(position)
            tables.by_title.setdefault(title, []).append(position)
            case = self.case_of(decision)
            if case:
                tables.by_case.setdefault(case, []).append(position)
        return tables

    def _in_order(self, positions: Iterable[int]) -> list[Decision]:
        """The decisions at these positions, once each, in the store's order (which
        treatment of a repeated decision wins is the same as a scan would pick)."""
        return [self.decisions[p] for p in sorted(set(positions))]

    def about(self, items: Iterable[ItemKey | None], asked: set[str]) -> list[Decision]:
        """The decisions of these agenda items, and of the items whose title's every
        content term is among `asked` (the terms of a question): the items it names."""
        tables = self._built()
        positions = [p for item in set(items) for p in tables.by_item.get(item, ())]
        counts: dict[int, int] = {}
        for term in asked:
            for p in tables.by_term.get(term, ()):
                counts[p] = counts.get(p, 0) + 1
        positions += [p for p, n in counts.items() if n == len(tables.terms[p])]
        return self._in_order(positions)

    def numbered(self, numbers: Iterable[tuple[str, int | None]]) -> list[Decision]:
        """The decisions recorded under these (document, item number) pairs, whatever
        their titles (a precedent row matches the title itself, fuzzily), in the store's
        order."""
        tables = self._built()
        return self._in_order(p for number in set(numbers) for p in tables.by_number.get(number, ()))

    def of_case(self, case: str | None, title: str) -> list[Decision]:
        """Decisions of items with this sagsnummer or this normalised title: every
        decision that can be a treatment of the same case."""
        tables = self._built()
        positions = list(tables.by_title.get(title, ())) if title else []
        if case:
            positions += tables.by_case.get(case, ())
        return self._in_order(positions)
