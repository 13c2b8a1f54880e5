"""Process-wide resources: settings, the open `Library` and one shared `Ingestor`.

Both are `st.cache_resource` objects, created once per process for a given set of
settings and shared by every browser session. `Library` is thread-safe (concurrent
searches, serialised writes). The ingestor is wrapped so that one session at a time
uses it, with that session's progress callback.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import streamlit as st
from streamlit.errors import StreamlitSecretNotFoundError

from ingest.pipeline import Ingestor
from ingest.types import IngestReport, Progress, SourceFile
from searchapp.config import Settings
from searchapp.errors import ConfigError
from searchapp.library import Library
from ui import original_links

logger = logging.getLogger(__name__)

ProgressCallback = Callable[[Progress], None]


def secrets() -> Mapping[str, Any]:
    """`st.secrets` as a plain mapping; empty when there is no secrets file.

    A secrets file that exists but cannot be read is an error, never silently empty:
    it may hold the `[auth]` table, and ignoring it would open the app to everyone.
    """
    try:
        return st.secrets.to_dict()
    except StreamlitSecretNotFoundError as exc:
        if getattr(exc, "error_id", None) == "no-secrets-found":
            return {}
        raise ConfigError(f"cannot read Streamlit secrets: {exc}") from exc
    except FileNotFoundError:
        return {}


def load_settings() -> Settings:
    """The same settings as the CLI: SEARCHAPP_* variables over secrets over defaults."""
    return Settings.load(secrets=secrets())


def settings_key(settings: Settings) -> str:
    """What identifies a library: two sessions with equal settings share one.

    A digest, so that no setting (the server token, say) sits in a cache key in clear.
    """
    return hashlib.sha256(repr(settings).encode("utf-8")).hexdigest()


class SharedIngestor:
    """One `Ingestor` for the process, used by one session at a time.

    `Ingestor` keeps worker processes warm and serialises its own runs, but its progress
    callback belongs to the instance; the lock makes each run report to its own session.
    """

    def __init__(self, library: Library) -> None:
        self._ingestor = Ingestor(library)
        self._lock = threading.Lock()

    @property
    def busy(self) -> bool:
        """True while another session is ingesting (this one would wait)."""
        return self._lock.locked()

    def ingest(self, files: Iterable[SourceFile], progress: ProgressCallback | None = None) -> IngestReport:
        with self._lock:
            self._ingestor.progress = progress
            try:
                return self._ingestor.ingest(files)
            finally:
                self._ingestor.progress = None

    def reingest(self, doc_ids: Iterable[str], progress: ProgressCallback | None = None) -> IngestReport:
        with self._lock:
            self._ingestor.progress = progress
            try:
                return self._ingestor.reingest(doc_ids)
            finally:
                self._ingestor.progress = None

    def close(self) -> None:
        with self._lock:
            self._ingestor.close()


def _close_library(library: Library) -> None:
    library.close()


def _close_ingestor(shared: SharedIngestor) -> None:
    shared.close()


@st.cache_resource(show_spinner="Loading the search model (only on first start)…", on_release=_close_library)
def _library(key: str, _settings: Settings) -> Library:
    library = Library.open(_settings)
    load = getattr(library.embedder, "load", None)
    if callable(load):  # load now, under the spinner, rather than in the first search
        load()
    original_links.register(key, library.originals)  # "Open at page" links may now name it
    logger.info("opened collection %s (%s)", _settings.collection, _settings.server_url or _settings.data_dir)
    return library


@st.cache_resource(show_spinner=False, on_release=_close_ingestor)
def _ingestor(key: str, _settings: Settings) -> SharedIngestor:
    return SharedIngestor(_library(key, _settings))


def get_library(settings: Settings) -> Library:
    """The process-wide library for `settings` (opened, and its model loaded, once).

    Raises:
        SearchAppError: the store or the model cannot be opened; nothing is cached then.
    """
    return _library(settings_key(settings), settings)


def get_ingestor(settings: Settings) -> SharedIngestor:
    return _ingestor(settings_key(settings), settings)


def release_all() -> None:
    """Close every cached library and ingestor (tests; a clean shutdown)."""
    _ingestor.clear()
    _library.clear()
