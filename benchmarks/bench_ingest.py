"""Ingest throughput per stage and end to end, comparing variants side by side in one run.

Stages, on real PDFs (default: readable files from ../shared/eval/pdfs):
  extract  pypdf vs pdfium, pages/s
  chunk    the token-exact chunker, MB/s and chunks/s
  embed    each CPU backend (torch fp32, torch bf16, OpenVINO; CUDA fp16 when there is a GPU),
           round-robin over the same chunk slices: chunks/s and the ratio to fp32
  write    Chroma + catalog + local index through `Library.commit`, chunks/s
End to end: `Ingestor.ingest` of the whole corpus into a fresh data directory per backend
and PDF extractor, alternating backends for `--rounds` rounds: chunks/s and the ratio to
torch fp32 with the same extractor.

    python benchmarks/bench_ingest.py [--pdfs DIR] [--rounds 3] [--extractors pdfium pypdf] [--out results.md]
    python benchmarks/bench_ingest.py --only embed e2e --extractors pdfium --ocr off   # the backends alone
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import machine, median_range, peak_rss_mb, table
from searchapp import Library, Settings
from searchapp.embedding.embedders import SentenceTransformerEmbedder
from searchapp.embedding.models import resolve_model
from searchapp.embedding.tokens import TokenizerSpec
from searchapp.ingest import Ingestor, SourceFile
from searchapp.ingest.chunking import Chunker, ChunkerConfig
from searchapp.ingest.extract import extract
from searchapp.ingest.types import Limits, Section
from searchapp.types import PreparedChunk, PreparedDocument

DEFAULT_PDFS = Path(__file__).resolve().parent.parent.parent / "shared" / "eval" / "pdfs"
# Born-digital files of several kinds, about 1,000 chunks together.
DEFAULT_FILES = (
    "pysample__GeoTopo-komprimiert.pdf",
    "pdfjs__tracemonkey.pdf",
    "pdfjs__TAMReview.pdf",
    "unst__multi-column-2p.pdf",
    "pysample__pdflatex-4-pages.pdf",
    "pdfjs__issue11913.pdf",
    "unst__reliance.pdf",
    "pdfjs__prefilled_f1040.pdf",
    "unst__layout-parser-paper-fast.pdf",
    "pdfjs__issue19971.pdf",
)


def backends() -> list[str]:
    """torch fp32 (the reference) and the faster CPU backends that apply to this CPU."""
    import torch

    from searchapp.embedding.openvino import cpu_has_bf16

    # Without native bf16, torch's bf16 autocast is emulated: about 5x slower than fp32.
    names = ["torch", "torch-bf16", "openvino"] if cpu_has_bf16() else ["torch", "openvino"]
    if importlib.util.find_spec("nncf") is not None:
        names.append("openvino-int8")  # opt-in (pip install searchapp[int8])
    return ["cuda", *names] if torch.cuda.is_available() else names


Row = list[object]


def stage_extract(files: list[Path], rounds: int) -> tuple[list[Row], dict[str, list[Section]]]:
    rows: list[Row] = []
    docs: dict[str, list[Section]] = {}
    for extractor in ("pypdf", "pdfium"):
        rates = []
        for _ in range(rounds):
            pages = 0
            started = time.perf_counter()
            for path in files:
                doc = extract(path.read_bytes(), path.name, Limits(pdf_extractor=extractor))
                pages += doc.pages
                if extractor == "pypdf":
                    docs[path.name] = list(doc.sections)
            rates.append(pages / (time.perf_counter() - started))
        rows.append(["extract", extractor, f"{median_range(rates)} pages/s", ""])
    return rows, docs


def stage_chunk(sections: dict[str, list[Section]], rounds: int) -> tuple[list[Row], list[PreparedChunk]]:
    info = resolve_model("all-MiniLM-L6-v2")
    chunker = Chunker(ChunkerConfig(200, 32, TokenizerSpec.for_model(info)))
    chunker.chunk(next(iter(sections.values())))  # warm: imports, tokenizer
    chars = sum(len(s.text) for secs in sections.values() for s in secs)
    rates, counts = [], []
    drafts: list[PreparedChunk] = []
    for _ in range(rounds):
        started = time.perf_counter()
        drafts = [d for secs in sections.values() for d in chunker.chunk(secs)]
        elapsed = time.perf_counter() - started
        rates.append(chars / 1e6 / elapsed)
        counts.append(len(drafts) / elapsed)
    over = sum(1 for d in drafts if d.tokens > info.max_tokens)
    rows: list[Row] = [
        [
            "chunk",
            "token-exact",
            f"{median_range(rates, 2)} MB/s, {median_range(counts, 0)} chunks/s",
            f"{len(drafts)} chunks, {over} over the window",
        ]
    ]
    return rows, drafts


def stage_embed(drafts: list[PreparedChunk], rounds: int, workdir: Path) -> list[Row]:
    info = resolve_model("all-MiniLM-L6-v2")
    embedders = {}
    for name in backends():
        device = "cuda" if name == "cuda" else "cpu"
        backend = "torch" if name == "cuda" else name
        embedder = SentenceTransformerEmbedder(info, device=device, backend=backend, cache_dir=workdir)
        embedder.embed_documents(["warm up"])
        embedders[name] = embedder
    slice_size = max(64, len(drafts) // rounds)
    rates: dict[str, list[float]] = {name: [] for name in embedders}
    vectors: dict[str, np.ndarray] = {}
    for r in range(rounds):
        part = drafts[r * slice_size : (r + 1) * slice_size] or drafts[:slice_size]
        for name, embedder in embedders.items():
            started = time.perf_counter()
            ids = [d.token_ids for d in part if d.token_ids is not None]
            out = embedder.embed_documents([d.text for d in part], token_ids=ids)
            rates[name].append(len(part) / (time.perf_counter() - started))
            if r == 0:
                vectors[name] = out
    base = statistics.median(rates["torch"])
    rows: list[Row] = []
    for name, values in rates.items():
        cos = float((vectors[name] * vectors["torch"]).sum(axis=1).mean())
        rows.append(
            [
                "embed",
                embedders[name].backend,
                f"{median_range(values)} chunks/s",
                f"{statistics.median(values) / base:.2f}x fp32, cosine to fp32 {cos:.5f}",
            ]
        )
    return rows


def stage_write(drafts: list[PreparedChunk], workdir: Path) -> list[Row]:
    settings = Settings.load(environ={}, data_dir=workdir / "write", min_free_mb=1)
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((len(drafts), 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    with Library.open(settings) as library:
        started = time.perf_counter()
        for d, start in enumerate(range(0, len(drafts), 100)):
            part = drafts[start : start + 100]
            doc_id = f"{d:064x}"
            library.commit(
                [
                    PreparedDocument(
                        doc_id=doc_id,
                        source=f"d{d}.pdf",
                        file_type="pdf",
                        title="",
                        original=doc_id.encode(),
                        chunks=tuple(
                            PreparedChunk(
                                text=c.text, index=i, start=c.start, tokens=c.tokens, page=c.page or 1
                            )
                            for i, c in enumerate(part)
                        ),
                        vectors=vectors[start : start + len(part)],
                    )
                ]
            )
        rate = len(drafts) / (time.perf_counter() - started)
    return [["write", "Chroma + catalog + local index", f"{rate:.0f} chunks/s", "documents of 100 chunks"]]


def end_to_end(
    files: list[Path], rounds: int, workdir: Path, extractors: list[str], ocr: str = "auto"
) -> list[Row]:
    """Each extractor with each backend, alternating backends within a round, so that each
    ratio to torch fp32 compares two runs that differ only in the backend."""
    results: dict[tuple[str, str], list[float]] = {(x, b): [] for x in extractors for b in backends()}
    chunks = 0
    for r in range(rounds):
        for extractor, name in results:
            settings = Settings.load(
                environ={},
                data_dir=workdir / f"e2e-{extractor}-{name}-{r}",
                min_free_mb=1,
                backend="torch" if name == "cuda" else name,
                device="cuda" if name == "cuda" else "cpu",
                pdf_extractor=extractor,
                ocr=ocr,
            )
            with Library.open(settings) as library:
                library.embedder.embed_documents(["warm up"])  # model load is not ingest
                started = time.perf_counter()
                with Ingestor(library) as ingestor:
                    report = ingestor.ingest([SourceFile(source=p.name, path=p) for p in files])
                elapsed = time.perf_counter() - started
            chunks = report.chunks_written
            results[(extractor, name)].append(chunks / elapsed)
            print(
                f"end to end, {extractor}, {name}, round {r + 1}: {chunks / elapsed:.1f} chunks/s", flush=True
            )
            shutil.rmtree(settings.data_dir, ignore_errors=True)
    rows: list[Row] = []
    for (extractor, name), values in results.items():
        base = statistics.median(results[(extractor, "torch")])
        rows.append(
            [
                "end to end",
                f"{name}, {extractor}",
                f"{median_range(values)} chunks/s",
                f"{statistics.median(values) / base:.2f}x fp32 with {extractor} ({chunks} chunks)",
            ]
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pdfs", type=Path, default=DEFAULT_PDFS)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--skip-end-to-end", action="store_true")
    parser.add_argument(
        "--ocr",
        default="auto",
        choices=["auto", "off"],
        help="off: TAMReview's garbled pages are indexed as they are, not read by OCR (a backend "
        "comparison without 50 CPU seconds of Tesseract in every run)",
    )
    parser.add_argument("--only", nargs="+", help="only these stages: extract chunk embed write e2e")
    parser.add_argument(
        "--extractors",
        nargs="+",
        default=["pdfium", "pypdf"],
        choices=["pdfium", "pypdf"],
        help="PDF extractors for the end-to-end runs (pdfium is the default; pypdf the reference)",
    )
    args = parser.parse_args()
    files = [args.pdfs / name for name in DEFAULT_FILES if (args.pdfs / name).is_file()]
    if not files:
        raise SystemExit(f"no PDFs found in {args.pdfs}")
    workdir = Path(tempfile.mkdtemp(prefix="searchapp-ingest-bench-"))
    print(f"machine: {machine()}; {len(files)} PDFs")
    rows: list[Row] = []
    try:
        stages = set(args.only or ["extract", "chunk", "embed", "write", "e2e"])
        extract_rows, sections = stage_extract(files, args.rounds if "extract" in stages else 1)
        rows += extract_rows if "extract" in stages else []
        chunk_rows, drafts = stage_chunk(sections, args.rounds if "chunk" in stages else 1)
        rows += chunk_rows if "chunk" in stages else []
        for row in rows:
            print(row)
        if "embed" in stages:
            rows += stage_embed(drafts, args.rounds, workdir)
            print(rows[-1])
        if "write" in stages:
            rows += stage_write(drafts, workdir)
            print(rows[-1])
        if "e2e" in stages and not args.skip_end_to_end:
            rows += end_to_end(files, args.rounds, workdir, args.extractors, args.ocr)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    report = f"machine: {machine()}; peak RSS {peak_rss_mb():.0f} MB\n\n" + table(
        ["stage", "variant", "median (min-max)", "notes"], rows
    )
    print("\n" + report)
    if args.out:
        args.out.write_text(report + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
