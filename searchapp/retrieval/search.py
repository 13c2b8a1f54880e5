"""Ranked, filtered passages for a `SearchRequest`: the one retrieval layer behind UI, CLI and API.

A query is four steps, each one call: the request is made ready (its words embedded,
`searchapp.retrieval.query`), storage gives the candidates its mode ranks by
(`ChunkIndex.candidates`: both lists with their cosines and BM25 scores, and the BM25
ceiling), they are ranked (`searchapp.retrieval.ranking`), and storage reads the passages
shown (`ChunkIndex.read`). Building the response (numbering, the score floor, grouping,
notices) happens here.

Where the candidates come from (Chroma's HNSW index, or an exact scan of just the rows a
filter admits) is `searchapp.storage.chunk_index`'s business. `Hit.score` is the score
the ranking used, on 0-1, in every mode (`searchapp.retrieval.scoring`); every hit also
carries its cosine similarity to the query, and its rank in each list and its BM25
score where it has them. A "more like this" request ranks by a stored passage's own
vector (no re-embedding), and `compare` gives the cosine similarity of two texts.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

import numpy as np

from searchapp.embedding.embedders import Embedder
from searchapp.errors import DocumentNotFoundError, QueryError
from searchapp.request import MAX_K, PreparedQuery, SearchRequest
from searchapp.retrieval.grouping import GROUP_DEPTH, group_by_document, passages_for
from searchapp.retrieval.query import QueryEmbeddingCache, embedded, from_passage, prepare
from searchapp.retrieval.ranking import FUSION_CANDIDATES, Ranked, Ranking, rank
from searchapp.retrieval.scoring import NoMatch
from searchapp.storage.chunk_index import Candidates, ChunkIndex, Passage
from searchapp.types import Hit, SearchResponse

DEFAULT_MODE = "adaptive"
# A document group shows at most this many passages (its best and the next best).
GROUP_PASSAGES = 4 * GROUP_DEPTH


class Searcher:
    """Adaptive, hybrid, dense and keyword retrieval over one collection."""

    def __init__(self, index: ChunkIndex, embedder: Embedder, no_match: NoMatch | None = None) -> None:
        self.index = index
        self.embedder = embedder
        self.no_match = no_match  # the library's calibrated thresholds; None: the measured defaults
        self._cache = QueryEmbeddingCache()

    def search(self, request: SearchRequest) -> SearchResponse:
        """The top `request.k` passages, best first (with `group`, the top `k` documents).

        `request.like` ranks by that stored passage instead of words (itself left out).
        Names given with ``doc:`` must be resolved into `filters.doc_ids` first
        (`Library.find` does).

        Raises:
            EmptyQueryError: the request has no words and no passage to search by.
            DocumentNotFoundError: no stored passage has the `like` id.
            StoreError: the store failed.
        """
        started = time.perf_counter()
        mode = request.mode or DEFAULT_MODE
        query = self.prepare(request)
        depth = _depth(request)
        found = self.index.candidates(request, query, _list_depth(mode, depth))
        ranking = rank(mode, query, found, depth, self.no_match)
        while request.group and _deeper(request, found, ranking, depth):
            depth *= 4
            found = self.index.candidates(request, query, _list_depth(mode, depth))
            ranking = rank(mode, query, found, depth, self.no_match)
        shown = _shown(request, ranking)
        entries = [entry for _, entry in shown]
        passages = self.index.read([e.chunk_id for e in entries], query.vector, _cosines(entries))
        return _response(request, mode, query, ranking, shown, passages, started)

    def prepare(self, request: SearchRequest) -> PreparedQuery:
        """The request's words embedded, or the stored passage it names."""
        if not request.like:
            return prepare(request, self.embedder, self._cache)
        chunk_id = request.like.strip()
        found = self.index.passage(chunk_id)
        if found is None:
            raise DocumentNotFoundError(
                f"no stored passage has the id {chunk_id!r}; search results carry passage ids (chunk_id)"
            )
        return from_passage(request, found[0], found[1], self.embedder)

    def compare(self, text_a: str, text_b: str) -> float:
        """The cosine similarity of two texts' embeddings (each cut to the model's window)."""
        for text in (text_a, text_b):
            if not isinstance(text, str):
                raise QueryError(f"a text to compare must be text; got {type(text).__name__}")
        a = embedded(text_a, self.embedder, self._cache)[2]
        b = embedded(text_b, self.embedder, self._cache)[2]
        return float(np.clip(np.dot(a, b), -1.0, 1.0))


