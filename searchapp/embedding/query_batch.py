"""Queries that arrive together are embedded together: one forward pass for all of them.

While the model embeds one batch, the queries that arrive meanwhile would wait for it
anyway; the first of them to get the model embeds every query then waiting, and the
others find their vector done. So N searches at once cost one pass over N short texts
instead of N passes, and no query ever waits for a timer: a lone query goes at once.
(Group commit, as a database does with its log.)
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from searchapp.embedding.tokens import TokenIds

Vectors = npt.NDArray[np.float32]
MOST = 64  # queries in one pass; more wait for the next


@dataclass(eq=False, slots=True)
class _Slot:
    ids: TokenIds
    vector: Vectors | None = None
    error: BaseException | None = None

    @property
    def served(self) -> bool:
        return self.vector is not None or self.error is not None


class QueryBatcher:
    """Embeds queries through `run` under `lock` (one pass at a time), as many at a time as wait."""

    def __init__(
        self, lock: threading.Lock, run: Callable[[Sequence[TokenIds]], Vectors], *, most: int = 0
    ) -> None:
        self._lock = lock
        self._run = run
        self._most = most or MOST  # read when made: a benchmark sets MOST = 1 for the old way
        self._waiting: list[_Slot] = []
        self._guard = threading.Lock()
        self.passes = 0  # forward passes made (how well queries were grouped)

    def embed(self, ids: TokenIds) -> Vectors:
        """The vector of one query's token ids."""
        slot = _Slot(ids)
        with self._guard:
            self._waiting.append(slot)
        with self._lock:  # whoever held it may have embedded this query along with its own
            while not slot.served:
                with self._guard:
                    batch = self._waiting[: self._most]
                    del self._waiting[: self._most]
                self.passes += 1
                try:
                    vectors = self._run([s.ids for s in batch])
                except BaseException as exc:  # every query of the pass gets the error
                    for waiting in batch:
                        waiting.error = exc
                else:
                    for waiting, vector in zip(batch, vectors, strict=True):
                        waiting.vector = vector
        if slot.error is not None:
            raise slot.error
        assert slot.vector is not None
        return slot.vector
