"""Reading a library: its catalog of documents, their stored passages and originals, its stats.

`DocumentReads` is the reading half of `Library` (`searchapp.library.facade`), kept apart
so that each file says one thing; it reads the attributes `Library` sets.
"""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from searchapp.config import Settings
from searchapp.embedding.embedders import Embedder
from searchapp.embedding.models import ModelInfo
from searchapp.errors import DocumentNotFoundError
from searchapp.storage.chroma import ChromaStore
from searchapp.storage.originals import OriginalsStore
from searchapp.types import DocumentRecord


@dataclass(frozen=True, slots=True)
class Stats:
    documents: int
    pending: int
    chunks: int
    collection: str
    model: str
    dimension: int
    device: str
    mode: str  # "local" or "server"
    location: str  # data directory or server URL
    data_dir: str
    originals_bytes: int

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def find_document(records: list[DocumentRecord], ref: str) -> DocumentRecord:
    """The one record `ref` names among `records` (see `DocumentReads.document`)."""
    ref = ref.strip()
    exact = [r for r in records if r.doc_id == ref or r.source == ref]
    if len(exact) == 1:
        return exact[0]
    if len(ref) >= 8:
        prefixed = [r for r in records if r.doc_id.startswith(ref.lower())]
        if len(prefixed) == 1:
            return prefixed[0]
        if len(prefixed) > 1:
            raise DocumentNotFoundError(f"{ref!r} matches {len(prefixed)} documents; give more of the id")
    raise DocumentNotFoundError(f"no document named or with id {ref!r}; `searchapp docs` lists them")


def full_passage_id(ref: str, document: Callable[[str], DocumentRecord]) -> str:
    """A full chunk id from a full one or from ``<8+ characters of the doc id>:<n>``,
    resolving the short form with `document`."""
    doc, sep, index = ref.strip().rpartition(":")
    if not sep or not index.isdigit() or len(doc) == 64:
        return ref.strip()
    return f"{document(doc).doc_id}:{int(index)}"


class DocumentReads:
    """The catalog, the stored chunks and the originals of one collection, read."""

    settings: Settings
    store: ChromaStore
    embedder: Embedder
    originals: OriginalsStore
    _version: int  # moves on at every write: the cached catalog is valid for one version
    _catalog: tuple[int, list[DocumentRecord]] | None

    @property
    def model(self) -> ModelInfo:
        return self.embedder.info

    def documents(self, *, include_pending: bool = False) -> list[DocumentRecord]:
        """Every document in the collection, sorted by name."""
        records = self._all_records()
        return records if include_pending else [r for r in records if r.state == "done"]

    def _all_records(self) -> list[DocumentRecord]:
        # With a server, another client may change the catalog at any time: no cache.
        if self.settings.is_server:
            return self.store.catalog.records()
        version = self._version
        cached = self._catalog
        if cached is not None and cached[0] == version:
            return list(cached[1])
        records = self.store.catalog.records()
        self._catalog = (version, records)
        return list(records)

    def pending_documents(self) -> list[DocumentRecord]:
        """Documents whose ingestion was interrupted (see the module docstring)."""
        return self.store.catalog.records(where={"state": "pending"})

    def document(self, ref: str) -> DocumentRecord:
        """Find one document by id, by an id prefix of 8+ characters, or by source name.

        Raises:
            DocumentNotFoundError: nothing matches, or a prefix matches several documents.
        """
        return find_document(self.documents(), ref)

    def find_by_source(self, source: str) -> DocumentRecord | None:
        """The current (done or pending) record for a source name, if any."""
        records = self.store.catalog.records(where={"source": source})
        done = [r for r in records if r.state == "done"]
        candidates = done or records
        return candidates[0] if candidates else None

    def find_by_id(self, doc_id: str) -> DocumentRecord | None:
        return self.store.catalog.record(doc_id)

    def neighbours(
        self, doc_id: str, chunk: int, *, before: int = 1, after: int = 1
    ) -> list[tuple[int, str]]:
        """The text of chunks around `chunk` in the same document, in order."""
        wanted = [i for i in range(chunk - before, chunk + after + 1) if i >= 0]
        result = self.store.get_chunks(
            where={"$and": [{"doc_id": doc_id}, {"chunk": {"$in": wanted}}]},
        )
        pairs = [
            (int(meta["chunk"]), text)
            for meta, text in zip(result["metadatas"] or [], result["documents"] or [], strict=True)
        ]
        return sorted(pairs)

    def original(self, doc_id: str) -> bytes:
        """The bytes of the file as it was ingested."""
        return self.originals.get(doc_id)

    def stats(self) -> Stats:
        records = self.store.catalog.records()
        originals_bytes = sum(r.size for r in records if r.state == "done")
        return Stats(
            documents=sum(r.state == "done" for r in records),
            pending=sum(r.state == "pending" for r in records),
            chunks=self.store.count_chunks(),
            collection=self.settings.collection,
            # The collection's own model: opened with check_model=False, the settings may name another.
            model=str(self.store.collection_metadata.get("model", self.model.name)),
            dimension=self.model.dimension,
            device=self.embedder.device,
            mode="server" if self.settings.is_server else "local",
            location=self.settings.server_url or str(self.settings.chroma_dir),
            data_dir=str(self.settings.data_dir),
            originals_bytes=originals_bytes,
        )

    def free_disk_bytes(self) -> int:
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        return shutil.disk_usage(self.settings.data_dir).free
