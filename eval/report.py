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

from eval.results import ConfigResult, EvalResult
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
    return "\n".join(lines)


def per_type_table(result: EvalResult) -> str:
    """One row per configuration and question type (ranking types only)."""
    names = result.metric_names
    lines = [
        "| konfiguration | type | n | " + " | ".join(names) + " |",
        "| --- | --- | ---: | " + " | ".join("---:" for _ in names) + " |",
    ]
    for c in result.configs:
        for qtype, values in c.per_type.items():
            row = [c.name, qtype, str(int(values["n"]))] + [_fmt(values[n]) for n in names]
            lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def diagnostics_text(result: EvalResult) -> str:
    """One line per miss / leak / wrongly answered question, after the tables."""
    if not result.diagnostics:
        return "Ingen fejl: alle spørgsmål fandt relevant evidens i top k."
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
                f"Spørgsmål: `{result.questions_path}` · indeks: `{result.index_dir}`",
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


def write_png(result: EvalResult, path: Path | str) -> Path:
    """Grouped bar chart: one group per metric, one bar per configuration."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = result.metric_names
    configs = result.configs
    width = 0.8 / max(len(configs), 1)
    fig, ax = plt.subplots(figsize=(max(7, 1.4 * len(names)), 4.2), dpi=110)
    for i, c in enumerate(configs):
        xs = [j + (i - (len(configs) - 1) / 2) * width for j in range(len(names))]
        values = [0.0 if math.isnan(c.metrics[n]) else c.metrics[n] for n in names]
        bars = ax.bar(xs, values, width, label=c.name)
        ax.bar_label(bars, fmt="%.2f", fontsize=7, padding=1)
    ax.set_xticks(range(len(names)), names)
    ax.set_ylim(0, 1.08)
    ax.set_ylabel("værdi")
    ax.set_title(f"Søgekvalitet pr. konfiguration (k={result.k}, rolle={result.role})")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=len(configs), fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def _finite(values: dict[str, float]) -> dict[str, float | None]:
    """NaN (no question of a kind) is not valid JSON; say None instead."""
    return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in values.items()}


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
                "seconds": round(c.seconds, 3),
                "questions": questions,
            }
        )
    return {
        "created": result.created,
        "questions_file": str(result.questions_path),
        "index": str(result.index_dir),
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
            }
            for d in result.diagnostics
        ],
    }
