"""Searches beside writes in one process: the store's writes wait for a search in flight, and
a search never waits for the local index's write transaction (searchapp.storage.search_gate)."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from searchapp import Library
from searchapp.storage import local_rows
from searchapp.storage.local_index import ChunkRow, LocalIndex
from searchapp.storage.search_gate import SEARCHING_BATCH, SearchGate
from searchapp.types import DocumentRecord


def _record(doc_id: str) -> DocumentRecord:
    return DocumentRecord(
        doc_id=doc_id, source=f"{doc_id}.txt", file_type="txt", title=doc_id, size=1, chunks=1, ingested_at=1
    )


def test_a_write_waits_for_the_search_in_flight_and_no_longer(hash_library: Library) -> None:
    gate = hash_library.store.search_gate
    events: list[str] = []
    catalog = hash_library.store._catalog_collection()._collection
    real_upsert = catalog.upsert

    def upsert(*args: Any, **kwargs: Any) -> Any:
        events.append("write")
        return real_upsert(*args, **kwargs)

    catalog.upsert = upsert
    searching = threading.Event()

    def search() -> None:
        with gate.searching():
            searching.set()
            time.sleep(0.2)  # well inside the gate's 0.5 s bound
            events.append("search done")

    thread = threading.Thread(target=search)
    thread.start()
    searching.wait(5)
    hash_library.store.catalog.put_records([_record("a" * 64)])
    thread.join()
    assert events == ["search done", "write"]
    # With no search in flight, a write goes at once.
    hash_library.store.catalog.put_records([_record("b" * 64)])
    assert events[-1] == "write"
    assert {r.doc_id for r in hash_library.store.catalog.records()} >= {"a" * 64, "b" * 64}


def test_a_steady_stream_of_searches_delays_a_write_but_never_stops_it() -> None:
    gate = SearchGate(max_wait_s=0.05)
    with gate.searching():
        waited = threading.Thread(target=gate.before_write)
        waited.start()
        waited.join(5)  # the search is still in flight: the bound lets the write go
        assert not waited.is_alive()
        gate.before_write()  # a search's own thread never waits for itself


def test_writes_go_in_small_pieces_only_while_searches_come() -> None:
    gate = SearchGate(recent_s=0.2)
    assert gate.write_batch(5000) == 5000
    with gate.searching():
        assert gate.write_batch(5000) == SEARCHING_BATCH
        assert gate.write_batch(4) == 4
    assert gate.write_batch(5000) == SEARCHING_BATCH  # one ended a moment ago
    time.sleep(0.25)
    assert gate.write_batch(5000) == 5000


def test_chunk_writes_in_pieces_store_every_chunk(hash_library: Library, tmp_path: Path) -> None:
    """Pieces while searching lose nothing: every chunk and record of a big batch is written."""
    from searchapp.ingest.files import ingest_paths

    folder = tmp_path / "docs"
    folder.mkdir()
    for i in range(3):
        (folder / f"long{i}.txt").write_text(" ".join(f"word{j} apple river{i}" for j in range(2000)))
    chunks = hash_library.store.chunks._collection
    real_add, sizes = chunks.add, []

    def add(*args: Any, **kwargs: Any) -> Any:
        sizes.append(len(kwargs["ids"]))
        return real_add(*args, **kwargs)

    chunks.add = add
    gate = hash_library.store.search_gate
    gate.recent_s = 600.0
    with gate.searching():
        pass  # one search ended a moment ago: every write of the ingest goes in pieces
    report = ingest_paths(hash_library, [folder], recursive=True)
    written = sum(o.chunks for o in report.outcomes)
    assert written > SEARCHING_BATCH * 3 and max(sizes) == SEARCHING_BATCH and sum(sizes) == written
    assert hash_library.store.count_chunks() == hash_library.local.count == written
    assert len(hash_library.documents()) == 3


def _row(i: int, doc: str) -> ChunkRow:
    vector = np.zeros(8, dtype=np.float32)
    vector[i % 8] = 1.0
    return ChunkRow(f"{doc}:{i}", f"text {i} of {doc}", {"doc_id": doc, "chunk": i}, vector)


def test_a_search_reads_the_index_beside_a_write_transaction(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    index = LocalIndex(tmp_path / "idx", dimension=8, mirror_vectors=True)
    index.apply(generation="g1", add=[_row(i, "old") for i in range(4)])
    inside, release = threading.Event(), threading.Event()
    real_insert = local_rows.Rows.insert

    def slow_insert(self: local_rows.Rows, chunks: Any, *, vectors: bool) -> list[int]:
        rows = real_insert(self, chunks, vectors=vectors)
        inside.set()
        assert release.wait(10)  # the write's transaction stays open until the search is done
        return rows

    monkeypatch.setattr(local_rows.Rows, "insert", slow_insert)
    writer = threading.Thread(
        target=lambda: index.apply(generation="g2", delete_docs=["old"], add=[_row(0, "new")])
    )
    writer.start()
    try:
        assert inside.wait(10)
        query = np.eye(8, dtype=np.float32)[0]
        positions, _ = index.dense_search(query, 10, np.ones(4, dtype=np.bool_))
        found = index.chunks(list(positions))
        # What was committed, whole: the old document, none of the new one.
        assert sorted(c.chunk_id for c in found) == [f"old:{i}" for i in range(4)]
        assert index.generation == "g1"
    finally:
        release.set()
        writer.join(10)
    assert index.generation == "g2"
    assert [c.chunk_id for c in index.chunks(list(range(index.count + 4)))] == ["new:0"]
    index.close()
