"""Commands on synced folders and buckets: `sources add|list|remove|set` and `sync`."""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, Annotated

import typer

from searchapp.cli.common import EXIT_NOTHING, JsonOpt, cli_errors, emit_json, err, open_library, options

if TYPE_CHECKING:
    from searchapp.sources import SourceInfo, SyncReport

sources_app = typer.Typer(
    name="sources",
    help="Folders and S3 prefixes the library keeps in sync (see `searchapp sync`).",
    no_args_is_help=True,
    rich_markup_mode=None,
)


@sources_app.command("add")
def add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="A short name; documents are named NAME/<path>.")],
    location: Annotated[
        str, typer.Argument(help="A folder (local or a mounted share), or s3://bucket/prefix.")
    ],
    include: Annotated[
        list[str] | None,
        typer.Option(
            "--include",
            "-i",
            help="Only files matching this glob (repeatable). Office owner files (~$report.docx) and "
            "hidden files are left out by default; --include '~$*' takes the former.",
        ),
    ] = None,
    exclude: Annotated[
        list[str] | None,
        typer.Option(
            "--exclude", "-x", help="Leave out files matching this glob, e.g. 'drafts/*' or '*-old.docx'."
        ),
    ] = None,
    tag: Annotated[
        list[str] | None, typer.Option("--tag", "-t", help="Tag every document (repeatable).")
    ] = None,
    group: Annotated[
        list[str] | None,
        typer.Option(
            "--groups",
            "-g",
            help="Only members of this group may see its documents (repeatable; default: everyone "
            "of the collection).",
        ),
    ] = None,
    watch: Annotated[
        bool, typer.Option("--watch/--no-watch", help="The app follows changes as they happen.")
    ] = False,
    poll: Annotated[
        float, typer.Option(help="Seconds between polls of shares and buckets (0: 60).", min=0)
    ] = 0.0,
    max_delete_share: Annotated[
        float,
        typer.Option(
            help="A sync that would remove more of the source's documents than this holds those "
            "deletions until --allow-mass-delete confirms them."
        ),
    ] = 0.5,
    endpoint_url: Annotated[
        str, typer.Option(envvar="SEARCHAPP_S3_ENDPOINT_URL", help="An S3-compatible service (MinIO...).")
    ] = "",
    adopt: Annotated[
        bool, typer.Option(help="Take over documents already named NAME/... (from an earlier ingest).")
    ] = False,
    no_sync: Annotated[bool, typer.Option("--no-sync", help="Add it without syncing it now.")] = False,
) -> None:
    """Add a source and sync it (its files are ingested; later syncs follow every change)."""
    from searchapp.cli.output import ProgressBar
    from searchapp.sources import Sources, SourceSpec

    with open_library(options(ctx).settings()) as library, cli_errors():
        spec = SourceSpec.create(
            name,
            location,
            include=include or (),
            exclude=exclude or (),
            tags=tag or (),
            groups=group or (),
            watch=watch,
            poll_s=poll,
            max_delete_share=max_delete_share,
            endpoint_url=endpoint_url,
        )
        with Sources(library) as sources:
            sources.add(spec, adopt=adopt)
            err(f"added source {spec.name!r}: {spec.location}")
            if not no_sync:
                with ProgressBar(0) as bar:
                    (report,) = sources.sync(spec.name, progress=bar.update)
                _print_report(report)


