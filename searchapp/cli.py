"""The `searchapp` command: a thin front end over `Library` and `ingest`.

Heavy modules (chromadb, torch, the parsers) load inside commands, so `--help` is
instant. Results go to stdout (`--json` for machines); progress and messages go to
stderr. Exit codes: 0 success, 1 nothing found or some files failed, 2 usage error,
3 searchapp error (locked store, unreachable server, bad setting...).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from searchapp.config import Settings
from searchapp.errors import SearchAppError

if TYPE_CHECKING:
    from ingest.pipeline import Ingestor
    from ingest.types import IngestReport, SourceFile
    from searchapp.filters import SearchFilters
    from searchapp.library import Library
    from searchapp.types import SearchResponse

EXIT_NOTHING = 1
EXIT_ERROR = 3

app = typer.Typer(
    name="searchapp",
    help="Semantic search over your documents: ingest files, then search them by meaning.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,
)

DataDirOpt = Annotated[
    Path | None,
    typer.Option("--data-dir", envvar="SEARCHAPP_DATA_DIR", show_envvar=True, help="Data directory."),
]
CollectionOpt = Annotated[
    str | None,
    typer.Option(
        "--collection", "-c", envvar="SEARCHAPP_COLLECTION", show_envvar=True, help="Collection name."
    ),
]
ModelOpt = Annotated[
    str | None,
    typer.Option(
        "--model", envvar="SEARCHAPP_MODEL", show_envvar=True, help="Embedding model name or local path."
    ),
]
ServerOpt = Annotated[
    str | None,
    typer.Option(
        "--server-url",
        envvar="SEARCHAPP_SERVER_URL",
        show_envvar=True,
        help="Chroma server, e.g. http://127.0.0.1:8000.",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable JSON on stdout.")]
DocOpt = Annotated[
    list[str] | None, typer.Option("--doc", help="Only this document: name or id (repeatable).")
]
TypeOpt = Annotated[list[str] | None, typer.Option("--type", help="Only this file type (repeatable).")]
PagesOpt = Annotated[str | None, typer.Option("--pages", help="Only these PDF pages, e.g. 3-7.")]
TagOpt = Annotated[list[str] | None, typer.Option("--tag", help="Only documents with this tag (any of).")]
AfterOpt = Annotated[str | None, typer.Option("--after", help="Ingested on or after YYYY-MM-DD.")]
BeforeOpt = Annotated[str | None, typer.Option("--before", help="Ingested on or before YYYY-MM-DD.")]
ContainsOpt = Annotated[str | None, typer.Option("--contains", help="Passage contains this text (any case).")]
MinScoreOpt = Annotated[
    float | None, typer.Option("--min-score", help="Minimum score, 0-1 (the score shown).", min=0, max=1)
]
ModeOpt = Annotated[
    str | None,
    typer.Option("--mode", help="hybrid, dense or keyword (default: SEARCHAPP_SEARCH_MODE)."),
]
GroupOpt = Annotated[
    bool,
    typer.Option("--group", help="One result per document (its best passage), -k documents."),
]


def _settings(
    data_dir: Path | None, collection: str | None, model: str | None, server_url: str | None
) -> Settings:
    return Settings.load(data_dir=data_dir, collection=collection, model=model, server_url=server_url)


def err(message: str) -> None:
    typer.echo(message, err=True)


@contextmanager
def _errors() -> Iterator[None]:
    """Print searchapp errors as one clear line and exit 3, instead of a traceback."""
    try:
        yield
    except SearchAppError as exc:
        err(f"error: {exc}")
        raise typer.Exit(EXIT_ERROR) from None
    except KeyboardInterrupt:
        err("interrupted")
        raise typer.Exit(130) from None


@contextmanager
def _library(settings: Settings, *, check_model: bool = True) -> Iterator[Library]:
    from searchapp.library import Library

    with _errors(), Library.open(settings, check_model=check_model) as library:
        yield library


def _emit_json(data: Any) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2))


# ------------------------------------------------------------------- commands


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files or directories to ingest.")],
    tag: Annotated[list[str] | None, typer.Option("--tag", "-t", help="Tag every file (repeatable).")] = None,
    recursive: Annotated[
        bool, typer.Option("--recursive", "-r", help="Descend into subdirectories.")
    ] = False,
    workers: Annotated[int | None, typer.Option(help="Extraction processes.", min=1, max=64)] = None,
    password: Annotated[
        str | None,
        typer.Option(
            "--password",
            envvar="SEARCHAPP_PDF_PASSWORD",
            help="Password of encrypted PDFs (never stored). Without it, a terminal asks for each one.",
        ),
    ] = None,
    data_dir: DataDirOpt = None,
    collection: CollectionOpt = None,
    model: ModelOpt = None,
    server_url: ServerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Ingest PDF, TXT, MD, HTML and DOCX files. Unchanged files are skipped; edited ones replaced."""
    import dataclasses

    from ingest.files import discover
    from ingest.pipeline import Ingestor
    from searchapp.cli_output import ProgressBar, print_ingest_report

    with _errors():
        settings = _settings(data_dir, collection, model, server_url)
    found = discover(paths, recursive=recursive, tags=tag or ())
    if found.skipped:
        err(f"skipping {len(found.skipped)} files of unsupported types (supported: pdf, txt, md, html, docx)")
    if not found.files:
        err("no files to ingest")
        raise typer.Exit(EXIT_NOTHING)
    files = [dataclasses.replace(f, password=password) if password else f for f in found.files]
    with (
        _library(settings) as library,
        ProgressBar(len(files)) as bar,
        Ingestor(library, workers=workers, progress=bar.update) as ingestor,
    ):
        report = ingestor.ingest(files)
        if password is None and _interactive():
            report = _retry_with_passwords(ingestor, files, report)
    if as_json:
        _emit_json(report.to_dict())
    else:
        print_ingest_report(report)
    if report.failed:
        raise typer.Exit(EXIT_NOTHING)


