"""Pages -> MeetingInfo + Sections: which agenda item, attachment, kind and access each line has.

A meeting packet is a stream of attachments. Three signals place a line:

1. The page *label* in the footer (`Punkt 4, Bilag 1 (Lukket): title`) names the attachment
   of the page it stands on; pages before it (back to the previous label) usually belong to
   the same attachment, since packets only label some pages.
2. *Part starts* (`Referat`, `Indstilling`, `Rådmandsindstilling` on a line of their own)
   begin a new document inside that stretch. The part holding the next label gets the label;
   the first part after a label is the tail of the previous attachment; parts in between and
   parts after the last label belong to no attachment (packet level).
3. *Inline headings* (`Punkt 3: Praksis ...`, `Beslutning for Punkt 2: ...`,
   `Punkt 10 (Lukket) : ...`) say which agenda item a minutes' text stands under; they restart
   in every part. Kind headings (`Beslutninger`, `1. Resume`, `Baggrund`, ...) set the section
   kind.

Closed ("Lukket") is sticky downward: a closed label closes its whole attachment, a closed
heading closes everything up to the next heading, a closed section (`Lukket dagsorden`,
`Lukkede punkter`) closes every item up to `Åben dagsorden` or the end of the document;
nothing ever reopens inside a closed scope. The marker forms (brackets, case, dashes, before or
after the title, OCR damage) are recognised in `indexer.textclean`; a heading that carries a
marker is always also an agenda-item heading, so closed text is cited by its Punkt.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import PurePath

from rapidfuzz import fuzz

from indexer.textclean import (
    MAX_LABEL_CONTINUATION,
    clean_lines,
    is_bare_marker_word,
    is_closed_marker_line,
    is_closed_section_heading,
    is_open_section_heading,
    join_hyphenated_lines,
    marker_end,
    parse_label,
    split_closed_marker,
)
from kommunesoeg.core.models import MeetingInfo, Page, Section

# --- patterns -----------------------------------------------------------------------------

# "Punkt 7" / "Beslutning for Punkt 7" at the start of a heading; what follows is read by
# `parse_item_heading`.
_PUNKT_RE = re.compile(
    r"(?P<beslutning>(?:Beslutning|BESLUTNING)\s+(?:for|FOR)\s+)?(?:Punkt|PUNKT)\s+"
    r"(?P<num>\d{1,3})(?!\d)"
)
_COLON_RE = re.compile(r"\s*:\s*")
# "Punkt 7 – Lukket: X", "Punkt 7. Lukket - X", "Punkt 7 - X (lukket)": a dash or full stop
# after the number; only a heading when a closed marker follows (an open "Punkt 7 - X" never
# was one and stays running text, as before).
_NUMBER_SEP_RE = re.compile(r"\s*[\-\u2010-\u2015\u2212.,]?\s*")
# "Lukket punkt 7: X": the marker (with its noun "punkt") before the number.
_LEAD_NUMBER_RE = re.compile(r"\s*(?P<num>\d{1,3})(?!\d)")
# "Punkt 2: Tid: 15 min. Deltagere: ..." on an MBU cover page is a schedule, not a heading.
_NOT_A_TITLE = re.compile(r"^(Tid|Deltagere|Ansvarlig)\s*:", re.IGNORECASE)
NUMBERED_RE = re.compile(r"^(\d{1,2})\.\s*\S")
_ENTRY_RE = re.compile(r"^(?P<num>\d{1,2})\.\s*(?P<rest>\S.*)$")
PART_START_RE = re.compile(r"^(Referat|(Rådmands|Magistrats|Byråds)?[Ii]ndstilling)$")
CASE_RE = re.compile(r"\b[A-ZÆØÅ]{2,5}-\d{4}-\d{4,8}\b")
TOC_RE = re.compile(r"^Indhold(sfortegnelse)?$")

_KIND_HEADINGS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^Beslutning(er)?\s*:?$", re.IGNORECASE), "beslutning"),
    (
        re.compile(r"^(Rådmands|Magistrats|Byråds)?[Ii]ndstilling(\s+om\b.{0,40})?:?$"),
        "indstilling",
    ),
    (re.compile(r"^Det indstilles\s*:?$"), "indstilling"),
    (re.compile(r"^\d{1,2}\.\s*Resum[eé]\s*:?$"), "resume"),
    (re.compile(r"^\d{1,2}\.\s*Beslutningspunkter\s*:?$"), "indstilling"),
    (re.compile(r"^\d{1,2}\.\s*Hvorfor fremsendes indstillingen\??$"), "baggrund"),
    (
        re.compile(
            r"^\d{1,2}\.\s*(Hvilken værdi|Hvad, hvem|Hvem, hvad|Hvilke ressourcer|Hvordan følges)"
        ),
        "tekst",
    ),
    (re.compile(r"^Baggrund(\s+og\s+formål|/formål)?\s*:?$"), "baggrund"),
    (re.compile(r"^Bilag$"), "tekst"),
    (re.compile(r"^Dagsorden(\s+kort)?\s*:?$"), "dagsorden"),
    (re.compile(r"^Dagsorden til .{0,70}$"), "dagsorden"),
]
# A wrapped heading title continues on the next line when the first line ends in one of these.
_OPEN_ENDINGS = {
    "og",
    "i",
    "på",
    "til",
    "mellem",
    "for",
    "af",
    "om",
    "med",
    "ved",
    "den",
    "det",
    "de",
    "fra",
    "under",
    "samt",
    "efter",
    "–",
    "-",
}
MIN_SECTION_CHARS = 200  # shorter heading-only "tekst" sections are folded into the next one

_FILE_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})_([A-Za-zÆØÅæøå]+)_?(.*)$")
_KIND_NAMES = {
    "raadmandsmoede": "Rådmandsmøde",
    "rådmandsmøde": "Rådmandsmøde",
    "udvalgsmoede": "Udvalgsmøde",
    "byraadsmoede": "Byrådsmøde",
    "magistratsmoede": "Magistratsmøde",
    "notat": "Notat",
    "referat": "Referat",
    "dagsorden": "Dagsorden",
}


@dataclass
class _Line:
    text: str
    page: int
    ocr: bool


@dataclass(frozen=True)
class ItemHeading:
    """An agenda-item heading line: `Punkt 7 (lukket): Personalesag` -> 7, "Personalesag"."""

    punkt: int
    title: str
    closed: bool
    beslutning: bool  # "Beslutning for Punkt 7: ..."


@dataclass
class _Label:
    punkt: int
    bilag: int
    closed: bool
    title: str


@dataclass
class _Scope:
    """Closed state that outlives a part: a `Lukket dagsorden` section runs until
    `Åben dagsorden` or the end of the document, whatever documents the packet holds."""

    section_closed: bool = False


@dataclass
class _Part:
    lines: list[_Line]
    label: _Label | None = None
    is_referat: bool = False
    punkt: int | None = None  # packet agenda item the part belongs to (label or title match)
    case_number: str | None = None


@dataclass
class _Draft:
    part: int
    punkt: int | None
    punkt_title: str | None
    kind: str
    closed: bool
    has_heading: bool
    lines: list[_Line] = field(default_factory=list)


# --- public ---------------------------------------------------------------------------------


def parse_document(pages: list[Page]) -> tuple[MeetingInfo, list[Section]]:
    """Split a document's pages into Sections and read its meeting header."""
    if not pages:
        raise ValueError("parse_document needs at least one page")
    document = pages[0].document
    meeting = parse_meeting(document, pages)

    # Step 1: labels out of the footers, furniture out of the bodies, one line stream
    stream, label_at = _line_stream(pages)
    # Step 2: words split over line (and page) breaks
    joined = join_hyphenated_lines([ln.text for ln in stream])
    for ln, text in zip(stream, joined):
        ln.text = text
    # Step 3: parts (documents inside the packet) with their attachment
    parts = _parts(stream, label_at)
    bilag_titles = _bilag_titles(label_at)
    packet_titles = _packet_titles(parts)
    _assign_packet_items(parts, packet_titles)
    _assign_case_numbers(parts)
    # Step 4: headings -> sections
    drafts: list[_Draft] = []
    scope = _Scope()
    for index, part in enumerate(parts):
        drafts.extend(_part_drafts(index, part, packet_titles, bilag_titles, scope))
    drafts = _merge_tiny(drafts)
    sections = [
        _to_section(document, d, parts[d.part], bilag_titles) for d in drafts if _has_content(d)
    ]
    return meeting, sections


