"""The chunks of one collection as the search layer sees them: score by vector, by terms, read.

Behind this interface are two stores. Chroma is the system of record (every chunk, its
vector, text and metadata; its HNSW index answers unfiltered vector queries). The local
index is derived from it: filters as arrays, BM25, and in local mode a copy of the
vectors for an exact scan of the rows a filter admits (faster than Chroma's metadata
filter, and equal to brute force). Which of the two answers depends on the mode and the
filter; callers see chunk ids and scores only, never row positions.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from searchapp.filters import SearchFilters
from searchapp.storage.chroma import ChromaStore
from searchapp.storage.local_index import LocalIndex

Scored = list[tuple[str, float]]  # (chunk id, score), best first
IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float32]
Ranked = Callable[[int, "npt.NDArray[np.bool_] | None"], tuple[IntArray, FloatArray]]  # (k, mask) -> top k


# "Text contains": a needle estimated in at least MIN_SHARE of the chunks may be checked on
# the best-ranked rows of the other filters instead of being listed by the trigram index,
# when checking n texts costs less than listing its rows: n * CHECK_COST <= rows holding it
# (x SHORT_NEEDLE_COST for 1-2 characters, listed through many trigrams). Measured on
# bench_contains.py at 100k chunks: a text checked costs about 25 listed rows.
MIN_SHARE = 0.01
CHECK_COST = 25
SHORT_NEEDLE_COST = 4


@dataclass(frozen=True, slots=True)
class Selection:
    """A filter resolved once, so that several lists of one query share the work.

    With `needle`, `mask` holds the other filters only, and a ranked list keeps the rows
    whose text contains the needle (`ChunkIndex._checked`): for a needle most rows hold,
    checking the first few hundred ranked rows is far cheaper than listing them all.
    `everything`: the other filters admit every row, so dense candidates may come from
    Chroma's HNSW index, as for a query without filters.
    """

    filters: SearchFilters
    mask: npt.NDArray[np.bool_] | None = field(default=None, repr=False, compare=False)  # None: no filter
    needle: str = ""
    share: float = 1.0  # the needle's estimated share of the rows
    everything: bool = False
    _index_mask: list[npt.NDArray[np.bool_]] = field(default_factory=list, repr=False, compare=False)


class ChunkIndex:
    """Dense and keyword candidates, cosines and passages, by chunk id."""

    def __init__(self, store: ChromaStore, local: LocalIndex) -> None:
        self._store = store
        self._local = local

    def select(self, filters: SearchFilters) -> Selection:
        """Resolve `filters` to the rows they admit (nothing to resolve when empty)."""
        if filters.is_empty:
            return Selection(filters)
        needle = filters.text_contains or ""
        # Local mode only: with a server, dense candidates come from Chroma's own filter.
        if needle.casefold() and self._local.mirror_vectors:
            share = self._local.contains_share(needle)
            if share >= MIN_SHARE:
                others = dataclasses.replace(filters, text_contains="")
                mask = self._local.mask(others)
                return Selection(filters, mask, needle, share, everything=others.is_empty)
        return Selection(filters, self._local.mask(filters))

    def dense(self, vector: npt.NDArray[np.float32], k: int, selection: Selection) -> Scored:
        """The `k` chunks nearest to `vector` by cosine similarity, among those selected."""
        if self._local.mirror_vectors and selection.mask is not None:
            admitted = selection.mask

            def ranked(n: int, mask: npt.NDArray[np.bool_] | None) -> tuple[IntArray, FloatArray]:
                if mask is None and selection.everything:
                    return self._nearest(vector, n)
                return self._local.dense_search(vector, n, admitted if mask is None else mask)

            positions, scores = self._checked(ranked, k, selection)
            pairs = zip(self._local.ids_at(list(positions)), (float(s) for s in scores), strict=True)
            return [(cid, score) for cid, score in pairs if cid]
        filters = selection.filters
        ids, distances = self._store.query_ids(
            vector, k, where=filters.to_where(), where_document=filters.to_where_document()
        )
        return [(cid, 1.0 - distance) for cid, distance in zip(ids, distances, strict=True)]

    def _nearest(self, vector: npt.NDArray[np.float32], n: int) -> tuple[IntArray, FloatArray]:
        """Chroma's HNSW top n, as local positions (what an unfiltered dense query uses)."""
        ids, distances = self._store.query_ids(vector, n)
        found = [
            (p, 1.0 - d)
            for p, d in zip(self._local.positions_of(ids), distances, strict=True)
            if p is not None
        ]
        return np.array([p for p, _ in found], dtype=np.int64), np.array(
            [s for _, s in found], dtype=np.float32
        )

    def keyword(self, terms: Sequence[str], k: int, selection: Selection) -> Scored:
        """The `k` best chunks for these terms by BM25 (only chunks that hold one of them)."""
        positions, scores = self._checked(
            lambda n, mask: self._local.keyword_search(terms, n, selection.mask if mask is None else mask),
            k,
            selection,
        )
        pairs = zip(self._local.ids_at(list(positions)), (float(s) for s in scores), strict=True)
        return [(cid, score) for cid, score in pairs if cid]

    def _checked(self, ranked: Ranked, k: int, selection: Selection) -> tuple[IntArray, FloatArray]:
        """`ranked(k, None)` (None: the selection's own rows); with a needle, the best `k`
        ranked rows that contain it.

        The top n of the other filters' rows are ranked and checked, n from about
        1.5 k / share and growing fourfold until k rows pass or none are left: the rows
        that pass are exactly the top k of the needle's rows too, since every row ranked
        above the last one checked was checked. When checking would cost more than the
        index's list (`CHECK_COST`), or the needle is far rarer among these rows than in
        the sample, the trigram index lists the needle's rows instead.
        """
        if not selection.needle or selection.mask is None:
            return ranked(k, None)
        admitted = int(np.count_nonzero(selection.mask))
        n = min(admitted, int(1.5 * k / max(selection.share, 1e-3)) + 32)
        listed = selection.share * self._local.count  # what the index would list
        if len(selection.needle.casefold()) < 3:
            listed *= SHORT_NEEDLE_COST
        rounds = 3 if n * CHECK_COST <= listed else 0
        for _ in range(rounds):
            positions, scores = ranked(n, None)
            keep = self._local.containing(positions, selection.needle)
            if int(keep.sum()) >= k or len(positions) < n or n >= admitted:
                return positions[keep][:k], scores[keep][:k]
            n = min(admitted, n * 4)
        if not selection._index_mask:  # once per query, shared by its lists
            selection._index_mask.append(self._local.mask(selection.filters))
        return ranked(k, selection._index_mask[0])

    def keyword_ceiling(self, terms: Sequence[str]) -> float:
        """The most any chunk could score in BM25 for these terms (the sum of their IDFs)."""
        return self._local.keyword_ceiling(terms)

    def passage(self, chunk_id: str) -> tuple[str, npt.NDArray[np.float32]] | None:
        """A stored chunk's text and its own stored vector (None: no such chunk)."""
        result = self._store.get_chunks(ids=[chunk_id], include_embeddings=True)
        if not result["ids"]:
            return None
        text = str((result["documents"] or [""])[0])
        return text, np.asarray(result["embeddings"][0], dtype=np.float32)

    def cosines(self, chunk_ids: Sequence[str], vector: npt.NDArray[np.float32]) -> list[float]:
        """The cosine similarity of `vector` and each chunk (0.0 for a chunk that is gone)."""
        if not chunk_ids:
            return []
        if self._local.mirror_vectors:
            positions = self._local.positions_of(chunk_ids)
            if all(p is not None for p in positions):
                scores = self._local.cosine(np.asarray(positions, dtype=np.int64), vector)
                return [float(s) for s in scores]
        result: dict[str, Any] = self._store.get_chunks(ids=list(chunk_ids), include_embeddings=True)
        vectors = {
            cid: np.asarray(v, dtype=np.float32)
            for cid, v in zip(result["ids"], result["embeddings"], strict=True)
        }
        return [float(vectors[cid] @ vector) if cid in vectors else 0.0 for cid in chunk_ids]

    def read(self, chunk_ids: Sequence[str]) -> dict[str, tuple[str, dict[str, Any]]]:
        """Text and metadata by chunk id: from the local index, else (server mode) from Chroma.

        A chunk deleted a moment ago (by another client of a server) is simply absent.
        """
        positions = self._local.positions_of(chunk_ids)
        known = [p for p in positions if p is not None]
        found = {c.chunk_id: (c.text, c.metadata) for c in self._local.chunks(known)}
        missing = [cid for cid in chunk_ids if cid not in found]
        if missing:
            result = self._store.get_chunks(ids=missing)
            for cid, text, meta in zip(
                result["ids"], result["documents"] or [], result["metadatas"] or [], strict=True
            ):
                found[cid] = (text, dict(meta or {}))
        return found
