"""SIGKILL at a random moment of a sync, then sync again: the state of an uninterrupted sync.

Each trial churns a tree of real files (40 in CI, 200 with --full), starts `searchapp sync` in its own process
and kills it (SIGKILL) at a random moment of its work: from its first write to the data
directory (never during the interpreter's start-up, where a kill proves nothing) to the
end of an uninterrupted sync, so during the listing, a rename, a delete, an ingest or the
writing of the file records. The first trial kills the first sync (every file new), the
others a sync of a churned tree (moves, deletes, copies, edits). A second `searchapp sync`
then runs to the end, and the library must equal a fresh ingest of the tree (names,
titles, types, chunk texts, every path of each content), with nothing pending and the
local index equal to Chroma.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from searchapp import Library
from searchapp.sources import Sources
from tests.conftest import ROOT, make_settings, sized
from tests.sources_helpers import check_mirror, churn, make_tree


def _env(data_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "SEARCHAPP_DATA_DIR": str(data_dir),
        "SEARCHAPP_MODEL": "hash:64",
        "SEARCHAPP_CHUNK_TOKENS": "40",
        "SEARCHAPP_CHUNK_OVERLAP": "5",
        "SEARCHAPP_WORKERS": "1",
        "SEARCHAPP_MIN_FREE_MB": "1",
    }


def _cli(data_dir: Path, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "searchapp.cli", *args],
        env=_env(data_dir),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _written(data_dir: Path) -> list[tuple[str, int, int]]:
    """What the data directory holds now: every file's name, size and modification time."""
    out = []
    for path in data_dir.rglob("*"):
        try:
            stat = path.stat()
        except FileNotFoundError:  # a temporary file, renamed meanwhile
            continue
        if path.is_file():
            out.append((str(path), stat.st_size, stat.st_mtime_ns))
    return sorted(out)


def _first_write(child: subprocess.Popen[bytes], data_dir: Path) -> float:
    """Wait until the child writes to the data directory (or exits); when that was."""
    before = _written(data_dir)
    while child.poll() is None and _written(data_dir) == before:
        time.sleep(0.02)
    return time.monotonic()


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_a_sync_killed_at_any_moment_ends_as_an_uninterrupted_one_after_the_next(tmp_path: Path) -> None:
    rng = random.Random(2026)
    root = tmp_path / "tree"
    make_tree(root, sized(ci=40, full=200), rng)
    settings = make_settings(tmp_path, model="hash:64", chunk_tokens=40, chunk_overlap=5)
    data_dir = settings.data_dir
    added = _cli(data_dir, "sources", "add", "team", str(root), "--no-sync")
    assert added.wait(120) == 0, added.stderr.read() if added.stderr else b""
    work = [4.0]  # seconds from a sync's first write to its end, as measured when one finishes
    killed_mid_sync = 0
    for trial in range(sized(ci=2, full=12)):
        if trial:
            churn(root, rng, share=0.08)
        child = _cli(data_dir, "sync", "team", "--allow-mass-delete")
        began = _first_write(child, data_dir)
        try:
            child.wait(rng.uniform(0.0, max(work)))
            work.append(time.monotonic() - began)
        except subprocess.TimeoutExpired:
            child.send_signal(signal.SIGKILL)
            child.wait(30)
            killed_mid_sync += 1
        again = _cli(data_dir, "sync", "team", "--allow-mass-delete")
        assert again.wait(600) == 0, (again.stderr.read() if again.stderr else b"")[-3000:]
        with Library.open(settings) as library, Sources(library) as sources:
            check_mirror(library, sources, "team", root, settings)
            assert library.pending_documents() == []
            assert library.store.count_chunks() == library.local.count
            assert sources.plan("team").actions == ()
    assert killed_mid_sync >= 1
