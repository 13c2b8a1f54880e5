"""One search result as a card: rank, score bar, where it is, the passage, and actions.

Each card is a fragment, so opening its context or its "open at page" panel reruns the
card alone, not the search. Both panels load lazily: nothing is read from the store or
the originals until the user opens them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import PurePosixPath

import streamlit as st

from searchapp.errors import SearchAppError
from searchapp.library import Library
from searchapp.types import Hit
from ui.feedback import show_error
from ui.pdf_link import MAX_INLINE_BYTES, open_pdf_html
from ui.render import (
    format_score,
    location_label,
    passage_markdown,
    score_fraction,
    tags_label,
)

MIME_TYPES = {
    "pdf": "application/pdf",
    "txt": "text/plain",
    "md": "text/markdown",
    "html": "text/html",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}


def download_name(source: str) -> str:
    """The file name to save as: the last part of the display name."""
    return PurePosixPath(source).name or "document"


@st.fragment
def hit_card(hit: Hit, library: Library, terms: Sequence[str]) -> None:
    with st.container(border=True, key=f"hit-{hit.rank}"):
        head, score = st.columns([0.72, 0.28], vertical_alignment="center")
        head.markdown(f"**#{hit.rank}** · {location_label(hit.source, hit.page, hit.heading)}")
        score.progress(
            score_fraction(hit.score),
            text=f"Score {format_score(hit.score)}",
        )
        if hit.fused_score is not None:
            st.caption(
                f"Fused rank score {hit.fused_score:.4f} · semantic rank {hit.dense_rank or '—'} · "
                f"keyword rank {hit.keyword_rank or '—'} · the score above is the cosine similarity"
            )
        st.markdown(passage_markdown(hit.text, terms))
        if hit.metadata.get("ocr"):
            st.caption("Text read by OCR from the page image: it may contain misread words.")
        if hit.tags:
            st.caption(f"Tags: {tags_label(hit.tags)}")
        _context(hit, library, terms)
        actions = st.container(horizontal=True, gap="small")
        with actions:
            st.download_button(
                "Download original",
                data=lambda: library.original(hit.doc_id),
                file_name=download_name(hit.source),
                mime=MIME_TYPES.get(hit.file_type, "application/octet-stream"),
                key=f"dl-{hit.chunk_id}",
                on_click="ignore",
                icon=":material/download:",
            )
            if hit.file_type == "pdf" and hit.page is not None:
                _open_at_page(hit, library)


def _context(hit: Hit, library: Library, terms: Sequence[str]) -> None:
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


def _open_at_page(hit: Hit, library: Library) -> None:
    page = hit.page or 1
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
