"""A library that takes uploads all day at 100k-1M chunks: writes, searches, memory, reopen.

Real text: SciFact's abstracts and the shared PDFs, extracted and chunked by the app's own
code (`benchmarks/scale_fixtures.py`), repeated under distinct document and chunk ids up to
N chunks. The local index is built directly through `LocalIndex.apply` (SQLite rows, the
FTS5 trigram table, the keyword index, vectors): building 1M chunks through Chroma would
take hours here. Vectors: the first E distinct chunks embedded once with the real model,
chunk i reusing vector i mod E. Query embeddings are real (SciFact's queries, fresh text
for every search).

Each size is measured in a fresh process (`--measure N`), so its reopen time and peak RSS
are its own:

- reopen: `LocalIndex(...)` on the saved index;
- every filter in every mode, end to end through `Searcher.search` (query embedding,
  filter mask, retrieval, reading the hits), p50 / p95; the "text contains" mask alone;
- a 10-chunk document upload (vectors precomputed: the cost beyond embedding) while 4
  threads search (`--searchers`), and a full merge of the keyword index in the background while they do.

Unfiltered dense search goes to Chroma's HNSW index in the app; here, without Chroma, it
is an exact scan of every row (an upper bound).

    python benchmarks/bench_scale.py --sizes 100000 1000000 --out benchmarks/results/scale.md
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import machine, peak_rss_mb, table
from benchmarks.scale_fixtures import RESULTS, SHARED, DistinctChunk, load_chunks, load_vectors
from searchapp.filters import SearchFilters
from searchapp.request import SearchRequest
from searchapp.storage.local_index import ChunkRow, LocalIndex

DIM = 384
BATCH = 10_000
TAGS = ["legal", "finance", "it", "hr"]
NEEDLES = ["zebrafish", "protein", "cell", "gene expression", "mitochondria", "ß", "中文"]


def index_dir(n: int) -> Path:
    return RESULTS / f"scale-{n}"


def chunk_rows(chunks: list[DistinctChunk], vectors: np.ndarray, start: int, end: int) -> list[ChunkRow]:
    """Chunks start..end of the repeated corpus, as `LocalIndex.apply` takes them."""
    out = []
    for i in range(start, end):
        repeat, c = divmod(i, len(chunks))
        chunk = chunks[c]
        doc = repeat * 10_000 + chunk.doc
        doc_id = f"{doc:064x}"
        meta: dict[str, Any] = {
            "doc_id": doc_id,
            "source": f"r{repeat}-{chunk.source}",
            "file_type": chunk.file_type,
            "chunk": chunk.index,
            "ingested_at": 1_700_000_000 + doc,
        }
        if chunk.page:
            meta["page"] = chunk.page
        tags = [t for b, t in enumerate(TAGS) if (doc >> b) % 3 == 0]
        if tags:
            meta["tags"] = tags
        out.append(
            ChunkRow(f"{doc_id}:{chunk.index}", chunk.text, meta, vectors[i % len(vectors)], chunk.terms)
        )
    return out


def build(n: int, directory: Path | None = None, vectors: np.ndarray | None = None) -> None:
    """The scale index of n chunks in `directory` (default: `index_dir(n)`), with the
    fixtures' real vectors unless others are given."""
    directory = directory or index_dir(n)
    if (directory / "complete").exists():
        return
    chunks = load_chunks()
    vectors = load_vectors() if vectors is None else vectors
    index = LocalIndex(directory, dimension=DIM, mirror_vectors=True)
    started = time.perf_counter()
    for start in range(index.count, n, BATCH):
        index.apply(
            generation=f"build-{start}", add=chunk_rows(chunks, vectors, start, min(n, start + BATCH))
        )
        if start % 100_000 == 0:
            print(f"  {start + BATCH:,} chunks, {time.perf_counter() - started:.0f} s", flush=True)
    index._keyword.merge_all()
    index.close()
    (directory / "complete").write_text(str(n))
    print(f"built {n:,} chunks in {time.perf_counter() - started:.0f} s", flush=True)


class LocalStore:
    """The one call `Searcher` makes to Chroma, answered by an exact scan of all rows."""

    def __init__(self, local: LocalIndex) -> None:
        self.local = local

    def query_ids(self, vector: Any, k: int, where: Any = None, where_document: Any = None) -> Any:
        positions, scores = self.local.dense_search(vector, k, self.local.mask(SearchFilters()))
        return self.local.ids_at(list(positions)), [1.0 - float(s) for s in scores]

    def get_chunks(self, **_: Any) -> Any:
        raise RuntimeError("the stand-in for Chroma has no chunks of its own: every chunk is local")


def pct(samples: list[float], q: float) -> float:
    data = sorted(samples)
    return data[min(len(data) - 1, round(q / 100 * (len(data) - 1)))] if data else float("nan")


