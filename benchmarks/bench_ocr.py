"""OCR engines compared on born-digital pages, whose own text layer is the ground truth.

Each page of the sample is rendered with pdfium (grayscale) at each resolution, read by
each engine, and compared with the page's text layer:

  CER       character error rate: Levenshtein edits / reference characters, summed over
            pages (so long pages weigh more); both sides normalised the same way: NFKC,
            typographic quotes and dashes folded to ASCII, control characters, soft
            hyphens and pdfium's end-of-line hyphen mark (U+FFFE) dropped, a hyphen at a
            line end joined to the next word, every run of whitespace made one space;
            case is kept. Shown for all sample pages and for the prose pages alone: a
            form, a brochure and a table page have no single reading order, so their CER
            measures layout order more than recognition.
  words     the share of the reference's words (multiset, lower case) that the OCR text
            has too: what keyword search sees, whatever the reading order.
  CPU s/pg  CPU seconds per page of the engine alone (render excluded, shown apart),
            one thread each: Tesseract with OMP_THREAD_LIMIT=1 (its process's CPU time),
            RapidOCR with one onnxruntime thread (this process's CPU time). CPU time, not
            wall time, because other jobs share this machine; pages/s per core = 1 / CPU s.

Sample: English pages of the shared PDFs in the categories text, multicolumn and large
whose text layer is not garbage (`ingest.garbage`) and has at least 800 characters, the
first such page of each file (a middle page of the book). GeoTopo is German and is left out.

With --scan N it also times what OCR adds to ingesting a scan: N pages of the book
(pages 101 on) rendered at 200 dpi into an image-only PDF, as a scanner makes, then
`extract()` with OCR as ingestion runs it (pages in parallel, one thread each), wall time.

RapidOCR is not a dependency of searchapp: `pip install -e .[bench-ocr]` to compare.

    python benchmarks/bench_ocr.py [--pdfs DIR] [--dpi 150 300] [--engines tesseract tesseract-eng+rus rapidocr]
    python benchmarks/bench_ocr.py --engines --scan 20
    python benchmarks/bench_ocr.py --batch 3     # does an OCR file hold up the rest of its batch?
    python benchmarks/bench_ocr.py --dpi 300 --engines tesseract-eng+rus "tesseract:eng+rus:--psm 3 -c tessedit_do_invert=0"
"""

from __future__ import annotations

import argparse
import csv
import os
import resource
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import SHARED, machine, table
from searchapp.evaluation.ocr_quality import cer_parts, normalise, word_recall
from searchapp.ingest.garbage import garbage_reason
from searchapp.ingest.ocr import render_page, tesseract_text

DEFAULT_PDFS = SHARED / "eval" / "pdfs"
CATEGORIES = ("text", "multicolumn", "large")
NOT_ENGLISH = {"pysample__GeoTopo-komprimiert.pdf"}
NOT_PROSE = {"pdfjs__prefilled_f1040.pdf", "unst__reliance.pdf", "unst__embedded-images-tables.pdf"}
MIN_CHARS = 800


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def self_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass
class Engine:
    name: str
    read: Callable[[Any], str]
    cpu: Callable[[], float]
    install: str


def tesseract_engine(languages: str, config: str | None = None) -> Engine:
    """Tesseract as ingestion runs it, or with another `config` (e.g. "--psm 1")."""
    import pytesseract

    os.environ["OMP_THREAD_LIMIT"] = "1"

    def read(image: Any) -> str:
        if config is None:
            return tesseract_text(image, languages, 600)
        return str(pytesseract.image_to_string(image, lang=languages, config=config, timeout=600))

    return Engine(
        f"tesseract {languages}" + (f" `{config}`" if config is not None else ""),
        read,
        children_cpu,
        "apt: tesseract-ocr + language packs (eng 4 MB, rus 3 MB); pip: pytesseract",
    )


def rapidocr_engine() -> Engine:
    import numpy as np
    from rapidocr_onnxruntime import RapidOCR

    engine = RapidOCR(intra_op_num_threads=1, inter_op_num_threads=1)

    def read(image: Any) -> str:
        result, _ = engine(np.array(image.convert("RGB")))
        return "\n".join(str(line[1]) for line in result or [])

    return Engine("rapidocr-onnxruntime", read, self_cpu, "pip: rapidocr-onnxruntime (+ opencv-python)")


