"""The libraries an API process serves: one `Library` and one `Ingestor` per collection.

`OwnLibraries` opens them on first use and keeps them for the life of the process
(`searchapp serve`, `searchapp mcp`). Mounted inside the web UI's server, the API uses
the UI's own cache instead (`searchapp.ui.server` passes one), so the UI and the API share
one `Library` per collection: two would each keep a local index of their own, and
neither would see the other's writes.
"""

from __future__ import annotations

import threading
from typing import Protocol

from searchapp.config import Settings
from searchapp.ingest.pipeline import Ingestor
from searchapp.library import Library


class Libraries(Protocol):
    """Where the API gets the library and ingestor of a collection."""

    settings: Settings  # the deployment's settings; `collection` is its default collection

    def library(self, collection: str) -> Library: ...

    def ingestor(self, collection: str) -> Ingestor: ...

    def close(self) -> None: ...


class OwnLibraries:
    """Opens each collection's library once, under `settings` with that collection."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._libraries: dict[str, Library] = {}
        self._ingestors: dict[str, Ingestor] = {}
        self._lock = threading.Lock()

    def library(self, collection: str) -> Library:
        with self._lock:
            library = self._libraries.get(collection)
            if library is None:
                library = Library.open(self.settings.with_overrides(collection=collection))
                self._libraries[collection] = library
            return library

    def ingestor(self, collection: str) -> Ingestor:
        library = self.library(collection)
        with self._lock:
            ingestor = self._ingestors.get(collection)
            if ingestor is None:
                ingestor = Ingestor(library)
                self._ingestors[collection] = ingestor
            return ingestor

    def close(self) -> None:
        with self._lock:
            for ingestor in self._ingestors.values():
                ingestor.close()
            for library in self._libraries.values():
                library.close()
            self._ingestors.clear()
            self._libraries.clear()
