"""Which pages hold closed text: one rule for the indexer and the retriever.

A page is closed when any closed section or chunk touches it, even if open text shares the
page (conservative: a page image or a fixed-size slice cannot show half a page). The
indexer uses it to mark naive slices closed; the access policy to keep such pages from
the public.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol


class PageSpan(Protocol):
    """Anything that covers a page range and may be closed (a Section, a Chunk)."""

    page_start: int
    page_end: int
    closed: bool


def closed_pages_of(spans: Iterable[PageSpan]) -> set[int]:
    """Every page touched by a closed span."""
    pages: set[int] = set()
    for span in spans:
        if span.closed:
            pages.update(range(span.page_start, span.page_end + 1))
    return pages
