"""Søg: ranked passages for a query, ten per page, narrowed by the sidebar filters."""

from __future__ import annotations

import streamlit as st

from kommunesoeg.core.results import Filters
from kommunesoeg.ui.cards import render_hit
from kommunesoeg.ui.common import check_length, run_query, user

PAGE_SIZE = 10
MAX_RESULTS = 100


def _new_query() -> None:
    st.session_state["search_page"] = 0


def render(searcher, filters: Filters) -> None:
    st.markdown(
        "Søg efter ord, navne, sagsnumre (fx `EMN-2023-000692`) eller emner. Resultaterne "
        "er rangeret efter relevans; brug filtrene i venstre side for at afgrænse."
    )
    with st.form("search_form", border=False):
        cols = st.columns([6, 1], vertical_alignment="bottom")
        query = cols[0].text_input(
            "Søgeord", key="search_input", placeholder="Fx: overgangsfinansiering"
        )
        if cols[1].form_submit_button("Søg", type="primary", width="stretch", on_click=_new_query):
            st.session_state["search_submitted"] = query
    query = st.session_state.get("search_submitted")
    if query is None or not check_length(query):
        return

    page = st.session_state.get("search_page", 0)
    want = min(MAX_RESULTS, (page + 1) * PAGE_SIZE + 1)  # one extra: is there a next page?
    hits = run_query(searcher, "search", query, k=want, filters=filters, user=user())
    if hits is None:
        return
    if not hits:
        st.info("Ingen passager matcher søgningen med de valgte filtre.")
        return
    shown = hits[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]
    more = len(hits) > (page + 1) * PAGE_SIZE
    first = page * PAGE_SIZE + 1
    st.caption(
        f"Viser resultat {first}–{first + len(shown) - 1}" + (" (flere findes)" if more else "")
    )
    for hit in shown:
        render_hit(searcher, hit, number=hit.rank, query=query, key=f"search-{hit.chunk_id}")
    prev_col, info_col, next_col = st.columns([1, 3, 1])
    if page > 0 and prev_col.button("← Forrige", key="search_prev", width="stretch"):
        st.session_state["search_page"] = page - 1
        st.rerun()
    info_col.markdown(
        f"<div style='text-align:center;color:#4a5564'>Side {page + 1}</div>",
        unsafe_allow_html=True,
    )
    if more and next_col.button("Næste →", key="search_next", width="stretch"):
        st.session_state["search_page"] = page + 1
        st.rerun()
