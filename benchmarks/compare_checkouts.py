"""End-to-end query latency of two checkouts of searchapp on one library, side by side.

Builds a synthetic library once (as bench_query.py does), then alternates processes:
each one imports searchapp from one checkout, opens the same library and times fresh
`Library.search` queries (query embedding + retrieval + hits) per mode and filter. The
table gives the median over rounds of each process's p50 / p95, and after / before.

    git worktree add /tmp/before <old commit>
    python benchmarks/compare_checkouts.py --before /tmp/before --after . [--backend auto] [--size 100000]

A checkout is "path" or "path:backend" (e.g. /tmp/before:torch), so a backend change
can be told apart from a retrieval change. The library format must be the same in both.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import machine, table

WORDS = "refund contract invoice network audit budget payroll laptop travel policy backup server".split()
MODES = ("dense", "hybrid")
FILTERS = ("none", "document", "type=pdf", "pages 3-7")


def build_library(data_dir: Path, size: int) -> None:
    from benchmarks.bench_query import build
    from searchapp import Library, Settings

    settings = Settings.load(environ={}, data_dir=data_dir, min_free_mb=1)
    with Library.open(settings) as library:  # writes synthetic vectors: the model never loads
        doc_ids = build(library, size)
    (data_dir / "doc_ids.txt").write_text("\n".join(doc_ids), encoding="utf-8")


def measure(checkout: Path, data_dir: Path, backend: str, queries: int) -> dict[str, list[float]]:
    """Runs in a child process whose searchapp comes from `checkout`."""
    sys.path.insert(0, str(checkout))
    import searchapp
    from searchapp import Library, Settings

    if not Path(searchapp.__file__).resolve().is_relative_to(checkout.resolve()):
        raise SystemExit(f"searchapp was imported from {searchapp.__file__}, not {checkout}")
    from benchmarks.bench_query import filters_for  # after the checkout's searchapp is loaded

    doc_ids = (data_dir / "doc_ids.txt").read_text(encoding="utf-8").split()
    filters = {name: flt for name, flt in filters_for(doc_ids).items() if name in FILTERS}
    settings = Settings.load(environ={}, data_dir=data_dir, min_free_mb=1, backend=backend)
    results: dict[str, list[float]] = {}
    with Library.open(settings) as library:
        for flt in filters.values():  # warm: model, masks, int8 copies, keyword index
            for mode in MODES:
                library.search("warm up", k=10, filters=flt, mode=mode)
        for mode in MODES:
            for name, flt in filters.items():
                samples = []
                for i in range(queries):
                    text = " ".join(random.Random(i).sample(WORDS, 4)) + f" {mode} {name} {i}"
                    started = time.perf_counter()
                    library.search(text, k=10, filters=flt, mode=mode)
                    samples.append((time.perf_counter() - started) * 1000)
                samples.sort()
                results[f"{mode}|{name}"] = [
                    statistics.median(samples),
                    samples[round(0.95 * (len(samples) - 1))],
                ]
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--before", required=True, help="checkout[:backend]")
    parser.add_argument("--after", required=True, help="checkout[:backend]")
    parser.add_argument("--backend", default="auto", help="backend for a checkout that names none")
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        checkout, data_dir, backend = args.child
        print(json.dumps(measure(Path(checkout), Path(data_dir), backend, args.queries)))
        return

    variants = {}
    for label in ("before", "after"):
        path, _, backend = getattr(args, label).partition(":")
        variants[label] = (Path(path).resolve(), backend or args.backend)
    data_dir = Path(tempfile.mkdtemp(prefix="searchapp-compare-"))
    print(f"machine: {machine()}; building {args.size} chunks in {data_dir}", flush=True)
    build_library(data_dir, args.size)
    samples: dict[str, dict[str, list[list[float]]]] = {label: {} for label in variants}
    for round_ in range(args.rounds):
        for label, (checkout, backend) in variants.items():
            command = [
                sys.executable,
                __file__,
                "--before",
                "-",
                "--after",
                "-",
                "--queries",
                str(args.queries),
            ]
            command += ["--child", str(checkout), str(data_dir), backend]
            child = subprocess.run(command, capture_output=True, text=True, check=True)
            for cell, value in json.loads(child.stdout.strip().splitlines()[-1]).items():
                samples[label].setdefault(cell, []).append(value)
            print(f"round {round_ + 1}: {label} done", flush=True)
    rows = []
    for cell in samples["before"]:
        mode, name = cell.split("|")
        medians = {
            label: [
                statistics.median(v[0] for v in samples[label][cell]),
                statistics.median(v[1] for v in samples[label][cell]),
            ]
            for label in variants
        }
        rows.append(
            [mode, name]
            + [f"{medians[label][0]:.1f} / {medians[label][1]:.1f}" for label in variants]
            + [f"{medians['after'][0] / medians['before'][0]:.2f}"]
        )
    header = ["mode", "filter", f"before ({args.before})", f"after ({args.after})", "after / before (p50)"]
    report = (
        f"machine: {machine()}; {args.size} chunks, {args.queries} fresh queries per cell, "
        f"median of {args.rounds} alternating rounds\n\n" + table(header, rows)
    )
    print("\n" + report)
    if args.out:
        args.out.write_text(report + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
