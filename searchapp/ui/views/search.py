"""The Search page: a query box, options and filters, and ranked result cards.

Results are grouped by document by default (one card per document, its other matching
passages in place). Any card's "More like this" turns the page into the passages similar
to that one, with the same filters. The query, mode, filters and options live in the URL,
so a reload or a shared link shows the same search.
"""

from __future__ import annotations

import streamlit as st

from searchapp.errors import SearchAppError
from searchapp.filters import SearchFilters
from searchapp.library.view import LibraryView
from searchapp.request import SearchRequest
from searchapp.retrieval.scoring import match_strength
from searchapp.samples import EXAMPLE_QUERIES, SAMPLE_TAG
from searchapp.types import DocumentGroup, DocumentRecord, SearchResponse
from searchapp.ui import url_state, votes
from searchapp.ui.cards import LIKE_FROM_KEY, LIKE_KEY, result_card
from searchapp.ui.compare_panel import compare_panel
from searchapp.ui.context import caller_or_stop, library_or_stop
from searchapp.ui.feedback import empty_library_guide, show_error
from searchapp.ui.filters_panel import FilterInput, clear_filters, filter_panel
from searchapp.ui.focus import focus_search_box
from searchapp.ui.render import MODE_LABELS, query_terms
from searchapp.ui.samples import offer_samples, samples_flash

MAX_K = url_state.MAX_K
MORE_STEP = 10
SYNTAX_HELP = (
    'Type a question or a few words. Also: `"exact phrase"` (only passages containing it), '
    "`-word` (none holding the word), `type:pdf`, `tag:hr`, `doc:handbook` (a document's name or "
    "part of it), `page:3-7`, `after:2026-01-01`, `before:2026-03` (whole months and years too). "
    "A colon after any other word is just text."
)
MODE_HELP = (
    "Adaptive (the default): meaning and keywords together, weighted per query by how much of "
    "it the model can read and how clearly its words single out a passage. Semantic: by meaning. "
    "Keyword: by exact words (BM25). Hybrid: both, fused by rank with fixed weights. "
    "Each result's score is the one its mode ranked by, from 0 to 1. Adaptive and hybrid scores "
    "are relative to this search's best passage (1 is the best found here, not a perfect match); "
    "the cosine similarity under each result says how close in meaning it is, and a notice says "
    "when even the best one matches poorly."
)


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
        offer_samples(key="samples_search")
        return

    problem = url_state.restore_once(library.search_modes)
    if problem:
        st.warning(problem, icon=":material/link_off:")
    samples_flash()
    with st.sidebar:
        st.subheader("Results", anchor=False)
        mode = _mode_selector(library)
        group = st.toggle(
            "Group by document",
            value=True,
            key="group",
            help="One result per document, with its best passage; its other matches expand in place.",
        )
        k = st.slider("Results", min_value=1, max_value=MAX_K, value=url_state.DEFAULT_K, key="top_k")
    filters = filter_panel(documents)

    st.caption(f"{len(documents)} document{'s' if len(documents) != 1 else ''} in the library")
    query = st.text_input(
        "Search query",
        key="query",
        placeholder="Ask a question or type a few words, then press Enter",
        icon=":material/search:",
        on_change=_leave_similar,
        help=SYNTAX_HELP,
    )
    focus_search_box()
    compare_panel(library)
    like = str(st.session_state.get(LIKE_KEY) or "")

    try:
        request = SearchRequest(
            query=query.strip(),
            like=like,
            k=int(k),
            filters=SearchFilters.from_mapping(filters.raw),
            mode=mode,
            min_score=filters.min_score,
            group=bool(group),
        )
    except SearchAppError as exc:
        show_error(exc)
        return
    url_state.write(request)
    if not query.strip() and not like:
        _hints(documents)
        return
    try:
        if like:
            _similar_heading()
        response = library.find(request)
    except SearchAppError as exc:
        show_error(exc)
        return
    _results(response, request, library, filters, documents)


def _leave_similar() -> None:
    """A new query replaces the "More like this" view."""
    st.session_state.pop(LIKE_KEY, None)
    st.session_state.pop(LIKE_FROM_KEY, None)


def _mode_selector(library: LibraryView) -> str | None:
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
        help=MODE_HELP,
    )
    return str(choice)


