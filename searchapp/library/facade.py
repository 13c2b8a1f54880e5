"""`Library`: one collection of documents, for reading, searching and writing.

This is the object every front end opens: the CLI, the Streamlit UI, the evaluation
command and the Python API. Writes go through two calls: `admit` (is this file new,
a new version of a stored one, or already stored?) and `commit` (store a batch of
prepared documents as one unit of work: see `searchapp.library.writes`).

Every write also updates the `LocalIndex` (filters, vectors, BM25 and "text contains",
each with the written chunks only) and stamps both it
and Chroma with a new generation; Chroma's stamp is set first, so a crash between the
two is seen at the next open and the local index is rebuilt from Chroma.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from searchapp.access.visibility import Visibility, can_see
from searchapp.config import Settings
from searchapp.embedding.embedders import Embedder, get_embedder
from searchapp.errors import StorageFullError
from searchapp.library.curation import Curation
from searchapp.library.reads import DocumentReads
from searchapp.library.sync import ServerSync
from searchapp.library.versions import resolve_for
from searchapp.library.view import LibraryView
from searchapp.library.writes import Admission, UnitOfWork
from searchapp.storage.chroma import ChromaStore
from searchapp.storage.index_slot import IndexSlot
from searchapp.storage.local_index import LocalIndex
from searchapp.types import DocumentRecord, PreparedDocument
from searchapp.units import MB, megabytes

logger = logging.getLogger(__name__)
HIDDEN_DETAIL = (
    "a document with this name or the same content is already in the library, restricted to groups "
    "you are not in; ask someone in them, or an administrator"
)


class Library(Curation, DocumentReads):
    """A collection of documents: its store, its originals and its embedder.

    Open with `Library.open(settings)`; close with `close()` or a `with` block. Safe to
    share between threads: searches run concurrently, writes one at a time.
    """

    def __init__(
        self,
        settings: Settings,
        store: ChromaStore,
        embedder: Embedder,
        local: LocalIndex,
        slot: IndexSlot | None = None,
    ) -> None:
        super().__init__(settings, store, embedder, local)
        self._slot = slot or IndexSlot(local.directory)
        self._wire()
        self._write_lock = threading.RLock()
        self._disk_full = False

    def _wire(self) -> None:
        """The write path and the server follower, over the current store and index."""
        self._sync = (
            ServerSync(
                self.store,
                self.local,
                on_replaced=self._follow_swap,
                on_recalibrated=self.refresh_no_match,
            )
            if self.settings.is_server
            else None
        )
        self._writes = UnitOfWork(
            self.store,
            self.local,
            self.originals,
            self._new_generation,
            local_stamp=self._local_stamp,
            on_change=self._sync.note_own if self._sync is not None else None,
        )

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
        chosen = embedder or get_embedder(settings)
        store = ChromaStore.open(settings, chosen.info, check_model=False)
        try:
            if embedder is None:  # the collection may hold a version tuned from the settings' model
                tuned = resolve_for(store, chosen.info)
                if tuned is not None:
                    chosen = get_embedder(settings, tuned)
                    store.model = tuned
            if check_model:
                store.check_model()
        except BaseException:
            store.close()
            raise
        embedder = chosen
        try:
            slot = IndexSlot.claim(settings.index_dir, shared=settings.is_server)
        except BaseException:
            store.close()
            raise
        try:
            local = LocalIndex(
                slot.directory, dimension=embedder.info.dimension, mirror_vectors=not settings.is_server
            )
        except BaseException:
            slot.release()
            store.close()
            raise
        library = cls(settings, store, embedder, local, slot)
        try:
            if library._sync is not None:
                library._sync.start()
            else:
                library.sync_local_index(force=True)
        except BaseException:
            library.close()
            raise
        return library

    # ------------------------------------------------------------ model switches

    def adopt_swapped(self, embedder: Embedder | None = None) -> None:
        """Serve the collection now under this name (a rebuild was just swapped in), in place.

        Every front end keeps its `Library` object: searches after this call use the new
        index and its model (`embedder`, or the version the collection names).
        """
        with self._write_lock:
            if self._sync is not None:
                self._sync.stop()
            self.store.reopen()
            chosen = embedder or self._collection_embedder()
            self.store.model = chosen.info
            self.store.check_model()
            self.embedder = chosen
            self.local = LocalIndex(
                self._slot.directory,
                dimension=chosen.info.dimension,
                mirror_vectors=not self.settings.is_server,
            )
            self.searcher = self._new_searcher(chosen)
            self._wire()
            self.catalog_changed()
            if self._sync is not None:
                self._sync.start()
            else:
                self.sync_local_index(force=True)

    def _collection_embedder(self, *, live: bool = False) -> Embedder:
        base = get_embedder(self.settings)
        tuned = resolve_for(self.store, base.info, live=live)
        return get_embedder(self.settings, tuned) if tuned is not None else base

    def _follow_swap(self) -> None:
        """Server mode: another client swapped a rebuild in; load its model, then switch to it.

        The model is loaded before the switch, so no search embeds with one model against
        the other's vectors (searches meanwhile use the old collection, kept as NAME-retired).
        """
        chosen = self._collection_embedder(live=True)
        load = getattr(chosen, "load", None)
        if callable(load):
            load()
        if chosen.info.name != self.embedder.info.name:
            logger.warning("the collection now uses model %s; following it", chosen.info.name)
        self.store.reopen()
        self.store.model = chosen.info
        self.embedder, self.searcher = chosen, self._new_searcher(chosen)

    def close(self) -> None:
        if self._sync is not None:
            self._sync.stop()
        self.local.close()
        self._slot.release()
        self.store.close()

    def sync_local_index(self, *, force: bool = False) -> bool:
        """Bring the local index in step with Chroma now; True if it changed.

        In local mode this process is the only writer, so a difference means a crash, and
        the index is rebuilt (at open). With a server, other clients write: the change log
        is applied (a background thread does this every second anyway).
        """
        if self._sync is not None:
            return self._sync.poll()
        if not force:
            return False
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

    def _local_stamp(self, generation: str) -> str:
        """What the local index records after this client's own write with `generation`.

        Local mode: the generation itself (a crash between the two is seen at the next
        open). Server mode: its change-log position, which only the change log moves on.
        """
        return generation if self._sync is None else self.local.generation

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """One write at a time; the cached catalog is stale from its start to its end."""
        with self._write_lock:
            self._check_disk_recovered()
            self.catalog_changed()
            try:
                yield
            except StorageFullError:
                # Writing to Chroma again on a full disk can wedge its client (a delete
                # that fails mid-compaction hangs the next write); hold all writes until
                # space is back. Searching goes on.
                self._disk_full = True
                raise
            finally:
                self.catalog_changed()

    def _check_disk_recovered(self) -> None:
        if not self._disk_full:
            return
        free = self.free_disk_bytes()
        needed = max(self.settings.min_free_mb, 16) * MB
        if free < needed:
            raise StorageFullError(
                f"the disk holding {self.settings.data_dir} is still full ({megabytes(free)} free); "
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

    # ------------------------------------------------------------------ one caller's view

    def view(self, visibility: Visibility) -> LibraryView:
        """This library as one caller may see it: only documents visible to `visibility`.

        Every front end reads for a caller through this (`searchapp.library.view`);
        `visibility` is required on purpose: None (everything) has to be said.
        """
        return LibraryView(self, visibility)

    # ------------------------------------------------------------------ writing

    def admit(
        self,
        source: str,
        doc_id: str,
        *,
        tags: Sequence[str] = (),
        groups: Sequence[str] = (),
        visibility: Visibility = None,
    ) -> Admission:
        """Whether a file (`source` with bytes hashing to `doc_id`) needs storing.

        The same bytes under the same name are `unchanged` (new `tags` or `groups`, if
        given, replace the stored ones); the same bytes already stored under another name,
        or being written by another client, are a `duplicate`; anything else is `new`, or
        `replace` when it is an edit of `source`. For an uploader with a `visibility`, a
        stored version of either kind that it may not see makes the file `hidden`.
        """
        current = self.find_by_source(source)
        if visibility is not None:
            concerned = [current, self.find_by_id(doc_id)]
            if any(r is not None and not can_see(r.groups, visibility) for r in concerned):
                return Admission("hidden", None, HIDDEN_DETAIL)
        if current is not None and current.doc_id == doc_id and current.state == "done":
            record, changed = current, []
            if tags and set(tags) != set(current.tags):
                record, changed = self.update_tags(doc_id, tags), ["tags"]
            if groups and set(groups) != set(current.groups):
                record, changed = self.update_groups(doc_id, groups), [*changed, "groups"]
            return Admission("unchanged", record, " and ".join(changed) + " updated" if changed else "")
        twin = self.find_by_id(doc_id)
        if twin is not None and twin.state == "done" and twin.source != source:
            detail = f"same content as {twin.source!r}, already indexed"
            return Admission("duplicate", twin, detail, current=current)
        if twin is not None and self._written_elsewhere(twin, time.time()):
            detail = "another client is ingesting the same file right now"
            return Admission("duplicate", twin, detail, current=current)
        if current is not None and current.doc_id != doc_id:
            return Admission("replace", current)
        return Admission("new")

    def commit(self, documents: Sequence[PreparedDocument]) -> list[DocumentRecord]:
        """Store prepared documents as one unit of work; returns their `done` records.

        Each replaces the stored version of its source, if any (see `searchapp.library.writes`).

        Raises:
            StorageFullError, StoreUnavailableError: nothing of the batch is `done` (an
                error before the old versions were retired is undone; otherwise the batch
                is `pending`, and `interrupted` hands it back).
            ValueError: the batch holds the same document twice.
        """
        with self._writing():
            return self._writes.commit(documents)

    def interrupted(self) -> list[tuple[DocumentRecord, bytes]]:
        """Documents whose write was interrupted, with their kept originals, to be committed again.

        A document another client is still writing (its lease is live) is left alone. One
        whose original is gone is rolled back, where this client sees every original (local
        mode, or originals shared by every client of a server); otherwise it is reported,
        never deleted: its writer may hold the original.
        """
        found: list[tuple[DocumentRecord, bytes]] = []
        with self._write_lock:  # so no write of this process is in flight: its own records are stale
            now = time.time()
            for record in self.pending_documents():
                if self._written_elsewhere(record, now):
                    continue
                if self.originals.has(record.doc_id):
                    logger.warning("finishing %s, interrupted while being ingested", record.source)
                    found.append((record, self.original(record.doc_id)))
                elif self.sees_every_original:
                    logger.warning("rolling back %s: interrupted, and its original is missing", record.source)
                    self.delete_by_id(record.doc_id)
                else:
                    logger.warning(
                        "%s was interrupted while another client wrote it, and its original is not "
                        "reachable from here (set SEARCHAPP_ORIGINALS_URL to share originals)",
                        record.source,
                    )
        return found

    def _written_elsewhere(self, record: DocumentRecord, now: float) -> bool:
        """True while another client of a server holds the lease of this pending document.

        A local data directory has one writer (it holds the directory's lock), so there a
        pending record is always an interrupted write, whatever its lease says.
        """
        return self.settings.is_server and record.lease_live(now) and record.owner != self.client_id

    @property
    def client_id(self) -> str:
        """Who this process is to other clients of a server (the owner of its pending writes)."""
        return self.store.client_id

    @property
    def sees_every_original(self) -> bool:
        """True when every document's original is reachable from here: local mode, or shared originals."""
        return not self.settings.is_server or self.settings.shared_originals

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
            self.store.delete_chunks_of([doc_id])
            self.local.apply(generation=self._local_stamp(generation), delete_docs=[doc_id])
            self.store.catalog.delete_record(doc_id)
            self._writes.drop_original_if_unused(doc_id)
            self.forget_hidden(doc_id)
            self._writes.announce(removed=[doc_id])

    def calibration_saved(self) -> None:
        """Search with the "no good match" thresholds just saved or reset, and tell a
        server's other clients to read them again too."""
        self.refresh_no_match()
        # Not under the write lock: a long ingest need not finish first, and no document changed.
        self._writes.announce(recalibrated=True)

    def announce_reset(self) -> None:
        """Tell the other clients of a server that the whole collection was replaced (a reindex)."""
        with self._writing():
            self._writes.announce(reset=True)


def open_library(settings: Settings | None = None, **overrides: Any) -> Library:
    """Open the library named by settings (default: from the environment) plus overrides."""
    base = settings or Settings.load()
    return Library.open(base.with_overrides(**overrides) if overrides else base)
