"""Commands that keep a library whole: reindex and doctor (with --repair)."""

from __future__ import annotations

from typing import Annotated

import typer

from searchapp.cli.common import EXIT_NOTHING, JsonOpt, cli_errors, emit_json, err, open_library, options
from searchapp.config import Settings


def reindex(
    ctx: typer.Context,
    new_model: Annotated[
        str | None,
        typer.Option("--to-model", help="Re-embed with this model instead of the current one."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Rebuild the whole index from the kept original files."""
    from searchapp.cli.output import ProgressBar, print_ingest_report
    from searchapp.ingest.reindex import reindex as rebuild

    settings = options(ctx).settings()
    with open_library(settings, check_model=new_model is None) as library:
        count = len(library.documents(include_pending=True))
        with cli_errors(), ProgressBar(count) as bar:
            reopened, report = rebuild(library, model=new_model, progress=bar.update)
        reopened.close()
    if as_json:
        emit_json(report.to_dict())
    else:
        print_ingest_report(report)
        if new_model:
            err(f"the collection now uses {new_model}; set SEARCHAPP_MODEL={new_model} from now on")
    if report.failed:
        raise typer.Exit(EXIT_NOTHING)


def doctor(
    ctx: typer.Context,
    repair: Annotated[bool, typer.Option("--repair", help="Fix what the check finds.")] = False,
    samples: Annotated[int, typer.Option(help="Stored vectors to look up.", min=1, max=100_000)] = 200,
    as_json: JsonOpt = False,
) -> None:
    """Check that the index is whole (in a child process); with --repair, fix it."""
    from searchapp.cli.output import print_health
    from searchapp.health import run_check

    settings = options(ctx).settings()
    with cli_errors():
        report = run_check(settings, samples=samples)
        if not as_json:
            print_health(report)
        if repair and not report.ok:
            err(f"repairing: {report.repair or 'nothing to do automatically'}")
            _repair(settings, report.repair)
            report = run_check(settings, samples=samples)
            if not as_json:
                print_health(report)
    if as_json:
        emit_json(report.to_dict())
    if not report.ok:
        if not repair and report.repair:
            err("run `searchapp doctor --repair` to fix this")
        raise typer.Exit(EXIT_NOTHING)


def _repair(settings: Settings, action: str) -> None:
    from searchapp.cli.output import ProgressBar, print_ingest_report
    from searchapp.ingest.pipeline import Ingestor
    from searchapp.ingest.reindex import rebuild_from_originals, reindex

    if action == "rebuild":
        with ProgressBar(0) as bar:
            library, report = rebuild_from_originals(settings, progress=bar.update)
        library.close()
        print_ingest_report(report)
        return
    with open_library(settings, check_model=False) as library:
        if action == "resume":
            with Ingestor(library) as ingestor:
                print_ingest_report(ingestor.resume_pending())
        elif action == "reindex":
            with ProgressBar(len(library.documents(include_pending=True))) as bar:
                reopened, report = reindex(library, progress=bar.update)
            reopened.close()
            print_ingest_report(report)
