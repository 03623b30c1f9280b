"""Does a sentence hold the kind of answer the question asks for?

"Hvor stort et beløb har Klimafonden bevilget til projektet?" must be answered with an
amount. When the documents discuss the project but never state the amount, quoting the
nearest sentence about the project would dress up a non-answer; the answer gate refuses
instead. Only two answer types are checked, the ones Danish questions mark unambiguously:
quantities (hvor mange / hvor meget / beløb / koster) and times (hvornår / when).
"""

from __future__ import annotations

import re

_QUANTITY_Q = re.compile(
    r"\b(hvor\s+(mange|meget|stort?|store|længe|lang)|hvad\s+(koster|kostede|beløber)|"
    r"beløb\w*|antal(let)?|how\s+(many|much|long)|what\s+(does|did)\s+\w+\s+cost)\b",
    re.IGNORECASE,
)
_TIME_Q = re.compile(r"\b(hvornår|when|what\s+date|which\s+date)\b", re.IGNORECASE)

_MONTHS = (
    r"januar|februar|marts|april|maj|juni|juli|august|september|oktober|november|december|"
    r"jan|feb|mar|apr|jun|jul|aug|sep|sept|okt|nov|dec"
)
# A number that counts or measures something: not a list marker ("1." / "2)") at the start,
# not a bare year.
_NUMBER = re.compile(r"(?<![\w.,])\d+(?:[.,]\d+)*(?![\w])")
_NUMBER_WORDS = re.compile(
    r"\b(en|et|to|tre|fire|fem|seks|syv|otte|ni|ti|tolv|tyve|halvtreds|hundrede|tusind|"
    r"halv|halvdelen|dobbelt)\s+(mio|mia|kr|børn|personer|borgere|pladser|timer|minutter|"
    r"uger|måneder|år|gange)\b",
    re.IGNORECASE,
)
_TIME = re.compile(
    rf"(\b\d{{1,2}}\.\s*({_MONTHS})\b|\b({_MONTHS})\s+\d{{4}}\b|\b\d{{1,2}}[./-]\d{{1,2}}[./-]\d{{2,4}}\b|"
    rf"\bkl\.\s*\d|\b(19|20)\d\d\b|\b(medio|ultimo|primo)\b|\bkvartal\b|\buge\s+\d)",
    re.IGNORECASE,
)
_LIST_MARKER = re.compile(r"^\s*(\d{1,2}[.)]|[a-z][.)]|•|-)\s*")


def expected_type(question: str) -> str | None:
    """"quantity", "time" or None (any sentence may answer)."""
    if _QUANTITY_Q.search(question):
        return "quantity"
    if _TIME_Q.search(question):
        return "time"
    return None


def _has_quantity(sentence: str) -> bool:
    body = _LIST_MARKER.sub("", sentence, count=1)
    if _NUMBER_WORDS.search(body):
        return True
    for match in _NUMBER.finditer(body):
        number = match.group(0)
        if re.fullmatch(r"(19|20)\d\d", number):
            continue  # a year is a time, not an amount
        return True
    return False


def holds_answer_type(sentence: str, kind: str | None) -> bool:
    if kind == "quantity":
        return _has_quantity(sentence)
    if kind == "time":
        return bool(_TIME.search(sentence))
    return True