@sources_app.command("list")
def list_sources(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """List sources with their last sync: when, what it did, and its errors."""
    from searchapp.sources import Sources

    with open_library(options(ctx).settings(), check_model=False) as library, Sources(library) as sources:
        infos = sources.all()
    if as_json:
        emit_json([info.to_dict() for info in infos])
        return
    if not infos:
        err("No sources yet. Add one with: searchapp sources add NAME FOLDER")
        return
    for info in infos:
        _print_info(info)


@sources_app.command("remove")
def remove(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The source to remove.")],
    keep_documents: Annotated[
        bool, typer.Option(help="Keep its documents in the library (as if ingested by hand).")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Remove a source; its documents leave the library too, unless --keep-documents."""
    from searchapp.sources import Sources

    with open_library(options(ctx).settings(), check_model=False) as library, Sources(library) as sources:
        info = sources.get(name)
        if not yes and not keep_documents and sys.stdin.isatty():
            typer.confirm(
                f"Remove source {name!r} and its {info.status.documents} documents from the library?",
                abort=True,
                err=True,
            )
        removed = sources.remove(name, keep_documents=keep_documents)
    err(f"removed source {name!r}" + ("" if keep_documents else f" and {removed} documents"))


@sources_app.command("set")
def set_options(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The source to change.")],
    watch: Annotated[
        bool | None, typer.Option("--watch/--no-watch", help="Follow changes as they happen.")
    ] = None,
    tag: Annotated[list[str] | None, typer.Option("--tag", "-t", help="Replace its tags.")] = None,
    group: Annotated[
        list[str] | None,
        typer.Option("--groups", "-g", help="Replace the groups that may see its documents."),
    ] = None,
    include: Annotated[
        list[str] | None, typer.Option("--include", "-i", help="Replace its include globs.")
    ] = None,
    exclude: Annotated[
        list[str] | None, typer.Option("--exclude", "-x", help="Replace its exclude globs.")
    ] = None,
    poll: Annotated[float | None, typer.Option(help="Seconds between polls (0: 60).", min=0)] = None,
    max_delete_share: Annotated[float | None, typer.Option(help="The mass-delete guard's share.")] = None,
) -> None:
    """Change a source's settings (they apply from its next sync)."""
    from searchapp.sources import Sources

    changes: dict[str, object] = {}
    for key, value in (
        ("watch", watch),
        ("tags", tag),
        ("groups", group),
        ("include", include),
        ("exclude", exclude),
        ("poll_s", poll),
        ("max_delete_share", max_delete_share),
    ):
        if value is not None:
            changes[key] = value
    with open_library(options(ctx).settings(), check_model=False) as library, Sources(library) as sources:
        spec = sources.update(name, **changes)
    err(f"source {spec.name!r}: watch {'on' if spec.watch else 'off'}, tags {', '.join(spec.tags) or '-'}")


def sync(
    ctx: typer.Context,
    source: Annotated[str | None, typer.Argument(help="The source to sync (default: every source).")] = None,
    watch: Annotated[
        bool, typer.Option("--watch", help="Keep running: sync again whenever files change (Ctrl-C stops).")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print what would change; change nothing.")
    ] = False,
    allow_mass_delete: Annotated[
        bool,
        typer.Option("--allow-mass-delete", help="Confirm a sync that removes more than the source's share."),
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Bring the library in step with its sources: new, changed, moved and deleted files."""
    from searchapp.cli.output import ProgressBar
    from searchapp.sources import Sources
    from searchapp.sources.watch import Watcher

    with open_library(options(ctx).settings()) as library, cli_errors(), Sources(library) as sources:
        if dry_run:
            planned = sources.sync(source, dry_run=True, allow_mass_delete=allow_mass_delete)
            for report in planned:
                _print_report(report, as_json=as_json, plan=True)
            if any(r.plan.blocked or r.plan.problems for r in planned):  # as the sync itself would
                raise typer.Exit(EXIT_NOTHING)
            return
        with ProgressBar(0) as bar:
            reports = sources.sync(source, allow_mass_delete=allow_mass_delete, progress=bar.update)
        for report in reports:
            _print_report(report, as_json=as_json)
        if watch:
            names = [source] if source else [info.spec.name for info in sources.all()]
            err(f"watching {', '.join(names) or 'no sources'}; Ctrl-C stops")
            with Watcher(
                sources, names=names, on_report=lambda r: _print_report(r, as_json=as_json)
            ) as watcher:
                for name, mode in sorted(watcher.watching.items()):
                    err(f"  {name}: {'file events' if mode == 'events' else 'polling'}")
                watcher.wait()
        elif any(r.outcome in ("blocked", "failed") or r.failures or r.plan.problems for r in reports):
            raise typer.Exit(EXIT_NOTHING)  # blocked, or a file left out (failed, or not listable)


def _print_report(report: SyncReport, *, as_json: bool = False, plan: bool = False) -> None:
    if as_json:
        emit_json(report.to_dict())
        return
    if plan:
        for line in report.plan.describe():
            typer.echo(f"{report.source}: {line}")
    else:
        for action in report.plan.actions:
            typer.echo(f"{time.strftime('%H:%M:%S')} {action.describe()}")
        for failure in report.failures:
            typer.echo(f"! {failure.path}: {failure.detail}")
        for problem in report.plan.problems:
            typer.echo(f"! {problem.path}: {problem.detail}")
    err(report.summary())


def _print_info(info: SourceInfo) -> None:
    spec, status = info.spec, info.status
    when = (
        time.strftime("%Y-%m-%d %H:%M", time.localtime(status.finished_at)) if status.finished_at else "never"
    )
    flags = [f"watch {'on' if spec.watch else 'off'}"]
    if spec.tags:
        flags.append("tags " + ",".join(spec.tags))
    if spec.groups:
        flags.append("groups " + ",".join(spec.groups))
    if spec.include:
        flags.append("include " + " ".join(spec.include))
    if spec.exclude:
        flags.append("exclude " + " ".join(spec.exclude))
    typer.echo(f"{spec.name}  {spec.location}  ({'; '.join(flags)})")
    typer.echo(
        f"    last sync {when}: {status.outcome}, {status.files} files, {status.documents} documents"
        + (f", {status.took_s:.1f} s" if status.finished_at else "")
    )
    if status.message:
        typer.echo(f"    {status.message}")
    for path, why in status.errors[:10]:
        typer.echo(f"    ! {path}: {why}")
    if len(status.errors) > 10:
        typer.echo(f"    ... and {len(status.errors) - 10} more")


def duplicates(
    ctx: typer.Context,
    threshold: Annotated[
        float,
        typer.Option(help="How alike two documents' text must be (estimated Jaccard, 0-1).", min=0.05, max=1),
    ] = 0.25,
    as_json: JsonOpt = False,
) -> None:
    """List content at several paths, and near-duplicate documents (hide one with `searchapp hide`)."""
    from searchapp.sources import Sources
    from searchapp.sources.duplicates import near_duplicates

    with open_library(options(ctx).settings(), check_model=False) as library:
        with Sources(library) as sources:
            copies = sources.copies()
        near = near_duplicates(library, threshold=threshold)
        hidden = library.hidden_ids()
        names = {r.doc_id: r.source for r in library.documents()}
    if as_json:
        emit_json(
            {
                "copies": [{"doc_id": d, "source": names.get(d, ""), "paths": p} for d, p in copies.items()],
                "near": [
                    {**n.to_dict(), "hidden": [d for d in (n.first.doc_id, n.second.doc_id) if d in hidden]}
                    for n in near
                ],
            }
        )
        return
    if not copies and not near:
        err("No duplicates: every document's content is at one path, and no two documents are alike.")
        return
    for doc_id, paths in copies.items():
        typer.echo(f"same content at {len(paths)} paths ({doc_id[:12]}): " + ", ".join(paths))
    for pair in near:
        marks = ["  (hidden)" if d in hidden else "" for d in (pair.first.doc_id, pair.second.doc_id)]
        typer.echo(f"{pair.similarity:.0%} alike:")
        typer.echo(f"    {pair.first.source}  {pair.first.doc_id[:12]}{marks[0]}")
        typer.echo(f"    {pair.second.source}  {pair.second.doc_id[:12]}{marks[1]}")
    err(f"{len(copies)} documents at several paths, {len(near)} near-duplicate pairs")


def hide(
    ctx: typer.Context,
    documents: Annotated[list[str], typer.Argument(help="Document names or ids (8+ characters).")],
) -> None:
    """Leave documents out of every search (one version of a near-duplicate, say); they stay listed."""
    with open_library(options(ctx).settings(), check_model=False) as library, cli_errors():
        for ref in documents:
            record = library.hide(library.document(ref).doc_id)
            err(f"hidden from search: {record.source}")


def unhide(
    ctx: typer.Context,
    documents: Annotated[list[str], typer.Argument(help="Document names or ids (8+ characters).")],
) -> None:
    """Let hidden documents be found again."""
    with open_library(options(ctx).settings(), check_model=False) as library, cli_errors():
        for ref in documents:
            record = library.unhide(library.document(ref).doc_id)
            err(f"searchable again: {record.source}")
