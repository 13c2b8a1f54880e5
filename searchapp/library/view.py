"""`LibraryView`: a library as one caller may see it, the reader every front end uses.

`Library.view(visibility)` gives it; `visibility` (`searchapp.access.visibility`) is None
for a caller who sees everything, else the caller's groups. Through a view:

- every search (`find`, and `search` and `similar`, which build a `SearchRequest` for
  it), in every mode, takes the caller's visibility into the filters' row mask
  (`SearchFilters.visible_to`), so the k best are the k best the caller may see, never
  fewer after dropping; nothing in the request can lift it (the query syntax and
  `from_mapping` cannot set it, and the view sets it on every request it is given);
- the names in a request (``doc:`` values, a short `like` id) are resolved among the
  visible documents only, and a `like` passage of a hidden document is missing, so a
  name of a hidden document answers exactly as a name of none;
- `documents`, `document`, `find_by_id`, `stats` and the filter notices count only
  visible documents;
- `original`, `neighbours`, `similar` (its source passage) and the writes (`delete`,
  `update_tags`, `update_groups`) treat an invisible document as missing: the same
  `DocumentNotFoundError` as for one that does not exist, so nothing tells them apart.

A front end that holds a view cannot forget the caller: there is no unscoped read on it.

Interface (stable): find, search, similar, compare, documents, document, find_by_id,
passage_id, neighbours, original, stats, delete, update_tags, update_groups, can_see,
and the properties visibility, settings, model, search_modes, device.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from searchapp.access.identity import normalize_groups
from searchapp.access.visibility import Visibility, as_filter, can_see, check_assignable
from searchapp.config import Settings
from searchapp.embedding.embedders import Embedder
from searchapp.embedding.models import ModelInfo
from searchapp.errors import AccessDeniedError, ConfigError, DocumentNotFoundError
from searchapp.filters import SearchFilters
from searchapp.library.finding import Finder, as_filters, find_document, full_passage_id, resolved
from searchapp.library.reads import Stats
from searchapp.request import SearchRequest
from searchapp.types import DocumentRecord, SearchResponse


class Viewed(Protocol):
    """What a view reads and writes through: a `Library` (`searchapp.library.facade`), which
    makes views (`Library.view`); named here so that this module does not import it back."""

    @property
    def settings(self) -> Settings: ...
    @property
    def embedder(self) -> Embedder: ...
    @property
    def model(self) -> ModelInfo: ...
    @property
    def search_modes(self) -> tuple[str, ...]: ...
    def answer(self, request: SearchRequest) -> SearchResponse: ...
    def compare(self, text_a: str, text_b: str) -> float: ...
    def documents(self, *, include_pending: bool = False) -> list[DocumentRecord]: ...
    def pending_documents(self) -> list[DocumentRecord]: ...
    def find_by_id(self, doc_id: str) -> DocumentRecord | None: ...
    def neighbours(self, doc_id: str, chunk: int, *, before: int, after: int) -> list[tuple[int, str]]: ...
    def original(self, doc_id: str) -> bytes: ...
    def stats(self) -> Stats: ...
    def delete_by_id(self, doc_id: str) -> None: ...
    def update_tags(self, doc_id: str, tags: Sequence[str]) -> DocumentRecord: ...
    def update_groups(self, doc_id: str, groups: Sequence[str]) -> DocumentRecord: ...


class LibraryView(Finder):
    """See the module docstring. Cheap to make: one per caller and request."""

    def __init__(self, library: Viewed, visibility: Visibility) -> None:
        self._library = library
        self._visibility = None if visibility is None else frozenset(visibility)

    @property
    def visibility(self) -> Visibility:
        return self._visibility

    @property
    def settings(self) -> Settings:
        return self._library.settings

    @property
    def model(self) -> ModelInfo:
        return self._library.model

    @property
    def device(self) -> str:
        return self._library.embedder.device

    @property
    def search_modes(self) -> tuple[str, ...]:
        return self._library.search_modes

    def can_see(self, record: DocumentRecord) -> bool:
        return can_see(record.groups, self._visibility)

    # ------------------------------------------------------------------ searching

    def scoped(self, filters: SearchFilters | Mapping[str, Any] | None) -> SearchFilters:
        """`filters` with the caller's visibility (a caller who sees everything may narrow it)."""
        filters = as_filters(filters)
        if self._visibility is None:
            return filters
        return dataclasses.replace(filters, visible_to=as_filter(self._visibility))

    def find(self, request: SearchRequest) -> SearchResponse:
        """`Library.find`, over the documents this caller may see (see the module docstring).

        Raises:
            DocumentNotFoundError: a ``doc:`` name or a `like` id names nothing visible.
        """
        scoped = dataclasses.replace(request, filters=self.scoped(request.filters))
        ready = resolved(scoped, self, default_mode=self.settings.search_mode)
        hidden = self._visibility is not None and ready.like
        if hidden and self.find_by_id(ready.like.rpartition(":")[0]) is None:
            raise DocumentNotFoundError(
                f"no stored passage has the id {request.like!r}; search results carry passage ids (chunk_id)"
            )
        return self._library.answer(ready)

    def compare(self, text_a: str, text_b: str) -> float:
        return self._library.compare(text_a, text_b)

    # ------------------------------------------------------------------ documents

    def documents(self, *, include_pending: bool = False) -> list[DocumentRecord]:
        return [r for r in self._library.documents(include_pending=include_pending) if self.can_see(r)]

    def pending_documents(self) -> list[DocumentRecord]:
        return [r for r in self._library.pending_documents() if self.can_see(r)]

    def document(self, ref: str) -> DocumentRecord:
        """`Library.document` among the visible documents (a prefix never counts hidden ones)."""
        return find_document(self.documents(), ref)

    def find_by_id(self, doc_id: str) -> DocumentRecord | None:
        record = self._library.find_by_id(doc_id)
        return record if record is not None and self.can_see(record) else None

    def passage_id(self, ref: str) -> str:
        return full_passage_id(ref, self.document)

    def _visible(self, doc_id: str) -> DocumentRecord:
        record = self.find_by_id(doc_id)
        if record is None:
            raise DocumentNotFoundError(f"no document with id {doc_id[:12]}")
        return record

    def neighbours(
        self, doc_id: str, chunk: int, *, before: int = 1, after: int = 1
    ) -> list[tuple[int, str]]:
        self._visible(doc_id)
        return self._library.neighbours(doc_id, chunk, before=before, after=after)

    def original(self, doc_id: str) -> bytes:
        self._visible(doc_id)
        return self._library.original(doc_id)

    def stats(self) -> Stats:
        """`Library.stats`, counting only the documents (and their passages) this caller sees."""
        stats = self._library.stats()
        if self._visibility is None:
            return stats
        records = self.documents(include_pending=True)
        done = [r for r in records if r.state == "done"]
        return dataclasses.replace(
            stats,
            documents=len(done),
            pending=len(records) - len(done),
            chunks=sum(r.chunks for r in done),
            originals_bytes=sum(r.size for r in done),
        )

    # ------------------------------------------------------------------ writing

    def delete(self, ref: str) -> DocumentRecord:
        record = self.document(ref)
        self._library.delete_by_id(record.doc_id)
        return record

    def update_tags(self, doc_id: str, tags: Sequence[str]) -> DocumentRecord:
        self._visible(doc_id)
        return self._library.update_tags(doc_id, tags)

    def update_groups(self, doc_id: str, groups: Sequence[str]) -> DocumentRecord:
        """Change a visible document's groups; a caller may add only groups it is in.

        Raises:
            AccessDeniedError: a new group the caller is not in (`check_assignable`).
        """
        record = self._visible(doc_id)
        try:
            clean = normalize_groups(groups)
        except ValueError as exc:
            raise ConfigError(str(exc)) from exc
        check_assignable([g for g in clean if g not in record.groups], self._visibility)
        if not can_see(clean, self._visibility):
            raise AccessDeniedError(
                "with these groups you could no longer see the document; keep one of your own groups"
            )
        return self._library.update_groups(doc_id, clean)
