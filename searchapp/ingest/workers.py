"""A small process pool with a CPU time limit per task.

Extraction runs third-party parsers on untrusted files: one can loop, exhaust memory or
crash the interpreter. Each task runs in a child process; a task that uses more than
its limit has its processes killed (the worker and any it started, such as Tesseract)
and the worker replaced, and a process that dies mid-task fails only that task. The
standard library's pools can do neither.

The limit is counted in CPU time, not on the clock (`searchapp.ingest.cpu_time`), so a
task gets as far on a busy machine as on an idle one: `cpu_limit_s` for the worker
itself, and `cpu_limit_s * ocr_cores()` with the processes it starts. A task whose
processes use no CPU at all for `stall_s` is blocked for good and is stopped too.

Children are fresh interpreters (`python -m ingest.workers FD`) talking over a socket
pair: forking a process that already holds torch and Chroma threads can deadlock, and
multiprocessing's "spawn" re-runs the parent's main script, which breaks any caller
without an `if __name__ == "__main__"` guard.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing.connection
import os
import pickle
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any, Generic, TypeVar

from searchapp.errors import FailureReason, IngestError
from searchapp.ingest.cpu_time import ocr_cores, tree_cpu_seconds

logger = logging.getLogger(__name__)

J = TypeVar("J")
R = TypeVar("R")

_EXIT_GRACE_S = 2.0
IDLE_TICK_S = 0.25
CHECK_S = 1.0  # how often a busy worker's CPU time is read
STALL_S = 60.0  # a task whose processes use no CPU this long is stopped


class TaskTimeout(Exception):
    """The task used more than its CPU time limit, or none for `stall_s`; its processes were killed."""


class WorkerCrashed(Exception):
    """The worker process died while running the task."""


def _child_main(conn: Connection) -> None:
    func, init = conn.recv()
    if init is not None:
        init()
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        ticket, job = message
        try:
            reply = (ticket, True, func(job))
        except BaseException as exc:  # everything a parser raises is the task's failure
            reply = (ticket, False, exc)
        try:
            try:
                conn.send(reply)
            except OSError:
                raise
            except Exception:  # the result or exception does not pickle
                detail = f"{type(reply[2]).__name__}: {reply[2]}"[:300]
                conn.send((ticket, False, IngestError(FailureReason.INTERNAL, detail)))
        except OSError:  # the parent is gone (killed, or done with us): nothing left to do
            return


@dataclass
class _Worker:
    process: subprocess.Popen[bytes]
    conn: Connection
    ticket: int | None = None
    # CPU time (itself, with the processes it started) when its task began, and when
    # that last grew (`time.monotonic`).
    cpu_start: tuple[float, float] = (0.0, 0.0)
    cpu_seen: float = 0.0
    progress_at: float = 0.0
    next_check: float = 0.0

    def cpu_used(self) -> tuple[float, float]:
        """CPU time of the current task: the worker's own, and with the processes it started."""
        itself, total = tree_cpu_seconds(self.process.pid)
        return itself - self.cpu_start[0], total - self.cpu_start[1]


