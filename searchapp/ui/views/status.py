"""The Status page: which model, device, collection and store this app is using."""

from __future__ import annotations

import streamlit as st

from searchapp.errors import SearchAppError
from searchapp.health import HealthReport, check_library
from searchapp.library import Library
from searchapp.ui.auth import auth_enabled
from searchapp.ui.context import caller_or_stop
from searchapp.ui.feedback import show_error
from searchapp.ui.groups import visibility_label
from searchapp.ui.model_panel import notice_precision, render_models
from searchapp.ui.render import escape_markdown, format_size

REPAIR_ADVICE = {
    "resume": "Interrupted ingests are finished by the next upload, or by `searchapp doctor --repair`.",
    "reindex": "Rebuild the index from the kept originals: stop the app (it holds the data directory), "
    "then run `searchapp doctor --repair` (or `searchapp reindex`) and start it again.",
}

MODE_LABELS = {"local": "Local (embedded Chroma, this process only)", "server": "Server (Chroma over HTTP)"}


def render() -> None:
    st.title("Status", anchor=False)
    caller = caller_or_stop()
    library = caller.view
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
        ("You see", visibility_label(caller.membership.visibility)),
    ]
    if stats.pending:
        rows.append(("Interrupted ingests", f"{stats.pending}; the next upload finishes them"))
    rows.append(("'No good match' notice", notice_precision(caller.library)))
    st.markdown("\n".join(f"- **{label}:** {escape_markdown(str(value))}" for label, value in rows))
    st.subheader("Model versions", anchor=False)
    render_models(caller.library)
    if caller.membership.visibility is None:  # it counts every document, hidden ones too
        render_health(caller.library)
    else:
        st.caption("The health check counts every document, so it is for administrators; ask one.")


def render_health(library: Library) -> None:
    """The same check as `searchapp doctor`, in-process on the index this app has open."""
    st.subheader("Health", anchor=False)
    st.caption(
        "Samples stored vectors and checks that each one finds itself, compares the chunk count "
        "with the document catalog, and looks for interrupted ingests and missing originals."
    )
    if st.button("Run health check", icon=":material/health_and_safety:", key="health_check"):
        try:
            with st.spinner("Checking the index..."):
                st.session_state["health_report"] = check_library(library)
        except SearchAppError as exc:
            show_error(exc)
            return
    report = st.session_state.get("health_report")
    if isinstance(report, HealthReport):
        show_health(report)


def show_health(report: HealthReport) -> None:
    lines = [
        f"- {':green[ok]' if check.ok else ':red[problem]'} **{escape_markdown(check.name)}:** "
        f"{escape_markdown(check.detail)}"
        for check in report.checks
    ]
    st.markdown("\n".join(lines))
    for note in report.notes:
        st.info(escape_markdown(note), icon=":material/info:")
    if report.ok:
        st.success(f"Healthy: {report.documents} documents, {report.chunks} chunks.", icon=":material/check:")
    else:
        advice = REPAIR_ADVICE.get(report.repair, "See `searchapp doctor` for details.")
        st.error(f"The index needs attention. {advice}", icon=":material/build:")


if __name__ == "__main__":  # run as a page by st.navigation (ui/nav.py)
    render()
