"""Append-only audit log of what internal users searched and which closed items they saw.

Municipal archives must be able to answer "who looked at this closed item, and when".
A file index logs to a file: one JSON object per line; each record is a single O_APPEND
write under an exclusive lock, so concurrent writers never interleave and earlier lines are
never rewritten. A PostgreSQL store logs to its database (`PgAuditLog`), so the app servers
of one deployment keep one log, inserted into and never updated by the reading role.
The public role is not logged (no personal data collected about citizens by default).
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
from datetime import UTC, datetime
from pathlib import Path

from kommunesoeg.core.errors import AuditLogError, KommunesoegError
from kommunesoeg.core.results import Hit


def audit_entry(*, user: str | None, action: str, query: str, hits: list[Hit]) -> dict:
    """One record: when, who, what was asked, which passages came back, and the closed
    ones among them named (document, Punkt, Bilag, title)."""
    return {
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


class AuditLog:
    """The log file is only touched by `record`, so a read-only index still serves the
    public role; internal use it cannot log is refused with AuditLogError."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def record(self, *, user: str | None, action: str, query: str, hits: list[Hit]) -> None:
        entry = audit_entry(user=user, action=action, query=query, hits=hits)
        line = (json.dumps(entry, ensure_ascii=False) + "\n").encode("utf-8")
        try:
            self._append(line)
        except OSError as exc:  # read-only index, full disk, a file where a folder should be
            raise AuditLogError(self.path, exc.strerror or str(exc)) from exc

    def _append(self, line: bytes) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            written = os.write(fd, line)
            if written != len(line):  # a short write on a nearly full disk
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            os.fsync(fd)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


class PgAuditLog:
    """The audit log of a PostgreSQL store: the table `audit_log` (indexer/pg/schema.py),
    which the internal role may insert into but not change or read. Each record is one
    autocommit INSERT on its own short connection, so a record is durable before the answer
    is returned, as the file log's fsync makes it."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn

    def record(self, *, user: str | None, action: str, query: str, hits: list[Hit]) -> None:
        from indexer.pg.connect import connect, safe_dsn

        entry = audit_entry(user=user, action=action, query=query, hits=hits)
        try:
            conn = connect(self.dsn, autocommit=True)
            try:
                conn.execute(
                    "INSERT INTO audit_log (at, app_user, action, query, results, closed_shown) "
                    "VALUES (%s, %s, %s, %s, %s, %s)",
                    (entry["time"], entry["user"], action, query,
                     json.dumps(entry["results"]), json.dumps(entry["closed_shown"],
                                                              ensure_ascii=False)))
            finally:
                conn.close()
        except KommunesoegError as exc:
            raise AuditLogError(safe_dsn(self.dsn), str(exc)) from exc
        except Exception as exc:  # psycopg's errors: permission, a full disk, a lost server
            reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise AuditLogError(safe_dsn(self.dsn), reason) from exc
