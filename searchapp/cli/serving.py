"""`searchapp serve` (the HTTP API and MCP over HTTP) and `searchapp mcp` (MCP over stdio)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from searchapp.cli.common import SharedOptions, cli_errors, err, options

SecretsOpt = Annotated[
    Path | None,
    typer.Option(
        "--secrets",
        help="Secrets file with [auth] and teams (default: .streamlit/secrets.toml here, ~/.streamlit/).",
        exists=True,
        dir_okay=False,
    ),
]


def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 8700,
    secrets: SecretsOpt = None,
    mcp: Annotated[bool, typer.Option("--mcp/--no-mcp", help="Also serve MCP at /mcp.")] = True,
    forwarded_allow_ips: Annotated[
        str, typer.Option(help="Proxies whose X-Forwarded-* headers are trusted (comma-separated).")
    ] = "127.0.0.1",
) -> None:
    """Serve the HTTP API (/api/v1, schema at /api/openapi.json) and MCP (/mcp), behind tokens."""
    import uvicorn

    from searchapp.api.server import load_secrets, open_context, serve_app
    from searchapp.config import Settings

    shared = options(ctx)
    with cli_errors():
        found = load_secrets(secrets)
        settings = Settings.load(secrets=found, **_given(shared))
        context = open_context(settings, found, path=secrets)
    shown = f"[{host}]" if ":" in host else host
    base = f"http://{shown}:{port}"
    also = f" and MCP on {base}/mcp" if mcp else ""
    err(f"searchapp API on {base}/api/v1 (docs: {base}/api/docs){also}")
    err(f"data: {settings.server_url or settings.data_dir}, collection {settings.collection}")
    uvicorn.run(
        serve_app(context, http_base=base, mcp=mcp),
        host=host,
        port=port,
        log_level="warning",
        proxy_headers=True,
        forwarded_allow_ips=forwarded_allow_ips,
    )


def mcp(
    ctx: typer.Context,
    http: Annotated[
        bool, typer.Option("--http", help="Streamable HTTP on --host/--port instead of stdio.")
    ] = False,
    host: Annotated[str, typer.Option(help="Address to listen on (with --http).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on (with --http).", min=1, max=65535)] = 8701,
    secrets: SecretsOpt = None,
) -> None:
    """The MCP server for assistants. stdio: as SEARCHAPP_TOKEN's caller, else the local operator."""
    import anyio
    import uvicorn

    from searchapp.api.mcp_server import build_mcp, stdio_caller
    from searchapp.api.server import load_secrets, open_context, serve_app
    from searchapp.config import Settings

    shared = options(ctx)
    with cli_errors():
        found = load_secrets(secrets)
        settings = Settings.load(secrets=found, **_given(shared))
        context = open_context(settings, found, path=secrets)
        if not http:
            caller = stdio_caller(context)
    if http:
        base = f"http://{host}:{port}"
        err(f"searchapp MCP on {base}/mcp (bearer tokens required)")
        uvicorn.run(serve_app(context, http_base=base), host=host, port=port, log_level="warning")
        return
    err(f"searchapp MCP on stdio, as {caller.subject} ({caller.role}) in collection {caller.collection}")
    try:
        anyio.run(build_mcp(context, stdio_caller=caller).run_stdio_async)
    finally:
        context.close()
        context.libraries.close()


def _given(shared: SharedOptions) -> dict[str, Any]:
    return {
        name: getattr(shared, name)
        for name in ("data_dir", "collection", "model", "server_url")
        if getattr(shared, name) is not None
    }
