"""The Searcher: load an index once, answer many queries.

Ranking = weighted reciprocal rank fusion of three views of the same canonical chunks:
1. dense, small-to-big: the query against short sentence windows (each with its item
   title); a chunk scores by its best window. Precise for paraphrases of one sentence.
2. dense, whole chunk: the query against header + chunk text. Catches questions whose
   answer is spread over a passage.
3. BM25 with Danish stemming and OCR folding: case numbers, amounts, names.
Filters and access rules are applied before ranking, so ranks are contiguous and a
closed passage can never push a public one out of the top k.
"""

from __future__ import annotations

import os
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from indexer.embed import Embedder, get_embedder
from indexer.lexical import LexicalIndex
from indexer.store import IndexReader
from kommunesoeg.core.errors import InvalidQuery
from kommunesoeg.core.models import Chunk, Decision
from kommunesoeg.core.results import Answer, Filters, Hit, Location, Precedent, TimelineEntry
from retriever.access import check_role, may_see_chunk, may_see_decision
from retriever.audit import AuditLog
from retriever.fusion import weighted_rrf, zscore_fusion
from retriever.intent import is_decision_question
from retriever.privacy import mask_pii

MAX_QUERY_CHARS = 2000
MODES = ("hybrid", "dense", "bm25")
FUSIONS = ("zscore", "rrf")
CANDIDATES = 200  # per retriever; the fused pool is their union
# "Hvad blev besluttet om X?" is answered by the decision text, not by the indstilling that
# proposed it, though both share every topic word: a prior on decision passages, in
# standard deviations of the fused score (z-score fusion only).
DECISION_PRIOR = 0.5

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


@dataclass(frozen=True)
class RankingWeights:
    """Fusion weights per ranking; tuned with `kommunesoeg eval` on the dev questions."""

    windows: float = 1.0
    chunks: float = 0.3
    bm25: float = 0.3


MODE_WEIGHTS = {
    "hybrid": RankingWeights(),
    "dense": RankingWeights(windows=1.0, chunks=0.3, bm25=0.0),
    "bm25": RankingWeights(windows=0.0, chunks=0.0, bm25=1.0),
}


def default_audit_path(index_dir: Path) -> Path:
    """$KOMMUNESOEG_AUDIT_LOG, else audit.jsonl in the index directory (outside any
    generation, so re-indexing never touches it)."""
    return Path(os.environ.get("KOMMUNESOEG_AUDIT_LOG") or index_dir / "audit.jsonl")


def embedder_for(model_id: str) -> Embedder:
    """The embedder an index was built with, from its recorded model id."""
    if model_id.startswith("st:"):
        return get_embedder(model_id[3:])
    return get_embedder(None)


