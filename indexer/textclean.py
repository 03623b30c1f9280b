"""Text clean-up for Danish meeting documents: page furniture, hyphenation, whitespace.

Everything works on lines because that is what the PDFs give us: page furniture lives on
its own lines (or at a line's end), and hyphenation is a line-end phenomenon. The line
functions (`clean_lines`, `join_hyphenated_lines`) are what `structure` uses, since it must
keep every line's page number; the text functions wrap them for everyone else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rapidfuzz.distance import Levenshtein

# Footer label of a packet page: "Punkt 4, Bilag 1: Opgang til ..." / "... (Lukket): ...";
# what may stand between the attachment number and the colon is checked by `parse_label`.
LABEL_RE = re.compile(r"^\s*Punkt\s+(\d{1,3})\s*,\s*Bilag\s+(\d{1,3})(?!\d)(.{0,40}?):\s*(.*)$")
# A label wrapped over several lines: its continuation is short and the label sits at the
# foot of a page, so at most this many lines follow it on its page.
MAX_LABEL_CONTINUATION = 3

_PAGE_FURNITURE = [
    re.compile(r"^\s*\d{1,4}\s*/\s*\d{1,4}\s*$"),  # "5 / 9" page counter
    re.compile(r"^\s*Side\s+\d{1,4}\s+af\s+\d{1,4}\s*$", re.IGNORECASE),  # "Side 1 af 4"
    re.compile(r"^\s*Overblik\s*:\s*(Delte kommentarer|Noter)\s*$", re.IGNORECASE),
]
# Word template placeholders, also glued to other text: "Antal tegn: Klik her for at angive
# tekst.Fagligt sekretariat", "Klik her for at angive tekst. side 1 af 2".
_PLACEHOLDER_RE = re.compile(
    r"Klik\s+her\s+for\s+at\s+angive\s+(?:tekst|en\s+dato)\.?(?:\s*side\s+\d{1,3}\s+af\s+\d{1,3})?",
    re.IGNORECASE,
)
_SPACES_RE = re.compile(r"[ \t\u00a0\u2000-\u200b\u202f\u205f\u3000]+")

# Hyphenation: a line ending in "<word>-" whose next line starts with a lowercase word.
_TRAIL_WORD_RE = re.compile(r"(\S+)-$")
_LEAD_WORD_RE = re.compile(r"^(\S+)(.*)$")
# "Social-\nog Beskæftigelse": a suspended compound, the hyphen and the space are real.
_CONJUNCTIONS = {"og", "eller", "samt", "til", "and", "or", "&"}


@dataclass(frozen=True)
class Label:
    """A packet page's footer label: which attachment of which agenda item the page is."""

    punkt: int
    bilag: int
    closed: bool
    title: str


def parse_label(line: str) -> Label | None:
    """`Punkt 4, Bilag 1: title`, closed when a Lukket marker stands before the colon
    (`(Lukket)`, `[LUKKET]`, `- lukket`) or ends the title (`... (lukket).pdf`)."""
    m = LABEL_RE.match(line)
    if not m:
        return None
    between = m.group(3).strip()
    closed = False
    if between:
        lead = re.match(rf"[{_DASHES}.,\s]*", between)
        end = marker_end(between, lead.end() if lead else 0, loose=True)
        if end is None or between[end:].strip():
            return None  # "Punkt 4, Bilag 1 og 2: ..." is text, not a label
        closed = True
    title = m.group(4).strip()
    bare = re.sub(r"\.[A-Za-z]{2,4}$", "", title)  # "... (lukket).pdf"
    closed = closed or split_closed_marker(bare)[1]
    return Label(int(m.group(1)), int(m.group(2)), closed, title)


def is_label_line(line: str) -> bool:
    return parse_label(line) is not None


# --- closed ("Lukket") markers --------------------------------------------------------------
#
# Archives mark a closed agenda item in many ways: `(Lukket)`, `(lukket punkt)`, `[LUKKET]`,
# `Lukket:` before the title, `- lukket` after it, `Lukket punkt` on a line of its own, and
# Tesseract turns the word into `Lukkel`, `Lukkot`, `1ukket`, `Luk ket`. The marker *word* is
# matched fuzzily (one edit), but only in a marker *position* (in brackets, right after the
# item number, before the title with a separator, after the title with a separator), so open
# items about closing things ("Lukning af ...", "Lukketider ...", "... de lukkede
# institutioner") never match. An uncertain (fuzzy) match counts as closed: a wrongly closed
# item is hidden from the public, a wrongly open one leaks.

