"""The search page's state in the URL: query, mode, filters and view options.

A new session (a reload, a shared link) reads the URL once into the widgets; every run
then writes what the widgets hold back into it (`searchapp.links` does the encoding).
Nothing in a URL chooses the collection: that stays with the sign-in (`ui.teams`).
"""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from searchapp.errors import SearchAppError
from searchapp.links import PARAMS, SearchLink
from searchapp.ui.filters_panel import widget_values

RESTORED_KEY = "url_restored"
DEFAULT_K = 10
MAX_K = 50


def restore_once(modes: Sequence[str]) -> str | None:
    """Fill the widgets from the URL, once per session; a message if the URL was not valid."""
    if st.session_state.get(RESTORED_KEY):
        return None
    st.session_state[RESTORED_KEY] = True
    params = {key: st.query_params.get_all(key) for key in PARAMS if key in st.query_params}
    if not params:
        return None
    try:
        link = SearchLink.from_params(params)
    except SearchAppError as exc:
        return f"The link's search settings could not be used ({exc}); the search starts without them."
    state = st.session_state
    if link.query:
        state["query"] = link.query
    if link.mode in modes:
        state["mode"] = link.mode
    if link.k is not None:
        state["top_k"] = min(MAX_K, link.k)
    if link.group is not None:
        state["group"] = link.group
    if link.like:
        state["like"] = link.like
    for key, value in widget_values(link.filters, link.min_score).items():
        state[key] = value
    return None


def write(link: SearchLink) -> None:
    """Put `link` in the address bar (only when it changed, so history is not flooded)."""
    params = link.to_params()
    current = {key: st.query_params.get_all(key) for key in st.query_params}
    if current != params:
        st.query_params.from_dict(params)
