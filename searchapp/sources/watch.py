"""Watching sources: a sync soon after a file changes, and a poll where no file events exist.

Each watched source gets a thread. A local folder is followed through the kernel's file
events (watchfiles: inotify, FSEvents, ReadDirectoryChangesW), batched until
`debounce_ms` pass without a new event, then synced; a mounted network share (NFS,
SMB, sshfs...) and an S3 bucket have no events for changes made elsewhere, so they are
synced every `poll_s` seconds (an unchanged sync reads no file: one stat each). Files
still being written are left by the sync and retried once they settled; a source another
client of a server is syncing is retried shortly; events are also backed by a full sync
every `full_sync_s`, in case some were lost (an overflowing inotify queue, say).

With `names` the watcher follows those sources (the CLI's ``sync --watch``); without, it
follows every source whose `watch` setting is on, picking up changes to that setting
(the app).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from searchapp.errors import SearchAppError
from searchapp.sources.manager import Sources
from searchapp.sources.report import SyncReport
from searchapp.sources.spec import DEFAULT_POLL_S, SourceSpec

logger = logging.getLogger(__name__)

NETWORK_FILESYSTEMS = {
    "nfs", "nfs4", "cifs", "smb3", "smbfs", "9p", "afs", "ceph", "glusterfs", "lustre", "davfs",
    "fuse.sshfs", "fuse.rclone", "fuse.s3fs", "fuse.gcsfuse", "fuse.glusterfs", "fuse.davfs2",
}  # fmt: skip
RETRY_BUSY_S = 2.0
RETRY_ERROR_S = 10.0
RECONCILE_S = 2.0

ReportCallback = Callable[[SyncReport], None]


def filesystem_type(path: Path) -> str:
    """The type of the file system holding `path`, from /proc/mounts ("" where unknown)."""
    try:
        mounts = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return ""
    target, best, kind = str(path.resolve()), "", ""
    for line in mounts:
        fields = line.split()
        if len(fields) < 3:
            continue
        point = fields[1].replace("\\040", " ")
        inside = target == point or target.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(best):
            best, kind = point, fields[2]
    return kind


def needs_polling(spec: SourceSpec) -> bool:
    """True where no file events tell of changes: S3, and network shares."""
    return spec.kind == "s3" or filesystem_type(Path(spec.location)) in NETWORK_FILESYSTEMS


class Watcher:
    """Keeps sources in sync as they change, on background threads, until `stop`."""

    def __init__(
        self,
        sources: Sources,
        *,
        names: Sequence[str] | None = None,
        debounce_ms: int = 200,
        full_sync_s: float = 600.0,
        on_report: ReportCallback | None = None,
    ) -> None:
        self.sources = sources
        self.names = list(names) if names is not None else None
        self.debounce_ms = debounce_ms
        self.full_sync_s = full_sync_s
        self.on_report = on_report
        self._stop = threading.Event()
        self._loops: dict[str, _SourceLoop] = {}
        self._supervisor: threading.Thread | None = None

    @property
    def watching(self) -> dict[str, str]:
        """Each watched source and how: "events" or "polling"."""
        return {name: loop.mode for name, loop in list(self._loops.items()) if loop.is_alive()}

    def start(self) -> Watcher:
        self._reconcile()
        self._supervisor = threading.Thread(target=self._supervise, name="searchapp-watch", daemon=True)
        self._supervisor.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._supervisor is not None:
            self._supervisor.join(timeout=30)
        for loop in list(self._loops.values()):
            loop.stop()
        self._loops.clear()

    def __enter__(self) -> Watcher:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def wait(self) -> None:
        """Block until `stop` (or Ctrl-C)."""
        while not self._stop.wait(1.0):
            pass

    def _supervise(self) -> None:
        while not self._stop.wait(RECONCILE_S):
            try:
                self._reconcile()
            except SearchAppError as exc:  # the store may be away for a while
                logger.warning("cannot read the sources to watch: %s", exc)

    def _reconcile(self) -> None:
        specs = {s.name: s for s in self.sources.state.specs()}
        if self.names is not None:
            wanted = {n: specs[n] for n in self.names if n in specs}
        else:
            wanted = {n: s for n, s in specs.items() if s.watch}
        for name, loop in list(self._loops.items()):
            if name not in wanted or wanted[name] != loop.spec or not loop.is_alive():
                loop.stop()
                del self._loops[name]
        for name, spec in wanted.items():
            if name not in self._loops:
                loop = _SourceLoop(self, spec)
                self._loops[name] = loop
                loop.start()


class _SourceLoop(threading.Thread):
    """Syncs one source when its files change (or every poll), until stopped."""

    def __init__(self, watcher: Watcher, spec: SourceSpec) -> None:
        super().__init__(name=f"searchapp-watch-{spec.name}", daemon=True)
        self.watcher = watcher
        self.spec = spec
        self.mode = "polling" if needs_polling(spec) else "events"
        self._halt = threading.Event()
        self._due: float | None = time.monotonic()  # sync at once when watching starts
        self._last_sync = 0.0

    def stop(self) -> None:
        self._halt.set()
        if self.is_alive() and threading.current_thread() is not self:
            self.join(timeout=30)

    def run(self) -> None:
        period = (self.spec.poll_s or DEFAULT_POLL_S) if self.mode == "polling" else self.watcher.full_sync_s
        while not self._halt.is_set():
            batches = self._events() if self.mode == "events" else self._ticks()
            if batches is None:  # the folder is missing: its status says so; look again later
                self._halt.wait(RETRY_ERROR_S)
                continue
            for changed in batches:
                if self._halt.is_set():
                    return
                now = time.monotonic()
                if changed:
                    self._due = now
                if now - self._last_sync >= period:
                    self._due = min(self._due or now, now)
                if self._due is not None and now >= self._due:
                    self._sync()
            if self.mode == "events":
                self._halt.wait(RETRY_ERROR_S)  # watching stopped (folder removed): start again

    def _ticks(self) -> Iterator[bool]:
        while not self._halt.wait(0.25):
            yield False

    def _events(self) -> Iterator[bool] | None:
        """True for each debounced batch of relevant changes, False on a quiet half second."""
        import watchfiles

        root = Path(self.spec.location)
        if not root.is_dir():
            self._sync()  # says why (missing root) in the source's status; nothing is removed
            return None

        def relevant(_: object, path: str) -> bool:
            relative = os.path.relpath(path, root)
            return not any(part.startswith(".") for part in Path(relative).parts)

        def batches() -> Iterator[bool]:
            try:
                for changes in watchfiles.watch(
                    root,
                    watch_filter=relevant,
                    debounce=max(self.watcher.debounce_ms, 50),
                    step=50,
                    rust_timeout=500,
                    yield_on_timeout=True,
                    stop_event=self._halt,
                    raise_interrupt=False,
                    ignore_permission_denied=True,
                ):
                    yield bool(changes)
            except (OSError, RuntimeError) as exc:  # the folder was removed or unmounted
                logger.warning("stopped watching %s: %s", root, exc)

        return batches()

    def _sync(self) -> None:
        self._due = None
        self._last_sync = time.monotonic()
        try:
            (report,) = self.watcher.sources.sync(self.spec.name)
        except SearchAppError as exc:
            logger.warning("syncing %s failed: %s", self.spec.name, exc)
            self._due = time.monotonic() + RETRY_ERROR_S
            return
        if report.outcome == "busy":
            self._due = time.monotonic() + RETRY_BUSY_S
        elif report.deferred:
            self._due = time.monotonic() + self.watcher.sources.syncer.settle_s + 0.1
        elif any(f for f in report.failures if "took too long" in f.detail):
            self._due = time.monotonic() + RETRY_ERROR_S
        if self.watcher.on_report is not None and (report.plan.actions or report.outcome != "ok"):
            try:
                self.watcher.on_report(report)
            except Exception as exc:  # a front end's callback must not stop the watching
                logger.warning("the sync report callback failed: %s", exc)
