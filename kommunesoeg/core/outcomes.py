"""The vocabulary of decisions: outcome labels and the rules that find them, follow-up owners,
and the item heading that precedes a decision. Shared by the indexer (which extracts
decisions) and the retriever (which recognises a sentence that states an outcome).
"""

from __future__ import annotations

import re

OUTCOMES = (
    "godkendt",
    "ikke godkendt",
    "taget til efterretning",
    "drøftet",
    "fremsendt",
    "udsat",
    "andet",
)
# How an English answer names an outcome; "andet" (anything else) is not named.
OUTCOMES_EN = {
    "godkendt": "approved",
    "ikke godkendt": "not approved",
    "taget til efterretning": "noted",
    "drøftet": "discussed",
    "fremsendt": "forwarded",
    "udsat": "postponed",
}

# Outcome rules, most specific first. The label of a decision is the rule that matches
# EARLIEST in its text (minutes state the main decision first: "1) taget til efterretning
# 2) godkendt"); on a tie at the same position the more specific rule wins ("godkendes
# ikke" before "godkendes").
_W = r"[a-zæøå]*"
OUTCOME_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "ikke godkendt",
        re.compile(
            rf"\b(?:ikke\s+(?:\w+\s+){{0,2}}godkend(?!else){_W}|godkend{_W}\s+ikke\b|"
            rf"afvis(?:t|te|es|er)\b|forkast{_W}|ikke\s+tiltr(?:å|aa)dt)",
            re.IGNORECASE,
        ),
    ),
    (
        "taget til efterretning",
        # "tog orienteringen om tilstandsrapporten til efterretning": the object may stand between
        re.compile(r"\b(?:taget|tages|tog)\s+(?:[\wæøå-]+\s+){0,8}?til\s+efterretning",
                   re.IGNORECASE),
    ),
    ("udsat", re.compile(r"\b(?:udsat|udsættes|udskudt|udskydes)\b", re.IGNORECASE)),
    (
        "fremsendt",
        re.compile(
            r"\b(?:fremsendt|fremsendes|videresendt|videresendes|sendes\s+videre|"
            r"sendt\s+videre|oversendt|oversendes)\b",
            re.IGNORECASE,
        ),
    ),
    ("drøftet", re.compile(r"\b(?:drøftet|drøftede|drøftes|drøftelse|drøftelsen)\b", re.IGNORECASE)),
    (
        "godkendt",
        re.compile(
            r"\b(?:godkendt|godkendte|godkender|godkendes|tiltrådt|tiltræder|tiltrådte|"
            r"vedtaget|vedtog)\b",
            re.IGNORECASE,
        ),
    ),
)

# "(OKJ følger op)", "Vibeke Jensen følger op", "MØB følger op", "Lotte Henriksen følger op".
_UPPER = "A-ZÆØÅ"
_FOLLOWUP = re.compile(
    rf"(?:\(\s*([{_UPPER}][\w{_UPPER}æøå.-]{{0,30}}(?:\s+[{_UPPER}][\wæøå-]+){{0,3}})\s+"
    rf"følger\s+op\b[^)]*\)"
    rf"|(?<![\wæøå])((?:[{_UPPER}][\wæøåÆØÅ-]*\s+){{0,3}}[{_UPPER}][\wæøåÆØÅ-]*)\s+følger\s+op\b)"
)
# Words that begin a sentence but are not owners ("Forvaltningen følger op" is kept).
_NOT_OWNER = {"Der", "Det", "Den", "Og", "Men", "Som", "Hvor", "Når"}


def classify_outcome(text: str) -> str:
    """Outcome label (one of kommunesoeg.core.results.OUTCOMES) of a decision text."""
    best: tuple[int, int, str] | None = None
    for priority, (label, pattern) in enumerate(OUTCOME_RULES):
        match = pattern.search(text)
        if match and (best is None or (match.start(), priority) < best[:2]):
            best = (match.start(), priority, label)
    return best[2] if best else "andet"


def find_followups(text: str) -> list[str]:
    """Owners named in "X følger op" phrases, in order of appearance, without repeats."""
    flat = re.sub(r"\s+", " ", text)
    owners: list[str] = []
    for match in _FOLLOWUP.finditer(flat):
        owner = (match.group(1) or match.group(2)).strip()
        words = owner.split()
        while words and words[0] in _NOT_OWNER:
            words = words[1:]
        owner = " ".join(words)
        if owner and owner not in owners:
            owners.append(owner)
    return owners


def _title_pattern(title: str) -> str:
    """Regex for an item title as printed: any whitespace/line break between its characters."""
    chars = [re.escape(ch) for ch in title if not ch.isspace()]
    return r"\s*".join(chars)


def item_heading(punkt: int | None, title: str | None) -> re.Pattern[str]:
    """The "(Beslutning for) Punkt N: <titel>" heading of an item as printed: the title may
    wrap over lines; without a title the heading runs to the end of its line."""
    number = rf"{punkt}" if punkt is not None else r"\d{1,3}"
    head = rf"(?:Beslutning(?:er)?\s+for\s+)?Punkt\s+{number}\s*(?:\(\s*Lukket\s*\))?\s*:"
    if title:
        head += r"\s*" + _title_pattern(title)
    else:
        head += r"[^\n]*"
    return re.compile(head, re.IGNORECASE)


def strip_item_heading(text: str, punkt: int | None, title: str | None) -> str:
    """Drop everything up to the last "(Beslutning for) Punkt N: <titel>" heading.

    A section may open with the item heading, a "Tid: ..." line and then the decision
    heading; the title may wrap over lines. Text before the last heading is never part of
    the decision.
    """
    matches = list(item_heading(punkt, title).finditer(text))
    return text[matches[-1].end():] if matches else text
