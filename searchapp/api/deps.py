"""What every route shares: the context, the caller (by role) and links to originals."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPBearer
from starlette.concurrency import run_in_threadpool

from searchapp.api.callers import Caller
from searchapp.api.context import ApiContext
from searchapp.api.models import ErrorOut

# Declares the scheme in the OpenAPI schema; the header itself is read by `ApiContext`,
# so a missing or malformed one gets the same messages on every door.
bearer_scheme = HTTPBearer(auto_error=False, description="an API token (sapi_...) or an OIDC access/ID token")

ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorOut, "description": text}
    for status, text in (
        (400, "the core refused a value (mode, filter, k, query)"),
        (401, "no bearer token, or one that is unknown, expired or revoked"),
        (403, "the caller's role does not allow this, or a signed-in user has no team"),
        (413, "the request body is over this server's limit (1 MB; uploads: SEARCHAPP_API_MAX_UPLOAD_MB)"),
        (422, "the request does not match the schema"),
        (429, "over the caller's rate limit (see Retry-After)"),
        (503, "the store or the model cannot be used right now"),
    )
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {
        "model": ErrorOut,
        "description": "not in the caller's collection (another team's ids are never found)",
    }
}


# The dependencies are async so that FastAPI runs them on the event loop: each sync one
# would cost a hop to the thread pool, and on a busy machine a hop costs milliseconds.
async def context(request: Request) -> ApiContext:
    ctx: ApiContext = request.app.state.ctx
    return ctx


Ctx = Annotated[ApiContext, Depends(context)]


async def _caller(request: Request, ctx: Ctx, _: Annotated[Any, Depends(bearer_scheme)]) -> Caller:
    header = request.headers.get("authorization")
    caller = ctx.authenticate_cached(header)
    if caller is None:  # reading the token table or checking a JWT: in a thread
        caller = await run_in_threadpool(ctx.authenticate, header)
    return caller


async def reader(caller: Annotated[Caller, Depends(_caller)]) -> Caller:
    return caller


async def writer(caller: Annotated[Caller, Depends(_caller)]) -> Caller:
    ApiContext.require(caller, "write")
    return caller


async def admin(caller: Annotated[Caller, Depends(_caller)]) -> Caller:
    ApiContext.require(caller, "admin")
    return caller


Reader = Annotated[Caller, Depends(reader)]
Writer = Annotated[Caller, Depends(writer)]
Admin = Annotated[Caller, Depends(admin)]


def api_base(request: Request, ctx: ApiContext) -> str:
    """The API's own address, as clients reach it (``…/api``)."""
    if ctx.config.public_url:
        return f"{ctx.config.public_url}/api"
    # Under a mount, Starlette keeps the full path and names the mount's prefix in root_path.
    return f"{request.url.scheme}://{request.url.netloc}{request.scope.get('root_path', '')}".rstrip("/")


def original_link(base: str, doc_id: str, page: int | None = None) -> str:
    """Where a document's original is downloaded (PDFs at a page), with the same bearer token."""
    link = f"{base}/v1/documents/{doc_id}/original"
    return f"{link}#page={page}" if page else link


def with_links(data: dict[str, Any], base: str) -> dict[str, Any]:
    """A search response's dict with each hit's `link`."""

    def linked(hit: dict[str, Any]) -> dict[str, Any]:
        page = hit.get("page") if hit.get("file_type") == "pdf" else None
        return {**hit, "link": original_link(base, str(hit.get("doc_id", "")), page)}

    data["results"] = [linked(h) for h in data.get("results", [])]
    for group in data.get("groups") or []:
        group["best"] = linked(group["best"])
        group["others"] = [linked(h) for h in group["others"]]
    return data
