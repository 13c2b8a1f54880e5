"""Applying a sync: list, read what changed, plan, then change the library and the records.

    list      one stat per file (`searchapp.sources.listing`)
    read      hash only the files whose size or mtime changed, and only once they settled
    plan      pure (`searchapp.sources.plan`): ingest, move, delete
    apply     deletes, then moves (`Library.rename`: no embedding), then one `Ingestor`
              batch for new content, then the file records

Every step is idempotent and the plan is made afresh from what is on disk and in the
library each time, so a sync killed at any point (SIGKILL included) is finished by the
next one, which ends in the state an uninterrupted sync would have left: a document
half-written is finished from its kept original (`Ingestor` resumes it first), a rename
half-done is done again, and a file record that was not written only means that file is
read again. With a Chroma server, one client syncs a source at a time: it holds the
lease ``sync:<source>`` (renewed while it works); another client's sync of the same
source waits for the next chance (`SyncReport.outcome == "busy"`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import shutil
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from searchapp.errors import DocumentNotFoundError, FailureReason, SearchAppError, SourceError
from searchapp.ingest.pipeline import Ingestor
from searchapp.ingest.types import FileOutcome, IngestReport, SourceFile
from searchapp.library import Library
from searchapp.progress import ProgressCallback
from searchapp.sources.actions import Action, CatalogEntry
from searchapp.sources.labels import Labels
from searchapp.sources.lease import SyncLease
from searchapp.sources.listing import Problem, SourceFiles, hash_file, open_source
from searchapp.sources.plan import STILL_WRITING, SyncPlan, blocked_plan, files_to_read, plan_sync
from searchapp.sources.report import SyncReport
from searchapp.sources.spec import SourceSpec
from searchapp.sources.state import SourceState, SyncStatus

logger = logging.getLogger(__name__)

# Failures that may pass by themselves: retried at every sync, not only when the file changes.
TRANSIENT = {
    FailureReason.TIMEOUT,
    FailureReason.STORAGE_FULL,
    FailureReason.INTERNAL,
    FailureReason.UNREADABLE,
}


class Syncer:
    """Syncs sources into one library; reusable, one sync at a time.

    Args:
        library: the library to keep in step.
        ingestor: the one to ingest with (default: its own, closed with the syncer).
        settle_s: a file modified less than this long ago is left for a later sync (it may
            still be being written); default: the settings' `sync_settle_s`.
    """

    def __init__(
        self,
        library: Library,
        *,
        ingestor: Ingestor | None = None,
        settle_s: float | None = None,
        workers: int | None = None,
    ) -> None:
        self.library = library
        self.state = SourceState(library)
        self.settle_s = float(library.settings.sync_settle_s if settle_s is None else settle_s)
        self._own_ingestor = ingestor is None
        self._ingestor = ingestor
        self._workers = workers
        self._lock = threading.Lock()

    @property
    def ingestor(self) -> Ingestor:
        if self._ingestor is None:
            self._ingestor = Ingestor(self.library, workers=self._workers)
        return self._ingestor

    def close(self) -> None:
        if self._own_ingestor and self._ingestor is not None:
            self._ingestor.close()
            self._ingestor = None

    def __enter__(self) -> Syncer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ public

    def plan(self, name: str, *, allow_mass_delete: bool = False) -> SyncPlan:
        """What a sync of `name` would do now (files whose fingerprint changed are read)."""
        spec = self.state.spec(name)
        return self._plan(spec, open_source(spec), allow_mass_delete=allow_mass_delete)

    def sync(
        self,
        name: str,
        *,
        dry_run: bool = False,
        allow_mass_delete: bool = False,
        progress: ProgressCallback | None = None,
    ) -> SyncReport:
        """Make the library a mirror of source `name` (see the module docstring).

        Raises:
            SourceError: no source has this name.
            StoreError: the library cannot be written (nothing is lost: the next sync goes on).
        """
        started = time.monotonic()
        spec = self.state.spec(name)
        with self._lock, SyncLease(self.library, spec.name) as lease:
            if not lease.won:
                plan = blocked_plan(spec, f"another client ({lease.holder}) is syncing it")
                return SyncReport(spec.name, "busy", plan, plan.blocked, took_s=time.monotonic() - started)
            if not dry_run and any(
                r.state == "pending" for r in self.library.documents(include_pending=True)
            ):
                self.ingestor.resume_pending()  # a write a crash interrupted comes first
            try:
                files = open_source(spec)
                plan = self._plan(spec, files, allow_mass_delete=allow_mass_delete)
            except SourceError as exc:
                plan = blocked_plan(spec, f"{exc}; nothing was changed")
                files = None
            if not plan.applies:
                report = SyncReport(
                    spec.name, "blocked", plan, plan.blocked, took_s=time.monotonic() - started
                )
            elif dry_run:
                report = SyncReport(
                    spec.name, "dry-run", plan, plan.blocked, took_s=time.monotonic() - started
                )
            else:
                assert files is not None
                report = self._apply(spec, files, plan, allow_mass_delete, progress, started)
            if not dry_run:
                self._record_status(report)
            return report

    # ------------------------------------------------------------------ steps

    def _plan(self, spec: SourceSpec, files: SourceFiles, *, allow_mass_delete: bool) -> SyncPlan:
        listing = files.list()
        stored = {s.path: s for s in self.state.files(spec.name).values()}
        # An S3 object appears whole or not at all: only files on disk can be half-written.
        settle_s = 0.0 if spec.kind == "s3" else self.settle_s
        to_read, settling = files_to_read(listing, stored, now=time.time(), settle_s=settle_s)
        hashes: dict[str, str] = {}
        waiting = dict.fromkeys(settling, STILL_WRITING)
        for listed in to_read:
            found = hash_file(files, listed)
            if isinstance(found, Problem):
                waiting[listed.path] = found.detail
            else:
                hashes[listed.path] = found[0]
        specs = self.state.specs()
        catalog = {
            r.doc_id: CatalogEntry(r.source, r.file_type, r.tags, r.groups) for r in self.library.documents()
        }
        elsewhere: dict[str, list[str]] = {}
        labels: dict[str, list[Labels]] = {}
        others = {s.name: s for s in specs if s.name != spec.name}
        if others:
            for doc_id, holders in self.state.holders().items():
                held = [(others[h.source], h.path) for h in holders if h.source in others]
                if held:
                    elsewhere[doc_id] = [other.document_name(path) for other, path in held]
                    labels[doc_id] = [Labels.of(other) for other, _ in held]
        return plan_sync(
            spec,
            listing,
            hashes=hashes,
            waiting=waiting,
            stored=stored,
            catalog=catalog,
            elsewhere=elsewhere,
            namespaces={s.prefix for s in specs} | {spec.prefix},
            labels=labels,
            allow_mass_delete=allow_mass_delete,
        )

    def _apply(
        self,
        spec: SourceSpec,
        files: SourceFiles,
        plan: SyncPlan,
        allow_mass_delete: bool,
        progress: ProgressCallback | None,
        started: float,
    ) -> SyncReport:
        failures: dict[str, Problem] = {}  # by path: a file that failed is not tried again in this sync
        ingest_report: IngestReport | None = None
        first = plan
        for attempt in range(3):  # a failed ingest changes what is held: plan once more
            for action in plan.of_kind("delete"):
                with contextlib.suppress(DocumentNotFoundError):  # deleted already (an earlier try)
                    self.library.delete_by_id(action.doc_id)
            for action in plan.of_kind("move"):
                self.library.rename(action.doc_id, action.name)
            records = {r.path: r for r in plan.records}
            ingests = plan.of_kind("ingest")
            if ingests:
                ingest_report, failed = self._ingest(spec, files, ingests, progress)
                fallbacks = {f.path: f for f in plan.fallbacks}
                for path, record in list(records.items()):
                    outcome = failed.get(record.doc_id)
                    if outcome is not None and path in fallbacks:
                        reason = outcome.reason or FailureReason.INTERNAL
                        records[path] = dataclasses.replace(
                            fallbacks[path], error=outcome.message, retry=reason in TRANSIENT
                        )
                        failures[path] = Problem(path, outcome.message)
            for action in plan.of_kind("retag"):
                with contextlib.suppress(DocumentNotFoundError):
                    tagged = self.library.find_by_id(action.doc_id)
                    if tagged is not None and not set(action.tags) <= set(tagged.tags):
                        added = (t for t in action.tags if t not in tagged.tags)
                        self.library.update_tags(action.doc_id, (*tagged.tags, *added))
                    if (
                        tagged is not None
                        and action.groups is not None
                        and set(action.groups) != set(tagged.groups)
                    ):
                        self.library.update_groups(action.doc_id, action.groups)
            retyped = [a.doc_id for a in plan.of_kind("move") if a.retype]
            if retyped:
                self.ingestor.reingest(retyped, progress=progress)
            self.state.write_files(list(records.values()))
            self.state.forget_files(list(plan.forget))
            if not failures or attempt == 2:
                break
            try:
                plan = _without(self._plan(spec, files, allow_mass_delete=allow_mass_delete), set(failures))
            except SourceError as exc:  # the bucket went away: what was done stands, the next sync goes on
                logger.warning("source %s: %s", spec.name, exc)
                break
            if not plan.actions:
                break
        return SyncReport(
            spec.name,
            "blocked" if first.mass_delete else "ok",  # the rest was done; the deletions wait
            first,
            first.blocked,
            failures=tuple(failures.values()),
            took_s=time.monotonic() - started,
            ingest=ingest_report,
        )

    def _ingest(
        self,
        spec: SourceSpec,
        files: SourceFiles,
        actions: Sequence[Action],
        progress: ProgressCallback | None,
    ) -> tuple[IngestReport, dict[str, FileOutcome]]:
        """One `Ingestor` batch; returns its report and, by planned doc_id, the failed outcomes."""
        spool: Path | None = None
        batch: list[SourceFile] = []
        try:
            for action in actions:
                try:
                    path = files.local_path(action.path)
                except OSError as exc:  # a link swapped in since the listing: not read
                    logger.warning("not reading %s of %s: %s", action.path, spec.location, exc.strerror)
                    path = self._spool_root() / "not-read" / action.doc_id  # never written: it fails
                if path is None:  # a bucket: download first, one file at a time on disk
                    if spool is None:
                        spool = Path(tempfile.mkdtemp(prefix="sync-", dir=self._spool_root()))
                    path = spool / f"{len(batch)}"
                    try:
                        path.write_bytes(files.read(action.path))
                    except (OSError, SourceError) as exc:  # it fails as unreadable: tried again next sync
                        logger.warning("cannot read %s from %s: %s", action.path, spec.location, exc)
                batch.append(
                    SourceFile(
                        source=action.name, path=path, mtime=action.mtime, tags=spec.tags, groups=spec.groups
                    )
                )
            report = self.ingestor.ingest(batch, progress=progress)
        finally:
            if spool is not None:
                shutil.rmtree(spool, ignore_errors=True)
        by_name = {o.source: o for o in report.outcomes}  # resumed documents come first; ours win
        failed = {
            a.doc_id: by_name[a.name]
            for a in actions
            if a.name in by_name and by_name[a.name].status == "failed"
        }
        return report, failed

    def _spool_root(self) -> Path:
        root = self.library.settings.data_dir / "tmp"
        root.mkdir(parents=True, exist_ok=True)
        return root

    def _record_status(self, report: SyncReport) -> None:
        plan = report.plan
        errors = [(p.path, p.detail) for p in (*report.failures, *plan.problems)]
        errors += [(path, STILL_WRITING) for path in plan.deferred]
        try:
            self.state.put_status(
                SyncStatus(
                    source=report.source,
                    finished_at=time.time(),
                    took_s=report.took_s,
                    outcome=report.outcome,
                    message=report.message,
                    files=plan.files,
                    documents=plan.documents,
                    counts=report.counts,
                    errors=tuple(errors),
                    client=self.library.client_id,
                )
            )
        except SearchAppError as exc:  # the sync itself is done; its status is a convenience
            logger.warning("could not record the status of source %s: %s", report.source, exc)


def _without(plan: SyncPlan, failed: set[str]) -> SyncPlan:
    """`plan` less another try of files that already failed in this sync (their records stay
    as the failure left them): a damaged file fails the same way the second time."""
    if not failed:
        return plan
    return dataclasses.replace(
        plan,
        actions=tuple(a for a in plan.actions if not (a.kind == "ingest" and a.path in failed)),
        records=tuple(r for r in plan.records if r.path not in failed),
        fallbacks=tuple(f for f in plan.fallbacks if f.path not in failed),
    )
