"""The Tune page: feedback so far, tuning a model on it, and switching model versions.

Tuning and switching run in the background (`ui/jobs.py`), so searches go on; a tuned
model is kept only if it passes the gate (held-out gain, general check set), and using it
re-embeds the library beside the live index before an atomic swap.

With sign-in and teams, the page is for callers who see every document (no sign-in, or an
admin): tuning reads every passage's feedback and changes the model for the whole team.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import streamlit as st

from searchapp.errors import SearchAppError
from searchapp.feedback import FeedbackLog
from searchapp.feedback.calibration import calibrate
from searchapp.ingest.model_use import rollback, use_model
from searchapp.library import Library
from searchapp.tuning.run import TuneRequest, tune
from searchapp.ui import jobs
from searchapp.ui.context import caller_or_stop
from searchapp.ui.feedback import show_error
from searchapp.ui.model_panel import notice_precision, render_job, render_models
from searchapp.ui.render import escape_markdown
from searchapp.ui.resources import settings_key


def render() -> None:
    st.title("Tune", anchor=False)
    caller = caller_or_stop()
    if caller.membership.visibility is not None:
        st.info(
            "Tuning learns from every document's feedback and changes the model for the whole team, "
            "so it is for administrators; ask one.",
            icon=":material/admin_panel_settings:",
        )
        return
    library = caller.library
    try:
        items = FeedbackLog.of(library).list()
    except SearchAppError as exc:
        show_error(exc)
        return
    counts = {v: sum(1 for i in items if i.verdict == v) for v in ("good", "bad", "none")}
    columns = st.columns(3)
    columns[0].metric("👍 passages", counts["good"])
    columns[1].metric("👎 passages", counts["bad"])
    columns[2].metric("None right", counts["none"])
    st.caption(
        "Feedback never reorders results by itself. Tuning learns from it, and keeps a model only if "
        "it ranks held-out queries better (default mode nDCG@10 +0.01) without getting worse on a "
        "general check set (at most -0.005). Tuning takes minutes on a CPU (a GPU is used when there is one)."
    )
    _tune_form(library)
    st.subheader("Model versions", anchor=False)
    _live_panel(library)
    st.subheader("'No good match' notice", anchor=False)
    st.markdown(escape_markdown(notice_precision(library)))
    if st.button("Calibrate from feedback", key="calibrate", icon=":material/tune:"):
        try:
            result = calibrate(library)
        except SearchAppError as exc:
            show_error(exc)
            return
        if result.kept:
            st.success("Calibrated thresholds kept: they separate good from bad matches better held out.")
        else:
            st.info("Kept the defaults: " + escape_markdown("; ".join(result.reasons)))


def _tune_form(library: Library) -> None:
    with st.form("tune", border=True):
        st.markdown("**Train on**")
        use_feedback = st.checkbox("Feedback (👍 passages, with 👎 as negatives)", value=True)
        use_structure = st.checkbox("Titles and headings (no labels needed)")
        labels = st.file_uploader(
            "Labelled queries: BEIR qrels (.tsv) or CSV of query, document|passage", type=["tsv", "csv"]
        )
        queries = st.file_uploader("queries.jsonl (for qrels)", type=["jsonl"])
        submitted = st.form_submit_button("Tune", icon=":material/model_training:")
    if not submitted:
        return
    sources = [name for name, on in (("feedback", use_feedback), ("structure", use_structure)) if on]
    folder = Path(tempfile.mkdtemp(prefix="searchapp-labels-"))
    label_path = query_path = None
    if labels is not None:
        label_path = folder / labels.name
        label_path.write_bytes(labels.getvalue())
        sources.append("labels")
    if queries is not None:
        query_path = folder / "queries.jsonl"
        query_path.write_bytes(queries.getvalue())
    request = TuneRequest(sources=tuple(sources), labels=label_path, queries=query_path)

    def work(job: jobs.Job) -> object:
        report = tune(library, request, note=job.note)
        job.note(
            "kept as " + report.version.version_id
            if report.version
            else "not kept: " + "; ".join(report.gate.reasons)
        )
        return report

    if jobs.start(settings_key(library.settings), "tuning", work) is None:
        st.warning("Another tuning or model switch is running for this library; wait for it to finish.")


def _live_panel(library: Library) -> None:
    render_models(library)
    with st.form("use-model", border=False):
        ref = st.text_input("Version to use ('base' for the base model)", key="use_version")
        use = st.form_submit_button("Use this version", icon=":material/swap_horiz:")
        back = st.form_submit_button("Roll back to the one before", icon=":material/undo:")
    if not (use and ref.strip()) and not back:
        return

    def work(job: jobs.Job) -> object:
        def progress(event: object) -> None:
            chunks_total = getattr(event, "chunks_total", 0)
            job.done = getattr(event, "chunks_embedded", 0) / chunks_total if chunks_total else 0.0
            job.note(f"{getattr(event, 'chunks_embedded', 0):,} of {chunks_total:,} passages re-embedded")

        report = (
            rollback(library, progress=progress)
            if back
            else use_model(library, ref.strip(), progress=progress)
        )
        job.note(report.summary())
        return report

    if jobs.start(settings_key(library.settings), "model switch", work) is None:
        st.warning("Another tuning or model switch is running for this library; wait for it to finish.")
    render_job(library)


if __name__ == "__main__":  # run as a page by st.navigation (ui/nav.py)
    render()
