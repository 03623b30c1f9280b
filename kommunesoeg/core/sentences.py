"""Danish sentence splitting, shared by chunking (windows), answers and precedents.

Minutes are full of abbreviations ("jf.", "kr.", "mio."), ordinals and bullet lists; the
splitter knows them, so a window or an answer sentence never ends inside "jf. bilag 2".
"""

from __future__ import annotations

import re

# Words after which a period does not end a Danish sentence.
ABBREVIATIONS = {
    "jf",
    "kr",
    "mio",
    "mia",
    "d",
    "ca",
    "bl.a",
    "f.eks",
    "nr",
    "fx",
    "evt",
    "hhv",
    "inkl",
    "ekskl",
    "mv",
    "m.v",
    "mm",
    "m.m",
    "pr",
    "ift",
    "kl",
    "min",
    "stk",
    "vedr",
    "tlf",
    "dvs",
    "osv",
    "m.fl",
    "el",
    "ang",
    "iht",
    "jan",
    "feb",
    "mar",
    "apr",
    "aug",
    "sep",
    "sept",
    "okt",
    "nov",
    "dec",
    "pkt",
    "ref",
    "afd",
    "bl",
    "f",
    "tv",
    "ekstra",
    "st",
    "s",
    "pct",
    "gl",
    "ex",
    "p.t",
    "a.p",
    "i.e",
    "e.g",
    "etc",
    "resp",
    "sek",
    "t",
    "hr",
    "fr",
    "dr",
}
# A sentence ends at . ! ? (optionally closed by a quote or bracket) followed by space and an
# uppercase letter, digit, quote or bullet.
_END_RE = re.compile(r"([.!?][\"”’)\]]*)\s+(?=[A-ZÆØÅ0-9\"“”(•◦–-])")
_BULLET_RE = re.compile(r"\n\s*(?=[•◦▪●]|- |\d{1,2}[.)] |[a-z]\) )")


# Abbreviations that close a list ("angst mm.", "osv.") often end the sentence too; they
# do when the next word is one that starts Danish sentences ("... angst mm. Det er
# derudover blevet besluttet ...") rather than a name ("mm. Aarhus Kommune").
LIST_ENDINGS = {"mm", "m.m", "mv", "m.v", "osv", "etc", "m.fl"}
SENTENCE_STARTERS = {
    "det", "der", "den", "de", "dette", "disse", "denne", "vi", "han", "hun", "man", "hvis",
    "når", "men", "endvidere", "derudover", "desuden", "herudover", "samtidig", "her", "dog",
    "derfor", "herefter", "hertil", "endelig", "alle", "også", "ligeledes",
}


def split_sentences(text: str, *, list_endings: bool = False) -> list[str]:
    """Split Danish text into sentences; abbreviations, ordinals and initials do not end one.

    List items (bullets, "1. ...") start a new sentence even without a period before them,
    since minutes are full of bullet lists of decisions. With `list_endings`, "mm." /
    "osv." before a sentence-starting word ends a sentence (`LIST_ENDINGS`): answers quote
    sentences, so "angst mm. Det er blevet besluttet ..." must be two. Chunking keeps the
    default, so the windows an index was built with do not move.
    """
    pieces: list[str] = []
    for block in _BULLET_RE.split(text):
        block = re.sub(r"\s+", " ", block).strip()
        if not block:
            continue
        start = 0
        for m in _END_RE.finditer(block):
            before = block[start : m.start() + 1]
            word = re.search(r"(\S+)\.$", before.rstrip('"”’)]'))
            if m.group(1).startswith(".") and word:
                token = word.group(1).lower().lstrip('("“')
                ends_list = (list_endings and token in LIST_ENDINGS
                             and _starts_sentence(block, m.end()))
                if not ends_list and _period_continues(token, before):
                    continue
            pieces.append(block[start : m.end(1)].strip())
            start = m.end()
        tail = block[start:].strip()
        if tail:
            pieces.append(tail)
    return [p for p in pieces if any(ch.isalnum() for ch in p)]


def _period_continues(token: str, before: str) -> bool:
    """Whether the period after `token` (the last word of `before`) is inside a sentence:
    an abbreviation, an initial, a list number or an initialism."""
    if token in ABBREVIATIONS or (len(token) == 1 and token.isalpha()):
        return True
    if token.isdigit() and before.strip() == f"{token}.":
        return True  # a list number "2. Beslutningspunkter" starts, not ends, a sentence
    return bool(re.fullmatch(r"(\w\.)+\w", token))  # "a.p", "bl.a" style initialisms


def _starts_sentence(block: str, at: int) -> bool:
    following = re.match(r"\w+", block[at:])
    return following is not None and following.group(0).lower() in SENTENCE_STARTERS


def cut_long(sentence: str, max_chars: int) -> list[str]:
    """Cut at word boundaries into pieces of at most `max_chars`; a longer "word" (a URL,
    a run of characters) is cut hard, so no piece ever exceeds the limit."""
    if len(sentence) <= max_chars:
        return [sentence]
    out: list[str] = []
    words = [
        word[i : i + max_chars]
        for word in sentence.split(" ")
        for i in range(0, max(len(word), 1), max_chars)
    ]
    cur = ""
    for w in words:
        if cur and len(cur) + 1 + len(w) > max_chars:
            out.append(cur)
            cur = w
        else:
            cur = f"{cur} {w}" if cur else w
    if cur:
        out.append(cur)
    return out
