"""Keyword analysis speed: `keyword_tokens` over whole corpora, MB of UTF-8 a second.

Every chunk is analysed once at ingest and every query once at search; this measures
what the analysis itself costs, per script (mostly-ASCII English, Hindi, Arabic).

    python benchmarks/bench_terms.py [--repeats 5] [--compare PATH_TO_OTHER_terms.py]

`--compare` times another version of `searchapp/storage/terms.py` on the same texts in
the same run (e.g. `git show d5dd1cb:searchapp/storage/terms.py > /tmp/terms_v1.py`).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import machine
from searchapp.storage.terms import keyword_tokens

ROOT = Path(__file__).resolve().parent.parent

CORPORA = {
    "scifact (English)": ROOT.parent / "shared" / "eval" / "scifact" / "corpus.jsonl",
    "xquad-hi (Hindi)": ROOT / "searchapp" / "evaluation" / "datasets" / "xquad-hi" / "corpus.jsonl",
    "xquad-ar (Arabic)": ROOT / "searchapp" / "evaluation" / "datasets" / "xquad-ar" / "corpus.jsonl",
}


def texts(path: Path) -> list[str]:
    rows = [json.loads(line) for line in path.open(encoding="utf-8")]
    return [f"{row.get('title', '')} {row['text']}".strip() for row in rows]


def seconds(analyse: Callable[[str], list[str]], corpus: list[str], repeats: int) -> float:
    """The median wall time of analysing every text of `corpus`."""
    runs = []
    for _ in range(repeats):
        started = time.perf_counter()
        for text in corpus:
            analyse(text)
        runs.append(time.perf_counter() - started)
    return statistics.median(runs)


def load_other(path: Path) -> Callable[[str], list[str]]:
    spec = importlib.util.spec_from_file_location("other_terms", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.keyword_tokens  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--compare", type=Path, help="another terms.py to time beside this one")
    args = parser.parse_args()
    other = load_other(args.compare) if args.compare else None
    print(machine())
    print("| corpus | MB | this: s | MB/s | other: s | this / other |")
    print("|---|---|---|---|---|---|")
    for name, path in CORPORA.items():
        if not path.exists():
            print(f"| {name} | (missing: {path}) |")
            continue
        corpus = texts(path)
        megabytes = sum(len(t.encode()) for t in corpus) / 1e6
        this = seconds(keyword_tokens, corpus, args.repeats)
        theirs = seconds(other, corpus, args.repeats) if other else float("nan")
        print(
            f"| {name} | {megabytes:.2f} | {this:.3f} | {megabytes / this:.1f} | {theirs:.3f} | {this / theirs:.2f} |"
        )


if __name__ == "__main__":
    main()
