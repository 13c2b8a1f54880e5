"""A full disk: a clean error, nothing partial, and full recovery once space is freed."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from searchapp import Library, StorageFullError, StoreUnavailableError
from searchapp.health import check_library
from searchapp.ingest.files import ingest_paths
from tests.conftest import make_settings, write


def test_a_failed_write_leaves_nothing_behind(
    hash_library: Library, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ingest_paths(hash_library, [write(tmp_path / "keep.txt", "Invoices are due in thirty days.")])
    before = hash_library.store.count_chunks()

    def lost(*args: object, **kwargs: object) -> None:
        raise StoreUnavailableError("writing chunks failed: the Chroma server stopped answering")

    monkeypatch.setattr(hash_library.store, "add_chunks", lost)
    report = ingest_paths(hash_library, [write(tmp_path / "new.txt", "A brand new note about payroll.")])
    assert report.outcomes[0].status == "failed"
    assert [r.source for r in hash_library.documents(include_pending=True)] == ["keep.txt"]
    assert hash_library.store.count_chunks() == before
    assert sum(1 for _ in hash_library.originals.ids()) == 1
    # An edited file whose write fails leaves the old version whole and searchable.
    old = hash_library.document("keep.txt")
    write(tmp_path / "keep.txt", "Invoices are now due in fourteen days.")
    assert ingest_paths(hash_library, [tmp_path / "keep.txt"]).outcomes[0].status == "failed"
    assert hash_library.documents(include_pending=True) == [old]
    assert "thirty" in hash_library.search("when are invoices due", k=1).hits[0].text
    monkeypatch.undo()
    assert [o.status for o in ingest_paths(hash_library, [tmp_path / "keep.txt"]).outcomes] == ["ingested"]
    assert "fourteen" in hash_library.search("when are invoices due", k=1).hits[0].text
    assert check_library(hash_library).ok


def test_after_a_full_disk_writes_wait_for_space(
    hash_library: Library, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Writing to Chroma again on a full disk can wedge it: hold writes until space is back."""
    ingest_paths(hash_library, [write(tmp_path / "keep.txt", "Invoices are due in thirty days.")])
    real_add = hash_library.store.add_chunks

    def full(*args: object, **kwargs: object) -> None:
        raise StorageFullError("writing chunks failed: the disk holding the data directory is full")

    monkeypatch.setattr(hash_library.store, "add_chunks", full)
    report = ingest_paths(hash_library, [write(tmp_path / "new.txt", "A brand new note about payroll.")])
    assert report.outcomes[0].reason is not None and report.outcomes[0].reason.value == "storage_full"
    assert [(r.source, r.state) for r in hash_library.documents(include_pending=True)] == [
        ("keep.txt", "done"),
        ("new.txt", "pending"),  # no rollback on a full disk: finished once there is room
    ]
    monkeypatch.setattr(hash_library.store, "add_chunks", real_add)
    monkeypatch.setattr(hash_library, "free_disk_bytes", lambda: 1024)
    with pytest.raises(StorageFullError, match="still full"):
        hash_library.delete("keep.txt")
    assert hash_library.search("invoices", k=1).hits  # searching goes on
    monkeypatch.undo()
    assert [o.status for o in ingest_paths(hash_library, []).outcomes] == ["ingested"]  # new.txt, resumed
    assert check_library(hash_library).ok


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "tiny"
    mount.mkdir()
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=40m", "tmpfs", str(mount)], capture_output=True, text=True
    )
    if result.returncode != 0:
        pytest.skip(
            f"cannot mount a 40 MB tmpfs here (needs root): {result.stderr.strip() or result.returncode}"
        )
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.mark.timeout(600)
@pytest.mark.parametrize("min_free_mb", [1, 0], ids=["refused-up-front", "fills-up-mid-write"])
def test_a_full_disk_is_a_clean_error_and_recovers(tiny_disk: Path, tmp_path: Path, min_free_mb: int) -> None:
    settings = make_settings(tiny_disk, model="hash:64", min_free_mb=min_free_mb)
    docs = [
        write(tmp_path / "in" / f"doc{i}.txt", f"Note {i}: " + "payroll invoice contract audit " * 400)
        for i in range(6)
    ]
    with Library.open(settings) as library:
        assert [o.status for o in ingest_paths(library, docs[:2]).outcomes] == ["ingested"] * 2
        searchable = library.search("payroll invoice", k=3).hits
        assert searchable
        # Fill the disk, leaving less than one document's worth of room.
        filler = tiny_disk / "filler"
        free = shutil.disk_usage(tiny_disk).free
        with filler.open("wb") as handle:
            handle.write(b"\0" * max(0, free - 64 * 1024))
        report = ingest_paths(library, docs[2:])
        failed = [o for o in report.outcomes if o.status == "failed"]
        assert failed, [o.message for o in report.outcomes]
        assert all(o.reason is not None and o.reason.value == "storage_full" for o in failed), [
            o.message for o in failed
        ]
        # Refused up front (too little free space) or stopped mid-write (the disk filled up).
        assert all("full" in o.detail or "MB free" in o.detail for o in failed), [o.detail for o in failed]
        done = {r.source for r in library.documents()}
        assert {"doc0.txt", "doc1.txt"} <= done
        # Nothing partial: every document listed as done has all its chunks.
        stored = library.store.get_chunks()
        for record in library.documents():
            assert sum(1 for m in stored["metadatas"] if m["doc_id"] == record.doc_id) == record.chunks
        filler.unlink()
        # Space is back: the same ingest now completes, and the store is whole.
        again = ingest_paths(library, docs)
        assert all(o.status in ("ingested", "unchanged") for o in again.outcomes), [
            o.message for o in again.outcomes
        ]
        assert {r.source for r in library.documents()} == {p.name for p in docs}
    with Library.open(settings) as library:
        report = check_library(library)
        assert report.ok, report
        assert library.store.count_chunks() == sum(r.chunks for r in library.documents())
