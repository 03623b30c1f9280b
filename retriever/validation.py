"""Checking what a caller asks for, before any work: one clear `InvalidQuery` per problem,
naming the field (query, k, committee, document, section, date)."""

from __future__ import annotations

import re

from kommunesoeg.core.errors import InvalidQuery
from kommunesoeg.core.results import Filters
from retriever.view import IndexView

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def clean_query(query: str, max_chars: int) -> str:
    """The query with control characters blanked and outer whitespace removed."""
    if not isinstance(query, str):
        raise InvalidQuery("query: skal være tekst")
    query = _CONTROL.sub(" ", query).strip()
    if not query:
        raise InvalidQuery("query: forespørgslen er tom")
    if len(query) > max_chars:
        raise InvalidQuery(
            f"query: forespørgslen er for lang ({len(query)} tegn; højst {max_chars})"
        )
    return query


def check_k(k: int, high: int) -> int:
    """A whole number of results between 1 and `high`."""
    if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= high:
        raise InvalidQuery(f"k: skal være et helt tal mellem 1 og {high}")
    return k


def check_filters(filters: Filters, view: IndexView) -> None:
    """Every filter value must exist in the index; a date range must not be reversed."""
    checks = (
        ("committee", filters.committees, view.committees),
        ("document", filters.documents, view.documents),
        ("section", filters.sections, view.sections),
    )
    for field, given, known in checks:
        for value in given or []:
            if value not in known:
                raise InvalidQuery(
                    f"{field}: ukendt værdi '{value}' (kendte: {', '.join(known)})"
                )
    if filters.date_from and filters.date_to and filters.date_from > filters.date_to:
        raise InvalidQuery("date: fra-datoen ligger efter til-datoen")
