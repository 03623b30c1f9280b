"""Closed agenda items as an OPEN part of the documents lists them: finding the lines.

Issue 11, deliverable 6: a public refusal may name a closed item only where an open part of
the documents itself lists it - a table-of-contents or agenda-list line such as
"Punkt 10 (Lukket) : Pasningsgaranti (NH) 5" or "6. Sygedagpenge regres (lukket punkt)".
This module finds those lines; `retriever/closed_listing.py` matches a question to them and
words the refusal. It reads ONLY open, canonical chunks (`closed` false, no
`duplicate_of`): whatever it returns was already public text. The same line inside closed
material (the closed version of a set of minutes carries its own table of contents) is
never read, and its title is never named.

Why in the indexer (issue 12): finding the listings reads every chunk text, which at
archive scale is too slow for every open, so the build runs it once per generation and
stores the result in meta.sqlite (`indexer/store.py`); the retriever runs it only for a
generation written before that table existed. Both use this one function.

The marker vocabulary is the indexer's: `indexer.structure.parse_item_heading` reads every
"Punkt N" form (`Punkt 10 (Lukket) : X`, `Lukket punkt 7: X`, `Punkt 7: X - Lukket`, OCR
damage such as `Lukkel`), `indexer.textclean` the marker of numbered list entries
(`12 Lukket: X`, `12 (Lukket) X`, `6. X (lukket punkt)`) and the attachment labels
(`Punkt 1, Bilag 3 (Lukket): x.pdf`), which list a closed attachment, not an item, and are
skipped. One vocabulary: a line the indexer reads as closed is a line this module reads as
closed.

A line's page is its chunk's first page (a chunk does not record the page of each line).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from indexer.structure import parse_item_heading
from indexer.textclean import is_label_line, marker_end, split_closed_marker
from kommunesoeg.core.models import Chunk
from kommunesoeg.core.results import ClosedListing

# "12 Lukket: X", "12. (Lukket) X", "6. X (lukket punkt)": a numbered list entry.
_ENTRY_RE = re.compile(r"^(?P<num>\d{1,3})(?!\d)(?P<dot>\.?)\s*(?P<rest>\S.*)$")
# A table of contents: its item lines end in a page number.
_TOC_HEADING_RE = re.compile(r"^Indhold(sfortegnelse)?\s*:?$", re.IGNORECASE)
_TOC_LINE_RE = re.compile(r"^(?:Beslutning for )?Punkt \d{1,3}(?!\d).*\D\s\d{1,3}$")
_PAGE_NUMBER_RE = re.compile(r"\s+\d{1,3}$")
_AFTER_BRACKET_PAGE_RE = re.compile(r"[)\]]\s+\d{1,3}$")  # "(NH) 5": a page number, never a title
# Initials of the responsible person, "(NH)", "(OKJ/HBL)": printed, but no subject.
INITIALS_RE = re.compile(r"\(\s*[A-ZÆØÅ]{2,5}(?:\s*[,/&]\s*[A-ZÆØÅ]{2,5})*\s*\)")
_INITIALS_LINE_RE = re.compile(rf"{INITIALS_RE.pattern}(?:\s+\d{{1,3}})?")
# A wrapped title continues on the next line after one of these words.
_OPEN_ENDINGS = frozenset(
    {"og", "i", "på", "til", "mellem", "for", "af", "om", "med", "ved", "fra", "samt", "under",
     "efter", "den", "det", "de", "–", "-"}
)
_TITLE_EDGES = " \t.:;,-–"

# --- finding the listings --------------------------------------------------------------------


def find_closed_listings(chunks: Iterable[Chunk]) -> tuple[ClosedListing, ...]:
    """Every closed agenda item an open chunk lists, once per (document, meeting, punkt,
    title), in chunk order; the first line that lists it gives the page."""
    found: dict[tuple[str, str, int, str], ClosedListing] = {}
    for chunk in chunks:
        if chunk.closed or chunk.duplicate_of:
            continue  # closed text is never read; a duplicate's canonical copy is
        for punkt, title in listed_in(chunk.text):
            key = (chunk.document, chunk.meeting, punkt, _title_key(title))
            if key not in found:
                found[key] = ClosedListing(
                    chunk.document, chunk.meeting, chunk.date, punkt, title, chunk.page_start
                )
    return tuple(found.values())


def listed_in(text: str) -> list[tuple[int, str]]:
    """(punkt, printed title) of every line of `text` that lists a closed agenda item."""
    lines = [line.strip() for line in text.split("\n")]
    toc = _is_toc(lines)
    out: list[tuple[int, str]] = []
    for i, line in enumerate(lines):
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        listing = read_listing(line, nxt, toc=toc)
        if listing is not None:
            out.append(listing)
    return out


def read_listing(line: str, nxt: str = "", *, toc: bool = False) -> tuple[int, str] | None:
    """(punkt, title) when `line` lists a closed agenda item; `nxt` may continue a wrapped
    title; `toc` says the line stands in a table of contents (a trailing number is a page)."""
    if not line or is_label_line(line):
        return None  # "Punkt 1, Bilag 3 (Lukket): x.pdf" lists a closed attachment
    entry = _read_entry(_strip_page(line, toc))
    if entry is None:
        return None
    punkt, title, closed = entry
    if title and nxt and _continues(title, nxt):
        title, marked = split_closed_marker(_strip_page(f"{title} {nxt}", toc))
        closed = closed or marked
    title = _clean_title(title)
    if not closed or not title:
        return None  # no marker: an open item; no title: nothing to name
    return punkt, title


def _read_entry(line: str) -> tuple[int, str, bool] | None:
    """(punkt, title, closed) of an agenda-item line in any form, marker removed."""
    head = parse_item_heading(line)
    if head is not None:
        return head.punkt, head.title, head.closed
    m = _ENTRY_RE.match(line)
    if m is None:
        return None
    rest = m.group("rest")
    end = marker_end(rest, 0)
    if end is not None:
        return int(m.group("num")), rest[end:], True  # "12 Lukket: X", "12 (Lukket) X"
    if not m.group("dot"):
        return None  # "12 X (lukket)" without the full stop is no list entry
    title, closed = split_closed_marker(rest)  # "6. X (lukket punkt)"
    return int(m.group("num")), title, closed


def _is_toc(lines: Sequence[str]) -> bool:
    if any(_TOC_HEADING_RE.match(line) for line in lines):
        return True
    return sum(1 for line in lines if _TOC_LINE_RE.match(line)) >= 2


def _strip_page(text: str, toc: bool) -> str:
    """Drop the page number a table-of-contents line ends in ("Pasningsgaranti (NH) 5")."""
    if toc or _AFTER_BRACKET_PAGE_RE.search(text):
        return _PAGE_NUMBER_RE.sub("", text)
    return text


def _continues(title: str, nxt: str) -> bool:
    """Does `nxt` continue the wrapped `title` (rather than start a line of its own)?"""
    if parse_item_heading(nxt) or _ENTRY_RE.match(nxt) or is_label_line(nxt):
        return False
    last = title.split()[-1].casefold() if title.split() else ""
    return (
        last in _OPEN_ENDINGS
        or nxt[:1].islower()
        or _INITIALS_LINE_RE.fullmatch(nxt) is not None
    )


def _clean_title(title: str) -> str:
    return " ".join(title.split()).strip(_TITLE_EDGES)


def _title_key(title: str) -> str:
    return " ".join(title.casefold().split())
