"""How the CLI shows things: a progress bar on stderr, tables and passages on stdout."""

from __future__ import annotations

import os
import sys
import textwrap
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import typer

from searchapp.storage.matches import term_spans
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


MODE_LABELS = {"adaptive": "adaptive", "dense": "semantic", "keyword": "keyword", "hybrid": "hybrid"}


def passage_ref(hit: Hit) -> str:
    """A short passage id that `searchapp similar` accepts: 12 characters of the document id."""
    return f"{hit.doc_id[:12]}:{hit.chunk_index}" if hit.doc_id else hit.chunk_id


def hit_details(hit: Hit, mode: str) -> str:
    """How the hit got its score: 'hybrid score · cosine 0.612 · semantic #1 · keyword #3 (BM25 7.21)'."""
    parts = [f"{MODE_LABELS.get(mode, mode)} score"]
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


def passage_lines(
    text: str, terms: Sequence[str], *, width: int, max_lines: int = 4, bold: bool = False
) -> list[str]:
    """A passage in at most `max_lines` lines of `width`: its start, or, when the first word
    that matches a query term (`searchapp.storage.matches`, as the UI marks them) would be
    past the cut, a window that starts a little before that word; "…" where text is cut.
    `bold` marks the matching words with terminal bold (for a terminal only)."""
    body = " ".join(text.split())
    lines = textwrap.wrap(body, width=width, max_lines=max_lines, placeholder=" …")
    first = next(term_spans(body, terms), None)
    if first is not None and not _shows(lines, body, first[1]):
        start = body.find(" ", max(0, first[0] - width // 3), first[0])
        window = "… " + body[start + 1 if start >= 0 else first[0] :]
        lines = textwrap.wrap(window, width=width, max_lines=max_lines, placeholder=" …")
    if bold:
        lines = [_bolded(line, terms) for line in lines]
    return lines


def _shows(lines: list[str], body: str, end: int) -> bool:
    """Whether `lines` (`body` wrapped, perhaps cut) show `body` up to `end`."""
    shown = sum(len(line) - line.count(" ") for line in lines)
    whole = len(body) - body.count(" ")
    if shown != whole:
        shown -= 1  # the placeholder's "…"
    return shown >= end - body.count(" ", 0, end)


def _bolded(line: str, terms: Sequence[str]) -> str:
    out: list[str] = []
    position = 0
    for start, end in term_spans(line, terms):
        out.append(line[position:start] + typer.style(line[start:end], bold=True))
        position = end
    return "".join(out) + line[position:]


def print_hits(response: SearchResponse, width: int = 100, terms: Sequence[str] = ()) -> None:
    """The hits as numbered blocks; each passage shown around its first word that starts
    with one of `terms` (`searchapp.storage.matches.query_terms`), bold on a terminal."""
    bold = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
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
        for line in passage_lines(hit.text, terms, width=width - 4, bold=bold):
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
