"""The units an answer may quote (retriever/quotable.py): sentences, field lines, table rows.

Quick tests on small texts in the shapes the minutes use (agenda forms, tables, letterheads),
then the sample index: the agenda form of the Social- og Beskæftigelsesudvalg as indexed.
"""

from __future__ import annotations

import pytest

from retriever.quotable import (
    Unit,
    is_field,
    is_furniture,
    is_logistics,
    last_entry,
    quotable_texts,
    quotable_units,
    split_agenda_list,
)

pytest_plugins = ["fixtures_index"]

# An agenda form as seed 003 prints it (the committee agenda in the MSB rådmandsmøde).
FORM = """Social- og Beskæftigelsesudvalgsmøde
Mødedato: 29. marts 2023
Mødetid: Kl. 18.15 – 20.00
Mødested: Rådhuset, lokale 398
5. Indledende drøftelse af Budget 24
Baggrund/formål: Udvalget drøfter de første temaer til budget 2024.
Metode: Mundtlig orientering og drøftelse
Ansvarlig: Anders Winnerskjold
Tid: 18.45 – 19.20 (35 min.)
6. Sygedagpenge regres
Ansvarlig: Vibeke Jensen"""


# ----------------------------------------------------------------------------- field lines
def test_each_field_line_of_an_agenda_form_is_a_unit_of_its_own():
    assert quotable_texts(FORM)[:4] == [
        "Social- og Beskæftigelsesudvalgsmøde",
        "Mødedato: 29. marts 2023",
        "Mødetid: Kl. 18.15 – 20.00",
        "Mødested: Rådhuset, lokale 398",
    ]
    texts = quotable_texts(FORM)
    assert "Ansvarlig: Anders Winnerskjold" in texts
    assert "Tid: 18.45 – 19.20 (35 min.)" in texts
    assert "Metode: Mundtlig orientering og drøftelse" in texts


def test_a_field_ends_at_the_next_field_entry_or_header():
    text = (
        "Ansvarlig: Anders Winnerskjold\n"
        "Tid: 15 min.\n"
        "6. Sygedagpenge regres\n"
        "Metode: Mundtlig orientering\n"
        "STATUS NÆSTE OPFØLGNING\n"
        "Udvalget drøftede sagen."
    )
    assert quotable_texts(text) == [
        "Ansvarlig: Anders Winnerskjold",
        "Tid: 15 min.",
        "6. Sygedagpenge regres",
        "Metode: Mundtlig orientering",
        "Udvalget drøftede sagen.",
    ]


def test_a_field_value_may_wrap_onto_the_next_line():
    text = "Baggrund/formål: Udvalget orienteres om status\npå projektet i Gellerup.\nMetode: Oplæg"
    assert quotable_texts(text) == [
        "Baggrund/formål: Udvalget orienteres om status på projektet i Gellerup.",
        "Metode: Oplæg",
    ]


def test_field_labels_glued_inline_are_split():
    """Extraction without line breaks: the splitter would quote three fields as one."""
    text = "Mødetid: Kl. 18.15 – 20.00 Mødested: Rådhuset, lokale 398 Ansvarlig: Vibeke Jensen"
    assert quotable_texts(text) == [
        "Mødetid: Kl. 18.15 – 20.00",
        "Mødested: Rådhuset, lokale 398",
        "Ansvarlig: Vibeke Jensen",
    ]


def test_a_colon_in_prose_does_not_split_the_sentence():
    sentence = "Rådmanden godkendte indstillingen med følgende bemærkning: Sagen følges tæt."
    assert quotable_texts(sentence) == [sentence]
    # a label word used in prose without its colon is no field either
    assert quotable_texts("Sagen om Status Quo blev drøftet.") == [
        "Sagen om Status Quo blev drøftet."
    ]


# ----------------------------------------------------------------------------- never quoted
@pytest.mark.parametrize(
    "header",
    ["STATUS NÆSTE OP-FØLGNING", "# OPGAVE AN-SVAR", "BESLUTNINGSREFERAT", "AARHUS KOMMUNE"],
)
def test_lines_in_capitals_are_never_quoted(header):
    text = f"{header}\nProjektet forløber planmæssigt.\nFristen er overholdt."
    assert quotable_texts(text) == ["Projektet forløber planmæssigt.", "Fristen er overholdt."]


def test_a_header_row_in_capitals_with_wide_gaps_is_no_table_row():
    text = "OPGAVE   ANSVAR   STATUS\nBudget 24   Anders Winnerskjold   I gang"
    assert quotable_texts(text) == ["Budget 24 — Anders Winnerskjold — I gang"]


