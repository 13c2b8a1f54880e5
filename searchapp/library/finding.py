"""Searching by name: what `Library` and `LibraryView` share between a caller and the searcher.

A search request names things the searcher cannot read: documents by name or id prefix
(``doc:`` in the query), a passage by a short id (`like`). `resolved` turns those names
into ids among the documents a reader holds: every document for a `Library`, only the
visible ones for a `LibraryView`, so a name of a document a caller may not see resolves
exactly as a name of none (`searchapp.library.view`).

`Finder` gives both readers the keyword-argument entry points (`search`, `similar`) as
one `SearchRequest` each, handed to their `find`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from searchapp.errors import AmbiguousDocumentError, DocumentNotFoundError, QueryError
from searchapp.filters import SearchFilters
from searchapp.request import SearchRequest
from searchapp.types import DocumentRecord, SearchResponse


class Catalog(Protocol):
    """The documents a reader holds (`Library`, or a caller's `LibraryView`)."""

    def documents(self, *, include_pending: bool = False) -> list[DocumentRecord]: ...

    def document(self, ref: str) -> DocumentRecord: ...


def find_document(records: Sequence[DocumentRecord], ref: str) -> DocumentRecord:
    """The one record `ref` names among `records`: by id, id prefix of 8+ characters, or name.

    Raises:
        DocumentNotFoundError: nothing matches, or a prefix matches several documents.
    """
    ref = ref.strip()
    exact = [r for r in records if r.doc_id == ref or r.source == ref]
    if len(exact) == 1:
        return exact[0]
    if len(ref) >= 8:
        prefixed = [r for r in records if r.doc_id.startswith(ref.lower())]
        if len(prefixed) == 1:
            return prefixed[0]
        if len(prefixed) > 1:
            raise AmbiguousDocumentError(f"{ref!r} matches {len(prefixed)} documents; give more of the id")
    raise DocumentNotFoundError(f"no document named or with id {ref!r}; `searchapp docs` lists them")


def full_passage_id(ref: str, document: Callable[[str], DocumentRecord]) -> str:
    """A full chunk id from a full one or from ``<8+ characters of the doc id>:<n>``,
    resolving the short form with `document`."""
    doc, sep, index = ref.strip().rpartition(":")
    if not sep or not index.isdigit() or len(doc) == 64:
        return ref.strip()
    return f"{document(doc).doc_id}:{int(index)}"


def document_ids(refs: Sequence[str], catalog: Catalog) -> tuple[str, ...]:
    """The documents ``doc:`` values name among `catalog`'s (read once): see `ids_among`.

    Raises:
        DocumentNotFoundError: a value that names no document of `catalog`.
    """
    return ids_among(refs, catalog.documents()) if refs else ()


def ids_among(refs: Sequence[str], records: Sequence[DocumentRecord]) -> tuple[str, ...]:
    """The documents ``doc:`` values name among `records`: each a name, an id or an id
    prefix, else every document whose name contains it (any case).

    Raises:
        DocumentNotFoundError: a value that names no document of `records`.
    """
    found: list[str] = []
    for ref in refs:
        try:
            found.append(find_document(records, ref).doc_id)
            continue
        except DocumentNotFoundError:
            named = [r.doc_id for r in records if ref.casefold() in r.source.casefold()]
        if not named:
            raise DocumentNotFoundError(
                f"doc:{ref} names no document in this library; `searchapp docs` lists them"
            )
        found += named
    return tuple(found)


def resolved(request: SearchRequest, catalog: Catalog, *, default_mode: str) -> SearchRequest:
    """`request` ready for the searcher: its mode set, ``doc:`` names and a short `like`
    id resolved among `catalog`'s documents (into `filters.doc_ids` and a full id).

    Raises:
        DocumentNotFoundError: a ``doc:`` name or a short `like` id names nothing there.
    """
    changes: dict[str, Any] = {}
    if request.mode is None:
        changes["mode"] = default_mode
    if request.parsed.documents:
        doc_ids = request.filters.doc_ids + document_ids(request.parsed.documents, catalog)
        changes["filters"] = dataclasses.replace(request.filters, doc_ids=tuple(dict.fromkeys(doc_ids)))
    if request.like:
        changes["like"] = full_passage_id(request.like, catalog.document)
    return dataclasses.replace(request, **changes) if changes else request


def as_filters(filters: SearchFilters | Mapping[str, Any] | None) -> SearchFilters:
    """`filters` as `SearchFilters` (a mapping through `SearchFilters.from_mapping`)."""
    if filters is None:
        return SearchFilters()
    return filters if isinstance(filters, SearchFilters) else SearchFilters.from_mapping(filters)


class Finder:
    """`search` and `similar` as keyword-argument forms of `find` (one `SearchRequest` each)."""

    def find(self, request: SearchRequest) -> SearchResponse:
        raise NotImplementedError

    def search(
        self,
        query: str,
        *,
        k: int = 10,
        filters: SearchFilters | Mapping[str, Any] | None = None,
        min_score: float | None = None,
        mode: str | None = None,
        group: bool = False,
    ) -> SearchResponse:
        """Ranked passages for `query` (which may use the query syntax, `searchapp.query_syntax`).

        Args:
            query: what to look for, in natural language.
            k: how many passages (1-1000); with `group`, how many documents.
            filters: a `SearchFilters`, or a mapping that `SearchFilters.from_mapping` accepts.
            min_score: drop passages whose score (0-1, `Hit.score`) is lower.
            mode: one of `search_modes`; default: the settings' `search_mode`.
            group: one group per document, best first (`SearchResponse.groups`).

        Raises:
            EmptyQueryError, QueryError, InvalidFilterError: invalid input.
            StoreError: the store failed.
        """
        return self.find(
            SearchRequest(
                query=query, k=k, filters=as_filters(filters), min_score=min_score, mode=mode, group=group
            )
        )

    def similar(
        self,
        chunk_id: str,
        *,
        k: int = 10,
        filters: SearchFilters | Mapping[str, Any] | None = None,
        min_score: float | None = None,
        mode: str | None = None,
        group: bool = False,
    ) -> SearchResponse:
        """Passages like a stored one: its stored vector as the query, itself left out.

        `chunk_id` is a hit's `chunk_id`, or its document id shortened to 8+ characters
        (``1a2b3c4d:7``). The response's `query` is the passage's text. Other arguments as
        in `search`.

        Raises:
            DocumentNotFoundError: no stored passage has this id.
        """
        if not isinstance(chunk_id, str) or not chunk_id.strip():
            raise QueryError(f"a passage id is text like '<document id>:<n>'; got {chunk_id!r}")
        return self.find(
            SearchRequest(
                like=chunk_id, k=k, filters=as_filters(filters), min_score=min_score, mode=mode, group=group
            )
        )
