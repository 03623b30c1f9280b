"""The response schema as Pydantic models: docs/json-schema.md, field by field.

The values are produced by the dataclasses' own `to_json()` (kommunesoeg/core/results.py),
the same serialisation as `--json` on the command line; these models only describe and
check them, so `/openapi.json` documents exactly what the CLI prints.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Location(_Strict):
    document: str
    meeting: str
    committee: str
    date: str | None
    punkt: int | None
    punkt_title: str | None
    bilag: int | None
    bilag_title: str | None
    page_start: int
    page_end: int
    closed: bool


class Hit(_Strict):
    rank: int
    score: float
    chunk_id: str
    text: str
    document: str
    meeting: str
    committee: str
    date: str | None
    punkt: int | None
    punkt_title: str | None
    bilag: int | None
    bilag_title: str | None
    page_start: int
    page_end: int
    section: str
    closed: bool
    ocr: bool
    case_number: str | None
    also_in: list[Location]
    outcome: str | None
    followups: list[str]


class AnswerSentence(_Strict):
    text: str
    citations: list[int]


class DecisionTreatment(_Strict):
    meeting: str
    committee: str
    date: str | None
    punkt: int
    punkt_title: str
    outcome: str
    text: str
    followups: list[str]
    citation: int


class DecisionCard(_Strict):
    latest: DecisionTreatment
    earlier: list[DecisionTreatment]


class ClosedListing(_Strict):
    document: str
    meeting: str
    date: str | None
    punkt: int
    title: str
    page: int


class Answer(_Strict):
    question: str
    answer: str
    sentences: list[AnswerSentence]
    citations: list[Hit]
    insufficient_evidence: bool
    mode: str
    decision: DecisionCard | None
    closed_item: ClosedListing | None


class Precedent(_Strict):
    rank: int
    score: float
    document: str
    meeting: str
    committee: str
    date: str | None
    punkt: int
    punkt_title: str
    outcome: str
    decision_text: str
    followups: list[str]
    citation: Hit


class TimelineEntry(_Strict):
    date: str | None
    meeting: str
    committee: str
    punkt: int
    punkt_title: str
    outcome: str
    decision_text: str
    followups: list[str]
    citation: Hit


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
