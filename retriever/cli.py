"""`kommunesoeg search / ask / precedents / timeline`: the retriever on the command line.

Every command takes the same index, role and filter options; `--json` prints the typed
results (schema: docs/json-schema.md) instead of the Danish human output.
"""

from __future__ import annotations

import getpass
import json
import textwrap
from datetime import date
from functools import wraps
from pathlib import Path

import click

from kommunesoeg.core.results import Answer, Filters, Hit, Precedent, TimelineEntry

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


def common_options(func):
    """Index, role, k, filters and --json: identical on every retriever command."""
    options = [
        click.option(
            "--index", "index_dir", type=click.Path(path_type=Path),  # a file: IndexNotFound says so
            envvar="KOMMUNESOEG_INDEX", default=Path("index"), show_default=True,
            help="Indeksmappe (eller $KOMMUNESOEG_INDEX).",
        ),
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
        click.option("--role", type=click.Choice(["public", "internal"]), default="public",
                     show_default=True, help="Offentlig bruger eller intern medarbejder."),
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
        return func(*args, **kwargs)

    return wrapper


def _searcher(index_dir: Path):
    from retriever.search import Searcher

    return Searcher(index_dir)


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
def search(query: str, k: int, index_dir: Path, filters: Filters, role: str, as_json: bool) -> None:
    """Søg i dagsordener og referater (semantisk + ordsøgning).

    \b
    Eksempler:
      kommunesoeg search "overgangsfinansiering Opgang til Opgang"
      kommunesoeg search EMN-2023-000692 --json
      kommunesoeg search "klimamad" --committee MBU --from 2023-01-01
    """
    hits = _searcher(index_dir).search(query, k=k, filters=filters, role=role, user=_user())
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
def ask(question: str, k: int, mode: str | None, index_dir: Path, filters: Filters, role: str,
        as_json: bool) -> None:
    """Stil et spørgsmål og få et svar med kildehenvisninger [n].

    \b
    Eksempler:
      kommunesoeg ask "Hvad blev besluttet om Opgang til Opgang?"
      kommunesoeg ask "What was decided about Aarhus Skills?" --json
    """
    from retriever.answer import answer_question

    answer = answer_question(_searcher(index_dir), question, k=k, filters=filters, role=role,
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
               filters: Filters, role: str, as_json: bool) -> None:
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
    rows = _searcher(index_dir).precedents(case_text, k=k, filters=filters, role=role,
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
def timeline(topic: str, k: int, index_dir: Path, filters: Filters, role: str,
             as_json: bool) -> None:
    """Vis beslutninger om et emne over tid, ældste først.

    \b
    Eksempler:
      kommunesoeg timeline "Opgang til Opgang"
      kommunesoeg timeline "klima" --committee MBU --json
    """
    entries = _searcher(index_dir).timeline(topic, filters=filters, role=role, user=_user())[:k]
    if as_json:
        _emit_json([e.to_json() for e in entries])
        return
    if not entries:
        click.echo("Ingen beslutninger fundet om emnet.")
    for entry in entries:
        _print_decision_row(f"{entry.date or '?'}", entry)


def _user() -> str:
    """Who the audit log names for internal use from the command line: the OS account."""
    return getpass.getuser()


COMMANDS = [search, ask, precedents, timeline]
