"""`searchapp eval`: retrieval quality on a BEIR dataset, from the command line.

The table (or `--json`) goes to stdout; progress and notes go to stderr. Exit codes follow the
CLI: 2 for a mode the library does not offer (a usage error), 3 for bad data or any
other searchapp error.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer

from searchapp.cli.common import EXIT_USAGE, JsonOpt, cli_errors, emit_json, err
from searchapp.config import Settings

if TYPE_CHECKING:
    from searchapp.cli.output import ProgressBar
    from searchapp.progress import Progress

ModeChoice = Literal["adaptive", "hybrid", "dense", "semantic", "keyword", "all"]


class EvalBars:
    """The ingest bar (only if the corpus is embedded) and one query bar per mode, on stderr."""

    def __init__(self) -> None:
        from rich.console import Console

        self._console = Console(stderr=True)
        self._live = self._console.is_terminal
        self._ingest: ProgressBar | None = None
        self._queries: Any = None
        self._task: Any = None
        self._mode = ""
        self._last_line = 0.0

    def __enter__(self) -> EvalBars:
        return self

    def __exit__(self, *exc: object) -> None:
        self._close_ingest()
        self._close_queries()

    def note(self, message: str) -> None:
        err(message)

    def ingest(self, event: Progress) -> None:
        if not self._live:
            # Not a terminal: a line every few seconds, not one per corpus document.
            self._line(
                event.files_done == event.files_total,
                f"[{event.files_done}/{event.files_total}] documents indexed, "
                f"{event.chunks_embedded} chunks embedded",
            )
            return
        if self._ingest is None:
            from searchapp.cli.output import ProgressBar

            self._ingest = ProgressBar(event.files_total).__enter__()
        self._ingest.update(event)

    def query(self, mode: str, done: int, total: int) -> None:
        self._close_ingest()
        if mode != self._mode:
            self._close_queries()
            self._open_queries(mode, total)
        self._queries.update(self._task, completed=done)
        if not self._live:
            self._line(done == total, f"[{done}/{total}] {mode} queries")

    def _line(self, last: bool, message: str) -> None:
        now = time.monotonic()
        if last or now - self._last_line > 10:
            self._last_line = now
            err(message)

    def _open_queries(self, mode: str, total: int) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self._mode = mode
        self._queries = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("queries"),
            TimeElapsedColumn(),
            console=self._console,
            transient=True,
            disable=not self._live,
        )
        self._task = self._queries.add_task(f"evaluating {mode}", total=max(total, 1))
        self._queries.start()

    def _close_ingest(self) -> None:
        if self._ingest is not None:
            self._ingest.__exit__(None, None, None)
            self._ingest = None

    def _close_queries(self) -> None:
        if self._queries is not None:
            self._queries.stop()
            self._queries = None


def eval_command(
    datasets: Annotated[
        list[Path],
        typer.Argument(
            help="BEIR dataset directories (corpus.jsonl, queries.jsonl, qrels/<split>.tsv); "
            "several give one table.",
            exists=True,
            file_okay=False,
        ),
    ],
    split: Annotated[str, typer.Option(help="Evaluate the judgements in qrels/<split>.tsv.")] = "test",
    mode: Annotated[
        ModeChoice,
        typer.Option(
            help="Retrieval mode: dense (or semantic), keyword, hybrid, "
            "or all (every mode the library offers)."
        ),
    ] = "all",
    k: Annotated[
        int, typer.Option("--k", help="Cut-off for nDCG, Recall and MRR (Recall@100 too).", min=1, max=1000)
    ] = 10,
    sample: Annotated[
        int | None,
        typer.Option(
            "--sample",
            help="Evaluate N random queries of each set against their judged documents and "
            "4 random other documents per judged one (a quick run for CI).",
            min=1,
        ),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the --sample draw.")] = 0,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            help="Where scratch indexes live (one directory per collection); "
            "default: <SEARCHAPP_DATA_DIR>/eval, never the library itself.",
        ),
    ] = None,
    collection: Annotated[
        str | None,
        typer.Option(
            "--collection",
            "-c",
            help="Scratch collection name (one dataset only); default: eval-<dataset name>.",
        ),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option("--model", envvar="SEARCHAPP_MODEL", help="Embedding model name or local path."),
    ] = None,
    rebuild: Annotated[
        bool, typer.Option("--rebuild", help="Embed the corpus again even if a matching index exists.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Measure retrieval quality on BEIR datasets (nDCG, Recall, MRR, latency per mode).

    Each corpus is ingested once into a scratch index beside (not inside) your library
    and reused while the corpus, model and chunk settings stay the same. --json prints
    one report object for one dataset, and a list of them for several.
    """
    from searchapp.evaluation import ModeNotOfferedError, load_beir, results_table, run_evaluation
    from searchapp.evaluation.sampling import sample_dataset

    if collection is not None and len(datasets) > 1:
        err("error: --collection names one scratch index; it cannot be used with several datasets")
        raise typer.Exit(EXIT_USAGE)
    with cli_errors():
        settings = Settings.load(model=model)
        # Read and check every dataset before minutes of embedding the first one.
        loaded = [load_beir(path, split) for path in datasets]
        if sample is not None:
            loaded = [sample_dataset(data, sample, seed) for data in loaded]
        reports = []
        try:
            with EvalBars() as bars:
                for data in loaded:
                    reports.append(
                        run_evaluation(
                            data,
                            settings,
                            modes=[mode],
                            k=k,
                            data_dir=data_dir,
                            collection=collection,
                            rebuild=rebuild,
                            progress=bars,
                        )
                    )
        except ModeNotOfferedError as exc:
            err(f"error: {exc}")
            raise typer.Exit(EXIT_USAGE) from None
    if as_json:
        emit_json(reports[0].to_dict() if len(reports) == 1 else [r.to_dict() for r in reports])
        return
    for report in reports:
        typer.echo(report.summary())
    typer.echo(results_table(reports))
    for report in reports:
        index = report.index
        built = "reused, built" if index.reused else "built"
        err(f"{report.label}: index {built} in {index.ingest_seconds:.0f} s; searched {index.data_dir}")
