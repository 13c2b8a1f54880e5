"""The Upload page: several files at once, optional tags, live progress, a summary.

`st.file_uploader` hands back the same files on every rerun, so each file's key (name,
size, content hash) is remembered in the session with its outcome; only files not
seen before are ingested. Ingestion runs in this process, through the one shared
`Ingestor`, so only this process ever writes to the store. Files that fail are kept
for the session (`ui.failed_uploads`): an encrypted PDF asks for its password here and
on the Library page.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import streamlit as st

from searchapp.access import Visibility
from searchapp.ingest.pipeline import Ingestor
from searchapp.ingest.text import display_name
from searchapp.ingest.types import FileOutcome, SourceFile
from searchapp.ui import failed_uploads
from searchapp.ui.context import caller_or_stop, ingestor_or_stop
from searchapp.ui.feedback import show_error
from searchapp.ui.groups import groups_input
from searchapp.ui.nav import SEARCH_PAGE
from searchapp.ui.outcomes import LAST_KEY, SEEN_KEY, show_summary, upload_key
from searchapp.ui.progress import IngestProgress
from searchapp.ui.render import parse_tags

ACCEPTED_TYPES = ["pdf", "docx", "txt", "md", "markdown", "html", "htm"]
HASHES_KEY = "upload_hashes"  # uploader file id -> upload key (hash each upload once)


def render() -> None:
    st.title("Upload", anchor=False)
    st.caption(
        "Add PDF, Word (DOCX), text, Markdown or HTML files. Each file is split into passages and "
        "indexed, so you can search it by meaning. Uploading the same file again is instant."
    )
    caller = caller_or_stop()
    library = caller.view
    shared = ingestor_or_stop()

    tags_text = st.text_input(
        "Tags (optional)",
        key="upload_tags",
        placeholder="e.g. handbook, 2026",
        help="Comma-separated. They are added to the files you upload next, and you can filter by them.",
    )
    groups = groups_input(
        "Visible to groups (optional)",
        library.visibility,
        key="upload_groups",
        help_text="Only members of these groups will see the files you upload next; empty: everyone "
        "in this library. You can change it later on the Library page.",
    )
    uploads = st.file_uploader(
        "Documents",
        type=ACCEPTED_TYPES,
        accept_multiple_files=True,
        key="uploads",
        # The server enforces its own limit too; never promise more than it accepts.
        max_upload_size=min(library.settings.max_file_mb, int(st.get_option("server.maxUploadSize"))),
        help="Drop several files at once. Files already indexed in this session are not processed again.",
    )
    new = _new_files(uploads or [])
    if new:
        _ingest(shared, new, parse_tags(tags_text), groups or (), library.visibility)

    last: list[FileOutcome] = st.session_state.get(LAST_KEY, [])
    if last:
        show_summary(last)
        if any(o.status in ("ingested", "unchanged") for o in last):
            st.page_link(SEARCH_PAGE, label="Search your documents", icon=":material/search:")
    failed_uploads.panel("upload")
    _history()


def _new_files(uploads: Sequence[Any]) -> list[tuple[str, str, bytes]]:
    """(key, display name, bytes) for each upload not yet ingested in this session."""
    seen: dict[str, FileOutcome] = st.session_state.setdefault(SEEN_KEY, {})
    hashes: dict[str, str] = st.session_state.setdefault(HASHES_KEY, {})
    new: list[tuple[str, str, bytes]] = []
    for upload in uploads:
        data: bytes = upload.getvalue()
        name = display_name(upload.name)
        key = hashes.get(upload.file_id) or upload_key(name, data)
        hashes[upload.file_id] = key
        if key not in seen and all(key != k for k, _, _ in new):
            new.append((key, name, data))
    return new


def _ingest(
    shared: Ingestor,
    new: list[tuple[str, str, bytes]],
    tags: tuple[str, ...],
    groups: tuple[str, ...],
    visibility: Visibility,
) -> None:
    if shared.busy:
        st.info(
            "Another upload is being indexed; yours starts as soon as it is done.",
            icon=":material/hourglass:",
        )
    names = [name for _, name, _ in new]
    progress = IngestProgress(names, label=f"Indexing {len(new)} file{'s' if len(new) != 1 else ''}…")
    files = [SourceFile(source=name, data=data, tags=tags, groups=groups) for _, name, data in new]
    try:
        report = shared.ingest(files, progress=progress, visibility=visibility)
    except Exception as exc:  # the status box must not stay "running"
        progress.status.update(label="Indexing stopped", state="error", expanded=True)
        show_error(exc)
        return
    # The report starts with any document a crash had left half-ingested; ours come last.
    outcomes = list(report.outcomes[-len(files) :])
    seen: dict[str, FileOutcome] = st.session_state[SEEN_KEY]
    for (key, _, _), outcome in zip(new, outcomes, strict=True):
        seen[key] = outcome
    st.session_state[LAST_KEY] = outcomes
    failed_uploads.remember(new, outcomes, tags, groups)
    progress.raise_deferred()
    progress.finish(report)
    if report.ingested:
        count, chunks = len(report.ingested), report.chunks_written
        file_count = f"{count} file{'s' if count != 1 else ''}"
        message = f"Indexed {chunks} chunk{'s' if chunks != 1 else ''} from {file_count}"
        st.toast(message, icon=":material/check_circle:")


def _history() -> None:
    seen: dict[str, FileOutcome] = st.session_state.get(SEEN_KEY, {})
    last = st.session_state.get(LAST_KEY, [])
    if len(seen) <= len(last):
        return
    with st.expander(f"All uploads in this session ({len(seen)})", icon=":material/history:"):
        show_summary(list(seen.values()))


if __name__ == "__main__":  # run as a page by st.navigation (ui/nav.py)
    render()
