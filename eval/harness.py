"""Run a question set through the real search API and score every configuration.

Ranking questions are scored with ranx. ranx needs qrels per question, but relevance here
is a property of a passage's text (does it contain an evidence string?), not a fixed list
of chunk ids. So the qrels of a question are the retrieved hits judged relevant, plus one
virtual "missing" relevant document when none of them is - that makes every question
count in the denominator, and "Recall@k" becomes the hit rate: the fraction of questions
with at least one relevant passage in the top k (ranx "hit_rate@k").

`closed` and `negative` questions are checks, not rankings: a closed question passes for
the public role when no public hit contains its evidence (a leak is a failure); a negative
question passes when `Searcher.ask` reports insufficient evidence. They get their own
pass-rate lines and are never mixed into the ranking metrics. For the internal role a
closed question is an ordinary ranking question: staff should find the closed item.

Answers are judged too, with one `Searcher.ask` per question: for every answerable
(ranked) question whether the answer text holds an evidence string, whether a cited
passage does, and whether it was refused (`eval.relevance.judge_answer`); a negative's
answer is the one its check already asked for; a closed question (public role) is asked
once more and its answer must not hold the closed evidence. The naive baseline index has
no sentence windows, so the answer gate refuses everything there: it gets no answer row.
"""

from __future__ import annotations

import hashlib
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from pathlib import Path

from eval.questions import QUESTION_TYPES, Question, load_questions
from eval.relevance import contains_evidence, is_relevant, judge_answer
from eval.results import (
    DEEP_K,
    RECALL_CUTOFFS,
    AnswerSummary,
    ConfigResult,
    Diagnostic,
    EvalResult,
    QuestionOutcome,
    Variant,
    metric_names,
)
from kommunesoeg.core.config import RetrievalConfig
from kommunesoeg.core.errors import KommunesoegError
from kommunesoeg.core.roles import ROLES, Role
from retriever.location import IndexLocation, index_location

# Ranking name -> (which index, search mode). "naive" is the tutorial baseline: fixed
# 1000-character chunks without structure or headers, dense retrieval only.
RANKINGS: dict[str, tuple[str, str]] = {
    "bm25": ("main", "bm25"),
    "dense": ("main", "dense"),
    "hybrid": ("main", "hybrid"),
    "naive": ("naive", "dense"),
}
DEFAULT_RANKINGS = ("bm25", "dense", "hybrid", "naive")
# Indexes whose searcher can answer: the naive index has no sentence windows, so `ask`
# refuses every question there (the evidence gate scores windows) - no answer row for it.
ANSWERING_INDEXES = ("main",)
FILE_RANKING = "hybrid"  # the ranking a configuration file's row is run with
NAIVE_CHUNK_SIZE = 1000  # the tutorial baseline's fixed slices, without overlap
MISSING = "__missing__"  # virtual relevant document of a question nothing relevant was found for
CORPUS_SUFFIXES = (".pdf", ".txt")

Log = Callable[[str], None]


class EvalError(KommunesoegError):
    """The evaluation cannot run as asked (bad ranking name, role, k)."""


# --- metrics (ranx) ----------------------------------------------------------------


def _ranx_name(display: str) -> str:
    name, cut = display.split("@")
    return {"Recall": "hit_rate", "MRR": "mrr", "nDCG": "ndcg"}[name] + "@" + cut


def ranking_metrics(
    judged: dict[str, list[bool]], k: int = 10, cutoffs: Sequence[int] = RECALL_CUTOFFS
) -> dict[str, float]:
    """Score ranked relevance judgements (question id -> relevant? per rank) with ranx."""
    from ranx import Qrels, Run, evaluate

    names = metric_names(k, cutoffs)
    if not judged:
        return {n: float("nan") for n in names}
    qrels: dict[str, dict[str, int]] = {}
    run: dict[str, dict[str, float]] = {}
    for qid, flags in judged.items():
        # Positions are the documents: the Searcher's own order is the ranking, so scores
        # are simply descending by rank (no ties for ranx to reorder).
        docs = {f"r{i + 1}": float(len(flags) - i) for i in range(len(flags))}
        rel = {f"r{i + 1}": 1 for i, flag in enumerate(flags) if flag}
        run[qid] = docs or {"__nohit__": 0.0}
        qrels[qid] = rel or {MISSING: 1}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # numba type-safety chatter from ranx
        scores = evaluate(
            Qrels.from_dict(qrels), Run.from_dict(run), [_ranx_name(n) for n in names]
        )
    if isinstance(scores, float) or not isinstance(scores, dict):
        scores = {_ranx_name(names[0]): scores}
    return {n: float(scores[_ranx_name(n)]) for n in names}


