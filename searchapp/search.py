"""Ranked, filtered passages for a query: the one retrieval layer behind UI, CLI and API.

Three modes, with the same filters and the same meaning of `Hit.score` in each:

- **dense**: nearest passages by cosine similarity of embeddings. Unfiltered queries
  go to Chroma's HNSW index; filtered ones (local mode) are an exact scan of just the
  rows the filter admits, in the local index: faster than Chroma's metadata filtering
  and exactly equal to brute force.
- **keyword**: BM25 over the same chunks (see `searchapp.keyword`).
- **hybrid**: reciprocal rank fusion of the two rankings.

`Hit.score` is always the cosine similarity of the query and the passage (1 - Chroma's
cosine distance), so a number means the same thing in every mode; hybrid hits also
carry their fused score and their rank in each list, and keyword hits their BM25 score.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from searchapp.embedders import Embedder, Vectors
from searchapp.errors import EmptyQueryError, QueryError
from searchapp.filters import SearchFilters
from searchapp.keyword import reciprocal_rank_fusion
from searchapp.local_index import LocalIndex
from searchapp.store import ChromaStore
from searchapp.types import Hit, SearchResponse

SEARCH_MODES = ("hybrid", "dense", "keyword")
MAX_K = 1000
MAX_QUERY_CHARS = 20_000  # cut before tokenizing, so a pasted book cannot stall a query
QUERY_CACHE_SIZE = 512
# Each list contributes this many candidates to the fusion (at least k).
FUSION_CANDIDATES = 100


@dataclass(frozen=True, slots=True)
class PreparedQuery:
    text: str
    truncated: bool
    vector: Vectors


class QueryEmbeddingCache:
    """A small thread-safe LRU of query vectors: UI reruns repeat the same query."""

    def __init__(self, size: int = QUERY_CACHE_SIZE) -> None:
        self._size = size
        self._items: OrderedDict[str, Vectors] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> Vectors | None:
        with self._lock:
            vector = self._items.get(key)
            if vector is not None:
                self._items.move_to_end(key)
            return vector

    def put(self, key: str, vector: Vectors) -> None:
        with self._lock:
            self._items[key] = vector
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)


class Searcher:
    """Dense, keyword and hybrid retrieval over one collection."""

    def __init__(self, store: ChromaStore, embedder: Embedder, local: LocalIndex) -> None:
        self.store = store
        self.embedder = embedder
        self.local = local
        self._cache = QueryEmbeddingCache()

    def prepare(self, query: str) -> PreparedQuery:
        """Validate the query, cut it to the model's window, and embed it (cached).

        Raises:
            EmptyQueryError: the query has no text.
        """
        if not isinstance(query, str):
            raise QueryError(f"the query must be text; got {type(query).__name__}")
        text = " ".join(query.split())
        if not text:
            raise EmptyQueryError("the query is empty: type a few words to search for")
        truncated = False
        if len(text) > MAX_QUERY_CHARS:
            text, truncated = text[:MAX_QUERY_CHARS], True
        tokens = self.embedder.tokens
        cut = tokens.cut_offset(text, tokens.max_tokens)
        if cut < len(text):
            text, truncated = text[:cut].rstrip(), True
        vector = self._cache.get(text)
        if vector is None:
            vector = self.embedder.embed_query(text)
            self._cache.put(text, vector)
        return PreparedQuery(text=text, truncated=truncated, vector=vector)

    def search(
        self,
        query: str,
        *,
        k: int = 10,
        filters: SearchFilters | None = None,
        min_score: float | None = None,
        mode: str = "dense",
    ) -> SearchResponse:
        """The top `k` passages, best first.

        Args:
            query: what to look for, in natural language.
            k: how many passages to return (1-1000).
            filters: what the passages must match; None matches everything.
            min_score: drop passages whose cosine similarity is below this.
            mode: "dense", "keyword" or "hybrid".

        Raises:
            EmptyQueryError, QueryError, InvalidFilterError: invalid input.
            StoreError: the store failed.
        """
        started = time.perf_counter()
        check_k(k)
        if mode not in SEARCH_MODES:
            raise QueryError(f"search mode must be one of {', '.join(SEARCH_MODES)}; got {mode!r}")
        filters = filters or SearchFilters()
        prepared = self.prepare(query)
        # min_score drops hits after ranking, so fetch more to still return k when it can.
        depth = k if min_score is None else min(MAX_K, k * 3)
        if mode == "dense":
            hits = self.dense(prepared, depth, filters)
        elif mode == "keyword":
            hits = self.keyword(prepared, depth, filters)
        else:
            hits = self.hybrid(prepared, depth, filters)
        return finish_response(query, mode, k, hits, prepared, min_score=min_score, started=started)

    # ------------------------------------------------------------------ modes

    def dense(self, prepared: PreparedQuery, k: int, filters: SearchFilters) -> list[Hit]:
        if self.local.mirror_vectors and not filters.is_empty:
            positions, scores = self.local.dense_search(prepared.vector, k, self.local.mask(filters))
            return [
                Hit(
                    rank=0,
                    score=float(score),
                    chunk_id=chunk.chunk_id,
                    text=chunk.text,
                    metadata=chunk.metadata,
                )
                for chunk, score in zip(self.local.chunks(list(positions)), scores, strict=True)
            ]
        ids, texts, metas, distances = self.store.query(
            prepared.vector, k, where=filters.to_where(), where_document=filters.to_where_document()
        )
        return [
            Hit(rank=0, score=1.0 - distance, chunk_id=chunk_id, text=text, metadata=meta)
            for chunk_id, text, meta, distance in zip(ids, texts, metas, distances, strict=True)
        ]

    def keyword(self, prepared: PreparedQuery, k: int, filters: SearchFilters) -> list[Hit]:
        mask = None if filters.is_empty else self.local.mask(filters)
        positions, bm25 = self.local.keyword_search(prepared.text, k, mask)
        chunks = self.local.chunks(list(positions))
        cosines = self._cosines([c.chunk_id for c in chunks], list(positions), prepared.vector)
        return [
            Hit(
                rank=0,
                score=cosine,
                chunk_id=chunk.chunk_id,
                text=chunk.text,
                metadata=chunk.metadata,
                keyword_rank=rank,
                keyword_score=float(score),
            )
            for rank, (chunk, score, cosine) in enumerate(zip(chunks, bm25, cosines, strict=True), start=1)
        ]

    def hybrid(self, prepared: PreparedQuery, k: int, filters: SearchFilters) -> list[Hit]:
        depth = max(k, FUSION_CANDIDATES)
        dense = self.dense(prepared, depth, filters)
        keyword = self.keyword(prepared, depth, filters)
        by_id: dict[str, Hit] = {hit.chunk_id: hit for hit in keyword}
        by_id.update({hit.chunk_id: hit for hit in dense})  # dense hits carry the exact cosine
        dense_rank = {hit.chunk_id: rank for rank, hit in enumerate(dense, start=1)}
        keyword_hits = {hit.chunk_id: hit for hit in keyword}
        order = list(by_id)
        index = {chunk_id: i for i, chunk_id in enumerate(order)}
        fused = reciprocal_rank_fusion(
            [[index[h.chunk_id] for h in dense], [index[h.chunk_id] for h in keyword]]
        )
        out: list[Hit] = []
        for item, score in fused[:k]:
            chunk_id = order[item]
            found = keyword_hits.get(chunk_id)
            out.append(
                replace(
                    by_id[chunk_id],
                    fused_score=score,
                    dense_rank=dense_rank.get(chunk_id),
                    keyword_rank=found.keyword_rank if found else None,
                    keyword_score=found.keyword_score if found else None,
                )
            )
        return out

    def _cosines(self, chunk_ids: Sequence[str], positions: Sequence[int], query: Vectors) -> list[float]:
        if not chunk_ids:
            return []
        if self.local.mirror_vectors:
            return [float(s) for s in self.local.cosine(np.asarray(positions, dtype=np.int64), query)]
        result: dict[str, Any] = self.store.get_chunks(ids=list(chunk_ids), include_embeddings=True)
        vectors = {
            cid: np.asarray(v, dtype=np.float32)
            for cid, v in zip(result["ids"], result["embeddings"], strict=True)
        }
        return [float(vectors[cid] @ query) if cid in vectors else 0.0 for cid in chunk_ids]


def check_k(k: Any) -> None:
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_K:
        raise QueryError(f"k must be an integer from 1 to {MAX_K}; got {k!r}")


def finish_response(
    query: str,
    mode: str,
    k: int,
    hits: Sequence[Hit],
    prepared: PreparedQuery,
    *,
    min_score: float | None,
    started: float,
) -> SearchResponse:
    """Apply `min_score`, number the hits 1..n, and attach what the user should know."""
    kept = [hit for hit in hits if min_score is None or hit.score >= min_score][:k]
    ranked = tuple(
        replace(hit, rank=rank, score=float(np.clip(hit.score, -1.0, 1.0)))
        for rank, hit in enumerate(kept, start=1)
    )
    notices: list[str] = []
    if prepared.truncated:
        notices.append(
            "The query was longer than the embedding model can read; only its first "
            f"{len(prepared.text)} characters were used."
        )
    return SearchResponse(
        query=query,
        mode=mode,
        k=k,
        hits=ranked,
        query_truncated=prepared.truncated,
        notices=tuple(notices),
        took_ms=(time.perf_counter() - started) * 1000,
    )
