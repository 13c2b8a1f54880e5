"""Scoring a fusion on cached candidates, at document level like `searchapp eval`.

A fusion is a function from one query's `Candidates` (both lists cut to a depth) to a
score per candidate chunk; chunks are ranked by it (ties: dense list order first, as
`Searcher.hybrid` does), documents rank at their best chunk (MaxP), and nDCG@10 is
computed as `evaluation.metrics` does.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from benchmarks.fusion_cache import QueryCache, SetCache
from searchapp.embedding.readability import PieceStats, piece_stats

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Candidates:
    """One query's union of the dense top-D and keyword top-D chunks (dense ones first)."""

    query_id: str
    off_topic: bool
    doc: npt.NDArray[np.int64]  # document index of each candidate
    cosine: FloatArray  # exact, for every candidate
    bm25: FloatArray  # exact (0: no query term), for every candidate
    dense_rank: npt.NDArray[np.int64]  # 1-based rank in the dense top-D, 0 if not in it
    keyword_rank: npt.NDArray[np.int64]  # same for the keyword top-D
    pieces: PieceStats
    terms: tuple[tuple[str, int], ...]
    chunks: int  # chunks in the index (the N of BM25's IDF)
    gains: dict[int, int] = field(default_factory=dict)  # document index -> judged grade
    ideal: float = 0.0  # ideal DCG@10

    @property
    def in_dense(self) -> npt.NDArray[np.bool_]:
        return self.dense_rank > 0

    @property
    def in_keyword(self) -> npt.NDArray[np.bool_]:
        return self.keyword_rank > 0


Fusion = Callable[[Candidates], FloatArray]


@dataclass(frozen=True)
class PreparedSet:
    label: str
    queries: tuple[Candidates, ...]  # judged queries only
    off_topic: tuple[Candidates, ...]
    twins: dict[int, tuple[int, ...]]
    doc_ids: tuple[str, ...]
    collection: PieceStats


def prepare(cache: SetCache, depth: int) -> PreparedSet:
    doc_index = {doc_id: i for i, doc_id in enumerate(cache.doc_ids)}
    twins = {
        doc_index[d]: tuple(doc_index.get(t, -1) for t in ts if t != d)
        for d, ts in cache.duplicates.items()
        if d in doc_index
    }
    judged: list[Candidates] = []
    foreign: list[Candidates] = []
    for q in cache.queries:
        candidates = _cut(q, cache, depth, doc_index)
        (foreign if q.off_topic else judged).append(candidates)
    return PreparedSet(
        label=cache.label,
        queries=tuple(judged),
        off_topic=tuple(foreign),
        twins=twins,
        doc_ids=cache.doc_ids,
        collection=PieceStats(**{k: int(v) for k, v in cache.collection_pieces.items()}),
    )


def _cut(q: QueryCache, cache: SetCache, depth: int, doc_index: dict[str, int]) -> Candidates:
    n = len(q.positions)
    dense_rank = np.zeros(n, dtype=np.int64)
    top_dense = min(depth, q.n_dense)
    dense_rank[:top_dense] = np.arange(1, top_dense + 1)
    keyword_rank = np.zeros(n, dtype=np.int64)
    top_keyword = q.keyword_order[:depth]
    keyword_rank[top_keyword] = np.arange(1, len(top_keyword) + 1)
    keep = (dense_rank > 0) | (keyword_rank > 0)
    gains: dict[int, int] = {}
    ideal = 0.0
    if not q.off_topic:
        judged = cache.qrels.get(q.query_id, {})
        gains = {doc_index[d]: g for d, g in judged.items() if d in doc_index and g > 0}
        grades = sorted((g for g in judged.values() if g > 0), reverse=True)[:10]
        ideal = sum(g / math.log2(r + 1) for r, g in enumerate(grades, start=1))
    return Candidates(
        query_id=q.query_id,
        off_topic=q.off_topic,
        doc=cache.chunk_doc[q.positions[keep]],
        cosine=q.cosine[keep].astype(np.float64),
        bm25=q.bm25[keep].astype(np.float64),
        dense_rank=dense_rank[keep],
        keyword_rank=keyword_rank[keep],
        pieces=piece_stats(q.pieces),
        terms=q.terms,
        chunks=cache.chunks,
        gains=gains,
        ideal=ideal,
    )