def cell(samples: list[float]) -> str:
    return f"{pct(samples, 50):.1f} / {pct(samples, 95):.1f}"


def measure(n: int, queries: int, searchers: int = 4) -> dict[str, Any]:
    from searchapp.config import Settings
    from searchapp.embedding.embedders import get_embedder
    from searchapp.retrieval.search import Searcher
    from searchapp.storage.chunk_index import ChunkIndex

    directory = index_dir(n)
    started = time.perf_counter()
    local = LocalIndex(directory, dimension=DIM, mirror_vectors=True)
    reopen_s = time.perf_counter() - started
    rss_open = peak_rss_mb()
    embedder = get_embedder(Settings.load(environ={}))
    searcher = Searcher(ChunkIndex(LocalStore(local), local), embedder)  # type: ignore[arg-type]
    texts = [json.loads(line)["text"] for line in (SHARED / "scifact" / "queries.jsonl").open()]
    rng = random.Random(n)
    fresh = iter(rng.sample(texts, len(texts)) * 1000)
    searcher.search(
        SearchRequest("warm up", k=10, mode="hybrid", filters=SearchFilters(text_contains="warm"))
    )
    docs = sorted(local._docs.code)
    filters = {
        "none": SearchFilters(),
        "document": SearchFilters(doc_ids=(docs[len(docs) // 2],)),
        "type=pdf": SearchFilters(file_types=("pdf",)),
        "pages 3-7": SearchFilters(page_min=3, page_max=7),
        "tag=legal": SearchFilters(tags=("legal",)),
        "ingested after": SearchFilters(ingested_after=1_700_000_000 + 40 * 10_000),
        **{f"contains {w!r}": SearchFilters(text_contains=w) for w in NEEDLES},
        "type=pdf + contains 'cell'": SearchFilters(file_types=("pdf",), text_contains="cell"),
    }
    out: dict[str, Any] = {"n": n, "reopen_s": reopen_s, "rss_open_mb": rss_open, "filters": []}
    for name, flt in filters.items():
        admitted = int(local.mask(flt).sum())
        mask_ms = []
        for _ in range(max(10, queries // 3)):
            t0 = time.perf_counter()
            local.mask(flt)
            mask_ms.append((time.perf_counter() - t0) * 1000)
        row = {"filter": name, "rows": admitted, "mask": cell(mask_ms)}
        for mode in ("dense", "keyword", "hybrid"):
            samples = []
            for _ in range(queries):
                t0 = time.perf_counter()
                searcher.search(SearchRequest(next(fresh), k=10, filters=flt, mode=mode, syntax=False))
                samples.append((time.perf_counter() - t0) * 1000)
            row[mode] = cell(samples)
        out["filters"].append(row)
        print(f"  {name:28} rows {admitted:>9,}  mask {row['mask']:>13}  dense {row['dense']:>13}  "
              f"keyword {row['keyword']:>13}  hybrid {row['hybrid']:>13}", flush=True)  # fmt: skip
    out["concurrent"] = concurrent(local, searcher, fresh, filters, n, searchers)
    out["peak_rss_mb"] = peak_rss_mb()
    out["memory"] = memory(local)
    local.close()
    return out


def concurrent(
    local: LocalIndex, searcher: Any, fresh: Any, filters: dict[str, SearchFilters], n: int, searchers: int
) -> list[list[str]]:
    """Uploads, then a full keyword merge, while `searchers` threads search (modes and filters mixed)."""
    chunks, vectors = load_chunks(), load_vectors()
    names = list(filters)
    lock = threading.Lock()
    log: list[tuple[float, float]] = []  # (end time, latency ms)
    stop = threading.Event()

    def searching(seed: int) -> None:
        pick = random.Random(seed)
        while not stop.is_set():
            with lock:
                text = next(fresh)
            t0 = time.perf_counter()
            searcher.search(
                SearchRequest(
                    text,
                    k=10,
                    filters=filters[pick.choice(names)],
                    mode=pick.choice(["dense", "keyword", "hybrid"]),
                    syntax=False,
                )
            )
            end = time.perf_counter()
            with lock:
                log.append((end, (end - t0) * 1000))

    threads = [threading.Thread(target=searching, args=(s,)) for s in range(searchers)]
    for t in threads:
        t.start()
    time.sleep(3)
    idle = f"idle ({searchers} searchers)"
    windows: dict[str, list[tuple[float, float]]] = {idle: [], "upload": [], "merge": []}
    t_idle = time.perf_counter()
    time.sleep(8)
    windows[idle].append((t_idle, time.perf_counter()))
    uploads = []
    for u in range(12):
        doc_id = f"upload-{u % 6}"  # the second six replace the first six (a re-upload)
        first = (u * 7919) % (len(chunks) - 10)
        rows = chunk_rows(chunks, vectors, first, first + 10)
        add = [
            ChunkRow(
                f"{doc_id}:{i}",
                row.text + f" v{u}",
                {**row.metadata, "doc_id": doc_id},
                row.vector,
                row.terms,
            )
            for i, row in enumerate(rows)
        ]
        t0 = time.perf_counter()
        local.apply(generation=f"upload-{u}", delete_docs=[doc_id], add=add)
        t1 = time.perf_counter()
        uploads.append((t1 - t0) * 1000)
        windows["upload"].append((t0, t1 + 0.05))
        time.sleep(0.5)
    t0 = time.perf_counter()
    merge = threading.Thread(target=local._keyword.merge_all)
    merge.start()
    merge.join()
    merge_s = time.perf_counter() - t0
    windows["merge"].append((t0, time.perf_counter()))
    stop.set()
    for t in threads:
        t.join()

    def during(spans: list[tuple[float, float]]) -> list[float]:
        return [ms for end, ms in log if any(a <= end and end - ms / 1000 <= b for a, b in spans)]

    return [
        [f"{n:,}", "10-chunk upload (SQLite rows + trigram + BM25), 6 new + 6 replacing", f"{cell(uploads)} ms (max {max(uploads):.0f})", cell(during(windows["upload"])), str(len(during(windows["upload"])))],
        [f"{n:,}", "no write (baseline)", "", cell(during(windows[idle])), str(len(during(windows[idle])))],
        [f"{n:,}", "full keyword merge on a background thread", f"{merge_s:.1f} s", cell(during(windows["merge"])), str(len(during(windows["merge"])))],
    ]  # fmt: skip


def memory(local: LocalIndex) -> list[list[str]]:
    cols = local._cols
    keyword_bytes = sum(
        getattr(seg, name).nbytes
        for seg in local._keyword._segments
        for name in seg.__slots__
        if name != "seg_id"
    )
    parts = [
        ("vectors (fp32, with growth headroom)", cols.vectors.nbytes if cols.vectors is not None else 0),
        ("int8 copy of the vectors", cols.codes.nbytes if cols.codes is not None else 0),
        ("keyword index postings and per-document arrays", keyword_bytes),
    ]
    return [[name, f"{b / 2**20:,.0f} MB"] for name, b in parts]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="*", default=[100_000, 1_000_000])
    parser.add_argument("--queries", type=int, default=40)
    parser.add_argument("--searchers", type=int, default=4, help="threads searching during the uploads")
    parser.add_argument("--measure", type=int, help="(internal) measure one size in this process")
    parser.add_argument("--build-only", action="store_true")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.queries, args.searchers)))
        return
    print(f"machine: {machine()}", flush=True)
    for n in args.sizes:
        build(n)
    if args.build_only:
        return
    results = []
    for n in args.sizes:
        print(f"== {n:,} chunks", flush=True)
        proc = subprocess.run(
            [sys.executable, __file__, "--measure", str(n), "--queries", str(args.queries), "--searchers", str(args.searchers)],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        sys.stderr.write(proc.stderr[-3000:])
        lines = proc.stdout.strip().splitlines()
        print("\n".join(lines[:-1]))
        results.append(json.loads(lines[-1]))
    report = [
        f"machine: {machine()}; `python benchmarks/bench_scale.py --sizes {' '.join(map(str, args.sizes))} --queries {args.queries}`"
    ]
    report.append(
        "End to end (`Searcher.search`: fresh query embedding, filter, retrieval, hits), top-10, p50 / p95 ms; the mask column is the filter alone:\n\n"
        + table(
            ["chunks", "filter", "rows admitted", "mask", "dense", "keyword", "hybrid"],
            [[f"{r['n']:,}", f["filter"], f"{f['rows']:,}", f["mask"], f["dense"], f["keyword"], f["hybrid"]] for r in results for f in r["filters"]],
        )
    )  # fmt: skip
    report.append(
        f"Writes while {args.searchers} threads search (mixed modes and filters), search p50 / p95 ms:\n\n"
        + table(["chunks", "while", "write took (p50 / p95)", "searches p50 / p95", "searches"], [row for r in results for row in r["concurrent"]])
    )  # fmt: skip
    report.append(
        "Reopen and memory:\n\n"
        + table(
            ["chunks", "reopen (LocalIndex)", "RSS after reopen", "peak RSS (with model, searches, uploads, merge)", "largest parts"],
            [[f"{r['n']:,}", f"{r['reopen_s']:.1f} s", f"{r['rss_open_mb']:,.0f} MB", f"{r['peak_rss_mb']:,.0f} MB", "; ".join(f"{a}: {b}" for a, b in r["memory"])] for r in results],
        )
    )  # fmt: skip
    text = "\n\n".join(report)
    print("\n" + text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
