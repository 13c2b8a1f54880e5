"""`searchapp ui`: start the Streamlit app with this invocation's settings."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from searchapp.cli.common import EXIT_ERROR, err, open_library, options
from searchapp.config import Settings


def ui(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 8501,
    demo: Annotated[
        bool,
        typer.Option("--demo", help="Load the bundled public-domain sample documents first (tag: sample)."),
    ] = False,
) -> None:
    """Start the web UI (Streamlit) with searchapp's settings, from any directory."""
    from searchapp.ui.launcher import streamlit_command

    shared = options(ctx)
    settings = shared.settings()
    if demo:
        _load_samples(settings)
    command, env = streamlit_command(settings, host=host, port=port, given=shared.given())
    err(f"searchapp UI on http://{host}:{port} (data: {settings.server_url or settings.data_dir})")
    os.execvpe(command[0], command, env)


def _load_samples(settings: Settings) -> None:
    """Ingest the sample documents (idempotent) and let go of the library before the UI starts."""
    from searchapp.cli.output import ProgressBar
    from searchapp.ingest.pipeline import Ingestor
    from searchapp.ingest.types import SourceFile
    from searchapp.samples import SAMPLE_TAG, sample_paths

    files = [SourceFile(p.name, path=p, tags=(SAMPLE_TAG,)) for p in sample_paths()]
    with open_library(settings) as library, ProgressBar(len(files)) as bar, Ingestor(library) as ingestor:
        report = ingestor.ingest(files, progress=bar.update)
    err(f"sample documents: {report.summary()}")
    if report.failed:
        for outcome in report.failed:
            err(f"  {outcome.source}: {outcome.message}")
        raise typer.Exit(EXIT_ERROR)
