"""The write path: files in, chunks embedded and stored, one outcome per file out.

    plan (main thread)     read, hash, and skip what is unchanged or a duplicate
      -> prepare (workers) extract and chunk, with a wall-clock limit per file
      -> embed (main)      batches that span files, so small files still fill a GPU
      -> write (thread)    `Library.commit`, overlapping the next embedding (`ingest.writer`)

One bad file never stops the batch: every failure becomes that file's outcome. Only
what makes every later file fail too (a full disk, a lost server, a model that does
not load) stops early, and then the remaining files say why.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from searchapp.embedding.tokens import TokenizerSpec
from searchapp.errors import FailureReason, IngestError
from searchapp.ingest.chunking import ChunkerConfig
from searchapp.ingest.extract import file_type_of
from searchapp.ingest.prepare import Prepared, PrepareJob, init_worker, prepare
from searchapp.ingest.types import FileOutcome, IngestReport, Limits, SourceFile
from searchapp.ingest.workers import WorkerPool
from searchapp.ingest.writer import Abort, BatchWriter, Pending, failed, from_exception
from searchapp.library import Library
from searchapp.progress import Progress, ProgressCallback, Stage
from searchapp.storage.originals import sha256_hex
from searchapp.types import DocumentRecord, PreparedChunk, PreparedDocument
from searchapp.units import MB, format_size, megabytes

logger = logging.getLogger(__name__)


# A file read while others are still being extracted waits at most this long for more
# chunks to fill an embedding batch with.
EMBED_WAIT_S = 0.5


def default_workers() -> int:
    return max(1, min(4, (os.cpu_count() or 2)))


@dataclass
class _Work:
    """One file on its way through the pipeline."""

    index: int
    file: SourceFile
    doc_id: str
    data: bytes
    started: float
    prepared: Prepared | None = None
    vectors: list[np.ndarray] = field(default_factory=list)

    @property
    def embedded(self) -> int:
        return sum(len(v) for v in self.vectors)


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
        self, files: Iterable[SourceFile], *, progress: ProgressCallback | None = None
    ) -> IngestReport:
        """Ingest `files`; first finish any document a crash left pending."""
        with self._run_lock:
            resumed = self._run(self._pending_files(), resuming=True, progress=progress)
            report = self._run(list(files), resuming=False, progress=progress)
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
            files.append(_again(record, self.library.original(doc_id)))
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
        return [_again(record, data) for record, data in self.library.interrupted()]

    def _run(
        self, files: Sequence[SourceFile], *, resuming: bool, progress: ProgressCallback | None
    ) -> IngestReport:
        outcomes: dict[int, FileOutcome] = {}
        if not files:
            return IngestReport()
        total = len(files)
        counters = {"chunks_embedded": 0, "chunks_total": 0}

        def emit(stage: Stage, source: str, message: str = "") -> None:
            if progress is not None:
                progress(
                    Progress(
                        stage=stage,
                        source=source,
                        files_done=len(outcomes),
                        files_total=total,
                        chunks_embedded=counters["chunks_embedded"],
                        chunks_total=counters["chunks_total"],
                        message=message,
                    )
                )

        def finish(outcome: FileOutcome, index: int) -> None:
            outcomes[index] = outcome
            emit("done", outcome.source, outcome.message)

        try:
            self._check_disk()
        except Abort as abort:
            for index, file in enumerate(files):
                finish(failed(file.source, abort.reason, abort.detail, time.monotonic()), index)
            return IngestReport(outcomes=tuple(outcomes[i] for i in range(total)))

        # The same name twice in one batch: the last file is the one meant (and only one may win).
        last_of = {file.source: index for index, file in enumerate(files)}
        writer = BatchWriter(self.library, finish)
        works: dict[int, _Work] = {}
        planned_ids: dict[str, int] = {}  # doc_id -> index of the first file with those bytes
        twins: dict[int, int] = {}  # index -> index of an earlier file with the same bytes

        def jobs() -> Iterator[PrepareJob]:
            for index, file in enumerate(files):
                if writer.abort is not None:
                    finish(
                        failed(file.source, writer.abort.reason, writer.abort.detail, time.monotonic()),
                        index,
                    )
                    continue
                emit("read", file.source)
                if last_of[file.source] != index:
                    detail = "a later file in this batch has the same name; that one was used"
                    finish(FileOutcome(file.source, "unchanged", detail=detail), index)
                    continue
                planned = self._plan(index, file, resuming=resuming, planned_ids=planned_ids)
                if isinstance(planned, int):  # decided once its twin is (see below)
                    twins[index] = planned
                    continue
                if isinstance(planned, FileOutcome):
                    finish(planned, index)
                    continue
                job = PrepareJob(
                    data=planned.data, source=file.source, limits=self.limits, password=file.password
                )
                works[id(job)] = planned  # the pool hands back this very job object
                emit("extract", file.source)
                yield job

        ready: list[_Work] = []
        flush_at = self.library.embedder.batch_size * 8

        waiting_since = [0.0]  # when the oldest file in `ready` came back

        def embed_ready(*, idle: bool = False) -> None:
            chunks = sum(len(w.prepared.chunks) for w in ready if w.prepared)
            if (
                idle
                and chunks < self.library.embedder.batch_size
                and (not ready or time.monotonic() - waiting_since[0] < EMBED_WAIT_S)
            ):
                return  # a full batch is worth a short wait; a slow file is not
            batch = ready[:]
            ready.clear()
            self._embed(batch, writer, counters, emit)

        try:
            # Files come back as each is read, and what is ready is embedded whenever the
            # pool would wait: a scan that OCR reads for a minute holds up no other file.
            def idle() -> None:
                writer.drain()  # report what was written meanwhile, not when the slow file is back
                embed_ready(idle=True)

            for job, result in self._get_pool().map(jobs(), ordered=False, idle=idle):
                writer.drain()
                work = works.pop(id(job))
                if isinstance(result, BaseException):
                    finish(from_exception(work.file.source, result, work.started), work.index)
                    continue
                work.prepared = result
                counters["chunks_total"] += len(result.chunks)
                if not ready:
                    waiting_since[0] = time.monotonic()
                ready.append(work)
                if sum(len(w.prepared.chunks) for w in ready if w.prepared) >= flush_at:
                    embed_ready()
            embed_ready()
        finally:
            writer.close()
            writer.drain()
        self._settle_twins(files, twins, outcomes, finish, resuming=resuming)
        for index, file in enumerate(files):  # files the writer never got to, after an abort
            if index not in outcomes:
                reason = writer.abort.reason if writer.abort else FailureReason.INTERNAL
                detail = writer.abort.detail if writer.abort else "not processed"
                outcomes[index] = failed(file.source, reason, detail, time.monotonic())
        return IngestReport(outcomes=tuple(outcomes[i] for i in range(total)))

    def _check_disk(self) -> None:
        if self.library.settings.is_server:
            return
        free = self.library.free_disk_bytes()
        needed = self.library.settings.min_free_mb * MB
        if free < needed:
            raise Abort(
                FailureReason.STORAGE_FULL,
                f"only {megabytes(free)} free on the disk holding the data directory; "
                f"ingest needs at least {megabytes(needed)} (SEARCHAPP_MIN_FREE_MB)",
            )

    def _plan(
        self, index: int, file: SourceFile, *, resuming: bool, planned_ids: dict[str, int]
    ) -> _Work | FileOutcome | int:
        """What to do with one file: prepare it (`_Work`), nothing (its outcome), or wait for
        the earlier file of this batch with the same bytes (that file's index)."""
        started = time.monotonic()
        source = file.source
        try:
            file_type_of(source)
            size = file.size()
            if size > self.limits.max_bytes:
                raise IngestError(
                    FailureReason.TOO_LARGE,
                    f"{format_size(size)}; the limit is {megabytes(self.limits.max_bytes)} "
                    "(SEARCHAPP_MAX_FILE_MB)",
                )
            data = file.read()
        except IngestError as exc:
            return failed(source, exc.reason, exc.detail, started)
        except OSError as exc:
            return failed(
                source, FailureReason.UNREADABLE, f"cannot read the file: {exc.strerror or exc}", started
            )
        if not data:
            return failed(source, FailureReason.EMPTY_FILE, "the file has no content", started)
        doc_id = sha256_hex(data)
        if doc_id in planned_ids:
            return planned_ids[doc_id]
        planned_ids[doc_id] = index
        if not resuming:  # a resumed or re-ingested file is committed again on purpose
            admission = self.library.admit(source, doc_id, tags=file.tags)
            if not admission.wanted:
                chunks = admission.record.chunks if admission.record else 0
                seconds = time.monotonic() - started
                return FileOutcome(
                    source, "unchanged", chunks, doc_id, detail=admission.detail, seconds=seconds
                )
        return _Work(index=index, file=file, doc_id=doc_id, data=data, started=started)

    def _embed(
        self,
        works: list[_Work],
        writer: BatchWriter,
        counters: dict[str, int],
        emit: Callable[[Stage, str, str], None],
    ) -> None:
        """Embed the chunks of `works` in slices that span files, then queue each file."""
        if not works:
            return
        embedder = self.library.embedder
        slice_size = embedder.batch_size * 4
        queue_ = [(work, draft) for work in works if work.prepared for draft in work.prepared.chunks]
        for start in range(0, len(queue_), slice_size):
            part = queue_[start : start + slice_size]
            emit("embed", part[0][0].file.source, f"embedding {len(part)} chunks")
            drafts = [draft for _, draft in part]
            token_ids = [d.token_ids for d in drafts if d.token_ids is not None]
            vectors = embedder.embed_documents(
                [d.text for d in drafts], token_ids=token_ids if len(token_ids) == len(drafts) else None
            )
            position = 0
            for work, count in _runs([w for w, _ in part]):
                work.vectors.append(vectors[position : position + count])
                position += count
            counters["chunks_embedded"] += len(part)
            for work in {id(w): w for w, _ in part}.values():
                if work.prepared and work.embedded == len(work.prepared.chunks):
                    emit("write", work.file.source, "")
                    writer.submit(Pending(work.index, work.file.source, work.started, _prepared(work)))

    def _settle_twins(
        self,
        files: Sequence[SourceFile],
        twins: dict[int, int],
        outcomes: dict[int, FileOutcome],
        finish: Callable[[FileOutcome, int], None],
        *,
        resuming: bool,
    ) -> None:
        """A file with the same bytes as an earlier one in the batch is the same document,
        unless the earlier one failed: then it is tried on its own merits (its name may
        make it readable: `report.docx` beside a `report.pdf` with the same bytes)."""
        retry = [
            i
            for i, first in twins.items()
            if outcomes.get(first) is None or outcomes[first].status == "failed"
        ]
        for index, first in twins.items():
            if index not in retry:
                detail = f"same content as {files[first].source!r}, in this batch"
                finish(
                    FileOutcome(
                        files[index].source, "unchanged", doc_id=outcomes[first].doc_id, detail=detail
                    ),
                    index,
                )
        if retry:
            second = self._run([files[i] for i in retry], resuming=resuming, progress=None)
            for index, outcome in zip(retry, second.outcomes, strict=True):
                finish(outcome, index)

    def _get_pool(self) -> WorkerPool[PrepareJob, Prepared]:
        if self._pool is None:
            from functools import partial

            self._pool = WorkerPool(
                prepare,
                workers=self._workers,
                timeout_s=self.limits.timeout_s,
                initializer=partial(init_worker, self.chunker_config),
            )
        return self._pool


def _runs(items: list[_Work]) -> Iterator[tuple[_Work, int]]:
    """Consecutive runs of the same work item: [a, a, b] -> (a, 2), (b, 1)."""
    if not items:
        return
    current, count = items[0], 0
    for item in items:
        if item is current:
            count += 1
        else:
            yield current, count
            current, count = item, 1
    yield current, count


def _prepared(work: _Work) -> PreparedDocument:
    """What the library stores for one file: its chunks, their vectors, and what it is."""
    assert work.prepared is not None
    prepared, file = work.prepared, work.file
    return PreparedDocument(
        doc_id=work.doc_id,
        source=file.source,
        file_type=prepared.file_type,
        title=prepared.title,
        original=work.data,
        chunks=tuple(
            PreparedChunk(
                text=draft.text,
                index=draft.index,
                start=draft.start,
                tokens=draft.tokens,
                page=draft.page,
                heading=draft.heading,
                terms=draft.keywords,
                ocr=draft.ocr,
            )
            for draft in prepared.chunks
        ),
        vectors=np.concatenate(work.vectors),
        pages=prepared.pages,
        encoding=prepared.encoding,
        warnings=prepared.warnings,
        mtime=file.mtime,
        tags=tuple(dict.fromkeys(file.tags)),
        external_id=file.external_id,
    )


def _again(record: DocumentRecord, data: bytes) -> SourceFile:
    """A stored document as a file to ingest again: its original, under its recorded name and tags."""
    return SourceFile(
        source=record.source, data=data, mtime=record.mtime, tags=record.tags, external_id=record.external_id
    )
