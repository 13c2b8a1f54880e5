"""The scratch index an evaluation searches: where it lives and when it can be reused.

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
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from searchapp.config import Settings
from searchapp.errors import EvalDataError
from searchapp.evaluation.beir import CorpusDoc
from searchapp.storage.atomic import write_atomically

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


def fingerprint(corpus_sha256: str, settings: Settings, model_name: str) -> dict[str, Any]:
    """Everything that decides what the scratch index holds (`corpus_sha256`: what is ingested)."""
    return {
        "corpus_sha256": corpus_sha256,
        "model": model_name,
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
