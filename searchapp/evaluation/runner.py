"""Run a BEIR benchmark through searchapp's own ingest and search paths.

    load the dataset -> build (or reuse) a scratch index through `ingest.Ingestor`
      -> for each mode: every judged query through `Library.search` -> score documents

Scoring is per document, as BEIR scores: a document ranks where its best chunk ranks
(its first appearance in the chunk ranking). Chunks carry their corpus id in the
``external_id`` metadata that `SourceFile.external_id` writes.

`ingest` is imported inside the function that ingests, so that importing the CLI (for
`--help`, say) does not load the write path.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from searchapp.config import Settings
from searchapp.embedding.models import resolve_model
from searchapp.errors import QueryError
from searchapp.evaluation.beir import BeirDataset, load_beir
from searchapp.evaluation.metrics import mean, mrr_at_k, ndcg_at_k, percentile, recall_at_k
from searchapp.evaluation.report import EvalReport, IndexInfo, ModeResult
from searchapp.evaluation.scratch import (
    IndexState,
    claim_directory,
    default_collection,
    document_text,
    fingerprint,
    scratch_settings,
    sha256_file,
    write_state,
)
from searchapp.library import Library
from searchapp.request import MAX_K, SearchRequest
from searchapp.types import Hit

if TYPE_CHECKING:
    from searchapp.progress import Progress

RECALL_DEPTH = 100
CHUNKS_PER_QUERY = 300  # >= 145 distinct SciFact abstracts at 200-token chunks; deepened if short
WARM_UP_QUERY = "warm-up query for the evaluation"


class ModeNotOfferedError(QueryError):
    """An evaluation asked for a retrieval mode that the library does not offer."""


class EvalProgress(Protocol):
    """What an evaluation reports while it runs (the CLI draws bars from it)."""

    def note(self, message: str) -> None: ...

    def ingest(self, event: Progress) -> None: ...

    def query(self, mode: str, done: int, total: int) -> None: ...


class _Silent:
    def note(self, message: str) -> None:
        pass

    def ingest(self, event: Progress) -> None:
        pass

    def query(self, mode: str, done: int, total: int) -> None:
        pass


def resolve_modes(requested: Sequence[str] | None, offered: Sequence[str]) -> tuple[str, ...]:
    """`requested` in order (None or "all": every offered mode), each checked against `offered`.

    Raises:
        ModeNotOfferedError: a requested mode is not offered.
    """
    if not requested or "all" in requested:
        return tuple(offered)
    missing = [mode for mode in requested if mode not in offered]
    if missing:
        raise ModeNotOfferedError(
            f"search mode {missing[0]!r} is not offered by this library; "
            f"it offers: {', '.join(offered)} (or 'all')"
        )
    return tuple(dict.fromkeys(requested))


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
    progress = progress or _Silent()
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


@dataclass(frozen=True, slots=True)
class ScratchIndex:
    """A scratch index ready to search: open it with ``Library.open(settings)``."""

    settings: Settings
    index: IndexInfo
    modes: tuple[str, ...]


def prepare_index(
    data: BeirDataset,
    settings: Settings,
    *,
    modes: Sequence[str] | None = None,
    data_dir: Path | None = None,
    collection: str | None = None,
    rebuild: bool = False,
    progress: EvalProgress | None = None,
) -> ScratchIndex:
    """Build (or reuse) the scratch index of `data` and check `modes` against it.

    The arguments mean what they mean for `run_evaluation`; the default collection of a
    sample names its size and seed, so a sample never replaces the full set's index.

    Raises:
        ModeNotOfferedError: a requested mode is not offered (checked before embedding).
        SearchAppError: settings, model or store problems.
    """
    progress = progress or _Silent()
    root = data_dir if data_dir is not None else settings.data_dir / "eval"
    scratch = scratch_settings(settings, root, collection or default_collection(data.label))
    model_name = resolve_model(scratch.model).name
    wanted = fingerprint(corpus_digest(data), scratch, model_name)

    state = claim_directory(scratch, dict(wanted), rebuild=rebuild)
    with Library.open(scratch) as library:
        chosen = resolve_modes(modes, library.search_modes)  # before minutes of embedding
        index = _ensure_index(library, data, wanted, state, progress)
    return ScratchIndex(settings=scratch, index=index, modes=chosen)


def corpus_digest(data: BeirDataset) -> str:
    """SHA-256 of what is ingested: the corpus file, or for a sample its chosen documents."""
    if data.sample is None:
        return sha256_file(data.corpus_file)
    digest = hashlib.sha256()
    for doc_id, doc in data.corpus.items():
        digest.update(json.dumps([doc_id, document_text(doc)], ensure_ascii=False).encode("utf-8") + b"\n")
    return digest.hexdigest()


# ------------------------------------------------------------------ indexing


def _ensure_index(
    library: Library,
    data: BeirDataset,
    wanted: dict[str, object],
    state: IndexState | None,
    progress: EvalProgress,
) -> IndexInfo:
    """Reuse the recorded index if it is complete and intact; otherwise (finish) ingesting."""
    settings = library.settings
    directory = settings.data_dir
    if state is not None and state.complete:
        chunks = library.store.count_chunks()
        documents = len(library.documents())
        if (documents, chunks) == (state.documents, state.chunks):
            progress.note(
                f"reusing the evaluation index in {directory} "
                f"({documents:,} documents, {chunks:,} chunks; built in {state.ingest_seconds:.0f} s)"
            )
            return _index_info(settings, wanted, documents, chunks, state.ingest_seconds, reused=True)
        write_state(directory, IndexState(fingerprint=dict(wanted), built_at=state.built_at))
        progress.note(f"the evaluation index in {directory} does not match its record; completing it")
    elif state is not None:
        progress.note(f"finishing the interrupted evaluation index in {directory}")
    else:
        progress.note(f"building the evaluation index in {directory} (the corpus is embedded once)")
    return _ingest(library, data, wanted, progress)


def _index_info(
    settings: Settings,
    wanted: Mapping[str, object],
    documents: int,
    chunks: int,
    seconds: float,
    *,
    reused: bool,
    failed: int = 0,
) -> IndexInfo:
    return IndexInfo(
        data_dir=str(settings.data_dir),
        collection=settings.collection,
        model=str(wanted["model"]),
        chunk_tokens=settings.chunk_tokens,
        chunk_overlap=settings.chunk_overlap,
        documents=documents,
        chunks=chunks,
        reused=reused,
        ingest_seconds=seconds,
        failed_documents=failed,
    )


def _ingest(
    library: Library, data: BeirDataset, wanted: dict[str, object], progress: EvalProgress
) -> IndexInfo:
    from searchapp.ingest.pipeline import Ingestor
    from searchapp.ingest.types import SourceFile

    # The source name is only a label (and ".txt" picks the plain-text extractor); the
    # corpus id travels as the external id.
    files = [
        SourceFile(source=f"{doc_id}.txt", data=text.encode("utf-8"), external_id=doc_id)
        for doc_id, doc in data.corpus.items()
        if (text := document_text(doc))
    ]
    settings = library.settings
    started = time.perf_counter()
    with Ingestor(library) as ingestor:
        report = ingestor.ingest(files, progress=progress.ingest)
    seconds = time.perf_counter() - started
    chunks = library.store.count_chunks()
    documents = len(library.documents())
    for outcome in report.failed[:5]:
        progress.note(f"could not index {outcome.source}: {outcome.message}")
    write_state(
        settings.data_dir,
        IndexState(
            fingerprint=dict(wanted),
            complete=not report.failed,
            documents=documents,
            chunks=chunks,
            ingest_seconds=seconds,
            built_at=int(time.time()),
        ),
    )
    return _index_info(settings, wanted, documents, chunks, seconds, reused=False, failed=len(report.failed))


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
