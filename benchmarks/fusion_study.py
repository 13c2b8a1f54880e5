"""Fusion study: how to combine the dense and keyword lists, measured offline and held out.

    python -m benchmarks.fusion_study collect   # once: real ingest + both lists per query (slow)
    python -m benchmarks.fusion_study report    # seconds: every fusion, every set, held out

`collect` builds (or reuses) each set's scratch index exactly as `searchapp eval` does
and caches per query the top 300 chunks of each retriever with exact cosine and BM25
for every candidate (benchmarks/fusion_cache.py). `report` evaluates fusion functions
on the cache (benchmarks/fusion_eval.py) and writes the tables of docs/ranking-study.md.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from searchapp.config import Settings

ROOT = Path(__file__).resolve().parent.parent
# As in tests/conftest.py; a worktree two levels down finds it through the variable.
SHARED = Path(os.environ.get("SEARCHAPP_SHARED_DIR", ROOT.parent / "shared")) / "eval"
XQUAD = ("ar", "de", "en", "hi", "ru", "th", "zh")
SETS = {
    "scifact": SHARED / "scifact",
    "dbpedia-entity": SHARED / "dbpedia-entity",
    **{f"xquad-{lang}": ROOT / "searchapp" / "evaluation" / "datasets" / f"xquad-{lang}" for lang in XQUAD},
}
# Off-topic queries for each corpus: sets whose questions it cannot answer. The XQuAD
# languages are translations of each other, so none is off-topic for another; DBpedia's
# abstracts may answer XQuAD's Wikipedia questions, so those are not used against it.
OFF_TOPIC = {
    "scifact": ["dbpedia-entity", "xquad-en"],
    "dbpedia-entity": ["scifact"],
    **{f"xquad-{lang}": ["scifact", "dbpedia-entity"] for lang in XQUAD},
}
DEFAULT_CACHE = ROOT / "data" / "fusion-cache"
DEFAULT_DATA = ROOT / "data" / "eval"


class Notes:
    """Progress for `prepare_index`, on stderr."""

    def note(self, message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    def ingest(self, event: object) -> None:
        pass

    def query(self, mode: str, done: int, total: int) -> None:
        pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=["collect", "report", "final"])
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--sets", nargs="*", default=list(SETS))
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.command == "collect":
        from benchmarks.fusion_cache import build_caches

        build_caches(args.sets, SETS, Settings.load(), args.data_dir, args.cache, OFF_TOPIC, progress=Notes())
        return 0
    from benchmarks.fusion_cache import load
    from benchmarks.fusion_eval import prepare
    from benchmarks.fusion_report import DEPTH, report

    caches = {name: load(args.cache, name) for name in args.sets}
    sets = {name: prepare(cache, DEPTH) for name, cache in caches.items()}
    deep = {name: prepare(cache, 300) for name, cache in caches.items()}
    if args.command == "report":
        report(sets, deep, args.cache / "report.json")
        return 0
    from benchmarks.fusion_eval import dense_only, keyword_only, mean_ndcg
    from benchmarks.fusion_final import nomatch_tables, rule_table, weights_table

    bar = {n: max(mean_ndcg(deep[n], dense_only), mean_ndcg(deep[n], keyword_only)) - 0.005 for n in deep}
    rule_table(sets, deep, bar)
    weights_table(sets)
    nomatch_tables(sets)
    return 0


if __name__ == "__main__":
    sys.exit(main())
