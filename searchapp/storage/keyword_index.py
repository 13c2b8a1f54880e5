"""An incremental BM25 index: writes touch only their own documents, statistics stay exact.

Documents live in immutable segments (`searchapp.storage.keyword_segments`) of raw term
frequencies: one large base and small deltas, one per write. A write builds a delta for
its new documents and marks removed ones dead in their segment; the corpus statistics
(document count, total length, each term's document frequency) are integers updated by
every add and remove, so they are always those of the live documents. A search scores
them as Lucene's BM25 does (`searchapp.storage.bm25`).

Deltas are merged (into one delta, or with the base) on a background thread, never inside
a search or a write; a search reads a snapshot of the segments taken in microseconds.

Persistence (`save`/`open`): `searchapp.storage.keyword_files`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from searchapp.storage import keyword_segments as segments_io
from searchapp.storage.bm25 import Corpus, bm25_ceiling, top_k
from searchapp.storage.keyword_files import KeywordFiles, Snapshot, reconcile
from searchapp.storage.keyword_segments import IntArray, Segment, plan_merge

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float32]
BoolArray = npt.NDArray[np.bool_]

BM25_K1 = 1.2
BM25_B = 0.75
MAX_DELTAS = 8  # more deltas than this: merge them
BASE_MERGE_FRACTION = 0.1  # deltas holding this share of the base's postings: merge all
DEAD_MERGE_FRACTION = 0.2  # a base with this share of dead documents: rewrite it
BUILD_BATCH = 50_000  # documents per segment when many are added at once


class KeywordIndex:
    """BM25 over documents identified by the caller's integer positions.

    Thread-safe: searches run concurrently with each other, with writes and with merges;
    writes run one at a time.
    """

    def __init__(
        self,
        directory: Path | None = None,
        *,
        k1: float = BM25_K1,
        b: float = BM25_B,
        background: bool = True,
    ) -> None:
        self.directory = directory
        self.k1, self.b = k1, b
        self.background = background
        self._vocab: dict[str, int] = {}
        self._terms: list[str] = []
        self._df = np.zeros(1024, dtype=np.int64)
        self._docs = 0
        self._total = 0
        self._segments: tuple[Segment, ...] = ()
        self._seg_of = np.full(1024, -1, dtype=np.int64)  # segment id holding each position
        self._slot_of = np.full(1024, -1, dtype=np.int64)
        self._next_seg = 0
        self._generation = ""
        self._lock = threading.Lock()  # guards the snapshot that searches read
        self._write_lock = threading.RLock()  # one writer: apply, merge install
        self._merge_thread: threading.Thread | None = None
        self._merge_error: BaseException | None = None
        self._files = KeywordFiles(directory) if directory is not None else None

    # ------------------------------------------------------------------ state

    @property
    def generation(self) -> str:
        """The stamp of the last write applied (or of the snapshot opened)."""
        return self._generation

    @property
    def count(self) -> int:
        """Live documents."""
        return self._docs

    def stats(self) -> tuple[int, int, dict[str, int]]:
        """(documents, total length, document frequency of every term with df > 0)."""
        with self._lock:
            df = self._df[: len(self._terms)].copy()
            return self._docs, self._total, {t: int(df[i]) for i, t in enumerate(self._terms) if df[i]}

    def document_frequencies(self, terms: Sequence[str]) -> tuple[int, list[int]]:
        """(live documents, how many of them hold each term); 0 for a term no document holds."""
        slots = [self._vocab.get(t) for t in terms]
        with self._lock:
            return self._docs, [int(self._df[i]) if i is not None and i < len(self._df) else 0 for i in slots]

    def ceiling(self, query_terms: Sequence[str]) -> float:
        """The most any document could score for these terms: the sum of their idfs.

        Lucene's BM25 gives a term at most its idf (the tf part stays below 1); a term no
        document holds adds nothing (`bm25_ceiling`).
        """
        docs, dfs = self.document_frequencies(query_terms)
        return bm25_ceiling(dfs, docs)

    def segment_sizes(self) -> list[tuple[int, int]]:
        """(documents, live documents) per segment, base first."""
        return [(s.size, int(s.alive.sum())) for s in self._segments]

    # ----------------------------------------------------------------- writes

    def add(
        self,
        positions: Sequence[int] | IntArray,
        token_lists: Sequence[Sequence[str]],
        keys: IntArray | None = None,
    ) -> None:
        """Index `token_lists[i]` as position `positions[i]` (replacing what was there)."""
        self.apply(add_positions=positions, add_tokens=token_lists, add_keys=keys)

    def remove(self, positions: Sequence[int] | IntArray) -> None:
        """Forget these positions (those not indexed are ignored)."""
        self.apply(remove=positions)

    def apply(
        self,
        *,
        remove: Sequence[int] | IntArray = (),
        add_positions: Sequence[int] | IntArray = (),
        add_tokens: Sequence[Sequence[str]] = (),
        add_keys: IntArray | None = None,
        generation: str | None = None,
    ) -> None:
        """Remove, then add, as one change: a search sees all of it or none of it.

        `add_keys` are the persistent names of the added documents (default: their
        positions); `generation` stamps the result.
        """
        new_positions = np.asarray(add_positions, dtype=np.int64)
        if len(new_positions) != len(add_tokens):
            raise ValueError(
                f"expected one token list per position; got {len(add_tokens)} for {len(new_positions)}"
            )
        if len(np.unique(new_positions)) != len(new_positions) or (
            len(new_positions) and new_positions.min() < 0
        ):
            raise ValueError("positions to add must be distinct and non-negative")
        keys = new_positions if add_keys is None else np.asarray(add_keys, dtype=np.int64)
        if len(keys) != len(new_positions):
            raise ValueError(f"expected one key per position; got {len(keys)} for {len(new_positions)}")
        with self._write_lock:
            self._raise_merge_error()
            gone = np.union1d(np.asarray(remove, dtype=np.int64), new_positions)
            gone = gone[(gone >= 0) & (gone < len(self._seg_of))]
            gone = gone[self._seg_of[gone] >= 0]
            built = [
                segments_io.build(
                    self._new_seg_id(),
                    new_positions[i : i + BUILD_BATCH],
                    keys[i : i + BUILD_BATCH],
                    add_tokens[i : i + BUILD_BATCH],
                    self._vocab,
                    self._terms,
                )
                for i in range(0, len(new_positions), BUILD_BATCH)
            ]
            self._install(gone, built, generation)
        self._maybe_merge()

    def _new_seg_id(self) -> int:
        self._next_seg += 1
        return self._next_seg

    def _install(self, gone: IntArray, built: list[Segment], generation: str | None) -> None:
        """Swap in the new state: dead slots, new segments, exact statistics (writer only)."""
        by_id = {s.seg_id: s for s in self._segments}
        df_delta = np.zeros(len(self._terms), dtype=np.int64)
        docs, total = self._docs, self._total
        for seg_id in np.unique(self._seg_of[gone]):
            seg = by_id[int(seg_id)]
            slots = self._slot_of[gone[self._seg_of[gone] == seg_id]]
            df_delta -= np.bincount(seg.distinct_terms(slots), minlength=len(df_delta))
            docs -= len(slots)
            total -= int(seg.lengths[slots].sum())
            by_id[int(seg_id)] = seg.without(slots)
        top = max([int(s.positions.max()) for s in built if s.size] + [-1])
        for seg in built:
            df_delta[seg.terms] += np.diff(seg.indptr)
            docs += seg.size
            total += int(seg.lengths.sum())
        with self._lock:
            if len(self._df) < len(self._terms):
                self._df = _grown(self._df, len(self._terms), 0)
            if top >= len(self._seg_of):
                self._seg_of = _grown(self._seg_of, top + 1, -1)
                self._slot_of = _grown(self._slot_of, top + 1, -1)
            self._df[: len(df_delta)] += df_delta
            self._docs, self._total = docs, total
            self._segments = tuple(by_id[s.seg_id] for s in self._segments) + tuple(built)
            self._seg_of[gone] = -1
            self._slot_of[gone] = -1
            for seg in built:
                self._seg_of[seg.positions] = seg.seg_id
                self._slot_of[seg.positions] = np.arange(seg.size)
            if generation is not None:
                self._generation = generation

    def set_generation(self, generation: str) -> None:
        with self._write_lock, self._lock:
            self._generation = generation

    # ----------------------------------------------------------------- search

    def search(
        self, query_terms: Sequence[str], k: int, mask: BoolArray | None = None
    ) -> tuple[IntArray, FloatArray]:
        """Up to `k` (position, BM25 score) pairs with a positive score, best first; ties go to
        the lower position. `mask[p]` says whether position p may come back (positions past
        its end may not); None admits all."""
        wanted = [i for i in (self._vocab.get(t) for t in query_terms) if i is not None]
        with self._lock:
            segs, docs, total, capacity = self._segments, self._docs, self._total, len(self._seg_of)
            dfs = [int(self._df[i]) if i < len(self._df) else 0 for i in wanted]
        terms = [(t, df) for t, df in zip(wanted, dfs, strict=True) if df > 0]
        stats = Corpus(docs, total, capacity, self.k1, self.b)
        return top_k(segs, terms, stats, k, mask)

    def holding(self, query_terms: Sequence[str]) -> IntArray:
        """The positions (sorted) of the live documents that hold any of these terms."""
        wanted = [i for i in (self._vocab.get(t) for t in query_terms) if i is not None]
        with self._lock:
            segs = self._segments
        found = [np.zeros(0, dtype=np.int64)]
        for seg in segs:
            for term in wanted:
                start, end = seg.span(term)
                slots = seg.slots[start:end]
                found.append(seg.positions[slots[seg.alive[slots]]])
        return np.unique(np.concatenate(found))

    # ----------------------------------------------------------------- merges

    def _maybe_merge(self) -> None:
        plan = self._plan()
        if plan is None:
            return
        if not self.background:
            self._merge(plan)
            return
        with self._write_lock:
            if self._merge_thread is not None and self._merge_thread.is_alive():
                return
            self._merge_thread = threading.Thread(
                target=self._merge_safely, name="keyword-merge", daemon=True
            )
            self._merge_thread.start()

    def _plan(self) -> list[int] | None:
        return plan_merge(self._segments, MAX_DELTAS, BASE_MERGE_FRACTION, DEAD_MERGE_FRACTION)

    def _merge_safely(self) -> None:
        try:
            while (plan := self._plan()) is not None:
                self._merge(plan)
        except BaseException as exc:  # surfaced by the next write
            logger.exception("keyword index merge failed")
            self._merge_error = exc

    def _raise_merge_error(self) -> None:
        if self._merge_error is not None:
            error, self._merge_error = self._merge_error, None
            raise RuntimeError("a background merge of the keyword index failed") from error

    def _merge(self, plan: list[int]) -> None:
        """Merge the segments `plan` names (no lock held while merging), then swap it in."""
        with self._lock:
            chosen = [s for s in self._segments if s.seg_id in plan]
        with self._write_lock:
            seg_id = self._new_seg_id()
        merged, remaps = segments_io.merge(seg_id, chosen)
        with self._write_lock:
            current = {s.seg_id: s for s in self._segments}
            died = [
                remap[np.flatnonzero(before.alive & ~current[before.seg_id].alive)]
                for before, remap in zip(chosen, remaps, strict=True)
            ]
            dead = np.concatenate(died) if died else np.zeros(0, dtype=np.int32)
            if len(dead):
                merged = merged.without(dead.astype(np.int64))
            live = np.flatnonzero(merged.alive)
            ids = [s.seg_id for s in self._segments]
            first = ids.index(plan[0])
            with self._lock:
                self._segments = (*self._segments[:first], merged, *self._segments[first + len(plan) :])
                self._seg_of[merged.positions[live]] = seg_id
                self._slot_of[merged.positions[live]] = live
        if self._files is not None:
            self.save()

    def flush(self) -> None:
        """Wait for background merges (tests and shutdown)."""
        thread = self._merge_thread
        if thread is not None:
            thread.join()
        self._raise_merge_error()

    def merge_all(self) -> None:
        """Merge every segment into one now (bulk loads; never needed for correctness)."""
        self.flush()
        if len(self._segments) > 1:
            self._merge([s.seg_id for s in self._segments])

    # ------------------------------------------------------------ persistence

    def save(self) -> None:
        """Write what is new to `directory` (`searchapp.storage.keyword_files`).

        Only taking the snapshot holds the write lock; segments are immutable, so the (large)
        files are written while writes and searches go on.
        """
        if self._files is None:
            raise ValueError("this keyword index has no directory to save to")
        with self._write_lock:
            snapshot = Snapshot(
                segments=self._segments,
                terms=self._terms,
                term_count=len(self._terms),
                generation=self._generation,
                next_segment=self._next_seg,
                k1=self.k1,
                b=self.b,
            )
        self._files.save(snapshot)

    @classmethod
    def open(
        cls,
        directory: Path,
        positions: IntArray,
        keys: IntArray,
        *,
        k1: float = BM25_K1,
        b: float = BM25_B,
        background: bool = True,
    ) -> tuple[KeywordIndex, IntArray]:
        """The saved index for the documents the caller holds: `keys[i]` at `positions[i]`.

        Returns the index and the positions it does not hold (new since the save, or in
        a segment file that failed its check): add those from their tokens.
        """
        index = cls(directory, k1=k1, b=b, background=background)
        assert index._files is not None
        saved = index._files.load(k1, b)
        if saved is not None:
            index._terms = saved.terms
            index._vocab = {t: i for i, t in enumerate(saved.terms)}
            index._next_seg, index._generation = saved.next_segment, saved.generation
        segs, missing = reconcile(
            saved.segments if saved else [],
            np.asarray(positions, dtype=np.int64),
            np.asarray(keys, dtype=np.int64),
        )
        index._adopt(segs)
        return index, missing

    def _adopt(self, segs: list[Segment]) -> None:
        """Take loaded segments; recompute the statistics from their live documents."""
        df = np.zeros(max(len(self._terms), 1), dtype=np.int64)
        docs = total = 0
        top = max([int(s.positions.max()) for s in segs if s.size] + [-1])
        seg_of = np.full(max(top + 1, 1024), -1, dtype=np.int64)
        slot_of = np.full(max(top + 1, 1024), -1, dtype=np.int64)
        for seg in segs:
            df[seg.terms] += np.diff(seg.indptr)
            df -= np.bincount(seg.distinct_terms(np.flatnonzero(~seg.alive)), minlength=len(df))
            live = np.flatnonzero(seg.alive)
            docs += len(live)
            total += int(seg.lengths[live].sum())
            seg_of[seg.positions[live]] = seg.seg_id
            slot_of[seg.positions[live]] = live
        with self._lock:
            self._df, self._docs, self._total = df, docs, total
            self._segments = tuple(segs)
            self._seg_of, self._slot_of = seg_of, slot_of

    def close(self, *, save: bool = True) -> None:
        self.flush()
        if save and self._files is not None:
            self.save()


def _grown(array: IntArray, size: int, fill: int) -> IntArray:
    grown = np.full(max(size, 2 * len(array)), fill, dtype=array.dtype)
    grown[: len(array)] = array
    return grown
