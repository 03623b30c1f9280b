"""Who may see what. The rule lives here, in the retriever, not in the UI.

A passage can exist in several places (an open and a closed copy of the same minutes).
The public role sees a passage only through its open copies; a closed copy is never
shown, cited, counted or listed under "also in".
"""

from __future__ import annotations

from kommunesoeg.core.errors import InvalidQuery
from kommunesoeg.core.models import Chunk, Decision
from kommunesoeg.core.roles import ROLES


def check_role(role: str) -> str:
    if role not in ROLES:
        raise InvalidQuery(f"role: ukendt rolle '{role}' (tilladt: {', '.join(ROLES)})")
    return role


def may_see_chunk(chunk: Chunk, role: str) -> bool:
    return role == "internal" or not chunk.closed


def may_see_decision(decision: Decision, role: str) -> bool:
    return role == "internal" or not decision.closed
