"""Extractive answers with [n] citations, and the "not enough evidence" decision.

Why extractive by default: every sentence shown is quoted from a passage the user can
open, so an answer can never say something the documents do not. The answer is 1-4
sentences chosen from the top passages by a score that combines
- meaning: the question embedding against each sentence embedding (same model as the index),
- words: weighted overlap of the question's stemmed content terms with the sentence,
- the passage's rank in the hybrid search,
- for "what was decided" questions: sentences that state an outcome or a follow-up owner.

When the best passages are neither close in meaning nor share the question's key terms,
the answer says so instead of quoting something unrelated (see `assess_evidence`).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, replace

import numpy as np

from kommunesoeg.core.config import AnswerConfig
from kommunesoeg.core.danish import long_date
from kommunesoeg.core.errors import InvalidQuery
from kommunesoeg.core.outcomes import OUTCOME_RULES, OUTCOMES_EN, find_followups
from kommunesoeg.core.results import Answer, AnswerSentence, ClosedListing, Filters, Hit
from kommunesoeg.core.textnorm import content_terms
from retriever.access import sees_closed
from retriever.answertype import (
    REQUIRED_TYPES,
    SOFT_TYPES,
    asked_types,
    expected_type,
    holds_answer_type,
    labelled_answer,
    names_field,
)
from retriever.closed_listing import closed_listing_text, match_listing
from retriever.decision_card import TRUNCATED, DecisionAnswer, decision_answer, title_named
from retriever.form_context import CarriedContext, carried_context, continuation, open_entry
from retriever.generative import generate_answer
from retriever.hits import hit_for, top_hits
from retriever.intent import asks_the_minutes, is_decision_question, question_parts
from retriever.items import item_of, mentioned_dates, states_date
from retriever.quotable import (
    is_field,
    is_furniture,
    is_logistics,
    quotable_texts,
    quotable_units,
    verbatim_runs,
)
from retriever.ranker import Ranker
from retriever.view import IndexView

NO_ANSWER = "Jeg fandt ikke et sikkert svar i dokumenterne."
NO_ANSWER_EN = "I found no reliable answer in the documents."
# Said to the public with every refusal, in general words: it must never name or hint at a
# specific closed item (its title is printed only inside closed material).
CLOSED_NOTICE = "Lukkede dagsordenspunkter kan ikke søges af offentligheden."
CLOSED_NOTICE_EN = "Closed agenda items cannot be searched by the public."
ANSWER_MODES = ("extractive", "generative")

# English function words that are not also Danish words: "for", "have", "at", "to", "by",
# "is", "be" and "do" are both ("Skal rapporten have data med for 2023?").
_ENGLISH = {
    "the", "what", "was", "were", "are", "of", "and", "in", "on", "about", "when", "which",
    "who", "how", "did", "does", "been", "has", "had", "with", "from", "an", "a", "will",
    "this", "that", "there", "any", "many", "much", "would", "could", "should", "it", "its",
    "they", "their", "into", "or", "not", "can", "where", "why", "whose", "whom", "these",
    "those", "than", "also",
}


def is_english(question: str) -> bool:
    words = re.findall(r"[a-zæøå]+", question.lower())
    return bool(words) and sum(w in _ENGLISH for w in words) / len(words) >= 0.2


NAMED_ITEM_BONUS = 0.05  # for the units of an item the question names by its title
# for a form field whose label is the asked type ("Tid:" for "hvor lang tid"), and more when
# it also names what the question asks it of ("Mødetid:" for "hvornår holder de møde?")
LABELLED_BONUS = (0.0, 0.04, 0.15)
PART_WORDS_WEIGHT = 0.2  # a part's own words, on top of the whole question's (0.35)
LABEL_LEAD = 0.02  # a field whose label the question names, over the best unit of its passage
NEIGHBOUR_DECAY = 0.03  # what a typed unit inherits from a neighbour loses per unit between
MAX_EMBEDDED_CHARS = 400  # a unit is embedded for reranking up to this length (~100 tokens)
RERANK_TIE = 0.02  # units this close to the last reranked one are reranked as well


@dataclass
class _Candidate:
    text: str
    hit_index: int  # index into the pool of hits
    position: int  # unit position inside its passage
    context: str = ""  # the form entry of a field line
    score: float = 0.0
    window: float = 0.0  # the meaning part of `score` before sentence-level reranking
    in_minutes: bool = False  # part of a decision the minutes record
    labelled: int = 0  # `answertype.labelled_answer`: a field whose label fits the question


def split_sentences(passage: str, punkt: int | None = None, title: str | None = None) -> list[str]:
    """Quotable units of a passage (item headings, column headers left out)."""
    return quotable_texts(passage, punkt, title)


def _states_outcome(sentence: str) -> bool:
    return any(p.search(sentence) for _, p in OUTCOME_RULES) or bool(find_followups(sentence))


# ----------------------------------------------------------------------- dense helpers
def window_scores(view: IndexView, query_vec: np.ndarray,
                  hits: list[Hit]) -> list[list[tuple[str, float]]]:
    """Per hit: (window text, cosine with the question) for each of its sentence windows.

    The window vectors are the ones stored in the index, so no embedding at question time.
    Windows outside the nearest 2000 count as the lowest cosine seen.
    """
    if not view.window_canonical:
        return [[] for _ in hits]
    by_row = dict(view.store.windows_by_vector(query_vec, 2000))
    floor = min(by_row.values()) if by_row else 0.0
    texts = view.store.window_texts
    return [
        [(texts[r], by_row.get(r, floor))
         for r in view.window_rows.get(view.canonical_id(h.chunk_id), ())]
        for h in hits
    ]


# ----------------------------------------------------------------------- evidence
@dataclass(frozen=True)
class Evidence:
    """What the gate looked at; exposed for calibration and for the eval harness."""

    window: float  # best question-window cosine among the passages
    coverage: float  # best idf-weighted share of question terms in a passage
    absent: float  # idf-weighted share of question terms the collection never uses
    english: bool
    sufficient: bool


def assess_evidence(view: IndexView, question: str, hits: list[Hit], query_vec: np.ndarray,
                    config: AnswerConfig) -> Evidence:
    """Whether the retrieved passages count as evidence for the question.

    Two signals, each computed on the passages the role may see:
    - meaning: the best cosine between the question and a sentence window of the top
      passages (windows are ~3 sentences, so an answer sentence is not diluted by the rest
      of a long passage);
    - words: the share of the question's weight (idf of its stemmed content terms) that
      lies on terms the collection never uses ("absent"), and the idf-weighted share of
      the question's terms found in the best passage ("coverage").
    A question is refused when the meaning signal is below the cutoff for its language, or
    when its subject is unknown to the collection: most of its weight is on absent terms
    AND the passages cover almost none of it. Paraphrased questions share few words with
    their evidence but are close in meaning and keep words the collection uses; English
    questions are compared on meaning only (their words are naturally absent from Danish
    text, and cross-lingual cosines run lower, hence a lower cutoff).
    Calibrated on the 20 dev questions (d01-d20; negatives d19/d20) plus 5 extra
    unanswerable and 4 extra answerable ones; each cutoff is the midpoint between the
    closest answerable and unanswerable question: window 0.835 (negative) / 0.863
    (paraphrase) -> 0.845; absent share 0.53 (paraphrase d11) / 0.61 (negative) -> 0.57,
    raised to 0.65 in issue 11 on 127 answerable + 17 unanswerable tuning questions
    (eval/questions-tune.jsonl with dev, extra and the first held-back set): lay
    paraphrases ("teenagere", "familielæge") carry words the minutes never use, and 0.65
    answers two more of them with the same negatives refused (0.70 changes nothing more).
    English: 0.807-0.808 for the dev questions; 0.80 keeps them (an English question about
    something absent can then still get an answer: cross-lingual cosines do not separate).
    The cutoffs are the `gate_*` fields of `AnswerConfig`.
    """
    english = is_english(question)
    if not hits:
        return Evidence(0.0, 0.0, 1.0, english, False)
    window = max((score for ws in window_scores(view, query_vec, hits) for _, score in ws),
                 default=0.0)
    terms = content_terms(question)
    cov = max(view.terms.coverage(terms, f"{h.punkt_title or ''}\n{h.text}") for h in hits)
    absent = view.terms.absent_share(terms)
    if english:
        sufficient = window >= config.gate_window_min_en
    else:
        unknown_subject = absent > config.gate_absent_max and cov < config.gate_coverage_floor
        sufficient = window >= config.gate_window_min_da and not unknown_subject
    return Evidence(round(window, 4), round(cov, 4), round(absent, 4), english, sufficient)


# ----------------------------------------------------------------------- selection
def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().casefold()


def _score_units(view: IndexView, question: str, query_vec: np.ndarray,
                 hits: list[Hit], carried: list[CarriedContext]) -> list[_Candidate]:
    """Score every quotable unit of the pool: meaning (its best window), words (in the
    unit, its form entry and its item title), rank, outcome, answer type. `carried` is what
    each passage inherits from the passages before it (`form_context.carried_context`)."""
    terms = content_terms(question)
    decision_q = is_decision_question(question)
    minutes_q = asks_the_minutes(question)
    kind = expected_type(question)
    dates = mentioned_dates(question)
    units = [quotable_units(hit.text, hit.punkt, hit.punkt_title, entry=before.entry)
             for hit, before in zip(hits, carried)]
    # A field's label answers the question only for the form entry the question is about
    # ("Ansvarlig:" of "4. Status på MSB's mål og økonomi", not of the entry above it).
    entry_cover = {u.context: view.terms.coverage(terms, u.context)
                   for found in units for u in found if u.context}
    asked_entry = max(entry_cover.values(), default=0.0)
    candidates: list[_Candidate] = []
    for i, (hit, windows) in enumerate(zip(hits, window_scores(view, query_vec, hits))):
        normalised = [(_norm(text), score) for text, score in windows]
        fallback = float(np.mean([sc for _, sc in windows])) if windows else 0.0
        decided = _decision_text_of(view, hit)
        # a question naming a date ("mødet den 29. marts 2023") is about the passage that
        # states that date - or continues the form whose date line states it - not the
        # same form for another meeting
        on_date = 0.05 if dates and states_date(f"{carried[i].form_date}\n{hit.text}",
                                                dates) else 0.0
        # "under punktet Eventuelt": a question naming an item by its title means that item
        named = NAMED_ITEM_BONUS if hit.punkt_title and title_named(terms, hit.punkt_title) else 0.0
        for position, unit in enumerate(units[i]):
            if is_furniture(unit.text) and not names_field(unit.text, question):
                continue  # "Antal tegn: 6.454", a letterhead's address
            probe = _norm(unit.text)[:60]
            containing = [sc for text, sc in normalised if probe and probe in text]
            dense = max(containing) if containing else fallback
            # The item title counts as context of every unit under it ("Punkt 4:
            # Efteruddannelse af SOSU-hjælpere" / "Indstillingen blev godkendt."), and the
            # form entry as context of its fields ("5. Budget 24" / "Ansvarlig: ...").
            lexical = view.terms.coverage(
                terms, f"{hit.punkt_title or ''} {unit.context} {unit.text}")
            # A minutes passage often repeats the item's Indstilling above its decision:
            # only the decision's own sentences count as the minutes' word.
            in_minutes = unit.text in decided if decided else hit.section == "beslutning"
            cand = _Candidate(unit.text, i, position, unit.context, window=dense,
                              in_minutes=in_minutes)
            cand.score = dense + 0.35 * lexical + 0.06 / (1 + i) + on_date + named
            if minutes_q and in_minutes:  # what was decided, not what was proposed
                cand.score += 0.06
            if decision_q and _states_outcome(unit.text):
                cand.score += 0.08 if in_minutes else 0.03
            if kind in SOFT_TYPES and holds_answer_type(unit.text, kind, question):
                cand.score += 0.03
            # "Mødetid: Kl. 18.15 – 20.00" for "hvornår holder udvalget møde?"
            cand.labelled = labelled_answer(unit.text, question)
            if not unit.context or entry_cover[unit.context] >= asked_entry:
                cand.score += LABELLED_BONUS[cand.labelled]
            if len(unit.text) < 25 and not unit.context:  # fragments ("Godkendt.")
                cand.score -= 0.05
            # a question in the text is rarely its answer - unless the minutes record it as
            # raised at the meeting ("Er der mulighed for at skaffe finansiering via fonde?")
            if unit.text.endswith("?") and not (minutes_q and in_minutes):
                cand.score -= 0.05
            candidates.append(cand)
    return candidates


def _decision_text_of(view: IndexView, hit: Hit) -> str:
    """The decision texts recorded for a passage (any copy of it), whitespace collapsed."""
    canonical = view.canonical_id(hit.chunk_id)
    texts = [d.text for c in view.members[canonical] for d in view.decisions_of(c.chunk_id)]
    return " ".join(" ".join(t.removesuffix(TRUNCATED).split()) for t in texts)


def _rerank_by_sentence(view: IndexView, question: str, query_vec: np.ndarray,
                        candidates: list[_Candidate], n: int) -> list[_Candidate]:
    """Sentence-level meaning for the `n` best units (and, for a "how many / when"
    question, the `n` best units stating such a value): the question against the unit
    itself, with its form entry, not only against the ~3-sentence window around it, so the
    sentence that states the fact beats its neighbour that only names the subject."""
    if n <= 0 or not candidates:
        return candidates
    ranked = sorted(candidates, key=lambda c: -c.score)
    # units tied with the n-th (a list's items share their window's score) are reranked
    # too: a reranked unit must not fall below its unranked twins by being looked at
    tied = ranked[min(n, len(ranked)) - 1].score - RERANK_TIE
    top = [c for i, c in enumerate(ranked[:2 * n]) if i < n or c.score >= tied]
    kind = expected_type(question)
    if kind in REQUIRED_TYPES:
        typed = [c for c in ranked if holds_answer_type(c.text, kind, question)][:n]
        top.extend(c for c in typed if c not in top)
    texts = [f"{c.context}\n{c.text}".strip()[:MAX_EMBEDDED_CHARS] for c in top]
    cosines = view.unit_vectors.of(texts) @ query_vec
    for cand, cosine in zip(top, cosines):
        cand.score += 0.5 * (float(cosine) - cand.window)
    return candidates


_CROSS_ITEM = re.compile(
    r"\b(møder(ne)?|flere\s+(møder|punkter|gange)|hvert\s+møde|begge|alle\s+møder|"
    r"hvilke\s+(møder|punkter|sager)|meetings|each\s+meeting|both)\b",
    re.IGNORECASE,
)


def _item_key(hit: Hit) -> tuple:
    """The agenda item of a passage; a passage outside any item is its own document part."""
    item = item_of(hit)
    return (item,) if item else (hit.document, hit.meeting, hit.section, hit.bilag_title)


def _one_item(question: str, candidates: list[_Candidate], hits: list[Hit]) -> list[_Candidate]:
    """The candidates of the best unit's agenda item only - an answer does not append a
    sentence from an unrelated item to a correct one - unless the question asks across
    meetings or items."""
    if not candidates or _CROSS_ITEM.search(question):
        return candidates
    best = max(candidates, key=lambda c: c.score)
    key = _item_key(hits[best.hit_index])
    return [c for c in candidates if _item_key(hits[c.hit_index]) == key]


def _select(candidates: list[_Candidate], minutes_q: bool,
            config: AnswerConfig) -> list[_Candidate]:
    """The best unit, plus close runners-up, preferring its own passage's neighbours.

    For a question about a decision or what a deciding body said (`asks_the_minutes`)
    whose best sentence stands in minutes, the sentences right next to it are the rest of
    that statement ("Orienteringen blev taget til efterretning. Som stor studieby er det
    særligt relevant, ...") and are kept with a wider margin.
    """
    ranked = sorted(candidates, key=lambda c: -c.score)
    best = ranked[0]
    chosen = [best]
    in_minutes = best.in_minutes
    for cand in ranked[1:]:
        if len(chosen) >= config.max_sentences:
            break
        if cand.text.endswith(":"):  # a lead-in ("Drøftet med bemærkninger:") says nothing
            continue  # without the list after it, and that list is scored on its own
        if is_logistics(cand.text) and not cand.labelled and not is_logistics(best.text):
            continue  # "Deltagere: ..." beside the sentence that answers says nothing of it
        if cand.context != best.context and (best.context and cand.context
                                             or is_field(cand.text) and is_field(best.text)):
            continue  # a field of another form entry (or item) answers about that one
        same = cand.hit_index == best.hit_index
        offset = cand.position - best.position
        if minutes_q and in_minutes and same and 0 < abs(offset) <= 2:
            margin = max(0.15, config.neighbour_margin)
        elif same and abs(offset) <= 2:
            margin = config.neighbour_margin
        else:
            margin = config.runner_up_margin
        if cand.score >= best.score - margin and cand.text not in {c.text for c in chosen}:
            chosen.append(cand)
    # Read in document order: by passage rank, then position inside the passage.
    return sorted(chosen, key=lambda c: (c.hit_index, c.position))


def _completed(chosen: list[_Candidate], candidates: list[_Candidate], minutes_q: bool,
               limit: int) -> list[_Candidate]:
    """`chosen` with the units that complete its best one, whatever their own score or
    type: the list a lead-in introduces ("Samarbejdsaftalen består af tre delindsatser:"
    says nothing without its three items), and the follow-up line of a decision the
    minutes record ("Det blev besluttet, at der fremsendes et overblik ... MØB følger op." -
    who acts on it is part of the decision, though the line shares little with the
    question). The completing units take the places of the weakest runners-up."""
    if not chosen:
        return chosen
    best = max(chosen, key=lambda c: c.score)
    after = sorted((c for c in candidates
                    if c.hit_index == best.hit_index and c.position > best.position),
                   key=lambda c: c.position)
    completing: list[_Candidate] = []
    if best.text.endswith(":"):
        for cand in after:
            if cand.position != best.position + 1 + len(completing) or cand.text.endswith(":"):
                break
            completing.append(cand)
    elif minutes_q and best.in_minutes:
        completing = [c for c in after if c.position - best.position <= 2
                      and c.in_minutes and find_followups(c.text)][:1]
    places = {(c.hit_index, c.position) for c in completing}
    others = sorted((c for c in chosen if c is not best
                     and (c.hit_index, c.position) not in places), key=lambda c: -c.score)
    kept = [best, *completing, *others][:limit]
    return sorted(kept, key=lambda c: (c.hit_index, c.position))


def _assemble(question: str, chosen: list[_Candidate], hits: list[Hit],
              insufficient: bool, mode: str = "extractive") -> Answer:
    """Number the cited passages [1].. in order of first use; units that stand next to each
    other in one passage are quoted as one run with one marker after it."""
    cited: list[Hit] = []
    number: dict[int, int] = {}
    sentences: list[AnswerSentence] = []
    previous: _Candidate | None = None
    for cand in chosen:
        if cand.hit_index not in number:
            # a citation's rank is its number [n] in the answer
            cited.append(replace(hits[cand.hit_index], rank=len(cited) + 1))
            number[cand.hit_index] = len(cited)
        adjacent = (previous is not None and previous.hit_index == cand.hit_index
                    and cand.position == previous.position + 1)
        if adjacent:
            # as printed: "med? – er det et yderligere administrativt lag", not "med? er det"
            run = sentences.pop()
            joined = verbatim_runs(hits[cand.hit_index].text, [run.text, cand.text])
            text = joined[0] if len(joined) == 1 else f"{run.text} {cand.text}"
            sentences.append(AnswerSentence(text, run.citations))
        else:
            sentences.append(AnswerSentence(cand.text, [number[cand.hit_index]]))
        previous = cand
    if is_english(question):
        text = _english_text(sentences, cited)
    else:
        text = " ".join(_quoted(s) for s in sentences)
    return Answer(question, text, sentences, cited, insufficient, mode)


def _quoted(sentence: AnswerSentence) -> str:
    return f"{sentence.text} " + "".join(f"[{n}]" for n in sentence.citations)


def _english_text(sentences: list[AnswerSentence], cited: list[Hit]) -> str:
    """An English frame around the Danish quotes: "The minutes of MSB Rådmandsmøde,
    23 March 2023, item 4, say: «…» (approved)". The source text is quoted verbatim (it is
    the evidence); only the frame, field names and outcome label are English."""
    parts: list[str] = []
    run: list[AnswerSentence] = []
    for sentence in [*sentences, None]:
        if run and (sentence is None or sentence.citations[0] != run[0].citations[0]):
            hit = cited[run[0].citations[0] - 1]
            quote = " ".join(_quoted(s) for s in run)
            outcome = OUTCOMES_EN.get(hit.outcome or "")
            parts.append(f"{_english_source(hit)} say: «{quote}»" + (f" ({outcome})" if outcome else ""))
            run = []
        if sentence is not None:
            run.append(sentence)
    return " ".join(parts)


def _english_source(hit: Hit) -> str:
    where = [hit.meeting]
    if hit.date:
        where.append(long_date(hit.date, english=True))
    if hit.punkt is not None:
        where.append(f"item {hit.punkt}")
    if hit.bilag is not None:
        where.append(f"attachment {hit.bilag}")
    pages = hit.page_start if hit.page_start == hit.page_end else f"{hit.page_start}-{hit.page_end}"
    where.append(f"p. {pages}")
    kind = "The minutes of" if hit.section == "beslutning" else "The documents of"
    return f"{kind} {', '.join(where)},"


# ----------------------------------------------------------------------- decisions
def _decision_text(question: str, found: DecisionAnswer) -> tuple[str, list[AnswerSentence]]:
    """The decision card as answer text: where and when, the quoted decision, its outcome
    and follow-up owners, then the earlier treatments of the same case with their dates.
    The quoted runs are the answer's sentences (verbatim, cited [1]); the rest is frame."""
    english = is_english(question)
    latest = found.card.latest
    holder = found.citations[latest.citation - 1]
    runs = verbatim_runs(holder.text, found.quoted)
    sentences = [AnswerSentence(run, [latest.citation]) for run in runs]
    quote = " ".join(_quoted(s).strip() for s in sentences)
    when = long_date(latest.date, english)
    owners = ", ".join(latest.followups)
    if english:
        outcome = OUTCOMES_EN.get(latest.outcome)
        notes = "; ".join(p for p in (outcome, f"follow-up: {owners}" if owners else "") if p)
        text = f"{_english_source(holder)} say: «{quote}»"
        earlier_lead = "Earlier treatments of the same case"
    else:
        where = " ".join(p for p in (latest.meeting, f"den {when}" if when else "") if p)
        label = "" if latest.outcome == "andet" else latest.outcome
        notes = "; ".join(p for p in (label, f"{owners} følger op" if owners else "") if p)
        text = f"Beslutning på {where}, Punkt {latest.punkt}: {latest.punkt_title} — «{quote}»"
        earlier_lead = "Tidligere behandlet"
    if notes:
        text = f"{text} ({notes})"
    if found.card.earlier:
        listed = "; ".join(
            f"{t.meeting} {long_date(t.date, english)}, "
            f"{'item' if english else 'Punkt'} {t.punkt} "
            f"({OUTCOMES_EN.get(t.outcome, t.outcome) if english else t.outcome}) [{t.citation}]"
            for t in found.card.earlier
        )
        text = f"{text}. {earlier_lead}: {listed}."
    return text, sentences


