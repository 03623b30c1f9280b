"""Typed objects that flow through indexing.

These are the contract between the pipeline stages (extract -> structure -> chunk ->
dedupe -> embed -> store) and the retriever, which reads them back from the store.
Every stage takes and returns these, never bare tuples or dicts.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Page:
    """One PDF page (or one .txt file treated as a single page) after extraction.

    `text` is the raw extracted text (before furniture removal), so structure parsing
    can still read the footer labels (`Punkt N, Bilag M: ...`) that say which
    attachment a page belongs to.
    """

    document: str  # file name, e.g. "2023-03-23_MSB_raadmandsmoede.pdf"
    number: int  # 1-based page number in the file
    text: str
    ocr: bool = False  # True when the text came from Tesseract


@dataclass
class MeetingInfo:
    """Meeting header of a document; fields the header lacks fall back to the file name."""

    name: str  # e.g. "MBU - Rådmandsmøde"
    committee: str  # short committee / magistrate department, e.g. "MBU", "MSB", "SBU"
    date: str | None  # ISO date "2023-01-10"
    time: str | None = None  # "09:15 - 11:30"
    place: str | None = None
    participants: list[str] = field(default_factory=list)


@dataclass
class Section:
    """A contiguous run of text inside one agenda item / attachment / section kind.

    Chunks never cross a Section boundary, so a chunk can never mix two agenda items,
    nor an open and a closed part.
    """

    document: str
    punkt: int | None  # agenda item number the text belongs to (None: no agenda item)
    punkt_title: str | None
    bilag: int | None  # attachment number from the page label, None for the item itself
    bilag_title: str | None
    kind: str  # "beslutning", "indstilling", "resume", "baggrund", "dagsorden", "tekst", ...
    closed: bool  # item or attachment marked Lukket
    text: str  # cleaned text: furniture removed, hyphenation joined
    page_start: int
    page_end: int
    ocr: bool = False
    case_number: str | None = None  # sagsnummer, e.g. "EMN-2023-000692"
    # (offset in `text`, page number) at which each page starts, ascending; lets a chunk
    # cut from `text` know its own page range.
    page_offsets: list[tuple[int, int]] = field(default_factory=list)


@dataclass
class Chunk:
    """The unit stored, retrieved and cited.

    `text` is what a user reads and what evidence is checked against; `header` is the
    short context (meeting, date, Punkt title, Bilag name) prepended only when embedding
    and lexical indexing, so a chunk is findable by the item it belongs to.
    `windows` are short sentence windows of `text` (small-to-big retrieval: match on a
    window, return its parent chunk).
    """

    chunk_id: str  # stable: hash of document + position + text
    document: str
    meeting: str
    committee: str
    date: str | None  # ISO
    punkt: int | None
    punkt_title: str | None
    bilag: int | None
    bilag_title: str | None
    section: str  # Section.kind
    page_start: int
    page_end: int
    closed: bool
    ocr: bool
    text: str
    header: str
    case_number: str | None = None
    windows: list[str] = field(default_factory=list)
    # id of the chunk this one duplicates (None when it is the canonical copy);
    # only canonical chunks are embedded and indexed, every copy keeps its own metadata
    duplicate_of: str | None = None


@dataclass
class Decision:
    """The decision of one agenda item, extracted at index time."""

    document: str
    meeting: str
    committee: str
    date: str | None
    punkt: int
    punkt_title: str
    text: str  # the decision sentence(s), quoted from the minutes
    outcome: str  # godkendt | ikke godkendt | taget til efterretning | drøftet | fremsendt | udsat | andet
    followups: list[str]  # owners from "X følger op"
    closed: bool
    page: int
    chunk_id: str  # chunk holding the decision text



def decision_text(decision: Decision) -> str:
    """What a decision is compared with a topic or question on: its item title and its text.
    The build embeds exactly this string (so the vector is in the embedding cache before the
    first timeline asks for it), and the retriever compares with it."""
    return f"{decision.punkt_title}\n{decision.text}"