"""Reading a library: searching it, its catalog of documents, their passages and originals, its stats.

`DocumentReads` is the reading half of `Library` (`searchapp.library.facade`), kept apart
so that each file says one thing. It owns what reading needs: the store, the embedder,
the originals, the searcher, and the catalog cached between writes (`catalog_changed`
marks it stale; the writing half calls it around every write).
"""

from __future__ import annotations

import dataclasses
import shutil
from dataclasses import dataclass
from typing import Any

from searchapp.access.visibility import can_see
from searchapp.config import Settings
from searchapp.embedding.embedders import Embedder
from searchapp.embedding.models import ModelInfo
from searchapp.filters import SearchFilters
from searchapp.library.finding import Finder, find_document, full_passage_id, resolved
from searchapp.request import SEARCH_MODES, SearchRequest
from searchapp.retrieval.scoring import load_no_match
from searchapp.retrieval.search import Searcher
from searchapp.storage.chroma import ChromaStore
from searchapp.storage.chunk_index import ChunkIndex
from searchapp.storage.local_index import LocalIndex
from searchapp.storage.originals import OriginalsStore, originals_for
from searchapp.types import DocumentRecord, SearchResponse
from searchapp.unpaged_notice import unpaged_notice


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


class DocumentReads(Finder):
    """Searches, the catalog, the stored chunks and the originals of one collection, read."""

    def __init__(self, settings: Settings, store: ChromaStore, embedder: Embedder, local: LocalIndex) -> None:
        self.settings = settings
        self.store = store
        self.embedder = embedder
        self.local = local
        self.originals: OriginalsStore = originals_for(settings)
        self.searcher = self._new_searcher(embedder)
        # The catalog, cached between writes (every UI rerun lists the documents); the
        # version moves on at every write, and a cached catalog is valid for one version.
        self._version = 0
        self._catalog: tuple[int, list[DocumentRecord]] | None = None

    def without_hidden(self, filters: SearchFilters) -> SearchFilters:
        """`filters` that also leave out hidden versions; none here (`Library` mixes in
        `searchapp.library.curation`, which keeps them)."""
        return filters

    def _new_searcher(self, embedder: Embedder) -> Searcher:
        """A searcher over the current store and index, with the library's notice thresholds."""
        no_match = load_no_match(self.store, embedder.info.name)
        return Searcher(ChunkIndex(self.store, self.local), embedder, no_match)

    def refresh_no_match(self) -> None:
        """Read the "no good match" thresholds again (after a calibration was saved)."""
        self.searcher.no_match = load_no_match(self.store, self.embedder.info.name)

    def catalog_changed(self) -> None:
        """The cached catalog is stale (a write starts or ended)."""
        self._version += 1

    # ------------------------------------------------------------------ searching

    @property
    def search_modes(self) -> tuple[str, ...]:
        """The retrieval modes this library offers."""
        return SEARCH_MODES

    def find(self, request: SearchRequest) -> SearchResponse:
        """The answer to one search request (`searchapp.request`): ranked passages, or documents.

        The request's mode defaults to the settings' `search_mode`; ``doc:`` names in its
        query and a short `like` id are resolved here (`searchapp.library.finding`).

        Raises:
            EmptyQueryError, QueryError, InvalidFilterError: invalid input.
            DocumentNotFoundError: a ``doc:`` name or a `like` id matches nothing.
            StoreError: the store failed.
        """
        return self.answer(resolved(request, self, default_mode=self.settings.search_mode))

    def answer(self, request: SearchRequest) -> SearchResponse:
        """The searcher's answer to a request `resolved` already (its names read, its mode set),
        without hidden versions unless it names them, with a notice where a page filter
        leaves out documents that have no pages, and `library_empty` set where there was
        nothing to search (no document the request's `visible_to` admits)."""
        filters = self.without_hidden(request.filters)  # a search naming a hidden document still finds it
        if filters != request.filters:
            request = dataclasses.replace(request, filters=filters)
        with self.store.search_gate.searching():  # the store's writes wait for it
            response = self.searcher.search(request)
        # The catalog is read only for an empty answer: one flag here, read by every front end.
        if not response.hits and not self._any_document(request.filters.visible_to):
            return dataclasses.replace(response, library_empty=True)
        paged = request.scope.page_min is not None or request.scope.page_max is not None
        # The catalog is read only then; `unpaged_notice` counts only documents the scope admits.
        notice = unpaged_notice(request.scope, self.documents()) if paged else None
        if notice is None:
            return response
        return dataclasses.replace(response, notices=(*response.notices, notice))

    def _any_document(self, visible_to: tuple[str, ...] | None) -> bool:
        """True when the library holds a document that a caller in `visible_to` may see."""
        visibility = None if visible_to is None else frozenset(visible_to)
        return any(can_see(record.groups, visibility) for record in self.documents())

    # ---- the similarity of two texts (issue 15) ------------------------------------------

    def compare(self, text_a: str, text_b: str) -> float:
        """The cosine similarity (-1 to 1) of the embeddings of two texts.

        `searchapp.retrieval.scoring.dense_score` turns it into the 0-1 scale search scores use.

        Raises:
            EmptyQueryError: a text is empty.
        """
        return self.searcher.compare(text_a, text_b)

    def passage_id(self, ref: str) -> str:
        """A full chunk id from a full one or from ``<8+ characters of the doc id>:<n>``."""
        return full_passage_id(ref, self.document)

    # ------------------------------------------------------------------ the catalog

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
