"""Evaluation harness: relevance, ranx metrics, a real run on the sample index, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from eval.harness import EvalError, evaluate_config, ranking_metrics, run_evaluation
from eval.questions import Question, QuestionSetError, load_questions, resolve_doc
from eval.relevance import contains_evidence, is_relevant, judge_answer, normalise
from eval.report import markdown_table, per_type_table, to_json, write_png
from eval.results import ANSWER_METRICS, Variant
from kommunesoeg.core.results import Answer, Hit

# the sample corpus indexed once per test session, shared with the other index tests
pytest_plugins = ["fixtures_index"]

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "corpus"
DEV = ROOT / "eval" / "dev-questions.jsonl"
# Measured hybrid Recall@5 on the dev set, minus a margin for model/chunking drift.
HYBRID_RECALL5_FLOOR = 0.7


# --- relevance --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("udarbej- det", "udarbejdet"),  # line-break hyphen left by extraction
        ("udarbej-\n  det", "udarbejdet"),
        ("Udviklings- og omstillingsplanen", "udviklings-og   omstillingsplanen"),
        ("Mødetid:\tKl. 18.15 – 20.00", "mødetid: kl. 18.15 – 20.00"),
        ("UngeFrirum Aarhus’ er", "ungefrirum aarhus' er"),
        ("ﬁnansiering", "finansiering"),  # PDF ligature
    ],
)
def test_normalise_makes_wrapping_variants_equal(a: str, b: str) -> None:
    assert normalise(a) == normalise(b)


def test_normalise_keeps_different_words_apart() -> None:
    assert normalise("kl. 18.15 – 20.00") != normalise("kl. 18.15 20.00")
    assert normalise("Punkt 4") != normalise("Punkt 14")


def test_contains_evidence_across_pdf_line_wrap() -> None:
    passage = (
        "Beslutning:\nSom stor studieby er det særligt rele-\nvant, at der holdes godt øje med "
        "konsekventerne af de ændrede regler for dimittender, således at MSB sikrer"
    )
    assert contains_evidence(passage, ["Som stor studieby er det særligt relevant, at der"])
    assert contains_evidence(
        passage,
        [
            "no such text",
            "holdes godt øje med konsekventerne af de ændrede regler for dimittender, således at",
        ],
    )
    assert not contains_evidence(passage, ["Som lille studieby"])


def _hit(text: str, document: str, punkt: int | None) -> Hit:
    return Hit(
        rank=1,
        score=1.0,
        chunk_id="c",
        text=text,
        document=document,
        meeting="m",
        committee="SBU",
        date=None,
        punkt=punkt,
        punkt_title=None,
        bilag=None,
        bilag_title=None,
        page_start=1,
        page_end=1,
        section="tekst",
        closed=False,
    )


def test_item_relevance_without_evidence_accepts_ocr_twin() -> None:
    scan = "2023-06-08_SBU_notat_relationel_velfaerd_scan.pdf"
    memo = "2023-06-08_SBU_notat_relationel_velfaerd.pdf"
    ocr_q = Question("q", "?", "ocr", doc=scan, punkt=2)
    fact_q = Question("q", "?", "fact", doc=scan, punkt=2)
    assert is_relevant(_hit("x", memo, 2), ocr_q)
    assert not is_relevant(_hit("x", memo, 2), fact_q)
    assert is_relevant(_hit("x", scan, 2), fact_q)
    assert not is_relevant(_hit("x", scan, 3), fact_q)
    # with evidence, the text decides wherever the passage stands
    ev_q = Question("q", "?", "fact", evidence=("fleksible kontorpladser",), doc=scan, punkt=2)
    assert is_relevant(_hit("... fleksible\nkontorpladser ...", "other.pdf", None), ev_q)
    assert not is_relevant(_hit("x", scan, 2), ev_q)


# --- answers ------------------------------------------------------------------------

EVIDENCE = ("fleksible kontorpladser på dagtilbud",)


def _answer(text: str, cited: list[Hit], refused: bool = False) -> Answer:
    return Answer("?", text, [], cited, refused)


def test_judge_answer_evidence_in_text_in_citation_or_refused() -> None:
    q = Question("q", "Hvor skal de sidde?", "paraphrase", evidence=EVIDENCE)
    holds = _hit("... etableres fleksible\nkontor-\npladser på dagtilbud og skoler", "a.pdf", 2)
    other = _hit("Budgettet blev godkendt.", "a.pdf", 3)
    # the answer quotes the evidence (wrapped and hyphenated differently) from its citation
    j = judge_answer(_answer("Der etableres Fleksible kontorpladser på dagtilbud. [1]", [holds]), q)
    assert (j.answer_has_evidence, j.citation_has_evidence, j.refused) == (True, True, False)
    # right passage cited, wrong sentence quoted
    j = judge_answer(_answer("Budgettet blev godkendt. [1] Noget andet. [2]", [other, holds]), q)
    assert (j.answer_has_evidence, j.citation_has_evidence, j.refused) == (False, True, False)
    assert j.nearest_has_evidence is None
    # nothing right at all
    j = judge_answer(_answer("Budgettet blev godkendt. [1]", [other]), q)
    assert (j.answer_has_evidence, j.citation_has_evidence, j.refused) == (False, False, False)
    # a refusal cites nothing, even when the nearest passages it shows held the evidence
    j = judge_answer(_answer("Jeg fandt ikke et sikkert svar.", [holds, other], refused=True), q)
    assert (j.answer_has_evidence, j.citation_has_evidence, j.refused) == (False, False, True)
    assert j.nearest_has_evidence is True
    # for a closed question any of these is a leak
    assert j.leaked and not judge_answer(_answer("x", [other], refused=True), q).leaked
    # a question with only a Punkt: the text cannot be judged, the citation by its place
    by_item = Question("q", "?", "fact", doc="a.pdf", punkt=2)
    j = judge_answer(_answer("Noget. [1]", [holds]), by_item)
    assert j.answer_has_evidence is None and j.citation_has_evidence


class _FakeSearcher:
    """search/ask from fixed passages; counts the calls."""

    def __init__(self, hits: list[Hit], answers: dict[str, Answer]) -> None:
        self.hits, self.answers, self.asked = hits, answers, []

    def search(self, query: str, *, k: int = 10, role: str = "public") -> list[Hit]:
        return self.hits[:k]

    def ask(self, question: str, *, role: str = "public") -> Answer:
        self.asked.append(question)
        return self.answers[question]


def test_answer_summary_one_ask_per_question_and_shares() -> None:
    holds = _hit("fleksible kontorpladser på dagtilbud", "a.pdf", 2)
    other = _hit("Budgettet blev godkendt.", "a.pdf", 3)
    questions = [
        Question("a", "A?", "fact", evidence=EVIDENCE),  # right answer
        Question("b", "B?", "fact", evidence=EVIDENCE),  # right citation, wrong sentence
        Question("c", "C?", "paraphrase", evidence=EVIDENCE),  # refused
        Question("d", "D?", "paraphrase", evidence=EVIDENCE),  # wrong passage
        Question("n", "N?", "negative"),  # refused: passes
        Question("z", "Z?", "closed", evidence=("hemmelig plan",)),  # leaks in the answer
    ]
    answers = {
        "A?": _answer("fleksible kontorpladser på dagtilbud [1]", [holds]),
        "B?": _answer("Budgettet blev godkendt. [1]", [holds]),
        "C?": _answer("Jeg fandt ikke et sikkert svar.", [holds], refused=True),
        "D?": _answer("Budgettet blev godkendt. [1]", [other]),
        "N?": _answer("Jeg fandt ikke et sikkert svar.", [other], refused=True),
        "Z?": _answer("Den hemmelige plan: hemmelig plan. [1]", [other]),
    }
    searcher = _FakeSearcher([other, holds], answers)
    result = evaluate_config(Variant("hybrid", "hybrid"), searcher, questions, k=5, role="public")
    assert sorted(searcher.asked) == sorted(answers)  # one ask per question, no more
    a = result.answers
    assert a is not None and tuple(a.metrics) == ANSWER_METRICS
    assert a.metrics["AnswerEvidence"] == pytest.approx(1 / 4)
    assert a.metrics["CitationEvidence"] == pytest.approx(2 / 4)
    assert a.metrics["FalseRefusals"] == pytest.approx(1 / 4)
    assert a.counts == {
        "n": 4,
        "answer_evidence": 1,
        "citation_evidence": 2,
        "refused": 1,
        "refused_with_evidence_near": 1,
    }
    assert a.per_type["fact"]["AnswerEvidence"] == 0.5 and a.per_type["fact"]["n"] == 2
    assert a.per_type["paraphrase"]["FalseRefusals"] == 0.5
    assert a.checks == {"negative": (1, 1), "closed": (0, 1)}
    assert result.checks["closed"] == (1, 1)  # the search check alone does not see the leak
    # without answers (the naive row) only the negative check asks
    searcher = _FakeSearcher([other, holds], answers)
    silent = evaluate_config(
        Variant("naive", "naive"), searcher, questions, k=5, role="public", answers=False
    )
    assert silent.answers is None and searcher.asked == ["N?"]


# --- question files ---------------------------------------------------------------


def test_shipped_questions_load_with_pdf_names() -> None:
    questions = load_questions(DEV)
    assert len(questions) == 20
    by_id = {q.id: q for q in questions}
    assert by_id["d01"].doc == "2023-02-23_MSB_raadmandsmoede.pdf"
    assert by_id["d16"].doc == "2023-06-08_SBU_notat_relationel_velfaerd_scan.pdf"
    assert by_id["d19"].doc is None and by_id["d19"].evidence == ()
    assert [q.ranked for q in questions].count(False) == 4  # 2 closed + 2 negative
    assert resolve_doc("2023-01-10_MBU_raadmandsmoede.pdf") == "2023-01-10_MBU_raadmandsmoede.pdf"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"id": "x", "question": "q?", "type": "quiz", "evidence": ["abc"]}', "'type'"),
        ('{"id": "x", "type": "fact", "evidence": ["abc"]}', "'question'"),
        ('{"id": "x", "question": "q?", "type": "fact", "evidence": "abc"}', "'evidence'"),
        ('{"id": "x", "question": "q?", "type": "fact", "evidence": []}', "'doc'"),
        ('{"id": "x", "question": "q?", "type": "fact", "doc": "a.pdf", "punkt": "4"}', "'punkt'"),
        ("{not json", "ugyldig JSON"),
    ],
)
def test_bad_question_line_names_file_line_and_field(
    tmp_path: Path, line: str, message: str
) -> None:
    path = tmp_path / "q.jsonl"
    good = '{"id": "ok", "question": "q?", "type": "fact", "evidence": ["abc"]}'
    path.write_text(good + "\n\n" + line + "\n", encoding="utf-8")
    with pytest.raises(QuestionSetError) as info:
        load_questions(path)
    text = str(info.value)
    assert text.startswith(f"{path}:3:") and message in text and "\n" not in text


# --- metrics (ranx) ---------------------------------------------------------------


def test_ranking_metrics_on_hand_made_run() -> None:
    judged = {
        "q1": [True, False, False],  # relevant at rank 1
        "q2": [False, False, True, True],  # relevant at ranks 3 and 4
        "q3": [False, False],  # nothing relevant retrieved
        "q4": [],  # no hits at all
    }
    m = ranking_metrics(judged, k=10)
    assert m["Recall@1"] == pytest.approx((1 + 0 + 0 + 0) / 4)
    assert m["Recall@3"] == pytest.approx((1 + 1 + 0 + 0) / 4)
    assert m["Recall@10"] == pytest.approx((1 + 1 + 0 + 0) / 4)
    assert m["MRR@10"] == pytest.approx((1 / 1 + 1 / 3 + 0 + 0) / 4)
    import math

    idcg2 = 1 / math.log2(2) + 1 / math.log2(3)
    dcg2 = 1 / math.log2(4) + 1 / math.log2(5)
    assert m["nDCG@10"] == pytest.approx((1 + dcg2 / idcg2 + 0 + 0) / 4)
    assert list(ranking_metrics(judged, k=3)) == ["Recall@1", "Recall@3", "MRR@3", "nDCG@3"]


# --- end to end on the sample corpus ------------------------------------------------


@pytest.fixture(scope="session")
def hybrid_bm25_result(sample_index: Path, tmp_path_factory: pytest.TempPathFactory):
    return run_evaluation(
        DEV,
        sample_index,
        rankings=("hybrid", "bm25"),
        corpus_dir=CORPUS,
        out_dir=tmp_path_factory.mktemp("eval-out"),
    )


@pytest.mark.slow
def test_real_run_reports_metrics_and_meets_floor(hybrid_bm25_result) -> None:
    result = hybrid_bm25_result
    table = markdown_table(result)
    for name in ("Recall@1", "Recall@3", "Recall@5", "Recall@10", "MRR@10", "nDCG@10"):
        assert name in table
    assert [c.name for c in result.configs] == ["hybrid", "bm25"]
    hybrid = result.configs[0]
    assert hybrid.metrics["Recall@5"] >= HYBRID_RECALL5_FLOOR
    assert 0 < hybrid.metrics["MRR@10"] <= hybrid.metrics["Recall@10"]
    # closed and negative are checks, not ranked: 16 ranked questions
    assert sum(o.scored for o in hybrid.outcomes) == 16
    # closed content must never reach the public role
    assert hybrid.checks["closed"] == (2, 2)
    assert hybrid.checks["negative"][1] == 2
    assert "| hybrid |" in per_type_table(result)
    misses = [d for d in result.diagnostics if d.kind == "miss"]
    for d in misses:
        assert len(d.top_citations) <= 3 and (d.deep_rank is None or d.deep_rank > 10)
    doc = to_json(result)
    json.dumps(doc)  # serialisable, NaN-free
    first = doc["configs"][0]["questions"][0]
    assert first["hits"] and {"text", "document", "citation", "relevant"} <= set(first["hits"][0])


@pytest.mark.slow
def test_real_run_judges_answers(hybrid_bm25_result) -> None:
    result = hybrid_bm25_result
    for c in result.configs:
        a = c.answers
        assert a is not None and a.counts["n"] == 16
        for name in ANSWER_METRICS:
            assert 0.0 <= a.metrics[name] <= 1.0
        assert a.checks["negative"] == (2, 2)  # every negative refused
        assert a.checks["closed"] == (2, 2)  # nothing closed in a public answer
        assert set(a.per_type) <= {"decision", "fact", "paraphrase", "precedent", "english", "ocr"}
    hybrid = result.configs[0]
    by_id = {o.question.id: o for o in hybrid.outcomes}
    # d01's answer quotes the decision ("Som stor studieby er det særligt relevant ...")
    d01 = by_id["d01"].judgement
    assert d01.answer_has_evidence and d01.citation_has_evidence and not d01.refused
    assert by_id["d01"].answer and by_id["d01"].answer_citations
    assert hybrid.answers.metrics["AnswerEvidence"] >= 1 / 16
    assert "**Svar**" in markdown_table(result) and "| hybrid | 16 |" in markdown_table(result)
    assert "Svar pr. spørgsmålstype" in per_type_table(result)
    doc = to_json(result)
    answers = doc["configs"][0]["answers"]
    assert set(ANSWER_METRICS) <= set(answers["metrics"]) and answers["checks"]["negative"]
    q = next(q for q in doc["configs"][0]["questions"] if q["id"] == "d01")
    assert q["answer_has_evidence"] is True and q["refused"] is False
    assert q["citation_has_evidence"] is True and q["answer_citations"]


@pytest.mark.slow
def test_png_is_written(hybrid_bm25_result, tmp_path: Path) -> None:
    path = write_png(hybrid_bm25_result, tmp_path / "chart.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_unknown_config_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(EvalError, match="vælg blandt bm25, dense, hybrid, naive"):
        run_evaluation(DEV, tmp_path / "none", rankings=("bm42",))


@pytest.mark.slow
def test_cli_prints_table_and_writes_png(sample_index: Path, tmp_path: Path) -> None:
    from kommunesoeg.cli import cli

    out = tmp_path / "out"
    result = CliRunner().invoke(
        cli,
        [
            "eval",
            "--questions",
            str(DEV),
            "--config",
            "bm25",
            "--index",
            str(sample_index),
            "--out",
            str(out),
            "--k",
            "5",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "| bm25 |" in result.output and "Recall@5" in result.output and "MRR@5" in result.output
    assert "AnswerEvidence" in result.output and "CitationEvidence" in result.output
    assert (out / "latest.png").read_bytes()[:4] == b"\x89PNG"
    assert len(list(out.glob("eval-*.png"))) == 1
    assert "Recall@5" in (out / "latest.md").read_text(encoding="utf-8")


def test_cli_bad_question_file_is_one_line(tmp_path: Path) -> None:
    from kommunesoeg.cli import cli

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x", "question": "?", "type": "quiz"}\n', encoding="utf-8")
    result = CliRunner().invoke(cli, ["eval", "--questions", str(bad), "--index", str(tmp_path)])
    assert result.exit_code != 0
    assert f"{bad}:1: feltet 'type'" in result.output
