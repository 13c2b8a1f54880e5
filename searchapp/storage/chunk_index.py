"""The chunks of one collection as the search layer sees them: candidates for a request, then passages.

A query asks two things of storage: `candidates` (both ranked lists a request's mode
needs, with their cosines and BM25 scores and the query's BM25 ceiling, among the rows
its filters, phrases and exclusions admit) and, once ranked, `read` (the text, metadata
and cosine of the few passages shown).

Behind this interface are two stores. Chroma is the system of record (every chunk, its
vector, text and metadata; its HNSW index answers unfiltered vector queries). The local
index is derived from it: filters as arrays, BM25, and in local mode a copy of the
vectors for an exact scan of the rows a filter admits (faster than Chroma's metadata
filter, and equal to brute force). Filters, phrases and exclusions become one row mask,
so every list holds only admitted rows and still holds as many as asked for. Callers
see chunk ids and scores only, never row positions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from searchapp.request import PreparedQuery, SearchRequest
from searchapp.storage.chroma import ChromaStore
from searchapp.storage.local_index import LocalIndex

Scored = list[tuple[str, float]]  # (chunk id, score), best first
BoolArray = npt.NDArray[np.bool_]
# The lists each mode ranks by: (dense, keyword); a mode not named here fuses both.
_LISTS = {"dense": (True, False), "keyword": (False, True)}


@dataclass(frozen=True, slots=True)
class Candidates:
    """What storage holds for one request, before ranking.

    `dense` is (chunk id, cosine) and `keyword` (chunk id, BM25), each best first and at
    most the depth asked for (empty where the mode does not use the list); `ceiling` is
    the most any passage could score in BM25 for the query's terms; `documents` is how
    many documents the filters admit (counted for grouped requests only, else 0).
    """

    dense: Scored
    keyword: Scored
    ceiling: float
    documents: int


@dataclass(frozen=True, slots=True)
class Passage:
    """A stored chunk as a hit shows it: its text, metadata and cosine similarity to the query."""

    text: str
    metadata: dict[str, Any]
    cosine: float


class ChunkIndex:
    """Candidates and passages by chunk id, for the search layer."""

    def __init__(self, store: ChromaStore, local: LocalIndex) -> None:
        self._store = store
        self._local = local

    def candidates(self, request: SearchRequest, query: PreparedQuery, depth: int) -> Candidates:
        """The lists `request.mode` ranks by, `depth` candidates each, among the admitted rows."""
        use_dense, use_keyword = _LISTS.get(request.mode or "", (True, True))
        parsed = request.parsed
        narrowed = not request.scope.is_empty or bool(
            parsed.phrases or parsed.exclude_phrases or query.exclude_terms
        )
        base = self._local.mask(request.scope, contains=parsed.phrases) if narrowed else None
        mask = base
        if base is not None and (query.exclude_terms or parsed.exclude_phrases):
            mask = self._local.without(base, terms=query.exclude_terms, texts=parsed.exclude_phrases)
        dense = self._dense(request, query.vector, depth, base, mask) if use_dense else []
        keyword: Scored = []
        ceiling = 0.0
        if use_keyword:
            positions, scores = self._local.keyword_search(query.terms, depth, mask)
            keyword = self._at(positions, scores)
            ceiling = self._local.keyword_ceiling(query.terms) if query.terms else 0.0
        documents = self._local.documents_in(mask) if request.group else 0
        return Candidates(dense, keyword, ceiling, documents)

    def _dense(
        self,
        request: SearchRequest,
        vector: npt.NDArray[np.float32],
        depth: int,
        base: BoolArray | None,
        mask: BoolArray | None,
    ) -> Scored:
        """The `depth` admitted chunks nearest to `vector` by cosine similarity."""
        if mask is not None and self._local.mirror_vectors:
            return self._at(*self._local.dense_search(vector, depth, mask))
        # Chroma's own filter takes the metadata filters, "text contains" and the phrases;
        # exclusions it cannot express are dropped after asking for as many more as they remove.
        dropped = int(base.sum() - mask.sum()) if base is not None and mask is not None else 0
        ids, distances = self._store.query_ids(
            vector,
            depth + dropped,
            where=request.scope.to_where(),
            where_document=request.scope.to_where_document(contains=request.parsed.phrases),
        )
        found = [(cid, 1.0 - distance) for cid, distance in zip(ids, distances, strict=True)]
        if dropped and mask is not None:
            positions = self._local.positions_of([cid for cid, _ in found])
            # A row this process has not loaded yet (another client's write) cannot be checked.
            found = [
                pair
                for pair, p in zip(found, positions, strict=True)
                if p is None or p >= len(mask) or mask[p]
            ]
        return found[:depth]

    def _at(self, positions: npt.NDArray[np.int64], scores: npt.NDArray[np.float32]) -> Scored:
        pairs = zip(self._local.ids_at(list(positions)), (float(s) for s in scores), strict=True)
        return [(cid, score) for cid, score in pairs if cid]  # "": renumbered by a rebuild

    def passage(self, chunk_id: str) -> tuple[str, npt.NDArray[np.float32]] | None:
        """A stored chunk's text and its own stored vector (None: no such chunk)."""
        result = self._store.get_chunks(ids=[chunk_id], include_embeddings=True)
        if not result["ids"]:
            return None
        text = str((result["documents"] or [""])[0])
        return text, np.asarray(result["embeddings"][0], dtype=np.float32)

    def read(
        self, chunk_ids: Sequence[str], vector: npt.NDArray[np.float32], cosines: Mapping[str, float]
    ) -> dict[str, Passage]:
        """The passages by chunk id, each with its cosine to `vector` (from `cosines` where known).

        Text and metadata come from the local index, else (server mode) from Chroma, as do
        the vectors of cosines not known. A chunk deleted a moment ago (by another client
        of a server) is simply absent.
        """
        positions = self._local.positions_of(chunk_ids)
        local = [(cid, p) for cid, p in zip(chunk_ids, positions, strict=True) if p is not None]
        found = {c.chunk_id: (c.text, dict(c.metadata)) for c in self._local.chunks([p for _, p in local])}
        known = dict(cosines)
        if self._local.mirror_vectors:
            todo = [(cid, p) for cid, p in local if cid not in known and cid in found]
            scores = self._local.cosine(np.asarray([p for _, p in todo], dtype=np.int64), vector)
            known.update(zip([cid for cid, _ in todo], (float(s) for s in scores), strict=True))
        missing = [cid for cid in chunk_ids if cid not in found or cid not in known]
        if missing:
            result = self._store.get_chunks(ids=missing, include_embeddings=True)
            for cid, text, meta, stored in zip(
                result["ids"],
                result["documents"] or [],
                result["metadatas"] or [],
                result["embeddings"],
                strict=True,
            ):
                found.setdefault(cid, (text, dict(meta or {})))
                known.setdefault(cid, float(np.asarray(stored, dtype=np.float32) @ vector))
        passages: dict[str, Passage] = {}
        for cid in chunk_ids:
            if cid in found:
                text, metadata = found[cid]
                passages[cid] = Passage(text, metadata, known.get(cid, 0.0))
        return passages