_CLOSED_WORD = "lukket"
# Real words one edit from "lukket" that say something is (being) closed, not that the item is.
_NOT_MARKERS = frozenset({"lukke", "lukker", "lukkes", "lokket", "lakket"})
# "Lukket punkt", "(Lukket sag)": nouns that may follow the marker word inside the marker.
ITEM_NOUNS = frozenset({"punkt", "sag", "emne", "dagsordenspunkt"})
_SECTION_NOUNS = frozenset(
    {"dagsorden", "punkter", "sager", "møde", "del", "dagsordenspunkter", "behandling"}
)
_DASHES = "\\-\u2010\u2011\u2012\u2013\u2014\u2015\u2212"
_SEP_RE = re.compile(rf"\s*[{_DASHES}:.,;]+\s*")
_WORD_AT = re.compile(r"\s*([\w|!]+)")
_SPLIT_PART = re.compile(r" ([\w|!]+)")
_OPEN_BRACKET = re.compile(r"\s*[(\[{]\s*")
_CLOSE_BRACKET = re.compile(r"\s*[)\]}]")
_WORD_RE = re.compile(r"[\w|!]+")
_OPEN_SECTION_RE = re.compile(
    r"^\W*(Åben|Åbne|Åbent|Aben|Abne|Abent|Aaben|Aabne|Aabent)\s+"
    r"(dagsorden|punkter|punkt|sager|møde|del|dagsordenspunkter)\W*$",
    re.IGNORECASE,
)


def _ocr_fold(word: str) -> str:
    """Casefold and undo Tesseract's usual confusions of a leading `l` (`1`, `I`, `|`, `!`)."""
    w = word.casefold()
    if w[:1] in {"1", "i", "|", "!"}:
        w = "l" + w[1:]
    return w.replace("0", "o")


def closed_word(word: str, target: str = _CLOSED_WORD) -> bool:
    """Is `word` the marker word ("lukket"), allowing one OCR edit ("Lukkel", "Iukket")?"""
    w = _ocr_fold(word)
    if w == target:
        return True
    if w in _NOT_MARKERS or not (len(target) - 1 <= len(w) <= len(target) + 1):
        return False
    if not (w[0] == "l" or w.startswith("uk")):
        return False  # "dukket", "sukket": other words, not a damaged "lukket"
    return Levenshtein.distance(w, target, score_cutoff=1) <= 1


def _marker_word_end(text: str, pos: int, target: str = _CLOSED_WORD) -> int | None:
    """End of the marker word at `pos` (after spaces), also when one stray space splits it."""
    m = _WORD_AT.match(text, pos)
    if not m:
        return None
    if closed_word(m.group(1), target):
        return m.end()
    rest = _SPLIT_PART.match(text, m.end())  # "Luk ket", "L ukket"
    if rest and closed_word(m.group(1) + rest.group(1), target):
        return rest.end()
    return None


def _phrase_end(text: str, pos: int) -> tuple[int, bool] | None:
    """(end, has_noun) of a bare marker phrase at `pos`: the word, optionally `punkt`/`sag`."""
    end = _marker_word_end(text, pos)
    if end is None:
        return None
    noun = _WORD_AT.match(text, end)
    if noun and noun.group(1).casefold() in ITEM_NOUNS:
        return noun.end(), True
    return end, False


def _bracketed_end(text: str, pos: int) -> int | None:
    """End of a bracketed marker at `pos`: `(Lukket)`, `[lukket punkt]`, `{ LUKKET sag }`."""
    ob = _OPEN_BRACKET.match(text, pos)
    if not ob:
        return None
    phrase = _phrase_end(text, ob.end())
    if phrase is None:
        return None
    cb = _CLOSE_BRACKET.match(text, phrase[0])
    return cb.end() if cb else None


