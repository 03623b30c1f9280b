"""`kommunesoeg eval`: compare search configurations on a question set."""

from __future__ import annotations

import json
import shutil
from datetime import datetime
from pathlib import Path

import click

from eval.harness import CONFIGS, DEFAULT_CONFIGS, run_evaluation
from eval.report import diagnostics_text, full_markdown

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
    "configs",
    multiple=True,
    type=click.Choice(list(CONFIGS)),
    help="Konfiguration (kan gentages). Standard: alle.",
)
@click.option(
    "--role", type=click.Choice(["public", "internal"]), default="public", show_default=True
)
@click.option(
    "--json", "as_json", is_flag=True, help="Udskriv alt som JSON, inkl. hits pr. spørgsmål."
)
@click.option(
    "--index",
    "index_dir",
    type=click.Path(path_type=Path, file_okay=False),
    envvar="KOMMUNESOEG_INDEX",
    default=Path("index"),
    show_default=True,
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
    configs: tuple[str, ...],
    role: str,
    as_json: bool,
    index_dir: Path,
    corpus_dir: Path,
    out_dir: Path,
) -> None:
    """Mål søgekvaliteten (Recall@k, MRR, nDCG) for flere konfigurationer side om side.

    \b
    Eksempler:
      kommunesoeg eval --questions eval/dev-questions.jsonl
      kommunesoeg eval --config hybrid --config bm25 --k 5
      kommunesoeg eval --role internal --json > resultat.json
    """
    result = run_evaluation(
        questions_path,
        index_dir,
        configs=configs or DEFAULT_CONFIGS,
        k=k,
        role=role,
        corpus_dir=corpus_dir,
        out_dir=out_dir,
        log=lambda msg: click.echo(msg, err=True),
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%dT%H%M%S")
    png = result.write_png(out_dir / f"eval-{stamp}.png")
    shutil.copyfile(png, out_dir / "latest.png")
    (out_dir / "latest.md").write_text(full_markdown(result), encoding="utf-8")
    if as_json:
        click.echo(json.dumps(result.to_json(), ensure_ascii=False, indent=2))
        return
    click.echo(result.markdown_table())
    click.echo("")
    click.echo(result.per_type_table())
    click.echo("")
    click.echo(diagnostics_text(result))
    click.echo("")
    click.echo(f"Graf: {png} (og {out_dir / 'latest.png'}); rapport: {out_dir / 'latest.md'}")


COMMANDS = [eval_command]
