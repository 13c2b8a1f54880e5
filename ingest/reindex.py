"""Rebuild a collection from the kept originals, optionally with another model.

The new index is built beside the old one (``NAME-rebuild``), so searches keep working
and a crash loses nothing; only when it is complete are the old collections dropped
and the new ones renamed into place. `ChromaStore` finishes a swap that a crash
interrupted the next time the collection is opened.
"""

from __future__ import annotations

from ingest.pipeline import Ingestor, ProgressCallback
from ingest.types import FileOutcome, IngestReport, SourceFile
from searchapp.embedders import get_embedder
from searchapp.errors import FailureReason
from searchapp.library import Library
from searchapp.store import REBUILD_SUFFIX


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
        model: a different embedding model for the new index (default: the same).

    Returns:
        The reopened library and one outcome per document. A document whose original is
        missing is reported as failed and is not in the new index.
    """
    settings = library.settings
    records = library.documents(include_pending=True)
    new_settings = settings.with_overrides(collection=settings.collection + REBUILD_SUFFIX, model=model)
    library.store.drop_collection(new_settings.collection)
    files: list[SourceFile] = []
    missing: list[FileOutcome] = []
    for record in records:
        if library.originals.has(record.doc_id):
            files.append(
                SourceFile(
                    source=record.source,
                    data=library.original(record.doc_id),
                    mtime=record.mtime,
                    tags=record.tags,
                    external_id=record.external_id,
                )
            )
        else:
            missing.append(
                FileOutcome(
                    record.source,
                    "failed",
                    reason=FailureReason.UNREADABLE,
                    detail="its original file is missing from the data directory; ingest it again",
                )
            )
    rebuilt = Library.open(new_settings, embedder=get_embedder(new_settings))
    try:
        with Ingestor(rebuilt, workers=workers, progress=progress) as ingestor:
            report = ingestor.ingest(files)
        rebuilt.store.mark_rebuild_complete()
    finally:
        rebuilt.close()
    library.store.swap_in_rebuild()
    final_settings = settings.with_overrides(model=model)
    library.close()
    reopened = Library.open(final_settings, embedder=get_embedder(final_settings))
    return reopened, IngestReport(outcomes=report.outcomes + tuple(missing))
