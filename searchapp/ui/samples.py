"""'Try it with sample documents': the bundled public-domain samples, one click away."""

from __future__ import annotations

import streamlit as st

from searchapp.ingest.types import SourceFile
from searchapp.samples import SAMPLE_FILES, SAMPLE_TAG, sample_paths
from searchapp.ui.context import caller_or_stop, ingestor_or_stop
from searchapp.ui.feedback import show_error
from searchapp.ui.progress import IngestProgress

FLASH_KEY = "samples_flash"


def offer_samples(key: str) -> None:
    """The button, and the ingest it starts (the page reruns when it is done)."""
    clicked = st.button(
        "Try it with sample documents",
        type="primary",
        icon=":material/auto_stories:",
        key=key,
        help=f"Adds {len(SAMPLE_FILES)} short public-domain documents (the U.S. Constitution as a PDF, "
        "a chapter on the orchestra as text, two chapters on mathematics as a web page), "
        f"tagged '{SAMPLE_TAG}', so you can try searching right away. Delete them any time.",
    )
    if clicked:
        load_samples()


def load_samples() -> None:
    shared = ingestor_or_stop()
    files = [SourceFile(path.name, data=path.read_bytes(), tags=(SAMPLE_TAG,)) for path in sample_paths()]
    progress = IngestProgress([f.source for f in files], label="Adding the sample documents…")
    try:
        report = shared.ingest(files, progress=progress, visibility=caller_or_stop().membership.visibility)
    except Exception as exc:  # the status box must not stay "running"
        progress.status.update(label="Adding the samples stopped", state="error", expanded=True)
        show_error(exc)
        return
    progress.raise_deferred()
    progress.finish(report)
    if report.failed:
        st.error("Some samples could not be added: " + "; ".join(o.message for o in report.failed))
        return
    st.session_state[FLASH_KEY] = report.summary()
    st.rerun()


def samples_flash() -> None:
    """After the rerun: say what was added (once)."""
    summary = st.session_state.pop(FLASH_KEY, None)
    if summary:
        st.success(
            f"**Sample documents added** ({summary}). Ask a question below, or pick an example.",
            icon=":material/auto_stories:",
        )
