"""Ranked, filtered passages for a query: the one retrieval layer behind UI, CLI and API.

Four modes, with the same filters and the same meaning of `Hit.score` in each:

- **adaptive** (the default): both lists fused with weights read from the query: how
  much of it the embedding model can read, and how decisive BM25's best match is
  (`searchapp.retrieval.fusion`).
- **hybrid**: the two rankings fused by reciprocal rank, with fixed weights.
- **dense**: nearest passages by cosine similarity of embeddings.
- **keyword**: BM25 over the same chunks (see `searchapp.storage.keyword_index`).

Where the candidates come from (Chroma's HNSW index, or an exact scan of just the rows a
filter admits) is `searchapp.storage.chunk_index`'s business. `Hit.score` is the score
the ranking used, on 0-1, in every mode (`searchapp.retrieval.scoring`); every hit also
carries its cosine similarity to the query, and its rank in each list and its BM25
score where it has them. `similar` ranks by a stored passage's own vector (no
re-embedding), and `compare` gives the cosine similarity of two texts.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from searchapp.embedding.embedders import Embedder
from searchapp.embedding.readability import piece_stats, readable_share
from searchapp.errors import DocumentNotFoundError, QueryError
from searchapp.filters import SearchFilters
from searchapp.retrieval.fusion import RRF_K, dense_weight, fuse, keyword_gap, reciprocal_rank_fusion
from searchapp.retrieval.query import PreparedQuery, QueryEmbeddingCache, prepare
from searchapp.retrieval.response import MAX_K, check_k, check_mode, depth_for, finish_response
from searchapp.retrieval.scoring import (
    Evidence,
    NoMatch,
    dense_score,
    fused_score,
    keyword_score,
    weak_match,
)
from searchapp.storage.chunk_index import ChunkIndex, Scored, Selection
from searchapp.storage.terms import keyword_tokens
from searchapp.types import Hit, SearchResponse

# Each list contributes this many candidates to the fusion (at least k).
FUSION_CANDIDATES = 100


@dataclass(frozen=True, slots=True)
class Ranking:
    """Ranked hits, best first, and what the candidate lists said about the best match."""

    hits: list[Hit]
    weak: bool
    dense_weight: float | None = None


class Searcher:
    """Dense, keyword and hybrid retrieval over one collection."""

    def __init__(self, index: ChunkIndex, embedder: Embedder) -> None:
        self.index = index
        self.embedder = embedder
        self.no_match = NoMatch()  # the library's calibrated thresholds, when it has them
        self._cache = QueryEmbeddingCache()

    def evidence(self, query: str, filters: SearchFilters | None = None) -> Evidence:
        """What both candidate lists say about `query`'s best match (calibrating the notice)."""
        prepared = self.prepare(query)
        selection = self.index.select(filters or SearchFilters())
        dense = self.index.dense(prepared.vector, FUSION_CANDIDATES, selection)
        keyword = self.index.keyword(prepared.terms, FUSION_CANDIDATES, selection)
        return self._evidence(prepared, dense, keyword)

    def prepare(self, query: str) -> PreparedQuery:
        """Validate the query, cut it to the model's window, and embed it (cached)."""
        return prepare(query, self.embedder, self._cache)

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
            mode: one of `SEARCH_MODES` ("adaptive", "hybrid", "dense", "keyword").
            group: one group per document, its best passage first (`SearchResponse.groups`).

        Raises:
            EmptyQueryError, QueryError, InvalidFilterError: invalid input.
            StoreError: the store failed.
        """
        started = time.perf_counter()
        check_k(k)
        check_mode(mode)
        prepared = self.prepare(query)
        ranking = self.ranked(prepared, mode, depth_for(k, min_score, group), filters or SearchFilters())
        return finish_response(
            query,
            mode,
            k,
            ranking.hits,
            prepared,
            min_score=min_score,
            started=started,
            weak=ranking.weak,
            dense_weight=ranking.dense_weight,
            group=group,
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
        depth = min(MAX_K, depth_for(k, min_score, group) + 1)
        ranking = self.ranked(prepared, mode, depth, filters or SearchFilters())
        hits = [hit for hit in ranking.hits if hit.chunk_id != chunk_id]
        return finish_response(
            prepared.text,
            mode,
            k,
            hits,
            prepared,
            min_score=min_score,
            started=started,
            dense_weight=ranking.dense_weight,
            group=group,
        )

    def compare(self, text_a: str, text_b: str) -> float:
        """The cosine similarity of two texts' embeddings (each cut to the model's window)."""
        a, b = self.prepare(text_a), self.prepare(text_b)
        return float(np.clip(np.dot(a.vector, b.vector), -1.0, 1.0))

    def stored_passage(self, chunk_id: str) -> PreparedQuery:
        """A stored passage as a prepared query: its text and its stored vector."""
        if not isinstance(chunk_id, str) or not chunk_id.strip():
            raise QueryError(f"a passage id is text like '<document id>:<n>'; got {chunk_id!r}")
        found = self.index.passage(chunk_id.strip())
        if found is None:
            raise DocumentNotFoundError(
                f"no stored passage has the id {chunk_id!r}; search results carry passage ids (chunk_id)"
            )
        text, vector = found
        readable = readable_share(piece_stats(self.embedder.tokens.pieces(text)))
        return PreparedQuery(
            text=text, truncated=False, vector=vector, terms=tuple(keyword_tokens(text)), readable=readable
        )

    def ranked(self, prepared: PreparedQuery, mode: str, depth: int, filters: SearchFilters) -> Ranking:
        selection = self.index.select(filters)  # resolved once, for every list of this query
        if mode == "dense":
            return self.dense(prepared, depth, selection)
        if mode == "keyword":
            return self.keyword(prepared, depth, selection)
        if mode == "hybrid":
            return self.hybrid(prepared, depth, selection)
        return self.adaptive(prepared, depth, selection)

    # ------------------------------------------------------------------ modes
    # Candidates are (chunk id, score) pairs; only the final k are read in full.

    def dense(self, prepared: PreparedQuery, k: int, selection: Selection) -> Ranking:
        candidates = self.index.dense(prepared.vector, k, selection)
        hits = self._hits(
            [(cid, dense_score(cosine)) for cid, cosine in candidates],
            cosine=dict(candidates),
            dense_rank={cid: rank for rank, (cid, _) in enumerate(candidates, start=1)},
        )
        return Ranking(hits, weak_match("dense", self._evidence(prepared, candidates, []), self.no_match))

    def keyword(self, prepared: PreparedQuery, k: int, selection: Selection) -> Ranking:
        candidates = self.index.keyword(prepared.terms, k, selection)
        cosines = self.index.cosines([cid for cid, _ in candidates], prepared.vector)
        evidence = self._evidence(prepared, [], candidates)
        hits = self._hits(
            [(cid, keyword_score(bm25, evidence.ceiling)) for cid, bm25 in candidates],
            cosine=dict(zip([cid for cid, _ in candidates], cosines, strict=True)),
            keyword={cid: (rank, bm25) for rank, (cid, bm25) in enumerate(candidates, start=1)},
        )
        return Ranking(hits, weak_match("keyword", evidence, self.no_match))

    def hybrid(self, prepared: PreparedQuery, k: int, selection: Selection) -> Ranking:
        depth = max(k, FUSION_CANDIDATES)
        dense = self.index.dense(prepared.vector, depth, selection)
        keyword = self.index.keyword(prepared.terms, depth, selection)
        ids = list(dict.fromkeys([cid for cid, _ in dense] + [cid for cid, _ in keyword]))
        index = {cid: i for i, cid in enumerate(ids)}
        fused = reciprocal_rank_fusion([[index[c] for c, _ in dense], [index[c] for c, _ in keyword]])[:k]
        rrf = {ids[item]: score for item, score in fused}
        hits = self._fused_hits(
            prepared,
            [(cid, fused_score(score, lists=2, rank_constant=RRF_K)) for cid, score in rrf.items()],
            dense,
            keyword,
            fused=rrf,
        )
        evidence = self._evidence(prepared, dense, keyword)
        return Ranking(hits, weak_match("hybrid", evidence, self.no_match), evidence.weight)

    def adaptive(self, prepared: PreparedQuery, k: int, selection: Selection) -> Ranking:
        """Both lists, weighted by what the query says about them (`searchapp.retrieval.fusion`)."""
        depth = max(k, FUSION_CANDIDATES)
        dense = self.index.dense(prepared.vector, depth, selection)
        keyword = self.index.keyword(prepared.terms, depth, selection)
        evidence = self._evidence(prepared, dense, keyword)
        fused = fuse(dense, keyword, evidence.weight)[:k]
        # The fused scores are relative to each list's best; scaled by the best match's
        # strength they keep their order and say how good the best match is.
        hits = self._fused_hits(
            prepared,
            [(cid, score * evidence.strength) for cid, score in fused],
            dense,
            keyword,
            fused=dict(fused),
        )
        return Ranking(hits, weak_match("adaptive", evidence, self.no_match), evidence.weight)

    def _evidence(self, prepared: PreparedQuery, dense: Scored, keyword: Scored) -> Evidence:
        """What the candidate lists say about this query's best match, and the lists' weights."""
        return Evidence(
            top_cosine=dense[0][1] if dense else -1.0,
            top_bm25=keyword[0][1] if keyword else 0.0,
            ceiling=self.index.keyword_ceiling(prepared.terms) if prepared.terms else 0.0,
            readable=prepared.readable,
            weight=dense_weight(prepared.readable, keyword_gap([score for _, score in keyword])),
        )

    def _fused_hits(
        self,
        prepared: PreparedQuery,
        scored: list[tuple[str, float]],
        dense: Scored,
        keyword: Scored,
        *,
        fused: dict[str, float] | None = None,
    ) -> list[Hit]:
        """Hits for fused candidates, with each one's cosine and its rank in each list."""
        cosine = dict(dense)
        missing = [cid for cid, _ in scored if cid not in cosine]
        cosine.update(zip(missing, self.index.cosines(missing, prepared.vector), strict=True))
        return self._hits(
            scored,
            cosine=cosine,
            keyword={cid: (rank, bm25) for rank, (cid, bm25) in enumerate(keyword, start=1)},
            fused=fused,
            dense_rank={cid: rank for rank, (cid, _) in enumerate(dense, start=1)},
        )

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
                    cosine=cosine.get(cid),
                )
            )
        return hits
