"""Search, more like this, compare, and one passage with its neighbours."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from searchapp.api.deps import ERRORS, NOT_FOUND, Ctx, Reader, api_base, original_link, with_links
from searchapp.api.models import CompareIn, CompareOut, PassageOut, SearchBody, SearchOut, SimilarBody
from searchapp.api.searching import HTTP_LISTING, search_request, told_if_empty
from searchapp.errors import QueryError
from searchapp.retrieval.scoring import dense_score

router = APIRouter(tags=["search"])


@router.post("/search", response_model=SearchOut, responses={**ERRORS, **NOT_FOUND})
def search(body: SearchBody, request: Request, caller: Reader, ctx: Ctx) -> dict[str, Any]:
    """Ranked passages (or documents, with `group`) for one search request.

    The body is the core's `SearchRequest` as JSON: a `query` with the query syntax
    (`"exact phrase"`, `-word`, `type:`, `tag:`, `doc:`, `page:`, `after:`, `before:`) or
    `like` a passage id, with `k`, `filters`, `mode`, `min_score`, `group` and `syntax`.
    Filters typed in the query add to `filters`. `weak_match` says that even the best hit
    matches poorly; `dense_weight` is the share the adaptive ranking gave meaning over
    keywords. Each hit's `link` downloads its original. A `doc:` name, a document in
    `filters.documents` or `filters.exclude_documents` (named as with `doc:`) or a `like`
    id that names no document the caller may see answers 404. On a library with no
    documents the caller may see, `library_empty` is true and a notice says how to add some.
    """
    reader = ctx.library_for(caller)
    response = reader.find(search_request(reader, body, listing=HTTP_LISTING))
    return with_links(told_if_empty(response).to_dict(), api_base(request, ctx))


@router.post("/similar", response_model=SearchOut, responses={**ERRORS, **NOT_FOUND})
def similar(body: SimilarBody, request: Request, caller: Reader, ctx: Ctx) -> dict[str, Any]:
    """Passages like a stored one ("more like this"), the passage itself left out.

    The body is a search request (see `/search`) naming the passage as `passage_id`; a
    `query` may add filters, phrases and exclusions with the query syntax.
    """
    if not isinstance(body, Mapping):
        raise QueryError(f"the body must be a JSON object; got {type(body).__name__}")
    if "like" in body:
        raise QueryError("name the passage as 'passage_id' here ('like' is the search endpoint's key)")
    passage = body.get("passage_id")
    if not isinstance(passage, str) or not passage.strip():
        raise QueryError(f"'passage_id' must be a passage id, as a hit's chunk_id; got {passage!r}")
    fields = {key: value for key, value in body.items() if key != "passage_id"}
    fields["like"] = passage
    reader = ctx.library_for(caller)
    response = reader.find(search_request(reader, fields, listing=HTTP_LISTING))
    return with_links(told_if_empty(response).to_dict(), api_base(request, ctx))


@router.post("/compare", response_model=CompareOut, responses=ERRORS)
def compare(body: CompareIn, caller: Reader, ctx: Ctx) -> dict[str, float]:
    """How close two texts are in meaning: the cosine of their embeddings, and on 0-1."""
    cosine = ctx.library_for(caller).compare(body.text_a, body.text_b)
    return {"cosine": round(cosine, 6), "similarity": round(dense_score(cosine), 6)}


@router.get("/passages/{passage_id}", response_model=PassageOut, responses={**ERRORS, **NOT_FOUND})
def passage(
    passage_id: str,
    request: Request,
    caller: Reader,
    ctx: Ctx,
    before: Annotated[int, Query(ge=0, le=20)] = 1,
    after: Annotated[int, Query(ge=0, le=20)] = 1,
) -> dict[str, Any]:
    """One stored passage (by its `chunk_id`) with the passages before and after it.

    A passage fetched by id was not ranked: it has no `rank` or `score` (a search gives those).
    """
    found, around = ctx.passage(caller, passage_id, before=before, after=after)
    data = found.to_dict()
    page = found.page if found.file_type == "pdf" else None
    data["link"] = original_link(api_base(request, ctx), found.doc_id, page)
    return {
        "passage": data,
        "before": [{"chunk": i, "text": t} for i, t in around if i < found.chunk_index],
        "after": [{"chunk": i, "text": t} for i, t in around if i > found.chunk_index],
    }
