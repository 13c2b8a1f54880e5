"""Assembling a server: the context from settings and secrets, the API, and MCP over HTTP.

`searchapp serve` runs `serve_app` with uvicorn: the HTTP API under `/api` and the MCP
server at `/mcp`, in one process (a local data directory admits one).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.routing import Mount

from searchapp.api.app import ApiFirst, api_app
from searchapp.api.config import ApiConfig, read_secrets, secrets_paths
from searchapp.api.context import ApiContext
from searchapp.api.libraries import Libraries, OwnLibraries
from searchapp.api.mcp_http import mcp_http_app
from searchapp.api.mcp_server import build_mcp
from searchapp.config import Settings


def load_secrets(path: Path | None) -> dict[str, Any]:
    """The secrets file given, or the ones Streamlit would read from here."""
    return read_secrets([path] if path is not None else secrets_paths())


def open_context(
    settings: Settings, secrets: dict[str, Any], libraries: Libraries | None = None, path: Path | None = None
) -> ApiContext:
    """The context; the teams table follows edits of the secrets file (`path`, or Streamlit's)."""
    return ApiContext(
        libraries or OwnLibraries(settings), ApiConfig.load(secrets), secrets=lambda: load_secrets(path)
    )


def serve_app(ctx: ApiContext, *, http_base: str, mcp: bool = True) -> ApiFirst:
    """The API under /api and, with `mcp`, the MCP server at /mcp (bearer tokens on both)."""
    routes: list[Any] = []
    public_url = ctx.config.public_url
    # Clients behind a proxy reach /mcp at the public address: its OAuth metadata names that.
    server = build_mcp(ctx, http_base=public_url or http_base, oidc=ctx.oidc) if mcp else None
    if server is not None:
        host = http_base.split("://", 1)[-1].rsplit(":", 1)[0].strip("[]")
        routes.append(Mount("/", app=mcp_http_app(server, bind_host=host, public_url=public_url)))

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            if server is not None:
                async with server.session_manager.run():
                    yield
            else:
                yield
        finally:
            ctx.close()
            ctx.libraries.close()

    return ApiFirst(Starlette(routes=routes, lifespan=lifespan), api_app(ctx))
