"""Retrieval metrics for one query, as trec_eval / pytrec_eval (and so BEIR and MTEB) compute them.

`ranking` is a list of document ids, best first; `qrels` maps judged document ids to
graded relevance (0 = judged not relevant; unjudged documents count as 0).

* nDCG@k: linear gain, ``DCG@k = sum(rel_i / log2(i + 1) for i = 1..k)``; the ideal DCG
  sorts the judged relevances (not the retrieved ones) in decreasing order. This is
  trec_eval's ``ndcg_cut.k``; the "exponential gain" ``2^rel - 1`` variant is not used.
  Equal on binary judgements, they differ on graded ones.
* Recall@k: relevant documents (rel > 0) in the top k / all relevant documents.
* MRR@k: 1 / rank of the first relevant document in the top k, else 0.

A query with no relevant document scores 0 on all three (as in trec_eval). A document
listed twice counts once, at its first (best) rank; the later copy is dropped before
the cut, so the top k holds k distinct documents. Fewer than k results are fine: the
missing ranks contribute nothing.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence


def unique(ranking: Iterable[str]) -> list[str]:
    """The ranking with repeated ids removed, keeping each id's first position."""
    return list(dict.fromkeys(ranking))


def _check_k(k: int) -> None:
    if k < 1:
        raise ValueError(f"k must be at least 1; got {k}")


def ndcg_at_k(ranking: Sequence[str], qrels: Mapping[str, int], k: int) -> float:
    """Normalised discounted cumulative gain at cut-off k (linear gain, trec_eval)."""
    _check_k(k)
    top = unique(ranking)[:k]
    dcg = sum(max(qrels.get(doc, 0), 0) / math.log2(rank + 1) for rank, doc in enumerate(top, start=1))
    ideal = sorted((rel for rel in qrels.values() if rel > 0), reverse=True)[:k]
    idcg = sum(rel / math.log2(rank + 1) for rank, rel in enumerate(ideal, start=1))
    return dcg / idcg if idcg > 0 else 0.0


def recall_at_k(ranking: Sequence[str], qrels: Mapping[str, int], k: int) -> float:
    """Share of the relevant documents (rel > 0) that appear in the top k."""
    _check_k(k)
    relevant = {doc for doc, rel in qrels.items() if rel > 0}
    if not relevant:
        return 0.0
    found = sum(1 for doc in unique(ranking)[:k] if doc in relevant)
    return found / len(relevant)


def mrr_at_k(ranking: Sequence[str], qrels: Mapping[str, int], k: int) -> float:
    """Reciprocal rank of the first relevant document within the top k; 0 if none."""
    _check_k(k)
    for rank, doc in enumerate(unique(ranking)[:k], start=1):
        if qrels.get(doc, 0) > 0:
            return 1.0 / rank
    return 0.0


def mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) with linear interpolation between ranks.

    The same as ``numpy.percentile(values, q)`` (method "linear"): position
    ``(n - 1) * q / 100`` in the sorted values, interpolated. 0.0 for no values.
    """
    if not 0 <= q <= 100:
        raise ValueError(f"q must be between 0 and 100; got {q}")
    if not values:
        return 0.0
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)
