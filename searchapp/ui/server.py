"""The web server `searchapp ui` starts: the Streamlit app (`ui/app.py`), the API, MCP, one route.

`streamlit run ui/server.py` finds the `st.App` below and serves it with uvicorn, with
every Streamlit route as usual, `/searchapp/original/<token>/<name>` beside them (the
one-click "Open at page" links, `ui.original_links`), the HTTP API under `/api` and the
MCP server at `/mcp` (`ui.api_mount`: the same API and MCP server as `searchapp serve`,
behind its tokens). `streamlit run ui/app.py` still works, without the API; its cards
then fall back to opening the PDF from the page.
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
from searchapp.ui import original_links  # noqa: E402
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
    routes=[original_links.route()],
    middleware=[Middleware(ApiFirst, api=_api, mcp=_mcp_app)],
    lifespan=_lifespan,
)
