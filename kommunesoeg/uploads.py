"""Storing an uploaded document in the corpus folder without ever losing a file.

An upload is checked completely before anything on disk changes: its name is made safe (or
refused), its size is capped, and it is read with the indexer's own extractor on a private
temporary copy, so a broken, encrypted, empty or over-long file is refused with one Danish
line naming it and the corpus (hence the next index) stays exactly as it was.

A good upload never overwrites: every version of a file name is kept under
`<corpus>/.versioner/<name>/NNNN-<sha12><suffix>` (the original becomes 0001 the first time
the name is uploaded again), and the newest upload is then written to `<corpus>/<name>`
atomically (temporary file in the same folder + os.replace), so a crash leaves either the
old or the new file there, never half of one. The version folder starts with a dot, which
the indexer's scanner skips. Uploading content identical to the current file (same SHA-256)
adds no version.

No Streamlit here: the Dokumenter page calls `store_upload` and shows what it returns.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import tempfile
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from indexer.extract import extract_pages
from indexer.store import atomic_write, sha256_file
from kommunesoeg.core.danish import megabytes
from kommunesoeg.core.errors import DocumentError

ALLOWED_SUFFIXES = (".pdf", ".txt")
# Same number as `server.maxUploadSize` in .streamlit/config.toml and nginx's
# `client_max_body_size` in docs/deploy.md (a test keeps them in step).
MAX_UPLOAD_MB = 50
MAX_UPLOAD_BYTES = MAX_UPLOAD_MB * 1024 * 1024
# File systems allow 255 bytes per name; the temporary and version names add a few.
MAX_NAME_BYTES = 200
VERSIONS_DIR = ".versioner"
# Characters that Windows/SMB shares refuse or that are easily misread in HTML, URLs and
# shells; a municipal corpus folder is often such a share.
_FORBIDDEN = "<>:\"|?*'`"
_VERSION_RE = re.compile(r"^(\d{4,})-([0-9a-f]{12})\.[A-Za-z0-9]+$")

Extractor = Callable[[Path], object]


@dataclass(frozen=True)
class StoredUpload:
    """What `store_upload` did with one file."""

    name: str  # the file name in the corpus folder (the document's id in the index)
    # "ny" (a new name), "ny version" (a name collision: the old content is kept as a
    # version), "uændret" (identical content, nothing written), "gendannet" (an older kept
    # version uploaded again becomes the current file; no new version)
    status: str
    version: int | None  # kept version now in `<corpus>/<name>`; None: not versioned yet
    sha256: str
    renamed_from: str | None = None  # the uploaded name, when it had to be made safe


def safe_name(raw: str) -> str:
    """The base name of an uploaded file, made safe, or DocumentError saying why it cannot be.

    Path parts (`../../x.pdf`, `C:\\x.pdf`) are dropped and leading dots, dashes and spaces
    removed (a leading dot would hide the file from the indexer, a dash reads as an option);
    control characters, characters a Windows share refuses, over-long names and other
    suffixes than .pdf/.txt are refused.
    """
    shown = shown_name(raw)
    name = unicodedata.normalize("NFC", raw.replace("\\", "/").rsplit("/", 1)[-1])
    if any(unicodedata.category(ch) in {"Cc", "Cf", "Cs", "Co", "Cn"} for ch in name):
        raise DocumentError(shown, "filnavnet indeholder styretegn (fx linjeskift)")
    name = name.strip().lstrip(".- ").rstrip(". ")
    if any(ch in _FORBIDDEN for ch in name):
        raise DocumentError(shown, "filnavnet må ikke indeholde tegnene " + " ".join(_FORBIDDEN))
    stem, suffix = os.path.splitext(name)
    if suffix.lower() not in ALLOWED_SUFFIXES:
        raise DocumentError(shown, "kun PDF- og tekstfiler (.pdf, .txt) kan tilføjes")
    if not stem.strip(" .-_"):
        raise DocumentError(shown, "filnavnet er tomt")
    if len(name.encode("utf-8")) > MAX_NAME_BYTES:
        raise DocumentError(shown, f"filnavnet er for langt (højst {MAX_NAME_BYTES} byte)")
    return name


def shown_name(raw: str) -> str:
    """An uploaded name as it may be shown in one line: no control characters, not endless."""
    text = "".join("?" if unicodedata.category(ch).startswith("C") else ch for ch in raw)
    return text if len(text) <= 80 else text[:77] + "…"


def check_upload(
    name: str, data: bytes, *, max_bytes: int = MAX_UPLOAD_BYTES, extract: Extractor = extract_pages
) -> None:
    """Raise DocumentError(name, reason) unless `data` is a readable document with text.

    Extraction runs on a private temporary copy (OCR included for scans), the same code the
    indexer uses, so what passes here is what the next build can index.
    """
    if not data:
        raise DocumentError(name, "filen er tom (0 bytes)")
    if len(data) > max_bytes:
        raise DocumentError(
            name, f"filen er for stor ({megabytes(len(data))}; højst {megabytes(max_bytes)})"
        )
    with tempfile.TemporaryDirectory(prefix="kommunesoeg-upload-") as tmp:
        copy = Path(tmp) / name
        copy.write_bytes(data)
        try:
            pages = extract(copy)
        except DocumentError as exc:
            raise DocumentError(name, exc.reason) from None
        except Exception as exc:  # noqa: BLE001 - any crash of a parser means "unreadable"
            raise DocumentError(name, f"filen kan ikke læses ({type(exc).__name__})") from None
    if not any(getattr(page, "text", "").strip() for page in pages or []):
        raise DocumentError(name, "filen indeholder ingen læsbar tekst")


def store_upload(
    corpus: Path,
    raw_name: str,
    data: bytes,
    *,
    max_bytes: int = MAX_UPLOAD_BYTES,
    extract: Extractor = extract_pages,
) -> StoredUpload:
    """Check an upload, keep every version, and make it the current file of its name.

    Raises DocumentError (naming the file) when the upload is refused; nothing on disk has
    changed then.
    """
    name = safe_name(raw_name)
    check_upload(name, data, max_bytes=max_bytes, extract=extract)
    sha = hashlib.sha256(data).hexdigest()
    corpus = Path(corpus)
    corpus.mkdir(parents=True, exist_ok=True)
    with _corpus_lock(corpus):
        live = current_file(corpus, name)
        versions_dir = corpus / VERSIONS_DIR / name
        if live is not None and sha256_file(live) == sha:
            known = _versions(versions_dir).get(sha)
            return StoredUpload(name, "uændret", known, sha, _renamed(raw_name, name))
        if live is None:
            atomic_write(corpus / name, data)
            return StoredUpload(name, "ny", None, sha, _renamed(raw_name, name))
        _archive(versions_dir, live.read_bytes(), live.suffix)  # the original is kept first
        known = _versions(versions_dir).get(sha)
        version = known or _archive(versions_dir, data, live.suffix)
        atomic_write(live, data)
        status = "gendannet" if known else "ny version"
        return StoredUpload(name, status, version, sha, _renamed(raw_name, name))


def current_file(corpus: Path, name: str) -> Path | None:
    """The file named `name` that the indexer sees: in the corpus folder or a visible
    subfolder (file names are document ids, so there must be one only); None when new."""
    top = corpus / name
    if top.is_file():
        return top
    for path in sorted(corpus.rglob("*")):  # not rglob(name): a name may hold glob characters
        relative = path.relative_to(corpus)
        hidden = any(part.startswith(".") for part in relative.parts)
        if path.name == name and not hidden and path.is_file():
            return path
    return None


def versions(corpus: Path, name: str) -> list[Path]:
    """Every kept version of `name`, oldest first."""
    folder = Path(corpus) / VERSIONS_DIR / name
    return (
        sorted(p for p in folder.iterdir() if _VERSION_RE.match(p.name)) if folder.is_dir() else []
    )


def _versions(folder: Path) -> dict[str, int]:
    """Full SHA-256 -> version number of every kept version (the name holds only 12 hex
    digits, too few to trust as identity)."""
    found: dict[str, int] = {}
    if not folder.is_dir():
        return found
    for path in sorted(folder.iterdir()):
        match = _VERSION_RE.match(path.name)
        if match:
            found.setdefault(sha256_file(path), int(match.group(1)))
    return found


def _archive(folder: Path, data: bytes, suffix: str) -> int:
    """Store `data` as the next version in `folder` unless it is there already; its number."""
    sha = hashlib.sha256(data).hexdigest()
    known = _versions(folder)
    if sha in known:
        return known[sha]
    folder.mkdir(parents=True, exist_ok=True)
    numbers = [int(m.group(1)) for p in folder.iterdir() if (m := _VERSION_RE.match(p.name))]
    number = max(numbers, default=0) + 1
    atomic_write(folder / f"{number:04d}-{sha[:12]}{suffix.lower()}", data)
    return number


@contextmanager
def _corpus_lock(corpus: Path) -> Iterator[None]:
    """One upload at a time per corpus (two sessions must not pick the same version number)."""
    lock_dir = corpus / VERSIONS_DIR
    lock_dir.mkdir(parents=True, exist_ok=True)
    with open(lock_dir / ".lock", "a+b") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _renamed(raw: str, name: str) -> str | None:
    return None if raw == name else shown_name(raw)


