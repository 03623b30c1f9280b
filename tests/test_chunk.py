"""Chunking on the real corpus: boundaries, metadata, headers, windows, and the baseline."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

from eval.questions import SEED_TO_PDF
from indexer.chunk import make_chunks, naive_chunks, sentence_windows
from indexer.structure import parse_document
from kommunesoeg.core.pages import closed_pages_of
from kommunesoeg.core.sentences import split_sentences

MBU = "2023-01-10_MBU_raadmandsmoede.pdf"
MSB_MAR = "2023-03-23_MSB_raadmandsmoede.pdf"
# an agenda-item heading line; not "Punkt 2: Tid: 15 min." (cover-page schedule) nor a
# table-of-contents entry ending in a page number ("Punkt 6: Klimamad (HBL) 3")
ITEM_LINE = re.compile(
    r"^Punkt (\d+)\s*(?:\(Lukket\)\s*)?:(?!\s*Tid:)(?!.*\s\d{1,2}$)", re.MULTILINE
)


def _norm(text: str) -> str:
    """The dev-question comparison: lowercase, whitespace collapsed, "word- word" joined."""
    text = re.sub(r"\s+", " ", text.lower()).strip()
    return re.sub(r"(\w)- (\w)", r"\1\2", text)


@pytest.fixture(scope="module")
def chunks(corpus_pages):
    out = {}
    for name, pages in corpus_pages.items():
        meeting, sections = parse_document(pages)
        out[name] = make_chunks(meeting, sections)
    return out


def test_every_dev_evidence_is_inside_a_chunk(chunks):
    missing = []
    for line in (ROOT / "eval" / "dev-questions.jsonl").read_text(encoding="utf-8").splitlines():
        q = json.loads(line)
        if not q["evidence"]:
            continue
        texts = [_norm(c.text) for c in chunks[SEED_TO_PDF[q["source"][:3]]]]
        missing += [(q["id"], ev) for ev in q["evidence"] if not any(_norm(ev) in t for t in texts)]
    assert missing == []


def test_dev_evidence_lands_on_the_right_item(chunks):
    hit = next(
        c
        for c in chunks["2023-02-23_MSB_raadmandsmoede.pdf"]
        if "Der bliver taget en drøftelse med MBU" in c.text
    )
    assert (hit.punkt, hit.bilag, hit.section, hit.closed) == (5, None, "beslutning", False)
    hit = next(c for c in chunks[MBU] if "FAQ. Overvejelse om det skal på Aarhus.dk" in c.text)
    assert (hit.punkt, hit.closed) == (10, True)


def test_no_chunk_spans_two_agenda_items(chunks):
    for name, cs in chunks.items():
        for c in cs:
            assert len(set(ITEM_LINE.findall(c.text))) <= 1, (name, c.text[:200])


def test_no_furniture_in_chunks(chunks):
    for cs in chunks.values():
        for c in cs:
            assert "Klik her for at angive tekst" not in c.text
            assert not re.search(r"Punkt \d+, Bilag \d+( \(Lukket\))?:", c.text)


def test_closed_flag_propagates(chunks):
    mbu = chunks[MBU]
    assert all(c.closed for c in mbu if c.bilag == 3)
    assert not any(c.closed for c in mbu if c.bilag == 1)
    garanti = [c for c in mbu if "Pasningsgaranti" in c.text or "pasningsgaranti" in c.text]
    assert all(c.closed for c in garanti if c.punkt == 10)
    regres = [c for c in chunks[MSB_MAR] if "Sygedagpenge regres" in c.text]
    # the item's own entry is closed; the open agenda list only prints its title
    body = [c for c in regres if "Mundtlig orientering og drøftelse" in c.text
            and "Dagsorden kort" not in c.text]
    assert body and all(c.closed for c in body)
    assert any(not c.closed and "Dagsorden kort" in c.text for c in regres)


def test_opgang_chunk_metadata_and_header(chunks):
    c = next(c for c in chunks[MSB_MAR] if "Sagsnummer: EMN-2023-000692" in c.text)
    assert (c.punkt, c.bilag, c.page_end, c.case_number) == (4, 1, 35, "EMN-2023-000692")
    assert c.header.startswith(
        "MSB Rådmandsmøde 23.03.2023 · Punkt 4: Projekt Opgang til Opgang – videre proces med "
        "finansiering og forankring · Bilag 1: Opgang til Opgang - Finansiering og forankring"
    )
    assert (c.meeting, c.committee, c.date) == ("MSB Rådmandsmøde", "MSB", "2023-03-23")
    spans = [
        (c.page_start, c.page_end) for c in chunks[MSB_MAR] if c.case_number == "EMN-2023-000692"
    ]
    assert min(s for s, _ in spans) == 28 and max(e for _, e in spans) == 35


def test_chunk_sizes_and_ids(chunks):
    ids = [c.chunk_id for cs in chunks.values() for c in cs]
    assert len(ids) == len(set(ids)) and all(len(i) == 16 for i in ids)
    for cs in chunks.values():
        assert all(0 < len(c.text) <= 1500 for c in cs)
        assert all(c.page_start <= c.page_end for c in cs)


def test_chunk_ids_are_stable(corpus_pages):
    pages = corpus_pages[MBU]
    a = make_chunks(*parse_document(pages))
    b = make_chunks(*parse_document(pages))
    assert [c.chunk_id for c in a] == [c.chunk_id for c in b]
    smaller = make_chunks(*parse_document(pages), chunk_size=500, chunk_overlap=50)
    assert len(smaller) > len(a) and all(len(c.text) <= 500 for c in smaller)


def test_windows_cover_every_sentence(chunks):
    for cs in chunks.values():
        for c in cs:
            joined = " ".join(c.windows)
            for sentence in split_sentences(c.text):
                assert sentence[:60] in joined
            assert all(len(w) <= 400 for w in c.windows)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Det koster ca. 3,4 mio. kr. i alt. Borgmesteren bakker op.",
            ["Det koster ca. 3,4 mio. kr. i alt.", "Borgmesteren bakker op."],
        ),
        (
            "Dette sker bl.a. via fonde, jf. bilag 1. Næste skridt følger.",
            ["Dette sker bl.a. via fonde, jf. bilag 1.", "Næste skridt følger."],
        ),
        (
            "Mødet d. 12. januar 2023 gik godt. Se f.eks. Sundhedsloven § 205 nr. 210.",
            ["Mødet d. 12. januar 2023 gik godt.", "Se f.eks. Sundhedsloven § 205 nr. 210."],
        ),
        (
            "Beslutninger\n• Orientering blev taget til efterretning.\n• Materiale kan anvendes",
            [
                "Beslutninger",
                "• Orientering blev taget til efterretning.",
                "• Materiale kan anvendes",
            ],
        ),
        (
            "Indstilling om at:\n1. Orienteringen tages til efterretning\n2. Materialet anvendes",
            [
                "Indstilling om at:",
                "1. Orienteringen tages til efterretning",
                "2. Materialet anvendes",
            ],
        ),
        (
            "Fonden (A.P. Møller) betaler. Det udløber.",
            ["Fonden (A.P. Møller) betaler.", "Det udløber."],
        ),
    ],
)
def test_split_sentences(text, expected):
    assert split_sentences(text) == expected


def test_sentence_windows_overlap_and_size():
    text = " ".join(f"Sætning nummer {i} handler om æbler og ørreder." for i in range(10))
    windows = sentence_windows(text, 3)
    assert windows[0].count("Sætning") == 3
    assert all(w.count("Sætning") <= 3 for w in windows)
    assert "nummer 9" in windows[-1]
    assert len(sentence_windows("ord " * 300, 3)) >= 3  # one run-on sentence is cut by size


def test_naive_chunks(corpus_pages):
    pages = corpus_pages[MBU]
    meeting, sections = parse_document(pages)
    closed = closed_pages_of(sections)
    naive = naive_chunks(MBU, meeting, pages, closed)
    assert all(len(c.text) <= 1000 for c in naive)
    assert sum(len(c.text) for c in naive) == len("\n".join(p.text for p in pages))
    assert all(
        c.header == "" and c.windows == [] and c.punkt is None and c.section == "tekst"
        for c in naive
    )
    # conservative: every slice touching closed text is closed
    assert all(c.closed for c in naive if "Pasningsgaranti" in c.text or "(Lukket)" in c.text)
    assert any(not c.closed for c in naive)
    overlapping = naive_chunks(MBU, meeting, pages, closed, size=1000, overlap=100)
    assert len(overlapping) > len(naive)


@pytest.mark.parametrize(
    ("text", "for_answers", "for_chunks"),
    [
        # a list-closing "mm." before a sentence-starting word ends the sentence for answers
        (
            ("Teamet får erfaring med angst mm. Det er derudover blevet besluttet at fastholde "
            "teamets delte ledelse."),
            ["Teamet får erfaring med angst mm.",
             "Det er derudover blevet besluttet at fastholde teamets delte ledelse."],
            [("Teamet får erfaring med angst mm. Det er derudover blevet besluttet at fastholde "
             "teamets delte ledelse.")],
        ),
        # ... but not before a name, and other abbreviations never do
        (
            ("Der deltager skoler, klubber mm. Aarhus Kommune betaler. Prisen er 5 kr. Det er "
            "billigt."),
            ["Der deltager skoler, klubber mm. Aarhus Kommune betaler.",
             "Prisen er 5 kr. Det er billigt."],
            ["Der deltager skoler, klubber mm. Aarhus Kommune betaler.",
             "Prisen er 5 kr. Det er billigt."],
        ),
    ],
)
def test_list_endings_end_answer_sentences_only(text, for_answers, for_chunks):
    assert split_sentences(text, list_endings=True) == for_answers
    assert split_sentences(text) == for_chunks  # windows of existing indexes do not move
