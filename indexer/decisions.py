"""Decisions per agenda item: the decision sentence(s), an outcome label, follow-up owners.

Run at index time so that search results can show an outcome badge and the precedent and
timeline views can list decisions without re-reading the minutes.

Three shapes of minutes occur in the corpus:
- "Beslutning for Punkt N: <titel>" followed by background, the Indstilling, who took part,
  then "Beslutninger" and the actual decisions (bullets) and "(OKJ følger op)";
- "Beslutning for Punkt N" followed directly by the decision text;
- a referat where the text directly under "Punkt N: <titel>" is the decision.
The structure parser marks all of these as Sections of kind "beslutning"; this module
finds the decision core inside them. Everything here is rules, no model: the minutes are
written in a small, formulaic register, and rules give stable, explainable labels.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from rapidfuzz import fuzz

from kommunesoeg.core.models import Chunk, Decision, MeetingInfo, Section
from kommunesoeg.core.outcomes import classify_outcome, find_followups, strip_item_heading

DECISION_KIND = "beslutning"
MAX_DECISION_CHARS = 700

# "Beslutninger" / "Beslutninger:" / "Beslutning:" on its own line starts the decision core.
_MARKER = re.compile(r"^\s*Beslutning(?:er)?\s*:?\s*$", re.IGNORECASE | re.MULTILINE)
# Meeting logistics that are not part of a decision.
_LOGISTICS = (
    re.compile(r"^\s*Tid\s*:.*$", re.IGNORECASE),
    re.compile(r"^[^.\n]{0,120}\bdeltog\b\.?\s*$"),
)
# "Intet til referat(et)", "Bordrunde - intet til referatet.", ".": minutes without a decision.
_NOTHING_RECORDED = re.compile(
    r"^\s*(?:[^\n]{0,40}?\s[-–]\s*)?(?:intet\s+til\s+referat(?:et)?)?\s*[.]?\s*$",
    re.IGNORECASE,
)

def decision_core(section_text: str, punkt: int | None = None, title: str | None = None) -> str:
    """The decision text of one agenda item's "beslutning" text, quoted line by line."""
    body = strip_item_heading(section_text.strip(), punkt, title)
    markers = list(_MARKER.finditer(body))
    if markers:
        body = body[markers[-1].end():]
    lines = [
        line.rstrip()
        for line in body.split("\n")
        if line.strip() and not any(p.match(line) for p in _LOGISTICS)
    ]
    return _truncate("\n".join(lines).strip())


def _truncate(text: str) -> str:
    """Keep whole sentences/bullets up to MAX_DECISION_CHARS; the rest stays in the chunk."""
    if len(text) <= MAX_DECISION_CHARS:
        return text
    cut = text[:MAX_DECISION_CHARS]
    ends = [m.end() for m in re.finditer(r"[.!?](?=\s)|\n(?=\s*[•◦\-])", cut)]
    return (cut[: ends[-1]] if ends else cut).strip() + " …"


def _normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().casefold()


def _page_at(section: Section, offset: int) -> int:
    """Page on which character `offset` of the section text stands."""
    page = section.page_start
    for start, number in section.page_offsets:
        if start <= offset:
            page = number
        else:
            break
    return page


def _item_chunks(group: list[Section], chunks: list[Chunk]) -> list[Chunk]:
    first = group[0]
    pages = {p for s in group for p in range(s.page_start, s.page_end + 1)}
    return [
        c
        for c in chunks
        if c.document == first.document
        and c.punkt == first.punkt
        and c.bilag == first.bilag
        and c.section == first.kind
        and c.closed == first.closed
        and any(p in pages for p in range(c.page_start, c.page_end + 1))
    ]


def _chunk_for(core: str, candidates: list[Chunk]) -> Chunk | None:
    """The chunk that holds the start of the decision text (exact, else closest match)."""
    if not candidates:
        return None
    probe = _normalise(core.split("\n", 1)[0])[:80]
    for chunk in candidates:
        if probe and probe in _normalise(chunk.text):
            return chunk
    return max(candidates, key=lambda c: fuzz.partial_ratio(probe, _normalise(c.text)))


def _page_of(group: list[Section], core: str) -> int | None:
    probe = core.split("\n", 1)[0]
    for section in group:
        offset = section.text.find(probe)
        if offset >= 0:
            return _page_at(section, offset)
    return None


def _decision(meeting: MeetingInfo, group: list[Section], chunks: list[Chunk]) -> Decision | None:
    first = group[0]
    text = "\n".join(s.text for s in group)
    core = decision_core(text, first.punkt, first.punkt_title)
    if not core or _NOTHING_RECORDED.match(core):
        return None
    chunk = _chunk_for(core, _item_chunks(group, chunks))
    if chunk is None:
        return None
    page = _page_of(group, core) or chunk.page_start
    return Decision(
        document=first.document,
        meeting=chunk.meeting or meeting.name,
        committee=chunk.committee or meeting.committee,
        date=chunk.date or meeting.date,
        punkt=first.punkt,
        punkt_title=first.punkt_title or "",
        text=core,
        outcome=classify_outcome(core),
        followups=find_followups(core),
        closed=any(s.closed for s in group),
        page=page,
        chunk_id=chunk.chunk_id,
    )


def _item_groups(sections: list[Section]) -> list[list[Section]]:
    """The "beslutning" sections of each agenda item, consecutive in document order.

    An item's decision text may be split over several sections (at a page break, or
    around an embedded Indstilling); the same item number may recur later in the document
    (a second set of minutes), which starts a new group.
    """
    groups: list[list[Section]] = []
    last_key = None
    for section in sections:
        key = (section.document, section.punkt, section.punkt_title, section.bilag, section.closed)
        if section.kind != DECISION_KIND or section.punkt is None:
            if key != last_key:
                last_key = None
            continue
        if key == last_key:
            groups[-1].append(section)
        else:
            groups.append([section])
            last_key = key
    return groups


def _drop_closed_copies(decisions: Iterable[Decision]) -> list[Decision]:
    """An item's minutes may stand in an open and a closed attachment: keep the open copy.

    The closed copy adds nothing for internal users and would only list the item twice;
    a decision that exists only in a closed part is kept (and stays closed).
    """
    decisions = list(decisions)
    open_keys = {
        (d.document, d.punkt, d.punkt_title, _normalise(d.text)) for d in decisions if not d.closed
    }
    seen: set[tuple] = set()
    kept = []
    for d in decisions:
        key = (d.document, d.punkt, d.punkt_title, _normalise(d.text))
        if d.closed and key in open_keys:
            continue
        if (key, d.closed) in seen:
            continue
        seen.add((key, d.closed))
        kept.append(d)
    return kept


def extract_decisions(
    meeting: MeetingInfo, sections: list[Section], chunks: list[Chunk]
) -> list[Decision]:
    """One Decision per agenda item whose minutes state a decision, in document order."""
    found = (_decision(meeting, group, chunks) for group in _item_groups(sections))
    return _drop_closed_copies(d for d in found if d is not None)
