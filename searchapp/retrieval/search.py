"""Ranked, filtered passages for a query: the one retrieval layer behind UI, CLI and API.

Three modes, with the same filters and the same meaning of `Hit.score` in each:

- **dense**: nearest passages by cosine similarity of embeddings. Unfiltered queries
  go to Chroma's HNSW index; filtered ones (local mode) are an exact scan of just the
  rows the filter admits, in the local index: faster than Chroma's metadata filtering
  and exactly equal to brute force.
- **keyword**: BM25 over the same chunks (see `searchapp.storage.keyword_index`).
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

from searchapp.embedding.embedders import Embedder, Vectors
from searchapp.errors import EmptyQueryError, QueryError
from searchapp.filters import SearchFilters
from searchapp.retrieval.fusion import reciprocal_rank_fusion
from searchapp.storage.chunk_index import ChunkIndex, Scored
from searchapp.storage.terms import keyword_tokens
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
    terms: tuple[str, ...]  # what BM25 matches


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

    def __init__(self, index: ChunkIndex, embedder: Embedder) -> None:
        self.index = index
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
        return PreparedQuery(text=text, truncated=truncated, vector=vector, terms=tuple(keyword_tokens(text)))

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
    # Candidates are (chunk id, score) pairs; only the final k are read in full.

    def dense(self, prepared: PreparedQuery, k: int, filters: SearchFilters) -> list[Hit]:
        return self._hits(self.index.dense(prepared.vector, k, self.index.select(filters)))

    def keyword(self, prepared: PreparedQuery, k: int, filters: SearchFilters) -> list[Hit]:
        candidates = self.index.keyword(prepared.terms, k, self.index.select(filters))
        cosines = self.index.cosines([cid for cid, _ in candidates], prepared.vector)
        return self._hits(
            [(cid, cosine) for (cid, _), cosine in zip(candidates, cosines, strict=True)],
            keyword={cid: (rank, bm25) for rank, (cid, bm25) in enumerate(candidates, start=1)},
        )

    def hybrid(self, prepared: PreparedQuery, k: int, filters: SearchFilters) -> list[Hit]:
        depth = max(k, FUSION_CANDIDATES)
        selection = self.index.select(filters)  # resolved once, for both lists
        dense = self.index.dense(prepared.vector, depth, selection)
        keyword = self.index.keyword(prepared.terms, depth, selection)
        ids = list(dict.fromkeys([cid for cid, _ in dense] + [cid for cid, _ in keyword]))
        index = {cid: i for i, cid in enumerate(ids)}
        fused = reciprocal_rank_fusion([[index[c] for c, _ in dense], [index[c] for c, _ in keyword]])[:k]
        chosen = [ids[item] for item, _ in fused]
        cosine = dict(dense)
        missing = [cid for cid in chosen if cid not in cosine]
        cosine.update(zip(missing, self.index.cosines(missing, prepared.vector), strict=True))
        dense_rank = {cid: rank for rank, (cid, _) in enumerate(dense, start=1)}
        return self._hits(
            [(cid, cosine[cid]) for cid in chosen],
            keyword={cid: (rank, bm25) for rank, (cid, bm25) in enumerate(keyword, start=1)},
            fused={ids[item]: score for item, score in fused},
            dense_rank=dense_rank,
        )

    def _hits(
        self,
        scored: Scored,
        *,
        keyword: dict[str, tuple[int, float]] | None = None,
        fused: dict[str, float] | None = None,
        dense_rank: dict[str, int] | None = None,
    ) -> list[Hit]:
        """Read text and metadata for the chosen chunks and build the hits, in order."""
        chunks = self.index.read([cid for cid, _ in scored])
        hits: list[Hit] = []
        for cid, score in scored:
            chunk = chunks.get(cid)
            if chunk is None:  # deleted by another server client a moment ago
                continue
            text, metadata = chunk
            rank_score = (keyword or {}).get(cid)
            hits.append(
                Hit(
                    rank=0,
                    score=score,
                    chunk_id=cid,
                    text=text,
                    metadata=metadata,
                    fused_score=fused.get(cid) if fused is not None else None,
                    dense_rank=dense_rank.get(cid) if dense_rank is not None else None,
                    keyword_rank=rank_score[0] if rank_score else None,
                    keyword_score=rank_score[1] if rank_score else None,
                )
            )
        return hits


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
