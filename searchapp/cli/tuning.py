"""`searchapp tune` and `searchapp model list|use|rollback|delete`."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from searchapp.cli.common import EXIT_NOTHING, JsonOpt, cli_errors, emit_json, err, open_library, options

if TYPE_CHECKING:
    from searchapp.tuning.train_config import TrainConfig

model_app = typer.Typer(
    name="model", no_args_is_help=True, help="Model versions: list, use, rollback, delete."
)


def tune(
    ctx: typer.Context,
    source: Annotated[
        list[str] | None,
        typer.Option("--from", help="feedback, labels or structure (repeat for several). Default: feedback."),
    ] = None,
    labels: Annotated[
        Path | None,
        typer.Option(help="BEIR qrels (.tsv), a BEIR directory, or a CSV of query,document|passage."),
    ] = None,
    queries: Annotated[
        Path | None, typer.Option(help="queries.jsonl for qrels, when it is not beside them.")
    ] = None,
    test_labels: Annotated[
        Path | None, typer.Option(help="Held-out labels (default: 30% of the queries).")
    ] = None,
    corpus: Annotated[
        Path | None, typer.Option(help="A BEIR directory whose corpus this library holds, to evaluate on.")
    ] = None,
    loss: Annotated[str, typer.Option(help="mnrl, cached-mnrl or gist.")] = "mnrl",
    lora: Annotated[
        bool, typer.Option(help="Train a LoRA adapter (merged after) instead of every weight.")
    ] = False,
    epochs: Annotated[
        int | None,
        typer.Option(min=1, max=20, help="At most this many epochs (default 6, within a CPU step budget)."),
    ] = None,
    refit: Annotated[
        bool | None,
        typer.Option(
            "--refit/--no-refit",
            help="After early stopping, train again on the validation queries too (default: the recipe's).",
        ),
    ] = None,
    lr: Annotated[
        float | None,
        typer.Option("--lr", min=1e-7, max=1e-2, help="Learning rate (default 3e-5, or 5e-4 with --lora)."),
    ] = None,
    blend: Annotated[
        float | None,
        typer.Option(
            min=0.01,
            max=1.0,
            help="Keep this share of the way from the base weights to the tuned ones (default 1: all).",
        ),
    ] = None,
    seed: Annotated[int, typer.Option()] = 0,
    use: Annotated[
        bool, typer.Option("--use", help="Adopt the model at once if it passes the gate.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Tune the library's model on feedback, labels or document structure; kept only if it proves itself."""
    from searchapp.tuning.run import TuneRequest
    from searchapp.tuning.run import tune as run_tune

    sources = tuple(source or ("labels",) if labels and not source else source or ("feedback",))
    request = TuneRequest(
        sources=sources,
        labels=labels,
        queries=queries,
        test_labels=test_labels,
        corpus=corpus,
        seed=seed,
        config=_train_config(loss, lora, seed, epochs, refit, blend, lr),
    )
    with open_library(options(ctx).settings()) as library, cli_errors():
        report = run_tune(library, request, note=lambda m: err(f"{time.strftime('%H:%M:%S')} {m}"))
        if use and report.version is not None:
            _use(library, report.version.version_id)
    if as_json:
        emit_json(report.to_dict())
    else:
        _print_tune(report.to_dict())
    if not report.gate.passed:
        raise typer.Exit(EXIT_NOTHING)


def _train_config(
    loss: str,
    lora: bool,
    seed: int,
    epochs: int | None,
    refit: bool | None,
    blend: float | None = None,
    lr: float | None = None,
) -> TrainConfig:
    from searchapp.tuning.train_config import TrainConfig

    config = TrainConfig(
        loss=loss,  # type: ignore[arg-type]
        lora=lora,
        seed=seed,
        blend=blend or 1.0,
        learning_rate=lr or 0.0,
    )
    if epochs is not None:  # epochs asked for are planned as asked, not within the step budget
        config = dataclasses.replace(config, epochs=epochs, step_budget=0)
    return config if refit is None else dataclasses.replace(config, refit=refit)


