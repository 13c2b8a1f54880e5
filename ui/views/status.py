"""The Status page: which model, device, collection and store this app is using."""

from __future__ import annotations

import streamlit as st

from searchapp.errors import SearchAppError
from ui.auth import auth_enabled
from ui.context import library_or_stop
from ui.feedback import show_error
from ui.render import escape_markdown, format_size

MODE_LABELS = {"local": "Local (embedded Chroma, this process only)", "server": "Server (Chroma over HTTP)"}


def render() -> None:
    st.title("Status", anchor=False)
    library = library_or_stop()
    try:
        stats = library.stats()
    except SearchAppError as exc:
        show_error(exc)
        return

    columns = st.columns(4)
    columns[0].metric("Documents", stats.documents)
    columns[1].metric("Chunks", stats.chunks)
    columns[2].metric("Originals", format_size(stats.originals_bytes))
    columns[3].metric("Device", stats.device)

    settings = library.settings
    rows = [
        ("Model", f"{stats.model} ({stats.dimension} dimensions)"),
        ("Device", stats.device),
        ("Collection", stats.collection),
        ("Mode", MODE_LABELS.get(stats.mode, stats.mode)),
        ("Store", stats.location),
        ("Data directory", stats.data_dir),
        ("Search modes", ", ".join(library.search_modes)),
        ("Chunks", f"{settings.chunk_tokens} tokens, {settings.chunk_overlap} overlap"),
        ("Largest upload", f"{min(settings.max_file_mb, int(st.get_option('server.maxUploadSize')))} MB"),
        ("Sign-in", "required (OIDC)" if auth_enabled() else "off: anyone who can reach this app can use it"),
    ]
    if stats.pending:
        rows.append(("Interrupted ingests", f"{stats.pending}; the next upload finishes them"))
    st.markdown("\n".join(f"- **{label}:** {escape_markdown(str(value))}" for label, value in rows))
