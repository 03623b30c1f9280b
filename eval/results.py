"""What an evaluation produced: plain data, shared by the harness that fills it and the
report that renders it (neither imports the other's internals, so there is no cycle)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from eval.questions import Question
from kommunesoeg.core.config import RetrievalConfig
from kommunesoeg.core.results import Hit

RECALL_CUTOFFS = (1, 3, 5, 10)
DEEP_K = 100  # how far a miss is searched for its evidence in the diagnostics
# Answer-level measures (one `Searcher.ask` per question), in table order; all are shares
# of the answerable (ranked) questions. FalseRefusals: answerable questions refused.
ANSWER_METRICS = ("AnswerEvidence", "CitationEvidence", "FalseRefusals")


def metric_names(k: int, cutoffs: Sequence[int] = RECALL_CUTOFFS) -> list[str]:
    """Display names in table order: Recall@c for each cutoff <= k, then MRR@k and nDCG@k."""
    return [f"Recall@{c}" for c in cutoffs if c <= k] + [f"MRR@{k}", f"nDCG@{k}"]


@dataclass(frozen=True)
class Variant:
    """One row of the comparison: a ranking run with a retrieval configuration.

    The built-in rows (`bm25`, `dense`, `hybrid`, `naive`) use the default configuration;
    a configuration file gives a `hybrid` row named after the file, so tuned numbers are
    compared with the defaults on the same questions in the same run."""

    name: str
    ranking: str  # bm25 | dense | hybrid | naive
    config: RetrievalConfig = field(default_factory=RetrievalConfig)
    config_file: Path | None = None  # None: the built-in defaults


@dataclass(frozen=True)
class AnswerJudgement:
    """What one `ask` answer did with one question (see eval.relevance.judge_answer).

    `answer_has_evidence`: the answer text holds an evidence string (None when the question
    has no evidence strings, only a Punkt: text cannot be judged then).
    `citation_has_evidence`: a passage the answer cites holds one (a refusal cites nothing).
    `refused`: the answer reported insufficient evidence.
    `nearest_has_evidence`: for a refusal, whether the nearest passages it showed held the
    evidence (a refusal although the evidence was found); None when not refused.
    For a closed question (public role) evidence in the answer, its citations or the
    nearest passages a refusal shows is a leak.
    """

    answer_has_evidence: bool | None
    citation_has_evidence: bool
    refused: bool
    nearest_has_evidence: bool | None = None

    @property
    def leaked(self) -> bool:
        return (
            bool(self.answer_has_evidence)
            or self.citation_has_evidence
            or bool(self.nearest_has_evidence)
        )


@dataclass
class QuestionOutcome:
    """What one configuration did with one question."""

    question: Question
    hits: list[Hit]
    relevant: list[bool]  # per hit, same order
    scored: bool  # counted in the ranking metrics
    passed: bool | None = None  # for checks (closed for public, negative)
    deep_rank: int | None = None  # misses: rank of the first relevant passage within DEEP_K
    answer: str | None = None  # the `ask` answer text, when the question was asked
    judgement: AnswerJudgement | None = None  # the answer judged, when asked
    answer_citations: list[str] = field(default_factory=list)  # the answer's [n] citations

    @property
    def first_rank(self) -> int | None:
        return next((i + 1 for i, r in enumerate(self.relevant) if r), None)


@dataclass
class AnswerSummary:
    """The answer-level scores of one variant (absent for a variant that cannot answer)."""

    metrics: dict[str, float]  # ANSWER_METRICS -> share over answerable questions
    counts: dict[str, int]  # n, answer_evidence, citation_evidence, refused
    per_type: dict[str, dict[str, float]]  # type -> ANSWER_METRICS (+ "n")
    checks: dict[str, tuple[int, int]]  # "negative": refused; "closed": no leak in the answer


@dataclass
class ConfigResult:
    """The scores of one variant over the whole question set."""

    variant: Variant
    metrics: dict[str, float]  # display name -> value, over all scored questions
    per_type: dict[str, dict[str, float]]  # type -> display name -> value (+ "n")
    checks: dict[str, tuple[int, int]]  # check type -> (passed, total)
    outcomes: list[QuestionOutcome]
    seconds: float
    answers: AnswerSummary | None = None  # None: the variant's index cannot answer (naive)

    @property
    def name(self) -> str:
        return self.variant.name


@dataclass
class Diagnostic:
    """A miss, a leak or a negative question that got an answer, for one configuration;
    at answer level: a false refusal ("refused"), an answer without the evidence
    ("wrong_answer") and closed content in a public answer ("answer_leak")."""

    config: str
    question_id: str
    type: str
    question: str
    kind: str  # "miss" | "leak" | "answered" | "refused" | "wrong_answer" | "answer_leak"
    deep_rank: int | None
    top_citations: list[str]
    answer: str | None = None  # answer-level kinds: the answer text
    nearest_has_evidence: bool | None = None  # "refused": the nearest passages held it

    def line(self) -> str:
        if self.kind == "miss":
            where = (
                f"evidens først på plads {self.deep_rank}"
                if self.deep_rank
                else f"evidens ikke fundet i top {DEEP_K}"
            )
        elif self.kind == "leak":
            where = "LÆK: lukket indhold vist for public"
        elif self.kind == "answer_leak":
            where = "LÆK: lukket indhold i svaret til public"
        elif self.kind == "refused":
            where = "svar afvist, skønt spørgsmålet kan besvares"
            if self.nearest_has_evidence:
                where += " (evidensen stod i de nærmeste passager)"
        elif self.kind == "wrong_answer":
            where = f"svaret indeholder ikke evidensen: «{_short(self.answer or '')}»"
        else:
            where = "svarede i stedet for at melde utilstrækkelig evidens"
        cites = "; ".join(self.top_citations) or "ingen hits"
        label = {"refused": "nærmeste", "wrong_answer": "kilder", "answer_leak": "kilder"}.get(
            self.kind, "top 3"
        )
        return f"[{self.config}] {self.question_id} ({self.type}): {where} — {label}: {cites}"


ANSWER_KINDS = ("refused", "wrong_answer", "answer_leak")


def _short(text: str, limit: int = 120) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass
class EvalResult:
    """Every variant's scores on one question set; render it with eval.report."""

    questions_path: Path
    index_dir: Path | str  # a folder, or a PostgreSQL DSN
    k: int
    role: str
    created: str
    configs: list[ConfigResult]
    cutoffs: tuple[int, ...] = RECALL_CUTOFFS
    diagnostics: list[Diagnostic] = field(default_factory=list)

    @property
    def metric_names(self) -> list[str]:
        return metric_names(self.k, self.cutoffs)
