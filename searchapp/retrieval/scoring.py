"""The 0-1 score every hit shows, per retrieval mode, and when a result is a weak match.

The contract (front ends rely on it; the numbers behind it may change):

- `Hit.score` is the number the ranking used, on 0-1, and never increases down a
  response, in every mode. `SearchResponse.mode` names the mode that produced it.
- dense: the cosine similarity, clipped to [0, 1].
- keyword: BM25 divided by the query's ceiling, the most a passage could score: Lucene's
  BM25 gives each query term at most its IDF, so the ceiling is the sum of the IDFs of
  the query terms the corpus holds.
- adaptive: the fused score of `searchapp.retrieval.fusion` (relative to the best of each
  list) times the strength of the query's best match, on the same weights: the weighted
  mix of the best cosine and the best BM25 share. The order is the fused order; the
  number says how good the best match is, so an off-topic query reads low.
- hybrid: reciprocal rank fusion divided by its largest possible value (first in every
  list), which keeps the order and reads 0-1.

`weak_match` decides the "no good match" notice from measured thresholds
(`searchapp.retrieval.fusion`: they flag at most 5% of queries that have a relevant
passage in their top 10, over nine evaluation sets; docs/ranking-study.md).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from searchapp.embedding.readability import is_unreadable
from searchapp.retrieval.fusion import DENSE_NO_MATCH_BELOW, KEYWORD_NO_MATCH_BELOW, no_good_match
from searchapp.types import SearchResponse

if TYPE_CHECKING:
    from searchapp.storage.chroma import ChromaStore

logger = logging.getLogger(__name__)
NO_MATCH_TABLE = "no-match"  # a library's calibrated thresholds (searchapp.feedback.calibration)


@dataclass(frozen=True, slots=True)
class NoMatch:
    """The "no good match" thresholds: the measured defaults, or a library's own calibration."""

    dense: float = DENSE_NO_MATCH_BELOW  # best cosine
    keyword: float = KEYWORD_NO_MATCH_BELOW  # best BM25 share of the query's attainable BM25
    calibrated: bool = False


def fitted_for(record: Mapping[str, Any], model: str) -> bool:
    """Whether a calibration record holds for `model` (one from before records named their
    model holds for any)."""
    return not record.get("model") or record["model"] == model


def load_no_match(store: ChromaStore, model: str) -> NoMatch:
    """The library's calibrated thresholds when a calibration was kept for `model` (the
    embedding model that searches: cosines differ between models), else the defaults."""
    try:
        if not store.has_table(NO_MATCH_TABLE):
            return NoMatch()
        record: dict[str, Any] | None = store.table(NO_MATCH_TABLE).get("current")
    except Exception as exc:  # a damaged record never stops searching: the defaults hold
        logger.warning("cannot read the calibrated no-match thresholds: %s", exc)
        return NoMatch()
    if not record or not record.get("kept"):
        return NoMatch()
    if not fitted_for(record, model):  # made before a model switch
        logger.info("the no-match calibration is for %s; the defaults hold for %s", record["model"], model)
        return NoMatch()
    return NoMatch(float(record["dense"]), float(record["keyword"]), calibrated=True)


@dataclass(frozen=True, slots=True)
class Evidence:
    """What a query's two candidate lists say about its best match."""

    top_cosine: float  # the dense list's best cosine (-1 without candidates)
    top_bm25: float  # the keyword list's best BM25 (0 without candidates)
    ceiling: float  # the most BM25 could give this query (`KeywordIndex.ceiling`)
    readable: float  # how much of the query the embedding model can read
    weight: float  # the dense list's weight in the adaptive fusion

    @property
    def keyword_share(self) -> float:
        return keyword_score(self.top_bm25, self.ceiling)

    @property
    def strength(self) -> float:
        """The best match on 0-1, as the weights see it."""
        return self.weight * dense_score(self.top_cosine) + (1.0 - self.weight) * self.keyword_share


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


def weak_match(mode: str, evidence: Evidence, thresholds: NoMatch | None = None) -> bool:
    """True when even the best passage matches the query poorly, for this mode's ranking.

    Dense also says so when the model cannot read the query: its cosines then mean nothing.
    The fused modes ask the list the adaptive weights trust more.
    """
    limits = thresholds or NoMatch()
    if mode == "dense":
        return evidence.top_cosine < limits.dense or is_unreadable(evidence.readable)
    if mode == "keyword":
        return evidence.keyword_share < limits.keyword
    if thresholds is None:
        return no_good_match(evidence.top_cosine, evidence.top_bm25, evidence.ceiling, evidence.weight)
    if evidence.weight >= 0.5:
        return evidence.top_cosine < limits.dense
    return evidence.keyword_share < limits.keyword


def match_strength(response: SearchResponse) -> float | None:
    """The number a front end shows beside the notice: the best hit's score (for hybrid, the
    best cosine: its rank-fusion score says nothing about closeness)."""
    if not response.hits:
        return None
    if response.mode != "hybrid":
        return response.hits[0].score
    cosines = [hit.cosine for hit in response.hits if hit.cosine is not None]
    return max(cosines) if cosines else response.hits[0].score
