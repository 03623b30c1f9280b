"""Precedents and timelines on the real sample index."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from indexer.errors import InvalidQuery
from retriever.models import OUTCOMES, Filters
from retriever.precedents import case_windows, find_precedents
from retriever.timeline import build_timeline

pytest_plugins = ["fixtures_index"]

DEV = Path(__file__).resolve().parent.parent / "eval" / "dev-questions.jsonl"
if not DEV.exists():
    DEV = Path(__file__).resolve().parent.parent / "eval" / "dev-questions.jsonl"
QUESTIONS = {q["id"]: q for q in map(json.loads, DEV.read_text(encoding="utf-8").splitlines())}


def _norm(text: str) -> str:
    return " ".join(text.split()).casefold()


@pytest.fixture(scope="module")
def searcher(sample_index):
    from retriever.search import Searcher

    return Searcher(sample_index)


@pytest.mark.parametrize("qid", ["d12", "d13"])
def test_dev_precedent_evidence_in_top5(searcher, qid: str) -> None:
    q = QUESTIONS[qid]
    rows = find_precedents(searcher, q["question"], k=5)
    assert len(rows) == 5
    assert any(
        _norm(e) in _norm(row.citation.text) for row in rows for e in q["evidence"]
    ), [row.citation.citation() for row in rows]


def test_one_row_per_agenda_item_with_decision(searcher) -> None:
    case = (
        "Forvaltningen foreslår at videreføre et boligsocialt projekt for sårbare "
        "børnefamilier i udsatte boligområder, hvor forældre med lang tids ledighed hjælpes i "
        "arbejde. Projektets finansiering udløber, og der søges overgangsfinansiering."
    )
    rows = find_precedents(searcher, case, k=10)
    keys = [(r.document, r.punkt, r.punkt_title, r.citation.bilag) for r in rows]
    assert len(keys) == len(set(keys))
    assert [r.rank for r in rows] == list(range(1, len(rows) + 1))
    assert all(a.score >= b.score for a, b in itertools.pairwise(rows))
    top = rows[0]
    assert top.document == "2023-03-23_MSB_raadmandsmoede.pdf" and top.punkt == 4
    assert top.outcome == "godkendt"
    assert "overgangsfinansiering" in top.decision_text
    assert top.followups == ["Vibeke Jensen"]
    assert all(r.outcome in OUTCOMES for r in rows)


def test_long_case_is_embedded_in_windows(searcher) -> None:
    long_case = " ".join(
        [QUESTIONS["d12"]["question"]] * 3
        + ["Sagen vedrører også ungdomsuddannelser, mentorordninger og fritidsjob."] * 40
    )
    assert len(long_case) > 2000
    windows = case_windows(long_case)
    assert 1 < len(windows) <= 12 and all(len(w) <= 1300 for w in windows)
    rows = find_precedents(searcher, long_case, k=5)
    assert rows and all(r.citation.text for r in rows)


def test_public_precedents_never_show_closed_items(searcher) -> None:
    case = "Pasningsgaranti: kommunikation til forældre, FAQ på Aarhus.dk og interview med pressen."
    public = find_precedents(searcher, case, k=20, role="public")
    assert all(not r.citation.closed for r in public)
    assert all("Pasningsgaranti" not in r.punkt_title for r in public)
    internal = find_precedents(searcher, case, k=20, role="internal")
    assert any("Pasningsgaranti" in r.punkt_title for r in internal)


def test_empty_case_is_rejected(searcher) -> None:
    with pytest.raises(InvalidQuery, match="case"):
        find_precedents(searcher, "   ")


def test_timeline_opgang(searcher) -> None:
    entries = build_timeline(searcher, "Opgang til Opgang")
    assert entries
    assert [e.date for e in entries] == sorted(e.date for e in entries)
    opgang = [e for e in entries if "Opgang" in e.punkt_title]
    assert opgang and opgang[0].outcome == "godkendt"
    assert opgang[0].citation.punkt == 4 and "overgangsfinansiering" in opgang[0].citation.text
    # unrelated decisions of the same meetings stay off the timeline
    assert all("Klimafond" not in e.punkt_title and "Ukraine" not in e.punkt_title
               for e in entries)


def test_timeline_across_meetings_oldest_first(searcher) -> None:
    entries = build_timeline(searcher, "Ukraine og ukrainske flygtninge")
    dates = [e.date for e in entries]
    assert "2023-02-23" in dates
    assert dates == sorted(dates)


def test_timeline_respects_role_and_filters(searcher) -> None:
    public = build_timeline(searcher, "pasningsgaranti", role="public")
    assert all(not e.citation.closed for e in public)
    internal = build_timeline(searcher, "pasningsgaranti", role="internal")
    assert any(e.citation.closed and "Pasningsgaranti" in e.punkt_title for e in internal)
    only_mbu = build_timeline(searcher, "Opgang til Opgang", filters=Filters(committees=["MBU"]))
    assert all(e.committee == "MBU" for e in only_mbu)
