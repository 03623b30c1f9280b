"""The Searcher: load an index once, answer many queries - the one entry point of the retriever.

A thin facade over parts with one job each:
- `storage.FileStore`: the files of the current generation, or `pg_store.PgStore`: a
  snapshot of a PostgreSQL database (what the retriever needs from an index,
  `storage.RetrievalStore`);
- `view.IndexView`: everything derived from it once at load (duplicate groups, decisions,
  window rows, term statistics);
- `ranker.Ranker`: fusion of dense windows, dense chunks and BM25 (see ranker.py);
- the verbs: `hits.top_hits` (search), `answer`, `precedents`, `timeline`, `stats`;
- `access`: who may see what.
The facade validates every input, embeds the query ONCE per call and hands the vector to
the verb, and writes the audit log for every verb in one place (`_audit`).
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from indexer.embed import Embedder, get_embedder
from indexer.pg.connect import is_dsn
from indexer.store import DocumentRecord, IndexReader
from kommunesoeg.core.config import FUSIONS, MODES, FusionWeights, RetrievalConfig
from kommunesoeg.core.errors import InvalidQuery
from kommunesoeg.core.models import Chunk, Decision
from kommunesoeg.core.results import Answer, Filters, Hit, Precedent, TimelineEntry
from retriever import access
from retriever.answer import answer_mode, answer_question
from retriever.audit import AuditLog, PgAuditLog
from retriever.casetext import prepare_case_text
from retriever.hits import top_hits
from retriever.precedents import find_precedents, precedent_query
from retriever.ranker import Ranker
from retriever.stats import index_stats
from retriever.storage import FileStore, RetrievalStore
from retriever.timeline import build_timeline
from retriever.validation import check_filters, check_k, clean_query
from retriever.view import IndexView


def default_audit_log(index: Path | str) -> AuditLog | PgAuditLog:
    """Where internal use is logged: the file $KOMMUNESOEG_AUDIT_LOG if set, else next to the
    index - audit.jsonl in the index directory (outside any generation, so re-indexing never
    touches it), or the database's audit_log table."""
    if os.environ.get("KOMMUNESOEG_AUDIT_LOG"):
        return AuditLog(Path(os.environ["KOMMUNESOEG_AUDIT_LOG"]))
    if is_dsn(str(index)):
        return PgAuditLog(str(index))
    return AuditLog(Path(index) / "audit.jsonl")


def open_store(index: Path | str) -> RetrievalStore:
    """The store `index` names: a PostgreSQL DSN (postgresql://...) or an index directory."""
    if is_dsn(str(index)):
        from retriever.pg_store import PgStore

        return PgStore(str(index))
    return FileStore(Path(index))


def embedder_for(model_id: str) -> Embedder:
    """The embedder an index was built with, from its recorded model id."""
    if model_id.startswith("st:"):
        return get_embedder(model_id[3:])
    return get_embedder(None)


