"""What every page shares: configuration, the cached Searcher, the role, the sidebar filters.

The Searcher is loaded once per index generation (st.cache_resource keyed by the index
directory and the generation `current` points to), so queries after the first load are
fast and a re-index is picked up on the next rerun without restarting the app.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import TypeVar

import streamlit as st

from kommunesoeg.core.errors import (
    DocumentError,
    IndexDamaged,
    IndexNotFound,
    InvalidQuery,
    KommunesoegError,
)
from kommunesoeg.core.results import Filters
from retriever import access
from retriever.location import IndexLocation, index_generation, index_location

INDEX_ENV = "KOMMUNESOEG_INDEX"
CORPUS_ENV = "KOMMUNESOEG_CORPUS"
BUILD_COMMAND = "kommunesoeg index corpus/"
# Longer than the retriever's own limit on purpose: the retriever is the one that says no,
# this only stops a pasted book from being sent around at all.
MAX_INPUT_CHARS = 20_000

T = TypeVar("T")

log = logging.getLogger("kommunesoeg.app")


def configure_logging() -> None:
    """Make sure the app's log (logger "kommunesoeg") reaches stderr, with times, so what
    the browser is not shown is found in the server log. A handler configured by whoever
    runs the app (root logger) is used as it is."""
    root = logging.getLogger("kommunesoeg")
    root.setLevel(logging.INFO)
    if not root.handlers and not logging.getLogger().handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)


def index_dir() -> IndexLocation:
    """The index folder, or the PostgreSQL DSN, $KOMMUNESOEG_INDEX names."""
    return index_location(os.environ.get(INDEX_ENV) or "index")


def corpus_dir() -> Path:
    return Path(os.environ.get(CORPUS_ENV) or "corpus")


def generation(index: IndexLocation) -> str | None:
    """Name of the generation `current` points to (a database: its change counter); None
    when no complete index exists."""
    if isinstance(index, str):
        return index_generation(index)
    current = index / "current"
    try:
        target = current.resolve(strict=True)
    except (FileNotFoundError, RuntimeError, OSError):
        return None
    return target.name if (target / "manifest.json").is_file() else None


@st.cache_resource(max_entries=2, show_spinner="Indlæser søgeindekset …")
def _load_searcher(index: str, gen: str):
    # `gen` is part of the cache key only: a new generation means a new Searcher.
    from retriever.search import Searcher

    return Searcher(index)


def get_searcher():
    """The loaded Searcher for the configured index; raises IndexNotFound when there is none."""
    index = index_dir()
    gen = generation(index)
    if gen is None:
        raise IndexNotFound(f"{index}: der findes intet færdigt indeks")
    return _load_searcher(_cache_key(index), gen)


def _cache_key(index: IndexLocation) -> str:
    return index if isinstance(index, str) else str(index.resolve())


def searcher_or_stop():
    """The Searcher, or one short Danish message and st.stop().

    Never built yet: how to build it. Damaged (a dangling `current`, a generation that does
    not load, anything the reader raises): a fixed message for the user and the details in
    the server log, because exception texts carry server paths.
    """
    index = index_dir()
    try:
        gen = generation(index)
    except KommunesoegError as exc:  # a database that cannot be reached: one line, logged
        log.error("søgeindekset kunne ikke nås: %s", exc)
        st.error(INDEX_DAMAGED_TEXT)
        st.stop()
    if gen is None and not _has_index_traces(index):
        st.info(
            "Der er endnu ikke bygget et søgeindeks. Byg det fra mappen med PDF-filerne "
            f"med kommandoen `{BUILD_COMMAND}` og genindlæs siden."
        )
        st.stop()
    try:
        if gen is None:
            raise IndexDamaged(f"{index}: `current` peger ikke på en færdig generation")
        return _load_searcher(_cache_key(index), gen)
    except Exception as exc:
        log.error("søgeindekset %s kunne ikke indlæses: %s", index, exc, exc_info=exc)
        st.error(INDEX_DAMAGED_TEXT)
        st.stop()


def _has_index_traces(index: IndexLocation) -> bool:
    """True when `index` was meant to hold an index: a `current` link (even a dangling or
    looping one), a completed generation, or a plain file where the folder should be (a
    database without an index has none: it is simply not built yet)."""
    if isinstance(index, str):
        return False
    try:
        if index.is_file() or (index / "current").is_symlink() or (index / "current").exists():
            return True
        return any((gen / "manifest.json").exists() for gen in index.glob("gen-*"))
    except OSError:
        return True


# ---------------------------------------------------------------------- role
def role() -> str:
    return st.session_state.get("role", "public")


def user() -> str | None:
    return st.session_state.get("user")


def is_internal() -> bool:
    """Whether the session's role is internal staff (the access policy decides what that
    role may see; here it only chooses which tabs and tools are offered)."""
    return access.is_internal(role())


# ---------------------------------------------------------------------- errors
INDEX_DAMAGED_TEXT = (
    "Søgeindekset kan ikke bruges lige nu: det er beskadiget eller ufuldstændigt. "
    "Kontakt den, der driver Kommunesøg – fejlen er skrevet i serverens log."
)
UNEXPECTED_TEXT = (
    "Der opstod en uventet fejl, så siden kan ikke vises. Prøv igen om lidt – "
    "fejlen er skrevet i serverens log."
)
# Domain errors by class name (checked along the class hierarchy, so a subclass a library
# module adds later gets its parent's text). Fixed texts: exception messages name server paths.
_ERROR_TEXTS = {
    "IndexNotFound": f"Der er intet søgeindeks endnu. Byg det med: `{BUILD_COMMAND}`",
    "IndexDamaged": INDEX_DAMAGED_TEXT,
    "ModelMismatch": "Søgeindekset er bygget med en anden sprogmodel end den, appen bruger.",
    "UnknownModel": "Sprogmodellen, som søgeindekset kræver, findes ikke på serveren.",
    "MissingDependency": "En programpakke, som denne funktion kræver, er ikke installeret.",
    "IndexLocked": "Indekset bliver bygget lige nu af en anden. Prøv igen om lidt.",
    "DiskFull": "Disken er fuld, så indekset kunne ikke skrives. Det gamle indeks bruges stadig.",
    "ReadOnlyIndex": "Indeksmappen kan ikke skrives på serveren. Det gamle indeks bruges stadig.",
    "NothingIndexed": "Der blev ikke fundet nogen fil, der kunne indekseres.",
    "AuditLogError": (
        "Intern brug skal skrives i revisionsloggen, men loggen kan ikke skrives på serveren. "
        "Kontakt den, der driver Kommunesøg."
    ),
    "UsersFileError": "Login er ikke sat op korrekt. Kontakt den, der driver Kommunesøg.",
}


def error_text(exc: BaseException) -> str:
    """One short Danish line for `exc`, safe to show to anyone (no paths, no code).

    DocumentError names only the file's base name and the reason; InvalidQuery explains
    the user's own input; every other error gets a fixed text chosen by its type.
    """
    if isinstance(exc, DocumentError):
        return f"{Path(exc.file).name}: {exc.reason}"
    if isinstance(exc, InvalidQuery):
        return _invalid_query_text(str(exc))
    for cls in type(exc).__mro__:
        if cls.__name__ in _ERROR_TEXTS:
            return _ERROR_TEXTS[cls.__name__]
    return UNEXPECTED_TEXT


@contextmanager
def page_guard(page: str) -> Iterator[None]:
    """Whatever goes wrong while `page` renders ends as one Danish st.error, never a
    traceback: the details (type, message, stack) go to the server log only.

    st.stop() and st.rerun() pass through (they are BaseExceptions, not errors)."""
    try:
        yield
    except KommunesoegError as exc:
        log.warning("%s: %s: %s", page, type(exc).__name__, exc)
        st.error(error_text(exc))
    except Exception:
        log.exception("uventet fejl på siden %s", page)
        st.error(UNEXPECTED_TEXT)


@contextmanager
def friendly_errors() -> Iterator[None]:
    """Turn the library's domain errors into one Danish line instead of a traceback."""
    try:
        yield
    except InvalidQuery as exc:
        st.warning(_invalid_query_text(str(exc)))
    except IndexNotFound:
        st.info(f"Der er intet søgeindeks endnu. Byg det med: `{BUILD_COMMAND}`")
    except KommunesoegError as exc:
        log.warning("%s: %s", type(exc).__name__, exc)
        st.error(error_text(exc))


