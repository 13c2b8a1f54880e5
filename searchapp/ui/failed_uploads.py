"""Uploads that failed, kept for this session until dismissed, with a retry.

An encrypted PDF gets a password field: the password goes to the ingest of that one file
and nowhere else (not the session state once the form clears, not the logs, not the
library). Other failures get a plain retry, which helps after a setting changed or the
disk was freed. The files' bytes stay in this session's memory until retried or dismissed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import streamlit as st

from searchapp.errors import FailureReason
from searchapp.ingest.types import FileOutcome, SourceFile
from searchapp.ui.context import caller_or_stop, ingestor_or_stop
from searchapp.ui.feedback import show_error
from searchapp.ui.outcomes import record_retry, show_summary
from searchapp.ui.progress import IngestProgress
from searchapp.ui.render import format_size, one_line

STORE_KEY = "failed_uploads"  # upload key -> FailedUpload
FLASH_KEY = "failed_uploads_flash"


@dataclass(frozen=True, slots=True)
class FailedUpload:
    key: str
    name: str
    data: bytes = field(repr=False)
    tags: tuple[str, ...]
    outcome: FileOutcome
    groups: tuple[str, ...] = ()

    @property
    def needs_password(self) -> bool:
        return self.outcome.reason is FailureReason.PASSWORD_PROTECTED


def _store() -> dict[str, FailedUpload]:
    store: dict[str, FailedUpload] = st.session_state.setdefault(STORE_KEY, {})
    return store


def remember(
    files: Sequence[tuple[str, str, bytes]],
    outcomes: Sequence[FileOutcome],
    tags: tuple[str, ...],
    groups: tuple[str, ...] = (),
) -> None:
    """Keep the failed ones of a batch; forget earlier failures of files that now went in."""
    store = _store()
    for (key, name, data), outcome in zip(files, outcomes, strict=True):
        if outcome.status == "failed":
            store[key] = FailedUpload(key, name, data, tags, outcome, groups)
        else:
            store.pop(key, None)


def failed() -> list[FailedUpload]:
    return list(_store().values())


def dismiss(key: str) -> None:
    _store().pop(key, None)


def panel(where: str) -> None:
    """Every kept failure with its reason, a retry (a password field for encrypted PDFs) and Dismiss.

    `where` keeps widget keys apart when two pages draw the panel.
    """
    flash = st.session_state.pop(FLASH_KEY, None)
    if flash:
        outcomes, in_batch_summary = flash
        if not (where == "upload" and in_batch_summary):  # that summary shows it already
            show_summary(outcomes)
    items = failed()
    if not items:
        return
    st.subheader("Failed uploads", anchor=False)
    st.caption("Kept for this session until you dismiss them. Nothing of them was stored in the library.")
    for item in items:
        with st.container(border=True, key=f"{where}-failed-{_slug(item.key)}"):
            reason = item.outcome.reason.label if item.outcome.reason else "failed"
            st.markdown(
                f"**{one_line(item.name)}** · {format_size(len(item.data))} · :red[{one_line(reason)}]"
                + (f": {one_line(item.outcome.detail)}" if item.outcome.detail else "")
            )
            if item.needs_password:
                _password_form(item, where)
            else:
                if st.button("Retry", key=f"{where}-retry-{_slug(item.key)}", icon=":material/refresh:"):
                    _retry(item, password="")
            st.button(
                "Dismiss",
                key=f"{where}-dismiss-{_slug(item.key)}",
                on_click=dismiss,
                args=(item.key,),
                icon=":material/close:",
                type="tertiary",
            )


def _password_form(item: FailedUpload, where: str) -> None:
    with st.form(key=f"{where}-pwform-{_slug(item.key)}", clear_on_submit=True, border=False):
        password = st.text_input(
            f"Password for {item.name}",
            type="password",
            key=f"{where}-pw-{_slug(item.key)}",
            placeholder="The password that opens this PDF",
            help="Used once to read the file, then forgotten: it is never stored or logged.",
            autocomplete="off",
        )
        submitted = st.form_submit_button("Unlock and index", icon=":material/lock_open:", type="primary")
    if submitted:
        if not password:
            st.warning("Type the password first.", icon=":material/key:")
            return
        _retry(item, password=password)


def _retry(item: FailedUpload, *, password: str) -> None:
    shared = ingestor_or_stop()
    progress = IngestProgress([item.name], label=f"Indexing {item.name}…")
    file = SourceFile(source=item.name, data=item.data, tags=item.tags, password=password, groups=item.groups)
    try:
        report = shared.ingest([file], progress=progress, visibility=caller_or_stop().membership.visibility)
    except Exception as exc:  # the status box must not stay "running"
        progress.status.update(label="Indexing stopped", state="error", expanded=True)
        show_error(exc)
        return
    outcome = report.outcomes[-1]
    if outcome.status == "failed":
        _store()[item.key] = FailedUpload(item.key, item.name, item.data, item.tags, outcome, item.groups)
    else:
        dismiss(item.key)
    st.session_state[FLASH_KEY] = ([outcome], record_retry(item.key, outcome))
    progress.raise_deferred()
    progress.finish(report)
    st.rerun()


def _slug(key: str) -> str:
    """A widget-key-safe, short, stable form of an upload key."""
    import hashlib

    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:16]
