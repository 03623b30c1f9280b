"""Cited answers on the real sample index: extractive answers, refusals, closed items,
and the generative mode against a real local OpenAI-compatible HTTP server."""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from kommunesoeg.core.results import Filters
from retriever.answer import CLOSED_NOTICE, NO_ANSWER, split_sentences
from retriever.generative import cited_sentences

pytest_plugins = ["fixtures_index"]

DEV = Path(__file__).resolve().parent.parent / "eval" / "dev-questions.jsonl"
if not DEV.exists():
    DEV = Path(__file__).resolve().parent.parent / "eval" / "dev-questions.jsonl"
QUESTIONS = {q["id"]: q for q in map(json.loads, DEV.read_text(encoding="utf-8").splitlines())}
OPGANG_DOC = "2023-03-23_MSB_raadmandsmoede.pdf"
CLOSED_TEXT = "FAQ. Overvejelse om det skal på Aarhus.dk"


def _norm(text: str) -> str:
    return " ".join(text.split()).casefold()


@pytest.fixture(scope="module")
def searcher(sample_index):
    from retriever.search import Searcher

    return Searcher(sample_index)


def _assert_faithful(answer) -> None:
    """Every answer sentence is quoted from the passage its [n] points to."""
    assert answer.sentences
    for sentence in answer.sentences:
        assert sentence.citations
        for n in sentence.citations:
            assert 1 <= n <= len(answer.citations)
        cited = answer.citations[sentence.citations[0] - 1]
        assert _norm(sentence.text) in _norm(" ".join(cited.text.split())), sentence.text
        assert f"{sentence.text} [{sentence.citations[0]}]" in answer.answer


def test_opgang_til_opgang_decision(searcher) -> None:
    answer = searcher.ask("Hvad blev besluttet om Opgang til Opgang?")
    assert not answer.insufficient_evidence
    _assert_faithful(answer)
    assert "overgangsfinansiering" in answer.answer
    assert "andet halvår af 2023" in answer.answer
    first = answer.sentences[0]
    source = answer.citations[first.citations[0] - 1]
    assert source.document == OPGANG_DOC and source.punkt == 4
    assert "Punkt 4" in source.citation() and "23.03.2023" in source.citation()
    assert source.outcome == "godkendt"


@pytest.mark.parametrize("qid", ["d01", "d02", "d04", "d06", "d16"])
def test_dev_answers_quote_the_evidence(searcher, qid: str) -> None:
    q = QUESTIONS[qid]
    answer = searcher.ask(q["question"])
    assert not answer.insufficient_evidence
    _assert_faithful(answer)
    assert any(_norm(e) in _norm(h.text) for h in answer.citations for e in q["evidence"])


def test_who_follows_up_a_decision_is_quoted_with_it(searcher) -> None:
    """The minutes' follow-up line completes the decision the question is about, though it
    shares only "følge op" with the question."""
    answer = searcher.ask(
        "Hvem skal følge op på, at der fremsendes et overblik over tværgående puljer?")
    _assert_faithful(answer)
    assert "der fremsendes et overblik over tværgående puljer" in answer.answer
    assert "MØB følger op." in answer.answer


def test_a_lead_in_is_quoted_with_the_list_it_introduces(searcher) -> None:
    answer = searcher.ask("Hvor mange delindsatser består samarbejdsaftalen om børn og unge i "
                          "psykisk mistrivsel af, og hvilke?")
    _assert_faithful(answer)
    assert "Samarbejdsaftalen består af tre delindsatser:" in answer.answer
    for part in ("Oprettelse af kommunikationsvej mellem almen praksis og kommuner",
                 "Rådgivning fra Børne- og Ungdomspsykiatrisk Afdeling"):
        assert part in answer.answer


def test_english_question_gets_danish_quotes(searcher) -> None:
    q = QUESTIONS["d15"]
    answer = searcher.ask(q["question"])
    assert not answer.insufficient_evidence
    _assert_faithful(answer)
    assert "efterfølgende udvalgsmøde" in answer.answer


def test_english_question_gets_an_english_frame_around_verbatim_quotes(searcher) -> None:
    answer = searcher.ask("What was decided about Opgang til Opgang?")
    assert not answer.insufficient_evidence
    _assert_faithful(answer)  # the Danish sentences are quoted verbatim, each with its [n]
    first = answer.citations[answer.sentences[0].citations[0] - 1]
    assert first.section == "beslutning" and first.outcome == "godkendt"
    assert answer.answer.startswith(
        f"The minutes of {first.meeting}, 23 March 2023, item 4, p. {first.page_start}, say: «"
    )
    assert "» (approved; follow-up: Vibeke Jensen)" in answer.answer
    assert "overgangsfinansiering for Projekt Opgang til Opgang" in answer.answer
    # a Danish question keeps a Danish frame
    danish = searcher.ask("Hvad blev besluttet om Opgang til Opgang?")
    assert "say:" not in danish.answer
    assert danish.answer.startswith("Beslutning på MSB Rådmandsmøde den 23. marts 2023, Punkt 4: ")
    assert "(godkendt; Vibeke Jensen følger op)" in danish.answer


