"""`tune`: examples -> hard negatives -> training -> held-out comparison -> the gate -> a new model version.

Queries are split three ways, by query and with a fixed seed: the held-out share is only
ever evaluated (or an explicit held-out file is), a validation share of the rest decides
when training stops, and the remainder is trained on. Nothing is chosen on the held-out
queries. A model that does not pass the gate (`gate.check`) is thrown away and the library
is left as it was; one that passes becomes a new version (`searchapp.library.versions`),
which `searchapp model use` adopts.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from searchapp.embedding.models import resolve_model
from searchapp.errors import EvalDataError, ModelError
from searchapp.feedback import FeedbackLog
from searchapp.library import Library
from searchapp.library.versions import ModelVersion, ModelVersions
from searchapp.request import SearchRequest
from searchapp.splits import split_by_query
from searchapp.tuning.examples import (
    MAX_STRUCTURE_EXAMPLES,
    SOURCES,
    Example,
    from_feedback,
    from_labels,
    from_structure,
    require_examples,
)
from searchapp.tuning.gate import GateVerdict, check
from searchapp.tuning.labels import LabelledQuery, read_labels
from searchapp.tuning.measure import (
    SetComparison,
    check_sets,
    compare,
    evaluate,
    heldout_from_beir,
    heldout_from_library,
)
from searchapp.tuning.mining import MiningStats, mine_negatives
from searchapp.tuning.train import train
from searchapp.tuning.train_config import TrainConfig, TrainResult
from searchapp.tuning.validation import Validation

logger = logging.getLogger(__name__)

Note = Callable[[str], None]

# Each validation query is ranked against its positives and the library's top passages in
# both modes, this deep (docs/benchmarks.md: the scoring's cost grows with it).
VALIDATION_DEPTH = 10


@dataclass(frozen=True, slots=True)
class TuneRequest:
    """What to tune on and how.

    Attributes:
        sources: any of "feedback", "labels", "structure".
        labels: a labelled file (`searchapp.tuning.labels`); needed for "labels".
        queries: the queries.jsonl for a qrels file, when it is not beside it.
        test_labels: a labelled file of held-out queries; default: `test_share` of the queries.
        corpus: a BEIR dataset directory whose corpus the library holds (ids as external ids),
            evaluated instead of the library's own documents.
        keep: make a model that passes the gate a new version (False: measure only).
    """

    sources: tuple[str, ...] = ("feedback",)
    labels: Path | None = None
    queries: Path | None = None
    test_labels: Path | None = None
    corpus: Path | None = None
    test_share: float = 0.3
    validation_share: float = 0.3  # of the training queries; 15% (about 20) was too noisy to stop on
    validation_depth: int = VALIDATION_DEPTH
    seed: int = 0
    negatives: int = 1
    config: TrainConfig = field(default_factory=TrainConfig)
    check: bool = True
    keep: bool = True
    work_dir: Path | None = None
    eval_root: Path | None = None  # scratch indexes; default <data dir>/eval
    structure_limit: int = MAX_STRUCTURE_EXAMPLES


@dataclass(frozen=True, slots=True)
class TuneReport:
    """Everything a tuning run measured, and what it decided."""

    sources: tuple[str, ...]
    examples: int
    train_queries: int
    validation_queries: int
    heldout_queries: int
    unmatched_labels: int
    mining: MiningStats
    training: TrainResult
    heldout: SetComparison
    check: tuple[SetComparison, ...]
    gate: GateVerdict
    version: ModelVersion | None
    seconds: dict[str, float]
    load: tuple[float, float, float]
    config: TrainConfig

    def to_dict(self) -> dict[str, Any]:
        return {
            "sources": list(self.sources),
            "examples": self.examples,
            "train_queries": self.train_queries,
            "validation_queries": self.validation_queries,
            "heldout_queries": self.heldout_queries,
            "unmatched_labels": self.unmatched_labels,
            "mining": self.mining.to_dict(),
            "training": self.training.to_dict(),
            "config": self.config.to_dict(),
            "heldout": self.heldout.to_dict(),
            "check": [c.to_dict() for c in self.check],
            "gate": self.gate.to_dict(),
            "version": self.version.to_dict() if self.version else None,
            "seconds": {k: round(v, 1) for k, v in self.seconds.items()},
            "load_average": list(self.load),
        }


def tune(library: Library, request: TuneRequest, note: Note | None = None) -> TuneReport:
    """Tune the library's current model on `request.sources`, measure it, and gate it.

    Raises:
        EvalDataError: no examples, or no held-out queries to measure on.
        ModelError: the library's model cannot be trained (the test-only hash embedder).
    """
    say = note or (lambda message: logger.info("%s", message))
    if library.embedder.info.path is None:
        raise ModelError(f"{library.embedder.info.name} is not a model that can be trained")
    unknown = set(request.sources) - set(SOURCES)
    if unknown or not request.sources:
        raise EvalDataError(
            f"tuning sources are {', '.join(SOURCES)}; got {', '.join(request.sources) or 'none'}"
        )
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    examples, relevant, unmatched, test = _examples(library, request, say)
    seconds["examples"] = time.perf_counter() - started

    keys = sorted({e.query_id for e in examples})
    if test is None:
        rest, held = split_by_query(keys, request.test_share, request.seed)
        test = {e.query_id: e.query for e in examples if e.query_id in held}
        examples = [e for e in examples if e.query_id in rest]
    train_keys, val_keys = split_by_query(
        sorted({e.query_id for e in examples}), request.validation_share, request.seed + 1
    )
    if not val_keys or not train_keys:
        raise EvalDataError(f"too few queries to train and validate on ({len(keys)}); label at least 10")
    say(
        f"{len(examples)} examples: {len(train_keys)} training and {len(val_keys)} validation queries, "
        f"{len(test)} held out"
    )

    started = time.perf_counter()
    mined, stats = mine_negatives(library, examples, per_example=request.negatives, relevant_docs=relevant)
    validating = [e for e in mined if e.query_id in val_keys]
    validation = _validation(library, validating, relevant, request.validation_depth)
    seconds["mining"] = time.perf_counter() - started
    say(
        f"hard negatives for {stats.with_negative} of {stats.examples} examples "
        f"({stats.guarded} candidates guarded)"
    )

    work = request.work_dir or Path(tempfile.mkdtemp(prefix="searchapp-tune-"))
    base_model = library.embedder.info
    assert base_model.path is not None
    started = time.perf_counter()
    result = train(
        base_model.path,
        [e for e in mined if e.query_id in train_keys],
        validation,
        work,
        request.config,
        on_step=lambda done, total: say(f"training step {done}/{total}") if done % 10 == 0 else None,
        validation_examples=validating,
    )
    seconds["training"] = time.perf_counter() - started
    say(
        f"trained {result.steps} steps in {result.seconds:.0f} s on {result.device} ({result.precision}); "
        f"validation nDCG@10 {result.base_score:.4f} -> {result.best_score:.4f}"
    )

    started = time.perf_counter()
    root = request.eval_root or library.settings.data_dir / "eval"
    # The settings' own model string when it is the live model, so the base index is the one
    # `searchapp eval` builds (a scratch index is keyed by the model's name).
    base_name = (
        library.settings.model
        if resolve_model(library.settings.model).name == base_model.name
        else str(base_model.path)
    )
    tuned_name = str(result.path)
    data = _heldout_data(library, request, test, relevant, work)
    say(f"measuring {len(data.queries)} held-out queries, base against tuned")
    heldout = compare(
        evaluate(data, library.settings, base_name, root, base=True),
        evaluate(data, library.settings, tuned_name, root, base=False),
    )
    seconds["heldout"] = time.perf_counter() - started
    started = time.perf_counter()
    checks: list[SetComparison] = []
    if request.check:
        for dataset in check_sets():
            say(f"general check: {dataset.name}")
            modes = ("adaptive", "dense")
            checks.append(
                compare(
                    evaluate(dataset, library.settings, base_name, root, base=True, modes=modes),
                    evaluate(dataset, library.settings, tuned_name, root, base=False, modes=modes),
                )
            )
    seconds["check"] = time.perf_counter() - started
    verdict = check(heldout, checks, library.settings.search_mode, checked=request.check)
    version = None
    if verdict.passed and request.keep:
        version = ModelVersions.of(library).add(
            result.path,
            parent=base_model.name,
            report={
                "heldout": heldout.to_dict(),
                "check": [c.to_dict() for c in checks],
                "sources": list(request.sources),
            },
        )
        say(
            f"kept as model version {version.version_id}; "
            f"`searchapp model use {version.version_id}` adopts it"
        )
    else:
        say("not kept: " + "; ".join(verdict.reasons) if not verdict.passed else "measured only (not kept)")
    if request.work_dir is None and version is not None:
        shutil.rmtree(work, ignore_errors=True)
    return TuneReport(
        sources=tuple(request.sources),
        examples=len(examples),
        train_queries=len(train_keys),
        validation_queries=len(val_keys),
        heldout_queries=len(data.queries),
        unmatched_labels=len(unmatched),
        mining=stats,
        training=result,
        heldout=heldout,
        check=tuple(checks),
        gate=verdict,
        version=version,
        seconds=seconds,
        load=os.getloadavg(),
        config=request.config,
    )


def _examples(
    library: Library, request: TuneRequest, say: Note
) -> tuple[list[Example], dict[str, frozenset[str]], list[str], dict[str, str] | None]:
    examples: list[Example] = []
    relevant: dict[str, frozenset[str]] = {}
    unmatched: list[str] = []
    test: dict[str, str] | None = None
    if "labels" in request.sources:
        if request.labels is None:
            raise EvalDataError("the 'labels' source needs a labelled file (--labels)")
        resolved = from_labels(library, read_labels(request.labels, request.queries))
        examples.extend(resolved.examples)
        relevant.update(resolved.relevant_docs)
        unmatched.extend(resolved.unmatched)
        say(
            f"{len(resolved.examples)} examples from {request.labels} "
            f"({len(resolved.unmatched)} labels unmatched)"
        )
    if "feedback" in request.sources:
        found = from_feedback(FeedbackLog.of(library).list())
        examples.extend(found)
        for example in found:
            relevant[example.query_id] = relevant.get(example.query_id, frozenset()) | {example.positive_doc}
        say(f"{len(found)} examples from feedback")
    if "structure" in request.sources:
        found = from_structure(library, seed=request.seed, limit=request.structure_limit)
        examples.extend(found)
        for example in found:
            relevant[example.query_id] = frozenset({example.positive_doc})
        say(f"{len(found)} examples from titles and headings")
    require_examples(examples, request.sources)
    if request.test_labels is not None:
        held: Sequence[LabelledQuery] = read_labels(request.test_labels, request.queries)
        resolved = from_labels(library, held)
        relevant.update(resolved.relevant_docs)
        test = {q.query_id: q.text for q in held}
        examples = [e for e in examples if e.query_id not in test and e.query not in test.values()]
    return examples, relevant, unmatched, test


def _validation(
    library: Library,
    examples: Sequence[Example],
    relevant: dict[str, frozenset[str]],
    depth: int = VALIDATION_DEPTH,
) -> Validation:
    """Validation queries against their own candidates: positives and the top `depth` of both lists."""
    queries: dict[str, str] = {}
    corpus: dict[str, str] = {}
    wanted: dict[str, set[str]] = {}
    for example in examples:
        queries[example.query_id] = example.query
        key = example.positive_id or f"text:{hash(example.positive)}"
        corpus[key] = example.positive
        wanted.setdefault(example.query_id, set()).add(key)
    for query_id, query in queries.items():
        for mode in ("dense", "keyword"):
            for hit in library.find(SearchRequest(query, k=depth, mode=mode, syntax=False)).hits:
                corpus[hit.chunk_id] = hit.text
                if hit.doc_id in relevant.get(query_id, frozenset()):
                    wanted[query_id].add(hit.chunk_id)
    return Validation(queries, corpus, wanted)


def _heldout_data(
    library: Library,
    request: TuneRequest,
    test: dict[str, str],
    relevant: dict[str, frozenset[str]],
    work: Path,
) -> Any:
    if not test:
        raise EvalDataError("no held-out queries to measure on: label more queries, or give --test-labels")
    if request.corpus is not None and request.test_labels is not None:
        held = read_labels(request.test_labels, request.queries)
        qrels = {q.query_id: {label.target: label.grade for label in q.labels} for q in held}
        return heldout_from_beir(request.corpus, test, qrels)
    return heldout_from_library(library, test, relevant, work / "heldout")


def replace_config(request: TuneRequest, **changes: Any) -> TuneRequest:
    return dataclasses.replace(request, config=dataclasses.replace(request.config, **changes))