def parse_meeting(document: str, pages: list[Page]) -> MeetingInfo:
    """Meeting header from the first page if it has one, else from the file name.

    File names follow `YYYY-MM-DD_COMMITTEE_kind.pdf`; a header like
    `MBU - Rådmandsmøde (Rådmandsmøde)` / `10-01-2023 09:15 - 11:30` wins where present.
    """
    stem = PurePath(document).stem
    m = _FILE_RE.match(stem)
    date = f"{m.group(1)}-{m.group(2)}-{m.group(3)}" if m else None
    committee = m.group(4).upper() if m else stem.split("_")[0][:12]
    rest = (m.group(5) if m else "").lower().removesuffix("_scan")
    kind_key = rest.split("_")[0] if rest else ""
    kind = _KIND_NAMES.get(kind_key, kind_key.capitalize() if kind_key else "Dokument")
    info = MeetingInfo(name=f"{committee} {kind}", committee=committee, date=date)

    lines = [ln.strip() for ln in (pages[0].text if pages else "").split("\n") if ln.strip()]
    for i in range(min(len(lines) - 1, 3)):
        head = re.match(r"^(.+?)\s*\(([^)]+)\)$", lines[i])
        when = re.match(
            r"^(\d{2})-(\d{2})-(\d{4})\s+(\d{1,2}[:.]\d{2})(?:\s*-\s*(\d{1,2}[:.]\d{2}))?",
            lines[i + 1],
        )
        if not (head and when):
            continue
        info.name = head.group(1)
        info.date = f"{when.group(3)}-{when.group(2)}-{when.group(1)}"
        info.time = when.group(4) + (f" - {when.group(5)}" if when.group(5) else "")
        j = i + 2
        if j < len(lines) and not lines[j].startswith(("Information", "Deltagere", "Punkt")):
            info.place = lines[j]
            j += 1
        if j < len(lines) and "Deltagere" in lines[j]:
            after = lines[j].split("Deltagere:", 1)[1].strip()
            names = [after] if after else []
            j += 1
            while j < len(lines) and _looks_like_name(lines[j]):
                names.append(lines[j])
                j += 1
            info.participants = names
        first = head.group(1).split(" - ")[0].strip()
        if not m and re.fullmatch(r"[A-ZÆØÅ]{2,6}", first):
            info.committee = first
        break
    return info


