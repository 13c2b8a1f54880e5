"""Kept originals behave the same on a local directory and on an fsspec store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from searchapp import ConfigError, DocumentNotFoundError, Settings
from searchapp.storage.originals import (
    FsspecBlobs,
    LocalBlobs,
    OriginalInfo,
    OriginalsStore,
    open_blobs,
    originals_for,
    sha256_hex,
)


@pytest.fixture(params=["local", "fsspec"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[OriginalsStore]:
    if request.param == "local":
        yield OriginalsStore(LocalBlobs(tmp_path / "originals"))
        return
    import fsspec

    url = f"memory://originals-{id(request)}"
    yield OriginalsStore(FsspecBlobs(url))
    fsspec.filesystem("memory").rm(url.removeprefix("memory://"), recursive=True)


def test_put_get_describe_forget_delete(store: OriginalsStore) -> None:
    data = b"%PDF-1.7 pretend"
    doc_id = store.put(data, OriginalInfo(source="a.pdf", tags=("x",), mtime=5))
    assert doc_id == sha256_hex(data) and store.has(doc_id)
    assert store.put(data) == doc_id  # idempotent
    assert store.get(doc_id) == data
    info = store.info(doc_id)
    assert (
        info is not None
        and (info.source, info.tags, info.mtime) == ("a.pdf", ("x",), 5)
        and info.stored_at > 0
    )
    other = store.put(b"second file")
    assert list(store.ids()) == sorted([doc_id, other])
    store.forget(doc_id)
    assert store.info(doc_id) is None and store.has(doc_id)
    store.delete(doc_id)
    assert not store.has(doc_id) and list(store.ids()) == [other]
    with pytest.raises(DocumentNotFoundError, match="missing from"):
        store.get(doc_id)
    with pytest.raises(DocumentNotFoundError, match="not a document id"):
        store.has("../../etc/passwd")


def test_settings_choose_the_store_per_collection(tmp_path: Path) -> None:
    local = Settings.load(environ={}, data_dir=tmp_path, model="hash:8")
    assert originals_for(local).location == str(tmp_path / "originals" / "documents")
    shared = local.with_overrides(originals_url="s3://bucket/prefix/", collection="team-a")
    assert shared.originals_location == "s3://bucket/prefix/team-a" and shared.shared_originals
    assert (
        shared.with_overrides(collection="team-a-rebuild").originals_location == "s3://bucket/prefix/team-a"
    )
    directory = local.with_overrides(originals_url=str(tmp_path / "shared"))
    assert isinstance(open_blobs(directory.originals_location, default=tmp_path), LocalBlobs)
    with pytest.raises(
        ConfigError, match="SEARCHAPP_ORIGINALS_URL must be a directory, file://PATH or s3://"
    ):
        local.with_overrides(originals_url="ftp://host/x")
    assert "SEARCHAPP_ORIGINALS_URL" in shared.to_environment()
