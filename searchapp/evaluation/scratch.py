"""The scratch index an evaluation searches: where it lives, when it can be reused, building it.

Each evaluation collection gets its own searchapp data directory,
``<root>/<collection>/`` (root: ``<settings.data_dir>/eval`` unless given), so an
evaluation never opens, locks or changes the user's library, and throwing an index
away is deleting one directory.

Embedding a corpus is the expensive part (minutes on a CPU), so the directory keeps
``eval-state.json`` with a fingerprint of everything that decides the index's
content: the corpus file's SHA-256, the model, the chunk settings and the version of
the document-text rule below. Same fingerprint and a complete build: reuse, skip
ingestion entirely. Different fingerprint: empty the index and rebuild. Same fingerprint but
incomplete (interrupted): ingest again, which skips what is already stored.

`prepare_index` builds (or reuses) one through the app's own ingest path; `ingest` is
imported inside the function that ingests, so that importing the CLI (for `--help`,
say) does not load the write path.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import shutil
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from searchapp.config import MODE_SYNONYMS, Settings
from searchapp.embedding.models import resolve_model, weights_signature
from searchapp.errors import EvalDataError, QueryError
from searchapp.evaluation.beir import BeirDataset, CorpusDoc
from searchapp.evaluation.report import IndexInfo
from searchapp.library import Library
from searchapp.storage.atomic import write_atomically

if TYPE_CHECKING:
    from searchapp.progress import Progress

STATE_FILE = "eval-state.json"
# Bump when `document_text` or the way documents are ingested changes: it voids old indexes.
TEXT_RULE_VERSION = 1


def document_text(doc: CorpusDoc) -> str:
    """The text ingested for one corpus document: ``title + " " + text``.

    This is the join MTEB and BEIR use to encode a document, so our scores compare with
    the published ones; a single space (not a blank line) keeps a short title in the
    same chunk as the start of the abstract, as in whole-document encoding. A missing
    title gives just the text.
    """
    return f"{doc.title.strip()} {doc.text.strip()}".strip()


def default_collection(dataset_name: str) -> str:
    """``eval-<dataset>``, cut to a legal collection name."""
    slug = re.sub(r"[^a-zA-Z0-9._-]+", "-", dataset_name).strip("-._")[:40]
    return f"eval-{slug or 'dataset'}"


def scratch_settings(base: Settings, root: Path, collection: str) -> Settings:
    """`base` (model, chunking, device...) pointed at the scratch directory, always local."""
    return dataclasses.replace(
        base.with_overrides(collection=collection),
        data_dir=root / collection,
        server_url="",
        server_token="",
    )


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fingerprint(corpus_sha256: str, settings: Settings, model_name: str, weights: str = "") -> dict[str, Any]:
    """Everything that decides what the scratch index holds (`corpus_sha256`: what is ingested;
    `weights`: the model's `weights_signature`, since a tuned model retrained in the same
    directory keeps its name)."""
    return {
        "corpus_sha256": corpus_sha256,
        "model": model_name,
        "weights": weights,
        # bf16 backends embed within cosine 0.9999 of fp32, but an evaluation compares
        # backends, so each gets its own index.
        "backend": settings.backend,
        "chunk_tokens": settings.chunk_tokens,
        "chunk_overlap": settings.chunk_overlap,
        "text_rule": TEXT_RULE_VERSION,
    }


@dataclass(frozen=True, slots=True)
class IndexState:
    """The contents of ``eval-state.json``."""

    fingerprint: dict[str, Any]
    complete: bool = False
    documents: int = 0
    chunks: int = 0
    ingest_seconds: float = 0.0
    built_at: int = 0

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def read_state(directory: Path) -> IndexState | None:
    """The recorded state, or None when there is none or it cannot be read."""
    try:
        data = json.loads((directory / STATE_FILE).read_text(encoding="utf-8"))
        return IndexState(
            fingerprint=dict(data["fingerprint"]),
            complete=bool(data.get("complete", False)),
            documents=int(data.get("documents", 0)),
            chunks=int(data.get("chunks", 0)),
            ingest_seconds=float(data.get("ingest_seconds", 0.0)),
            built_at=int(data.get("built_at", 0)),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write_state(directory: Path, state: IndexState) -> None:
    """Write atomically, so a crash leaves the old state or the new one, never half."""
    write_atomically(directory / STATE_FILE, json.dumps(state.to_dict(), indent=2).encode())


def claim_directory(settings: Settings, wanted: dict[str, Any], *, rebuild: bool) -> IndexState | None:
    """Make the scratch directory of `settings` ready for an index with fingerprint `wanted`.

    Returns the recorded state when it matches `wanted` (the caller then checks that it
    is complete). Otherwise empties the index and records `wanted` as incomplete, before
    anything is ingested, and returns None.

    Raises:
        EvalDataError: the directory holds something that no evaluation made; it is
            left alone.
    """
    directory = settings.data_dir
    state = read_state(directory)
    if state is not None and state.fingerprint == wanted and not rebuild:
        return state
    if state is None and directory.exists() and any(directory.iterdir()):
        raise EvalDataError(
            f"{directory} is not empty and has no {STATE_FILE}, so an evaluation did not make it; "
            "it is left alone. Remove it, or pass another --data-dir or --collection."
        )
    if state is not None:
        reset_index(settings)
    write_state(directory, IndexState(fingerprint=wanted, built_at=int(time.time())))
    return None


def reset_index(settings: Settings) -> None:
    """Empty the scratch index: its collections, kept originals and derived indexes.

    Through the store, not by deleting the Chroma directory: Chroma keeps one client
    per path in a process, and it breaks when its files vanish underneath it.
    """
    from searchapp.embedding.models import resolve_model
    from searchapp.storage.chroma import ChromaStore

    # The store alone, not a `Library`: that would first load the old index's vectors
    # into an index sized for the new model.
    store = ChromaStore.open(settings, resolve_model(settings.model), check_model=False)
    try:
        store.drop_collection(settings.collection)
    finally:
        store.close()
    shutil.rmtree(settings.originals_dir, ignore_errors=True)
    shutil.rmtree(settings.index_dir, ignore_errors=True)


class ModeNotOfferedError(QueryError):
    """An evaluation asked for a retrieval mode that the library does not offer."""


class EvalProgress(Protocol):
    """What an evaluation reports while it runs (the CLI draws bars from it)."""

    def note(self, message: str) -> None: ...

    def ingest(self, event: Progress) -> None: ...

    def query(self, mode: str, done: int, total: int) -> None: ...


class Silent:
    def note(self, message: str) -> None:
        pass

    def ingest(self, event: Progress) -> None:
        pass

    def query(self, mode: str, done: int, total: int) -> None:
        pass


def resolve_modes(requested: Sequence[str] | None, offered: Sequence[str]) -> tuple[str, ...]:
    """`requested` in order (None or "all": every offered mode), each checked against `offered`
    (another name of a mode, semantic for dense, is read as that mode).

    Raises:
        ModeNotOfferedError: a requested mode is not offered.
    """
    if not requested or "all" in requested:
        return tuple(offered)
    requested = [MODE_SYNONYMS.get(mode, mode) for mode in requested]
    missing = [mode for mode in requested if mode not in offered]
    if missing:
        raise ModeNotOfferedError(
            f"search mode {missing[0]!r} is not offered by this library; "
            f"it offers: {', '.join(offered)} (or 'all')"
        )
    return tuple(dict.fromkeys(requested))


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
    progress = progress or Silent()
    root = data_dir if data_dir is not None else settings.data_dir / "eval"
    scratch = scratch_settings(settings, root, collection or default_collection(data.label))
    model = resolve_model(scratch.model)
    wanted = fingerprint(corpus_digest(data), scratch, model.name, weights_signature(model))

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