def _refusal(question: str, hits: list[Hit], role: str,
             listing: ClosedListing | None = None) -> Answer:
    """No answer; the nearest passages are still shown. The public role is also told that
    closed items exist and are not searchable, so a refusal is not read as "never treated";
    when an open table of contents lists the item asked about as closed, that listing is
    named (its printed title, meeting and date - nothing from the item itself)."""
    english = is_english(question)
    text = NO_ANSWER_EN if english else NO_ANSWER
    if not sees_closed(role):
        text = f"{text} {CLOSED_NOTICE_EN if english else CLOSED_NOTICE}"
        if listing is not None:
            text = f"{text} {closed_listing_text(listing, english=english)}"
    return Answer(question, text, [], hits[:3], True, "extractive", closed_item=listing)


def answer_mode(mode: str | None) -> str:
    """The answer mode asked for, else $KOMMUNESOEG_ANSWER_MODE, else extractive."""
    mode = mode or os.environ.get("KOMMUNESOEG_ANSWER_MODE", "extractive")
    if mode not in ANSWER_MODES:
        raise InvalidQuery(f"mode: ukendt svartilstand '{mode}' (tilladt: extractive, generative)")
    return mode


def answer_question(
    view: IndexView,
    ranker: Ranker,
    config: AnswerConfig,
    question: str,
    query: str,
    query_vec: np.ndarray,
    *,
    k: int,
    filters: Filters,
    role: str,
    mode: str,
) -> Answer:
    """Answer `question` from the index, quoting passages with [n] citations.

    `query` is the validated question the ranking uses and `query_vec` its embedding, made
    once by the caller and reused by both searches, the evidence gate and sentence
    scoring. `mode` (see `answer_mode`): "extractive" (offline), or "generative" (an
    OpenAI-compatible endpoint from KOMMUNESOEG_LLM_URL; falls back to extractive when
    nothing it says is cited).

    The agenda item is the unit of an answer: a decision question is answered by the
    decision card of the item it is about (`decision_card`); otherwise the units of the
    pool are scored, the best unit's item is kept and its best units are quoted.
    A public question about an item that an open agenda or table of contents lists as
    closed is refused with that listing (printed title, meeting, date) and no content;
    the nearest open passages are still shown.
    """
    hits = top_hits(view, ranker, query, query_vec, k=max(k, config.pool), filters=filters,
                    role=role)
    listing = None if sees_closed(role) else match_listing(question, view.closed_listings,
                                                           view.terms)
    decision_q = is_decision_question(question)
    if listing is not None:  # the item asked about is closed: named as listed, not quoted
        return _refusal(question, hits, role, listing)
    evidence = assess_evidence(view, question, hits, query_vec, config)
    if not evidence.sufficient:
        return _refusal(question, hits, role)
    pool = _answer_pool(view, ranker, question, query, query_vec, hits, k=max(k, config.pool),
                        filters=filters, role=role)
    if mode == "generative":
        answer = generate_answer(question, pool)
        if answer is not None:
            return answer
    pool, carried = _with_continuation(view, question, pool, filters, role)
    candidates = _score_units(view, question, query_vec, pool, carried)
    candidates = _rerank_by_sentence(view, question, query_vec, candidates, config.rerank)
    if decision_q:
        found = decision_answer(view, question, query_vec, pool, config, filters=filters,
                                role=role)
        if found is not None and _card_fits(question, found, candidates, pool, config):
            return _decision_answer(question, found, candidates, pool, config)
    parts = question_parts(question)
    if len(parts) > 1:
        chosen = _answer_parts(view, question, parts, candidates, pool, config)
    else:
        typed = _of_expected_type(question, candidates, pool, config.type_margin)
        typed = _one_item(question, typed, pool)
        minutes_q = asks_the_minutes(question)
        chosen = _select(typed, minutes_q, config) if typed else []
        chosen = _completed(chosen, candidates, minutes_q, config.max_sentences)
    if not chosen:
        return _refusal(question, hits, role)
    return _assemble(question, chosen, pool, insufficient=False)


