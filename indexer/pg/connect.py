"""Connecting to PostgreSQL: a DSN in, a psycopg connection out, or one line naming the DSN.

Kept apart so every caller (indexing workers, tests, later the retriever) reports a bad DSN
the same way and never prints a password."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from indexer.pg.errors import PgUnavailable
from kommunesoeg.core.errors import MissingDependency

if TYPE_CHECKING:
    import psycopg

PUBLIC_ROLE = "kommunesoeg_public"
INTERNAL_ROLE = "kommunesoeg_internal"
WRITER_ROLE = "kommunesoeg_writer"
_EXTRA_HINT = 'psycopg er ikke installeret - installér ekstraen: pip install "kommunesoeg[postgres]"'
_PASSWORD_IN_URL = re.compile(r"(://[^:/@]*:)[^@]*@")
_PASSWORD_KEYWORD = re.compile(r"(password\s*=\s*)('[^']*'|\S+)", re.IGNORECASE)


def is_dsn(value: str) -> bool:
    """True when an `--index` value names a PostgreSQL database rather than a directory."""
    return value.startswith(("postgresql://", "postgres://"))


def safe_dsn(dsn: str) -> str:
    """The DSN as it may be shown to a user or logged: the password replaced by ***."""
    return _PASSWORD_KEYWORD.sub(r"\1***", _PASSWORD_IN_URL.sub(r"\1***@", dsn))


def with_database(dsn: str, dbname: str) -> str:
    """The same server and login, another database (a URL DSN's path is the database)."""
    parts = urlsplit(dsn)
    return urlunsplit((parts.scheme, parts.netloc, "/" + dbname, parts.query, parts.fragment))


def connect(dsn: str, *, role: str | None = None, autocommit: bool = False,
            connect_timeout: int = 10) -> psycopg.Connection:
    """Open a connection; with `role`, every statement on it runs as that database role.

    `role` is `SET ROLE`, so row-level security applies as if that role had logged in. A
    deployment's public reader should rather log in as a user that is only a member of
    `kommunesoeg_public` (then no statement can undo it); `role` is for one login that
    serves both."""
    try:
        import psycopg
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        raise MissingDependency(_EXTRA_HINT) from exc
    try:
        conn = psycopg.connect(dsn, autocommit=autocommit, connect_timeout=connect_timeout)
    except psycopg.Error as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise PgUnavailable(f"Kan ikke forbinde til PostgreSQL {safe_dsn(dsn)}: {reason}") from None
    if role is not None:
        from psycopg import sql

        try:
            conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(role)))
        except psycopg.Error as exc:
            conn.close()
            reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise PgUnavailable(
                f"PostgreSQL {safe_dsn(dsn)}: kan ikke skifte til rollen {role}: {reason}") from None
        if not autocommit:
            conn.commit()
    return conn