def sample_pages(pdfs: Path) -> list[tuple[str, int, str]]:
    """(file, 0-based page, normalised text layer) for the sample described above."""
    import pypdfium2 as pdfium

    with (pdfs / "MANIFEST.tsv").open(encoding="utf-8") as handle:
        rows = [r for r in csv.DictReader(handle, delimiter="\t") if r["category"] in CATEGORIES]
    sample = []
    for row in rows:
        name = row["file"]
        if name in NOT_ENGLISH:
            continue
        document = pdfium.PdfDocument(str(pdfs / name))
        count = len(document)
        order = list(range(count))
        if count > 50:  # a book: start in the middle, past the front matter
            order = order[count // 2 :] + order[: count // 2]
        for index in order:
            page = document[index]
            raw = page.get_textpage().get_text_range()
            page.close()
            text = normalise(raw)
            if len(text) >= MIN_CHARS and garbage_reason(raw) is None:
                sample.append((name, index, text))
                break
        document.close()
    return sample


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pdfs", type=Path, default=DEFAULT_PDFS)
    parser.add_argument("--dpi", type=int, nargs="+", default=[150, 300])
    parser.add_argument(
        "--engines", nargs="*", default=["tesseract", "tesseract-eng+rus", "rapidocr"], help="which engines"
    )
    parser.add_argument("--max-pages", type=int, default=0, help="only the first N sample pages (0: all)")
    parser.add_argument("--per-page", action="store_true", help="also print each page's CER")
    parser.add_argument("--scan", type=int, default=0, help="also time extract() on an N-page scan")
    parser.add_argument(
        "--batch", type=int, default=0, help="only: N rounds of the 10-PDF batch with an OCR file in it"
    )
    args = parser.parse_args()
    if args.batch:
        time_batch(args.pdfs, args.batch)
        return

    import pypdfium2 as pdfium

    print(f"machine: {machine()}", flush=True)
    sample = sample_pages(args.pdfs)
    if args.max_pages:
        sample = sample[: args.max_pages]
    print(
        f"sample: {len(sample)} pages, {sum(len(t) for _, _, t in sample):,} reference characters", flush=True
    )
    makers: dict[str, Callable[[], Engine]] = {
        "tesseract": lambda: tesseract_engine("eng"),
        "tesseract-eng+rus": lambda: tesseract_engine("eng+rus"),
        "rapidocr": rapidocr_engine,
    }
    # "tesseract:LANGUAGES:CONFIG" runs Tesseract with another configuration, side by side.
    engines = [
        tesseract_engine(*name.split(":", 2)[1:]) if name.startswith("tesseract:") else makers[name]()
        for name in args.engines
    ]
    rows = []
    render_s: dict[int, list[float]] = {dpi: [] for dpi in args.dpi}
    for dpi in args.dpi:
        for engine in engines:
            edits = chars = prose_edits = prose_chars = 0
            recalls: list[float] = []
            cpu_s: list[float] = []
            for name, index, reference in sample:
                document = pdfium.PdfDocument(str(args.pdfs / name))
                started = time.perf_counter()
                image = render_page(document, index, dpi)
                render_s[dpi].append(time.perf_counter() - started)
                before = engine.cpu()
                hypothesis = normalise(engine.read(image))
                cpu_s.append(engine.cpu() - before)
                document.close()
                e, c = cer_parts(reference, hypothesis)
                edits, chars = edits + e, chars + c
                if name not in NOT_PROSE:
                    prose_edits, prose_chars = prose_edits + e, prose_chars + c
                recalls.append(word_recall(reference, hypothesis))
                if args.per_page:
                    print(
                        f"  {engine.name} {dpi} dpi {name} p{index + 1}: CER {e / c:.2%}, {cpu_s[-1]:.1f} CPU s"
                    )
            rows.append(
                [
                    engine.name,
                    dpi,
                    f"{prose_edits / prose_chars:.2%}",
                    f"{edits / chars:.2%}",
                    f"{statistics.mean(recalls):.1%}",
                    f"{statistics.median(cpu_s):.2f}",
                    f"{1 / statistics.median(cpu_s):.2f}",
                    engine.install,
                ]
            )
            print(
                f"{engine.name} @ {dpi} dpi: CER {prose_edits / prose_chars:.2%} prose, {edits / chars:.2%} all",
                flush=True,
            )
    print()
    print(
        table(
            [
                "engine",
                "dpi",
                "CER, prose pages",
                "CER, all pages",
                "words found",
                "CPU s/page (median)",
                "pages/s per core",
                "install",
            ],
            rows,
        )
    )
    print()
    for dpi, seconds in render_s.items():
        if seconds:
            print(f"pdfium render at {dpi} dpi: median {statistics.median(seconds):.3f} s/page")
    if args.scan:
        time_scan(args.pdfs / "pdfjs__freeculture.pdf", args.scan)


def time_batch(pdfs: Path, rounds: int) -> None:
    """The 10-PDF ingest batch, TAMReview (21 pages read by OCR) first in it: when each file
    is done, with files coming back from the workers in input order (before) or as each
    finishes (after), alternating, each round into a fresh library (hash embedder: the
    question is what waits for what, not the model's speed)."""
    import tempfile
    from functools import partial
    from unittest import mock

    from benchmarks.bench_ingest import DEFAULT_FILES
    from searchapp import Library, Settings
    from searchapp.ingest import Ingestor, SourceFile
    from searchapp.ingest.workers import WorkerPool

    ocr_file = "pdfjs__TAMReview.pdf"
    names = [ocr_file, *(n for n in DEFAULT_FILES if n != ocr_file)]
    files = [SourceFile(source=n, data=(pdfs / n).read_bytes()) for n in names]
    unordered_map = WorkerPool.map

    def ordered_map(self: Any, jobs: Any, **_: Any) -> Any:
        return unordered_map(self, jobs)

    results: dict[str, list[tuple[float, float]]] = {
        "before (input order)": [],
        "after (as each finishes)": [],
    }
    for _ in range(rounds):
        for variant in results:
            with tempfile.TemporaryDirectory() as tmp:
                settings = Settings.load(environ={}, data_dir=Path(tmp), model="hash", min_free_mb=1)
                patch = (
                    mock.patch.object(WorkerPool, "map", ordered_map)
                    if variant.startswith("before")
                    else None
                )
                done: dict[str, float] = {}
                with Library.open(settings) as library, Ingestor(library, workers=2) as ingestor:
                    if patch:
                        patch.start()
                    try:
                        started = time.perf_counter()
                        ingestor.ingest(files, progress=partial(_note_done, done, started))
                    finally:
                        if patch:
                            patch.stop()
                others = max(t for n, t in done.items() if n != ocr_file)
                results[variant].append((others, done[ocr_file]))
                print(
                    f"{variant}: the 9 other files done at {others:.1f} s, {ocr_file} at {done[ocr_file]:.1f} s"
                )
    print(f"machine: {machine()}")
    print(
        table(
            ["pool", "9 born-digital files all done (median s)", f"{ocr_file} done (median s)"],
            [
                [v, f"{statistics.median(o for o, _ in r):.1f}", f"{statistics.median(t for _, t in r):.1f}"]
                for v, r in results.items()
            ],
        )
    )


def _note_done(done: dict[str, float], started: float, progress: Any) -> None:
    if progress.stage == "done":
        done.setdefault(progress.source, time.perf_counter() - started)


def time_scan(book: Path, pages: int) -> None:
    """Wall time of `extract()` on an image-only PDF of `pages` pages of `book`."""
    import io

    import pypdfium2 as pdfium

    from searchapp.ingest.extract import extract
    from searchapp.ingest.types import Limits

    document = pdfium.PdfDocument(str(book))
    images = [document[100 + i].render(scale=200 / 72, grayscale=True).to_pil() for i in range(pages)]
    scan = io.BytesIO()
    images[0].save(scan, "PDF", resolution=200, save_all=True, append_images=images[1:])
    started = time.perf_counter()
    doc = extract(scan.getvalue(), "scan.pdf", Limits(timeout_s=100_000))
    seconds = time.perf_counter() - started
    read = sum(1 for s in doc.sections if s.ocr)
    print(
        f"scan of {pages} pages ({len(scan.getvalue()) / 1e6:.1f} MB, 200 dpi): {read} read with OCR "
        f"in {seconds:.1f} s wall = {pages / seconds:.2f} pages/s, {os.cpu_count()} cores; "
        f"100 pages: about {100 * seconds / pages:.0f} s"
    )


if __name__ == "__main__":
    main()
