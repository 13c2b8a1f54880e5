"""The `searchapp` command: one Typer app over the library, the write path and the UI.

Heavy modules (chromadb, torch, the parsers) load inside commands, so `--help` is
instant. Results go to stdout (`--json` for machines); progress and messages go to
stderr. Exit codes: 0 success, 1 nothing found or some files failed, 2 usage error,
3 searchapp error (locked store, unreachable server, bad setting...).
"""

from __future__ import annotations

import typer

from searchapp.cli import (
    documents,
    feedback,
    launch,
    maintenance,
    searching,
    serving,
    sources,
    tokens,
    tuning,
)
from searchapp.cli.common import SharedOptionsGroup, shared_options
from searchapp.cli.eval import eval_command
from searchapp.cli.query_args import QueryCommand

app = typer.Typer(
    name="searchapp",
    cls=SharedOptionsGroup,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,
)
app.callback()(shared_options)
for command in (
    documents.ingest,
    searching.search,
    searching.similar,
    searching.compare,
    documents.docs,
    documents.groups,
    documents.delete,
    documents.stats,
):
    app.command(cls=QueryCommand if command is searching.search else None)(command)
app.command()(maintenance.reindex)
app.command()(maintenance.doctor)
app.command()(launch.ui)
app.add_typer(sources.sources_app)
app.command()(sources.sync)
app.command()(sources.duplicates)
app.command()(sources.hide)
app.command()(sources.unhide)
app.command("eval")(eval_command)
app.command()(tuning.tune)
app.add_typer(feedback.app)
app.add_typer(tuning.model_app)
app.command()(serving.serve)
app.command()(serving.mcp)
app.add_typer(tokens.app, name="tokens")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
