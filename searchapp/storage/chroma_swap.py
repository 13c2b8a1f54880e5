"""Replacing a collection with its rebuild (`searchapp reindex`), crash-safe and idempotent.

A rebuild is written beside the live collection, under NAME + `REBUILD_SUFFIX`, and
flagged complete on its chunk collection when it is whole. The swap moves the catalog
first and the chunks last, and the flag goes only with the last step, so a crash at
any step is finished by `finish_interrupted_swap` at the next open.
"""

from __future__ import annotations

import logging
from typing import Any

from searchapp.config import REBUILD_SUFFIX
from searchapp.storage.changes import CHANGES_SUFFIX
from searchapp.storage.chroma_client import chroma_errors

logger = logging.getLogger(__name__)

CATALOG_SUFFIX = ".catalog"
COMPLETE = "rebuild_complete"


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


def swap_in_rebuild(client: Any, name: str) -> None:
    """Replace collection `name` with its complete rebuild (see the module docstring)."""
    rebuild = name + REBUILD_SUFFIX
    existing = collection_names(client)
    with chroma_errors("swapping in the rebuilt index"):
        if rebuild + CATALOG_SUFFIX in existing:
            if name + CATALOG_SUFFIX in existing:
                client.delete_collection(name + CATALOG_SUFFIX)
            client.get_collection(rebuild + CATALOG_SUFFIX, embedding_function=None).modify(
                name=name + CATALOG_SUFFIX
            )
        if rebuild in existing:
            if name in existing:
                client.delete_collection(name)
            chunks = client.get_collection(rebuild, embedding_function=None)
            metadata = {k: v for k, v in (chunks.metadata or {}).items() if k != COMPLETE}
            chunks.modify(name=name, metadata=metadata)
        if rebuild + CHANGES_SUFFIX in existing:  # the rebuild's own log: nobody reads it
            client.delete_collection(rebuild + CHANGES_SUFFIX)


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
    swap_in_rebuild(client, name)
    return True
