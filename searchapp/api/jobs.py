"""Upload jobs: files handed to the write path in the background, with progress to poll.

An upload returns at once with a job id; the job runs in a thread of its own (one at a
time per collection, in the order they came) and records its state in the collection's
``jobs`` record table, so any replica of a server-mode deployment can answer a poll, and
a job id of one team is simply not found in another team's table. Progress is written at
most once a second while a job runs, and always when it changes state.

States: ``queued`` -> ``running`` -> ``done`` (the ingest report says how each file
went; a file that failed is a file outcome, not a failed job) or ``failed`` (the batch
could not run at all: the store or the model failed). While a process holds a job, queued
or running, it writes the job again every `HEARTBEAT_S`; a job whose process died stops
moving, and after `STALE_AFTER_S` every reader, on any replica, answers for it as
``failed`` ("the server running it stopped"), so a poll never waits forever.
"""

from __future__ import annotations

import logging
import secrets
import shutil
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from searchapp.access import Visibility
from searchapp.errors import DocumentNotFoundError, SearchAppError
from searchapp.ingest.pipeline import Ingestor
from searchapp.ingest.types import SourceFile
from searchapp.progress import Progress
from searchapp.storage.records import RecordTable

logger = logging.getLogger(__name__)

JobState = Literal["queued", "running", "done", "failed"]
TABLE = "jobs"
SAVE_EVERY_S = 1.0
KEEP_JOBS = 200  # per collection; older finished jobs are removed when a new one starts
HEARTBEAT_S = 10.0  # a held job is written at least this often, progress or not
STALE_AFTER_S = 6 * HEARTBEAT_S  # a held job silent this long belongs to a process that died
STOPPED = "the server running this job stopped before it finished; upload the files again"


@dataclass(frozen=True, slots=True)
class Job:
    job_id: str
    collection: str
    state: JobState
    created_at: float
    updated_at: float
    started_by: str
    files: tuple[str, ...]
    files_done: int = 0
    stage: str = ""
    current: str = ""
    chunks_embedded: int = 0
    chunks_total: int = 0
    report: dict[str, Any] | None = None
    error: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["files"] = list(self.files)
        data["files_total"] = len(self.files)
        data.pop("extra")
        return data

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Job:
        return cls(
            job_id=str(record["job_id"]),
            collection=str(record["collection"]),
            state=record["state"],
            created_at=float(record["created_at"]),
            updated_at=float(record["updated_at"]),
            started_by=str(record.get("started_by", "")),
            files=tuple(str(f) for f in record.get("files", ())),
            files_done=int(record.get("files_done", 0)),
            stage=str(record.get("stage", "")),
            current=str(record.get("current", "")),
            chunks_embedded=int(record.get("chunks_embedded", 0)),
            chunks_total=int(record.get("chunks_total", 0)),
            report=record.get("report"),
            error=str(record.get("error", "")),
        )

    def settled(self, now: float) -> Job:
        """This job as a reader should see it: one left unfinished by a dead process failed."""
        if self.state in ("queued", "running") and now - self.updated_at > STALE_AFTER_S:
            return replace(self, state="failed", error=STOPPED)
        return self


