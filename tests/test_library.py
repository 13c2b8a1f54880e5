"""Write-path behaviour of a real Chroma store: idempotence, replacement, deletion, recovery."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest

from searchapp import DocumentNotFoundError, Library, ModelMismatchError, Settings
from searchapp.ingest import Ingestor, SourceFile
from searchapp.ingest.files import discover, ingest_paths
from searchapp.ingest.reindex import rebuild_from_originals, reindex
from searchapp.storage.originals import sha256_hex
from searchapp.types import DocumentRecord
from tests.conftest import make_settings, write
from tests.helpers import make_pdf

GUIDE = """# Travel guide

## Packing
Bring a raincoat and sturdy walking shoes for the mountain trails.

## Money
Most shops accept cards, but rural buses only take cash.
"""


def _all_chunks(library: Library) -> dict[str, dict[str, object]]:
    result = library.store.get_chunks()
    return {cid: dict(meta) for cid, meta in zip(result["ids"], result["metadatas"], strict=True)}


def test_ingest_writes_flat_metadata_and_deterministic_ids(hash_library: Library, tmp_path: Path) -> None:
    path = write(tmp_path / "docs" / "guide.md", GUIDE)
    report = ingest_paths(hash_library, [path], tags=["travel"])
    assert [o.status for o in report.outcomes] == ["ingested"]
    doc_id = sha256_hex(path.read_bytes())
    chunks = _all_chunks(hash_library)
    assert sorted(chunks) == [f"{doc_id}:{i}" for i in range(len(chunks))]
    for meta in chunks.values():
        assert None not in meta.values()
        assert meta["doc_id"] == doc_id
        assert meta["source"] == "guide.md"
        assert meta["file_type"] == "md"
        assert meta["title"] == "Travel guide"
        assert meta["tags"] == ["travel"]
        assert isinstance(meta["ingested_at"], int) and isinstance(meta["mtime"], int)
        assert isinstance(meta["start"], int) and isinstance(meta["chunk"], int)
        assert "page" not in meta  # only PDFs have pages
    headings = {meta.get("heading") for meta in chunks.values()}
    assert "Travel guide > Packing" in headings and "Travel guide > Money" in headings
    record = hash_library.document("guide.md")
    assert (record.chunks, record.file_type, record.tags, record.state) == (
        len(chunks),
        "md",
        ("travel",),
        "done",
    )
    assert hash_library.original(doc_id) == path.read_bytes()


def test_reingesting_an_unchanged_file_writes_nothing(hash_library: Library, tmp_path: Path) -> None:
    path = write(tmp_path / "guide.md", GUIDE)
    ingest_paths(hash_library, [path])
    before = _all_chunks(hash_library)
    record_before = hash_library.document("guide.md")
    report = ingest_paths(hash_library, [path])
    assert [(o.status, o.chunks) for o in report.outcomes] == [("unchanged", record_before.chunks)]
    assert _all_chunks(hash_library) == before  # same ids, same ingested_at
    assert hash_library.document("guide.md") == record_before


def test_an_edited_file_replaces_all_its_old_chunks(hash_library: Library, tmp_path: Path) -> None:
    path = write(tmp_path / "guide.md", GUIDE)
    ingest_paths(hash_library, [path], tags=["v1"])
    old_id = hash_library.document("guide.md").doc_id
    write(path, GUIDE.replace("raincoat", "umbrella") + "\n## Food\nTry the dumplings at the night market.\n")
    report = ingest_paths(hash_library, [path])
    assert [o.status for o in report.outcomes] == ["ingested"]
    new = hash_library.document("guide.md")
    assert new.doc_id != old_id
    assert new.tags == ("v1",)  # no new tags given: the old ones stay
    chunks = _all_chunks(hash_library)
    assert {meta["doc_id"] for meta in chunks.values()} == {new.doc_id}
    assert len(chunks) == new.chunks
    assert not hash_library.originals.has(old_id)
    assert len(hash_library.documents()) == 1
    texts = " ".join(hash_library.store.get_chunks()["documents"])
    assert "umbrella" in texts and "raincoat" not in texts


def test_delete_removes_chunks_catalog_and_original(hash_library: Library, tmp_path: Path) -> None:
    keep = write(tmp_path / "keep.txt", "Invoices are due within thirty days of receipt.")
    drop = write(tmp_path / "drop.md", GUIDE)
    ingest_paths(hash_library, [keep, drop])
    dropped = hash_library.delete("drop.md")
    assert {meta["source"] for meta in _all_chunks(hash_library).values()} == {"keep.txt"}
    assert [r.source for r in hash_library.documents(include_pending=True)] == ["keep.txt"]
    assert not hash_library.originals.has(dropped.doc_id)
    with pytest.raises(DocumentNotFoundError, match=r"no document named or with id 'drop\.md'"):
        hash_library.document("drop.md")


def test_same_content_under_another_name_is_not_indexed_twice(hash_library: Library, tmp_path: Path) -> None:
    first = write(tmp_path / "a.txt", "Quarterly revenue grew by eleven percent.")
    second = write(tmp_path / "copy-of-a.txt", first.read_bytes())
    report = ingest_paths(hash_library, [first, second])
    assert [o.status for o in report.outcomes] == ["ingested", "unchanged"]
    assert "same content as 'a.txt'" in report.outcomes[1].detail
    assert len(hash_library.documents()) == 1
    # The copy's tags reach the one document (the upload of a copy with its own tags).
    report = ingest_paths(hash_library, [second], tags=["finance"])
    assert "it now has the tags finance too" in report.outcomes[0].detail, report.outcomes[0]
    assert hash_library.document("a.txt").tags == ("finance",)
    assert [h.source for h in hash_library.search("revenue tag:finance", k=3).hits] == ["a.txt"]
    assert hash_library.search("revenue tag:legal", k=3).hits == ()


@pytest.mark.parametrize("copy_name", ["copy-of-a.txt", "0-copy.txt"], ids=["copy-after", "copy-before"])
def test_editing_one_of_two_identical_files_keeps_the_other_copys_content(
    hash_library: Library, tmp_path: Path, copy_name: str
) -> None:
    """The stored document bears the first copy's name; an edit of that copy must not take
    the bytes the other copy still holds out of the library (they stay, under its name)."""
    folder = tmp_path / "docs"
    write(folder / "a.txt", "The walrus keeps its tusk polished.")
    write(folder / copy_name, "The walrus keeps its tusk polished.")
    ingest_paths(hash_library, [folder])
    named = hash_library.documents()[0].source
    edited = folder / named
    edited.write_text("Penguins huddle together in the cold.")
    report = ingest_paths(hash_library, [folder])
    kept = next(o for o in report.outcomes if o.source != named)
    assert kept.status == "unchanged" and "kept under this name" in kept.detail, report.outcomes
    assert sorted(r.source for r in hash_library.documents()) == sorted({"a.txt", copy_name})
    walrus = hash_library.search("walrus tusk", k=1, mode="keyword").hits
    assert walrus and walrus[0].source != named
    assert hash_library.search("penguins huddle", k=1, mode="keyword").hits[0].source == named
    again = ingest_paths(hash_library, [folder])
    assert [o.status for o in again.outcomes] == ["unchanged", "unchanged"]


def test_a_copy_saved_over_another_file_then_its_original_edited_leaves_one_document_per_name(
    hash_library: Library, tmp_path: Path
) -> None:
    """b.txt held Y; a.txt (X) is copied over it, then a.txt is edited: b.txt now holds X."""
    folder = tmp_path / "docs"
    write(folder / "a.txt", "The walrus keeps its tusk polished.")
    write(folder / "b.txt", "Quarterly revenue grew by eleven percent.")
    ingest_paths(hash_library, [folder])
    (folder / "b.txt").write_bytes((folder / "a.txt").read_bytes())
    (folder / "a.txt").write_text("Penguins huddle together in the cold.")
    ingest_paths(hash_library, [folder])
    records = hash_library.documents()
    assert sorted(r.source for r in records) == ["a.txt", "b.txt"]  # one document per name
    assert hash_library.search("walrus tusk", k=1, mode="keyword").hits[0].source == "b.txt"
    assert not hash_library.search("quarterly revenue eleven", k=5, mode="keyword").hits  # gone from disk


def test_reingest_with_new_tags_retags_without_reembedding(hash_library: Library, tmp_path: Path) -> None:
    path = write(tmp_path / "a.txt", "Quarterly revenue grew by eleven percent.")
    ingest_paths(hash_library, [path], tags=["finance"])
    report = ingest_paths(hash_library, [path], tags=["finance", "q3"])
    assert report.outcomes[0].status == "unchanged" and report.outcomes[0].detail == "tags updated"
    assert hash_library.document("a.txt").tags == ("finance", "q3")
    assert all(meta["tags"] == ["finance", "q3"] for meta in _all_chunks(hash_library).values())


def test_document_lookup_by_name_id_and_prefix(hash_library: Library, tmp_path: Path) -> None:
    path = write(tmp_path / "a.txt", "Quarterly revenue grew by eleven percent.")
    ingest_paths(hash_library, [path])
    doc_id = sha256_hex(path.read_bytes())
    assert hash_library.document("a.txt").doc_id == doc_id
    assert hash_library.document(doc_id).doc_id == doc_id
    assert hash_library.document(doc_id[:10]).doc_id == doc_id
    with pytest.raises(DocumentNotFoundError):
        hash_library.document(doc_id[:4])


def test_pdf_chunks_carry_pages_and_neighbours_are_in_order(hash_library: Library) -> None:
    pages = [f"Page {n} talks about topic number {n}. " * 30 for n in range(1, 5)]
    files = [SourceFile(source="topics.pdf", data=make_pdf(pages, title="Topics"))]
    with Ingestor(hash_library) as ingestor:
        report = ingestor.ingest(files)
    assert report.outcomes[0].status == "ingested"
    record = hash_library.document("topics.pdf")
    assert (record.pages, record.title) == (4, "Topics")
    chunks = _all_chunks(hash_library)
    assert {meta["page"] for meta in chunks.values()} == {1, 2, 3, 4}
    middle = record.chunks // 2
    around = hash_library.neighbours(record.doc_id, middle)
    assert [index for index, _ in around] == [middle - 1, middle, middle + 1]


def test_one_bad_file_never_kills_the_batch(hash_library: Library, tmp_path: Path) -> None:
    good = write(tmp_path / "in" / "good.txt", "Payroll runs on the last business day.")
    write(tmp_path / "in" / "empty.txt", b"")
    write(tmp_path / "in" / "image.txt", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    write(tmp_path / "in" / "broken.pdf", b"%PDF-1.4\n1 0 obj << /Type /Catalog >>\ntruncated")
    write(tmp_path / "in" / "locked.pdf", make_pdf(["secret plans"], encrypt_user_password="hunter2"))
    write(tmp_path / "in" / "notes.rtf", "{\\rtf1 hello}")
    write(tmp_path / "in" / "~$good.docx", b"\x0bfred     ")  # Word's owner file of an open document
    found = discover([tmp_path / "in"])
    assert [p.name for p in found.skipped] == ["notes.rtf"]
    assert "~$good.docx" not in {f.source for f in found.files}  # not a document, not a failure
    report = ingest_paths(
        hash_library, [*(f.path for f in found.files if f.path), tmp_path / "in" / "notes.rtf"]
    )
    outcome = {o.source: o for o in report.outcomes}
    assert outcome["good.txt"].status == "ingested"
    assert outcome["empty.txt"].reason is not None and outcome["empty.txt"].reason.value == "empty_file"
    assert outcome["image.txt"].reason is not None and outcome["image.txt"].reason.value == "not_text"
    assert outcome["broken.pdf"].reason is not None and outcome["broken.pdf"].reason.value == "damaged_pdf"
    assert (
        outcome["locked.pdf"].reason is not None
        and outcome["locked.pdf"].reason.value == "password_protected"
    )
    assert outcome["notes.rtf"].reason is not None and outcome["notes.rtf"].reason.value == "unsupported_type"
    assert [r.source for r in hash_library.documents(include_pending=True)] == ["good.txt"]
    assert {meta["source"] for meta in _all_chunks(hash_library).values()} == {"good.txt"}
    assert good.exists()
    assert sum(1 for _ in hash_library.originals.ids()) == 1  # nothing kept for failed files


def test_a_crash_mid_write_is_finished_on_the_next_ingest(hash_library: Library, tmp_path: Path) -> None:
    old = write(tmp_path / "guide.md", GUIDE)
    ingest_paths(hash_library, [old])
    old_record = hash_library.document("guide.md")
    new_bytes = GUIDE.replace("cash", "coins").encode()
    new_id = sha256_hex(new_bytes)
    # What a crash after step 3 of Library.write_document leaves: the new original kept,
    # a pending record naming the version it replaces, the old chunks gone, a partial new chunk.
    hash_library.originals.put(new_bytes)
    pending = dataclasses.replace(old_record, doc_id=new_id, state="pending", replaces=old_record.doc_id)
    hash_library.store.catalog.put_record(pending)
    hash_library.store.delete_chunks_of([old_record.doc_id])
    vector = hash_library.embedder.embed_documents(["partial"])
    hash_library.store.add_chunks([f"{new_id}:0"], vector, ["partial"], [{"doc_id": new_id, "chunk": 0}])
    assert [r.doc_id for r in hash_library.pending_documents()] == [new_id]
    assert hash_library.documents()[0].doc_id == old_record.doc_id  # old record still listed

    with Ingestor(hash_library) as ingestor:
        report = ingestor.resume_pending()
    assert [(o.source, o.status) for o in report.outcomes] == [("guide.md", "ingested")]
    records = hash_library.documents(include_pending=True)
    assert [(r.doc_id, r.state) for r in records] == [(new_id, "done")]
    chunks = _all_chunks(hash_library)
    assert {meta["doc_id"] for meta in chunks.values()} == {new_id}
    assert len(chunks) == records[0].chunks
    assert "partial" not in hash_library.store.get_chunks()["documents"]
    # And nothing is left to do the next time.
    with Ingestor(hash_library) as ingestor:
        assert ingestor.resume_pending().outcomes == ()


def test_opening_with_another_model_is_refused(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, model="hash:64")
    with Library.open(settings):
        pass
    with pytest.raises(
        ModelMismatchError, match=r"holds vectors from model 'hash:64' \(64-d\).*'hash:32' \(32-d\)"
    ):
        Library.open(settings.with_overrides(model="hash:32"))


def test_reindex_rebuilds_from_originals_and_can_switch_models(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, model="hash:64", chunk_tokens=40, chunk_overlap=5)
    a = write(tmp_path / "a.md", GUIDE)
    b = write(tmp_path / "b.txt", "Payroll runs on the last business day of the month.")
    library = Library.open(settings)
    ingest_paths(library, [a, b], tags=["t"])
    before = {r.source: (r.doc_id, r.chunks, r.tags) for r in library.documents()}
    library, report = reindex(library)
    assert sorted(o.status for o in report.outcomes) == ["ingested", "ingested"]
    assert {r.source: (r.doc_id, r.chunks, r.tags) for r in library.documents()} == before
    assert library.store.count_chunks() == sum(c for _, c, _ in before.values())

    library, report = reindex(library, model="hash:32")
    assert library.model.name == "hash:32"
    assert library.store.collection_metadata["model"] == "hash:32"
    assert library.search("walking shoes for trails", k=1).hits[0].source == "a.md"
    names = {c.name for c in library.store.client.list_collections()}
    assert names == {"documents", "documents.catalog"}
    library.close()
    with pytest.raises(ModelMismatchError):
        Library.open(settings)  # still configured for hash:64


def test_an_interrupted_reindex_swap_is_finished_on_open(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, model="hash:64")
    path = write(tmp_path / "a.txt", "Quarterly revenue grew by eleven percent.")
    with Library.open(settings) as library:
        ingest_paths(library, [path])
    rebuild_settings = settings.with_overrides(collection="documents-rebuild")
    with Library.open(rebuild_settings) as rebuilt:
        ingest_paths(rebuilt, [path])
        rebuilt.store.mark_rebuild_complete()
        rebuilt.store.client.delete_collection("documents")  # crash right after dropping the old one
    with Library.open(settings) as library:
        assert [r.source for r in library.documents()] == ["a.txt"]
        assert library.store.count_chunks() == 1
        assert {c.name for c in library.store.client.list_collections()} == {"documents", "documents.catalog"}


def test_document_records_round_trip_through_chroma_metadata() -> None:
    record = DocumentRecord(
        doc_id="f" * 64,
        source="x.pdf",
        file_type="pdf",
        title="X",
        size=10,
        chunks=3,
        ingested_at=5,
        pages=2,
        tags=("a", "b"),
        warnings=("1 of 2 pages have no text layer",),
    )
    meta = record.to_metadata()
    assert None not in meta.values()
    assert DocumentRecord.from_metadata(meta) == record


def test_the_lock_is_shared_within_one_process(hash_settings: Settings) -> None:
    with Library.open(hash_settings) as first, Library.open(hash_settings) as second:
        assert first.stats().documents == second.stats().documents == 0


def test_the_same_name_twice_in_one_batch_stores_the_last(hash_library: Library, tmp_path: Path) -> None:
    first = write(tmp_path / "a" / "notes.txt", "The first notes file, about invoices.")
    second = write(tmp_path / "b" / "notes.txt", "The second notes file, about payroll.")
    report = ingest_paths(hash_library, [first, second])
    assert [(o.source, o.status) for o in report.outcomes] == [
        ("notes.txt", "unchanged"),
        ("notes.txt", "ingested"),
    ]
    assert "a later file in this batch has the same name" in report.outcomes[0].detail
    assert [r.doc_id for r in hash_library.documents()] == [sha256_hex(second.read_bytes())]


def test_one_batch_edits_many_names_with_one_catalog_read_for_all_of_them(
    hash_library: Library, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Edits in one commit each replace their own name's version and keep its tags; the
    names' old versions are read from the catalog together when committed, not once more
    per document."""
    names = [f"policy-{n}.md" for n in range(12)]
    for name in names:
        write(tmp_path / "v1" / name, f"# {name}\n\nVersion one of {name}: invoices are due in thirty days.")
    ingest_paths(hash_library, [tmp_path / "v1"], tags=["v1"])
    old = {r.source: r.doc_id for r in hash_library.documents()}
    for name in names[:8]:  # eight edits and two new names, in one batch
        write(tmp_path / "v2" / name, f"# {name}\n\nVersion two of {name}: invoices are due in sixty days.")
    for extra in ("new-a.md", "new-b.md"):
        write(tmp_path / "v2" / extra, f"# {extra}\n\nA new page about parking permits.")
    reads: list[object] = []
    catalog = hash_library.store.catalog
    records = catalog.records

    def counted(where: dict[str, object] | None = None) -> list[DocumentRecord]:
        reads.append(where)
        return records(where)

    monkeypatch.setattr(catalog, "records", counted)
    report = ingest_paths(hash_library, [tmp_path / "v2"])
    assert sorted(o.status for o in report.outcomes) == ["ingested"] * 10
    # Each file is admitted by its name (one read each); the commit reads all ten names at once.
    by_name = [w for w in reads if isinstance(w, dict) and isinstance(w.get("source"), str)]
    together = [
        w["source"]["$in"] for w in reads if isinstance(w, dict) and isinstance(w.get("source"), dict)
    ]
    assert len(by_name) == 10 and len(together) == 1
    assert sorted(together[0]) == sorted([*names[:8], "new-a.md", "new-b.md"])
    after = {r.source: r for r in hash_library.documents()}
    assert sorted(after) == sorted([*names, "new-a.md", "new-b.md"])
    for name in names:
        assert (after[name].doc_id != old[name]) == (name in names[:8])
        assert after[name].tags == ("v1",)  # an edit keeps the version's tags
    assert after["new-a.md"].tags == ()
    stored = {meta["doc_id"] for meta in _all_chunks(hash_library).values()}
    assert stored == {r.doc_id for r in after.values()}  # no old version's chunk is left
    assert not any(hash_library.originals.has(old[name]) for name in names[:8])


