"""The web server `searchapp ui` starts: the Streamlit app (`ui/app.py`), the API, one route.

`streamlit run ui/server.py` finds the `st.App` below and serves it with uvicorn, with
every Streamlit route as usual, `/searchapp/original/<token>/<name>` beside them (the
one-click "Open at page" links, `ui.original_links`), and the HTTP API under `/api`
(`ui.api_mount`: the same API as `searchapp serve`, behind its tokens). `streamlit run
ui/app.py` still works, without the API; its cards then fall back to opening the PDF
from the page.
"""

from __future__ import annotations

import sys
from pathlib import Path

_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

import streamlit as st  # noqa: E402
from starlette.middleware import Middleware  # noqa: E402

from searchapp.api.app import ApiFirst  # noqa: E402
from searchapp.ui import original_links  # noqa: E402
from searchapp.ui.api_mount import LazyApi  # noqa: E402

original_links.mark_mounted()
app = st.App(
    str(Path(__file__).resolve().parent / "app.py"),
    routes=[original_links.route()],
    middleware=[Middleware(ApiFirst, api=LazyApi())],
)