# --- indexes and searchers --------------------------------------------------------


def corpus_hash(corpus_dir: Path) -> str:
    """Content hash of the indexable files, so a cached baseline index is reused safely."""
    digest = hashlib.sha256()
    files = sorted(
        p
        for p in Path(corpus_dir).rglob("*")
        if p.is_file() and p.suffix.lower() in CORPUS_SUFFIXES
    )
    for p in files:
        digest.update(str(p.relative_to(corpus_dir)).encode())
        digest.update(hashlib.sha256(p.read_bytes()).digest())
    return digest.hexdigest()


def _has_index(index_dir: Path) -> bool:
    return (Path(index_dir) / "current").exists()


def ensure_main_index(index_dir: IndexLocation, corpus_dir: Path, log: Log) -> None:
    """Build the product index from the corpus when there is none yet (said out loud). A
    database is never built here: its workers are `kommunesoeg index --index postgresql://`."""
    if isinstance(index_dir, str) or _has_index(index_dir):
        return
    if not Path(corpus_dir).is_dir():
        raise EvalError(f"{index_dir}: intet indeks, og korpusmappen {corpus_dir} findes ikke")
    log(f"Intet indeks i {index_dir} — bygger det fra {corpus_dir} (det tager et par minutter) ...")
    from indexer.build import build_index

    build_index([Path(corpus_dir)], Path(index_dir))


def ensure_naive_index(corpus_dir: Path, out_dir: Path, log: Log) -> Path:
    """The baseline index lives in a cache under out_dir, keyed by the corpus content.

    The build runs every time: it is incremental, so an up-to-date cache costs under a
    second, and a cache made by older indexer code is re-parsed instead of trusted."""
    if not Path(corpus_dir).is_dir():
        raise EvalError(f"{corpus_dir}: korpusmappen til naive-indekset findes ikke")
    naive_dir = Path(out_dir) / f"naive-index-{corpus_hash(Path(corpus_dir))[:16]}"
    if not _has_index(naive_dir):
        log(f"Bygger naive-indeks ({NAIVE_CHUNK_SIZE} tegn, ingen struktur) i {naive_dir} ...")
    from indexer.build import build_index

    build_index(
        [Path(corpus_dir)],
        naive_dir,
        chunking="naive",
        chunk_size=NAIVE_CHUNK_SIZE,
        chunk_overlap=0,
        progress=False,
    )
    return naive_dir


# --- running ----------------------------------------------------------------------


def _asked(outcome: QuestionOutcome, answer) -> QuestionOutcome:
    """Record an `ask` answer on the outcome, judged against the question."""
    outcome.answer = answer.answer
    outcome.judgement = judge_answer(answer, outcome.question)
    outcome.answer_citations = [h.citation() for h in answer.citations]
    return outcome


def _judge(searcher, question: Question, k: int, role: str, ask: bool = True) -> QuestionOutcome:
    """Search once and judge every hit; checks and deep search for misses follow. With
    `ask`, the answer is judged too (one `ask` per question; a negative's check is it)."""
    if question.type == "negative":
        answer = searcher.ask(question.question, role=role)
        hits = list(answer.citations)
        outcome = QuestionOutcome(
            question,
            hits,
            [False] * len(hits),
            scored=False,
            passed=bool(answer.insufficient_evidence),
        )
        return _asked(outcome, answer)
    hits = searcher.search(question.question, k=k, role=role)
    if question.type == "closed" and role == Role.PUBLIC:
        leaks = [contains_evidence(h.text, question.evidence) for h in hits]
        outcome = QuestionOutcome(question, hits, leaks, scored=False, passed=not any(leaks))
    else:
        relevant = [is_relevant(h, question) for h in hits]
        outcome = QuestionOutcome(question, hits, relevant, scored=True)
        if not any(relevant):
            deep = searcher.search(question.question, k=max(DEEP_K, k), role=role)
            outcome.deep_rank = next((h.rank for h in deep if is_relevant(h, question)), None)
    if ask:
        _asked(outcome, searcher.ask(question.question, role=role))
    return outcome


