"""Reopening a saved local index: from its saved columns, and from its SQLite rows.

    python benchmarks/bench_reopen.py benchmarks/results/scale-1000000

Opens the index once (from whatever it has) and closes it, which saves the columns; then
times reopening it in fresh processes: with the saved columns, and with them moved aside
(every row parsed from SQLite, the path after a crash). The keyword index is read from its
saved segments in both.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import machine, peak_rss_mb

DIM = 384


def open_once(directory: Path) -> dict[str, float]:
    from searchapp.storage.local_index import LocalIndex

    started = time.perf_counter()
    index = LocalIndex(directory, dimension=DIM, mirror_vectors=True)
    seconds = time.perf_counter() - started
    count = index.count
    rss = peak_rss_mb()
    t0 = time.perf_counter()
    index.close()
    return {"open_s": seconds, "close_s": time.perf_counter() - t0, "rows": count, "rss_mb": rss}


def run(directory: Path) -> dict[str, float]:
    proc = subprocess.run(
        [sys.executable, __file__, "--once", str(directory)], capture_output=True, text=True, check=True
    )
    result: dict[str, float] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    if sys.argv[1] == "--once":
        print(json.dumps(open_once(Path(sys.argv[2]))))
        return
    directory = Path(sys.argv[1])
    print(f"machine: {machine()}")
    print("first open (saves the columns at close):", run(directory))
    print("reopen from the saved columns:", run(directory))
    snapshot = directory / "columns.bin"
    aside = directory / "columns.bin.aside"
    snapshot.rename(aside)
    try:
        print("reopen from the SQLite rows (no saved columns):", run(directory))
    finally:
        (directory / "columns.bin").unlink(missing_ok=True)
        aside.rename(snapshot)
    print("reopen from the saved columns, again:", run(directory))


if __name__ == "__main__":
    main()
