"""Queries that arrive together are embedded in one pass, each getting its own vector."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import numpy as np
import pytest

from searchapp.embedding.query_batch import QueryBatcher
from searchapp.embedding.tokens import TokenIds


def _vectors(batch: Sequence[TokenIds]) -> np.ndarray:
    return np.array([[float(ids[0]), float(len(ids))] for ids in batch], dtype=np.float32)


def _at_once(embed: object, count: int) -> list[object]:
    results: list[object] = [None] * count
    start = threading.Barrier(count)

    def one(i: int) -> None:
        start.wait()
        try:
            results[i] = embed(np.array([i] * (i + 1), dtype=np.int64))  # type: ignore[operator]
        except Exception as exc:  # the test reads what each query got
            results[i] = exc

    threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    return results


def test_queries_waiting_together_share_a_pass_and_each_gets_its_own_vector() -> None:
    lock, sizes = threading.Lock(), []

    def run(batch: Sequence[TokenIds]) -> np.ndarray:
        sizes.append(len(batch))
        time.sleep(0.05)  # a pass takes a while: others arrive meanwhile
        return _vectors(batch)

    batcher = QueryBatcher(lock, run, most=5)
    results = _at_once(batcher.embed, 12)
    assert [list(r) for r in results] == [[float(i), float(i + 1)] for i in range(12)]  # type: ignore[call-overload]
    assert sum(sizes) == 12 and max(sizes) <= 5 and len(sizes) < 12 and batcher.passes == len(sizes)
    assert batcher.embed(np.array([7], dtype=np.int64)).tolist() == [7.0, 1.0]  # alone: at once


def test_a_failed_pass_fails_every_query_in_it_and_the_next_pass_works() -> None:
    lock, calls = threading.Lock(), []

    def run(batch: Sequence[TokenIds]) -> np.ndarray:
        calls.append(len(batch))
        time.sleep(0.05)
        if len(calls) == 1:
            raise RuntimeError("the model went away")
        return _vectors(batch)

    batcher = QueryBatcher(lock, run)
    results = _at_once(batcher.embed, 4)
    failed = [r for r in results if isinstance(r, RuntimeError)]
    assert len(failed) == calls[0] >= 1  # those in the failed pass, no others
    assert sum(isinstance(r, np.ndarray) for r in results) == len(results) - len(failed)
    assert batcher.embed(np.array([3], dtype=np.int64)).tolist() == [3.0, 1.0]


@pytest.mark.model
def test_real_queries_at_once_match_each_embedded_alone() -> None:
    from searchapp.embedding.embedders import SentenceTransformerEmbedder
    from searchapp.embedding.models import resolve_model

    embedder = SentenceTransformerEmbedder(resolve_model("all-MiniLM-L6-v2"), device="cpu", backend="torch")
    queries = [
        "when are refunds paid",
        "trace trees compile hot loops",
        "x",
        "东京大学",
        "what does the travel policy say about economy class on long flights",
        "budget",
    ] * 3
    alone = np.stack([embedder.embed_query(q) for q in queries])
    passes = embedder._query_batches.passes
    start, together = threading.Barrier(len(queries)), [np.zeros(0)] * len(queries)

    def one(i: int) -> None:
        start.wait()
        together[i] = embedder.embed_query(queries[i])

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(queries))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    cosines = (np.stack(together) * alone).sum(axis=1)
    assert cosines.min() > 0.9999, cosines
    assert embedder._query_batches.passes - passes < len(queries)  # some shared a pass
