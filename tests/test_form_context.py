"""Agenda forms across passage boundaries, on the real sample index.

The committee agendas attached to the MSB rådmandsmøder run over several passages: a
field line ("Tid: 19.05 – 19.30 (25 min.)") may stand a passage below its entry heading
("5. Status på UC Gadeplan") and the line stating the meeting date. These tests check that
a passage inherits both from the passages before it - never from a closed one for the
public - and that answers use it: the duration and the person asked for come from the
entry the question names, at the meeting it names.
"""

from __future__ import annotations

import itertools

import pytest

from kommunesoeg.core.results import Filters, Hit
from retriever.form_context import CarriedContext, carried_context, continuation, open_entry
from retriever.hits import hit_for

pytest_plugins = ["fixtures_index"]

DOC_FEB = "2023-02-23_MSB_raadmandsmoede.pdf"
DOC_MAR = "2023-03-23_MSB_raadmandsmoede.pdf"


@pytest.fixture(scope="module")
def searcher(sample_index):
    from retriever.search import Searcher

    return Searcher(sample_index)


def _as_hit(searcher, chunk) -> Hit:
    """`chunk` as the search would return it (`hits.hit_for`)."""
    view = searcher.view
    return hit_for(view, 1, 0.0, view.canonical_id(chunk.chunk_id), chunk, "internal")


def _chunks(searcher, document: str) -> list:
    view = searcher.view
    return [c for c in (view.chunk(cid) for cid in view.rows.canonical_ids)
            if c.document == document]


def _holding(searcher, document: str, text: str):
    found = [c for c in _chunks(searcher, document) if text in c.text]
    assert len(found) == 1, f"{text!r} in {len(found)} passages of {document}"
    return found[0]


def test_a_field_below_its_entry_inherits_the_entry_and_the_form_date(searcher) -> None:
    chunk = _holding(searcher, DOC_FEB, "Tid: 19.05 – 19.30 (25 min.)")
    # the premise: the entry heading and the date line stand in earlier passages
    assert "5. Status på UC Gadeplan" not in chunk.text and "Mødedato" not in chunk.text
    carried = carried_context(searcher.view, _as_hit(searcher, chunk), "public")
    assert carried.entry == "5. Status på UC Gadeplan"
    assert "1. marts 2023" in carried.form_date


def test_nothing_is_carried_out_of_a_closed_passage_for_the_public(searcher) -> None:
    """In the agenda of 29 March 2023, closed entry 6 is followed by open entry 7: the
    public reads nothing back through the closed passage, an internal user does."""
    chunks = _chunks(searcher, DOC_MAR)
    pairs = [(a, b) for a, b in itertools.pairwise(chunks)
             if (a.punkt, a.bilag) == (b.punkt, b.bilag) and a.closed and not b.closed]
    assert pairs, "the sample agenda has a closed passage followed by an open one"
    closed, after = pairs[0]
    assert carried_context(searcher.view, _as_hit(searcher, after), "public") == CarriedContext()
    internal = carried_context(searcher.view, _as_hit(searcher, after), "internal")
    assert internal.entry == "6. Sygedagpenge regres (lukket punkt)"
    assert "29. marts 2023" in internal.form_date
    before = chunks[chunks.index(closed) - 1]
    assert continuation(searcher.view, _as_hit(searcher, before), "public", Filters()) is None
    following = continuation(searcher.view, _as_hit(searcher, before), "internal", Filters())
    assert following is not None and following.chunk_id == closed.chunk_id


def test_the_entry_open_at_the_end_of_a_passage(searcher) -> None:
    chunk = _holding(searcher, DOC_MAR, "4. Status på MSB’s mål og økonomi, regnskab 2022\nBaggrund")
    assert open_entry(_as_hit(searcher, chunk), "") == "4. Status på MSB’s mål og økonomi, regnskab 2022"
    following = continuation(searcher.view, _as_hit(searcher, chunk), "public", Filters())
    assert following is not None and "Ansvarlig: Michael Justesen" in following.text


def test_a_duration_asked_for_an_entry_is_the_entrys_time_field(searcher) -> None:
    answer = searcher.ask("Hvor lang tid er der sat af til status på UC Gadeplan på "
                          "udvalgsmødet den 1. marts 2023?", role="public")
    assert not answer.insufficient_evidence
    assert "Tid: 19.05 – 19.30 (25 min.)" in answer.answer
    assert "18.18 – 18.20" not in answer.answer  # another entry's time field


def test_the_person_responsible_is_the_named_entrys_field(searcher) -> None:
    answer = searcher.ask("Hvem er ansvarlig for punktet om status på MSB's mål og økonomi "
                          "på udvalgsmødet den 29. marts 2023?", role="public")
    assert not answer.insufficient_evidence
    assert "Michael Justesen" in answer.answer
    assert "Eva Borchorst Mejnertz" not in answer.answer