def marker_end(text: str, pos: int = 0, *, loose: bool = False) -> int | None:
    """End of a closed marker that starts at `pos`, including the separator after it.

    Bracketed markers stand anywhere. A bare `Lukket` must be followed by a separator
    (`Lukket: titel`, `Lukket - titel`) or end the text, unless it carries its noun
    (`Lukket punkt titel`) or `loose` is set (right after an item number nothing else can
    stand there: `Punkt 7 Lukket Personalesag`).
    """
    end = _bracketed_end(text, pos)
    if end is None:
        phrase = _phrase_end(text, pos)
        if phrase is None:
            return None
        end, has_noun = phrase
        sep = _SEP_RE.match(text, end)
        if not (sep or has_noun or loose or not text[end:].strip()):
            return None
    sep = _SEP_RE.match(text, end)
    if sep:
        end = sep.end()
    while end < len(text) and text[end].isspace():
        end += 1
    return end


def trailing_marker_start(text: str) -> int | None:
    """Where a closed marker ending `text` starts (with its separator): `titel (lukket)`,
    `titel - Lukket`, `titel, lukket punkt`. A bare word needs a separator before it
    unless it carries its noun, so "Svømmehallen er lukket" is no marker."""
    stripped = text.rstrip(" .:,;")
    words = list(_WORD_RE.finditer(stripped))
    for k in (4, 3, 2, 1):  # the marker is at most "( Luk ket punkt )": four words
        if len(words) < k:
            continue
        start = words[-k].start()
        lead = stripped[:start]
        bracket = re.search(r"[(\[{]\s*$", lead)
        if bracket:
            end = _bracketed_end(stripped, bracket.start())
            if end is not None and end == len(stripped):
                return _separator_start(stripped, bracket.start())
            continue
        phrase = _phrase_end(stripped, start)
        if phrase is None or phrase[0] != len(stripped):
            continue
        has_sep = re.search(rf"[{_DASHES}:.,;]\s*$", lead) is not None
        if has_sep or phrase[1] or not lead.strip():
            return _separator_start(stripped, start)
    return None


def _separator_start(text: str, pos: int) -> int:
    """Step back over the separator and spaces before a trailing marker."""
    m = re.search(rf"[\s{_DASHES}:.,;]*$", text[:pos])
    return m.start() if m else pos


def split_closed_marker(title: str) -> tuple[str, bool]:
    """The title without its closed markers (before and after it), and whether it had one."""
    closed = False
    text = title.strip()
    end = marker_end(text, 0)
    if end is not None:
        text, closed = text[end:].strip(), True
    start = trailing_marker_start(text)
    if start is not None:
        text, closed = text[:start].strip(), True
    return text, closed


def is_closed_marker_line(line: str) -> bool:
    """A line that is nothing but a marker: `Lukket punkt`, `(LUKKET)`, `Lukket sag.`"""
    text = line.strip().rstrip(".:")
    if not text:
        return False
    end = _bracketed_end(text, 0)
    if end is None:
        phrase = _phrase_end(text, 0)
        end = phrase[0] if phrase else None
    return end is not None and not text[end:].strip()


def is_bare_marker_word(line: str) -> bool:
    """A line that is only the marker word, without brackets or noun: `Lukket`, `LUKKEL.`"""
    text = line.strip().rstrip(".:")
    end = _marker_word_end(text, 0)
    return end is not None and not text[end:].strip()


def is_closed_section_heading(line: str) -> bool:
    """`Lukket dagsorden`, `Lukkede punkter:`, `[Lukket møde]`: every item below is closed."""
    text = line.strip().rstrip(".:")
    text = re.sub(r"^[(\[{]\s*|\s*[)\]}]$", "", text)
    for target in (_CLOSED_WORD, "lukkede"):
        end = _marker_word_end(text, 0, target)
        if end is None:
            continue
        noun = _WORD_AT.match(text, end)
        if noun and noun.end() == len(text) and noun.group(1).casefold() in _SECTION_NOUNS:
            return True
    return False


def is_open_section_heading(line: str) -> bool:
    """`Åben dagsorden`, `Åbne punkter`: ends a closed section (never a closed attachment)."""
    return _OPEN_SECTION_RE.match(line.strip()) is not None


