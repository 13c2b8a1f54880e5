"""The Sources page: folders and buckets the library follows, how their last sync went, and "Sync now".

A source is a folder this app's server can read (local, or a mounted share) or an S3
prefix. Its documents are named ``<source>/<path>``; a sync ingests new files, replaces
changed ones, renames moved ones (no re-embedding) and removes deleted ones, and never
empties a source whose folder is missing or that would lose more than half its documents
without a click on "Remove them anyway". With watching on, changes are followed as
they happen while the app runs.

With sign-in, a source reads folders on the server, so only a caller who sees every
document (no sign-in, or a team admin) adds, changes or removes sources; everyone else
sees the sources whose documents they may see (a source's groups), and may sync them.
"""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from searchapp.access.visibility import can_see
from searchapp.errors import SearchAppError
from searchapp.sources import SourceInfo, Sources, SourceSpec
from searchapp.sources.redact import redactor
from searchapp.ui.context import library_or_stop, sources_or_stop
from searchapp.ui.feedback import show_error
from searchapp.ui.groups import groups_input, groups_label
from searchapp.ui.render import escape_markdown, format_time, one_line, parse_tags

FLASH_KEY = "sources_flash"
CONFIRM_KEY = "sources_confirm_remove"


def render() -> None:
    st.title("Sources", anchor=False)
    st.caption(
        "Folders and buckets the library keeps in step with: new files are added, edited ones "
        "replaced, moved ones renamed and deleted ones removed."
    )
    visibility = library_or_stop().visibility
    manage = visibility is None
    sources = sources_or_stop()
    _flash()
    try:
        infos = [info for info in sources.all() if can_see(info.spec.groups, visibility)]
    except SearchAppError as exc:
        show_error(exc)
        return
    if not infos:
        st.info(
            "No sources yet. Add a folder below to keep the library in step with it.", icon=":material/sync:"
        )
    for info in infos:
        _source(sources, info, manage=manage)
    if manage:
        _add_form(sources)
    else:
        st.caption("Sources are added and changed by an administrator of this library.")


def _source(sources: Sources, info: SourceInfo, *, manage: bool) -> None:
    spec, status = info.spec, info.status
    key = spec.name
    with st.container(border=True, key=f"source_{key}"):
        # The server's paths are for those who manage sources (as in the API).
        shown = (lambda text: text) if manage else redactor(spec)
        st.markdown(f"**{escape_markdown(spec.name)}**" + (f" · {one_line(spec.location)}" if manage else ""))
        details = [
            f"tags: {', '.join(spec.tags)}" if spec.tags else "",
            f"visible to {groups_label(spec.groups)}" if spec.groups else "",
            f"only {', '.join(spec.include)}" if spec.include else "",
            f"not {', '.join(spec.exclude)}" if spec.exclude else "",
        ]
        if any(details):
            st.caption(" · ".join(one_line(d) for d in details if d))
        if status.outcome == "never":
            st.caption("Not synced yet.")
        else:
            counts = status.counts
            st.markdown(
                f"Last sync {format_time(int(status.finished_at))}: **{status.outcome}** · "
                f"{status.files} files · {status.documents} documents · "
                f"{counts.get('new', 0)} new, {counts.get('changed', 0)} changed, "
                f"{counts.get('moved', 0)} moved, {counts.get('deleted', 0)} deleted"
                + (f", {counts['held']} deletions held" if counts.get("held") else "")
            )
        if status.outcome == "blocked":
            st.warning(one_line(shown(status.message)), icon=":material/block:")
        if status.errors:
            with st.expander(f"{len(status.errors)} files need attention"):
                st.dataframe(
                    [{"File": path, "Why": shown(why)} for path, why in status.errors],
                    hide_index=True,
                    key=f"source_errors_{key}",
                )
        with st.container(horizontal=True, gap="small", vertical_alignment="center"):
            sync_now = st.button("Sync now", key=f"sync_{key}", icon=":material/sync:")
            # Only who manages sources may confirm (the API refuses the others too).
            mass = manage and status.outcome == "blocked" and "--allow-mass-delete" in status.message
            anyway = mass and st.button(
                "Remove them anyway", key=f"sync_anyway_{key}", icon=":material/delete_sweep:"
            )
            watching = st.toggle(
                "Watch for changes",
                value=spec.watch,
                key=f"watch_{key}",
                disabled=not manage,
                help="Follow changes as they happen while the app runs (polling on network shares and S3).",
            )
            if manage and st.button("Remove…", key=f"remove_{key}", icon=":material/delete:"):
                st.session_state[CONFIRM_KEY] = key
        if watching != spec.watch:
            _set_watch(sources, spec, watching)
        if sync_now or anyway:
            _sync(sources, spec, allow_mass_delete=bool(anyway), manage=manage)
        if manage and st.session_state.get(CONFIRM_KEY) == key:
            _confirm_remove(sources, info)


