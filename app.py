"""Kommunesøg – the Streamlit front end.

Run with `streamlit run app.py` (index from $KOMMUNESOEG_INDEX, default ./index).
Each tab is one module in kommunesoeg/ui/; this file only lays them out.
"""

from __future__ import annotations

import streamlit as st

from kommunesoeg.ui import ask, cards, documents, login, precedents, quality, search, timeline
from kommunesoeg.ui.common import is_internal, searcher_or_stop, sidebar_filters

st.set_page_config(page_title="Kommunesøg", page_icon="🔎", layout="wide")
cards.inject_css()

st.title("Kommunesøg")
st.markdown(
    "Søg i kommunens dagsordener, referater og bilag – og få svar med henvisning til det "
    "punkt, bilag og den side, svaret står på."
)

login.render_sidebar()
searcher = searcher_or_stop()
filters = sidebar_filters(searcher)
st.sidebar.caption("Filtrene gælder for alle faner.")

names = ["Spørg", "Søg", "Lignende sager", "Tidslinje", "Dokumenter"]
if is_internal():
    names.append("Kvalitet")
tabs = st.tabs(names)
with tabs[0]:
    ask.render(searcher, filters)
with tabs[1]:
    search.render(searcher, filters)
with tabs[2]:
    precedents.render(searcher, filters)
with tabs[3]:
    timeline.render(searcher, filters)
with tabs[4]:
    documents.render(searcher)
if is_internal():
    with tabs[5]:
        quality.render()
