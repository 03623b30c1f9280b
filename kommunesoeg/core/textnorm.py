"""Danish text normalisation for lexical matching.

Why each step exists:
- Stemming (Snowball danish): "godkendt", "godkender", "godkendelse" must meet.
- OCR folding: Tesseract reads a scanned "æ" as "ae"/"ee", "ø" as "oe", "å" as "aa"/"a",
  and archives mix "Aarhus"/"Århus". Both the index and the query are folded to one
  skeleton (æ, ae, ee -> e; ø, oe -> o; å, aa -> a) *after* stemming, so a correctly
  spelled query finds OCR'd text and vice versa.
- Exact identifiers: case numbers (EMN-2023-000692), amounts (3.600, 6,8) and dates must
  match as whole tokens; they are kept as single tokens in addition to their parts.
- Compounds: Danish glues words together ("overgangsfinansiering"); the parts of
  hyphenated compounds ("MBU-rådmand") are indexed as well as the whole.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

import Stemmer
from bm25s.stopwords import STOPWORDS_DANISH

_STEMMER = Stemmer.Stemmer("danish")

# Question words and filler that carry no topic in a search query; added to the Danish
# stopword list because users ask questions, while documents state facts.
_QUERY_FILLER = {
    "hvad", "hvem", "hvor", "hvornår", "hvorfor", "hvordan", "hvilke", "hvilken", "hvilket",
    "blev", "besluttet", "beslutning", "vedr", "om", "the", "what", "was", "were", "is",
    "are", "of", "to", "a", "an", "and", "in", "on", "for", "about", "when", "which",
    "who", "how", "did", "does", "do", "be",
}
STOPWORDS = frozenset(w.lower() for w in STOPWORDS_DANISH) | {"ca", "kr", "jf", "pkt"}

_IDENTIFIER = re.compile(r"\b[a-zæøå]{2,6}-\d{4}-\d{3,8}\b", re.IGNORECASE)
_NUMBER = re.compile(r"\d+(?:[.,]\d+)+")
_WORD = re.compile(r"[0-9a-zæøåäöüé]+(?:-[0-9a-zæøåäöüé]+)*", re.IGNORECASE)

_FOLDS = (
    ("æ", "e"), ("ä", "e"), ("ae", "e"), ("ee", "e"),
    ("ø", "o"), ("ö", "o"), ("oe", "o"),
    ("å", "a"), ("aa", "a"),
    ("é", "e"), ("ü", "u"),
)


def fold(token: str) -> str:
    """Map Danish letters and their OCR/ASCII spellings onto one skeleton."""
    for src, dst in _FOLDS:
        token = token.replace(src, dst)
    return token


def clean(text: str) -> str:
    """NFC, casefold, and join words hyphenated across line breaks."""
    text = unicodedata.normalize("NFC", text).casefold()
    return re.sub(r"(\w)-\s*\n\s*(\w)", r"\1\2", text)


@lru_cache(maxsize=200_000)
def _stem_fold(word: str) -> str:
    return fold(_STEMMER.stemWord(word))


def tokenize(text: str, *, query: bool = False) -> list[str]:
    """Tokens for BM25: stemmed, OCR-folded words plus whole identifiers and amounts."""
    text = clean(text)
    tokens: list[str] = list(_IDENTIFIER.findall(text))
    for number in _NUMBER.findall(text):
        tokens.append(number.replace(",", "."))
    stop = STOPWORDS | _QUERY_FILLER if query else STOPWORDS
    for match in _WORD.finditer(text):
        word = match.group(0)
        parts = word.split("-")
        if len(parts) > 1 and not _IDENTIFIER.fullmatch(word):
            tokens.append(_stem_fold(word.replace("-", "")))
        for part in parts:
            if part in stop or len(part) < 2 and not part.isdigit():
                continue
            tokens.append(_stem_fold(part))
    return tokens


def content_terms(text: str) -> set[str]:
    """Distinct query-side tokens: what a passage must share to be about the question."""
    return set(tokenize(text, query=True))


def document_frequencies(texts: Iterable[str]) -> tuple[dict[str, int], int]:
    """(term -> number of texts that use it, number of texts), over `tokenize` terms.

    The term statistics of a collection (`retriever.terms.TermStats`). Here, in core, so the
    build can compute them once per generation and store them (tokenising every chunk at
    each open is the largest part of opening an archive) and the retriever can compute the
    very same numbers for a generation that does not hold them."""
    df: dict[str, int] = {}
    n = 0
    for text in texts:
        n += 1
        for term in set(tokenize(text)):
            df[term] = df.get(term, 0) + 1
    return df, n