def test_english_frame_names_each_source_and_translates_only_labels() -> None:
    from dataclasses import replace

    from kommunesoeg.core.results import AnswerSentence, Hit
    from retriever.answer import _english_text

    base = Hit(rank=1, score=1.0, chunk_id="a", text="", document="d.pdf",
               meeting="MBU Rådmandsmøde", committee="MBU", date="2023-01-10", punkt=3,
               punkt_title="T", bilag=2, bilag_title="B", page_start=4, page_end=5,
               section="tekst", closed=False)
    minutes = replace(base, rank=2, chunk_id="b", bilag=None, page_start=7, page_end=7,
                      section="beslutning", outcome="taget til efterretning")
    sentences = [AnswerSentence("Budgettet er 3 mio. kr.", [1]),
                 AnswerSentence("Det blev taget til efterretning.", [2])]
    assert _english_text(sentences, [base, minutes]) == (
        "The documents of MBU Rådmandsmøde, 10 January 2023, item 3, attachment 2, p. 4-5, "
        "say: «Budgettet er 3 mio. kr. [1]» "
        "The minutes of MBU Rådmandsmøde, 10 January 2023, item 3, p. 7, "
        "say: «Det blev taget til efterretning. [2]» (noted)"
    )


@pytest.mark.parametrize("qid", ["d19", "d20"])
def test_unanswerable_questions_are_refused(searcher, qid: str) -> None:
    answer = searcher.ask(QUESTIONS[qid]["question"])
    assert answer.insufficient_evidence
    assert answer.answer == f"{NO_ANSWER} {CLOSED_NOTICE}"  # the public is told closed items exist
    assert answer.sentences == []
    assert answer.citations  # the nearest passages are still shown


def test_closed_item_never_reaches_public(searcher) -> None:
    question = QUESTIONS["d17"]["question"]
    public = searcher.ask(question, role="public")
    assert all(not h.closed for h in public.citations)
    assert CLOSED_TEXT.casefold() not in _norm(public.answer)
    assert all(CLOSED_TEXT.casefold() not in _norm(h.text) for h in public.citations)
    for hit in searcher.search("Pasningsgaranti FAQ Aarhus.dk", k=50, role="public"):
        assert not hit.closed and "Pasningsgaranti" not in (hit.punkt_title or "")

    internal = searcher.ask(question, role="internal")
    assert not internal.insufficient_evidence
    assert any(h.closed and h.punkt == 10 for h in internal.citations)
    assert any(CLOSED_TEXT.casefold() in _norm(h.text) for h in internal.citations)


def test_filters_restrict_the_evidence(searcher) -> None:
    answer = searcher.ask(
        "Hvad blev besluttet om Opgang til Opgang?", filters=Filters(committees=["MBU"])
    )
    assert all(h.committee == "MBU" for h in answer.citations)


def test_split_sentences_strips_heading_and_bullets() -> None:
    text = (
        "Punkt 4: Projekt Opgang til Opgang – videre proces med finansiering\nog forankring\n"
        "1) Rådmanden godkender at der arbejdes videre. Vibeke Jensen følger op.\n"
        "• Projektet er omkostningstungt i opstartsfasen, men tjener sig hjem efter 4-5 år.\n"
        "Der blev afsat 1,4 mio. kr. i 2023 til videreuddannelse."
    )
    assert split_sentences(
        text, 4, "Projekt Opgang til Opgang – videre proces med finansiering og forankring"
    ) == [
        "1) Rådmanden godkender at der arbejdes videre.",
        "Vibeke Jensen følger op.",
        "Projektet er omkostningstungt i opstartsfasen, men tjener sig hjem efter 4-5 år.",
        "Der blev afsat 1,4 mio. kr. i 2023 til videreuddannelse.",
    ]


# ----------------------------------------------------------------------------- generative
def test_cited_sentences_drops_uncited_and_out_of_range() -> None:
    reply = (
        "Rådmanden godkendte indstillingen [1]. Det er et godt projekt. "
        "Der skal findes en overgangsfinansiering [2][9]. Noget opdigtet [7]. "
        "Vibeke Jensen følger op. [1]"
    )
    kept = cited_sentences(reply, 3)
    assert [(s.text, s.citations) for s in kept] == [
        ("Rådmanden godkendte indstillingen.", [1]),
        ("Der skal findes en overgangsfinansiering.", [2]),
        ("Vibeke Jensen følger op.", [1]),
    ]