def _print_tune(data: dict[str, object]) -> None:
    heldout = data["heldout"]
    assert isinstance(heldout, dict)
    typer.echo(f"held out: {heldout['queries']} queries of {heldout['dataset']}")
    typer.echo(f"{'mode':10} {'nDCG@10 base':>13} {'tuned':>8} {'gain':>8} {'R@10 base':>10} {'tuned':>8}")
    for m in heldout["modes"]:
        typer.echo(
            f"{m['mode']:10} {m['base_ndcg10']:>13.4f} {m['tuned_ndcg10']:>8.4f} {m['ndcg10_gain']:>+8.4f} "
            f"{m['base_recall10']:>10.4f} {m['tuned_recall10']:>8.4f}"
        )
    for check in data["check"]:  # type: ignore[attr-defined]
        for m in check["modes"]:
            typer.echo(
                f"check {check['dataset']:24} {m['mode']:9} {m['base_ndcg10']:.4f} -> "
                f"{m['tuned_ndcg10']:.4f} ({m['ndcg10_gain']:+.4f})"
            )
    gate = data["gate"]
    assert isinstance(gate, dict)
    if gate["passed"]:
        version = data["version"]
        typer.echo(
            "gate passed; kept as "
            + (version["version_id"] if isinstance(version, dict) else "(measured only)")
        )
    else:
        typer.echo("gate refused, nothing changed: " + "; ".join(gate["reasons"]))


def _use(library: object, ref: str) -> None:
    from searchapp.cli.output import ProgressBar
    from searchapp.ingest.model_use import use_model
    from searchapp.library import Library

    assert isinstance(library, Library)
    with ProgressBar(len(library.documents())) as bar:
        report = use_model(library, ref, progress=bar.update)
    err(report.summary())


@model_app.command("list")
def list_models(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """The base model and every kept version; * marks the live one."""
    from searchapp.ingest.model_use import describe_models

    with open_library(options(ctx).settings()) as library, cli_errors():
        rows = describe_models(library)
    if as_json:
        emit_json(rows)
        return
    for row in rows:
        mark = "*" if row["live"] else "<" if row["previous"] else " "
        made = (
            time.strftime("%Y-%m-%d %H:%M", time.localtime(row["created_at"])) if row["created_at"] else "-"
        )
        gain = ""
        for mode in (row.get("heldout") or {}).get("modes", []):
            if mode["mode"] == "adaptive":
                gain = f"held-out adaptive nDCG@10 {mode['base_ndcg10']:.4f} -> {mode['tuned_ndcg10']:.4f}"
        typer.echo(f"{mark} {row['version']:28} {made:16} {','.join(row.get('sources', [])):20} {gain}")
    err("* live   < the one before (searchapp model rollback)")


@model_app.command("use")
def use(
    ctx: typer.Context, version: Annotated[str, typer.Argument(help="A version id (or prefix), or 'base'.")]
) -> None:
    """Re-embed the library with this version beside the live index, then swap (resumable after a kill)."""
    with open_library(options(ctx).settings()) as library, cli_errors():
        _use(library, version)


@model_app.command("rollback")
def rollback(ctx: typer.Context) -> None:
    """Go back to the model used before the last switch."""
    from searchapp.cli.output import ProgressBar
    from searchapp.ingest.model_use import rollback as go_back

    with (
        open_library(options(ctx).settings()) as library,
        cli_errors(),
        ProgressBar(len(library.documents())) as bar,
    ):
        report = go_back(library, progress=bar.update)
    err(report.summary())


@model_app.command("delete")
def delete(
    ctx: typer.Context, version: Annotated[str, typer.Argument(help="A version id (or prefix).")]
) -> None:
    """Remove a kept version (never the live one)."""
    from searchapp.ingest.model_use import delete_version

    with open_library(options(ctx).settings()) as library, cli_errors():
        delete_version(library, version)
    err(f"deleted {version}")
