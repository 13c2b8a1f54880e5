"""The Duplicates page: the same content at several paths, and near-duplicate documents.

Identical files are one document (shown with every path that holds it). Near-duplicates
(a v2 of a policy, the same report exported twice) are pairs of documents that share most
of their text (`searchapp.sources.duplicates`); either version can be hidden from search
here, and shown again. A caller sees only what its groups may see: pairs and copies of
visible documents (`Library.view`).
"""

from __future__ import annotations

import streamlit as st

from searchapp.errors import SearchAppError
from searchapp.library import Library
from searchapp.sources.duplicates import DEFAULT_THRESHOLD, near_duplicates
from searchapp.types import DocumentRecord
from searchapp.ui.context import library_or_stop, sources_or_stop
from searchapp.ui.feedback import show_error
from searchapp.ui.render import escape_markdown, format_size, format_time, one_line


def render() -> None:
    st.title("Duplicates", anchor=False)
    view = library_or_stop()
    sources = sources_or_stop()
    library = sources.library
    threshold = st.slider(
        "How alike",
        min_value=0.1,
        max_value=1.0,
        value=DEFAULT_THRESHOLD,
        step=0.05,
        key="dup_threshold",
        help="The share of their word sequences two documents have in common (Jaccard of word 3-grams).",
    )
    try:
        visible = view.documents()
        names = {r.doc_id: r.source for r in visible}
        copies = {doc_id: paths for doc_id, paths in sources.copies().items() if doc_id in names}
        pairs = near_duplicates(library, threshold=threshold, documents=visible)
        hidden = library.hidden_ids() & names.keys()
    except SearchAppError as exc:
        show_error(exc)
        return
    st.subheader("Same content at several paths", anchor=False)
    if not copies:
        st.caption("Every synced file holds content of its own.")
    for doc_id, paths in copies.items():
        st.markdown(
            f"**{escape_markdown(names.get(doc_id, paths[0]))}** is also at: "
            + ", ".join(one_line(p) for p in paths if p != names.get(doc_id))
        )
    st.subheader("Near-duplicates", anchor=False)
    if not pairs:
        st.caption("No two documents are that alike.")
    for number, pair in enumerate(pairs):
        with st.container(border=True, key=f"pair_{number}"):
            st.markdown(f"**{pair.similarity:.0%} alike**")
            for side, record in (("a", pair.first), ("b", pair.second)):
                _version(library, record, record.doc_id in hidden, key=f"{number}_{side}")
    if hidden:
        st.caption(f"{len(hidden)} document(s) hidden from search.")


def _version(library: Library, record: DocumentRecord, hidden: bool, *, key: str) -> None:
    with st.container(horizontal=True, gap="small", vertical_alignment="center"):
        size, when = format_size(record.size), format_time(record.ingested_at)
        label = f"{escape_markdown(record.source)} · {size} · {when}"
        st.markdown(label + (" · *hidden from search*" if hidden else ""))
        if hidden:
            if st.button("Show in search", key=f"unhide_{key}", icon=":material/visibility:"):
                _toggle(library, record, hide=False)
        elif st.button("Hide from search", key=f"hide_{key}", icon=":material/visibility_off:"):
            _toggle(library, record, hide=True)


def _toggle(library: Library, record: DocumentRecord, *, hide: bool) -> None:
    try:
        library.hide(record.doc_id) if hide else library.unhide(record.doc_id)
    except SearchAppError as exc:
        show_error(exc)
        return
    st.rerun()


if __name__ == "__main__":  # run as a page by st.navigation (ui/nav.py)
    render()
