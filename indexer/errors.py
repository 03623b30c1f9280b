"""Domain exceptions. The library raises these; the CLI and the app turn them into one line."""

from __future__ import annotations


class KommunesoegError(Exception):
    """Base class: anything a user can cause and should be told about in one line."""


class DocumentError(KommunesoegError):
    """A single input file could not be indexed; the rest of the build continues."""

    def __init__(self, file: str, reason: str) -> None:
        super().__init__(f"{file}: {reason}")
        self.file = file
        self.reason = reason


class IndexNotFound(KommunesoegError):
    """No complete index generation exists in the index directory."""


class ModelMismatch(KommunesoegError):
    """The index was built with another embedding model than the one asked for."""


class InvalidQuery(KommunesoegError):
    """A query string or filter value a user gave cannot be used (names the field)."""
