"""Commands on the documents of a library: ingest, docs, groups, delete, stats."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from searchapp.cli.common import EXIT_NOTHING, JsonOpt, cli_errors, emit_json, err, open_library, options

if TYPE_CHECKING:
    from searchapp.ingest.pipeline import Ingestor
    from searchapp.ingest.types import IngestReport, SourceFile


def ingest(
    ctx: typer.Context,
    paths: Annotated[list[Path], typer.Argument(help="Files or directories to ingest.")],
    tag: Annotated[list[str] | None, typer.Option("--tag", "-t", help="Tag every file (repeatable).")] = None,
    group: Annotated[
        list[str] | None,
        typer.Option(
            "--groups",
            "-g",
            help="Only members of this group may see the files in the UI, the API and MCP (repeatable; "
            "default: everyone of the collection).",
        ),
    ] = None,
    recursive: Annotated[
        bool, typer.Option("--recursive", "-r", help="Descend into subdirectories.")
    ] = False,
    workers: Annotated[int | None, typer.Option(help="Extraction processes.", min=1, max=64)] = None,
    password: Annotated[
        str | None,
        typer.Option(
            "--password",
            envvar="SEARCHAPP_PDF_PASSWORD",
            help="Password of encrypted PDFs (never stored). Without it, a terminal asks for each one.",
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Ingest PDF, TXT, MD, HTML and DOCX files. Unchanged files are skipped; edited ones replaced."""
    from searchapp.cli.output import ProgressBar, print_ingest_report
    from searchapp.ingest.files import discover
    from searchapp.ingest.pipeline import Ingestor
    from searchapp.ingest.text import printable_name

    settings = options(ctx).settings()
    with cli_errors():
        found = discover(paths, recursive=recursive, tags=tag or (), groups=group or ())
    if found.skipped:
        names = ", ".join(printable_name(p.name) for p in found.skipped[:5])
        more = f" and {len(found.skipped) - 5} more" if len(found.skipped) > 5 else ""
        err(
            f"skipping {len(found.skipped)} files of unsupported types: {names}{more} "
            "(supported: pdf, txt, md, html, docx)"
        )
    if not found.files:
        err("no files to ingest")
        raise typer.Exit(EXIT_NOTHING)
    files = [dataclasses.replace(f, password=password) if password else f for f in found.files]
    with (
        open_library(settings) as library,
        ProgressBar(len(files)) as bar,
        Ingestor(library, workers=workers) as ingestor,
    ):
        report = ingestor.ingest(files, progress=bar.update)
        if password is None and _interactive():
            report = _retry_with_passwords(ingestor, files, report)
    if as_json:
        emit_json(report.to_dict())
    else:
        print_ingest_report(report)
    if report.failed:
        raise typer.Exit(EXIT_NOTHING)


def _interactive() -> bool:
    """Whether someone is at a terminal to answer a prompt."""
    return sys.stdin.isatty()


def _retry_with_passwords(ingestor: Ingestor, files: list[SourceFile], report: IngestReport) -> IngestReport:
    """Ask for the password of each encrypted PDF (hidden input; Enter skips) and retry it."""
    from searchapp.errors import FailureReason
    from searchapp.ingest.types import IngestReport

    by_source = {f.source: f for f in files}
    outcomes = list(report.outcomes)
    for index, outcome in enumerate(outcomes):
        file = by_source.get(outcome.source)
        while file is not None and outcome.reason is FailureReason.PASSWORD_PROTECTED:
            err(f"{outcome.source}: {outcome.detail}")
            password = typer.prompt(
                f"Password for {outcome.source} (Enter to skip)",
                default="",
                hide_input=True,
                show_default=False,
                err=True,
            )
            if not password:
                break
            retried = ingestor.ingest([dataclasses.replace(file, password=password)])
            outcome = outcomes[index] = retried.outcomes[-1]
    return IngestReport(outcomes=tuple(outcomes))


def docs(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """List documents with their chunk counts."""
    from searchapp.cli.output import print_documents

    with open_library(options(ctx).settings(), check_model=False) as library:
        records = library.documents(include_pending=True)
    if as_json:
        emit_json([r.to_dict() for r in records])
    else:
        print_documents(records)


def groups(
    ctx: typer.Context,
    document: Annotated[str, typer.Argument(help="A document name or id (8+ characters of the id).")],
    names: Annotated[list[str] | None, typer.Argument(help="The groups that may see it.")] = None,
    clear: Annotated[bool, typer.Option("--clear", help="Open it to everyone of the collection.")] = False,
) -> None:
    """Show, or set, the groups that may see a document (none: everyone of the collection)."""
    with open_library(options(ctx).settings(), check_model=False) as library, cli_errors():
        record = library.document(document)
        if names or clear:
            if names and clear:
                err("give groups or --clear, not both")
                raise typer.Exit(2)
            record = library.update_groups(record.doc_id, names or ())
    typer.echo(", ".join(record.groups) if record.groups else "(everyone)")


def delete(
    ctx: typer.Context,
    documents: Annotated[list[str], typer.Argument(help="Document names or ids (8+ characters of the id).")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete documents completely: chunks, catalog entry and kept original."""
    with open_library(options(ctx).settings(), check_model=False) as library:
        records = [library.document(ref) for ref in documents]
        from searchapp.sources import Sources

        with Sources(library) as sources:  # a synced file would bring it back: say so first
            for record in records:
                if note := sources.returns_after_delete(record.doc_id):
                    err(f"warning: {record.source}: {note}")
        if not yes and sys.stdin.isatty():
            names = ", ".join(r.source for r in records)
            typer.confirm(f"Delete {names}?", abort=True, err=True)
        for record in records:
            library.delete_by_id(record.doc_id)
            err(f"deleted {record.source} ({record.chunks} chunks)")


def stats(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Show the collection: documents, chunks, model, where the data lives."""
    with open_library(options(ctx).settings(), check_model=False) as library, cli_errors():
        result = library.stats().to_dict()
    if as_json:
        emit_json(result)
    else:
        width = max(len(key) for key in result)
        for key, value in result.items():
            typer.echo(f"{key.replace('_', ' '):<{width}}  {value}")
