"""The HTTP API inside the web UI's server: `/api/...` beside the app, in the same process.

A local data directory admits one process, so a team that runs the UI on a laptop and
wants the API too gets both here: the API uses the UI's own cached libraries and
ingestors (`ui.resources`), so a document uploaded through either is searched at once in
both. The API is built on its first request (opening the store then, not while the
server starts), from the same settings and secrets as the app.
"""

from __future__ import annotations

import threading
from typing import Any

from searchapp.api.app import api_app
from searchapp.api.config import ApiConfig
from searchapp.api.context import ApiContext
from searchapp.config import Settings
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
    """The API's ASGI app, built on the first request under /api."""

    def __init__(self) -> None:
        self._app: Any = None
        self._lock = threading.Lock()

    def _build(self) -> Any:
        with self._lock:
            if self._app is None:
                ctx = ApiContext(UiLibraries(resources.load_settings()), ApiConfig.load(resources.secrets()))
                self._app = api_app(ctx)
            return self._app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        app = self._app
        if app is None:
            import anyio.to_thread

            app = await anyio.to_thread.run_sync(self._build)
        await app(scope, receive, send)
