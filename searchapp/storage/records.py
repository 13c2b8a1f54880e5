"""Small JSON records kept with a library: sources, feedback, API tokens, model versions.

A `RecordTable` is a Chroma collection of its own (``<collection>.<table>`` beside the
chunks, or ``searchapp.global.<table>`` for what belongs to the whole deployment), so its
records live where the library lives: under the local data directory, or on the shared
server where every client sees them. Each record is a JSON object under a key, plus a few
flat fields that `find` can filter on (Chroma's `where`). Tables are for state measured in
thousands of records, not for bulk data.

`put` replaces a record whole. `insert` writes only where no record exists: Chroma's
`add` ignores an id it already holds, in local and server mode alike, so of two racing
inserts the first in the store's log wins, and both writers read back which one that was.
Leases (`claim`) are built on it: each holder of a named lease writes the next numbered
term, so two clients taking over an expired lease cannot both win.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from searchapp.errors import StoreError
from searchapp.storage.chroma_client import chroma_errors

Field = str | int | float | bool
_PLACEHOLDER = [1.0]  # Chroma records need a vector; these are never searched by it
_PAGE = 5000
UPDATED = "updated_ms"  # every record's flat fields carry the time it was written


@dataclass(frozen=True, slots=True)
class Lease:
    """Who holds a named lease, and until when (epoch seconds); `term` counts its holders."""

    name: str
    owner: str
    until: float
    term: int

    def live(self, now: float) -> bool:
        return self.until > now


class RecordTable:
    """JSON records by key in one Chroma collection; `collection` gives it, opened lazily."""

    def __init__(self, name: str, collection: Callable[[], Any], max_batch: Callable[[], int]) -> None:
        self.name = name
        self._collection = collection
        self._max_batch = max_batch

    # ------------------------------------------------------------------ writing

    def put(self, key: str, value: Mapping[str, Any], **fields: Field) -> None:
        """Write one record, replacing any earlier one under `key` completely."""
        self.put_many([(key, value, fields)])

    def put_many(self, items: Sequence[tuple[str, Mapping[str, Any], Mapping[str, Field]]]) -> None:
        """Write records (key, JSON-ready value, flat filter fields), in batches."""
        if not items:
            return
        now = int(time.time() * 1000)
        with chroma_errors(f"writing {len(items)} records to {self.name}"):
            step = max(1, self._max_batch())
            for start in range(0, len(items), step):
                part = items[start : start + step]
                self._collection().upsert(
                    ids=[_key(key) for key, _, _ in part],
                    embeddings=[_PLACEHOLDER] * len(part),
                    documents=[
                        json.dumps(dict(value), ensure_ascii=False, sort_keys=True) for _, value, _ in part
                    ],
                    metadatas=[{UPDATED: now, **_fields(fields)} for _, _, fields in part],
                )

    def insert(self, key: str, value: Mapping[str, Any], **fields: Field) -> bool:
        """Write a record only if none exists under `key`; True if this call's record is the one kept."""
        mark = secrets.token_hex(8)
        body = {**value, "_insert": mark}
        with chroma_errors(f"writing a record to {self.name}"):
            self._collection().add(
                ids=[_key(key)],
                embeddings=[_PLACEHOLDER],
                documents=[_json(body)],
                metadatas=[{UPDATED: int(time.time() * 1000), **_fields(fields)}],
            )
        kept = self._read([key], strip=False).get(key)
        return kept is not None and kept.get("_insert") == mark

    def delete(self, keys: Sequence[str]) -> None:
        if not keys:
            return
        with chroma_errors(f"removing {len(keys)} records from {self.name}"):
            self._collection().delete(ids=[_key(key) for key in keys])

    # ------------------------------------------------------------------ reading

    def get(self, key: str) -> dict[str, Any] | None:
        return self.get_many([key]).get(key)

    def get_many(self, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The records under these keys that exist, by key."""
        return self._read(keys, strip=True)

    def _read(self, keys: Sequence[str], *, strip: bool) -> dict[str, dict[str, Any]]:
        if not keys:
            return {}
        with chroma_errors(f"reading {self.name}"):
            result = self._collection().get(ids=[_key(key) for key in keys], include=["documents"])
        return {
            rid: _value(doc, self.name, rid, strip=strip)
            for rid, doc in zip(result["ids"], result["documents"] or [], strict=True)
        }

    def find(self, where: Mapping[str, Any] | None = None) -> dict[str, dict[str, Any]]:
        """Every record (or those whose flat fields match `where`, Chroma's syntax), by key."""
        out: dict[str, dict[str, Any]] = {}
        offset = 0
        while True:
            with chroma_errors(f"reading {self.name}"):
                result = self._collection().get(
                    where=dict(where) if where else None, include=["documents"], limit=_PAGE, offset=offset
                )
            ids = result["ids"]
            out.update(
                (rid, _value(doc, self.name, rid))
                for rid, doc in zip(ids, result["documents"] or [], strict=True)
            )
            if len(ids) < _PAGE:
                return out
            offset += _PAGE

    def count(self) -> int:
        with chroma_errors(f"counting {self.name}"):
            return int(self._collection().count())

    # ------------------------------------------------------------------ leases
    # Lease terms are records too: keep leases in a table of their own (`ChromaStore.leases`).

    def lease(self, name: str) -> Lease | None:
        """The latest term of the lease `name` (live or not), or None if it was never taken."""
        terms = self.find({"lease": name})
        if not terms:
            return None
        record = max(terms.values(), key=lambda r: int(r.get("term", 0)))
        return Lease(name, str(record.get("owner", "")), float(record.get("until", 0.0)), int(record["term"]))

    def claim(
        self, name: str, owner: str, seconds: float, *, ended: Callable[[str], bool] | None = None
    ) -> bool:
        """Take (or renew) the lease `name` for `owner` for `seconds`; False if another holds it
        live. `ended`: whether a holder is known to be gone (its live lease is then taken)."""
        now = time.time()
        held = self.lease(name)
        if held is not None and held.owner == owner and held.live(now):
            self._write_term(name, owner, held.term, now + seconds)
            latest = self.lease(name)  # a taker may have started a new term as ours ran out
            return latest is not None and latest.term == held.term
        if held is not None and held.live(now) and not (ended is not None and ended(held.owner)):
            return False
        term = held.term + 1 if held is not None else 1
        won = self.insert(
            _lease_key(name, term),
            {"owner": owner, "until": now + seconds, "term": term},
            lease=name,
        )
        if won and term > 2:
            self.delete([_lease_key(name, old) for old in range(max(1, term - 10), term - 1)])
        return won

    def release(self, name: str, owner: str) -> None:
        """Give the lease back, if `owner` still holds it (its term stays, expired)."""
        held = self.lease(name)
        if held is not None and held.owner == owner and held.live(time.time()):
            self._write_term(name, owner, held.term, 0.0)

    def _write_term(self, name: str, owner: str, term: int, until: float) -> None:
        self.put(_lease_key(name, term), {"owner": owner, "until": until, "term": term}, lease=name)


def _key(key: str) -> str:
    if not isinstance(key, str) or not key:
        raise StoreError(f"a record key is non-empty text; got {key!r}")
    return key


def _lease_key(name: str, term: int) -> str:
    return f"lease:{name}:{term}"


def _fields(fields: Mapping[str, Field]) -> dict[str, Field]:
    for name, value in fields.items():
        if not isinstance(value, str | int | float | bool):
            raise StoreError(f"record field {name!r} must be a string, number or boolean; got {value!r}")
    return dict(fields)


def _json(value: Mapping[str, Any]) -> str:
    return json.dumps(dict(value), ensure_ascii=False, sort_keys=True)


def _value(document: str | None, table: str, key: str, *, strip: bool = True) -> dict[str, Any]:
    try:
        value = json.loads(document or "{}")
    except ValueError as exc:
        raise StoreError(f"record {key!r} in {table} is not valid JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise StoreError(f"record {key!r} in {table} should be a JSON object; got {type(value).__name__}")
    if strip:
        value.pop("_insert", None)
    return value
