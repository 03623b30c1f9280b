"""Render an EvalResult: Markdown tables, the configurations, diagnostics text, a bar chart
PNG and JSON.

Kept apart from the harness so the Streamlit page and the CLI show exactly the same
numbers in the same layout; both this module and the harness import the data from
eval/results.py, never each other.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from eval.results import ANSWER_METRICS, ConfigResult, EvalResult
from indexer.pg.connect import safe_dsn
from kommunesoeg.core.config import RetrievalConfig

CHECK_LABELS = {
    "closed": "lukkede punkter: intet læk til public",
    "negative": "ubesvarbare: 'utilstrækkelig evidens'",
}
NOTE = (
    "Recall@k er hit rate: andelen af spørgsmål med mindst én relevant passage i top k. "
    "Spørgsmålstyperne closed og negative indgår ikke i rangeringsmålene; de har egne "
    "beståelsesrater."
)
ANSWER_CHECK_LABELS = {
    "negative": "ubesvarbare afvist",
    "closed": "lukkede: intet læk i svaret",
}
ANSWER_NOTE = (
    "Svar: ét `ask`-svar pr. spørgsmål. AnswerEvidence = andelen af besvarbare spørgsmål, "
    "hvis svartekst indeholder en evidensstreng; CitationEvidence = andelen, hvor en citeret "
    "passage gør (en afvisning citerer intet); falske afvisninger = besvarbare spørgsmål "
    "afvist som 'utilstrækkelig evidens'. '–': rækken svarer ikke (naive-indekset har ingen "
    "sætningsvinduer, så svarporten afviser alt)."
)


def _fmt(value: float) -> str:
    return "–" if value is None or math.isnan(value) else f"{value:.3f}"


def markdown_table(result: EvalResult) -> str:
    """Configurations as rows, ranking metrics as columns; pass rates of checks below."""
    names = result.metric_names
    n_scored = {c.name: sum(o.scored for o in c.outcomes) for c in result.configs}
    lines = [
        "| konfiguration | n | " + " | ".join(names) + " |",
        "| --- | ---: | " + " | ".join("---:" for _ in names) + " |",
    ]
    for c in result.configs:
        row = [c.name, str(n_scored[c.name])] + [_fmt(c.metrics[n]) for n in names]
        lines.append("| " + " | ".join(row) + " |")
    check_types = [t for t in CHECK_LABELS if any(t in c.checks for c in result.configs)]
    if check_types:
        lines += [
            "",
            "| konfiguration | " + " | ".join(CHECK_LABELS[t] for t in check_types) + " |",
        ]
        lines.append("| --- | " + " | ".join("---:" for _ in check_types) + " |")
        for c in result.configs:
            cells = []
            for t in check_types:
                passed, total = c.checks.get(t, (0, 0))
                cells.append(f"{passed}/{total}" if total else "–")
            lines.append(f"| {c.name} | " + " | ".join(cells) + " |")
    lines += ["", f"k={result.k}, rolle={result.role}. {NOTE}"]
    if any(c.answers for c in result.configs):
        lines += ["", answer_table(result)]
    return "\n".join(lines)


def _refusals(count: int, share: float) -> str:
    return f"{count} ({_fmt(share)})"


def answer_table(result: EvalResult) -> str:
    """The "Svar" table: answer-level measures per configuration, next to the ranking table."""
    check_types = [
        t
        for t in ANSWER_CHECK_LABELS
        if any(c.answers and t in c.answers.checks for c in result.configs)
    ]
    head = ["konfiguration", "n", "AnswerEvidence", "CitationEvidence", "falske afvisninger"]
    head += [ANSWER_CHECK_LABELS[t] for t in check_types]
    lines = [
        "**Svar**",
        "",
        "| " + " | ".join(head) + " |",
        "| --- | " + " | ".join("---:" for _ in head[1:]) + " |",
    ]
    for c in result.configs:
        a = c.answers
        if a is None:
            lines.append(f"| {c.name} | " + " | ".join("–" for _ in head[1:]) + " |")
            continue
        cells = [
            str(a.counts["n"]),
            _fmt(a.metrics["AnswerEvidence"]),
            _fmt(a.metrics["CitationEvidence"]),
            _refusals(a.counts["refused"], a.metrics["FalseRefusals"]),
        ]
        for t in check_types:
            passed, total = a.checks.get(t, (0, 0))
            cells.append(f"{passed}/{total}" if total else "–")
        lines.append(f"| {c.name} | " + " | ".join(cells) + " |")
    lines += ["", ANSWER_NOTE]
    return "\n".join(lines)


def answer_per_type_table(result: EvalResult) -> str:
    """Answer-level measures per configuration and question type (answerable types)."""
    lines = [
        "| konfiguration | type | n | " + " | ".join(ANSWER_METRICS) + " |",
        "| --- | --- | ---: | " + " | ".join("---:" for _ in ANSWER_METRICS) + " |",
    ]
    for c in result.configs:
        if c.answers is None:
            continue
        for qtype, values in c.answers.per_type.items():
            row = [c.name, qtype, str(int(values["n"]))]
            row += [_fmt(values[n]) for n in ANSWER_METRICS]
            lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def per_type_table(result: EvalResult) -> str:
    """One row per configuration and question type (ranking types only); below it the
    answer-level measures per type, when any row answered."""
    names = result.metric_names
    lines = [
        "| konfiguration | type | n | " + " | ".join(names) + " |",
        "| --- | --- | ---: | " + " | ".join("---:" for _ in names) + " |",
    ]
    for c in result.configs:
        for qtype, values in c.per_type.items():
            row = [c.name, qtype, str(int(values["n"]))] + [_fmt(values[n]) for n in names]
            lines.append("| " + " | ".join(row) + " |")
    if any(c.answers for c in result.configs):
        lines += ["", "**Svar pr. spørgsmålstype**", "", answer_per_type_table(result)]
    return "\n".join(lines)


def diagnostics_text(result: EvalResult) -> str:
    """One line per miss / leak / wrongly answered question, after the tables."""
    if not result.diagnostics:
        return "Ingen fejl: alle spørgsmål fandt relevant evidens i top k, og alle svar holdt den."
    return "\n".join(["Diagnostik (fejl pr. spørgsmål):"] + [d.line() for d in result.diagnostics])


def _source(c: ConfigResult) -> str:
    return f"`{c.variant.config_file}`" if c.variant.config_file else "standard"


def _value(value) -> str:
    """A setting as TOML writes it (None: left out of its table, so it weighs 1.0)."""
    return "(udeladt)" if value is None else json.dumps(value, ensure_ascii=False)


def config_table(result: EvalResult) -> str:
    """Which ranking and configuration each row ran with: the settings that differ from the
    defaults (listed in full by `defaults_toml`), so every number behind a row is on record."""
    lines = [
        "| konfiguration | rangering | konfigurationsfil | afviger fra standard |",
        "| --- | --- | --- | --- |",
    ]
    for c in result.configs:
        changes = c.variant.config.changes()
        diff = ", ".join(f"{key} = {_value(v)}" for key, v in changes.items()) or "–"
        lines.append(f"| {c.name} | {c.variant.ranking} | {_source(c)} | {diff} |")
    return "\n".join(lines)


def defaults_toml() -> str:
    """The default configuration as a TOML file that sets every number (a valid
    `--config-file`)."""
    return "\n".join(_toml_tables(RetrievalConfig().to_dict(), "")).strip()


def _toml_tables(tables: dict[str, dict], prefix: str) -> list[str]:
    """Each table's own values, then its sub-tables (TOML forbids reopening a table)."""
    lines: list[str] = []
    for name, table in tables.items():
        lines += ["", f"[{prefix}{name}]"]
        lines += [f"{key} = {_value(v)}" for key, v in table.items() if not isinstance(v, dict)]
        subtables = {key: v for key, v in table.items() if isinstance(v, dict)}
        lines += _toml_tables(subtables, f"{prefix}{name}.")
    return lines


