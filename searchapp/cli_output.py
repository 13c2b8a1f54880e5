"""How the CLI shows things: a progress bar on stderr, tables and passages on stdout."""

from __future__ import annotations

import textwrap
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import typer

from searchapp.types import DocumentRecord, SearchResponse
from searchapp.units import format_size

if TYPE_CHECKING:
    from ingest.types import IngestReport, Progress
    from searchapp.health import HealthReport


class ProgressBar:
    """Files done and chunks embedded, drawn on stderr (plain lines when not a terminal)."""

    def __init__(self, files_total: int) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self._console = Console(stderr=True)
        self._live = self._console.is_terminal
        self._progress: Any = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("files · {task.fields[chunks]} chunks embedded · {task.fields[current]}"),
            TimeElapsedColumn(),
            console=self._console,
            transient=True,
            disable=not self._live,
        )
        self._task = self._progress.add_task("ingesting", total=files_total, chunks=0, current="")
        self._last_line = 0.0

    def __enter__(self) -> ProgressBar:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def update(self, event: Progress) -> None:
        self._progress.update(
            self._task,
            completed=event.files_done,
            total=max(event.files_total, 1),
            chunks=event.chunks_embedded,
            current=event.source[-40:],
        )
        now = time.monotonic()
        if not self._live and (event.stage == "done" or now - self._last_line > 5):
            self._last_line = now
            typer.echo(
                f"[{event.files_done}/{event.files_total}] {event.stage:<7} {event.source}"
                f"{': ' + event.message if event.message else ''}",
                err=True,
            )


def print_ingest_report(report: IngestReport) -> None:
    marks = {"ingested": "+", "unchanged": "=", "failed": "!"}
    for outcome in report.outcomes:
        typer.echo(f"{marks[outcome.status]} {outcome.source}: {outcome.message}")
        for warning in outcome.warnings:
            typer.echo(f"    warning: {warning}")
    typer.echo(report.summary(), err=True)


def print_hits(response: SearchResponse, width: int = 100) -> None:
    if not response.hits:
        typer.echo("No passages matched. Try other words, or fewer filters.", err=True)
        return
    for hit in response.hits:
        where = hit.source
        if hit.page is not None:
            where += f", page {hit.page}"
        if hit.heading:
            where += f" · {hit.heading}"
        bar = "█" * round(max(hit.score, 0.0) * 10)
        typer.echo(f"{hit.rank:>2}. {hit.score:.3f} {bar:<10} {where}")
        if hit.fused_score is not None:
            ranks = f"dense #{hit.dense_rank or '-'}, keyword #{hit.keyword_rank or '-'}"
            typer.echo(f"    fused {hit.fused_score:.4f} ({ranks})")
        body = " ".join(hit.text.split())
        for line in textwrap.wrap(body, width=width - 4, max_lines=4, placeholder=" …"):
            typer.echo(f"    {line}")
        typer.echo("")


def print_documents(records: Sequence[DocumentRecord]) -> None:
    if not records:
        typer.echo("No documents yet. Add some with: searchapp ingest PATH...", err=True)
        return
    rows = [
        (
            r.source,
            r.file_type,
            str(r.pages or ""),
            str(r.chunks),
            format_size(r.size),
            ",".join(r.tags),
            time.strftime("%Y-%m-%d %H:%M", time.localtime(r.ingested_at)),
            r.doc_id[:12] + ("  (pending)" if r.state == "pending" else ""),
        )
        for r in records
    ]
    header = ("document", "type", "pages", "chunks", "size", "tags", "ingested", "id")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        typer.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    total = sum(r.chunks for r in records)
    typer.echo(f"{len(records)} documents, {total} chunks", err=True)


def print_health(report: HealthReport) -> None:
    for check in report.checks:
        typer.echo(f"{'ok ' if check.ok else 'BAD'}  {check.name}: {check.detail}")
    summary = "healthy" if report.ok else f"problems found; repair: {report.repair or 'manual (see above)'}"
    typer.echo(f"{report.documents} documents, {report.chunks} chunks: {summary}", err=True)