# --- step 1: line stream --------------------------------------------------------------------


def _line_stream(pages: list[Page]) -> tuple[list[_Line], list[tuple[int, _Label]]]:
    """All body lines in order, plus (stream position after the page, label) per labelled page."""
    stream: list[_Line] = []
    labels: list[tuple[int, _Label]] = []
    for page in pages:
        raw = [ln.rstrip() for ln in page.text.replace("\r", "").split("\n")]
        while raw and not raw[-1].strip():
            raw.pop()
        label = None
        for i in range(len(raw) - 1, max(-1, len(raw) - 2 - MAX_LABEL_CONTINUATION), -1):
            found = parse_label(raw[i])
            if found:
                title = " ".join([found.title, *(x.strip() for x in raw[i + 1 :])]).strip()
                label = _Label(found.punkt, found.bilag, found.closed, title)
                raw = raw[:i]
                break
        for text in clean_lines(raw):
            stream.append(_Line(text, page.number, page.ocr))
        if label:
            labels.append((len(stream), label))
    return stream, labels


def _bilag_titles(label_at: list[tuple[int, _Label]]) -> dict[tuple[int, int], str]:
    """Longest label text per attachment: labels are often truncated ("Opgang til")."""
    titles: dict[tuple[int, int], str] = {}
    for _, lab in label_at:
        key = (lab.punkt, lab.bilag)
        if len(lab.title) > len(titles.get(key, "")):
            titles[key] = lab.title
    return titles


# --- step 3: parts --------------------------------------------------------------------------


