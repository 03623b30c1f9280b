"""Does a sentence hold the kind of answer the question asks for?

"Hvor stort et beløb har Klimafonden bevilget til projektet?" must be answered with an
amount. When the documents discuss the project but never state the amount, quoting the
nearest sentence about the project would dress up a non-answer; the answer gate refuses
instead. Two answer types are required, the ones Danish questions mark unambiguously:
quantities (hvor mange / hvor meget / beløb / koster) and times (hvornår / when). A value
the question itself states does not count: "Hvornår skulle rådmændene orienteres om
temamødet den 12. januar?" is not answered by a sentence whose only date is 12. januar.
Two more types only prefer a sentence, since their marks are softer: a person or
organisation (hvem / who) and a place (hvor holdes / where).
"""

from __future__ import annotations

import re

from kommunesoeg.core.danish import MONTHS_DA

_QUANTITY_Q = re.compile(
    r"\b(hvor\s+(mange|meget|stort?|store|længe|lang)|hvad\s+(koster|kostede|beløber)|"
    r"beløb\w*|antal(let)?|how\s+(many|much|long)|what\s+(does|did)\s+\w+\s+cost)\b",
    re.IGNORECASE,
)
_TIME_Q = re.compile(
    r"\b(hvornår|hvilke[nt]?\s+(dato|datoer|dag|tidspunkt|år|måned|uge|kvartal)|"
    r"when|(what|which)\s+(date|day|year|month|week|time)|what\s+time)\b",
    re.IGNORECASE,
)

_MONTHS = "|".join(MONTHS_DA) + "|jan|feb|mar|apr|jun|jul|aug|sep|sept|okt|nov|dec"
# A number that counts or measures something: not a list marker ("1." / "2)") at the start,
# not a bare year.
_NUMBER = re.compile(r"(?<![\w.,])\d+(?:[.,]\d+)*(?![\w])")
_NUMBER_WORDS = re.compile(
    r"\b(en|et|to|tre|fire|fem|seks|syv|otte|ni|ti|tolv|tyve|halvtreds|hundrede|tusind|"
    r"halv|halvdelen|dobbelt)\s+(mio|mia|kr|børn|personer|borgere|pladser|timer|minutter|"
    r"uger|måneder|år|gange)\b",
    re.IGNORECASE,
)
_CLOCK = r"\d{1,2}(?:[.:]\d{2})?"
_TIME = re.compile(
    rf"(?P<daymonth>\b(?P<day>\d{{1,2}})\.\s*(?P<month>{_MONTHS})\b(?:\s+(?:19|20)\d\d\b)?)|"
    rf"\b({_MONTHS})\s+\d{{4}}\b|\b\d{{1,2}}[./-]\d{{1,2}}[./-]\d{{2,4}}\b|"
    rf"\bd\.\s*\d{{1,2}}[./]\d{{1,2}}\b\.?|\b\d{{1,2}}\.\d{{1,2}}\.(?=\s|$)|"
    rf"\bkl\.\s*{_CLOCK}(?:\s*[–-]\s*{_CLOCK})?|\b\d{{1,2}}[.:]\d{{2}}\s*[–-]\s*\d{{1,2}}[.:]\d{{2}}\b|"
    rf"\b(19|20)\d\d\b|\b(medio|ultimo|primo)\b|\b(?:\d\.\s*)?kvartal\b|\buge\s+\d{{1,2}}\b",
    re.IGNORECASE,
)
_LIST_MARKER = re.compile(r"^\s*(\d{1,2}[.)]|[a-z][.)]|•|-)\s*")


_PERSON_Q = re.compile(r"\b(hvem|hvad\s+hedder|hvilke\s+(personer|organisationer|medlemmer)|who|whom)\b",
                       re.IGNORECASE)
_PLACE_Q = re.compile(
    r"\b(hvor\s+(holdes|holder|afholdes|ligger|foregår|skal\s+\w+\s+(sidde|bo|holdes|placeres))|"
    r"hvilket\s+sted|where)\b",
    re.IGNORECASE,
)
# A person: two capitalised words in a row not at the start, initials ("OKJ", "MØB"), a
# role, or an agenda form's person fields.
_PERSON = re.compile(
    r"(?<=\S\s)[A-ZÆØÅ][a-zæøå]+(?:\s+[A-ZÆØÅ][a-zæøå-]+)+|\b[A-ZÆØÅ]{2,4}\b|"
    r"\b(?i:rådmand\w*|direktør\w*|borgmester\w*|formand\w*|chef\w*|leder\w*)\b|"
    r"^(?:Ansvarlig|Deltagere?|Sagsbehandler):",
)
_PLACE = re.compile(
    r"\b(?:Mødested|lokale|Rådhuset|Rådhus|adresse|\w+(?:vej|gade|plads|torv|skole|skolen|"
    r"centret|huset|hallen))\b|\b(?:i|på)\s+[A-ZÆØÅ][a-zæøå]+",
)


_ASKS = (("quantity", _QUANTITY_Q), ("time", _TIME_Q), ("person", _PERSON_Q), ("place", _PLACE_Q))


