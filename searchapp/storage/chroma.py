"""The Chroma side: one client, a chunk collection and a document catalog.

Embedded (`PersistentClient` under the data directory, one process at a time) by
default; a Chroma server (`HttpClient`) when SEARCHAPP_SERVER_URL is set. Everything
above this module is the same in both modes.

Two collections per logical collection NAME:
  NAME          one record per chunk: our own vector, the passage text, flat metadata
  NAME.catalog  one record per document (`searchapp.storage.catalog`): which documents
                exist, their state (pending/done) and their stats
plus record tables beside them (`searchapp.storage.record_tables`: sources, tokens, ...).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from searchapp.chunk_visibility import group_fields
from searchapp.config import REBUILD_SUFFIX, Settings
from searchapp.embedding.models import ModelInfo
from searchapp.errors import ModelMismatchError, StoreError
from searchapp.storage import chroma_swap
from searchapp.storage.catalog import Catalog
from searchapp.storage.changes import CHANGES_SUFFIX, ChangeLog
from searchapp.storage.chroma_client import chroma_errors, get_or_create, get_present, open_client
from searchapp.storage.chroma_swap import CATALOG_SUFFIX
from searchapp.storage.chunk_pages import Page, chunk_pages
from searchapp.storage.client_ids import new_client_id
from searchapp.storage.lock import DataDirLock
from searchapp.storage.record_tables import RecordTables
from searchapp.storage.records import RecordTable
from searchapp.storage.search_gate import GatedCollection, SearchGate
from searchapp.types import MetaValue

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 1


class ChromaStore:
    """Owns the Chroma client and the two collections of one logical collection.

    Use `ChromaStore.open(...)`; call `close()` (or use it as a context manager) to
    release the data-directory lock.
    """

    def __init__(self, settings: Settings, model: ModelInfo) -> None:
        self.settings = settings
        self.model = model
        self._lock: DataDirLock | None = None
        self._client: Any = None
        self._chunks: Any = None
        self._catalog: Any = None
        self._changes: Any = None
        self.catalog = Catalog(self._catalog_collection, self._write_batch)
        # Who writes: pending records carry it (their lease), change-log entries too.
        self.client_id = new_client_id()
        self.changes = ChangeLog(self._changes_collection, self.client_id)
        self._max_batch = 1000
        self._tables = RecordTables(
            lambda: self.client,
            settings.collection,
            schema=SCHEMA_VERSION,
            wrap=self._gated,
            max_batch=self._write_batch,
        )
        # Embedded, a write stops every thread of this process: it waits for searches in flight.
        self.search_gate = SearchGate()

    # ----------------------------------------------------------------- lifecycle

    @classmethod
    def open(cls, settings: Settings, model: ModelInfo, *, check_model: bool = True) -> ChromaStore:
        """Connect, create the collections if needed, and check they match `model`.

        Raises:
            StoreLockedError: another process holds the local data directory.
            StoreUnavailableError: the configured server cannot be reached.
            ModelMismatchError: the collection was built with another model.
        """
        store = cls(settings, model)
        try:
            store._connect()
            store._open_collections(check_model=check_model)
        except BaseException:
            store.close()
            raise
        return store

    def _connect(self) -> None:
        if not self.settings.is_server:
            self._lock = DataDirLock(self.settings.data_dir)
            self._lock.acquire()
        self._open_client()

    def _open_client(self) -> None:
        self._client = open_client(self.settings)
        with chroma_errors("reading the maximum batch size"):
            self._max_batch = int(self._client.get_max_batch_size())

    def _open_collections(self, *, check_model: bool) -> None:
        name = self.settings.collection
        if not name.endswith(REBUILD_SUFFIX):
            chroma_swap.finish_interrupted_swap(self._client, name)
        wanted: dict[str, MetaValue] = {
            "model": self.model.name,
            "dimension": self.model.dimension,
            "schema": SCHEMA_VERSION,
            "created_at": int(time.time()),
        }
        self._chunks = self._gated(get_or_create(self._client, name, wanted))
        self._catalog = self._gated(
            get_or_create(self._client, name + CATALOG_SUFFIX, {"schema": SCHEMA_VERSION, "of": name})
        )
        if self.settings.is_server:
            self._changes = get_or_create(
                self._client, name + CHANGES_SUFFIX, {"schema": SCHEMA_VERSION, "of": name}
            )
        if check_model:
            self._check_model(self._chunks.metadata or {})

    def _write_batch(self) -> int:
        """Records per write call: as many as Chroma takes, fewer while searches come (embedded)."""
        most = max(1, self._max_batch)
        return most if self.settings.is_server else self.search_gate.write_batch(most)

    def _gated(self, collection: Any) -> Any:
        """Embedded, the collection's writes wait for searches (`searchapp.storage.search_gate`);
        a server's client gives up the GIL while it waits for the network."""
        return collection if self.settings.is_server else GatedCollection(collection, self.search_gate)

    def check_model(self) -> None:
        """Raise `ModelMismatchError` unless the collection holds vectors of `self.model`."""
        self._check_model(self.collection_metadata)

    def _check_model(self, metadata: Mapping[str, Any]) -> None:
        stored_name = metadata.get("model")
        stored_dim = metadata.get("dimension")
        if stored_name == self.model.name and stored_dim == self.model.dimension:
            return
        raise ModelMismatchError(
            f"collection {self.settings.collection!r} holds vectors from model {stored_name!r} "
            f"({stored_dim}-d), but the settings ask for {self.model.name!r} ({self.model.dimension}-d). "
            "Vectors of different models cannot be compared. Set SEARCHAPP_MODEL back, choose another "
            f"collection, or rebuild this one with `searchapp reindex --model {self.model.name}`."
        )

    # ----------------------------------------------------------------- rebuild

    def drop_collection(self, name: str) -> None:
        """Delete a collection and its catalog, if they exist."""
        chroma_swap.drop(self.client, name)

    def mark_rebuild_complete(self, *, retire: bool = False) -> None:
        """Flag this (rebuild) collection as complete, so a swap may use it; `retire`: the
        swap keeps the index it replaces as NAME-retired (`searchapp.storage.chroma_swap`)."""
        metadata = {**self.collection_metadata, chroma_swap.COMPLETE: True, chroma_swap.RETIRE: retire}
        with chroma_errors("marking the rebuilt index complete"):
            self.chunks.modify(metadata=metadata)

    def swap_in_rebuild(self, *, retire: bool = False) -> None:
        """Replace this collection with its complete rebuild (`searchapp.storage.chroma_swap`)."""
        chroma_swap.swap_in_rebuild(self.client, self.settings.collection, retire=retire)
        self._chunks = self._catalog = self._changes = None

    def retired_metadata(self) -> dict[str, Any] | None:  # see chroma_swap for these two
        return chroma_swap.retired_metadata(self.client, self.settings.collection)

    def unretire(self) -> None:
        chroma_swap.unretire(self.client, self.settings.collection)

    def replaced(self) -> bool:
        """True when another client swapped a rebuild in under this collection's name."""
        current = chroma_swap.live(self.client, self.settings.collection)
        return bool(self._chunks is None or current.id != self._chunks.id)

    def reopen(self) -> None:
        """Open the collections under this name again (after a swap), keeping the client; a
        search meanwhile uses the old handle or the new one (each replaced in one assignment)."""
        self._tables.forget()
        self._open_collections(check_model=False)

    def reconnect(self) -> None:
        """Drop the Chroma client and open a fresh one, keeping the data-directory lock.

        After a write failed on a full disk, the old client can hang on its next write.
        """
        self._close_client()
        self._open_client()
        self._open_collections(check_model=False)

    def _close_client(self) -> None:
        client, self._chunks, self._catalog, self._client = self._client, None, None, None
        self._changes = None
        self._tables.forget()
        if client is not None:
            # Chroma shares one system per path in a process; closing releases our reference,
            # and the last one stops it (file handles, memory).
            try:
                client.close()
            except Exception as exc:
                logger.debug("closing the Chroma client: %s", exc)

    def close(self) -> None:
        self._close_client()
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def __enter__(self) -> ChromaStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -------------------------------------------------------------- properties

    @property
    def client(self) -> Any:
        if self._client is None:
            raise StoreError("the store is closed")
        return self._client

    @property
    def chunks(self) -> Any:
        if self._chunks is None:
            raise StoreError("the store is closed")
        return self._chunks

    def _changes_collection(self) -> Any:
        if self._changes is None:
            raise StoreError(
                "the change log is kept only with a Chroma server, and only while the store is open"
            )
        return self._changes

    def _catalog_collection(self) -> Any:
        if self._catalog is None:
            raise StoreError("the store is closed")
        return self._catalog

    def table(self, name: str) -> RecordTable:
        """The record table `name` kept with this collection (`<collection>.<name>`)."""
        return self._tables.table(name)

    def has_table(self, name: str) -> bool:
        """Whether the record table `name` exists yet (reading a table creates it)."""
        return self._tables.exists(name)

    def leases(self) -> RecordTable:
        """Named leases of this collection (one syncing client per source, say)."""
        return self._tables.table("leases")

    def global_table(self, name: str) -> RecordTable:
        """The record table `name` shared by every collection of this store (tokens, say)."""
        return self._tables.global_table(name)

    @property
    def collection_metadata(self) -> dict[str, Any]:
        return dict(self.chunks.metadata or {})

    # -------------------------------------------------------------- generation

    def generation(self) -> str:
        """The collection's change stamp, read fresh (another server client may have written)."""
        with chroma_errors("reading the collection's generation"):
            metadata = self.client.get_collection(self.settings.collection, embedding_function=None).metadata
        return str((metadata or {}).get("generation", ""))

    def set_generation(self, token: str) -> None:
        """Record a new change stamp. Set before a write, so a crash mid-write is detectable."""
        with chroma_errors("recording the collection's generation"):
            metadata = self.client.get_collection(self.settings.collection, embedding_function=None).metadata
            self.chunks.modify(metadata={**(metadata or {}), "generation": token})

    def iter_chunks(self, *, include_embeddings: bool, page: int = 2000) -> Iterator[Page]:
        """Every chunk, `page` at a time: (ids, texts, metadatas, embeddings or None)."""
        return chunk_pages(
            lambda limit, offset: self.get_chunks(
                include_embeddings=include_embeddings, limit=limit, offset=offset
            ),
            include_embeddings=include_embeddings,
            page=page,
        )

    def set_chunk_tags(self, doc_id: str, tags: Sequence[str]) -> None:
        """Replace the tags on every chunk of a document (no tags: remove the key)."""
        # `update` merges metadata, and a None value deletes a key (Chroma has no empty lists).
        self._update_chunks(doc_id, {"tags": list(tags) if tags else None}, f"retagging {doc_id[:12]}")

    def set_chunk_groups(self, doc_id: str, groups: Sequence[str]) -> None:
        """Replace the groups every chunk of a document is restricted to (none: open to all)."""
        self._update_chunks(doc_id, group_fields(groups), f"changing the groups of {doc_id[:12]}")

    def set_chunk_fields(self, doc_id: str, fields: Mapping[str, MetaValue | None]) -> int:
        """Set these metadata fields on every chunk of a document (a rename), None removing one;
        returns how many. The vectors, texts and other fields stay (`update` merges)."""
        return self._update_chunks(doc_id, fields, f"updating the chunks of {doc_id[:12]}")

    def _update_chunks(self, doc_id: str, values: Mapping[str, Any], doing: str) -> int:
        with chroma_errors(doing):
            ids = self.chunks.get(where={"doc_id": doc_id}, include=[])["ids"]
            step = self._write_batch()
            for start in range(0, len(ids), step):
                batch = ids[start : start + step]
                self.chunks.update(ids=batch, metadatas=[dict(values)] * len(batch))
        return len(ids)

    # ------------------------------------------------------------------ chunks

    def add_chunks(
        self,
        ids: Sequence[str],
        embeddings: np.ndarray[Any, Any],
        documents: Sequence[str],
        metadatas: Sequence[Mapping[str, MetaValue]],
    ) -> None:
        """Add chunk records in batches no larger than Chroma's maximum."""
        if not (len(ids) == len(embeddings) == len(documents) == len(metadatas)):
            raise StoreError(
                f"add_chunks needs equal lengths; got {len(ids)} ids, {len(embeddings)} vectors, "
                f"{len(documents)} texts and {len(metadatas)} metadata rows"
            )
        step = self._write_batch()
        for start in range(0, len(ids), step):
            end = start + step
            with chroma_errors(f"writing {len(ids[start:end])} chunks"):
                self.chunks.add(
                    ids=list(ids[start:end]),
                    embeddings=embeddings[start:end],
                    documents=list(documents[start:end]),
                    metadatas=[dict(m) for m in metadatas[start:end]],
                )

    def delete_chunks_of(self, doc_ids: Sequence[str]) -> int:
        """Delete every chunk of these documents; returns how many there were."""
        if not doc_ids:
            return 0
        where = {"doc_id": doc_ids[0]} if len(doc_ids) == 1 else {"doc_id": {"$in": list(doc_ids)}}
        with chroma_errors(f"deleting the chunks of {len(doc_ids)} documents"):
            ids = self.chunks.get(where=where, include=[])["ids"]
            step = self._write_batch()
            for start in range(0, len(ids), step):
                self.chunks.delete(ids=ids[start : start + step])
        return len(ids)

    def count_chunks(self) -> int:
        with chroma_errors("counting chunks"):
            return int(self.chunks.count())

    def query_ids(
        self,
        embedding: np.ndarray[Any, Any],
        k: int,
        where: Mapping[str, Any] | None = None,
        where_document: Mapping[str, Any] | None = None,
    ) -> tuple[list[str], list[float]]:
        """Nearest chunk ids and cosine distances only: candidates, not yet results."""
        with chroma_errors("searching"):
            result = self.chunks.query(
                query_embeddings=[np.asarray(embedding, dtype=np.float32)],
                n_results=k,
                where=dict(where) if where else None,
                where_document=dict(where_document) if where_document else None,
                include=["distances"],
            )
        return list(result["ids"][0]), [float(d) for d in (result["distances"] or [[]])[0]]

    def get_chunks(
        self,
        *,
        ids: Sequence[str] | None = None,
        where: Mapping[str, Any] | None = None,
        where_document: Mapping[str, Any] | None = None,
        include_embeddings: bool = False,
        limit: int | None = None,
        offset: int | None = None,
    ) -> dict[str, Any]:
        include = ["documents", "metadatas"] + (["embeddings"] if include_embeddings else [])
        if ids is not None and where is None and where_document is None and limit is None and not offset:
            return get_present(self.chunks, ids, include)
        with chroma_errors("reading chunks"):
            result: dict[str, Any] = self.chunks.get(
                ids=list(ids) if ids is not None else None,
                where=dict(where) if where else None,
                where_document=dict(where_document) if where_document else None,
                include=include,
                limit=limit,
                offset=offset,
            )
        return result
