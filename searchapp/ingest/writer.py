"""The last stage of ingest: committing prepared documents to the library, in groups.

A background thread takes what the embedding stage finished and commits it with
`Library.commit`, many small files per commit; outcomes come back to the ingesting
thread. The first error that every later file would share (a full disk, a lost server)
stops the writing, and the files still to come are told why.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from searchapp.errors import FailureReason, IngestError, StorageFullError, StoreError, StoreUnavailableError
from searchapp.ingest.types import FileOutcome
from searchapp.ingest.workers import TaskTimeout, WorkerCrashed
from searchapp.library import Library
from searchapp.types import PreparedDocument

logger = logging.getLogger(__name__)

# The writer stores up to this many documents (or chunks) with one set of Chroma calls.
MAX_GROUP_DOCS = 64
MAX_GROUP_CHUNKS = 4096


@dataclass(frozen=True, slots=True)
class Pending:
    """A prepared document waiting to be committed: file `index` of the batch."""

    index: int
    source: str
    started: float
    document: PreparedDocument


class Abort(Exception):
    """Every later file would fail the same way (disk full, server gone)."""

    def __init__(self, reason: FailureReason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


class BatchWriter:
    """Writes finished files on a background thread, in order; stops at the first fatal error.

    Outcomes come back through `drain()`, on the caller's thread, because progress
    callbacks (Streamlit's, say) must not run on this one.
    """

    def __init__(self, library: Library, finish: Callable[[FileOutcome, int], None]) -> None:
        self.library = library
        self._finish = finish
        self.abort: Abort | None = None
        self._queue: queue.Queue[Pending | None] = queue.Queue(maxsize=MAX_GROUP_DOCS)
        self._done: queue.Queue[tuple[FileOutcome, int]] = queue.Queue()
        self._thread = threading.Thread(target=self._loop, name="searchapp-writer", daemon=True)
        self._thread.start()

    def submit(self, item: Pending) -> None:
        self._queue.put(item)
        self.drain()

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()

    def drain(self) -> None:
        """Report every file written so far (call from the ingesting thread)."""
        while True:
            try:
                outcome, index = self._done.get_nowait()
            except queue.Empty:
                return
            self._finish(outcome, index)

    def finish(self, outcome: FileOutcome, index: int) -> None:
        self._done.put((outcome, index))

    def _loop(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            group, chunks, closing = [item], len(item.document.chunks), False
            # Take what else is ready: many small files then cost a few Chroma calls, not a few each.
            while len(group) < MAX_GROUP_DOCS and chunks < MAX_GROUP_CHUNKS:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    closing = True
                    break
                group.append(more)
                chunks += len(more.document.chunks)
            self._write(group)
            if closing:
                return

    def _write(self, group: list[Pending]) -> None:
        if self.abort is not None:
            for item in group:
                self.finish(
                    failed(item.source, self.abort.reason, self.abort.detail, item.started), item.index
                )
            return
        try:
            done = self.library.commit([item.document for item in group])
        except (StorageFullError, StoreUnavailableError) as exc:
            reason = (
                FailureReason.STORAGE_FULL if isinstance(exc, StorageFullError) else FailureReason.INTERNAL
            )
            self.abort = Abort(reason, str(exc))
            for item in group:
                self.finish(failed(item.source, reason, str(exc), item.started), item.index)
            return
        except Exception as exc:  # never let the writer thread die silently
            if len(group) > 1:  # find the one document that fails, and write the others
                for item in group:
                    self._write([item])
                return
            item = group[0]
            logger.exception("writing %s failed", item.source)
            detail = str(exc) if isinstance(exc, StoreError) else f"{type(exc).__name__}: {exc}"
            self.finish(failed(item.source, FailureReason.INTERNAL, detail, item.started), item.index)
            return
        for item, record in zip(group, done, strict=True):
            outcome = FileOutcome(
                item.source,
                "ingested",
                record.chunks,
                record.doc_id,
                warnings=record.warnings,
                seconds=time.monotonic() - item.started,
            )
            self.finish(outcome, item.index)


def failed(source: str, reason: FailureReason, detail: str, started: float) -> FileOutcome:
    return FileOutcome(source, "failed", reason=reason, detail=detail, seconds=time.monotonic() - started)


def from_exception(source: str, exc: BaseException, started: float) -> FileOutcome:
    """The outcome of a file whose preparation raised `exc`."""
    if isinstance(exc, IngestError):
        return failed(source, exc.reason, exc.detail, started)
    if isinstance(exc, TaskTimeout):
        return failed(source, FailureReason.TIMEOUT, str(exc), started)
    if isinstance(exc, WorkerCrashed):
        reason = FailureReason.DAMAGED_PDF if source.lower().endswith(".pdf") else FailureReason.UNREADABLE
        return failed(source, reason, str(exc), started)
    if isinstance(exc, MemoryError):
        return failed(source, FailureReason.TOO_LARGE, "reading it ran out of memory", started)
    return failed(source, FailureReason.INTERNAL, f"{type(exc).__name__}: {exc}"[:300], started)
