"""The core's errors as HTTP answers: one JSON shape, a fitting status, never a traceback.

Every error body is ``{"detail": "<the core's message>", "code": "<machine-readable>"}``
(validation errors add ``errors``: where in the request and what was wrong).

    400 invalid_query         QueryError, EmptyQueryError, InvalidFilterError, ConfigError in a request
    401 unauthenticated       AuthError (with WWW-Authenticate: Bearer)
    403 forbidden             AccessDeniedError
    404 not_found             DocumentNotFoundError (also another team's documents, jobs, passages)
    409 conflict              a write that collides with one in progress
    413 too_large             an upload over the size limits
    422 invalid_request       the request does not match the schema
    429 rate_limited          RateLimitedError (with Retry-After)
    503 unavailable           StoreError, ModelError: the store or model cannot be used now
    500 internal              anything else: logged on the server, never detailed to the caller
"""

from __future__ import annotations

import logging
import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from searchapp.errors import (
    AccessDeniedError,
    AuthError,
    ConfigError,
    DocumentNotFoundError,
    ModelError,
    QueryError,
    RateLimitedError,
    SearchAppError,
    StoreError,
)

logger = logging.getLogger(__name__)

# The core's errors may suggest a CLI command; an API caller is told what it can call instead.
CLI_LISTING = "`searchapp docs` lists them"
HTTP_LISTING = "GET /api/v1/documents lists them"


def for_service(message: str, listing: str) -> str:
    """A core error message with its CLI suggestion replaced by what the service's caller can do."""
    return message.replace(CLI_LISTING, listing)


class ApiError(SearchAppError):
    """An HTTP-only refusal (a conflict, a body too large) with its status and code."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


def body(status: int, code: str, detail: str, **extra: Any) -> JSONResponse:
    headers: dict[str, str] = {}
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="searchapp"'
    return JSONResponse({"detail": detail, "code": code, **extra}, status_code=status, headers=headers)


def status_of(exc: SearchAppError) -> tuple[int, str]:
    if isinstance(exc, ApiError):
        return exc.status, exc.code
    if isinstance(exc, AuthError):
        return 401, "unauthenticated"
    if isinstance(exc, AccessDeniedError):
        return 403, "forbidden"
    if isinstance(exc, DocumentNotFoundError):
        return 404, "not_found"
    if isinstance(exc, RateLimitedError):
        return 429, "rate_limited"
    if isinstance(exc, QueryError | ConfigError):
        return 400, "invalid_query"
    if isinstance(exc, StoreError | ModelError):
        return 503, "unavailable"
    return 500, "internal"


def install(app: FastAPI) -> None:
    """Register the handlers that turn every error into the one JSON shape."""

    @app.exception_handler(SearchAppError)
    async def searchapp_error(request: Request, exc: SearchAppError) -> JSONResponse:
        status, code = status_of(exc)
        if status == 500:
            logger.error("internal error on %s %s: %s", request.method, request.url.path, exc, exc_info=exc)
            return body(500, "internal", "internal error; the server's log has the details")
        response = body(status, code, for_service(str(exc), HTTP_LISTING))
        if isinstance(exc, RateLimitedError):
            response.headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after)))
        if status == 503:
            response.headers["Retry-After"] = "5"
        return response

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"where": ".".join(str(p) for p in e.get("loc", ())), "message": str(e.get("msg", ""))}
            for e in exc.errors()
        ]
        summary = "; ".join(f"{e['where']}: {e['message']}" for e in errors[:5])
        return body(
            422, "invalid_request", f"the request does not match the API schema: {summary}", errors=errors
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {404: "not_found", 405: "method_not_allowed", 413: "too_large", 400: "invalid_request"}
        response = body(exc.status_code, codes.get(exc.status_code, "error"), str(exc.detail))
        for key, value in (exc.headers or {}).items():
            response.headers[key] = value
        return response

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.error("internal error on %s %s", request.method, request.url.path, exc_info=exc)
        return body(500, "internal", "internal error; the server's log has the details")
