"""The web server `searchapp ui` starts: the Streamlit app (`ui/app.py`) plus our routes.

`streamlit run ui/server.py` finds the `st.App` below and serves it with uvicorn, with
every Streamlit route as usual and ours before them (`ui.routes`: originals checked at
each request, and a log-out that ends the server-side session).

`streamlit run ui/app.py` still works: without these routes, cards open PDFs from the
page, downloads use Streamlit's download button where sign-in is off (and are not
offered where it is on), and the Log out button ends the session itself.
"""

from __future__ import annotations

import sys
from pathlib import Path

_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

import streamlit as st  # noqa: E402

from searchapp.ui import original_links, routes  # noqa: E402

original_links.mark_mounted()
app = st.App(
    str(Path(__file__).resolve().parent / "app.py"),
    routes=routes.all_routes(),
)
