"""A keyword index on disk: segment files, an append-only terms file and a manifest.

    <directory>/seg-<id>.bin     one immutable segment each (`searchapp.storage.array_file`)
    <directory>/terms.jsonl      the vocabulary, one JSON string a line, only ever appended
    <directory>/manifest.json    replaced atomically: the segments (with each file's
                                 checksum), the vocabulary's length, size and CRC, the
                                 BM25 parameters, the generation

Segment files are written once; a save writes only the segments and terms that are new,
then the manifest. Each document carries a persistent key (e.g. a SQLite row id that is
never reused); at open the caller passes the keys it holds, documents whose key is gone
are dead, and the keys no valid segment holds are returned so the caller can add them
again from its rows. A torn or altered file therefore costs re-adding its documents,
never a wrong answer.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from searchapp.storage import keyword_segments
from searchapp.storage.atomic import fsync_directory, write_atomically
from searchapp.storage.keyword_segments import IntArray, Segment, SegmentFileError

logger = logging.getLogger(__name__)

FORMAT = 2  # 2: segments are array files


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What a save writes: taken under the index's write lock in microseconds."""

    segments: tuple[Segment, ...]
    terms: list[str]  # the vocabulary; only its first `term_count` entries are saved
    term_count: int
    generation: str
    next_segment: int
    k1: float
    b: float


@dataclass(frozen=True, slots=True)
class Saved:
    """What an open read: the vocabulary, the valid segments, the counters to go on from."""

    terms: list[str]
    segments: list[Segment]
    generation: str
    next_segment: int


class KeywordFiles:
    """The files of one keyword index, and what of it was saved already. One save at a time."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._lock = threading.Lock()
        self._saved: dict[int, int] = {}  # segment id -> checksum of its file
        self._saved_terms = 0
        self._terms_bytes = 0
        self._terms_crc = 0

    def save(self, snapshot: Snapshot) -> None:
        """Write new segments, new terms and an atomically replaced manifest."""
        directory = self.directory
        with self._lock:
            directory.mkdir(parents=True, exist_ok=True)
            entries = []
            for seg in snapshot.segments:
                if seg.seg_id not in self._saved:
                    path = directory / f"seg-{seg.seg_id}.bin"
                    self._saved[seg.seg_id] = keyword_segments.write(path, seg)
                entries.append({"id": seg.seg_id, "crc32": self._saved[seg.seg_id]})
            self._append_terms(snapshot.terms, snapshot.term_count)
            body = {
                "format": FORMAT,
                "generation": snapshot.generation,
                "k1": snapshot.k1,
                "b": snapshot.b,
                "terms": self._saved_terms,
                "terms_bytes": self._terms_bytes,
                "terms_crc32": self._terms_crc,
                "next_segment": snapshot.next_segment,
                "segments": entries,
            }
            text = json.dumps(body, sort_keys=True)
            manifest = {"body": body, "crc32": zlib.crc32(text.encode())}
            write_atomically(directory / "manifest.json", json.dumps(manifest).encode())
            keep = {f"seg-{e['id']}.bin" for e in entries}
            for path in directory.glob("seg-*.bin"):
                if path.name not in keep:
                    path.unlink(missing_ok=True)
            self._saved = {e["id"]: e["crc32"] for e in entries}

    def _append_terms(self, terms: Sequence[str], count: int) -> None:
        path = self.directory / "terms.jsonl"
        if count == self._saved_terms and path.exists():
            return
        data = "".join(json.dumps(t) + "\n" for t in terms[self._saved_terms : count]).encode()
        with path.open("ab") as out:
            out.truncate(self._terms_bytes)  # drop what a torn earlier append left
            out.seek(self._terms_bytes)
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        fsync_directory(self.directory)
        self._terms_crc = zlib.crc32(data, self._terms_crc)
        self._terms_bytes += len(data)
        self._saved_terms = count

    def load(self, k1: float, b: float) -> Saved | None:
        """What was saved with these BM25 parameters (None: nothing usable).

        A segment file that fails its check is left out (its documents are re-added).
        """
        if not (self.directory / "manifest.json").exists():
            return None
        try:
            return self._load(k1, b)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            logger.warning("keyword index at %s not used (%s); it will be rebuilt", self.directory, exc)
            self._saved, self._saved_terms, self._terms_bytes, self._terms_crc = {}, 0, 0, 0
            return None

    def _load(self, k1: float, b: float) -> Saved:
        manifest = json.loads((self.directory / "manifest.json").read_text(encoding="utf-8"))
        body: dict[str, Any] = manifest["body"]
        if zlib.crc32(json.dumps(body, sort_keys=True).encode()) != manifest["crc32"]:
            raise ValueError("manifest checksum mismatch")
        if body["format"] != FORMAT or body["k1"] != k1 or body["b"] != b:
            raise ValueError("saved with another format or BM25 parameters")
        with (self.directory / "terms.jsonl").open("rb") as terms_file:
            data = terms_file.read(body["terms_bytes"])
        if len(data) != body["terms_bytes"] or zlib.crc32(data) != body["terms_crc32"]:
            raise ValueError("terms file checksum mismatch")
        terms = [json.loads(line) for line in data.decode().splitlines()]
        if len(terms) != body["terms"]:
            raise ValueError(f"expected {body['terms']} terms, found {len(terms)}")
        self._saved_terms, self._terms_bytes, self._terms_crc = len(terms), len(data), zlib.crc32(data)
        segments = []
        for entry in body["segments"]:
            path = self.directory / f"seg-{entry['id']}.bin"
            try:
                segments.append(keyword_segments.read(path, int(entry["crc32"])))
                self._saved[int(entry["id"])] = int(entry["crc32"])
            except SegmentFileError as exc:
                logger.warning("keyword segment not used (%s); its documents will be re-added", exc)
        return Saved(terms, segments, str(body["generation"]), int(body["next_segment"]))


def reconcile(
    loaded: Sequence[Segment], positions: IntArray, keys: IntArray
) -> tuple[list[Segment], IntArray]:
    """The loaded segments placed at the caller's positions (`keys[i]` is at `positions[i]`),
    and the positions no segment holds.

    A document whose key the caller no longer holds is dead; a key two segments hold lives
    in the later one (it was added again).
    """
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    claimed = np.full(len(keys), -1, dtype=np.int64)  # which loaded segment holds each key
    slot_at = np.zeros(len(keys), dtype=np.int64)
    segs: list[Segment] = []
    for number, seg in enumerate(loaded):
        at = np.minimum(np.searchsorted(sorted_keys, seg.keys), max(len(keys) - 1, 0))
        found = (sorted_keys[at] == seg.keys) if len(keys) else np.zeros(seg.size, dtype=np.bool_)
        where = order[at] if len(keys) else np.zeros(seg.size, dtype=np.int64)  # none held: all dead
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
        fields = {f: getattr(seg, f) for f in Segment.__slots__}
        segs.append(Segment(**{**fields, "positions": seg_positions, "alive": alive}))
    return segs, positions[claimed < 0]
