"""The API's request and response bodies, as pydantic models for the OpenAPI schema.

The responses mirror the core's frozen dataclasses and their `to_dict` shapes
(tests/test_api_units.py checks that every key of each `to_dict` is a field here, and
back). A search request is the core's `SearchRequest` as JSON: its schema is the core's
(`searchapp.request_schema`) and the core alone validates it (`SearchRequest.from_mapping`);
the other request bodies check only their shape, and the core their values. The core's
errors come back as they are (`searchapp.api.errors`).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Body
from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from searchapp.api.searching import LIBRARY_EMPTY_HELP
from searchapp.request_schema import request_schema

MetaValue = str | int | float | bool | list[str]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


def similar_schema() -> dict[str, Any]:
    """The body of ``/similar``: a search request (`request_schema`) whose passage is
    `passage_id` (the core's `like`, required) rather than words."""
    schema = request_schema()
    properties = dict(schema["properties"])
    like = properties.pop("like")
    return {
        **schema,
        "title": "SimilarRequest",
        "description": "Passages like a stored one, with the options of a search.",
        "properties": {"passage_id": {**like, "description": PASSAGE_ID}, **properties},
        "required": ["passage_id"],
    }


PASSAGE_ID = "a hit's chunk_id, or '<8+ characters of the document id>:<n>'"
# A search request as JSON. The schema only describes it: `SearchRequest.from_mapping`
# validates the body as received (typed Any, FastAPI checks nothing first), so a value
# the core refuses comes back 400 with the core's own message.
SearchBody = Annotated[Any, Body(), WithJsonSchema(request_schema())]
SimilarBody = Annotated[Any, Body(), WithJsonSchema(similar_schema())]


class CompareIn(_In):
    text_a: str
    text_b: str


class FeedbackIn(_In):
    query: str = Field(..., description="the query as it was searched")
    verdict: Literal["good", "bad", "none"] = Field(
        ..., description="good: this passage answers the query; bad: it does not; none: no shown passage does"
    )
    passage_id: str | None = Field(None, description=f"the passage judged (good, bad): {PASSAGE_ID}")
    rank: int = Field(0, ge=0, le=1000, description="where the passage was shown (1 = first); 0: unknown")
    shown: list[str] = Field(
        default_factory=list, max_length=1000, description="for none: the passages shown, best first"
    )
    mode: str = Field("", max_length=40, description="the mode that ranked the results")


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
    library_empty: bool = Field(False, description=LIBRARY_EMPTY_HELP)


class CompareOut(BaseModel):
    cosine: float = Field(..., description="cosine similarity of the two texts' embeddings, -1 to 1")
    similarity: float = Field(..., description="the same on the 0-1 scale search scores use")


class NeighbourOut(BaseModel):
    chunk: int
    text: str


class FeedbackOut(BaseModel):
    feedback_id: str
    query: str
    verdict: str
    mode: str
    chunk_id: str
    passage: str
    doc_id: str
    source: str
    rank: int
    shown: list[str]
    user: str
    at: float


class StoredPassageOut(BaseModel):
    """A stored passage fetched by its id. It was not ranked by any search, so it has no
    rank, score or similarity (a search's `HitOut` has them)."""

    chunk_id: str
    text: str
    doc_id: str
    source: str
    file_type: str
    page: int | None
    heading: str
    chunk: int
    metadata: dict[str, MetaValue]
    link: str = Field("", description="the original (a PDF at its page), behind the same token")


class PassageOut(BaseModel):
    passage: StoredPassageOut
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


class DeletedOut(DocumentOut):
    returns: str = Field(
        "",
        description="Empty, or why the delete will not last: a synced source's file still holds "
        "the document, so the next sync brings it back (without groups or tags set by hand), "
        "and how to exclude it.",
    )


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


class SyncStatusOut(BaseModel):
    source: str
    finished_at: float
    took_s: float
    outcome: str
    message: str
    files: int
    documents: int
    counts: dict[str, int]
    errors: list[list[str]]
    client: str


class SourceOut(BaseModel):
    name: str
    kind: Literal["directory", "s3"]
    location: str = Field(
        description="The folder or s3:// prefix; empty for a caller who does not see everything."
    )
    include: list[str]
    exclude: list[str]
    tags: list[str]
    groups: list[str]
    watch: bool
    poll_s: float
    max_delete_share: float
    endpoint_url: str
    status: SyncStatusOut


class SourceListOut(BaseModel):
    sources: list[SourceOut]


class SyncActionOut(BaseModel):
    kind: Literal["ingest", "move", "delete", "retag"]
    doc_id: str
    name: str
    old_name: str
    path: str
    mtime: int
    replaces: str
    retype: bool
    tags: list[str] = Field(description="retag: the tags the document gets (it keeps its own)")
    groups: list[str] | None = Field(
        description="retag: the groups the document is restricted to ([]: none; null: unchanged)"
    )


class ProblemOut(BaseModel):
    path: str
    detail: str


class SyncReportOut(BaseModel):
    source: str
    outcome: Literal["ok", "blocked", "busy", "failed", "dry-run"]
    message: str
    counts: dict[str, int]
    took_s: float
    actions: list[SyncActionOut]
    held: list[SyncActionOut] = Field(
        description="deletions the mass-delete guard held back (outcome 'blocked'; the actions "
        "were still made): confirm with allow_mass_delete"
    )
    deferred: list[str]
    problems: list[ProblemOut]
    skipped: list[str] = Field(
        description="files the source does not take: a type searchapp does not read, an exclude "
        "pattern, an Office owner file (hidden files are not listed)"
    )
    failures: list[ProblemOut]
