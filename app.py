"""Kommunesøg – the Streamlit front end.

Run with `streamlit run app.py` (index from $KOMMUNESOEG_INDEX, default ./index).
Each tab is one module in kommunesoeg/ui/; this file only lays them out. Every part is
rendered inside `page_guard`, so an error shows one short Danish line and is logged on the
server (logger "kommunesoeg.app") – a browser never receives a traceback or a server path.
"""

from __future__ import annotations

import streamlit as st

from kommunesoeg.core.results import Filters
from kommunesoeg.ui import (
    ask,
    cards,
    documents,
    login,
    precedents,
    quality,
    search,
    sources,
    timeline,
)
from kommunesoeg.ui.common import (
    configure_logging,
    is_internal,
    page_guard,
    searcher_or_stop,
    sidebar_filters,
)


def main() -> None:
    st.title("Kommunesøg")
    st.markdown(
        "Søg i kommunens dagsordener, referater og bilag – og få svar med henvisning til det "
        "punkt, bilag og den side, svaret står på."
    )
    with page_guard("Adgang"):
        login.render_sidebar()
    searcher = searcher_or_stop()
    with page_guard("Offentlige kopier"):
        # a re-index may have removed or changed documents: their old public copies go first
        sources.sync_public_copies_once(str(searcher.reader.gen_dir), searcher)
    filters = Filters()
    with page_guard("Filtre"):
        filters = sidebar_filters(searcher)
        st.sidebar.caption("Filtrene gælder for alle faner.")

    pages = {
        "Spørg": lambda: ask.render(searcher, filters),
        "Søg": lambda: search.render(searcher, filters),
        "Lignende sager": lambda: precedents.render(searcher, filters),
        "Tidslinje": lambda: timeline.render(searcher, filters),
        "Dokumenter": lambda: documents.render(searcher),
    }
    if is_internal():
        pages["Kvalitet"] = quality.render
    for tab, (name, render) in zip(st.tabs(list(pages)), pages.items(), strict=True):
        with tab, page_guard(name):
            render()


configure_logging()
st.set_page_config(page_title="Kommunesøg", page_icon="🔎", layout="wide")
cards.inject_css()
with page_guard("Kommunesøg"):
    main()