def asked_types(question: str) -> tuple[str, ...]:
    """Every answer type the question asks, most telling first: "Hvornår og hvor holder
    udvalget møde?" asks a time and a place."""
    return tuple(kind for kind, asks in _ASKS if asks.search(question))


def expected_type(question: str) -> str | None:
    """"quantity", "time", "person", "place" or None (any sentence may answer)."""
    kinds = asked_types(question)
    return kinds[0] if kinds else None


REQUIRED_TYPES = ("quantity", "time")  # a sentence without one cannot answer
SOFT_TYPES = ("person", "place")  # a sentence with one is preferred


# Money asked ("hvor mange penge", "beløb", "koster") must be answered with money; a count
# ("hvor mange børn") must not be answered with an amount of money.
_MONEY_Q = re.compile(
    r"\b(penge|beløb\w*|kost(er|ede|e)|pris\w*|kroner|kr|budget\w*|bevilg\w*|afsat|"
    r"money|cost\w*|price|funding|grant\w*|budget)\b",
    re.IGNORECASE,
)
# ... unless the question asks how much time: "hvor lang tid er afsat" is a duration.
_DURATION_Q = re.compile(r"\b(hvor\s+lang\s+tid|hvor\s+længe|tid\s+(er\s+)?afsat|how\s+long)\b",
                         re.IGNORECASE)
_MONEY = re.compile(r"\b(kr\.?|kroner|mio\.?|mia\.?|millioner|milliarder|DKK|EUR)(?!\w)",
                    re.IGNORECASE)
_COUNT_Q = re.compile(r"\b(hvor\s+mange|antal(let)?|how\s+many)\b", re.IGNORECASE)


def _has_quantity(sentence: str, question: str) -> bool:
    money_q = bool(_MONEY_Q.search(question)) and not _DURATION_Q.search(question)
    if money_q and not _MONEY.search(sentence):
        return False
    if not money_q and _COUNT_Q.search(question) and _MONEY.search(sentence):
        return False  # "hvor mange børn" is not answered by "1,5 mio. kr."
    body = _TIME.sub(" ", _LIST_MARKER.sub("", sentence, count=1))  # "15. marts" is a date
    if _NUMBER_WORDS.search(body):
        return True
    asked = {m.group(0) for m in _NUMBER.finditer(question)}
    for match in _NUMBER.finditer(body):
        number = match.group(0)
        if re.fullmatch(r"(19|20)\d\d", number) or number in asked:
            continue  # a year is a time, not an amount; a number the question states is no answer
        return True
    return False


def _has_time(sentence: str, question: str) -> bool:
    asked = {_time_key(m) for m in _TIME.finditer(question)}
    return any(_time_key(m) not in asked for m in _TIME.finditer(sentence))


def _time_key(match: re.Match[str]) -> str:
    """What a time expression names: "12. januar 2023" and "12. januar" are one day."""
    if match.group("daymonth"):
        return f"{int(match.group('day'))}.{match.group('month').casefold()[:3]}"
    return _squash(match.group(0))


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text).casefold()


def holds_answer_type(sentence: str, kind: str | None, question: str = "") -> bool:
    """Whether `sentence` states a value of `kind` that `question` does not state itself."""
    if kind == "quantity":
        return _has_quantity(sentence, question)
    if kind == "time":
        return _has_time(sentence, question)
    if kind == "person":
        return bool(_PERSON.search(sentence))
    if kind == "place":
        return bool(_PLACE.search(sentence))
    return True


# Agenda-form fields whose label says what they state. "Mødetid: Kl. 18.15 – 20.00" is the
# answer to "hvornår holder udvalget møde?" however little its few words share in meaning
# with the question; "Tid: 19.05 – 19.30 (25 min.)" answers "hvor lang tid er der sat af?".
_LABELS = {
    "time": ("mødetid", "mødedato", "dato", "tid", "tidspunkt", "frist"),
    "place": ("mødested", "sted", "lokale", "adresse"),
    "person": ("deltagere", "deltager", "ansvarlig", "sagsbehandler", "mødeleder", "referent"),
    "quantity": ("tid",),  # for a duration only ("hvor lang tid")
}
_LABEL = re.compile(r"^([A-ZÆØÅ][\wæøå]{1,15}):\s+\S")


def labelled_answer(unit: str, question: str) -> int:
    """2 when `unit` is a form field whose label is a value of a type `question` asks and
    names what the question asks it of ("Mødetid:" for "hvornår holder udvalget møde?"),
    1 when only its type fits ("Tid:" for "hvor lang tid er der sat af?"), else 0."""
    label = _LABEL.match(unit)
    if label is None:
        return 0
    name = label.group(1).casefold()
    for kind in asked_types(question):
        if kind == "quantity" and not _DURATION_Q.search(question):
            continue
        if name in _LABELS[kind] and holds_answer_type(unit, kind, question):
            words = re.findall(r"\w{4,}", question.casefold())
            return 2 if any(name.startswith(word) for word in words) else 1
    return 0
