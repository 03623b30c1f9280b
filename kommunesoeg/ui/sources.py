"""Opening a cited source: the PDF at the cited page, for exactly the documents in the index.

Streamlit 1.67 serves `./static/` (with `server.enableStaticServing`) through Starlette's
FileResponse with the type from `mimetypes`, so a `.pdf` goes out as `application/pdf`
and the browser's viewer honours `#page=N`. Static files have no login, so what is placed
there is the *public copy* of a document: every page holding closed (Lukket) text is
replaced by a notice page, keeping the page numbers of the original so `#page=N` still
points at the cited page. Internal users get the original through an in-session download
button and an inline image of the page instead, never through a public URL.

Only files listed in the index's documents table, found under the corpus folder with the
same SHA-256 as indexed, are ever copied or read; a name from anywhere else is refused.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

import streamlit as st
from pypdf import PdfReader, PdfWriter
from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

from indexer.store import DocumentRecord, sha256_file
from kommunesoeg.ui.common import corpus_dir
from retriever.access import may_see_page
from retriever.source_files import indexed_source, render_page_png

STATIC_SUBDIR = "kilder"
# PDF metadata key of a public copy: "<sha256 of the source>;<closed pages>"
_STAMP_KEY = "/KommunesoegKilde"
log = logging.getLogger("kommunesoeg.app")
_NOTICE = "Denne side indeholder lukkede punkter og er ikke offentlig."


def static_root() -> Path:
    """`static/` next to app.py: the folder Streamlit serves as `app/static/`."""
    return Path(__file__).resolve().parents[2] / "static"


def source_path(searcher, document: str) -> Path | None:
    """The indexed file itself, or None when it is not an indexed, unchanged corpus file."""
    return indexed_source(_document_rows(searcher), corpus_dir(), document, _sha256)


def public_pdf_url(searcher, document: str, page: int) -> str | None:
    """`app/static/kilder/<file>#page=N` for the public copy; None when there is no PDF."""
    if not document.lower().endswith(".pdf"):
        return None
    name = _ensure_public_copy(searcher, document)
    if name is None:
        return None
    return f"app/static/{STATIC_SUBDIR}/{quote(name)}#page={int(page)}"


def sync_public_copies(searcher) -> list[str]:
    """Remove every public copy that is not exactly what the loaded index says it should be.

    A copy stays only when its document is in the index with the same SHA-256 and the same
    closed pages as the copy was written for (recorded in the copy's own PDF metadata, which
    shows nothing the copy's blanked pages do not already show). So after a re-index a
    removed document is no longer served, and a changed one (new content, or a page now
    found to be closed) is not served in its old form until it is written again.
    Returns the removed file names.
    """
    folder = static_root() / STATIC_SUBDIR
    if not folder.is_dir():
        return []
    rows = _document_rows(searcher)
    closed = searcher.closed_pages_by_document()
    removed: list[str] = []
    for path in sorted(folder.iterdir()):
        if not path.is_file() or _being_written(path):
            continue
        row = rows.get(path.name)
        expected = _stamp(row.sha256 or "", closed.get(path.name, set())) if row else None
        if expected is None or _copy_stamp(path) != expected:
            path.unlink(missing_ok=True)
            removed.append(path.name)
    if removed:
        log.info("fjernede %d forældede offentlige kopier: %s", len(removed), ", ".join(removed))
    return removed


@st.cache_resource(max_entries=4, show_spinner=False)
def sync_public_copies_once(gen_dir: str, _searcher) -> list[str]:
    """`sync_public_copies` once per index generation and process (cheap on every rerun)."""
    return sync_public_copies(_searcher)


def _ensure_public_copy(searcher, document: str) -> str | None:
    source = source_path(searcher, document)
    if source is None:
        return None
    sync_public_copies_once(searcher.generation, searcher)
    sha = _document_rows(searcher)[document].sha256 or _sha256(source)
    closed = searcher.closed_pages(document)
    stamp = _stamp(sha, closed)
    target = static_root() / STATIC_SUBDIR / document
    if target.is_file() and _copy_stamp(target) == stamp:
        return document
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".", suffix=".tmp", dir=target.parent)
        os.close(fd)
        try:
            write_public_copy(source, closed, Path(tmp), stamp=stamp)
            os.chmod(tmp, 0o644)
            os.replace(tmp, target)
        finally:
            Path(tmp).unlink(missing_ok=True)
    except Exception:  # read-only folder, or a PDF pypdf cannot rewrite
        log.exception("den offentlige kopi af %s kunne ikke skrives", document)
        return None  # no link; the passage and the page image remain
    return document


def _stamp(sha: str, closed: set[int]) -> str:
    """What a public copy was written from: the source's SHA-256 and its blanked pages."""
    return f"{sha};{','.join(str(p) for p in sorted(closed))}"


def _being_written(path: Path) -> bool:
    """A temporary file another session is writing right now (left alone for 10 minutes)."""
    try:
        fresh = time.time() - path.stat().st_mtime < 600
    except OSError:
        return False
    return path.name.startswith(".") and path.name.endswith(".tmp") and fresh


def _copy_stamp(path: Path) -> str | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return _copy_stamp_cached(str(path), stat.st_mtime_ns, stat.st_size)


@st.cache_data(max_entries=4096, show_spinner=False)
def _copy_stamp_cached(path: str, mtime_ns: int, size: int) -> str | None:
    # keyed by mtime and size: a rewritten copy is read again
    try:
        value = (PdfReader(path).metadata or {}).get(_STAMP_KEY)
    except Exception:  # noqa: BLE001 - an unreadable copy is a stale copy
        return None
    return str(value) if value is not None else None


def write_public_copy(
    source: Path, closed: set[int], out: Path, *, stamp: str | None = None
) -> None:
    """Copy `source` to `out` with every page in `closed` replaced by a notice page."""
    reader = PdfReader(source)
    writer = PdfWriter()
    for number, page in enumerate(reader.pages, start=1):
        if number in closed:
            box = page.mediabox
            _notice_page(writer, float(box.width), float(box.height))
        else:
            writer.add_page(page)
    if stamp is not None:
        writer.add_metadata({_STAMP_KEY: stamp})
    with out.open("wb") as fh:
        writer.write(fh)


def _notice_page(writer: PdfWriter, width: float, height: float) -> None:
    page = writer.add_blank_page(width, height)
    font = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Font"),
            NameObject("/Subtype"): NameObject("/Type1"),
            NameObject("/BaseFont"): NameObject("/Helvetica"),
            NameObject("/Encoding"): NameObject("/WinAnsiEncoding"),
        }
    )
    page[NameObject("/Resources")] = DictionaryObject(
        {NameObject("/Font"): DictionaryObject({NameObject("/F1"): writer._add_object(font)})}
    )
    stream = DecodedStreamObject()
    stream.set_data(f"BT /F1 13 Tf 60 {height - 120:.0f} Td ({_NOTICE}) Tj ET".encode("cp1252"))
    page[NameObject("/Contents")] = writer._add_object(stream)


