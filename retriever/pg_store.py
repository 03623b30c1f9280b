"""`RetrievalStore` over a PostgreSQL + pgvector database (issue 13): the second store.

The database is written by any number of indexing workers (indexer/pg); this is the reading
side, what `retriever.search.Searcher("postgresql://...")` loads. Three choices shape it:

- **A generation is a snapshot.** Opening the store starts one REPEATABLE READ, READ ONLY
  transaction on a connection kept for the store's life and exports its snapshot; every
  later query imports it (`SET TRANSACTION SNAPSHOT`). So the metadata loaded at open, the
  vectors searched and the texts read all come from one committed state of the database, as
  a file generation does: a document committed (or removed) meanwhile changes nothing for
  this store, and `indexer.pg.queue.store_generation` tells an app when to open a new one.
- **The public role searches as a database role row-level security restricts.** A search
  for the public role runs `SET LOCAL ROLE kommunesoeg_public`, so the database drops
  closed rows whatever the access policy (retriever/access.py) decided as well. A public
  instance should log in as a user that is only a member of kommunesoeg_public: then the
  store never even loads a closed row.
- **The same ranking as the file store.** Vector search is exact (a scan, like FAISS's flat
  index) while the allowed rows are few, and pgvector's HNSW with iterative scans beyond;
  BM25 is computed in SQL from the product's own tokens (the `tokens` tsvector, `n_tokens`)
  with bm25s's formula and parameters (Lucene idf, k1 1.2, b 0.75), over the chunks the GIN
  index finds, so both stores score the same words the same way.
"""

from __future__ import annotations

import contextlib
import math
import threading
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from indexer.embed import Embedder
from indexer.meta_lazy import FACT_COLUMNS, ChunkFacts, Kept, WindowTexts, chunk_facts_of
from indexer.pg.connect import PUBLIC_ROLE, connect, safe_dsn
from indexer.pg.embcache import read_vectors
from indexer.pg.errors import PgUnavailable
from indexer.pg.lexemes import tsquery_of_terms
from indexer.pg.neardup import CHUNK_FIELDS, chunk_of_row
from indexer.pg.queue import store_generation
from indexer.pg.schema import SCHEMA_VERSION, check_version
from indexer.pg.vectors import vector_literal
from indexer.store import DocumentRecord, text_key
from kommunesoeg.core.errors import IndexNotFound, ModelMismatch
from kommunesoeg.core.models import Chunk, Decision
from kommunesoeg.core.results import ClosedListing
from kommunesoeg.core.textnorm import tokenize
from retriever.storage import POST_FILTER_SHARE

# bm25s's parameters as indexer.lexical builds the file store's BM25 (method "lucene")
BM25_K1 = 1.2
BM25_B = 0.75
# Allowed rows up to this many are searched exactly (a scan of their vectors, a few ms); an
# archive's wider searches go through the HNSW index (measured: an exact scan of ~18,000
# windows costs ~50 ms, an HNSW search a few).
EXACT_ROWS = 5_000
# BM25's first pass reads only the passages holding a term this rare (MaxScore pruning,
# `chunks_by_terms`): a question's common words ("byråd", "beslutning") are in tens of
# thousands of an archive's passages, and reading each one's tokens is most of a query.
RARE_SHARE = 0.02
HNSW_EF_MAX = 1000  # pgvector's largest hnsw.ef_search
# A passage's query terms and their frequencies, from its tsvector (positions = occurrences).
# Only the query's lexemes are unnested (setweight marks them, ts_filter keeps them): half the
# time of unnesting every lexeme of every matching passage (measured at ~48,000 chunks).
_TERM_FREQUENCIES = ("SELECT u.lexeme, coalesce(array_length(u.positions, 1), 1)::float8 AS tf "
                     "FROM unnest(ts_filter(setweight(c.tokens, 'A', %(terms)s::text[]), '{a}')) u")
# In a large archive a term in more than 5 % of the passages (and in more than COMMON_MIN_DF
# of them) finds no candidates of its own: it still adds to the score of every passage a
# rarer term found, but a passage holding only such terms (at most their small weights) is
# not read - thousands of passages per question. Measured at 47,488 chunks on the 20 dev
# questions: BM25 p50 212 -> 40 ms, the top 10 the exact top 10 for 199 of 200 places, the
# first passage always the same. Below COMMON_MIN_DF passages BM25 is exact (the sample
# corpus, the tests).
COMMON_SHARE = 0.05
COMMON_MIN_DF = 2_000
POOL_SIZE = 4  # connections per store: concurrent requests beyond it wait for one