def _hints(documents: list[DocumentRecord]) -> None:
    st.caption("Results are passages ranked by meaning, not just matching words.")
    if any(SAMPLE_TAG in record.tags for record in documents):
        st.caption("Try one of these questions about the sample documents:")
        with st.container(horizontal=True, gap="small"):
            for index, example in enumerate(EXAMPLE_QUERIES):
                st.button(example, key=f"example_{index}", on_click=_ask, args=(example,), type="tertiary")


def _ask(question: str) -> None:
    _leave_similar()
    st.session_state["query"] = question


def _similar_heading() -> None:
    where = st.session_state.get(LIKE_FROM_KEY) or "the chosen passage"
    with st.container(horizontal=True, vertical_alignment="center", key="similar_heading"):
        st.markdown(f"**More like this:** passages similar to {where}")
        st.button(
            "Back to the search", key="like_back", on_click=_leave_similar, icon=":material/arrow_back:"
        )


def _results(
    response: SearchResponse,
    request: SearchRequest,
    library: LibraryView,
    filters: FilterInput,
    documents: list[DocumentRecord],
) -> None:
    similar = bool(request.like)
    for notice in response.notices:
        st.warning(notice, icon=":material/info:")
    if response.library_empty:  # emptied since the page listed the documents (another client)
        empty_library_guide()
        return
    if not response.hits:
        _no_results(filters, request)
        return
    if response.weak_match and not similar:
        strength = match_strength(response)
        st.warning(
            "**No good match.** None of these passages is close to what you asked"
            f"{f' (best similarity {strength:.2f})' if strength is not None else ''}: they are only the "
            "least distant ones. Try other words, or upload documents about it.",
            icon=":material/search_off:",
        )
    # Ungrouped: one card per passage.
    groups = (
        response.groups if response.groups is not None else tuple(DocumentGroup(h) for h in response.hits)
    )
    st.caption(_summary(response, len(groups), documents, request))
    terms = [] if similar else query_terms(request.text)
    for number, group in enumerate(groups, start=1):
        result_card(number, group, library, terms, response.mode, "" if similar else response.query)
    if not similar:
        votes.none_of_these(response.query, response.hits, caller_or_stop(), response.mode)
    k = int(st.session_state.get("top_k", url_state.DEFAULT_K))
    if len(groups) >= k and k < MAX_K:
        st.button(
            f"Show {min(MORE_STEP, MAX_K - k)} more",
            key="show_more",
            on_click=_show_more,
            icon=":material/expand_more:",
        )


def _show_more() -> None:
    k = int(st.session_state.get("top_k", url_state.DEFAULT_K))
    st.session_state["top_k"] = min(MAX_K, k + MORE_STEP)


def _summary(
    response: SearchResponse, cards: int, documents: list[DocumentRecord], request: SearchRequest
) -> str:
    """'3 documents, 12 passages · searched 166 passages in 3 documents · 85 ms'."""
    passages = len(response.hits)
    shown = (
        f"{cards} document{'s' if cards != 1 else ''}, {passages} passage{'s' if passages != 1 else ''}"
        if response.groups is not None
        else f"{passages} passage{'s' if passages != 1 else ''}"
    )
    f = request.scope
    scope = [
        r
        for r in documents
        if (not f.doc_ids or r.doc_id in f.doc_ids)
        and (not f.file_types or r.file_type in f.file_types)
        and (not f.tags or any(t in r.tags for t in f.tags))
    ]
    chunks = sum(r.chunks for r in scope)
    narrowed = (
        request.parsed.narrows
        or bool(request.parsed.documents)
        or any(
            value not in (None, "")
            for value in (f.page_min, f.page_max, f.text_contains, f.ingested_after, f.ingested_before)
        )
    )
    searched = (
        f"searched {'up to ' if narrowed else ''}{chunks:,} passages in {len(scope)} "
        f"document{'s' if len(scope) != 1 else ''}"
    )
    mode = MODE_LABELS.get(response.mode, response.mode)
    if response.mode == "adaptive" and response.dense_weight is not None:
        meaning = round(100 * response.dense_weight)
        mode += f" (meaning {meaning}%, keywords {100 - meaning}%)"
    return f"{mode} · {shown} · {searched} · {response.took_ms:.0f} ms"


def _no_results(filters: FilterInput, request: SearchRequest) -> None:
    typed = request.parsed
    active = [*filters.active]
    if typed.narrows or not typed.filters.is_empty or typed.documents:
        active.append("the query's own phrases, exclusions or filters")
    if active:
        st.info(
            "**No passages matched.** Filters are narrowing the search: "
            f"{', '.join(active)}. Try loosening or clearing them.",
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