def _parts(stream: list[_Line], label_at: list[tuple[int, _Label]]) -> list[_Part]:
    parts: list[_Part] = []
    prev_end = 0
    prev_label: _Label | None = None
    stretches = [*label_at, (len(stream), None)]
    for end, label in stretches:
        chunk = stream[prev_end:end]
        starts = [i for i, ln in enumerate(chunk) if PART_START_RE.match(ln.text)]
        bounds = sorted({0, *starts})
        pieces = [chunk[a:b] for a, b in zip(bounds, [*bounds[1:], len(chunk)])]
        pieces = [p for p in pieces if p]
        for k, lines in enumerate(pieces):
            if k == len(pieces) - 1 and label is not None:
                owner = label  # the part that holds the label
            elif k == 0 and prev_label is not None and _continues_attachment(lines, prev_label):
                owner = prev_label  # tail of the previous attachment
            else:
                owner = None  # packet level, or an unlabelled attachment
            is_ref = lines[0].text == "Referat" or bool(owner and "referat" in owner.title.lower())
            prev = parts[-1] if parts else None
            if (
                k == 0
                and prev is not None
                and owner is not None
                and prev.label is not None
                and (prev.label.punkt, prev.label.bilag) == (owner.punkt, owner.bilag)
            ):
                prev.lines.extend(lines)  # same attachment, labelled again on a later page
                prev.label = owner if len(owner.title) > len(prev.label.title) else prev.label
                continue
            parts.append(_Part(lines, owner, is_ref, owner.punkt if owner else None))
        prev_end = end
        prev_label = label
    return parts


def _continues_attachment(lines: list[_Line], label: _Label) -> bool:
    """Does a stretch right after a labelled page continue that attachment?

    Yes, unless it opens with something that starts a new document: an agenda-item heading
    (a packet-level item such as "Punkt 5: Orientering fra Magistraten") or a part start
    that the attachment's own name does not announce ("Referat" continues an attachment
    called "Referat - Rådmandsmøde 20.03.2023", but not one called "Dagsorden til ...").
    """
    first = lines[0].text
    if _item_heading(lines, 0):
        return False
    if PART_START_RE.match(first):
        return first.lower() in label.title.lower()
    return True


def _packet_titles(parts: list[_Part]) -> dict[int, str]:
    """Titles of the packet's own agenda items, from its own minutes (the last unlabelled
    Referat); used to name attachments whose pages carry no inline heading."""
    for part in reversed(parts):
        if part.label is None and part.is_referat:
            titles: dict[int, str] = {}
            for i, ln in enumerate(part.lines):
                head = _item_heading(part.lines, i)
                if head and not head[3]:
                    titles.setdefault(head[0], head[1])
            if titles:
                return titles
    return {}


def _assign_packet_items(parts: list[_Part], packet_titles: dict[int, str]) -> None:
    """An unlabelled indstilling whose title matches a packet item belongs to that item."""
    if not packet_titles:
        return
    for part in parts:
        if part.label is not None or part.is_referat or not PART_START_RE.match(part.lines[0].text):
            continue
        title_lines = []
        for ln in part.lines[1:6]:
            if NUMBERED_RE.match(ln.text) or parse_item_heading(ln.text):
                break
            title_lines.append(ln.text)
        title = " ".join(title_lines)
        best = max(packet_titles.items(), key=lambda kv: fuzz.token_set_ratio(title, kv[1]))
        if title and fuzz.token_set_ratio(title, best[1]) >= 85:
            part.punkt = best[0]


def _assign_case_numbers(parts: list[_Part]) -> None:
    """A case number usually stands at the end of an indstilling; it applies to the whole part
    and to every part of the same attachment."""
    by_attachment: dict[tuple[int, int], str] = {}
    for part in parts:
        found = None
        for ln in part.lines:
            m = CASE_RE.search(ln.text)
            if m and (found is None or "sagsnummer" in ln.text.lower()):
                found = m.group(0)
        part.case_number = found
        if found and part.label:
            by_attachment.setdefault((part.label.punkt, part.label.bilag), found)
    for part in parts:
        if part.case_number is None and part.label:
            part.case_number = by_attachment.get((part.label.punkt, part.label.bilag))


# --- step 4: headings -> section drafts -----------------------------------------------------


