"""Sections -> Chunks: the units that are stored, retrieved and cited.

Chunks are cut inside one Section at a time, so a chunk never mixes two agenda items or an
open and a closed part. Each chunk carries a short `header` (meeting, item, attachment) that
is embedded with it, and sentence `windows` for small-to-big retrieval.
`naive_chunks` is the tutorial baseline (fixed 1000-character slices of the raw text) that
the evaluation harness compares against.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_right
from dataclasses import dataclass

from langchain_text_splitters import RecursiveCharacterTextSplitter

from indexer.settings import DEFAULT_CHUNK_OVERLAP, DEFAULT_CHUNK_SIZE
from kommunesoeg.core.models import Chunk, MeetingInfo, Page, Section
from kommunesoeg.core.sentences import cut_long, split_sentences

# Paragraph, then a line that ends a sentence, then any line, then a sentence inside a line.
# The PDFs wrap lines mid-sentence, so ".\n" is a much better cut than a bare "\n".
SEPARATORS = ["\n\n", ".\n", "\n", ". ", "; ", ", ", " ", ""]
WINDOW_MAX_CHARS = 400
_KIND_LABELS = {
    "beslutning": "Beslutning",
    "indstilling": "Indstilling",
    "resume": "Resumé",
    "baggrund": "Baggrund",
    "dagsorden": "Dagsorden",
}

def sentence_windows(
    text: str, window_sentences: int = 3, max_chars: int = WINDOW_MAX_CHARS
) -> list[str]:
    """Overlapping windows of about `window_sentences` sentences (at most ~`max_chars`).

    Consecutive windows share one sentence, so a fact that straddles two sentences is still
    inside one window; every sentence is in at least one window. A single sentence longer
    than `max_chars` (a run-on bullet list) is cut at word boundaries.
    """
    sentences: list[str] = []
    for s in split_sentences(text):
        sentences.extend(cut_long(s, max_chars))
    if not sentences:
        return []
    size = max(1, window_sentences)
    windows: list[str] = []
    i = 0
    while i < len(sentences):
        group = [sentences[i]]
        j = i + 1
        while (
            j < len(sentences)
            and len(group) < size
            and len(" ".join([*group, sentences[j]])) <= max_chars
        ):
            group.append(sentences[j])
            j += 1
        windows.append(" ".join(group))
        if j >= len(sentences):
            break
        i = j - 1 if j - 1 > i else j  # overlap one sentence, but always move forward
    return windows


# --- chunks -----------------------------------------------------------------------------------


def make_chunks(
    meeting: MeetingInfo,
    sections: list[Section],
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    chunk_overlap: int = DEFAULT_CHUNK_OVERLAP,
    window_sentences: int = 3,
) -> list[Chunk]:
    """Cut the sections into chunks of about `chunk_size` characters.

    A chunk never spans two agenda items, two attachments, or an open and a closed part.
    Within one agenda item, consecutive small sections (a heading, "Indstilling om ...",
    "Beslutninger ...") are packed into one chunk: minutes split by section kind give
    100-300 character fragments, and then the item's heading fragment outranks the
    fragment that holds the actual decision. Long sections are cut with the splitter.
    """
    splitter = RecursiveCharacterTextSplitter(
        separators=SEPARATORS,
        keep_separator="end",
        chunk_size=chunk_size,
        chunk_overlap=chunk_overlap,
        strip_whitespace=True,
    )
    chunks: list[Chunk] = []
    ordinal: dict[str, int] = {}
    for group in _item_runs(sections):
        for pieces in _pack(_pieces(group, splitter), chunk_size):
            text = "\n".join(p.text for p in pieces)
            section = pieces[0].section
            kinds = {p.section.kind for p in pieces}
            kind = "beslutning" if "beslutning" in kinds else section.kind
            n = ordinal.get(section.document, 0)
            ordinal[section.document] = n + 1
            chunks.append(
                Chunk(
                    chunk_id=chunk_id(section.document, section.punkt, section.bilag, kind, n, text),
                    document=section.document,
                    meeting=meeting.name,
                    committee=meeting.committee,
                    date=meeting.date,
                    punkt=section.punkt,
                    punkt_title=section.punkt_title,
                    bilag=section.bilag,
                    bilag_title=section.bilag_title,
                    section=kind,
                    page_start=min(p.first_page for p in pieces),
                    page_end=max(p.last_page for p in pieces),
                    closed=section.closed,
                    ocr=any(p.section.ocr for p in pieces),
                    text=text,
                    header=chunk_header(meeting, section, kind if len(kinds) == 1 else None),
                    case_number=next((p.section.case_number for p in pieces
                                      if p.section.case_number), None),
                    windows=sentence_windows(text, window_sentences),
                )
            )
    return chunks


@dataclass(frozen=True)
class _Piece:
    section: Section
    text: str
    first_page: int
    last_page: int


def _item_key(section: Section) -> tuple:
    return (section.document, section.punkt, section.punkt_title, section.bilag,
            section.bilag_title, section.closed)


def _item_runs(sections: list[Section]) -> list[list[Section]]:
    """Consecutive sections of the same agenda item / attachment / access level."""
    runs: list[list[Section]] = []
    for section in sections:
        if runs and _item_key(runs[-1][-1]) == _item_key(section):
            runs[-1].append(section)
        else:
            runs.append([section])
    return runs


def _pieces(sections: list[Section], splitter: RecursiveCharacterTextSplitter) -> list[_Piece]:
    pieces: list[_Piece] = []
    for section in sections:
        search_from = 0
        for text in splitter.split_text(section.text):
            if not any(ch.isalnum() for ch in text):
                continue
            start = section.text.find(text, search_from)
            if start < 0:
                start = max(section.text.find(text), 0)
            search_from = start + 1
            first, last = _page_span(section, start, start + len(text))
            pieces.append(_Piece(section, text, first, last))
    return pieces


def _pack(pieces: list[_Piece], chunk_size: int) -> list[list[_Piece]]:
    """Greedily join consecutive pieces while the joined text stays within `chunk_size`.

    Two pieces of one long section are never joined: they overlap by design, and each is
    already close to `chunk_size`.
    """
    packs: list[list[_Piece]] = []
    size = 0
    for piece in pieces:
        if packs and size + 1 + len(piece.text) <= chunk_size and (
            packs[-1][-1].section is not piece.section
        ):
            packs[-1].append(piece)
            size += 1 + len(piece.text)
        else:
            packs.append([piece])
            size = len(piece.text)
    return packs


def chunk_header(meeting: MeetingInfo, section: Section, kind: str | None = None) -> str:
    """One context line, e.g. 'MSB Rådmandsmøde 23.03.2023 · Punkt 4: Opgang til Opgang ·
    Bilag 1: Opgang til Opgang - Finansiering og forankring · Indstilling'."""
    parts = [meeting.name]
    if meeting.date:
        y, m, d = meeting.date.split("-")
        parts[0] = f"{meeting.name} {d}.{m}.{y}"
    if section.punkt is not None:
        title = f": {section.punkt_title}" if section.punkt_title else ""
        parts.append(f"Punkt {section.punkt}{title}")
    if section.bilag is not None:
        title = f": {section.bilag_title}" if section.bilag_title else ""
        parts.append(f"Bilag {section.bilag}{title}")
    if kind in _KIND_LABELS:
        parts.append(_KIND_LABELS[kind])
    if section.closed:
        parts.append("Lukket")
    return " · ".join(parts)


