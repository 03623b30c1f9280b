"""Answer types: a "how much" question is refused when the passages never state an amount."""

from __future__ import annotations

import pytest

from retriever.answer import NO_ANSWER
from retriever.answertype import expected_type, holds_answer_type

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