def parse_item_heading(text: str) -> ItemHeading | None:
    """Read one line as an agenda-item heading, in every form archives use.

    `Punkt 7: X` and `Beslutning for Punkt 7: X` as always; closed forms with the marker
    after the number (`Punkt 10 (Lukket) : X`, `Punkt 7 – Lukket: X`, `Punkt 7. Lukket - X`,
    `Punkt 7 [LUKKET] X`), before it (`Lukket punkt 7: X`, `(Lukket) Punkt 7: X`) or around
    the title (`Punkt 7: Lukket: X`, `Punkt 7: X (lukket)`, `Punkt 7 - X - Lukket`). The
    marker is removed from the title.
    """
    if "unkt" not in text and "UNKT" not in text:
        return None  # cheap exit: every line of every document passes through here
    text = text.strip()
    closed = False
    lead = marker_end(text, 0)
    if lead is not None:
        rest = text[lead:]
        number = _LEAD_NUMBER_RE.match(rest)
        if number and re.search(r"punkt\W*$", text[:lead], re.IGNORECASE):
            text = "Punkt " + rest.lstrip()  # "Lukket punkt 7: X"
        elif _PUNKT_RE.match(rest):
            text = rest  # "(Lukket) Punkt 7: X"
        else:
            return None
        closed = True
    m = _PUNKT_RE.match(text)
    if not m:
        return None
    after = text[m.end() :]
    colon = _COLON_RE.match(after)
    if colon:
        title_raw = after[colon.end() :]
    else:
        sep = _NUMBER_SEP_RE.match(after)
        start = sep.end() if sep else 0
        end = marker_end(after, start, loose=True)
        if end is not None:
            title_raw, closed = after[end:], True
        elif sep and sep.group().strip():
            title_raw = after[start:]
            if not split_closed_marker(title_raw)[1]:
                return None
        else:
            return None
    title, marked = split_closed_marker(title_raw)
    if _NOT_A_TITLE.match(title):
        return None
    return ItemHeading(int(m.group("num")), title, closed or marked, bool(m.group("beslutning")))


def _item_heading(lines: list[_Line], i: int) -> tuple[int, str, bool, bool, int] | None:
    """(punkt, title, closed, is_beslutning, lines used) if lines[i] starts an item heading."""
    head = parse_item_heading(lines[i].text)
    if head is None:
        return None
    title, closed = head.title, head.closed
    used = 1
    nxt = lines[i + 1].text if i + 1 < len(lines) else ""
    if nxt and lines[i + 1].page == lines[i].page and _continues_title(title, nxt):
        # a wrapped title may carry the marker on its second line: "... (lukket)"
        title, marked = split_closed_marker(f"{title} {nxt}")
        closed = closed or marked
        used = 2
    return head.punkt, title, closed, head.beslutning, used


def _closed_entry(text: str) -> int | None:
    """Number of a closed agenda-list entry: `6. Sygedagpenge regres (lukket punkt)`,
    `6. Lukket: Personalesag`, `6. Personalesag - lukket`."""
    m = _ENTRY_RE.match(text)
    if m and split_closed_marker(m.group("rest"))[1]:
        return int(m.group("num"))
    return None


def _only_listed(lines: list[_Line], i: int, entry: int) -> bool:
    """Is the closed entry at lines[i] just a line of an agenda list ("Dagsorden kort:
    ... 6. Sygedagpenge regres (lukket punkt) / 7. Orienteringspunkter")? The next line is
    then the next entry (number + 1; a "1." would start the item's own list), so the
    closed item has no text here - only its printed title,
    which the open agenda shows to everyone (issue 11: an open listing may be named)."""
    nxt = lines[i + 1].text if i + 1 < len(lines) else ""
    num = NUMBERED_RE.match(nxt)
    return num is not None and int(num.group(1)) == entry + 1


def _continues_title(title: str, nxt: str) -> bool:
    if not nxt or parse_item_heading(nxt) or _kind_of(nxt) or PART_START_RE.match(nxt):
        return False
    if is_closed_section_heading(nxt) or is_open_section_heading(nxt):
        return False
    if _NOT_A_TITLE.match(nxt) or nxt.startswith(("•", "◦", "-")):
        return False
    if not title:
        return True
    last = title.split()[-1].lower()
    return (
        last in _OPEN_ENDINGS
        or nxt[:1].islower()
        or re.fullmatch(r"\d{4}", nxt) is not None
        or re.fullmatch(r"\([^()]{1,15}\)", nxt) is not None
    )


