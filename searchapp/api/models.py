"""The API's request and response bodies, as pydantic models for the OpenAPI schema.

They mirror the core's frozen dataclasses and their `to_dict` shapes (tests/test_api_models.py
checks that every key of each `to_dict` is a field here, and back), and check only the shape
of a request: values (modes, filters, k, scores) are checked by the core, whose errors the
API returns as they are (`searchapp.api.errors`).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from searchapp.config import SearchMode

MetaValue = str | int | float | bool | list[str]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Filters(_In):
    """What a search may return (`searchapp.SearchFilters`); empty fields do not filter."""

    documents: list[str] | None = Field(
        None, description="document ids (full SHA-256 ids, as `doc_id` in every answer)"
    )
    file_types: list[str] | None = Field(None, description="pdf, txt, md, html, docx")
    pages: str | None = Field(None, description="PDF page range: '3-7', '5', '3-' or '-7'")
    page_min: int | None = None
    page_max: int | None = None
    tags: list[str] | None = Field(None, description="documents carrying at least one of these tags")
    ingested_after: str | int | None = Field(None, description="YYYY-MM-DD, ISO date-time or epoch seconds")
    ingested_before: str | int | None = Field(
        None, description="YYYY-MM-DD (to the end of that day), ISO or epoch"
    )
    text_contains: str | None = Field(None, description="only passages containing this text, ignoring case")

    def to_mapping(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


class _Ranking(_In):
    """How to rank and cut: the keyword arguments `Library.search` and `similar` share."""

    k: int = Field(10, description="how many passages (1-1000); with group, how many documents")
    mode: SearchMode | None = Field(None, description="adaptive (default), hybrid, dense or keyword")
    filters: Filters | None = None
    min_score: float | None = Field(None, description="drop passages whose score (0-1) is lower")
    group: bool = Field(False, description="one group per document, best first")

    def options(self) -> dict[str, Any]:
        return {
            "k": self.k,
            "mode": self.mode,
            "filters": self.filters.to_mapping() if self.filters else None,
            "min_score": self.min_score,
            "group": self.group,
        }


class SearchIn(_Ranking):
    query: str = Field(..., description="what to look for, in natural language")


class SimilarIn(_Ranking):
    passage_id: str = Field(..., description="a hit's chunk_id, or '<8+ characters of the document id>:<n>'")


class CompareIn(_In):
    text_a: str
    text_b: str


class RetagIn(_In):
    tags: list[str] | None = Field(None, description="the document's new tags (replacing the old ones)")
    groups: list[str] | None = Field(
        None, description="restrict the document to these groups ([]: open to the whole collection)"
    )


class TokenIn(_In):
    role: Literal["read", "write", "admin"]
    groups: list[str] = Field(default_factory=list)
    expires: str = Field("90d", description="never, a duration (12h, 90d, 8w) or a date (2027-01-31)")
    name: str = ""


# ---------------------------------------------------------------------------- responses


class HitOut(BaseModel):
    rank: int
    score: float
    chunk_id: str
    text: str
    doc_id: str
    source: str
    file_type: str
    page: int | None
    heading: str
    chunk: int
    metadata: dict[str, MetaValue]
    cosine: float | None
    fused_score: float | None = None
    dense_rank: int | None = None
    keyword_rank: int | None = None
    keyword_score: float | None = None
    link: str = Field("", description="the original (a PDF at its page), behind the same token")


class GroupOut(BaseModel):
    doc_id: str
    source: str
    score: float
    best: HitOut
    others: list[HitOut]


class SearchOut(BaseModel):
    query: str
    mode: str
    k: int
    query_truncated: bool
    weak_match: bool
    dense_weight: float | None
    notices: list[str]
    took_ms: float
    results: list[HitOut]
    groups: list[GroupOut] | None = None


class CompareOut(BaseModel):
    cosine: float = Field(..., description="cosine similarity of the two texts' embeddings, -1 to 1")
    similarity: float = Field(..., description="the same on the 0-1 scale search scores use")


class NeighbourOut(BaseModel):
    chunk: int
    text: str


class PassageOut(BaseModel):
    passage: HitOut
    before: list[NeighbourOut]
    after: list[NeighbourOut]


class DocumentOut(BaseModel):
    doc_id: str
    source: str
    file_type: str
    title: str
    size: int
    chunks: int
    ingested_at: int
    pages: int
    tags: list[str]
    groups: list[str]
    mtime: int
    encoding: str
    state: str
    warnings: list[str]
    external_id: str
    link: str


class DocumentListOut(BaseModel):
    total: int
    offset: int
    documents: list[DocumentOut]


class StatsOut(BaseModel):
    documents: int
    pending: int
    chunks: int
    collection: str
    model: str
    dimension: int
    mode: str
    originals_bytes: int


class HealthOut(BaseModel):
    status: Literal["ok", "unavailable"]
    version: str
    detail: str = ""


class FileOutcomeOut(BaseModel):
    source: str
    status: str
    chunks: int
    doc_id: str
    reason: str | None
    detail: str
    warnings: list[str]
    seconds: float


class ReportOut(BaseModel):
    ingested: int
    unchanged: int
    failed: int
    chunks_written: int
    files: list[FileOutcomeOut]


class JobOut(BaseModel):
    job_id: str
    collection: str
    state: Literal["queued", "running", "done", "failed"]
    created_at: float
    updated_at: float
    started_by: str
    files: list[str]
    files_total: int
    files_done: int
    stage: str
    current: str
    chunks_embedded: int
    chunks_total: int
    report: ReportOut | None
    error: str
    status_url: str = ""


class JobListOut(BaseModel):
    jobs: list[JobOut]


class CallerOut(BaseModel):
    collection: str
    role: str
    via: str
    subject: str
    groups: list[str]


class TokenOut(BaseModel):
    token_id: str
    collection: str
    role: str
    groups: list[str]
    name: str
    created_at: int
    expires_at: int
    revoked_at: int
    state: str


class NewTokenOut(TokenOut):
    token: str = Field(..., description="the token itself: shown this once, never again")


class TokenListOut(BaseModel):
    tokens: list[TokenOut]


class ErrorOut(BaseModel):
    detail: str
    code: str
    errors: list[dict[str, str]] | None = None
