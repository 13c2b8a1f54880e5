"""A command whose one argument is a query, which may start with '-' (an exclusion, -word).

Click reads every argument that starts with '-' as options, so the documented query
``searchapp search "-microsoft privacy"`` failed with "No such option: -m". Here:

- an argument that starts with one '-' and holds a space is the query, never options
  (no option name has a space), unless it is the value of the option before it or
  starts with an option's name (``"-k 2"``); it is read as if it came after ``--``;
- a usage error where an argument that starts with '-' or ``--`` is involved (``-word``
  alone, options after ``--``) says the form that works, options first:
  ``searchapp search -k 2 -- '-word more words'``.

(Click's ``ignore_unknown_options`` would not do: ``-kubernetes`` would be ``-k`` with
the value ``ubernetes``.)
"""

from __future__ import annotations

import shlex
from typing import Any

import typer
from typer.core import TyperCommand, TyperOption


class QueryCommand(TyperCommand):
    """`search`: its query may start with '-' (see the module docstring)."""

    # `ctx` is click's Context (vendored in typer): typed Any, as in `SharedOptionsGroup`.
    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        valued, flags = self._option_names()
        args = query_apart(args, valued, flags)
        try:
            return super().parse_args(ctx, list(args))  # click pops from the list it is given
        except typer.TyperException as exc:
            hint = dash_hint(ctx.command_path, args, valued, flags)
            if hint and exc.exit_code == 2:  # a usage error
                exc.message = f"{exc.message}\n{hint}"
            raise

    def _option_names(self) -> tuple[set[str], set[str]]:
        """The names of the options that take a value, and of those that do not."""
        valued: set[str] = set()
        flags: set[str] = {"--help"}
        for param in self.params:
            if isinstance(param, TyperOption):
                names = {*param.opts, *param.secondary_opts}
                (flags if param.is_flag or param.count else valued).update(names)
        return valued, flags


def query_apart(args: list[str], valued: set[str], flags: set[str]) -> list[str]:
    """`args` with a query that starts with '-' and holds a space moved after ``--``."""
    if "--" in args:
        return args
    for i, arg in enumerate(args):
        if i and args[i - 1] in valued:
            continue
        if arg.startswith("-") and not arg.startswith("--") and any(c.isspace() for c in arg):
            if arg.split()[0] in valued | flags:
                continue
            return [*args[:i], *args[i + 1 :], "--", arg]
    return args


def dash_hint(command: str, args: list[str], valued: set[str], flags: set[str]) -> str:
    """The command as it works, options first and the words after ``--``, or "" when the
    error has nothing to do with a query that starts with '-'."""
    options: list[str] = []
    words: list[str] = []
    dashed = False  # options after "--", taken for the query
    quoted: list[str] = []  # the query after "--", rightly
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            words.extend(args[i + 1 : i + 2])
            dashed = i + 2 < len(args)
            quoted = args[i + 1 : i + 2]
            i += 2
            continue
        if arg in valued:
            options.extend(args[i : i + 2])
            i += 2
            continue
        attached = arg[:2] in valued and arg[2:].lstrip("-").replace(".", "", 1).isdigit()  # -k5
        if arg.split("=", 1)[0] in valued | flags or attached or arg.startswith("--"):
            options.append(arg)
        else:
            words.append(arg)
        i += 1
    if not words or not (dashed or any(w.startswith("-") for w in words if w not in quoted)):
        return ""
    query = " ".join(words)
    parts = [command, *(shlex.quote(o) for o in options), "--", shlex.quote(query)]
    where = (
        "options go before '--' (what follows it is the query)"
        if dashed
        else "a query that starts with '-' goes after '--'"
    )
    return f"{where}: {' '.join(parts)}"
