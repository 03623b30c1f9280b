"""What an index holds, as one role may know it (`kommunesoeg stats`, the app's Dokumenter
page). The public role gets no number that involves closed (Lukket) material: chunk and
duplicate counts cover the chunks it may see, and the closed counts are left out."""

from __future__ import annotations

from typing import Any

from retriever.access import may_count_closed, may_see_chunk
from retriever.view import IndexView


def index_stats(view: IndexView, role: str) -> dict[str, Any]:
    """Counts and facts of the loaded generation for `role` (checked by the caller)."""
    store = view.store
    docs = [d for d in store.documents if d.status == "ok"]
    visible = [c for c in store.chunk_facts() if may_see_chunk(c, role)]
    result: dict[str, Any] = {
        "documents": len(docs),
        "meetings": len({(d.meeting, d.date) for d in docs}),
        "pages": sum(d.pages for d in docs),
        "ocr_pages": sum(d.ocr_pages for d in docs),
        "chunks": len(visible),
        "duplicates": sum(1 for c in visible if c.duplicate_of),
        "model": store.model_id,
        "faiss": store.vector_index_kind,
        "created": store.created,
        "generation": store.generation_name,
        "index_bytes": store.size_bytes,
        "total_bytes": store.total_bytes,
    }
    if may_count_closed(role):
        closed = [c for c in store.chunk_facts() if c.closed]
        result["closed_chunks"] = len(closed)
        result["closed_items"] = len({(c.document, c.punkt, c.bilag) for c in closed})
        result["failed_documents"] = [
            {"file": d.file, "error": d.error}
            for d in store.documents if d.status != "ok"
        ]
    return result