def _depth(request: SearchRequest) -> int:
    """How many passages to rank for `request.k` results."""
    depth = passages_for(request.k, MAX_K) if request.group else request.k
    # min_score drops hits after ranking, so rank more to still return k when it can.
    depth = depth if request.min_score is None else min(MAX_K, depth * 3)
    return min(MAX_K, depth + 1) if request.like else depth  # the passage itself is left out


def _list_depth(mode: str, depth: int) -> int:
    """How many candidates each list brings for `depth` ranked entries."""
    return depth if mode in ("dense", "keyword") else max(depth, FUSION_CANDIDATES)


def _kept(request: SearchRequest, ranking: Ranking) -> list[Ranked]:
    """The entries a response may show: not the `like` passage, none below the floor."""
    floor, seed = request.min_score, request.like.strip()
    return [e for e in ranking.entries if e.chunk_id != seed and (floor is None or e.score >= floor)]


def _document(chunk_id: str) -> str:
    """The document of a chunk id (``<doc id>:<n>``, `searchapp.library.writes.chunk_id`)."""
    return chunk_id.rpartition(":")[0] or chunk_id


def _deeper(request: SearchRequest, found: Candidates, ranking: Ranking, depth: int) -> bool:
    """True while grouping holds fewer documents than asked for and than there are, and
    the ranking or a list was cut at its depth (so more candidates exist)."""
    groups = len({_document(e.chunk_id) for e in _kept(request, ranking)})
    asked = _list_depth(request.mode or DEFAULT_MODE, depth)
    cut = len(ranking.entries) >= depth or len(found.dense) >= asked or len(found.keyword) >= asked
    return cut and groups < min(request.k, found.documents)


def _shown(request: SearchRequest, ranking: Ranking) -> list[tuple[int, Ranked]]:
    """The entries the response shows, with their places among those kept: the first `k`,
    or the passages of the first `k` documents."""
    kept = list(enumerate(_kept(request, ranking), start=1))
    if not request.group:
        return kept[: request.k]
    counts: dict[str, int] = {}
    shown = []
    for place, entry in kept:
        document = _document(entry.chunk_id)
        if document not in counts and len(counts) == request.k:
            continue
        if counts.get(document, 0) < GROUP_PASSAGES:
            counts[document] = counts.get(document, 0) + 1
            shown.append((place, entry))
    return shown


def _cosines(entries: Sequence[Ranked]) -> dict[str, float]:
    return {e.chunk_id: e.cosine for e in entries if e.cosine is not None}


def _response(
    request: SearchRequest,
    mode: str,
    query: PreparedQuery,
    ranking: Ranking,
    shown: Sequence[tuple[int, Ranked]],
    passages: Mapping[str, Passage],
    started: float,
) -> SearchResponse:
    """Number the hits 1..n, group them if asked, and attach the notices."""
    hits: list[Hit] = []
    for place, entry in shown:
        passage = passages.get(entry.chunk_id)
        if passage is None:  # deleted by another server client a moment ago
            continue
        hits.append(
            Hit(
                rank=place if request.group else len(hits) + 1,
                score=float(np.clip(entry.score, 0.0, 1.0)),
                chunk_id=entry.chunk_id,
                text=passage.text,
                metadata=passage.metadata,
                fused_score=entry.fused,
                dense_rank=entry.dense_rank,
                keyword_rank=entry.keyword_rank,
                keyword_score=entry.keyword_score,
                cosine=entry.cosine if entry.cosine is not None else passage.cosine,
            )
        )
    groups = group_by_document(hits, limit=request.k) if request.group else None
    if groups is not None:
        hits = sorted((h for g in groups for h in g.hits), key=lambda h: h.rank)
    return SearchResponse(
        query=query.text if request.like else request.query,
        mode=mode,
        k=request.k,
        hits=tuple(hits),
        query_truncated=query.truncated,
        notices=query.notices,
        took_ms=(time.perf_counter() - started) * 1000,
        groups=groups,
        weak_match=bool(hits) and ranking.weak and not request.like,
        dense_weight=ranking.dense_weight,
    )
