"""`searchapp feedback list|export|import|calibrate`: what people said about results."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from searchapp.cli.common import EXIT_NOTHING, JsonOpt, cli_errors, emit_json, err, open_library, options

app = typer.Typer(
    name="feedback", no_args_is_help=True, help="👍/👎 verdicts on results: list, export, import."
)


@app.command("list")
def list_feedback(
    ctx: typer.Context,
    verdict: Annotated[str | None, typer.Option(help="Only good, bad or none.")] = None,
    user: Annotated[str | None, typer.Option(help="Only this user's.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Every verdict, oldest first."""
    from searchapp.feedback import FeedbackLog

    with open_library(options(ctx).settings()) as library, cli_errors():
        items = FeedbackLog.of(library).list(verdict=verdict, user=user)
    if as_json:
        emit_json([item.to_dict() for item in items])
        return
    marks = {"good": "👍", "bad": "👎", "none": "∅ "}
    for item in items:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(item.at))
        where = item.source or item.chunk_id or f"{len(item.shown)} shown"
        typer.echo(
            f"{when}  {marks[item.verdict]} {item.query[:60]!r:64} {where}  {item.user or '-'}  [{item.mode}]"
        )
    err(f"{len(items)} verdicts")


@app.command("export")
def export_feedback(
    ctx: typer.Context,
    path: Annotated[Path | None, typer.Argument(help="File to write (default: stdout).")] = None,
) -> None:
    """Every verdict as JSONL (one JSON object per line)."""
    from searchapp.feedback import FeedbackLog

    with open_library(options(ctx).settings()) as library, cli_errors():
        lines = list(FeedbackLog.of(library).export_lines())
    text = "".join(line + "\n" for line in lines)
    if path is None:
        sys.stdout.write(text)
    else:
        path.write_text(text, encoding="utf-8")
    err(f"{len(lines)} verdicts exported")


@app.command("import")
def import_feedback(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="A JSONL file (from `feedback export`); '-' reads stdin.")],
    as_json: JsonOpt = False,
) -> None:
    """Add verdicts from JSONL; a verdict already held (same id) is replaced, so re-importing is harmless."""
    from searchapp.feedback import FeedbackLog

    if str(path) == "-":
        lines = sys.stdin.read().splitlines()
    else:
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            err(f"error: cannot read {path}: {exc}")
            raise typer.Exit(2) from None
    with open_library(options(ctx).settings()) as library, cli_errors():
        report = FeedbackLog.of(library).import_lines(lines)
    for number, why in report.errors[:20]:
        err(f"{path}:{number}: {why}")
    if as_json:
        emit_json({"written": report.written, "errors": [list(e) for e in report.errors]})
    else:
        err(report.summary())
    if report.errors:
        raise typer.Exit(EXIT_NOTHING)


@app.command("calibrate")
def calibrate_notice(
    ctx: typer.Context,
    reset: Annotated[bool, typer.Option("--reset", help="Go back to the measured defaults.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Fit the "no good match" notice to this library from feedback; kept only if better held out."""
    from searchapp.feedback import calibration

    with open_library(options(ctx).settings()) as library, cli_errors():
        if reset:
            calibration.reset(library)
            err("the notice uses the measured defaults again")
            return
        result = calibration.calibrate(library)
    if as_json:
        emit_json(result.to_dict())
        return
    for label, scored in (("defaults", result.default), ("fitted", result.calibrated)):
        d = scored.to_dict()
        err(
            f"{label:8} held out: precision {d['precision']}, recall {d['recall']}, "
            f"false alarms {d['false_alarms']} "
            f"({scored.good} good, {scored.bad} bad queries)"
        )
    if result.kept:
        err(
            f"kept: cosine below {result.dense:.3f} or keyword share below {result.keyword:.3f} "
            "says 'no good match'"
        )
    else:
        err("not kept: " + "; ".join(result.reasons))
