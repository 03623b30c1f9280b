"""A cited passage as a card: where it is from, what was decided, the passage, the source.

Everything taken from a document is HTML-escaped before it is placed in the card's HTML;
query words are marked by splitting the raw text at the matches and escaping each piece,
so a passage containing `<script>` or `&amp;` is shown literally and can never inject markup.
"""

from __future__ import annotations

import html
import re

import streamlit as st

from kommunesoeg.core.results import Hit, Location
from kommunesoeg.core.textnorm import content_terms, tokenize
from kommunesoeg.ui import sources
from kommunesoeg.ui.common import danish_date, role
from retriever.access import in_public_copy, may_open_source

_WORD = re.compile(r"[0-9A-Za-zÆØÅæøåÄÖÜäöüÉé]+(?:-[0-9A-Za-zÆØÅæøåÄÖÜäöüÉé]+)*")

# a single line break that does not start a bullet or a numbered heading
_SOFT_BREAK = re.compile(r"(?<!\n)[ \t]*\n[ \t]*(?![\n•▪·*–-]|\d{1,2}[.)] )")

OUTCOME_COLOURS = {
    "godkendt": ("#e3f4e8", "#1d6b35"),
    "ikke godkendt": ("#fbe5e5", "#9b1c1c"),
    "taget til efterretning": ("#e6eef8", "#1f4f8b"),
    "drøftet": ("#f1eafa", "#5b3a8c"),
    "fremsendt": ("#fff4dc", "#7a5400"),
    "udsat": ("#fdeede", "#8a4b08"),
    "andet": ("#eceff3", "#3a4350"),
}

CSS = """
<style>
.ks-meta {color:#4a5564; font-size:0.86rem; margin-bottom:0.2rem;}
.ks-title {font-weight:600; font-size:1.02rem; margin-bottom:0.15rem;}
.ks-num {display:inline-block; min-width:1.7rem; padding:0 0.35rem; margin-right:0.4rem;
  border-radius:0.35rem; background:#1f5f8b; color:#fff; font-weight:600; text-align:center;}
.ks-badge {display:inline-block; padding:0.05rem 0.55rem; border-radius:1rem;
  font-size:0.8rem; font-weight:600; margin-left:0.35rem; vertical-align:middle;}
.ks-closed {background:#3a4350; color:#fff;}
.ks-passage {white-space:pre-wrap; font-size:0.93rem; line-height:1.45;
  border-left:3px solid #c9d6e2; padding:0.3rem 0 0.3rem 0.8rem; margin:0.45rem 0;
  max-height:16rem; overflow-y:auto;}
.ks-passage mark {background:#ffe89a; padding:0 0.1rem; border-radius:0.15rem;}
.ks-also {color:#4a5564; font-size:0.82rem;}
.ks-links a {font-weight:600; text-decoration:none;}
[data-testid="InputInstructions"] {display:none;}
/* Streamlit draws captions in a faded text colour (~3.6:1 on the sidebar); WCAG 2.1 AA needs
   4.5:1 for small text. #4a5564 is 7.0:1 on white and 6.5:1 on the sidebar background. */
[data-testid="stCaptionContainer"], [data-testid="stCaptionContainer"] p {color:#4a5564; opacity:1;}
.block-container {padding-top:2.2rem;}
</style>
"""


def inject_css() -> None:
    st.markdown(CSS, unsafe_allow_html=True)


def reflow(text: str) -> str:
    """Join the PDF's hard line breaks into running text; keep blank-line paragraph breaks."""
    return _SOFT_BREAK.sub(" ", text).strip()


def highlight(text: str, query: str) -> str:
    """`text` as safe HTML with the words that match the query (stemmed, OCR-folded) marked."""
    terms = content_terms(query) if query else set()
    if not terms:
        return html.escape(text)
    out: list[str] = []
    pos = 0
    for match in _WORD.finditer(text):
        if not terms.intersection(tokenize(match.group(0))):
            continue
        out.append(html.escape(text[pos : match.start()]))
        out.append(f"<mark>{html.escape(match.group(0))}</mark>")
        pos = match.end()
    out.append(html.escape(text[pos:]))
    return "".join(out)


