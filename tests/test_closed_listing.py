"""Closed agenda items listed by an open part of the documents (retriever/closed_listing.py).

Fast tests on small in-memory chunks: every listing form, the lines that are no listing,
closed and duplicate chunks never read, dedupe, page numbers; matching a question to a
listing; the refusal sentence. Then the sample index: which listings its open chunks hold,
and how a public (and an internal) question about the listed item is answered.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from kommunesoeg.core.models import Chunk
from kommunesoeg.core.results import ClosedListing
from retriever.closed_listing import (
    closed_listing_text,
    find_closed_listings,
    listed_in,
    match_listing,
    read_listing,
)
from retriever.terms import TermStats

pytest_plugins = ["fixtures_index"]

DOC = "2023-01-10_MBU_raadmandsmoede.pdf"
MEETING = "MBU - Rådmandsmøde"


def chunk(text: str, *, closed: bool = False, document: str = DOC, meeting: str = MEETING,
          date: str | None = "2023-01-10", page: int = 7, duplicate_of: str | None = None,
          chunk_id: str = "c1") -> Chunk:
    return Chunk(
        chunk_id=chunk_id, document=document, meeting=meeting, committee="MBU", date=date,
        punkt=1, punkt_title="Godkendelse af referat", bilag=1, bilag_title="referat.pdf",
        section="tekst", page_start=page, page_end=page + 1, closed=closed, ocr=False,
        text=text, header="", duplicate_of=duplicate_of,
    )


# The table of contents of the MBU minutes of 10 January 2023 (seed 000, page 7).
TOC = """Indhold
Punkt 1: Godkendelse af referat 1
Beslutning for Punkt 1: Godkendelse af referat 1
Punkt 8: Forberedelse til udvalgsmøde den 11. januar 2023 4
Beslutning for Punkt 8: Forberedelse til udvalgsmøde den 11. januar 2023 4
Punkt 9: Eventuelt 4
Beslutning for Punkt 9: Eventuelt 5
Punkt 10 (Lukket) : Pasningsgaranti (NH) 5
Beslutning for Punkt 10: Pasningsgaranti (NH) 5
Punkt 11 (Lukket) : Intern opfølgning 5
Punkt 1, Bilag 3 (Lukket): 20230110-Rådmandsmøde (lukket).pdf"""

# "Dagsorden kort" of the Social- og Beskæftigelsesudvalg (seed 003, an open attachment).
AGENDA = """Dagsorden kort:
1. Godkendelse af dagsorden
5. Indledende drøftelser af budgettemaer
6. Sygedagpenge regres (lukket punkt)
7. Orienteringspunkter
10.Evt."""


# ----------------------------------------------------------------------------- line forms
@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("Punkt 10 (Lukket) : Pasningsgaranti (NH) 5", (10, "Pasningsgaranti (NH)")),
        ("Punkt 12 (Lukket): Personalesag ved Egå Marina", (12, "Personalesag ved Egå Marina")),
        ("12 Lukket: Grundkøb ved Risskov Strandvej", (12, "Grundkøb ved Risskov Strandvej")),
        ("12. Lukket: Grundkøb ved Risskov Strandvej", (12, "Grundkøb ved Risskov Strandvej")),
        ("12 (Lukket) Grundkøb ved Risskov Strandvej", (12, "Grundkøb ved Risskov Strandvej")),
        ("6. Sygedagpenge regres (lukket punkt)", (6, "Sygedagpenge regres")),
        ("6. Klage over skolebussen i Skæring (Lukket)", (6, "Klage over skolebussen i Skæring")),
        ("Lukket punkt 7: Erstatningssag om vandskade", (7, "Erstatningssag om vandskade")),
        ("Punkt 7: Erstatningssag om vandskade - Lukket", (7, "Erstatningssag om vandskade")),
        ("Punkt 7 [LUKKET] Personalesag", (7, "Personalesag")),
        ("Punkt 7 (Lukkel): Personalesag", (7, "Personalesag")),  # OCR damage
        ("6. Sygedagpenge regres (lukket punkt) 5", (6, "Sygedagpenge regres")),
    ],
)
def test_each_listing_form_is_read(line, expected):
    assert read_listing(line) == expected


@pytest.mark.parametrize(
    "line",
    [
        "Punkt 10: Pasningsgaranti (NH) 5",  # no marker: an open item
        "Beslutning for Punkt 10: Pasningsgaranti (NH) 5",
        "Punkt 1, Bilag 3 (Lukket): 20230110-Rådmandsmøde (lukket).pdf",  # an attachment
        "Punkt 4, Bilag 1 - lukket: Notat om lønforhandling.pdf",
        "Punkt 10: Tid: 15 min. Deltagere: Ann Olivia Keblovszki og Mia Lund Kristensen",
        "Punkt 11 (Lukket)",  # no title to name
        "Svømmehallen er lukket i juli.",
        "3. Lukketider i sommerferien",
        "4. Lukning af Tilst Bibliotek",
        "12 borgere fik lukket deres sag (lukket)",  # no full stop: no list entry
        "Direktøren præsenterer pasningsgarantien.",
        "",
    ],
)
def test_lines_that_list_no_closed_item(line):
    assert read_listing(line) is None


def test_a_table_of_contents_lists_its_closed_items_without_page_numbers():
    assert listed_in(TOC) == [(10, "Pasningsgaranti (NH)"), (11, "Intern opfølgning")]


def test_an_agenda_list_lists_its_closed_entry():
    assert listed_in(AGENDA) == [(6, "Sygedagpenge regres")]


def test_a_trailing_number_is_a_page_only_in_a_table_of_contents():
    toc = "Indhold\nPunkt 3: Budget 1\n12 Lukket: Etape 2 3"
    assert listed_in(toc) == [(12, "Etape 2")]
    assert read_listing("12 Lukket: Etape 2") == (12, "Etape 2")
    assert read_listing("12 Lukket: Etape 2", toc=True) == (12, "Etape")


def test_a_wrapped_title_is_read_whole():
    text = ("Punkt 7 (Lukket): Kompenserede klimahandlinger – solceller på\n"
            "Børn og Unges tagflader (NH) 4\nPunkt 8: Eventuelt 4")
    assert listed_in(text) == [
        (7, "Kompenserede klimahandlinger – solceller på Børn og Unges tagflader (NH)")
    ]
    # the next item is no continuation
    assert listed_in("Punkt 7 (Lukket): Personalesag i\nPunkt 8: Eventuelt") == [
        (7, "Personalesag i")
    ]


def test_a_wrapped_title_may_carry_the_marker():
    assert listed_in("Punkt 7: Klage over skolebussen i\nSkæring (lukket)") == [
        (7, "Klage over skolebussen i Skæring")
    ]


# ----------------------------------------------------------------------------- chunks
def test_listings_carry_the_open_chunks_document_meeting_date_and_page():
    listings = find_closed_listings([chunk(TOC, page=7)])
    assert listings == (
        ClosedListing(DOC, MEETING, "2023-01-10", 10, "Pasningsgaranti (NH)", 7),
        ClosedListing(DOC, MEETING, "2023-01-10", 11, "Intern opfølgning", 7),
    )


def test_closed_chunks_are_never_read():
    assert find_closed_listings([chunk(TOC, closed=True)]) == ()
    assert find_closed_listings([chunk(AGENDA, closed=True)]) == ()


def test_duplicates_are_never_read():
    assert find_closed_listings([chunk(TOC, duplicate_of="c0", chunk_id="c1")]) == ()


def test_a_listing_is_kept_once_per_document_meeting_and_item():
    repeated = [
        chunk(TOC + "\n" + TOC, page=7, chunk_id="a"),
        chunk("Punkt 10 (Lukket) : PASNINGSGARANTI  (NH)", page=11, chunk_id="b"),
        chunk(TOC, document="other.pdf", page=3, chunk_id="c"),
    ]
    listings = find_closed_listings(repeated)
    assert [(x.document, x.punkt, x.page) for x in listings] == [
        (DOC, 10, 7), (DOC, 11, 7), ("other.pdf", 10, 3), ("other.pdf", 11, 3)
    ]


def test_open_text_without_markers_lists_nothing():
    text = TOC.replace("(Lukket) ", "").replace(" (Lukket)", "")
    assert find_closed_listings([chunk(text), chunk("Referatet blev godkendt.")]) == ()


# ----------------------------------------------------------------------------- matching
LISTINGS = (
    ClosedListing(DOC, MEETING, "2023-01-10", 10, "Pasningsgaranti (NH)", 7),
    ClosedListing(DOC, MEETING, "2023-01-10", 11, "Intern opfølgning", 7),
    ClosedListing("2023-03-23_MSB_raadmandsmoede.pdf", "MSB Rådmandsmøde", "2023-03-23", 6,
                  "Sygedagpenge regres", 37),
)
CORPUS = [
    "Direktøren præsenterer pasningsgarantien.",
    "NH orienterede om kapacitet til indkvartering af ukrainere.",
    "Intern revision af regnskabet.",
    "Sygedagpenge udbetales efter reglerne.",
    "Budgettet blev godkendt. Opfølgning i næste kvartal.",
    "Opfølgning på handleplanen. Opfølgning på budgettet.",
    "Opfølgning på klimaplanen.",
    "Solceller på Børn og Unges tagflader.",
    "Partnerskabsaftale med Børns Vilkår.",
    "Referatet blev godkendt.",
]


@pytest.fixture(scope="module")
def terms() -> TermStats:
    return TermStats.of_texts(CORPUS)


@pytest.mark.parametrize(
    ("question", "punkt"),
    [
        ("Hvad blev drøftet om pasningsgarantien på udvalgsmødet?", 10),  # definite form
        ("Pasningsgaranti", 10),
        ("Hvad skete der under intern opfølgning?", 11),
        ("Hvad blev besluttet om sygedagpenge-regressen?", 6),  # "regres" / "regressen"
        ("Hvad er status på regres af sygedagpenge?", 6),
    ],
)
def test_a_question_about_a_listed_item_matches_it(terms, question, punkt):
    listing = match_listing(question, LISTINGS, terms)
    assert listing is not None and listing.punkt == punkt


@pytest.mark.parametrize(
    "question",
    [
        "Hvad er opfølgningen på budgettet?",  # one common word of a two-word title
        "Hvad skete der med sygedagpengene?",  # half the subject
        "Hvad sagde NH på mødet?",  # initials are no subject
        "Hvad står der i punkt 10?",
        "Hvad koster solcellerne på tagene?",
        "Hvem deltog i mødet?",
        "",
    ],
)
def test_a_question_about_something_else_matches_nothing(terms, question):
    assert match_listing(question, LISTINGS, terms) is None


def test_no_listings_match_nothing(terms):
    assert match_listing("Pasningsgaranti", (), terms) is None


def test_the_best_covered_listing_wins(terms):
    both = (
        ClosedListing(DOC, MEETING, "2023-01-10", 3, "Pasningsgaranti og budget i Tilst", 2),
        LISTINGS[0],
    )
    assert match_listing("Hvad med pasningsgarantien?", both, terms) == LISTINGS[0]


# ----------------------------------------------------------------------------- the sentence
def test_the_refusal_sentence_names_only_where_it_is_listed_item_and_title():
    assert closed_listing_text(LISTINGS[0], english=False) == (
        "Dokumenterne fra MBU - Rådmandsmøde den 10. januar 2023 (s. 7) opfører punkt 10 "
        "»Pasningsgaranti (NH)« som et lukket punkt; dets indhold kan ikke søges af "
        "offentligheden."
    )
    assert closed_listing_text(LISTINGS[0], english=True) == (
        'The documents of MBU - Rådmandsmøde, 10 January 2023, p. 7, list item 10 '
        '"Pasningsgaranti (NH)" as a closed item; its content cannot be searched by the public.'
    )


def test_the_refusal_sentence_without_a_date():
    undated = replace(LISTINGS[2], date=None)
    assert closed_listing_text(undated) == (
        "Dokumenterne fra MSB Rådmandsmøde (s. 37) opfører punkt 6 »Sygedagpenge regres« som "
        "et lukket punkt; dets indhold kan ikke søges af offentligheden."
    )
    assert closed_listing_text(undated, english=True) == (
        'The documents of MSB Rådmandsmøde, p. 37, list item 6 "Sygedagpenge regres" as a '
        "closed item; its content cannot be searched by the public."
    )


# ----------------------------------------------------------------------------- sample index
@pytest.fixture(scope="module")
def sample_chunks(sample_index):
    from indexer.store import IndexReader

    return IndexReader.open(sample_index).chunks


def test_sample_listings_come_from_open_text_only(sample_chunks):
    listings = find_closed_listings(sample_chunks)
    open_chunks = [c for c in sample_chunks if not c.closed and not c.duplicate_of]
    for listing in listings:
        assert any(
            c.document == listing.document and c.meeting == listing.meeting
            and c.date == listing.date and listing.title in " ".join(c.text.split())
            for c in open_chunks
        ), listing


def test_the_parser_reads_the_sample_corpus_listing_lines(sample_chunks):
    """Guards the tests below against passing vacuously: read as if open, the closed
    chunks of the sample index yield the listing lines the seeds print."""
    read_as_open = find_closed_listings(
        replace(c, closed=False) for c in sample_chunks if c.closed
    )
    assert {(x.document[:14], x.meeting, x.date, x.punkt, x.title) for x in read_as_open} >= {
        ("2023-01-10_MBU", MEETING, "2023-01-10", 10, "Pasningsgaranti (NH)"),
        ("2023-01-10_MBU", MEETING, "2023-01-10", 11, "Intern opfølgning"),
        ("2023-03-23_MSB", "MSB Rådmandsmøde", "2023-03-23", 6, "Sygedagpenge regres"),
    }


def test_a_table_of_contents_inside_closed_material_names_nothing(sample_chunks):
    """The MBU table of contents listing items 10 and 11 as closed belongs to the closed
    attachment "20230110-Rådmandsmøde (lukket).pdf"; the open version of the minutes omits
    both items. Their titles are printed only inside closed material: never named."""
    titles = {x.title for x in find_closed_listings(sample_chunks)}
    assert not titles & {"Pasningsgaranti (NH)", "Intern opfølgning"}


MSB_LISTING = ClosedListing(
    document="2023-03-23_MSB_raadmandsmoede.pdf", meeting="MSB Rådmandsmøde",
    date="2023-03-23", punkt=6, title="Sygedagpenge regres", page=37,
)
MSB_QUESTION = (
    "Hvad blev Social- og Beskæftigelsesudvalget orienteret om under punktet om sygedagpenge "
    "regres?"
)


def test_an_open_agenda_list_names_its_closed_entry(sample_chunks):
    """The committee agenda printed in the MSB rådmandsmøde of 23 March 2023 lists
    "6. Sygedagpenge regres (lukket punkt)" in its open "Dagsorden kort" (page 37): the one
    listing of the sample index. The MBU items 10 and 11 are printed only inside a closed
    attachment and are not listed."""
    listings = find_closed_listings(sample_chunks)
    assert listings == (MSB_LISTING,)
    assert not {x.title for x in listings} & {"Pasningsgaranti (NH)", "Intern opfølgning"}


def test_the_listed_line_is_open_and_the_items_text_closed(sample_chunks):
    line = "6. Sygedagpenge regres (lukket punkt)"
    holders = [c for c in sample_chunks if line in c.text.split("\n") and not c.duplicate_of]
    assert any(not c.closed and "7. Orienteringspunkter" in c.text for c in holders)
    body = [c for c in sample_chunks if "Ansvarlig: Vibeke Jensen\nTid: 19.20" in c.text]
    assert body and all(c.closed for c in body)


@pytest.fixture(scope="module")
def sample_searcher(sample_index, tmp_path_factory):
    from retriever.search import Searcher

    return Searcher(sample_index, audit_log=tmp_path_factory.mktemp("audit") / "audit.jsonl")


def test_a_public_question_about_the_listed_item_is_refused_with_the_listing(sample_searcher):
    answer = sample_searcher.ask(MSB_QUESTION)
    assert answer.insufficient_evidence
    assert answer.closed_item == MSB_LISTING
    assert closed_listing_text(MSB_LISTING) in answer.answer
    # nothing of the item itself: its text is closed and no closed passage is shown
    assert "Vibeke Jensen" not in answer.answer
    assert all(not c.closed for c in answer.citations)


def test_an_english_public_question_gets_the_english_listing(sample_searcher):
    answer = sample_searcher.ask(
        "What was the committee told under the item on sygedagpenge regres?"
    )
    assert answer.insufficient_evidence and answer.closed_item == MSB_LISTING
    assert closed_listing_text(MSB_LISTING, english=True) in answer.answer


def test_the_internal_role_gets_no_listing(sample_searcher):
    answer = sample_searcher.ask(MSB_QUESTION, role="internal")
    assert answer.closed_item is None
    assert closed_listing_text(MSB_LISTING) not in answer.answer