FIRST_INGESTED = 1_767_225_600  # 2026-01-01: long before any test runs


def test_a_reingest_a_reindex_and_a_rebuild_from_originals_keep_each_documents_first_ingest_date(
    tmp_path: Path,
) -> None:
    """Dates filter searches ("ingested before"): rebuilding the index must not make every
    document new. Only a new version of a file gets a new date."""
    settings = make_settings(tmp_path, model="hash:64", chunk_tokens=40, chunk_overlap=5)
    old_file = SourceFile("policy.md", data=GUIDE.encode(), ingested_at=FIRST_INGESTED)
    library = Library.open(settings)
    with Ingestor(library) as ingestor:
        ingestor.ingest([old_file, SourceFile("today.txt", data=b"Payroll runs on the last day.")])
    before_2027 = {"ingested_before": FIRST_INGESTED + 86_400}

    def dated(library: Library) -> None:
        assert library.document("policy.md").ingested_at == FIRST_INGESTED
        assert library.document("today.txt").ingested_at > FIRST_INGESTED + 86_400
        assert {m["ingested_at"] for m in _all_chunks(library).values() if m["source"] == "policy.md"} == {
            FIRST_INGESTED
        }
        hits = library.search("trail shoes raincoat", k=10, filters=before_2027, mode="keyword").hits
        assert hits and {h.source for h in hits} == {"policy.md"}

    dated(library)
    with Ingestor(library) as ingestor:  # read again from its original (the Library page's button)
        assert ingestor.reingest([library.document("policy.md").doc_id]).outcomes[0].status == "ingested"
    dated(library)
    library, _ = reindex(library)
    dated(library)
    library.close()
    shutil.rmtree(settings.chroma_dir)  # an unreadable store: rebuilt from the originals' sidecars
    settings.chroma_dir.mkdir()
    library, _ = rebuild_from_originals(settings)
    try:
        dated(library)
    finally:
        library.close()
