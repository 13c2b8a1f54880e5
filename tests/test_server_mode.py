"""Server mode: the same code against a real `chroma run` server through HttpClient."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from searchapp import Library, Settings, StoreUnavailableError
from searchapp.ingest.files import ingest_paths
from searchapp.library import sync as sync_module
from searchapp.storage.keyword_index import KeywordIndex
from tests import servers
from tests.conftest import make_settings, write


@pytest.fixture
def chroma_server(tmp_path: Path) -> Iterator[str]:
    with servers.chroma_server(tmp_path / "chroma") as url:
        yield url


@pytest.mark.server
@pytest.mark.model
@pytest.mark.timeout(300)
def test_ingest_search_filter_delete_through_a_chroma_server(chroma_server: str, tmp_path: Path) -> None:
    settings = make_settings(tmp_path, server_url=chroma_server)
    guide = write(tmp_path / "guide.md", "# Travel\n\n## Packing\nBring a raincoat and walking shoes.\n")
    memo = write(tmp_path / "memo.txt", "Invoices must be paid within thirty days of receipt.")
    with Library.open(settings) as library:
        report = ingest_paths(library, [guide, memo], tags=["ops"])
        assert [o.status for o in report.outcomes] == ["ingested", "ingested"]
        assert library.stats().mode == "server"
        hit = library.search("when do bills have to be paid", k=1).hits[0]
        assert hit.source == "memo.txt" and (hit.cosine or 0) > 0.3
        # More like this reads the stored vector from the server.
        similar = library.similar(hit.chunk_id, k=5)
        assert similar.hits and hit.chunk_id not in {h.chunk_id for h in similar.hits}
        assert library.search("rain gear", k=5, filters={"file_types": ["md"]}).hits[0].source == "guide.md"
        assert library.search("invoices receipt", k=1, mode="keyword").hits[0].source == "memo.txt"
        # Server mode takes no local lock: a second client works side by side, with its own
        # local keyword index; each client sees the other's writes once it notices the change.
        other = settings.with_overrides(data_dir=tmp_path / "other-client")
        with Library.open(other) as second:
            assert len(second.documents()) == 2
            assert ingest_paths(second, [memo]).outcomes[0].status == "unchanged"
            report = ingest_paths(second, [write(tmp_path / "narwhal.txt", "Narwhals have one long tusk.")])
            assert report.outcomes[0].status == "ingested"
        # The first client follows the change log in the background, within about a second.
        deadline = time.monotonic() + 30
        while [h.source for h in library.search("narwhal tusk", k=1, mode="keyword").hits] != ["narwhal.txt"]:
            assert time.monotonic() < deadline, "the other client's document never reached this client"
            time.sleep(0.2)
        assert library.search("narwhal tusk", k=1, mode="hybrid").hits[0].source == "narwhal.txt"
        library.delete("guide.md")
    with Library.open(settings) as reopened:
        assert [r.source for r in reopened.documents()] == ["memo.txt", "narwhal.txt"]
        assert {m["source"] for m in reopened.store.get_chunks()["metadatas"]} == {"memo.txt", "narwhal.txt"}


@pytest.mark.server
def test_an_unreachable_server_is_a_clear_error(tmp_path: Path) -> None:
    settings = Settings.load(
        environ={}, data_dir=tmp_path, server_url=f"http://127.0.0.1:{servers.free_port()}", model="hash:64"
    )
    started = time.monotonic()
    with pytest.raises(
        StoreUnavailableError, match=r"cannot reach the Chroma server at http://127\.0\.0\.1:"
    ):
        Library.open(settings)
    assert time.monotonic() - started < 10


@pytest.mark.server
@pytest.mark.timeout(300)
def test_a_reader_that_just_read_the_collection_does_not_apply_older_writes_again(
    chroma_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A 2 s clock-skew allowance instead of 2 minutes, so the test can step past it.
    monkeypatch.setattr(sync_module, "SKEW_MS", 2_000)
    settings = make_settings(tmp_path, server_url=chroma_server, model="hash:64")
    with Library.open(settings) as writer:
        for n in range(3):
            ingest_paths(writer, [write(tmp_path / f"early{n}.txt", f"Early note number {n} about otters.")])
        time.sleep(2.5)  # the early entries are now older than the allowance, but within twice it
        with Library.open(settings.with_overrides(data_dir=tmp_path / "reader")) as reader:
            sync = reader._sync  # a new client: it has just read the whole collection
            assert sync is not None and reader.local.count == 3
            sync.stop()  # poll by hand from here
            applied: list[int] = []
            apply = sync._apply
            monkeypatch.setattr(
                sync, "_apply", lambda change: applied.append(len(change.added)) or apply(change)
            )
            ingest_paths(writer, [write(tmp_path / "late.txt", "A late note about beavers.")])
            assert sync.poll()
            # Written more than the allowance before the read began, the early entries are in
            # it: only the new write is applied, not the three again.
            assert applied == [1]
            assert [h.source for h in reader.search("beavers", k=1, mode="keyword").hits] == ["late.txt"]
            assert reader.local.count == 4


@pytest.mark.server
@pytest.mark.timeout(300)
def test_phrases_and_exclusions_filter_exactly_through_a_server(chroma_server: str, tmp_path: Path) -> None:
    """Dense search goes to the server's own index there: a phrase becomes its document filter,
    and an exclusion, which it cannot express, is asked for by as many more as it removes."""
    from searchapp.request import SearchRequest
    from searchapp.storage.terms import keyword_tokens

    settings = make_settings(tmp_path, server_url=chroma_server, model="hash:64", chunk_tokens=40)
    fruit = ["apples", "pears", "plums", "cherries"]
    paths = [
        write(tmp_path / f"note{i}.txt", f"Note {i}: the orchard keeps {fruit[i % 4]} and apples for winter.")
        for i in range(24)
    ]
    with Library.open(settings) as library:
        assert not ingest_paths(library, paths).failed
        for mode in ("dense", "adaptive", "keyword"):
            hits = library.find(SearchRequest('apples -pears "for winter" -"note 1"', k=10, mode=mode)).hits
            assert len(hits) == 10, mode  # 24 notes, 6 with pears, 11 whose text has "note 1"
            for hit in hits:
                assert "pear" not in keyword_tokens(hit.text) and "for winter" in hit.text
                assert "note 1" not in hit.text.casefold()


class _RacingCollection:
    """A server collection whose `get` fails the way Chroma's server does when another client
    deletes ids while it reads: one internal error for the whole call."""

    def __init__(self, gone: set[str], error: str = "Error executing plan: Internal error: Error finding id"):
        self.gone = gone
        self.error = error

    def get(self, ids: list[str], include: list[str]) -> dict[str, object]:
        if self.gone & set(ids):
            raise RuntimeError(self.error)
        return {
            "ids": ids,
            "documents": [f"text of {i}" for i in ids],
            "metadatas": [{"n": i} for i in ids],
            "embeddings": np.ones((len(ids), 3), dtype=np.float32),
        }


def test_a_read_of_chunks_another_client_just_deleted_leaves_them_out() -> None:
    from searchapp.errors import StoreError
    from searchapp.storage.chroma_client import get_present

    include = ["documents", "metadatas", "embeddings"]
    got = get_present(_RacingCollection({"b"}), ["a", "b", "c"], include)
    assert got["ids"] == ["a", "c"] and got["documents"] == ["text of a", "text of c"]
    assert got["metadatas"] == [{"n": "a"}, {"n": "c"}] and len(got["embeddings"]) == 2
    # Any other failure stays an error: an unreachable server never reads as "no chunks".
    with pytest.raises(StoreUnavailableError):
        get_present(_RacingCollection({"b"}, "Could not connect to a Chroma server"), ["a", "b"], include)
    with pytest.raises(StoreError, match="disk I/O error"):
        get_present(_RacingCollection({"a"}, "disk I/O error"), ["a"], include)


@pytest.mark.server
def test_clients_sharing_a_data_directory_keep_local_indexes_of_their_own(
    chroma_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings(tmp_path, server_url=chroma_server, model="hash:64")
    with Library.open(settings) as first, Library.open(settings) as second:
        assert first.local.directory == settings.index_dir
        assert second.local.directory == settings.index_dir.parent / ".clients" / settings.collection / "1"
        ingest_paths(first, [write(tmp_path / "otters.txt", "Otters hold hands while they sleep.")])
        ingest_paths(second, [write(tmp_path / "beavers.txt", "Beavers build dams of branches.")])
        deadline = time.monotonic() + 30
        while not first.search("beavers dams", k=1, mode="keyword").hits:
            assert time.monotonic() < deadline, "the other client's document never reached this client"
            time.sleep(0.2)
    added: list[int] = []
    monkeypatch.setattr(KeywordIndex, "add", lambda self, positions, *a, **k: added.extend(positions))
    with Library.open(settings) as again:  # the first slot again, warm: nothing re-added
        assert again.local.directory == settings.index_dir
        assert added == []
        assert {h.source for h in again.search("otters beavers", k=5, mode="keyword").hits} == {
            "otters.txt",
            "beavers.txt",
        }
