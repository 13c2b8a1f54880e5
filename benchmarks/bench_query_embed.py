"""What one query's embedding costs on each CPU backend: wall and CPU time, fresh texts.

A search embeds its query first (`embed_query`: one text, no cache for a new one), and
on a CPU that is most of a search's cost (docs/benchmarks.md, "The HTTP API under load").
Each backend embeds the same SciFact queries, one at a time, interleaved query by query
so that the machine's noise falls on all alike; p50 / p95 of wall time and of this
process's CPU time (all its threads).

    python benchmarks/bench_query_embed.py [--queries 300] [--out results.md]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.bench_ingest import backends
from benchmarks.common import Timing, machine, table
from searchapp.embedding.embedders import SentenceTransformerEmbedder
from searchapp.embedding.models import resolve_model

QUERIES = Path(__file__).resolve().parent.parent.parent / "shared" / "eval" / "scifact" / "queries.jsonl"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    with QUERIES.open(encoding="utf-8") as lines:
        texts = [json.loads(line)["text"] for line in lines][: args.queries]
    info = resolve_model("all-MiniLM-L6-v2")
    names = [name for name in backends() if name != "cuda"]
    with tempfile.TemporaryDirectory() as cache:  # OpenVINO's conversions, made here once
        embedders = {
            name: SentenceTransformerEmbedder(info, device="cpu", backend=name, cache_dir=cache)
            for name in names
        }
        for embedder in embedders.values():
            embedder.embed_documents(["warm up"] * 4)
        load_before = os.getloadavg()[0]
        wall: dict[str, list[float]] = {name: [] for name in names}
        cpu: dict[str, list[float]] = {name: [] for name in names}
        for text in texts:
            for name, embedder in embedders.items():
                started, cpu_started = time.perf_counter(), time.process_time()
                embedder.embed_query(text)
                wall[name].append((time.perf_counter() - started) * 1000)
                cpu[name].append((time.process_time() - cpu_started) * 1000)
        load_after = os.getloadavg()[0]
    rows = []
    for name, embedder in embedders.items():
        w, c = Timing(name, tuple(wall[name])), Timing(name, tuple(cpu[name]))
        rows.append([embedder.backend, f"{w.p50:.1f} / {w.p95:.1f}", f"{c.p50:.1f} / {c.p95:.1f}"])
    report = (
        f"{machine()}; load average {load_before:.1f} before, {load_after:.1f} after; "
        f"{len(texts)} SciFact queries, each once per backend\n\n"
        + table(["backend", "wall p50 / p95 ms", "CPU p50 / p95 ms"], rows)
    )
    print(report)
    if args.out:
        args.out.write_text(report + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
