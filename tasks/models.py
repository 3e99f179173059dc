"""Pydantic records: one model per entity, one table per model.

Each model's ``TABLE`` is the analyst-facing table name (a contract: keep them) and ``KEY`` the
columns that identify a row. Storage writes and dedupes by ``KEY``, so a rerun of the same work
replaces rows instead of adding duplicates.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime
from typing import ClassVar, Literal

from pydantic import BaseModel, Field


def utcnow() -> datetime:
    return datetime.now(UTC)


def stable_id(*parts: object) -> str:
    """A short deterministic id for a tuple of inputs."""
    h = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()
    return h[:16]


class Record(BaseModel):
    TABLE: ClassVar[str]
    KEY: ClassVar[tuple[str, ...]]
    TIME: ClassVar[str]
    """The timestamp column: when two rows share a KEY, the latest wins."""


class Run(Record):
    TABLE: ClassVar[str] = "runs"
    KEY: ClassVar[tuple[str, ...]] = ("run_id",)
    TIME: ClassVar[str] = "started_at"

    run_id: str
    flow: str
    source: str
    since: date | None = None
    until: date | None = None
    lake: str
    status: Literal["running", "completed", "failed"] = "running"
    started_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None
    listed: int = 0
    matched: int = 0
    rating_pass: int = 0
    documents_fetched: int = 0
    keyword_pass: int = 0
    rejected: int = 0
    quarantined: int = 0
    stage_seconds: dict[str, float] = Field(default_factory=dict)
    """Wall time per stage (listing, reviews, documents, validation, publish)."""
    prefect_flow_run_id: str | None = None


class Paper(Record):
    TABLE: ClassVar[str] = "papers"
    KEY: ClassVar[tuple[str, ...]] = ("paper_id",)
    TIME: ClassVar[str] = "ingested_at"

    paper_id: str
    """``arxiv:<id without version>``, ``openreview:<forum>`` or ``local:<sha256 prefix>``."""
    source: Literal["arxiv", "openreview", "local", "snapshot"]
    title: str
    authors: list[str] = Field(default_factory=list)
    abstract: str = ""
    arxiv_id: str | None = None
    arxiv_version: str | None = None
    categories: list[str] = Field(default_factory=list)
    primary_category: str | None = None
    published: datetime | None = None
    updated: datetime | None = None
    pdf_url: str | None = None
    source_url: str | None = None
    local_path: str | None = None
    openreview_id: str | None = None
    venue: str | None = None
    decision: str | None = None
    license: str = "unknown"
    license_source: str = "unknown"
    match_method: Literal["arxiv_id", "title_authors", "title_only", "none", "not_applicable"] = "none"
    match_score: float | None = None
    run_id: str = ""
    ingested_at: datetime = Field(default_factory=utcnow)


class Submission(BaseModel):
    """An OpenReview submission with its reviews, before it is joined to an arXiv paper."""

    forum_id: str
    venue: str
    api_version: int
    title: str
    authors: list[str] = Field(default_factory=list)
    arxiv_id: str | None = None
    pdf_url: str | None = None
    license: str | None = None
    decision: str | None = None
    reviews: list[Review] = Field(default_factory=list)


class Review(Record):
    TABLE: ClassVar[str] = "reviews"
    KEY: ClassVar[tuple[str, ...]] = ("review_id",)
    TIME: ClassVar[str] = "ingested_at"

    review_id: str
    forum_id: str
    paper_id: str | None = None
    venue: str
    rating_field: str | None = None
    rating_raw: str | None = None
    rating: float | None = None
    confidence_raw: str | None = None
    confidence: float | None = None
    run_id: str = ""
    ingested_at: datetime = Field(default_factory=utcnow)


class PaperFilter(Record):
    TABLE: ClassVar[str] = "paper_filters"
    KEY: ClassVar[tuple[str, ...]] = ("paper_id",)
    TIME: ClassVar[str] = "decided_at"

    paper_id: str
    run_id: str = ""
    venue: str | None = None
    rating_rule: Literal["pass", "fail", "skipped"]
    ratings: list[float] = Field(default_factory=list)
    rating_mean: float | None = None
    rating_threshold: float | None = None
    keyword_rule: Literal["pass", "fail", "not_evaluated"] = "not_evaluated"
    keyword_hits: dict[str, int] = Field(default_factory=dict)
    keyword_total: int = 0
    keyword_threshold: int = 5
    keyword_text_source: Literal["latex", "pdf", "none"] = "none"
    passed: bool = False
    reason: str | None = None
    decided_at: datetime = Field(default_factory=utcnow)


class Document(Record):
    TABLE: ClassVar[str] = "documents"
    KEY: ClassVar[tuple[str, ...]] = ("paper_id", "kind")
    TIME: ClassVar[str] = "fetched_at"

    paper_id: str
    kind: Literal["pdf", "latex"]
    source_url: str | None = None
    uri: str | None = None
    """Lake URI of the raw bytes, content-addressed by sha256."""
    text_uri: str | None = None
    sha256: str | None = None
    bytes: int = 0
    pages: int | None = None
    chars: int = 0
    parse_status: Literal["ok", "rejected"]
    reason: str | None = None
    detail: str | None = None
    run_id: str = ""
    fetched_at: datetime = Field(default_factory=utcnow)


class Reject(Record):
    TABLE: ClassVar[str] = "rejects"
    KEY: ClassVar[tuple[str, ...]] = ("stage", "entity_id", "reason")
    TIME: ClassVar[str] = "at"

    run_id: str
    stage: str
    entity_id: str
    source_path: str | None = None
    reason: str
    """snake_case, countable."""
    detail: str | None = None
    at: datetime = Field(default_factory=utcnow)


class Quarantine(Record):
    TABLE: ClassVar[str] = "quarantine"
    KEY: ClassVar[tuple[str, ...]] = ("stage", "entity_id", "expectation")
    TIME: ClassVar[str] = "at"

    run_id: str
    stage: str
    entity_id: str
    expectation: str
    column: str | None = None
    row_json: str
    at: datetime = Field(default_factory=utcnow)


class Validation(Record):
    TABLE: ClassVar[str] = "validations"
    KEY: ClassVar[tuple[str, ...]] = ("run_id", "stage", "expectation", "column")
    TIME: ClassVar[str] = "validated_at"

    run_id: str
    stage: str
    suite: str
    expectation: str
    column: str = ""
    success: bool
    element_count: int
    unexpected_count: int
    validated_at: datetime = Field(default_factory=utcnow)


ALL_RECORDS: tuple[type[Record], ...] = (
    Run, Paper, Review, PaperFilter, Document, Reject, Quarantine, Validation,
)

Submission.model_rebuild()
