"""Step 5 of a build: each new or changed file parsed into its record, chunks and decisions
(a file that fails becomes an error record, never an exception). Also used by the
PostgreSQL indexer (`indexer.pg.writer`) and the benchmarks, through `indexer.build`."""

from __future__ import annotations

from pathlib import Path

from indexer.build_settings import WINDOW_SENTENCES
from indexer.build_types import Parsed
from indexer.chunk import make_chunks, naive_chunks
from indexer.decisions import extract_decisions
from indexer.extract import extract_pages
from indexer.progress import Progress, ProgressCallback
from indexer.store import DocumentRecord
from indexer.structure import parse_document
from kommunesoeg.core.errors import DocumentError
from kommunesoeg.core.models import Chunk
from kommunesoeg.core.pages import closed_pages_of


def parse_all(
    files: list[Path],
    hashes: dict[str, str],
    reusable: dict[str, Parsed],
    chunking: str,
    chunk_size: int,
    chunk_overlap: int,
    progress: bool | ProgressCallback,
) -> list[Parsed]:
    """The input files parsed, in the order of `files`; the `reusable` documents are taken as
    they are, not read again."""
    todo = [f for f in files if f.name not in reusable]
    parsed = {name: p for name, p in reusable.items()}
    bar = Progress(progress, len(todo), "Læser dokumenter", "fil")
    for path in todo:
        bar.set_message(f"Læser {path.name}")
        parsed[path.name] = parse_file(path, hashes[path.name], chunking, chunk_size, chunk_overlap)
        bar.update(1)
    bar.close()
    return [parsed[f.name] for f in files]


def parse_file(path: Path, sha256: str, chunking: str, chunk_size: int, chunk_overlap: int) -> Parsed:
    """One file -> its record, chunks and decisions; any failure becomes an error record."""
    size = path.stat().st_size
    try:
        pages = extract_pages(path)
        meeting, sections = parse_document(pages)
        if chunking == "naive":
            chunks = naive_chunks(path.name, meeting, pages, closed_pages_of(sections),
                                  size=chunk_size, overlap=chunk_overlap)
        else:
            chunks = make_chunks(
                meeting, sections, chunk_size=chunk_size, chunk_overlap=chunk_overlap,
                window_sentences=WINDOW_SENTENCES,
            )
        decisions = extract_decisions(meeting, sections, chunks)
    except DocumentError as exc:
        return Parsed(DocumentRecord(path.name, sha256, size, "error", error=exc.reason))
    except Exception as exc:  # noqa: BLE001 - one odd file must not stop the whole build
        reason = f"uventet fejl under læsning ({type(exc).__name__}: {exc})"
        return Parsed(DocumentRecord(path.name, sha256, size, "error", error=reason))
    if not chunks:
        return Parsed(DocumentRecord(path.name, sha256, size, "error", error="filen indeholder ingen tekst"))
    record = DocumentRecord(
        path.name, sha256, size, "ok", pages=len(pages), ocr_pages=sum(p.ocr for p in pages),
        meeting=meeting.name, committee=meeting.committee, date=meeting.date, time=meeting.time,
        place=meeting.place, participants=list(meeting.participants),
    )
    return Parsed(record, chunks, decisions)


def check_unique_ids(chunks: list[Chunk]) -> None:
    """Raise when two chunks share an id: the index keys rows by chunk id, so a clash would
    silently merge two passages."""
    seen: dict[str, str] = {}
    for c in chunks:
        if c.chunk_id in seen:
            raise RuntimeError(f"chunk id {c.chunk_id} forekommer to gange ({seen[c.chunk_id]}, {c.document})")
        seen[c.chunk_id] = c.document