def _set_watch(sources: Sources, spec: SourceSpec, watching: bool) -> None:
    try:
        sources.update(spec.name, watch=watching)
    except SearchAppError as exc:
        show_error(exc)
        return
    st.session_state[FLASH_KEY] = ("watch", f"{spec.name}: watching {'on' if watching else 'off'}")
    st.rerun()


def _sync(sources: Sources, spec: SourceSpec, *, allow_mass_delete: bool = False, manage: bool) -> None:
    with st.status(f"Syncing {spec.name}…", expanded=True) as box:
        line = st.empty()

        def progress(event: object) -> None:
            source = getattr(event, "source", "")
            stage = getattr(event, "stage", "")
            line.caption(f"{one_line(source)} · {stage}")

        try:
            (report,) = sources.sync(spec.name, allow_mass_delete=allow_mass_delete, progress=progress)
        except SearchAppError as exc:
            box.update(label=f"Sync of {spec.name} stopped", state="error")
            show_error(exc)
            return
        shown = (lambda text: text) if manage else redactor(spec)
        summary = shown(report.summary())
        box.update(label=summary, state="complete" if report.outcome == "ok" else "error", expanded=False)
    failures = [(f.path, shown(f.detail)) for f in report.failures[:20]]
    st.session_state[FLASH_KEY] = ("synced", (report.outcome == "ok", summary, failures))
    st.rerun()


def _confirm_remove(sources: Sources, info: SourceInfo) -> None:
    name = info.spec.name
    with st.container(border=True):
        st.warning(
            f"Remove source **{escape_markdown(name)}**? Its files stay where they are. Choose whether its "
            f"{info.status.documents} documents leave the library too.",
            icon=":material/delete_forever:",
        )
        with st.container(horizontal=True, gap="small"):
            remove_all = st.button("Remove it and its documents", type="primary", key=f"remove_all_{name}")
            keep = st.button("Remove it, keep the documents", key=f"remove_keep_{name}")
            cancel = st.button("Cancel", key=f"remove_cancel_{name}")
    if cancel:
        st.session_state.pop(CONFIRM_KEY, None)
        st.rerun()
    if remove_all or keep:
        st.session_state.pop(CONFIRM_KEY, None)
        try:
            removed = sources.remove(name, keep_documents=bool(keep))
        except SearchAppError as exc:
            show_error(exc)
            return
        st.session_state[FLASH_KEY] = (
            "removed",
            f"Removed source {name}" + ("" if keep else f" and {removed} documents"),
        )
        st.rerun()


def _add_form(sources: Sources) -> None:
    st.subheader("Add a folder", anchor=False)
    with st.form("add_source", border=True):
        location = st.text_input(
            "Folder",
            key="source_location",
            placeholder="/srv/shared/handbook  or  s3://bucket/prefix",
            help="A folder the machine running this app can read (local, or a mounted share), or s3://...",
        )
        name = st.text_input(
            "Name", key="source_name", placeholder="handbook", help="Its documents are named <name>/<path>."
        )
        tags = st.text_input("Tags", key="source_tags", placeholder="comma-separated, put on every document")
        groups = groups_input(
            "Visible to",
            None,
            key="source_groups",
            help_text="Only members of these groups see the source's documents.",
        )
        exclude = st.text_input(
            "Leave out", key="source_exclude", placeholder="drafts/*, ~$*  (glob patterns)"
        )
        watch = st.checkbox("Watch for changes", value=True, key="source_watch")
        submitted = st.form_submit_button("Add and sync", icon=":material/add:")
    if not submitted:
        return
    try:
        spec = SourceSpec.create(
            name.strip() or _default_name(location),
            location,
            tags=parse_tags(tags),
            groups=groups or (),
            exclude=_patterns(exclude),
            watch=watch,
        )
        sources.add(spec)
    except SearchAppError as exc:
        show_error(exc)
        return
    _sync(sources, spec, manage=True)  # only a manager adds sources


def _default_name(location: str) -> str:
    tail = location.rstrip("/").rsplit("/", 1)[-1]
    cleaned = "".join(c if c.isalnum() or c in "._-" else "-" for c in tail).strip("-._")
    return cleaned or "folder"


def _patterns(text: str) -> Sequence[str]:
    return [p.strip() for p in text.split(",") if p.strip()]


def _flash() -> None:
    flash = st.session_state.pop(FLASH_KEY, None)
    if flash is None:
        return
    kind, value = flash
    if kind == "synced":
        ok, summary, failures = value
        icon = ":material/check_circle:" if ok else ":material/block:"
        (st.success if ok else st.warning)(one_line(summary), icon=icon)
        for path, detail in failures:
            st.caption(f"{one_line(path)}: {one_line(detail)}")
    else:
        st.success(one_line(str(value)), icon=":material/check_circle:")


if __name__ == "__main__":  # run as a page by st.navigation (ui/nav.py)
    render()
