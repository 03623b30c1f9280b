"""When a retrieved passage counts as relevant to a question.

Evidence strings are copied from the seed texts, but the PDFs wrap lines differently and
extraction may or may not join line-break hyphens, so both sides are normalised the same
way before a substring test. The normalisation is deliberately lenient about hyphens: a
hyphen between two word characters is dropped together with any whitespace after it, so
"udarbej- det", "udarbej-det" and "udarbejdet" all compare equal, and so do the Danish
suspended hyphen forms "Udviklings- og" / "Udviklings-og". Dropping a genuine hyphen on
both sides cannot create a false match in practice, whereas keeping it makes real matches
depend on how a line happened to wrap.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Protocol

from eval.questions import Question
from eval.results import AnswerJudgement

_QUOTES = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"', "„": '"', "«": '"', "»": '"'})
_HYPHENS = re.compile(r"(\w)[-\u2010\u2011]\s*(?=\w)")
_SPACE = re.compile(r"\s+")


def normalise(text: str) -> str:
    """Lowercase, fold ligatures/quotes, join hyphenation, collapse whitespace."""
    text = unicodedata.normalize("NFKC", text).replace("\u00ad", "")
    text = text.translate(_QUOTES).casefold()
    text = _SPACE.sub(" ", text).strip()
    return _HYPHENS.sub(r"\1", text)


def contains_evidence(text: str, evidence: tuple[str, ...] | list[str]) -> bool:
    """True when the normalised text contains at least one normalised evidence string."""
    haystack = normalise(text)
    return any(normalise(e) in haystack for e in evidence if e.strip())


class _Passage(Protocol):
    text: str
    document: str
    punkt: int | None


class _Answer(Protocol):
    answer: str
    citations: list
    insufficient_evidence: bool


def is_relevant(hit: _Passage, question: Question) -> bool:
    """Evidence decides when the question has any; otherwise the agenda item does.

    A hit counts for its own text and location only - `also_in` copies do not make a
    passage relevant, because the user reads this passage.
    """
    if question.evidence:
        return contains_evidence(hit.text, question.evidence)
    if question.doc is not None and question.punkt is not None:
        return hit.document in question.accepted_docs() and hit.punkt == question.punkt
    return False


def judge_answer(answer: _Answer, question: Question) -> AnswerJudgement:
    """Judge an `ask` answer against a question's evidence, with the same normalisation as
    `contains_evidence`.

    The answer text holds the evidence or not; a cited passage holds it (or, for a question
    with only a Punkt, stands in it: `is_relevant`). A refusal cites nothing - its
    citations are the nearest passages it shows - so a refusal never counts as citing the
    evidence; whether those nearest passages held it is kept apart, as
    `nearest_has_evidence` (a refusal although the evidence was found).
    """
    refused = bool(answer.insufficient_evidence)
    text_ok = contains_evidence(answer.answer, question.evidence) if question.evidence else None
    passages = any(is_relevant(h, question) for h in answer.citations)
    return AnswerJudgement(
        answer_has_evidence=text_ok,
        citation_has_evidence=passages and not refused,
        refused=refused,
        nearest_has_evidence=passages if refused else None,
    )
