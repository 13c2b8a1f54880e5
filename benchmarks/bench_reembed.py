"""Re-embedding a whole library with another model version: `searchapp model use` end to end.

    python benchmarks/bench_reembed.py --library DATA_DIR --collection NAME --model MODEL_DIR

Copy the library first (the switch changes it). Keeps MODEL_DIR as a version of the library,
switches to it (re-embedding every stored passage beside the live index, then the swap),
and rolls back (instant: the kept index). Prints the seconds, passages per second and the
load average beside them.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from benchmarks.common import machine
from searchapp.config import Settings
from searchapp.ingest.model_use import rollback, use_model
from searchapp.library import Library
from searchapp.library.versions import ModelVersions


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--library", type=Path, required=True)
    parser.add_argument("--collection", required=True)
    parser.add_argument("--model", type=Path, required=True)
    args = parser.parse_args()
    print(machine(), file=sys.stderr)
    settings = Settings.load().with_overrides(data_dir=args.library, collection=args.collection)
    with Library.open(settings) as library:
        version = ModelVersions.of(library).add(args.model, parent=library.embedder.info.name)
        load_before = os.getloadavg()
        started = time.perf_counter()
        report = use_model(library, version.version_id)
        seconds = time.perf_counter() - started
        load_after = os.getloadavg()
        embedded_on = f"{library.embedder.device}, {library.embedder.backend}"  # the tuned model's
        started = time.perf_counter()
        back = rollback(library)
        rollback_s = time.perf_counter() - started
    print(
        json.dumps(
            {
                "chunks": report.chunks,
                "documents": report.documents,
                "seconds": round(seconds, 1),
                "chunks_per_second": round(report.chunks / seconds, 1),
                "device": embedded_on,
                "load_before": load_before,
                "load_after": load_after,
                "rollback_seconds": round(rollback_s, 2),
                "rollback_instant": back.instant,
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
