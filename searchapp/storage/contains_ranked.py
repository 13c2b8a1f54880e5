""" "Text contains" and phrases that most chunks hold: rank first, then check the best.

A needle held by most rows ("e", "the", "cell") costs the trigram index what listing all
those rows costs (hundreds of milliseconds at 1M rows), and the answer is most of the
collection anyway. For such a needle, a query's lists rank the rows the other filters
admit and read the texts of only the best of them, keeping those that hold it:

- which needles: those estimated (from a sample of texts, `ContainsIndex.share`) in at
  least `MIN_SHARE` of the rows; rarer ones stay in the row mask, from the index;
- per list, since the rows to check grow with the depth asked for: ranked-then-checked
  only where checking n texts costs less than listing the needles' rows,
  n * `CHECK_COST` <= rows holding them (x `SHORT_NEEDLE_COST` for 1-2 characters,
  listed through many trigrams), else the index lists them as for any needle;
- exact: n from about 1.5 k / share, growing fourfold until k rows pass or none are
  left; every row ranked above the last one checked was checked, so the rows that pass
  are the top k of the rows that hold the needles. When the needles are far rarer among
  these rows than in the sample, the index answers instead after `ROUNDS` rounds.

Local mode only (it needs the vectors for an exact scan); with a server, Chroma's own
filter takes the needles.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from searchapp.filters import SearchFilters
from searchapp.storage.local_index import LocalIndex

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float32]
BoolArray = npt.NDArray[np.bool_]
# A ranked list: (n, the rows to rank among or None for every row) -> its top n (positions, scores).
Ranked = Callable[[int, "BoolArray | None"], tuple[IntArray, FloatArray]]

# Measured with benchmarks/bench_contains.py at 100k chunks: a text read and checked costs
# about as much as 25 rows listed by the trigram index (docs/benchmarks.md, issue 25).
MIN_SHARE = 0.01
CHECK_COST = 25
SHORT_NEEDLE_COST = 4
ROUNDS = 3


def common(local: LocalIndex, needles: Sequence[str]) -> tuple[str, ...]:
    """Those of `needles` held by at least `MIN_SHARE` of the rows (by the sample): the
    ones worth checking on ranked rows rather than listing."""
    wanted = dict.fromkeys(n for n in needles if n.casefold())
    return tuple(n for n in wanted if local.contains_share([n]) >= MIN_SHARE)


@dataclass
class Check:
    """Needles left out of a request's row mask, checked on the ranked rows of each list.

    `mask` is the rows every other filter, phrase and exclusion admits (None: every row).
    """

    local: LocalIndex
    needles: tuple[str, ...]
    mask: BoolArray | None
    share: float = field(init=False)  # estimated share of rows holding every needle
    listed: float = field(init=False)  # what listing them from the index costs, in rows
    passed: list[IntArray] = field(default_factory=list, init=False)  # positions that held them
    _exact: BoolArray | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.share = self.local.contains_share(self.needles)
        count = self.local.count
        self.listed = sum(
            self.local.contains_share([n]) * count * (SHORT_NEEDLE_COST if len(n.casefold()) < 3 else 1)
            for n in self.needles
        )

    def exact_mask(self) -> BoolArray:
        """`mask` with the needles listed by the trigram index (once per request)."""
        if self._exact is None:
            base = self.mask if self.mask is not None else self.local.mask(SearchFilters())
            self._exact = self.local.narrow(base, self.needles)
        return self._exact

    def top(self, ranked: Ranked, k: int) -> tuple[IntArray, FloatArray]:
        """The best `k` rows of `ranked` that hold every needle (see the module docstring)."""
        admitted = self.local.count if self.mask is None else int(np.count_nonzero(self.mask))
        if not admitted:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        n = min(admitted, int(1.5 * k / max(self.share, 1e-3)) + 32)
        rounds = ROUNDS if self._exact is None and n * CHECK_COST <= self.listed else 0
        for _ in range(rounds):
            positions, scores = ranked(n, self.mask)
            keep = self.local.containing(positions, self.needles)
            if int(keep.sum()) >= k or len(positions) < n or n >= admitted:
                self.passed.append(positions[keep])
                return positions[keep][:k], scores[keep][:k]
            n = min(admitted, n * 4)
        positions, scores = ranked(k, self.exact_mask())
        self.passed.append(positions)
        return positions, scores

    def documents(self, enough: int) -> int:
        """How many documents hold an admitted row: counted on the rows that passed while
        they show `enough` or more (all a grouped request needs to know), else exactly."""
        if self._exact is None and self.passed:
            held = np.concatenate(self.passed)
            seen = np.zeros(int(held.max(initial=-1)) + 1, dtype=np.bool_)
            seen[held] = True
            found = self.local.documents_in(seen)
            if found >= enough:
                return found
        return self.local.documents_in(self.exact_mask())
