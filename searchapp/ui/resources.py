"""Process-wide resources: settings, the open `Library` and one shared `Ingestor`.

Both are `st.cache_resource` objects, created once per process for a given set of
settings and shared by every browser session. `Library` is thread-safe (concurrent
searches, serialised writes); the `Ingestor` runs one batch at a time, each with its
own session's progress callback.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from typing import Any

import streamlit as st
from streamlit.errors import StreamlitSecretNotFoundError

from searchapp.config import Settings
from searchapp.errors import ConfigError
from searchapp.ingest.pipeline import Ingestor
from searchapp.library import Library

logger = logging.getLogger(__name__)


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


def _close_library(library: Library) -> None:
    library.close()


def _close_ingestor(ingestor: Ingestor) -> None:
    ingestor.close()


@st.cache_resource(show_spinner="Loading the search model (only on first start)…", on_release=_close_library)
def _library(key: str, _settings: Settings) -> Library:
    library = Library.open(_settings)
    load = getattr(library.embedder, "load", None)
    if callable(load):  # load now, under the spinner, rather than in the first search
        load()
    logger.info("opened collection %s (%s)", _settings.collection, _settings.server_url or _settings.data_dir)
    return library


@st.cache_resource(show_spinner=False, on_release=_close_ingestor)
def _ingestor(key: str, _settings: Settings) -> Ingestor:
    return Ingestor(_library(key, _settings))


def get_library(settings: Settings) -> Library:
    """The process-wide library for `settings` (opened, and its model loaded, once).

    Raises:
        SearchAppError: the store or the model cannot be opened; nothing is cached then.
    """
    return _library(settings_key(settings), settings)


def get_ingestor(settings: Settings) -> Ingestor:
    return _ingestor(settings_key(settings), settings)


def release_all() -> None:
    """Close every cached library and ingestor (tests; a clean shutdown)."""
    _ingestor.clear()
    _library.clear()
