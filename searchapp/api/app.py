"""The HTTP API as an ASGI application: `/api/v1/...`, its OpenAPI schema at `/api/openapi.json`.

`create_app` builds it over an `ApiContext`. `searchapp serve` runs it alone with uvicorn;
`searchapp ui` mounts the same application under `/api` beside the web UI (one process,
so an embedded data directory, which admits one process, serves both).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from searchapp.api import errors
from searchapp.api.body_limit import BodyLimit
from searchapp.api.context import ApiContext
from searchapp.api.routes import documents, feedback, search, service, sources
from searchapp.units import MB

API_PREFIX = "/api"
JSON_LIMIT = 1 * MB  # every request but an upload


def create_api(ctx: ApiContext) -> FastAPI:
    """The FastAPI application (paths `/v1/...`), to be mounted under `/api`."""
    # Swagger UI's script and style from the package, not a CDN: an offline server still shows /api/docs.
    api = FastAPIOffline(
        static_url="/docs-static",
        title="searchapp",
        summary="Semantic search over a team's documents",
        description=(
            "Every path but `/v1/health` needs `Authorization: Bearer <token>`: an API token "
            "(`searchapp tokens create`) or the identity provider's JWT. A token sees its own "
            "team's collection only; ids of other teams' documents, passages and jobs are not found (404)."
        ),
        version="1",
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
    )
    api.state.ctx = ctx
    errors.install(api)
    for router in (search.router, documents.router, feedback.router, service.router, sources.router):
        api.include_router(router, prefix="/v1")
    return api


def upload_limit(ctx: ApiContext) -> Any:
    upload_bytes = ctx.config.max_upload_mb * MB

    def limit_for(scope: dict[str, Any]) -> int:
        path = str(scope.get("path", ""))
        uploading = scope.get("method") == "POST" and path.rstrip("/").endswith("/v1/documents")
        return upload_bytes if uploading else JSON_LIMIT

    return limit_for


def api_app(ctx: ApiContext) -> Any:
    """The API with its body limits, as an ASGI app to be served under `/api` (see `ApiFirst`)."""
    return BodyLimit(create_api(ctx), upload_limit(ctx))


MCP_PATHS = ("/mcp", "/.well-known/oauth-protected-resource/mcp")


class ApiFirst:
    """ASGI middleware: every request under `/api` goes to the API, anything else to `app`.

    A plain `Mount("/api")` misses paths its pattern cannot match (an encoded newline in a
    document id), which would then reach the application behind it and be answered in
    its own way; here every `/api/...` path gets the API's JSON answer. With `mcp`, the
    MCP server's paths go to it too.
    """

    def __init__(self, app: Any, api: Any, mcp: Any = None) -> None:
        self.app = app
        self.api = api
        self.mcp = mcp

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            root = str(scope.get("root_path", ""))
            path = str(scope.get("path", ""))
            route = path[len(root) :] if root and path.startswith(root) else path
            if route == API_PREFIX or route.startswith(API_PREFIX + "/"):
                await self.api({**scope, "root_path": root + API_PREFIX}, receive, send)
                return
            if self.mcp is not None and route in MCP_PATHS:
                await self.mcp(scope, receive, send)
                return
        await self.app(scope, receive, send)
