"""One batch of files through the write path: planned, prepared, embedded, written.

    plan (main thread)     read, hash, and skip what is unchanged or a duplicate
      -> prepare (workers) extract and chunk, with a wall-clock limit per file
      -> embed (main)      batches that span files, so small files still fill a GPU
      -> write (thread)    `Library.commit`, overlapping the next embedding (`ingest.writer`)

A `Batch` holds what is known about its files as named state: each file's outcome once
it has one, the work in flight, which files are twins of earlier ones (the same bytes),
and the chunk counters progress reports. `Ingestor` (`searchapp.ingest.pipeline`) makes
one per run.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from searchapp.access.visibility import Visibility, check_assignable
from searchapp.errors import AccessDeniedError, FailureReason, IngestError
from searchapp.ingest.extract import file_type_of
from searchapp.ingest.prepare import Prepared, PrepareJob
from searchapp.ingest.types import FileOutcome, IngestReport, Limits, SourceFile
from searchapp.ingest.workers import WorkerPool
from searchapp.ingest.writer import Abort, BatchWriter, Pending, failed, from_exception
from searchapp.library import Library
from searchapp.progress import Progress, ProgressCallback, Stage
from searchapp.storage.originals import sha256_hex
from searchapp.types import PreparedDocument
from searchapp.units import format_size, megabytes

# A file read while others are still being extracted waits at most this long for more
# chunks to fill an embedding batch with.
EMBED_WAIT_S = 0.5


class Runner(Protocol):
    """What a batch needs of the ingestor that runs it (`searchapp.ingest.pipeline.Ingestor`)."""

    library: Library
    limits: Limits

    def pool(self) -> WorkerPool[PrepareJob, Prepared]: ...

    def disk_problem(self) -> Abort | None: ...


@dataclass
class Work:
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

    def document(self) -> PreparedDocument:
        """What the library stores for this file: its chunks, their vectors, and what it is."""
        assert self.prepared is not None
        prepared, file = self.prepared, self.file
        return PreparedDocument(
            doc_id=self.doc_id,
            source=file.source,
            file_type=prepared.file_type,
            title=prepared.title,
            original=self.data,
            chunks=prepared.chunks,
            vectors=np.concatenate(self.vectors),
            pages=prepared.pages,
            encoding=prepared.encoding,
            warnings=prepared.warnings,
            mtime=file.mtime,
            tags=tuple(dict.fromkeys(file.tags)),
            external_id=file.external_id,
            groups=tuple(dict.fromkeys(file.groups)),
            ingested_at=file.ingested_at,
        )


class Batch:
    """One run of `Ingestor` over `files` (see the module docstring)."""

    def __init__(
        self,
        ingestor: Runner,
        files: Sequence[SourceFile],
        *,
        resuming: bool,
        progress: ProgressCallback | None,
        visibility: Visibility = None,
    ) -> None:
        self.ingestor = ingestor
        self.library = ingestor.library
        self.files = list(files)
        self.resuming = resuming  # a resumed or re-ingested file is committed again on purpose
        self.progress = progress
        # The uploader's (`searchapp.access.visibility`; None: sees everything): it may give
        # files only its own groups, and not replace or learn of a document hidden from it.
        self.visibility = visibility
        self.outcomes: dict[int, FileOutcome] = {}
        self.chunks_total = 0
        self.chunks_embedded = 0
        self.in_flight: dict[int, Work] = {}  # by id() of the job the worker pool hands back
        self.first_with: dict[str, int] = {}  # doc_id -> index of the first file with those bytes
        self.hashed: dict[str, str] = {}  # source -> the doc_id of its bytes, once read
        self.twins: dict[int, int] = {}  # index -> index of an earlier file with the same bytes
        # The same name twice in one batch: the last file is the one meant (and only one may win).
        self.last_of = {file.source: index for index, file in enumerate(self.files)}
        self.writer: BatchWriter | None = None
        self.ready: list[Work] = []  # prepared, not yet embedded
        self.ready_since = 0.0  # when the oldest of them came back

    # ------------------------------------------------------------------ progress

    def emit(self, stage: Stage, source: str, message: str = "") -> None:
        if self.progress is not None:
            self.progress(
                Progress(
                    stage=stage,
                    source=source,
                    files_done=len(self.outcomes),
                    files_total=len(self.files),
                    chunks_embedded=self.chunks_embedded,
                    chunks_total=self.chunks_total,
                    message=message,
                )
            )

    def finish(self, outcome: FileOutcome, index: int) -> None:
        self.outcomes[index] = outcome
        self.emit("done", outcome.source, outcome.message)

    def report(self) -> IngestReport:
        return IngestReport(outcomes=tuple(self.outcomes[i] for i in range(len(self.files))))

    # ---------------------------------------------------------------------- run

    def run(self) -> IngestReport:
        if not self.files:
            return IngestReport()
        abort = self.ingestor.disk_problem()
        if abort is not None:
            for index, file in enumerate(self.files):
                self.finish(failed(file.source, abort.reason, abort.detail, time.monotonic()), index)
            return self.report()
        writer = self.writer = BatchWriter(self.library, self.finish)
        flush_at = self.library.embedder.batch_size * 8
        try:
            # Files come back as each is read, and what is ready is embedded whenever the
            # pool would wait: a scan that OCR reads for a minute holds up no other file.
            for job, result in self.ingestor.pool().map(self.jobs(), ordered=False, idle=self.idle):
                writer.drain()
                work = self.in_flight.pop(id(job))
                if isinstance(result, BaseException):
                    self.finish(from_exception(work.file.source, result, work.started), work.index)
                    continue
                work.prepared = result
                self.chunks_total += len(result.chunks)
                if not self.ready:
                    self.ready_since = time.monotonic()
                self.ready.append(work)
                if self.ready_chunks() >= flush_at:
                    self.embed_ready()
            self.embed_ready()
        finally:
            writer.close()
            writer.drain()
        self.settle_twins()
        for index, file in enumerate(self.files):  # files the writer never got to, after an abort
            if index not in self.outcomes:
                reason = writer.abort.reason if writer.abort else FailureReason.INTERNAL
                detail = writer.abort.detail if writer.abort else "not processed"
                self.outcomes[index] = failed(file.source, reason, detail, time.monotonic())
        return self.report()

    def idle(self) -> None:
        """While the pool waits for its workers: report what was written meanwhile, and embed
        what is ready once it fills a batch or has waited `EMBED_WAIT_S` (a full batch is
        worth a short wait; a slow file is not)."""
        assert self.writer is not None
        self.writer.drain()
        if not self.ready:
            return
        waited = time.monotonic() - self.ready_since
        if self.ready_chunks() >= self.library.embedder.batch_size or waited >= EMBED_WAIT_S:
            self.embed_ready()

    def ready_chunks(self) -> int:
        return sum(len(w.prepared.chunks) for w in self.ready if w.prepared)

    def embed_ready(self) -> None:
        ready, self.ready = self.ready, []
        self.embed(ready)

    def jobs(self) -> Iterator[PrepareJob]:
        """The files to prepare, as worker jobs; every other file gets its outcome here."""
        assert self.writer is not None
        for index, file in enumerate(self.files):
            abort = self.writer.abort
            if abort is not None:
                self.finish(failed(file.source, abort.reason, abort.detail, time.monotonic()), index)
                continue
            self.emit("read", file.source)
            if self.last_of[file.source] != index:
                detail = "a later file in this batch has the same name; that one was used"
                self.finish(FileOutcome(file.source, "unchanged", detail=detail), index)
                continue
            planned = self.plan(index, file)
            if isinstance(planned, int):  # decided once its twin is (`settle_twins`)
                self.twins[index] = planned
                continue
            if isinstance(planned, FileOutcome):
                self.finish(planned, index)
                continue
            job = PrepareJob(
                data=planned.data, source=file.source, limits=self.ingestor.limits, password=file.password
            )
            self.in_flight[id(job)] = planned  # the pool hands back this very job object
            self.emit("extract", file.source)
            yield job

    def plan(self, index: int, file: SourceFile) -> Work | FileOutcome | int:
        """What to do with one file: prepare it (`Work`), nothing (its outcome), or wait for
        the earlier file of this batch with the same bytes (that file's index)."""
        started = time.monotonic()
        source, limits = file.source, self.ingestor.limits
        try:
            file_type_of(source)
            size = file.size()
            if size > limits.max_bytes:
                raise IngestError(
                    FailureReason.TOO_LARGE,
                    f"{format_size(size)}; the limit is {megabytes(limits.max_bytes)} "
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
        self.hashed[source] = doc_id
        if doc_id in self.first_with:
            return self.first_with[doc_id]
        self.first_with[doc_id] = index
        if not self.resuming:
            try:
                check_assignable(file.groups, self.visibility)
            except AccessDeniedError as exc:
                return failed(source, FailureReason.NOT_ALLOWED, str(exc), started)
            admission = self.library.admit(
                source, doc_id, tags=file.tags, groups=file.groups, visibility=self.visibility
            )
            if admission.kind == "hidden":
                return failed(source, FailureReason.NOT_ALLOWED, admission.detail, started)
            twin = admission.record
            if (
                admission.kind == "duplicate"
                and twin is not None
                and self.edited_here(twin.source, twin.doc_id)
            ):
                # The copy whose name the document has is edited in this batch, which would
                # retire these bytes: the document goes on under this name (nothing re-embedded).
                # This name's own old version, if any, is gone from its file: it goes first.
                current = admission.current
                if current is not None and current.doc_id != twin.doc_id:
                    self.library.delete_by_id(current.doc_id)
                kept = self.library.rename(twin.doc_id, source, mtime=file.mtime or None)
                if file.tags and set(file.tags) != set(kept.tags):
                    kept = self.library.update_tags(kept.doc_id, file.tags)
                if file.groups and set(file.groups) != set(kept.groups):
                    kept = self.library.update_groups(kept.doc_id, file.groups)
                detail = f"kept under this name: {twin.source!r} now holds other content"
                return FileOutcome(source, "unchanged", kept.chunks, doc_id, detail=detail)
            if not admission.wanted:
                chunks = admission.record.chunks if admission.record else 0
                seconds = time.monotonic() - started
                return FileOutcome(
                    source, "unchanged", chunks, doc_id, detail=admission.detail, seconds=seconds
                )
        return Work(index=index, file=file, doc_id=doc_id, data=data, started=started)

    def edited_here(self, source: str, doc_id: str) -> bool:
        """Whether this batch holds a file named `source` whose bytes are not `doc_id`'s."""
        index = self.last_of.get(source)
        if index is None:
            return False
        if source not in self.hashed:
            file = self.files[index]
            try:
                if file.size() > self.ingestor.limits.max_bytes:
                    return False  # too large: it fails in its turn, and its old version stays
                self.hashed[source] = sha256_hex(file.read())
            except OSError:
                return False  # unreadable: the same
        return self.hashed[source] != doc_id

    def embed(self, works: list[Work]) -> None:
        """Embed the chunks of `works` in slices that span files, then queue each file to write."""
        if not works:
            return
        assert self.writer is not None
        embedder = self.library.embedder
        slice_size = embedder.batch_size * 4
        queued = [(work, chunk) for work in works if work.prepared for chunk in work.prepared.chunks]
        for start in range(0, len(queued), slice_size):
            part = queued[start : start + slice_size]
            self.emit("embed", part[0][0].file.source, f"embedding {len(part)} chunks")
            chunks = [chunk for _, chunk in part]
            token_ids = [c.token_ids for c in chunks if c.token_ids is not None]
            vectors = embedder.embed_documents(
                [c.text for c in chunks], token_ids=token_ids if len(token_ids) == len(chunks) else None
            )
            position = 0
            for work, count in _runs([w for w, _ in part]):
                work.vectors.append(vectors[position : position + count])
                position += count
            self.chunks_embedded += len(part)
            for work in {id(w): w for w, _ in part}.values():
                if work.prepared and work.embedded == len(work.prepared.chunks):
                    self.emit("write", work.file.source, "")
                    self.writer.submit(Pending(work.index, work.file.source, work.started, work.document()))

    def settle_twins(self) -> None:
        """A file with the same bytes as an earlier one in the batch is the same document,
        unless the earlier one failed: then it is tried on its own merits (its name may
        make it readable: `report.docx` beside a `report.pdf` with the same bytes)."""
        outcomes, files = self.outcomes, self.files
        retry = [
            i
            for i, first in self.twins.items()
            if outcomes.get(first) is None or outcomes[first].status == "failed"
        ]
        for index, first in self.twins.items():
            if index not in retry:
                detail = f"same content as {files[first].source!r}, in this batch"
                outcome = FileOutcome(
                    files[index].source, "unchanged", doc_id=outcomes[first].doc_id, detail=detail
                )
                self.finish(outcome, index)
        if retry:
            again = Batch(
                self.ingestor,
                [files[i] for i in retry],
                resuming=self.resuming,
                progress=None,
                visibility=self.visibility,
            ).run()
            for index, outcome in zip(retry, again.outcomes, strict=True):
                self.finish(outcome, index)


def _runs(items: list[Work]) -> Iterator[tuple[Work, int]]:
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
