"""Client processes for the multi-client tests: `python -m tests.server_clients ROLE ARGS`.

Each role opens its own `Library` from SEARCHAPP_* variables (one Chroma server, its own
data directory) and talks to the test over stdin/stdout, one line per event, so the
test can force the timing it needs.

    slow-writer DIR N   ingests DIR/big{i}.txt for i < N; each write stops while its
                        documents are pending ("PENDING i"), until the test sends "GO"
    ingester            for each "INGEST PATH" line: ingests PATH, answers "OK <status>"
    editor SECONDS DIR  rewrites DIR/topic{0,1,2}.txt with a new version as fast as it can;
                        one JSON line per version: {"t", "source", "doc_id", "replaced"}
    reader SECONDS      searches "version" in every mode in a loop; one JSON line per search:
                        {"start", "end", "mode", "doc_ids"}
    watcher SOURCE      watches the source (file events, syncing under the source's lease) and
                        answers "SEARCH words" with a JSON list of the hits' names
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from searchapp import Library, Settings
from searchapp.ingest.files import ingest_paths
from searchapp.ingest.pipeline import Ingestor
from searchapp.ingest.types import SourceFile
from searchapp.storage.chroma import ChromaStore


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def slow_writer(directory: Path, count: int) -> None:
    current = {"i": -1}
    original_add = ChromaStore.add_chunks

    def held_add(self: ChromaStore, *args: Any, **kwargs: Any) -> None:
        say(f"PENDING {current['i']}")
        if sys.stdin.readline().strip() != "GO":
            raise SystemExit("expected GO")
        original_add(self, *args, **kwargs)

    ChromaStore.add_chunks = held_add  # type: ignore[method-assign]
    with Library.open(Settings.load()) as library, Ingestor(library, workers=1) as ingestor:
        for i in range(count):
            current["i"] = i
            path = directory / f"big{i}.txt"
            report = ingestor.ingest([SourceFile(path.name, data=path.read_bytes())])
            outcome = report.outcomes[-1]
            say(f"DONE {i} {outcome.status} {outcome.chunks}")


def ingester() -> None:
    with Library.open(Settings.load()) as library:
        say("READY")
        for line in sys.stdin:
            command, _, argument = line.strip().partition(" ")
            if command != "INGEST":
                break
            report = ingest_paths(library, [argument], workers=1)
            say(f"OK {report.outcomes[-1].status}")


def editor(seconds: float, directory: Path) -> None:
    with Library.open(Settings.load()) as library, Ingestor(library, workers=1) as ingestor:
        say(json.dumps({"ready": True}))
        deadline = time.monotonic() + seconds
        version = 0
        while time.monotonic() < deadline:
            source = f"topic{version % 3}.txt"
            old = library.find_by_source(source)
            text = (
                f"Topic {version % 3}, version {version}: marker{version}. "
                + "Filler words about things. " * 20
            )
            report = ingestor.ingest([SourceFile(source, data=text.encode())])
            outcome = report.outcomes[-1]
            if outcome.status != "ingested":
                raise SystemExit(f"version {version}: {outcome.message}")
            say(
                json.dumps(
                    {
                        "t": time.time(),
                        "source": source,
                        "doc_id": outcome.doc_id,
                        "replaced": old.doc_id if old else "",
                    }
                )
            )
            version += 1


def reader(seconds: float) -> None:
    with Library.open(Settings.load()) as library:
        say(json.dumps({"ready": True}))
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for mode in ("keyword", "hybrid", "dense"):
                start = time.time()
                hits = library.search("version marker topic", k=10, mode=mode).hits
                say(
                    json.dumps(
                        {
                            "start": start,
                            "end": time.time(),
                            "mode": mode,
                            "doc_ids": [h.doc_id for h in hits],
                        }
                    )
                )
            time.sleep(0.05)


def watcher(source: str) -> None:
    from searchapp.sources import Sources
    from searchapp.sources.watch import Watcher

    with (
        Library.open(Settings.load()) as library,
        Sources(library, workers=1) as sources,
        Watcher(sources, names=[source], debounce_ms=100),
    ):
        say("READY")
        for line in sys.stdin:
            command, _, argument = line.strip().partition(" ")
            if command != "SEARCH":
                break
            hits = library.search(argument, k=10, mode="keyword").hits
            say(json.dumps(sorted({h.source for h in hits})))


def main() -> None:
    role, args = sys.argv[1], sys.argv[2:]
    if role == "slow-writer":
        slow_writer(Path(args[0]), int(args[1]))
    elif role == "ingester":
        ingester()
    elif role == "editor":
        editor(float(args[0]), Path(args[1]))
    elif role == "reader":
        reader(float(args[0]))
    elif role == "watcher":
        watcher(args[0])
    else:
        raise SystemExit(f"unknown role {role!r}")


if __name__ == "__main__":
    main()
