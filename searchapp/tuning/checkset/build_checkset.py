"""Build the general check set a tuned model must not get worse on (standard library only).

    python searchapp/tuning/checkset/build_checkset.py ../shared/eval/dbpedia-entity

- xquad-en-check: 300 of XQuAD-en's 1,190 questions (seeded draw) over all 240 paragraphs
  (`searchapp/evaluation/datasets/xquad-en`, CC BY-SA 4.0);
- dbpedia-entity-check: 10 of the 40 DBpedia-Entity queries (seeded draw), every document
  judged for them (any grade) and as many other abstracts drawn at random (CC BY-SA 3.0).
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

HERE = Path(__file__).parent
XQUAD = HERE.parents[1] / "evaluation" / "datasets" / "xquad-en"
SEED = 0


def _jsonl(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _qrels(path: Path) -> list[tuple[str, str, int]]:
    rows = [line.split("\t") for line in path.read_text(encoding="utf-8").splitlines()[1:] if line.strip()]
    return [(q, d, int(s)) for q, d, s in rows]


def _write(
    target: Path,
    corpus: list[dict[str, object]],
    queries: list[dict[str, object]],
    qrels: list[tuple[str, str, int]],
) -> None:
    (target / "qrels").mkdir(parents=True, exist_ok=True)
    for name, rows in (("corpus.jsonl", corpus), ("queries.jsonl", queries)):
        with (target / name).open("w", encoding="utf-8") as handle:
            for row in rows:
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    with (target / "qrels" / "test.tsv").open("w", encoding="utf-8") as handle:
        handle.write("query-id\tcorpus-id\tscore\n")
        for q, d, s in qrels:
            handle.write(f"{q}\t{d}\t{s}\n")


def build(dbpedia: Path) -> None:
    rng = random.Random(SEED)
    queries = _jsonl(XQUAD / "queries.jsonl")
    drawn = {str(q["_id"]) for q in rng.sample(sorted(queries, key=lambda q: str(q["_id"])), 300)}
    _write(
        HERE / "xquad-en-check",
        _jsonl(XQUAD / "corpus.jsonl"),
        [q for q in queries if str(q["_id"]) in drawn],
        [row for row in _qrels(XQUAD / "qrels" / "test.tsv") if row[0] in drawn],
    )
    rng = random.Random(SEED)
    judged = _qrels(dbpedia / "qrels" / "test.tsv")
    query_ids = sorted({q for q, _, _ in judged})
    chosen = set(rng.sample(query_ids, 10))
    kept = [row for row in judged if row[0] in chosen]
    corpus = _jsonl(dbpedia / "corpus.jsonl")
    needed = {d for _, d, _ in kept}
    others = sorted(str(doc["_id"]) for doc in corpus if str(doc["_id"]) not in needed)
    needed |= set(rng.sample(others, min(len(needed), len(others))))
    _write(
        HERE / "dbpedia-entity-check",
        [
            {"_id": doc["_id"], "title": doc.get("title", ""), "text": doc["text"]}
            for doc in corpus
            if str(doc["_id"]) in needed
        ],
        [q for q in _jsonl(dbpedia / "queries.jsonl") if str(q["_id"]) in chosen],
        kept,
    )


if __name__ == "__main__":
    build(Path(sys.argv[1]))
