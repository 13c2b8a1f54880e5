"""Committing many small documents: what `Library.commit` costs per document, apart from embedding.

Folders of notes, a re-embedded library of abstracts, a synced share: many documents of one
to three passages each, committed in batches. Vectors are synthetic (no model runs), so
only the store is timed: the catalog, Chroma, the originals and the local index.

Two passes over a fresh local library, each in batches of `--batch` documents:
- new: `--documents` documents under new names;
- edits: a new version of every one of them under the same names (each replaces one).

    python benchmarks/bench_commit.py [--documents 5000] [--batch 100] [--rounds 3]

Each round uses a fresh library; the table gives the median and range of the rounds.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.bench_query import TOPICS, synthetic_vectors
from benchmarks.common import machine, median_range, table
from searchapp import Library, Settings
from searchapp.types import PreparedChunk, PreparedDocument


def document(d: int, version: int, rng: np.random.Generator, pyrng: random.Random) -> PreparedDocument:
    n = 1 + d % 3
    original = f"document {d}, version {version}".encode()
    return PreparedDocument(
        doc_id=hashlib.sha256(original).hexdigest(),
        source=f"notes/doc{d}.md",
        file_type="md",
        title=f"Document {d}",
        original=original,
        chunks=tuple(
            PreparedChunk(text=" ".join(pyrng.choices(TOPICS, k=60)), index=i, start=i * 400, tokens=60)
            for i in range(n)
        ),
        vectors=synthetic_vectors(n, rng),
    )


def one_round(documents: int, batch: int, directory: Path, seed: int) -> dict[str, float]:
    rng, pyrng = np.random.default_rng(seed), random.Random(seed)
    settings = Settings.load(environ={}, data_dir=directory, model="hash:384", min_free_mb=1)
    seconds: dict[str, float] = {}
    with Library.open(settings) as library:
        for version, name in ((1, "new"), (2, "edits")):
            docs = [document(d, version, rng, pyrng) for d in range(documents)]
            started = time.perf_counter()
            for start in range(0, documents, batch):
                library.commit(docs[start : start + batch])
            seconds[name] = time.perf_counter() - started
        assert len(library.documents()) == documents
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--documents", type=int, default=5000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(machine())
    chunks = sum(1 + d % 3 for d in range(args.documents))
    results: dict[str, list[float]] = {"new": [], "edits": []}
    for r in range(args.rounds):
        with tempfile.TemporaryDirectory(prefix="bench-commit-") as tmp:
            for name, seconds in one_round(args.documents, args.batch, Path(tmp), r).items():
                results[name].append(seconds)
                print(f"round {r + 1}: {name} {seconds:.1f} s", flush=True)
    rows = [
        [
            name,
            f"{args.documents:,} / {chunks:,}",
            median_range(values),
            median_range([args.documents / s for s in values], 0),
            median_range([chunks / s for s in values], 0),
        ]
        for name, values in results.items()
    ]
    print(table(["pass", "documents / chunks", "seconds", "documents/s", "chunks/s"], rows))


if __name__ == "__main__":
    main()