def full_markdown(result: EvalResult) -> str:
    """The report written to latest.md: tables, per type, configurations, diagnostics."""
    return (
        "\n\n".join(
            [
                f"# Evaluering {result.created}",
                f"Spørgsmål: `{result.questions_path}` · indeks: `{safe_dsn(str(result.index_dir))}`",
                markdown_table(result),
                "## Pr. spørgsmålstype",
                per_type_table(result),
                "## Konfiguration",
                config_table(result),
                "Standardværdierne (`kommunesoeg/core/config.py`):",
                "```toml\n" + defaults_toml() + "\n```",
                "## Diagnostik",
                diagnostics_text(result).replace("\n", "\n\n"),
            ]
        )
        + "\n"
    )


def _bars(ax, groups: list[str], rows: list[tuple[str, list[float]]], colours: dict) -> None:
    """Grouped bars: one group per label, one bar per (name, values) row; NaN is no bar."""
    width = 0.8 / max(len(rows), 1)
    for i, (name, values) in enumerate(rows):
        xs = [j + (i - (len(rows) - 1) / 2) * width for j in range(len(groups))]
        shown = [0.0 if math.isnan(v) else v for v in values]
        bars = ax.bar(xs, shown, width, label=name, color=colours[name])
        labels = ["–" if math.isnan(v) else f"{v:.2f}" for v in values]
        ax.bar_label(bars, labels=labels, fontsize=7, padding=1)
    ax.set_xticks(range(len(groups)), groups)
    ax.set_ylim(0, 1.1)
    ax.grid(axis="y", alpha=0.3)


def _answer_groups(result: EvalResult) -> tuple[list[str], list[tuple[str, list[float]]]]:
    """The answer panel: the three measures, then each answer check as a pass share."""
    answering = [c for c in result.configs if c.answers is not None]
    checks = [t for t in ANSWER_CHECK_LABELS if any(t in c.answers.checks for c in answering)]
    groups = list(ANSWER_METRICS) + [ANSWER_CHECK_LABELS[t] for t in checks]
    rows = []
    for c in answering:
        values = [c.answers.metrics[n] for n in ANSWER_METRICS]
        for t in checks:
            passed, total = c.answers.checks.get(t, (0, 0))
            values.append(passed / total if total else float("nan"))
        rows.append((c.name, values))
    return groups, rows


