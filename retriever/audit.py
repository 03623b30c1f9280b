"""Append-only audit log of what internal users searched and which closed items they saw.

Municipal archives must be able to answer "who looked at this closed item, and when".
One JSON object per line; each record is a single O_APPEND write under an exclusive
lock, so concurrent writers never interleave and earlier lines are never rewritten.
The public role is not logged (no personal data collected about citizens by default).
"""

from __future__ import annotations

import fcntl
import json
import os
from datetime import UTC, datetime
from pathlib import Path

from retriever.models import Hit


class AuditLog:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def record(self, *, user: str | None, action: str, query: str, hits: list[Hit]) -> None:
        entry = {
            "time": datetime.now(UTC).isoformat(timespec="seconds"),
            "user": user or "ukendt",
            "action": action,
            "query": query,
            "results": [h.chunk_id for h in hits],
            "closed_shown": [
                {"chunk_id": h.chunk_id, "document": h.document, "punkt": h.punkt,
                 "bilag": h.bilag, "punkt_title": h.punkt_title}
                for h in hits
                if h.closed
            ],
        }
        line = (json.dumps(entry, ensure_ascii=False) + "\n").encode("utf-8")
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            os.write(fd, line)
            os.fsync(fd)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
