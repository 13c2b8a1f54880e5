"""How much of a tune to keep: base and tuned weights blended (WiSE-FT), validation split only.

    python benchmarks/bench_tuning.py --data DIR --validate lr1e4 --lr 1e-4 --epochs 6 --blend 1
    python benchmarks/bench_blend.py --data DIR DIR/runs/lr1e4/model [MODEL ...]

Each model (trained with no blend) is blended with the base model at several shares of the
way from base to tuned, and each blend is scored (dense nDCG@10, sentence-transformers'
evaluator) on:

- the SciFact validation split the tune stopped on (what was learned; the held-out half is
  not read);
- two guard sets for what was forgotten, chosen to share no query with the gate's general
  check set (`searchapp/tuning/checkset`): 300 other XQuAD-en questions (seeded draw) over
  the same 240 paragraphs (XQuAD has no others), and the other 30 DBpedia-Entity queries,
  over their judged abstracts and as many others drawn at random, none of them a check-set
  abstract.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
from pathlib import Path

from benchmarks.bench_tuning import scifact_settings, training_half
from benchmarks.common import machine
from searchapp.evaluation.beir import BeirDataset, load_beir
from searchapp.evaluation.scratch import document_text
from searchapp.library import Library
from searchapp.tuning.measure import CHECK_DIR, CHECK_SETS
from searchapp.tuning.mining import mine_negatives
from searchapp.tuning.run import _validation
from searchapp.tuning.train import blend
from searchapp.tuning.validation import VAL_NDCG, Validation, evaluator

ROOT = Path(__file__).resolve().parents[1]
XQUAD = ROOT / "searchapp" / "evaluation" / "datasets" / "xquad-en"
DBPEDIA = ROOT.parent / "shared" / "eval" / "dbpedia-entity"
SHARES = (0.4, 0.5, 0.6, 0.7, 0.8, 1.0)


def _relevant(data: BeirDataset) -> dict[str, set[str]]:
    return {q: {d for d, grade in judged.items() if grade > 0} for q, judged in data.qrels.items()}


def guard_sets() -> dict[str, Validation]:
    """General sets with no query (and, for DBpedia, no abstract) of the gate's check set."""
    xquad_check, dbpedia_check = (load_beir(CHECK_DIR / name) for name in CHECK_SETS)
    full = load_beir(XQUAD)
    questions = {q: text for q, text in full.queries.items() if q not in xquad_check.queries}
    drawn = set(random.Random(1).sample(sorted(questions), 300))
    xquad = Validation(
        {q: questions[q] for q in sorted(drawn)},
        {d: document_text(doc) for d, doc in full.corpus.items()},
        {q: docs for q, docs in _relevant(full).items() if q in drawn},
    )
    full = load_beir(DBPEDIA)
    check_docs = set(dbpedia_check.corpus)
    queries = {q: text for q, text in full.queries.items() if q not in dbpedia_check.queries}
    judged = {
        q: docs - check_docs for q, docs in _relevant(full).items() if q in queries and docs - check_docs
    }
    needed = set().union(*judged.values())
    others = sorted(set(full.corpus) - needed - check_docs)
    needed |= set(random.Random(1).sample(others, min(len(needed), len(others))))
    dbpedia = Validation(
        {q: queries[q] for q in judged}, {d: document_text(full.corpus[d]) for d in needed}, judged
    )
    return {"xquad-en-guard": xquad, "dbpedia-entity-guard": dbpedia}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("models", type=Path, nargs="+", help="tuned models, trained with --blend 1")
    parser.add_argument("--shares", type=float, nargs="+", default=SHARES, help="shares of each tune kept")
    args = parser.parse_args()
    print(machine(), f"load {os.getloadavg()}", file=sys.stderr)
    from sentence_transformers import SentenceTransformer

    with Library.open(scifact_settings(args.data)) as library:
        resolved, _, val = training_half(library, args.data, 0.3)
        relevant = dict(resolved.relevant_docs)
        mined, _ = mine_negatives(library, resolved.examples, per_example=1, relevant_docs=relevant)
        sets = {"validation": _validation(library, [e for e in mined if e.query_id in val], relevant)}
        base_path = library.embedder.info.path
    sets |= guard_sets()
    print({name: (len(s.queries), len(s.corpus)) for name, s in sets.items()}, file=sys.stderr)
    base = {k: v.clone() for k, v in SentenceTransformer(str(base_path)).state_dict().items()}
    for index, path in enumerate(args.models):
        for share in ((0.0,) if index == 0 else ()) + tuple(args.shares):
            model = SentenceTransformer(str(path))
            blend(model, base, share)
            scores = {name: round(float(evaluator(s)(model)[VAL_NDCG]), 4) for name, s in sets.items()}
            print(
                json.dumps({"model": str(path), "share": share, **scores, "load": os.getloadavg()[0]}),
                flush=True,
            )


if __name__ == "__main__":
    main()