def test_short_capitals_and_mixed_case_lines_are_kept():
    # an abbreviation of three letters is no letterhead; a title in ordinary case is text
    assert quotable_texts("MBU\nRådmanden godkendte.") == ["MBU Rådmanden godkendte."]
    assert quotable_texts("Status på MSB's mål") == ["Status på MSB's mål"]


@pytest.mark.parametrize(
    "heading",
    [
        "Punkt 4: Projekt Opgang til Opgang – videre proces",
        "Beslutning for Punkt 4: Projekt Opgang til Opgang – videre proces",
        "Beslutninger for Punkt 12: Eventuelt",
        "Punkt 10 (Lukket) : Pasningsgaranti",
    ],
)
def test_item_headings_are_left_out(heading):
    text = f"{heading}\nRådmanden godkendte indstillingen."
    assert quotable_texts(text) == ["Rådmanden godkendte indstillingen."]


def test_a_sentence_mentioning_punkt_is_kept():
    sentence = "Punkt 4 blev udsat til næste møde."
    assert quotable_texts(sentence) == [sentence]


def test_the_headings_of_the_given_item_go_and_its_fields_between_them_stay():
    text = (
        "Punkt 4: Opgang til Opgang\nTid: 15 min. Deltagere: Mia Lundby Kragelund\n"
        "Beslutning for Punkt 4: Opgang\ntil Opgang\nRådmanden godkendte indstillingen."
    )
    expected = ["Tid: 15 min.", "Deltagere: Mia Lundby Kragelund",
                "Rådmanden godkendte indstillingen."]
    # the wrapped title of the decision heading ends the field before it, not glued to it
    assert quotable_texts(text, 4, "Opgang til Opgang") == expected
    # without the item the headings' lines still go and the fields stay
    assert quotable_texts(text)[:2] == expected[:2]


def test_another_items_heading_is_the_context_of_the_units_under_it():
    text = (
        "Punkt 5: Tid: 15 min. Deltagere: Mette Søberg og Louise Heltborg Budde\n"
        "Punkt 6: Tid: 15 min. Deltagere: Mia Lundby Kragelund og Karen Tambo\n"
        "Punkt 7: Kompenserede klimahandlinger\nRådmanden godkendte indstillingen."
    )
    assert quotable_units(text, 1, "Referat") == [
        Unit("Tid: 15 min.", "Punkt 5"),
        Unit("Deltagere: Mette Søberg og Louise Heltborg Budde", "Punkt 5"),
        Unit("Tid: 15 min.", "Punkt 6"),
        Unit("Deltagere: Mia Lundby Kragelund og Karen Tambo", "Punkt 6"),
        Unit("Rådmanden godkendte indstillingen.", "Punkt 7: Kompenserede klimahandlinger"),
    ]
    assert last_entry(text, 1, "Referat") == "Punkt 7: Kompenserede klimahandlinger"


@pytest.mark.parametrize(
    ("unit", "furniture"),
    [
        ("Antal tegn: 6.454Sagsnummer: Mål, Økonomi og Boliger", True),
        ("Sagsnummer: EMN-2023-000692", True),
        ("Tlf.: 41 85 52 58", True),
        (("Fagligt Sekretariat Aarhus Kommune FAS Politik og Ledelse Jægergården, "
         "Værkmestergade 15 B 8000 Aarhus C"), True),
        ("Antal tegn: Klik her for at angive tekst.Fagligt sekretariat", True),
        ("Mødet holdes på Randersvej 12.", False),  # a place, no letterhead
        ("Ansvarlig: Eva Borchorst Mejnertz", False),
        ("I 2023 Aarhus Kommune bruger 5 mio. kr.", False),
    ],
)
def test_letterhead_and_document_metadata_are_furniture(unit, furniture):
    assert is_furniture(unit) is furniture


def test_a_run_of_numbered_item_titles_is_one_unit_per_item():
    unit = ("Dagsorden til udvalgsmødet 11. januar 2023 1 Referat fra udvalgsmødet d. 7/12-22 "
            "2 Modernisering af Samsøgade Skole 3 Forslag fra EL om et alternativ")
    assert split_agenda_list(unit) == [
        "Dagsorden til udvalgsmødet 11. januar 2023", "1 Referat fra udvalgsmødet d. 7/12-22",
        "2 Modernisering af Samsøgade Skole", "3 Forslag fra EL om et alternativ",
    ]
    assert "3 Forslag fra EL om et alternativ" in quotable_texts(unit)


