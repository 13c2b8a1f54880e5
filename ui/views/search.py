"""The Search page: a query box, options and filters, and ranked passage cards."""

from __future__ import annotations

import streamlit as st

from searchapp.errors import SearchAppError
from searchapp.library import Library
from searchapp.types import SearchResponse
from ui.cards import hit_card
from ui.context import library_or_stop
from ui.feedback import empty_library_guide, show_error
from ui.filters_panel import FilterInput, clear_filters, filter_panel
from ui.render import query_terms

MODE_LABELS = {"dense": "Semantic", "keyword": "Keyword", "hybrid": "Hybrid"}
MAX_K = 50


def render() -> None:
    st.title("Search", anchor=False)
    library = library_or_stop()
    try:
        documents = library.documents()
    except SearchAppError as exc:
        show_error(exc)
        return
    if not documents:
        empty_library_guide()
        return

    _remember_query_from_url()
    with st.sidebar:
        st.subheader("Results", anchor=False)
        k = st.slider("Number of passages", min_value=1, max_value=MAX_K, value=10, key="top_k")
        mode = _mode_selector(library)
    filters = filter_panel(documents)

    st.caption(f"{len(documents)} document{'s' if len(documents) != 1 else ''} in the library")
    query = st.text_input(
        "Search query",
        key="query",
        placeholder="Ask a question or type a few words, then press Enter",
        icon=":material/search:",
    )
    if not query.strip():
        st.query_params.pop("q", None)
        st.caption("Results are passages ranked by meaning, not just matching words.")
        return
    st.query_params["q"] = query
    try:
        response = library.search(
            query, k=int(k), filters=filters.raw, min_score=filters.min_score, mode=mode
        )
    except SearchAppError as exc:
        show_error(exc)
        return
    _results(response, library, filters)


def _remember_query_from_url() -> None:
    """A shared link (?q=...) fills the query box once per session."""
    if "query" not in st.session_state and st.query_params.get("q"):
        st.session_state["query"] = st.query_params["q"][:2000]


def _mode_selector(library: Library) -> str | None:
    modes = library.search_modes
    if len(modes) < 2:
        return None
    default = library.settings.search_mode
    choice = st.radio(
        "Retrieval",
        options=list(modes),
        index=modes.index(default) if default in modes else 0,
        format_func=lambda m: MODE_LABELS.get(m, m),
        horizontal=True,
        key="mode",
        help="Semantic: by meaning. Keyword: by exact words (BM25). Hybrid: both, fused by rank.",
    )
    return str(choice)


def _results(response: SearchResponse, library: Library, filters: FilterInput) -> None:
    for notice in response.notices:
        st.warning(notice, icon=":material/info:")
    if not response.hits:
        _no_results(filters)
        return
    count = len(response.hits)
    st.caption(f"{count} passage{'s' if count != 1 else ''} · {response.took_ms:.0f} ms")
    terms = query_terms(response.query)
    for hit in response.hits:
        hit_card(hit, library, terms)


def _no_results(filters: FilterInput) -> None:
    if filters.active:
        st.info(
            "**No passages matched.** Filters are narrowing the search: "
            f"{', '.join(filters.active)}. Try loosening or clearing them.",
            icon=":material/filter_alt:",
        )
        st.button(
            "Clear filters",
            on_click=clear_filters,
            key="clear_from_results",
            icon=":material/filter_alt_off:",
        )
    else:
        st.info(
            "**No passages matched.** Try other words, or upload the documents that hold the answer.",
            icon=":material/search_off:",
        )


if __name__ == "__main__":  # run as a page by st.navigation (ui/nav.py)
    render()
