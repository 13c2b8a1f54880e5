"""The service itself: health, stats, who am I, upload jobs, and the collection's API tokens."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from searchapp.api.callers import Caller
from searchapp.api.deps import ERRORS, NOT_FOUND, Admin, Ctx, Reader, api_base
from searchapp.api.models import (
    CallerOut,
    HealthOut,
    JobListOut,
    JobOut,
    NewTokenOut,
    StatsOut,
    TokenIn,
    TokenListOut,
    TokenOut,
)
from searchapp.api.tokens import parse_expiry
from searchapp.errors import DocumentNotFoundError, SearchAppError

router = APIRouter()
STATS_FIELDS = tuple(StatsOut.model_fields)  # never the data directory or store location


def _version() -> str:
    try:
        return version("searchapp")
    except PackageNotFoundError:
        return "unknown"


@router.get("/health", response_model=HealthOut, tags=["service"], responses={503: {"model": HealthOut}})
def health(ctx: Ctx) -> Any:
    """Liveness and readiness, without a token: ``ok`` when the store answers. Says nothing else."""
    try:
        ctx.libraries.library(ctx.settings.collection).store.generation()
    except SearchAppError:
        return JSONResponse(
            {"status": "unavailable", "version": _version(), "detail": "the store cannot be reached"},
            status_code=503,
        )
    return {"status": "ok", "version": _version(), "detail": ""}


@router.get("/stats", response_model=StatsOut, tags=["service"], responses=ERRORS)
def stats(caller: Reader, ctx: Ctx) -> dict[str, Any]:
    """The caller's collection: documents, passages, model."""
    data = ctx.library_for(caller).stats().to_dict()
    return {name: data[name] for name in STATS_FIELDS}


@router.get("/me", response_model=CallerOut, tags=["service"], responses=ERRORS)
def me(caller: Reader) -> dict[str, Any]:
    """Who the bearer token says you are: collection, role, groups."""
    return {
        "collection": caller.collection,
        "role": caller.role,
        "via": caller.via,
        "subject": caller.subject,
        "groups": list(caller.groups),
    }


@router.get("/jobs", response_model=JobListOut, tags=["documents"], responses=ERRORS)
def jobs(
    request: Request, caller: Reader, ctx: Ctx, limit: Annotated[int, Query(ge=1, le=200)] = 50
) -> dict[str, Any]:
    """Recent upload jobs, newest first: the caller's own (an admin: the collection's)."""
    base = api_base(request, ctx)
    return {
        "jobs": [
            {**job.to_dict(), "status_url": f"{base}/v1/jobs/{job.job_id}"}
            for job in ctx.jobs.recent(caller.collection, limit, started_by=_owner(caller))
        ]
    }


@router.get("/jobs/{job_id}", response_model=JobOut, tags=["documents"], responses={**ERRORS, **NOT_FOUND})
def job(job_id: str, request: Request, caller: Reader, ctx: Ctx) -> dict[str, Any]:
    """One upload job: its state, progress, and when done, each file's outcome."""
    found = ctx.jobs.get(caller.collection, job_id, started_by=_owner(caller))
    return {**found.to_dict(), "status_url": f"{api_base(request, ctx)}/v1/jobs/{found.job_id}"}


def _owner(caller: Caller) -> str | None:
    """Whose jobs a caller sees: its own, or (seeing every document) everyone's."""
    return None if caller.sees_everything else caller.subject


@router.get("/tokens", response_model=TokenListOut, tags=["tokens"], responses=ERRORS)
def list_tokens(caller: Admin, ctx: Ctx) -> dict[str, Any]:
    """The collection's API tokens (never their secrets). Needs the admin role."""
    return {"tokens": [t.to_dict() for t in ctx.tokens.tokens(caller.collection)]}


@router.post("/tokens", status_code=201, response_model=NewTokenOut, tags=["tokens"], responses=ERRORS)
def create_token(body: TokenIn, caller: Admin, ctx: Ctx) -> dict[str, Any]:
    """A new token for the caller's collection; the answer shows it this once. Needs the admin role."""
    token, secret = ctx.tokens.create(
        caller.collection,
        body.role,
        groups=body.groups,
        expires_at=parse_expiry(body.expires),
        name=body.name,
    )
    return {**token.to_dict(), "token": secret}


@router.delete(
    "/tokens/{token_id}", response_model=TokenOut, tags=["tokens"], responses={**ERRORS, **NOT_FOUND}
)
def revoke_token(token_id: str, caller: Admin, ctx: Ctx) -> dict[str, Any]:
    """Revoke one of the collection's tokens, for good. Needs the admin role."""
    try:
        return ctx.tokens.revoke(token_id, collection=caller.collection).to_dict()
    except DocumentNotFoundError:  # its own message names the command line
        raise DocumentNotFoundError(
            f"no API token with id {token_id!r}; GET /api/v1/tokens lists them"
        ) from None
