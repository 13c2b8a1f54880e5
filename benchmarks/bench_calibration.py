"""The "no good match" notice calibrated from feedback, held out, on a SciFact library.

    python benchmarks/bench_calibration.py --data /work/tunedata

Feedback is simulated as people would give it: a 👍 on the relevant passage for each SciFact
claim whose judged abstract is in the default mode's top 10, and "none of these are right"
for questions about something else (XQuAD-en questions and DBpedia-Entity queries, asked of
the SciFact library). `calibrate` fits on half of those queries (split by query) and scores
the defaults and the fitted thresholds on the other half. The simulated feedback and the
calibration are removed afterwards, so the library is left as it was.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from benchmarks.common import machine
from searchapp.config import Settings
from searchapp.feedback import FeedbackLog
from searchapp.feedback.calibration import calibrate, reset
from searchapp.library import Library
from searchapp.request import SearchRequest
from searchapp.tuning.labels import read_labels

ROOT = Path(__file__).resolve().parents[1]
SCIFACT = ROOT.parent / "shared" / "eval" / "scifact"
OFF_TOPIC = (
    ROOT / "searchapp" / "evaluation" / "datasets" / "xquad-en",
    ROOT.parent / "shared" / "eval" / "dbpedia-entity",
)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--off-topic", type=int, default=300, help="off-topic questions to ask")
    args = parser.parse_args()
    print(machine(), f"load {os.getloadavg()}", file=sys.stderr)
    settings = Settings.load().with_overrides(
        data_dir=args.data / "eval" / "eval-scifact", collection="eval-scifact"
    )
    with Library.open(settings) as library:
        log = FeedbackLog.of(library)
        added = []
        for query in read_labels(SCIFACT):
            relevant = {label.target for label in query.relevant}
            response = library.find(SearchRequest(query.text, syntax=False))
            good = [h for h in response.hits if h.metadata.get("external_id") in relevant]
            if good:
                added.append(
                    log.add(query.text, "good", hit=good[0], mode=response.mode, user="calibration-bench")
                )
        questions = [
            json.loads(line)["text"] for line in (OFF_TOPIC[0] / "queries.jsonl").read_text().splitlines()
        ]
        questions = questions[: args.off_topic - 40] + [
            json.loads(line)["text"] for line in (OFF_TOPIC[1] / "queries.jsonl").read_text().splitlines()
        ]
        for question in questions:
            response = library.find(SearchRequest(question, syntax=False))
            added.append(
                log.add(question, "none", shown=response.hits, mode=response.mode, user="calibration-bench")
            )
        try:
            result = calibrate(library)
            print(json.dumps(result.to_dict(), indent=1))
        finally:
            for item in added:
                log.remove(item.feedback_id)
            reset(library)


if __name__ == "__main__":
    main()
