"""Lignende sager: paste or upload a new case, get earlier agenda items and what was decided."""

from __future__ import annotations

import html
import tempfile
from pathlib import Path

import streamlit as st

from kommunesoeg.ui.cards import outcome_badge, render_hit
from kommunesoeg.ui.common import check_length, danish_date, run_query, user
from retriever.models import Filters

# The retriever limits query length; a case text is cut to its opening, which is where an
# indstilling states what the case is about.
CASE_CHARS = 1900


def _uploaded_text(upload) -> str | None:
    """Text of an uploaded .txt/.pdf through the indexer's own extractor (OCR included)."""
    from indexer.errors import DocumentError
    from indexer.extract import extract_pages

    suffix = Path(upload.name).suffix.lower()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"sag{suffix}"
        path.write_bytes(upload.getvalue())
        try:
            pages = extract_pages(path)
        except DocumentError as exc:
            st.error(f"{upload.name} kan ikke læses: {exc.reason}")
            return None
    return "\n".join(p.text for p in pages)


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
        case = text
        if upload is not None:
            case = _uploaded_text(upload)
            if case is None:
                return
        st.session_state["case_submitted"] = case
    case = st.session_state.get("case_submitted")
    if case is None or not check_length(case):
        return
    case = case.strip()[:CASE_CHARS]
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
