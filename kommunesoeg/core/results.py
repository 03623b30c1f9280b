"""Typed results the retriever hands to the CLI, the app and the evaluation harness."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date


@dataclass
class Filters:
    """Search filters; every field is optional and they combine with AND."""

    date_from: date | None = None
    date_to: date | None = None
    committees: list[str] | None = None  # e.g. ["MSB", "MBU"]
    documents: list[str] | None = None  # file names
    sections: list[str] | None = None  # Section kinds, e.g. ["beslutning"]
    decisions_only: bool = False


@dataclass(frozen=True)
class Location:
    """One place a passage appears (a duplicate's own metadata)."""

    document: str
    meeting: str
    committee: str
    date: str | None
    punkt: int | None
    punkt_title: str | None
    bilag: int | None
    bilag_title: str | None
    page_start: int
    page_end: int
    closed: bool

    @classmethod
    def of(cls, item) -> Location:
        """The location of anything with location fields (a Chunk or a Hit)."""
        return cls(
            item.document, item.meeting, item.committee, item.date, item.punkt,
            item.punkt_title, item.bilag, item.bilag_title, item.page_start, item.page_end,
            item.closed,
        )

    def label(self) -> str:
        """Human citation, e.g. 'MSB Rådmandsmøde 23.03.2023 · Punkt 4 · Bilag 1 · s. 12'."""
        parts = [self.meeting]
        if self.date:
            y, m, d = self.date.split("-")
            parts[0] = f"{self.meeting} {d}.{m}.{y}"
        if self.punkt is not None:
            parts.append(f"Punkt {self.punkt}")
        if self.bilag is not None:
            parts.append(f"Bilag {self.bilag}")
        pages = (
            f"s. {self.page_start}"
            if self.page_start == self.page_end
            else f"s. {self.page_start}-{self.page_end}"
        )
        parts.append(pages)
        return " · ".join(parts)


@dataclass(frozen=True)
class Hit:
    """One ranked passage. `text` is the passage as the role may see it (masked for public).

    `rank` is the 1-based position of the hit in the list that holds it: the search result
    order, the citation number [n] in an `Answer`, the position in a precedent or timeline
    list. `score` is the score of the ranking that placed it there, higher is better: the
    fused search score for search and answers, the item score for precedents, the cosine of
    topic and decision for the timeline. Frozen: a list that renumbers its hits makes new
    ones (`dataclasses.replace`), so a hit never changes under another holder.
    """

    rank: int
    score: float
    chunk_id: str
    text: str
    document: str
    meeting: str
    committee: str
    date: str | None
    punkt: int | None
    punkt_title: str | None
    bilag: int | None
    bilag_title: str | None
    page_start: int
    page_end: int
    section: str
    closed: bool
    ocr: bool = False
    case_number: str | None = None
    also_in: list[Location] = field(default_factory=list)
    outcome: str | None = None  # decision outcome when the passage holds a decision
    followups: list[str] = field(default_factory=list)

    def location(self) -> Location:
        return Location.of(self)

    def citation(self) -> str:
        return self.location().label()

    def to_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class AnswerSentence:
    text: str
    citations: list[int]  # 1-based numbers into Answer.citations


@dataclass(frozen=True)
class DecisionTreatment:
    """One meeting's decision on an agenda item, as a decision card shows it."""

    meeting: str
    committee: str
    date: str | None
    punkt: int
    punkt_title: str
    outcome: str  # one of core.outcomes.OUTCOMES
    text: str  # the decision text quoted from the minutes (verbatim sentences)
    followups: list[str]
    citation: int  # 1-based number into Answer.citations: the passage holding the decision


@dataclass(frozen=True)
class DecisionCard:
    """The answer to "what was decided about X?": the latest decision on the case first,
    the earlier treatments of the same case (same sagsnummer or same item title) after it,
    newest first."""

    latest: DecisionTreatment
    earlier: list[DecisionTreatment] = field(default_factory=list)


@dataclass(frozen=True)
class ClosedListing:
    """A closed agenda item as an OPEN part of the documents lists it (a table of contents
    line "Punkt 10 (Lukket): Pasningsgaranti"): only what that open line prints - never
    anything from the closed item itself."""

    document: str
    meeting: str
    date: str | None
    punkt: int
    title: str  # the title as the open line prints it
    page: int  # the page of the open line


@dataclass(frozen=True)
class Answer:
    question: str
    answer: str  # sentences joined, each followed by its [n] markers
    sentences: list[AnswerSentence]
    citations: list[Hit]  # numbered 1..n in this order
    insufficient_evidence: bool
    mode: str = "extractive"  # or "generative"
    decision: DecisionCard | None = None  # set when the answer is an item's decision
    closed_item: ClosedListing | None = None  # a refusal about an item listed as closed

    def to_json(self) -> dict:
        return {
            "question": self.question,
            "answer": self.answer,
            "sentences": [asdict(s) for s in self.sentences],
            "citations": [h.to_json() for h in self.citations],
            "insufficient_evidence": self.insufficient_evidence,
            "mode": self.mode,
            "decision": asdict(self.decision) if self.decision else None,
            "closed_item": asdict(self.closed_item) if self.closed_item else None,
        }


@dataclass(frozen=True)
class Precedent:
    """An earlier agenda item similar to a new case, one per agenda item."""

    rank: int
    score: float
    document: str
    meeting: str
    committee: str
    date: str | None
    punkt: int
    punkt_title: str
    outcome: str
    decision_text: str
    followups: list[str]
    citation: Hit  # best-matching passage of the item

    def to_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class TimelineEntry:
    date: str | None
    meeting: str
    committee: str
    punkt: int
    punkt_title: str
    outcome: str
    decision_text: str
    followups: list[str]
    citation: Hit

    def to_json(self) -> dict:
        return asdict(self)
