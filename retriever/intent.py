"""What kind of question is asked, where ranking or answering should react to it."""

from __future__ import annotations

import re

# Questions about what was decided / agreed, in Danish and English.
_DECISION_QUESTION = re.compile(
    r"\b(?:besluttet|beslut\w*|vedtaget|vedtog|aftalt|godkendt\w*|udfald\w*|konklu\w*|"
    r"decided|decision\w*|agreed|approved|resolved|outcome)\b",
    re.IGNORECASE,
)


def is_decision_question(question: str) -> bool:
    """"Hvad blev besluttet om X?" is answered by the minutes' decision, not the proposal."""
    return bool(_DECISION_QUESTION.search(question))
