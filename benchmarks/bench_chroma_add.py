"""Chroma's local `add` at scale: HNSW build settings, batch sizes, concurrent writers.

Rows like the app's: 384-d unit vectors, ~1 KB of real-looking text as the document, and
the 8 metadata keys every chunk carries. Each variant writes N rows into a fresh
`PersistentClient` directory and reports chunks/s overall and for the last tenth (the
rate falls as the collection grows); `--profile` runs one variant under py-spy.

    python benchmarks/bench_chroma_add.py --rows 100000 --variants default big-hnsw no-documents
    python benchmarks/bench_chroma_add.py --rows 20000 --variants all

Variants:
  default        what the app does: batches of `get_max_batch_size()` (5,461), default HNSW
  batch-1000     batches of 1,000
  big-hnsw       hnsw batch_size 10,000 and sync_threshold 100,000 (fewer, larger index flushes)
  ef-40          hnsw ef_construction 40 (default 100): a cheaper graph build, recall measured
  no-fts         the document stored, its full-text index turned off (Schema.delete_index)
  no-documents   the text in no field at all (what Chroma's full-text index of documents costs)
  text-in-meta   the text as a metadata string instead of the document
  two-writers    two threads adding alternate batches to one collection
  local-only     the same rows written to SQLite + numpy only (no index of any kind)
  local-index    `LocalIndex.apply` in writes of 5,000: the app's write path less Chroma (rows,
                 the trigram table for "text contains", the keyword index, the vectors)
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import machine, table

WORDS = (
    "protein cell gene expression mitochondria receptor pathway tissue signal kinase membrane "
    "patients treatment clinical study results analysis model data increased reduced levels "
    "the of and in to a with for was were by on that as is from at this these which"
).split()
ALL = (
    "default",
    "batch-1000",
    "big-hnsw",
    "ef-40",
    "no-documents",
    "no-fts",
    "text-in-meta",
    "two-writers",
    "local-only",
    "local-index",
)


def rows(n: int, seed: int = 0) -> tuple[list[str], np.ndarray, list[str], list[dict[str, Any]]]:
    rng = np.random.default_rng(seed)
    # Low intrinsic dimension, as real embeddings have (48-d clusters projected to 384-d):
    # uniform random 384-d vectors would make any HNSW graph look bad.
    centres = rng.standard_normal((64, 48)).astype(np.float32)
    local = centres[rng.integers(0, 64, n)] + 0.6 * rng.standard_normal((n, 48)).astype(np.float32)
    vectors = local @ rng.standard_normal((48, 384)).astype(np.float32)
    vectors += 0.05 * rng.standard_normal((n, 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    words = np.array(WORDS)
    texts = [" ".join(words[rng.integers(0, len(words), 150)]) for _ in range(min(n, 5000))]
    ids, docs, metas = [], [], []
    for i in range(n):
        doc = f"{i // 50:064x}"
        ids.append(f"{doc}:{i % 50}")
        docs.append(texts[i % len(texts)])
        metas.append(
            {
                "doc_id": doc,
                "source": f"file-{i // 50}.pdf",
                "file_type": "pdf",
                "title": f"Document {i // 50}",
                "chunk": i % 50,
                "start": (i % 50) * 900,
                "tokens": 200,
                "ingested_at": 1_760_000_000 + i // 50,
            }
        )
    return ids, vectors, docs, metas


def chroma_variant(
    name: str, directory: Path, data: Any, max_batch: int | None = None
) -> tuple[float, float]:
    import chromadb

    ids, vectors, docs, metas = data
    client = chromadb.PersistentClient(path=str(directory))
    hnsw: dict[str, Any] = {"space": "cosine"}
    if name == "big-hnsw":
        hnsw.update(batch_size=10_000, sync_threshold=100_000)
    if name == "ef-40":
        hnsw.update(ef_construction=40)
    if name == "no-fts":
        from chromadb.api.types import FtsIndexConfig, Schema, VectorIndexConfig

        schema = Schema().create_index(config=VectorIndexConfig(space="cosine"))
        schema = schema.delete_index(config=FtsIndexConfig(), key="#document")
        collection = client.create_collection("bench", embedding_function=None, schema=schema)
    else:
        configuration: Any = {"hnsw": hnsw}
        collection = client.create_collection("bench", embedding_function=None, configuration=configuration)
    step = max_batch or (1000 if name == "batch-1000" else int(client.get_max_batch_size()))

    def add(start: int) -> None:
        end = min(start + step, len(ids))
        kwargs: dict[str, Any] = {"ids": ids[start:end], "embeddings": vectors[start:end]}
        if name == "text-in-meta":
            kwargs["metadatas"] = [
                {**m, "text": d} for m, d in zip(metas[start:end], docs[start:end], strict=True)
            ]
        else:
            kwargs["metadatas"] = metas[start:end]
            if name != "no-documents":
                kwargs["documents"] = docs[start:end]
        collection.add(**kwargs)

    starts = list(range(0, len(ids), step))
    tail_from = starts[int(len(starts) * 0.9)] if len(starts) > 1 else 0
    began = time.perf_counter()
    tail_began = began
    if name == "two-writers":
        lock = threading.Lock()
        queue = list(starts)

        def worker() -> None:
            while True:
                with lock:
                    if not queue:
                        return
                    start = queue.pop(0)
                add(start)

        threads = [threading.Thread(target=worker) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    else:
        for start in starts:
            if start == tail_from:
                tail_began = time.perf_counter()
            add(start)
    elapsed = time.perf_counter() - began
    assert collection.count() == len(ids)
    recalls.append(recall(collection, vectors))
    tail = (
        (len(ids) - tail_from) / (time.perf_counter() - tail_began) if name != "two-writers" else float("nan")
    )
    return len(ids) / elapsed, tail


recalls: list[float] = []


def recall(collection: Any, vectors: np.ndarray) -> float:
    """Recall@10 of unfiltered queries against brute force, 50 queries near stored rows."""
    rng = np.random.default_rng(1)
    queries = (
        vectors[rng.integers(0, len(vectors), 50)]
        + rng.standard_normal((50, vectors.shape[1])).astype(np.float32) * 0.05
    )
    found = collection.query(query_embeddings=queries, n_results=10, include=[])["ids"]
    exact = np.argsort(-(queries @ vectors.T), axis=1)[:, :10]
    hits = sum(
        len({int(i.split(":")[0], 16) * 50 + int(i.split(":")[1]) for i in got} & set(row.tolist()))
        for got, row in zip(found, exact, strict=True)
    )
    return hits / (10 * len(queries))


def local_only(directory: Path, data: Any) -> tuple[float, float]:
    """SQLite rows (text, metadata JSON) and a numpy array of vectors: no index at all."""
    import json

    ids, vectors, docs, metas = data
    db = sqlite3.connect(directory / "rows.sqlite3")
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE c (row INTEGER PRIMARY KEY, id TEXT UNIQUE, text TEXT, meta TEXT, v BLOB)")
    began = time.perf_counter()
    out = np.zeros_like(vectors)
    for start in range(0, len(ids), 5000):
        end = start + 5000
        with db:
            db.executemany(
                "INSERT INTO c VALUES (?, ?, ?, ?, ?)",
                [
                    (
                        start + i,
                        ids[start + i],
                        docs[start + i],
                        json.dumps(metas[start + i]),
                        vectors[start + i].tobytes(),
                    )
                    for i in range(min(5000, len(ids) - start))
                ],
            )
        out[start:end] = vectors[start:end]
    rate = len(ids) / (time.perf_counter() - began)
    db.close()
    return rate, float("nan")


def local_index(directory: Path, data: Any) -> tuple[float, float]:
    from searchapp.storage.local_index import ChunkRow, LocalIndex
    from searchapp.storage.terms import keyword_tokens

    ids, vectors, docs, metas = data
    terms = {text: " ".join(keyword_tokens(text)) for text in set(docs)}
    index = LocalIndex(directory, dimension=vectors.shape[1], mirror_vectors=True)
    began = time.perf_counter()
    tail = float("nan")
    for start in range(0, len(ids), 5000):
        end = min(start + 5000, len(ids))
        rows = [ChunkRow(ids[i], docs[i], metas[i], vectors[i], terms[docs[i]]) for i in range(start, end)]
        write_began = time.perf_counter()
        index.apply(generation=f"g{start}", add=rows)
        tail = (end - start) / (time.perf_counter() - write_began)  # the last write's rate
    rate = len(ids) / (time.perf_counter() - began)
    index.close()
    return rate, tail


def profile(variant: str, n: int, out: Path) -> None:
    """Run one variant in a child under py-spy (native frames) and keep the flame graph."""
    import subprocess

    cmd = [sys.executable, __file__, "--rows", str(n), "--variants", variant, "--child"]
    subprocess.run(
        [
            str(Path(sys.executable).parent / "py-spy"),
            "record",
            "--native",
            "--rate",
            "50",
            "-o",
            str(out),
            "--format",
            "raw",
            "--",
            *cmd,
        ],
        check=True,
    )
    print(f"py-spy samples in {out}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--variants", nargs="+", default=["default", "big-hnsw", "no-documents"])
    parser.add_argument("--profile", type=Path, help="py-spy raw output for the first variant")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    variants = list(ALL) if args.variants == ["all"] else args.variants
    if args.profile:
        profile(variants[0], args.rows, args.profile)
        return
    data = rows(args.rows)
    if not args.child:
        print(machine())
    results: list[list[object]] = []
    for name in variants:
        directory = Path(tempfile.mkdtemp(prefix="bench-chroma-"))
        load = os.getloadavg()[0]
        try:
            if name == "local-only":
                rate, tail = local_only(directory, data)
            elif name == "local-index":
                rate, tail = local_index(directory, data)
            else:
                rate, tail = chroma_variant(name, directory, data)
        finally:
            size = sum(p.stat().st_size for p in directory.rglob("*") if p.is_file())
            shutil.rmtree(directory, ignore_errors=True)
        got = f"{recalls.pop():.3f}" if recalls else ""
        tail_rate = "" if tail != tail else f"{tail:,.0f}"
        results.append(
            [
                name,
                f"{args.rows:,}",
                f"{rate:,.0f}",
                tail_rate,
                got,
                f"{size / args.rows:,.0f}",
                f"{load:.1f}",
            ]
        )
        print(results[-1], flush=True)
    header = [
        "variant",
        "rows",
        "chunks/s",
        "last tenth chunks/s",
        "recall@10",
        "disk B/chunk",
        "load at start",
    ]
    print(table(header, results))


if __name__ == "__main__":
    main()
