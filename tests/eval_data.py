"""A tiny BEIR dataset for the evaluation tests (tests/test_eval_runner.py explains the
expected scores); `write_dataset` writes it, or another corpus with the same queries."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from searchapp.evaluation.beir import CorpusDoc
from searchapp.evaluation.scratch import document_text

CORPUS: list[dict[str, Any]] = [
    {"_id": "d1", "title": "Cats", "text": "Cats purr softly and chase mice around the old barn."},
    {"_id": "d2", "text": "Dogs bark loudly at the mailman every single morning."},
    {"_id": 3, "title": "Rockets", "text": "Rockets burn liquid fuel to climb into orbit."},
    {"_id": "d4", "title": "Gardens", "text": "Tomatoes grow well in sunny gardens with plenty of water."},
    {"_id": "d5", "title": "Gardens", "text": "Tomatoes grow well in sunny gardens with plenty of water."},
    {"_id": "d6", "title": "Volcanoes", "text": "Lava flows slowly down the mountain after an eruption."},
]


def _doc(raw: dict[str, Any]) -> str:
    return document_text(CorpusDoc(str(raw["_id"]), raw.get("title") or "", raw["text"]))


QUERIES = [
    {"_id": "q1", "text": _doc(CORPUS[0])},
    {"_id": "q2", "text": _doc(CORPUS[1])},
    {"_id": "3", "text": _doc(CORPUS[2])},
    {"_id": "q4", "text": _doc(CORPUS[3])},
    {"_id": "q5", "text": "an unjudged question"},
]
QRELS = "".join(
    f"{line}\n"
    for line in [
        "query-id\tcorpus-id\tscore",
        "q1\td1\t2",
        "q1\tghost\t1",
        "q2\td2\t1",
        "q2\td6\t0",
        "3\t3\t1",
        "q4\td4\t1",
        "q4\td5\t1",
    ]
)


def write_dataset(root: Path, corpus: list[dict[str, Any]] = CORPUS) -> Path:
    (root / "qrels").mkdir(parents=True, exist_ok=True)
    (root / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in corpus), encoding="utf-8")
    (root / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in QUERIES), encoding="utf-8")
    (root / "qrels" / "test.tsv").write_text(QRELS, encoding="utf-8")
    return root
