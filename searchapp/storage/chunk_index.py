"""The chunks of one collection as the search layer sees them: candidates for a request, then passages.

A query asks two things of storage: `candidates` (both ranked lists a request's mode
needs, with their cosines and BM25 scores and the query's BM25 ceiling, among the rows
its filters, phrases and exclusions admit) and, once ranked, `read` (the text, metadata
and cosine of the few passages shown).

Behind this interface are two stores. Chroma is the system of record (every chunk, its
vector, text and metadata; its HNSW index answers unfiltered vector queries). The local
index is derived from it: filters as arrays, BM25, and in local mode a copy of the
vectors for an exact scan of the rows a filter admits (faster than Chroma's metadata
filter, and equal to brute force). Filters, phrases and exclusions become one row mask,
so every list holds only admitted rows and still holds as many as asked for; a "text
contains" or phrase that most rows hold is checked on each list's best rows instead
(`searchapp.storage.contains_ranked`), with the same answers. Callers see chunk ids and
scores only, never row positions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from searchapp.request import PreparedQuery, SearchRequest
from searchapp.storage import contains_ranked
from searchapp.storage.chroma import ChromaStore
from searchapp.storage.local_index import LocalIndex

Scored = list[tuple[str, float]]  # (chunk id, score), best first
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float32]
# The lists each mode ranks by: (dense, keyword); a mode not named here fuses both.
_LISTS = {"dense": (True, False), "keyword": (False, True)}
# Up to this many passages a local library scores every unfiltered dense query exactly
# (the int8 first pass: about 25 ms at 300k on 2 cores, docs/benchmarks.md); above, HNSW.
EXACT_UNFILTERED_ROWS = 300_000


@dataclass(frozen=True, slots=True)
class Candidates:
    """What storage holds for one request, before ranking.

    `dense` is (chunk id, cosine) and `keyword` (chunk id, BM25), each best first and at
    most the depth asked for (empty where the mode does not use the list); `ceiling` is
    the most any passage could score in BM25 for the query's terms; `documents` is how
    many documents the filters admit, counted for grouped requests only (else 0), and
    where needles are checked on ranked rows only until it reaches the request's `k`.
    """

    dense: Scored
    keyword: Scored
    ceiling: float
    documents: int


@dataclass(frozen=True, slots=True)
class Passage:
    """A stored chunk as a hit shows it: its text, metadata and cosine similarity to the query."""

    text: str
    metadata: dict[str, Any]
    cosine: float


class ChunkIndex:
    """Candidates and passages by chunk id, for the search layer."""

    def __init__(self, store: ChromaStore, local: LocalIndex) -> None:
        self._store = store
        self._local = local

    def candidates(self, request: SearchRequest, query: PreparedQuery, depth: int) -> Candidates:
        """The lists `request.mode` ranks by, `depth` candidates each, among the admitted rows."""
        use_dense, use_keyword = _LISTS.get(request.mode or "", (True, True))
        base, mask, check = self._admitted(request, query)
        dense = self._dense(request, query.vector, depth, base, mask, check) if use_dense else []
        keyword: Scored = []
        ceiling = 0.0
        if use_keyword:
            terms = query.terms
            if check is None:
                keyword = self._at(*self._local.keyword_search(terms, depth, mask))
            else:
                keyword = self._at(
                    *check.top(lambda n, rows: self._local.keyword_search(terms, n, rows), depth)
                )
            ceiling = self._local.keyword_ceiling(terms) if terms else 0.0
        documents = 0
        if request.group:
            documents = self._local.documents_in(mask) if check is None else check.documents(request.k)
        return Candidates(dense, keyword, ceiling, documents)

    def _admitted(
        self, request: SearchRequest, query: PreparedQuery
    ) -> tuple[BoolArray | None, BoolArray | None, contains_ranked.Check | None]:
        """The rows the request admits: the mask of its filters and phrases (None: every
        row), the same less its exclusions, and the needles left to check on ranked rows
        (`searchapp.storage.contains_ranked`: in local mode, those most rows hold)."""
        parsed = request.parsed
        needles = (request.scope.text_contains, *parsed.phrases)
        later = contains_ranked.common(self._local, needles) if self._local.mirror_vectors else ()
        now = [n for n in needles if n not in later]
        scope = replace(request.scope, text_contains="")
        excluding = bool(query.exclude_terms or parsed.exclude_phrases)
        base = None
        if not scope.is_empty or excluding or any(n.casefold() for n in now):
            base = self._local.mask(scope, contains=now)
        mask = base
        if base is not None and excluding:
            mask = self._local.without(base, terms=query.exclude_terms, texts=parsed.exclude_phrases)
        return base, mask, contains_ranked.Check(self._local, later, mask) if later else None

    def _dense(
        self,
        request: SearchRequest,
        vector: npt.NDArray[np.float32],
        depth: int,
        base: BoolArray | None,
        mask: BoolArray | None,
        check: contains_ranked.Check | None,
    ) -> Scored:
        """The `depth` admitted chunks nearest to `vector` by cosine similarity."""
        if check is not None:

            def ranked(n: int, rows: BoolArray | None) -> tuple[IntArray, FloatArray]:
                if rows is None and not self._exact_unfiltered():
                    return self._nearest(vector, n)  # no other filter: as a query without filters
                return self._local.dense_search(vector, n, rows)

            return self._at(*check.top(ranked, depth))
        if self._local.mirror_vectors and (mask is not None or self._exact_unfiltered()):
            return self._at(*self._local.dense_search(vector, depth, mask))
        # Chroma's own filter takes the metadata filters, "text contains" and the phrases;
        # exclusions it cannot express are dropped after asking for as many more as they remove.
        dropped = int(base.sum() - mask.sum()) if base is not None and mask is not None else 0
        ids, distances = self._store.query_ids(
            vector,
            depth + dropped,
            where=request.scope.to_where(),
            where_document=request.scope.to_where_document(contains=request.parsed.phrases),
        )
        found = [(cid, 1.0 - distance) for cid, distance in zip(ids, distances, strict=True)]
        if dropped and mask is not None:
            positions = self._local.positions_of([cid for cid, _ in found])
            # A row this process has not loaded yet (another client's write) cannot be checked.
            found = [
                pair
                for pair, p in zip(found, positions, strict=True)
                if p is None or p >= len(mask) or mask[p]
            ]
        return found[:depth]

    def _exact_unfiltered(self) -> bool:
        """Whether a query without filters is scored exactly too (local mode, up to
        `EXACT_UNFILTERED_ROWS`): HNSW misses true neighbours where many passages are near
        copies of each other (docs/benchmarks.md), and at this size the exact scan is as fast."""
        return self._local.mirror_vectors and self._local.count <= EXACT_UNFILTERED_ROWS

    def _nearest(self, vector: npt.NDArray[np.float32], n: int) -> tuple[IntArray, FloatArray]:
        """Chroma's HNSW top `n` as local positions (what an unfiltered dense query uses)."""
        ids, distances = self._store.query_ids(vector, n)
        found = [
            (p, 1.0 - d)
            for p, d in zip(self._local.positions_of(ids), distances, strict=True)
            if p is not None
        ]
        return (
            np.array([p for p, _ in found], dtype=np.int64),
            np.array([s for _, s in found], dtype=np.float32),
        )

    def _at(self, positions: IntArray, scores: FloatArray) -> Scored:
        pairs = zip(self._local.ids_at(list(positions)), (float(s) for s in scores), strict=True)
        return [(cid, score) for cid, score in pairs if cid]  # "": renumbered by a rebuild

    def passage(self, chunk_id: str) -> tuple[str, npt.NDArray[np.float32]] | None:
        """A stored chunk's text and its own stored vector (None: no such chunk)."""
        result = self._store.get_chunks(ids=[chunk_id], include_embeddings=True)
        if not result["ids"]:
            return None
        text = str((result["documents"] or [""])[0])
        return text, np.asarray(result["embeddings"][0], dtype=np.float32)

    def read(
        self, chunk_ids: Sequence[str], vector: npt.NDArray[np.float32], cosines: Mapping[str, float]
    ) -> dict[str, Passage]:
        """The passages by chunk id, each with its cosine to `vector` (from `cosines` where known).

        Text and metadata come from the local index, else (server mode) from Chroma, as do
        the vectors of cosines not known. A chunk deleted a moment ago (by another client
        of a server) is simply absent.
        """
        positions = self._local.positions_of(chunk_ids)
        local = [(cid, p) for cid, p in zip(chunk_ids, positions, strict=True) if p is not None]
        found = {c.chunk_id: (c.text, dict(c.metadata)) for c in self._local.chunks([p for _, p in local])}
        known = dict(cosines)
        if self._local.mirror_vectors:
            todo = [(cid, p) for cid, p in local if cid not in known and cid in found]
            scores = self._local.cosine(np.asarray([p for _, p in todo], dtype=np.int64), vector)
            known.update(zip([cid for cid, _ in todo], (float(s) for s in scores), strict=True))
        missing = [cid for cid in chunk_ids if cid not in found or cid not in known]
        if missing:
            result = self._store.get_chunks(ids=missing, include_embeddings=True)
            for cid, text, meta, stored in zip(
                result["ids"],
                result["documents"] or [],
                result["metadatas"] or [],
                result["embeddings"],
                strict=True,
            ):
                found.setdefault(cid, (text, dict(meta or {})))
                known.setdefault(cid, float(np.asarray(stored, dtype=np.float32) @ vector))
        passages: dict[str, Passage] = {}
        for cid in chunk_ids:
            if cid in found:
                text, metadata = found[cid]
                passages[cid] = Passage(text, metadata, known.get(cid, 0.0))
        return passages
