"""From ranked hits to the response a front end shows: cut, numbered, grouped, with notices."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from searchapp.errors import QueryError
from searchapp.retrieval.grouping import group_by_document, passages_for
from searchapp.retrieval.query import PreparedQuery
from searchapp.types import Hit, SearchResponse

SEARCH_MODES = ("adaptive", "hybrid", "dense", "keyword")
MAX_K = 1000


def check_k(k: Any) -> None:
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_K:
        raise QueryError(f"k must be an integer from 1 to {MAX_K}; got {k!r}")


def check_mode(mode: Any) -> None:
    if mode not in SEARCH_MODES:
        raise QueryError(f"search mode must be one of {', '.join(SEARCH_MODES)}; got {mode!r}")


def depth_for(k: int, min_score: float | None, group: bool) -> int:
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
    weak: bool = False,
    dense_weight: float | None = None,
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
        weak_match=bool(ranked) and weak,
        dense_weight=dense_weight,
    )
    return response