@dataclass(frozen=True)
class _Privileges:
    """What the login may read besides the rows row-level security leaves it."""

    errors: bool  # documents.error
    term_df: bool  # counts closed chunks: internal only
    embedding_cache: bool
    public: bool  # may SET ROLE kommunesoeg_public


class PgStore:
    """One snapshot of a Kommunesøg PostgreSQL database as the retriever sees it."""

    def __init__(self, dsn: str, *, pool_size: int = POOL_SIZE) -> None:
        self._dsn = dsn
        self._holder = connect(dsn)
        try:
            self._open_snapshot()
            self._load()
        except BaseException:
            self._holder.close()
            raise
        self._pool = self._make_pool(pool_size)
        self._chunks_read = Kept()  # chunks by id, as the file store keeps them
        self._windows_read = Kept()  # a passage's window texts, by canonical row
        self._df: dict[str, int] = {}
        self._df_lock = threading.Lock()

    # ----------------------------------------------------------------- opening
    def _open_snapshot(self) -> None:
        import psycopg

        conn = self._holder
        version = check_version(conn)
        if version == 0:
            raise IndexNotFound(f"Databasen {safe_dsn(self._dsn)} har intet Kommunesøg-indeks: "
                                "kør kommunesoeg index <mappe> --index <dsn> først")
        if version < SCHEMA_VERSION:
            raise IndexNotFound(
                f"Databasen {safe_dsn(self._dsn)} har skemaversion {version}, denne Kommunesøg "
                f"læser {SCHEMA_VERSION}: kør kommunesoeg index mod den for at opdatere skemaet")
        # the snapshot transaction stays open, idle, for as long as the store is used
        conn.execute("SELECT set_config('idle_in_transaction_session_timeout', '0', false)")
        conn.commit()
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        self._snapshot = conn.execute("SELECT pg_export_snapshot()").fetchone()[0]
        self._generation = store_generation(conn)
        self._privileges = _Privileges(*conn.execute(
            "SELECT has_column_privilege('documents', 'error', 'SELECT'), "
            "has_table_privilege('term_df', 'SELECT'), "
            "has_table_privilege('embedding_cache', 'SELECT'), "
            "pg_has_role(current_user, %s, 'MEMBER')", (PUBLIC_ROLE,)).fetchone())

    def _load(self) -> None:
        """The text-free metadata every verb needs, from the snapshot (see `IndexView.load`)."""
        conn = self._holder
        settings = dict(conn.execute("SELECT key, value FROM store_settings").fetchall())
        if "model_id" not in settings:
            raise IndexNotFound(f"Databasen {safe_dsn(self._dsn)} har endnu intet indekseret "
                                "dokument: kør kommunesoeg index <mappe> --index <dsn>")
        self._model_id = settings["model_id"]
        error = "error" if self._privileges.errors else "NULL"
        self._documents = [
            DocumentRecord(file, sha, size or 0, status, pages, ocr_pages, meeting, committee,
                           date, time_, place, list(participants or []), err)
            for file, sha, size, status, pages, ocr_pages, meeting, committee, date, time_,
            place, participants, err in conn.execute(
                "SELECT file, sha256, size, status, pages, ocr_pages, meeting, committee, date, "
                f"time, place, participants, {error} FROM documents "
                "WHERE status <> 'pending' ORDER BY file")]
        self._created = conn.execute(
            "SELECT max(indexed_at)::text FROM documents").fetchone()[0]
        self._facts = list(chunk_facts_of(conn.execute(
            f"SELECT {', '.join(FACT_COLUMNS)} FROM chunks ORDER BY document, ord")))
        self._canonical_ids = [f.chunk_id for f in self._facts if f.duplicate_of is None]
        self._row_of = {cid: row for row, cid in enumerate(self._canonical_ids)}
        counts = dict(conn.execute("SELECT chunk_id, count(*) FROM windows GROUP BY chunk_id"))
        per_chunk = np.array([counts.get(cid, 0) for cid in self._canonical_ids], dtype=np.int64)
        self._window_start = np.concatenate([[0], np.cumsum(per_chunk)])
        self._window_chunk_ids = [cid for cid, k in zip(self._canonical_ids, per_chunk.tolist())
                                  for _ in range(k)]
        self._window_canonical_row = np.repeat(
            np.arange(len(self._canonical_ids), dtype=np.int64), per_chunk)
        self._decisions = [
            Decision(document, meeting or "", committee or "", date, punkt, punkt_title or "",
                     text or "", outcome or "andet", list(followups or []), closed, page,
                     chunk_id or "")
            for document, meeting, committee, date, punkt, punkt_title, text, outcome,
            followups, closed, page, chunk_id in conn.execute(
                "SELECT document, meeting, committee, date, punkt, punkt_title, text, outcome, "
                "followups, closed, page, chunk_id FROM decisions ORDER BY document, id")]
        self._closed_listings = [
            ClosedListing(document, meeting or "", date, punkt, title, page or 1)
            for document, meeting, date, punkt, title, page in conn.execute(
                "SELECT document, meeting, date, punkt, title, page FROM closed_listings "
                "ORDER BY document, ord")]
        self._term_df = (dict(conn.execute("SELECT term, df FROM term_df").fetchall())
                         if self._privileges.term_df else None)
        n, avgdl = conn.execute(
            "SELECT count(*), avg(n_tokens)::float8 FROM chunks WHERE duplicate_of IS NULL"
        ).fetchone()
        self._bm25_n, self._avgdl = int(n), float(avgdl or 1.0)
        self._size = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]

    def _make_pool(self, size: int):
        import psycopg
        from psycopg_pool import ConnectionPool

        def configure(conn: psycopg.Connection) -> None:
            conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            conn.read_only = True

        try:
            return ConnectionPool(self._dsn, min_size=1, max_size=size, configure=configure,
                                  kwargs={"connect_timeout": 10}, open=True, timeout=30,
                                  name="kommunesoeg-retriever")
        except psycopg.Error as exc:  # pragma: no cover - the holder connected a moment ago
            raise PgUnavailable(f"Kan ikke forbinde til PostgreSQL {safe_dsn(self._dsn)}: "
                                f"{exc}") from None

    def close(self) -> None:
        """Release the snapshot and the connections (also done when the store is collected)."""
        self._pool.close()
        self._holder.close()

    def __del__(self) -> None:  # the snapshot holds back vacuum: never keep it past its use
        with contextlib.suppress(Exception):  # interpreter shutdown, a half-built store
            self.close()

    @contextmanager
    def _session(self, role: str | None = None) -> Iterator:
        """A pooled connection inside this store's snapshot; as kommunesoeg_public when
        `role` is "public" and the login may take that role."""
        import psycopg
        from psycopg import sql

        with self._pool.connection() as conn, conn.transaction():
            try:
                conn.execute(sql.SQL("SET TRANSACTION SNAPSHOT {}").format(
                    sql.Literal(self._snapshot)))
            except psycopg.Error:
                raise PgUnavailable(
                    f"PostgreSQL {safe_dsn(self._dsn)}: indeksets øjebliksbillede er "
                    "væk (forbindelsen blev afbrudt); åbn indekset igen") from None
            if role == "public" and self._privileges.public:
                conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(PUBLIC_ROLE)))
            yield conn

    # ----------------------------------------------------------------- what it holds
    @property
    def generation(self) -> str:
        return f"{safe_dsn(self._dsn)}#{self._generation}"

    @property
    def generation_name(self) -> str:
        return self._generation

    @property
    def vector_index_kind(self) -> str:
        return "hnsw"

    @property
    def total_bytes(self) -> int:
        return self._size

    @property
    def size_bytes(self) -> int:
        return self._size

    @property
    def model_id(self) -> str:
        return self._model_id

    @property
    def created(self) -> str | None:
        return self._created

    @cached_property
    def chunks(self) -> Sequence[Chunk]:
        with self._session() as conn:
            return [chunk_of_row(r).chunk for r in conn.execute(
                f"SELECT {', '.join(CHUNK_FIELDS)} FROM chunks ORDER BY document, ord")]

    def chunk_facts(self) -> Iterable[ChunkFacts]:
        return iter(self._facts)

    def chunks_of(self, document: str) -> Sequence[Chunk]:
        with self._session() as conn:
            return [chunk_of_row(r).chunk for r in conn.execute(
                f"SELECT {', '.join(CHUNK_FIELDS)} FROM chunks WHERE document = %s ORDER BY ord",
                (document,))]

    @property
    def decisions(self) -> Sequence[Decision]:
        return self._decisions

    @property
    def documents(self) -> Sequence[DocumentRecord]:
        return self._documents

    @property
    def window_chunk_ids(self) -> Sequence[str]:
        return self._window_chunk_ids

    @cached_property
    def window_texts(self) -> Sequence[str]:
        return WindowTexts(self.window_text, len(self._window_chunk_ids))

    @property
    def chunk_vector_count(self) -> int:
        return len(self._canonical_ids)

    @property
    def canonical_ids(self) -> Sequence[str]:
        return self._canonical_ids

    @property
    def term_frequencies(self) -> Mapping[str, int] | None:
        return self._term_df

    @property
    def closed_listings(self) -> Sequence[ClosedListing] | None:
        return self._closed_listings

    def chunk(self, chunk_id: str) -> Chunk:
        found = self._chunks_read.get(chunk_id)
        if found is None:
            with self._session() as conn:
                row = conn.execute(f"SELECT {', '.join(CHUNK_FIELDS)} FROM chunks "
                                   "WHERE chunk_id = %s", (chunk_id,)).fetchone()
            if row is None:
                raise KeyError(chunk_id)
            found = chunk_of_row(row).chunk
            self._chunks_read.put(chunk_id, found)
        return found

    def window_text(self, row: int) -> str:
        """The text of window row `row` (its chunk's windows are read together)."""
        canonical_row = int(self._window_canonical_row[row])
        texts = self._windows_read.get(canonical_row)
        if texts is None:
            with self._session() as conn:
                texts = [t for (t,) in conn.execute(
                    "SELECT text FROM windows WHERE chunk_id = %s ORDER BY ord",
                    (self._canonical_ids[canonical_row],))]
            self._windows_read.put(canonical_row, texts)
        return texts[row - int(self._window_start[canonical_row])]

    def stored_vectors(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        if not texts or not self._privileges.embedding_cache:
            return {}
        key_of = {text_key(t): t for t in texts}
        with self._session() as conn:
            found = read_vectors(conn, self._model_id, list(key_of))
        return {key_of[k]: v for k, v in found.items()}

    def check_model(self, embedder: Embedder) -> None:
        if embedder.model_id != self._model_id:
            raise ModelMismatch(
                f"databasen er bygget med {self._model_id}; du bad om {embedder.model_id}. "
                "Byg den igen med samme model, eller brug samme model")

    # ----------------------------------------------------------------- searching
    def windows_by_vector(self, vector: np.ndarray, n: int, mask: np.ndarray | None = None,
                          *, role: str | None = None) -> list[tuple[int, float]]:
        rows = self._nearest("windows", vector, n, self._window_rows_kept(mask), role)
        found = []
        for chunk_id, ord_, sim in rows:
            canonical_row = self._row_of.get(chunk_id)
            if canonical_row is None:
                continue
            row = int(self._window_start[canonical_row]) + ord_
            if mask is None or mask[row]:
                found.append((row, sim))
        found.sort(key=lambda rs: (-rs[1], rs[0]))  # an iterative scan's order is relaxed
        return found[:n]

    def chunks_by_vector(self, vector: np.ndarray, n: int, mask: np.ndarray | None = None,
                         *, role: str | None = None) -> list[tuple[str, float]]:
        kept = None if mask is None else np.flatnonzero(mask)
        rows = self._nearest("chunks", vector, n, kept, role)
        found = [(cid, sim) for cid, _, sim in rows
                 if cid in self._row_of and (mask is None or mask[self._row_of[cid]])]
        found.sort(key=lambda cs: (-cs[1], self._row_of[cs[0]]))
        return found[:n]

    def _window_rows_kept(self, mask: np.ndarray | None) -> np.ndarray | None:
        """The canonical rows whose windows `mask` keeps (a window's passage is allowed or
        not as a whole, so this loses nothing)."""
        if mask is None:
            return None
        return np.unique(self._window_canonical_row[mask])

    def _nearest(self, table: str, vector: np.ndarray, n: int, kept_rows: np.ndarray | None,
                 role: str | None) -> list[tuple[str, int, float]]:
        """(chunk id, window ord or 0, cosine) of the nearest rows of `table` among the
        passages in `kept_rows` (canonical rows; None: all). Exact while those are few;
        otherwise HNSW, either over everything with a deeper limit (a wide mask: the caller
        filters) or with the passages as a condition the iterative scan keeps to."""
        total = len(self._canonical_ids)
        kept = total if kept_rows is None else len(kept_rows)
        if n <= 0 or kept == 0:
            return []
        per_passage = max(1.0, len(self._window_chunk_ids) / max(total, 1)) \
            if table == "windows" else 1.0
        ids: list[str] | None = None
        limit = n
        exact = kept * per_passage <= EXACT_ROWS
        if kept_rows is not None and kept < total:
            if exact or kept < POST_FILTER_SHARE * total:
                ids = [self._canonical_ids[r] for r in kept_rows.tolist()]
            else:
                limit = min(int(total * per_passage), math.ceil(n * total / kept * 1.25) + 16)
        key = "ord" if table == "windows" else "0"
        where = ["vector IS NOT NULL"]
        if table == "chunks":
            where.append("duplicate_of IS NULL")
        params: dict = {"q": vector_literal(vector), "limit": int(limit)}
        if ids is not None:
            where.append("chunk_id = ANY(%(ids)s)")
            params["ids"] = ids
        select = (f"SELECT chunk_id, {key}, vector <#> %(q)s::vector AS d FROM {table} "
                  f"WHERE {' AND '.join(where)}")
        if exact:  # a materialised scan: the planner cannot turn it into an HNSW walk
            statement = (f"WITH c AS MATERIALIZED ({select}) "
                         "SELECT * FROM c ORDER BY d, chunk_id LIMIT %(limit)s")
        else:
            statement = f"{select} ORDER BY d LIMIT %(limit)s"
        with self._session(role) as conn:
            if not exact:
                conn.execute("SELECT set_config('hnsw.ef_search', %s, true), "
                             "set_config('hnsw.iterative_scan', 'relaxed_order', true), "
                             "set_config('hnsw.max_scan_tuples', %s, true)",
                             (str(min(HNSW_EF_MAX, max(40, limit))),
                              str(max(20_000, limit * 20))))
            rows = conn.execute(statement, params).fetchall()
        return [(cid, int(k), -float(d)) for cid, k, d in rows]

    def chunks_by_terms(self, query: str, mask: np.ndarray | None, n: int,
                        *, role: str | None = None) -> dict[str, float]:
        """BM25 as bm25s scores it, with MaxScore pruning: a first pass scores (by every
        query term) only the passages holding one of the query's rare terms; when the
        common terms' weights add up to less than the n-th best score found, no passage
        holding only common terms can enter the top n (a term adds less than its weight),
        and the answer is exact without reading the common terms' many passages. Otherwise
        a second pass scores every passage holding any term (in a large archive: any but
        the very common ones, `COMMON_SHARE`)."""
        weights = self._term_weights(query)
        if not weights or n <= 0:
            return {}
        order = sorted(weights, key=lambda t: (-weights[t], t))  # rarest first
        rare = [t for t in order if self._df[t] <= RARE_SHARE * self._bm25_n] or order[:1]
        found = self._bm25_pass(weights, rare, mask, n, role)
        common = sum(weights[t] for t in order if t not in rare)
        if common == 0 or (len(found) >= n and common <= min(found.values())):
            return found
        matching = [t for t in order if self._df[t] <= max(COMMON_SHARE * self._bm25_n,
                                                           COMMON_MIN_DF)] or order[:1]
        if matching == rare:
            return found
        return self._bm25_pass(weights, matching, mask, n, role)

    def _bm25_pass(self, weights: Mapping[str, float], matching: Sequence[str],
                   mask: np.ndarray | None, n: int, role: str | None) -> dict[str, float]:
        """The best `n` allowed passages among those holding a `matching` term, each scored
        by every term of `weights` (bm25s's Lucene BM25)."""
        terms = list(weights)
        total = len(self._canonical_ids)
        kept_rows = None if mask is None or mask.all() else np.flatnonzero(mask)
        params: dict = {"terms": terms, "weights": [weights[t] for t in terms],
                        "tsq": tsquery_of_terms(matching), "k1": BM25_K1, "b": BM25_B,
                        "avgdl": self._avgdl, "limit": n}
        if self._open_matches(role):  # the GIN index, no closed row (indexer/pg/schema.py)
            source, where = "open_term_matches(%(tsq)s::tsquery) c", "true"
        else:
            source, where = "chunks c", "c.duplicate_of IS NULL AND c.tokens @@ %(tsq)s::tsquery"
        if kept_rows is not None:
            if len(kept_rows) < POST_FILTER_SHARE * total:
                where += " AND c.chunk_id = ANY(%(ids)s)"
                params["ids"] = [self._canonical_ids[r] for r in kept_rows.tolist()]
            else:  # a wide mask: the best of a deeper list, filtered here
                params["limit"] = math.ceil(n * total / len(kept_rows) * 1.25) + 16
        statement = (
            "WITH q(term, w) AS (SELECT * FROM unnest(%(terms)s::text[], %(weights)s::float8[])) "
            "SELECT c.chunk_id, sum(q.w * t.tf / (t.tf + %(k1)s * (1 - %(b)s + %(b)s * "
            "c.n_tokens / %(avgdl)s))) AS s "
            f"FROM {source} CROSS JOIN LATERAL ({_TERM_FREQUENCIES}) t "
            f"JOIN q ON q.term = t.lexeme WHERE {where} "
            "GROUP BY c.chunk_id ORDER BY s DESC, c.chunk_id")
        with self._session(role) as conn:
            rows = conn.execute(statement + " LIMIT %(limit)s", params).fetchall()
            found = self._allowed_scores(rows, mask, n)
            if len(found) < n and len(rows) == params["limit"] and "ids" not in params:
                found = self._allowed_scores(conn.execute(statement, params).fetchall(), mask, n)
        return found

    def _allowed_scores(self, rows: Iterable[tuple[str, float]], mask: np.ndarray | None,
                        n: int) -> dict[str, float]:
        """The first `n` positive scores of passages of this snapshot that `mask` keeps."""
        found: dict[str, float] = {}
        for cid, score in rows:
            row = self._row_of.get(cid)
            if row is None or (mask is not None and not mask[row]) or score <= 0:
                continue
            found[cid] = float(score)
            if len(found) >= n:
                break
        return found

    def _open_matches(self, role: str | None) -> bool:
        """Whether this search runs as kommunesoeg_public: then its full-text matches come
        from `open_term_matches` (row-level security would make them a sequential scan)."""
        return role == "public" and self._privileges.public

    def _term_weights(self, query: str) -> dict[str, float]:
        """Query term -> its BM25 weight (Lucene idf x how often the query says it), for the
        terms some canonical chunk uses: what bm25s's `get_scores` sums."""
        said = Counter(tokenize(query, query=True))
        frequencies = self._document_frequencies([t for t in said if t])
        weights = {}
        for term, count in said.items():
            df = frequencies.get(term, 0)
            if df > 0:
                weights[term] = count * math.log(1 + (self._bm25_n - df + 0.5) / (df + 0.5))
        return weights

    def _document_frequencies(self, terms: Sequence[str]) -> dict[str, int]:
        """How many canonical chunks of the snapshot use each term (counted through the GIN
        index once per term and store: the snapshot does not change)."""
        with self._df_lock:
            missing = [t for t in terms if t not in self._df]
        if missing:
            # a login that reads every row counts every canonical chunk, as the file store's
            # BM25 does; a public-only login counts the open ones, through the GIN index
            source = ("chunks WHERE duplicate_of IS NULL AND tokens @@ %s::tsquery"
                      if self._privileges.term_df else "open_term_matches(%s::tsquery)")
            with self._session() as conn:
                counted = {term: conn.execute(
                    f"SELECT count(*) FROM {source}", (tsquery_of_terms([term]),)).fetchone()[0]
                    for term in missing}
            with self._df_lock:
                self._df.update(counted)
        with self._df_lock:
            return {t: self._df[t] for t in terms}

