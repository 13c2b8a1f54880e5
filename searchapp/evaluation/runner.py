"""Run a BEIR benchmark through searchapp's own ingest and search paths.

    load the dataset -> build (or reuse) a scratch index (`searchapp.evaluation.scratch`)
      -> for each mode: every judged query through `Library.find` -> score documents

Scoring is per document, as BEIR scores: a document ranks where its best chunk ranks
(its first appearance in the chunk ranking). Chunks carry their corpus id in the
``external_id`` metadata that `SourceFile.external_id` writes.
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from searchapp.config import Settings
from searchapp.errors import QueryError
from searchapp.evaluation.beir import BeirDataset, load_beir
from searchapp.evaluation.metrics import mean, mrr_at_k, ndcg_at_k, percentile, recall_at_k
from searchapp.evaluation.report import EvalReport, ModeResult
from searchapp.evaluation.scratch import EvalProgress, Silent, document_text, prepare_index
from searchapp.library import Library
from searchapp.request import MAX_K, SearchRequest
from searchapp.types import Hit

if TYPE_CHECKING:
    pass

RECALL_DEPTH = 100
CHUNKS_PER_QUERY = 300  # >= 145 distinct SciFact abstracts at 200-token chunks; deepened if short
WARM_UP_QUERY = "warm-up query for the evaluation"


def run_evaluation(
    dataset: BeirDataset | Path | str,
    settings: Settings | None = None,
    *,
    split: str = "test",
    modes: Sequence[str] | None = None,
    k: int = 10,
    data_dir: Path | None = None,
    collection: str | None = None,
    rebuild: bool = False,
    progress: EvalProgress | None = None,
) -> EvalReport:
    """Evaluate retrieval on a BEIR dataset with searchapp's real ingest and search.

    Args:
        dataset: a loaded `BeirDataset`, or its directory (then `split` is loaded).
        settings: model, chunking and device; default: `Settings.load()`. Its data
            directory and collection are not used, except to place the default root.
        modes: retrieval modes to evaluate; None or ["all"]: every mode the library offers.
        k: cut-off for nDCG, Recall and MRR (Recall@100 is always reported too).
        data_dir: root of the scratch indexes; default ``<settings.data_dir>/eval``.
        collection: scratch collection name; default ``eval-<dataset name>``.
        rebuild: build the scratch index again even if the recorded one matches.

    Raises:
        EvalDataError: the dataset is missing or malformed.
        ModeNotOfferedError: a requested mode is not offered.
        SearchAppError: settings, model or store problems.
    """
    if not 1 <= k <= MAX_K:
        raise QueryError(f"k must be from 1 to {MAX_K}; got {k}")
    settings = settings or Settings.load()
    progress = progress or Silent()
    data = dataset if isinstance(dataset, BeirDataset) else load_beir(dataset, split)
    scratch = prepare_index(
        data,
        settings,
        modes=modes,
        data_dir=data_dir,
        collection=collection,
        rebuild=rebuild,
        progress=progress,
    )
    duplicates = duplicate_groups(data)
    results = []
    backend = ""
    for mode in scratch.modes:
        # A fresh Library per mode: no query vectors cached by an earlier mode's run.
        with Library.open(scratch.settings) as library:
            results.append(_run_mode(library, data, mode, k, duplicates, progress))
            backend = library.embedder.backend
    index = dataclasses.replace(scratch.index, backend=backend)
    return EvalReport(
        dataset=data.name,
        split=data.split,
        k=k,
        corpus_documents=len(data.corpus),
        queries=len(data.queries),
        index=index,
        modes=tuple(results),
        sample=data.sample,
    )


def duplicate_groups(data: BeirDataset) -> dict[str, tuple[str, ...]]:
    """Corpus id -> every id with the very same text, for ids that share their text.

    The ingest pipeline stores identical bytes once, under one of the ids; whichever it
    is, the others rank right after it.
    """
    by_text: dict[str, list[str]] = {}
    for doc_id, doc in data.corpus.items():
        digest = hashlib.sha256(document_text(doc).encode("utf-8")).hexdigest()
        by_text.setdefault(digest, []).append(doc_id)
    return {doc_id: tuple(ids) for ids in by_text.values() if len(ids) > 1 for doc_id in ids}


# ------------------------------------------------------------------- queries


def document_ranking(
    hits: Sequence[Hit], duplicates: Mapping[str, tuple[str, ...]] | None = None
) -> list[str]:
    """Corpus ids in order of their best chunk; hits without an ``external_id`` are skipped.

    An id in `duplicates` brings the ids that share its text right after it.
    """
    ranking: dict[str, None] = {}
    for hit in hits:
        doc_id = hit.metadata.get("external_id")
        if not isinstance(doc_id, str) or not doc_id or doc_id in ranking:
            continue
        ranking[doc_id] = None
        for twin in (duplicates or {}).get(doc_id, ()):
            ranking.setdefault(twin, None)
    return list(ranking)


@dataclass(frozen=True, slots=True)
class _QueryRun:
    ranking: list[str]
    seconds: float
    deepened: bool


def _retrieve(
    library: Library, text: str, mode: str, depth: int, duplicates: Mapping[str, tuple[str, ...]]
) -> _QueryRun:
    """Rank at least `depth` distinct documents, asking for more chunks once if needed."""
    chunk_k = min(MAX_K, max(CHUNKS_PER_QUERY, 3 * depth))
    started = time.perf_counter()
    # A dataset's query is plain text: quotes or a leading "-" in it are words, not syntax.
    hits = library.find(SearchRequest(query=text, k=chunk_k, mode=mode, syntax=False)).hits
    ranking = document_ranking(hits, duplicates)
    deepened = False
    if len(ranking) < depth and len(hits) == chunk_k and chunk_k < MAX_K:
        hits = library.find(SearchRequest(query=text, k=MAX_K, mode=mode, syntax=False)).hits
        ranking = document_ranking(hits, duplicates)
        deepened = True
    return _QueryRun(ranking=ranking, seconds=time.perf_counter() - started, deepened=deepened)


def _run_mode(
    library: Library,
    data: BeirDataset,
    mode: str,
    k: int,
    duplicates: Mapping[str, tuple[str, ...]],
    progress: EvalProgress,
) -> ModeResult:
    depth = max(k, RECALL_DEPTH)
    library.search(WARM_UP_QUERY, k=1, mode=mode)  # loads the model and any index; not timed
    ndcg: list[float] = []
    recall: list[float] = []
    recall_100: list[float] = []
    mrr: list[float] = []
    latencies: list[float] = []
    documents: list[int] = []
    deepened = 0
    started = time.perf_counter()
    total = len(data.queries)
    progress.query(mode, 0, total)
    for done, (query_id, text) in enumerate(data.queries.items(), start=1):
        run = _retrieve(library, text, mode, depth, duplicates)
        judged = data.qrels[query_id]
        ndcg.append(ndcg_at_k(run.ranking, judged, k))
        recall.append(recall_at_k(run.ranking, judged, k))
        recall_100.append(recall_at_k(run.ranking, judged, RECALL_DEPTH))
        mrr.append(mrr_at_k(run.ranking, judged, k))
        latencies.append(run.seconds * 1000)
        documents.append(len(run.ranking))
        deepened += run.deepened
        progress.query(mode, done, total)
    return ModeResult(
        mode=mode,
        queries=total,
        k=k,
        ndcg=mean(ndcg),
        recall=mean(recall),
        recall_100=mean(recall_100),
        mrr=mean(mrr),
        latency_p50_ms=percentile(latencies, 50),
        latency_p95_ms=percentile(latencies, 95),
        seconds=time.perf_counter() - started,
        chunks_requested=min(MAX_K, max(CHUNKS_PER_QUERY, 3 * depth)),
        min_documents=min(documents, default=0),
        deepened_queries=deepened,
    )