def _interactive() -> bool:
    """Whether someone is at a terminal to answer a prompt."""
    return sys.stdin.isatty()


def _retry_with_passwords(ingestor: Ingestor, files: list[SourceFile], report: IngestReport) -> IngestReport:
    """Ask for the password of each encrypted PDF (hidden input; Enter skips) and retry it."""
    import dataclasses

    from ingest.types import IngestReport
    from searchapp.errors import FailureReason

    by_source = {f.source: f for f in files}
    outcomes = list(report.outcomes)
    for index, outcome in enumerate(outcomes):
        file = by_source.get(outcome.source)
        while file is not None and outcome.reason is FailureReason.PASSWORD_PROTECTED:
            err(f"{outcome.source}: {outcome.detail}")
            password = typer.prompt(
                f"Password for {outcome.source} (Enter to skip)",
                default="",
                hide_input=True,
                show_default=False,
                err=True,
            )
            if not password:
                break
            retried = ingestor.ingest([dataclasses.replace(file, password=password)])
            outcome = outcomes[index] = retried.outcomes[-1]
    return IngestReport(outcomes=tuple(outcomes))


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="What to look for, in plain words.")],
    k: Annotated[
        int, typer.Option("-k", help="How many passages (documents with --group).", min=1, max=1000)
    ] = 10,
    doc: DocOpt = None,
    file_type: TypeOpt = None,
    pages: PagesOpt = None,
    tag: TagOpt = None,
    after: AfterOpt = None,
    before: BeforeOpt = None,
    contains: ContainsOpt = None,
    min_score: MinScoreOpt = None,
    mode: ModeOpt = None,
    group: GroupOpt = False,
    data_dir: DataDirOpt = None,
    collection: CollectionOpt = None,
    model: ModelOpt = None,
    server_url: ServerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Search by meaning; print ranked passages with their score (0-1) and how they got it."""
    with _errors():
        settings = _settings(data_dir, collection, model, server_url)
    with _library(settings) as library:
        filters = _filters(library, doc, file_type, pages, tag, after, before, contains)
        response = library.search(query, k=k, filters=filters, min_score=min_score, mode=mode, group=group)
    _print_response(response, as_json)


@app.command()
def similar(
    chunk_id: Annotated[
        str,
        typer.Argument(
            help="A passage id from search results (chunk_id; 8+ characters of the document id are enough)."
        ),
    ],
    k: Annotated[
        int, typer.Option("-k", help="How many passages (documents with --group).", min=1, max=1000)
    ] = 10,
    doc: DocOpt = None,
    file_type: TypeOpt = None,
    pages: PagesOpt = None,
    tag: TagOpt = None,
    after: AfterOpt = None,
    before: BeforeOpt = None,
    contains: ContainsOpt = None,
    min_score: MinScoreOpt = None,
    mode: ModeOpt = None,
    group: GroupOpt = False,
    data_dir: DataDirOpt = None,
    collection: CollectionOpt = None,
    model: ModelOpt = None,
    server_url: ServerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """More like this: passages similar to a stored one (its own vector; itself left out)."""
    with _errors():
        settings = _settings(data_dir, collection, model, server_url)
    with _library(settings) as library:
        filters = _filters(library, doc, file_type, pages, tag, after, before, contains)
        response = library.similar(
            chunk_id, k=k, filters=filters, min_score=min_score, mode=mode, group=group
        )
    _print_response(response, as_json, similar=True)


@app.command()
def compare(
    text_a: Annotated[str, typer.Argument(help="The first text.")],
    text_b: Annotated[str, typer.Argument(help="The second text.")],
    data_dir: DataDirOpt = None,
    collection: CollectionOpt = None,
    model: ModelOpt = None,
    server_url: ServerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """How similar two texts are: 0-1, on the same scale as semantic search scores."""
    from searchapp.scoring import dense_score

    with _errors():
        settings = _settings(data_dir, collection, model, server_url)
    with _library(settings) as library:
        cosine = library.compare(text_a, text_b)
    if as_json:
        _emit_json({"similarity": round(dense_score(cosine), 6), "cosine": round(cosine, 6)})
    else:
        typer.echo(f"similarity {dense_score(cosine):.3f} (cosine {cosine:.3f})")


def _filters(
    library: Library,
    doc: list[str] | None,
    file_type: list[str] | None,
    pages: str | None,
    tag: list[str] | None,
    after: str | None,
    before: str | None,
    contains: str | None,
) -> SearchFilters:
    from searchapp.filters import SearchFilters

    return SearchFilters.from_mapping(
        {
            "documents": [library.document(ref).doc_id for ref in doc or []],
            "file_types": file_type or [],
            "pages": pages,
            "tags": tag or [],
            "ingested_after": after,
            "ingested_before": before,
            "text_contains": contains,
        }
    )


def _print_response(response: SearchResponse, as_json: bool, *, similar: bool = False) -> None:
    from searchapp.cli_output import print_hits

    for notice in response.notices:
        err(f"note: {notice}")
    if response.weak_match and not similar:
        err("note: no passage matches the query well; these are the closest there are")
    if as_json:
        _emit_json(response.to_dict())
    else:
        print_hits(response)
    if not response.hits:
        raise typer.Exit(EXIT_NOTHING)


@app.command()
def docs(
    data_dir: DataDirOpt = None,
    collection: CollectionOpt = None,
    model: ModelOpt = None,
    server_url: ServerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List documents with their chunk counts."""
    from searchapp.cli_output import print_documents

    with _errors():
        settings = _settings(data_dir, collection, model, server_url)
    with _library(settings, check_model=False) as library:
        records = library.documents(include_pending=True)
    if as_json:
        _emit_json([r.to_dict() for r in records])
    else:
        print_documents(records)


