"""Commands on the documents of a library: ingest, search, docs, delete, stats."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from cli.common import EXIT_NOTHING, JsonOpt, cli_errors, emit_json, err, open_library, options


def ingest(
    ctx: typer.Context,
    paths: Annotated[list[Path], typer.Argument(help="Files or directories to ingest.")],
    tag: Annotated[list[str] | None, typer.Option("--tag", "-t", help="Tag every file (repeatable).")] = None,
    recursive: Annotated[
        bool, typer.Option("--recursive", "-r", help="Descend into subdirectories.")
    ] = False,
    workers: Annotated[int | None, typer.Option(help="Extraction processes.", min=1, max=64)] = None,
    as_json: JsonOpt = False,
) -> None:
    """Ingest PDF, TXT, MD, HTML and DOCX files. Unchanged files are skipped; edited ones replaced."""
    from cli.output import ProgressBar, print_ingest_report
    from ingest.files import discover
    from ingest.pipeline import Ingestor

    settings = options(ctx).settings()
    found = discover(paths, recursive=recursive, tags=tag or ())
    if found.skipped:
        err(f"skipping {len(found.skipped)} files of unsupported types (supported: pdf, txt, md, html, docx)")
    if not found.files:
        err("no files to ingest")
        raise typer.Exit(EXIT_NOTHING)
    with (
        open_library(settings) as library,
        ProgressBar(len(found.files)) as bar,
        Ingestor(library, workers=workers) as ingestor,
    ):
        report = ingestor.ingest(found.files, progress=bar.update)
    if as_json:
        emit_json(report.to_dict())
    else:
        print_ingest_report(report)
    if report.failed:
        raise typer.Exit(EXIT_NOTHING)


def search(
    ctx: typer.Context,
    query: Annotated[str, typer.Argument(help="What to look for, in plain words.")],
    k: Annotated[int, typer.Option("-k", help="How many passages.", min=1, max=1000)] = 10,
    doc: Annotated[
        list[str] | None, typer.Option("--doc", help="Only this document: name or id (repeatable).")
    ] = None,
    file_type: Annotated[
        list[str] | None, typer.Option("--type", help="Only this file type (repeatable).")
    ] = None,
    pages: Annotated[str | None, typer.Option("--pages", help="Only these PDF pages, e.g. 3-7.")] = None,
    tag: Annotated[
        list[str] | None, typer.Option("--tag", help="Only documents with this tag (any of).")
    ] = None,
    after: Annotated[str | None, typer.Option("--after", help="Ingested on or after YYYY-MM-DD.")] = None,
    before: Annotated[str | None, typer.Option("--before", help="Ingested on or before YYYY-MM-DD.")] = None,
    contains: Annotated[
        str | None, typer.Option("--contains", help="Passage contains this text (any case).")
    ] = None,
    min_score: Annotated[float | None, typer.Option("--min-score", help="Minimum cosine similarity.")] = None,
    mode: Annotated[
        str | None,
        typer.Option("--mode", help="hybrid, dense or keyword (default: SEARCHAPP_SEARCH_MODE)."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Search by meaning; print ranked passages with their cosine similarity."""
    from cli.output import print_hits
    from searchapp.filters import SearchFilters

    settings = options(ctx).settings()
    with open_library(settings) as library:
        doc_ids = [library.document(ref).doc_id for ref in doc or []]
        filters = SearchFilters.from_mapping(
            {
                "documents": doc_ids,
                "file_types": file_type or [],
                "pages": pages,
                "tags": tag or [],
                "ingested_after": after,
                "ingested_before": before,
                "text_contains": contains,
            }
        )
        response = library.search(query, k=k, filters=filters, min_score=min_score, mode=mode)
    for notice in response.notices:
        err(f"note: {notice}")
    if as_json:
        emit_json(response.to_dict())
    else:
        print_hits(response)
    if not response.hits:
        raise typer.Exit(EXIT_NOTHING)


def docs(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """List documents with their chunk counts."""
    from cli.output import print_documents

    with open_library(options(ctx).settings(), check_model=False) as library:
        records = library.documents(include_pending=True)
    if as_json:
        emit_json([r.to_dict() for r in records])
    else:
        print_documents(records)


def delete(
    ctx: typer.Context,
    documents: Annotated[list[str], typer.Argument(help="Document names or ids (8+ characters of the id).")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete documents completely: chunks, catalog entry and kept original."""
    with open_library(options(ctx).settings(), check_model=False) as library:
        records = [library.document(ref) for ref in documents]
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
