"""What kind of question is asked, where ranking or answering should react to it."""

from __future__ import annotations

import re

# Questions about what was decided / agreed / came out of an agenda item, Danish and English:
# "Hvad blev besluttet om X?", "Sagde rådmanden ja til X?", "Hvad kom rådmandskredsen frem
# til om X?", "Hvad skete der under punktet X?", "What was decided about X?".
_DECISION_QUESTION = re.compile(
    r"\b(?:besluttet|beslut\w*|vedtaget|vedtog|aftalt|godkendt\w*|udfald\w*|konklu\w*|"
    r"(?:sagde|sagt)\s+(?:\w+\s+){0,3}(?:ja|nej)|(?:ja|nej)\s+til|"
    r"kom\s+(?:\w+\s+){0,3}frem\s+til|skete\s+der\s+(?:under|på|med)|"
    r"(?:fik|får|gav|giver)\s+(?:\w+\s+){0,4}(?:lov|grønt\s+lys|tilladelse|mandat|opbakning)|"
    r"grønt\s+lys|"
    r"decided|decision\w*|agreed|approved|approve|resolved|outcome|said\s+(?:yes|no)|"
    r"what\s+happened)\b",
    re.IGNORECASE,
)


def is_decision_question(question: str) -> bool:
    """"Hvad blev besluttet om X?" is answered by the minutes' decision, not the proposal."""
    return bool(_DECISION_QUESTION.search(question))


# The bodies that decide, and what they say or want: a question about what the
# rådmandskreds "mener", "vil have", "var bekymret for" is answered from the minutes, and so
# is who follows a decision up.
_MINUTES_QUESTION = re.compile(
    r"\b(?:rådmand\w*|rådmænd\w*|udvalg\w*|byråd\w*|magistrat\w*|direktion\w*|"
    r"alderman|aldermen|committee|council|mayor|"
    # who follows up: the minutes name the owner ("MØB følger op.")
    r"følge\w*\s+op|follow\w*\s+up)\b",
    re.IGNORECASE,
)


# A yes/no question about what shall or must be done ("Skal kvalitetsrapporten indeholde
# data om normeringer?"): the proposal asks it, the minutes settle it.
_MUST_QUESTION = re.compile(r"^\s*(?:skal|skulle|må|måtte|should|must|shall)\b", re.IGNORECASE)


def asks_the_minutes(question: str) -> bool:
    """A decision question, a question about what a deciding body said or wanted, or
    whether something shall be done: its answer is more likely in the minutes
    (Beslutning) than in the proposal."""
    return (is_decision_question(question) or bool(_MINUTES_QUESTION.search(question))
            or bool(_MUST_QUESTION.search(question)))


# "Hvor mange penge er afsat til X, og hvordan deles udgiften?": a second question joined by
# "og" / "and" + a question word. Each part is answered; the second is often the sentence
# after the first's answer, which the first part's type ("how much") would filter out.
_SECOND_QUESTION = re.compile(
    r",?\s+(?:og|samt|and)\s+(?:(?:for|i|på|til|med|om|af|fra|in|to|with|of)\s+)?"
    r"(?=(?:hvordan|hvornår|hvem|hvor|hvad|hvilke[nt]?|hvorfor|how|when|"
    r"who|where|what|which|why)\b)",
    re.IGNORECASE,
)
MIN_PART_WORDS = 3


def question_parts(question: str) -> list[str]:
    """The questions a question asks: one, or two and more joined by "og hvornår ...".
    A part needs `MIN_PART_WORDS` words - "Hvornår og hvor holder udvalget møde?" is one
    question asking two types (`answertype.asked_types`), not two questions."""
    parts = [p.strip(" ,?") for p in _SECOND_QUESTION.split(question)]
    if len(parts) < 2 or any(len(p.split()) < MIN_PART_WORDS for p in parts):
        return [question]
    return [f"{p}?" for p in parts]
