"""A search request as the HTTP API and the MCP server take it: the core's, documents named.

`SearchRequest.from_mapping` validates the body; `named_documents` then resolves the
documents that `filters.documents` and `filters.exclude_documents` name exactly as the
query's ``doc:`` is resolved (`searchapp.library.finding.ids_among`: an id, 8+
characters of one, a name or part of a name), among the documents the caller may see.
One that names none is refused (404) as ``doc:`` is, rather than filtering everything out.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from searchapp.api.errors import HTTP_LISTING, for_service
from searchapp.errors import DocumentNotFoundError, QueryError
from searchapp.filter_values import MAX_LIST_ITEMS
from searchapp.library.finding import ids_among
from searchapp.library.view import LibraryView
from searchapp.request import SearchRequest
from searchapp.types import DocumentRecord, SearchResponse

__all__ = [
    "EMPTY_LIBRARY",
    "HTTP_LISTING",
    "MCP_LISTING",
    "for_service",
    "named_documents",
    "search_request",
    "told_if_empty",
]

# An MCP client has no listing tool: what it can do instead of `searchapp docs`.
MCP_LISTING = (
    "search without naming a document: each passage's citation gives its document's name "
    "(`document`) and id (`doc_id`)"
)


# What a client of the API or an assistant is told when there was nothing to search.
EMPTY_LIBRARY = (
    "The library holds no documents (none that this caller may see), so nothing can be found: "
    "add documents on the web UI's Upload page, with `searchapp ingest`, or with "
    "POST /api/v1/documents (a write token), then search again."
)
LIBRARY_EMPTY_HELP = (
    "true when the library holds no documents the caller may see, so nothing could be found "
    "(`notices` then says how to add some); false otherwise"
)


def told_if_empty(response: SearchResponse) -> SearchResponse:
    """`response` with `EMPTY_LIBRARY` among its notices when the core found the library empty."""
    if not response.library_empty:
        return response
    return dataclasses.replace(response, notices=(*response.notices, EMPTY_LIBRARY))


def search_request(reader: LibraryView, raw: Mapping[str, Any], *, listing: str) -> SearchRequest:
    """`raw` as a request, its named documents resolved among those `reader` holds.

    Raises:
        QueryError: what `SearchRequest.from_mapping` refuses.
        DocumentNotFoundError: a document in the filters that names none `reader` holds.
    """
    return named_documents(SearchRequest.from_mapping(raw), reader, listing=listing)


def named_documents(request: SearchRequest, reader: LibraryView, *, listing: str) -> SearchRequest:
    """`request` with the ids of the documents its filters name (see the module docstring)."""
    filters = request.filters
    if not filters.doc_ids and not filters.exclude_doc_ids:
        return request
    named = dataclasses.replace(
        filters,
        doc_ids=_all_ids(reader, filters.doc_ids, "documents", listing),
        # Leaving out a document that is not there leaves out nothing: no error (a client's
        # list of exclusions outlives the documents it names).
        exclude_doc_ids=_all_ids(reader, filters.exclude_doc_ids, "exclude_documents", listing, strict=False),
    )
    return dataclasses.replace(request, filters=named)


def _all_ids(
    reader: LibraryView, refs: tuple[str, ...], key: str, listing: str, *, strict: bool = True
) -> tuple[str, ...]:
    if len(refs) > MAX_LIST_ITEMS:
        raise QueryError(f"filters.{key} takes at most {MAX_LIST_ITEMS} documents; got {len(refs)}")
    found: list[str] = []
    records = reader.documents() if refs else []  # read once, not once per name
    for ref in refs:
        try:
            found.extend(_ids(reader, records, ref, key, listing))
        except DocumentNotFoundError:
            if strict:
                raise
    return tuple(dict.fromkeys(found))


def _ids(
    reader: LibraryView, records: list[DocumentRecord], ref: str, key: str, listing: str
) -> tuple[str, ...]:
    if len(ref) == 64 and reader.find_by_id(ref) is not None:  # a full id (a hidden version too)
        return (ref,)
    try:
        return ids_among([ref], records)
    except DocumentNotFoundError:
        raise DocumentNotFoundError(
            f"filters.{key}: {ref!r} names no document in this library (give an id, 8+ characters "
            f"of one, or a name or part of it, as for doc: in the query); {listing}"
        ) from None
