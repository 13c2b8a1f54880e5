"""How much the general check set's verdict on a tuned model is noise: per-query changes.

    python benchmarks/bench_check_noise.py --data DIR MODEL

For each set of the gate's check set (`searchapp/tuning/checkset`), the default mode's
nDCG@10 of every query, base against MODEL, through the scratch indexes `searchapp tune`
built under ``DIR/eval`` (built again if missing), and the mean change with its standard
error and a paired bootstrap 95% interval (2,000 resamples of the queries, seed 0).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
from pathlib import Path

from benchmarks.common import machine
from searchapp.config import Settings
from searchapp.evaluation.beir import BeirDataset
from searchapp.evaluation.metrics import ndcg_at_k
from searchapp.evaluation.runner import RECALL_DEPTH, _retrieve, duplicate_groups
from searchapp.evaluation.scratch import prepare_index
from searchapp.library import Library
from searchapp.tuning.measure import check_sets, scratch_target


def per_query(data: BeirDataset, model: str, base: bool, root: Path, mode: str) -> list[float]:
    settings, collection = scratch_target(data, Settings.load(), model, base=base)
    scratch = prepare_index(data, settings, modes=[mode], data_dir=root, collection=collection)
    twins = duplicate_groups(data)
    with Library.open(scratch.settings) as library:
        return [
            ndcg_at_k(_retrieve(library, text, mode, RECALL_DEPTH, twins).ranking, data.qrels[query], 10)
            for query, text in data.queries.items()
        ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("model", help="the tuned model's directory")
    parser.add_argument("--mode", default=Settings.load().search_mode)
    args = parser.parse_args()
    print(machine(), f"load {os.getloadavg()}", file=sys.stderr)
    root = args.data / "eval"
    for data in check_sets():
        base = per_query(data, Settings.load().model, True, root, args.mode)
        tuned = per_query(data, args.model, False, root, args.mode)
        changes = [t - b for b, t in zip(base, tuned, strict=True)]
        rng = random.Random(0)
        means = sorted(statistics.mean(rng.choices(changes, k=len(changes))) for _ in range(2000))
        row = {
            "set": data.label,
            "mode": args.mode,
            "queries": len(changes),
            "mean_change": round(statistics.mean(changes), 4),
            "standard_error": round(statistics.stdev(changes) / len(changes) ** 0.5, 4),
            "bootstrap_95": [round(means[50], 4), round(means[1949], 4)],
            "queries_changed": sum(change != 0 for change in changes),
        }
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
