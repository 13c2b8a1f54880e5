"""The HTTP API and the MCP server inside the web UI's server, in the same process.

A local data directory admits one process, so a team that runs the UI on a laptop and
wants the API or an assistant too gets them here: `/api/...` and `/mcp` beside the app,
over the UI's own cached libraries and ingestors (`ui.resources`), so a document
uploaded through any of them is searched at once in all. The context is built on the
first request (opening the store then, not while the server starts), from the same
settings and secrets as the app.
"""

from __future__ import annotations

import threading
from typing import Any

from searchapp.api.app import api_app
from searchapp.api.config import ApiConfig
from searchapp.api.context import ApiContext
from searchapp.api.mcp_http import mcp_http_app
from searchapp.api.mcp_server import build_mcp
from searchapp.api.oidc import OidcVerifier
from searchapp.config import Settings
from searchapp.errors import ConfigError
from searchapp.ingest.pipeline import Ingestor
from searchapp.library import Library
from searchapp.ui import resources


class UiLibraries:
    """`searchapp.api.libraries.Libraries` over the UI's process-wide cache."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def library(self, collection: str) -> Library:
        return resources.get_library(self.settings.with_overrides(collection=collection))

    def ingestor(self, collection: str) -> Ingestor:
        return resources.get_ingestor(self.settings.with_overrides(collection=collection))

    def close(self) -> None:
        """The UI's cache owns the libraries; it closes them."""


class LazyApi:
    """The API's ASGI app over a context built on first use (by a request to /api or /mcp)."""

    def __init__(self) -> None:
        self._app: Any = None
        self._ctx: ApiContext | None = None
        self._lock = threading.Lock()

    def context(self) -> ApiContext:
        with self._lock:
            if self._ctx is None:
                self._ctx = ApiContext(
                    UiLibraries(resources.load_settings()),
                    ApiConfig.load(resources.secrets()),
                    secrets=resources.secrets,  # Streamlit reloads the file when it changes
                )
            return self._ctx

    def _build(self) -> Any:
        ctx = self.context()
        with self._lock:
            if self._app is None:
                self._app = api_app(ctx)
            return self._app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        app = self._app
        if app is None:
            import anyio.to_thread

            app = await anyio.to_thread.run_sync(self._build)
        await app(scope, receive, send)


def _api_config() -> ApiConfig | None:
    """The API's settings, read now: the SDK's OAuth metadata and the addresses MCP accepts
    are fixed when the MCP app is built. None when the secrets cannot be read (the API says
    why at its first request, as before)."""
    try:
        return ApiConfig.load(resources.secrets())
    except ConfigError:
        return None


def mcp_server(api: LazyApi) -> tuple[Any, Any]:
    """The MCP server on the UI's own address (`/mcp`), and its ASGI app.

    The server's session manager must run for as long as the server does: `ui/server.py`
    enters `session_manager.run()` in the app's lifespan.
    """
    from streamlit import config

    host = str(config.get_option("server.address") or "127.0.0.1")
    port = int(config.get_option("server.port") or 8501)
    shown = f"[{host}]" if ":" in host else host
    settings = _api_config()
    public_url = settings.public_url if settings is not None else ""
    oidc = OidcVerifier(settings.providers) if settings is not None else None
    server = build_mcp(api.context, http_base=public_url or f"http://{shown}:{port}", oidc=oidc)
    return server, mcp_http_app(server, bind_host=host, public_url=public_url)
