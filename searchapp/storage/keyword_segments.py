"""Immutable postings segments for `searchapp.storage.keyword_index`: building, merging, files.

A segment holds some documents ("slots") and, per term, their raw term frequencies:

- term-major postings (CSR): `terms` (sorted ids), `indptr`, `slots`, `tfs`, which a
  search reads for its few terms;
- doc-major terms (CSR): `fwd_indptr`, `fwd_terms`, the distinct terms of each slot, which
  a removal reads to keep document frequencies exact;
- per slot: the caller's persistent `keys`, in-process `positions`, token counts `lengths`.

Nothing in a segment changes after it is built except `alive` (replaced, never written in
place, when documents are removed), so searches read segments without a lock.

A segment file is an array file (`searchapp.storage.array_file`): a torn or altered one
fails its checks and is not used.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from searchapp.storage import array_file, keyword_kernels

IntArray = npt.NDArray[np.int64]
Int32Array = npt.NDArray[np.int32]
BoolArray = npt.NDArray[np.bool_]
TfArray = npt.NDArray[Any]  # uint16, or uint32 where a term occurs 65,536 times in a document

_ARRAYS = ("terms", "indptr", "slots", "tfs", "keys", "lengths", "fwd_indptr", "fwd_terms")


class SegmentFileError(Exception):
    """A segment file that is missing, torn or altered."""


@dataclass(frozen=True, slots=True)
class Segment:
    seg_id: int
    terms: Int32Array
    indptr: IntArray
    slots: Int32Array
    tfs: TfArray
    keys: IntArray
    positions: IntArray
    lengths: Int32Array
    fwd_indptr: IntArray
    fwd_terms: Int32Array
    alive: BoolArray

    @property
    def size(self) -> int:
        return len(self.keys)

    @property
    def postings(self) -> int:
        return len(self.slots)

    def span(self, term: int) -> tuple[int, int]:
        """The postings of `term` in this segment, as a [start, end) range (empty if none)."""
        i = int(np.searchsorted(self.terms, term))
        if i < len(self.terms) and self.terms[i] == term:
            return int(self.indptr[i]), int(self.indptr[i + 1])
        return 0, 0

    def distinct_terms(self, slots: IntArray) -> Int32Array:
        """The distinct terms of each of `slots`, concatenated."""
        starts, ends = self.fwd_indptr[slots], self.fwd_indptr[np.asarray(slots) + 1]
        counts = ends - starts
        firsts = np.repeat(starts - (np.cumsum(counts) - counts), counts)
        return self.fwd_terms[firsts + np.arange(int(counts.sum()))]

    def without(self, slots: IntArray) -> Segment:
        alive = self.alive.copy()
        alive[slots] = False
        return dataclasses.replace(self, alive=alive)

    def live_postings(self) -> int:
        if self.alive.all():
            return self.postings
        return int(np.diff(self.fwd_indptr)[self.alive].sum())


def term_ids(tokens: Sequence[str], vocab: dict[str, int], terms: list[str]) -> list[int]:
    """Ids of `tokens`, giving new terms the next ids (appended to `terms`)."""
    get = vocab.get
    ids = [get(t, -1) for t in tokens]
    if -1 in ids:
        for i, t in enumerate(tokens):
            if ids[i] == -1:
                known = get(t)
                if known is None:
                    known = vocab[t] = len(terms)
                    terms.append(t)
                ids[i] = known
    return ids


def build(
    seg_id: int,
    positions: IntArray,
    keys: IntArray,
    token_lists: Sequence[Sequence[str]],
    vocab: dict[str, int],
    terms: list[str],
) -> Segment:
    """A segment of new documents; new terms are added to `vocab` and `terms`."""
    n = len(token_lists)
    lengths = np.fromiter((len(t) for t in token_lists), dtype=np.int64, count=n)
    flat = np.fromiter(
        (i for tokens in token_lists for i in term_ids(tokens, vocab, terms)),
        dtype=np.int64,
        count=int(lengths.sum()),
    )
    docs = np.repeat(np.arange(n, dtype=np.int64), lengths)
    pairs, tf = np.unique(flat * max(n, 1) + docs, return_counts=True)  # by term, then doc
    term_of, slot_of = (pairs // max(n, 1)).astype(np.int32), (pairs % max(n, 1)).astype(np.int32)
    starts = np.flatnonzero(np.diff(term_of, prepend=-1)) if len(term_of) else np.zeros(0, dtype=np.int64)
    by_doc = np.argsort(slot_of, kind="stable")  # terms stay ascending within a doc
    fwd_indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(slot_of, minlength=n), out=fwd_indptr[1:])
    return Segment(
        seg_id=seg_id,
        terms=term_of[starts],
        indptr=np.append(starts, len(term_of)).astype(np.int64),
        slots=slot_of,
        tfs=tf.astype(np.uint16 if not len(tf) or tf.max() < 2**16 else np.uint32),
        keys=np.asarray(keys, dtype=np.int64).copy(),
        positions=np.asarray(positions, dtype=np.int64).copy(),
        lengths=lengths.astype(np.int32),
        fwd_indptr=fwd_indptr,
        fwd_terms=term_of[by_doc],
        alive=np.ones(n, dtype=np.bool_),
    )


def merge(seg_id: int, segments: Sequence[Segment]) -> tuple[Segment, list[Int32Array]]:
    """One segment holding the live documents of `segments`, in order, and for each input
    the new slot of each of its slots (-1: dropped)."""
    remaps: list[Int32Array] = []
    offset = 0
    for seg in segments:
        new_slot = np.full(seg.size, -1, dtype=np.int32)
        live = np.flatnonzero(seg.alive)
        new_slot[live] = np.arange(offset, offset + len(live), dtype=np.int32)
        remaps.append(new_slot)
        offset += len(live)
    total = sum(seg.live_postings() for seg in segments)
    wide = any(seg.tfs.dtype == np.uint32 for seg in segments)
    terms_all = np.empty(total, dtype=np.int32)
    slots_all = np.empty(total, dtype=np.int32)
    tfs_all: TfArray = np.empty(total, dtype=np.uint32 if wide else np.uint16)
    fwd_indptr = np.zeros(offset + 1, dtype=np.int64)
    fwd_terms = np.empty(total, dtype=np.int32)
    at = fwd_at = row_at = 0
    for seg, new_slot in zip(segments, remaps, strict=True):
        at = keyword_kernels.expand_postings(
            seg.terms, seg.indptr, seg.slots, seg.tfs, seg.alive, new_slot, terms_all, slots_all, tfs_all, at
        )
        live = np.flatnonzero(seg.alive).astype(np.int64)
        fwd_at = keyword_kernels.gather_rows(
            seg.fwd_indptr, seg.fwd_terms, live, fwd_indptr, fwd_terms, row_at, fwd_at
        )
        row_at += len(live)
    n_terms = int(terms_all.max()) + 1 if total else 0
    full_indptr, slots, tfs = keyword_kernels.group_by_term(terms_all, slots_all, tfs_all, n_terms)
    del terms_all, slots_all, tfs_all
    terms = np.flatnonzero(np.diff(full_indptr)).astype(np.int32)
    indptr = np.append(full_indptr[terms], full_indptr[-1]).astype(np.int64)

    def kept(name: str) -> npt.NDArray[Any]:
        return np.concatenate(
            [getattr(seg, name)[seg.alive] for seg in segments] or [np.zeros(0, dtype=np.int64)]
        )

    return (
        Segment(
            seg_id=seg_id,
            terms=terms,
            indptr=indptr,
            slots=slots,
            tfs=tfs,
            keys=kept("keys").astype(np.int64),
            positions=kept("positions").astype(np.int64),
            lengths=kept("lengths").astype(np.int32),
            fwd_indptr=fwd_indptr,
            fwd_terms=fwd_terms,
            alive=np.ones(offset, dtype=np.bool_),
        ),
        remaps,
    )


def plan_merge(
    segments: Sequence[Segment], max_deltas: int, base_fraction: float, dead_fraction: float
) -> list[int] | None:
    """Ids of the segments worth merging now (a contiguous run), or None.

    All of them when the deltas hold `base_fraction` of the base's postings or the base has
    `dead_fraction` dead documents; the deltas alone when there are more than `max_deltas`.
    """
    if len(segments) < 2:
        return None
    base, deltas = segments[0], segments[1:]
    delta_postings = sum(s.postings for s in deltas)
    base_dead = 1 - base.alive.sum() / max(base.size, 1)
    if delta_postings >= base_fraction * base.postings or base_dead >= dead_fraction:
        return [s.seg_id for s in segments]
    if len(deltas) > max_deltas:
        return [s.seg_id for s in deltas]
    return None


# ------------------------------------------------------------------------ files


def write(path: Path, seg: Segment) -> int:
    """Write `seg` (less positions and alive, which are per process) durably; returns its checksum."""
    return array_file.write(path, {name: getattr(seg, name) for name in _ARRAYS}, {"seg_id": seg.seg_id})


def read(path: Path, checksum: int) -> Segment:
    """Read a segment file and check it against the checksum its manifest recorded.

    Raises:
        SegmentFileError: the file is missing, torn, or not the one the manifest names.
    """
    try:
        meta, arrays = array_file.read(path, checksum=checksum)
        n = len(arrays["keys"])
        return Segment(
            seg_id=int(meta["seg_id"]),
            positions=np.full(n, -1, dtype=np.int64),
            alive=np.ones(n, dtype=np.bool_),
            **{name: arrays[name] for name in _ARRAYS},
        )
    except array_file.ArrayFileError as exc:
        raise SegmentFileError(str(exc)) from exc
    except (KeyError, TypeError, ValueError) as exc:
        raise SegmentFileError(f"{path.name}: not a keyword segment ({exc})") from exc
