"""The PostgreSQL schema, created and migrated by the product itself, versioned.

`migrate(conn)` brings a database to `SCHEMA_VERSION`: every migration N not yet recorded in
`schema_version` runs once, in its own transaction together with the row recording it, under
an advisory lock, so several workers starting at once migrate once and a failed migration
leaves the previous version intact. A database migrated by a newer product is refused with
one line: an older product must not write rows the newer schema does not expect.

The vector columns are typed (`vector(dim)`) and indexed (HNSW) by `ensure_model`, not by a
migration: the dimension is the embedding model's, known only when the first worker arrives,
and one database holds the vectors of one model (`store_settings`), as one file index does.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg import sql

from indexer.pg.connect import INTERNAL_ROLE, PUBLIC_ROLE, WRITER_ROLE, safe_dsn
from indexer.pg.errors import PgExtensionMissing, PgModelMismatch, PgSchemaTooNew

# pg_advisory_xact_lock key: "kommunesoeg schema" (any constant the product owns).
SCHEMA_LOCK = 0x6B73_6368
PGVECTOR_MIN = (0, 8)  # iterative index scans, which filtered/RLS-restricted HNSW needs

_TABLES = """
CREATE TABLE store_settings (key text PRIMARY KEY, value text NOT NULL);

-- One row per input file: the record of the file store's documents table, plus the work
-- queue: status 'pending' rows are claimed with FOR UPDATE SKIP LOCKED and become 'ok' or
-- 'error' in the same transaction that writes the document's rows.
CREATE TABLE documents (
    file text PRIMARY KEY,
    sha256 text NOT NULL,
    size bigint,
    pages integer NOT NULL DEFAULT 0,
    ocr_pages integer NOT NULL DEFAULT 0,
    meeting text, committee text, date text, time text, place text,
    participants jsonb NOT NULL DEFAULT '[]',
    status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'ok', 'error')),
    error text,
    queued_at timestamptz NOT NULL DEFAULT now(),
    indexed_by text,
    indexed_at timestamptz
);
CREATE INDEX documents_pending ON documents (file) WHERE status = 'pending';

-- The file store's chunks table (indexer/store.py), with the vector and the lexemes inline.
CREATE TABLE chunks (
    chunk_id text PRIMARY KEY,
    document text NOT NULL REFERENCES documents (file) ON DELETE CASCADE,
    meeting text, committee text, date text,
    punkt integer, punkt_title text, bilag integer, bilag_title text, section text,
    page_start integer, page_end integer,
    closed boolean NOT NULL, ocr boolean NOT NULL,
    case_number text, text text NOT NULL, header text NOT NULL,
    duplicate_of text, ord integer NOT NULL, windows_json jsonb NOT NULL,
    tokens tsvector NOT NULL,        -- kommunesoeg.core.textnorm.tokenize, verbatim
    vector vector                    -- canonical chunks only; typed by ensure_model
);
CREATE INDEX chunks_document ON chunks (document);
CREATE INDEX chunks_tokens ON chunks USING gin (tokens);

CREATE TABLE windows (
    chunk_id text NOT NULL REFERENCES chunks (chunk_id) ON DELETE CASCADE,
    ord integer NOT NULL,
    text text NOT NULL,
    vector vector NOT NULL,
    PRIMARY KEY (chunk_id, ord)
);

CREATE TABLE decisions (
    id bigserial PRIMARY KEY,
    document text NOT NULL REFERENCES documents (file) ON DELETE CASCADE,
    meeting text, committee text, date text, punkt integer, punkt_title text,
    text text, outcome text, followups jsonb NOT NULL DEFAULT '[]',
    closed boolean NOT NULL, page integer, chunk_id text
);
CREATE INDEX decisions_document ON decisions (document);

-- (model, sha1(text)) -> float32 vector bytes: makes re-indexing and a retried document cheap.
CREATE TABLE embedding_cache (
    model_id text NOT NULL,
    key text NOT NULL,
    vector bytea NOT NULL,
    PRIMARY KEY (model_id, key)
);
"""

# Closed content is enforced by the database as well as by retriever/access.py: the public
# role reads chunks, windows and decisions only through policies that drop closed rows, and
# no queue or cache column. The table owner (the migrating user) bypasses row-level security
# as PostgreSQL owners do; writers that are not the owner get the writer role.
_ROLES = f"""
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{PUBLIC_ROLE}') THEN
        CREATE ROLE {PUBLIC_ROLE} NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{INTERNAL_ROLE}') THEN
        CREATE ROLE {INTERNAL_ROLE} NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{WRITER_ROLE}') THEN
        CREATE ROLE {WRITER_ROLE} NOLOGIN;
    END IF;
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO {PUBLIC_ROLE}, {INTERNAL_ROLE}, {WRITER_ROLE}',
                   current_schema());
