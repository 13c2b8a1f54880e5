"""Ranking the candidates of one request, in each of the four modes, into scored entries.

- **adaptive** (the default): both lists fused with weights read from the query: how
  much of it the embedding model can read, and how decisive BM25's best match is
  (`searchapp.retrieval.fusion`).
- **hybrid**: the two rankings fused by reciprocal rank, with fixed weights.
- **dense**: nearest passages by cosine similarity of embeddings.
- **keyword**: BM25 over the same chunks.

Pure: candidates in (`searchapp.storage.chunk_index.Candidates`), a `Ranking` out. Each
entry carries the score the ranking used (0-1, `searchapp.retrieval.scoring`), its
cosine where a list gave it, its rank in each list, its BM25 score and the fused value.
"""

from __future__ import annotations

from dataclasses import dataclass

from searchapp.request import PreparedQuery
from searchapp.retrieval.fusion import RRF_K, dense_weight, fuse, keyword_gap, reciprocal_rank_fusion
from searchapp.retrieval.scoring import (
    Evidence,
    NoMatch,
    dense_score,
    fused_score,
    keyword_score,
    weak_match,
)
from searchapp.storage.chunk_index import Candidates, Scored

# Each list contributes this many candidates to the fusion (at least the depth asked for).
FUSION_CANDIDATES = 100


@dataclass(frozen=True, slots=True)
class Ranked:
    """One ranked candidate: its score and how it got it (None where a list did not say)."""

    chunk_id: str
    score: float
    cosine: float | None = None
    fused: float | None = None
    dense_rank: int | None = None
    keyword_rank: int | None = None
    keyword_score: float | None = None


@dataclass(frozen=True, slots=True)
class Ranking:
    """Ranked entries, best first, and what the candidate lists said about the best match."""

    entries: tuple[Ranked, ...]
    weak: bool
    dense_weight: float | None = None


def evidence_of(query: PreparedQuery, found: Candidates) -> Evidence:
    """What the candidate lists say about the query's best match, and the lists' weights."""
    return Evidence(
        top_cosine=found.dense[0][1] if found.dense else -1.0,
        top_bm25=found.keyword[0][1] if found.keyword else 0.0,
        ceiling=found.ceiling,
        readable=query.readable,
        weight=dense_weight(query.readable, keyword_gap([score for _, score in found.keyword])),
    )


def rank(
    mode: str, query: PreparedQuery, found: Candidates, depth: int, no_match: NoMatch | None = None
) -> Ranking:
    """The best `depth` candidates in `mode`, with the verdict on the best match (by the
    library's calibrated `no_match` thresholds where it has them)."""
    evidence = evidence_of(query, found)
    if mode == "dense":
        scored = [(cid, dense_score(cosine)) for cid, cosine in found.dense[:depth]]
        return Ranking(_entries(scored, found.dense, []), weak_match(mode, evidence, no_match))
    if mode == "keyword":
        scored = [(cid, keyword_score(bm25, found.ceiling)) for cid, bm25 in found.keyword[:depth]]
        return Ranking(_entries(scored, [], found.keyword), weak_match(mode, evidence, no_match))
    if mode == "hybrid":
        ids = list(dict.fromkeys([cid for cid, _ in found.dense] + [cid for cid, _ in found.keyword]))
        index = {cid: i for i, cid in enumerate(ids)}
        rankings = [[index[c] for c, _ in found.dense], [index[c] for c, _ in found.keyword]]
        rrf = {ids[item]: score for item, score in reciprocal_rank_fusion(rankings)[:depth]}
        scored = [(cid, fused_score(score, lists=2, rank_constant=RRF_K)) for cid, score in rrf.items()]
    else:
        fused = fuse(found.dense, found.keyword, evidence.weight)[:depth]
        # The fused scores are relative to each list's best; scaled by the best match's
        # strength they keep their order and say how good the best match is.
        strength = evidence.strength
        scored = [(cid, score * strength) for cid, score in fused]
        rrf = dict(fused)
    entries = _entries(scored, found.dense, found.keyword, fused=rrf)
    return Ranking(entries, weak_match(mode, evidence, no_match), evidence.weight)


def _entries(
    scored: list[tuple[str, float]], dense: Scored, keyword: Scored, *, fused: dict[str, float] | None = None
) -> tuple[Ranked, ...]:
    cosine = dict(dense)
    dense_rank = {cid: rank for rank, (cid, _) in enumerate(dense, start=1)}
    keyword_rank = {cid: (rank, bm25) for rank, (cid, bm25) in enumerate(keyword, start=1)}
    entries = []
    for cid, score in scored:
        place = keyword_rank.get(cid)
        entries.append(
            Ranked(
                chunk_id=cid,
                score=score,
                cosine=cosine.get(cid),
                fused=None if fused is None else fused.get(cid),
                dense_rank=dense_rank.get(cid) if dense else None,
                keyword_rank=place[0] if place else None,
                keyword_score=place[1] if place else None,
            )
        )
    return tuple(entries)
