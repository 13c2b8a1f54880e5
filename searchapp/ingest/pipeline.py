"""The write path: files in, chunks embedded and stored, one outcome per file out.

`Ingestor` keeps the worker processes warm and runs each batch of files through the
stages of `searchapp.ingest.batch` (plan, prepare in workers, embed, write).

One bad file never stops the batch: every failure becomes that file's outcome. Only
what makes every later file fail too (a full disk, a lost server, a model that does
not load) stops early, and then the remaining files say why.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterable, Sequence

from searchapp.access.visibility import Visibility
from searchapp.embedding.tokens import TokenizerSpec
from searchapp.errors import FailureReason
from searchapp.ingest.batch import Batch
from searchapp.ingest.chunking import ChunkerConfig
from searchapp.ingest.prepare import Prepared, PrepareJob, init_worker, prepare
from searchapp.ingest.types import FileOutcome, IngestReport, Limits, SourceFile
from searchapp.ingest.workers import WorkerPool
from searchapp.ingest.writer import Abort, failed
from searchapp.library import Library
from searchapp.progress import ProgressCallback
from searchapp.units import MB, megabytes

logger = logging.getLogger(__name__)


def default_workers() -> int:
    return max(1, min(4, (os.cpu_count() or 2)))


class Ingestor:
    """Ingests files into one `Library`. Reusable; keeps its worker processes warm.

    Args:
        library: where to write.
        workers: extraction processes (default: up to 4, by core count).

    Each run takes its own `progress` callback, called with a `Progress` at each stage of
    each file, so one ingestor can serve several callers one after another.
    """

    def __init__(self, library: Library, *, workers: int | None = None) -> None:
        self.library = library
        settings = library.settings
        self.limits = Limits(
            max_bytes=settings.max_file_mb * MB,
            max_pages=settings.max_pages,
            max_chars=settings.max_chars,
            timeout_s=float(settings.file_timeout_s),
            pdf_extractor=settings.pdf_extractor,
            ocr=settings.ocr,
            ocr_languages=settings.ocr_languages,
        )
        self.chunker_config = ChunkerConfig(
            chunk_tokens=settings.chunk_tokens,
            overlap_tokens=settings.chunk_overlap,
            tokenizer=TokenizerSpec.for_model(library.model),
        )
        self._workers = workers or settings.workers or default_workers()
        self._pool: WorkerPool[PrepareJob, Prepared] | None = None
        self._run_lock = threading.Lock()

    @property
    def busy(self) -> bool:
        """True while a batch is running (another caller would wait for it)."""
        return self._run_lock.locked()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    def __enter__(self) -> Ingestor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ public

    def ingest(
        self,
        files: Iterable[SourceFile],
        *,
        progress: ProgressCallback | None = None,
        visibility: Visibility = None,
    ) -> IngestReport:
        """Ingest `files`; first finish any document a crash left pending.

        `visibility` is the uploader's (`searchapp.access.visibility`; None: sees
        everything). A caller who does not see everything may give files only its own
        groups, and may not replace, retag or learn the name of a document hidden from
        it: such a file fails as "not allowed".
        """
        with self._run_lock:
            resumed = self._run(self._pending_files(), resuming=True, progress=progress)
            report = self._run(list(files), resuming=False, progress=progress, visibility=visibility)
        return IngestReport(outcomes=resumed.outcomes + report.outcomes)

    def reingest(self, doc_ids: Iterable[str], *, progress: ProgressCallback | None = None) -> IngestReport:
        """Re-extract, re-chunk and re-embed documents from their kept originals.

        Each document is replaced in place, as an edited file would be; one that cannot be
        read again is left as it was. A document that is unknown or whose original is
        missing is reported as failed.
        """
        files: list[SourceFile] = []
        missing: list[FileOutcome] = []
        for doc_id in doc_ids:
            record = self.library.find_by_id(doc_id)
            if record is None or not self.library.originals.has(doc_id):
                what = "is not in the library" if record is None else "has no kept original"
                missing.append(
                    failed(
                        record.source if record else doc_id[:12],
                        FailureReason.UNREADABLE,
                        f"the document {what}; ingest the file again",
                        time.monotonic(),
                    )
                )
                continue
            files.append(SourceFile.stored(record, self.library.original(doc_id)))
        with self._run_lock:
            # `resuming` skips the "unchanged" shortcut: the bytes are the same on purpose.
            report = self._run(files, resuming=True, progress=progress)
        return IngestReport(outcomes=report.outcomes + tuple(missing))

    def resume_pending(self, *, progress: ProgressCallback | None = None) -> IngestReport:
        """Finish documents whose ingestion a crash interrupted (from their kept originals)."""
        with self._run_lock:
            return self._run(self._pending_files(), resuming=True, progress=progress)

    # ------------------------------------------------------------------- stages

    def _pending_files(self) -> list[SourceFile]:
        """Documents a crash interrupted, from their kept originals, to be committed again."""
        return [SourceFile.stored(record, data) for record, data in self.library.interrupted()]

    def _run(
        self,
        files: Sequence[SourceFile],
        *,
        resuming: bool,
        progress: ProgressCallback | None,
        visibility: Visibility = None,
    ) -> IngestReport:
        return Batch(self, files, resuming=resuming, progress=progress, visibility=visibility).run()

    def disk_problem(self) -> Abort | None:
        """Why no file can be written now (too little free disk), or None."""
        if self.library.settings.is_server:
            return None
        free = self.library.free_disk_bytes()
        needed = self.library.settings.min_free_mb * MB
        if free >= needed:
            return None
        return Abort(
            FailureReason.STORAGE_FULL,
            f"only {megabytes(free)} free on the disk holding the data directory; "
            f"ingest needs at least {megabytes(needed)} (SEARCHAPP_MIN_FREE_MB)",
        )

    def pool(self) -> WorkerPool[PrepareJob, Prepared]:
        if self._pool is None:
            from functools import partial

            self._pool = WorkerPool(
                prepare,
                workers=self._workers,
                cpu_limit_s=self.limits.timeout_s,
                initializer=partial(init_worker, self.chunker_config),
            )
        return self._pool
