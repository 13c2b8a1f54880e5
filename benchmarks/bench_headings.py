"""A Markdown file of headings alone, ingested: chunks, seconds and memory.

The file is like the one in issue 17: about 5 MB of Markdown with about 200,000 headings
at levels 1-4 and no text between them. Before headings were kept with the text under
them, each heading became a chunk of its own (202,038 chunks, 601 s, 3.1 GB).

    python benchmarks/bench_headings.py [--headings 200000] [--model all-MiniLM-L6-v2]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import machine, peak_rss_mb

_TOPICS = ("install", "configure", "upgrade", "backup", "restore", "monitor", "tune", "debug")


def heading_file(headings: int = 200_000) -> bytes:
    """Markdown of `headings` headings (levels 1-4 in turn), no text between them: ~5 MB."""
    lines = []
    for i in range(headings):
        level = 1 + i % 4
        lines.append(f"{'#' * level} Step {i} {_TOPICS[i % len(_TOPICS)]} node")
    return ("\n".join(lines) + "\n").encode()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--headings", type=int, default=200_000)
    parser.add_argument("--model", default="all-MiniLM-L6-v2")
    args = parser.parse_args()

    from searchapp import Library, Settings
    from searchapp.ingest import Ingestor, SourceFile
    from searchapp.ingest.extract import extract
    from searchapp.ingest.types import Limits

    data = heading_file(args.headings)
    print(f"machine: {machine()}")
    print(f"file: {len(data) / 1e6:.1f} MB, {args.headings:,} headings")
    started = time.perf_counter()
    doc = extract(data, "headings.md", Limits())
    print(f"extract alone: {len(doc.sections)} section(s) in {time.perf_counter() - started:.1f} s")
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings.load({}, data_dir=Path(tmp), model=args.model)
        with Library.open(settings) as library, Ingestor(library, workers=1) as ingestor:
            # A small file first, so the model and the worker are loaded before the clock starts.
            ingestor.ingest([SourceFile(source="warm-up.md", data=b"# Warm up\nA few words to embed.\n")])
            started = time.perf_counter()
            report = ingestor.ingest([SourceFile(source="headings.md", data=data)])
            seconds = time.perf_counter() - started
            [outcome] = report.outcomes
            print(
                f"{outcome.message} in {seconds:.1f} s (model {args.model}); peak RSS {peak_rss_mb():.0f} MB"
            )
            print(f"warnings: {outcome.warnings}")


if __name__ == "__main__":
    main()
