"""What every command shares: the four library options, error handling and JSON output.

The options `--data-dir`, `--collection`, `--model` and `--server-url` belong to the
`searchapp` group (one callback reads them once); `SharedOptionsGroup` also accepts them
after a command's own arguments, as `searchapp search "q" --data-dir X`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperGroup, TyperOption

from searchapp.config import Settings
from searchapp.errors import QueryError, SearchAppError

if TYPE_CHECKING:
    from searchapp.library import Library

EXIT_NOTHING = 1
EXIT_USAGE = 2
EXIT_ERROR = 3

JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable JSON on stdout.")]


@dataclass(frozen=True, slots=True)
class SharedOptions:
    """The library options given on the command line (None: from SEARCHAPP_* or defaults)."""

    data_dir: Path | None = None
    collection: str | None = None
    model: str | None = None
    server_url: str | None = None

    def settings(self) -> Settings:
        with cli_errors():
            return Settings.load(
                data_dir=self.data_dir,
                collection=self.collection,
                model=self.model,
                server_url=self.server_url,
            )

    def given(self) -> dict[str, str]:
        """The options that were given, as the SEARCHAPP_* variables that mean the same."""
        return {
            f"SEARCHAPP_{name.upper()}": str(value)
            for name, value in (
                ("data_dir", self.data_dir),
                ("collection", self.collection),
                ("model", self.model),
                ("server_url", self.server_url),
            )
            if value is not None
        }


def shared_options(
    ctx: typer.Context,
    data_dir: Annotated[
        Path | None,
        typer.Option("--data-dir", envvar="SEARCHAPP_DATA_DIR", show_envvar=True, help="Data directory."),
    ] = None,
    collection: Annotated[
        str | None,
        typer.Option(
            "--collection", "-c", envvar="SEARCHAPP_COLLECTION", show_envvar=True, help="Collection name."
        ),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(
            "--model", envvar="SEARCHAPP_MODEL", show_envvar=True, help="Embedding model name or local path."
        ),
    ] = None,
    server_url: Annotated[
        str | None,
        typer.Option(
            "--server-url",
            envvar="SEARCHAPP_SERVER_URL",
            show_envvar=True,
            help="Chroma server, e.g. http://127.0.0.1:8000.",
        ),
    ] = None,
) -> None:
    """Semantic search over your documents: ingest files, then search them by meaning."""
    ctx.obj = SharedOptions(data_dir, collection, model, server_url)


def options(ctx: typer.Context) -> SharedOptions:
    """The shared options of this invocation (set by `shared_options`)."""
    found = ctx.find_object(SharedOptions)
    return found if found is not None else SharedOptions()


class SharedOptionsGroup(TyperGroup):
    """Moves shared options given after a command in front of it, unless the command has its own."""

    # `ctx` is click's Context (vendored in typer 0.29, a dependency before): typed Any so
    # that nothing here names a private module.
    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        return super().parse_args(ctx, self._hoisted(ctx, args))

    def _hoisted(self, ctx: Any, args: list[str]) -> list[str]:
        shared = {name for param in self.params if isinstance(param, TyperOption) for name in param.opts}
        position = _command_position(args, shared)
        command = self.get_command(ctx, args[position]) if position is not None else None
        if command is None or position is None:
            return args
        own = {name for param in command.params for name in getattr(param, "opts", ())}
        front, rest = list(args[:position]), [args[position]]
        tail = args[position + 1 :]
        i = 0
        while i < len(tail):
            arg = tail[i]
            if arg == "--":
                rest.extend(tail[i:])
                break
            name = arg.split("=", 1)[0]
            if name in shared and name not in own:
                width = 1 if "=" in arg else 2
                front.extend(tail[i : i + width])
                i += width
                continue
            rest.append(arg)
            i += 1
        return front + rest


def _command_position(args: list[str], shared: set[str]) -> int | None:
    """Where the command name is: the first argument that is neither an option nor its value."""
    i = 0
    while i < len(args):
        if args[i] in shared:
            i += 2
        elif args[i].startswith("-"):
            i += 1
        else:
            return i
    return None


def err(message: str) -> None:
    typer.echo(message, err=True)


def emit_json(data: Any) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2))


@contextmanager
def cli_errors() -> Iterator[None]:
    """Print searchapp errors as one clear line instead of a traceback.

    Exit 2 for a request that is wrong in itself (a bad filter, mode or query, as a usage
    error), 3 for everything else (bad setting, store in use, server unreachable...).
    """
    try:
        yield
    except QueryError as exc:
        err(f"error: {exc}")
        raise typer.Exit(EXIT_USAGE) from None
    except SearchAppError as exc:
        err(f"error: {exc}")
        raise typer.Exit(EXIT_ERROR) from None
    except KeyboardInterrupt:
        err("interrupted")
        raise typer.Exit(130) from None


@contextmanager
def open_library(settings: Settings, *, check_model: bool = True) -> Iterator[Library]:
    from searchapp.library import Library

    with cli_errors(), Library.open(settings, check_model=check_model) as library:
        yield library
