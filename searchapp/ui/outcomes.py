"""The end-of-ingest summary: what was ingested (with chunk counts), unchanged, or failed."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import streamlit as st

from searchapp.ingest.types import FileOutcome
from searchapp.ui.render import one_line

SEEN_KEY = "upload_seen"  # upload key -> FileOutcome, for this session
LAST_KEY = "upload_last"  # the outcomes of the latest batch


def record_retry(key: str, outcome: FileOutcome) -> bool:
    """A retried upload's new outcome replaces its old one in this session's records.

    True when it was part of the latest batch, whose summary then shows the new outcome.
    """
    seen: dict[str, FileOutcome] = st.session_state.setdefault(SEEN_KEY, {})
    seen[key] = outcome
    last: list[FileOutcome] = st.session_state.get(LAST_KEY, [])
    for index, old in enumerate(last):
        if old.source == outcome.source and old.status == "failed":
            last[index] = outcome
            return True
    return False


def upload_key(name: str, data: bytes) -> str:
    """Identifies one uploaded file within a session: its name, size and content hash."""
    return f"{name}\x00{len(data)}\x00{hashlib.sha256(data).hexdigest()}"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def summary_lines(outcomes: Sequence[FileOutcome]) -> dict[str, list[str]]:
    """Markdown bullet lines per status (names escaped), in the order the files came."""
    lines: dict[str, list[str]] = {"ingested": [], "unchanged": [], "failed": [], "warnings": []}
    for outcome in outcomes:
        name = f"**{one_line(outcome.source)}**"
        if outcome.status == "ingested":
            lines["ingested"].append(f"- {name}: {_plural(outcome.chunks, 'chunk')}")
        elif outcome.status == "unchanged":
            detail = f" ({one_line(outcome.detail)})" if outcome.detail else ""
            lines["unchanged"].append(f"- {name}: {_plural(outcome.chunks, 'chunk')}{detail}")
        else:
            reason = outcome.reason.label if outcome.reason else "failed"
            detail = f": {one_line(outcome.detail)}" if outcome.detail else ""
            lines["failed"].append(f"- {name}: **{one_line(reason)}**{detail}")
        lines["warnings"].extend(f"- {name}: {one_line(w)}" for w in outcome.warnings)
    return lines


def show_summary(outcomes: Sequence[FileOutcome]) -> None:
    lines = summary_lines(outcomes)
    if lines["ingested"]:
        chunks = sum(o.chunks for o in outcomes if o.status == "ingested")
        st.success(
            f"**Ingested {_plural(len(lines['ingested']), 'file')}** ({_plural(chunks, 'chunk')}):\n\n"
            + "\n".join(lines["ingested"]),
            icon=":material/check_circle:",
        )
    if lines["unchanged"]:
        st.info(
            f"**Unchanged: {_plural(len(lines['unchanged']), 'file')}** already in the library:\n\n"
            + "\n".join(lines["unchanged"]),
            icon=":material/done_all:",
        )
    if lines["failed"]:
        st.error(
            f"**Failed: {_plural(len(lines['failed']), 'file')}**, nothing was stored for "
            f"{'it' if len(lines['failed']) == 1 else 'them'}:\n\n" + "\n".join(lines["failed"]),
            icon=":material/error:",
        )
    if lines["warnings"]:
        st.warning("**Warnings:**\n\n" + "\n".join(lines["warnings"]), icon=":material/warning:")
