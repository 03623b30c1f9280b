"""`kommunesoeg search / ask / precedents / timeline / stats`: the retriever on the command line.

Every query command takes the same index, role, filter and configuration options; `--json`
prints the typed results (schema: docs/json-schema.md) instead of the Danish human output.
"""

from __future__ import annotations

import getpass
import json
import textwrap
from datetime import date
from functools import wraps
from pathlib import Path

import click

from indexer.cli import IndexLocation
from kommunesoeg.core.config import CONFIG_ENV, RetrievalConfig, load_config
from kommunesoeg.core.results import Answer, Filters, Hit, Precedent, TimelineEntry
from kommunesoeg.core.roles import ROLES

SNIPPET_CHARS = 240


# ----------------------------------------------------------------------------- shared options
def _parse_date(ctx: click.Context, param: click.Parameter, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"'{value}' er ikke en dato på formen ÅÅÅÅ-MM-DD", ctx=ctx, param=param
        ) from None


index_option = click.option(
    "--index", "index_dir", type=IndexLocation(file_okay=True),  # a file: IndexNotFound says so
    envvar="KOMMUNESOEG_INDEX", default="index", show_default=True,
    help="Indeksmappe eller PostgreSQL-database (postgresql://...) (eller $KOMMUNESOEG_INDEX).",
)
role_option = click.option(
    "--role", type=click.Choice(ROLES), default="public", show_default=True,
    help="Offentlig bruger eller intern medarbejder.",
)


def common_options(func):
    """Index, role, filters, configuration and --json: identical on every query command.

    The command receives `filters` (a Filters) and `config` (the RetrievalConfig from
    --config-file or $KOMMUNESOEG_CONFIG; a bad file is one line naming it and the key)."""
    options = [
        index_option,
        click.option("--from", "date_from", callback=_parse_date, metavar="ÅÅÅÅ-MM-DD",
                     help="Kun møder fra og med denne dato."),
        click.option("--to", "date_to", callback=_parse_date, metavar="ÅÅÅÅ-MM-DD",
                     help="Kun møder til og med denne dato."),
        click.option("--committee", "committees", multiple=True,
                     help="Udvalg/magistratsafdeling, fx MSB (kan gentages)."),
        click.option("--document", "documents", multiple=True,
                     help="Filnavn (kan gentages)."),
        click.option("--section", "sections", multiple=True,
                     help="Afsnitstype, fx beslutning eller indstilling (kan gentages)."),
        click.option("--decisions-only", is_flag=True, help="Kun passager med beslutninger."),
        role_option,
        click.option(
            "--config-file", type=click.Path(path_type=Path, dir_okay=False), envvar=CONFIG_ENV,
            help="TOML-fil med vægte og tærskler (eller $KOMMUNESOEG_CONFIG); "
                 "standard: værdierne i kommunesoeg/core/config.py.",
        ),
        click.option("--json", "as_json", is_flag=True, help="Udskriv som JSON."),
    ]
    for option in reversed(options):
        func = option(func)

    @wraps(func)
    def wrapper(*args, **kwargs):
        kwargs["filters"] = Filters(
            date_from=kwargs.pop("date_from"),
            date_to=kwargs.pop("date_to"),
            committees=list(kwargs.pop("committees")) or None,
            documents=list(kwargs.pop("documents")) or None,
            sections=list(kwargs.pop("sections")) or None,
            decisions_only=kwargs.pop("decisions_only"),
        )
        kwargs["config"] = load_config(kwargs.pop("config_file"))
        return func(*args, **kwargs)

    return wrapper


def _searcher(index_dir: Path, config: RetrievalConfig | None = None):
    from retriever.search import Searcher

    return Searcher(index_dir, config=config)


def _emit_json(payload) -> None:
    click.echo(json.dumps(payload, ensure_ascii=False, indent=2))


# ----------------------------------------------------------------------------- human output
def _badge(outcome: str | None) -> str:
    return f" [{outcome.upper()}]" if outcome else ""


def _snippet(text: str, width: int = SNIPPET_CHARS) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1].rsplit(" ", 1)[0] + " …"


def _indent(text: str) -> str:
    return textwrap.fill(text, width=100, initial_indent="    ", subsequent_indent="    ")


