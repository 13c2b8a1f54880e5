"""What per-group visibility costs a search: `Library.view(visibility)` against the library.

Builds a collection of synthetic chunks through the real write path (`bench_query.build`),
restricts a quarter of its documents to one of two groups, then times, round-robin in
one process, the same queries (embedded once: the query cache holds them, so the
figures are retrieval alone) for every mode through:

- the library itself, and `view(None)` (sees everything: must cost nothing);
- `view({"g1"})`: the open documents and g1's (the caller's groups join the row mask);
- `view(set())`: the open documents only.

    python benchmarks/bench_visibility.py --chunks 12000 [--rounds 200]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.bench_query import build
from benchmarks.common import machine, round_robin, table
from searchapp import Library, Settings
from searchapp.library.view import LibraryView

QUERIES = [
    "refund policy for contracts",
    "payroll audit",
    "server backup network",
    "travel budget",
    "laptop policy",
    "invoice contract audit",
]


def searcher(reader: Library | LibraryView, mode: str) -> Callable[[int], object]:
    def run(i: int) -> object:
        return reader.search(QUERIES[i % len(QUERIES)], k=10, mode=mode)

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--chunks", type=int, default=12_000)
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    print(machine())
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings.load(environ={}, data_dir=Path(tmp) / "data", min_free_mb=1)
        with Library.open(settings) as library:
            doc_ids = build(library, args.chunks)
            for index, doc_id in enumerate(doc_ids):
                if index % 4 == 0:
                    library.update_groups(doc_id, ["g1" if index % 8 == 0 else "g2"])
            for query in QUERIES:  # embed each once: the timings below are retrieval only
                library.search(query, k=10)
            rows: list[list[object]] = []
            for mode in ("dense", "keyword", "adaptive"):
                variants: list[tuple[str, Library | LibraryView]] = [
                    ("library", library),
                    ("view(None)", library.view(None)),
                    ("view({g1})", library.view(frozenset({"g1"}))),
                    ("view(set())", library.view(frozenset())),
                ]
                timings = round_robin(
                    [(name, searcher(reader, mode)) for name, reader in variants], args.rounds
                )
                base = timings[0].p50
                for timing in timings:
                    rows.append(
                        [
                            mode,
                            timing.name,
                            f"{timing.p50:.2f}",
                            f"{timing.p95:.2f}",
                            f"{timing.p50 / base:.2f}",
                        ]
                    )
            print(table(["mode", "reader", "p50 ms", "p95 ms", "p50 / library"], rows))


if __name__ == "__main__":
    main()
