"""Answer types: a "how much" question is refused when the passages never state an amount.

Quick tests of `expected_type` and `holds_answer_type` (required types quantity and time,
soft types person and place; values the question states itself; dates are no quantities;
money asked needs money, a count must not be answered with money), then the sample index.
"""

from __future__ import annotations

import pytest

from retriever.answer import NO_ANSWER
from retriever.answertype import (
    REQUIRED_TYPES,
    SOFT_TYPES,
    asked_types,
    expected_type,
    holds_answer_type,
    labelled_answer,
    names_field,
)

pytest_plugins = ["fixtures_index"]


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("Hvor mange penge er der i 2023 afsat til videreuddannelse?", "quantity"),
        ("Hvad koster SFO-madordningen pr. måned i 2023?", "quantity"),
        ("Hvor længe varer videosamtalerne?", "quantity"),
        ("How much was granted?", "quantity"),
        ("Hvornår blev planen endeligt vedtaget?", "time"),
        ("When is the first follow-up expected?", "time"),
        ("Fra hvilken dato gjaldt den tidligere beslutning?", "time"),
        ("I hvilket år skal projektet evalueres?", "time"),
        ("Hvilken måned forventes sagen i byrådet?", "time"),
        ("Which year was the plan adopted?", "time"),
        ("Hvilken dagsorden blev godkendt?", None),  # "dag" inside a word is no time
        ("Hvad blev besluttet om Opgang til Opgang?", None),
    ],
)
def test_expected_type(question, kind):
    assert expected_type(question) == kind


@pytest.mark.parametrize(
    ("sentence", "kind", "holds"),
    [
        ("Omstillingsplanen udgjorde et beløb på 16 mio. kr. i 2023.", "quantity", True),
        ("Der er afsat 3.600 kr. pr. deltager.", "quantity", True),
        ("(30 minutters varighed pr. møde)", "quantity", True),
        ("1. Drøfter og giver mandat til en ansøgning til Klimafonden.", "quantity", False),
        ("Projektet forventes afsluttet i 2023.", "quantity", False),
        ("Planen blev endelig vedtaget den 1. februar.", "time", True),
        ("Mødet holdes kl. 18.15 på Rådhuset.", "time", True),
        ("Rådmanden godkendte indstillingen.", "time", False),
    ],
)
def test_holds_answer_type(sentence, kind, holds):
    assert holds_answer_type(sentence, kind) is holds


# ----------------------------------------------------------------------------- the kinds
@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("Hvem er ansvarlig for indledende drøftelse af Budget 24?", "person"),
        ("Hvilke personer deltog i mødet?", "person"),
        ("Who is responsible for the budget talks?", "person"),
        ("To whom was the application sent?", "person"),
        ("Hvor holdes Social- og Beskæftigelsesudvalgets møde?", "place"),
        ("Hvor afholdes temamødet?", "place"),
        ("Hvor ligger den nye daginstitution?", "place"),
        ("Where is the meeting held?", "place"),
        ("Hvornår holder udvalget møde?", "time"),
        ("Hvor mange pladser er der i Tilst?", "quantity"),
        # a required type wins over a soft one asked in the same question
        ("Hvem fik hvor mange penge?", "quantity"),
        ("Hvornår og hvor holdes mødet?", "time"),
        ("Hvad er status på Opgang til Opgang?", None),
        ("Hvor er vi nu?", None),  # "hvor" alone asks for no place
    ],
)
def test_expected_type_person_and_place(question, kind):
    assert expected_type(question) == kind


def test_quantity_time_frequency_name_and_place_are_required_person_soft():
    assert set(REQUIRED_TYPES) == {"name", "frequency", "quantity", "time", "place"}
    assert set(SOFT_TYPES) == {"person"}


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("Where is the conference held?", "place"),
        # "where" as a relative pronoun asks for no place
        ("What did the pilot, where GPs could write to the municipality, show?", None),
        ("Hvor skal medarbejderne sidde?", None),
    ],
)
def test_where_asks_a_place_only_as_a_question_word(question, kind):
    assert expected_type(question) == kind


def test_who_holds_a_role_is_answered_by_a_name_beside_that_role():
    question = "Hvem er formand for Udsatterådet i Aarhus Kommune?"
    assert expected_type(question) == "name"
    assert holds_answer_type("Formand: Jens Peter Hansen", "name", question)
    assert holds_answer_type("Jens Peter Hansen er formand for rådet.", "name", question)
    # a name, but of another role; the role, but no name
    assert not holds_answer_type("Ansvarlig: Eva Borchorst Mejnertz", "name", question)
    assert not holds_answer_type("På mødet deltager formand og næstformand for Udsatterådet.",
                                 "name", question)
    sagsbehandler = "Hvem er sagsbehandler på indstillingen?"
    assert holds_answer_type("Sagsbehandler: Mads Bundgaard", "name", sagsbehandler)


