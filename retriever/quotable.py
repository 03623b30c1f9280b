"""The units an answer may quote from a passage: sentences, bullet items, field lines and
table rows - never a column header, a page furniture line or an item heading.

Minutes mix prose with agenda forms ("Mødetid: Kl. 18.15 – 20.00", "Ansvarlig: Anders
Winnerskjold") and tables. Prose is split into sentences by the shared Danish splitter;
a line of the form "Label: value" is a unit of its own, because a "when / where / who"
question is answered by exactly that line and the splitter would glue it to its
neighbours ("Mødested: Rådhuset, lokale 398 Dagsorden kort: 1. Godkendelse ...").
A table row whose cells are separated by wide gaps or bars is rendered as one readable
line, "<cell> — <cell> — <cell>". Lines in capitals ("STATUS NÆSTE OP-FØLGNING") are
column headers or letterheads; they say nothing on their own and are never quoted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import pairwise

from kommunesoeg.core.outcomes import item_heading
from kommunesoeg.core.sentences import split_sentences

# "Mødetid: Kl. 18.15", "Baggrund/formål: ...", "Ansvarlig: Eva Borchorst Mejnertz".
_FIELD = re.compile(r"^[A-ZÆØÅ][\wæøåÆØÅ/ .-]{1,28}:\s+\S")
# A heading line of an agenda item: "Punkt 4: Titel", "Beslutning for Punkt 4: Titel".
_HEADING = re.compile(r"^(?:Beslutning(?:er)? for )?Punkt \d{1,3}\b[^.]*$", re.IGNORECASE)
# Stands where the passage's own item heading was removed.
_OWN_HEADING = "\u2063"
# An item number before the fields listed for it: "Punkt 6: Tid: 15 min. Deltagere: ...".
_LISTED_ITEM = re.compile(r"^(Punkt \d{1,3})\s*:\s+(?=[A-ZÆØÅ][\wæøå ]{1,20}:)")
# Table cells: two or more spaces, a tab, or a vertical bar between them.
_CELL_GAP = re.compile(r"\s*\|\s*|\t+|\s{2,}")
_BULLET = re.compile(r"^\s*(?:[•◦▪‣·●*]|[-–](?=\s))\s*")
MIN_CHARS = 3
MAX_ENTRY_CHARS = 120


def _is_header(line: str) -> bool:
    """A line of capitals (column headers, letterheads, "# OPGAVE AN-SVAR")."""
    letters = [ch for ch in line if ch.isalpha()]
    return len(letters) >= 4 and all(ch.isupper() for ch in letters)


def _table_row(line: str) -> str | None:
    """"a — b — c" for a line of at least three cells, else None."""
    cells = [c.strip() for c in _CELL_GAP.split(line.strip()) if c.strip()]
    if len(cells) >= 3 and not _is_header(line):
        return " — ".join(cells)
    return None


# A page number the PDF glued to the first line of the page ("Side 3 af 4Baggrund/formål:")
_GLUED_PAGE_NUMBER = re.compile(r"^Side\s+\d{1,4}\s+af\s+\d{1,4}(?=\s|[A-ZÆØÅ])\s*")


def clean(unit: str) -> str:
    """Whitespace collapsed, a leading bullet glyph and a glued page number removed; the
    words stay verbatim."""
    return _GLUED_PAGE_NUMBER.sub("", re.sub(r"\s+", " ", _BULLET.sub("", unit)).strip())


@dataclass(frozen=True)
class Unit:
    """A quotable unit and its context: for a unit inside a numbered entry of an agenda
    form, that entry ("5. Indledende drøftelse af Budget 24" for "Ansvarlig: Anders
    Winnerskjold"), so a question naming the entry finds its fields and sentences."""

    text: str
    context: str = ""


# "5. Indledende drøftelse af Budget 24", "C) Evt. orientering" - not a date "23. marts 2023"
# or a period "3. kvartal 2023"
_ENTRY = re.compile(
    r"^(?:\d{1,2}[.)]|[A-H]\))\s*(?!(?:januar|februar|marts|april|maj|juni|juli|august|"
    r"september|oktober|november|december|kvartal)\b)\S",
    re.IGNORECASE,
)


def quotable_units(text: str, punkt: int | None = None, title: str | None = None,
                   entry: str = "") -> list[Unit]:
    """The quotable units of a passage, in reading order, each with its context.

    `punkt`/`title` name the item the passage belongs to, so that its heading (which
    repeats the title) is left out: the answer names the item in its citation instead.
    `entry` is the form entry open where the passage starts (`form_context`): the units
    before the passage's own first entry belong to it. A heading of another agenda item
    inside the passage ("Punkt 6: Ansøgning til Klimafonden" in minutes that list every
    item of a meeting) is not quoted but opens an entry: the "Deltagere:" line under it
    belongs to that item, not to the one above it.
    """
    units: list[Unit] = []
    for unit, heading in _pieces(text, punkt, title):
        if heading:
            entry = _opened_by(unit)
        elif _is_entry(unit):
            entry = _opened_by(unit)
            units.append(Unit(unit))
        else:
            units.append(Unit(unit, entry))
    return units


def is_field(unit: str) -> bool:
    """Whether `unit` is a field line of an agenda form ("Tid: 19.05 – 19.30 (25 min.)")."""
    return bool(_FIELD.match(unit))


# The fields that say how an item is handled at the meeting, not what it is about.
_LOGISTICS = re.compile(
    r"^(?:Tid|Deltagere?|Ansvarlig|Mødetid|Mødested|Mødedato|Metode|Bilag|Sagsbehandler|"
    r"Mødeleder|Referent):\s", re.IGNORECASE)


def is_logistics(unit: str) -> bool:
    """Whether `unit` is a field saying how an item is handled ("Tid: 15 min.", "Deltagere:
    Elin Poulsen og Daniel Wilson", "Metode: Orientering"): an answer quotes it for a
    question about exactly that, never as a neighbour of the sentence that answers."""
    return bool(_LOGISTICS.match(unit))


def _is_entry(unit: str) -> bool:
    return bool(_ENTRY.match(unit)) and not _FIELD.match(unit)


def _opened_by(entry: str) -> str:
    """The record a numbered unit opens: a short numbered entry of an agenda form is one;
    a long numbered sentence ("1) Rådmanden godkender ...") is prose and closes the
    record before it without opening one ("")."""
    return entry if len(entry) <= MAX_ENTRY_CHARS else ""


def last_entry(text: str, punkt: int | None = None, title: str | None = None) -> str | None:
    """The form entry still open at the end of a passage: None when the passage has no
    numbered entry or item heading at all (the one open before it is still open), "" when
    its last one was a long numbered sentence (prose, no entry open)."""
    entries = [u for u, heading in _pieces(text, punkt, title) if heading or _is_entry(u)]
    return _opened_by(entries[-1]) if entries else None


def quotable_texts(text: str, punkt: int | None = None, title: str | None = None) -> list[str]:
    """The texts of `quotable_units`."""
    return [unit for unit, heading in _pieces(text, punkt, title) if not heading]


def _pieces(text: str, punkt: int | None, title: str | None) -> list[tuple[str, bool]]:
    """The passage's quotable units and the headings of agenda items inside it, in reading
    order, each marked whether it is such a heading (True: context, never quoted)."""
    if punkt is not None:
        # the item's own headings go (the citation names the item); what stands between
        # them - "Tid: 15 min. Deltagere: ..." under "Punkt 6: ..." - stays
        text = item_heading(punkt, title).sub(f"\n{_OWN_HEADING}\n", text)
    pieces: list[tuple[str, bool]] = []
    prose: list[str] = []

    def flush() -> None:
        if prose:
            pieces.extend((u, False) for u in split_sentences("\n".join(prose),
                                                             list_endings=True))
            prose.clear()

    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            prose.append("")
            continue
        if stripped == _OWN_HEADING:  # ends the field or sentence before it
            flush()
            continue
        listed = _LISTED_ITEM.match(stripped)
        if listed:  # "Punkt 6: Tid: 15 min. Deltagere: ..." in a meeting's front page
            flush()
            pieces.append((listed.group(1), True))
            stripped = line = stripped[listed.end():]
        if _is_header(stripped) or _HEADING.match(stripped):
            flush()
            if _HEADING.match(stripped):
                pieces.append((clean(stripped), True))
            continue
        row = _table_row(line)
        if row is not None:
            flush()
            pieces.append((row, False))
        elif _FIELD.match(stripped):
            flush()
            prose.append(stripped)  # a field starts a unit; its value may wrap onto the next line
        else:
            prose.append(line)
    flush()
    finished: list[tuple[str, bool]] = []
    for piece, heading in pieces:
        if heading:
            finished.append((clean(piece), True))
        else:
            finished.extend((unit, False) for unit in _as_quoted(piece))
    return finished


def _as_quoted(piece: str) -> list[str]:
    """A piece of prose, a field or a table row as the units an answer quotes: split at
    embedded field labels and at the items of an agenda run together, cleaned, without
    fragments and lists of links."""
    units = (clean(item) for part in _split_fields([piece]) for item in split_agenda_list(part))
    return [unit for unit in units if len(unit) >= MIN_CHARS and not _mostly_links(unit)]


_LISTED_NUMBER = re.compile(r"(?:^|\s)(\d{1,2})\.?\s+(?=[A-ZÆØÅ])")
MIN_LISTED_ENTRIES = 3


def split_agenda_list(unit: str) -> list[str]:
    """A meeting's list of items run together into one sentence ("Dagsorden til
    udvalgsmødet 11. januar 2023 1 Referat ... 2 Modernisering af Samsøgade Skole 3 Forslag
    fra EL om ...") as one unit per item, the lead-in first: "which party proposed X" is
    answered by the line "3 Forslag fra EL om ...", not by the whole agenda. Numbers 1, 2,
    3 ... in order before capitalised titles make a list; anything else stays one unit."""
    found = list(_LISTED_NUMBER.finditer(unit))
    run: list[re.Match[str]] = []
    best: list[re.Match[str]] = []
    for match in found:
        number = int(match.group(1))
        run = [*run, match] if run and number == int(run[-1].group(1)) + 1 else [match]
        if len(run) > len(best):
            best = run
    if len(best) < MIN_LISTED_ENTRIES:
        return [unit]
    cuts = [m.start() for m in best] + [len(unit)]
    parts = [unit[:cuts[0]]] + [unit[a:b] for a, b in pairwise(cuts)]
    return [p.strip() for p in parts if p.strip()]


# Letterhead and document metadata: "Antal tegn: 6.454", "Sagsnummer: EMN-2023-000692",
# "Tlf.: 41 85 52 58", an address block ("Jægergården, Værkmestergade 15 B 8000 Aarhus C"),
# a template's unfilled "Klik her for at angive tekst.".
_METADATA_LABEL = re.compile(
    r"^(?:Antal tegn|Sagsnummer|Sag|Sagsbehandler|Telefon|Direkte telefon|Tlf|E-?mail|"
    r"Direkte e-?mail|E-post|Lix|Mobil|CVR|EAN|Web)\.?:", re.IGNORECASE)
_STREET = re.compile(r"[A-ZÆØÅ]\w*(?:vej|gade|plads|allé|torv|stræde|boulevard)\s+\d+")
_POSTAL = re.compile(r"\b[1-9]\d{3}\s+[A-ZÆØÅ][a-zæøå]+(?:\s+[A-ZÆØÅ]{1,2})?(?:\s|$)")
_TEMPLATE = "Klik her for at angive tekst"


def is_furniture(unit: str) -> bool:
    """Whether `unit` is letterhead or document metadata rather than something the
    document says: it tells nothing about the case, and an answer quotes it only when the
    question asks for exactly that field (`answertype.names_field`)."""
    return (bool(_METADATA_LABEL.match(unit)) or _TEMPLATE in unit
            or bool(_STREET.search(unit) and _POSTAL.search(unit)))


_LINK = re.compile(r"(?:https?://|www\.)\S+")


def _mostly_links(unit: str) -> bool:
    """A list of web addresses (a note's references) is not a statement to quote."""
    return sum(len(m.group(0)) for m in _LINK.finditer(unit)) > 0.3 * len(unit)


# A field label inside a unit: a capitalised word (or two, or "Baggrund/formål") directly
# followed by ":" and preceded by a space. Only labels agenda forms use, so prose with a
# colon ("med følgende bemærkning: ...") is not cut.
_FIELD_LABELS = (
    "Mødedato", "Mødetid", "Mødested", "Tid", "Sted", "Ansvarlig", "Deltagere", "Deltager",
    "Metode", "Baggrund/formål", "Formål", "Bilag", "Dagsorden kort", "Emne", "Sag",
    "Sagsbehandler", "Fra", "Til", "Dato", "Status", "Afdeling", "Forventet",
)
_EMBEDDED_FIELD = re.compile(
    r"\s(?=(?:" + "|".join(re.escape(label) for label in _FIELD_LABELS) + r"):(?:\s|$))"
)


def _split_fields(units: list[str]) -> list[str]:
    """Units split at embedded field labels that the sentence splitter joined
    ("Mødested: Rådhuset, lokale 398 Dagsorden kort:") - each field is its own unit."""
    return [part for unit in units for part in _EMBEDDED_FIELD.split(unit) if part.strip()]


_BETWEEN_UNITS = re.compile(r"[\s•◦▪‣·●*–-]*")


def verbatim_runs(passage: str, units: list[str]) -> list[str]:
    """`units` (in reading order) as runs of the passage's own text: units that stand next
    to each other in the passage - with only spacing or a bullet glyph between them - are
    one run, quoted with the glyph, so an answer quotes "A. • B." and not a text the
    passage never printed. A unit not found verbatim (a rendered table row) is a run of
    its own."""
    flat = " ".join(passage.split())
    runs: list[str] = []
    start = end = -1
    for unit in units:
        at = flat.find(unit, max(end, 0))
        if at >= 0 and end >= 0 and _BETWEEN_UNITS.fullmatch(flat[end:at]):
            end = at + len(unit)
            runs[-1] = flat[start:end]
            continue
        if at >= 0:
            start, end = at, at + len(unit)
        else:
            start = end = -1
        runs.append(unit)
    return runs
