"""Commands that search: search, similar (more like this) and compare."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from searchapp.cli.common import EXIT_NOTHING, JsonOpt, emit_json, err, open_library, options

if TYPE_CHECKING:
    from collections.abc import Sequence

    from searchapp.filters import SearchFilters
    from searchapp.library import Library
    from searchapp.types import SearchResponse

KOpt = Annotated[int, typer.Option("-k", help="How many passages (documents with --group).", min=1, max=1000)]
DocOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--doc",
        help="Only this document: its name, part of its name (every match) or its id, as doc: (repeatable).",
    ),
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
    typer.Option(
        "--mode",
        help="adaptive, hybrid, dense (or semantic) or keyword (default: SEARCHAPP_SEARCH_MODE, adaptive).",
    ),
]
EMPTY_LIBRARY = (
    "The library is empty: there is nothing to search yet. Add documents with: searchapp ingest PATH... "
    "(or keep a folder in sync: searchapp sources add NAME PATH)"
)
GroupOpt = Annotated[
    bool, typer.Option("--group", help="One result per document (its best passage), -k documents.")
]


def search(
    ctx: typer.Context,
    query: Annotated[
        str,
        typer.Argument(
            help='What to look for, in plain words; also "exact phrase", -word, type:pdf, tag:hr, '
            "doc:NAME, page:3-7, after:2026-01-01, before:2026-03 (README: query syntax)."
        ),
    ],
    k: KOpt = 10,
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
    as_json: JsonOpt = False,
) -> None:
    """Search by meaning; print ranked passages with their score (0-1) and how they got it."""
    from searchapp.request import SearchRequest
    from searchapp.storage.matches import query_terms

    with open_library(options(ctx).settings()) as library:
        filters = _filters(library, doc, file_type, pages, tag, after, before, contains)
        request = SearchRequest(
            query=query, k=k, filters=filters, min_score=min_score, mode=mode, group=group
        )
        response = library.find(request)
    _print_response(response, as_json, terms=query_terms(request.text))


def similar(
    ctx: typer.Context,
    chunk_id: Annotated[
        str,
        typer.Argument(
            help="A passage id from search results (chunk_id; 8+ characters of the document id do)."
        ),
    ],
    k: KOpt = 10,
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
    as_json: JsonOpt = False,
) -> None:
    """More like this: passages similar to a stored one (its own vector; itself left out)."""
    from searchapp.request import SearchRequest

    with open_library(options(ctx).settings()) as library:
        filters = _filters(library, doc, file_type, pages, tag, after, before, contains)
        request = SearchRequest(
            like=chunk_id, k=k, filters=filters, min_score=min_score, mode=mode, group=group
        )
        response = library.find(request)
    _print_response(response, as_json, similar=True)


def compare(
    ctx: typer.Context,
    text_a: Annotated[str, typer.Argument(help="The first text.")],
    text_b: Annotated[str, typer.Argument(help="The second text.")],
    as_json: JsonOpt = False,
) -> None:
    """How similar two texts are: 0-1, on the same scale as semantic search scores."""
    from searchapp.retrieval.scoring import dense_score

    with open_library(options(ctx).settings()) as library:
        cosine = library.compare(text_a, text_b)
    if as_json:
        emit_json({"similarity": round(dense_score(cosine), 6), "cosine": round(cosine, 6)})
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
    from searchapp.library.finding import document_ids

    return SearchFilters.from_mapping(
        {
            # As `doc:` in the query: a name, an id, or every document whose name holds it.
            "documents": list(document_ids(doc or [], library)),
            "file_types": file_type or [],
            "pages": pages,
            "tags": tag or [],
            "ingested_after": after,
            "ingested_before": before,
            "text_contains": contains,
        }
    )


def _print_response(
    response: SearchResponse, as_json: bool, *, similar: bool = False, terms: Sequence[str] = ()
) -> None:
    from searchapp.cli.output import print_hits

    for notice in response.notices:
        err(f"note: {notice}")
    if response.weak_match and not similar:
        err("note: no passage matches the query well; these are the closest there are")
    if as_json:
        emit_json(response.to_dict())
    if response.library_empty:  # nothing to search, rather than nothing matched
        err(EMPTY_LIBRARY)
    elif not as_json:
        print_hits(response, terms=terms)
    if not response.hits:
        raise typer.Exit(EXIT_NOTHING)
