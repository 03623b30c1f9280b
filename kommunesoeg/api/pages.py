"""`GET /documents/{file}/pages/{n}`: one page of an indexed PDF as PNG, as the role may see it.

The rule is the access policy's (`retriever.access.may_see_page`, the one the app's page
images use): a page holding closed (Lukket) text is never shown to the public role; in the
app's public PDF copy it is the notice page. Only files listed in the index, found directly
in the corpus folder with the SHA-256 they were indexed with, are ever read.

Which file may be read and how a page is rendered are retriever/source_files.py's, shared with
the app's page images (kommunesoeg/ui/sources.py); this module adds the API's errors and cache.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path

from indexer.store import sha256_file
from retriever import access
from retriever.source_files import indexed_source, render_page_png

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
        source = self._source(rows, document)
        if source.suffix.lower() != ".pdf":
            raise PageError(404, "file", "der findes kun sidebilleder af PDF-filer")
        key = (str(source), row.sha256 or "", page)
        with self._lock:
            cached = self._pages.get(key)
            if cached is not None:
                self._pages.move_to_end(key)
                return cached
        image = render_page_png(source, page)
        if image is None:
            raise PageError(404, "n", "siden kunne ikke vises")
        with self._lock:
            self._pages[key] = image
            while len(self._pages) > self._cache_pages:
                self._pages.popitem(last=False)
        return image

    def _source(self, rows, document: str) -> Path:
        if self.corpus_dir is None:
            raise PageError(404, "file", "serveren kender ingen korpusmappe (--corpus)")
        path = indexed_source(rows, self.corpus_dir, document, self._sha256)
        if path is None:
            raise PageError(404, "file", f"'{document}' findes ikke (uændret) i korpusmappen")
        return path

    def _sha256(self, path: Path) -> str:
        """sha256_file, kept per (path, modification time, size)."""
        stat = path.stat()
        key = (str(path), stat.st_mtime_ns, stat.st_size)
        with self._lock:
            digest = self._sha.get(key)
        if digest is None:
            digest = sha256_file(path)
            with self._lock:
                self._sha[key] = digest
        return digest
