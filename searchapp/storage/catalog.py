"""The document catalog: one record per document, in a Chroma collection of its own.

Each record (a 1-d placeholder vector and flat metadata) says which documents exist,
their state (pending/done) and their stats; `DocumentRecord` is its shape.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from searchapp.storage.chroma_client import chroma_errors
from searchapp.types import DocumentRecord

_PLACEHOLDER = [1.0]  # catalog records need a vector; they are never searched by it
_NAMES_PER_READ = 1000  # source names in one `$in` filter


class Catalog:
    """Reads and writes catalog records; `collection` gives the current Chroma collection."""

    def __init__(self, collection: Callable[[], Any], max_batch: Callable[[], int]) -> None:
        self._collection = collection
        self._max_batch = max_batch

    def put_records(self, records: Sequence[DocumentRecord]) -> None:
        """Write catalog records, each replacing any earlier one with the same doc_id.

        One `upsert`: safe because `DocumentRecord.to_metadata` always writes every key.
        """
        if not records:
            return
        with chroma_errors(f"recording {len(records)} documents in the catalog"):
            step = self._max_batch()
            for start in range(0, len(records), step):
                part = records[start : start + step]
                self._collection().upsert(
                    ids=[r.doc_id for r in part],
                    embeddings=[_PLACEHOLDER] * len(part),
                    metadatas=[r.to_metadata() for r in part],
                )

    def put_record(self, record: DocumentRecord) -> None:
        self.put_records([record])

    def delete_records(self, doc_ids: Sequence[str]) -> None:
        if not doc_ids:
            return
        with chroma_errors(f"removing {len(doc_ids)} documents from the catalog"):
            step = self._max_batch()
            for start in range(0, len(doc_ids), step):
                self._collection().delete(ids=list(doc_ids[start : start + step]))

    def delete_record(self, doc_id: str) -> None:
        self.delete_records([doc_id])

    def records(self, where: Mapping[str, Any] | None = None) -> list[DocumentRecord]:
        """Catalog records, optionally filtered, sorted by source name."""
        out: list[DocumentRecord] = []
        page = 5000
        offset = 0
        while True:
            with chroma_errors("reading the catalog"):
                result = self._collection().get(
                    where=dict(where) if where else None, include=["metadatas"], limit=page, offset=offset
                )
            metas = result["metadatas"] or []
            out.extend(DocumentRecord.from_metadata(m) for m in metas if m)
            if len(metas) < page:
                break
            offset += page
        return sorted(out, key=lambda r: (r.source.lower(), r.doc_id))

    def records_by_source(self, sources: Sequence[str]) -> dict[str, list[DocumentRecord]]:
        """The records of each of these source names, each name's in `records`' order."""
        names = list(dict.fromkeys(sources))
        out: dict[str, list[DocumentRecord]] = {}
        for start in range(0, len(names), _NAMES_PER_READ):
            part = names[start : start + _NAMES_PER_READ]
            where = {"source": part[0]} if len(part) == 1 else {"source": {"$in": part}}
            for record in self.records(where=where):
                out.setdefault(record.source, []).append(record)
        return out

    def known_records(self, doc_ids: Sequence[str]) -> set[str]:
        """Which of these documents the catalog already holds (in any state)."""
        if not doc_ids:
            return set()
        with chroma_errors("reading the catalog"):
            return set(self._collection().get(ids=list(doc_ids), include=[])["ids"])

    def record(self, doc_id: str) -> DocumentRecord | None:
        with chroma_errors("reading the catalog"):
            result = self._collection().get(ids=[doc_id], include=["metadatas"])
        metas = result["metadatas"] or []
        return DocumentRecord.from_metadata(metas[0]) if metas and metas[0] else None