def _answer_parts(view: IndexView, question: str, parts: list[str],
                  candidates: list[_Candidate], pool: list[Hit],
                  config: AnswerConfig) -> list[_Candidate]:
    """The units answering each part of a question that asks two things ("Hvor mange penge
    er afsat til X, og hvordan deles udgiften?"), from one agenda item: a part's answer
    type (and, for a later part, its own words) choose among the units scored for the
    whole question, and the item of the first part answered holds the others' answers too
    (they ask about the same case). A part nothing in that item answers is left out; no
    part answered is a refusal."""
    item: tuple | None = None
    chosen: list[_Candidate] = []
    per_part = replace(config, max_sentences=max(1, config.max_sentences // len(parts)))
    for n, part in enumerate(parts):
        # the first part carries most of the question's words, already weighed in the
        # unit scores; a later part's few words ("hvordan deles udgiften") pick its answer
        terms = content_terms(part) if n else set()
        own = [replace(c, score=c.score + PART_WORDS_WEIGHT * view.terms.coverage(
            terms, f"{c.context} {c.text}")) if terms else replace(c) for c in candidates]
        own = _of_expected_type(part, own, pool, config.type_margin)
        if item is None:
            own = _one_item(question, own, pool)
        else:
            own = [c for c in own if _item_key(pool[c.hit_index]) == item]
        if not own:
            continue
        minutes_q = asks_the_minutes(part)
        picked = _completed(_select(own, minutes_q, per_part), candidates, minutes_q,
                            per_part.max_sentences)
        if item is None:
            item = _item_key(pool[max(picked, key=lambda c: c.score).hit_index])
        have = {(c.hit_index, c.position) for c in chosen}
        chosen.extend(c for c in picked if (c.hit_index, c.position) not in have)
    return sorted(chosen, key=lambda c: (c.hit_index, c.position))[:config.max_sentences]


def _card_fits(question: str, found: DecisionAnswer, candidates: list[_Candidate],
               pool: list[Hit], config: AnswerConfig) -> bool:
    """Whether the decision card answers the question: the question names the item's
    title, or the best quotable unit of the pool lies in the card's item, or the decision
    leads the next one clearly. Otherwise the decision was taken elsewhere and is only
    reported in some attachment ("Hvad blev aftalt på temamødet den 12. januar?"), and the
    sentences reporting it answer better than the nearest item's minutes. A question asking
    for a date or an amount needs a card that states one."""
    kind = expected_type(question)
    if kind in REQUIRED_TYPES and not any(holds_answer_type(u, kind, question)
                                          for u in found.quoted):
        return False  # "Fra hvilken dato var beslutningen?" needs the date, not the decision
    if found.named or found.margin >= config.decision_clear_margin:
        return True
    if not candidates:
        return False
    best = max(candidates, key=lambda c: c.score)
    return found.is_item_of(pool[best.hit_index])


def _decision_answer(question: str, found: DecisionAnswer, candidates: list[_Candidate],
                     pool: list[Hit], config: AnswerConfig) -> Answer:
    """The decision card as an answer. When the decision text says little about what the
    question asks ("1) taget til efterretning 2) godkendt" for a question about the
    health clusters' money), the best unit of the same item's other passages follows it,
    so the answer states both the decision and what the case material says."""
    text, sentences = _decision_text(question, found)
    citations = list(found.citations)
    if found.chosen.coverage < config.decision_supplement_below:
        own = [c for c in candidates
               if found.is_item_of(pool[c.hit_index]) and pool[c.hit_index].section != "beslutning"
               and not c.text.endswith(":")]
        if own:
            best = max(own, key=lambda c: c.score)
            hit = replace(pool[best.hit_index], rank=len(citations) + 1)
            citations.append(hit)
            lead = "From the case material" if is_english(question) else "Fra sagens materiale"
            extra = AnswerSentence(best.text, [hit.rank])
            sentences.append(extra)
            text = f"{text} {lead}: «{_quoted(extra).strip()}»"
    return Answer(question, text, sentences, citations, False, "extractive", decision=found.card)


def _of_expected_type(question: str, candidates: list[_Candidate], hits: list[Hit],
                      margin: float) -> list[_Candidate]:
    """For "how many / how much / when" questions, only units that state a quantity or a
    time the question does not already state can answer; they must also be nearly as
    relevant as the best unit overall (`margin`, AnswerConfig.type_margin), or the
    passages are about the subject without answering the question.

    A unit stating the value often follows the sentence that names the subject
    ("Forvaltningscheferne har bedt om, at rådmændene orienteres ..." / "MSB's rådmand
    orienteres på rådmandsmøde den 16. januar 2023."), so a typed unit is as relevant as
    its best neighbour within two units of the same passage, less NEIGHBOUR_DECAY a step.
    Likewise a field of an agenda form's entry ("Tid: 19.05 – 19.30 (25 min.)" under
    "5. Status på UC Gadeplan") is as relevant as the entry's best unit, in whichever
    passage of the pool it stands, less two steps: the entry is one record.
    """
    kinds = asked_types(question)
    if not kinds or kinds[0] not in REQUIRED_TYPES or not candidates:
        return candidates
    best = max(c.score for c in candidates)
    by_place = {(c.hit_index, c.position): c.score for c in candidates}
    by_passage: dict[int, float] = {}
    by_record: dict[tuple, float] = {}
    for cand in candidates:
        by_passage[cand.hit_index] = max(by_passage.get(cand.hit_index, cand.score), cand.score)
        key = _record_of(cand, hits)
        by_record[key] = max(by_record.get(key, float("-inf")), cand.score)
    kept = []
    for cand in candidates:
        if not (holds_answer_type(cand.text, kinds[0], question)
                or labelled_answer(cand.text, question)):
            continue  # "hvornår og hvor": a time, or a field stating the place
        inherited = max(
            by_place.get((cand.hit_index, cand.position + step), float("-inf"))
            - NEIGHBOUR_DECAY * abs(step)
            for step in (-2, -1, 1, 2)
        )
        if cand.context and is_field(cand.text):
            inherited = max(inherited, by_record[_record_of(cand, hits)] - 2 * NEIGHBOUR_DECAY)
        if labelled_answer(cand.text, question) == 2:
            # "Mødetid:" for "hvornår holder udvalget møde den 29. marts?": the label says
            # what it answers for the whole form, whose title line matched the question
            inherited = max(inherited, by_passage[cand.hit_index] + LABEL_LEAD)
        cand.score = max(cand.score, inherited)
        if cand.score >= best - margin:
            kept.append(cand)
    return kept


def _with_continuation(view: IndexView, question: str, pool: list[Hit], filters: Filters,
                       role: str) -> tuple[list[Hit], list[CarriedContext]]:
    """The pool, and the passage after the one that ends inside the form entry that the
    question's words name best: "4. Status på MSB's mål og økonomi, regnskab 2022" may end
    one passage while its "Ansvarlig:" and "Tid:" fields start the next. Returned with what
    each passage inherits from the passages before it (`carried_context`, read once here
    for both this choice and the scoring of units)."""
    terms = content_terms(question)
    carried = [carried_context(view, hit, role) for hit in pool]
    best, best_cover = None, 0.0
    for hit, before in zip(pool, carried):
        entry = open_entry(hit, before.entry)
        cover = view.terms.coverage(terms, entry) if entry else 0.0
        if cover > best_cover:
            best, best_cover = hit, cover
    after = None if best is None else continuation(view, best, role, filters)
    if after is None:
        return pool, carried
    canonical = view.canonical_id(after.chunk_id)
    if any(view.canonical_id(hit.chunk_id) == canonical for hit in pool):
        return pool, carried
    added = hit_for(view, len(pool) + 1, 0.0, canonical, after, role)
    return [*pool, added], [*carried, carried_context(view, added, role)]


def _record_of(cand: _Candidate, hits: list[Hit]) -> tuple:
    """The form entry a unit belongs to, within its document part: its context, or the
    unit itself when it is an entry heading (the context of the fields under it)."""
    hit = hits[cand.hit_index]
    return (hit.document, hit.punkt, hit.bilag, cand.context or cand.text)


def _answer_pool(view: IndexView, ranker: Ranker, question: str, query: str,
                 query_vec: np.ndarray, hits: list[Hit], *, k: int, filters: Filters,
                 role: str) -> list[Hit]:
    """The top-k passages; for "what was decided" questions (and questions about what a
    deciding body said, `asks_the_minutes`) also the best decision passages.

    Minutes state a decision in a line or two, while the item's Indstilling and attachments
    talk about the same subject at length, so the decision passage often ranks just below
    the top k. It is added (behind the top k) rather than promoted, so the rank prior still
    favours what the search ranked first.
    """
    pool = list(hits[:k])
    if not asks_the_minutes(question):
        return pool
    decision_filters = replace(filters, decisions_only=True)
    seen = {h.chunk_id for h in pool}
    for hit in top_hits(view, ranker, query, query_vec, k=3, filters=decision_filters,
                        role=role):
        if hit.chunk_id not in seen:
            pool.append(hit)
            seen.add(hit.chunk_id)
    return pool
