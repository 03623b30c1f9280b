"""Who may see what: the one place the closed-item rule and the roles' rights are decided.

A passage can exist in several places (an open and a closed copy of the same minutes).
The public role sees a passage only through its open copies; a closed copy is never
shown, cited, counted or listed under "also in", and a page holding closed text is never
shown to it (not as an image, not in the public PDF copy). Text reaches the public role
only through `present` (personal data masked). Internal staff see everything, and their
use is audited. Every caller - the retriever's verbs, stats, the app's cards, page images
and public PDF copies - asks this module instead of comparing role names itself.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from kommunesoeg.core.errors import InvalidQuery
from kommunesoeg.core.models import Chunk, Decision
from kommunesoeg.core.pages import closed_pages_of
from kommunesoeg.core.results import Hit
from kommunesoeg.core.roles import ROLES, Role
from retriever.privacy import mask_pii


def check_role(role: str) -> Role:
    """The role, or InvalidQuery naming the allowed ones."""
    if role not in ROLES:
        raise InvalidQuery(f"role: ukendt rolle '{role}' (tilladt: {', '.join(ROLES)})")
    return Role(role)


def is_internal(role: str) -> bool:
    """Internal staff: the one role with more rights than the public."""
    return role == Role.INTERNAL


def sees_closed(role: str) -> bool:
    """Whether `role` may see closed items at all (and is therefore audited)."""
    return is_internal(role)


def may_see_chunk(chunk: Chunk, role: str) -> bool:
    return sees_closed(role) or not chunk.closed


def may_see_chunks(closed: np.ndarray, role: str) -> np.ndarray:
    """`may_see_chunk` for every chunk at once, given their `closed` flags: the rule above
    over a column (retriever/masks.py), so an archive's masks need no loop over chunks."""
    closed = np.asarray(closed, dtype=bool)
    return np.ones(closed.shape, dtype=bool) if sees_closed(role) else ~closed


def may_see_decision(decision: Decision, role: str) -> bool:
    return sees_closed(role) or not decision.closed


def may_see_page(page: int, closed_pages: set[int], role: str) -> bool:
    """A page with any closed text on it is not shown to a role that may not see closed text."""
    return sees_closed(role) or page not in closed_pages


def in_public_copy(item: Chunk | Hit) -> bool:
    """Whether a passage can be linked in the public PDF copy: a closed passage's pages are
    blanked there, so it never is (internal users open the original instead)."""
    return not item.closed


def may_open_source(role: str) -> bool:
    """The original indexed file (closed pages included) is for internal users only; the
    public gets the copy with closed pages blanked."""
    return sees_closed(role)


def may_count_closed(role: str) -> bool:
    """Counts of closed passages and items tell the public that something is hidden."""
    return sees_closed(role)


def is_audited(role: str) -> bool:
    """Internal use is always written to the audit log; the public role never is."""
    return sees_closed(role)


def present(text: str, role: str) -> str:
    """Text as `role` may read it: personal data masked for everyone but internal staff."""
    return text if sees_closed(role) else mask_pii(text)


def closed_pages(chunks: Iterable[Chunk], document: str) -> set[int]:
    """Pages of `document` on which closed text lies (conservative: mixed pages count)."""
    return closed_pages_of(c for c in chunks if c.document == document)


def closed_pages_by_document(chunks: Iterable[Chunk]) -> dict[str, set[int]]:
    """`closed_pages` for every document that has any."""
    by_document: dict[str, list[Chunk]] = {}
    for chunk in chunks:
        if chunk.closed:
            by_document.setdefault(chunk.document, []).append(chunk)
    return {document: closed_pages_of(chunks) for document, chunks in by_document.items()}
