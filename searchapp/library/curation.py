"""Curating a library without re-embedding: renames, tags, groups, and versions hidden from search.

`Curation` is a part of `Library` (`searchapp.library.facade`), kept apart so that each
file says one thing; it uses the attributes and the write lock `Library` sets up.

A rename (a file renamed or moved in a synced folder) keeps the document's chunks and
vectors: the catalog record, every chunk's metadata, the local index and the kept
original's description take the new name, as one write that other clients of a server
follow through the change log. A hidden document (one version of a near-duplicate pair)
stays in the library but is left out of every search through the filter row mask (a
``$nin`` clause where Chroma answers), so a search still returns its full `k`.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from searchapp.access.identity import normalize_groups
from searchapp.config import Settings
from searchapp.errors import ConfigError, DocumentNotFoundError
from searchapp.filters import SearchFilters
from searchapp.library.writes import UnitOfWork, original_info
from searchapp.storage.chroma import ChromaStore
from searchapp.storage.local_index import LocalIndex
from searchapp.storage.originals import OriginalsStore
from searchapp.storage.records import RecordTable
from searchapp.types import DocumentRecord, MetaValue

if TYPE_CHECKING:
    from collections.abc import Callable

HIDDEN_TABLE = "hidden"


class Curation:
    """Renames, tags, groups and hidden versions; mixed into `Library`."""

    store: ChromaStore
    local: LocalIndex
    originals: OriginalsStore
    _writes: UnitOfWork
    _version: int
    _writing: Callable[[], AbstractContextManager[None]]
    _new_generation: Callable[[], str]
    _local_stamp: Callable[[str], str]
    settings: Settings
    _hidden_cache: tuple[tuple[int, str], frozenset[str]] | None = None
    _hidden_epoch = 0  # moves when this process hides or shows a document

    # ------------------------------------------------------------------ rename

    def rename(self, doc_id: str, source: str, *, mtime: int | None = None) -> DocumentRecord:
        """Give a document a new name (its file was renamed or moved), keeping its chunks and vectors.

        Nothing is read or embedded again. `mtime` is the file's modification time at its
        new place, if known. Renaming to the current name changes nothing.

        Raises:
            DocumentNotFoundError: no finished document has this id.
        """
        with self._writing():
            record = self.store.catalog.record(doc_id)
            if record is None or record.state != "done":
                raise DocumentNotFoundError(f"no document with id {doc_id[:12]}")
            updated = dataclasses.replace(
                record,
                source=source,
                title=renamed_title(record.title, record.source, source),
                mtime=record.mtime if mtime is None else mtime,
            )
            if updated == record:
                return record
            fields: dict[str, MetaValue] = {"source": updated.source, "title": updated.title}
            if updated.mtime:
                fields["mtime"] = updated.mtime
            generation = self._new_generation()
            self.store.set_chunk_fields(doc_id, fields)
            self.local.update_document_fields(doc_id, fields, generation=self._local_stamp(generation))
            self.originals.describe(doc_id, original_info(updated))
            # Last: until it lands the catalog keeps the old name, and a sync renames again.
            self.store.catalog.put_record(updated)
            self._writes.announce(renamed=[doc_id])
            return updated

    # ------------------------------------------------------------------ tags and groups

    def update_tags(self, doc_id: str, tags: Sequence[str]) -> DocumentRecord:
        """Replace a document's tags on its catalog record and on every chunk."""
        return self._relabel(doc_id, tags=tuple(dict.fromkeys(t.strip() for t in tags if t.strip())))

    def update_groups(self, doc_id: str, groups: Sequence[str]) -> DocumentRecord:
        """Restrict a document to `groups` (none: open to everyone of the collection).

        Its catalog record, every chunk, its original's sidecar (so a rebuild keeps it)
        and the local index change together.

        Raises:
            ConfigError: a group name that is not printable text.
        """
        try:
            clean = normalize_groups(groups)
        except ValueError as exc:
            raise ConfigError(str(exc)) from exc
        return self._relabel(doc_id, groups=clean)

    def _relabel(
        self, doc_id: str, *, tags: tuple[str, ...] | None = None, groups: tuple[str, ...] | None = None
    ) -> DocumentRecord:
        with self._writing():
            record = self.store.catalog.record(doc_id)
            if record is None:
                raise DocumentNotFoundError(f"no document with id {doc_id[:12]}")
            generation = self._new_generation()
            if groups is not None:  # restrict the chunks first: a crash leaves them no more open
                self.store.set_chunk_groups(doc_id, groups)
            if tags is not None:
                self.store.set_chunk_tags(doc_id, tags)
            self.local.apply(
                generation=self._local_stamp(generation),
                retag={doc_id: tags} if tags is not None else None,
                regroup={doc_id: groups} if groups is not None else None,
            )
            updated = dataclasses.replace(
                record,
                tags=record.tags if tags is None else tags,
                groups=record.groups if groups is None else groups,
            )
            self.originals.describe(doc_id, original_info(updated))
            self.store.catalog.put_record(updated)
            self._writes.announce(retagged=[doc_id])
            return updated

    # ------------------------------------------------------------------ hidden versions

    @property
    def _hidden_table(self) -> RecordTable:
        return self.store.table(HIDDEN_TABLE)

    def hidden_ids(self) -> frozenset[str]:
        """The documents left out of search: read when this process changed them, or (with a
        server) when other clients' changes arrived; never on a search's path otherwise."""
        key = (self._hidden_epoch, self.local.generation if self.settings.is_server else "")
        cached = self._hidden_cache
        if cached is not None and cached[0] == key:
            return cached[1]
        # A library where nothing was ever hidden has no table: reading would create it.
        ids = frozenset(self._hidden_table.find()) if self.store.has_table(HIDDEN_TABLE) else frozenset()
        self._hidden_cache = (key, ids)
        return ids

    def hide(self, doc_id: str) -> DocumentRecord:
        """Leave a document out of every search (it stays in the library, listed as hidden).

        Raises:
            DocumentNotFoundError: no document has this id.
        """
        return self._set_hidden(doc_id, True)

    def unhide(self, doc_id: str) -> DocumentRecord:
        """Let a hidden document be found again."""
        return self._set_hidden(doc_id, False)

    def _set_hidden(self, doc_id: str, hidden: bool) -> DocumentRecord:
        with self._writing():
            record = self.store.catalog.record(doc_id)
            if record is None:
                raise DocumentNotFoundError(f"no document with id {doc_id[:12]}")
            if hidden:
                self._hidden_table.put(doc_id, {"source": record.source, "at": time.time()})
            else:
                self._hidden_table.delete([doc_id])
            # Nothing in the chunks changes; other clients of a server re-read the hidden set
            # when the change log moves their local index on.
            self._writes.announce(retagged=[doc_id])
            self._hidden_epoch += 1
            return record

    def forget_hidden(self, doc_id: str) -> None:
        """A deleted document is no longer hidden (its id may come back as a new upload)."""
        if doc_id in self.hidden_ids():
            self._hidden_table.delete([doc_id])
            self._hidden_epoch += 1

    def without_hidden(self, filters: SearchFilters) -> SearchFilters:
        """`filters` that also leave out hidden documents, unless they name them (`doc_ids`)."""
        hidden = self.hidden_ids()
        if not hidden:
            return filters
        excluded = sorted(hidden.difference(filters.doc_ids).union(filters.exclude_doc_ids))
        return dataclasses.replace(filters, exclude_doc_ids=tuple(excluded))

    def iter_hidden(self) -> Iterator[DocumentRecord]:
        for doc_id in sorted(self.hidden_ids()):
            record = self.store.catalog.record(doc_id)
            if record is not None:
                yield record


def renamed_title(title: str, old_source: str, new_source: str) -> str:
    """A document's title after a rename: a title that came from the old name follows it.

    Extractors fall back to the file's name (or its stem) when a document has no title of
    its own; a fresh ingest under the new name would give the new one.
    """
    old, new = PurePosixPath(old_source), PurePosixPath(new_source)
    if title == old_source:
        return new_source
    if title == (old.stem or old_source):
        return new.stem or new_source
    return title
