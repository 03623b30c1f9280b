"""`GET /documents/{file}/pages/{n}`: one page of an indexed PDF as PNG, as the role may see it.

The rule is the access policy's (`retriever.access.may_see_page`, the one the app's page
images use): a page holding closed (Lukket) text is never shown to the public role; in the
app's public PDF copy it is the notice page. Only files listed in the index, found directly
in the corpus folder with the SHA-256 they were indexed with, are ever read.

NOTE: the app's equivalent lives in kommunesoeg/ui/sources.py (`source_path`, `page_png`),
which is bound to Streamlit (st.cache_*, ui.common) and is an independent edge; this module
is the Streamlit-free part of it. Moving both onto one shared module is an open question.
"""

from __future__ import annotations

import subprocess
import threading
from collections import OrderedDict
from pathlib import Path

from indexer.store import sha256_file
from retriever import access

CLOSED_PAGE = "Siden indeholder lukkede punkter og er ikke offentlig."


class PageError(Exception):
    def __init__(self, status: int, field: str, message: str) -> None:
        super().__init__(message)
        self.status, self.field, self.message = status, field, message


class PageRenderer:
    def __init__(self, corpus_dir: Path | str | None, *, cache_pages: int = 64) -> None:
        self.corpus_dir = Path(corpus_dir) if corpus_dir else None
        self._sha: dict[tuple[str, int, int], str] = {}
        self._pages: OrderedDict[tuple[str, str, int], bytes] = OrderedDict()
        self._cache_pages = cache_pages
        self._lock = threading.Lock()

    def png(self, searcher, document: str, page: int, role: str) -> bytes:
        rows = {row.file: row for row in searcher.document_rows()}
        row = rows.get(document)
        if row is None or Path(document).name != document or row.error:
            raise PageError(404, "file", f"'{document}' er ikke et indekseret dokument")
        if not 1 <= page <= max(row.pages or 0, 0):
            raise PageError(404, "n", f"siden findes ikke (dokumentet har {row.pages} sider)")
        if not access.may_see_page(page, searcher.closed_pages(document), role):
            raise PageError(403, "n", CLOSED_PAGE)
        source = self._source(document, row.sha256)
        if source.suffix.lower() != ".pdf":
            raise PageError(404, "file", "der findes kun sidebilleder af PDF-filer")
        key = (str(source), row.sha256 or "", page)
        with self._lock:
            cached = self._pages.get(key)
            if cached is not None:
                self._pages.move_to_end(key)
                return cached
        image = _render(source, page)
        if image is None:
            raise PageError(404, "n", "siden kunne ikke vises")
        with self._lock:
            self._pages[key] = image
            while len(self._pages) > self._cache_pages:
                self._pages.popitem(last=False)
        return image

    def _source(self, document: str, sha: str | None) -> Path:
        missing = PageError(404, "file", f"'{document}' findes ikke (uændret) i korpusmappen")
        if self.corpus_dir is None:
            raise PageError(404, "file", "serveren kender ingen korpusmappe (--corpus)")
        root = self.corpus_dir.resolve()
        path = (root / document).resolve()
        if path.parent != root or not path.is_file():
            raise missing
        stat = path.stat()
        key = (str(path), stat.st_mtime_ns, stat.st_size)
        digest = self._sha.get(key)
        if digest is None:
            digest = sha256_file(path)
            self._sha[key] = digest
        if sha and digest != sha:
            raise missing
        return path


def _render(path: Path, page: int) -> bytes | None:
    result = subprocess.run(
        ["pdftoppm", "-f", str(page), "-l", str(page), "-r", "110", "-png", str(path)],
        capture_output=True, timeout=60, check=False,
    )
    return result.stdout if result.returncode == 0 and result.stdout else None
