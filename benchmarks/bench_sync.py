"""What one foreign write costs a reader, with a real `chroma run` server (server mode).

A collection of N synthetic 384-d chunks (documents of 50 chunks, real-looking words) is
written through `Library.commit` by one client; a second client (the reader, with its
own data directory) opens it. Then, round after round, the writer commits one new
10-chunk document and the reader catches up, timed two ways, alternating:

- after: `ServerSync.poll()`, what the reader's background thread runs (the change log:
  read the new entry, fetch those 10 chunks, update the local index and BM25), after one
  untimed-in-the-rounds first poll (timed apart: it re-applies what was written within
  the clock-skew allowance before the reader's full read);
- before: what every reader did on every foreign write until this change: rebuild the
  whole local index from Chroma (`LocalIndex.rebuild` over every chunk, then BM25).

    python benchmarks/bench_sync.py --sizes 10000 100000 [--rounds 20]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.bench_query import CHUNKS_PER_DOC, TOPICS, synthetic_vectors
from benchmarks.common import Timing, chroma_server, machine, table
from searchapp import Library, Settings
from searchapp.types import PreparedChunk, PreparedDocument


def document(d: int, n: int, rng: np.random.Generator, pyrng: random.Random) -> PreparedDocument:
    doc_id = f"{d:064x}"
    return PreparedDocument(
        doc_id=doc_id,
        source=f"doc{d}.txt",
        file_type="txt",
        title=f"Document {d}",
        original=doc_id.encode(),
        chunks=tuple(
            PreparedChunk(text=" ".join(pyrng.choices(TOPICS, k=40)), index=i, start=i * 300, tokens=40)
            for i in range(n)
        ),
        vectors=synthetic_vectors(n, rng),
    )


def run_size(n: int, rounds: int, workdir: Path, url: str) -> list[list[object]]:
    rng, pyrng = np.random.default_rng(n), random.Random(n)
    collection = f"sync{n}"
    base = Settings.load(environ={}, server_url=url, collection=collection, model="hash:384", min_free_mb=1)
    writer_settings = base.with_overrides(data_dir=workdir / f"writer{n}")
    reader_settings = base.with_overrides(data_dir=workdir / f"reader{n}")
    started = time.perf_counter()
    with Library.open(writer_settings) as writer:
        batch: list[PreparedDocument] = []
        for d in range(n // CHUNKS_PER_DOC):
            batch.append(document(d, CHUNKS_PER_DOC, rng, pyrng))
            if len(batch) == 20:
                writer.commit(batch)
                batch = []
        writer.commit(batch)
        print(f"  wrote {n} chunks in {time.perf_counter() - started:.0f} s")
        with Library.open(reader_settings) as reader:
            sync = reader._sync
            assert sync is not None
            sync.stop()  # the benchmark polls by hand
            # A new client's first poll after its full read re-applies the writes of the
            # clock-skew allowance before the read (here: the bulk load); reported apart.
            t0 = time.perf_counter()
            sync.poll()
            first = (time.perf_counter() - t0) * 1000
            after, before = [], []
            for r in range(rounds):
                writer.commit([document(1_000_000 + r, 10, rng, pyrng)])
                t0 = time.perf_counter()
                assert sync.poll()
                after.append((time.perf_counter() - t0) * 1000)
                t0 = time.perf_counter()
                reader.local.rebuild(
                    reader.store.iter_chunks(include_embeddings=False), reader.local.generation
                )
                before.append((time.perf_counter() - t0) * 1000)
            assert reader.local.count == n + rounds * 10
    a, b = Timing("after", tuple(after)), Timing("before", tuple(before))
    return [
        [n, "first poll after the client's full read (once)", f"{first:.0f}"],
        [n, "apply the change log (after)", f"{a.p50:.1f} / {a.p95:.1f}"],
        [n, "rebuild the local index (before)", f"{b.p50:.0f} / {b.p95:.0f}"],
        [n, "ratio before/after (p50)", f"{b.p50 / a.p50:.0f}x"],
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    print(f"machine: {machine()}")
    rows: list[list[object]] = []
    with tempfile.TemporaryDirectory() as tmp, chroma_server(Path(tmp) / "server") as url:
        for n in args.sizes:
            print(f"== {n} chunks")
            rows += run_size(n, args.rounds, Path(tmp), url)
    print(table(["chunks", "a reader catching up with one foreign 10-chunk write", "ms p50 / p95"], rows))


if __name__ == "__main__":
    main()
