"""Two clients of one Chroma server watch the same folder: each change is applied once, and both see it.

Each client is a real process with its own data directory, following the folder through
file events; a sync runs under the source's lease, so one client syncs at a time and the
other finds nothing left to do. The change log (every client's writes, in order) must
name each new document, rename and deletion exactly once, and both clients' searches
must follow every change.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from searchapp import Library
from searchapp.sources import Sources, SourceSpec
from tests.conftest import ROOT, write
from tests.servers import chroma_server
from tests.sources_helpers import backdate, prose
from tests.test_server_clients import client_env, expect, settings_of, spawn

pytestmark = [pytest.mark.server, pytest.mark.slow]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with chroma_server(tmp_path_factory.mktemp("chroma")) as url:
        yield url


def test_two_watching_clients_apply_each_change_once_and_both_see_it(server: str, tmp_path: Path) -> None:
    root = tmp_path / "shared-folder"
    root.mkdir()
    env = client_env(tmp_path / "parent", server, "sync-two")
    with Library.open(settings_of(env)) as library, Sources(library) as sources:
        sources.add(SourceSpec.create("team", root))
    clients = [
        spawn(client_env(tmp_path / f"client{i}", server, "sync-two"), "watcher", "team") for i in range(2)
    ]
    try:
        for client in clients:
            expect(client.stdout, "READY", client)

        def seen_by_all(words: str, expected: list[str]) -> None:
            deadline = time.monotonic() + 60
            for client in clients:
                while True:
                    assert client.stdin is not None
                    client.stdin.write(f"SEARCH {words}\n")
                    client.stdin.flush()
                    if json.loads(expect(client.stdout, "[", client)) == expected:
                        break
                    assert time.monotonic() < deadline, f"{words!r}: never {expected}"
                    time.sleep(0.2)

        rng = random.Random(4)
        texts = {
            name: f"{name} unique{name.split('.')[0]} " + prose(rng, 80) for name in ("a.md", "b.md", "c.md")
        }
        for name, text in texts.items():
            write(root / name, text)
        for name in texts:
            seen_by_all(f"unique{name.split('.')[0]}", [f"team/{name}"])
        (root / "a.md").rename(root / "renamed.md")
        seen_by_all("uniquea", ["team/renamed.md"])
        write(root / "b.md", texts["b.md"] + " edited uniqueedit")
        seen_by_all("uniqueedit", ["team/b.md"])
        (root / "c.md").unlink()
        seen_by_all("uniquec", [])
        time.sleep(3)  # the other client's retry after its busy turn, if any
    finally:
        for client in clients:
            if client.stdin is not None:
                client.stdin.close()
            client.wait(60)
    with Library.open(settings_of(env)) as library:
        log = library.store.changes.since(0)
        added = Counter(doc_id for change in log for doc_id, _ in change.added)
        renamed = Counter(doc_id for change in log for doc_id in change.renamed)
        removed = Counter(doc_id for change in log for doc_id in change.removed)
        assert len(added) == 4 and set(added.values()) == {1}, added  # a, b, c and b's edit
        assert list(renamed.values()) == [1]
        assert set(removed.values()) == {1} and len(removed) == 2  # b's old version and c
        assert sorted(r.source for r in library.documents()) == ["team/b.md", "team/renamed.md"]


HOLD_LEASE = """
import sys, time
from searchapp import Library, Settings
library = Library.open(Settings.load())
assert library.store.leases().claim("sync:team", library.client_id, 600)
print("HELD", flush=True)
time.sleep(600)
"""


def test_a_killed_syncs_lease_on_this_machine_is_not_waited_for(server: str, tmp_path: Path) -> None:
    """A `sync --watch` killed with -9 left a live lease; its restart waited a minute, "busy"."""
    root = tmp_path / "folder"
    write(root / "a.md", "The kestrel survey counts nests in April.")
    backdate(root / "a.md", random.Random(1))
    env = client_env(tmp_path / "parent", server, "sync-killed")
    with Library.open(settings_of(env)) as library, Sources(library) as sources:
        sources.add(SourceSpec.create("team", root))
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LEASE],
        env=client_env(tmp_path / "holder", server, "sync-killed"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        expect(holder.stdout, "HELD", holder)
        with Library.open(settings_of(env)) as library, Sources(library) as sources:
            assert sources.sync("team")[0].outcome == "busy"  # a running holder is waited for
            holder.kill()
            holder.wait(timeout=30)
            report = sources.sync("team")[0]
            assert report.outcome == "ok" and report.counts["new"] == 1, report.message
    finally:
        holder.kill()
        holder.wait(timeout=30)
