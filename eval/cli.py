"""`kommunesoeg eval`: compare rankings and retrieval configurations on a question set."""

from __future__ import annotations

import json
import shutil
from datetime import datetime
from pathlib import Path

import click

from eval.harness import DEFAULT_RANKINGS, RANKINGS, run_evaluation
from eval.report import (
    config_table,
    diagnostics_text,
    full_markdown,
    markdown_table,
    per_type_table,
    to_json,
    write_png,
)
from indexer.cli import IndexLocation
from kommunesoeg.core.config import CONFIG_ENV
from kommunesoeg.core.roles import ROLES

SHIPPED_QUESTIONS = Path(__file__).parent / "dev-questions.jsonl"


@click.command("eval")
@click.option(
    "--questions",
    "questions_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=SHIPPED_QUESTIONS,
    show_default="eval/dev-questions.jsonl",
    help="Spørgsmål i JSONL (format: eval/README.md).",
)
@click.option("--k", type=int, default=10, show_default=True, help="Antal hits pr. spørgsmål.")
@click.option(
    "--config",
    "rankings",
    multiple=True,
    type=click.Choice(list(RANKINGS)),
    help="Rangering med standardindstillingerne (kan gentages). Standard: alle fire.",
)
@click.option(
    "--config-file",
    "config_files",
    multiple=True,
    type=click.Path(path_type=Path, dir_okay=False),
    envvar=CONFIG_ENV,
    help="TOML-fil med indstillinger (kan gentages; eller $KOMMUNESOEG_CONFIG): hybrid-"
    "rangeringen køres med hver fil som en række for sig, navngivet efter filen.",
)
@click.option("--role", type=click.Choice(ROLES), default="public", show_default=True)
@click.option(
    "--json", "as_json", is_flag=True, help="Udskriv alt som JSON, inkl. hits pr. spørgsmål."
)
@click.option(
    "--index",
    "index_dir",
    type=IndexLocation(),
    envvar="KOMMUNESOEG_INDEX",
    default="index",
    show_default=True,
    help="Indeksmappe eller PostgreSQL-database (postgresql://...).",
)
@click.option(
    "--corpus",
    "corpus_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("corpus"),
    show_default=True,
    help="Bruges når indekset mangler, og til naive-indekset.",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("eval/out"),
    show_default=True,
)
def eval_command(
    questions_path: Path,
    k: int,
    rankings: tuple[str, ...],
    config_files: tuple[Path, ...],
    role: str,
    as_json: bool,
    index_dir: Path,
    corpus_dir: Path,
    out_dir: Path,
) -> None:
    """Mål søgekvaliteten (Recall@k, MRR, nDCG) og svarkvaliteten (AnswerEvidence,
    CitationEvidence, falske afvisninger) for flere konfigurationer side om side.

    \b
    Eksempler:
      kommunesoeg eval --questions eval/dev-questions.jsonl
      kommunesoeg eval --config hybrid --config bm25 --k 5
      kommunesoeg eval --config hybrid --config-file a.toml --config-file b.toml
      kommunesoeg eval --role internal --json > resultat.json
    """
    result = run_evaluation(
        questions_path,
        index_dir,
        rankings=rankings or DEFAULT_RANKINGS,
        config_files=config_files,
        k=k,
        role=role,
        corpus_dir=corpus_dir,
        out_dir=out_dir,
        log=lambda msg: click.echo(msg, err=True),
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%dT%H%M%S")
    png = write_png(result, out_dir / f"eval-{stamp}.png")
    shutil.copyfile(png, out_dir / "latest.png")
    (out_dir / "latest.md").write_text(full_markdown(result), encoding="utf-8")
    if as_json:
        click.echo(json.dumps(to_json(result), ensure_ascii=False, indent=2))
        return
    click.echo(markdown_table(result))
    click.echo("")
    click.echo(per_type_table(result))
    click.echo("")
    if config_files:
        click.echo(config_table(result))
        click.echo("")
    click.echo(diagnostics_text(result))
    click.echo("")
    click.echo(f"Graf: {png} (og {out_dir / 'latest.png'}); rapport: {out_dir / 'latest.md'}")


COMMANDS = [eval_command]
