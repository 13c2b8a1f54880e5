"""Sources kept in sync: the issue's four targets, measured.

    python benchmarks/bench_sources.py unchanged [--files 10000]   # re-sync of an unchanged tree
    python benchmarks/bench_sources.py rename    [--pages 100]     # rename a 100-page PDF
    python benchmarks/bench_sources.py watch     [--trials 5]      # save/delete -> search, watching
    python benchmarks/bench_sources.py load      [--files 1000] [--rounds 2] [--model hash:384]
                                                                   # search p95 while files sync

`unchanged` and `rename` use the hash embedder (neither embeds anything: that is the
point; the embedding calls are counted and must be 0); `watch` and `load` use the
bundled model. Every figure comes with the CPU and the load average.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import Timing, machine, median_range, table
from searchapp import Library, Settings
from searchapp.sources import Sources, SourceSpec
from searchapp.sources import listing as listing_module
from searchapp.sources.watch import Watcher
from tests.helpers import make_pdf
from tests.sources_helpers import WORDS, prose


def _settings(root: Path, model: str | None = "hash:64") -> Settings:
    """Hash embedder, or (model=None) the bundled model with the default backend."""
    if model is None:
        return Settings.load(environ={}, data_dir=root / "data", min_free_mb=1)
    return Settings.load(environ={}, data_dir=root / "data", model=model, min_free_mb=1)


def _old(path: Path) -> None:
    moment = time.time() - 120
    os.utime(path, (moment, moment))


class _Counter:
    """Counts file reads and embedding calls while it is active."""

    def __init__(self, library: Library) -> None:
        self.reads = 0
        self.embedded = 0
        self._library = library

    def __enter__(self) -> _Counter:
        self._read = listing_module.DirectoryFiles.read
        self._embed = self._library.embedder.embed_documents
        counter = self

        def read(files: Any, path: str) -> bytes:
            counter.reads += 1
            return counter._read(files, path)

        def embed(texts: Any, **kw: Any) -> Any:
            counter.embedded += len(texts)
            return counter._embed(texts, **kw)

        listing_module.DirectoryFiles.read = read  # type: ignore[method-assign,assignment]
        self._library.embedder.embed_documents = embed  # type: ignore[method-assign,assignment]
        return self

    def __exit__(self, *exc: object) -> None:
        listing_module.DirectoryFiles.read = self._read  # type: ignore[method-assign]
        self._library.embedder.embed_documents = self._embed  # type: ignore[method-assign]


def unchanged(files: int, rounds: int) -> None:
    rng = random.Random(1)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "tree"
        for i in range(files):
            path = root / f"dept{i % 20}" / f"team{i % 7}" / f"note{i:05d}.txt"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(f"note {i} " + " ".join(rng.choice(WORDS) for _ in range(12)))
            _old(path)
        with Library.open(_settings(Path(tmp))) as library, Sources(library) as sources:
            sources.add(SourceSpec.create("tree", root))
            started = time.perf_counter()
            first = sources.sync("tree")[0]
            print(f"first sync: {first.summary()} in {time.perf_counter() - started:.1f} s", file=sys.stderr)
            seconds, reads = [], []
            for _ in range(rounds):
                with _Counter(library) as counter:
                    started = time.perf_counter()
                    report = sources.sync("tree")[0]
                    seconds.append(time.perf_counter() - started)
                reads.append(counter.reads)
                assert report.plan.actions == () and report.counts["unchanged"] == files
    print(f"## Unchanged re-sync of a {files:,}-file tree ({machine()})\n")
    print(
        table(
            ["files", "re-sync, s (median, min-max)", "files read", "target"],
            [[f"{files:,}", median_range(seconds, 2), max(reads), "≤ 5 s, none read"]],
        )
    )


def rename(pages: int, rounds: int) -> None:
    rng = random.Random(2)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "tree"
        (root / "archive").mkdir(parents=True)
        pdf = root / "manual.pdf"
        pdf.write_bytes(make_pdf([prose(rng, 350) for _ in range(pages)], title="Manual"))
        _old(pdf)
        with Library.open(_settings(Path(tmp))) as library, Sources(library) as sources:
            sources.add(SourceSpec.create("tree", root))
            sources.sync("tree")
            record = library.documents()[0]
            sync_s, rename_ms, embedded = [], [], []
            names = [pdf, root / "archive" / "manual.pdf"]
            for i in range(rounds):
                names[i % 2].rename(names[(i + 1) % 2])
                with _Counter(library) as counter:
                    started = time.perf_counter()
                    report = sources.sync("tree")[0]
                    sync_s.append(time.perf_counter() - started)
                embedded.append(counter.embedded)
                assert report.counts["moved"] == 1, report.summary()
                started = time.perf_counter()  # the library operation alone, there and back
                library.rename(record.doc_id, "tree/elsewhere.pdf")
                library.rename(record.doc_id, f"tree/{names[(i + 1) % 2].relative_to(root).as_posix()}")
                rename_ms.append((time.perf_counter() - started) * 1000 / 2)
    print(f"## Renaming a {pages}-page PDF ({record.chunks} chunks; {machine()})\n")
    print(
        table(
            ["what", "median (min-max)", "chunks embedded", "target"],
            [
                [
                    "sync after the rename (list, read the new path, rename)",
                    median_range(sync_s, 3) + " s",
                    max(embedded),
                    "≤ 1 s, none",
                ],
                ["`Library.rename` alone", median_range(rename_ms, 0) + " ms", 0, ""],
            ],
        )
    )


def _searchable(library: Library, word: str) -> bool:
    return any(word in h.text for h in library.search(word, k=3, mode="keyword").hits)


def watch(trials: int) -> None:
    rng = random.Random(3)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "tree"
        root.mkdir()
        for i in range(20):
            (root / f"base{i}.txt").write_text(prose(rng, 200))
            _old(root / f"base{i}.txt")
        with Library.open(_settings(Path(tmp), model=None)) as library, Sources(library) as sources:
            sources.add(SourceSpec.create("tree", root, watch=True))
            sources.sync("tree")
            library.search("warm up the model and the kernels", k=3)
            saved, deleted, embed = [], [], []
            with Watcher(sources, debounce_ms=200):
                time.sleep(2)
                for trial in range(trials):
                    marker = f"zyzzyva{trial}q"
                    text = f"{marker} " + prose(rng, 450)  # one page of prose
                    started = time.perf_counter()
                    embed_started = time.perf_counter()
                    library.embedder.embed_documents([text[i : i + 900] for i in range(0, len(text), 900)])
                    embed.append(time.perf_counter() - embed_started)
                    path = root / f"page{trial}.txt"
                    started = time.perf_counter()
                    path.write_text(text)
                    while not _searchable(library, marker):
                        time.sleep(0.02)
                    saved.append(time.perf_counter() - started)
                    started = time.perf_counter()
                    path.unlink()
                    while _searchable(library, marker):
                        time.sleep(0.02)
                    deleted.append(time.perf_counter() - started)
    over = [s - e for s, e in zip(saved, embed, strict=True)]
    print(f"## Watching: a saved one-page file, and a deleted one ({machine()})\n")
    print(
        table(
            ["what", "seconds, median (min-max)", "target"],
            [
                ["save -> searchable", median_range(saved, 2), ""],
                ["its embedding alone", median_range(embed, 2), ""],
                ["save -> searchable, less the embedding", median_range(over, 2), "≤ 3 s"],
                ["delete -> gone from results", median_range(deleted, 2), "≤ 3 s"],
            ],
        )
    )


def _searching(library: Library, queries: list[str], seconds: float | None = None) -> Any:
    """Search in a thread until stopped (or for `seconds`); the latencies in ms.

    Searches arrive at random (exponential gaps, 50 ms on average), as users' do: a fixed
    period could fall into step with the writer's calls. Each is a query never asked
    before, so its embedding is part of it (a repeated one's is cached).
    """
    out: list[float] = []
    stop = threading.Event()
    arrivals = random.Random(5)

    def run() -> None:
        while not stop.is_set():
            query = f"{arrivals.choice(queries)} {arrivals.choice(WORDS)} {arrivals.randrange(10**9)}"
            started = time.perf_counter()
            library.search(query, k=10)
            out.append((time.perf_counter() - started) * 1000)
            time.sleep(arrivals.expovariate(1 / 0.05))

    thread = threading.Thread(target=run)
    thread.start()
    if seconds is not None:
        time.sleep(seconds)
    return stop, thread, out


def _stopped(running: Any) -> list[float]:
    stop, thread, out = running
    stop.set()
    thread.join()
    return list(out)


def _searches_first(library: Library, on: bool) -> None:
    """Switch the store's search gate (`searchapp.storage.search_gate`) off, or back on."""
    gate = library.store.search_gate
    for name in ("before_write", "write_batch"):
        if on:
            gate.__dict__.pop(name, None)
    if not on:
        gate.before_write = lambda: None  # type: ignore[method-assign]
        gate.write_batch = lambda most: most  # type: ignore[method-assign]


def load(files: int, seconds_idle: float, rounds: int, model: str | None = None) -> None:
    """Search p95 while every file of a synced tree changes and syncs, against idle.

    Idle windows and syncs alternate (idle, sync, idle, sync, ..., idle), so the machine's
    other load falls on both alike; the syncs alternate the search gate on and off.
    """
    rng = random.Random(4)
    queries = [" ".join(rng.choice(WORDS) for _ in range(4)) for _ in range(50)]
    idle: list[float] = []
    busy: dict[bool, list[float]] = {True: [], False: []}
    took: dict[bool, list[float]] = {True: [], False: []}
    loads = [os.getloadavg()[0]]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "tree"
        for i in range(files):
            path = root / f"f{i % 10}" / f"doc{i}.txt"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(prose(rng, 120))
            _old(path)
        with Library.open(_settings(Path(tmp), model=model)) as library, Sources(library) as sources:
            sources.add(SourceSpec.create("tree", root))
            sources.sync("tree")
            for q in queries:
                library.search(q, k=10)
            for round_ in range(rounds):
                gate = round_ % 2 == 0
                idle += _stopped(_searching(library, queries, seconds_idle))
                for path in sorted(root.rglob("*.txt")):  # every file changes
                    path.write_text(prose(rng, 120))
                    _old(path)
                _searches_first(library, gate)
                running = _searching(library, queries)
                started = time.perf_counter()
                report = sources.sync("tree")[0]
                took[gate].append(time.perf_counter() - started)
                busy[gate] += _stopped(running)
                _searches_first(library, True)
                assert report.counts["changed"] == files, report.summary()
                loads.append(os.getloadavg()[0])
            idle += _stopped(_searching(library, queries, seconds_idle))
    a = Timing("idle", tuple(idle))
    print(f"## Searching while {files:,} changed files sync ({model or 'bundled model'}; {machine()})\n")
    print(f"Load average during the run: {min(loads):.1f} to {max(loads):.1f}.\n")
    rows = [["idle (between the syncs)", len(idle), f"{a.p50:.0f}", f"{a.p95:.0f}", "1.00", "", ""]]
    for gate in (True, False):
        if busy[gate]:
            b = Timing("sync", tuple(busy[gate]))
            rows.append(
                [
                    f"syncing, search gate {'on' if gate else 'off'}",
                    len(busy[gate]),
                    f"{b.p50:.0f}",
                    f"{b.p95:.0f}",
                    f"{b.p95 / a.p95:.2f}",
                    median_range(took[gate], 0),
                    "≤ 2" if gate else "",
                ]
            )
    print(table(["while", "searches", "p50 ms", "p95 ms", "p95 / idle p95", "sync, s", "target"], rows))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("what", choices=["unchanged", "rename", "watch", "load"])
    parser.add_argument("--files", type=int, default=0)
    parser.add_argument("--pages", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=None, help="default 5 (load: 2 syncs)")
    parser.add_argument("--idle", type=float, default=10.0, help="load: seconds of each idle window")
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument(
        "--model", default=None, help="load: an embedder other than the bundled model (hash:384)"
    )
    args = parser.parse_args()
    if args.what == "unchanged":
        unchanged(args.files or 10_000, args.rounds or 5)
    elif args.what == "rename":
        rename(args.pages, args.rounds or 5)
    elif args.what == "watch":
        watch(args.trials)
    else:
        load(args.files or 1000, args.idle, args.rounds or 2, args.model)


if __name__ == "__main__":
    main()