def _kind_of(text: str) -> str | None:
    for pattern, kind in _KIND_HEADINGS:
        if pattern.match(text):
            return kind
    return None


def _part_drafts(
    index: int,
    part: _Part,
    packet_titles: dict[int, str],
    bilag_titles: dict[tuple[int, int], str],
    scope: _Scope,
) -> list[_Draft]:
    label = part.label
    base_title = None
    if part.punkt is not None:
        base_title = packet_titles.get(part.punkt)
    if base_title is None and label is not None:
        base_title = bilag_titles.get((label.punkt, label.bilag), label.title)
    base_closed = bool(label and label.closed)

    drafts: list[_Draft] = []
    cur = _Draft(index, part.punkt, base_title, "tekst", base_closed or scope.section_closed, False)
    item_closed = cur.closed
    closed_entry: int | None = None  # number of the closed agenda entry we are inside
    close_next_heading = False  # a marker line just above the next item heading
    after_heading = -1  # index of the first line after the last item heading
    toc_page: int | None = None

    def flush(new: _Draft) -> _Draft:
        if cur.lines:
            drafts.append(cur)
        return new

    lines = part.lines
    i = 0
    while i < len(lines):
        ln = lines[i]
        text = ln.text
        if toc_page is not None and ln.page != toc_page:
            toc_page = None
        if toc_page is None and TOC_RE.match(text):
            toc_page = ln.page  # a table of contents lists headings; it is not one
        head = _item_heading(lines, i) if toc_page is None else None
        if head:
            num, title, head_closed, is_beslutning, used = head
            head_closed = head_closed or close_next_heading
            close_next_heading = False
            same_item = is_beslutning and num == cur.punkt
            if same_item:
                if head_closed and not cur.closed:
                    _close_item_above(drafts, cur)  # "Beslutning for Punkt 2 (lukket)"
                cur = flush(
                    _Draft(index, cur.punkt, cur.punkt_title, "beslutning", cur.closed, True)
                )
            else:
                item_closed = base_closed or scope.section_closed or head_closed
                closed_entry = None
                kind = "beslutning" if (part.is_referat or is_beslutning) else "tekst"
                cur = flush(_Draft(index, num, title or None, kind, item_closed, True))
            cur.lines.extend(lines[i : i + used])
            i += used
            after_heading = i
            continue
        close_next_heading = False
        if toc_page is None and is_closed_section_heading(text):
            # "Lukket dagsorden": everything below is closed until "Åben dagsorden"
            scope.section_closed = item_closed = True
            closed_entry = None
            cur = flush(_Draft(index, part.punkt, base_title, "tekst", True, False))
        elif toc_page is None and is_open_section_heading(text) and scope.section_closed:
            scope.section_closed = False
            item_closed = base_closed
            closed_entry = None
            cur = flush(_Draft(index, part.punkt, base_title, "tekst", base_closed, False))
        elif toc_page is None and _marker_line(lines, i, after_heading == i):
            # "Lukket punkt" under a heading closes that item; standing right above a heading
            # it may mean the next item: when in doubt, both are closed.
            item_closed = True
            cur.closed = True  # the heading just above belongs to the closed item too
            nxt = lines[i + 1].text if i + 1 < len(lines) else ""
            close_next_heading = parse_item_heading(nxt) is not None
        entry = _closed_entry(text)
        if entry is not None and _only_listed(lines, i, entry):
            entry = None  # a line of an open agenda list: the printed title stays open
        if entry is not None:
            closed_entry = entry
            cur = flush(_Draft(index, cur.punkt, cur.punkt_title, cur.kind, True, cur.has_heading))
        elif closed_entry is not None:
            num = NUMBERED_RE.match(text)
            # only the next entry of the list ends a closed entry: a numbered list inside
            # the closed item's own text ("1. ...", "2. ...") must stay closed
            if num and int(num.group(1)) == closed_entry + 1:
                closed_entry = None
                cur = flush(
                    _Draft(
                        index, cur.punkt, cur.punkt_title, cur.kind, item_closed, cur.has_heading
                    )
                )
        # an agenda stays one "dagsorden" section: its items repeat "Bilag:", "Baggrund/formål:"
        plain = toc_page is None and closed_entry is None and cur.kind != "dagsorden"
        kind = _kind_of(text) if plain else None
        if kind and kind != cur.kind:
            cur = flush(
                _Draft(index, cur.punkt, cur.punkt_title, kind, cur.closed, cur.has_heading)
            )
        cur.lines.append(ln)
        i += 1
    if cur.lines:
        drafts.append(cur)
    return drafts


