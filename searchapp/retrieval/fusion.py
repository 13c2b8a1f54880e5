"""Fusing the dense and keyword candidate lists: the adaptive rule, and reciprocal rank fusion.

The rule (docs/ranking-study.md has the measurements behind every constant):

    readable = share of the query's letters the embedding model sees in word pieces of
               two letters or more (0 for Arabic, Chinese, Thai... under an English vocabulary)
    gap      = how far BM25's best candidate stands out: (top - mean of the next 9) / top
    w        = readable * min(1, (1 - gap) / (1 - FULL_DENSE_GAP))
    fused    = w * (cosine + 1) / (best cosine + 1) + (1 - w) * bm25 / best bm25

(`readable` is `searchapp.embedding.readability.readable_share`), so a query the model
cannot read is ranked by BM25 alone, a query whose BM25 list is flat (many documents
match its words about equally: names, common terms) by the embeddings, and the rest by
a mix that leans to whichever list is more decisive. Both
parts are Bruch, Gai and Ingber's theoretical-min-max normalisation (ACM TOIS 2023):
scaled to the list's best, from the score's theoretical minimum (cosine -1, BM25 0).

`no_good_match` says when the best passage is weak: the best cosine (dense) or the best
BM25 as a share of the query's attainable BM25 (keyword) against a threshold measured on
the same sets, asking the list the rule trusts more.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

# The BM25 gap up to which the dense list gets the full weight: fitted by 5-fold
# cross-validation over nine sets (every fold chose 0.14; all of 0.10-0.38 pass the bar).
FULL_DENSE_GAP = 0.14
GAP_DEPTH = 10  # the best BM25 score against the mean of the next GAP_DEPTH - 1
# "No good match" below these top scores: the largest thresholds that flag at most 5% of
# the queries that do have a relevant passage in their top 10, over the nine sets.
DENSE_NO_MATCH_BELOW = 0.45  # best cosine (fitted: 0.453)
KEYWORD_NO_MATCH_BELOW = 0.17  # best BM25 as a share of the query's attainable BM25 (fitted: 0.168)


def keyword_gap(bm25: Sequence[float]) -> float:
    """How far the best BM25 score stands out: (top - mean of the next 9) / top, in [0, 1].

    `bm25` is the keyword list's scores, best first; missing places count as 0 (fewer
    than ten matches is itself a sharp list). 0 for an empty list or no positive score.
    """
    if not bm25 or bm25[0] <= 0:
        return 0.0
    rest = list(bm25[1:GAP_DEPTH]) + [0.0] * max(0, GAP_DEPTH - len(bm25))
    return min(1.0, max(0.0, (bm25[0] - sum(rest) / (GAP_DEPTH - 1)) / bm25[0]))


def dense_weight(readable: float, gap: float, full_dense_gap: float = FULL_DENSE_GAP) -> float:
    """The dense list's weight in [0, 1]: `readable` scaled down as BM25's lead grows past the threshold."""
    return max(0.0, min(1.0, readable)) * min(1.0, (1.0 - gap) / (1.0 - full_dense_gap))


def fuse(
    dense: Sequence[tuple[str, float]],
    keyword: Sequence[tuple[str, float]],
    weight: float,
    *,
    cosine: Mapping[str, float] | None = None,
    bm25: Mapping[str, float] | None = None,
) -> list[tuple[str, float]]:
    """Fused (id, score) for the union of both lists, best first; scores in [0, 1].

    `dense` is (id, cosine) and `keyword` (id, BM25), each best first. A candidate that
    only one list holds takes its other score from `cosine` / `bm25` when given there;
    else its cosine is taken as the dense list's lowest (it ranked below all of them, so
    that is an upper bound) and its BM25 as 0. Measured, the stand-ins cost at most
    0.001 nDCG@10 against exact scores (docs/ranking-study.md). Ties keep the dense
    list's order, then the keyword list's.
    """
    cos = dict(dense)
    if cosine:
        cos.update({i: s for i, s in cosine.items() if i not in cos})
    lexical = dict(keyword)
    if bm25:
        lexical.update({i: s for i, s in bm25.items() if i not in lexical})
    top_cos = max((s for _, s in dense), default=1.0)
    floor_cos = min((s for _, s in dense), default=-1.0)
    top_bm25 = max((s for _, s in keyword), default=0.0)
    fused: dict[str, float] = {}
    for item in [i for i, _ in dense] + [i for i, _ in keyword]:
        if item in fused:
            continue
        d = (cos.get(item, floor_cos) + 1.0) / (top_cos + 1.0) if top_cos > -1.0 else 0.0
        k = lexical.get(item, 0.0) / top_bm25 if top_bm25 > 0 else 0.0
        fused[item] = weight * d + (1.0 - weight) * k
    return sorted(fused.items(), key=lambda pair: -pair[1])


def no_good_match(top_cosine: float, top_bm25: float, ceiling: float, weight: float) -> bool:
    """Whether to say "no good match": the verdict of the list the rule trusts more.

    `top_cosine` is the dense list's best cosine, `top_bm25` the keyword list's best
    score and `ceiling` the query's `searchapp.storage.bm25.bm25_ceiling`; `weight`
    is `dense_weight`.
    """
    if weight >= 0.5:
        return top_cosine < DENSE_NO_MATCH_BELOW
    share = top_bm25 / ceiling if ceiling > 0 else 0.0
    return share < KEYWORD_NO_MATCH_BELOW


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
