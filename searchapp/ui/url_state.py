"""The search page's state in the URL: query, mode, filters and view options.

A new session (a reload, a shared link) reads the URL once into the widgets; every run
then writes the request the widgets make back into it (`searchapp.ui.links` does the
encoding). Nothing in a URL chooses the collection: that stays with the sign-in (`ui.teams`).
"""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from searchapp.errors import SearchAppError
from searchapp.request import SearchRequest
from searchapp.ui.filters_panel import widget_values
from searchapp.ui.links import DEFAULTS, PARAMS, from_params, to_params

RESTORED_KEY = "url_restored"
DEFAULT_K = DEFAULTS.k
MAX_K = 50


def restore_once(modes: Sequence[str]) -> str | None:
    """Fill the widgets from the URL, once per session; a message if the URL was not valid."""
    if st.session_state.get(RESTORED_KEY):
        return None
    st.session_state[RESTORED_KEY] = True
    params = {key: st.query_params.get_all(key) for key in PARAMS if key in st.query_params}
    if not params:
        return None
    state = st.session_state
    try:
        request = from_params(params)
    except SearchAppError as exc:
        return f"The link's search settings could not be used ({exc}); the search starts without them."
    if request.query:
        state["query"] = request.query
    if request.mode in modes:
        state["mode"] = request.mode
    state["top_k"] = min(MAX_K, request.k)
    state["group"] = request.group
    if request.like:
        state["like"] = request.like
    for key, value in widget_values(request.filters, request.min_score).items():
        state[key] = value
    return None


def write(request: SearchRequest) -> None:
    """Put `request` in the address bar (only when it changed, so history is not flooded)."""
    params = to_params(request)
    current = {key: st.query_params.get_all(key) for key in st.query_params}
    if current != params:
        st.query_params.from_dict(params)