END
$$;

GRANT SELECT (file, size, pages, ocr_pages, meeting, committee, date, time, place, status)
    ON documents TO {PUBLIC_ROLE};
GRANT SELECT ON chunks, windows, decisions TO {PUBLIC_ROLE};
GRANT SELECT ON documents, chunks, windows, decisions, store_settings TO {INTERNAL_ROLE};
GRANT SELECT, INSERT, UPDATE, DELETE
    ON documents, chunks, windows, decisions, embedding_cache, store_settings TO {WRITER_ROLE};
GRANT USAGE ON SEQUENCE decisions_id_seq TO {WRITER_ROLE};

ALTER TABLE chunks ENABLE ROW LEVEL SECURITY;
ALTER TABLE windows ENABLE ROW LEVEL SECURITY;
ALTER TABLE decisions ENABLE ROW LEVEL SECURITY;

CREATE POLICY public_open ON chunks FOR SELECT TO {PUBLIC_ROLE} USING (NOT closed);
CREATE POLICY public_open ON windows FOR SELECT TO {PUBLIC_ROLE}
    USING (EXISTS (SELECT 1 FROM chunks c WHERE c.chunk_id = windows.chunk_id AND NOT c.closed));
CREATE POLICY public_open ON decisions FOR SELECT TO {PUBLIC_ROLE} USING (NOT closed);

CREATE POLICY internal_all ON chunks FOR SELECT TO {INTERNAL_ROLE} USING (true);
CREATE POLICY internal_all ON windows FOR SELECT TO {INTERNAL_ROLE} USING (true);
CREATE POLICY internal_all ON decisions FOR SELECT TO {INTERNAL_ROLE} USING (true);

