"""One client at a time syncs a source: a lease in the store with a server, a lock in-process.

With a Chroma server the lease ``sync:<source>`` is held in the store's leases (renewed
while the sync works, released after); another client's sync of the same source does
not wait but reports "busy". Embedded, one process holds the data directory, and inside
it the app's watcher, a "Sync now" and an API call each have their own `Syncer`, so a
lock of this process keeps their syncs of one source apart.
"""

from __future__ import annotations

import logging
import threading

from searchapp.errors import SearchAppError
from searchapp.library import Library
from searchapp.storage.client_ids import ended_here

logger = logging.getLogger(__name__)

LEASE_S = 60.0

# Embedded, one process holds the data directory; inside it, one sync of a source at a time
# (the app's watcher, a "Sync now" and an API call each have their own `Syncer`).
_LOCAL_SYNCS: dict[tuple[str, str, str], threading.Lock] = {}
_LOCAL_SYNCS_LOCK = threading.Lock()


class SyncLease:
    """The lease that makes one client at a time sync a source (server mode: a lease in the
    store; embedded: a lock of this process)."""

    def __init__(self, library: Library, name: str) -> None:
        self._library = library
        self._name = f"sync:{name}"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._local: threading.Lock | None = None
        self.won = True
        self.holder = ""

    def __enter__(self) -> SyncLease:
        settings = self._library.settings
        if not settings.is_server:
            with _LOCAL_SYNCS_LOCK:
                key = (str(settings.data_dir), settings.collection, self._name)
                lock = _LOCAL_SYNCS.setdefault(key, threading.Lock())
            self.won = lock.acquire(blocking=False)
            if self.won:
                self._local = lock
            else:
                self.holder = "this process (another sync of it is running)"
            return self
        leases = self._library.store.leases()
        # A holder of this machine that no longer runs (a killed watcher) is not waited for.
        self.won = leases.claim(self._name, self._library.client_id, LEASE_S, ended=ended_here)
        if not self.won:
            held = leases.lease(self._name)
            self.holder = held.owner if held is not None else "unknown"
            return self
        self._thread = threading.Thread(target=self._renew, name="searchapp-sync-lease", daemon=True)
        self._thread.start()
        return self

    def _renew(self) -> None:
        while not self._stop.wait(LEASE_S / 3):
            try:
                self._library.store.leases().claim(self._name, self._library.client_id, LEASE_S)
            except SearchAppError as exc:
                logger.warning("could not renew the sync lease %s: %s", self._name, exc)

    def __exit__(self, *exc: object) -> None:
        if self._local is not None:
            self._local.release()
            self._local = None
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self.won and self._library.settings.is_server:
            try:
                self._library.store.leases().release(self._name, self._library.client_id)
            except SearchAppError as exc:
                logger.warning("could not release the sync lease %s: %s", self._name, exc)
