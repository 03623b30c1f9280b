"""The agenda item as the unit of an answer (retriever/items.py): dates a question names,
how near a meeting is to them, standing items, titles compared across meetings."""

from __future__ import annotations

from datetime import date

import pytest

from kommunesoeg.core.results import Hit
from retriever.items import (
    ItemKey,
    date_affinity,
    is_standing_item,
    item_of,
    mentioned_dates,
    normalise_title,
    states_date,
)

pytest_plugins = ["fixtures_index"]


# ----------------------------------------------------------------------------- mentioned_dates
@pytest.mark.parametrize(
    ("question", "dates"),
    [
        ("Hvad blev besluttet på mødet den 10. januar 2023?", [date(2023, 1, 10)]),
        ("Hvad skete der den 10 januar 2023?", [date(2023, 1, 10)]),
        ("Mødet den 29. Marts 2023", [date(2023, 3, 29)]),
        ("What was decided on 23 March 2023?", [date(2023, 3, 23)]),
        ("What happened on 5 May 2023?", [date(2023, 5, 5)]),
        ("Referatet fra 10.01.2023", [date(2023, 1, 10)]),
        ("Referatet fra 1/2/2023", [date(2023, 2, 1)]),
        ("Referatet fra 3-4-2023", [date(2023, 4, 3)]),
        (
            "Blev det behandlet den 10. januar 2023 og igen 23.03.2023?",
            [date(2023, 1, 10), date(2023, 3, 23)],
        ),
        ("Hvad blev besluttet om Opgang til Opgang?", []),
        ("Hvad skete der i 2023?", []),  # a year is no date
        ("Temamødet den 12. januar", []),  # no year: no date to compare
    ],
)
def test_mentioned_dates(question, dates):
    assert mentioned_dates(question) == dates


@pytest.mark.parametrize(
    "question",
    ["Mødet den 31. februar 2023", "Mødet 32.01.2023", "Mødet 10.13.2023", "Mødet 0.01.2023"],
)
def test_invalid_dates_are_ignored(question):
    assert mentioned_dates(question) == []


def test_an_invalid_date_does_not_hide_a_valid_one():
    assert mentioned_dates("den 30. februar 2023 eller 1.3.2023") == [date(2023, 3, 1)]


# ----------------------------------------------------------------------------- date_affinity
JAN_10 = [date(2023, 1, 10)]


@pytest.mark.parametrize(
    ("item_date", "affinity"),
    [
        ("2023-01-10", 1.0),
        ("2023-01-17", 1.0),  # a week later: the same meeting, published later
        ("2023-01-03", 1.0),  # a week before
        ("2023-01-18", -1.0),
        ("2023-01-02", -1.0),
        ("2023-03-23", -1.0),
        ("2024-01-10", -1.0),  # the same day a year later is another meeting
    ],
)
def test_date_affinity(item_date, affinity):
    assert date_affinity(item_date, JAN_10) == affinity


def test_no_dates_in_the_question_is_neutral():
    assert date_affinity("2023-01-10", []) == 0.0
    assert date_affinity(None, []) == 0.0


@pytest.mark.parametrize("item_date", [None, "", "januar 2023", "2023-13-01"])
def test_a_missing_or_unreadable_item_date_counts_as_far(item_date):
    assert date_affinity(item_date, JAN_10) == -1.0


def test_any_named_date_may_be_near():
    assert date_affinity("2023-03-23", [date(2023, 1, 10), date(2023, 3, 20)]) == 1.0


def test_the_window_is_an_argument():
    assert date_affinity("2023-01-12", JAN_10, within_days=1) == -1.0
    assert date_affinity("2023-01-12", JAN_10, within_days=2) == 1.0


def test_a_question_date_meets_the_meeting_date_it_names():
    question = "Hvad besluttede rådmændene på mødet den 23. marts 2023?"
    assert date_affinity("2023-03-23", mentioned_dates(question)) == 1.0
    assert date_affinity("2023-02-23", mentioned_dates(question)) == -1.0


# ----------------------------------------------------------------------------- states_date
MARCH_29 = [date(2023, 3, 29)]


@pytest.mark.parametrize(
    "text",
    ["Mødedato: 29. marts 2023", "Mødet 29.03.2023 kl. 18.15", "Referat 29-03-2023",
     "The meeting on 29 March 2023"],
)
def test_states_date(text):
    assert states_date(text, MARCH_29)


