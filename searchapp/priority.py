"""Short work first: a search goes before the long work (a sync, an ingest) that shares its process.

A search is a few milliseconds of work that someone waits for; an ingest's writes and
its embedding batches are long steps nobody watches. Where both need the one resource
of a process (the GIL while Chroma writes, the embedding model), the long work calls
`wait_turn` between its steps, and waits there while short work is in flight (at most
`max_wait_s`, so that a steady stream of searches slows it down but never stops it).
Short work then waits for at most the one step already running when it began; long
work that makes its steps smaller while short work keeps coming (`recent`) shortens
that wait too. Used by the store's writes (`searchapp.storage.search_gate`) and by the
embedder (queries before document batches).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager


class Priority:
    """Counts the short work in flight; `wait_turn` waits until there is none."""

    def __init__(self, *, max_wait_s: float = 0.5, recent_s: float = 2.0) -> None:
        self.max_wait_s = max_wait_s
        self.recent_s = recent_s
        self._changed = threading.Condition()
        self._urgent = 0
        self._last = -float("inf")  # time.monotonic() when short work last ended
        self._mine = threading.local()  # short work never waits for itself

    @contextmanager
    def urgent(self) -> Iterator[None]:
        """Mark short work in flight for the duration of the block."""
        depth = getattr(self._mine, "depth", 0)
        self._mine.depth = depth + 1
        with self._changed:
            self._urgent += 1
        try:
            yield
        finally:
            self._mine.depth = depth
            with self._changed:
                self._urgent -= 1
                self._last = time.monotonic()
                if not self._urgent:
                    self._changed.notify_all()

    def wait_turn(self) -> None:
        """Long work, before a step: wait (at most `max_wait_s`) until no short work of another
        thread is in flight."""
        if getattr(self._mine, "depth", 0):
            return
        with self._changed:
            self._changed.wait_for(lambda: self._urgent == 0, timeout=self.max_wait_s)

    @property
    def recent(self) -> bool:
        """True while short work is in flight or ended less than `recent_s` ago."""
        return bool(self._urgent) or time.monotonic() - self._last < self.recent_s

    def step(self, most: int, small: int) -> int:
        """How much long work to do in one step: `most`, or `small` while short work comes."""
        return min(most, small) if self.recent else most
