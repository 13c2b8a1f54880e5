"""BM25 as Lucene scores it, over keyword segments: the IDF, a query's ceiling, the top k.

Scores are computed at query time from raw term frequencies, document frequencies and
document lengths, with Lucene's IDF ln(1 + (N - df + 0.5) / (df + 0.5)): the same
weights, to the float32 bit, as a fresh `bm25s` index (method "lucene") of the live
documents, summed in float64. Pure functions; `searchapp.storage.keyword_index` holds
the segments and the statistics.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from searchapp.storage import keyword_kernels
from searchapp.storage.keyword_segments import IntArray, Segment

FloatArray = npt.NDArray[np.float32]
BoolArray = npt.NDArray[np.bool_]
_NO_MASK = np.zeros(0, dtype=np.bool_)


@dataclass(frozen=True, slots=True)
class Corpus:
    """The statistics a score needs: live documents, their total length, the positions'
    capacity, and the BM25 parameters."""

    documents: int
    total_length: int
    capacity: int
    k1: float
    b: float


def lucene_idf(document_frequency: int, documents: int) -> float:
    """BM25's IDF as Lucene (and bm25s's "lucene" method) computes it."""
    return math.log(1 + (documents - document_frequency + 0.5) / (document_frequency + 0.5))


def bm25_ceiling(document_frequencies: Sequence[int], documents: int) -> float:
    """The largest BM25 score a query can reach: the sum of its terms' IDF.

    Lucene's BM25 scores a term ``idf * tf / (tf + k1 * norm)``, below ``idf``; terms
    absent from the index (frequency 0) add nothing. Repeated query terms count each
    time, as the scorer sums them.
    """
    if not documents:
        return 0.0
    return sum(lucene_idf(df, documents) for df in document_frequencies if df > 0)


def top_k(
    segments: Sequence[Segment],
    terms: Sequence[tuple[int, int]],
    corpus: Corpus,
    k: int,
    mask: BoolArray | None,
) -> tuple[IntArray, FloatArray]:
    """Up to `k` (position, score) pairs with a positive score, best first; ties go to the
    lower position. `terms` are (term id, document frequency > 0); `mask[p]` says whether
    position p may come back (positions past its end may not); None admits all."""
    empty = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    if not terms or k <= 0 or not corpus.documents:
        return empty
    avgdl = corpus.total_length / corpus.documents
    spans = [[seg.span(t) for seg in segments] for t, _ in terms]
    scores = np.zeros(corpus.capacity, dtype=np.float64)
    touched = np.empty(sum(e - s for row in spans for s, e in row), dtype=np.int64)
    n = 0
    for (_, df), row in zip(terms, spans, strict=True):
        idf = np.float32(lucene_idf(df, corpus.documents))
        for seg, (start, end) in zip(segments, row, strict=True):
            if end > start:
                n = keyword_kernels.accumulate(
                    scores, touched, n, seg.slots, seg.tfs, start, end, seg.positions,
                    seg.lengths, seg.alive, mask if mask is not None else _NO_MASK, mask is not None,
                    idf, corpus.k1, corpus.b, avgdl,
                )  # fmt: skip
    found = touched[:n]
    values = scores[found].astype(np.float32)
    if len(values) > k:  # keep the k best and everything tied with the k-th, then order those
        kth = np.partition(values, len(values) - k)[len(values) - k]
        found, values = found[values >= kth], values[values >= kth]
    top = np.lexsort((found, -values))[:k]
    return found[top], values[top]
