"""Switch a library to another model version (or back), re-embedding beside the live index.

    use_model(library, "v20261207-101500-ab12cd", progress=...)   # a tuned version
    use_model(library, "base")                                  # the base model again
    rollback(library)                                           # the model before the last switch

The stored passages are embedded again with the new model into ``NAME-rebuild`` (the
same build-beside-and-swap as `reindex`, without extracting or splitting anything again,
so every passage keeps its id), while searches go on against the live index. A killed
run resumes where it stopped: the rebuild records the model it is for, and documents
already in it are skipped. Then `ChromaStore.swap_in_rebuild(retire=True)` swaps it in
and keeps the replaced index as ``NAME-retired``; the `Library` object adopts the new
index and model in place, and other clients of a server follow (`Library._follow_swap`).

A rollback with no write since the switch brings the retired index back as it was
(instant, and the same answers exactly); otherwise it re-embeds with the previous model.
"""

from __future__ import annotations

import logging
import shutil
import time
from dataclasses import dataclass
from typing import Any

from searchapp.config import REBUILD_SUFFIX, RETIRED_SUFFIX, Settings
from searchapp.embedding.embedders import Embedder, get_embedder
from searchapp.embedding.models import ModelInfo, resolve_model
from searchapp.errors import ModelError, StoreError
from searchapp.feedback.calibration import recalibrate_after_model_change
from searchapp.ingest.reindex import stored_documents
from searchapp.library import Library
from searchapp.library.versions import ModelVersions, version_id_of
from searchapp.progress import Progress, ProgressCallback
from searchapp.storage.chroma_client import chroma_errors
from searchapp.types import DocumentRecord

logger = logging.getLogger(__name__)

BATCH_CHUNKS = 256  # passages embedded and committed together: a kill loses at most one batch
BASE_ALIASES = ("base", "default")


@dataclass(frozen=True, slots=True)
class SwitchReport:
    """What a model switch did."""

    model: str
    previous: str
    documents: int
    chunks: int
    resumed: int  # documents a killed run had already re-embedded
    seconds: float
    instant: bool = False  # the retired index was swapped back, nothing re-embedded

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}

    def summary(self) -> str:
        if self.model == self.previous:
            return f"already using {self.model}; nothing changed"
        if self.instant:
            return f"now using {self.model} (the kept index of it was swapped back; nothing re-embedded)"
        return (
            f"now using {self.model}: {self.chunks:,} passages of {self.documents:,} documents re-embedded "
            f"in {self.seconds:.0f} s" + (f" ({self.resumed} documents resumed)" if self.resumed else "")
        )


def target_model(library: Library, ref: str) -> ModelInfo:
    """The model `ref` names: a version of this library, or its base model ("base")."""
    if ref.strip().lower() in BASE_ALIASES or ref == resolve_model(library.settings.model).name:
        return resolve_model(library.settings.model)
    versions = ModelVersions.of(library)
    return versions.info(versions.require(ref))


def use_model(library: Library, ref: str, *, progress: ProgressCallback | None = None) -> SwitchReport:
    """Make the library search with model `ref` (see `target_model`), in place."""
    return switch_to(library, target_model(library, ref), progress=progress)


def rollback(library: Library, *, progress: ProgressCallback | None = None) -> SwitchReport:
    """Go back to the model used before the last switch.

    Raises:
        ModelError: no switch was recorded.
    """
    previous = str(ModelVersions.of(library).state().get("previous", ""))
    if not previous:
        raise ModelError(
            "no earlier model is recorded for this library; `searchapp model use NAME` picks one"
        )
    ref = version_id_of(previous) or "base"
    return use_model(library, ref, progress=progress)


def switch_to(library: Library, info: ModelInfo, *, progress: ProgressCallback | None = None) -> SwitchReport:
    started = time.perf_counter()
    live = library.embedder.info.name
    if info.name == live:
        return SwitchReport(info.name, live, 0, 0, 0, 0.0, instant=True)
    settings = library.settings
    if settings.is_server and not settings.shared_originals and version_id_of(info.name):
        raise ModelError(
            "other clients of the server could not load this version: model versions are kept in the "
            "shared originals store, and none is set. Set SEARCHAPP_ORIGINALS_URL on every client "
            "(docs/deployment.md), tune again, then switch."
        )
    embedder = get_embedder(settings, info)
    versions = ModelVersions.of(library)
    if _retired_is_current(library, versions, info):
        with library._write_lock:
            library.store.unretire()
            _rename_index(library.settings, RETIRED_SUFFIX, REBUILD_SUFFIX)
            _swap(library, embedder, versions, live)
        recalibrate_after_model_change(library)
        return SwitchReport(
            info.name,
            live,
            len(library.documents()),
            library.store.count_chunks(),
            0,
            time.perf_counter() - started,
            instant=True,
        )
    documents, chunks, resumed = _reembed(library, embedder, versions, live, progress)
    recalibrate_after_model_change(library)
    return SwitchReport(info.name, live, documents, chunks, resumed, time.perf_counter() - started)


def _retired_is_current(library: Library, versions: ModelVersions, info: ModelInfo) -> bool:
    retired = library.store.retired_metadata()
    state = versions.state()
    return (
        retired is not None
        and retired.get("model") == info.name
        and bool(state.get("generation"))
        and state.get("generation") == library.store.generation()
    )


