"""Full-text search on the product's own tokens: `tokenize` output as tsvector/tsquery literals.

The file store's BM25 and PostgreSQL must match the same words, so PostgreSQL gets the
tokens `kommunesoeg.core.textnorm.tokenize` makes (Danish stemming, OCR folding, whole case
numbers and amounts) as lexemes, verbatim. They are written as tsvector / tsquery literals
rather than passed through `to_tsvector('simple', ...)`: the text search parser would split
the identifiers the tokenizer keeps whole ("emn-2023-000692", "1.5") into parts. The
literals keep positions, so term frequency (and phrase search, if ever wanted) survive.
"""

from __future__ import annotations

from collections.abc import Iterable

from kommunesoeg.core.textnorm import tokenize

_MAX_POSITION = 16383  # PostgreSQL's largest tsvector position
_MAX_POSITIONS_PER_LEXEME = 256
_MAX_LEXEME_BYTES = 2046


def _quote(lexeme: str) -> str:
    return "'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "'"


def tsvector_literal(tokens: Iterable[str]) -> str:
    """'lexeme':1,7 'other':2 ... for a `::tsvector` cast (or COPY into a tsvector column)."""
    positions: dict[str, list[int]] = {}
    for pos, token in enumerate(tokens, start=1):
        if not token or len(token.encode("utf-8")) > _MAX_LEXEME_BYTES:
            continue
        kept = positions.setdefault(token, [])
        if len(kept) < _MAX_POSITIONS_PER_LEXEME:
            kept.append(min(pos, _MAX_POSITION))
    return " ".join(f"{_quote(t)}:{','.join(map(str, sorted(set(p))))}"
                    for t, p in positions.items())


def document_lexemes(text: str) -> tuple[str, int]:
    """The tsvector literal of a passage, as BM25 tokenises it (pass `lexical_text`), and
    its BM25 length: the number of tokens, at least 1 (bm25s indexes an empty passage as one
    placeholder token)."""
    tokens = tokenize(text)
    return tsvector_literal(tokens), max(1, len(tokens))


def tsquery_literal(query: str, *, operator: str = "|") -> str | None:
    """A `::tsquery` literal of the query's tokens (`tokenize(query, query=True)`), joined
    by `operator` ('|' any term, as BM25 scores; '&' all terms); None when nothing is left."""
    return tsquery_of_terms(tokenize(query, query=True), operator=operator)


def tsquery_of_terms(terms: Iterable[str], *, operator: str = "|") -> str | None:
    """A `::tsquery` literal of tokens already made (each quoted as it is, never tokenised
    again: a stem stemmed twice can change); None when there are none."""
    if operator not in ("|", "&"):
        raise ValueError(f"operator must be '|' or '&', not {operator!r}")
    tokens = list(dict.fromkeys(t for t in terms if t))
    if not tokens:
        return None
    return f" {operator} ".join(_quote(t) for t in tokens)