CREATE POLICY writer_all ON chunks TO {WRITER_ROLE} USING (true) WITH CHECK (true);
CREATE POLICY writer_all ON windows TO {WRITER_ROLE} USING (true) WITH CHECK (true);
CREATE POLICY writer_all ON decisions TO {WRITER_ROLE} USING (true) WITH CHECK (true);
"""


# Issue 13, the rest of the indexing side: what the file build derives across documents.
# - claim_attempts: how often a worker started a document and never committed it. Kept apart
#   from `documents` because the claim holds that row FOR UPDATE in the transaction that dies
#   with the worker, so a count written there would die with it; a second (autocommit)
#   connection counts here instead, and no foreign key, whose check would wait on that lock.
# - chunk_sketches: each chunk's near-duplicate sketch keys (indexer/dedupe.py), indexed by key,
#   so a new document's chunks find their candidate copies without reading the archive.
# - term_df: document frequency of each term over the canonical chunk texts (n is the count
#   of canonical chunks), maintained by every document transaction. It counts closed chunks
#   too, so the public role may not read it: a count is closed content as much as a text.
# - closed_listings: closed items an open canonical chunk lists (indexer/closed_listings.py):
#   only what OPEN lines print, so the public role may read them.
_DERIVED = f"""
CREATE TABLE claim_attempts (
    file text PRIMARY KEY,
    sha256 text NOT NULL,
    attempts integer NOT NULL,
    last_worker text,
    last_claimed_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE chunk_sketches (
    key bigint NOT NULL,
    chunk_id text NOT NULL REFERENCES chunks (chunk_id) ON DELETE CASCADE
);
CREATE INDEX chunk_sketches_key ON chunk_sketches (key);
CREATE INDEX chunk_sketches_chunk ON chunk_sketches (chunk_id);
CREATE INDEX chunks_duplicate_of ON chunks (duplicate_of) WHERE duplicate_of IS NOT NULL;

CREATE TABLE term_df (term text PRIMARY KEY, df integer NOT NULL);

CREATE TABLE closed_listings (
    document text NOT NULL REFERENCES documents (file) ON DELETE CASCADE,
    ord integer NOT NULL,
    meeting text, date text, punkt integer NOT NULL, title text NOT NULL, page integer,
    PRIMARY KEY (document, ord)
);

GRANT SELECT ON closed_listings TO {PUBLIC_ROLE}, {INTERNAL_ROLE};
GRANT SELECT ON term_df, chunk_sketches, claim_attempts TO {INTERNAL_ROLE};
GRANT SELECT, INSERT, UPDATE, DELETE
    ON claim_attempts, chunk_sketches, term_df, closed_listings TO {WRITER_ROLE};
"""


# Issue 13, the search side:
# - chunks.n_tokens: the BM25 document length (`indexer.lexical`: the tokens of header + text,
#   at least 1), so PostgreSQL scores BM25 as the file store's bm25s does; filled for stored
#   rows from their tsvector (the number of positions is the number of tokens).
# - documents.change_seq, from one sequence, set by the transaction that commits a document:
#   a reader's generation is (documents, sum and max of change_seq), which moves whenever a
#   document is committed or removed, whatever the order the workers commit in.
# - windows.closed, a copy of its chunk's flag (a window is rewritten with its chunk), so the
#   public role's policy on windows is a column test, not a lookup of the chunk per row: an
#   HNSW scan checks the policy on every row it visits.
# - the public role may read what identifies the store and its files (its schema version,
#   the model, a file's SHA-256 for the page-file rule, when it was indexed, the meeting's
#   participants as its open front page prints them), none of it
#   closed content: a reader that logs in as only kommunesoeg_public must be able to open it.
_SEARCH = f"""
ALTER TABLE chunks ADD COLUMN n_tokens integer;
UPDATE chunks SET n_tokens = greatest(1, (
    SELECT coalesce(sum(array_length(positions, 1)), 0) FROM unnest(tokens)));
ALTER TABLE chunks ALTER COLUMN n_tokens SET NOT NULL;

CREATE SEQUENCE store_changes;
ALTER TABLE documents ADD COLUMN change_seq bigint;
UPDATE documents SET change_seq = nextval('store_changes') WHERE status <> 'pending';

ALTER TABLE windows ADD COLUMN closed boolean NOT NULL DEFAULT false;
UPDATE windows w SET closed = c.closed FROM chunks c WHERE c.chunk_id = w.chunk_id AND c.closed;
DROP POLICY public_open ON windows;
CREATE POLICY public_open ON windows FOR SELECT TO {PUBLIC_ROLE} USING (NOT closed);

GRANT SELECT (sha256, participants, indexed_at, change_seq) ON documents TO {PUBLIC_ROLE};
GRANT SELECT ON store_settings TO {PUBLIC_ROLE};
GRANT SELECT ON schema_version TO {PUBLIC_ROLE}, {INTERNAL_ROLE};
GRANT USAGE ON SEQUENCE store_changes TO {WRITER_ROLE};

-- Internal use is audited (retriever/audit.py): app servers insert, nobody but the owner
-- reads, changes or deletes.
CREATE TABLE audit_log (
    id bigserial PRIMARY KEY,
    at timestamptz NOT NULL,
    db_user text NOT NULL DEFAULT session_user,
    app_user text NOT NULL,
    action text NOT NULL,
    query text NOT NULL,
    results jsonb NOT NULL,
    closed_shown jsonb NOT NULL
);
GRANT INSERT ON audit_log TO {INTERNAL_ROLE};
GRANT USAGE ON SEQUENCE audit_log_id_seq TO {INTERNAL_ROLE};
"""


# Issue 13: the public role's lexical search through the GIN index. Under row-level security
# PostgreSQL applies no operator that is not LEAKPROOF before the policy, and tsvector @@
# tsquery is not, so a public full-text query was a sequential scan of every chunk (measured
# at ~48,000 chunks: 340 ms a question). This function runs as the schema owner with the
# closed filter written into it: the public role may call it and still reads no closed row.
_OPEN_MATCHES = f"""
DO $do$
BEGIN
    EXECUTE format($f$
        CREATE FUNCTION open_term_matches(q tsquery)
        RETURNS TABLE (chunk_id text, tokens tsvector, n_tokens integer)
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = %I, pg_temp AS $body$
            SELECT c.chunk_id, c.tokens, c.n_tokens FROM chunks c
            WHERE c.tokens @@ q AND c.duplicate_of IS NULL AND NOT c.closed
        $body$$f$, current_schema());
END
$do$;
REVOKE ALL ON FUNCTION open_term_matches(tsquery) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION open_term_matches(tsquery) TO {PUBLIC_ROLE};
"""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


# Append only: a released migration is never edited, a change is a new migration.
MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "tables", _TABLES),
    Migration(2, "roles and row-level security", _ROLES),
    Migration(3, "claim attempts, sketches, term statistics, closed listings", _DERIVED),
    Migration(4, "BM25 document lengths, change sequence, public store facts, audit log",
              _SEARCH),
    Migration(5, "the public role's full-text matches through the GIN index", _OPEN_MATCHES),
)
SCHEMA_VERSION = MIGRATIONS[-1].version


def _dsn_of(conn: psycopg.Connection) -> str:
    info = conn.info
    return safe_dsn(f"postgresql://{info.user}@{info.host}:{info.port}/{info.dbname}")


def _ensure_pgvector(conn: psycopg.Connection) -> None:
    """pgvector >= PGVECTOR_MIN, created if this user may (it exists already otherwise)."""
    row = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'").fetchone()
    if row is None:
        try:
            with conn.transaction():
                conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        except psycopg.errors.InsufficientPrivilege:
            raise PgExtensionMissing(
                f"pgvector er ikke oprettet i {_dsn_of(conn)}, og brugeren må ikke oprette det: "
                "kør CREATE EXTENSION vector som superbruger") from None
        except psycopg.errors.FeatureNotSupported:
            raise PgExtensionMissing(
                f"pgvector (>= {'.'.join(map(str, PGVECTOR_MIN))}) er ikke installeret på "
                f"serveren {_dsn_of(conn)}") from None
        except psycopg.errors.UndefinedFile:
            raise PgExtensionMissing(
                f"pgvector (>= {'.'.join(map(str, PGVECTOR_MIN))}) er ikke installeret på "
                f"serveren {_dsn_of(conn)}") from None
        row = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'").fetchone()
    version = tuple(int(p) for p in row[0].split(".")[:2])
    if version < PGVECTOR_MIN:
        raise PgExtensionMissing(
            f"pgvector {row[0]} i {_dsn_of(conn)} er for gammel: Kommunesøg kræver "
            f">= {'.'.join(map(str, PGVECTOR_MIN))} (ALTER EXTENSION vector UPDATE)")


def current_version(conn: psycopg.Connection) -> int:
    """The highest migration recorded in the database; 0 for an empty database."""
    exists = conn.execute("SELECT to_regclass('schema_version') IS NOT NULL").fetchone()[0]
    if not exists:
        return 0
    return conn.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()[0]


def _refuse_newer(conn: psycopg.Connection, version: int) -> None:
    if version > SCHEMA_VERSION:
        raise PgSchemaTooNew(
            f"Databasen {_dsn_of(conn)} har skemaversion {version}, men denne Kommunesøg kender "
            f"kun op til {SCHEMA_VERSION}: opdatér Kommunesøg")


def migrate(conn: psycopg.Connection) -> list[int]:
    """Apply every migration the database lacks; returns the versions applied (often none).

    Idempotent and safe to call from several workers at once."""
    if conn.autocommit:
        raise ValueError("migrate needs a connection with autocommit off")
    conn.commit()  # start from a clean transaction state
    applied: list[int] = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
        _ensure_pgvector(conn)  # under the lock: CREATE EXTENSION IF NOT EXISTS races
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_version ("
            " version integer PRIMARY KEY, name text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())")
    _refuse_newer(conn, current_version(conn))
    conn.commit()
    for migration in MIGRATIONS:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
            version = current_version(conn)
            _refuse_newer(conn, version)
            if migration.version <= version:
                continue
            conn.execute(migration.sql)
            conn.execute("INSERT INTO schema_version (version, name) VALUES (%s, %s)",
                         (migration.version, migration.name))
            applied.append(migration.version)
    return applied


def check_version(conn: psycopg.Connection) -> int:
    """The schema version, or one line when the database is not (or too new) for this product."""
    version = current_version(conn)
    _refuse_newer(conn, version)
    return version


def ensure_model(conn: psycopg.Connection, model_id: str, dim: int) -> None:
    """Record the store's embedding model on first use, type the vector columns to its
    dimension and build the HNSW indexes; refuse another model afterwards.

    Inner-product operators: every embedder returns L2-normalised rows, so inner product
    equals cosine, as with the file store's FAISS IndexFlatIP."""
    conn.commit()  # a transaction block of its own, not a savepoint in the caller's
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
        rows = dict(conn.execute(
            "SELECT key, value FROM store_settings WHERE key IN ('model_id', 'dim')").fetchall())
        if rows:
            if rows.get("model_id") != model_id or rows.get("dim") != str(dim):
                raise PgModelMismatch(
                    f"Databasen {_dsn_of(conn)} er bygget med modellen {rows.get('model_id')} "
                    f"({rows.get('dim')} dim.), ikke {model_id} ({dim} dim.): brug samme model "
                    "eller en ny database")
            return
        for table in ("chunks", "windows"):
            conn.execute(sql.SQL("ALTER TABLE {} ALTER COLUMN vector TYPE vector({})").format(
                sql.Identifier(table), sql.Literal(int(dim))))
            conn.execute(sql.SQL(
                "CREATE INDEX IF NOT EXISTS {} ON {} USING hnsw (vector vector_ip_ops)").format(
                sql.Identifier(f"{table}_vector"), sql.Identifier(table)))
        conn.execute("INSERT INTO store_settings (key, value) VALUES ('model_id', %s), ('dim', %s)",
                     (model_id, str(dim)))
