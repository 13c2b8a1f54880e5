"""Visible ingest progress: an `st.status` box with one bar for the batch and one per file.

The ingest pipeline calls `IngestProgress` on the script thread with a `Progress`
event at each stage of each file, so the bars can be updated directly.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import streamlit as st
from streamlit.runtime.scriptrunner import RerunException, StopException

from searchapp.ingest.types import IngestReport
from searchapp.progress import Progress
from searchapp.ui.render import one_line

STAGE_LABELS = {
    "read": "reading",
    "extract": "extracting text",
    "embed": "embedding passages",
    "write": "saving to the library",
    "index": "updating the keyword index",
    "done": "done",
}
# Where a file's bar stands when it reaches a stage (embedding is the slow part).
STAGE_FRACTIONS = {"read": 0.05, "extract": 0.2, "embed": 0.45, "write": 0.85, "done": 1.0}


def stage_fraction(event: Progress) -> float:
    return STAGE_FRACTIONS.get(event.stage, 0.0)


def batch_text(event: Progress) -> str:
    text = f"{event.files_done} of {event.files_total} files done"
    if event.chunks_total:
        text += f" · {event.chunks_embedded} of {event.chunks_total} passages embedded"
    return text


class IngestProgress:
    """Progress callback drawing into an `st.status` container.

    A click elsewhere during ingestion makes Streamlit raise a rerun (or stop) from the
    next UI update, here inside the pipeline. The batch is finished first instead: the
    request is kept and re-raised by `raise_deferred` once the outcomes are saved.
    """

    def __init__(self, names: Sequence[str], *, label: str) -> None:
        self.status: Any = st.status(label, expanded=True)
        with self.status:
            self.batch = st.progress(0.0, text=f"0 of {len(names)} files done")
            self.files = {name: st.progress(0.0, text=f"{one_line(name)} · waiting") for name in names}
        self.events = 0
        self.deferred: RerunException | StopException | None = None

    def __call__(self, event: Progress) -> None:
        self.events += 1
        if self.deferred is not None:
            return
        try:
            self._draw(event)
        except (RerunException, StopException) as request:
            self.deferred = request

    def raise_deferred(self) -> None:
        """Carry out a rerun or stop that arrived while the batch was running."""
        if self.deferred is not None:
            raise self.deferred

    def _draw(self, event: Progress) -> None:
        if event.stage == "index":  # once per batch, after every file is stored
            self.batch.progress(1.0, text=f"{batch_text(event)} · {STAGE_LABELS['index']}")
            return
        if event.files_total:
            self.batch.progress(event.files_done / event.files_total, text=batch_text(event))
        bar = self.files.get(event.source)
        if bar is None:
            return
        label = event.message if event.stage == "done" and event.message else STAGE_LABELS[event.stage]
        bar.progress(stage_fraction(event), text=f"{one_line(event.source)} · {one_line(label)}")

    def finish(self, report: IngestReport) -> None:
        failed = len(report.failed)
        label = f"Done: {report.summary()}"
        self.status.update(label=label, state="error" if failed else "complete", expanded=False)
