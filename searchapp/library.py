"""`Library`: one collection of documents, for reading, searching and writing.

This is the object every front end opens: the CLI, the Streamlit UI, the evaluation
command and the Python API. The ingest package writes through `write_document`, so
the chunk collection, the catalog and the kept originals change together:

    1. the original bytes are stored by hash (idempotent), with a sidecar naming them
    2. the catalog records the new document as `pending` (naming what it replaces)
    3. leftovers of an interrupted attempt at this same document are deleted
    4. the new chunks are added
    5. the old version's chunks, catalog record and original go; the new record is `done`

A crash anywhere leaves a `pending` record, which `pending_documents` reports and the
ingest pipeline finishes from the kept original the next time it runs.

Every write also updates the `LocalIndex` (filters, vectors, BM25 and "text contains",
each with the written chunks only) and stamps both it
and Chroma with a new generation; Chroma's stamp is set first, so a crash between the
two is seen at the next open and the local index is rebuilt from Chroma.
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
import shutil
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from searchapp.config import Settings
from searchapp.embedders import Embedder, get_embedder
from searchapp.errors import DocumentNotFoundError, QueryError, StorageFullError
from searchapp.filters import SearchFilters
from searchapp.keyword import keyword_tokens
from searchapp.local_index import LocalIndex
from searchapp.models import ModelInfo
from searchapp.originals import OriginalInfo, OriginalsStore
from searchapp.search import SEARCH_MODES, Searcher
from searchapp.store import ChromaStore
from searchapp.types import DocumentRecord, MetaValue, SearchResponse

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ChunkRows:
    """The chunks of one document, ready to store: ids, vectors, texts and metadata.

    `keywords` are the BM25 terms of each text, when the caller computed them already
    (the ingest workers do); otherwise they are computed here.
    """

    ids: Sequence[str]
    embeddings: np.ndarray[Any, Any]
    texts: Sequence[str]
    metadatas: Sequence[Mapping[str, MetaValue]]
    keywords: Sequence[str] | None = None  # space-separated terms per text

    def __len__(self) -> int:
        return len(self.ids)

    def keyword_tokens(self) -> list[str]:
        if self.keywords is not None:
            return list(self.keywords)
        return [" ".join(keyword_tokens(text)) for text in self.texts]


@dataclass(frozen=True, slots=True)
class DocumentWrite:
    """One document to store, and the older version of its source it replaces, if any."""

    record: DocumentRecord
    rows: ChunkRows
    original: bytes
    replaces: DocumentRecord | None = None


@dataclass(frozen=True, slots=True)
class Stats:
    documents: int
    pending: int
    chunks: int
    collection: str
    model: str
    dimension: int
    device: str
    mode: str  # "local" or "server"
    location: str  # data directory or server URL
    data_dir: str
    originals_bytes: int

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class Library:
    """A collection of documents: its store, its originals and its embedder.

    Open with `Library.open(settings)`; close with `close()` or a `with` block. Safe to
    share between threads: searches run concurrently, writes one at a time.
    """

    def __init__(self, settings: Settings, store: ChromaStore, embedder: Embedder, local: LocalIndex) -> None:
        self.settings = settings
        self.store = store
        self.embedder = embedder
        self.local = local
        self.originals = OriginalsStore(settings.originals_dir)
        self.searcher = Searcher(store, embedder, local)
        self._write_lock = threading.RLock()
        self._checked_at = 0.0
        # The catalog, cached between writes (every UI rerun lists the documents).
        self._version = 0
        self._catalog: tuple[int, list[DocumentRecord]] | None = None
        self._disk_full = False

    @classmethod
    def open(
        cls,
        settings: Settings | None = None,
        *,
        embedder: Embedder | None = None,
        check_model: bool = True,
    ) -> Library:
        """Open (creating if needed) the collection named in `settings`.

        The model is not loaded here; the first search or ingest loads it.

        Raises:
            ConfigError, ModelError: bad settings or a model that is not on this machine.
            StoreLockedError: another process holds the local data directory.
            StoreUnavailableError: the configured Chroma server cannot be reached.
            ModelMismatchError: the collection was built with another model.
        """
        settings = settings or Settings.load()
        embedder = embedder or get_embedder(settings)
        store = ChromaStore.open(settings, embedder.info, check_model=check_model)
        try:
            local = LocalIndex(
                settings.index_dir, dimension=embedder.info.dimension, mirror_vectors=not settings.is_server
            )
        except BaseException:
            store.close()
            raise
        library = cls(settings, store, embedder, local)
        try:
            library.sync_local_index(force=True)
        except BaseException:
            library.close()
            raise
        return library

    def close(self) -> None:
        self.local.close()
        self.store.close()

    def sync_local_index(self, *, force: bool = False) -> bool:
        """Rebuild the local index from Chroma if they differ; True if it was rebuilt.

        In local mode this process is the only writer, so a difference means a crash; with a
        server, another client may have written, so searches check at most once a second.
        """
        now = time.monotonic()
        if not force and (not self.settings.is_server or now - self._checked_at < 1.0):
            return False
        self._checked_at = now
        with self._write_lock:
            generation = self.store.generation()
            if not generation:
                generation = self._new_generation()
            count = self.store.count_chunks()
            if self.local.matches(generation, count):
                return False
            if count or self.local.count:
                logger.warning("rebuilding the local index of %r from Chroma", self.settings.collection)
            self.local.rebuild(
                self.store.iter_chunks(include_embeddings=self.local.mirror_vectors), generation
            )
            return True

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """One write at a time; the cached catalog is stale from its start to its end."""
        with self._write_lock:
            self._check_disk_recovered()
            self._version += 1
            try:
                yield
            except StorageFullError:
                # Writing to Chroma again on a full disk can wedge its client (a delete
                # that fails mid-compaction hangs the next write); hold all writes until
                # space is back. Searching goes on.
                self._disk_full = True
                raise
            finally:
                self._version += 1

    def _check_disk_recovered(self) -> None:
        if not self._disk_full:
            return
        free = self.free_disk_bytes()
        needed = max(self.settings.min_free_mb, 16) * 1024 * 1024
        if free < needed:
            raise StorageFullError(
                f"the disk holding {self.settings.data_dir} is still full ({free / 2**20:,.0f} MB free); "
                "free some space and try again. Searching still works."
            )
        self.store.reconnect()
        self._disk_full = False

    def _new_generation(self) -> str:
        token = f"{int(time.time())}-{secrets.token_hex(6)}"
        self.store.set_generation(token)
        return token

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def model(self) -> ModelInfo:
        return self.embedder.info

    # ------------------------------------------------------------------ reading

    @property
    def search_modes(self) -> tuple[str, ...]:
        """The retrieval modes this library offers."""
        return SEARCH_MODES

    def search(
        self,
        query: str,
        *,
        k: int = 10,
        filters: SearchFilters | Mapping[str, Any] | None = None,
        min_score: float | None = None,
        mode: str | None = None,
    ) -> SearchResponse:
        """Ranked passages for `query`.

        Args:
            query: what to look for, in natural language.
            k: how many passages (1-1000).
            filters: a `SearchFilters`, or a mapping that `SearchFilters.from_mapping` accepts.
            min_score: drop passages whose cosine similarity is lower.
            mode: one of `search_modes`; default: the settings' `search_mode`.

        Raises:
            EmptyQueryError, QueryError, InvalidFilterError: invalid input.
            StoreError: the store failed.
        """
        mode = mode or self.settings.search_mode
        if mode not in self.search_modes:
            raise QueryError(f"search mode must be one of {', '.join(self.search_modes)}; got {mode!r}")
        if filters is not None and not isinstance(filters, SearchFilters):
            filters = SearchFilters.from_mapping(filters)
        self.sync_local_index()
        return self.searcher.search(query, k=k, filters=filters, min_score=min_score, mode=mode)

    def documents(self, *, include_pending: bool = False) -> list[DocumentRecord]:
        """Every document in the collection, sorted by name."""
        records = self._all_records()
        return records if include_pending else [r for r in records if r.state == "done"]

    def _all_records(self) -> list[DocumentRecord]:
        # With a server, another client may change the catalog at any time: no cache.
        if self.settings.is_server:
            return self.store.records()
        version = self._version
        cached = self._catalog
        if cached is not None and cached[0] == version:
            return list(cached[1])
        records = self.store.records()
        self._catalog = (version, records)
        return list(records)

    def pending_documents(self) -> list[DocumentRecord]:
        """Documents whose ingestion was interrupted (see the module docstring)."""
        return self.store.records(where={"state": "pending"})

    def document(self, ref: str) -> DocumentRecord:
        """Find one document by id, by an id prefix of 8+ characters, or by source name.

        Raises:
            DocumentNotFoundError: nothing matches, or a prefix matches several documents.
        """
        ref = ref.strip()
        records = self.documents()
        exact = [r for r in records if r.doc_id == ref or r.source == ref]
        if len(exact) == 1:
            return exact[0]
        if len(ref) >= 8:
            prefixed = [r for r in records if r.doc_id.startswith(ref.lower())]
            if len(prefixed) == 1:
                return prefixed[0]
            if len(prefixed) > 1:
                raise DocumentNotFoundError(f"{ref!r} matches {len(prefixed)} documents; give more of the id")
        raise DocumentNotFoundError(f"no document named or with id {ref!r}; `searchapp docs` lists them")

    def find_by_source(self, source: str) -> DocumentRecord | None:
        """The current (done or pending) record for a source name, if any."""
        records = self.store.records(where={"source": source})
        done = [r for r in records if r.state == "done"]
        candidates = done or records
        return candidates[0] if candidates else None

    def find_by_id(self, doc_id: str) -> DocumentRecord | None:
        return self.store.record(doc_id)

    def neighbours(
        self, doc_id: str, chunk: int, *, before: int = 1, after: int = 1
    ) -> list[tuple[int, str]]:
        """The text of chunks around `chunk` in the same document, in order."""
        wanted = [i for i in range(chunk - before, chunk + after + 1) if i >= 0]
        result = self.store.get_chunks(
            where={"$and": [{"doc_id": doc_id}, {"chunk": {"$in": wanted}}]},
        )
        pairs = [
            (int(meta["chunk"]), text)
            for meta, text in zip(result["metadatas"] or [], result["documents"] or [], strict=True)
        ]
        return sorted(pairs)

    def original(self, doc_id: str) -> bytes:
        """The bytes of the file as it was ingested."""
        return self.originals.get(doc_id)

    def stats(self) -> Stats:
        records = self.store.records()
        originals_bytes = sum(r.size for r in records if r.state == "done")
        return Stats(
            documents=sum(r.state == "done" for r in records),
            pending=sum(r.state == "pending" for r in records),
            chunks=self.store.count_chunks(),
            collection=self.settings.collection,
            model=self.model.name,
            dimension=self.model.dimension,
            device=self.embedder.device,
            mode="server" if self.settings.is_server else "local",
            location=self.settings.server_url or str(self.settings.chroma_dir),
            data_dir=str(self.settings.data_dir),
            originals_bytes=originals_bytes,
        )

    def free_disk_bytes(self) -> int:
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        return shutil.disk_usage(self.settings.data_dir).free

    # ------------------------------------------------------------------ writing

    def write_document(
        self,
        record: DocumentRecord,
        rows: ChunkRows,
        original: bytes,
        *,
        replaces: DocumentRecord | None = None,
    ) -> DocumentRecord:
        """Store one document's chunks, replacing an older version of the same source."""
        return self.write_documents([DocumentWrite(record, rows, original, replaces)])[0]

    def write_documents(self, writes: Sequence[DocumentWrite]) -> list[DocumentRecord]:
        """Store several documents at once, each replacing an older version of its source.

        The steps of the module docstring run once for the whole group, not once per
        document: a few Chroma calls whatever the group's size, which is what makes many
        small files fast. New versions go in before old ones come out, so a reader may
        briefly see both but never neither. A crash leaves the group `pending`; an error
        before the old versions are retired (a full disk, a lost server) is undone.
        """
        if not writes:
            return []
        with self._writing():
            known = self.store.known_records([w.record.doc_id for w in writes])
            try:
                generation = self._add_new_versions(writes)
            except StorageFullError:
                raise  # no rollback on a full disk (see `_writing`): they stay pending, finished later
            except BaseException:
                self._roll_back([w.record.doc_id for w in writes if w.record.doc_id not in known])
                raise
            return self._retire_old_versions(writes, generation)

    def _add_new_versions(self, writes: Sequence[DocumentWrite]) -> str:
        """Steps 1-4: undoable, because every older version is still whole."""
        for write in writes:
            self.originals.put(write.original, _original_info(write.record))
        generation = self._new_generation()
        self.store.put_records(
            [dataclasses.replace(w.record, state="pending", replaces=_replaced_id(w)) for w in writes]
        )
        # Leftovers of an interrupted attempt carry the same ids, and `add` ignores existing ids.
        self.store.delete_chunks_of([w.record.doc_id for w in writes])
        self.store.add_chunks(
            [cid for w in writes for cid in w.rows.ids],
            np.concatenate([w.rows.embeddings for w in writes]),
            [text for w in writes for text in w.rows.texts],
            [meta for w in writes for meta in w.rows.metadatas],
        )
        return generation

    def _retire_old_versions(self, writes: Sequence[DocumentWrite], generation: str) -> list[DocumentRecord]:
        """Step 5: past this point a failure leaves the group `pending`, finished from the originals."""
        replaced = [doc_id for w in writes if (doc_id := _replaced_id(w))]
        for doc_id in replaced:  # a rebuild from originals must never bring an old version back
            self.originals.forget(doc_id)
        self.store.delete_chunks_of(replaced)
        embeddings = np.concatenate([w.rows.embeddings for w in writes])
        rows = [
            (cid, text, meta, keywords)
            for w in writes
            for cid, text, meta, keywords in zip(
                w.rows.ids, w.rows.texts, w.rows.metadatas, w.rows.keyword_tokens(), strict=True
            )
        ]
        self.local.apply(
            generation=generation,
            delete_docs=replaced + [w.record.doc_id for w in writes],
            add=[
                (cid, text, meta, embeddings[i], keywords)
                for i, (cid, text, meta, keywords) in enumerate(rows)
            ],
        )
        self.store.delete_records(replaced)
        for doc_id in replaced:
            self._drop_original_if_unused(doc_id)
        done = [dataclasses.replace(w.record, state="done", replaces="", chunks=len(w.rows)) for w in writes]
        self.store.put_records(done)
        return done

    def _roll_back(self, fresh: Sequence[str]) -> None:
        """After a failed write, remove what it added for documents that did not exist before.

        Older versions are untouched until `_retire_old_versions`, so this loses nothing.
        Best effort (on a full disk even a delete can fail): whatever stays is a `pending`
        record that the next ingest finishes, and the health check reports.
        """
        for step, action in (
            ("chunks", lambda: self.store.delete_chunks_of(fresh)),
            ("catalog records", lambda: self.store.delete_records(fresh)),
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

    def update_tags(self, doc_id: str, tags: Sequence[str]) -> DocumentRecord:
        """Replace a document's tags on its catalog record and on every chunk."""
        with self._writing():
            record = self.store.record(doc_id)
            if record is None:
                raise DocumentNotFoundError(f"no document with id {doc_id[:12]}")
            clean = tuple(dict.fromkeys(t.strip() for t in tags if t.strip()))
            generation = self._new_generation()
            self.store.set_chunk_tags(doc_id, clean)
            self.local.apply(generation=generation, retag={doc_id: clean})
            updated = dataclasses.replace(record, tags=clean)
            self.originals.describe(doc_id, _original_info(updated))
            self.store.put_record(updated)
            return updated

    def delete(self, ref: str) -> DocumentRecord:
        """Delete a document completely: its chunks, its catalog record and its original."""
        with self._write_lock:
            record = self.document(ref)
            self.delete_by_id(record.doc_id)
            return record

    def delete_by_id(self, doc_id: str) -> None:
        with self._writing():
            self.originals.forget(doc_id)  # first: a crash from here on never resurrects it
            generation = self._new_generation()
            self.store.delete_chunks(doc_id)
            self.local.apply(generation=generation, delete_docs=[doc_id])
            self.store.delete_record(doc_id)
            self._drop_original_if_unused(doc_id)

    def _drop_original_if_unused(self, doc_id: str) -> None:
        if self.store.record(doc_id) is None:
            self.originals.delete(doc_id)


def open_library(settings: Settings | None = None, **overrides: Any) -> Library:
    """Open the library named by settings (default: from the environment) plus overrides."""
    base = settings or Settings.load()
    return Library.open(base.with_overrides(**overrides) if overrides else base)


def _original_info(record: DocumentRecord) -> OriginalInfo:
    return OriginalInfo(
        source=record.source, tags=record.tags, mtime=record.mtime, external_id=record.external_id
    )


def _replaced_id(write: DocumentWrite) -> str:
    """The id of the older version this write replaces, or '' (none, or the same bytes)."""
    old = write.replaces
    return old.doc_id if old is not None and old.doc_id != write.record.doc_id else ""
