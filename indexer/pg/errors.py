"""What can go wrong with a PostgreSQL store, each as one line for the CLI and the app.

Subclasses of `KommunesoegError`, so the edges that already turn that base class into one
clear Danish line need no change for the PostgreSQL store."""

from __future__ import annotations

from kommunesoeg.core.errors import KommunesoegError


class PgUnavailable(KommunesoegError):
    """The DSN is malformed, or the server cannot be reached or refuses the login."""


class PgSchemaTooNew(KommunesoegError):
    """The database was migrated by a newer Kommunesøg: an older product must not write to
    (or misread) a schema it does not know."""


class PgExtensionMissing(KommunesoegError):
    """pgvector is not installed, too old, or this user may not create it."""


class PgModelMismatch(KommunesoegError):
    """The database holds vectors of another embedding model (or dimension) than asked for."""
