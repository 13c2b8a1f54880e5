"""Long work started from the UI (tuning, re-embedding with another model), run in a thread.

One job at a time per library, shared by every session of the process: a page shows its
notes and progress, and a new job waits until the running one has finished. Searches go on
meanwhile (a model switch builds its index beside the live one and swaps at the end).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

logger = logging.getLogger(__name__)


@dataclass
class Job:
    kind: str
    started: float = field(default_factory=time.time)
    notes: list[str] = field(default_factory=list)
    done: float = 0.0  # share of the work done, 0-1, when it is known
    finished: bool = False
    result: Any = None
    error: str = ""

    def note(self, message: str) -> None:
        self.notes.append(f"{time.strftime('%H:%M:%S')} {message}")
        del self.notes[:-200]


_JOBS: dict[str, Job] = {}
_GUARD = threading.Lock()


def current(key: str) -> Job | None:
    return _JOBS.get(key)


def start(key: str, kind: str, work: Callable[[Job], Any]) -> Job | None:
    """Run `work(job)` in a thread; None if another job of this library is still running."""
    with _GUARD:
        running = _JOBS.get(key)
        if running is not None and not running.finished:
            return None
        job = Job(kind)
        _JOBS[key] = job

    def run() -> None:
        try:
            job.result = work(job)
        except Exception as exc:
            logger.exception("%s failed", kind)
            job.error = str(exc) or type(exc).__name__
        finally:
            job.finished = True

    threading.Thread(target=run, name=f"searchapp-{kind}", daemon=True).start()
    return job
