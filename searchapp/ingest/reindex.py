"""Rebuild a collection from the kept originals, optionally with another model.

The new index is built beside the old one (``NAME-rebuild``), so searches keep working
and a crash loses nothing; only when it is complete are the old collections dropped
and the new ones renamed into place. `ChromaStore` finishes a swap that a crash
interrupted the next time the collection is opened.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from searchapp.config import REBUILD_SUFFIX, Settings
from searchapp.embedding.embedders import Embedder, get_embedder
from searchapp.errors import ConfigError, StoreError
from searchapp.feedback.calibration import recalibrate_after_model_change
from searchapp.ingest.pipeline import Ingestor
from searchapp.ingest.types import FileOutcome, IngestReport, SourceFile
from searchapp.library import Library
from searchapp.progress import ProgressCallback
from searchapp.storage.originals import originals_for
from searchapp.types import DocumentRecord, PreparedChunk, PreparedDocument

logger = logging.getLogger(__name__)


def reindex(
    library: Library,
    *,
    model: str | None = None,
    progress: ProgressCallback | None = None,
    workers: int | None = None,
) -> tuple[Library, IngestReport]:
    """Re-extract, re-chunk and re-embed every document from its original.

    Args:
        library: the collection to rebuild; it is closed and replaced.
        model: a different embedding model for the new index (default: the one in use,
            a tuned version included).

    Returns:
        The reopened library and one outcome per document.

    Raises:
        StoreError: some document has no original this client can read; nothing changed.
    """
    settings = library.settings
    # Oldest first: should two versions of one name exist, the newest comes last and wins.
    records = sorted(library.documents(include_pending=True), key=lambda r: r.ingested_at)
    new_settings = settings.with_overrides(collection=settings.collection + REBUILD_SUFFIX, model=model)
    missing = [r for r in records if not library.originals.has(r.doc_id)]
    if missing:  # rebuilding would drop them: never lose a document whose original is out of sight
        names = ", ".join(r.source for r in missing[:5]) + (" ..." if len(missing) > 5 else "")
        where = (
            "this client cannot reach them (each client keeps its own; set SEARCHAPP_ORIGINALS_URL "
            "to a store every client shares)"
            if not library.sees_every_original
            else f"they are missing from {library.originals.location}"
        )
        raise StoreError(
            f"cannot rebuild the index: {len(missing)} documents have no original to re-read ({names}); "
            f"{where}. Ingest those files again or delete them, then reindex."
        )
    library.store.drop_collection(new_settings.collection)
    files = [SourceFile.stored(record, library.original(record.doc_id)) for record in records]
    # No model named: the one searching now, which may be a tuned version of the settings' model.
    live = library.embedder if model is None else None
    rebuilt = Library.open(new_settings, embedder=live or get_embedder(new_settings))
    try:
        with Ingestor(rebuilt, workers=workers) as ingestor:
            report = ingestor.ingest(files, progress=progress)
        report = _keep_what_could_not_be_reread(library, rebuilt, records, report)
        rebuilt.store.mark_rebuild_complete()
    finally:
        rebuilt.close()
    library.store.swap_in_rebuild()
    final_settings = settings.with_overrides(model=model)
    library.close()
    _move_local_index(new_settings.index_dir, settings.index_dir)
    reopened = Library.open(final_settings, embedder=live or get_embedder(final_settings))
    reopened.announce_reset()  # other clients of a server read the new collection whole
    recalibrate_after_model_change(reopened)
    return reopened, report


def _keep_what_could_not_be_reread(
    library: Library, rebuilt: Library, records: list[DocumentRecord], report: IngestReport
) -> IngestReport:
    """A document whose original cannot be read again (encrypted, or beyond a changed
    extractor) keeps its stored passages, embedded again with the new index's model:
    a rebuild never loses a document."""
    latest = {r.source: r for r in records}  # oldest first: the newest version of a name wins
    outcomes = list(report.outcomes)
    for index, outcome in enumerate(outcomes):
        record = latest.get(outcome.source)
        if outcome.status != "failed" or record is None:
            continue
        why = outcome.message.removeprefix("failed: ")
        note = f"could not be read again ({why}); its stored passages were kept"
        copied = stored_documents(library, [record], rebuilt.embedder, note=note)
        if not copied:
            continue
        done = rebuilt.commit(copied)[0]
        outcomes[index] = FileOutcome(record.source, "ingested", done.chunks, done.doc_id, warnings=(note,))
    return IngestReport(outcomes=tuple(outcomes))


def stored_documents(
    library: Library, records: Sequence[DocumentRecord], embedder: Embedder, *, note: str = ""
) -> list[PreparedDocument]:
    """Documents as stored (their passages, metadata and originals), embedded by `embedder`.

    The passages are not extracted or split again: the same chunks, the same ids, new vectors.
    """
    if not records:
        return []
    ids = [r.doc_id for r in records]
    stored = library.store.get_chunks(where={"doc_id": ids[0]} if len(ids) == 1 else {"doc_id": {"$in": ids}})
    rows: dict[str, list[tuple[str, dict[str, Any]]]] = {doc_id: [] for doc_id in ids}
    for text, meta in zip(stored["documents"] or [], stored["metadatas"] or [], strict=True):
        rows[str((meta or {}).get("doc_id", ""))].append((text, dict(meta or {})))
    chunked = {
        doc_id: tuple(
            _stored_chunk(text, meta) for text, meta in sorted(found, key=lambda r: int(r[1].get("chunk", 0)))
        )
        for doc_id, found in rows.items()
        if found
    }
    texts = [chunk.text for record in records for chunk in chunked.get(record.doc_id, ())]
    vectors = embedder.embed_documents(texts)
    out: list[PreparedDocument] = []
    offset = 0
    for record in records:
        chunks = chunked.get(record.doc_id, ())
        if not chunks:
            continue
        out.append(
            PreparedDocument(
                doc_id=record.doc_id,
                source=record.source,
                file_type=record.file_type,
                title=record.title,
                original=library.original(record.doc_id),
                chunks=chunks,
                vectors=vectors[offset : offset + len(chunks)],
                pages=record.pages,
                encoding=record.encoding,
                warnings=(*record.warnings, note) if note else record.warnings,
                mtime=record.mtime,
                tags=record.tags,
                external_id=record.external_id,
                groups=record.groups,
                ingested_at=record.ingested_at,
            )
        )
        offset += len(chunks)
    return out


def _stored_chunk(text: str, meta: dict[str, Any]) -> PreparedChunk:
    page = meta.get("page")
    return PreparedChunk(
        text=text,
        index=int(meta.get("chunk", 0)),
        start=int(meta.get("start", 0)),
        tokens=int(meta.get("tokens", 0)),
        page=int(page) if isinstance(page, int) else None,
        heading=str(meta.get("heading", "")),
        ocr=meta.get("ocr") is True,
    )


def _move_local_index(rebuilt: Path, target: Path) -> None:
    """The rebuilt collection's local index becomes the collection's (or is rebuilt on open)."""
    shutil.rmtree(target, ignore_errors=True)
    if rebuilt.is_dir():
        rebuilt.rename(target)


def rebuild_from_originals(
    settings: Settings,
    *,
    progress: ProgressCallback | None = None,
    workers: int | None = None,
) -> tuple[Library, IngestReport]:
    """Rebuild a local store that cannot be read at all, from the kept originals alone.

    The damaged Chroma directory is moved aside (``chroma.damaged-<time>``, never deleted:
    it may matter to someone), and every original with a sidecar is ingested again under
    its recorded name, tags and modification time, into the collection it was kept for:
    the directory holds every collection (every team's), so all of them are rebuilt.
    Returns the library of `settings.collection` and its report.
    """
    if settings.is_server:
        raise StoreError(
            "a rebuild from originals is for the embedded store; with a server, use `searchapp reindex`"
        )
    stamp = time.strftime("%Y%m%d-%H%M%S")
    if settings.chroma_dir.exists():
        settings.chroma_dir.rename(settings.chroma_dir.with_name(f"chroma.damaged-{stamp}"))
    for other in _other_collections(settings):
        other_library, other_report = _ingest_originals(other, progress=None, workers=workers)
        other_library.close()
        logger.warning("rebuilt collection %r: %s", other.collection, other_report.summary())
    return _ingest_originals(settings, progress=progress, workers=workers)


def _other_collections(settings: Settings) -> list[Settings]:
    """Settings for every other collection with kept originals in this data directory."""
    root = settings.originals_dir.parent
    found = []
    for path in sorted(root.iterdir()) if root.is_dir() else []:
        if path.is_dir() and path.name != settings.collection:
            try:
                found.append(settings.with_overrides(collection=path.name))
            except ConfigError:
                logger.warning("not a collection's originals, left alone: %s", path)
    return found


def _ingest_originals(
    settings: Settings, *, progress: ProgressCallback | None, workers: int | None
) -> tuple[Library, IngestReport]:
    shutil.rmtree(settings.index_dir, ignore_errors=True)
    originals = originals_for(settings)
    described = [(doc_id, info) for doc_id in originals.ids() if (info := originals.info(doc_id)) is not None]
    # Oldest first: if a crash left two versions of one name, the newest comes last and wins.
    described.sort(key=lambda pair: pair[1].stored_at)
    files = [
        SourceFile(
            source=info.source,
            data=originals.get(doc_id),
            mtime=info.mtime,
            tags=info.tags,
            external_id=info.external_id,
            groups=info.groups,
            # Sidecars written before they recorded it: the time the original was stored.
            ingested_at=info.ingested_at or int(info.stored_at),
        )
        for doc_id, info in described  # no sidecar: deleted, replaced or never acknowledged
    ]
    library = Library.open(settings)
    try:
        with Ingestor(library, workers=workers) as ingestor:
            report = ingestor.ingest(files, progress=progress)
    except BaseException:
        library.close()
        raise
    return library, report