def outcome_badge(outcome: str | None) -> str:
    if not outcome:
        return ""
    bg, fg = OUTCOME_COLOURS.get(outcome, OUTCOME_COLOURS["andet"])
    return (
        f'<span class="ks-badge" style="background:{bg};color:{fg}">'
        f"{html.escape(outcome.capitalize())}</span>"
    )


def _pages(start: int, end: int) -> str:
    return f"s. {start}" if start == end else f"s. {start}–{end}"


def title_line(hit: Hit | Location) -> str:
    """'Punkt 4: Opgang til Opgang · Bilag 1: …' as escaped HTML."""
    parts = []
    if hit.punkt is not None:
        parts.append(f"Punkt {hit.punkt}" + (f": {hit.punkt_title}" if hit.punkt_title else ""))
    if hit.bilag is not None:
        parts.append(f"Bilag {hit.bilag}" + (f": {hit.bilag_title}" if hit.bilag_title else ""))
    return html.escape(" · ".join(parts) or hit.document)


def meta_line(hit: Hit | Location) -> str:
    return html.escape(
        f"{hit.meeting} · {hit.committee} · {danish_date(hit.date)} · "
        f"{_pages(hit.page_start, hit.page_end)}"
    )


def _also_in(locations: list[Location]) -> str:
    if not locations:
        return ""
    labels = "; ".join(html.escape(loc.label()) for loc in locations)
    return f'<div class="ks-also">Også i: {labels}</div>'


def pdf_url(searcher, hit: Hit) -> str | None:
    """The public copy of `hit`'s PDF opened at its first page; None when the passage is not
    in the public copy (closed) or there is no PDF to link."""
    if not in_public_copy(hit):
        return None
    return sources.public_pdf_url(searcher, hit.document, hit.page_start)


def render_hit(searcher, hit: Hit, *, number: int | None, query: str, key: str) -> None:
    """One bordered card for `hit`, with a link that opens the source at the cited page."""
    with st.container(border=True):
        num = f'<span class="ks-num">[{number}]</span>' if number is not None else ""
        closed = '<span class="ks-badge ks-closed">Lukket</span>' if hit.closed else ""
        ocr = ' · <span title="Teksten er læst med OCR">OCR</span>' if hit.ocr else ""
        case = f" · Sag {html.escape(hit.case_number)}" if hit.case_number else ""
        url = pdf_url(searcher, hit)
        link = (
            f'<div class="ks-links"><a href="{html.escape(url)}" target="_blank" '
            f'rel="noopener">Åbn PDF på side {hit.page_start} ↗</a> '
            f'<span class="ks-also">{html.escape(hit.document)}</span></div>'
            if url
            else ""
        )
        st.markdown(
            f'<div class="ks-title">{num}{title_line(hit)}{outcome_badge(hit.outcome)}{closed}</div>'
            f'<div class="ks-meta">{meta_line(hit)}{ocr}{case}</div>'
            f'<div class="ks-passage">{highlight(reflow(hit.text), query)}</div>'
            f"{_also_in(hit.also_in)}{link}",
            unsafe_allow_html=True,
        )
        if hit.followups:
            st.caption("Opfølgning: " + ", ".join(hit.followups))
        _page_tools(searcher, hit, key=key)


def _page_tools(searcher, hit: Hit, *, key: str) -> None:
    """Inline view of the cited page (rendered only when asked for) and, internally, the file."""
    cols = st.columns([1, 1, 3])
    show = cols[0].toggle("Vis siden her", key=f"{key}-page")
    if may_open_source(role()) and sources.source_path(searcher, hit.document) is not None:
        # a callable is read only when clicked, so cards stay cheap to draw
        cols[1].download_button(
            "Hent original",
            data=lambda: sources.document_bytes(searcher, hit.document) or b"",
            file_name=hit.document,
            mime="application/pdf" if hit.document.lower().endswith(".pdf") else "text/plain",
            key=f"{key}-dl",
        )
    if show:
        png = sources.page_png(searcher, hit.document, hit.page_start, role=role())
        if png:
            st.image(png, caption=f"{hit.document}, side {hit.page_start}", width=760)
        else:
            st.caption(
                "Siden kan ikke vises her (ikke en PDF, eller siden indeholder lukkede punkter)."
            )
