"""Domain exceptions. The library raises these; the CLI and the app turn them into one line.

Every failure a user can cause or meet (a bad file, a damaged or locked index, a full disk,
a read-only folder, an unknown model) is one of these, so the edges (kommunesoeg/cli.py,
the app) need to catch exactly one base class to show one clear Danish line instead of a
traceback.
"""

from __future__ import annotations

from pathlib import Path


class KommunesoegError(Exception):
    """Base class: anything a user can cause and should be told about in one line."""


class DocumentError(KommunesoegError):
    """A single input file could not be indexed; the rest of the build continues."""

    def __init__(self, file: str, reason: str) -> None:
        super().__init__(f"{file}: {reason}")
        self.file = file
        self.reason = reason


class NothingIndexed(KommunesoegError):
    """A build found no file it could index (empty folder, mistyped path, only bad files).

    The index is left exactly as it was. `errors` holds the per-file reasons, so the caller
    can show them before this one-line summary."""

    def __init__(self, message: str, errors: list[DocumentError] | None = None) -> None:
        super().__init__(message)
        self.errors = list(errors or [])


class InvalidSetting(KommunesoegError, ValueError):
    """A build setting (chunk size, FAISS type, ...) is out of range; names the setting.
    Also a ValueError, which is what callers caught before it existed."""


class IndexNotFound(KommunesoegError):
    """No complete index generation exists in the index directory."""


class IndexDamaged(KommunesoegError):
    """The index directory exists but cannot be used as it is (damaged generation, or
    `--index` names a file or a folder that holds other things than an index)."""


class IndexLocked(KommunesoegError):
    """Another build holds the index's write lock."""


class DiskFull(KommunesoegError):
    """The disk filled up while writing; the previous generation is still the current one."""


class ReadOnlyIndex(KommunesoegError):
    """The index directory (or the disk it is on) cannot be written."""


class ModelMismatch(KommunesoegError):
    """The index was built with another embedding model than the one asked for."""


class UnknownModel(KommunesoegError):
    """`--model` names neither the bundled model, a local model folder, nor a model in the
    local Hugging Face cache (Kommunesøg never downloads a model behind the user's back)."""


class MissingDependency(KommunesoegError, ImportError):
    """An optional extra (e.g. sentence-transformers) is needed but not installed. Also an
    ImportError, which is what callers caught before it existed."""


class InvalidQuery(KommunesoegError):
    """A query string or filter value a user gave cannot be used (names the field)."""


class IndexFileDamaged(IndexDamaged):
    """One file of the index (or its `current` link) is missing, unreadable, or disagrees with
    the rest of its generation. Raised when the index is loaded, so a damaged index is never
    searched: a FAISS file swapped with its sibling would otherwise give wrong hits silently.

    `file` and `reason` are kept apart from the message so the app can show a short Danish
    line without server paths and log the full one."""

    def __init__(self, index_dir: Path | str, file: Path | str, reason: str, *, rebuild: bool = True) -> None:
        self.index_dir = Path(index_dir)
        self.file = Path(file)
        self.reason = reason
        try:
            shown = self.file.relative_to(self.index_dir)
        except ValueError:
            shown = self.file
        message = f"Indekset {self.index_dir} er beskadiget: {shown}: {reason}."
        if rebuild:
            command = f"`kommunesoeg index <mappen med dokumenterne> --index {self.index_dir} --prune`"
            generation = shown.parts[0] if len(shown.parts) > 1 else None
            if generation:  # the builder reuses a readable generation: move it out of the way
                message += f" Flyt mappen {generation} væk, og byg indekset igen med {command}"
            else:
                message += f" Byg indekset igen med {command}"
        super().__init__(message)


class AuditLogError(KommunesoegError):
    """Internal use must be written to the audit log; when the log cannot be written the
    internal request is refused (the public role is never logged, so it keeps working)."""

    def __init__(self, path: Path | str, reason: str) -> None:
        self.path = path  # the log file, or the database (its DSN without the password)
        self.reason = reason
        super().__init__(
            f"Revisionsloggen {self.path} kan ikke skrives ({reason}), og intern brug skal "
            "logges. Gør filen skrivbar, eller peg KOMMUNESOEG_AUDIT_LOG på en skrivbar fil"
        )
