"""Does a sentence hold the kind of answer the question asks for?

"Hvor stort et beløb har Klimafonden bevilget til projektet?" must be answered with an
amount. When the documents discuss the project but never state the amount, quoting the
nearest sentence about the project would dress up a non-answer; the answer gate refuses
instead. Two answer types are required, the ones Danish questions mark unambiguously:
quantities (hvor mange / hvor meget / beløb / koster) and times (hvornår / when). A value
the question itself states does not count: "Hvornår skulle rådmændene orienteres om
temamødet den 12. januar?" is not answered by a sentence whose only date is 12. januar.
Three narrower types are required too: a personal name ("Hvad hedder den nye driftschef?",
"Hvem er formand for Udsatterådet?"), a frequency ("Hvor ofte ...?" - "hvert 2. år") and a
place ("Hvor holdes konferencen?"). A count must count what the question counts: "Hvor mange
børn står på venteliste?" is not answered by "fem medarbejdere", nor by "Afsnit 7" or "i et
år". A person or organisation (hvem / who) only prefers a sentence, since its mark is softer.
"""

from __future__ import annotations

import re

from kommunesoeg.core.danish import MONTHS_DA

_QUANTITY_Q = re.compile(
    r"\b(hvor\s+(mange|meget|stort?|store|længe|lang|gamle?)|hvad\s+(koster|kostede|beløber)|"
    # "Hvad vil den elektroniske kommunikation ... koste Aarhus Kommune?"
    r"hvad\s+(?:vil|skal|kommer|kan|ville|skulle)\b[^?]{0,120}?\bkoste\b|"
    r"hvilken\s+alder|how\s+old|what\s+age|"
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
# "en", "et", "halv" and "dobbelt" are also articles and adjectives: they count only with
# a unit after them ("et år", "en halv mio."); "to", "tre", ... are numbers wherever they
# stand ("to funktionelt hjemløse veteraner").
_NUMBER_WORDS = re.compile(
    r"\b(?:(?:en|et|halv|halvdelen|dobbelt)\s+(?:mio|mia|kr|børn|personer|borgere|pladser|"
    r"timer|minutter|uger|måneder|år|gange)|to|tre|fire|fem|seks|syv|otte|ni|ti|elleve|tolv|"
    r"tretten|fjorten|femten|seksten|sytten|atten|nitten|tyve|tredive|fyrre|halvtreds|"
    r"tres|halvfjerds|firs|halvfems|hundrede|tusind)\b",
    re.IGNORECASE,
)
# A number that names a place in a text, not a quantity: "Afsnit 7", "punkt 4", "§ 110".
_REFERENCE = re.compile(
    r"(?i:\b(?:afsnit|punkt|pkt|bilag|side|nr|kapitel|stk|tabel|figur|linje)\.?|§+)\s*\d+"
    r"(?:[.,]\d+)*(?![\w])"
)
_TIME_UNITS = r"(?:år|årig\w*|måned\w*|uger?|ugers|dage?|døgn|timer?|minutter|min|gange)"
# A count of something that is no time ("hvor mange flygtninge") is not answered by a
# duration ("i et år", "i 2 måneder"); a count of time units is ("hvor mange år").
_DURATION = re.compile(rf"\b(?:\d+(?:[.,]\d+)?|en|et|to|tre|fire|fem|seks|syv|otte|ni|ti)\s+"
                       rf"{_TIME_UNITS}\b", re.IGNORECASE)
_TIME_COUNT_Q = re.compile(
    rf"\b(?:hvor\s+mange|how\s+many)\s+(?:\w+\s+)?(?:{_TIME_UNITS}|years?|months?|weeks?|days?|"
    r"hours?|minutes?|times)\b",
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
# "Hvor holdes konferencen?" asks a place: a sentence about the conference that names none
# does not answer it. "where" only as a question word ("Where is ...?"), not as the
# relative "the pilot, where GPs could ...".
_PLACE_Q = re.compile(
    r"\b(hvor\s+(holdes|holder|afholdes|ligger|foregår|skal\s+\w+\s+(holdes|placeres))|"
    r"hvilket\s+sted|where\s+(?:is|was|are|were|will|does|did|do|can|should)\b)\b",
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


# "Hvad hedder den nye driftschef?" asks a person's name: a sentence about the new
# driftschef that never names her does not answer it, however close in meaning.
_ROLE = (r"\w*(?:chef|direktør|leder|koordinator|konsulent|rådgiver|sagsbehandler|tovholder|"
         r"kontaktperson|medarbejder|manager|director|coordinator)(?:en|er|e)?|rådmand(?:en)?|"
         r"borgmester(?:en)?|formand(?:en)?|head|chair\w*|mayor|caseworker")
# "Hvem er formand for Udsatterådet?" asks who holds that role: the role holder's name, and
# the name must stand with the role ("Formand: ...", "... er formand"), not be any name near
# the subject - an item's "Ansvarlig: Eva Borchorst Mejnertz" is not the council's chair, and
# "formand og næstformand for Udsatterådet deltager" does not say who that is.
_ROLE_HOLDER = rf"\bhvem\s+(?:er|var|bliver)\s+(?:den\s+(?:nye\s+)?)?({_ROLE})\b"
_ROLE_HOLDER_Q = re.compile(_ROLE_HOLDER, re.IGNORECASE)
_NAME_Q = re.compile(
    rf"\b(?:(?:hvad\s+hedder|hvad\s+er\s+navnet\s+på|hvem\s+er\s+den\s+nye|"
    rf"what\s+is\s+the\s+name|what\s+was\s+the\s+name|who\s+is\s+the\s+new)\b[^?]{{0,40}}?"
    rf"\b(?:{_ROLE})\b|"
    # "Hvem er formand for Udsatterådet?" / "Who is the chair of ...?"
    rf"{_ROLE_HOLDER}|who\s+(?:is|was)\s+the\s+(?:{_ROLE})\b|"
    # "Hvem er blevet ansat som hjernerystelseskoordinator?": whoever the role, a hiring or
    # an appointment is answered by the person's name
    rf"hvem\s+(?:er|blev|bliver|skal)\s+(?:blevet\s+|være\s+)?(?:ansat|ansættes|udnævnt|"
    rf"udpeget|valgt|konstitueret|ny)\b|"
    rf"who\s+(?:was|has\s+been|is|will\s+be)\s+(?:appointed|hired|elected|named)\b)",
    re.IGNORECASE,
)
# A personal name: two or more capitalised words in a row ("Julie Hasselager", "Eva
# Borchorst Mejnertz"). The capitalised words of a department's, a municipality's or an
# institution's name are no person's ("Sociale Forhold og Beskæftigelse", "Aarhus Kommune",
# "Velfærdsteknologiens Hus"), and a hiring question is not answered by them.
_NAME = re.compile(r"\b[A-ZÆØÅ][a-zæøå]+(?:\s+[A-ZÆØÅ][a-zæøå-]+)+\b")
_NOT_NAME_WORDS = frozenset((
    "aarhus", "kommune", "kommunes", "region", "regionen", "sociale", "forhold", "beskæftigelse",
    "sundhed", "omsorg", "børn", "unge", "kultur", "borgerservice", "teknik", "miljø",
    "borgmesterens", "afdeling", "magistratsafdeling", "udvalg", "udvalget", "byråd", "byrådet",
    "hus", "huset", "center", "centret", "centre", "skole", "skolen", "universitet",
    "universitetshospital", "hospital", "danmark", "danske", "midtjylland", "styrelsen",
    "ministeriet", "rådhus", "rådhuset", "vilkår", "fonden", "fond", "forening", "foreningen",
    # a table's cells and a form's labels start with capitals too: "13 Besparelser Fra
    # forligstekst", "Status Næste"
    "fra", "til", "status", "næste", "bilag", "punkt", "notat", "indstilling", "resume",
    "beslutning", "sag", "emne", "dato", "tid", "afsluttes", "opfølgning", "kopi",
))


def _names_person(sentence: str, question: str = "") -> bool:
    holder = _ROLE_HOLDER_Q.search(question)
    if holder and _bare(holder.group(1).casefold())[:PREFIX_CHARS + 2] not in sentence.casefold():
        return False
    return any(not {w.casefold() for w in m.group(0).split()} & _NOT_NAME_WORDS
               for m in _NAME.finditer(sentence))


# "Hvor ofte skal der laves en status?" asks a frequency: "hvert 2. år", "årligt", "to gange
# om året", "kvartalsvis".
_FREQUENCY_Q = re.compile(r"\b(hvor\s+ofte|hvor\s+tit|how\s+often)\b", re.IGNORECASE)
_FREQUENCY = re.compile(
    r"\b(hver[t]?\s+(?:\d+\.\s*|andet\s+|tredje\s+|anden\s+)?(?:år|måned|uge|dag|kvartal|halve\s+år)|"
    r"årlig\w*|månedlig\w*|ugentlig\w*|daglig\w*|kvartalsvis\w*|halvårlig\w*|løbende|"
    r"gange?\s+(?:om|pr\.?|per|i)\s+(?:året|måneden|ugen|kvartalet|år|måned|uge)|"
    r"(?:om|pr\.?|per)\s+(?:året|måneden|ugen|kvartal))\b",
    re.IGNORECASE,
)

_ASKS = (("name", _NAME_Q), ("frequency", _FREQUENCY_Q), ("quantity", _QUANTITY_Q),
         ("time", _TIME_Q), ("person", _PERSON_Q), ("place", _PLACE_Q))


def asked_types(question: str) -> tuple[str, ...]:
    """Every answer type the question asks, most telling first: "Hvornår og hvor holder
    udvalget møde?" asks a time and a place."""
    return tuple(kind for kind, asks in _ASKS if asks.search(question))


def expected_type(question: str) -> str | None:
    """"name", "frequency", "quantity", "time", "person", "place" or None (any sentence
    may answer)."""
    kinds = asked_types(question)
    return kinds[0] if kinds else None


# a sentence without one cannot answer
REQUIRED_TYPES = ("name", "frequency", "quantity", "time", "place")
SOFT_TYPES = ("person",)  # a sentence with one is preferred


# Money asked ("hvor mange penge", "beløb", "koster") must be answered with money; a count
# ("hvor mange børn") must not be answered with an amount of money.
_MONEY_Q = re.compile(
    r"\b(penge|beløb\w*|kost(er|ede|e)|pris\w*|kroner|kr|budget\w*|bevilg\w*|afsat|"
    r"betal\w*|\w*leje(?:n|t)?|gebyr\w*|takst\w*|udgift\w*|"
    r"money|cost\w*|price|funding|grant\w*|budget|pay\w*|paid|rent|fees?)\b",
    re.IGNORECASE,
)
# ... unless the question asks how much time: "hvor lang tid er afsat" is a duration.
_DURATION_Q = re.compile(r"\b(hvor\s+lang\s+tid|hvor\s+længe|tid\s+(er\s+)?afsat|how\s+long)\b",
                         re.IGNORECASE)
_MONEY = re.compile(r"\b(kr\.?|kroner|mio\.?|mia\.?|millioner|milliarder|DKK|EUR)(?!\w)",
                    re.IGNORECASE)
_COUNT_Q = re.compile(r"\b(hvor\s+mange|antal(let)?|how\s+many)\b", re.IGNORECASE)


# What "hvor mange" counts: the words after it that are not verbs or function words
# ("hvor mange ukrainske flygtninge har ..." counts flygtninge; "hvor mange drejer det sig
# om" names nothing).
_COUNTED = re.compile(r"\bhvor\s+mange\s+(?:af\s+)?(\w+)(?:\s+(\w+))?", re.IGNORECASE)
_NOT_COUNTED = frozenset((
    "af", "de", "det", "den", "der", "dem", "om", "i", "på", "til", "er", "var", "har", "havde",
    "skal", "skulle", "kan", "kunne", "vil", "ville", "bliver", "blev", "står", "stod",
    "drejer", "findes", "fandtes", "gange", "får", "fik", "kommer", "kom", "deltog",
    "deltager", "sidder", "bor", "ligger", "består", "bestod",
    # people in general: the documents count them as borgere, personer, deltagere, ...
    "mennesker", "folk",
))
PREFIX_CHARS = 5  # "centrene" / "centre", "lokaldistrikter" / "lokaldistrikt"
COUNTED_WITHIN = 4  # words from the number to what it counts ("to funktionelt hjemløse veteraner")


def _counted_words(question: str) -> list[str]:
    """The words of what a Danish count question counts, or [] when it names nothing."""
    found = _COUNTED.search(question)
    if found is None:
        return []
    words = []
    for word in (w for w in found.groups() if w):
        if word.casefold() in _NOT_COUNTED:
            break
        words.append(word.casefold())
    return words


def _bare(word: str) -> str:
    """A counted noun without its plural or definite ending, so that its compounds count it:
    "dele" / "tre delindsatser", "grupper" / "tre arbejdsgrupper"."""
    for ending in ("erne", "ene", "er", "e"):
        if word.endswith(ending) and len(word) - len(ending) >= 3:
            return word[: -len(ending)]
    return word


def _counts(body: str, number: re.Match[str], counted: list[str]) -> bool:
    """Whether the number at `number` counts one of `counted` (a word with that prefix
    stands in one of the `COUNTED_WITHIN` words after it, also inside a compound:
    "1.400 tidligere udsendte soldaterveteraner"); any number does when nothing is named."""
    if not counted:
        return True
    # a number word's match may hold its unit already ("et år")
    after = (re.findall(r"\w+", number.group(0))[1:]
             + re.findall(r"\w+", body[number.end():]))[:COUNTED_WITHIN]
    return any(prefix in word.casefold() for word in after for prefix in counted)


def _has_quantity(sentence: str, question: str) -> bool:
    counted = _counted_words(question)
    # "hvor mange punkter ... i budgetopfølgningen" counts items, whatever money word follows
    money_q = (bool(_MONEY_Q.search(question)) and not _DURATION_Q.search(question)
               and not (counted and not any(_MONEY_Q.match(w) for w in counted)))
    if money_q and not _MONEY.search(sentence):
        return False
    if not money_q and _COUNT_Q.search(question) and _MONEY.search(sentence):
        return False  # "hvor mange børn" is not answered by "1,5 mio. kr."
    body = _TIME.sub(" ", _LIST_MARKER.sub("", sentence, count=1))  # "15. marts" is a date
    body = _REFERENCE.sub(" ", body)
    if _COUNT_Q.search(question) and not _TIME_COUNT_Q.search(question):
        body = _DURATION.sub(" ", body)
    # "hvor mange børn" is not answered by "fem medarbejdere"
    counted = [] if money_q else [_bare(w)[:PREFIX_CHARS] for w in counted]
    if any(_counts(body, m, counted) for m in _NUMBER_WORDS.finditer(body)):
        return True
    asked = {m.group(0) for m in _NUMBER.finditer(question)}
    for match in _NUMBER.finditer(body):
        number = match.group(0)
        if re.fullmatch(r"(19|20)\d\d", number) or number in asked:
            continue  # a year is a time, not an amount; a number the question states is no answer
        if _counts(body, match, counted):
            return True
    return False


# "Hvornår sender familielægen et brev til kommunen?" asks in which situation, not on
# which date: "Korrespondancebrevet ... anvendes, når man som læge står med et barn, der ..."
# answers it. A habitual present-tense verb after "hvornår" says so; a scheduling verb
# ("hvornår starter / holdes / træder ... i kraft") and a modal ("hvornår skal ...") ask a date.
_SITUATION_Q = re.compile(
    r"\bhvornår\s+(?!(?:starter|begynder|slutter|afsluttes|holdes|holder|mødes|åbner|lukker|"
    r"træder|udløber|gælder|sker|finder|foregår|forventes|er|bliver|kommer|skal|kan|vil|må|"
    r"bør|kører|udkommer|offentliggøres|behandles|besluttes|vedtages|godkendes)\b)\w+(?:er|es)\b",
    re.IGNORECASE,
)
_SITUATION = re.compile(r"\b(?:når|hvis|såfremt|i\s+tilfælde\s+af)\b", re.IGNORECASE)


def _has_time(sentence: str, question: str) -> bool:
    if _SITUATION_Q.search(question) and _SITUATION.search(sentence):
        return True
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
    if kind == "frequency":
        return bool(_FREQUENCY.search(sentence))
    if kind == "name":
        return _names_person(sentence, question)
    if kind == "person":
        return bool(_PERSON.search(sentence))
    if kind == "place":
        return bool(_PLACE.search(sentence))
    return True


# Agenda-form fields whose label says what they state. "Mødetid: Kl. 18.15 – 20.00" is the
# answer to "hvornår holder udvalget møde?" however little its few words share in meaning
# with the question; "Tid: 19.05 – 19.30 (25 min.)" answers "hvor lang tid er der sat af?".
_PERSON_LABELS = ("deltagere", "deltager", "ansvarlig", "sagsbehandler", "mødeleder", "referent")
_LABELS = {
    "time": ("mødetid", "mødedato", "dato", "tid", "tidspunkt", "frist"),
    "place": ("mødested", "sted", "lokale", "adresse"),
    "person": _PERSON_LABELS,
    "quantity": ("tid",),  # for a duration only ("hvor lang tid")
    "name": _PERSON_LABELS,
    "frequency": (),
}
_LABEL = re.compile(r"^([A-ZÆØÅ][\wæøå]{1,15}):\s+\S")
# The words that name a field in a question, besides the label's own prefix: "Who took
# part?" names "Deltagere:", not "Ansvarlig:". A person field answers only a question that
# names it - "hvem" alone fits every person on a form.
_LABEL_NAMED_BY = {
    "ansvarlig": ("responsible", "står for", "ansvar"),
    "deltagere": ("deltog", "deltage", "var med", "took part", "attend", "participa"),
    "deltager": ("deltog", "deltage", "var med", "took part", "attend", "participa"),
    "sagsbehandler": ("caseworker", "case officer", "case handler"),
    "referent": ("minutes-taker", "minute taker", "referat"),
    "mødeleder": ("chair", "leder mødet", "ledede mødet"),
}


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
            if _names_label(name, question):
                return 2
            if kind not in ("person", "name"):
                return 1
    return 0


def names_field(unit: str, question: str) -> bool:
    """Whether `unit` is a field ("Sagsbehandler: Mette Schmidt Laursen") whose label the
    question names ("Hvem er sagsbehandler på sagen?")."""
    label = re.match(r"^([A-ZÆØÅ][\wæøå -]{1,20}?)\.?:", unit)
    return label is not None and _names_label(label.group(1).casefold(), question)


def _names_label(name: str, question: str) -> bool:
    """Whether the question names the field `name` ("ansvarlig" in "Hvem er ansvarlig for
    punktet?", "took part" for "deltagere")."""
    asked = question.casefold()
    words = re.findall(r"\w{4,}", asked)
    # "sagsbehandlere" names "Sagsbehandler:"; a short label only as a whole word ("tid" is
    # not named by "tidligere")
    return (any(name.startswith(word) or len(name) >= 6 and word.startswith(name)
                for word in words)
            or any(alias in asked for alias in _LABEL_NAMED_BY.get(name, ())))
