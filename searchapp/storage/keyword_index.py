"""An incremental BM25 index: writes touch only their own documents, statistics stay exact.

Documents live in immutable segments (`searchapp.storage.keyword_segments`) of raw term
frequencies: one large base and small deltas, one per write. A write builds a delta for
its new documents and marks removed ones dead in their segment; the corpus statistics
(document count, total length, each term's document frequency) are integers updated by
every add and remove, so they are always those of the live documents. A search computes
BM25 from tf, df and document length at query time, with Lucene's idf
ln(1 + (N - df + 0.5) / (df + 0.5)) and k1, b as given: the same weights, to the float32
bit, as a fresh `bm25s` index (method "lucene") of the live documents, summed in float64.

Deltas are merged (into one delta, or with the base) on a background thread, never inside
a search or a write; a search reads a snapshot of the segments taken in microseconds.

Persistence (`save`/`open`): segment files are written once, with a CRC; a manifest,
replaced atomically, lists them with the vocabulary's length and the generation. Each
document carries a persistent key (e.g. a SQLite row id that is never reused); at `open`
the caller passes the keys it holds, documents whose key is gone are dead, and the keys
no valid segment holds are returned so the caller can add them again from its rows. A
torn or altered file therefore costs re-adding its documents, never a wrong answer.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import threading
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from searchapp.storage import keyword_kernels
from searchapp.storage import keyword_segments as segments_io
from searchapp.storage.keyword_segments import IntArray, Segment, SegmentFileError

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float32]
BoolArray = npt.NDArray[np.bool_]

BM25_K1 = 1.2
BM25_B = 0.75
FORMAT = 1
MAX_DELTAS = 8  # more deltas than this: merge them
BASE_MERGE_FRACTION = 0.1  # deltas holding this share of the base's postings: merge all
DEAD_MERGE_FRACTION = 0.2  # a base with this share of dead documents: rewrite it
BUILD_BATCH = 50_000  # documents per segment when many are added at once
_NO_MASK = np.zeros(0, dtype=np.bool_)


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
        self._save_lock = threading.Lock()  # one save at a time
        self._merge_thread: threading.Thread | None = None
        self._merge_error: BaseException | None = None
        self._saved: dict[int, int] = {}  # segment id -> CRC of its file
        self._saved_terms = 0
        self._terms_bytes = 0
        self._terms_crc = 0

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
        document holds adds nothing (`searchapp.retrieval.fusion.bm25_ceiling`).
        """
        docs, dfs = self.document_frequencies(query_terms)
        return sum(math.log(1 + (docs - df + 0.5) / (df + 0.5)) for df in dfs if df > 0) if docs else 0.0

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
            df_delta -= np.bincount(_terms_of_slots(seg, slots), minlength=len(df_delta))
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
        empty = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        terms = [(t, df) for t, df in zip(wanted, dfs, strict=True) if df > 0]
        if not terms or k <= 0 or not docs:
            return empty
        avgdl = total / docs
        spans = [[seg.span(t) for seg in segs] for t, _ in terms]
        scores = np.zeros(capacity, dtype=np.float64)
        touched = np.empty(sum(e - s for row in spans for s, e in row), dtype=np.int64)
        n = 0
        use_mask = mask is not None
        for (_, df), row in zip(terms, spans, strict=True):
            idf = np.float32(math.log(1 + (docs - df + 0.5) / (df + 0.5)))
            for seg, (start, end) in zip(segs, row, strict=True):
                if end > start:
                    n = keyword_kernels.accumulate(
                        scores, touched, n, seg.slots, seg.tfs, start, end, seg.positions,
                        seg.lengths, seg.alive, mask if mask is not None else _NO_MASK, use_mask,
                        idf, self.k1, self.b, avgdl,
                    )  # fmt: skip
        found = touched[:n]
        values = scores[found].astype(np.float32)
        if len(values) > k:  # keep the k best and everything tied with the k-th, then order those
            kth = np.partition(values, len(values) - k)[len(values) - k]
            found, values = found[values >= kth], values[values >= kth]
        top = np.lexsort((found, -values))[:k]
        return found[top], values[top]

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
        """Ids of the segments worth merging now (a contiguous run), or None."""
        segs = self._segments
        if len(segs) < 2:
            return None
        base, deltas = segs[0], segs[1:]
        delta_postings = sum(s.postings for s in deltas)
        base_dead = 1 - base.alive.sum() / max(base.size, 1)
        if delta_postings >= BASE_MERGE_FRACTION * base.postings or base_dead >= DEAD_MERGE_FRACTION:
            return [s.seg_id for s in segs]
        if len(deltas) > MAX_DELTAS:
            return [s.seg_id for s in deltas]
        return None

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
        if self.directory is not None:
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
        """Write new segments, new terms and an atomically replaced manifest to `directory`.

        Only taking the snapshot holds the write lock; segments are immutable, so the (large)
        files are written while writes and searches go on.
        """
        if self.directory is None:
            raise ValueError("this keyword index has no directory to save to")
        directory = self.directory
        with self._save_lock:
            with self._write_lock:
                segs, generation, n_terms, next_seg = (
                    self._segments,
                    self._generation,
                    len(self._terms),
                    self._next_seg,
                )
            directory.mkdir(parents=True, exist_ok=True)
            entries = []
            for seg in segs:
                if seg.seg_id not in self._saved:
                    self._saved[seg.seg_id] = segments_io.write(directory / f"seg-{seg.seg_id}.bin", seg)
                entries.append({"id": seg.seg_id, "crc32": self._saved[seg.seg_id]})
            self._append_terms(directory / "terms.jsonl", n_terms)
            body = {
                "format": FORMAT,
                "generation": generation,
                "k1": self.k1,
                "b": self.b,
                "terms": self._saved_terms,
                "terms_bytes": self._terms_bytes,
                "terms_crc32": self._terms_crc,
                "next_segment": next_seg,
                "segments": entries,
            }
            text = json.dumps(body, sort_keys=True)
            partial = directory / "manifest.json.partial"
            with partial.open("w", encoding="utf-8") as out:
                out.write(json.dumps({"body": body, "crc32": zlib.crc32(text.encode())}))
                out.flush()
                os.fsync(out.fileno())
            partial.rename(directory / "manifest.json")
            _fsync_dir(directory)
            keep = {f"seg-{e['id']}.bin" for e in entries}
            for path in directory.glob("seg-*.bin"):
                if path.name not in keep:
                    path.unlink(missing_ok=True)
            self._saved = {e["id"]: e["crc32"] for e in entries}

    def _append_terms(self, path: Path, count: int) -> None:
        if count == self._saved_terms and path.exists():
            return
        data = "".join(json.dumps(t) + "\n" for t in self._terms[self._saved_terms : count]).encode()
        with path.open("ab") as out:
            out.truncate(self._terms_bytes)  # drop what a torn earlier append left
            out.seek(self._terms_bytes)
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        self._terms_crc = zlib.crc32(data, self._terms_crc)
        self._terms_bytes += len(data)
        self._saved_terms = count

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
        positions = np.asarray(positions, dtype=np.int64)
        keys = np.asarray(keys, dtype=np.int64)
        try:
            loaded = index._load(directory, k1, b) if (directory / "manifest.json").exists() else []
        except (OSError, ValueError, KeyError, TypeError, SegmentFileError) as exc:
            logger.warning("keyword index at %s not used (%s); it will be rebuilt", directory, exc)
            loaded = []
        order = np.argsort(keys, kind="stable")
        sorted_keys = keys[order]
        claimed = np.full(len(keys), -1, dtype=np.int64)  # which loaded segment holds each key
        slot_at = np.zeros(len(keys), dtype=np.int64)
        segs: list[Segment] = []
        for number, seg in enumerate(loaded):
            at = np.minimum(np.searchsorted(sorted_keys, seg.keys), max(len(keys) - 1, 0))
            found = (sorted_keys[at] == seg.keys) if len(keys) else np.zeros(seg.size, dtype=np.bool_)
            where = order[at]
            alive = found.copy()
            slots = np.flatnonzero(found)
            earlier = claimed[where[slots]]
            for prior in np.unique(earlier[earlier >= 0]):  # a key added again: the later copy wins
                again = where[slots][earlier == prior]
                segs[prior].alive[slot_at[again]] = False
            claimed[where[slots]] = number
            slot_at[where[slots]] = slots
            seg_positions = np.full(seg.size, -1, dtype=np.int64)
            seg_positions[slots] = positions[where[slots]]
            segs.append(
                Segment(
                    **{
                        **{f: getattr(seg, f) for f in Segment.__slots__},
                        "positions": seg_positions,
                        "alive": alive,
                    }
                )
            )
        index._adopt(segs)
        return index, positions[claimed < 0]

    def _load(self, directory: Path, k1: float, b: float) -> list[Segment]:
        manifest = json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
        body = manifest["body"]
        if zlib.crc32(json.dumps(body, sort_keys=True).encode()) != manifest["crc32"]:
            raise ValueError("manifest checksum mismatch")
        if body["format"] != FORMAT or body["k1"] != k1 or body["b"] != b:
            raise ValueError("saved with another format or BM25 parameters")
        with (directory / "terms.jsonl").open("rb") as terms_file:
            data = terms_file.read(body["terms_bytes"])
        if len(data) != body["terms_bytes"] or zlib.crc32(data) != body["terms_crc32"]:
            raise ValueError("terms file checksum mismatch")
        self._terms = [json.loads(line) for line in data.decode().splitlines()]
        if len(self._terms) != body["terms"]:
            raise ValueError(f"expected {body['terms']} terms, found {len(self._terms)}")
        self._vocab = {t: i for i, t in enumerate(self._terms)}
        self._saved_terms, self._terms_bytes, self._terms_crc = len(self._terms), len(data), zlib.crc32(data)
        self._next_seg = int(body["next_segment"])
        self._generation = str(body["generation"])
        loaded = []
        for entry in body["segments"]:
            try:
                loaded.append(segments_io.read(directory / f"seg-{entry['id']}.bin", int(entry["crc32"])))
                self._saved[int(entry["id"])] = int(entry["crc32"])
            except SegmentFileError as exc:
                logger.warning("keyword segment not used (%s); its documents will be re-added", exc)
        return loaded

    def _adopt(self, segs: list[Segment]) -> None:
        """Take loaded segments; recompute the statistics from their live documents."""
        df = np.zeros(max(len(self._terms), 1), dtype=np.int64)
        docs = total = 0
        top = max([int(s.positions.max()) for s in segs if s.size] + [-1])
        seg_of = np.full(max(top + 1, 1024), -1, dtype=np.int64)
        slot_of = np.full(max(top + 1, 1024), -1, dtype=np.int64)
        for seg in segs:
            df[seg.terms] += np.diff(seg.indptr)
            df -= np.bincount(_terms_of_slots(seg, np.flatnonzero(~seg.alive)), minlength=len(df))
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
        if save and self.directory is not None:
            self.save()


def _terms_of_slots(seg: Segment, slots: IntArray) -> npt.NDArray[np.int32]:
    """The distinct terms of each of `slots`, concatenated."""
    starts, ends = seg.fwd_indptr[slots], seg.fwd_indptr[np.asarray(slots) + 1]
    counts = ends - starts
    firsts = np.repeat(starts - (np.cumsum(counts) - counts), counts)
    return seg.fwd_terms[firsts + np.arange(int(counts.sum()))]


def _grown(array: IntArray, size: int, fill: int) -> IntArray:
    grown = np.full(max(size, 2 * len(array)), fill, dtype=array.dtype)
    grown[: len(array)] = array
    return grown


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
