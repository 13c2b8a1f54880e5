"""`searchapp tokens`: API tokens for the HTTP API and the MCP server (create, list, revoke).

Tokens live in the deployment's token table (with the data directory, or on the Chroma
server), so with a local data directory these commands need the server stopped (one
process at a time); with a Chroma server they work beside it. An admin token can also
manage its collection's tokens over the API (`/api/v1/tokens`).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer

from searchapp.cli.common import JsonOpt, cli_errors, emit_json, err, open_library, options

if TYPE_CHECKING:
    from searchapp.api.tokens import TokenStore

app = typer.Typer(help="API tokens for `searchapp serve` and `searchapp mcp`.", no_args_is_help=True)


@contextmanager
def _store(ctx: typer.Context) -> Iterator[TokenStore]:
    from searchapp.api.tokens import TokenStore

    settings = options(ctx).settings()
    with open_library(settings, check_model=False) as library:
        yield TokenStore(library.store.global_table("tokens"))


@app.command()
def create(
    ctx: typer.Context,
    role: Annotated[
        str,
        typer.Option(help="read (search, download), write (+ upload, retag, delete) or admin (+ tokens)."),
    ],
    groups: Annotated[str, typer.Option(help="Comma-separated groups the token belongs to.")] = "",
    expires: Annotated[
        str, typer.Option(help="never, a duration (12h, 90d, 8w) or a date (2027-01-31).")
    ] = "90d",
    name: Annotated[str, typer.Option(help="What the token is for (shown by `tokens list`).")] = "",
    as_json: JsonOpt = False,
) -> None:
    """Make a token for one collection (--collection, before or after `create`). Shown once."""
    from searchapp.api.tokens import parse_expiry

    with cli_errors():
        expires_at = parse_expiry(expires)
        with _store(ctx) as store:
            collection = options(ctx).settings().collection
            token, secret = store.create(
                collection, role, groups=groups.split(","), expires_at=expires_at, name=name
            )
    if as_json:
        emit_json({**token.to_dict(), "token": secret})
        return
    when = (
        "never" if not token.expires_at else time.strftime("%Y-%m-%d %H:%M", time.localtime(token.expires_at))
    )
    err(
        f"token {token.token_id}: collection {token.collection}, role {token.role}, "
        f"groups {', '.join(token.groups) or '-'}, expires {when}. It is shown this once; keep it secret."
    )
    typer.echo(secret)


@app.command("list")
def list_tokens(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Every token (or those of --collection), without their secrets."""
    with cli_errors(), _store(ctx) as store:
        tokens = store.tokens(options(ctx).collection)
    if as_json:
        emit_json([t.to_dict() for t in tokens])
        return
    if not tokens:
        err("no API tokens")
    now = time.time()
    for t in tokens:
        expires = "never" if not t.expires_at else time.strftime("%Y-%m-%d", time.localtime(t.expires_at))
        typer.echo(
            f"{t.token_id}  {t.state(now):8}  {t.collection:20}  {t.role:5}  expires {expires:10}  "
            f"groups {','.join(t.groups) or '-'}  {t.name}"
        )


@app.command()
def revoke(
    ctx: typer.Context, token_id: Annotated[str, typer.Argument(help="The token's id (from `tokens list`).")]
) -> None:
    """Revoke a token for good (servers stop accepting it within 5 seconds)."""
    with cli_errors(), _store(ctx) as store:
        token = store.revoke(token_id)
    err(f"revoked token {token.token_id} ({token.collection}, {token.role})")