@app.command()
def delete(
    documents: Annotated[list[str], typer.Argument(help="Document names or ids (8+ characters of the id).")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    data_dir: DataDirOpt = None,
    collection: CollectionOpt = None,
    model: ModelOpt = None,
    server_url: ServerOpt = None,
) -> None:
    """Delete documents completely: chunks, catalog entry and kept original."""
    with _errors():
        settings = _settings(data_dir, collection, model, server_url)
    with _library(settings, check_model=False) as library:
        records = [library.document(ref) for ref in documents]
        if not yes and sys.stdin.isatty():
            names = ", ".join(r.source for r in records)
            typer.confirm(f"Delete {names}?", abort=True, err=True)
        for record in records:
            library.delete_by_id(record.doc_id)
            err(f"deleted {record.source} ({record.chunks} chunks)")


@app.command()
def stats(
    data_dir: DataDirOpt = None,
    collection: CollectionOpt = None,
    model: ModelOpt = None,
    server_url: ServerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show the collection: documents, chunks, model, where the data lives."""
    with _errors():
        settings = _settings(data_dir, collection, model, server_url)
    with _library(settings, check_model=False) as library:
        result = library.stats().to_dict()
        result["model"] = library.store.collection_metadata.get("model", result["model"])
    if as_json:
        _emit_json(result)
    else:
        width = max(len(key) for key in result)
        for key, value in result.items():
            typer.echo(f"{key.replace('_', ' '):<{width}}  {value}")


@app.command()
def reindex(
    new_model: Annotated[
        str | None,
        typer.Option("--to-model", help="Re-embed with this model instead of the current one."),
    ] = None,
    data_dir: DataDirOpt = None,
    collection: CollectionOpt = None,
    model: ModelOpt = None,
    server_url: ServerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Rebuild the whole index from the kept original files."""
    from ingest.reindex import reindex as rebuild
    from searchapp.cli_output import ProgressBar, print_ingest_report

    with _errors():
        settings = _settings(data_dir, collection, model, server_url)
    with _library(settings, check_model=new_model is None) as library:
        count = len(library.documents(include_pending=True))
        with _errors(), ProgressBar(count) as bar:
            reopened, report = rebuild(library, model=new_model, progress=bar.update)
        reopened.close()
    if as_json:
        _emit_json(report.to_dict())
    else:
        print_ingest_report(report)
        if new_model:
            err(f"the collection now uses {new_model}; set SEARCHAPP_MODEL={new_model} from now on")
    if report.failed:
        raise typer.Exit(EXIT_NOTHING)


@app.command()
def doctor(
    repair: Annotated[bool, typer.Option("--repair", help="Fix what the check finds.")] = False,
    samples: Annotated[int, typer.Option(help="Stored vectors to look up.", min=1, max=100_000)] = 200,
    data_dir: DataDirOpt = None,
    collection: CollectionOpt = None,
    model: ModelOpt = None,
    server_url: ServerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Check that the index is whole (in a child process); with --repair, fix it."""
    from searchapp.cli_output import print_health
    from searchapp.health import run_check

    with _errors():
        settings = _settings(data_dir, collection, model, server_url)
        report = run_check(settings, samples=samples)
        if not as_json:
            print_health(report)
        if repair and not report.ok:
            err(f"repairing: {report.repair or 'nothing to do automatically'}")
            _repair(settings, report.repair)
            report = run_check(settings, samples=samples)
            if not as_json:
                print_health(report)
    if as_json:
        _emit_json(report.to_dict())
    if not report.ok:
        if not repair and report.repair:
            err("run `searchapp doctor --repair` to fix this")
        raise typer.Exit(EXIT_NOTHING)


def _repair(settings: Settings, action: str) -> None:
    from ingest.pipeline import Ingestor
    from ingest.reindex import rebuild_from_originals, reindex
    from searchapp.cli_output import ProgressBar, print_ingest_report

    if action == "rebuild":
        with ProgressBar(0) as bar:
            library, report = rebuild_from_originals(settings, progress=bar.update)
        library.close()
        print_ingest_report(report)
        return
    with _library(settings, check_model=False) as library:
        if action == "resume":
            with Ingestor(library) as ingestor:
                print_ingest_report(ingestor.resume_pending())
        elif action == "reindex":
            with ProgressBar(len(library.documents(include_pending=True))) as bar:
                reopened, report = reindex(library, progress=bar.update)
            reopened.close()
            print_ingest_report(report)


@app.command()
def ui(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 8501,
    data_dir: DataDirOpt = None,
    collection: CollectionOpt = None,
    model: ModelOpt = None,
    server_url: ServerOpt = None,
    demo: Annotated[
        bool,
        typer.Option("--demo", help="Load the bundled public-domain sample documents first (tag: sample)."),
    ] = False,
) -> None:
    """Start the web UI (Streamlit) with searchapp's settings, from any directory."""
    from ui.launcher import streamlit_command

    with _errors():
        settings = _settings(data_dir, collection, model, server_url)
    if demo:
        _load_samples(settings)
    given = {
        f"SEARCHAPP_{name.upper()}": str(value)
        for name, value in (
            ("data_dir", data_dir),
            ("collection", collection),
            ("model", model),
            ("server_url", server_url),
        )
        if value is not None
    }
    command, env = streamlit_command(settings, host=host, port=port, given=given)
    err(f"searchapp UI on http://{host}:{port} (data: {settings.server_url or settings.data_dir})")
    os.execvpe(command[0], command, env)


def _load_samples(settings: Settings) -> None:
    """Ingest the sample documents (idempotent) and let go of the library before the UI starts."""
    from ingest.pipeline import Ingestor
    from ingest.types import SourceFile
    from searchapp.cli_output import ProgressBar
    from searchapp.samples import SAMPLE_TAG, sample_paths

    files = [SourceFile(p.name, path=p, tags=(SAMPLE_TAG,)) for p in sample_paths()]
    with (
        _library(settings) as library,
        ProgressBar(len(files)) as bar,
        Ingestor(library, progress=bar.update) as ingestor,
    ):
        report = ingestor.ingest(files)
    err(f"sample documents: {report.summary()}")
    if report.failed:
        for outcome in report.failed:
            err(f"  {outcome.source}: {outcome.message}")
        raise typer.Exit(EXIT_ERROR)


import searchapp.cli_eval  # noqa: E402, F401  registers `searchapp eval` on `app`


def main() -> None:
    app()


if __name__ == "__main__":
    main()
