"""Who is asking. Two roles: the public (default everywhere) and internal staff, who may see
closed items and are audited. What each role may see is decided in retriever/access.py."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    PUBLIC = "public"
    INTERNAL = "internal"


ROLES: tuple[str, ...] = tuple(r.value for r in Role)
