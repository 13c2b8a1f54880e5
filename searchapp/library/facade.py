"""`Library`: one collection of documents, for reading, searching and writing.

This is the object every front end opens: the CLI, the Streamlit UI, the evaluation
command and the Python API. This module holds how one is opened, closed, kept in step
with Chroma (or with a server's other clients) and switched to another model in place;
reading is in `searchapp.library.reads`, curation in `searchapp.library.curation`, and
writing in `searchapp.library.document_writes`. Writes go through two calls: `admit` (is
this file new, a new version of a stored one, or already stored?) and `commit` (store a
batch of prepared documents as one unit of work: see `searchapp.library.writes`).

Every write also updates the `LocalIndex` (filters, vectors, BM25 and "text contains",
each with the written chunks only) and stamps both it
and Chroma with a new generation; Chroma's stamp is set first, so a crash between the
two is seen at the next open and the local index is rebuilt from Chroma.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from searchapp.access.visibility import Visibility
from searchapp.config import Settings
from searchapp.embedding.embedders import Embedder, get_embedder
from searchapp.library.document_writes import DocumentWrites
from searchapp.library.sync import ServerSync
from searchapp.library.versions import resolve_for
from searchapp.library.view import LibraryView
from searchapp.library.writes import UnitOfWork
from searchapp.storage.chroma import ChromaStore
from searchapp.storage.index_slot import IndexSlot
from searchapp.storage.local_index import LocalIndex

logger = logging.getLogger(__name__)


class Library(DocumentWrites):
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


def open_library(settings: Settings | None = None, **overrides: Any) -> Library:
    """Open the library named by settings (default: from the environment) plus overrides."""
    base = settings or Settings.load()
    return Library.open(base.with_overrides(**overrides) if overrides else base)
