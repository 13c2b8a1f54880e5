"""Writing a library: admitting files, committing them, finishing interrupted writes, deleting.

`DocumentWrites` is the writing half of `Library` (`searchapp.library.facade`), kept apart
so that each file says one thing; it builds on the reading half (`searchapp.library.reads`)
and on curation (`searchapp.library.curation`), and uses the write lock and the unit of
work (`searchapp.library.writes`) that `Library` sets up. Every write runs under
`_writing`: one at a time, the cached catalog stale throughout, and none at all while the
disk is full (until space is back).
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from searchapp.access.visibility import Visibility, can_see
from searchapp.errors import StorageFullError
from searchapp.library.curation import Curation
from searchapp.library.reads import DocumentReads
from searchapp.library.writes import Admission
from searchapp.types import DocumentRecord, PreparedDocument
from searchapp.units import MB, megabytes

logger = logging.getLogger(__name__)
HIDDEN_DETAIL = (
    "a document with this name or the same content is already in the library, restricted to groups "
    "you are not in; ask someone in them, or an administrator"
)


class DocumentWrites(Curation, DocumentReads):
    """Admit, commit, finish interrupted writes and delete; the base of `Library`."""

    _write_lock: threading.RLock
    _disk_full: bool

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
        given, replace the stored ones); the same bytes already stored under another name
        are a `duplicate` (it gets the `tags` it lacks; its groups stay), as are bytes
        being written by another client; anything else is `new`, or
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
            added = [t for t in tags if t not in twin.tags]
            if added:  # one document: a tag filter of either file's tags finds it (as for sources)
                twin = self.update_tags(doc_id, (*twin.tags, *added))
                detail += f"; it now has the tags {', '.join(added)} too"
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