def _reembed(
    library: Library,
    embedder: Embedder,
    versions: ModelVersions,
    live: str,
    progress: ProgressCallback | None,
) -> tuple[int, int, int]:
    settings = library.settings
    rebuild_settings = settings.with_overrides(collection=settings.collection + REBUILD_SUFFIX)
    found = _rebuild_metadata(library, rebuild_settings.collection)
    if found is not None and (found.get("model") != embedder.info.name or not found.get("reembed")):
        library.store.drop_collection(rebuild_settings.collection)  # another model's, or a reindex's
        shutil.rmtree(rebuild_settings.index_dir, ignore_errors=True)
    rebuilt = Library.open(rebuild_settings, embedder=embedder)
    try:
        with chroma_errors("marking the rebuild"):
            rebuilt.store.chunks.modify(metadata={**rebuilt.store.collection_metadata, "reembed": True})
        for record in rebuilt.pending_documents():  # a commit the kill interrupted
            rebuilt.delete_by_id(record.doc_id)
        resumed = len(rebuilt.documents())
        _copy_missing(library, rebuilt, embedder, progress)
        with library._write_lock:  # this process writes nothing more to the live index until the swap
            _copy_missing(library, rebuilt, embedder, None)
            live_ids = {r.doc_id for r in library.documents()}
            for record in rebuilt.documents():
                if record.doc_id not in live_ids:
                    rebuilt.delete_by_id(record.doc_id)
            documents, chunks = len(rebuilt.documents()), rebuilt.store.count_chunks()
            rebuilt.store.mark_rebuild_complete(retire=True)
            rebuilt.close()
            _swap(library, embedder, versions, live)
    except BaseException:
        rebuilt.close()
        raise
    return documents, chunks, resumed


def _copy_missing(
    library: Library, rebuilt: Library, embedder: Embedder, progress: ProgressCallback | None
) -> None:
    """Every live document the rebuild lacks, re-embedded, in batches of about BATCH_CHUNKS passages."""
    done = {r.doc_id for r in rebuilt.documents()}
    records = library.documents()
    todo = [r for r in records if r.doc_id not in done]
    total = sum(r.chunks for r in records)
    embedded = sum(r.chunks for r in records if r.doc_id in done)
    batch: list[DocumentRecord] = []
    for index, record in enumerate(todo, start=1):
        batch.append(record)
        if sum(r.chunks for r in batch) >= BATCH_CHUNKS or index == len(todo):
            rebuilt.commit(stored_documents(library, batch, embedder))
            embedded += sum(r.chunks for r in batch)
            if progress is not None:
                progress(
                    Progress(
                        "embed",
                        record.source,
                        len(done) + index,
                        len(records),
                        embedded,
                        total,
                        f"re-embedding with {embedder.info.name}",
                    )
                )
            batch = []


def _swap(library: Library, embedder: Embedder, versions: ModelVersions, live: str) -> None:
    library.store.swap_in_rebuild(retire=True)
    _rename_index(library.settings, "", RETIRED_SUFFIX)
    _rename_index(library.settings, REBUILD_SUFFIX, "")
    library.adopt_swapped(embedder)
    if library.settings.is_server:
        library.announce_reset()
    versions.record_swap(embedder.info.name, live, library.store.generation())
    logger.warning("collection %r now uses %s", library.settings.collection, embedder.info.name)


def _rename_index(settings: Settings, source_suffix: str, target_suffix: str) -> None:
    """Move the local index of NAME+source_suffix to NAME+target_suffix (replacing it)."""
    root = settings.index_dir.parent
    source = root / (settings.collection + source_suffix)
    target = root / (settings.collection + target_suffix)
    shutil.rmtree(target, ignore_errors=True)
    if source.is_dir():
        source.rename(target)


def _rebuild_metadata(library: Library, name: str) -> dict[str, Any] | None:
    try:
        with chroma_errors("reading the rebuild"):
            if name not in {
                c if isinstance(c, str) else c.name for c in library.store.client.list_collections()
            }:
                return None
            return dict(library.store.client.get_collection(name, embedding_function=None).metadata or {})
    except StoreError:
        return None


def describe_models(library: Library) -> list[dict[str, Any]]:
    """The base model and every kept version, with which is live and which came before."""
    versions = ModelVersions.of(library)
    state = versions.state()
    live = library.embedder.info.name
    base = resolve_model(library.settings.model).name
    rows: list[dict[str, Any]] = [
        {
            "name": base,
            "version": "base",
            "live": live == base,
            "previous": state.get("previous") == base,
            "created_at": None,
            "gain": None,
        }
    ]
    for version in versions.list():
        gate = version.report.get("heldout", {})
        rows.append(
            {
                "name": version.name,
                "version": version.version_id,
                "live": live == version.name,
                "previous": state.get("previous") == version.name,
                "created_at": version.created_at,
                "sources": version.report.get("sources", []),
                "heldout": gate,
                "megabytes": round(version.size / 1e6, 1),
            }
        )
    return rows


def delete_version(library: Library, ref: str) -> None:
    """Remove a kept version (its files and record); the live one cannot be deleted."""
    versions = ModelVersions.of(library)
    version = versions.require(ref)
    if version.name == library.embedder.info.name:
        raise ModelError(f"{version.version_id} is the live model; switch to another before deleting it")
    retired = library.store.retired_metadata()
    if retired is not None and retired.get("model") == version.name:
        library.store.drop_collection(library.settings.collection + RETIRED_SUFFIX)
        shutil.rmtree(
            library.settings.index_dir.parent / (library.settings.collection + RETIRED_SUFFIX),
            ignore_errors=True,
        )
    versions.delete(version.version_id)