# ----------------------------------------------------------------------------- the question's own values
TEMA_Q = "Hvornår skulle rådmændene orienteres om temamødet den 12. januar?"


@pytest.mark.parametrize(
    ("sentence", "holds"),
    [
        ("Temamødet holdes den 12. januar.", False),  # only the date the question states
        ("Temamødet holdes den 12.  januar på Rådhuset.", False),  # spacing does not matter
        ("Rådmændene orienteres den 5. januar om temamødet den 12. januar.", True),
        ("Rådmændene orienteres om temamødet i uge 1.", True),
        ("Rådmændene orienteres om temamødet.", False),
    ],
)
def test_a_date_the_question_states_is_no_answer(sentence, holds):
    assert holds_answer_type(sentence, "time", TEMA_Q) is holds


def test_the_questions_date_with_its_year_is_no_answer():
    assert not holds_answer_type("Temamødet holdes den 12. januar 2023.", "time", TEMA_Q)


def test_a_stated_date_counts_for_a_question_without_it():
    assert holds_answer_type("Temamødet holdes den 12. januar.", "time",
                             "Hvornår holdes temamødet?")


@pytest.mark.parametrize(
    ("sentence", "holds"),
    [
        ("Der er børn i alle 12 institutioner.", False),  # 12 is the question's number
        ("Der er 340 børn i alle 12 institutioner.", True),
        ("Der er tyve børn på ventelisten.", True),  # a number word counts
    ],
)
def test_a_number_the_question_states_is_no_answer(sentence, holds):
    question = "Hvor mange børn går i de 12 institutioner?"
    assert holds_answer_type(sentence, "quantity", question) is holds


# ----------------------------------------------------------------------------- dates are no quantities
@pytest.mark.parametrize(
    "sentence",
    [
        "2. Referat fra udvalgets møde den 15. marts 2023",
        "Referat fra udvalgets møde den 15. marts 2023",
        "Mødet blev holdt den 15.03.2023.",
        "Mødet blev holdt den 15/3-2023.",
        "Projektet forventes afsluttet i 2023.",
        "Sagen forelægges igen ultimo 2024.",
    ],
)
def test_dates_are_not_quantities(sentence):
    assert not holds_answer_type(sentence, "quantity", "Hvor mange deltog i mødet?")
    assert not holds_answer_type(sentence, "quantity")


@pytest.mark.parametrize(
    "sentence",
    ["Mødetid: Kl. 18.15 – 20.00", "Sagen forelægges i uge 12.",
     "Sagen forelægges i 3. kvartal 2023."],
)
def test_clock_times_and_weeks_are_not_quantities(sentence):
    assert not holds_answer_type(sentence, "quantity", "Hvor mange deltog i mødet?")


def test_short_clock_times_and_weeks_are_not_quantities():
    for sentence in ("Mødet starter kl. 9.", "Sagen forelægges i uge 5."):
        assert not holds_answer_type(sentence, "quantity", "Hvor mange deltog i mødet?")


def test_a_number_beside_a_date_is_a_quantity():
    sentence = "Den 15. marts 2023 deltog 42 borgere i mødet."
    assert holds_answer_type(sentence, "quantity", "Hvor mange borgere deltog i mødet?")


# ----------------------------------------------------------------------------- money and counts
MONEY_QUESTIONS = [
    "Hvor mange penge er der afsat til videreuddannelse?",
    "Hvor stort er beløbet til projektet?",
    "Hvad koster SFO-madordningen pr. måned?",
    "Hvor meget er der bevilget til klimamad?",
    "How much funding was granted?",
]


@pytest.mark.parametrize("question", MONEY_QUESTIONS)
@pytest.mark.parametrize(
    "sentence",
    [
        "Der er afsat 3.600 kr. pr. deltager.",
        "Der er afsat 1,4 mio. kr. i 2023.",
        "Der er afsat 1,5 mio. til projektet.",
        "Rammen er på 2 mia. over fire år.",
        "Der er afsat 200.000 DKK til projektet.",
        "Der er afsat 200.000 kroner til projektet.",
        "Der er afsat to mio. kr. til projektet.",
    ],
)
def test_a_money_question_is_answered_by_money(question, sentence):
    assert expected_type(question) == "quantity"
    assert holds_answer_type(sentence, "quantity", question)


