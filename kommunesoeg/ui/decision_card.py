"""The decision card: the answer to "what was decided about X?" as the minutes record it.

The latest treatment of the case first (outcome, the decision text quoted, follow-up
owners, meeting, date, agenda item and a link to the cited PDF page), then the earlier
treatments with their dates. Everything taken from a document is HTML-escaped; the outcome
is a written label (never colour alone) in the colours the other cards use.
"""

from __future__ import annotations

import html
import re

import streamlit as st

from kommunesoeg.core import danish
from kommunesoeg.core.outcomes import OUTCOMES_EN
from kommunesoeg.core.results import Answer, DecisionCard, DecisionTreatment, Hit
from kommunesoeg.ui.cards import OUTCOME_COLOURS, pdf_url

# The card's words in the two languages an answer is framed in.
LABELS = {
    "da": {
        "heading": "Beslutning",
        "followup": "Opfølgning",
        "earlier": "Tidligere behandlet:",
        "item": "Punkt",
        "open": "Åbn PDF på side",
        "source": "Kilde",
        "page": "s.",
        "undated": "uden dato",
    },
    "en": {
        "heading": "Decision",
        "followup": "Follow-up",
        "earlier": "Earlier treatments:",
        "item": "Item",
        "open": "Open PDF at page",
        "source": "Source",
        "page": "p.",
        "undated": "undated",
    },
}
FIRST_LINE_CHARS = 160

# "• punkt", "- punkt", "▪ punkt": a bullet line of the minutes
_BULLET = re.compile(r"^[•▪·*–-]\s+")
# "1) ...", "2 og 3) ...", "4. ...": a numbered clause of the decision starts a new line
_CLAUSE = re.compile(r"^\d{1,2}(?:\s*(?:og|,|-|–)\s*\d{1,2})*\s*[.)]\s")

CSS = """<style>
.ks-dec h4 {margin:0 0 0.35rem 0; padding:0; font-size:1.15rem; font-weight:700;}
.ks-dec h5 {margin:0.9rem 0 0.3rem 0; padding:0; font-size:0.98rem; font-weight:700;}
.ks-dec .ks-badge {margin-left:0.5rem; font-size:0.85rem;}
.ks-dec-item {font-weight:600; margin-bottom:0.1rem;}
.ks-dec-meta {color:#4a5564; font-size:0.9rem; margin-bottom:0.4rem;}
/* Streamlit fades blockquotes (~3:1); the quoted decision is the answer, so full contrast */
.ks-dec blockquote.ks-dec-text {border-left:4px solid #1f5f8b; margin:0.45rem 0;
  padding:0.2rem 0 0.2rem 0.9rem; font-size:1.02rem; line-height:1.55; color:#1b2430; opacity:1;}
.ks-dec-text p, .ks-dec-text li {color:#1b2430; opacity:1;}
.ks-dec-text p {margin:0 0 0.35rem 0;}
.ks-dec-text ul {margin:0 0 0.35rem 0; padding-left:1.3rem;}
.ks-dec-follow {margin:0.35rem 0;}
.ks-dec-earlier {margin:0; padding-left:1.3rem; font-size:0.93rem;}
.ks-dec-earlier li {margin-bottom:0.35rem;}
.ks-dec-cite {color:#1f5f8b; font-weight:700;}
</style>"""


def language(answer: Answer) -> str:
    """'en' when the answer is framed in English ("The minutes of ..."), else 'da'."""
    return "en" if answer.answer.startswith(("The minutes", "The documents")) else "da"


def long_date(iso: str | None, lang: str) -> str:
    """'2023-03-23' -> '23. marts 2023' (da) or '23 March 2023' (en); undated said so."""
    return danish.long_date(iso, english=lang == "en") or LABELS[lang]["undated"]


def outcome_label(outcome: str, lang: str) -> str | None:
    """The outcome as the card names it; None for 'andet' (the quoted text says what
    happened, a badge reading "andet" says nothing)."""
    if outcome == "andet" or not outcome:
        return None
    return OUTCOMES_EN.get(outcome, outcome) if lang == "en" else outcome


def _badge(outcome: str, lang: str) -> str:
    label = outcome_label(outcome, lang)
    if label is None:
        return ""
    bg, fg = OUTCOME_COLOURS.get(outcome, OUTCOME_COLOURS["andet"])
    return (
        f'<span class="ks-badge" style="background:{bg};color:{fg}">'
        f"{html.escape(label.capitalize())}</span>"
    )


def text_blocks(text: str) -> list[tuple[str, str]]:
    """The decision text as ('p' | 'li', text) blocks: the PDF's line breaks inside a
    sentence are joined; numbered clauses, bullets and blank-line paragraphs keep their own
    line; a capitalised line after a finished bullet is the paragraph that follows the list."""
    blocks: list[list[str]] = []
    gap = True
    for raw in text.splitlines():
        line = " ".join(raw.split())
        if not line:
            gap = True
            continue
        bullet = _BULLET.match(line)
        if bullet:
            blocks.append(["li", line[bullet.end():]])
        elif (
            gap
            or _CLAUSE.match(line)
            or (blocks[-1][0] == "li" and blocks[-1][1][-1:] in ".?!:" and line[0].isupper())
        ):
            blocks.append(["p", line])
        else:
            blocks[-1][1] += " " + line
        gap = False
    return [(kind, body) for kind, body in blocks]


