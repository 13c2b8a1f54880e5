"""Keyword (BM25) retrieval: tokenizing text the way the index does, and the index itself.

Tokens are case-folded words, Snowball-stemmed (English) with Lucene's English stopwords
removed, as in the standard BM25 baselines (Anserini, Elasticsearch). Scripts written
without spaces (CJK, Thai) become overlapping character bigrams, so a Chinese query still
matches Chinese text. The BM25 index over these terms is `searchapp.keyword_index`
(Lucene scoring with Lucene's and Elasticsearch's defaults k1=1.2, b=0.75).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

_UNSPACED = "\u0e00-\u0e7f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
_TOKEN_RE = re.compile(rf"[{_UNSPACED}]+|[^\W_{_UNSPACED}]+", re.UNICODE)
_UNSPACED_RE = re.compile(rf"[{_UNSPACED}]")


@lru_cache(maxsize=1)
def _stemmer() -> Any:
    import Stemmer

    return Stemmer.Stemmer("english")


# Lucene's English stop words (StopAnalyzer), as in Anserini's and Elasticsearch's BM25.
STOPWORDS = frozenset(
    "a an and are as at be but by for if in into is it no not of on or such that the their then "
    "there these they this to was will with".split()
)


def keyword_tokens(text: str) -> list[str]:
    """The index terms of a text: stemmed words, and bigrams for unspaced scripts."""
    stop = STOPWORDS
    words: list[str] = []
    out: list[str] = []
    for match in _TOKEN_RE.finditer(text.casefold()):
        token = match.group()
        if _UNSPACED_RE.match(token):
            out.extend(token[i : i + 2] for i in range(max(1, len(token) - 1)))
        elif token not in stop and (len(token) > 1 or token.isdigit()):
            words.append(token)
    if words:
        out.extend(_stemmer().stemWords(words))
    return out


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
