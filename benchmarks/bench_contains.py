""" "Text contains" at 100k-1M chunks: the trigram index's full row list against ranking first.

The scale benchmark's real text (`benchmarks/scale_fixtures.py`: SciFact and the shared
PDFs chunked by the app, repeated under distinct ids up to N chunks), written through
`LocalIndex.apply` into `benchmarks/results/contains-N/` with random unit vectors (the
cost of a "text contains" filter does not depend on what the vectors hold, and no model
is needed). For every needle, two plans alternate query by query on the same index:

- index: the filter's full row list from the trigram index, then ranking among those rows
  (what every needle did before);
- auto: what `ChunkIndex` picks: the index for a needle in under 1% of the chunks (by its
  sampled share) or when checking would cost more than the index's list, else ranking
  the other filters' rows first and checking the texts of the best. With no other filter,
  dense ranking is Chroma's HNSW index in the app; here an exact scan of every row
  stands in for it (an upper bound: tens of milliseconds where HNSW takes 2).

Each timing is one `ChunkIndex.candidates` call, for the lists a search mode asks for,
without embedding the query (add the query embedding, ~5-10 ms, for end to end): dense
top 10, keyword top 10, and the two top-100 lists that hybrid and adaptive fuse. p50 /
p95 ms; both plans' answers are compared (equal scores in order).

    python benchmarks/bench_contains.py --sizes 100000 1000000 --queries 20
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.bench_scale import DIM, LocalStore, pct
from benchmarks.bench_scale import build as scale_build
from benchmarks.common import machine, table
from benchmarks.scale_fixtures import RESULTS, SHARED
from searchapp.filters import SearchFilters
from searchapp.request import PreparedQuery, SearchRequest
from searchapp.storage import contains_ranked
from searchapp.storage.local_index import LocalIndex
from searchapp.storage.terms import keyword_tokens

SLOW_MS = 3000  # an index plan slower than this is timed on the first query only
NEEDLES = [
    "",  # no filter: what the stand-in for HNSW costs by itself
    "e",
    "a",
    "th",
    "the",
    "ß",
    "cell",
    "protein",
    "gene expression",
    "mitochondria",
    "zebrafish",
    "中文",
]


def index_dir(n: int) -> Path:
    return RESULTS / f"contains-{n}"


def build(n: int) -> None:
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((8192, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    scale_build(n, index_dir(n), vectors)


def measure(n: int, queries: int) -> list[list[object]]:
    from searchapp.storage.chunk_index import ChunkIndex

    local = LocalIndex(index_dir(n), dimension=DIM, mirror_vectors=True)
    # Without Chroma, an exact scan of every row stands in for its HNSW index (an upper bound).
    index = ChunkIndex(LocalStore(local), local)  # type: ignore[arg-type]
    texts = [json.loads(line)["text"] for line in (SHARED / "scifact" / "queries.jsonl").open()]
    rng = random.Random(0)
    vrng = np.random.default_rng(1)
    auto_share = contains_ranked.MIN_SHARE
    plans = {"index": 2.0, "auto": auto_share}
    ops = {
        "dense 10": ("dense", 10),
        "keyword 10": ("keyword", 10),
        "dense 100 + keyword 100": ("hybrid", 100),
    }
    rows: list[list[object]] = []
    local.contains_share(["warm"])  # the sample of texts, the readers
    for needle in NEEDLES:
        filters = SearchFilters(text_contains=needle)  # "": no filter, the HNSW stand-in's cost
        samples: dict[tuple[str, str], list[float]] = {(p, o): [] for p in plans for o in ops}
        admitted = int(np.count_nonzero(local.mask(filters)))
        common = bool(needle) and bool(contains_ranked.common(local, [needle]))
        share = local.contains_share([needle]) if needle else 1.0
        plan_used = f"ranked, then checked (share {share:.0%})" if common else "index"
        for _ in range(queries):
            vector = vrng.standard_normal(DIM).astype(np.float32)
            vector /= np.linalg.norm(vector)
            text = rng.choice(texts)
            query = PreparedQuery(text, vector, terms=tuple(keyword_tokens(text)))
            answers: dict[tuple[str, str], Any] = {}
            for plan, threshold in plans.items():
                contains_ranked.MIN_SHARE = threshold
                for op, (mode, k) in ops.items():
                    if plan == "index" and samples[(plan, op)] and min(samples[(plan, op)]) > SLOW_MS:
                        continue  # seconds a query: its first samples say enough
                    request = SearchRequest(text, k=k, mode=mode, filters=filters, syntax=False)
                    started = time.perf_counter()
                    found = index.candidates(request, query, k)
                    samples[(plan, op)].append((time.perf_counter() - started) * 1000)
                    answers[(plan, op)] = (found.dense, found.keyword)
            for op in ops:
                if ("index", op) in answers:
                    got, want = answers[("auto", op)], answers[("index", op)]
                    assert _scores(got) == _scores(want), (needle, op)
        contains_ranked.MIN_SHARE = auto_share
        for op in ops:
            before, after = samples[("index", op)], samples[("auto", op)]
            rows.append(
                [
                    f"{n:,}",
                    repr(needle),
                    f"{admitted:,}",
                    op,
                    f"{pct(before, 50):.1f} / {pct(before, 95):.1f}",
                    f"**{pct(after, 50):.1f}** / {pct(after, 95):.1f}",
                    plan_used,
                ]
            )
            print(rows[-1], flush=True)
    local.close()
    return rows


def _scores(answer: Any) -> Any:
    if isinstance(answer, tuple):
        return tuple(_scores(a) for a in answer)
    return [round(score, 4) for _, score in answer]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="*", default=[100_000, 1_000_000])
    parser.add_argument("--queries", type=int, default=20)
    parser.add_argument("--measure", type=int, help="(internal) measure one size in this process")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if args.measure:
        print("ROWS " + json.dumps(measure(args.measure, args.queries)), flush=True)
        return
    print(machine(), flush=True)
    rows: list[list[object]] = []
    for n in args.sizes:
        build(n)
        out = subprocess.run(
            [sys.executable, __file__, "--measure", str(n), "--queries", str(args.queries)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        rows += json.loads(next(line for line in out.splitlines() if line.startswith("ROWS "))[5:])
    header = [
        "chunks",
        "needle",
        "rows holding it",
        "lists",
        "index p50 / p95 ms",
        "auto p50 / p95 ms",
        "auto plan",
    ]
    result = f"{machine()}\n\n" + table(header, rows)
    print(result)
    if args.out:
        args.out.write_text(result + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
