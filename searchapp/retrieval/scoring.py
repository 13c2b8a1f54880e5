"""The 0-1 score every hit shows, per retrieval mode, and when a result is a weak match.

The contract (front ends rely on it; the numbers behind it may change):

- `Hit.score` is the number the ranking used, on 0-1, and never increases down a
  response, in every mode. `SearchResponse.mode` names the mode that produced it.
- dense: the cosine similarity, clipped to [0, 1].
- keyword: BM25 divided by the query's ceiling, the most a passage could score: Lucene's
  BM25 gives each query term at most its IDF, so the ceiling is the sum of the query
  terms' IDFs (a term the corpus lacks counts with document frequency 0, so a query
  whose words are missing scores low).
- hybrid: placeholder until the weighted fusion lands: reciprocal rank fusion divided by
  its largest possible value (first in every list), which keeps the order and reads 0-1.

`is_weak` decides the "no good match" notice from one table of thresholds per mode.
"""

from __future__ import annotations

from collections.abc import Mapping

from searchapp.types import SearchResponse

# Placeholders until thresholds are derived per mode from labelled data; the figures they
# come from are in docs/quality.md ("No good match"). Dense and hybrid compare the best
# cosine similarity, keyword the top score.
WEAK_BELOW: Mapping[str, float] = {"dense": 0.35, "hybrid": 0.35, "keyword": 0.2}


def dense_score(cosine: float) -> float:
    """A cosine similarity as a 0-1 score (dissimilar and unrelated both read 0)."""
    return min(1.0, max(0.0, float(cosine)))


def keyword_score(bm25: float, ceiling: float) -> float:
    """BM25 as a share of the most the query could score."""
    if ceiling <= 0:
        return 0.0
    return min(1.0, max(0.0, float(bm25) / ceiling))


def fused_score(rrf: float, lists: int, rank_constant: int) -> float:
    """Reciprocal rank fusion over `lists` rankings, divided by its maximum (rank 1 in each)."""
    best = lists / (rank_constant + 1)
    return min(1.0, max(0.0, float(rrf) / best)) if best > 0 else 0.0


def match_strength(response: SearchResponse) -> float | None:
    """The number `is_weak` compares: the top score, or for dense and hybrid the best cosine."""
    if not response.hits:
        return None
    if response.mode == "keyword":
        return response.hits[0].score
    cosines = [hit.cosine for hit in response.hits if hit.cosine is not None]
    return max(cosines) if cosines else response.hits[0].score


def is_weak(response: SearchResponse) -> bool:
    """True when there are hits but even the best matches the query poorly."""
    strength = match_strength(response)
    threshold = WEAK_BELOW.get(response.mode)
    return strength is not None and threshold is not None and strength < threshold