def document_order(c: Candidates, scores: FloatArray, twins: dict[int, tuple[int, ...]], k: int) -> list[int]:
    """The first `k` documents by their best chunk's score."""
    order = np.argsort(-scores, kind="stable")
    seen: dict[int, None] = {}
    for i in order:
        if scores[i] == -np.inf:  # not ranked at all by this fusion
            break
        doc = int(c.doc[i])
        if doc < 0 or doc in seen:
            continue
        seen[doc] = None
        for twin in twins.get(doc, ()):
            seen.setdefault(twin, None)
        if len(seen) >= k:
            break
    return list(seen)[:k]


def ndcg10(c: Candidates, scores: FloatArray, twins: dict[int, tuple[int, ...]]) -> float:
    if c.ideal <= 0:
        return 0.0
    top = document_order(c, scores, twins, 10)
    return sum(c.gains.get(d, 0) / math.log2(r + 1) for r, d in enumerate(top, start=1)) / c.ideal


def mean_ndcg(prepared: PreparedSet, fusion: Fusion, queries: Sequence[Candidates] | None = None) -> float:
    chosen = prepared.queries if queries is None else queries
    return float(np.mean([ndcg10(c, fusion(c), prepared.twins) for c in chosen])) if chosen else 0.0


def per_query_ndcg(prepared: PreparedSet, fusion: Fusion) -> FloatArray:
    return np.asarray([ndcg10(c, fusion(c), prepared.twins) for c in prepared.queries])


# ------------------------------------------------------------------ the two lists alone


def dense_only(c: Candidates) -> FloatArray:
    """The dense list in its own order; candidates only the keyword list found are not ranked."""
    return np.where(c.in_dense, -c.dense_rank.astype(np.float64), -np.inf)


def keyword_only(c: Candidates) -> FloatArray:
    return np.where(c.in_keyword, -c.keyword_rank.astype(np.float64), -np.inf)


def rrf(k: float = 60.0) -> Fusion:
    def fuse(c: Candidates) -> FloatArray:
        score = np.zeros(len(c.doc))
        score[c.in_dense] += 1.0 / (k + c.dense_rank[c.in_dense])
        score[c.in_keyword] += 1.0 / (k + c.keyword_rank[c.in_keyword])
        return score

    return fuse


# ------------------------------------------------------------------ many weights at once


_LAYOUT: dict[int, tuple[np.ndarray[Any, Any], np.ndarray[Any, Any], FloatArray]] = {}
_DISCOUNT = 1.0 / np.log2(np.arange(2, 12))


def _layout(c: Candidates) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any], FloatArray]:
    """Candidates grouped by document: (permutation, group starts, gain of each document)."""
    key = id(c)
    if key not in _LAYOUT:
        docs, inverse = np.unique(c.doc, return_inverse=True)
        perm = np.argsort(inverse, kind="stable")
        starts = np.flatnonzero(np.r_[True, np.diff(inverse[perm]) != 0])
        gains = np.asarray([c.gains.get(int(d), 0) for d in docs], dtype=np.float64)
        _LAYOUT[key] = (perm, starts, gains)
    return _LAYOUT[key]


def ndcg_many(c: Candidates, scores: FloatArray) -> FloatArray:
    """nDCG@10 for each row of `scores` (one row per variant), MaxP over chunks.

    Ties between documents break by document index rather than by list order; every
    figure reported is recomputed with `ndcg10`, which breaks them as the Searcher does.
    """
    if c.ideal <= 0:
        return np.zeros(len(scores))
    perm, starts, gains = _layout(c)
    best = np.maximum.reduceat(scores[:, perm], starts, axis=1)
    top = np.argsort(-best, axis=1, kind="stable")[:, :10]
    ranked = np.take_along_axis(best, top, axis=1)
    gain = np.where(ranked > -np.inf, gains[top], 0.0)
    width = gain.shape[1]
    return np.asarray((gain * _DISCOUNT[:width]).sum(axis=1) / c.ideal)
