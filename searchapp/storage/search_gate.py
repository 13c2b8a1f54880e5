"""Searches first: while a search runs in this process, the embedded store's writes wait.

Chroma's embedded client holds Python's GIL through the whole of every write (add,
upsert, update, delete, modify) and releases it only for reads (`get`, `query`; see
chroma-core/chroma#3873, where freeing it on inserts was declined). Each such write
takes 30-200 ms here, and while it runs no other thread of the process moves: a search
that meets one stops for all of it, and a search that gives up the GIL for a moment (a
query, a numpy call) can meet several in a row. Profiled with py-spy during a sync of
1,000 changed files, that was the tail of search latency (docs/benchmarks.md,
"Searching while files sync").

So every write first waits for the searches in flight (`searchapp.priority`), and while
searches keep coming writes go in pieces of `SEARCHING_BATCH` records, so that the one
write a search can meet is short; with nobody searching a write goes whole.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from searchapp.priority import Priority

# The collection methods that hold the GIL in the embedded client.
WRITES = frozenset({"add", "upsert", "update", "delete", "modify"})
# Records per write while searches come: 16 kept the p95 of searches during a sync of
# 1,000 changed files within 2x of idle where whole batches (~30 records) did not, at
# the price of a slower sync (docs/benchmarks.md).
SEARCHING_BATCH = 16


class SearchGate(Priority):
    """Searches are the short work (`searching`); the store's writes wait for them (`before_write`)."""

    searching = Priority.urgent
    before_write = Priority.wait_turn

    def write_batch(self, most: int) -> int:
        """Records per write: `most`, or `SEARCHING_BATCH` while searches come."""
        return self.step(most, SEARCHING_BATCH)


class GatedCollection:
    """A Chroma collection whose writes first pass the gate; everything else goes straight through."""

    def __init__(self, collection: Any, gate: SearchGate) -> None:
        self._collection = collection
        self._gate = gate

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._collection, name)
        if name not in WRITES:
            return attribute
        return _gated(attribute, self._gate)


def _gated(write: Callable[..., Any], gate: SearchGate) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        gate.before_write()
        return write(*args, **kwargs)

    return call
