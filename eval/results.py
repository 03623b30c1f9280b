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


@dataclass
class QuestionOutcome:
    """What one configuration did with one question."""

    question: Question
    hits: list[Hit]
    relevant: list[bool]  # per hit, same order
    scored: bool  # counted in the ranking metrics
    passed: bool | None = None  # for checks (closed for public, negative)
    deep_rank: int | None = None  # misses: rank of the first relevant passage within DEEP_K
    answer: str | None = None  # negative: the answer text the system gave

    @property
    def first_rank(self) -> int | None:
        return next((i + 1 for i, r in enumerate(self.relevant) if r), None)


@dataclass
class ConfigResult:
    """The scores of one variant over the whole question set."""

    variant: Variant
    metrics: dict[str, float]  # display name -> value, over all scored questions
    per_type: dict[str, dict[str, float]]  # type -> display name -> value (+ "n")
    checks: dict[str, tuple[int, int]]  # check type -> (passed, total)
    outcomes: list[QuestionOutcome]
    seconds: float

    @property
    def name(self) -> str:
        return self.variant.name


@dataclass
class Diagnostic:
    """A miss, a leak or a negative question that got an answer, for one configuration."""

    config: str
    question_id: str
    type: str
    question: str
    kind: str  # "miss" | "leak" | "answered"
    deep_rank: int | None
    top_citations: list[str]

    def line(self) -> str:
        if self.kind == "miss":
            where = (
                f"evidens først på plads {self.deep_rank}"
                if self.deep_rank
                else f"evidens ikke fundet i top {DEEP_K}"
            )
        elif self.kind == "leak":
            where = "LÆK: lukket indhold vist for public"
        else:
            where = "svarede i stedet for at melde utilstrækkelig evidens"
        cites = "; ".join(self.top_citations) or "ingen hits"
        return f"[{self.config}] {self.question_id} ({self.type}): {where} — top 3: {cites}"


@dataclass
class EvalResult:
    """Every variant's scores on one question set; render it with eval.report."""

    questions_path: Path
    index_dir: Path
    k: int
    role: str
    created: str
    configs: list[ConfigResult]
    cutoffs: tuple[int, ...] = RECALL_CUTOFFS
    diagnostics: list[Diagnostic] = field(default_factory=list)

    @property
    def metric_names(self) -> list[str]:
        return metric_names(self.k, self.cutoffs)
