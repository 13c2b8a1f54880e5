"""Incremental keyword index options, side by side on the same real terms.

The BM25 terms of `benchmarks/scale_fixtures.py`'s chunks (SciFact and the shared PDFs,
the app's own stemming, stopwords and CJK bigrams), repeated to N documents; SciFact's
queries. For each option: building N documents, adding one 10-chunk document and making
it searchable, a top-10 query with no filter and with a filter admitting ~40% of rows, and
agreement with a fresh bm25s "lucene" index (the ranking the app has had so far).

- bm25s: what the app did: rebuild everything on a write.
- SQLite FTS5 `bm25()`: our terms joined by spaces (the `ascii` tokenizer keeps them whole).
- tantivy (PyPI `tantivy`): the `whitespace` tokenizer over the same joined terms.
- searchapp.storage.keyword_index: the segment design chosen.

    python benchmarks/bench_keyword_options.py --docs 100000 [--tantivy-path DIR]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import machine, table
from benchmarks.scale_fixtures import SHARED, load_chunks
from searchapp.storage.keyword_index import BM25_B, BM25_K1, KeywordIndex
from searchapp.storage.terms import keyword_tokens

Search = Callable[[list[str], np.ndarray | None], list[int]]


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    value = fn()
    return (time.perf_counter() - t0) * 1000, value


def p50(samples: list[float]) -> str:
    return f"{sorted(samples)[len(samples) // 2]:.1f}"


def run_option(name: str, build: Callable[[], Any], add: Callable[[Any], Any], search: Callable[[Any, list[str], np.ndarray | None], list[int]], queries: list[list[str]], mask: np.ndarray, reference: list[list[int]], reference_masked: list[list[int]]) -> list[str]:  # fmt: skip
    build_ms, state = timed(build)
    plain, masked, same, same_masked = [], [], 0, 0
    for q, want, want_masked in zip(queries, reference, reference_masked, strict=True):
        t0 = time.perf_counter()
        got = search(state, q, None)
        plain.append((time.perf_counter() - t0) * 1000)
        same += got == want
        t0 = time.perf_counter()
        got = search(state, q, mask)
        masked.append((time.perf_counter() - t0) * 1000)
        same_masked += got == want_masked
    add_ms = [timed(lambda: add(state))[0] for _ in range(5)]  # after the queries: the reference lacks these
    row = [name, f"{build_ms / 1000:.1f} s", f"{p50(add_ms)} ms", f"{p50(plain)} ms", f"{p50(masked)} ms",
           f"{same}/{len(queries)}", f"{same_masked}/{len(queries)}"]  # fmt: skip
    print("  " + " | ".join(row), flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--options", nargs="*", default=["bm25s", "fts5", "tantivy", "segments"])
    parser.add_argument("--tantivy-path", help="a directory holding the tantivy package (pip --target)")
    args = parser.parse_args()
    distinct = [c.keywords.split() for c in load_chunks()]
    docs = [distinct[i % len(distinct)] for i in range(args.docs)]
    texts = [json.loads(line)["text"] for line in (SHARED / "scifact" / "queries.jsonl").open()]
    queries = [q for q in (keyword_tokens(t) for t in texts) if q][: args.queries]
    mask = np.random.default_rng(0).random(args.docs + 100) < 0.4
    new_doc = [distinct[7][:], distinct[8][:]] * 5
    print(f"machine: {machine()}; {args.docs:,} documents, {len(queries)} queries", flush=True)

    import bm25s

    def top10(scores: np.ndarray) -> list[int]:
        order = np.lexsort((np.arange(len(scores)), -scores))[:10]
        return [int(i) for i in order if scores[i] > 0]

    reference_index = bm25s.BM25(k1=BM25_K1, b=BM25_B, method="lucene")
    reference_index.index(docs, show_progress=False)
    ref = [top10(reference_index.get_scores(q)) for q in queries]
    ref_masked = [top10(reference_index.get_scores(q) * mask[: args.docs]) for q in queries]
    rows = []

    # bm25s: every write rebuilds the whole index.
    def bm25s_build() -> Any:
        index = bm25s.BM25(k1=BM25_K1, b=BM25_B, method="lucene")
        index.index(docs, show_progress=False)
        return index

    def bm25s_search(index: Any, q: list[str], m: np.ndarray | None) -> list[int]:
        scores = index.get_scores(q)
        return top10(scores if m is None else scores * m[: len(scores)])

    if "bm25s" in args.options:
        rows.append(run_option("bm25s, rebuilt on every write", bm25s_build, lambda _: bm25s_build(), bm25s_search, queries, mask, ref, ref_masked))  # fmt: skip

    # SQLite FTS5 bm25().
    workdir = Path(tempfile.mkdtemp(prefix="kwopt-"))

    def fts_build() -> Any:
        db = sqlite3.connect(workdir / "fts.sqlite3", isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE VIRTUAL TABLE t USING fts5(terms, tokenize = 'ascii', detail = 'column')")
        db.execute("BEGIN")
        db.executemany(
            "INSERT INTO t (rowid, terms) VALUES (?, ?)", ((i, " ".join(d)) for i, d in enumerate(docs))
        )
        db.execute("COMMIT")
        return db

    def fts_add(db: Any) -> None:
        db.execute("BEGIN")
        start = db.execute("SELECT max(rowid) FROM t").fetchone()[0] + 1
        db.executemany(
            "INSERT INTO t (rowid, terms) VALUES (?, ?)",
            ((start + i, " ".join(d)) for i, d in enumerate(new_doc)),
        )
        db.execute("COMMIT")

    def fts_search(db: Any, q: list[str], m: np.ndarray | None) -> list[int]:
        match = " OR ".join('"' + t + '"' for t in dict.fromkeys(q))
        if m is None:
            return [
                r
                for (r,) in db.execute(
                    "SELECT rowid FROM t WHERE t MATCH ? ORDER BY bm25(t), rowid LIMIT 10", (match,)
                )
            ]
        hits = db.execute(
            "SELECT rowid, bm25(t) FROM t WHERE t MATCH ?", (match,)
        ).fetchall()  # every match: the mask is ours
        kept = sorted((s, r) for r, s in hits if r < len(m) and m[r])
        return [r for _, r in kept[:10]]

    if "fts5" in args.options:
        rows.append(
            run_option("SQLite FTS5 bm25()", fts_build, fts_add, fts_search, queries, mask, ref, ref_masked)
        )

    # tantivy.
    try:
        if "tantivy" not in args.options:
            raise ImportError
        if args.tantivy_path:
            sys.path.insert(0, args.tantivy_path)
        import tantivy

        def tv_build() -> Any:
            builder = tantivy.SchemaBuilder()
            builder.add_text_field("terms", stored=False, tokenizer_name="whitespace")
            builder.add_integer_field("pos", stored=True, fast=True, indexed=True)
            (workdir / "tantivy").mkdir(exist_ok=True)
            index = tantivy.Index(builder.build(), path=str(workdir / "tantivy"))
            writer = index.writer(heap_size=200_000_000, num_threads=1)
            for i, d in enumerate(docs):
                writer.add_document(tantivy.Document(terms=" ".join(d), pos=i))
            writer.commit()
            writer.wait_merging_threads()
            index.reload()
            return [index, index.writer(heap_size=50_000_000, num_threads=1), args.docs]

        def tv_add(state: Any) -> None:
            index, writer, n = state
            for i, d in enumerate(new_doc):
                writer.add_document(tantivy.Document(terms=" ".join(d), pos=n + i))
            writer.commit()
            index.reload()
            state[2] = n + len(new_doc)

        def tv_search(state: Any, q: list[str], m: np.ndarray | None) -> list[int]:
            index = state[0]
            searcher = index.searcher()
            query = tantivy.Query.boolean_query(
                [(tantivy.Occur.Should, tantivy.Query.term_query(index.schema, "terms", t)) for t in q]
            )
            if m is None:
                return [searcher.doc(a)["pos"][0] for _, a in searcher.search(query, 10).hits]
            found: list[int] = []  # no external filter: walk every hit, best first
            for _, address in searcher.search(query, searcher.num_docs).hits:
                position = searcher.doc(address)["pos"][0]
                if position < len(m) and m[position]:
                    found.append(position)
                    if len(found) == 10:
                        break
            return found

        rows.append(
            run_option("tantivy 0.27 (PyPI)", tv_build, tv_add, tv_search, queries, mask, ref, ref_masked)
        )
    except ImportError:
        print("  tantivy: skipped (not chosen, or not installed)")

    def own_build() -> Any:
        index = KeywordIndex(background=False)
        index.add(np.arange(args.docs), docs)
        index.merge_all()
        return index

    def own_add(index: Any) -> None:
        n = index.count
        index.add(np.arange(n, n + len(new_doc)), new_doc)

    def own_search(index: Any, q: list[str], m: np.ndarray | None) -> list[int]:
        return [int(p) for p in index.search(q, 10, m)[0]]

    if "segments" in args.options:
        rows.append(run_option("searchapp.storage.keyword_index (segments)", own_build, own_add, own_search, queries, mask, ref, ref_masked))  # fmt: skip
    print()
    print(table(["option", f"build {args.docs:,}", "add a 10-chunk document", "query p50", "query p50, 40% mask", "top-10 = bm25s", "masked top-10 = bm25s"], rows))  # fmt: skip


if __name__ == "__main__":
    main()
