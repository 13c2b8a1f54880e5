"""Where a store's record tables live: one Chroma collection each, opened on first use.

``<collection>.<name>`` beside the chunks for what belongs to one library (sources,
feedback, jobs, leases), ``searchapp.global.<name>`` for what belongs to the whole
deployment (API tokens, sign-in sessions). The tables themselves: `searchapp.storage.records`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from searchapp.errors import StoreError
from searchapp.storage import chroma_swap
from searchapp.storage.chroma_client import get_or_create
from searchapp.storage.records import RecordTable

GLOBAL_PREFIX = "searchapp.global."
_RESERVED = ("catalog", "changes", "rebuild")  # suffixes of the collection's own companions


class RecordTables:
    """The record tables of one collection (and the deployment's), by name."""

    def __init__(
        self,
        client: Callable[[], Any],
        collection: str,
        *,
        schema: int,
        wrap: Callable[[Any], Any],
        max_batch: Callable[[], int],
    ) -> None:
        self._client = client
        self._collection = collection
        self._schema = schema
        self._wrap = wrap  # the store's write gate around each table's collection
        self._max_batch = max_batch
        self._open: dict[str, Any] = {}

    def table(self, name: str) -> RecordTable:
        """The table `name` kept with this collection (`<collection>.<name>`)."""
        return self._table(f"{self._collection}.{table_name(name)}")

    def global_table(self, name: str) -> RecordTable:
        """The table `name` shared by every collection of this store."""
        return self._table(GLOBAL_PREFIX + table_name(name))

    def exists(self, name: str) -> bool:
        """Whether this collection's table `name` exists yet (reading a table creates it)."""
        full = f"{self._collection}.{table_name(name)}"
        return full in self._open or full in chroma_swap.collection_names(self._client())

    def forget(self) -> None:
        """Drop the opened collections (the client changed, or the collection was swapped)."""
        self._open.clear()

    def _table(self, full_name: str) -> RecordTable:
        def collection() -> Any:
            found = self._open.get(full_name)
            if found is None:
                found = self._wrap(
                    get_or_create(self._client(), full_name, {"schema": self._schema, "records": True})
                )
                self._open[full_name] = found
            return found

        return RecordTable(full_name, collection, self._max_batch)


def table_name(name: str) -> str:
    """`name`, checked: 2-31 of [a-z0-9-], starting with a letter, not a reserved suffix."""
    if not re.fullmatch(r"[a-z][a-z0-9-]{1,30}", name) or name in _RESERVED:
        raise StoreError(f"a record table name is 2-31 of [a-z0-9-], not a reserved suffix; got {name!r}")
    return name
