"""What every page shares: configuration, the cached Searcher, the role, the sidebar filters.

The Searcher is loaded once per index generation (st.cache_resource keyed by the index
directory and the generation `current` points to), so queries after the first load are
fast and a re-index is picked up on the next rerun without restarting the app.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import TypeVar

import streamlit as st

from indexer.errors import IndexNotFound, InvalidQuery, KommunesoegError
from retriever.models import Filters

INDEX_ENV = "KOMMUNESOEG_INDEX"
CORPUS_ENV = "KOMMUNESOEG_CORPUS"
BUILD_COMMAND = "kommunesoeg index corpus/"
# Longer than the retriever's own limit on purpose: the retriever is the one that says no,
# this only stops a pasted book from being sent around at all.
MAX_INPUT_CHARS = 20_000

T = TypeVar("T")


def index_dir() -> Path:
    return Path(os.environ.get(INDEX_ENV) or "index")


def corpus_dir() -> Path:
    return Path(os.environ.get(CORPUS_ENV) or "corpus")


def generation(index: Path) -> str | None:
    """Name of the generation `current` points to; None when no complete index exists."""
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
    return _load_searcher(str(index.resolve()), gen)


def searcher_or_stop():
    """The Searcher, or a friendly explanation of how to build the index and st.stop()."""
    try:
        return get_searcher()
    except IndexNotFound:
        st.info(
            "Der er endnu ikke bygget et søgeindeks. Byg det fra mappen med PDF-filerne "
            f"med kommandoen `{BUILD_COMMAND}` og genindlæs siden."
        )
        st.stop()
    except KommunesoegError as exc:
        st.error(f"Søgeindekset kunne ikke indlæses: {exc}")
        st.stop()


# ---------------------------------------------------------------------- role
def role() -> str:
    return st.session_state.get("role", "public")


def user() -> str | None:
    return st.session_state.get("user")


def is_internal() -> bool:
    return role() == "internal"


# ---------------------------------------------------------------------- errors
@contextmanager
def friendly_errors() -> Iterator[None]:
    """Turn the library's domain errors into one Danish line instead of a traceback."""
    try:
        yield
    except InvalidQuery as exc:
        st.warning(f"{_invalid_query_text(str(exc))}")
    except IndexNotFound:
        st.info(f"Der er intet søgeindeks endnu. Byg det med: `{BUILD_COMMAND}`")
    except KommunesoegError as exc:
        st.error(str(exc))


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
    key = repr((str(searcher.reader.gen_dir), verb, args, sorted(kwargs.items())))
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
    dates = sorted(d for d in (c.date for c in _visible_chunks(searcher)) if d)
    date_from = date_to = None
    if dates:
        lo, hi = date.fromisoformat(dates[0]), date.fromisoformat(dates[-1])
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


def _visible_chunks(searcher):
    return (c for c in searcher.reader.chunks if searcher.visible_chunk(c, role()))


def danish_date(iso: str | None) -> str:
    if not iso:
        return "uden dato"
    y, m, d = iso.split("-")
    return f"{d}.{m}.{y}"
