"""Keeping a client's local index in step with a collection other clients write (server mode).

A background thread polls the collection's generation once a second (one small request).
When it moved, the thread reads the change log (`searchapp.storage.changes`) and applies
each new entry to the local index: it re-reads just the documents the entry names and
replaces their rows, so a foreign write costs this client about the size of that write.
A user's search never waits for it.

An entry is applied only when every document it added is read back whole (the chunk
count the writer recorded); otherwise a later write changed that document again, and
either the next entry brings it, or the read is retried at the next poll. So a reader
holds, for each document, the old version or the new one, whole, and never marks a
partial read as current. The local index records the time of the last entry it applied;
a client that was away longer than the log is kept (or told to by a reindex) rebuilds.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable

from searchapp.storage.changes import RETENTION_MS, SKEW_MS, Change, now_ms
from searchapp.storage.chroma import ChromaStore
from searchapp.storage.local_index import ChunkRow, LocalIndex
from searchapp.types import MetaValue

logger = logging.getLogger(__name__)

POLL_S = 1.0
CURSOR_PREFIX = "log:"  # the local index's generation in server mode: "log:<ms of the last entry>"


class ServerSync:
    """Applies the change log to one local index; `start` runs it in the background."""

    def __init__(
        self,
        store: ChromaStore,
        local: LocalIndex,
        on_replaced: Callable[[], None] | None = None,
        on_recalibrated: Callable[[], None] | None = None,
    ) -> None:
        self._store = store
        self._local = local
        # Another client swapped a rebuild in (a reindex, a model version): the library
        # reopens the collection and loads its model before the index is read again.
        self._on_replaced = on_replaced
        # Another client saved or reset the "no good match" thresholds: read them again.
        self._on_recalibrated = on_recalibrated
        self._lock = threading.Lock()
        self._seen_generation: str | None = None
        self._applied: dict[str, int] = {}  # change id -> its time, within the look-back window
        # Entries older than this are in the last full read (an entry is written after its
        # data, and clocks disagree by less than SKEW_MS), so they are not applied again.
        self._floor_ms = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failing_since = 0.0

    @property
    def cursor_ms(self) -> int:
        generation = self._local.generation
        if generation.startswith(CURSOR_PREFIX):
            try:
                return int(generation.removeprefix(CURSOR_PREFIX))
            except ValueError:
                return 0
        return 0

    def note_own(self, change: Change) -> None:
        """This client wrote `change` (and applied it already): the poller skips it."""
        with self._lock:
            self._applied[change.change_id] = change.at_ms

    def start(self) -> None:
        """Catch up now (rebuilding if this index is new or too old), then poll in the background."""
        self.poll()
        self._thread = threading.Thread(target=self._loop, name="searchapp-sync", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.wait(POLL_S):
            try:
                self.poll()
                self._failing_since = 0.0
            except Exception as exc:  # the server may be down for a while; searches report that
                if not self._failing_since:
                    self._failing_since = time.monotonic()
                    logger.warning("cannot follow the collection's changes: %s", exc)

    def poll(self) -> bool:
        """Apply what changed since the last poll; True if the local index changed."""
        with self._lock:
            if self._on_replaced is not None and self._store.replaced():
                self._on_replaced()
                self._rebuild(self._store.generation())
                return True
            generation = self._store.generation()
            if generation == self._seen_generation:
                return False
            cursor = self.cursor_ms
            if cursor == 0 or cursor < now_ms() - RETENTION_MS + SKEW_MS:
                self._rebuild(generation)
                return True
            changes = [
                c
                for c in self._store.changes.since(max(cursor - SKEW_MS, self._floor_ms))
                if c.change_id not in self._applied
            ]
            if any(c.reset for c in changes):
                self._rebuild(generation)
                return True
            for change in changes:
                if not self._apply(change):
                    return True  # the rest waits for the next poll, in order
                self._applied[change.change_id] = change.at_ms
                if change.recalibrated:
                    self._recalibrated()
            self._seen_generation = generation
            horizon = self.cursor_ms - 2 * SKEW_MS
            self._applied = {cid: at for cid, at in self._applied.items() if at >= horizon}
            return bool(changes)

    def _rebuild(self, generation: str) -> None:
        """Read the whole collection; entries written while it was read are applied after."""
        started = now_ms()
        logger.warning(
            "reading the collection %r into this client's local index", self._store.settings.collection
        )
        self._local.rebuild(
            self._store.iter_chunks(include_embeddings=self._local.mirror_vectors),
            f"{CURSOR_PREFIX}{started - SKEW_MS}",
        )
        self._floor_ms = started - SKEW_MS
        self._applied.clear()
        self._recalibrated()  # an entry that said so may be older than the read
        self._seen_generation = None  # look at the log once more: what changed during the read

    def _recalibrated(self) -> None:
        if self._on_recalibrated is not None:
            self._on_recalibrated()

    def _apply(self, change: Change) -> bool:
        """Replace the rows of the documents `change` names; False to retry it later."""
        wanted = [doc_id for doc_id, _ in change.added]
        rows = self._read(wanted)
        for doc_id, expected in change.added:
            if len(rows.get(doc_id, ())) == expected:
                continue
            record = self._store.catalog.record(doc_id)
            if record is not None and record.state == "done" and record.chunks == expected:
                return False  # read while a later write of the same bytes was replacing it
            rows.pop(doc_id, None)  # replaced or deleted since: a later entry says so
        retag, regroup = {}, {}
        for doc_id in change.retagged:  # tags or groups changed: the record has both
            record = self._store.catalog.record(doc_id)
            if record is not None:
                retag[doc_id], regroup[doc_id] = record.tags, record.groups
        generation = f"{CURSOR_PREFIX}{max(self.cursor_ms, change.at_ms)}"
        self._local.apply(
            generation=generation,
            delete_docs=[*change.removed, *wanted],
            add=[row for doc_rows in rows.values() for row in doc_rows],
            retag=retag,
            regroup=regroup,
        )
        for doc_id in change.renamed:  # the chunks stay; their name and title come from the catalog
            record = self._store.catalog.record(doc_id)
            if record is not None and record.state == "done":
                fields: dict[str, MetaValue] = {"source": record.source, "title": record.title}
                if record.mtime:
                    fields["mtime"] = record.mtime
                self._local.update_document_fields(doc_id, fields, generation=generation)
        return True

    def _read(self, doc_ids: list[str]) -> dict[str, list[ChunkRow]]:
        """The chunks of these documents as local index rows, by document."""
        if not doc_ids:
            return {}
        where = {"doc_id": doc_ids[0]} if len(doc_ids) == 1 else {"doc_id": {"$in": doc_ids}}
        result = self._store.get_chunks(where=where, include_embeddings=self._local.mirror_vectors)
        vectors = result.get("embeddings") if self._local.mirror_vectors else None
        rows: dict[str, list[ChunkRow]] = defaultdict(list)
        for i, (cid, text, meta) in enumerate(
            zip(result["ids"], result["documents"] or [], result["metadatas"] or [], strict=True)
        ):
            meta = dict(meta or {})
            vector = vectors[i] if vectors is not None else None
            rows[str(meta.get("doc_id", ""))].append(ChunkRow(cid, text, meta, vector))
        return rows