@pytest.mark.parametrize("question", MONEY_QUESTIONS)
@pytest.mark.parametrize(
    "sentence",
    [
        "Der deltager 40 personer i forløbet.",
        "Forløbet varer 30 minutter pr. møde.",
        "Beløbet er endnu ikke fastlagt.",
        "Der er afsat millioner af kroner til projektet.",  # money, but no amount
    ],
)
def test_a_money_question_is_not_answered_without_an_amount_of_money(question, sentence):
    assert not holds_answer_type(sentence, "quantity", question)


@pytest.mark.parametrize(
    "question",
    ["Hvor mange børn er der på venteliste?", "Hvad er antallet af pladser?",
     "How many children are on the waiting list?"],
)
def test_a_count_is_not_answered_by_an_amount_of_money(question):
    assert not holds_answer_type("Der er afsat 1,5 mio. kr. til ventelisten.", "quantity",
                                 question)
    assert holds_answer_type("Der står 120 børn på ventelisten.", "quantity", question)


@pytest.mark.parametrize(
    "question", ["Hvor lang tid er afsat til punktet?", "Hvor længe varer punktet?",
                 "How long is set aside for the item?"],
)
def test_time_set_aside_is_a_duration_not_money(question):
    """"afsat" names money only when the question is not about time."""
    assert expected_type(question) == "quantity"
    assert holds_answer_type("Tid: 18.35 – 19.05 (30 min.)", "quantity", question)
    assert not holds_answer_type("Tid: kl. 18.35 – 19.05", "quantity", question)


def test_a_measure_that_is_no_count_may_be_money():
    # "hvor meget" without a money word: any amount answers
    question = "Hvor meget bruger kommunen på kørsel?"
    assert holds_answer_type("Kommunen bruger 2,3 mio. kr. på kørsel.", "quantity", question)
    assert holds_answer_type("Kommunen kører 12.000 km om året.", "quantity", question)


# ----------------------------------------------------------------------------- person and place
@pytest.mark.parametrize(
    ("sentence", "holds"),
    [
        ("Ansvarlig: Anders Winnerskjold", True),
        ("Ansvarlig: BA", True),
        ("Deltagere: Ann Olivia Keblovszki og Mia Lund Kristensen", True),
        ("Sagen følges op af Vibeke Jensen.", True),
        ("OKJ følger op på sagen.", True),
        ("Indstillingen blev godkendt af rådmanden.", True),
        ("Mødet ledes af direktøren.", True),
        ("Projektet forløber planmæssigt.", False),
        ("Budgettet blev godkendt.", False),
    ],
)
def test_a_sentence_naming_a_person(sentence, holds):
    assert holds_answer_type(sentence, "person", "Hvem er ansvarlig?") is holds


@pytest.mark.parametrize(
    "sentence", ["Rådmanden godkendte indstillingen.", "Borgmesteren åbnede mødet."]
)
def test_a_role_at_the_start_of_a_sentence_names_a_person(sentence):
    assert holds_answer_type(sentence, "person", "Hvem godkendte indstillingen?")


@pytest.mark.parametrize(
    ("sentence", "holds"),
    [
        ("Mødested: Rådhuset, lokale 398", True),
        ("Mødet holdes på Rådhuset.", True),
        ("Mødet holdes i lokale 398.", True),
        ("Mødet holdes på Randersvej 12.", True),
        ("Mødet holdes i Kulturhuset.", True),
        ("Temamødet holdes i Gellerup.", True),
        ("Mødet holdes senere på året.", False),
        ("Udvalget drøftede sagen.", False),
    ],
)
def test_a_sentence_naming_a_place(sentence, holds):
    assert holds_answer_type(sentence, "place", "Hvor holdes mødet?") is holds


def test_no_kind_accepts_any_sentence():
    assert holds_answer_type("Udvalget drøftede sagen.", None, "Hvad skete der?")
    assert holds_answer_type("", None)


@pytest.fixture(scope="module")
def searcher(sample_index):
    from retriever.search import Searcher

    return Searcher(sample_index)


def test_subject_present_but_amount_absent_is_refused(searcher):
    # The minutes decide to apply to the Klimafond; no document states a granted amount.
    answer = searcher.ask(
        "Hvor stort et beløb har Klimafonden bevilget til projektet "
        "'Klimavenlig mad, som børn kan lide og vælger til'?"
    )
    assert answer.insufficient_evidence and answer.answer.startswith(NO_ANSWER)
    assert answer.citations  # the nearest passages are still shown


