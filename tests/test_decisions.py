"""Decision extraction on the real sample corpus (real extraction, structure and chunking)."""

from __future__ import annotations

from pathlib import Path

import pytest

from indexer.chunk import make_chunks
from indexer.decisions import decision_core, extract_decisions
from indexer.extract import extract_pages
from indexer.structure import parse_document
from kommunesoeg.core.models import Decision
from kommunesoeg.core.outcomes import OUTCOMES, classify_outcome, find_followups

CORPUS = Path(__file__).resolve().parent.parent / "corpus"


@pytest.fixture(scope="module")
def parsed() -> dict[str, tuple[list[Decision], dict]]:
    out = {}
    for name in (
        "2023-01-10_MBU_raadmandsmoede.pdf",
        "2023-02-23_MSB_raadmandsmoede.pdf",
        "2023-03-23_MSB_raadmandsmoede.pdf",
    ):
        meeting, sections = parse_document(extract_pages(CORPUS / name))
        chunks = make_chunks(meeting, sections)
        out[name] = (extract_decisions(meeting, sections, chunks), {c.chunk_id: c for c in chunks})
    return out


def _decision(parsed, document: str, punkt: int, title_part: str) -> Decision:
    found = [
        d for d in parsed[document][0] if d.punkt == punkt and title_part in d.punkt_title
    ]
    assert len(found) == 1, [d.punkt_title for d in parsed[document][0] if d.punkt == punkt]
    return found[0]


def test_mbu_minutes(parsed) -> None:
    doc = "2023-01-10_MBU_raadmandsmoede.pdf"
    p1 = _decision(parsed, doc, 1, "Godkendelse af referat")
    assert p1.text == "Referatet blev godkendt."
    assert p1.outcome == "godkendt"
    assert not p1.closed
    p2 = _decision(parsed, doc, 2, "Arbejdspakkerne")
    assert p2.outcome == "taget til efterretning"
    assert p2.followups == ["OKJ"]
    assert "Orientering blev taget til efterretning." in p2.text
    # the Indstilling text before "Beslutninger" is not part of the decision
    assert "Orienteringen tages til efterretning" not in p2.text
    assert p2.committee == "MBU" and p2.date == "2023-01-10"


def test_open_copy_preferred_over_closed_copy(parsed) -> None:
    decisions = parsed["2023-01-10_MBU_raadmandsmoede.pdf"][0]
    punkt2 = [d for d in decisions if d.punkt == 2 and "Arbejdspakkerne" in d.punkt_title]
    assert len(punkt2) == 1 and not punkt2[0].closed


def test_closed_item_decision_is_closed(parsed) -> None:
    doc = "2023-01-10_MBU_raadmandsmoede.pdf"
    decision = _decision(parsed, doc, 10, "Pasningsgaranti")
    assert decision.closed
    assert decision.outcome == "godkendt"
    assert decision.followups == ["NH"]
    assert parsed[doc][1][decision.chunk_id].closed


def test_opgang_til_opgang(parsed) -> None:
    doc = "2023-03-23_MSB_raadmandsmoede.pdf"
    decision = _decision(parsed, doc, 4, "Opgang til Opgang")
    assert decision.outcome == "godkendt"
    assert decision.followups == ["Vibeke Jensen"]
    assert "overgangsfinansiering" in decision.text
    chunk = parsed[doc][1][decision.chunk_id]
    assert chunk.punkt == 4 and "overgangsfinansiering" in chunk.text
    assert chunk.page_start <= decision.page <= chunk.page_end


def test_referat_outcomes(parsed) -> None:
    doc = "2023-02-23_MSB_raadmandsmoede.pdf"
    assert _decision(parsed, doc, 3, "Blandede Bydele").outcome == "ikke godkendt"
    assert _decision(parsed, doc, 7, "dagpengeregler").outcome == "taget til efterretning"
    assert _decision(parsed, doc, 8, "Ukraine").outcome == "drøftet"
    assert _decision(parsed, doc, 4, "SOSU").outcome == "godkendt"
    veteran = _decision(parsed, doc, 3, "planteskolen")
    assert veteran.followups == ["OL"]
    doc = "2023-03-23_MSB_raadmandsmoede.pdf"
    assert _decision(parsed, doc, 3, "Samarbejdsaftale").followups == ["Lotte Henriksen"]
    assert _decision(parsed, doc, 3, "klimapuljen").followups == ["MØB"]


def test_items_without_decision_text_are_skipped(parsed) -> None:
    for decisions, _ in parsed.values():
        for d in decisions:
            assert "intet til referat" not in d.text.lower()


def test_every_decision_points_at_its_chunk(parsed) -> None:
    for decisions, chunks in parsed.values():
        assert decisions
        for d in decisions:
            chunk = chunks[d.chunk_id]
            assert d.outcome in OUTCOMES
            assert chunk.punkt == d.punkt and chunk.closed == d.closed
            assert d.text.split("\n")[0][:60] in chunk.text


@pytest.mark.parametrize(
    "text, outcome",
    [
        ("Indstillingen godkendes ikke.", "ikke godkendt"),
        ("Det fremsendte materiale kunne ikke godkendes i sin nuværende form.", "ikke godkendt"),
        ("Orienteringen tages til efterretning.", "taget til efterretning"),
        ("1) taget til efterretning\n2) godkendt", "taget til efterretning"),
        ("Rådmandskredsen drøftede status.", "drøftet"),
        ("Sagen udsættes til næste møde.", "udsat"),
        ("Sagen sendes videre til byrådet.", "fremsendt"),
        ("Indstillingen videresendes til Magistraten.", "fremsendt"),
        ("Rådmanden godkendte indstillingen.", "godkendt"),
        ("Rådmanden godkender at der arbejdes videre. 2 og 3) Drøftet.", "godkendt"),
        ("KM orienterede om Skødstrup Skole.", "andet"),
        ("med henblik på rådmandens godkendelse", "andet"),
    ],
)
def test_classify_outcome(text: str, outcome: str) -> None:
    assert classify_outcome(text) == outcome


@pytest.mark.parametrize(
    "text, owners",
    [
        ("(OKJ følger op)", ["OKJ"]),
        ("Der skal udarbejdes en beskrivelse om luftrensere (NH følger op)", ["NH"]),
        ("magistratsafdelinger. Vibeke Jensen følger op.", ["Vibeke Jensen"]),
        ("forvejen. Lotte\nHenriksen følger op.", ["Lotte Henriksen"]),
        ("rådmandsmøde. MØB følger op. Senere: MØB følger op.", ["MØB"]),
        ("Ingen opfølgning her.", []),
    ],
)
def test_find_followups(text: str, owners: list[str]) -> None:
    assert find_followups(text) == owners


def test_decision_core_strips_heading_and_logistics() -> None:
    text = (
        "Punkt 7: Kompenserede klimahandlinger – solceller på\nBørn og Unges tagflader (NH)\n"
        "Tid: 10 min. Deltagere: Cecilie Sandkvist Adamsen\n"
        "Beslutning for Punkt 7: Kompenserede klimahandlinger –\nsolceller på Børn og Unges "
        "tagflader (NH)\nIndstilling om, at rådmanden godkender:\n"
        "Cecilie Sandkvist Adamsen og Anne Marie Due Schmidt deltog.\nBeslutninger:\n"
        "• Rådmanden godkendte indstillingen.\n(NH følger op)"
    )
    core = decision_core(text, 7, "Kompenserede klimahandlinger – solceller på Børn og Unges "
                         "tagflader (NH)")
    assert core == "• Rådmanden godkendte indstillingen.\n(NH følger op)"
