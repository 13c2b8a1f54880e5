"""Tuning on SciFact, held out: every source, base against tuned, in every mode (docs/quality.md).

    python benchmarks/bench_tuning.py --data /work/tunedata --source labels
    python benchmarks/bench_tuning.py --data /work/tunedata --source structure
    python benchmarks/bench_tuning.py --data /work/tunedata --source feedback
    python benchmarks/bench_tuning.py --data /work/tunedata --validate NAME [--refit]  (validation only)

The 300 SciFact test queries are split in two by query (seed 0): the first half is the only
thing trained on (its own validation share decides when training stops), the second half
is only ever evaluated. `searchapp eval ../shared/eval/scifact` must have built the base
index under ``DATA/eval/eval-scifact`` first; the `labels` and `feedback` runs tune that
library (SciFact ingested as text, corpus ids as external ids). `structure` needs titles:
it builds a second library of 1,200 abstracts (seeded draw) as Markdown (``# title`` over
its text) and tunes on (title, abstract passage) pairs alone, no labels.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.common import machine
from searchapp.config import Settings
from searchapp.feedback import FeedbackLog
from searchapp.library import Library
from searchapp.request import SearchRequest
from searchapp.splits import split_by_query
from searchapp.tuning.examples import Example
from searchapp.tuning.labels import read_labels
from searchapp.tuning.run import VALIDATION_DEPTH, TuneRequest, tune
from searchapp.tuning.train import TrainConfig

SCIFACT = Path(__file__).resolve().parents[1].parent / "shared" / "eval" / "scifact"


def split_files(out: Path) -> tuple[Path, Path]:
    rows = [
        line.split("\t")
        for line in (SCIFACT / "qrels" / "test.tsv").read_text().splitlines()[1:]
        if line.strip()
    ]
    train, test = split_by_query([r[0] for r in rows], 0.5, seed=0)
    out.mkdir(parents=True, exist_ok=True)
    for name, keep in (("train.tsv", train), ("test.tsv", test)):
        (out / name).write_text(
            "query-id\tcorpus-id\tscore\n" + "".join("\t".join(r) + "\n" for r in rows if r[0] in keep)
        )
    return out / "train.tsv", out / "test.tsv"


def scifact_settings(data: Path) -> Settings:
    """The SciFact library `searchapp eval` built under DATA (corpus ids as external ids)."""
    return Settings.load().with_overrides(data_dir=data / "eval" / "eval-scifact", collection="eval-scifact")


def training_half(library: Library, data: Path, val_share: float) -> tuple[Any, set[str], set[str]]:
    """The training half's resolved labels, split by query into training and validation
    queries (seed 1, as every validation run)."""
    from searchapp.tuning.examples import from_labels

    train_file, _ = split_files(data / "scifact-split")
    resolved = from_labels(library, read_labels(train_file, SCIFACT / "queries.jsonl"))
    rest, val = split_by_query(sorted({e.query_id for e in resolved.examples}), val_share, seed=1)
    return resolved, rest, val


def markdown_library(data: Path, documents: int = 1200) -> Settings:
    from searchapp.ingest import Ingestor
    from searchapp.ingest.types import SourceFile

    settings = Settings.load().with_overrides(data_dir=data / "scifact-md", collection="scifact-md")
    corpus = [
        json.loads(line) for line in (SCIFACT / "corpus.jsonl").read_text().splitlines() if line.strip()
    ]
    corpus = random.Random(0).sample(corpus, documents)  # titles are plentiful: a sample is enough
    files = [
        SourceFile(
            source=f"{d['_id']}.md",
            data=f"# {d['title'].strip()}\n\n{d['text'].strip()}\n".encode(),
            external_id=d["_id"],
        )
        for d in corpus
    ]
    with Library.open(settings) as library, Ingestor(library) as ingestor:
        started = time.perf_counter()
        report = ingestor.ingest(files)
        print(
            f"markdown library: {report.summary()} in {time.perf_counter() - started:.0f} s", file=sys.stderr
        )
    return settings


def simulate_feedback(library: Library, train: Path) -> int:
    """👍 on every shown passage (adaptive, top 10) of a relevant document; "none" when none was shown."""
    log = FeedbackLog.of(library)
    count = 0
    for query in read_labels(train, SCIFACT / "queries.jsonl"):
        relevant = {label.target for label in query.relevant}
        response = library.find(SearchRequest(query.text, syntax=False))
        good = [hit for hit in response.hits if hit.metadata.get("external_id") in relevant]
        for hit in good:
            log.add(query.text, "good", hit=hit, mode=response.mode, user="simulated")
        if not good:
            log.add(query.text, "none", shown=response.hits, mode=response.mode, user="simulated")
        count += 1
    return count


def time_tuning(data: Path, depth: int, probe_depths: list[int]) -> None:
    """The tuning target: examples, hard negatives and training on all 300 labelled SciFact queries.

    The held-out evaluation is left out: its cost is embedding the corpus once per model
    (the re-embedding figure), not the labels.
    """
    from searchapp.tuning.examples import from_labels
    from searchapp.tuning.mining import mine_negatives
    from searchapp.tuning.run import _validation
    from searchapp.tuning.train import train

    settings = scifact_settings(data)
    with Library.open(settings) as library:
        started = time.perf_counter()
        loads = [os.getloadavg()[0]]
        resolved = from_labels(library, read_labels(SCIFACT))
        share = TuneRequest(sources=("labels",)).validation_share  # the app's own split
        rest, val = split_by_query(sorted({e.query_id for e in resolved.examples}), share, seed=1)
        mined, _ = mine_negatives(library, resolved.examples, relevant_docs=resolved.relevant_docs)
        validating = [e for e in mined if e.query_id in val]
        validation = _validation(library, validating, resolved.relevant_docs, depth)
        probes = depth_probes(library, validating, resolved.relevant_docs, probe_depths)
        prepared = time.perf_counter() - started
        loads.append(os.getloadavg()[0])
        assert library.embedder.info.path is not None
        result = train(
            library.embedder.info.path,
            [e for e in mined if e.query_id in rest],
            validation,
            data / "runs" / "timing",
            probes=probes,
        )
        loads.append(os.getloadavg()[0])
    total = time.perf_counter() - started
    print(
        json.dumps(
            {
                "queries": len({e.query_id for e in resolved.examples}),
                "examples": len(mined),
                "validation_depth": depth,
                "validation_passages": len(validation.corpus),
                "prepare_s": round(prepared, 1),
                "training": result.to_dict(),
                "total_s": round(total, 1),
                "load_1min_at_start_after_prepare_at_end": loads,
            },
            indent=1,
        )
    )


def depth_probes(
    library: Library, validating: list[Example], relevant: Any, depths: list[int]
) -> dict[str, Any]:
    """The same validation queries against shallower or deeper candidate lists, scored beside
    the real one after every epoch: what early stopping would have seen at each depth."""
    from searchapp.tuning.run import _validation

    return {f"depth{d}": _validation(library, validating, relevant, d) for d in depths}


def structure_examples(data: Path, count: int) -> list[Example]:
    """`count` (title, first passage) pairs of the Markdown library's abstracts (no labels), each
    with a guarded hard negative mined in that library: replayed beside the labels so that the
    model keeps practising a general kind of match while it learns the labelled one."""
    from searchapp.tuning.examples import from_structure
    from searchapp.tuning.mining import mine_negatives

    settings = markdown_library(data)
    with Library.open(settings) as library:
        found = from_structure(library, seed=0, limit=count)
        relevant = {e.query_id: frozenset({e.positive_doc}) for e in found}
        mined, stats = mine_negatives(library, found, relevant_docs=relevant)
    print(f"structure examples: {stats.to_dict()}", file=sys.stderr)
    return mined


def rank3_negatives(
    library: Library, examples: list[Example], relevant: dict[str, frozenset[str]]
) -> list[Example]:
    """The notes' negatives (../shared/notes/training.md): the base model's 3rd-best passage of a
    non-relevant document among its dense top 15 (the top two are skipped as likely unjudged
    answers), one per example."""
    out = []
    for example in examples:
        hits = library.find(SearchRequest(example.query, k=15, mode="dense", syntax=False)).hits
        wrong = [h.text for h in hits if h.doc_id not in relevant.get(example.query_id, frozenset())]
        out.append(dataclasses.replace(example, negatives=tuple(wrong[2:3] or wrong[-1:])))
    return out


def validate_variant(data: Path, args: argparse.Namespace) -> None:
    """One recipe trained on the training half less a validation share, scored on that share
    only (after every epoch, with no early stopping; the best epoch is kept). The held-out
    half is not read."""
    from searchapp.tuning.mining import mine_negatives
    from searchapp.tuning.run import _validation
    from searchapp.tuning.train import train

    loads = [os.getloadavg()[0]]
    with Library.open(scifact_settings(data)) as library:
        resolved, rest, val = training_half(library, data, args.val_share)
        relevant = dict(resolved.relevant_docs)
        if args.negatives == "rank3":
            mined = rank3_negatives(library, list(resolved.examples), relevant)
        else:
            mined, _ = mine_negatives(
                library, resolved.examples, per_example=args.per_example, relevant_docs=relevant
            )
        validating = [e for e in mined if e.query_id in val]
        validation = _validation(library, validating, relevant, args.depth)
        probes = depth_probes(library, validating, relevant, args.probe_depths)
        training = [e for e in mined if e.query_id in rest]
        if args.structure:
            training += structure_examples(data, args.structure)
        assert library.embedder.info.path is not None
        config = TrainConfig(
            loss=args.loss,
            lora=args.lora,
            epochs=args.epochs,
            learning_rate=args.lr,
            batch_size=args.batch,
            patience=args.epochs,
            blend=args.blend,
            anchor=args.anchor,
        )
        result = train(
            library.embedder.info.path,
            training,
            validation,
            data / "runs" / args.name,
            config,
            probes=probes,
        )
    loads.append(os.getloadavg()[0])
    row = {
        "variant": args.name,
        "validation_depth": args.depth,
        "validation_passages": len(validation.corpus),
        "probe_passages": {name: len(v.corpus) for name, v in probes.items()},
        "negatives": args.negatives,
        "per_example": args.per_example,
        "train_queries": len(rest),
        "structure_examples": args.structure,
        "validation_queries": len(val),
        "config": config.to_dict(),
        "training": result.to_dict(),
        "load_1min_at_start_end": loads,
    }
    (data / "reports").mkdir(exist_ok=True)
    with (data / "reports" / "validation.jsonl").open("a") as out:
        out.write(json.dumps(row) + "\n")
    print(json.dumps(row, indent=1))


def validate_refit(data: Path, args: argparse.Namespace) -> None:
    """Refit against none, on the validation split only: the training queries (less that
    split) are split again the app's way (a 30% inner share decides when to stop); one model
    keeps the best epoch, the other trains again on inner training + inner validation
    queries; both are scored on the outer validation split, which neither saw. The
    held-out half is not read."""
    from searchapp.tuning.mining import mine_negatives
    from searchapp.tuning.run import _validation
    from searchapp.tuning.train import train
    from searchapp.tuning.validation import validation_score

    loads = [os.getloadavg()[0]]
    with Library.open(scifact_settings(data)) as library:
        resolved, rest, outer = training_half(library, data, args.val_share)
        relevant = dict(resolved.relevant_docs)
        inner_train, inner_val = split_by_query(sorted(rest), 0.3, seed=2)
        mined, _ = mine_negatives(library, resolved.examples, per_example=1, relevant_docs=relevant)
        outer_set = _validation(library, [e for e in mined if e.query_id in outer], relevant)
        training = [e for e in mined if e.query_id in inner_train]
        validating = [e for e in mined if e.query_id in inner_val]
        inner_set = _validation(library, validating, relevant)
        base = library.embedder.info.path
        assert base is not None
        rows: dict[str, Any] = {}
        for refit in (False, True):
            config = TrainConfig(
                loss=args.loss, learning_rate=args.lr, refit=refit, blend=args.blend, anchor=args.anchor
            )
            result = train(
                base,
                training,
                inner_set,
                data / "runs" / f"{args.name}-{'refit' if refit else 'kept'}",
                config,
                validation_examples=validating,
            )
            rows["refit" if refit else "kept"] = {
                "training": result.to_dict(),
                "outer_validation_ndcg10": round(validation_score(result.path, outer_set), 4),
            }
        rows["base_outer_validation_ndcg10"] = round(validation_score(base, outer_set), 4)
    loads.append(os.getloadavg()[0])
    row = {
        "variant": args.name,
        "inner_train_queries": len(inner_train),
        "inner_validation_queries": len(inner_val),
        "outer_validation_queries": len(outer),
        **rows,
        "load_1min_at_start_end": loads,
    }
    with (data / "reports" / "validation.jsonl").open("a") as out:
        out.write(json.dumps(row) + "\n")
    print(json.dumps(row, indent=1))


def heldout_of(data: Path, model: Path) -> None:
    """Base against `model` on the held-out half, in every mode (the reported figure)."""
    from searchapp.tuning.measure import compare, evaluate, heldout_from_beir

    _, test_file = split_files(data / "scifact-split")
    held = read_labels(test_file, SCIFACT / "queries.jsonl")
    qrels = {q.query_id: {label.target: label.grade for label in q.labels} for q in held}
    dataset = heldout_from_beir(SCIFACT, {q.query_id: q.text for q in held}, qrels)
    settings = Settings.load()
    root = data / "eval"
    started = time.perf_counter()
    result = compare(
        evaluate(dataset, settings, settings.model, root, base=True),
        evaluate(dataset, settings, str(model), root, base=False),
    )
    print(
        json.dumps(
            {
                "model": str(model),
                "heldout": result.to_dict(),
                "seconds": round(time.perf_counter() - started),
                "load": os.getloadavg(),
            },
            indent=1,
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument(
        "--source",
        choices=("labels", "structure", "feedback", "labels+structure", "markdown-library"),
        default="labels",
    )
    parser.add_argument("--loss", default="mnrl")
    parser.add_argument("--lora", action="store_true")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--lr", type=float, default=0.0, help="0: the app's default")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument(
        "--anchor", type=float, default=0.0, help="weight of the passages' drift from the base"
    )
    parser.add_argument("--blend", type=float, default=1.0, help="share of the way to the tuned weights kept")
    parser.add_argument("--per-example", type=int, default=1, help="hard negatives per example")
    parser.add_argument("--no-check", action="store_true")
    parser.add_argument("--refit", action="store_true", help="train again on training + validation queries")
    parser.add_argument("--validate", metavar="NAME", help="score one recipe on the validation split only")
    parser.add_argument("--val-share", type=float, default=0.3)
    parser.add_argument(
        "--depth", type=int, default=VALIDATION_DEPTH, help="validation candidates: the top N of each mode"
    )
    parser.add_argument(
        "--probe-depths", type=int, nargs="*", default=[], help="also score these depths after every epoch"
    )
    parser.add_argument(
        "--structure", type=int, default=0, help="with --validate: add N title-passage pairs (no labels)"
    )
    parser.add_argument("--negatives", choices=("guarded", "rank3"), default="guarded")
    parser.add_argument("--heldout", type=Path, metavar="MODEL", help="measure MODEL on the held-out half")
    parser.add_argument(
        "--time-only", action="store_true", help="time tuning on all 300 queries; no evaluation"
    )
    args = parser.parse_args()
    print(machine(), f"load {os.getloadavg()}", file=sys.stderr)
    if args.time_only:
        time_tuning(args.data, args.depth, args.probe_depths)
        return
    if args.validate:
        args.name = args.validate
        (validate_refit if args.refit else validate_variant)(args.data, args)
        return
    if args.heldout:
        heldout_of(args.data, args.heldout)
        return
    train, test = split_files(args.data / "scifact-split")
    if args.source == "markdown-library":
        markdown_library(args.data)
        return
    settings = markdown_library(args.data) if args.source in ("structure",) else scifact_settings(args.data)
    sources = tuple(args.source.split("+"))
    variant = f"{args.loss}{'-lora' if args.lora else ''}{'-refit' if args.refit else ''}"
    variant += f"-anchor{args.anchor:g}" if args.anchor else ""
    with Library.open(settings) as library:
        if args.source == "feedback" and not FeedbackLog.of(library).count():
            print(f"simulated feedback on {simulate_feedback(library, train)} queries", file=sys.stderr)
        request = TuneRequest(
            sources=sources,
            labels=train if "labels" in sources else None,
            queries=SCIFACT / "queries.jsonl",
            test_labels=test,
            corpus=SCIFACT,
            config=TrainConfig(
                loss=args.loss,
                lora=args.lora,
                learning_rate=args.lr,
                refit=args.refit,
                blend=args.blend,
                anchor=args.anchor,
            ),
            check=not args.no_check,
            keep=False,
            work_dir=args.data / "runs" / f"{args.source}-{variant}",
            eval_root=args.data / "eval",
            structure_limit=175,  # as many pairs as the labelled half gives: the same training time
        )
        report = tune(
            library, request, note=lambda m: print(time.strftime("%H:%M:%S"), m, file=sys.stderr, flush=True)
        )
    out = args.data / "reports"
    out.mkdir(exist_ok=True)
    name = f"{args.source}-{variant}.json"
    (out / name).write_text(json.dumps(report.to_dict(), indent=1))
    print(json.dumps(report.to_dict(), indent=1))


if __name__ == "__main__":
    main()
