"""Ranked, filtered passages for a query: the one retrieval layer behind UI, CLI and API.

Scores are honest: `Hit.score` is the cosine similarity of the query and the passage
(the collection uses cosine space, and Chroma returns distance ``1 - similarity``).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from searchapp.embedders import Embedder, Vectors
from searchapp.errors import EmptyQueryError, QueryError
from searchapp.filters import SearchFilters
from searchapp.store import ChromaStore
from searchapp.types import Hit, SearchResponse

MAX_K = 1000
MAX_QUERY_CHARS = 20_000  # cut before tokenizing, so a pasted book cannot stall a query
QUERY_CACHE_SIZE = 512


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
    """Dense retrieval over one collection (keyword and hybrid modes build on it)."""

    def __init__(self, store: ChromaStore, embedder: Embedder) -> None:
        self.store = store
        self.embedder = embedder
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
    ) -> SearchResponse:
        """The top `k` passages by cosine similarity, best first.

        Args:
            query: what to look for, in natural language.
            k: how many passages to return (1-1000).
            filters: what the passages must match; None matches everything.
            min_score: drop passages whose cosine similarity is below this.

        Raises:
            EmptyQueryError, QueryError, InvalidFilterError: invalid input.
            StoreError: the store failed.
        """
        started = time.perf_counter()
        check_k(k)
        filters = filters or SearchFilters()
        prepared = self.prepare(query)
        ids, texts, metas, distances = self.store.query(
            prepared.vector, k, where=filters.to_where(), where_document=filters.to_where_document()
        )
        hits = [
            Hit(rank=0, score=1.0 - distance, chunk_id=chunk_id, text=text, metadata=meta)
            for chunk_id, text, meta, distance in zip(ids, texts, metas, distances, strict=True)
        ]
        return finish_response(query, "dense", k, hits, prepared, min_score=min_score, started=started)


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
        Hit(
            rank=rank,
            score=float(np.clip(hit.score, -1.0, 1.0)),
            chunk_id=hit.chunk_id,
            text=hit.text,
            metadata=hit.metadata,
            fused_score=hit.fused_score,
            dense_rank=hit.dense_rank,
            keyword_rank=hit.keyword_rank,
        )
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
