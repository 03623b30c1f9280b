"""The response schema: docs/json-schema.md.

The results of the verbs (`Hit`, `Answer`, `Precedent`, `TimelineEntry` and their parts) are
the dataclasses of kommunesoeg/core/results.py themselves, which FastAPI describes and checks
as they are; their values come from the same `to_json()` as `--json` on the command line, so
`/openapi.json` documents exactly what the CLI prints and a new result field needs no second
edit here. What only the API has (documents, stats, health, errors, request bodies) is modelled
below.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from kommunesoeg.core.results import Answer, Hit, Precedent, TimelineEntry

__all__ = [
    "Answer",
    "AskRequest",
    "Document",
    "Error",
    "ErrorBody",
    "Health",
    "Hit",
    "Precedent",
    "PrecedentsRequest",
    "Stats",
    "TimelineEntry",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Document(_Strict):
    """One indexed file (`GET /documents`); `error` only for internal users."""

    file: str
    meeting: str | None
    committee: str | None
    date: str | None
    pages: int
    ocr_pages: int
    sha256: str | None = None
    error: str | None = None


class Stats(BaseModel):
    """`kommunesoeg stats --json`: the keys the role may see (no closed counts for public)."""

    model_config = ConfigDict(extra="allow")
    documents: int
    pages: int
    ocr_pages: int
    chunks: int
    duplicates: int
    model: str
    faiss: str
    index_bytes: int
    total_bytes: int
    generation: str
    created: str | None
    closed_chunks: int | None = None
    failed_documents: list[dict[str, Any]] | None = None


class Health(_Strict):
    status: str
    generation: str | None = None


class ErrorBody(_Strict):
    field: str | None = Field(description="the parameter or field at fault, or null")
    message: str


class Error(_Strict):
    error: ErrorBody


# ------------------------------------------------------------------------ request bodies
class _Filters(_Strict):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    date_from: str | None = Field(None, alias="from", description="ÅÅÅÅ-MM-DD")
    date_to: str | None = Field(None, alias="to", description="ÅÅÅÅ-MM-DD")
    committee: list[str] = Field(default_factory=list)
    document: list[str] = Field(default_factory=list)
    section: list[str] = Field(default_factory=list)
    decisions_only: bool = False


class AskRequest(_Filters):
    question: str = Field(max_length=100_000)
    k: int = Field(5, ge=1, le=50)
    mode: str | None = Field(None, description="extractive (standard) eller generative")


class PrecedentsRequest(_Filters):
    text: str = Field(max_length=2_000_000, description="sagsteksten")
    k: int = Field(10, ge=1, le=100)
