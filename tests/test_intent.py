"""Which questions ask what was decided (retriever/intent.py): those are answered by the
minutes' decision; questions for a fact (a time, a number, a person) are not."""

from __future__ import annotations

import pytest

from retriever.intent import asks_the_minutes, is_decision_question, question_parts


@pytest.mark.parametrize(
    "question",
    [
        # what was decided, agreed, approved
        "Hvad blev besluttet om Opgang til Opgang?",
        "Hvad besluttede rådmændene om pasningsgarantien?",
        "Blev planen vedtaget?",
        "Hvad vedtog byrådet om budgettet?",
        "Hvad blev aftalt om klimamad?",
        "Blev indstillingen godkendt?",
        "Hvad var udfaldet af sagen om Aarhus Skills?",
        "Hvad konkluderede udvalget?",
        # issue 11: said yes / no, came to, what happened under the item
        "Sagde rådmanden ja til forslaget om videreuddannelse?",
        "Sagde rådmanden nej til ansøgningen?",
        "Sagde rådmandskredsen ja til Opgang til Opgang?",
        "Har rådmanden sagt ja til planen?",
        "Hvad kom rådmandskredsen frem til om Opgang til Opgang?",
        "Hvad kom de frem til?",
        "Hvad skete der under punktet om sygedagpenge regres?",
        "Hvad skete der på punktet om Aarhus Skills?",
        "Hvad skete der med ansøgningen til Klimafonden?",
        # permission given: "fik lov til", "gav grønt lys", "fik mandat"
        "Fik Børn og Unge lov til at søge kommunens klimapenge?",
        "Hvad gav rådmændene grønt lys til efter fællesmødet?",
        "Fik forvaltningen mandat til at gå videre?",
        # English
        "What was decided about Opgang til Opgang?",
        "What happened to the application to the climate fund?",
        "What happened under the item on Aarhus Skills?",
        "Did they approve the plan?",
        "Was the proposal approved?",
        "Was the budget agreed?",
        "What was the outcome of the case?",
    ],
)
def test_decision_questions(question):
    assert is_decision_question(question)


@pytest.mark.parametrize(
    "question",
    [
        "Hvornår holder udvalget møde?",
        "Hvor mange pladser er der i den nye daginstitution?",
        "Hvor mange penge er der i 2023 afsat til videreuddannelse?",
        "Hvem er ansvarlig for indledende drøftelse af Budget 24?",
        "Hvor holdes mødet i Social- og Beskæftigelsesudvalget?",
        "Hvad koster SFO-madordningen pr. måned?",
        "Hvad sagde rådmanden om budgettet?",  # said, but neither yes nor no
        "Hvad er status på Opgang til Opgang?",
        "Hvad skete der?",  # no item named: no "under/på/med"
        "Hvilke kurser og konferencer er på vej?",
        "When is the next meeting?",
        "How many children are on the waiting list?",
        "Who is responsible for the budget?",
        "",
    ],
)
def test_fact_questions_are_not_decision_questions(question):
    assert not is_decision_question(question)


def test_words_are_matched_whole():
    # "ja" and "nej" are words, not parts of words
    assert not is_decision_question("Sagde rådmanden noget om Jakobsen?")
    assert not is_decision_question("Hvad sagde direktøren om nejsigerne i byrådet?")
    assert is_decision_question("Sagde direktøren nej?")


def test_case_does_not_matter():
    assert is_decision_question("HVAD BLEV BESLUTTET OM BUDGETTET?")
    assert is_decision_question("what HAPPENED at the meeting?")


@pytest.mark.parametrize(
    "question",
    [
        "Skal kvalitetsrapporten indeholde data om normeringer?",
        "Skulle titlen på rapporten ændres?",
        "Må skolerne selv bruge de frivillige test?",
        "Should the report include staffing data?",
    ],
)
def test_whether_something_shall_be_done_asks_the_minutes(question):
    assert asks_the_minutes(question)


@pytest.mark.parametrize(
    "question",
    ["Hvornår er der møde?", "Hvem skal deltage i mødet?", "Hvad skal rapporten hedde?",
     "Er der skal-krav i loven?"],
)
def test_a_shall_inside_the_question_does_not_ask_the_minutes(question):
    assert not asks_the_minutes(question)


@pytest.mark.parametrize(
    ("question", "parts"),
    [
        (("Hvor mange penge om året er der afsat til en hjernerystelseskoordinator, og hvordan "
         "deles udgiften?"),
         ["Hvor mange penge om året er der afsat til en hjernerystelseskoordinator?",
          "hvordan deles udgiften?"]),
        ("Hvor mange punkter blev der fulgt op på, og for hvor mange blev opfølgningen afsluttet?",
         ["Hvor mange punkter blev der fulgt op på?",
          "hvor mange blev opfølgningen afsluttet?"]),
        ("When will the trials be evaluated, and when is the City Council due to get the report?",
         ["When will the trials be evaluated?",
          "when is the City Council due to get the report?"]),
    ],
)
def test_a_question_asking_two_things_has_two_parts(question, parts):
    assert question_parts(question) == parts


@pytest.mark.parametrize(
    "question",
    [
        "Hvornår og hvor holder udvalget møde?",  # one question asking two types
        "Hvad blev besluttet om Opgang til Opgang?",
        "Hvilke skoler og hvilke klubber deltager?",  # "og hvilke" with too few words before
    ],
)
def test_a_single_question_is_one_part(question):
    assert question_parts(question) == [question]