class Jobs:
    """Starts upload jobs and answers for them; `table_of` gives a collection's jobs table."""

    def __init__(
        self, table_of: Callable[[str], RecordTable], ingestor_of: Callable[[str], Ingestor]
    ) -> None:
        self._table_of = table_of
        self._ingestor_of = ingestor_of
        self._running: dict[str, Job] = {}  # job id -> its latest state, while this process runs it
        self._executors: dict[str, ThreadPoolExecutor] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._heartbeat: threading.Thread | None = None

    def submit(
        self,
        collection: str,
        started_by: str,
        files: Sequence[SourceFile],
        spool: Path | None,
        *,
        visibility: Visibility,
    ) -> Job:
        """Queue `files` for `collection`; `spool` (their temporary folder) is removed after.

        `visibility` is the uploader's: a file never replaces (or is filed as a duplicate of)
        a document the uploader may not see; it fails as not allowed instead. It is required
        on purpose: None (sees everything) has to be said.
        """
        now = time.time()
        job = Job(
            job_id=secrets.token_hex(16),
            collection=collection,
            state="queued",
            created_at=now,
            updated_at=now,
            started_by=started_by,
            files=tuple(f.source for f in files),
        )
        self._save(job)
        with self._lock:
            self._running[job.job_id] = job
            executor = self._executors.get(collection)
            if executor is None:
                executor = ThreadPoolExecutor(
                    max_workers=1, thread_name_prefix=f"searchapp-jobs-{collection}"
                )
                self._executors[collection] = executor
            if self._heartbeat is None:
                self._heartbeat = threading.Thread(
                    target=self._beat, name="searchapp-jobs-heartbeat", daemon=True
                )
                self._heartbeat.start()
        executor.submit(self._run, job, list(files), spool, visibility)
        return job

    def get(self, collection: str, job_id: str, *, started_by: str | None = None) -> Job:
        """A job of `collection` (with `started_by`: only one that caller started).

        A job names the files it was given, which may be restricted to groups: so a caller
        sees the jobs it started, and only one who sees every document sees all of them.

        Raises:
            DocumentNotFoundError: no such job (in this collection, by this caller).
        """
        with self._lock:
            job = self._running.get(job_id)
        if job is None or job.collection != collection:
            record = self._table_of(collection).get(job_id) if _looks_like_id(job_id) else None
            job = Job.from_record(record).settled(time.time()) if record is not None else None
        if job is None or job.collection != collection or started_by not in (None, job.started_by):
            raise DocumentNotFoundError(f"no upload job {job_id!r} in this collection")
        return job

    def recent(self, collection: str, limit: int = 50, *, started_by: str | None = None) -> list[Job]:
        records = self._table_of(collection).find({"kind": "job"})
        now = time.time()
        jobs = [
            Job.from_record(r).settled(now)
            for r in records.values()
            if r.get("collection") == collection and started_by in (None, r.get("started_by"))
        ]
        with self._lock:
            live = {j.job_id: j for j in self._running.values() if j.collection == collection}
        jobs = [live.get(j.job_id, j) for j in jobs]
        return sorted(jobs, key=lambda j: -j.created_at)[:limit]

    def close(self) -> None:
        with self._lock:
            executors = list(self._executors.values())
            self._executors.clear()
        for executor in executors:
            executor.shutdown(wait=True, cancel_futures=True)
        self._stop.set()

    def _beat(self) -> None:
        """Write every job this process holds, so readers elsewhere know it is alive."""
        while not self._stop.wait(HEARTBEAT_S):
            now = time.time()
            # Saved under the lock: a runner's own save of a newer state then comes after it.
            with self._lock:
                for job in list(self._running.values()):
                    job = replace(job, updated_at=now)
                    self._running[job.job_id] = job
                    self._save(job)

    # ------------------------------------------------------------------ running

    def _run(self, job: Job, files: list[SourceFile], spool: Path | None, visibility: Visibility) -> None:
        last_save = [0.0]

        def update(**changes: Any) -> None:
            nonlocal job
            job = replace(job, updated_at=time.time(), **changes)
            with self._lock:
                self._running[job.job_id] = job
            if changes.get("state") or time.monotonic() - last_save[0] >= SAVE_EVERY_S:
                last_save[0] = time.monotonic()
                self._save(job)

        def on_progress(event: Progress) -> None:
            update(
                stage=event.stage,
                current=event.source,
                files_done=event.files_done,
                chunks_embedded=event.chunks_embedded,
                chunks_total=event.chunks_total,
            )

        try:
            update(state="running")
            self._trim(job.collection)
            report = self._ingestor_of(job.collection).ingest(
                files, progress=on_progress, visibility=visibility
            )
            update(state="done", stage="done", current="", files_done=len(files), report=report.to_dict())
        except SearchAppError as exc:
            update(state="failed", error=str(exc))
        except Exception as exc:  # the job's state must say it ended; the log keeps the details
            logger.exception("upload job %s failed", job.job_id)
            update(state="failed", error=f"internal error ({type(exc).__name__}); see the server's log")
        finally:
            if spool is not None:
                shutil.rmtree(spool, ignore_errors=True)
            with self._lock:
                self._running.pop(job.job_id, None)

    def _save(self, job: Job) -> None:
        try:
            self._table_of(job.collection).put(
                job.job_id, job.to_dict(), kind="job", created_at=job.created_at
            )
        except SearchAppError as exc:  # a poll then sees this process's copy; the job goes on
            logger.warning("could not record the state of upload job %s: %s", job.job_id, exc)

    def _trim(self, collection: str) -> None:
        table = self._table_of(collection)
        records = table.find({"kind": "job"})
        now = time.time()
        finished = sorted(
            (r for r in records.values() if Job.from_record(r).settled(now).state in ("done", "failed")),
            key=lambda r: -float(r.get("created_at", 0)),
        )
        table.delete([str(r["job_id"]) for r in finished[KEEP_JOBS:]])


def _looks_like_id(job_id: str) -> bool:
    return len(job_id) == 32 and all(c in "0123456789abcdef" for c in job_id)
