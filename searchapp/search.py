"""Ranked, filtered passages for a query: the one retrieval layer behind UI, CLI and API.

Three modes, with the same filters and the same meaning of `Hit.score` in each:

- **dense**: nearest passages by cosine similarity of embeddings. Unfiltered queries
  go to Chroma's HNSW index; filtered ones (local mode) are an exact scan of just the
  rows the filter admits, in the local index: faster than Chroma's metadata filtering
  and exactly equal to brute force.
- **keyword**: BM25 over the same chunks (see `searchapp.keyword`).
- **hybrid**: reciprocal rank fusion of the two rankings.

`Hit.score` is the score the ranking used, on 0-1, in every mode (`searchapp.scoring`);
every hit also carries its cosine similarity to the query, and its rank in each list and
its BM25 score where it has them. `similar` ranks by a stored passage's own vector
(no re-embedding), and `compare` gives the cosine similarity of two texts.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from searchapp.embedders import Embedder, Vectors
from searchapp.errors import DocumentNotFoundError, EmptyQueryError, QueryError
from searchapp.filters import SearchFilters
from searchapp.grouping import group_by_document, passages_for
from searchapp.keyword import RRF_K, reciprocal_rank_fusion
from searchapp.local_index import LocalIndex
from searchapp.scoring import dense_score, fused_score, is_weak, keyword_score
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
        group: bool = False,
    ) -> SearchResponse:
        """The top `k` passages, best first (with `group`, the top `k` documents).

        Args:
            query: what to look for, in natural language.
            k: how many passages (or documents) to return (1-1000).
            filters: what the passages must match; None matches everything.
            min_score: drop passages whose score (0-1) is below this.
            mode: "dense", "keyword" or "hybrid".
            group: one group per document, its best passage first (`SearchResponse.groups`).

        Raises:
            EmptyQueryError, QueryError, InvalidFilterError: invalid input.
            StoreError: the store failed.
        """
        started = time.perf_counter()
        check_k(k)
        check_mode(mode)
        prepared = self.prepare(query)
        hits = self.ranked(prepared, mode, _depth(k, min_score, group), filters or SearchFilters())
        return finish_response(
            query, mode, k, hits, prepared, min_score=min_score, started=started, group=group
        )

    def similar(
        self,
        chunk_id: str,
        *,
        k: int = 10,
        filters: SearchFilters | None = None,
        min_score: float | None = None,
        mode: str = "dense",
        group: bool = False,
    ) -> SearchResponse:
        """Passages like a stored one: its own vector (and text, for keywords) as the query.

        The passage itself is left out; everything else is as in `search`.

        Raises:
            DocumentNotFoundError: no stored passage has this id.
        """
        started = time.perf_counter()
        check_k(k)
        check_mode(mode)
        prepared = self.stored_passage(chunk_id)
        depth = min(MAX_K, _depth(k, min_score, group) + 1)
        ranked = self.ranked(prepared, mode, depth, filters or SearchFilters())
        hits = [hit for hit in ranked if hit.chunk_id != chunk_id]
        return finish_response(
            prepared.text, mode, k, hits, prepared, min_score=min_score, started=started, group=group
        )

    def compare(self, text_a: str, text_b: str) -> float:
        """The cosine similarity of two texts' embeddings (each cut to the model's window)."""
        a, b = self.prepare(text_a), self.prepare(text_b)
        return float(np.clip(np.dot(a.vector, b.vector), -1.0, 1.0))

    def stored_passage(self, chunk_id: str) -> PreparedQuery:
        """A stored passage as a prepared query: its text and its stored vector."""
        if not isinstance(chunk_id, str) or not chunk_id.strip():
            raise QueryError(f"a passage id is text like '<document id>:<n>'; got {chunk_id!r}")
        result = self.store.get_chunks(ids=[chunk_id.strip()], include_embeddings=True)
        if not result["ids"]:
            raise DocumentNotFoundError(
                f"no stored passage has the id {chunk_id!r}; search results carry passage ids (chunk_id)"
            )
        vector = np.asarray(result["embeddings"][0], dtype=np.float32)
        return PreparedQuery(text=str((result["documents"] or [""])[0]), truncated=False, vector=vector)

    def ranked(self, prepared: PreparedQuery, mode: str, depth: int, filters: SearchFilters) -> list[Hit]:
        if mode == "dense":
            return self.dense(prepared, depth, filters)
        if mode == "keyword":
            return self.keyword(prepared, depth, filters)
        return self.hybrid(prepared, depth, filters)

    # ------------------------------------------------------------------ modes
    # Candidates are (chunk id, score) pairs; only the final k are read in full.

    def dense(self, prepared: PreparedQuery, k: int, filters: SearchFilters) -> list[Hit]:
        candidates = self.dense_candidates(prepared, k, filters)
        return self._hits(
            [(cid, dense_score(cosine)) for cid, cosine in candidates],
            cosine=dict(candidates),
            dense_rank={cid: rank for rank, (cid, _) in enumerate(candidates, start=1)},
        )

    def keyword(self, prepared: PreparedQuery, k: int, filters: SearchFilters) -> list[Hit]:
        candidates = self.keyword_candidates(prepared, k, filters)
        cosines = self._cosines([cid for cid, _ in candidates], prepared.vector)
        ceiling = self.local.keyword_ceiling(prepared.text)
        return self._hits(
            [(cid, keyword_score(bm25, ceiling)) for cid, bm25 in candidates],
            cosine=dict(zip([cid for cid, _ in candidates], cosines, strict=True)),
            keyword={cid: (rank, bm25) for rank, (cid, bm25) in enumerate(candidates, start=1)},
        )

    def hybrid(self, prepared: PreparedQuery, k: int, filters: SearchFilters) -> list[Hit]:
        depth = max(k, FUSION_CANDIDATES)
        mask = None if filters.is_empty else self.local.mask(filters)  # one mask for both lists
        dense = self.dense_candidates(prepared, depth, filters, mask)
        keyword = self.keyword_candidates(prepared, depth, filters, mask)
        ids = list(dict.fromkeys([cid for cid, _ in dense] + [cid for cid, _ in keyword]))
        index = {cid: i for i, cid in enumerate(ids)}
        fused = reciprocal_rank_fusion([[index[c] for c, _ in dense], [index[c] for c, _ in keyword]])[:k]
        chosen = [ids[item] for item, _ in fused]
        cosine = dict(dense)
        missing = [cid for cid in chosen if cid not in cosine]
        cosine.update(zip(missing, self._cosines(missing, prepared.vector), strict=True))
        dense_rank = {cid: rank for rank, (cid, _) in enumerate(dense, start=1)}
        rrf = {ids[item]: score for item, score in fused}
        return self._hits(
            [(cid, fused_score(rrf[cid], lists=2, rank_constant=RRF_K)) for cid in chosen],
            cosine=cosine,
            keyword={cid: (rank, bm25) for rank, (cid, bm25) in enumerate(keyword, start=1)},
            fused=rrf,
            dense_rank=dense_rank,
        )

    def dense_candidates(
        self,
        prepared: PreparedQuery,
        k: int,
        filters: SearchFilters,
        mask: npt.NDArray[np.bool_] | None = None,
    ) -> list[tuple[str, float]]:
        """(chunk id, cosine similarity), best first; `mask` is `filters` already resolved."""
        if self.local.mirror_vectors and not filters.is_empty:
            # Exact scan of just the admitted rows: faster than Chroma's metadata filter.
            mask = self.local.mask(filters) if mask is None else mask
            positions, scores = self.local.dense_search(prepared.vector, k, mask)
            pairs = zip(self.local.ids_at(list(positions)), (float(s) for s in scores), strict=True)
            return [(cid, score) for cid, score in pairs if cid]
        ids, distances = self.store.query_ids(
            prepared.vector, k, where=filters.to_where(), where_document=filters.to_where_document()
        )
        return [(cid, 1.0 - distance) for cid, distance in zip(ids, distances, strict=True)]

    def keyword_candidates(
        self,
        prepared: PreparedQuery,
        k: int,
        filters: SearchFilters,
        mask: npt.NDArray[np.bool_] | None = None,
    ) -> list[tuple[str, float]]:
        """(chunk id, BM25 score), best first; `mask` is `filters` already resolved."""
        if mask is None and not filters.is_empty:
            mask = self.local.mask(filters)
        positions, scores = self.local.keyword_search(prepared.text, k, mask)
        pairs = zip(self.local.ids_at(list(positions)), (float(s) for s in scores), strict=True)
        return [(cid, score) for cid, score in pairs if cid]

    def _hits(
        self,
        scored: Sequence[tuple[str, float]],
        *,
        cosine: dict[str, float],
        keyword: dict[str, tuple[int, float]] | None = None,
        fused: dict[str, float] | None = None,
        dense_rank: dict[str, int] | None = None,
    ) -> list[Hit]:
        """Read text and metadata for the chosen chunks and build the hits, in order."""
        chunks = self._read([cid for cid, _ in scored])
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
                    cosine=cosine.get(cid),
                )
            )
        return hits

    def _read(self, chunk_ids: Sequence[str]) -> dict[str, tuple[str, dict[str, Any]]]:
        """Text and metadata by chunk id: from the local index, else (server mode) from Chroma."""
        positions = self.local.positions_of(chunk_ids)
        known = [p for p in positions if p is not None]
        found = {c.chunk_id: (c.text, c.metadata) for c in self.local.chunks(known)}
        missing = [cid for cid in chunk_ids if cid not in found]
        if missing:
            result = self.store.get_chunks(ids=missing)
            for cid, text, meta in zip(
                result["ids"], result["documents"] or [], result["metadatas"] or [], strict=True
            ):
                found[cid] = (text, dict(meta or {}))
        return found

    def _cosines(self, chunk_ids: Sequence[str], query: Vectors) -> list[float]:
        if not chunk_ids:
            return []
        if self.local.mirror_vectors:
            positions = self.local.positions_of(chunk_ids)
            if all(p is not None for p in positions):
                scores = self.local.cosine(np.asarray(positions, dtype=np.int64), query)
                return [float(s) for s in scores]
        result: dict[str, Any] = self.store.get_chunks(ids=list(chunk_ids), include_embeddings=True)
        vectors = {
            cid: np.asarray(v, dtype=np.float32)
            for cid, v in zip(result["ids"], result["embeddings"], strict=True)
        }
        return [float(vectors[cid] @ query) if cid in vectors else 0.0 for cid in chunk_ids]


def check_k(k: Any) -> None:
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_K:
        raise QueryError(f"k must be an integer from 1 to {MAX_K}; got {k!r}")


def check_mode(mode: Any) -> None:
    if mode not in SEARCH_MODES:
        raise QueryError(f"search mode must be one of {', '.join(SEARCH_MODES)}; got {mode!r}")


def _depth(k: int, min_score: float | None, group: bool) -> int:
    """How many passages to rank for `k` results."""
    depth = passages_for(k, MAX_K) if group else k
    # min_score drops hits after ranking, so fetch more to still return k when it can.
    return depth if min_score is None else min(MAX_K, depth * 3)


def finish_response(
    query: str,
    mode: str,
    k: int,
    hits: Sequence[Hit],
    prepared: PreparedQuery,
    *,
    min_score: float | None,
    started: float,
    group: bool = False,
) -> SearchResponse:
    """Apply `min_score`, number the hits 1..n, group them if asked, and attach notices."""
    kept = [hit for hit in hits if min_score is None or hit.score >= min_score]
    ranked = tuple(
        replace(hit, rank=rank, score=float(np.clip(hit.score, 0.0, 1.0)))
        for rank, hit in enumerate(kept if group else kept[:k], start=1)
    )
    groups = group_by_document(ranked, limit=k) if group else None
    if groups is not None:
        ranked = tuple(sorted((h for g in groups for h in g.hits), key=lambda h: h.rank))
    notices: list[str] = []
    if prepared.truncated:
        notices.append(
            "The query was longer than the embedding model can read; only its first "
            f"{len(prepared.text)} characters were used."
        )
    response = SearchResponse(
        query=query,
        mode=mode,
        k=k,
        hits=ranked,
        query_truncated=prepared.truncated,
        notices=tuple(notices),
        took_ms=(time.perf_counter() - started) * 1000,
        groups=groups,
    )
    return replace(response, weak_match=is_weak(response))