def _print_hit(hit: Hit) -> None:
    title = f" – {hit.punkt_title}" if hit.punkt_title else ""
    click.echo(f"{hit.rank:>2}. {hit.citation()}{title}{_badge(hit.outcome)}")
    click.echo(_indent(_snippet(hit.text)))
    if hit.also_in:
        click.echo(_indent("Findes også i: " + "; ".join(loc.label() for loc in hit.also_in)))


def _print_answer(answer: Answer) -> None:
    click.echo(answer.answer)
    click.echo()
    heading = "Nærmeste passager:" if answer.insufficient_evidence else "Kilder:"
    click.echo(heading)
    for i, hit in enumerate(answer.citations, start=1):
        click.echo(f"  [{i}] {hit.citation()}" + (f" – {hit.punkt_title}" if hit.punkt_title else ""))


def _print_decision_row(prefix: str, row: Precedent | TimelineEntry) -> None:
    click.echo(f"{prefix} {row.citation.citation()} – {row.punkt_title}{_badge(row.outcome)}")
    if row.decision_text:
        click.echo(_indent("Beslutning: " + _snippet(row.decision_text, 400)))
    if row.followups:
        click.echo(_indent("Følges op af: " + ", ".join(row.followups)))


# ----------------------------------------------------------------------------- commands
@click.command("search")
@click.argument("query")
@click.option("--k", type=click.IntRange(1, 1000), default=10, show_default=True,
              help="Antal resultater.")
@common_options
def search(query: str, k: int, index_dir: Path, filters: Filters, config: RetrievalConfig,
           role: str, as_json: bool) -> None:
    """Søg i dagsordener og referater (semantisk + ordsøgning).

    \b
    Eksempler:
      kommunesoeg search "overgangsfinansiering Opgang til Opgang"
      kommunesoeg search EMN-2023-000692 --json
      kommunesoeg search "klimamad" --committee MBU --from 2023-01-01
      kommunesoeg search "klimamad" --config-file tuning.toml
    """
    hits = _searcher(index_dir, config).search(query, k=k, filters=filters, role=role, user=_user())
    if as_json:
        _emit_json([h.to_json() for h in hits])
        return
    if not hits:
        click.echo("Ingen resultater.")
    for hit in hits:
        _print_hit(hit)


@click.command("ask")
@click.argument("question")
@click.option("--k", type=click.IntRange(1, 50), default=5, show_default=True,
              help="Antal passager svaret bygger på.")
@click.option("--mode", type=click.Choice(["extractive", "generative"]), default=None,
              help="Svartilstand (standard: extractive; generative kræver KOMMUNESOEG_LLM_URL).")
@common_options
def ask(question: str, k: int, mode: str | None, index_dir: Path, filters: Filters,
        config: RetrievalConfig, role: str, as_json: bool) -> None:
    """Stil et spørgsmål og få et svar med kildehenvisninger [n].

    \b
    Eksempler:
      kommunesoeg ask "Hvad blev besluttet om Opgang til Opgang?"
      kommunesoeg ask "What was decided about Aarhus Skills?" --json
    """
    answer = _searcher(index_dir, config).ask(question, k=k, filters=filters, role=role,
                                              user=_user(), mode=mode)
    if as_json:
        _emit_json(answer.to_json())
        return
    _print_answer(answer)


@click.command("precedents")
@click.option("--file", "case_file", type=click.Path(path_type=Path),
              help="Fil med sagsteksten: PDF eller tekst (UTF-8, UTF-16 eller Latin-1), "
                   "højst 2 MB tekst / 20 MB PDF.")
@click.option("--text", "case_text", help="Sagsteksten direkte.")
@click.option("--k", type=click.IntRange(1, 100), default=10, show_default=True,
              help="Antal dagsordenspunkter.")
