"""`SourceFile.external_id`: the caller's id travels onto every chunk and the catalog record.

The evaluation maps hits back to corpus ids through it, so it must survive a resumed
(crash-interrupted) ingestion and a reindex too.
"""

from __future__ import annotations

import dataclasses

from searchapp import Library
from searchapp.ingest import Ingestor, SourceFile
from searchapp.ingest.reindex import reindex


def _chunk_metas(library: Library, doc_id: str) -> list[dict[str, object]]:
    result = library.store.get_chunks(where={"doc_id": doc_id})
    return [dict(m) for m in result["metadatas"]]


def _ingest(library: Library, *files: SourceFile) -> dict[str, str]:
    with Ingestor(library, workers=1) as ingestor:
        report = ingestor.ingest(files)
    assert not report.failed, report.to_dict()
    return {o.source: o.doc_id for o in report.outcomes}


LONG = " ".join(f"word{i} sentence about topic {i % 7}." for i in range(60))


def test_external_id_is_written_to_chunks_and_record(hash_library: Library) -> None:
    ids = _ingest(
        hash_library,
        SourceFile(source="a.txt", data=LONG.encode(), external_id="corpus-17"),
        SourceFile(source="b.txt", data=b"no external id here"),
    )
    metas = _chunk_metas(hash_library, ids["a.txt"])
    assert len(metas) > 1  # several chunks, each carries the id
    assert {m["external_id"] for m in metas} == {"corpus-17"}
    assert all("external_id" not in m for m in _chunk_metas(hash_library, ids["b.txt"]))
    record = hash_library.find_by_id(ids["a.txt"])
    assert record is not None and record.external_id == "corpus-17"
    other = hash_library.find_by_id(ids["b.txt"])
    assert other is not None and other.external_id == ""
    assert other.to_metadata()["external_id"] == ""  # fixed key set: an upsert replaces it
    hits = hash_library.search("word3 sentence about topic", k=3).hits
    assert hits[0].metadata["external_id"] == "corpus-17"


def test_external_id_survives_resume_of_an_interrupted_ingest(hash_library: Library) -> None:
    ids = _ingest(hash_library, SourceFile(source="a.txt", data=LONG.encode(), external_id="x-1"))
    record = hash_library.find_by_id(ids["a.txt"])
    assert record is not None
    # What a crash between "pending" and "done" leaves behind: a pending record, no chunks.
    hash_library.store.catalog.put_record(dataclasses.replace(record, state="pending"))
    hash_library.store.delete_chunks_of([record.doc_id])
    with Ingestor(hash_library, workers=1) as ingestor:
        report = ingestor.resume_pending()
    assert [o.status for o in report.outcomes] == ["ingested"]
    metas = _chunk_metas(hash_library, record.doc_id)
    assert metas and {m["external_id"] for m in metas} == {"x-1"}


def test_external_id_survives_reindex(hash_library: Library) -> None:
    ids = _ingest(hash_library, SourceFile(source="a.txt", data=LONG.encode(), external_id="x-2"))
    reopened, report = reindex(hash_library, workers=1)
    try:
        assert not report.failed
        metas = _chunk_metas(reopened, ids["a.txt"])
        assert metas and {m["external_id"] for m in metas} == {"x-2"}
        record = reopened.find_by_id(ids["a.txt"])
        assert record is not None and record.external_id == "x-2"
    finally:
        reopened.close()
