"""Optional generative answers through any OpenAI-compatible chat endpoint.

Off unless KOMMUNESOEG_LLM_URL is set. The model sees numbered passages and must cite
[n] after every sentence; before anything is shown, every sentence without a valid
citation (a number that is not one of the passages) is dropped. A model can still
paraphrase wrongly, but it cannot add an unsourced sentence to the answer. When nothing
survives, the caller falls back to the extractive answer.

Configuration (environment):
  KOMMUNESOEG_LLM_URL      base URL, e.g. http://127.0.0.1:8080/v1 (".../chat/completions" is appended)
  KOMMUNESOEG_LLM_MODEL    model name sent in the request (default "default")
  KOMMUNESOEG_LLM_API_KEY  bearer token, if the endpoint needs one
  KOMMUNESOEG_LLM_TIMEOUT  seconds (default 30)
"""

from __future__ import annotations

import json
import logging
import os
import re
import urllib.error
import urllib.request
from dataclasses import replace

from kommunesoeg.core.results import Answer, AnswerSentence, Hit
from kommunesoeg.core.sentences import split_sentences

log = logging.getLogger(__name__)

SYSTEM_PROMPT = (
    "Du besvarer spørgsmål om kommunale dagsordener og referater. Brug KUN de nummererede "
    "uddrag. Skriv på spørgsmålets sprog, højst 4 korte sætninger. Afslut HVER sætning med "
    "kildehenvisningen i kantede parenteser, fx [1] eller [1][3]. Står svaret ikke i "
    "uddragene, så skriv kun: Jeg fandt ikke et sikkert svar i dokumenterne."
)
_CITATION = re.compile(r"\[(\d{1,2})\]")


def configured() -> bool:
    return bool(os.environ.get("KOMMUNESOEG_LLM_URL"))


def build_messages(question: str, hits: list[Hit]) -> list[dict[str, str]]:
    passages = "\n\n".join(
        f"[{i}] ({hit.citation()})\n{hit.text}" for i, hit in enumerate(hits, start=1)
    )
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": f"Uddrag:\n\n{passages}\n\nSpørgsmål: {question}"},
    ]


def complete(messages: list[dict[str, str]]) -> str | None:
    """POST to the chat endpoint; None (logged) on any network or format failure."""
    base = os.environ["KOMMUNESOEG_LLM_URL"].rstrip("/")
    url = base if base.endswith("/chat/completions") else f"{base}/chat/completions"
    body = json.dumps(
        {
            "model": os.environ.get("KOMMUNESOEG_LLM_MODEL", "default"),
            "messages": messages,
            "temperature": 0,
        }
    ).encode("utf-8")
    headers = {"Content-Type": "application/json"}
    if key := os.environ.get("KOMMUNESOEG_LLM_API_KEY"):
        headers["Authorization"] = f"Bearer {key}"
    timeout = float(os.environ.get("KOMMUNESOEG_LLM_TIMEOUT", "30"))
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            payload = json.loads(response.read().decode("utf-8"))
        return payload["choices"][0]["message"]["content"]
    except (urllib.error.URLError, TimeoutError, OSError, ValueError, KeyError, IndexError) as exc:
        log.warning("generativ svartjeneste fejlede (%s): %s", url, exc)
        return None


def cited_sentences(text: str, n_passages: int) -> list[AnswerSentence]:
    """Sentences of a model reply that cite at least one passage 1..n_passages.

    Citations out of range are removed; a sentence left with none is dropped entirely.
    """
    # "Sætning. [1] Næste" -> "Sætning [1]. Næste": a citation belongs to the sentence before it.
    text = re.sub(r"([.!?])\s*((?:\[\d{1,2}\]\s*)+)", lambda m: f" {m.group(2).strip()}{m.group(1)} ", text)
    kept: list[AnswerSentence] = []
    for sentence in split_sentences(text):
        numbers = [int(n) for n in _CITATION.findall(sentence)]
        valid = list(dict.fromkeys(n for n in numbers if 1 <= n <= n_passages))
        if not valid:
            continue
        body = _CITATION.sub("", sentence)
        body = re.sub(r"\s+([.,;:!?])", r"\1", re.sub(r"\s+", " ", body)).strip()
        if body:
            kept.append(AnswerSentence(body, valid))
    return kept


def generate_answer(question: str, hits: list[Hit]) -> Answer | None:
    """A generative answer whose every sentence is cited, or None (caller falls back)."""
    if not configured() or not hits:
        return None
    reply = complete(build_messages(question, hits))
    if not reply:
        return None
    sentences = cited_sentences(reply, len(hits))
    if not sentences:
        return None
    # Renumber so that only passages actually cited are listed, in first-cited order.
    order: list[int] = []
    for s in sentences:
        for n in s.citations:
            if n not in order:
                order.append(n)
    renumber = {old: new for new, old in enumerate(order, start=1)}
    sentences = [AnswerSentence(s.text, [renumber[n] for n in s.citations]) for s in sentences]
    # a citation's rank is its number [n] in the answer
    citations = [replace(hits[old - 1], rank=new) for new, old in enumerate(order, start=1)]
    text = " ".join(f"{s.text} " + "".join(f"[{n}]" for n in s.citations) for s in sentences)
    return Answer(question, text, sentences, citations, False, "generative")