class Searcher:
    """Loaded index + embedder; every public method takes the caller's role.

    `mode` ("hybrid", "dense", "bm25"), `weights` and `fusion` override the ranking part of
    `config` (the defaults of `RetrievalConfig`, or a TOML file through `load_config`)."""

    def __init__(
        self,
        index_dir: Path | str,
        *,
        embedder: Embedder | None = None,
        mode: str = "hybrid",
        weights: FusionWeights | None = None,
        audit_log: Path | str | None = None,
        fusion: str | None = None,
        config: RetrievalConfig | None = None,
    ) -> None:
        if mode not in MODES:
            raise InvalidQuery(f"mode: ukendt tilstand '{mode}' (tilladt: {', '.join(MODES)})")
        config = config or RetrievalConfig()
        if fusion is not None:
            if fusion not in FUSIONS:
                raise InvalidQuery(
                    f"fusion: ukendt metode '{fusion}' (tilladt: {', '.join(FUSIONS)})"
                )
            config = replace(config, search=replace(config.search, fusion=fusion))
        self.config = config
        self.mode = mode
        # a directory, or a PostgreSQL DSN (kept as text: a Path would fold its '//')
        self.index_dir = index_dir if is_dsn(str(index_dir)) else Path(index_dir)
        # every index file is checked before the embedder loads: damage is one clear error
        self.store = open_store(self.index_dir)
        # internal use is always audited; the public role never is
        self.audit = AuditLog(Path(audit_log)) if audit_log else default_audit_log(self.index_dir)
        self.embedder = embedder or embedder_for(self.store.model_id)
        self.store.check_model(self.embedder)
        self.view = IndexView.load(self.store, self.embedder)
        self.ranker = Ranker(self.view, config.search, weights or config.search.weights_for(mode))

    # ----------------------------------------------------------------- what the index holds
    @property
    def reader(self) -> IndexReader:
        """The loaded generation's files (indexer.store.IndexReader), for tools and tests
        that inspect an index; the app and the verbs use the view and the methods below."""
        return self.store.reader

    @property
    def generation(self) -> str:
        """Identifies the loaded generation (a cache key: a new one means new results)."""
        return self.store.generation

    @property
    def committees(self) -> tuple[str, ...]:
        return self.view.committees

    @property
    def documents(self) -> tuple[str, ...]:
        return self.view.documents

    @property
    def sections(self) -> tuple[str, ...]:
        return self.view.sections

    def document_rows(self) -> list[DocumentRecord]:
        """One row per indexed file (file, sha256, status, pages, meeting, date, ...)."""
        return list(self.store.documents)

    def visible_chunks(self, role: str, document: str | None = None) -> list[Chunk]:
        """The chunks `role` may see, of one document or of all (all: the whole archive's
        text, read from the index now - for a tool, never per request)."""
        access.check_role(role)
        return self.view.visible_chunks(role, document)

    def visible_decisions(self, role: str) -> list[Decision]:
        access.check_role(role)
        return self.view.visible_decisions(role)

    def date_span(self, role: str) -> tuple[str, str] | None:
        """(first, last) ISO date of what `role` may see (the app's date filter), without
        reading any chunk text."""
        return self.view.date_span(role)

    def closed_pages(self, document: str) -> set[int]:
        """Pages of `document` holding closed text (never shown to the public)."""
        return self.view.closed_pages(document)

    def closed_pages_by_document(self) -> dict[str, set[int]]:
        return access.closed_pages_by_document(self.store.chunk_facts())

    def embed_query(self, text: str) -> np.ndarray:
        return np.asarray(self.embedder.embed_query(text), dtype=np.float32)

    # ----------------------------------------------------------------- verbs
    def search(self, query: str, *, k: int = 10, filters: Filters | None = None,
               role: str = "public", user: str | None = None) -> list[Hit]:
        check_k(k, 1000)
        query, filters = self._checked(query, filters, role)
        vector = self.embed_query(query) if self.ranker.needs_vector else None
        hits = top_hits(self.view, self.ranker, query, vector, k=k, filters=filters, role=role)
        self._audit(role, user, "search", query, hits)
        return hits

    def ask(self, question: str, *, k: int = 5, filters: Filters | None = None,
            role: str = "public", user: str | None = None, mode: str | None = None) -> Answer:
        """An extractive (or generative, see `answer_mode`) answer with [n] citations."""
        mode = answer_mode(mode)
        check_k(max(k, self.config.answer.pool), 1000)
        query, filters = self._checked(question, filters, role)
        vector = self.embed_query(query)
        answer = answer_question(self.view, self.ranker, self.config.answer, question, query,
                                 vector, k=k, filters=filters, role=role, mode=mode)
        self._audit(role, user, "ask", question, answer.citations)
        return answer

    def precedents(self, case_text: str, *, k: int = 10, filters: Filters | None = None,
                   role: str = "public", user: str | None = None) -> list[Precedent]:
        """Earlier agenda items like the case; the text goes through `prepare_case_text`
        (the same preparation for the CLI, the app and library callers)."""
        case_text = prepare_case_text(case_text)
        check_k(k, 100)
        query = precedent_query(self.view, case_text, self.config.search.max_query_chars)
        query, filters = self._checked(query, filters, role)
        vector = self.embed_query(query) if self.ranker.needs_vector else None
        found = find_precedents(
            self.view, self.ranker, self.embedder, self.config.precedents,
            self.config.search.rrf_k, case_text, query, vector, k=k, filters=filters, role=role,
        )
        self._audit(role, user, "precedents", case_text, [p.citation for p in found])
        return found

    def timeline(self, topic: str, *, filters: Filters | None = None,
                 role: str = "public", user: str | None = None) -> list[TimelineEntry]:
        filters = filters or Filters()
        check_filters(filters, self.view)
        # Section filters do not apply to decisions; date/committee/document filters do.
        decision_filters = Filters(filters.date_from, filters.date_to, filters.committees,
                                   filters.documents)
        query, decision_filters = self._checked(topic, decision_filters, role)
        vector = self.embed_query(query)
        entries = build_timeline(self.view, self.ranker, self.config.timeline, topic, query,
                                 vector, filters=decision_filters, role=role)
        self._audit(role, user, "timeline", topic, [e.citation for e in entries])
        return entries

    def stats(self, role: str = "public") -> dict[str, Any]:
        access.check_role(role)
        return index_stats(self.view, role)

    # ----------------------------------------------------------------- shared steps
    def _checked(self, query: str, filters: Filters | None, role: str) -> tuple[str, Filters]:
        """Role, query text and filters, checked in that order; the cleaned query."""
        access.check_role(role)
        query = clean_query(query, self.config.search.max_query_chars)
        filters = filters or Filters()
        check_filters(filters, self.view)
        return query, filters

    def _audit(self, role: str, user: str | None, action: str, query: str,
               hits: list[Hit]) -> None:
        """The one place every verb is audited: internal use always, the public never."""
        if access.is_audited(role):
            self.audit.record(user=user, action=action, query=query, hits=hits)
