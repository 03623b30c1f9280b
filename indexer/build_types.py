"""What the build steps hand each other: the report a build returns, a document as parsed (or
taken over), and the embedding cache opened for a step. In a module of their own so the
steps can share them without importing each other."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from indexer.store import DocumentRecord, EmbeddingCache
from kommunesoeg.core.errors import DocumentError
from kommunesoeg.core.models import Chunk, Decision


@dataclass
class BuildReport:
    """What a build did; the CLI prints it, the app shows it."""

    documents_indexed: int = 0  # parsed in this build and now in the index
    documents_skipped_unchanged: int = 0  # unchanged since the last build, reused as they were
    documents_removed: int = 0  # indexed before, not any more (pruned, or now failing)
    removed_files: list[str] = field(default_factory=list)  # their names
    # kept from the previous generation (not among the inputs) but parsed with other
    # settings or parser code than this build's: read again by a build that includes them
    stale_files: list[str] = field(default_factory=list)
    errors: list[DocumentError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # e.g. a damaged cache moved aside
    chunks: int = 0
    duplicates: int = 0
    embedded_texts: int = 0  # texts the model embedded in this build
    cached_texts: int = 0  # texts whose vector came from the embedding cache
    seconds: float = 0.0
    changed: bool = False  # a new generation was published
    generation: str | None = None  # name of the current generation after the build
    documents_total: int = 0  # documents in the index after the build


@dataclass
class Parsed:
    """One input file after parsing, or a document taken over from the previous generation
    (`settled`: its chunks and decisions are read from there when a build needs them, see
    `indexer.previous_generation.read_settled`)."""

    record: DocumentRecord
    chunks: list[Chunk] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)
    settled: bool = False


@contextlib.contextmanager
def opened_cache(cache_path: Path, report: BuildReport) -> Iterator[EmbeddingCache]:
    """The index's embedding cache, open while the build embeds and tokenises; what it had
    to say (a damaged file set aside) goes into the build report once."""
    cache = EmbeddingCache(cache_path)
    try:
        yield cache
    finally:
        report.warnings.extend(w for w in cache.warnings if w not in report.warnings)
        cache.close()