def _diagnostics(name: str, outcomes: Iterable[QuestionOutcome]) -> list[Diagnostic]:
    found = []
    for o in outcomes:
        q = o.question
        if o.scored and o.first_rank is None:
            kind = "miss"
        elif q.type == "closed" and o.passed is False:
            kind = "leak"
        elif q.type == "negative" and o.passed is False:
            kind = "answered"
        else:
            kind = None
        if kind is not None:
            shown = [h for h, r in zip(o.hits, o.relevant) if r] if kind == "leak" else o.hits
            found.append(
                Diagnostic(
                    name,
                    q.id,
                    q.type,
                    q.question,
                    kind,
                    o.deep_rank,
                    [h.citation() for h in shown[:3]],
                )
            )
        answer_kind = _answer_failure(o)
        if answer_kind is not None:
            found.append(
                Diagnostic(
                    name,
                    q.id,
                    q.type,
                    q.question,
                    answer_kind,
                    o.deep_rank,
                    o.answer_citations[:3],
                    answer=o.answer,
                    nearest_has_evidence=o.judgement.nearest_has_evidence,
                )
            )
    return found


def _answer_failure(o: QuestionOutcome) -> str | None:
    """The answer-level failure of one outcome, if any (see Diagnostic.kind)."""
    j = o.judgement
    if j is None:
        return None
    if o.scored:
        if j.refused:
            return "refused"
        if j.answer_has_evidence is False:
            return "wrong_answer"
    elif o.question.type == "closed" and j.leaked:
        return "answer_leak"
    return None


def _share(count: int, total: int) -> float:
    return count / total if total else float("nan")


def _answer_metrics(outcomes: Sequence[QuestionOutcome]) -> dict[str, float]:
    judged = [o.judgement for o in outcomes if o.judgement is not None]
    with_text = [j for j in judged if j.answer_has_evidence is not None]
    return {
        "AnswerEvidence": _share(
            sum(bool(j.answer_has_evidence) for j in with_text), len(with_text)
        ),
        "CitationEvidence": _share(sum(j.citation_has_evidence for j in judged), len(judged)),
        "FalseRefusals": _share(sum(j.refused for j in judged), len(judged)),
    }


def answer_summary(outcomes: Sequence[QuestionOutcome], role: str) -> AnswerSummary:
    """Aggregate the judged answers: shares over the answerable (ranked) questions, per
    type, and the answer-level checks (negatives refused; closed: nothing closed in the
    public answer)."""
    answerable = [o for o in outcomes if o.scored and o.judgement is not None]
    judged = [o.judgement for o in answerable]
    counts = {
        "n": len(judged),
        "answer_evidence": sum(bool(j.answer_has_evidence) for j in judged),
        "citation_evidence": sum(j.citation_has_evidence for j in judged),
        "refused": sum(j.refused for j in judged),
        "refused_with_evidence_near": sum(bool(j.nearest_has_evidence) for j in judged),
    }
    per_type: dict[str, dict[str, float]] = {}
    for qtype in QUESTION_TYPES:
        group = [o for o in answerable if o.question.type == qtype]
        if group:
            per_type[qtype] = {"n": float(len(group)), **_answer_metrics(group)}
    checks: dict[str, tuple[int, int]] = {}
    negatives = [
        o.judgement for o in outcomes if o.question.type == "negative" and o.judgement is not None
    ]
    if negatives:
        checks["negative"] = (sum(j.refused for j in negatives), len(negatives))
    if role == Role.PUBLIC:
        closed = [
            o.judgement for o in outcomes if o.question.type == "closed" and o.judgement is not None
        ]
        if closed:
            checks["closed"] = (sum(not j.leaked for j in closed), len(closed))
    return AnswerSummary(_answer_metrics(answerable), counts, per_type, checks)


def evaluate_config(
    variant: Variant,
    searcher,
    questions: Sequence[Question],
    *,
    k: int,
    role: str,
    cutoffs: Sequence[int] = RECALL_CUTOFFS,
    answers: bool = True,
) -> ConfigResult:
    """Run all questions through one variant's searcher and score them; with `answers`,
    judge one `ask` answer per question as well."""
    start = time.perf_counter()
    outcomes = [_judge(searcher, q, k, role, ask=answers) for q in questions]
    seconds = time.perf_counter() - start
    scored = [o for o in outcomes if o.scored]
    metrics = ranking_metrics({o.question.id: o.relevant for o in scored}, k, cutoffs)
    per_type: dict[str, dict[str, float]] = {}
    for qtype in QUESTION_TYPES:
        group = [o for o in scored if o.question.type == qtype]
        if group:
            values = ranking_metrics({o.question.id: o.relevant for o in group}, k, cutoffs)
            per_type[qtype] = {"n": float(len(group)), **values}
    checks: dict[str, tuple[int, int]] = {}
    for qtype in ("closed", "negative"):
        group = [o for o in outcomes if o.question.type == qtype and o.passed is not None]
        if group:
            checks[qtype] = (sum(o.passed for o in group), len(group))
    summary = answer_summary(outcomes, role) if answers else None
    return ConfigResult(variant, metrics, per_type, checks, outcomes, seconds, summary)


