"""The change log of a collection that several clients share through a Chroma server.

Every write by any client appends one entry to ``NAME.changes`` once its work is whole:
which documents it added (with their chunk counts) and which it removed or retagged.
Each reader applies the entries to its own local index in the background, re-reading
just those documents from Chroma, so a foreign write costs a reader the size of that
write, not a rebuild. Entries are ordered by the writer's clock; readers look back
`SKEW_MS` further than the newest entry they applied, and applying an entry twice is
harmless, so clocks that disagree by less than that lose nothing. Entries older than
`RETENTION_MS` are trimmed; a reader that was away longer rebuilds from Chroma.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from searchapp.storage.chroma_client import chroma_errors

CHANGES_SUFFIX = ".changes"
SKEW_MS = 120_000
RETENTION_MS = 24 * 3600 * 1000
_PLACEHOLDER = [1.0]  # entries need a vector; they are never searched by it


@dataclass(frozen=True, slots=True)
class Change:
    """One write: documents added (with their chunk counts), removed, retagged and renamed.

    `reset` says the whole collection was replaced (a reindex): readers rebuild. A renamed
    document keeps its chunks; readers take its new name and title from the catalog.
    `recalibrated` says the "no good match" thresholds were saved or reset: readers read them again.
    """

    change_id: str
    at_ms: int
    added: tuple[tuple[str, int], ...] = ()
    removed: tuple[str, ...] = ()
    retagged: tuple[str, ...] = ()
    reset: bool = False
    renamed: tuple[str, ...] = ()
    recalibrated: bool = False

    @property
    def order(self) -> tuple[int, str]:
        return (self.at_ms, self.change_id)


def now_ms() -> int:
    return int(time.time() * 1000)


class ChangeLog:
    """Appends and reads entries; `collection` gives the current Chroma collection."""

    def __init__(self, collection: Callable[[], Any], writer: str) -> None:
        self._collection = collection
        self._writer = writer

    def append(
        self,
        *,
        added: Sequence[tuple[str, int]] = (),
        removed: Sequence[str] = (),
        retagged: Sequence[str] = (),
        reset: bool = False,
        renamed: Sequence[str] = (),
        recalibrated: bool = False,
    ) -> Change:
        at = now_ms()
        change = Change(
            change_id=f"{at:015d}-{self._writer}-{secrets.token_hex(4)}",
            at_ms=at,
            added=tuple((doc_id, int(n)) for doc_id, n in added),
            removed=tuple(removed),
            retagged=tuple(retagged),
            reset=reset,
            renamed=tuple(renamed),
            recalibrated=recalibrated,
        )
        metadata = {
            "at": change.at_ms,
            "added": json.dumps([list(pair) for pair in change.added]),
            "removed": json.dumps(list(change.removed)),
            "retagged": json.dumps(list(change.retagged)),
            "reset": change.reset,
            "renamed": json.dumps(list(change.renamed)),
            "recalibrated": change.recalibrated,
        }
        with chroma_errors("recording the change in the change log"):
            self._collection().add(ids=[change.change_id], embeddings=[_PLACEHOLDER], metadatas=[metadata])
        return change

    def since(self, at_ms: int) -> list[Change]:
        """Every entry from `at_ms` on, oldest first."""
        with chroma_errors("reading the change log"):
            result = self._collection().get(where={"at": {"$gte": int(at_ms)}}, include=["metadatas"])
        changes = [
            _change(cid, meta) for cid, meta in zip(result["ids"], result["metadatas"] or [], strict=True)
        ]
        return sorted(changes, key=lambda c: c.order)

    def trim(self, before_ms: int) -> None:
        """Drop entries older than `before_ms` (any client may; readers that old rebuild)."""
        with chroma_errors("trimming the change log"):
            collection = self._collection()
            old = collection.get(where={"at": {"$lt": int(before_ms)}}, include=[])["ids"]
            if old:
                collection.delete(ids=old)


def _change(change_id: str, meta: Any) -> Change:
    meta = dict(meta or {})
    return Change(
        change_id=change_id,
        at_ms=int(meta.get("at", 0)),
        added=tuple((str(doc_id), int(n)) for doc_id, n in json.loads(meta.get("added") or "[]")),
        removed=tuple(str(d) for d in json.loads(meta.get("removed") or "[]")),
        retagged=tuple(str(d) for d in json.loads(meta.get("retagged") or "[]")),
        reset=bool(meta.get("reset", False)),
        renamed=tuple(str(d) for d in json.loads(meta.get("renamed") or "[]")),
        recalibrated=bool(meta.get("recalibrated", False)),
    )
