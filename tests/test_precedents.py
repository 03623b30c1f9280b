"""Precedents and timelines on the real sample index."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from kommunesoeg.core.errors import InvalidQuery
from kommunesoeg.core.outcomes import OUTCOMES
from kommunesoeg.core.results import Filters
from retriever.precedents import case_windows

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
    rows = searcher.precedents(q["question"], k=5)
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
    rows = searcher.precedents(case, k=10)
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
    rows = searcher.precedents(long_case, k=5)
    assert rows and all(r.citation.text for r in rows)


def test_public_precedents_never_show_closed_items(searcher) -> None:
    case = "Pasningsgaranti: kommunikation til forældre, FAQ på Aarhus.dk og interview med pressen."
    public = searcher.precedents(case, k=20, role="public")
    assert all(not r.citation.closed for r in public)
    assert all("Pasningsgaranti" not in r.punkt_title for r in public)
    internal = searcher.precedents(case, k=20, role="internal")
    assert any("Pasningsgaranti" in r.punkt_title for r in internal)


def test_empty_case_is_rejected(searcher) -> None:
    with pytest.raises(InvalidQuery, match="case"):
        searcher.precedents("   ")


def test_timeline_opgang(searcher) -> None:
    entries = searcher.timeline("Opgang til Opgang")
    assert entries
    assert [e.date for e in entries] == sorted(e.date for e in entries)
    opgang = [e for e in entries if "Opgang" in e.punkt_title]
    assert opgang and opgang[0].outcome == "godkendt"
    assert opgang[0].citation.punkt == 4 and "overgangsfinansiering" in opgang[0].citation.text
    # unrelated decisions of the same meetings stay off the timeline
    assert all("Klimafond" not in e.punkt_title and "Ukraine" not in e.punkt_title
               for e in entries)


def test_timeline_across_meetings_oldest_first(searcher) -> None:
    entries = searcher.timeline("Ukraine og ukrainske flygtninge")
    dates = [e.date for e in entries]
    assert "2023-02-23" in dates
    assert dates == sorted(dates)


def test_timeline_respects_role_and_filters(searcher) -> None:
    public = searcher.timeline("pasningsgaranti", role="public")
    assert all(not e.citation.closed for e in public)
    internal = searcher.timeline("pasningsgaranti", role="internal")
    assert any(e.citation.closed and "Pasningsgaranti" in e.punkt_title for e in internal)
    only_mbu = searcher.timeline("Opgang til Opgang", filters=Filters(committees=["MBU"]))
    assert all(e.committee == "MBU" for e in only_mbu)


# ----------------------------------------------------------------------------- case input
# One reader and one preparation for the CLI, the app and the library (issue 9, findings 5
# and 6): garbage gets a clear message instead of ten "similar cases", a FIFO or /dev/zero
# is one line instead of a hang or a full memory.
CASE = (
    "Forvaltningen foreslår at videreføre et boligsocialt projekt for sårbare børnefamilier, "
    "hvor forældre med lang tids ledighed hjælpes i arbejde. Der søges overgangsfinansiering."
)


@pytest.mark.parametrize(
    "garbage",
    [
        "asdkjh qwpoeiru zmxncb lkjqwe poiuzx mnbvcx",  # keyboard mashing: no archive word
        "x" * 5000,
        "%$#@! 12345 ... ---- //// ???? 98765 &&&& ****",
        "k8#Dz!pQ2 v@9Lm%3x Tq7&wZ1 b$4Hn^8y " * 20,
        "\ufffd\ufffd\ufffd \ufffd\ufffd \ufffd" * 50,  # what a wrong decoding leaves
    ],
    ids=["mashing", "one-letter", "symbols", "line-noise", "replacement-chars"],
)
def test_garbage_case_gets_a_message_not_matches(searcher, garbage) -> None:
    with pytest.raises(InvalidQuery) as err:
        searcher.precedents(garbage, k=10)
    message = str(err.value)
    assert message.startswith("case:") and "\n" not in message


def test_a_real_case_still_finds_precedents_after_preparation(searcher) -> None:
    from retriever.casetext import prepare_case_text

    dirty = "\x00\x1b" + CASE.replace(" ", "\r\n", 3) + "\x07"
    prepared = prepare_case_text(dirty)
    assert prepared.startswith("Forvaltningen\nforeslår") and prepared.endswith("finansiering.")
    rows = searcher.precedents(dirty, k=3)
    assert rows and rows[0].punkt == 4


def test_case_text_over_the_cap_is_refused_not_cut() -> None:
    from retriever.casetext import MAX_CASE_CHARS, prepare_case_text

    with pytest.raises(InvalidQuery, match=r"^case: sagsteksten er for lang \(200\.001 tegn"):
        prepare_case_text("a" * (MAX_CASE_CHARS - 5) + " ord!!")


ENCODED = {
    "utf-8.txt": CASE.encode("utf-8"),
    "utf-8-bom.txt": CASE.encode("utf-8-sig"),
    "utf-16.txt": CASE.encode("utf-16"),
    "utf-16-be.txt": CASE.encode("utf-16-be"),
    "latin-1.txt": CASE.encode("latin-1"),
    "cp1252.txt": CASE.encode("cp1252"),
    "sag uden endelse": CASE.encode("utf-16-le"),
}


@pytest.mark.parametrize("name", list(ENCODED))
def test_case_file_in_any_common_encoding_reads_the_same(tmp_path, name) -> None:
    from retriever.casetext import read_case_file

    path = tmp_path / name
    path.write_bytes(ENCODED[name])
    assert read_case_file(path) == CASE


def test_case_pdf_is_read_through_the_extractor(tmp_path, corpus_dir) -> None:
    from retriever.casetext import case_text_from_bytes, read_case_file

    memo = corpus_dir / "2023-06-08_SBU_notat_relationel_velfaerd.pdf"
    text = read_case_file(memo)
    assert "relationel velfærd" in text
    # an upload is read from its bytes; its name is only used in messages
    assert case_text_from_bytes("../../x.pdf", memo.read_bytes()) == text


def _fifo(tmp_path):
    import os

    fifo = tmp_path / "sag.txt"
    os.mkfifo(fifo)
    return fifo


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (_fifo, "FIFO"),
        (lambda tmp: Path("/dev/zero"), "enhed"),
        (lambda tmp: tmp, "mappe"),
        (lambda tmp: tmp / "findes-ikke.txt", "kan ikke læses"),
        (lambda tmp: _bytes(tmp / "stor.txt", b"ord og flere ord. " * 300_000), "for stor"),
        (lambda tmp: _bytes(tmp / "tom.txt", b""), "tom"),
        (lambda tmp: _bytes(tmp / "binaer.txt", bytes(range(256)) * 100), "binær"),
        (lambda tmp: _bytes(tmp / "nul.txt", b"\x00" * 10_000), "NUL"),
        (lambda tmp: _bytes(tmp / "brudt.pdf", b"%PDF-1.7\n" + b"\x00" * 100), "afkortet"),
        (lambda tmp: _bytes(tmp / "skrald.txt", b"qwxz 1234 !!!! ####" * 10), "ligner ikke"),
    ],
    ids=["fifo", "dev-zero", "folder", "missing", "5MB-text", "empty", "binary", "nul-bytes",
         "broken-pdf", "garbage-text"],
)
def test_unusable_case_file_is_one_line_naming_it(tmp_path, make, expected) -> None:
    import time

    from retriever.casetext import read_case_file

    path = make(tmp_path)
    started = time.monotonic()
    with pytest.raises(InvalidQuery) as err:
        read_case_file(path)
    message = str(err.value)
    assert message.startswith(f"file: {path.name}:"), message
    assert expected in message and "\n" not in message
    assert time.monotonic() - started < 5  # never blocks, never reads without end


def _bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_app_prepares_the_case_like_the_cli(monkeypatch) -> None:
    """The app's upload/paste goes through the same functions: no 1,900-character cut, and
    a garbage upload is one warning, not a list of matches."""
    from kommunesoeg.ui import precedents as page

    shown: list[str] = []
    monkeypatch.setattr(page.st, "warning", shown.append)

    class Upload:
        name = "sag.txt"

        def __init__(self, data: bytes) -> None:
            self._data = data

        def getvalue(self) -> bytes:
            return self._data

    long_case = CASE + " " + " ".join(["Sagen handler også om mentorordninger."] * 80)
    assert len(long_case) > 1900
    assert page._case_text(long_case, None) == long_case  # whole, as the CLI passes it
    assert page._case_text("", Upload(long_case.encode("utf-16"))) == long_case
    assert page._case_text("", Upload(bytes(range(256)) * 50)) is None
    assert page._case_text("asdf !!! 1234", None) is None
    assert len(shown) == 2 and shown[0].startswith("Sagen kan ikke bruges: sag.txt:")
    assert not hasattr(page, "CASE_CHARS")
