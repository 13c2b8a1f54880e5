"""Fusing the dense and keyword rankings of one query into one."""

from __future__ import annotations

from collections.abc import Sequence

RRF_K = 60


def reciprocal_rank_fusion(rankings: Sequence[Sequence[int]], k: int = RRF_K) -> list[tuple[int, float]]:
    """Fuse rankings of the same items: score(item) = sum over rankings of 1 / (k + rank).

    `k` = 60 is the constant of Cormack, Clarke and Buettcher (SIGIR 2009), also
    Elasticsearch's default `rank_constant`: large enough that one list's top rank cannot
    outvote agreement between lists. Ties keep the order of first appearance.
    """
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    return sorted(scores.items(), key=lambda pair: -pair[1])
