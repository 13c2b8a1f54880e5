"""Replacing a collection with its rebuild (`searchapp reindex`, `searchapp model use`),
crash-safe and idempotent.

A rebuild is written beside the live collection, under NAME + `REBUILD_SUFFIX`, and
flagged complete on its chunk collection when it is whole. The swap moves the catalog
first and the chunks last, and the flag goes only with the last step, so a crash at
any step is finished by `finish_interrupted_swap` at the next open.

A model version's swap also *retires* the index it replaces: the replaced collections
become NAME + `RETIRED_SUFFIX` (an older retired index is dropped) instead of being
deleted, so a rollback is a swap back (`unretire`, then `swap_in_rebuild`). The
`RETIRE` flag rides with `COMPLETE`, so a crash mid-swap is finished the same way.
"""

from __future__ import annotations

import logging
from typing import Any

from searchapp.config import REBUILD_SUFFIX, RETIRED_SUFFIX
from searchapp.storage.changes import CHANGES_SUFFIX
from searchapp.storage.chroma_client import chroma_errors

logger = logging.getLogger(__name__)

CATALOG_SUFFIX = ".catalog"
COMPLETE = "rebuild_complete"
RETIRE = "retire_live"


def collection_names(client: Any) -> set[str]:
    with chroma_errors("listing collections"):
        return {c if isinstance(c, str) else c.name for c in client.list_collections()}


def drop(client: Any, name: str) -> None:
    """Delete a collection, its catalog and its change log, where they exist."""
    existing = collection_names(client)
    for target in (name, name + CATALOG_SUFFIX, name + CHANGES_SUFFIX):
        if target in existing:
            with chroma_errors(f"deleting collection {target!r}"):
                client.delete_collection(target)


def swap_in_rebuild(client: Any, name: str, *, retire: bool = False) -> None:
    """Replace collection `name` with its complete rebuild (see the module docstring)."""
    rebuild, retired = name + REBUILD_SUFFIX, name + RETIRED_SUFFIX
    existing = collection_names(client)
    with chroma_errors("swapping in the rebuilt index"):
        if retire and rebuild in existing and name in existing:
            for old in (retired, retired + CATALOG_SUFFIX):
                if old in existing:
                    client.delete_collection(old)
        for suffix in (CATALOG_SUFFIX, ""):  # the catalog first, the chunks (and the flag) last
            if rebuild + suffix not in existing:
                continue
            if name + suffix in existing:
                if retire:
                    client.get_collection(name + suffix, embedding_function=None).modify(
                        name=retired + suffix
                    )
                else:
                    client.delete_collection(name + suffix)
            moved = client.get_collection(rebuild + suffix, embedding_function=None)
            metadata = {k: v for k, v in (moved.metadata or {}).items() if k not in (COMPLETE, RETIRE)}
            moved.modify(name=name + suffix, metadata=metadata or None)
        if rebuild + CHANGES_SUFFIX in existing:  # the rebuild's own log: nobody reads it
            client.delete_collection(rebuild + CHANGES_SUFFIX)


def retired_metadata(client: Any, name: str) -> dict[str, Any] | None:
    """The metadata of NAME-retired when both its collections exist, else None."""
    retired = name + RETIRED_SUFFIX
    existing = collection_names(client)
    if retired not in existing or retired + CATALOG_SUFFIX not in existing:
        return None
    return live_metadata(client, retired)


def unretire(client: Any, name: str) -> None:
    """Make NAME-retired the complete rebuild of NAME, so `swap_in_rebuild` brings it back."""
    retired, rebuild = name + RETIRED_SUFFIX, name + REBUILD_SUFFIX
    drop(client, rebuild)
    with chroma_errors("restoring the retired index"):
        client.get_collection(retired + CATALOG_SUFFIX, embedding_function=None).modify(
            name=rebuild + CATALOG_SUFFIX
        )
        chunks = client.get_collection(retired, embedding_function=None)
        chunks.modify(name=rebuild, metadata={**(chunks.metadata or {}), COMPLETE: True, RETIRE: True})


def live(client: Any, name: str) -> Any:
    """The collection under `name` now (another client's swap may have replaced it)."""
    with chroma_errors("reading the collection"):
        return client.get_collection(name, embedding_function=None)


def live_metadata(client: Any, name: str) -> dict[str, Any]:
    return dict(live(client, name).metadata or {})


def finish_interrupted_swap(client: Any, name: str) -> bool:
    """Finish a swap a crash interrupted; True if there was one."""
    rebuild = name + REBUILD_SUFFIX
    if rebuild not in collection_names(client):
        return False
    with chroma_errors("checking for an interrupted rebuild"):
        metadata = client.get_collection(rebuild, embedding_function=None).metadata or {}
    if not metadata.get(COMPLETE):
        return False
    logger.warning("finishing the swap of a rebuilt index that a crash interrupted")
    swap_in_rebuild(client, name, retire=bool(metadata.get(RETIRE)))
    return True
