"""`searchapp ui`: start the Streamlit app with this invocation's settings."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from cli.common import err, options


def ui(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 8501,
) -> None:
    """Start the web UI (Streamlit) with searchapp's settings, from any directory."""
    from ui.launcher import streamlit_command

    shared = options(ctx)
    settings = shared.settings()
    command, env = streamlit_command(settings, host=host, port=port, given=shared.given())
    err(f"searchapp UI on http://{host}:{port} (data: {settings.server_url or settings.data_dir})")
    os.execvpe(command[0], command, env)
