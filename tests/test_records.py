"""Record tables: small JSON state kept with a library, in real Chroma."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from searchapp import Library, StoreError
from tests.conftest import make_settings


def test_records_round_trip_filter_and_delete(hash_library: Library) -> None:
    table = hash_library.store.table("sources")
    assert table.find() == {} and table.get("a") is None
    table.put("a", {"root": "/docs", "globs": ["*.md"], "n": 1}, kind="dir", watch=True)
    table.put("b", {"root": "s3://bucket/x"}, kind="s3", watch=False)
    assert table.get("a") == {"root": "/docs", "globs": ["*.md"], "n": 1}
    assert set(table.find()) == {"a", "b"}
    assert set(table.find({"kind": "s3"})) == {"b"}
    table.put("a", {"root": "/other"}, kind="dir", watch=True)  # replaces the record whole
    assert table.get("a") == {"root": "/other"}
    table.delete(["a"])
    assert set(table.find()) == {"b"} and table.count() == 1


def test_records_persist_and_belong_to_their_collection(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, model="hash:64")
    with Library.open(settings) as library:
        library.store.table("feedback").put("q1", {"verdict": "up"})
        library.store.global_table("tokens").put("t1", {"collection": "documents"})
    other = settings.with_overrides(collection="other")
    with Library.open(other) as library:
        assert library.store.table("feedback").find() == {}  # per collection
        assert library.store.global_table("tokens").get("t1") == {"collection": "documents"}
    with Library.open(settings) as library:  # reopened from disk
        assert library.store.table("feedback").get("q1") == {"verdict": "up"}


def test_bad_names_and_values_are_refused_with_what_was_expected(hash_library: Library) -> None:
    with pytest.raises(StoreError, match="record table name"):
        hash_library.store.table("catalog")
    with pytest.raises(StoreError, match="record table name"):
        hash_library.store.table("Bad Name")
    table = hash_library.store.table("sources")
    with pytest.raises(StoreError, match="must be a string, number or boolean"):
        table.put("a", {}, bad=None)  # type: ignore[arg-type]
    with pytest.raises(StoreError, match="non-empty text"):
        table.put("", {})


def test_insert_keeps_the_first_record_and_says_who_won(hash_library: Library) -> None:
    table = hash_library.store.table("sources")
    assert table.insert("k", {"v": 1})
    assert not table.insert("k", {"v": 2})
    assert table.get("k") == {"v": 1}


def test_one_claimant_holds_a_lease_until_it_expires_or_is_released(hash_library: Library) -> None:
    table = hash_library.store.leases()
    assert table.claim("sync:docs", "client-a", 30)
    assert not table.claim("sync:docs", "client-b", 30)
    assert table.claim("sync:docs", "client-a", 30)  # renewal
    table.release("sync:docs", "client-b")  # not the holder: nothing happens
    held = table.lease("sync:docs")
    assert held is not None and held.owner == "client-a" and held.term == 1
    table.release("sync:docs", "client-a")
    assert not table.lease("sync:docs").live(time.time())  # type: ignore[union-attr]
    assert table.claim("sync:docs", "client-b", -1)  # a new term, expired at once ...
    assert table.claim("sync:docs", "client-a", 30)  # ... is free to take
    assert table.lease("sync:docs").term == 3  # type: ignore[union-attr]


def test_racing_claimants_never_both_win(hash_library: Library) -> None:
    table = hash_library.store.leases()

    def claim(name: str, owner: str, barrier: threading.Barrier, wins: list[str]) -> None:
        barrier.wait()
        if table.claim(name, owner, 30):
            wins.append(owner)

    for round_ in range(8):
        wins: list[str] = []
        barrier = threading.Barrier(4)
        threads = [
            threading.Thread(target=claim, args=(f"lease-{round_}", f"c{i}", barrier, wins)) for i in range(4)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(wins) == 1, wins