def variants(rankings: Sequence[str], config_files: Sequence[Path | str] = ()) -> list[Variant]:
    """The rows to compare: each built-in ranking with the default configuration, then one
    `hybrid` row per configuration file, named by its file stem (by its path when the stem
    is taken). A bad file is an InvalidSetting naming it and the key."""
    unknown = [r for r in rankings if r not in RANKINGS]
    if unknown or not (rankings or config_files):
        raise EvalError(
            f"konfiguration '{', '.join(unknown) or '(ingen)'}' findes ikke; "
            f"vælg blandt {', '.join(RANKINGS)}"
        )
    rows = [Variant(name, name) for name in dict.fromkeys(rankings)]
    for file in config_files:
        path = Path(file)
        taken = {row.name for row in rows}
        name = path.stem if path.stem not in taken else str(path)
        rows.append(Variant(name, FILE_RANKING, RetrievalConfig.from_file(path), path))
    return rows


def _validate(k: int, role: str) -> None:
    if role not in ROLES:
        raise EvalError(f"rolle '{role}' findes ikke; vælg blandt {', '.join(ROLES)}")
    if not 1 <= k <= DEEP_K:
        raise EvalError(f"k skal være mellem 1 og {DEEP_K}, ikke {k}")


def run_evaluation(
    questions_path: Path | str,
    index_dir: Path | str,
    *,
    rankings: Sequence[str] = DEFAULT_RANKINGS,
    config_files: Sequence[Path | str] = (),
    k: int = 10,
    role: str = "public",
    corpus_dir: Path | str = Path("corpus"),
    out_dir: Path | str = Path("eval/out"),
    log: Log | None = None,
) -> EvalResult:
    """Evaluate every ranking, and the hybrid ranking with every configuration file, on the
    question set, side by side.

    The product index at `index_dir` is built from `corpus_dir` when missing; the naive
    baseline index is built (once per corpus content) under `out_dir`.
    """
    from retriever.search import Searcher

    log = log or (lambda _msg: None)
    rows = variants(rankings, config_files)
    _validate(k, role)
    questions = load_questions(questions_path)
    index_dir, corpus_dir, out_dir = index_location(index_dir), Path(corpus_dir), Path(out_dir)
    if any(RANKINGS[row.ranking][0] == "main" for row in rows):
        ensure_main_index(index_dir, corpus_dir, log)
    naive = any(RANKINGS[row.ranking][0] == "naive" for row in rows)
    naive_dir = ensure_naive_index(corpus_dir, out_dir, log) if naive else None

    results: list[ConfigResult] = []
    diagnostics: list[Diagnostic] = []
    embedder = None
    for row in rows:
        which, mode = RANKINGS[row.ranking]
        directory = index_dir if which == "main" else naive_dir
        log(f"Evaluerer {row.name} ({len(questions)} spørgsmål) ...")
        searcher = _make_searcher(Searcher, directory, mode, row.config, embedder)
        embedder = embedder or getattr(searcher, "embedder", None)
        result = evaluate_config(
            row, searcher, questions, k=k, role=role, answers=which in ANSWERING_INDEXES
        )
        results.append(result)
        diagnostics.extend(_diagnostics(row.name, result.outcomes))
    return EvalResult(
        questions_path=Path(questions_path),
        index_dir=index_dir,
        k=k,
        role=role,
        created=datetime.now().isoformat(timespec="seconds"),
        configs=results,
        diagnostics=diagnostics,
    )


def _make_searcher(searcher_cls, directory: IndexLocation, mode: str, config: RetrievalConfig, embedder):
    """Share one loaded embedding model between configurations when the index allows it."""
    if embedder is not None:
        try:
            return searcher_cls(directory, embedder=embedder, mode=mode, config=config)
        except KommunesoegError:
            pass  # e.g. ModelMismatch: let the searcher load the index's own model
    return searcher_cls(directory, mode=mode, config=config)