class WorkerPool(Generic[J, R]):
    """Runs `func(job)` in child processes, `cpu_limit_s` of CPU time at most per job
    (see the module docstring).

    Use as a context manager; `map` yields (job, result-or-exception), in input order or
    as each finishes.
    """

    def __init__(
        self,
        func: Callable[[J], R],
        *,
        workers: int,
        cpu_limit_s: float,
        stall_s: float = STALL_S,
        initializer: Callable[[], None] | None = None,
    ) -> None:
        self._func = func
        self._init = initializer
        self._size = max(1, workers)
        self._cpu_limit = cpu_limit_s
        self._stall = stall_s
        self._workers: list[_Worker] = []

    def __enter__(self) -> WorkerPool[J, R]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _spawn(self) -> _Worker:
        parent, child = socket.socketpair()
        env = dict(os.environ)
        # The child imports what this process can import, wherever that came from.
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
        try:
            process = subprocess.Popen(
                [sys.executable, "-m", "searchapp.ingest.workers", str(child.fileno())],
                pass_fds=[child.fileno()],
                env=env,
                stdin=subprocess.DEVNULL,
            )
        finally:
            child.close()
        conn = Connection(parent.detach())
        conn.send((self._func, self._init))
        worker = _Worker(process=process, conn=conn)
        self._workers.append(worker)
        return worker

    def _retire(self, worker: _Worker) -> None:
        self._workers.remove(worker)
        if worker.process.poll() is None:
            _kill_children(worker.process.pid)  # a Tesseract it started would run on
            worker.process.kill()
        try:
            worker.process.wait(_EXIT_GRACE_S)
        except subprocess.TimeoutExpired:
            logger.warning("worker %s did not exit after kill", worker.process.pid)
        worker.conn.close()

    def close(self) -> None:
        for worker in list(self._workers):
            with contextlib.suppress(OSError):
                worker.conn.send(None)
        deadline = time.monotonic() + _EXIT_GRACE_S
        for worker in list(self._workers):
            with contextlib.suppress(subprocess.TimeoutExpired):
                worker.process.wait(max(0.0, deadline - time.monotonic()))
            self._retire(worker)

    def map(
        self, jobs: Iterable[J], *, ordered: bool = True, idle: Callable[[], None] | None = None
    ) -> Iterator[tuple[J, R | BaseException]]:
        """Run every job; yield each with its result or its exception.

        `ordered`: in input order; otherwise as each finishes, so one slow job (a scan read
        by OCR) holds up no other. `idle` is called whenever nothing is ready, and every
        `IDLE_TICK_S` while the pool waits for its workers: the caller's chance to use what
        it already has.
        At most two jobs per worker are in flight or buffered, so memory stays bounded.
        """
        pending = iter(jobs)
        submitted: dict[int, J] = {}
        results: dict[int, R | BaseException] = {}
        next_ticket = 0
        next_out = 0
        exhausted = False
        while True:
            # Keep every idle worker busy while the output buffer has room.
            while not exhausted and len(submitted) < self._size * 2:
                free = next((w for w in self._workers if w.ticket is None), None)
                if free is None and len(self._workers) < self._size:
                    free = self._spawn()
                if free is None:
                    break
                try:
                    job = next(pending)
                except StopIteration:
                    exhausted = True
                    break
                submitted[next_ticket] = job
                self._send(free, next_ticket, job, results)
                next_ticket += 1
            if not ordered:
                for ticket in sorted(results):
                    yield submitted.pop(ticket), results.pop(ticket)
            while next_out in results:
                yield submitted.pop(next_out), results.pop(next_out)
                next_out += 1
            busy = [w for w in self._workers if w.ticket is not None]
            if not busy:
                if exhausted and not submitted:
                    return
                continue
            if idle is not None:
                idle()
            self._wait(busy, results, tick=IDLE_TICK_S if idle is not None else None)

    def _send(self, worker: _Worker, ticket: int, job: J, results: dict[int, R | BaseException]) -> None:
        worker.ticket = ticket
        worker.cpu_start = tree_cpu_seconds(worker.process.pid)
        worker.cpu_seen = 0.0
        worker.progress_at = worker.next_check = time.monotonic()
        try:
            worker.conn.send((ticket, job))
        except (OSError, ValueError) as exc:
            results[ticket] = WorkerCrashed(f"could not hand the file to a worker: {exc}")
            self._retire(worker)

    def _wait(
        self, busy: list[_Worker], results: dict[int, R | BaseException], tick: float | None = None
    ) -> None:
        timeout = max(0.0, min(w.next_check for w in busy) - time.monotonic())
        if tick is not None:
            timeout = min(timeout, tick)
        # A dying child closes its end of the socket, so its connection turns readable too.
        ready = set(multiprocessing.connection.wait([w.conn for w in busy], timeout=timeout))
        now = time.monotonic()
        for worker in busy:
            ticket = worker.ticket
            assert ticket is not None
            if worker.conn in ready:
                try:
                    message = worker.conn.recv_bytes()
                except (EOFError, OSError):
                    results[ticket] = WorkerCrashed(_exit_description(worker.process))
                    self._retire(worker)
                    continue
                worker.ticket = None
                try:
                    got_ticket, ok, value = pickle.loads(message)
                except Exception as exc:
                    # It pickled in the child but does not unpickle here: typically an
                    # exception class whose __init__ takes other arguments than its args.
                    results[ticket] = IngestError(
                        FailureReason.INTERNAL, f"the reader's answer could not be read back: {exc}"[:300]
                    )
                    continue
                results[got_ticket] = value if ok else _as_exception(value)
            elif now >= worker.next_check:
                stopped = self._overrun(worker, now)
                if stopped is not None:
                    results[ticket] = stopped
                    self._retire(worker)

    def _overrun(self, worker: _Worker, now: float) -> TaskTimeout | None:
        """Why the worker's task must stop (past its CPU time, or stalled), or None."""
        worker.next_check = now + CHECK_S
        itself, total = worker.cpu_used()
        limit, cores = self._cpu_limit, ocr_cores()
        if itself >= limit:
            return TaskTimeout(f"used {itself:.0f} s of CPU time, past the limit of {limit:.0f} s; stopped")
        if total >= limit * cores:
            return TaskTimeout(
                f"used {total:.0f} s of CPU time with its OCR processes, past the limit of "
                f"{limit:.0f} s on each of {cores} cores; stopped"
            )
        if total > worker.cpu_seen:
            worker.cpu_seen, worker.progress_at = total, now
        elif now - worker.progress_at >= self._stall:
            return TaskTimeout(f"made no progress for {self._stall:.0f} s (no CPU time used); stopped")
        return None


def _kill_children(pid: int) -> None:
    import psutil

    with contextlib.suppress(psutil.Error):
        for child in psutil.Process(pid).children(recursive=True):
            with contextlib.suppress(psutil.Error):
                child.kill()


def _as_exception(value: Any) -> BaseException:
    return value if isinstance(value, BaseException) else RuntimeError(repr(value)[:300])


def _exit_description(process: subprocess.Popen[bytes]) -> str:
    try:
        code = process.wait(_EXIT_GRACE_S)
    except subprocess.TimeoutExpired:
        return "the reader process stopped answering"
    if code < 0:
        return f"the reader process was killed by signal {-code} (a crash inside a parser)"
    return f"the reader process exited unexpectedly (exit code {code})"


if __name__ == "__main__":
    _child_main(Connection(int(sys.argv[1])))