class Searcher:
    """Loaded index + embedder; every public method takes the caller's role."""

    def __init__(
        self,
        index_dir: Path | str,
        *,
        embedder: Embedder | None = None,
        mode: str = "hybrid",
        weights: RankingWeights | None = None,
        audit_log: Path | str | None = None,
        fusion: str = "zscore",
    ) -> None:
        if mode not in MODES:
            raise InvalidQuery(f"mode: ukendt tilstand '{mode}' (tilladt: {', '.join(MODES)})")
        self.index_dir = Path(index_dir)
        self.reader = IndexReader.open(self.index_dir)
        # every index file is checked before the embedder loads: damage is one clear error
        self.lexical = LexicalIndex(self.reader.gen_dir / "bm25", self.index_dir)
        self.lexical.check_ids(self.reader.chunk_vec_ids)
        self.mode = mode
        if fusion not in FUSIONS:
            raise InvalidQuery(f"fusion: ukendt metode '{fusion}' (tilladt: {', '.join(FUSIONS)})")
        self.fusion = fusion
        # internal use is always audited; the public role never is
        self.audit = AuditLog(Path(audit_log) if audit_log else default_audit_path(self.index_dir))
        self.cache: dict = {}  # per-index derived data (term frequencies, vectors) for helpers
        self.weights = weights or MODE_WEIGHTS[mode]
        self.embedder = embedder or embedder_for(self.reader.model_id)
        self.reader.check_model(self.embedder)
        # duplicates grouped under their canonical chunk, canonical first
        self.members: dict[str, list[Chunk]] = defaultdict(list)
        for chunk in self.reader.chunks:
            self.members[chunk.duplicate_of or chunk.chunk_id].append(chunk)
        for group in self.members.values():
            group.sort(key=lambda c: c.duplicate_of is not None)
        self.decisions_by_chunk: dict[str, list[Decision]] = defaultdict(list)
        for decision in self.reader.decisions:
            self.decisions_by_chunk[decision.chunk_id].append(decision)
        self._window_canon = [self.canonical_id(cid) for cid in self.reader.window_chunk_ids]
        self._chunk_canon = [self.canonical_id(cid) for cid in self.reader.chunk_vec_ids]
        self.committees = sorted({c.committee for c in self.reader.chunks if c.committee})
        self.documents = sorted({c.document for c in self.reader.chunks})
        self.sections = sorted({c.section for c in self.reader.chunks})

    # ----------------------------------------------------------------- access helpers
    def canonical_id(self, chunk_id: str) -> str:
        """The id of the copy of this passage that is embedded and indexed."""
        chunk = self.reader.chunk_by_id[chunk_id]
        return chunk.duplicate_of or chunk.chunk_id

    def _holds_decision(self, canonical_id: str) -> bool:
        return any(
            c.section == "beslutning" or c.chunk_id in self.decisions_by_chunk
            for c in self.members[canonical_id]
        )

    def visible_chunk(self, chunk: Chunk, role: str) -> bool:
        return may_see_chunk(chunk, role)

    def present(self, text: str, role: str) -> str:
        return text if role == "internal" else mask_pii(text)

    def visible_decisions(self, role: str) -> list[Decision]:
        check_role(role)
        return [d for d in self.reader.decisions if may_see_decision(d, role)]

    def embed_query(self, text: str) -> np.ndarray:
        return np.asarray(self.embedder.embed_query(text), dtype=np.float32)

    # ----------------------------------------------------------------- validation
    def _clean_query(self, query: str) -> str:
        if not isinstance(query, str):
            raise InvalidQuery("query: skal være tekst")
        query = _CONTROL.sub(" ", query).strip()
        if not query:
            raise InvalidQuery("query: forespørgslen er tom")
        if len(query) > MAX_QUERY_CHARS:
            raise InvalidQuery(
                f"query: forespørgslen er for lang ({len(query)} tegn; højst {MAX_QUERY_CHARS})"
            )
        return query

    def check_filters(self, filters: Filters) -> None:
        checks = (
            ("committee", filters.committees, self.committees),
            ("document", filters.documents, self.documents),
            ("section", filters.sections, self.sections),
        )
        for field, given, known in checks:
            for value in given or []:
                if value not in known:
                    raise InvalidQuery(
                        f"{field}: ukendt værdi '{value}' (kendte: {', '.join(known)})"
                    )
        if filters.date_from and filters.date_to and filters.date_from > filters.date_to:
            raise InvalidQuery("date: fra-datoen ligger efter til-datoen")

    def passes(self, chunk: Chunk, filters: Filters) -> bool:
        if filters.committees and chunk.committee not in filters.committees:
            return False
        if filters.documents and chunk.document not in filters.documents:
            return False
        if filters.sections and chunk.section not in filters.sections:
            return False
        if filters.decisions_only and not (
            chunk.section == "beslutning" or chunk.chunk_id in self.decisions_by_chunk
        ):
            return False
        if filters.date_from or filters.date_to:
            if not chunk.date:
                return False
            if filters.date_from and chunk.date < filters.date_from.isoformat():
                return False
            if filters.date_to and chunk.date > filters.date_to.isoformat():
                return False
        return True

    def _shown_member(self, canonical_id: str, role: str, filters: Filters) -> Chunk | None:
        """The copy of a passage this role may see and the filters accept, if any."""
        for chunk in self.members[canonical_id]:
            if may_see_chunk(chunk, role) and self.passes(chunk, filters):
                return chunk
        return None

    # ----------------------------------------------------------------- ranking
    def _dense_scores(self, query: str, allowed: set[str]) -> dict[str, dict[str, float]]:
        """Cosine similarity per canonical chunk: best window, and the whole chunk."""
        vector = self.embed_query(query).reshape(1, -1)
        result: dict[str, dict[str, float]] = {}
        views = (
            ("windows", self.weights.windows, self.reader.dense, self._window_canon),
            ("chunks", self.weights.chunks, self.reader.chunk_dense, self._chunk_canon),
        )
        for name, weight, index, canon in views:
            if weight <= 0 or not index.ntotal:
                continue
            sims, rows = index.search(vector, min(index.ntotal, CANDIDATES * 4))
            best: dict[str, float] = {}
            for sim, row in zip(sims[0], rows[0]):
                if row < 0:
                    continue
                cid = canon[row]
                if cid in allowed and cid not in best:
                    best[cid] = float(sim)
                    if len(best) >= CANDIDATES:
                        break
            result[name] = best
        return result

    def _lexical_scores(self, query: str, allowed: set[str]) -> dict[str, float]:
        scores = self.lexical.scores(query)
        top = np.argsort(-scores, kind="stable")
        best: dict[str, float] = {}
        for i in top:
            if scores[i] <= 0 or len(best) >= CANDIDATES:
                break
            cid = self.lexical.ids[i]
            if cid in allowed:
                best[cid] = float(scores[i])
        return best

    def rank(
        self, query: str, *, filters: Filters | None = None, role: str = "public"
    ) -> list[tuple[str, float, Chunk]]:
        """All matching passages as (canonical id, fused score, shown copy), best first."""
        check_role(role)
        query = self._clean_query(query)
        filters = filters or Filters()
        self.check_filters(filters)
        shown = {}
        for canonical_id in self.members:
            member = self._shown_member(canonical_id, role, filters)
            if member is not None:
                shown[canonical_id] = member
        allowed = set(shown)
        scores = self._dense_scores(query, allowed) if self.mode != "bm25" else {}
        if self.weights.bm25 > 0:
            scores["bm25"] = self._lexical_scores(query, allowed)
        weights = {"windows": self.weights.windows, "chunks": self.weights.chunks,
                   "bm25": self.weights.bm25}
        fuse = weighted_rrf if self.fusion == "rrf" else zscore_fusion
        active = [name for name in scores if weights[name] > 0]
        if len(active) == 1:  # a single retriever: its own scores, not standardised ones
            fused = dict(scores[active[0]])
        else:
            fused = fuse(scores, weights)
            if is_decision_question(query):
                for cid in fused:
                    if self._holds_decision(cid):
                        fused[cid] += DECISION_PRIOR
        ordered = sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))
        return [(cid, score, shown[cid]) for cid, score in ordered]

    def search(
        self,
        query: str,
        *,
        k: int = 10,
        filters: Filters | None = None,
        role: str = "public",
        user: str | None = None,
    ) -> list[Hit]:
        if not isinstance(k, int) or k < 1 or k > 1000:
            raise InvalidQuery("k: skal være et helt tal mellem 1 og 1000")
        ranked = self.rank(query, filters=filters, role=role)[:k]
        hits = [
            self.hit_for(rank, score, canonical_id, member, role)
            for rank, (canonical_id, score, member) in enumerate(ranked, start=1)
        ]
        self._audit(role, user, "search", query, hits)
        return hits

    def hit_for(
        self, rank: int, score: float, canonical_id: str, member: Chunk, role: str
    ) -> Hit:
        """A ranked result for `member` (one copy of a passage), as `role` may see it."""
        also_in = [
            Location.of(c)
            for c in self.members[canonical_id]
            if c.chunk_id != member.chunk_id and may_see_chunk(c, role)
        ]
        decisions = [
            d
            for c in self.members[canonical_id]
            if may_see_chunk(c, role)
            for d in self.decisions_by_chunk.get(c.chunk_id, [])
            if may_see_decision(d, role)
        ]
        return Hit(
            rank=rank,
            score=round(float(score), 6),
            chunk_id=member.chunk_id,
            text=self.present(member.text, role),
            document=member.document,
            meeting=member.meeting,
            committee=member.committee,
            date=member.date,
            punkt=member.punkt,
            punkt_title=member.punkt_title,
            bilag=member.bilag,
            bilag_title=member.bilag_title,
            page_start=member.page_start,
            page_end=member.page_end,
            section=member.section,
            closed=member.closed,
            ocr=member.ocr,
            case_number=member.case_number,
            also_in=also_in,
            outcome=decisions[0].outcome if decisions else None,
            followups=decisions[0].followups if decisions else [],
        )

    # ----------------------------------------------------------------- other verbs
    def ask(self, question: str, *, k: int = 5, filters: Filters | None = None,
            role: str = "public", user: str | None = None) -> Answer:
        from retriever.answer import answer_question

        answer = answer_question(self, question, k=k, filters=filters, role=role, user=user)
        return answer

    def precedents(self, case_text: str, *, k: int = 10, filters: Filters | None = None,
                   role: str = "public", user: str | None = None) -> list[Precedent]:
        from retriever.precedents import find_precedents

        found = find_precedents(self, case_text, k=k, filters=filters, role=role)
        self._audit(role, user, "precedents", case_text, [p.citation for p in found])
        return found

    def timeline(self, topic: str, *, filters: Filters | None = None,
                 role: str = "public", user: str | None = None) -> list[TimelineEntry]:
        from retriever.timeline import build_timeline

        entries = build_timeline(self, topic, filters=filters, role=role)
        self._audit(role, user, "timeline", topic, [e.citation for e in entries])
        return entries

    def _audit(self, role: str, user: str | None, action: str, query: str,
               hits: list[Hit]) -> None:
        if role == "internal":  # the public role is never logged
            self.audit.record(user=user, action=action, query=query, hits=hits)

    def stats(self, role: str = "public") -> dict:
        check_role(role)
        visible = [c for c in self.reader.chunks if may_see_chunk(c, role)]
        docs = [d for d in self.reader.documents if d.get("status", "ok") == "ok"]
        result = {
            "documents": len(docs),
            "meetings": len({(d.get("meeting"), d.get("date")) for d in docs}),
            "pages": sum(int(d.get("pages") or 0) for d in docs),
            "ocr_pages": sum(int(d.get("ocr_pages") or 0) for d in docs),
            "chunks": len(visible),
            "duplicates": sum(1 for c in visible if c.duplicate_of),
            "model": self.reader.model_id,
            "created": self.reader.manifest.get("created"),
            "index_bytes": sum(
                p.stat().st_size for p in self.reader.gen_dir.rglob("*") if p.is_file()
            ),
        }
        if role == "internal":
            result["closed_chunks"] = sum(1 for c in self.reader.chunks if c.closed)
            result["closed_items"] = len(
                {(c.document, c.punkt, c.bilag) for c in self.reader.chunks if c.closed}
            )
        return result

