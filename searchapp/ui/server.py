"""The web server `searchapp ui` starts: the Streamlit app (`ui/app.py`), our routes, the API, MCP.

`streamlit run ui/server.py` finds the `st.App` below and serves it with uvicorn, with
every Streamlit route as usual and ours before them (`ui.routes`: originals checked at
each request, and a log-out that ends the server-side session), plus the HTTP API under
`/api` and the MCP server at `/mcp` (`ui.api_mount`: the same API and MCP server as
`searchapp serve`, behind its tokens, over the UI's own libraries).

`streamlit run ui/app.py` still works, without the API: without these routes, cards open
PDFs from the page, downloads use Streamlit's download button where sign-in is off (and
are not offered where it is on), and the Log out button ends the session itself.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

import streamlit as st  # noqa: E402
from starlette.middleware import Middleware  # noqa: E402

from searchapp.api.app import ApiFirst  # noqa: E402
from searchapp.ui import original_links, routes  # noqa: E402
from searchapp.ui.api_mount import LazyApi, mcp_server  # noqa: E402

original_links.mark_mounted()
_api = LazyApi()
_mcp, _mcp_app = mcp_server(_api)


@asynccontextmanager
async def _lifespan(app: Any) -> AsyncIterator[None]:
    async with _mcp.session_manager.run():
        yield


app = st.App(
    str(Path(__file__).resolve().parent / "app.py"),
    routes=routes.all_routes(),
    middleware=[Middleware(ApiFirst, api=_api, mcp=_mcp_app)],
    lifespan=_lifespan,
)
