"""The Library page: every document in a table, and what can be done to one of them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import streamlit as st

from searchapp.errors import SearchAppError
from searchapp.ingest.types import FileOutcome
from searchapp.library.view import LibraryView
from searchapp.types import DocumentRecord
from searchapp.ui import failed_uploads
from searchapp.ui.cards import download_original
from searchapp.ui.context import ingestor_or_stop, library_or_stop, sources_or_stop
from searchapp.ui.feedback import show_error
from searchapp.ui.filters_panel import TYPE_LABELS
from searchapp.ui.groups import can_choose, groups_input, groups_label
from searchapp.ui.nav import UPLOAD_PAGE
from searchapp.ui.outcomes import show_summary
from searchapp.ui.progress import IngestProgress
from searchapp.ui.render import escape_markdown, format_size, format_time, one_line, parse_tags, tags_label
from searchapp.ui.samples import offer_samples

FLASH_KEY = "library_flash"  # what the last action did, shown after its rerun
CONFIRM_KEY = "library_confirm_delete"  # doc_id waiting for "Yes, delete"


def render() -> None:
    st.title("Library", anchor=False)
    library = library_or_stop()
    _flash()
    try:
        records = library.documents()
        pending = library.pending_documents()
    except SearchAppError as exc:
        show_error(exc)
        return
    if pending:
        st.warning(
            f"{len(pending)} document(s) were interrupted while being indexed; "
            "the next upload finishes them.",
            icon=":material/pending:",
        )
    if not records:
        st.info("No documents yet. Upload some to build your library.", icon=":material/folder_open:")
        with st.container(horizontal=True, gap="small", vertical_alignment="center"):
            st.page_link(UPLOAD_PAGE, label="Upload documents", icon=":material/upload:")
            offer_samples(key="samples_library")
        failed_uploads.panel("library")
        return

    chunks = sum(r.chunks for r in records)
    size = sum(r.size for r in records)
    documents = f"{len(records)} document{'s' if len(records) != 1 else ''}"
    st.caption(f"{documents} · {chunks} chunks · {format_size(size)} of originals")
    needle = st.text_input("Find a document", key="library_find", placeholder="part of a name or a tag")
    shown = [r for r in records if _matches(r, needle)]
    st.dataframe(table_rows(shown), hide_index=True, column_config=_COLUMNS, key="library_table")

    st.subheader("Manage a document", anchor=False)
    choices = {r.doc_id: r for r in shown}
    if not choices:
        st.caption("No document matches.")
        failed_uploads.panel("library")
        return
    doc_id = st.selectbox(
        "Document",
        options=list(choices),
        format_func=lambda d: choices[d].source,
        key="library_doc",
    )
    if doc_id is not None:
        _manage(library, choices[doc_id])
    failed_uploads.panel("library")


def _matches(record: DocumentRecord, needle: str) -> bool:
    needle = needle.strip().casefold()
    if not needle:
        return True
    return needle in record.source.casefold() or any(needle in t.casefold() for t in record.tags)


def table_rows(records: Sequence[DocumentRecord]) -> list[dict[str, Any]]:
    """One row per document, for `st.dataframe` (which shows text literally)."""
    return [
        {
            "Name": r.source,
            "Type": TYPE_LABELS.get(r.file_type, r.file_type),
            "Pages": str(r.pages) if r.pages else "—",  # no pages: Markdown, HTML, text, Word
            "Chunks": r.chunks,
            "Size": format_size(r.size),
            "Tags": list(r.tags),
            "Visible to": list(r.groups) or ["everyone"],
            "Ingested": dt.datetime.fromtimestamp(r.ingested_at) if r.ingested_at else None,
        }
        for r in records
    ]


_COLUMNS: dict[str, Any] = {
    "Name": st.column_config.TextColumn("Name", width="large"),
    "Pages": st.column_config.TextColumn("Pages", help="Only PDFs have pages."),
    "Chunks": st.column_config.NumberColumn("Chunks", format="%d"),
    "Tags": st.column_config.ListColumn("Tags"),
    "Visible to": st.column_config.ListColumn("Visible to", help="The groups that may see it."),
    "Ingested": st.column_config.DatetimeColumn("Ingested", format="YYYY-MM-DD HH:mm"),
}


def _manage(library: LibraryView, record: DocumentRecord) -> None:
    details = [
        TYPE_LABELS.get(record.file_type, record.file_type),
        f"{record.pages} pages" if record.pages else "",
        f"{record.chunks} chunks",
        format_size(record.size),
        f"ingested {format_time(record.ingested_at)}",
        f"id {record.doc_id[:12]}",
    ]
    st.markdown(f"**{one_line(record.source)}** · " + " · ".join(d for d in details if d))
    if record.tags:
        st.caption(f"Tags: {tags_label(record.tags)}")
    st.caption(f"Visible to {groups_label(record.groups)}")
    _locations(record)
    for warning in record.warnings:
        st.warning(one_line(warning), icon=":material/warning:")

    with st.container(horizontal=True, gap="small"):
        download_original(
            library, record.doc_id, record.source, record.file_type, key=f"library_download_{record.doc_id}"
        )
        reingest = st.button(
            "Re-ingest",
            key="library_reingest",
            icon=":material/refresh:",
            help="Extract, split and embed it again from the kept original "
            "(after a change of settings or model).",
        )
        if st.button("Delete…", key="library_delete", icon=":material/delete:"):
            st.session_state[CONFIRM_KEY] = record.doc_id
    if reingest:
        _reingest(record)
    if st.session_state.get(CONFIRM_KEY) == record.doc_id:
        _confirm_delete(library, record)
    _edit_tags(library, record)
    _edit_groups(library, record)


def _locations(record: DocumentRecord) -> None:
    """Where else a synced document's content is, and whether it is hidden from search (the
    caller sees this document, so its other paths, which are the same document, too)."""
    try:
        sources = sources_or_stop()
        others = [p for p in sources.locations(record.doc_id) if p != record.source]
        hidden = record.doc_id in sources.library.hidden_ids()
    except SearchAppError as exc:
        show_error(exc)
        return
    if others:
        st.caption("Also at: " + ", ".join(one_line(p) for p in others))
    if hidden:
        st.caption("Hidden from search (see the Duplicates page).")


def _confirm_delete(library: LibraryView, record: DocumentRecord) -> None:
    try:  # a synced file still holding it brings it back at the next sync: say so first
        returns = sources_or_stop().returns_after_delete(record.doc_id)
    except SearchAppError:
        returns = ""
    with st.container(border=True):
        st.warning(
            f"Delete **{one_line(record.source)}**? Its {record.chunks} chunks and its kept original are "
            "removed; searches will no longer find it. This cannot be undone."
            + (f"\n\n**It will come back:** {escape_markdown(returns)}" if returns else ""),
            icon=":material/delete_forever:",
        )
        with st.container(horizontal=True, gap="small"):
            confirmed = st.button("Yes, delete it", type="primary", key="library_delete_yes")
            cancelled = st.button("Cancel", key="library_delete_no")
    if cancelled:
        st.session_state.pop(CONFIRM_KEY, None)
        st.rerun()
    if confirmed:
        st.session_state.pop(CONFIRM_KEY, None)
        try:
            library.delete(record.doc_id)
        except SearchAppError as exc:
            show_error(exc)
            return
        st.session_state[FLASH_KEY] = ("deleted", record.source)
        st.rerun()


def _reingest(record: DocumentRecord) -> None:
    shared = ingestor_or_stop()
    progress = IngestProgress([record.source], label=f"Re-ingesting {record.source}…")
    try:
        report = shared.reingest([record.doc_id], progress=progress)
    except Exception as exc:  # the status box must not stay "running"
        progress.status.update(label="Re-ingest stopped", state="error")
        show_error(exc)
        return
    st.session_state[FLASH_KEY] = ("reingested", list(report.outcomes))
    progress.raise_deferred()
    progress.finish(report)
    st.rerun()


def _edit_tags(library: LibraryView, record: DocumentRecord) -> None:
    with st.form(key="library_tags_form", border=False):
        text = st.text_input(
            "Tags",
            value=", ".join(record.tags),
            key=f"library_tags_{record.doc_id}",
            help="Comma-separated; saved on the document and on every one of its chunks.",
        )
        if st.form_submit_button("Save tags", icon=":material/sell:"):
            try:
                library.update_tags(record.doc_id, parse_tags(text))
            except SearchAppError as exc:
                show_error(exc)
                return
            st.session_state[FLASH_KEY] = ("tagged", record.source)
            st.rerun()


def _edit_groups(library: LibraryView, record: DocumentRecord) -> None:
    if not can_choose(library.visibility, record.groups):
        return  # a signed-in user without groups can only leave it open to everyone
    with st.form(key="library_groups_form", border=False):
        chosen = groups_input(
            "Visible to groups",
            library.visibility,
            current=record.groups,
            key=f"library_groups_{record.doc_id}",
            help_text="Only members of these groups see the document in searches, lists and links; "
            "empty: everyone in this library.",
        )
        if st.form_submit_button("Save groups", icon=":material/group:"):
            try:
                library.update_groups(record.doc_id, chosen or ())
            except SearchAppError as exc:
                show_error(exc)
                return
            st.session_state[FLASH_KEY] = ("grouped", record.source)
            st.rerun()


def _flash() -> None:
    flash = st.session_state.pop(FLASH_KEY, None)
    if flash is None:
        return
    kind, value = flash
    if kind == "deleted":
        st.success(f"Deleted **{one_line(value)}**.", icon=":material/delete:")
    elif kind == "tagged":
        st.success(f"Saved the tags of **{one_line(value)}**.", icon=":material/sell:")
    elif kind == "grouped":
        st.success(f"Saved who may see **{one_line(value)}**.", icon=":material/group:")
    elif kind == "reingested":
        outcomes: list[FileOutcome] = value
        show_summary(outcomes)


if __name__ == "__main__":  # run as a page by st.navigation (ui/nav.py)
    render()
