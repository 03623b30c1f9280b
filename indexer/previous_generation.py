"""The previous generation as a build sees it (steps 3-5): loaded (or refused when damaged),
whether anything changed, and which of its documents the build reuses or keeps as they are.
A build reads its chunks only when it writes every row (`read_settled`)."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path

from indexer import store
from indexer.build_settings import parse_key
from indexer.build_types import Parsed
from indexer.columns import COLUMNS_DIR, ChunkColumns, read_columns
from kommunesoeg.core.errors import IndexDamaged, KommunesoegError


@dataclass
class Previous:
    """The current generation as a build sees it: its manifest and documents at once, every
    chunk (`meta`) only when the build writes a new generation - a re-index that finds
    nothing changed never reads the archive's chunks."""

    gen_dir: Path
    manifest: dict
    summary: store.MetaSummary
    index_dir: Path

    @functools.cached_property
    def meta(self) -> store.MetaContents:
        try:
            return store.read_meta(self.gen_dir / store.META)
        except (OSError, ValueError, store.sqlite3.Error, KommunesoegError) as exc:
            raise damaged(self.index_dir, exc) from None

    @functools.cached_property
    def columns(self) -> ChunkColumns | None:
        """The generation's columns (`indexer.columns`), or None when it has none or they
        cannot be read: the build then makes every row anew, as before they existed."""
        digests, counts = self.manifest.get("columns"), self.manifest.get("counts", {})
        if not isinstance(digests, dict):
            return None
        try:
            return read_columns(self.index_dir, self.gen_dir / COLUMNS_DIR, digests,
                                counts["chunks"], counts["windows"])
        except (KeyError, ValueError, KommunesoegError):
            return None

    def parse_key(self, file: str) -> str:
        """Which parse settings the document `file` was parsed with (manifest
        'parse_keys'; an index from before add-mode builds used one for all)."""
        keys = self.manifest.get("parse_keys") or {}
        return keys.get(file) or parse_key(self.manifest.get("settings", {}).get("parse", {}))


def load_previous(index_dir: Path, *, required: bool) -> Previous | None:
    """The current generation's manifest and metadata.

    An unreadable one counts as none when the build replaces the whole index (`prune`):
    that is how a damaged index is repaired. When the build adds to the index (`required`)
    it would silently drop every other document, so it refuses instead."""
    gen_dir = store.current_generation(index_dir)
    link = index_dir / store.CURRENT
    try:
        if gen_dir is None:
            if required and (link.is_symlink() or link.exists()):
                raise ValueError(f"{store.CURRENT} peger ikke på en hel generation")
            return None
        manifest = json.loads((gen_dir / store.MANIFEST).read_text(encoding="utf-8"))
        summary = store.read_meta_summary(gen_dir / store.META)
        if not isinstance(manifest, dict) or not isinstance(manifest.get("inputs", {}), dict):
            raise IndexDamaged(f"{store.MANIFEST} har ikke den forventede form")
        previous = Previous(gen_dir, manifest, summary, index_dir)
        if not required:  # a damaged generation is replaced: find out now, not half-way
            _check_sound(previous)
    except (OSError, ValueError, store.sqlite3.Error, KommunesoegError) as exc:
        if not required:
            return None
        raise damaged(index_dir, exc) from None
    return previous


def _check_sound(previous: Previous) -> None:
    """Raise when the previous generation is damaged: meta.sqlite checked as a reader
    checks it (`store.check_meta_file`, skipped for the file a build recorded as written)
    and the columns against their digests - or, for a generation without columns, every
    row read (an archive's update must not read every row just to look)."""
    if "columns" not in previous.manifest:
        _ = previous.meta  # read (and kept) now; damage raises IndexDamaged here
        return
    store.check_meta_file(previous.index_dir, previous.gen_dir / store.META, previous.manifest)
    if previous.columns is None:
        raise IndexDamaged(f"{COLUMNS_DIR}/ kan ikke læses")


def damaged(index_dir: Path, exc: BaseException) -> IndexDamaged:
    """The one error a build raises for a previous generation it cannot read, saying how
    to repair it (a pruning build replaces it)."""
    return IndexDamaged(
        f"{index_dir}: det nuværende indeks kan ikke læses ({exc}), så filerne kan ikke "
        "føjes til det; byg det helt forfra med: kommunesoeg index MAPPE --prune")


def nothing_changed(previous: Previous, settings: dict, hashes: dict[str, str], prune: bool) -> bool:
    """Same settings, every input already indexed with this content and these parse
    settings, and (when pruning) no other document in the index."""
    if previous.manifest.get("settings") != settings:
        return False
    indexed = previous.manifest.get("inputs") or {}
    if prune and set(indexed) != set(hashes):
        return False
    current = parse_key(settings["parse"])
    return all(indexed.get(name) == digest and previous.parse_key(name) == current for name, digest in hashes.items())


def previous_ok_files(previous: Previous | None) -> set[str]:
    """The documents the previous generation indexed, to tell which a build removed."""
    if previous is None:
        return set()
    return {d.file for d in previous.summary.documents if d.status == "ok"}


def reusable_documents(previous: Previous | None, settings: dict, hashes: dict[str, str]) -> dict[str, Parsed]:
    """Indexed input documents of the previous generation whose content and parse settings
    are unchanged. Failed files are always tried again (the cause may have been fixed)."""
    if previous is None:
        return {}
    current = parse_key(settings["parse"])
    names = {
        row.file for row in previous.summary.documents
        if row.status == "ok" and hashes.get(row.file) == row.sha256 and previous.parse_key(row.file) == current
    }
    return _previous_documents(previous, names)


def kept_documents(previous: Previous | None, hashes: dict[str, str], prune: bool) -> dict[str, Parsed]:
    """Documents (indexed or failed) of the previous generation that are not among the
    inputs: an adding build keeps them as they are, a pruning one drops them."""
    if prune or previous is None:
        return {}
    return _previous_documents(previous, {row.file for row in previous.summary.documents if row.file not in hashes})


def _previous_documents(previous: Previous, names: set[str]) -> dict[str, Parsed]:
    """The named documents of the previous generation, settled: their chunks and decisions
    stay in its meta.sqlite until a build needs them (`read_settled`)."""
    return {row.file: Parsed(row, settled=True) for row in previous.summary.documents if row.file in names}


def read_settled(previous: Previous | None, parsed: list[Parsed]) -> None:
    """Fill in the chunks and decisions of the settled documents, read back from the
    previous generation's meta.sqlite instead of parsing the files again (a build that
    writes every row; an updating build never reads them all, `indexer.updating_build`)."""
    docs = {p.record.file: p for p in parsed if p.settled}
    if previous is None or not docs:
        return
    for chunk in previous.meta.chunks:
        if chunk.document in docs:
            docs[chunk.document].chunks.append(chunk)
    for decision in previous.meta.decisions:
        if decision.document in docs:
            docs[decision.document].decisions.append(decision)


def document_parse_keys(previous: Previous | None, settings: dict, inputs: list[Parsed], kept: dict[str, Parsed]) -> dict[str, str]:
    """Per document, the parse settings its chunks were made with (kept documents keep
    theirs: their files are not at hand to read again)."""
    current = parse_key(settings["parse"])
    keys = {p.record.file: current for p in inputs}
    if previous is not None:
        keys.update({name: previous.parse_key(name) for name in kept})
    return keys
