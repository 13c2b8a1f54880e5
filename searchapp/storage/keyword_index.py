"""BM25 over the chunks of one collection: the index, its persistence and its scoring.

BM25 itself is `bm25s` (sparse matrices, Lucene scoring) with Lucene's and Elasticsearch's
general-purpose defaults k1=1.2, b=0.75; the terms come from `searchapp.storage.terms`.
"""

from __future__ import annotations

import json
import math
import shutil
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

BM25_K1 = 1.2
BM25_B = 0.75


class KeywordIndex:
    """BM25 over a list of token lists; rebuilt as a whole when the corpus changes.

    BM25 weights depend on corpus-wide statistics (IDF, average length), so an edit means
    rebuilding; bm25s does that in seconds for 100k chunks. Rebuilds are lazy: writes mark
    the index stale, and the next keyword search (or `refresh`) rebuilds it once.
    """

    def __init__(self) -> None:
        self._retriever: Any = None
        self._rows: npt.NDArray[np.int64] = np.zeros(0, dtype=np.int64)
        self._built = False
        self._lock = threading.Lock()

    @property
    def built(self) -> bool:
        """True once an index was built or adopted (even one of an empty corpus)."""
        return self._built

    def build(self, tokens: Sequence[Sequence[str]], rows: npt.NDArray[np.int64]) -> None:
        """Index `tokens[i]` as local row `rows[i]`."""
        import bm25s

        retriever = None
        if len(rows):
            retriever = bm25s.BM25(k1=BM25_K1, b=BM25_B, method="lucene")
            retriever.index([list(t) for t in tokens], show_progress=False)
        with self._lock:
            self._retriever = retriever
            self._rows = rows
            self._built = True

    def save(self, directory: Path, stamp: str, row_ids: npt.NDArray[np.int64]) -> None:
        """Persist the index with `stamp`; `row_ids` name the rows in a process-independent way."""
        with self._lock:
            retriever = self._retriever
        if retriever is None:
            return
        partial = directory.with_name(directory.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        retriever.save(str(partial), show_progress=False)
        np.save(partial / "rows.npy", row_ids, allow_pickle=False)
        (partial / "stamp.json").write_text(json.dumps({"stamp": stamp}), encoding="utf-8")
        shutil.rmtree(directory, ignore_errors=True)
        partial.rename(directory)

    @staticmethod
    def load(directory: Path, stamp: str) -> tuple[Any, npt.NDArray[np.int64]] | None:
        """A saved (retriever, row ids) pair if its stamp matches; None otherwise."""
        import bm25s

        try:
            saved = json.loads((directory / "stamp.json").read_text(encoding="utf-8"))
            if saved.get("stamp") != stamp:
                return None
            rows = np.load(directory / "rows.npy", allow_pickle=False)
            return bm25s.BM25.load(str(directory), mmap=False), rows.astype(np.int64)
        except (OSError, ValueError, KeyError):
            return None

    def adopt(self, retriever: Any, rows: npt.NDArray[np.int64]) -> None:
        with self._lock:
            self._retriever = retriever
            self._rows = rows
            self._built = True

    def ceiling(self, query_tokens: Sequence[str]) -> float:
        """The most any passage could score for these tokens: the sum of their IDFs.

        Lucene's BM25 gives a term at most its IDF (the tf part stays below 1). A token
        the corpus lacks counts with document frequency 0, so its absence lowers the
        share a passage reaches (`searchapp.retrieval.scoring.keyword_score`).
        """
        with self._lock:
            retriever = self._retriever
        if retriever is None or not query_tokens:
            return 0.0
        indptr = retriever.scores["indptr"]
        documents = int(retriever.scores["num_docs"])
        vocab: dict[str, int] = retriever.vocab_dict
        total = 0.0
        for token in query_tokens:
            term = vocab.get(token, len(indptr))
            df = int(indptr[term + 1] - indptr[term]) if term < len(indptr) - 1 else 0
            total += math.log(1.0 + (documents - df + 0.5) / (df + 0.5))
        return total

    def search(
        self, query_tokens: list[str], k: int, row_mask: npt.NDArray[np.bool_] | None
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
        """Up to `k` (row, BM25 score) pairs with a positive score, best first (ties: lower row).

        `row_mask` is indexed by local row; rows outside it never come back.
        """
        with self._lock:
            retriever, rows = self._retriever, self._rows
        empty = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        if retriever is None or not query_tokens or not len(rows):
            return empty
        admitted = None
        if row_mask is not None:
            if len(row_mask) <= int(rows.max()):
                # Rows written after this query's filter was computed are not part of it.
                row_mask = np.concatenate(
                    [row_mask, np.zeros(int(rows.max()) + 1 - len(row_mask), dtype=np.bool_)]
                )
            admitted = row_mask[rows]
        documents, scores = bm25_scores(retriever, query_tokens, admitted)
        if len(scores) > k:  # keep the k best and everything tied with the k-th, then order those
            kth = np.partition(scores, len(scores) - k)[len(scores) - k]
            documents, scores = documents[scores >= kth], scores[scores >= kth]
        top = np.lexsort((documents, -scores))[:k]
        return rows[documents[top]], scores[top]


def bm25_scores(
    retriever: Any, query_tokens: Sequence[str], admitted: npt.NDArray[np.bool_] | None
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
    """(document, BM25 score) for every document that holds a query term and is `admitted`.

    The same sums as `bm25s.BM25.get_scores` (its per-term scores are precomputed, Lucene's
    BM25 has no score for absent terms), but reading only the query terms' postings and
    summing with `bincount`: bm25s scatters with `np.add.at` and starts a thread and a
    progress bar per query, which cost more than the scoring at 100k chunks.
    """
    matrix = retriever.scores
    indptr, indices, data = matrix["indptr"], matrix["indices"], matrix["data"]
    vocab: dict[str, int] = retriever.vocab_dict
    terms = [vocab[t] for t in query_tokens if vocab.get(t, len(indptr)) < len(indptr) - 1]
    if not terms:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    documents = np.concatenate([indices[indptr[t] : indptr[t + 1]] for t in terms])
    weights = np.concatenate([data[indptr[t] : indptr[t + 1]] for t in terms])
    if admitted is not None:
        keep = admitted[documents]
        documents, weights = documents[keep], weights[keep]
    totals = np.bincount(documents, weights=weights, minlength=int(matrix["num_docs"]))
    found = np.flatnonzero(totals > 0)
    return found.astype(np.int64), totals[found].astype(np.float32)