def _text_html(text: str) -> str:
    out: list[str] = []
    in_list = False
    for kind, body in text_blocks(text):
        if kind == "li" and not in_list:
            out.append("<ul>")
        elif kind != "li" and in_list:
            out.append("</ul>")
        in_list = kind == "li"
        out.append(f"<{kind}>{html.escape(body)}</{kind}>")
    if in_list:
        out.append("</ul>")
    return "".join(out)


def first_line(text: str) -> str:
    """The first line of a decision text (its first clause or paragraph), shortened."""
    blocks = text_blocks(text)
    line = blocks[0][1] if blocks else ""
    if len(line) > FIRST_LINE_CHARS:
        line = line[: FIRST_LINE_CHARS - 1].rsplit(" ", 1)[0] + " …"
    return line


def _item(t: DecisionTreatment, lang: str) -> str:
    item = f"{LABELS[lang]['item']} {t.punkt}"
    return f"{item}: {t.punkt_title}" if t.punkt_title else item


def _meeting(t: DecisionTreatment) -> str:
    """The meeting, with its committee when the meeting's name does not already say it."""
    if t.committee and t.committee not in t.meeting:
        return f"{t.meeting} ({t.committee})"
    return t.meeting


def _cite(n: int) -> str:
    return f'<span class="ks-dec-cite">[{n}]</span>'


def _link(t: DecisionTreatment, hit: Hit | None, url: str | None, lang: str) -> str:
    words = LABELS[lang]
    source = f"{words['source']} {_cite(t.citation)}"
    if hit is None:
        return ""
    if not url:
        return f'<div class="ks-links"><span class="ks-also">{source}</span></div>'
    return (
        f'<div class="ks-links"><a href="{html.escape(url)}" target="_blank" rel="noopener">'
        f"{words['open']} {hit.page_start} ↗</a> "
        f'<span class="ks-also">{source} · {html.escape(hit.document)}</span></div>'
    )


def decision_html(
    card: DecisionCard, citations: list[Hit], urls: dict[int, str | None], lang: str
) -> str:
    """The card as one block of safe HTML. `urls` maps a citation number to the link of its
    PDF page (None when the role has no public copy to open)."""
    words = LABELS[lang]
    latest = card.latest

    def hit_of(t: DecisionTreatment) -> Hit | None:
        return citations[t.citation - 1] if 1 <= t.citation <= len(citations) else None

    followup = (
        f'<p class="ks-dec-follow"><strong>{words["followup"]}:</strong> '
        f"{html.escape(', '.join(latest.followups))}</p>"
        if latest.followups
        else ""
    )
    parts = [
        f'<div class="ks-dec" lang="{lang}">',
        f"<h4>{words['heading']} {_badge(latest.outcome, lang)}</h4>",
        f'<div class="ks-dec-item">{html.escape(_item(latest, lang))}</div>',
        (
            f'<div class="ks-dec-meta">{html.escape(_meeting(latest))} · '
            f"{html.escape(long_date(latest.date, lang))}</div>"
        ),
        f'<blockquote class="ks-dec-text" lang="da">{_text_html(latest.text)}</blockquote>',
        followup,
        _link(latest, hit_of(latest), urls.get(latest.citation), lang),
    ]
    if card.earlier:
        parts.append(f"<h5>{words['earlier']}</h5><ul class=\"ks-dec-earlier\">")
        for t in card.earlier:
            label = outcome_label(t.outcome, lang)
            url, hit = urls.get(t.citation), hit_of(t)
            page = (
                f' <a href="{html.escape(url)}" target="_blank" rel="noopener">'
                f"{words['page']} {hit.page_start} ↗</a>"
                if url and hit
                else ""
            )
            when = html.escape(long_date(t.date, lang))
            outcome = f" — <strong>{html.escape(label)}</strong>" if label else ""
            line = first_line(t.text)
            quote = f': <q lang="da">{html.escape(line)}</q>' if line else ""
            parts.append(
                f"<li><strong>{when}</strong> · {html.escape(_meeting(t))} · "
                f"{html.escape(_item(t, lang))}{outcome}{quote} {_cite(t.citation)}{page}</li>"
            )
        parts.append("</ul>")
    parts.append("</div>")
    return "".join(parts)


def render_decision(searcher, answer: Answer) -> None:
    """The answer's decision card in a bordered box; links to the public PDF copy."""
    card = answer.decision
    if card is None:
        return
    numbers = {t.citation for t in (card.latest, *card.earlier)}
    urls = {
        n: pdf_url(searcher, answer.citations[n - 1])
        for n in sorted(numbers)
        if 1 <= n <= len(answer.citations)
    }
    with st.container(border=True):
        st.markdown(
            CSS + decision_html(card, answer.citations, urls, language(answer)),
            unsafe_allow_html=True,
        )
