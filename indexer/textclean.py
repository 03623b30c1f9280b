"""Text clean-up for Danish meeting documents: page furniture, hyphenation, whitespace.

Everything works on lines because that is what the PDFs give us: page furniture lives on
its own lines (or at a line's end), and hyphenation is a line-end phenomenon. The line
functions (`clean_lines`, `join_hyphenated_lines`) are what `structure` uses, since it must
keep every line's page number; the text functions wrap them for everyone else.
"""

from __future__ import annotations

import re

# Footer label of a packet page: "Punkt 4, Bilag 1: Opgang til ..." / "... (Lukket): ...".
LABEL_RE = re.compile(
    r"^\s*Punkt\s+(\d{1,3})\s*,\s*Bilag\s+(\d{1,3})\s*(\(\s*Lukket\s*\))?\s*:\s*(.*)$"
)
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


def is_label_line(line: str) -> bool:
    return LABEL_RE.match(line) is not None


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
