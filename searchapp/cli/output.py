"""How the CLI shows things: a progress bar on stderr, tables and passages on stdout."""

from __future__ import annotations

import textwrap
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import typer

from searchapp.types import DocumentGroup, DocumentRecord, Hit, SearchResponse
from searchapp.units import format_size

if TYPE_CHECKING:
    from searchapp.health import HealthReport
    from searchapp.ingest.types import IngestReport
    from searchapp.progress import Progress


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


MODE_NAMES = {"adaptive": "adaptive", "dense": "semantic", "keyword": "keyword", "hybrid": "hybrid"}


def passage_ref(hit: Hit) -> str:
    """A short passage id that `searchapp similar` accepts: 12 characters of the document id."""
    return f"{hit.doc_id[:12]}:{hit.chunk_index}" if hit.doc_id else hit.chunk_id


def hit_details(hit: Hit, mode: str) -> str:
    """How the hit got its score: 'hybrid score · cosine 0.612 · semantic #1 · keyword #3 (BM25 7.21)'."""
    parts = [f"{MODE_NAMES.get(mode, mode)} score"]
    if hit.cosine is not None:
        parts.append(f"cosine {hit.cosine:.3f}")
    if hit.dense_rank is not None and mode != "dense":
        parts.append(f"semantic #{hit.dense_rank}")
    if hit.keyword_rank is not None:
        bm25 = f" (BM25 {hit.keyword_score:.2f})" if hit.keyword_score is not None else ""
        parts.append(f"keyword #{hit.keyword_rank}{bm25}")
    return " · ".join(parts)


def _where(hit: Hit) -> str:
    where = hit.source
    if hit.page is not None:
        where += f", page {hit.page}"
    if hit.heading:
        where += f" · {hit.heading}"
    return where


def print_hits(response: SearchResponse, width: int = 100) -> None:
    if not response.hits:
        typer.echo("No passages matched. Try other words, or fewer filters.", err=True)
        return
    groups = response.groups
    if groups is None:
        groups = tuple(DocumentGroup(best=hit) for hit in response.hits)
    for number, group in enumerate(groups, start=1):
        hit = group.best
        bar = "█" * round(hit.score * 10)
        typer.echo(f"{number:>2}. {hit.score:.3f} {bar:<10} {_where(hit)}")
        typer.echo(f"    {hit_details(hit, response.mode)} · id {passage_ref(hit)}")
        body = " ".join(hit.text.split())
        for line in textwrap.wrap(body, width=width - 4, max_lines=4, placeholder=" …"):
            typer.echo(f"    {line}")
        if group.others:
            count = len(group.others)
            typer.echo(f"    {count} more passage{'s' if count != 1 else ''} in this document:")
            for other in group.others:
                where = f"page {other.page}" if other.page is not None else other.heading or "passage"
                typer.echo(f"      {other.score:.3f} {where} · id {passage_ref(other)}")
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
            ",".join(r.groups) or "-",
            time.strftime("%Y-%m-%d %H:%M", time.localtime(r.ingested_at)),
            r.doc_id[:12] + ("  (pending)" if r.state == "pending" else ""),
        )
        for r in records
    ]
    header = ("document", "type", "pages", "chunks", "size", "tags", "groups", "ingested", "id")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        typer.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    total = sum(r.chunks for r in records)
    typer.echo(f"{len(records)} documents, {total} chunks", err=True)


def print_health(report: HealthReport) -> None:
    for check in report.checks:
        typer.echo(f"{'ok ' if check.ok else 'BAD'}  {check.name}: {check.detail}")
    for note in report.notes:
        typer.echo(f"note: {note}")
    summary = "healthy" if report.ok else f"problems found; repair: {report.repair or 'manual (see above)'}"
    typer.echo(f"{report.documents} documents, {report.chunks} chunks: {summary}", err=True)
