"""Task functions for `tests/test_workers.py`.

Worker processes import tasks by module name (`python -m ingest.workers` unpickles the
function), so they live in an importable module rather than in the test file.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from searchapp.errors import FailureReason, IngestError


class TwoArgumentError(Exception):
    """Pickles, but `Exception.__reduce__` calls `TwoArgumentError(message)` on load: fails."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


class LockHoldingError(Exception):
    """Cannot be pickled at all (it carries a lock)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.lock = threading.Lock()


class PlainError(Exception):
    pass


def run(job: tuple[str, Any]) -> Any:
    """Do what the job says: ("value", x), ("sleep", seconds), ("exit", code), ..."""
    kind, arg = job
    if kind == "value":
        return arg
    if kind == "sleep":
        time.sleep(arg)
        return f"slept {arg}"
    if kind == "spin":  # use `arg` seconds of CPU time
        end = time.process_time() + arg
        while time.process_time() < end:
            pass
        return f"spun {arg}"
    if kind == "spin-in-child":  # a child process uses the CPU time; this one waits for it
        code = f"import time\nend = time.process_time() + {arg}\nwhile time.process_time() < end: pass"
        subprocess.run([sys.executable, "-c", code], check=True)
        return f"child spun {arg}"
    if kind == "sleeping-child":  # start a child that outlives the task unless it is killed
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
        Path(arg).write_text(str(child.pid))
        while True:
            pass
    if kind == "pid":
        return os.getpid()
    if kind == "exit":
        os._exit(arg)
    if kind == "segfault":
        os.kill(os.getpid(), signal.SIGSEGV)
        time.sleep(10)
    if kind == "sys-exit":
        sys.exit(arg)
    if kind == "value-error":
        raise ValueError(arg)
    if kind == "plain-error":
        raise PlainError(arg)
    if kind == "ingest-error":
        raise IngestError(FailureReason.NO_TEXT, arg)
    if kind == "two-argument-error":
        raise TwoArgumentError(7, arg)
    if kind == "lock-error":
        raise LockHoldingError(arg)
    if kind == "unpicklable-result":
        return threading.Lock()
    if kind == "memory":
        raise MemoryError(arg)
    raise AssertionError(f"unknown job kind {kind!r}")


_initialised: list[str] = []


def init_marker(tag: str) -> None:
    _initialised.append(tag)


def report_init(job: object) -> list[str]:
    return list(_initialised)


def failing_init() -> None:
    raise RuntimeError("the initializer fails")
