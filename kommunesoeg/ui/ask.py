"""Spørg: a question in, an answer with [n] citations and the cited passages as cards out.

A question about what was decided is answered with a decision card (the latest decision on
the case, quoted, and its earlier treatments); the answer text stays one click away.
"""

from __future__ import annotations

import html
import re

import streamlit as st

from kommunesoeg.core.results import Answer, Filters
from kommunesoeg.ui.cards import render_hit
from kommunesoeg.ui.common import check_length, run_query, user
from kommunesoeg.ui.decision_card import render_decision

EXAMPLES = (
    "Hvad blev besluttet om Opgang til Opgang?",
    "Hvad blev besluttet om de ændrede dagpengeregler for dimittender?",
    "Hvordan går det med relationel velfærd og bredere børnefællesskaber?",
    "Hvad sker der med planteskolen i Skæring?",
)
INSUFFICIENT = (
    "Jeg fandt ikke et sikkert svar i dokumenterne. Nedenfor er de passager, der kom "
    "tættest på – læs dem selv, før du bruger dem."
)
CITED = "Svaret er citeret fra dokumenterne; tallene i klammer henviser til kilderne nedenfor."
_MARKER = re.compile(r"\[(\d+)\]")


def _use_example(question: str) -> None:
    st.session_state["ask_input"] = question
    st.session_state["ask_submitted"] = question


def render(searcher, filters: Filters) -> None:
    st.markdown(
        "Stil et spørgsmål på almindeligt dansk. Svaret er sammensat af sætninger fra "
        "dagsordener og referater, og hvert udsagn har en kildehenvisning **[n]** til "
        "punktet, bilaget og siden, det stammer fra."
    )
    with st.form("ask_form", clear_on_submit=False, border=False):
        cols = st.columns([6, 1], vertical_alignment="bottom")
        question = cols[0].text_input(
            "Dit spørgsmål",
            key="ask_input",
            placeholder="Fx: Hvad blev besluttet om Opgang til Opgang?",
        )
        if cols[1].form_submit_button("Spørg", type="primary", width="stretch"):
            st.session_state["ask_submitted"] = question
    st.caption("Eksempler – klik for at spørge:")
    with st.container(horizontal=True, gap="small"):
        for i, example in enumerate(EXAMPLES):
            st.button(
                example,
                key=f"example_{i}",
                on_click=_use_example,
                args=(example,),
                width="content",
                icon=":material/help_outline:",
            )

    asked = st.session_state.get("ask_submitted")
    if asked is None:
        return
    if not check_length(asked):
        return
    with st.spinner("Finder svar …"):
        answer = run_query(searcher, "ask", asked, k=5, filters=filters, user=user())
    if answer is not None:
        show_answer(searcher, answer)


def show_answer(searcher, answer: Answer) -> None:
    st.subheader("Svar")
    if answer.insufficient_evidence:
        st.warning(INSUFFICIENT)
    elif answer.decision is not None:
        render_decision(searcher, answer)
        with st.expander("Svaret som tekst med kildehenvisninger"):
            st.markdown(_answer_html(answer), unsafe_allow_html=True)
        st.caption(CITED)
    else:
        with st.container(border=True):
            st.markdown(_answer_html(answer), unsafe_allow_html=True)
        st.caption(CITED)
    if not answer.citations:
        st.info("Ingen passager i de dokumenter, du har adgang til, handler om dette.")
        return
    st.subheader("Kilder" if not answer.insufficient_evidence else "Nærmeste passager")
    for n, hit in enumerate(answer.citations, start=1):
        render_hit(searcher, hit, number=n, query=answer.question, key=f"ask-{n}-{hit.chunk_id}")


def _answer_html(answer: Answer) -> str:
    """Answer text, escaped, with each [n] marker styled as a citation number."""
    sentences = answer.sentences or []
    if sentences:
        parts = []
        for sentence in sentences:
            marks = "".join(f'<sup class="ks-cite">[{n}]</sup>' for n in sentence.citations)
            text = _MARKER.sub("", sentence.text).rstrip()  # markers are drawn from .citations
            parts.append(f"{html.escape(text)}{marks}")
        body = " ".join(parts)
    else:
        body = _MARKER.sub(r'<sup class="ks-cite">[\1]</sup>', html.escape(answer.answer))
    return (
        "<style>.ks-cite{color:#1f5f8b;font-weight:700;margin-left:0.1rem;}"
        ".ks-answer{font-size:1.08rem;line-height:1.6;}</style>"
        f'<div class="ks-answer">{body}</div>'
    )