@pytest.mark.parametrize(
    "unit",
    ["Der afsættes 5 mio. kr. årligt fra 2023 til 2025 til 3 Initiativer.",
     "1. Godkendelse af dagsorden", "Der er 2 Skoler og 7 Klubber og 3 Haller."],
)
def test_numbers_out_of_order_are_no_agenda_list(unit):
    assert split_agenda_list(unit) == [unit]

def test_units_shorter_than_three_characters_are_dropped():
    assert quotable_texts("OK\nAnsvarlig: Anders") == ["Ansvarlig: Anders"]
    assert quotable_texts("Ja.") == ["Ja."]


# ----------------------------------------------------------------------------- table rows
@pytest.mark.parametrize(
    "row",
    [
        "Budget 24    Anders Winnerskjold    1. marts 2023",
        "Budget 24\tAnders Winnerskjold\t1. marts 2023",
        "Budget 24 | Anders Winnerskjold | 1. marts 2023",
        "| Budget 24 |  Anders Winnerskjold  | 1. marts 2023 |",
    ],
)
def test_a_table_row_is_rendered_as_one_readable_line(row):
    assert quotable_texts(row) == ["Budget 24 — Anders Winnerskjold — 1. marts 2023"]


def test_two_cells_are_no_table_row():
    # two wide-spaced cells are prose with odd spacing, its whitespace collapsed
    assert quotable_texts("Ansvarlig    Anders Winnerskjold") == ["Ansvarlig Anders Winnerskjold"]


def test_table_rows_split_the_prose_around_them():
    text = (
        "Udvalget fik en oversigt\n"
        "Opgave  Ansvarlig  Frist\n"
        "Budget 24  Anders Winnerskjold  Marts\n"
        "over opgaverne."
    )
    assert quotable_texts(text) == [
        "Udvalget fik en oversigt",
        "Opgave — Ansvarlig — Frist",
        "Budget 24 — Anders Winnerskjold — Marts",
        "over opgaverne.",
    ]


# ----------------------------------------------------------------------------- prose
def test_prose_is_split_into_sentences_with_bullets_removed():
    text = (
        "Udvalget drøftede sagen. Rådmanden godkendte indstillingen.\n"
        "• Der er afsat 3.600 kr. pr. deltager.\n"
        "- Forløbet   evalueres i 2024."
    )
    assert quotable_texts(text) == [
        "Udvalget drøftede sagen.",
        "Rådmanden godkendte indstillingen.",
        "Der er afsat 3.600 kr. pr. deltager.",
        "Forløbet evalueres i 2024.",
    ]


def test_words_are_quoted_verbatim():
    text = "Der er  afsat\n3.600 kr. pr.\tdeltager i 2023."
    assert quotable_texts(text) == ["Der er afsat 3.600 kr. pr. deltager i 2023."]


def test_empty_text_has_no_units():
    assert quotable_texts("") == []
    assert quotable_units("   \n\n") == []


# ----------------------------------------------------------------------------- context
def test_units_inside_a_short_numbered_entry_carry_it_as_context():
    units = quotable_units(FORM)
    entry5 = "5. Indledende drøftelse af Budget 24"
    entry6 = "6. Sygedagpenge regres"
    assert Unit("Ansvarlig: Anders Winnerskjold", entry5) in units
    assert Unit("Tid: 18.45 – 19.20 (35 min.)", entry5) in units
    assert Unit("Baggrund/formål: Udvalget drøfter de første temaer til budget 2024.",
                entry5) in units
    # the next entry starts a new record
    assert Unit("Ansvarlig: Vibeke Jensen", entry6) in units
    # the entries themselves have no context; neither have the fields above the first entry
    assert Unit(entry5) in units and Unit(entry6) in units
    assert Unit("Mødetid: Kl. 18.15 – 20.00") in units


def test_unit_texts_match_quotable_texts():
    assert [u.text for u in quotable_units(FORM)] == quotable_texts(FORM)


@pytest.mark.parametrize("marker", ["5.", "5)", "C)"])
def test_entry_markers(marker):
    units = quotable_units(f"{marker} Indledende drøftelse af Budget 24\nAnsvarlig: Anders")
    assert units[1] == Unit("Ansvarlig: Anders", f"{marker} Indledende drøftelse af Budget 24")


