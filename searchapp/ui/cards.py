"""One search result as a card: rank, score, where it is, the passage, and actions.

A card shows one document's best passage (or, ungrouped, one passage). Its big number is
the score the ranking used, labelled with the mode that produced it; the caption under it
says how the passage got there (cosine similarity, its rank in each list). Actions: the
original's download, "Open at page" for PDFs, and "More like this". When results are
grouped, the document's other matching passages expand in place.

Each card is a fragment, so opening its context or its other passages reruns the card
alone, not the search. The context loads lazily: nothing is read from the store until
the user opens it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import PurePosixPath

import streamlit as st

from searchapp.errors import SearchAppError
from searchapp.library.view import LibraryView
from searchapp.types import DocumentGroup, Hit
from searchapp.ui import auth, context, original_links, votes
from searchapp.ui.feedback import show_error
from searchapp.ui.groups import groups_label
from searchapp.ui.pdf_link import MAX_INLINE_BYTES, open_pdf_html
from searchapp.ui.render import (
    location_label,
    one_line,
    passage_markdown,
    score_details,
    score_fraction,
    score_label,
    tags_label,
)

LIKE_KEY = "like"  # the passage "More like this" was asked for
LIKE_FROM_KEY = "like_from"  # where that passage is, for the heading
MAX_OTHERS_SHOWN = 5  # a long document can match dozens of times; the rest are a click away


def download_name(source: str) -> str:
    """The file name to save as: the last part of the display name."""
    return PurePosixPath(source).name or "document"


def download_original(library: LibraryView, doc_id: str, source: str, file_type: str, *, key: str) -> None:
    """A "Download original" link to our checked route; never a Streamlit ``/media`` URL with sign-in."""
    if original_links.route_mounted():
        st.link_button(
            "Download original",
            original_links.download_url(library.settings.collection, doc_id, source),
            key=key,
            icon=":material/download:",
            help="Checked when you click it: only while you are signed in and may see the document.",
        )
    elif not auth.auth_enabled():  # `streamlit run ui/app.py` of an open app: Streamlit's own button
        st.download_button(
            "Download original",
            data=lambda: library.original(doc_id),
            file_name=download_name(source),
            mime=original_links.MIME_TYPES.get(file_type, "application/octet-stream"),
            key=key,
            on_click="ignore",
            icon=":material/download:",
        )


@st.fragment
def result_card(
    number: int, group: DocumentGroup, library: LibraryView, terms: Sequence[str], mode: str, query: str = ""
) -> None:
    caller = context.caller_or_stop()  # a card's own reruns check the caller again
    library = caller.view
    hit = group.best
    with st.container(border=True, key=f"hit-{number}"):
        head, score = st.columns([0.66, 0.34], vertical_alignment="center")
        head.markdown(f"**#{number}** · {location_label(hit.source, hit.page, hit.heading)}")
        score.progress(score_fraction(hit.score), text=score_label(hit.score, mode))
        details = score_details(hit, mode)
        if details:
            st.caption(details)
        st.markdown(passage_markdown(hit.text, terms))
        if hit.metadata.get("ocr"):
            st.caption("Text read by OCR from the page image: it may contain misread words.")
        if hit.tags:
            st.caption(f"Tags: {tags_label(hit.tags)}")
        if hit.groups:
            st.caption(f"Visible to {groups_label(hit.groups)}")
        _context(hit, library, terms)
        with st.container(horizontal=True, gap="small"):
            download_original(library, hit.doc_id, hit.source, hit.file_type, key=f"dl-{hit.chunk_id}")
            if hit.file_type == "pdf" and hit.page is not None:
                _open_at_page(hit, library)
            _more_like_this(hit, number)
        votes.feedback_row(hit, caller, query, mode)
        if group.others:
            _other_passages(group, library, terms, mode, number)


def _other_passages(
    group: DocumentGroup, library: LibraryView, terms: Sequence[str], mode: str, number: int
) -> None:
    count = len(group.others)
    with st.expander(
        f"{count} more passage{'s' if count != 1 else ''} in this document",
        key=f"more-{group.best.chunk_id}",
        icon=":material/stacks:",
    ):
        for other in group.others[:MAX_OTHERS_SHOWN]:
            where = f"page {other.page}" if other.page is not None else "passage"
            heading = f" · {one_line(other.heading)}" if other.heading else ""
            st.markdown(f"**{where}**{heading} · {score_label(other.score, mode)}")
            st.markdown(passage_markdown(other.text, terms))
            with st.container(horizontal=True, gap="small"):
                if other.file_type == "pdf" and other.page is not None:
                    _open_at_page(other, library)
                _more_like_this(other, number)
        hidden = count - MAX_OTHERS_SHOWN
        if hidden > 0:
            st.caption(f"… and {hidden} more.")
        if st.button(
            "All matching passages of this document",
            key=f"only-{group.best.chunk_id}",
            icon=":material/filter_alt:",
            on_click=_only_this_document,
            args=(group.doc_id,),
            help="Filters the search to this document and lists its passages one by one.",
        ):
            st.rerun()  # the whole page: the sidebar shows the new filter


def _only_this_document(doc_id: str) -> None:
    st.session_state["f_docs"] = [doc_id]
    st.session_state["group"] = False


def _more_like_this(hit: Hit, number: int) -> None:
    if st.button(
        "More like this",
        key=f"like-{hit.chunk_id}",
        icon=":material/manage_search:",
        help="Passages similar to this one, with the same filters.",
    ):
        st.session_state[LIKE_KEY] = hit.chunk_id
        st.session_state[LIKE_FROM_KEY] = location_label(hit.source, hit.page, hit.heading)
        st.rerun()  # the whole page: it shows the similar passages now


def _context(hit: Hit, library: LibraryView, terms: Sequence[str]) -> None:
    panel = st.expander(
        "Context: the passages around this one",
        key=f"ctx-{hit.chunk_id}",
        on_change="rerun",
        icon=":material/unfold_more:",
    )
    with panel:
        if not panel.open:
            return
        try:
            around = library.neighbours(hit.doc_id, hit.chunk_index, before=1, after=1)
        except SearchAppError as exc:
            show_error(exc)
            return
        for index, text in around:
            if index == hit.chunk_index:
                label = "This passage"
            else:
                label = "Before" if index < hit.chunk_index else "After"
            st.caption(label)
            st.markdown(passage_markdown(text, terms))


def _open_at_page(hit: Hit, library: LibraryView) -> None:
    page = hit.page or 1
    if original_links.route_mounted():
        # One click: a signed link to the kept file; nothing is loaded into this page.
        st.link_button(
            f"Open at page {page}",
            original_links.open_url(library.settings.collection, hit.doc_id, hit.source, page),
            icon=":material/open_in_new:",
            help="Opens the PDF in a new tab at this page (checked when you click it).",
        )
        return
    _open_at_page_inline(hit, library, page)


def _open_at_page_inline(hit: Hit, library: LibraryView, page: int) -> None:
    """Without the route (`streamlit run ui/app.py`): the PDF travels in the page, on request."""
    panel = st.popover(
        f"Open at page {page}",
        key=f"open-{hit.chunk_id}",
        on_change="rerun",
        icon=":material/open_in_new:",
    )
    with panel:
        if not panel.open:
            return
        try:  # a fragment rerun: errors are not caught by the page guard in ui/app.py
            record = library.find_by_id(hit.doc_id)
            if record is None:
                st.warning("This document is no longer in the library.")
                return
            if record.size > MAX_INLINE_BYTES:
                st.info("This PDF is too large to open from here; use **Download original**.")
                return
            data = library.original(hit.doc_id)
        except SearchAppError as exc:
            show_error(exc)
            return
        st.iframe(open_pdf_html(data, name=download_name(hit.source), page=page), height=52)
        st.caption("Opens the PDF in a new tab; your browser's PDF viewer jumps to the page.")
