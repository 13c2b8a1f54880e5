"""The write path: files in, chunks embedded and stored, one outcome per file out.

    plan (main thread)     read, hash, and skip what is unchanged or a duplicate
      -> prepare (workers) extract and chunk, with a wall-clock limit per file
      -> embed (main)      batches that span files, so small files still fill a GPU
      -> write (thread)    `Library.write_document`, overlapping the next embedding

One bad file never stops the batch: every failure becomes that file's outcome. Only
what makes every later file fail too (a full disk, a lost server, a model that does
not load) stops early, and then the remaining files say why.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from ingest.chunking import ChunkerConfig
from ingest.extract import file_type_of
from ingest.prepare import Prepared, PrepareJob, init_worker, prepare
from ingest.types import FileOutcome, IngestReport, Limits, Progress, SourceFile, Stage
from ingest.workers import TaskTimeout, WorkerCrashed, WorkerPool
from searchapp.errors import (
    FailureReason,
    IngestError,
    StorageFullError,
    StoreError,
    StoreUnavailableError,
)
from searchapp.library import ChunkRows, DocumentWrite, Library
from searchapp.originals import sha256_hex
from searchapp.tokens import TokenizerSpec
from searchapp.types import DocumentRecord, MetaValue

logger = logging.getLogger(__name__)

ProgressCallback = Callable[[Progress], None]
# The writer stores up to this many documents (or chunks) with one set of Chroma calls.
MAX_GROUP_DOCS = 64
MAX_GROUP_CHUNKS = 4096


def chunk_id(doc_id: str, index: int) -> str:
    """Deterministic: the same bytes chunked the same way give the same ids."""
    return f"{doc_id}:{index}"


def default_workers() -> int:
    return max(1, min(4, (os.cpu_count() or 2)))


@dataclass
class _Work:
    """One file on its way through the pipeline."""

    index: int
    file: SourceFile
    doc_id: str
    data: bytes
    replaces: DocumentRecord | None
    started: float
    prepared: Prepared | None = None
    vectors: list[np.ndarray] = field(default_factory=list)

    @property
    def embedded(self) -> int:
        return sum(len(v) for v in self.vectors)


class _Abort(Exception):
    """Every later file would fail the same way (disk full, server gone)."""

    def __init__(self, reason: FailureReason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


class Ingestor:
    """Ingests files into one `Library`. Reusable; keeps its worker processes warm.

    Args:
        library: where to write.
        workers: extraction processes (default: up to 4, by core count).
        progress: called with a `Progress` at each stage of each file.
    """

    def __init__(
        self, library: Library, *, workers: int | None = None, progress: ProgressCallback | None = None
    ) -> None:
        self.library = library
        self.progress = progress
        settings = library.settings
        self.limits = Limits(
            max_bytes=settings.max_file_mb * 1024 * 1024,
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

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    def __enter__(self) -> Ingestor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ public

    def ingest(self, files: Iterable[SourceFile]) -> IngestReport:
        """Ingest `files`; first finish any document a crash left pending."""
        with self._run_lock:
            resumed = self._run(self._pending_files(), resuming=True)
            report = self._run(list(files), resuming=False)
            self._refresh_keyword_index(resumed, report)
        return IngestReport(outcomes=resumed.outcomes + report.outcomes)

    def reingest(self, doc_ids: Iterable[str]) -> IngestReport:
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
                    _failed(
                        record.source if record else doc_id[:12],
                        FailureReason.UNREADABLE,
                        f"the document {what}; ingest the file again",
                        time.monotonic(),
                    )
                )
                continue
            data = self.library.original(doc_id)
            files.append(SourceFile(source=record.source, data=data, mtime=record.mtime, tags=record.tags))
        with self._run_lock:
            # `resuming` skips the "unchanged" shortcut: the bytes are the same on purpose.
            report = self._run(files, resuming=True)
            self._refresh_keyword_index(report)
        return IngestReport(outcomes=report.outcomes + tuple(missing))

    def resume_pending(self) -> IngestReport:
        """Finish documents whose ingestion a crash interrupted (from their kept originals)."""
        with self._run_lock:
            report = self._run(self._pending_files(), resuming=True)
            self._refresh_keyword_index(report)
            return report

    def _refresh_keyword_index(self, *reports: IngestReport) -> None:
        """Rebuild BM25 once per batch, so the first search after an upload is not the one to wait."""
        if any(report.ingested for report in reports):
            if self.progress is not None:
                last = reports[-1].outcomes[-1] if reports[-1].outcomes else None
                total = sum(len(r.outcomes) for r in reports)
                self.progress(
                    Progress(
                        "index", last.source if last else "", total, total, 0, 0, "updating the keyword index"
                    )
                )
            self.library.refresh_keyword_index()

    # ------------------------------------------------------------------- stages

    def _pending_files(self) -> list[SourceFile]:
        files: list[SourceFile] = []
        for record in self.library.pending_documents():
            if self.library.originals.has(record.doc_id):
                data = self.library.original(record.doc_id)
                files.append(
                    SourceFile(
                        source=record.source,
                        data=data,
                        mtime=record.mtime,
                        tags=record.tags,
                        external_id=record.external_id,
                    )
                )
                logger.warning("finishing %s, interrupted while being ingested", record.source)
            else:
                logger.warning("rolling back %s: interrupted, and its original is missing", record.source)
                self.library.delete_by_id(record.doc_id)
        return files

    def _run(self, files: Sequence[SourceFile], *, resuming: bool) -> IngestReport:
        outcomes: dict[int, FileOutcome] = {}
        if not files:
            return IngestReport()
        total = len(files)
        counters = {"chunks_embedded": 0, "chunks_total": 0}

        def emit(stage: Stage, source: str, message: str = "") -> None:
            if self.progress is not None:
                self.progress(
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
        except _Abort as abort:
            for index, file in enumerate(files):
                finish(_failed(file.source, abort.reason, abort.detail, time.monotonic()), index)
            return IngestReport(outcomes=tuple(outcomes[i] for i in range(total)))

        # The same name twice in one batch: the last file is the one meant (and only one may win).
        last_of = {file.source: index for index, file in enumerate(files)}
        writer = _Writer(self.library, finish)
        works: dict[int, _Work] = {}
        planned_ids: dict[str, str] = {}  # doc_id -> source, for twins within this batch

        def jobs() -> Iterator[PrepareJob]:
            for index, file in enumerate(files):
                if writer.abort is not None:
                    finish(
                        _failed(file.source, writer.abort.reason, writer.abort.detail, time.monotonic()),
                        index,
                    )
                    continue
                emit("read", file.source)
                if last_of[file.source] != index:
                    detail = "a later file in this batch has the same name; that one was used"
                    finish(FileOutcome(file.source, "unchanged", detail=detail), index)
                    continue
                planned = self._plan(index, file, resuming=resuming, planned_ids=planned_ids)
                if isinstance(planned, FileOutcome):
                    finish(planned, index)
                    continue
                job = PrepareJob(data=planned.data, source=file.source, limits=self.limits)
                works[id(job)] = planned  # the pool hands back this very job object
                emit("extract", file.source)
                yield job

        ready: list[_Work] = []
        flush_at = self.library.embedder.batch_size * 8
        try:
            for job, result in self._get_pool().map(jobs()):
                writer.drain()
                work = works.pop(id(job))
                if isinstance(result, BaseException):
                    finish(_from_exception(work, result), work.index)
                    continue
                work.prepared = result
                counters["chunks_total"] += len(result.chunks)
                ready.append(work)
                if sum(len(w.prepared.chunks) for w in ready if w.prepared) >= flush_at:
                    self._embed(ready, writer, counters, emit)
                    ready = []
            self._embed(ready, writer, counters, emit)
        finally:
            writer.close()
            writer.drain()
        for index, file in enumerate(files):  # files the writer never got to, after an abort
            if index not in outcomes:
                reason = writer.abort.reason if writer.abort else FailureReason.INTERNAL
                detail = writer.abort.detail if writer.abort else "not processed"
                outcomes[index] = _failed(file.source, reason, detail, time.monotonic())
        return IngestReport(outcomes=tuple(outcomes[i] for i in range(total)))

    def _check_disk(self) -> None:
        if self.library.settings.is_server:
            return
        free = self.library.free_disk_bytes()
        needed = self.library.settings.min_free_mb * 1024 * 1024
        if free < needed:
            raise _Abort(
                FailureReason.STORAGE_FULL,
                f"only {free / 2**20:,.0f} MB free on the disk holding the data directory; "
                f"ingest needs at least {needed / 2**20:,.0f} MB (SEARCHAPP_MIN_FREE_MB)",
            )

    def _plan(
        self, index: int, file: SourceFile, *, resuming: bool, planned_ids: dict[str, str]
    ) -> _Work | FileOutcome:
        started = time.monotonic()
        source = file.source
        try:
            file_type_of(source)
            size = file.size()
            if size > self.limits.max_bytes:
                raise IngestError(
                    FailureReason.TOO_LARGE,
                    f"{size / 2**20:,.1f} MB; the limit is {self.limits.max_bytes / 2**20:,.0f} MB "
                    "(SEARCHAPP_MAX_FILE_MB)",
                )
            data = file.read()
        except IngestError as exc:
            return _failed(source, exc.reason, exc.detail, started)
        except OSError as exc:
            return _failed(
                source, FailureReason.UNREADABLE, f"cannot read the file: {exc.strerror or exc}", started
            )
        if not data:
            return _failed(source, FailureReason.EMPTY_FILE, "the file has no content", started)
        doc_id = sha256_hex(data)
        if doc_id in planned_ids:
            return FileOutcome(
                source,
                "unchanged",
                doc_id=doc_id,
                detail=f"same content as {planned_ids[doc_id]!r}, in this batch",
                seconds=time.monotonic() - started,
            )
        planned_ids[doc_id] = source
        current = self.library.find_by_source(source)
        if not resuming and current is not None and current.doc_id == doc_id and current.state == "done":
            detail = ""
            if file.tags and set(file.tags) != set(current.tags):
                self.library.update_tags(doc_id, file.tags)
                detail = "tags updated"
            return FileOutcome(
                source, "unchanged", current.chunks, doc_id, detail=detail, seconds=time.monotonic() - started
            )
        twin = self.library.find_by_id(doc_id)
        if not resuming and twin is not None and twin.state == "done" and twin.source != source:
            return FileOutcome(
                source,
                "unchanged",
                twin.chunks,
                doc_id,
                detail=f"same content as {twin.source!r}, already indexed",
                seconds=time.monotonic() - started,
            )
        replaces = current if current is not None and current.doc_id != doc_id else None
        if resuming:
            pending = self.library.find_by_id(doc_id)
            if pending is not None and pending.replaces:
                replaces = self.library.find_by_id(pending.replaces) or _stub(pending.replaces, source)
        return _Work(index=index, file=file, doc_id=doc_id, data=data, replaces=replaces, started=started)

    def _embed(
        self,
        works: list[_Work],
        writer: _Writer,
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
                    writer.submit(work, self._rows(work), self._record(work))

    def _rows(self, work: _Work) -> ChunkRows:
        assert work.prepared is not None
        prepared = work.prepared
        now = int(time.time())
        tags = self._tags(work)
        ids, texts, metas = [], [], []
        for draft in prepared.chunks:
            meta: dict[str, MetaValue] = {
                "doc_id": work.doc_id,
                "source": work.file.source,
                "file_type": prepared.file_type,
                "title": prepared.title,
                "chunk": draft.index,
                "start": draft.start,
                "tokens": draft.tokens,
                "ingested_at": now,
            }
            if draft.page is not None:
                meta["page"] = draft.page
            if draft.heading:
                meta["heading"] = draft.heading
            if draft.ocr:
                meta["ocr"] = True
            if work.file.mtime:
                meta["mtime"] = work.file.mtime
            if tags:
                meta["tags"] = list(tags)
            if prepared.encoding:
                meta["encoding"] = prepared.encoding
            if work.file.external_id:
                meta["external_id"] = work.file.external_id
            ids.append(chunk_id(work.doc_id, draft.index))
            texts.append(draft.text)
            metas.append(meta)
        keywords = [d.keywords for d in prepared.chunks]
        return ChunkRows(
            ids=ids,
            embeddings=np.concatenate(work.vectors),
            texts=texts,
            metadatas=metas,
            keywords=keywords if all(keywords) else None,
        )

    def _tags(self, work: _Work) -> tuple[str, ...]:
        if work.file.tags:
            return tuple(dict.fromkeys(work.file.tags))
        return work.replaces.tags if work.replaces else ()

    def _record(self, work: _Work) -> DocumentRecord:
        assert work.prepared is not None
        prepared = work.prepared
        return DocumentRecord(
            doc_id=work.doc_id,
            source=work.file.source,
            file_type=prepared.file_type,
            title=prepared.title,
            size=len(work.data),
            chunks=len(prepared.chunks),
            ingested_at=int(time.time()),
            pages=prepared.pages,
            tags=self._tags(work),
            mtime=work.file.mtime,
            encoding=prepared.encoding,
            warnings=prepared.warnings,
            external_id=work.file.external_id,
        )

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


class _Writer:
    """Writes finished files on a background thread, in order; stops at the first fatal error.

    Outcomes come back through `drain()`, on the caller's thread, because progress
    callbacks (Streamlit's, say) must not run on this one.
    """

    def __init__(self, library: Library, finish: Callable[[FileOutcome, int], None]) -> None:
        self.library = library
        self._finish = finish
        self.abort: _Abort | None = None
        self._queue: queue.Queue[tuple[_Work, ChunkRows, DocumentRecord] | None] = queue.Queue(
            maxsize=MAX_GROUP_DOCS
        )
        self._done: queue.Queue[tuple[FileOutcome, int]] = queue.Queue()
        self._thread = threading.Thread(target=self._loop, name="searchapp-writer", daemon=True)
        self._thread.start()

    def submit(self, work: _Work, rows: ChunkRows, record: DocumentRecord) -> None:
        self._queue.put((work, rows, record))
        self.drain()

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()

    def drain(self) -> None:
        """Report every file written so far (call from the ingesting thread)."""
        while True:
            try:
                outcome, index = self._done.get_nowait()
            except queue.Empty:
                return
            self._finish(outcome, index)

    def finish(self, outcome: FileOutcome, index: int) -> None:
        self._done.put((outcome, index))

    def _loop(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            group, chunks, closing = [item], len(item[1]), False
            # Take what else is ready: many small files then cost a few Chroma calls, not a few each.
            while len(group) < MAX_GROUP_DOCS and chunks < MAX_GROUP_CHUNKS:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    closing = True
                    break
                group.append(more)
                chunks += len(more[1])
            self._write(group)
            if closing:
                return

    def _write(self, group: list[tuple[_Work, ChunkRows, DocumentRecord]]) -> None:
        if self.abort is not None:
            for work, _, _ in group:
                self.finish(
                    _failed(work.file.source, self.abort.reason, self.abort.detail, work.started), work.index
                )
            return
        try:
            done = self.library.write_documents(
                [DocumentWrite(record, rows, work.data, work.replaces) for work, rows, record in group]
            )
        except (StorageFullError, StoreUnavailableError) as exc:
            reason = (
                FailureReason.STORAGE_FULL if isinstance(exc, StorageFullError) else FailureReason.INTERNAL
            )
            self.abort = _Abort(reason, str(exc))
            for work, _, _ in group:
                self.finish(_failed(work.file.source, reason, str(exc), work.started), work.index)
            return
        except Exception as exc:  # never let the writer thread die silently
            if len(group) > 1:  # find the one document that fails, and write the others
                for item in group:
                    self._write([item])
                return
            work = group[0][0]
            logger.exception("writing %s failed", work.file.source)
            detail = str(exc) if isinstance(exc, StoreError) else f"{type(exc).__name__}: {exc}"
            self.finish(_failed(work.file.source, FailureReason.INTERNAL, detail, work.started), work.index)
            return
        for (work, _, _), record in zip(group, done, strict=True):
            outcome = FileOutcome(
                work.file.source,
                "ingested",
                record.chunks,
                record.doc_id,
                warnings=record.warnings,
                seconds=time.monotonic() - work.started,
            )
            self.finish(outcome, work.index)


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


def _failed(source: str, reason: FailureReason, detail: str, started: float) -> FileOutcome:
    return FileOutcome(source, "failed", reason=reason, detail=detail, seconds=time.monotonic() - started)


def _from_exception(work: _Work, exc: BaseException) -> FileOutcome:
    source = work.file.source
    if isinstance(exc, IngestError):
        return _failed(source, exc.reason, exc.detail, work.started)
    if isinstance(exc, TaskTimeout):
        return _failed(source, FailureReason.TIMEOUT, str(exc), work.started)
    if isinstance(exc, WorkerCrashed):
        reason = FailureReason.DAMAGED_PDF if source.lower().endswith(".pdf") else FailureReason.UNREADABLE
        return _failed(source, reason, str(exc), work.started)
    if isinstance(exc, MemoryError):
        return _failed(source, FailureReason.TOO_LARGE, "reading it ran out of memory", work.started)
    return _failed(source, FailureReason.INTERNAL, f"{type(exc).__name__}: {exc}"[:300], work.started)


def _stub(doc_id: str, source: str) -> DocumentRecord:
    """A stand-in for a replaced version whose catalog record is already gone."""
    return DocumentRecord(
        doc_id=doc_id, source=source, file_type="txt", title="", size=0, chunks=0, ingested_at=0
    )
