"""The local index's "text contains" reads: exact substring filters from the trigram index.

`ContainsReads` is a part of `LocalIndex` (`searchapp.storage.local_index`), kept apart
so that each file says one thing; it reads the columns and the rows `LocalIndex` keeps,
under its lock. The trigram table and its checks: `searchapp.storage.contains_index`.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from searchapp.storage.local_columns import Columns
from searchapp.storage.local_rows import Rows

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


class ContainsReads:
    """Substring filters over the positions of `LocalIndex`; mixed into it."""

    _lock: threading.RLock
    _cols: Columns
    _rows: Rows

    def narrow(self, mask: BoolArray, contains: Sequence[str]) -> BoolArray:
        """`mask` less the positions whose text lacks one of `contains` (from the trigram index)."""
        with self._lock:
            rows = self._cols.row[: len(mask)]
        for needle in contains:
            if needle.casefold():
                mask = mask & self._containing(needle, mask, rows)
        return mask

    def _containing(self, needle: str, admitted: BoolArray, rows: IntArray) -> BoolArray:
        """Which of the `admitted` positions contain `needle`, ignoring case."""
        size = len(admitted)
        within = np.flatnonzero(admitted)
        # Rows are ascending with position (ids are never reused), so positions are found
        # by binary search; rows written since this mask began are not in `rows`.
        found = self._rows.contains.rows_containing(needle, rows[within] if len(within) < size else None)
        at = np.minimum(np.searchsorted(rows, found), max(size - 1, 0))
        hits = at[rows[at] == found] if size else at
        out = np.zeros(size, dtype=np.bool_)
        out[hits] = admitted[hits]
        return out

    def contains_share(self, needles: Sequence[str]) -> float:
        """The estimated share of live chunks whose text contains every one of `needles`
        (from a sample of texts: `ContainsIndex.share`)."""
        with self._lock:
            cols = self._cols
            rows = cols.row[: cols.size][cols.alive[: cols.size]]
        return self._rows.contains.share(needles, rows)

    def containing(self, positions: IntArray, needles: Sequence[str]) -> BoolArray:
        """For each position, whether its chunk's text contains every one of `needles`
        (ignoring case), read and checked text by text."""
        with self._lock:
            rows = self._cols.row[: self._cols.size][positions]
        return np.isin(rows, self._rows.contains.check(needles, rows))