def test_amount_question_with_an_answer_quotes_the_amount(searcher):
    answer = searcher.ask(
        "Hvor mange penge er der i 2023 afsat til videreuddannelse af social- og "
        "sundhedshjælpere?"
    )
    assert not answer.insufficient_evidence
    assert any(holds_answer_type(s.text, "quantity") for s in answer.sentences)


# ----------------------------------------------------------------------------- form fields
def test_a_question_may_ask_two_types():
    question = "Hvornår og hvor holder Social- og Beskæftigelsesudvalget møde den 29. marts 2023?"
    assert asked_types(question) == ("time", "place")
    assert expected_type(question) == "time"


@pytest.mark.parametrize(
    ("unit", "question", "strength"),
    [
        # the label names what is asked of: the meeting's time, the responsible person
        ("Mødetid: Kl. 18.15 – 20.00", "Hvornår holder udvalget møde?", 2),
        ("Mødested: Rådhuset, lokale 398", "Hvornår og hvor holder udvalget møde?", 2),
        ("Ansvarlig: Michael Justesen", "Hvem er ansvarlig for punktet om regnskab 2022?", 2),
        # only the type fits: a duration is a time field
        ("Tid: 19.05 – 19.30 (25 min.)", "Hvor lang tid er der sat af til UC Gadeplan?", 1),
        ("Deltagere: Mette Søberg og Peter Kessel Overgaard", "Hvem var med på mødet?", 2),
        ("Deltagere: Mette Søberg og Peter Kessel Overgaard", "Who took part in the meeting?",
         2),
        # "hvem / who" alone fits every person field of a form: only the field it names
        ("Ansvarlig: Eva Borchorst Mejnertz", "Who took part in the meeting?", 0),
        ("Sagsbehandler: Sofie Brøndt Jørgensen", "Hvem deltog i temamødet?", 0),
        # a field of another type, a value-less field, or prose is no labelled answer
        ("Tid: 19.05 – 19.30 (25 min.)", "Hvor mange penge koster projektet?", 0),
        ("Ansvarlig: Michael Justesen", "Hvornår holder udvalget møde?", 0),
        ("Mødetid: efter aftale", "Hvornår holder udvalget møde?", 0),
        ("Udvalget holder møde kl. 18.15 på Rådhuset.", "Hvornår holder udvalget møde?", 0),
    ],
)
def test_labelled_answer(unit, question, strength):
    assert labelled_answer(unit, question) == strength


# ----------------------------------------------------------------------------- near misses
@pytest.mark.parametrize(
    ("sentence", "question", "holds"),
    [
        # a section, item or paragraph number is a place in a text, not a quantity
        ("Afsnit 7 skal rettes til.", "Hvor mange år løber aftalen?", False),
        ("Borgeren visiteres efter § 110 i serviceloven.", "Hvor mange pladser er der?", False),
        ("Aftalen løber i 3 år.", "Hvor mange år løber aftalen?", True),
        # a duration does not count people; it does count years
        ("Situationen har nu pågået i et år.", "Hvor mange flygtninge kan rummes?", False),
        ("Situationen har nu pågået i 2 måneder.", "Hvor mange flygtninge kan rummes?", False),
        ("Situationen har nu pågået i et år.", "Hvor mange år har situationen pågået?", True),
        # a number word counts wherever it stands; an article does not
        ("To funktionelt hjemløse veteraner sover i trappeopgange.",
         "Hvor mange veteraner sover i trappeopgange?", True),
        ("En gruppe veteraner sover i trappeopgange.",
         "Hvor mange veteraner sover i trappeopgange?", False),
    ],
)
def test_what_counts_as_a_quantity(sentence, question, holds):
    assert holds_answer_type(sentence, "quantity", question) is holds


def test_asking_for_a_name_needs_a_name():
    question = "Hvad hedder den nye driftschef for Unge, Job og Uddannelse?"
    assert expected_type(question) == "name"
    assert not holds_answer_type(
        "Rådmanden ønsker at mødes med den nye driftschef for Unge, Job og Uddannelse.",
        "name", question)
    assert holds_answer_type("Den nye driftschef er Julie Hasselager.", "name", question)
    assert expected_type("Hvem er ansvarlig for punktet?") == "person"