def chunk_id(
    document: str, punkt: int | None, bilag: int | None, kind: str, ordinal: int, text: str
) -> str:
    """Stable id: the same file parsed the same way gives the same ids on every build."""
    key = "\x1f".join([document, str(punkt), str(bilag), kind, str(ordinal), text])
    return hashlib.sha1(key.encode("utf-8")).hexdigest()[:16]


def _page_span(section: Section, start: int, end: int) -> tuple[int, int]:
    if not section.page_offsets:
        return section.page_start, section.page_end
    offsets = [o for o, _ in section.page_offsets]
    first = section.page_offsets[max(bisect_right(offsets, start) - 1, 0)][1]
    last = section.page_offsets[max(bisect_right(offsets, max(end - 1, start)) - 1, 0)][1]
    return first, last


# --- baseline ---------------------------------------------------------------------------------


def naive_chunks(
    document: str,
    meeting: MeetingInfo,
    pages: list[Page],
    closed_pages: set[int],
    *,
    size: int = 1000,
    overlap: int = 0,
) -> list[Chunk]:
    """The tutorial baseline: raw page text concatenated and sliced every `size` characters.

    No structure, no clean-up, no header, no windows. `closed` is still computed, and
    conservatively: a slice touching any of `closed_pages` (the pages holding closed text,
    `kommunesoeg.core.pages.closed_pages_of` over the document's sections) is closed, so the
    baseline can be evaluated under the public role without leaking.
    """
    if size <= 0 or overlap < 0 or overlap >= size:
        raise ValueError("naive_chunks needs size > 0 and 0 <= overlap < size")
    text_parts: list[str] = []
    starts: list[int] = []
    numbers: list[int] = []
    pos = 0
    for page in pages:
        starts.append(pos)
        numbers.append(page.number)
        text_parts.append(page.text)
        pos += len(page.text) + 1
    text = "\n".join(text_parts)
    ocr_pages = {p.number for p in pages if p.ocr}
    chunks: list[Chunk] = []
    step = size - overlap
    for n, start in enumerate(range(0, max(len(text), 1), step)):
        piece = text[start : start + size]
        if not piece.strip():
            continue
        first = numbers[max(bisect_right(starts, start) - 1, 0)] if numbers else 1
        last = numbers[max(bisect_right(starts, start + len(piece) - 1) - 1, 0)] if numbers else 1
        span = set(range(first, last + 1))
        chunks.append(
            Chunk(
                chunk_id=chunk_id(document, None, None, "tekst", n, piece),
                document=document,
                meeting=meeting.name,
                committee=meeting.committee,
                date=meeting.date,
                punkt=None,
                punkt_title=None,
                bilag=None,
                bilag_title=None,
                section="tekst",
                page_start=first,
                page_end=last,
                closed=bool(span & closed_pages),
                ocr=bool(span & ocr_pages),
                text=piece,
                header="",
                windows=[],
            )
        )
        if start + size >= len(text):
            break
    return chunks