def _invalid_query_text(message: str) -> str:
    if message.startswith("query:") and "tom" in message:
        return "Skriv et spørgsmål eller nogle søgeord først."
    if message.startswith("query:") and "for lang" in message:
        return (
            "Teksten er for lang til en søgning. Forkort den til de vigtigste ord "
            f"eller et kort spørgsmål ({message.split(': ', 1)[-1]})."
        )
    return f"Forespørgslen kan ikke bruges: {message}"


_MEMO_SIZE = 16


def run_query(searcher, verb: str, *args, **kwargs) -> T | None:
    """`searcher.<verb>(*args, **kwargs)` with the caller's role; domain errors shown in Danish.

    Every widget click reruns the whole script, all tabs included, so results are memoised
    per session by (index generation, verb, arguments, role): a click on one tab does not
    redo the searches shown on the others. The role is part of the key, so a result seen
    while logged in is never replayed after logging out.
    """
    kwargs["role"] = role()
    key = repr((searcher.generation, verb, args, sorted(kwargs.items())))
    memo: dict = st.session_state.setdefault("_results", {})
    if key in memo:
        return memo[key]
    with friendly_errors():
        result = getattr(searcher, verb)(*args, **kwargs)
        memo[key] = result
        while len(memo) > _MEMO_SIZE:
            memo.pop(next(iter(memo)))
        return result
    return None