@pytest.mark.parametrize(
    "text",
    ["Mødedato: 28. marts 2023", "Mødedato: 29. marts", "Mødedato: 29. marts 2024",
     "Referat 03.29.2023", "Udvalget mødes i marts 2023."],
)
def test_states_no_other_date(text):
    assert not states_date(text, MARCH_29)


def test_states_date_without_dates_is_false():
    assert not states_date("Mødedato: 29. marts 2023", [])


# ----------------------------------------------------------------------------- standing items
@pytest.mark.parametrize(
    "title",
    [
        "Dagsorden",
        "Godkendelse af dagsorden",
        "Referat",
        "Godkendelse af referat",
        "GODKENDELSE AF REFERAT",
        "Eventuelt",
        "Evt.",
        "Evt",
        "Bordrunde",
        "Orientering fra Magistraten",
        "Orientering fra rådmanden",
        "Orientering om udvalgsmødet",
        "Orienteringer",
        "Orienteringspunkter",
        "Skriftlige orienteringer",
        "Meddelelser",
        "Forberedelse til udvalgsmøde den 11. januar 2023",
        "Kurser og konferencer samt sager på vej til byrådet",
        "Sager på vej til byrådet",
        "Eventuelt (NH)",
        "  Godkendelse  af   referat ",
    ],
)
def test_standing_items(title):
    assert is_standing_item(title)


@pytest.mark.parametrize(
    "title",
    [
        "Projekt Opgang til Opgang – videre proces",
        "Aarhus Skills",
        "Pasningsgaranti (NH)",
        "Klimafondsansøgning om klimamad (HBL)",
        "Indledende drøftelse af Budget 24",
        "Udkast til LGBT+ politik i Aarhus Kommune",
        "Godkendelse af budget 2024",
        "Referatskabelon for nye udvalg",  # "referat" only as the start of a longer word
        "Dagsordensudvalgets kommissorium",
        "Eventyrhaven i Viby",
        "Orienteringsløb i Marselisborgskovene",
        "Orientering om nybrud i samarbejdet mellem MBU og MSB (OKJ)",  # a real case
        "Status på dagsordenen for klimaplanen",
        "",
    ],
)
def test_real_cases_are_not_standing(title):
    assert not is_standing_item(title)


# ----------------------------------------------------------------------------- titles
@pytest.mark.parametrize(
    ("title", "normalised"),
    [
        ("Pasningsgaranti (NH)", "pasningsgaranti"),
        ("Arbejdspakkerne under EUD-indsatsen (OKJ)", "arbejdspakkerne under eud-indsatsen"),
        ("Status (ØKO) på økonomien", "status på økonomien"),
        ("  Opgang  til\nOpgang ", "opgang til opgang"),
        ("PROJEKT OPGANG TIL OPGANG", "projekt opgang til opgang"),
        ("Budget (2024)", "budget (2024)"),  # a year in brackets is part of the title
        ("Status (Orientering)", "status (orientering)"),  # not initials
        ("", ""),
    ],
)
def test_normalise_title(title, normalised):
    assert normalise_title(title) == normalised


def test_the_same_item_in_two_meetings_has_one_title():
    assert normalise_title("Pasningsgaranti (NH)") == normalise_title("PASNINGSGARANTI")


# ----------------------------------------------------------------------------- item_of
def _hit(punkt: int | None, punkt_title: str | None, bilag: int | None = None) -> Hit:
    return Hit(
        rank=1, score=1.0, chunk_id="c1", text="x", document="2023-01-10_MBU_raadmandsmoede.pdf",
        meeting="MBU - Rådmandsmøde", committee="MBU", date="2023-01-10", punkt=punkt,
        punkt_title=punkt_title, bilag=bilag, bilag_title=None, page_start=1, page_end=1,
        section="tekst", closed=False,
    )


def test_an_attachment_belongs_to_its_item():
    key = ItemKey("2023-01-10_MBU_raadmandsmoede.pdf", "MBU - Rådmandsmøde", 4,
                  "projekt opgang til opgang")
    assert item_of(_hit(4, "Projekt Opgang til Opgang (OKJ)")) == key
    assert item_of(_hit(4, "Projekt Opgang til Opgang", bilag=2)) == key


def test_a_passage_outside_any_item_has_no_item():
    assert item_of(_hit(None, None)) is None
    assert item_of(_hit(3, None)).title == ""
