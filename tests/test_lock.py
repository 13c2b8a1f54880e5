"""One process per local data directory: a second one is refused at once, with a clear message."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from searchapp import Library, StoreLockedError
from searchapp.ingest.files import ingest_paths
from searchapp.storage.index_slot import IndexSlot
from tests.conftest import ROOT, make_settings, write

HOLDER = textwrap.dedent(
    """
    import sys, time
    from searchapp import Library, Settings
    settings = Settings.load(environ={}, data_dir=sys.argv[1], model="hash:64")
    library = Library.open(settings)
    print("ready", flush=True)
    time.sleep(120)
    """
)


def _start_holder(data_dir: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(data_dir)], stdout=subprocess.PIPE, text=True, env=env
    )
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "ready"
    return holder


@pytest.mark.timeout(120)
def test_a_second_process_is_refused_quickly_and_nothing_is_lost(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, model="hash:64")
    with Library.open(settings) as library:
        ingest_paths(library, [write(tmp_path / "a.txt", "Invoices are due within thirty days.")])
    holder = _start_holder(settings.data_dir)
    try:
        started = time.monotonic()
        with pytest.raises(StoreLockedError) as caught:
            Library.open(settings)
        refused_s = time.monotonic() - started
        assert refused_s < 2.0
        print(f"second writer refused in {refused_s * 1000:.1f} ms")
        message = str(caught.value)
        assert f"process {holder.pid}" in message
        assert "SEARCHAPP_SERVER_URL" in message and "chroma run" in message

        env = {**os.environ, "PYTHONPATH": str(ROOT), "SEARCHAPP_MODEL": "hash:64"}
        cli = subprocess.run(
            [
                sys.executable,
                "-m",
                "searchapp.cli",
                "ingest",
                str(tmp_path / "a.txt"),
                "--data-dir",
                str(settings.data_dir),
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert cli.returncode == 3
        assert f"in use by process {holder.pid}" in cli.stderr
    finally:
        holder.send_signal(signal.SIGKILL)  # even a killed holder must not leave a stale lock
        holder.wait(10)
    with Library.open(settings) as library:
        assert [r.source for r in library.documents()] == ["a.txt"]
        assert library.store.count_chunks() == 1


SLOT_HOLDER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from searchapp.storage.index_slot import IndexSlot
    slot = IndexSlot.claim(Path(sys.argv[1]), shared=True)
    print(slot.directory, flush=True)
    time.sleep(120)
    """
)


def test_processes_sharing_a_data_directory_in_server_mode_each_get_a_local_index(tmp_path: Path) -> None:
    """Two processes over one set of keyword files deleted each other's segments; each now
    holds a slot of its own until it ends (even by SIGKILL), and then the slot is free."""
    base = tmp_path / "indexes" / "documents"
    holder = subprocess.Popen(
        [sys.executable, "-c", SLOT_HOLDER, str(base)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == str(base)
        slots = tmp_path / "indexes" / ".clients" / "documents"
        second = IndexSlot.claim(base, shared=True)
        third = IndexSlot.claim(base, shared=True)  # another library of this same process
        assert [second.directory, third.directory] == [slots / "1", slots / "2"]
        third.release()
        # A reindex or a model switch renames the collection's index directory and puts
        # another in its place: the slots held stay held, none is handed out twice.
        base.rename(base.with_name("documents-retired"))
        base.mkdir()
        assert IndexSlot.claim(base, shared=True).directory == slots / "2"
        assert (slots / "1").is_dir()  # a client slot is never inside what those moves move
        second.release()
        assert IndexSlot.claim(base, shared=True).directory == slots / "1"
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
    assert IndexSlot.claim(base, shared=True).directory == base  # the killed holder's slot
    assert IndexSlot.claim(base, shared=False).directory == base  # local mode: the data dir lock rules