@pytest.mark.parametrize(
    ("sentence", "holds"),
    [
        ("Der udarbejdes en administrativ status på samarbejdet hvert 2. år.", True),
        ("Udvalget mødes to gange om året.", True),
        ("Status forelægges årligt for rådmanden.", True),
        ("Der udarbejdes en administrativ status på samarbejdet.", False),
        ("Status blev forelagt den 12. januar 2023.", False),
    ],
)
def test_how_often_is_answered_by_a_frequency(sentence, holds):
    question = "Hvor ofte skal der laves en status på samarbejdsaftalen?"
    assert expected_type(question) == "frequency"
    assert holds_answer_type(sentence, "frequency", question) is holds


def test_a_count_of_items_is_no_money_question():
    question = ("Hvor mange punkter blev der fulgt op på i budgetopfølgningen efter 4. kvartal "
                "2022?")
    assert holds_answer_type("For 4. kvartal er der fulgt op på i alt 16 punkter.", "quantity",
                             question)


@pytest.mark.parametrize(
    "question",
    ["Hvem er blevet ansat som ny økonomidirektør i Aarhus Kommune?",
     "Who was appointed as the new finance director?"],
)
def test_who_was_appointed_asks_a_name(question):
    assert expected_type(question) == "name"
    assert not holds_answer_type("Ansættelse af ny økonomidirektør", "name", question)


def test_how_old_asks_a_number():
    question = "Hvor gamle skal de unge være for at få et stress- og angstforløb?"
    assert expected_type(question) == "quantity"
    assert holds_answer_type("Stress- og angstforløb til unge fra 15 år.", "quantity", question)
    assert not holds_answer_type("Stress- og angstforløb til unge.", "quantity", question)


@pytest.mark.parametrize(
    "question",
    ["Hvor meget skal veteranerne betale i husleje for at bo på planteskolen?",
     "Hvad vil den elektroniske kommunikation med lægerne koste kommunen?",
     "How much rent do the veterans pay?"],
)
def test_rent_and_what_a_thing_will_cost_are_money_questions(question):
    assert expected_type(question) == "quantity"
    assert holds_answer_type("Huslejen er 2.500 kr. om måneden.", "quantity", question)
    # the subject's count is no price ("to funktionelt hjemløse veteraner")
    assert not holds_answer_type(
        "Julie Hasselager oplyser, at to funktionelt hjemløse veteraner sover i trappeopgange.",
        "quantity", question)


@pytest.mark.parametrize(
    "question",
    ["Hvem er blevet ansat som hjernerystelseskoordinator?", "Hvem blev udpeget?",
     "Who has been hired as the new coordinator?"],
)
def test_a_hiring_asks_a_persons_name_whatever_the_role(question):
    assert expected_type(question) == "name"
    assert holds_answer_type("Som koordinator er ansat Mette Nielsen.", "name", question)


@pytest.mark.parametrize(
    "sentence",
    [("Hjernerystelseskoordinatoren ansættes i Sundhed og Omsorg og finansieres af Sociale "
      "Forhold og Beskæftigelse."),
     "Projektet ligger i Velfærdsteknologiens Hus ved Aarhus Kommune.",
     "Afsluttes 13 Besparelser Fra forligstekst: Forligsparterne er enige."],
)
def test_departments_institutions_and_table_cells_are_no_personal_names(sentence):
    assert not holds_answer_type(sentence, "name", "Hvem er blevet ansat som koordinator?")


def test_a_counted_noun_counts_in_its_compounds():
    question = "Hvor mange dele består samarbejdsaftalen af?"
    assert holds_answer_type("Samarbejdsaftalen består af tre delindsatser:", "quantity",
                             question)
    assert not holds_answer_type("Aftalen gælder for 19 kommuner.", "quantity", question)


@pytest.mark.parametrize(
    ("question", "holds"),
    [
        # in which situation: a "når" clause answers
        ("Hvornår sender lægen et korrespondancebrev til kommunen?", True),
        ("Hvornår anvendes korrespondancebrevet?", True),
        # on which date: it does not
        ("Hvornår starter samarbejdet?", False),
        ("Hvornår skal lægen sende brevet?", False),
    ],
)
def test_when_may_ask_in_which_situation(question, holds):
    sentence = ("Korrespondancebrevet anvendes, når man som læge står med et barn, der udviser "
                "symptomer på lettere psykiske udfordringer.")
    assert expected_type(question) == "time"
    assert holds_answer_type(sentence, "time", question) is holds


def test_a_plural_names_its_field_but_a_longer_word_does_not_name_a_short_label():
    assert names_field("Sagsbehandler: Anne Marie Frederiksen", "Hvem er sagsbehandlere på sagen?")
    assert not names_field("Tid: 10 min.", "Hvad skete der tidligere?")