def remove_furniture(text: str) -> str:
    """Drop page labels, page counters and template placeholders from one page (or more)."""
    return "\n".join(clean_lines(text.split("\n")))


def clean_lines(lines: list[str]) -> list[str]:
    """Line-level `remove_furniture`: returns the kept lines, furniture removed.

    A label line removes itself and its continuation: everything after it when it is at the
    foot of the text (a page footer), else only following lines that start in lowercase.
    """
    out: list[str] = []
    i = 0
    n = len(lines)
    while i < n:
        line = lines[i]
        if is_label_line(line):
            rest = n - i - 1
            if rest <= MAX_LABEL_CONTINUATION:
                break  # footer: the label and its wrapped continuation end the page
            i += 1
            while i < n and lines[i][:1].islower():
                i += 1
            continue
        line = _PLACEHOLDER_RE.sub("", line)
        if any(p.match(line) for p in _PAGE_FURNITURE):
            i += 1
            continue
        line = _SPACES_RE.sub(" ", line).strip()
        # Blank lines are dropped: pypdf never yields them but Tesseract does, and the same
        # text must chunk the same way whether it came from a text layer or a scan.
        if line:
            out.append(line)
        i += 1
    return out


def join_hyphenation(text: str) -> str:
    """Join words split over a line break: "udarbej-\\ndet" -> "udarbejdet".

    Keeps the hyphen of real compounds: after an all-caps abbreviation or a digit
    ("EUD-\\nindsatsen" -> "EUD-indsatsen", "0-6-\\nårsområdet") and before a capital; keeps
    the space of a suspended compound ("Social-\\nog" -> "Social- og").
    """
    before = text.split("\n")
    after = join_hyphenated_lines(before)
    # drop lines that only held the moved-up word, keep genuine blank lines
    return "\n".join(a for a, b in zip(after, before) if a or not b.strip())


def join_hyphenated_lines(lines: list[str]) -> list[str]:
    """Line-level `join_hyphenation`: the continuation word moves up to the earlier line.

    Moving the fragment up (instead of merging whole lines) keeps the line count and each
    line's page, so a word split across a page break is cited on the page where it starts.
    """
    out = list(lines)
    for i in range(len(out) - 1):
        line = out[i]
        if not line.endswith("-") or line.endswith((" -", "--")):
            continue
        j = i + 1
        while j < len(out) and not out[j].strip():
            j += 1  # a blank line (page break) between the halves
        if j >= len(out):
            break
        m_lead = _LEAD_WORD_RE.match(out[j].lstrip())
        m_trail = _TRAIL_WORD_RE.search(line)
        if not m_lead or not m_trail:
            continue
        head, tail = m_trail.group(1), m_lead.group(1)
        first = tail[:1]
        if not (first.isalpha() or first.isdigit()):
            continue
        if tail.lower() in _CONJUNCTIONS:
            out[i] = line + " " + tail
        elif _keeps_hyphen(head, tail):
            out[i] = line + tail
        else:
            out[i] = line[:-1] + tail
        out[j] = m_lead.group(2).lstrip()
    return out


def _keeps_hyphen(head: str, tail: str) -> bool:
    """Is "head-" + "tail" a real hyphenated compound rather than a line-break split?"""
    last = re.split(r"[-/]", head)[-1] or head
    letters = [c for c in last if c.isalpha()]
    if last[-1:].isdigit():
        return True  # "0-6-årsområdet", "2023-budgettet"
    if len(letters) >= 2 and all(c.isupper() for c in letters):
        return True  # "MBU-rådmand", "EUD-indsatsen"
    if "/" in head or "." in head.rstrip("."):
        return True  # URL or path broken at a hyphen
    if tail[:1].isupper():
        return True  # "Nord-Vest", "Ungdoms-Psykiatrisk"
    return len(letters) == 1  # "e-mail", "A-kasse"


def normalize_whitespace(text: str) -> str:
    """Collapse runs of spaces, trim lines, keep at most one blank line between paragraphs."""
    lines = [
        _SPACES_RE.sub(" ", ln).strip()
        for ln in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    ]
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip()
