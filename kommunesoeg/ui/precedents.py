"""Lignende sager: paste or upload a new case, get earlier agenda items and what was decided."""

from __future__ import annotations

import html

import streamlit as st

from kommunesoeg.core.errors import InvalidQuery
from kommunesoeg.core.results import Filters
from kommunesoeg.ui.cards import outcome_badge, render_hit
from kommunesoeg.ui.common import danish_date, run_query, user
from retriever.casetext import case_text_from_bytes, prepare_case_text


def _case_text(text: str, upload) -> str | None:
    """The case as the retriever will use it, from the upload if there is one, else the
    pasted text; prepared exactly as `kommunesoeg precedents` prepares it (no cut at a fixed
    length: the retriever condenses a long case itself). A bad upload or unusable text is
    shown as one Danish line and gives None."""
    try:
        if upload is not None:  # PDF (OCR included) or text in any common encoding
            return case_text_from_bytes(upload.name, upload.getvalue())
        return prepare_case_text(text)
    except InvalidQuery as exc:
        field, _, reason = str(exc).partition(": ")
        st.warning(f"Sagen kan ikke bruges: {reason if field in ('case', 'file') else exc}")
        return None


def render(searcher, filters: Filters) -> None:
    st.markdown(
        "Indsæt teksten fra en ny sag (fx indstillingen) eller upload den som PDF/tekst. "
        "Du får tidligere dagsordenspunkter om det samme – med hvad der blev besluttet."
    )
    with st.form("precedents_form", border=False):
        text = st.text_area("Sagens tekst", key="case_input", height=160)
        upload = st.file_uploader("… eller upload sagen", type=["txt", "pdf"], key="case_upload")
        submitted = st.form_submit_button("Find lignende sager", type="primary")
    if submitted:
        case = _case_text(text, upload)
        st.session_state["case_submitted"] = case
        if case is None:
            return
    case = st.session_state.get("case_submitted")
    if case is None:
        return
    with st.spinner("Leder efter lignende sager …"):
        found = run_query(searcher, "precedents", case, k=10, filters=filters, user=user())
    if found is None:
        return
    if not found:
        st.info("Ingen tidligere dagsordenspunkter ligner denne sag.")
        return
    st.subheader(f"{len(found)} tidligere sager")
    for p in found:
        label = (
            f"{danish_date(p.date)} · {p.committee} · Punkt {p.punkt}: {p.punkt_title}"
            f" — {p.outcome}"
        )
        with st.expander(label, expanded=p.rank == 1):
            st.markdown(
                f"**{html.escape(p.meeting)}**{outcome_badge(p.outcome)}", unsafe_allow_html=True
            )
            if p.decision_text:
                st.markdown("**Beslutning:**")
                st.text(p.decision_text)
            if p.followups:
                st.caption("Opfølgning: " + ", ".join(p.followups))
            st.caption("Kilde: " + p.citation.citation())
            render_hit(
                searcher,
                p.citation,
                number=None,
                query=case[:300],
                key=f"prec-{p.rank}-{p.citation.chunk_id}",
            )
