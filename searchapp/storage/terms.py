"""The terms of a text for keyword (BM25) search: how both the index and a query are analysed.

Tokens are case-folded words, Snowball-stemmed (English) with Lucene's English stopwords
removed, as in the standard BM25 baselines (Anserini, Elasticsearch). Scripts written
without spaces (CJK, Thai) become overlapping character bigrams, so a Chinese query still
matches Chinese text.
"""

from __future__ import annotations

import re
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