def _marker_line(lines: list[_Line], i: int, right_after_heading: bool) -> bool:
    """Is lines[i] a closed marker on a line of its own?

    `Lukket punkt`, `Lukket sag` and bracketed `(LUKKET)` are markers wherever they stand. A
    bare `Lukket` is one only right below or right above an item heading: elsewhere it is
    more likely a table cell ("Mandag / Lukket" in opening hours) of an open item.
    """
    text = lines[i].text
    if not is_closed_marker_line(text):
        return False
    if not is_bare_marker_word(text) or right_after_heading:
        return True
    nxt = lines[i + 1].text if i + 1 < len(lines) else ""
    return parse_item_heading(nxt) is not None


def _close_item_above(drafts: list[_Draft], cur: _Draft) -> None:
    """A closed decision heading closes its whole item, also the text already read above it
    (back to the item's heading in the same part): when in doubt, close."""
    cur.closed = True
    for d in reversed(drafts):
        if d.part != cur.part or d.punkt != cur.punkt:
            break
        d.closed = True


def _merge_tiny(drafts: list[_Draft]) -> list[_Draft]:
    """Fold short heading/preamble sections into the section that follows, so a lone
    "Referat" or "Punkt 2: ... / Tid: 15 min." line does not become a chunk of its own.
    Never across parts, agenda items or the open/closed line."""
    out: list[_Draft] = []
    carry: _Draft | None = None
    for d in drafts:
        if carry is not None:
            same_item = d.punkt == carry.punkt or not carry.has_heading
            if d.part == carry.part and d.closed == carry.closed and same_item:
                d.lines = carry.lines + d.lines
                d.has_heading = d.has_heading or carry.has_heading
                if carry.has_heading and d.punkt != carry.punkt:
                    d.punkt, d.punkt_title = carry.punkt, carry.punkt_title
            else:
                out.append(carry)
            carry = None
        size = sum(len(ln.text) + 1 for ln in d.lines)
        if d.kind == "tekst" and size < MIN_SECTION_CHARS:
            carry = d
        else:
            out.append(d)
    if carry is not None:
        out.append(carry)
    return out


def _has_content(d: _Draft) -> bool:
    return any(ch.isalnum() for ln in d.lines for ch in ln.text)


def _to_section(
    document: str, d: _Draft, part: _Part, bilag_titles: dict[tuple[int, int], str]
) -> Section:
    text_parts: list[str] = []
    offsets: list[tuple[int, int]] = []
    pos = 0
    prev_blank = True
    for ln in d.lines:
        if not ln.text:
            if not prev_blank:
                text_parts.append("")
                pos += 1
            prev_blank = True
            continue
        if not offsets or offsets[-1][1] != ln.page:
            offsets.append((pos, ln.page))
        text_parts.append(ln.text)
        pos += len(ln.text) + 1
        prev_blank = False
    text = "\n".join(text_parts).strip()
    pages = [p for _, p in offsets]
    label = part.label
    return Section(
        document=document,
        punkt=d.punkt,
        punkt_title=d.punkt_title,
        bilag=label.bilag if label else None,
        bilag_title=bilag_titles.get((label.punkt, label.bilag), label.title) if label else None,
        kind=d.kind,
        closed=d.closed,
        text=text,
        page_start=min(pages),
        page_end=max(pages),
        ocr=any(ln.ocr for ln in d.lines),
        case_number=part.case_number,
        page_offsets=offsets,
    )


def _looks_like_name(line: str) -> bool:
    words = line.split()
    return (
        1 < len(words) <= 6
        and all(w[:1].isupper() for w in words)
        and not line.startswith("Punkt")
        and ":" not in line
    )