def check_length(text: str) -> bool:
    """Warn about absurdly long input before it reaches the retriever; True when usable."""
    if len(text) > MAX_INPUT_CHARS:
        st.warning(
            f"Teksten er for lang til en søgning ({len(text):,} tegn). Forkort den til "
            "de vigtigste ord eller et kort spørgsmål.".replace(",", ".")
        )
        return False
    return True


# ---------------------------------------------------------------------- filters
def sidebar_filters(searcher) -> Filters:
    """Filters chosen in the sidebar; they apply to every page's search."""
    st.sidebar.subheader("Afgræns søgningen")
    span = searcher.date_span(role())
    date_from = date_to = None
    if span:
        lo, hi = date.fromisoformat(span[0]), date.fromisoformat(span[1])
        picked = st.sidebar.date_input(
            "Mødedato (fra – til)",
            value=(lo, hi),
            min_value=lo,
            max_value=hi,
            format="DD.MM.YYYY",
            key="filter_dates",
        )
        if isinstance(picked, (tuple, list)) and len(picked) == 2:
            date_from, date_to = picked
            if (date_from, date_to) == (lo, hi):
                date_from = date_to = None
    committees = st.sidebar.multiselect(
        "Udvalg / magistratsafdeling",
        options=list(searcher.committees),
        placeholder="Alle",
        key="filter_committees",
    )
    documents = st.sidebar.multiselect(
        "Dokument",
        options=list(searcher.documents),
        placeholder="Alle",
        key="filter_documents",
    )
    decisions_only = st.sidebar.checkbox(
        "Kun beslutninger", key="filter_decisions", help="Vis kun passager med en beslutning."
    )
    return Filters(
        date_from=date_from,
        date_to=date_to,
        committees=committees or None,
        documents=documents or None,
        decisions_only=decisions_only,
    )


def danish_date(iso: str | None) -> str:
    if not iso:
        return "uden dato"
    y, m, d = iso.split("-")
    return f"{d}.{m}.{y}"
