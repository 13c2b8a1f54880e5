"""The compiled loops behind `searchapp.storage.keyword_index` (numba, cached on disk after the first
compile). They release the GIL, so concurrent searches run on separate cores."""

from __future__ import annotations

from typing import Any

import numba
import numpy as np
import numpy.typing as npt

AnyInts = npt.NDArray[np.integer[Any]]


# Plain float64 arithmetic, in bm25s' order of operations (no fastmath): scores must equal
# a fresh bm25s "lucene" index's to the last float32 bit wherever the sums allow.
@numba.njit(nogil=True, cache=True)
def accumulate(
    scores: npt.NDArray[np.float64],
    touched: npt.NDArray[np.int64],
    n_touched: int,
    slots: AnyInts,
    tfs: AnyInts,
    start: int,
    end: int,
    positions: AnyInts,
    lengths: AnyInts,
    alive: npt.NDArray[np.bool_],
    mask: npt.NDArray[np.bool_],
    use_mask: bool,
    idf: np.float32,
    k1: float,
    b: float,
    avgdl: float,
) -> int:  # pragma: no cover - compiled
    """Add one term's BM25 weight, for postings `start:end` of one segment, to `scores`.

    The weight of a posting is float32(idf * tf / (k1 * ((1 - b) + b * dl / avgdl) + tf)),
    as bm25s stores it; sums are float64. Positions seen for the first time are appended to
    `touched`; returns the new count.
    """
    idf64 = np.float64(idf)
    for j in range(start, end):
        slot = slots[j]
        if not alive[slot]:
            continue
        position = positions[slot]
        if use_mask and (position >= mask.shape[0] or not mask[position]):
            continue
        tf = np.float64(tfs[j])
        tfc = tf / (k1 * ((1.0 - b) + b * np.float64(lengths[slot]) / avgdl) + tf)
        weight = np.float32(idf64 * tfc)
        if scores[position] == 0.0:
            touched[n_touched] = position
            n_touched += 1
        scores[position] += np.float64(weight)
    return n_touched


@numba.njit(nogil=True, cache=True)
def group_by_term(
    terms: npt.NDArray[np.int32], slots: npt.NDArray[np.int32], tfs: AnyInts, n_terms: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int32], AnyInts]:  # pragma: no cover - compiled
    """Postings given as parallel arrays, regrouped by term (a stable counting sort: within
    a term, postings keep their order). Returns (indptr over 0..n_terms, slots, tfs)."""
    indptr = np.zeros(n_terms + 1, dtype=np.int64)
    for t in terms:
        indptr[t + 1] += 1
    for t in range(n_terms):
        indptr[t + 1] += indptr[t]
    fill = indptr[:-1].copy()
    out_slots = np.empty(len(slots), dtype=np.int32)
    out_tfs = np.empty(len(tfs), dtype=tfs.dtype)
    for j in range(len(terms)):
        t = terms[j]
        at = fill[t]
        out_slots[at] = slots[j]
        out_tfs[at] = tfs[j]
        fill[t] = at + 1
    return indptr, out_slots, out_tfs


@numba.njit(nogil=True, cache=True)
def expand_postings(
    terms: npt.NDArray[np.int32],
    indptr: npt.NDArray[np.int64],
    slots: npt.NDArray[np.int32],
    tfs: AnyInts,
    alive: npt.NDArray[np.bool_],
    new_slot: npt.NDArray[np.int32],
    out_terms: npt.NDArray[np.int32],
    out_slots: npt.NDArray[np.int32],
    out_tfs: AnyInts,
    at: int,
) -> int:  # pragma: no cover - compiled
    """Copy one segment's live postings as (term, renumbered slot, tf) triples from `at`."""
    for i in range(len(terms)):
        for j in range(indptr[i], indptr[i + 1]):
            slot = slots[j]
            if alive[slot]:
                out_terms[at] = terms[i]
                out_slots[at] = new_slot[slot]
                out_tfs[at] = tfs[j]
                at += 1
    return at


@numba.njit(nogil=True, cache=True)
def gather_rows(
    indptr: npt.NDArray[np.int64],
    values: npt.NDArray[np.int32],
    rows: npt.NDArray[np.int64],
    out_indptr: npt.NDArray[np.int64],
    out_values: npt.NDArray[np.int32],
    row_at: int,
    at: int,
) -> int:  # pragma: no cover - compiled
    """Append the CSR rows `rows` of (indptr, values) to (out_indptr, out_values)."""
    for r in rows:
        for j in range(indptr[r], indptr[r + 1]):
            out_values[at] = values[j]
            at += 1
        row_at += 1
        out_indptr[row_at] = at
    return at
