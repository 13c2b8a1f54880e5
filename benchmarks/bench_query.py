"""Query latency at 10k / 100k (/ 1M) chunks: Chroma's own filtering vs searchapp's local path.

Builds a collection of synthetic 384-d chunks through the real write path
(`Library.commit`: Chroma + catalog + local index), in documents of 50 chunks
with types, pages and tags, then times, round-robin in one process:

- retrieval only: Chroma `query(where=...)` vs `LocalIndex` exact scan, per filter kind;
- end to end: `Library.search` with the real query embedder (fresh queries, and
  repeated queries that hit the embedding cache), per filter kind and mode.

It also checks that the local filtered top-k equals a brute-force filtered top-k.

    python benchmarks/bench_query.py --sizes 10000 100000 [--queries 200] [--out results.md]
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import machine, peak_rss_mb, round_robin, table
from searchapp import Library, SearchFilters, Settings
from searchapp.types import FileType, PreparedChunk, PreparedDocument

DIM = 384
CHUNKS_PER_DOC = 50
TYPES: tuple[FileType, ...] = ("pdf", "pdf", "pdf", "md", "txt", "html", "docx")
TOPICS = [
    "contract",
    "refund",
    "invoice",
    "payroll",
    "network",
    "server",
    "backup",
    "laptop",
    "policy",
    "travel",
    "budget",
    "audit",
]


def synthetic_vectors(n: int, rng: np.random.Generator) -> np.ndarray:
    """Unit vectors with low intrinsic dimension (like real embeddings), so ANN recall is realistic."""
    basis = rng.standard_normal((48, DIM)).astype(np.float32)
    centers = rng.standard_normal((64, 48)).astype(np.float32)
    labels = rng.integers(0, 64, n)
    latent = centers[labels] + 0.6 * rng.standard_normal((n, 48)).astype(np.float32)
    vectors = latent @ basis
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors.astype(np.float32)


def build(library: Library, n: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    pyrng = random.Random(seed)
    vectors = synthetic_vectors(n, rng)
    doc_ids: list[str] = []
    started = time.perf_counter()
    for d, start in enumerate(range(0, n, CHUNKS_PER_DOC)):
        doc_id = f"{d:064x}"
        file_type = TYPES[d % len(TYPES)]
        tags = pyrng.sample(["legal", "finance", "it", "hr"], k=pyrng.randint(0, 2))
        end = min(n, start + CHUNKS_PER_DOC)
        chunks = [
            PreparedChunk(
                text=" ".join(pyrng.choices(TOPICS, k=40)),
                index=i,
                start=i * 900,
                tokens=40,
                page=1 + i // 3 if file_type == "pdf" else None,
            )
            for i in range(end - start)
        ]
        library.commit(
            [
                PreparedDocument(
                    doc_id=doc_id,
                    source=f"doc{d}.{file_type}",
                    file_type=file_type,
                    title=f"Document {d}",
                    original=doc_id.encode(),
                    chunks=tuple(chunks),
                    vectors=vectors[start:end],
                    tags=tuple(tags),
                )
            ]
        )
        doc_ids.append(doc_id)
    print(
        f"  built {n} chunks in {time.perf_counter() - started:.0f} s ({n / (time.perf_counter() - started):.0f}/s)"
    )
    return doc_ids


def filters_for(doc_ids: list[str]) -> dict[str, SearchFilters]:
    return {
        "none": SearchFilters(),
        "document": SearchFilters(doc_ids=(doc_ids[len(doc_ids) // 2],)),
        "type=md": SearchFilters(file_types=("md",)),
        "type=pdf": SearchFilters(file_types=("pdf",)),
        "pages 3-7": SearchFilters(page_min=3, page_max=7),
    }


def check_exact(library: Library, filters: dict[str, SearchFilters], rng: np.random.Generator) -> str:
    """Local filtered top-10 == brute force over the local vectors, for every filter."""
    local = library.local
    size = local._cols.size
    vectors = local._cols.vectors
    assert vectors is not None
    checked = 0
    for flt in filters.values():
        mask = local.mask(flt)
        for _ in range(20):
            query = synthetic_vectors(1, rng)[0]
            _positions, scores = local.dense_search(query, 10, mask)
            brute = np.flatnonzero(mask[:size])
            expected = brute[np.argsort(-(vectors[brute] @ query), kind="stable")[:10]]
            assert np.allclose(np.sort(scores), np.sort(vectors[expected] @ query), atol=1e-6)
            checked += 1
    return f"{checked} filtered queries equal brute force"


def run_size(n: int, queries: int, workdir: Path) -> list[list[object]]:
    print(f"== {n} chunks")
    settings = Settings.load(environ={}, data_dir=workdir / f"n{n}", min_free_mb=1)
    rows: list[list[object]] = []
    with Library.open(settings) as library:
        doc_ids = build(library, n)
        filters = filters_for(doc_ids)
        rng = np.random.default_rng(1)
        print("  " + check_exact(library, filters, rng))
        probe = synthetic_vectors(queries, rng)
        for name, flt in filters.items():
            where, where_doc = flt.to_where(), flt.to_where_document()

            def chroma(
                i: int, where: dict[str, Any] | None = where, where_doc: dict[str, Any] | None = where_doc
            ) -> object:
                return library.store.query_ids(
                    probe[i % len(probe)], 10, where=where, where_document=where_doc
                )

            def ours(i: int, flt: SearchFilters = flt) -> object:
                if flt.is_empty:
                    return library.store.query_ids(probe[i % len(probe)], 10)  # unfiltered: HNSW
                return library.local.dense_search(probe[i % len(probe)], 10, library.local.mask(flt))

            chroma_t, ours_t = round_robin([("chroma", chroma), ("searchapp", ours)], rounds=queries)
            rows.append(
                [
                    n,
                    name,
                    f"{chroma_t.p50:.1f} / {chroma_t.p95:.1f}",
                    f"{ours_t.p50:.1f} / {ours_t.p95:.1f}",
                    f"{chroma_t.p50 / max(ours_t.p50, 1e-6):.1f}x",
                ]
            )
            print(
                f"  {name:10} chroma p50/p95 {chroma_t.p50:7.1f}/{chroma_t.p95:7.1f} ms   "
                f"searchapp {ours_t.p50:6.1f}/{ours_t.p95:6.1f} ms"
            )
        # End to end through Library.search with the real embedder.
        words = [
            "refund",
            "contract",
            "invoice",
            "network",
            "audit",
            "budget",
            "payroll",
            "laptop",
            "travel",
            "policy",
            "backup",
            "server",
        ]
        library.search("warm up the model", k=10)
        e2e_rows = []
        for mode in ("dense", "hybrid", "adaptive"):
            for name in ("none", "document", "type=pdf", "pages 3-7"):
                flt = filters[name]
                # Fresh: text never searched before (embedding included); cached: a UI rerun.
                texts = [
                    " ".join(random.Random(i).sample(words, 4)) + f" {mode} {name} {i}"
                    for i in range(queries)
                ]

                def fresh_query(
                    i: int, flt: SearchFilters = flt, mode: str = mode, texts: list[str] = texts
                ) -> object:
                    return library.search(texts[i], k=10, filters=flt, mode=mode)

                def cached_query(
                    i: int, flt: SearchFilters = flt, mode: str = mode, texts: list[str] = texts
                ) -> object:
                    return library.search(texts[0], k=10, filters=flt, mode=mode)

                fresh, cached = round_robin(
                    [("fresh", fresh_query), ("cached", cached_query)], rounds=queries
                )
                e2e_rows.append(
                    [
                        n,
                        mode,
                        name,
                        f"{fresh.p50:.1f} / {fresh.p95:.1f}",
                        f"{cached.p50:.1f} / {cached.p95:.1f}",
                    ]
                )
                print(
                    f"  e2e {mode:6} {name:10} fresh {fresh.p50:6.1f}/{fresh.p95:6.1f} ms  cached {cached.p50:6.1f}/{cached.p95:6.1f} ms"
                )
        rows.append(["e2e", e2e_rows])
    print(f"  peak RSS so far {peak_rss_mb():.0f} MB")
    return rows


def local_only(n: int, queries: int, workdir: Path) -> list[list[object]]:
    """The filtered path alone at a size where building through Chroma would take long:
    the local index (mask + exact scan) and reading the hits, with the int8 first pass
    against a plain fp32 scan of the same rows, alternating."""
    from searchapp.storage import exact_scan
    from searchapp.storage.local_index import ChunkRow, LocalIndex

    print(f"== {n} chunks, local index only")
    rng = np.random.default_rng(0)
    index = LocalIndex(workdir / f"local-{n}", dimension=DIM, mirror_vectors=True)
    started = time.perf_counter()
    step = 50_000
    for start in range(0, n, step):
        vectors = synthetic_vectors(min(step, n - start), rng)
        adds = []
        for i, vector in enumerate(vectors):
            row = start + i
            d = row // CHUNKS_PER_DOC
            file_type = TYPES[d % len(TYPES)]
            meta = {
                "doc_id": f"{d:064x}",
                "file_type": file_type,
                "chunk": row % CHUNKS_PER_DOC,
                "ingested_at": 1,
            }
            if file_type == "pdf":
                meta["page"] = 1 + (row % CHUNKS_PER_DOC) // 3
            adds.append(ChunkRow(f"{d:064x}:{row % CHUNKS_PER_DOC}", "text", meta, vector, "text"))
        index.apply(generation=f"g{start}", add=adds)
    print(f"  built in {time.perf_counter() - started:.0f} s")
    probe = synthetic_vectors(queries, rng)
    filters = filters_for([f"{d:064x}" for d in range(n // CHUNKS_PER_DOC)])
    rows: list[list[object]] = []
    int8_min_rows = exact_scan.MIN_ROWS
    for name, flt in filters.items():
        if flt.is_empty:
            continue

        def filtered(i: int, flt: SearchFilters = flt, min_rows: int = int8_min_rows) -> object:
            exact_scan.MIN_ROWS = min_rows
            positions, _ = index.dense_search(probe[i % len(probe)], 10, index.mask(flt))
            return index.chunks(list(positions))

        def fp32(i: int, flt: SearchFilters = flt) -> object:
            return filtered(i, flt, min_rows=n + 1)

        int8, plain = round_robin([("int8 first", filtered), ("fp32", fp32)], rounds=queries)
        admitted = int(index.mask(flt).sum())
        rows.append(
            [
                n,
                name,
                f"{admitted:,}",
                f"{int8.p50:.1f} / {int8.p95:.1f}",
                f"{plain.p50:.1f} / {plain.p95:.1f}",
                f"{int8.p50 / plain.p50:.2f}",
            ]
        )
        print(
            f"  {name:10} rows {admitted:>9,}  int8 first {int8.p50:6.1f}/{int8.p95:6.1f} ms"
            f"  fp32 {plain.p50:6.1f}/{plain.p95:6.1f} ms"
        )
    exact_scan.MIN_ROWS = int8_min_rows  # the e2e runs that follow use the default path
    index.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="*", default=[10_000, 100_000])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--local-only-sizes", type=int, nargs="*", default=[], help="e.g. 1000000")
    parser.add_argument("--out", type=Path, help="write the Markdown tables here")
    parser.add_argument("--workdir", type=Path, help="keep the collections here (default: a temp dir)")
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="searchapp-bench-"))
    print(f"machine: {machine()}")
    retrieval: list[list[object]] = []
    e2e: list[list[object]] = []
    local: list[list[object]] = []
    try:
        for n in args.local_only_sizes:
            local.extend(local_only(n, args.queries, workdir))
        for n in args.sizes:
            for row in run_size(n, args.queries, workdir):
                if row[0] == "e2e":
                    e2e.extend(row[1])  # type: ignore[arg-type]
                else:
                    retrieval.append(row)
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    report = "\n\n".join(
        [
            f"machine: {machine()}; peak RSS {peak_rss_mb():.0f} MB",
            "Retrieval only, top-10, p50 / p95 ms:\n\n"
            + table(["chunks", "filter", "Chroma where", "searchapp", "speed-up (p50)"], retrieval),
            "End to end (`Library.search`: query embedding + retrieval + hits), top-10, p50 / p95 ms:\n\n"
            + table(["chunks", "mode", "filter", "fresh query", "repeated query (cached embedding)"], e2e),
            "Filtered retrieval in the local index alone (mask + exact scan + reading the 10 hits), p50 / p95 ms:\n\n"
            + table(
                ["chunks", "filter", "rows admitted", "int8 first pass", "fp32 scan", "int8 / fp32 (p50)"],
                local,
            ),
        ]
    )
    print("\n" + report)
    if args.out:
        args.out.write_text(report + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