def write_png(result: EvalResult, path: Path | str) -> Path:
    """Grouped bar charts: search quality (one group per ranking metric) and, when any row
    answered, answer quality beside it (AnswerEvidence, CitationEvidence, FalseRefusals -
    lower is better - and the answer checks); one bar per configuration, same colours."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = result.metric_names
    configs = result.configs
    colours = {c.name: f"C{i % 10}" for i, c in enumerate(configs)}
    groups, answer_rows = _answer_groups(result)
    panels = 2 if answer_rows else 1
    left_width = max(7, 1.4 * len(names))
    right_width = max(6, 1.5 * len(groups)) if answer_rows else 0
    fig, axes = plt.subplots(
        1,
        panels,
        figsize=(left_width + right_width, 4.6),
        dpi=110,
        squeeze=False,
        gridspec_kw={"width_ratios": [left_width, right_width] if answer_rows else [1]},
    )
    ax = axes[0][0]
    _bars(ax, names, [(c.name, [c.metrics[n] for n in names]) for c in configs], colours)
    ax.set_ylabel("værdi")
    ax.set_title(f"Søgekvalitet (k={result.k}, rolle={result.role})", fontsize=10)
    if answer_rows:
        n = max(c.answers.counts["n"] for c in configs if c.answers is not None)
        ax2 = axes[0][1]
        _bars(ax2, groups, answer_rows, colours)
        silent = [c.name for c in configs if c.answers is None]
        title = f"Svarkvalitet (ask, {n} besvarbare; FalseRefusals: lavere er bedre)"
        if silent:
            title += f"\n{', '.join(silent)}: svarer ikke"
        ax2.set_title(title, fontsize=10)
        ax2.tick_params(axis="x", labelsize=8)
    fig.legend(
        [plt.Rectangle((0, 0), 1, 1, color=colours[c.name]) for c in configs],
        [c.name for c in configs],
        loc="lower center",
        ncol=len(configs),
        fontsize=8,
        frameon=False,
    )
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def _finite(values: dict[str, float]) -> dict[str, float | None]:
    """NaN (no question of a kind) is not valid JSON; say None instead."""
    return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in values.items()}


def _judgement_json(o) -> dict:
    """A question's answer judgement (all None when it was not asked)."""
    j = o.judgement
    return {
        "answer_has_evidence": j.answer_has_evidence if j else None,
        "citation_has_evidence": j.citation_has_evidence if j else None,
        "refused": j.refused if j else None,
        "nearest_has_evidence": j.nearest_has_evidence if j else None,
        "answer_citations": o.answer_citations,
    }


def _answers_json(c: ConfigResult) -> dict | None:
    """A row's answer aggregates; None for a row that cannot answer (naive)."""
    a = c.answers
    if a is None:
        return None
    return {
        "metrics": _finite(a.metrics),
        "counts": a.counts,
        "per_type": {t: _finite(v) for t, v in a.per_type.items()},
        "checks": {t: {"passed": p, "total": n} for t, (p, n) in a.checks.items()},
        "note": ANSWER_NOTE,
    }


def to_json(result: EvalResult) -> dict:
    """Everything, including each question's ranked hits with text and metadata."""
    configs = []
    for c in result.configs:
        questions = []
        for o in c.outcomes:
            q = o.question
            flag = "leak" if (q.type == "closed" and not o.scored) else "relevant"
            questions.append(
                {
                    "id": q.id,
                    "type": q.type,
                    "question": q.question,
                    "scored": o.scored,
                    "first_relevant_rank": o.first_rank if o.scored else None,
                    "deep_rank": o.deep_rank,
                    "passed": o.passed,
                    "answer": o.answer,
                    **_judgement_json(o),
                    "hits": [
                        {**h.to_json(), "citation": h.citation(), flag: r}
                        for h, r in zip(o.hits, o.relevant)
                    ],
                }
            )
        configs.append(
            {
                "name": c.name,
                "ranking": c.variant.ranking,
                "config_file": str(c.variant.config_file) if c.variant.config_file else None,
                "retrieval_config": c.variant.config.to_dict(),
                "config_changes": c.variant.config.changes(),
                "metrics": _finite(c.metrics),
                "per_type": {t: _finite(v) for t, v in c.per_type.items()},
                "checks": {t: {"passed": p, "total": n} for t, (p, n) in c.checks.items()},
                "answers": _answers_json(c),
                "seconds": round(c.seconds, 3),
                "questions": questions,
            }
        )
    return {
        "created": result.created,
        "questions_file": str(result.questions_path),
        "index": safe_dsn(str(result.index_dir)),
        "k": result.k,
        "role": result.role,
        "note": NOTE,
        "configs": configs,
        "diagnostics": [
            {
                "config": d.config,
                "id": d.question_id,
                "type": d.type,
                "kind": d.kind,
                "deep_rank": d.deep_rank,
                "top_citations": d.top_citations,
                "answer": d.answer,
                "nearest_has_evidence": d.nearest_has_evidence,
            }
            for d in result.diagnostics
        ],
    }