def test_a_long_numbered_sentence_is_prose_not_context():
    sentence = (
        "1) Rådmanden godkender at projektet Opgang til Opgang videreføres i 2024 med de "
        "midler der er afsat i budgettet for området, og at der følges op."
    )
    assert len(sentence) > 120
    units = quotable_units(f"{sentence}\nAnsvarlig: Anders Winnerskjold")
    assert units == [Unit(sentence), Unit("Ansvarlig: Anders Winnerskjold")]


def test_a_long_numbered_sentence_ends_the_entry_before_it():
    long_entry = "2) " + "Forvaltningen udarbejder en samlet plan for området " * 3
    units = quotable_units(
        f"1. Budget 24\nAnsvarlig: Anders\n{long_entry.strip()}\nTid: 15 min."
    )
    assert units[1] == Unit("Ansvarlig: Anders", "1. Budget 24")
    assert units[-1] == Unit("Tid: 15 min.")


def test_a_field_is_never_an_entry():
    units = quotable_units("Mødetid: Kl. 18.15\nAnsvarlig: Anders")
    assert all(u.context == "" for u in units)


# ----------------------------------------------------------------------------- sample index
def test_the_sample_agenda_form_as_indexed(sample_index):
    """The open committee agenda in the MSB rådmandsmøde of 23 March 2023 (pages 37-40):
    its fields are single units, its letterhead is never quoted, and the fields of item 5
    name item 5."""
    from indexer.store import IndexReader

    chunks = [
        c for c in IndexReader.open(sample_index).chunks
        if c.document == "2023-03-23_MSB_raadmandsmoede.pdf" and not c.closed
        and c.duplicate_of is None
    ]
    units = [u for c in chunks for u in quotable_units(c.text)]
    texts = [u.text for u in units]
    assert "Mødetid: Kl. 18.15 – 20.00" in texts
    assert "Mødested: Rådhuset, lokale 398" in texts
    assert not any("SOCIALE FORHOLD" in t or t.isupper() for t in texts)
    entry5 = "5. Indledende drøftelser af budgettemaer"
    assert Unit("Ansvarlig: Michael Justesen", entry5) in units
    assert Unit("Tid: 19.05 – 19.20 (15 min.)", entry5) in units


# ----------------------------------------------------------------------------- across passages
def test_an_entry_open_where_a_passage_starts_is_the_context_of_its_first_units():
    units = quotable_units("Ansvarlig: Vibeke Jensen\nTid: 19.05 – 19.30 (25 min.)\n"
                           "6. Orienteringspunkter\nAnsvarlig: Lotte Henriksen",
                           entry="5. Status på UC Gadeplan")
    assert units[0] == Unit("Ansvarlig: Vibeke Jensen", "5. Status på UC Gadeplan")
    assert units[1] == Unit("Tid: 19.05 – 19.30 (25 min.)", "5. Status på UC Gadeplan")
    assert units[-1] == Unit("Ansvarlig: Lotte Henriksen", "6. Orienteringspunkter")


def test_the_entry_open_at_the_end_of_a_passage():
    assert last_entry("Mødetid: Kl. 18.15\nAnsvarlig: Anders") is None  # none of its own
    assert last_entry("4. Budget 24\nTid: 15 min.\n5. Status på UC Gadeplan\nBaggrund/formål: "
                      "Udvalget orienteres.") == "5. Status på UC Gadeplan"
    long_entry = "2) " + "Forvaltningen udarbejder en samlet plan for området " * 3
    assert last_entry(f"1. Budget 24\n{long_entry.strip()}") == ""  # prose closed the entry


def test_a_quarter_is_a_period_not_an_entry():
    units = quotable_units("3. kvartal 2023\nStatus: afventer ministeriet")
    assert units[1].context == ""


def test_a_page_number_glued_to_the_first_line_is_not_quoted():
    texts = quotable_texts("Side 3 af 4Baggrund/formål: Udvalget orienteres om status.")
    assert texts == ["Baggrund/formål: Udvalget orienteres om status."]
    assert is_field(texts[0])


@pytest.mark.parametrize(
    ("unit", "logistics"),
    [("Tid: 15 min.", True), ("Deltagere: Elin Poulsen og Daniel Wilson", True),
     ("Metode: Orientering", True), ("Baggrund/formål: Udvalget orienteres.", False),
     ("Status: Stillingen slås op i uge 8.", False)],
)
def test_fields_saying_how_an_item_is_handled_are_logistics(unit, logistics):
    assert is_logistics(unit) is logistics
