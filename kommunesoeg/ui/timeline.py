"""Tidslinje: the decisions about a topic, oldest first, as a chart and a list."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from kommunesoeg.core.results import Filters, TimelineEntry
from kommunesoeg.ui.cards import OUTCOME_COLOURS, outcome_badge, render_hit
from kommunesoeg.ui.common import check_length, danish_date, run_query, user


def render(searcher, filters: Filters) -> None:
    st.markdown("Se hvad der er besluttet om et emne over tid – fra alle møder i indekset.")
    with st.form("timeline_form", border=False):
        cols = st.columns([6, 1], vertical_alignment="bottom")
        topic = cols[0].text_input("Emne", key="timeline_input", placeholder="Fx: beskæftigelse")
        if cols[1].form_submit_button("Vis", type="primary", width="stretch"):
            st.session_state["timeline_submitted"] = topic
    topic = st.session_state.get("timeline_submitted")
    if topic is None or not check_length(topic):
        return
    entries = run_query(searcher, "timeline", topic, filters=filters, user=user())
    if entries is None:
        return
    if not entries:
        st.info("Der er ingen beslutninger om dette emne i de dokumenter, du har adgang til.")
        return
    noun = "beslutning" if len(entries) == 1 else "beslutninger"
    st.subheader(f"{len(entries)} {noun} om »{topic}«")
    chart = _chart(entries)
    if chart is not None:
        st.altair_chart(chart, width="stretch")
    for i, entry in enumerate(entries):
        label = f"{danish_date(entry.date)} · {entry.committee} · Punkt {entry.punkt}: {entry.punkt_title}"
        with st.expander(f"{label} — {entry.outcome}"):
            st.markdown(outcome_badge(entry.outcome), unsafe_allow_html=True)
            if entry.decision_text:
                st.text(entry.decision_text)
            if entry.followups:
                st.caption("Opfølgning: " + ", ".join(entry.followups))
            render_hit(
                searcher,
                entry.citation,
                number=None,
                query=topic,
                key=f"tl-{i}-{entry.citation.chunk_id}",
            )


def _chart(entries: list[TimelineEntry]) -> alt.Chart | None:
    rows = [
        {
            "Dato": pd.Timestamp(e.date),
            "Udvalg": e.committee,
            "Udfald": e.outcome,
            "Punkt": f"Punkt {e.punkt}: {e.punkt_title}",
        }
        for e in entries
        if e.date
    ]
    if not rows:
        return None
    present = {r["Udfald"] for r in rows}
    outcomes = [o for o in OUTCOME_COLOURS if o in present] + sorted(present - set(OUTCOME_COLOURS))
    colours = [OUTCOME_COLOURS.get(o, OUTCOME_COLOURS["andet"])[1] for o in outcomes]
    return (
        alt.Chart(pd.DataFrame(rows))
        .mark_circle(size=160, opacity=0.85)
        .encode(
            x=alt.X("Dato:T", title="Mødedato", axis=alt.Axis(format="%d.%m.%Y")),
            y=alt.Y("Udvalg:N", title=None),
            color=alt.Color("Udfald:N", scale=alt.Scale(domain=outcomes, range=colours)),
            tooltip=["Dato:T", "Udvalg:N", "Punkt:N", "Udfald:N"],
        )
        .properties(height=max(160, 60 * len({r["Udvalg"] for r in rows}), 22 * len(outcomes)))
    )
