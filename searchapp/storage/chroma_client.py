"""Opening a Chroma client (embedded or a server) and turning its errors into ours."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

from searchapp.config import Settings
from searchapp.errors import SearchAppError, StorageFullError, StoreError, StoreUnavailableError
from searchapp.types import MetaValue

logger = logging.getLogger(__name__)

_COSINE = {"hnsw": {"space": "cosine"}}


@contextmanager
def chroma_errors(action: str) -> Iterator[None]:
    """Turn whatever Chroma raises into a `StoreError` that says what failed."""
    try:
        yield
    except SearchAppError:
        raise
    except Exception as exc:
        message = str(exc)
        lowered = message.lower()
        if "disk is full" in lowered or "no space left" in lowered or "(code 13)" in lowered:
            raise StorageFullError(
                f"{action} failed: the disk holding the data directory is full. Free some space; "
                "nothing partial was recorded as done."
            ) from exc
        if "could not connect" in lowered or "connection refused" in lowered or "timed out" in lowered:
            raise StoreUnavailableError(
                f"{action} failed: the Chroma server stopped answering ({message})"
            ) from exc
        raise StoreError(f"{action} failed: {type(exc).__name__}: {message}") from exc


# What Chroma's server answers when ids asked for by a `get` are deleted by another client
# while it runs (its metadata and vector segments disagree for a moment), instead of
# returning fewer rows.
_VANISHED = ("error finding id", "error getting embedding")


def get_present(collection: Any, ids: Sequence[str], include: list[str]) -> dict[str, Any]:
    """`collection.get(ids=...)`, leaving out ids another client deleted during the read.

    Raises:
        StoreError: anything else Chroma raises (an unreachable server stays an error).
    """
    try:
        with chroma_errors("reading chunks"):
            result: dict[str, Any] = collection.get(ids=list(ids), include=include)
            return result
    except StoreError as exc:
        if not _vanished(exc):
            raise
    present: dict[str, Any] = {"ids": [], **{field: [] for field in include}}
    gone = 0
    for chunk_id in ids:  # one at a time: those gone are left out, the rest are read
        try:
            with chroma_errors("reading chunks"):
                one = collection.get(ids=[chunk_id], include=include)
        except StoreError as exc:
            if not _vanished(exc):
                raise
            gone += 1
            continue
        present["ids"].extend(one["ids"])
        for field in include:
            present[field].extend(list(one[field]))
    if gone:
        logger.warning("%d of %d chunks read were deleted during the read; left out", gone, len(ids))
    return present


def _vanished(exc: StoreError) -> bool:
    return any(marker in str(exc).lower() for marker in _VANISHED)


def _client_settings() -> Any:
    from chromadb.config import Settings as ChromaSettings

    return ChromaSettings(anonymized_telemetry=False, allow_reset=False)


def open_client(settings: Settings) -> Any:
    """A Chroma client: `HttpClient` for a server (checked with a heartbeat), else embedded.

    Raises:
        StoreUnavailableError: the server does not answer.
    """
    import chromadb

    if settings.is_server:
        parts = urlsplit(settings.server_url)
        headers = {"Authorization": f"Bearer {settings.server_token}"} if settings.server_token else None
        port = parts.port or (443 if parts.scheme == "https" else 8000)
        try:
            client = chromadb.HttpClient(
                host=parts.hostname or "localhost",
                port=port,
                ssl=parts.scheme == "https",
                headers=headers,
                settings=_client_settings(),
            )
            client.heartbeat()
        except Exception as exc:
            raise StoreUnavailableError(
                f"cannot reach the Chroma server at {settings.server_url}: {exc}. Start one with "
                "`chroma run --path DIR --host 127.0.0.1 --port 8000`, or unset SEARCHAPP_SERVER_URL "
                "to use the embedded store."
            ) from exc
        return client
    settings.chroma_dir.mkdir(parents=True, exist_ok=True)
    with chroma_errors(f"opening the Chroma directory {settings.chroma_dir}"):
        return chromadb.PersistentClient(path=str(settings.chroma_dir), settings=_client_settings())


def get_or_create(client: Any, name: str, metadata: Mapping[str, MetaValue]) -> Any:
    """The collection `name`, created (cosine space, with `metadata`) if it does not exist."""
    with chroma_errors(f"opening collection {name!r}"):
        try:
            return client.get_collection(name, embedding_function=None)
        except Exception as exc:
            if "does not exist" not in str(exc).lower() and "not found" not in str(exc).lower():
                raise
        try:
            return client.create_collection(
                name, embedding_function=None, configuration=_COSINE, metadata=dict(metadata)
            )
        except Exception as exc:  # another client created it meanwhile (server mode)
            if "already exists" not in str(exc).lower():
                raise
            return client.get_collection(name, embedding_function=None)