class _FakeChat(BaseHTTPRequestHandler):
    """An OpenAI-compatible /chat/completions endpoint returning a canned reply."""

    reply: ClassVar[str] = ""
    requests: ClassVar[list[dict]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append({"path": self.path, "body": body,
                                    "auth": self.headers.get("Authorization")})
        payload = {"choices": [{"message": {"role": "assistant", "content": type(self).reply}}]}
        data = json.dumps(payload).encode("utf-8")
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def fake_llm(monkeypatch):
    server = HTTPServer(("127.0.0.1", 0), _FakeChat)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("KOMMUNESOEG_LLM_URL", f"http://127.0.0.1:{server.server_port}/v1")
    monkeypatch.setenv("KOMMUNESOEG_LLM_MODEL", "test-model")
    monkeypatch.setenv("KOMMUNESOEG_LLM_API_KEY", "hemmelig")
    _FakeChat.requests = []
    yield _FakeChat
    server.shutdown()
    server.server_close()


def test_generative_answer_keeps_only_cited_sentences(searcher, fake_llm) -> None:
    fake_llm.reply = (
        "Rådmanden godkendte, at der findes en overgangsfinansiering for andet halvår 2023 [1]. "
        "Projektet er i øvrigt meget dyrt. Vibeke Jensen følger op [1][42]. Uden kilde her."
    )
    answer = searcher.ask("Hvad blev besluttet om Opgang til Opgang?",
                             mode="generative")
    assert answer.mode == "generative"
    assert [s.text for s in answer.sentences] == [
        "Rådmanden godkendte, at der findes en overgangsfinansiering for andet halvår 2023.",
        "Vibeke Jensen følger op.",
    ]
    assert all(s.citations == [1] for s in answer.sentences)
    assert len(answer.citations) == 1
    assert "dyrt" not in answer.answer and "Uden kilde" not in answer.answer
    request = fake_llm.requests[0]
    assert request["path"] == "/v1/chat/completions"
    assert request["body"]["model"] == "test-model"
    assert request["auth"] == "Bearer hemmelig"
    prompt = request["body"]["messages"][-1]["content"]
    assert "[1]" in prompt and "overgangsfinansiering" in prompt


def test_generative_without_citations_falls_back_to_extractive(searcher, fake_llm) -> None:
    fake_llm.reply = "Der blev truffet en beslutning. Den var god."
    answer = searcher.ask("Hvad blev besluttet om Opgang til Opgang?",
                             mode="generative")
    assert answer.mode == "extractive"
    assert "overgangsfinansiering" in answer.answer
    assert len(fake_llm.requests) == 1


def test_generative_unreachable_endpoint_falls_back(searcher, monkeypatch) -> None:
    monkeypatch.setenv("KOMMUNESOEG_LLM_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("KOMMUNESOEG_LLM_TIMEOUT", "2")
    answer = searcher.ask("Hvad blev besluttet om Opgang til Opgang?",
                             mode="generative")
    assert answer.mode == "extractive" and not answer.insufficient_evidence


def test_answer_markers_match_citations(searcher) -> None:
    answer = searcher.ask(QUESTIONS["d03"]["question"])
    numbers = {int(n) for n in re.findall(r"\[(\d+)\]", answer.answer)}
    assert numbers == set(range(1, len(answer.citations) + 1))


def test_internal_refusal_has_no_closed_notice_and_english_refusal_is_english(searcher) -> None:
    internal = searcher.ask(QUESTIONS["d19"]["question"], role="internal")
    assert internal.insufficient_evidence and internal.answer == NO_ANSWER
    from retriever.answer import CLOSED_NOTICE_EN, NO_ANSWER_EN

    english = searcher.ask("How many parking tickets did the municipality issue in 2019?")
    assert english.insufficient_evidence
    assert english.answer == f"{NO_ANSWER_EN} {CLOSED_NOTICE_EN}"


def test_whether_something_shall_be_done_is_answered_from_the_decision(searcher) -> None:
    """"Skulle titlen ændres?" is settled by the minutes' "Beslutninger", not by the
    Indstilling that proposed the report (MBU rådmandsmøde 10 January 2023, Punkt 5)."""
    answer = searcher.ask("Skulle titlen på kvalitetsrapporten for 0-6-årsområdet ændres?",
                          role="public")
    assert answer.answer.startswith("Titlen på rapporten skal ændres.")
    assert "Drøfter og godkender" not in answer.answer


@pytest.mark.parametrize(
    "question",
    ["Skal kvalitetsrapporten 2023 for 0-6-årsområdet have normeringsdata med?",
     "Er der afsat tid til status på UC Gadeplan på udvalgsmødet den 1. marts 2023?"],
)
def test_danish_words_shared_with_english_keep_a_danish_answer(question) -> None:
    from retriever.answer import is_english

    assert not is_english(question)  # "for", "have", "at", "to" are Danish words too
    assert is_english("Had MSB received any proposals from MBU for joint initiatives?")


def test_a_question_the_minutes_record_as_raised_is_quoted(searcher) -> None:
    """The MSB rådmandsmøde of 23 March 2023 records, under Opgang til Opgang, the question
    "Er der mulighed for at skaffe finansiering via fonde?" as raised by the rådmandskreds:
    asked whether that came up, the answer quotes it (a question in a passage is otherwise
    rarely its answer)."""
    answer = searcher.ask("Foreslog rådmandskredsen fondsfinansiering af Opgang til Opgang?",
                          role="public")
    assert "Er der mulighed for at skaffe finansiering via fonde?" in answer.answer


def test_a_question_asking_two_things_gets_both_answers(searcher) -> None:
    # "how much" alone would keep only sentences with an amount, and lose how it is shared
    answer = searcher.ask("Hvor mange penge om året er der afsat til en "
                          "hjernerystelseskoordinator, og hvordan deles udgiften?")
    assert not answer.insufficient_evidence
    assert "0,5 mio. kr. om året" in answer.answer
    assert "finansieres ligeligt" in answer.answer


def test_the_labelled_field_answers_for_its_form(searcher) -> None:
    answer = searcher.ask(
        "Hvornår og hvor holder Social- og Beskæftigelsesudvalget møde den 29. marts 2023?")
    assert "Mødetid: Kl. 18.15 – 20.00" in answer.answer


@pytest.mark.parametrize(
    "question",
    [
        # the subject is in the documents, the asked value is not: "i et år", "Afsnit 7",
        # "fem medarbejdere" count no refugees, years of the agreement or children
        "Hvor mange ukrainske flygtninge har Børn og Unge kapacitet til at indkvartere?",
        "Hvor mange år løber partnerskabsaftalen mellem Aarhus Kommune og Børns Vilkår?",
        "Hvor mange børn står på venteliste til det Tværgående Trivselsteam?",
    ],
)
def test_a_count_of_something_else_is_no_answer(searcher, question: str) -> None:
    assert searcher.ask(question).insufficient_evidence


def test_letterhead_is_never_quoted(searcher) -> None:
    answer = searcher.ask("Who took part in the cross-departmental theme meeting held on 12 "
                          "January 2023?")
    assert "Antal tegn" not in answer.answer and "8000 Aarhus C" not in answer.answer
    assert "Ansvarlig:" not in answer.answer  # "took part" names no responsible person


def test_a_long_decision_is_quoted_where_the_question_points_past_its_first_700_chars(
        searcher) -> None:
    answer = searcher.ask("Hvad blev der besluttet om videoen til problemforståelsen 'Blandede "
                          "Bydele og Integration', og hvem skal være med til at lave oplægget?")
    assert answer.decision is not None
    assert "oplæg udarbejdes i samarbejde med Kommunikationsteamet" in answer.answer
    _assert_faithful(answer)


def test_permission_asked_is_answered_by_the_decision_not_the_proposal(searcher) -> None:
    answer = searcher.ask("Fik Børn og Unge lov til at søge kommunens klimapenge til et projekt "
                          "om mere klimavenlig mad, som børnene selv kan lide?")
    assert "godkendte rådmanden, at der sendes en ansøgning" in answer.answer
    assert "Drøfter og giver mandat" not in answer.answer  # the Indstilling


def test_neighbouring_units_are_quoted_as_printed(searcher) -> None:
    answer = searcher.ask("Var der nogen i rådmandskredsen, der var bekymrede for, at den nye "
                          "aftale med regionen om børn, der har det psykisk svært, bare giver "
                          "mere bureaukrati?")
    assert "Hvad bringer samarbejdsaftalen med? – er det et yderligere administrativt lag" in (
        answer.answer)


def test_a_participants_field_is_not_quoted_beside_the_answer(searcher) -> None:
    answer = searcher.ask("Hvad blev der noteret om finansiering og anbefalet af "
                          "oplægsholderen, da arbejdspakkerne under EUD-indsatsen var på MBU's "
                          "rådmandsmøde den 10. januar 2023?")
    assert not answer.insufficient_evidence
    assert "Deltagere:" not in answer.answer  # not asked; it only stands next to the answer