def page_png(searcher, document: str, page: int, *, role: str) -> bytes | None:
    """The cited page as a PNG, when `role` may see that page (the access policy: for the
    public role never a page with closed text)."""
    source = source_path(searcher, document)
    if source is None or source.suffix.lower() != ".pdf":
        return None
    if not may_see_page(page, searcher.closed_pages(document), role):
        return None
    return _render(str(source), _sha256(source), int(page))


@st.cache_data(max_entries=64, show_spinner=False)
def _render(path: str, sha: str, page: int) -> bytes | None:
    # `sha` keys the cache to the file's content, so a replaced file is re-rendered.
    return render_page_png(path, page)


def document_bytes(searcher, document: str) -> bytes | None:
    """The original indexed file for an internal user's download."""
    source = source_path(searcher, document)
    return source.read_bytes() if source else None


def _document_rows(searcher) -> dict[str, DocumentRecord]:
    return {row.file: row for row in searcher.document_rows()}


def _sha256(path: Path) -> str:
    return _sha256_cached(str(path), path.stat().st_mtime_ns, path.stat().st_size)


@st.cache_data(max_entries=256, show_spinner=False)
def _sha256_cached(path: str, mtime_ns: int, size: int) -> str:
    """`sha256_file`, kept per (path, mtime, size) so a page view does not re-hash the PDF."""
    return sha256_file(Path(path))