@common_options
def precedents(case_file: Path | None, case_text: str | None, k: int, index_dir: Path,
               filters: Filters, config: RetrievalConfig, role: str, as_json: bool) -> None:
    """Find tidligere dagsordenspunkter, der ligner en ny sag (præcedens).

    \b
    Eksempler:
      kommunesoeg precedents --text "Frivillig organisation søger medfinansiering til ..."
      kommunesoeg precedents --file ny_indstilling.txt --k 5 --json
    """
    if bool(case_file) == bool(case_text):
        raise click.UsageError("Angiv præcis én af --file og --text.")
    if case_file is not None:
        from retriever.casetext import read_case_file

        # regular files only, size-capped, any encoding; InvalidQuery becomes one line
        case_text = read_case_file(case_file)
    rows = _searcher(index_dir, config).precedents(case_text, k=k, filters=filters, role=role,
                                           user=_user())
    if as_json:
        _emit_json([r.to_json() for r in rows])
        return
    if not rows:
        click.echo("Ingen lignende dagsordenspunkter fundet.")
    for row in rows:
        _print_decision_row(f"{row.rank:>2}.", row)
        click.echo(_indent("Passage: " + _snippet(row.citation.text)))


@click.command("timeline")
@click.argument("topic")
@click.option("--k", type=click.IntRange(1, 1000), default=50, show_default=True,
              help="Højst så mange beslutninger (de ældste først).")
@common_options
def timeline(topic: str, k: int, index_dir: Path, filters: Filters, config: RetrievalConfig,
             role: str, as_json: bool) -> None:
    """Vis beslutninger om et emne over tid, ældste først.

    \b
    Eksempler:
      kommunesoeg timeline "Opgang til Opgang"
      kommunesoeg timeline "klima" --committee MBU --json
    """
    entries = _searcher(index_dir, config).timeline(topic, filters=filters, role=role, user=_user())[:k]
    if as_json:
        _emit_json([e.to_json() for e in entries])
        return
    if not entries:
        click.echo("Ingen beslutninger fundet om emnet.")
    for entry in entries:
        _print_decision_row(f"{entry.date or '?'}", entry)


# Keys of `kommunesoeg stats` in display order; Searcher.stats decides which the role gets.
STATS_KEYS = (
    "documents", "pages", "ocr_pages", "chunks", "duplicates", "model", "faiss", "index_bytes",
    "total_bytes", "generation", "created", "closed_chunks", "failed_documents",
)


def index_stats(index_dir: Path, role: str = "public") -> dict:
    """Counts for `kommunesoeg stats`, as `Searcher.stats` gives them to `role`: the public
    role gets no count that involves closed (Lukket) material."""
    counts = _searcher(index_dir).stats(role)
    return {key: counts[key] for key in STATS_KEYS if key in counts}


def _human_bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}".replace(".", ",")
        size /= 1024
    return f"{n} B"


@click.command("stats")
@index_option
@click.option("--json", "as_json", is_flag=True, help="Skriv tallene som JSON.")
@click.option("--role", type=click.Choice(ROLES), default="public", show_default=True,
              help="Rolle: den offentlige rolle ser ingen tal for lukkede punkter.")
def stats(index_dir: Path, as_json: bool, role: str) -> None:
    """Vis hvad indekset indeholder.

    \b
    Eksempel:
      kommunesoeg stats --role internal
    """
    data = index_stats(index_dir, role)
    if as_json:
        _emit_json(data)
        return
    lines = [
        ("Dokumenter", str(data["documents"])),
        ("Sider", f"{data['pages']} (heraf {data['ocr_pages']} OCR-læst)"),
        ("Tekststykker", f"{data['chunks']} (heraf {data['duplicates']} dubletter)"),
    ]
    if "closed_chunks" in data:
        lines.append(("Lukkede tekststykker", str(data["closed_chunks"])))
    for failed in data.get("failed_documents", []):
        lines.append(("Fejlet fil", f"{failed['file']}: {failed['error']}"))
    lines += [
        ("Model", data["model"]),
        ("Vektorindeks", data["faiss"]),
        ("Størrelse", _human_bytes(data["index_bytes"])
         + f" (hele mappen {_human_bytes(data['total_bytes'])})"),
        ("Bygget", f"{data['created']} ({data['generation']})"),
    ]
    width = max(len(label) for label, _ in lines)
    for label, value in lines:
        click.echo(f"{label + ':':<{width + 1}} {value}")


def _user() -> str:
    """Who the audit log names for internal use from the command line: the OS account."""
    return getpass.getuser()


COMMANDS = [search, ask, precedents, timeline, stats]
