"""The one write path: a batch of prepared documents committed as one unit of work.

    1. each document finds the version it replaces: for a document already `pending`
       (an interrupted write being finished) the one its record names, else the `done`
       record of the same source with other bytes; without tags (or groups) of its own,
       it keeps that version's
    2. the original bytes are stored by hash (idempotent), with a sidecar naming them
    3. a new generation is stamped; the catalog records the batch as `pending`, each
       record naming what it replaces
    4. leftovers of an interrupted attempt at the same documents are deleted, and the new
       chunks are added
    5. the replaced versions' chunks go; the local index (filters, vectors, BM25 terms)
       takes the whole change at once; the replaced catalog records and originals go;
       the new records become `done`

Steps 1-4 are undone if they fail (every older version is still whole then). Past step
4, or after a crash anywhere, the batch stays `pending`, and the next ingest finishes it
from the kept originals. New versions go in before old ones come out, so a reader may
briefly see both but never neither.

With a Chroma server, several clients write one collection. A pending record names its
writer (`owner`) and a lease that the writer renews while it works; no other client
touches a document under a live lease. When the batch is done, one entry in the change
log says what changed, and a new generation tells readers to look (see
`searchapp.library.sync`).
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, TypeGuard

import numpy as np

from searchapp.chunk_visibility import group_fields
from searchapp.errors import StorageFullError
from searchapp.storage.catalog import Catalog
from searchapp.storage.changes import RETENTION_MS, Change, now_ms
from searchapp.storage.chroma import ChromaStore
from searchapp.storage.local_index import ChunkRow, LocalIndex
from searchapp.storage.originals import OriginalInfo, OriginalsStore
from searchapp.types import DocumentRecord, MetaValue, PreparedChunk, PreparedDocument

logger = logging.getLogger(__name__)

AdmissionKind = Literal["new", "replace", "unchanged", "duplicate", "hidden"]
LEASE_S = 60  # a writer renews its pending records' lease every third of this


@dataclass(frozen=True, slots=True)
class Admission:
    """What the library makes of a file before it is read further.

    `new` and `replace` are to be prepared and committed; `unchanged` (the same bytes
    under the same name) and `duplicate` (the same bytes already stored under another
    name) are not, nor is `hidden` (the stored version concerned is one the uploader may
    not see; `record` is then None). `record` is the stored version concerned, if any.
    For a `duplicate`, `current` is the version stored under the file's own name, if any
    (a batch that moves the twin to this name retires it, without looking it up again).
    """

    kind: AdmissionKind
    record: DocumentRecord | None = None
    detail: str = ""
    current: DocumentRecord | None = None

    @property
    def wanted(self) -> bool:
        return self.kind in ("new", "replace")


def chunk_id(doc_id: str, index: int) -> str:
    """Deterministic: the same bytes chunked the same way give the same ids."""
    return f"{doc_id}:{index}"


def chunk_metadata(
    doc: PreparedDocument, chunk: PreparedChunk, tags: Sequence[str], now: int, groups: Sequence[str] = ()
) -> dict[str, MetaValue]:
    """The flat metadata every chunk carries: what filters and hits read."""
    meta: dict[str, MetaValue] = {
        "doc_id": doc.doc_id,
        "source": doc.source,
        "file_type": doc.file_type,
        "title": doc.title,
        "chunk": chunk.index,
        "start": chunk.start,
        "tokens": chunk.tokens,
        "ingested_at": now,
    }
    if chunk.page is not None:
        meta["page"] = chunk.page
    if chunk.heading:
        meta["heading"] = chunk.heading
    if chunk.ocr:
        meta["ocr"] = True
    if doc.mtime:
        meta["mtime"] = doc.mtime
    if tags:
        meta["tags"] = list(tags)
    meta.update({key: value for key, value in group_fields(groups).items() if value is not None})
    if doc.encoding:
        meta["encoding"] = doc.encoding
    if doc.external_id:
        meta["external_id"] = doc.external_id
    return meta


def original_info(record: DocumentRecord) -> OriginalInfo:
    return OriginalInfo(
        source=record.source,
        tags=record.tags,
        mtime=record.mtime,
        external_id=record.external_id,
        groups=record.groups,
        ingested_at=record.ingested_at,
    )


@dataclass(frozen=True, slots=True)
class _Planned:
    """One document of a batch, matched to the version it replaces."""

    doc: PreparedDocument
    record: DocumentRecord  # as it will be when done
    replaces: str  # doc_id of the replaced version, or ""
    ids: list[str]
    metadatas: list[dict[str, MetaValue]]


class UnitOfWork:
    """Commits batches of prepared documents to the store, the local index and the originals.

    The caller (`Library`) holds its write lock around `commit`.
    """

    def __init__(
        self,
        store: ChromaStore,
        local: LocalIndex,
        originals: OriginalsStore,
        new_generation: Callable[[], str],
        *,
        local_stamp: Callable[[str], str],
        on_change: Callable[[Change], None] | None = None,
    ) -> None:
        self.store = store
        self.local = local
        self.originals = originals
        self._new_generation = new_generation
        self._local_stamp = local_stamp  # what the local index records for a new generation
        self._on_change = on_change  # None: local mode, nobody else reads a change log
        self._trimmed_at = 0.0

    def commit(self, documents: Sequence[PreparedDocument]) -> list[DocumentRecord]:
        """Store the batch (see the module docstring); returns the `done` records in order."""
        if not documents:
            return []
        ids = [doc.doc_id for doc in documents]
        if len(set(ids)) != len(ids):
            raise ValueError("a batch holds the same document twice; admit each file once")
        known = {r.doc_id: r for r in self.store.catalog.records(where={"doc_id": {"$in": ids}})}
        # One catalog read for every name in the batch, not one per document.
        named = self.store.catalog.records_by_source(
            [doc.source for doc in documents if not _resumes(known.get(doc.doc_id))]
        )
        planned = [self._plan(doc, known.get(doc.doc_id), named.get(doc.source, [])) for doc in documents]
        with _LeaseKeeper(self.store.catalog) as lease:
            try:
                generation = self._add_new_versions(planned, lease)
            except StorageFullError:
                raise  # no rollback on a full disk: the batch stays pending, finished later
            except BaseException:
                self._roll_back([p.doc.doc_id for p in planned if p.doc.doc_id not in known])
                raise
            done = self._retire_old_versions(planned, generation, lease)
        self.announce(
            added=[(r.doc_id, r.chunks) for r in done], removed=[p.replaces for p in planned if p.replaces]
        )
        return done

    def announce(
        self,
        *,
        added: Sequence[tuple[str, int]] = (),
        removed: Sequence[str] = (),
        retagged: Sequence[str] = (),
        reset: bool = False,
        renamed: Sequence[str] = (),
        recalibrated: bool = False,
    ) -> None:
        """Tell the other clients of a server what a finished write changed (local mode: nothing)."""
        if self._on_change is None:
            return
        change = self.store.changes.append(
            added=added,
            removed=removed,
            retagged=retagged,
            reset=reset,
            renamed=renamed,
            recalibrated=recalibrated,
        )
        self._on_change(change)
        self._new_generation()  # after the entry: a reader that sees it finds the entry too
        if time.monotonic() - self._trimmed_at > 600:
            self._trimmed_at = time.monotonic()
            self.store.changes.trim(now_ms() - RETENTION_MS)

    def _plan(
        self, doc: PreparedDocument, existing: DocumentRecord | None, named: Sequence[DocumentRecord]
    ) -> _Planned:
        """Step 1: which version this replaces, its tags, its chunks' ids and metadata.

        `named`: the catalog's records of the document's name (read unless it `_resumes`).
        """
        replaced: DocumentRecord | None = None
        if _resumes(existing):
            replaced = self.store.catalog.record(existing.replaces)
            replaces = existing.replaces
        else:
            current = [r for r in named if r.state == "done"] or list(named)
            replaced = current[0] if current and current[0].doc_id != doc.doc_id else None
            replaces = replaced.doc_id if replaced is not None else ""
        tags = tuple(dict.fromkeys(doc.tags)) or (replaced.tags if replaced is not None else ())
        groups = tuple(dict.fromkeys(doc.groups)) or (replaced.groups if replaced is not None else ())
        # A re-embedded or rebuilt document keeps the date it was first ingested (filters read it).
        ingested_at = doc.ingested_at or int(time.time())
        record = DocumentRecord(
            doc_id=doc.doc_id,
            source=doc.source,
            file_type=doc.file_type,
            title=doc.title,
            size=len(doc.original),
            chunks=len(doc.chunks),
            ingested_at=ingested_at,
            pages=doc.pages,
            tags=tags,
            mtime=doc.mtime,
            encoding=doc.encoding,
            warnings=doc.warnings,
            external_id=doc.external_id,
            groups=groups,
        )
        return _Planned(
            doc=doc,
            record=record,
            replaces=replaces,
            ids=[chunk_id(doc.doc_id, chunk.index) for chunk in doc.chunks],
            metadatas=[chunk_metadata(doc, chunk, tags, ingested_at, groups) for chunk in doc.chunks],
        )

    def _add_new_versions(self, planned: Sequence[_Planned], lease: _LeaseKeeper) -> str:
        """Steps 2-4: undoable, because every older version is still whole."""
        for p in planned:
            self.originals.put(p.doc.original, original_info(p.record))
        generation = self._new_generation()
        lease.hold(
            [
                dataclasses.replace(
                    p.record, state="pending", replaces=p.replaces, owner=self.store.client_id
                )
                for p in planned
            ]
        )
        # Leftovers of an interrupted attempt carry the same ids, and `add` ignores existing ids.
        self.store.delete_chunks_of([p.doc.doc_id for p in planned])
        self.store.add_chunks(
            [cid for p in planned for cid in p.ids],
            np.concatenate([p.doc.vectors for p in planned]),
            [chunk.text for p in planned for chunk in p.doc.chunks],
            [meta for p in planned for meta in p.metadatas],
        )
        return generation

    def _retire_old_versions(
        self, planned: Sequence[_Planned], generation: str, lease: _LeaseKeeper
    ) -> list[DocumentRecord]:
        """Step 5: past this point a failure leaves the batch `pending`, finished from the originals."""
        replaced = [p.replaces for p in planned if p.replaces]
        for doc_id in replaced:  # a rebuild from originals must never bring an old version back
            self.originals.forget(doc_id)
        self.store.delete_chunks_of(replaced)
        self.local.apply(
            generation=self._local_stamp(generation),
            delete_docs=replaced + [p.doc.doc_id for p in planned],
            add=[
                ChunkRow(cid, chunk.text, meta, p.doc.vectors[i], chunk.terms)
                for p in planned
                for i, (cid, chunk, meta) in enumerate(zip(p.ids, p.doc.chunks, p.metadatas, strict=True))
            ],
        )
        self.store.catalog.delete_records(replaced)
        for doc_id in replaced:
            self.drop_original_if_unused(doc_id)
        done = [p.record for p in planned]
        lease.release()  # no renewal may land after the done records
        self.store.catalog.put_records(done)
        return done

    def _roll_back(self, fresh: Sequence[str]) -> None:
        """After a failed write, remove what it added for documents that did not exist before.

        Older versions are untouched until `_retire_old_versions`, so this loses nothing.
        Best effort (on a full disk even a delete can fail): whatever stays is a `pending`
        record that the next ingest finishes, and the health check reports.
        """
        for step, action in (
            ("chunks", lambda: self.store.delete_chunks_of(fresh)),
            ("catalog records", lambda: self.store.catalog.delete_records(fresh)),
        ):
            try:
                action()
            except Exception as exc:
                logger.warning("could not roll back the %s of a failed write: %s", step, exc)
        for doc_id in fresh:
            try:
                self.originals.delete(doc_id)
            except OSError as exc:
                logger.warning("could not remove the original of a failed write: %s", exc)

    def drop_original_if_unused(self, doc_id: str) -> None:
        if self.store.catalog.record(doc_id) is None:
            self.originals.delete(doc_id)


def _resumes(existing: DocumentRecord | None) -> TypeGuard[DocumentRecord]:
    """True for a pending record of an interrupted write, which names the version it replaces."""
    return existing is not None and existing.state == "pending" and bool(existing.replaces)


class _LeaseKeeper:
    """Writes a batch's pending records under a lease, and renews it while the batch is written."""

    def __init__(self, catalog: Catalog) -> None:
        self._catalog = catalog
        self._records: list[DocumentRecord] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def hold(self, records: Sequence[DocumentRecord]) -> None:
        """Record `records` as pending under a fresh lease, then keep renewing it."""
        self._records = list(records)
        self._renew()
        self._thread = threading.Thread(target=self._loop, name="searchapp-lease", daemon=True)
        self._thread.start()

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _renew(self) -> None:
        until = int(time.time()) + LEASE_S
        self._catalog.put_records([dataclasses.replace(r, lease_until=until) for r in self._records])

    def _loop(self) -> None:
        while not self._stop.wait(LEASE_S / 3):
            try:
                self._renew()
            except Exception as exc:  # the write itself meets the same failure and reports it
                logger.warning("could not renew the lease of a write in progress: %s", exc)

    def __enter__(self) -> _LeaseKeeper:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
