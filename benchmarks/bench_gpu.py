"""GPU embedding and end-to-end ingest throughput (runs unchanged on a CUDA machine).

Real English text without any data files: the docstrings of Python's standard library,
cut into ~940-character chunks (the size the notes measured on CPU). Measures:

- embedding only, fp16, batch sizes 64..1024, text input vs pre-tokenized input (the
  chunker's ids), with GPU utilisation sampled by nvidia-smi while it runs;
- end to end: `Ingestor.ingest` of the same text as .txt files, with as many extraction
  workers as there are cores, into a fresh local store.

    python benchmarks/bench_gpu.py [--chunks 20000] [--out results.md]
"""

from __future__ import annotations

import argparse
import importlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import machine, median_range, peak_rss_mb, table
from searchapp.embedding.embedders import SentenceTransformerEmbedder
from searchapp.embedding.models import resolve_model

CHUNK_CHARS = 940


def stdlib_text(min_chars: int) -> str:
    """Docstrings of the standard library: plenty of real English prose, on any machine."""
    parts: list[str] = []
    total = 0
    # Standard library only, minus modules with side effects on import.
    skip = {"antigravity", "this", "idlelib", "tkinter", "turtle", "turtledemo", "pydoc_data"}
    for module in sorted(m for m in sys.stdlib_module_names if not m.startswith("_") and m not in skip):
        try:
            mod = importlib.import_module(module)
        except Exception:
            continue
        for obj in [mod, *vars(mod).values()]:
            doc = getattr(obj, "__doc__", None)
            if isinstance(doc, str) and len(doc) > 200:
                parts.append(" ".join(doc.split()))
                total += len(parts[-1])
        if total >= min_chars:
            break
    text = " ".join(parts)
    while len(text) < min_chars:
        text += " " + text
    return text


class GpuSampler:
    """Samples GPU utilisation (%) with nvidia-smi every 0.2 s while running."""

    def __init__(self) -> None:
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                out = subprocess.run(
                    ["nvidia-smi", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits"],
                    capture_output=True,
                    text=True,
                    timeout=5,
                ).stdout.split()
                if out:
                    self.samples.append(float(out[0]))
            except (OSError, subprocess.SubprocessError, ValueError):
                return
            self._stop.wait(0.2)

    def __enter__(self) -> GpuSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def summary(self) -> str:
        busy = [s for s in self.samples]
        return (
            f"GPU util median {statistics.median(busy):.0f}% (max {max(busy):.0f}%)"
            if busy
            else "GPU util n/a"
        )


def embed_only(chunks: list[str], batch_sizes: list[int], rounds: int) -> list[list[object]]:
    import torch

    info = resolve_model("all-MiniLM-L6-v2")
    device = "cuda" if torch.cuda.is_available() else "cpu"
    rows: list[list[object]] = []
    for batch in batch_sizes:
        embedder = SentenceTransformerEmbedder(info, device=device, backend="auto", batch_size=batch)
        embedder.embed_documents(chunks[:batch])  # load + warm up kernels
        ids = embedder.tokens.encode(chunks)  # what the ingest workers hand over
        for label, kwargs in (("text in", {}), ("token ids in", {"token_ids": ids})):
            rates = []
            with GpuSampler() as sampler:
                for _ in range(rounds):
                    if device == "cuda":
                        torch.cuda.synchronize()
                    started = time.perf_counter()
                    embedder.embed_documents(chunks, **kwargs)
                    if device == "cuda":
                        torch.cuda.synchronize()
                    rates.append(len(chunks) / (time.perf_counter() - started))
            rows.append(
                [
                    "embed",
                    embedder.backend,
                    batch,
                    label,
                    f"{median_range(rates, 0)} chunks/s",
                    sampler.summary(),
                ]
            )
            print(rows[-1], flush=True)
    return rows


def end_to_end(text: str, n_chunks: int, workers: int) -> list[list[object]]:
    from searchapp import Library, Settings
    from searchapp.ingest import Ingestor, SourceFile

    workdir = Path(tempfile.mkdtemp(prefix="searchapp-gpu-"))
    try:
        files = []
        per_file = CHUNK_CHARS * 20  # ~20 chunks per file
        for i in range(max(1, n_chunks // 20)):
            files.append(
                SourceFile(
                    source=f"doc{i}.txt", data=text[i * per_file : (i + 1) * per_file].encode() or b"x"
                )
            )
        settings = Settings.load(environ={}, data_dir=workdir, min_free_mb=1, workers=workers)
        with Library.open(settings) as library:
            library.embedder.embed_documents(["warm up"])
            with GpuSampler() as sampler:
                started = time.perf_counter()
                with Ingestor(library) as ingestor:
                    report = ingestor.ingest(files)
                elapsed = time.perf_counter() - started
        rate = report.chunks_written / elapsed
        return [
            [
                "end to end",
                library.embedder.backend,
                settings.batch_size or library.embedder.batch_size,
                f"{len(files)} .txt files, {workers} workers",
                f"{rate:.0f} chunks/s ({report.chunks_written} chunks)",
                sampler.summary(),
            ]
        ]
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    import os

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--chunks", type=int, default=20_000)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[64, 128, 256, 512, 1024])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 4)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    text = stdlib_text(args.chunks * CHUNK_CHARS)
    chunks = [text[i : i + CHUNK_CHARS] for i in range(0, args.chunks * CHUNK_CHARS, CHUNK_CHARS)]
    print(f"machine: {machine()}; {len(chunks)} chunks of {CHUNK_CHARS} chars", flush=True)
    rows = embed_only(chunks, args.batch_sizes, args.rounds)
    rows += end_to_end(text, args.chunks, args.workers)
    report = f"machine: {machine()}; peak RSS {peak_rss_mb():.0f} MB\n\n" + table(
        ["stage", "backend", "batch", "input", "median (min-max)", "GPU"], rows
    )
    print("\n" + report)
    if args.out:
        args.out.write_text(report + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
