"""The model, its versions, the running job and the "no good match" notice's measured precision."""

from __future__ import annotations

import time

import streamlit as st

from searchapp.errors import SearchAppError
from searchapp.feedback.calibration import last_calibration
from searchapp.ingest.model_use import describe_models
from searchapp.library import Library
from searchapp.retrieval.scoring import fitted_for
from searchapp.ui import jobs
from searchapp.ui.feedback import show_error
from searchapp.ui.render import escape_markdown
from searchapp.ui.resources import settings_key


def notice_precision(library: Library) -> str:
    """One line on how precise the notice is on this library's own feedback (held out)."""
    try:
        record = last_calibration(library)
    except SearchAppError:
        return "not measured (the calibration record cannot be read)"
    if not record:
        return (
            "not measured on this library yet: record 👍 and 'None of these are right' on searches, then "
            "calibrate (Tune page, or `searchapp feedback calibrate`). Defaults: precision 0.93 on nine "
            "evaluation sets (docs/quality.md)."
        )
    if not fitted_for(record, library.embedder.info.name):
        return (
            f"not measured for the live model: the last calibration was made with {record['model']}, so "
            "the default thresholds hold; calibrate again (Tune page, or `searchapp feedback calibrate`)"
        )
    live = record["calibrated"] if record.get("kept") else record["default"]
    which = "calibrated thresholds" if record.get("kept") else "default thresholds"
    precision = live.get("precision")
    shown = "-" if precision is None else f"{precision:.2f}"
    recall = live.get("recall")
    when = time.strftime("%Y-%m-%d", time.localtime(float(record.get("at", 0))))
    return (
        f"precision {shown} ({live['bad_flagged']} of {live['bad_flagged'] + live['good_flagged']} "
        "notices right), "
        f"recall {'-' if recall is None else f'{recall:.2f}'}, on {record['heldout_queries']} held-out "
        f"queries with feedback; {which}, measured {when}"
    )


def render_models(library: Library) -> None:
    """The versions table, and the job running for this library (if any)."""
    try:
        rows = describe_models(library)
    except SearchAppError as exc:
        show_error(exc)
        return
    lines = []
    for row in rows:
        gain = ""
        for mode in (row.get("heldout") or {}).get("modes", []):
            if mode["mode"] == library.settings.search_mode:
                gain = f" · held-out nDCG@10 {mode['base_ndcg10']:.3f} → {mode['tuned_ndcg10']:.3f}"
        state = " **(live)**" if row["live"] else " (before the last switch)" if row["previous"] else ""
        lines.append(f"- `{escape_markdown(row['version'])}`{state}{escape_markdown(gain)}")
    st.markdown("\n".join(lines))
    render_job(library)


def render_job(library: Library) -> None:
    job = jobs.current(settings_key(library.settings))
    if job is None:
        return
    if not job.finished:
        st.progress(job.done, text=f"{job.kind}: {job.notes[-1] if job.notes else 'starting'}")
    elif job.error:
        st.error(f"{job.kind} failed: {escape_markdown(job.error)}", icon=":material/error:")
    else:
        st.success(f"{job.kind} finished: {escape_markdown(job.notes[-1] if job.notes else '')}")
    with st.expander("What it did", icon=":material/list:"):
        st.code("\n".join(job.notes[-40:]) or "…", language=None)
