"""Term statistics and closed listings in PostgreSQL, kept up to date by each document's
transaction, so a reader never derives them from every chunk text (as the file build
stores them in meta.sqlite, issue 12).

- `term_df` is the document frequency of every term over the canonical chunk texts, the
  numbers `retriever.terms.TermStats.of_texts` computes (`kommunesoeg.core.textnorm.
  document_frequencies`: each chunk counts a term once); `n` is the number of canonical
  chunks (`canonical_count`). A sum over chunks, so a transaction adds the terms of the
  chunks that became canonical and subtracts those of the chunks that stopped being
  canonical (their document was replaced or removed, or they became a copy of a new chunk).
  Serialised by the near-duplicate lock (`neardup.lock_archive`), which every writer holds.
- `closed_listings` are found per document (`indexer.closed_listings.find_closed_listings`
  over its open canonical chunks, in order); a document whose chunks changed is read again.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

import psycopg

from indexer.closed_listings import find_closed_listings
from indexer.pg.neardup import CHUNK_FIELDS, chunk_of_row
from kommunesoeg.core.models import Chunk


def apply_term_delta(conn: psycopg.Connection, delta: Counter[str]) -> None:
    """Add `delta` to `term_df`, dropping terms no canonical chunk uses any more."""
    changed = sorted(t for t, d in delta.items() if d)
    if not changed:
        return
    conn.execute(
        "INSERT INTO term_df AS t (term, df) "
        "SELECT term, df FROM unnest(%s::text[], %s::int[]) AS d(term, df) "
        "ON CONFLICT (term) DO UPDATE SET df = t.df + EXCLUDED.df",
        (changed, [delta[t] for t in changed]))
    conn.execute("DELETE FROM term_df WHERE term = ANY(%s) AND df <= 0", (changed,))


def canonical_count(conn: psycopg.Connection) -> int:
    """`n` of the term statistics: the canonical chunks."""
    return conn.execute("SELECT count(*) FROM chunks WHERE duplicate_of IS NULL").fetchone()[0]


def read_term_df(conn: psycopg.Connection) -> dict[str, int]:
    """The stored document frequencies, term -> df."""
    return dict(conn.execute("SELECT term, df FROM term_df").fetchall())


def replace_listings(conn: psycopg.Connection, document: str, chunks: Iterable[Chunk]) -> int:
    """Store the closed listings `document`'s open canonical chunks (in order) print; returns
    how many."""
    conn.execute("DELETE FROM closed_listings WHERE document = %s", (document,))
    listings = find_closed_listings(c for c in chunks if c.document == document)
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO closed_listings (document, ord, meeting, date, punkt, title, page) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s)",
            [(x.document, i, x.meeting, x.date, x.punkt, x.title, x.page)
             for i, x in enumerate(listings)])
    return len(listings)


def refresh_listings(conn: psycopg.Connection, documents: Iterable[str]) -> None:
    """Read the closed listings of stored documents again (their canonical chunks changed)."""
    cols = ", ".join(CHUNK_FIELDS)
    for document in sorted(set(documents)):
        rows = conn.execute(
            f"SELECT {cols} FROM chunks WHERE document = %s AND NOT closed "
            "AND duplicate_of IS NULL ORDER BY ord", (document,)).fetchall()
        replace_listings(conn, document, [chunk_of_row(r).chunk for r in rows])
