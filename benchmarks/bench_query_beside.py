"""One query's embedding while another thread embeds documents: where should queries run?

A sync or an upload embeds 8-passage batches back to back; a search embeds its query
meanwhile. Each variant embeds 60 SciFact queries one at a time (30 ms apart), first on
an idle model, then beside a thread embedding SciFact passages in batches of 8; p50 / p95
ms of the query and the documents/s of the thread. Variants (OpenVINO, the CPU default):

  one-lock        queries on the documents' compiled model, behind its lock (before)
  own-model       queries on a compiled model of their own, all cores (searchapp now)
  own-1-thread    the same with INFERENCE_NUM_THREADS=1
  docs-1-thread   queries on their own model, documents on a single-threaded one

    python benchmarks/bench_query_beside.py [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import machine, table
from searchapp.config import Settings
from searchapp.embedding.embedders import SentenceTransformerEmbedder, get_embedder
from searchapp.embedding.openvino import import_openvino

SCIFACT = Path(__file__).resolve().parents[2] / "shared" / "eval" / "scifact"
if not SCIFACT.exists():
    SCIFACT = Path("/work/shared/eval/scifact")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--queries", type=int, default=60)
    args = parser.parse_args()
    embedder = get_embedder(Settings.load(environ={}, min_free_mb=1))
    assert isinstance(embedder, SentenceTransformerEmbedder)
    embedder.load()
    openvino = embedder._openvino
    if openvino is None:
        sys.exit(f"the embedder runs on {embedder.backend}, not OpenVINO: nothing to compare")
    docs = [json.loads(line)["text"] for line in (SCIFACT / "corpus.jsonl").open()][:400]
    queries = [json.loads(line)["text"] for line in (SCIFACT / "queries.jsonl").open()]
    doc_ids, query_ids = embedder.tokens.ids(docs), embedder.tokens.ids(queries)
    ov = import_openvino()
    core = ov.Core()
    model = core.read_model(str(openvino._converted_path(ov.__version__)))

    def compiled(**config: Any) -> Any:
        return core.compile_model(model, "CPU", {"PERFORMANCE_HINT": "LATENCY", **config})

    run = openvino._run  # the app's own feed and pooling, on any compiled model

    documents, lock = compiled(), threading.Lock()
    variants = {  # name: (query model or None for the documents' under its lock, documents' model)
        "one-lock": (None, documents),
        "own-model": (compiled(), documents),
        "own-1-thread": (compiled(INFERENCE_NUM_THREADS=1), documents),
        "docs-1-thread": (compiled(), compiled(INFERENCE_NUM_THREADS=1)),
    }

    def measure(name: str, busy: bool) -> tuple[float, float, float]:
        for_queries, for_documents = variants[name]
        stop, done = threading.Event(), [0]

        def embed_documents() -> None:
            i = 0
            while not stop.is_set():
                with lock:
                    run(for_documents, [doc_ids[(i + j) % len(doc_ids)] for j in range(8)])
                i, done[0] = i + 8, done[0] + 8

        thread = threading.Thread(target=embed_documents)
        if busy:
            thread.start()
            time.sleep(0.5)
        took, started, done[0] = [], time.monotonic(), 0  # documents from here on only
        for k in range(args.queries):
            begin = time.perf_counter()
            if for_queries is None:
                with lock:
                    run(for_documents, [query_ids[k % len(query_ids)]])
            else:
                run(for_queries, [query_ids[k % len(query_ids)]])
            took.append((time.perf_counter() - begin) * 1000)
            time.sleep(0.03)
        rate = done[0] / (time.monotonic() - started)
        if busy:
            stop.set()
            thread.join()
        return float(np.percentile(took, 50)), float(np.percentile(took, 95)), rate

    rows = []
    for round_ in range(args.rounds):
        for name in variants:
            idle = measure(name, busy=False)
            beside = measure(name, busy=True)
            rows.append(
                [
                    str(round_ + 1),
                    name,
                    f"{idle[0]:.1f} / {idle[1]:.1f}",
                    f"{beside[0]:.1f} / {beside[1]:.1f}",
                    f"{beside[2]:.0f}",
                ]
            )
    print(f"{machine()}\n")
    print(
        table(
            ["round", "queries on", "idle p50 / p95 ms", "beside documents p50 / p95 ms", "documents/s"], rows
        )
    )


if __name__ == "__main__":
    main()
