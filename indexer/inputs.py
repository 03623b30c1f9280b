"""Steps 1 and 2 of a build: the input files found under the given paths (names unique,
each file once) and their sha256, and what to tell the user when there is nothing to index."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from indexer import store
from indexer.build_types import BuildReport, opened_cache
from indexer.extract import SUPPORTED_SUFFIXES
from indexer.filehash import hash_files
from indexer.store import sha256_file
from kommunesoeg.core.errors import DocumentError


def scan_inputs(paths: Sequence[Path | str]) -> tuple[list[Path], list[DocumentError]]:
    """Files to index, sorted by name; folders are searched recursively for .pdf and .txt.

    A file named on the command line is taken whatever its suffix (extraction then says
    why it cannot be read). Hidden files and hidden folders below a given folder are skipped
    (the app keeps old versions of uploads in `corpus/.versioner/`); folder symlinks are
    followed, each real folder once, so a symlink loop ends. File names must be unique:
    they are the documents' ids. The same file reached twice is taken once, the same name
    with the same content in two places silently once, the same name with other content is
    an error for the later one.
    """
    errors: list[DocumentError] = []
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found.extend(_walk(path, errors))
        elif path.is_file():
            found.append(path)
        elif path.is_symlink():
            errors.append(DocumentError(str(raw), "henvisningen (symlink) peger på noget, der ikke findes"))
        elif path.exists():
            errors.append(DocumentError(str(raw), "er hverken en almindelig fil eller en mappe"))
        else:
            errors.append(DocumentError(str(raw), "filen eller mappen findes ikke"))
    by_name: dict[str, Path] = {}
    places: set[tuple[str, str]] = set()
    for path in found:
        place = (os.path.realpath(path.parent), path.name)  # the same file given twice
        if place in places:
            continue
        places.add(place)
        first = by_name.get(path.name)
        if first is None:
            by_name[path.name] = path
        elif not _same_content(first, path):
            errors.append(DocumentError(
                str(path), f"samme filnavn som {first}, men andet indhold; filnavne skal være entydige"
            ))
    return [by_name[name] for name in sorted(by_name)], errors


def _walk(root: Path, errors: list[DocumentError]) -> list[Path]:
    """Supported, non-hidden files under root, top-down (a folder's own files before its
    subfolders'), each real folder visited once."""
    found: list[Path] = []
    visited: set[str] = set()

    def unreadable(exc: OSError) -> None:
        errors.append(DocumentError(str(exc.filename or root), f"mappen kan ikke læses ({exc.strerror})"))

    for dirpath, dirnames, filenames in os.walk(root, followlinks=True, onerror=unreadable):
        real = os.path.realpath(dirpath)
        if real in visited:  # a symlink back to a folder already searched (or a loop)
            dirnames[:] = []
            continue
        visited.add(real)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if name.startswith(".") or path.suffix.lower() not in SUPPORTED_SUFFIXES:
                continue
            if path.is_file():
                found.append(path)
            elif path.is_symlink():
                errors.append(DocumentError(str(path), "henvisningen (symlink) peger på en fil, der ikke findes"))
    return found


def _same_content(a: Path, b: Path) -> bool:
    try:
        return a.stat().st_size == b.stat().st_size and sha256_file(a) == sha256_file(b)
    except OSError:
        return False


def hash_all(files: list[Path], index_dir: Path, report: BuildReport,
             prune: bool) -> tuple[dict[str, str], list[Path]]:
    """sha256 per file name (an unchanged file's from the cache, `indexer.filehash`); a file
    that cannot be read is reported and left out. A pruning build names every input of the
    index, so the remembered hashes of other files are forgotten."""
    with opened_cache(index_dir / store.EMBCACHE, report) as cache:
        found, failed = hash_files(files, cache, forget_others=prune)
    for path, exc in failed.items():
        report.errors.append(DocumentError(path.name, f"filen kan ikke læses ({exc.strerror or exc})"))
    readable = [path for path in files if path in found]
    return {path.name: found[path] for path in readable}, readable


def nothing_found_message(paths: Sequence[Path | str], scan_errors: list[DocumentError]) -> str:
    """Why a build found no file to index (only unreadable paths, or none of a supported
    kind), for NothingIndexed."""
    where = ", ".join(str(p) for p in paths)
    if scan_errors:
        return f"ingen filer at indeksere i {where}; indekset er ikke ændret"
    return (
        f"ingen PDF- eller .txt-filer i {where} (undermapper gennemsøges, skjulte springes over); "
        "indekset er ikke ændret"
    )


def has_index(index_dir: Path) -> bool:
    """Whether the folder holds a published index (the message then says it is unchanged)."""
    return store.current_generation(index_dir) is not None


def nothing_indexed_message(has_index: bool) -> str:
    """Why a build indexed nothing when no input could be read or parsed."""
    outcome = "indekset er ikke ændret" if has_index else "der er ikke oprettet noget indeks"
    return f"ingen af filerne kunne indekseres; {outcome}"
