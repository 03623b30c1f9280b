"""The indexed file behind a document name, and one of its pages as an image.

The app (kommunesoeg/ui/sources.py) and the HTTP API (kommunesoeg/api/pages.py) both show a
cited page. Which file may be read is the same question for both and must get one answer: only
a file the index lists, found directly in the corpus folder (no path tricks), with the SHA-256
it was indexed with - a replaced file is not the document the citation points into. Whether
the role may see the page is `retriever.access.may_see_page`; each caller asks it before
rendering and keeps its own cache (Streamlit's for the app, a bounded LRU for the API).
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path

from indexer.store import DocumentRecord

RENDER_DPI = 110


def indexed_source(rows: Mapping[str, DocumentRecord], corpus_dir: Path, document: str,
                   sha256_of: Callable[[Path], str]) -> Path | None:
    """The corpus file of `document`, or None when it is not an indexed document, lies
    outside `corpus_dir`, or has changed since it was indexed. `sha256_of` hashes a file
    (the callers cache it per path, modification time and size)."""
    row = rows.get(document)
    if row is None or Path(document).name != document:
        return None
    root = corpus_dir.resolve()
    path = (root / document).resolve()
    if path.parent != root or not path.is_file():
        return None
    if row.sha256 and sha256_of(path) != row.sha256:
        return None
    return path


def render_page_png(path: Path | str, page: int) -> bytes | None:
    """Page `page` (1-based) of a PDF as PNG (poppler's pdftoppm), or None when it cannot
    be rendered."""
    result = subprocess.run(
        ["pdftoppm", "-f", str(page), "-l", str(page), "-r", str(RENDER_DPI), "-png", str(path)],
        capture_output=True, timeout=60, check=False,
    )
    return result.stdout if result.returncode == 0 and result.stdout else None
