"""A local, derived copy of one collection: exact filtered search and BM25.

Chroma stays the source of truth. Beside it, in ``<data_dir>/indexes/<collection>/``,
this index keeps what Chroma cannot do fast (or at all, in local mode):

- **filters as arrays**: document, type, tags and dates per document, pages per chunk,
  so a filter becomes a boolean mask in microseconds instead of a 60-110 ms metadata
  scan at 100k chunks;
- **the vectors** (local mode), and an int8 copy of them, so a filtered query is an
  exact scan of the rows the filter admits (`searchapp.storage.exact_scan`): a filtered top-k
  equals brute force;
- **BM25** over the same chunks, for keyword and hybrid retrieval.

It is kept in step with Chroma by the same writes (`Library` applies every change to
both), persisted in SQLite (atomic, incremental), and stamped with a *generation*
token that every write also records in the Chroma collection's metadata. If the two
stamps differ (a crash between the two writes, or another client of a Chroma server),
the index is rebuilt from Chroma.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from searchapp.filters import SearchFilters
from searchapp.storage import exact_scan
from searchapp.storage.exact_scan import exact_top_k, matvec, top_k
from searchapp.storage.keyword_index import KeywordIndex
from searchapp.storage.local_columns import Columns, Documents, page_of
from searchapp.storage.terms import keyword_tokens

logger = logging.getLogger(__name__)

SCHEMA = 1
_REBUILD_PAGE = 2000

_DDL = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS chunks (
    row INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    doc_id TEXT NOT NULL,
    text TEXT NOT NULL,
    metadata TEXT NOT NULL,
    tokens TEXT NOT NULL,
    vector BLOB
);
CREATE INDEX IF NOT EXISTS chunks_doc ON chunks (doc_id);
"""
_INSERT = (
    "INSERT OR REPLACE INTO chunks (id, doc_id, text, metadata, tokens, vector) VALUES (?, ?, ?, ?, ?, ?)"
)

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class StoredChunk:
    chunk_id: str
    text: str
    metadata: dict[str, Any]


class LocalIndex:
    """See the module docstring. Thread-safe; `Library` serialises writes."""

    def __init__(self, directory: Path, *, dimension: int, mirror_vectors: bool) -> None:
        self.directory = directory
        self.dimension = dimension
        self.mirror_vectors = mirror_vectors
        directory.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(directory / "index.sqlite3", check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_DDL)
        self._lock = threading.RLock()
        self._keyword = KeywordIndex()
        self._keyword_stale = True
        self._keyword_lock = threading.Lock()
        self._generation = ""
        self._load()

    # ---------------------------------------------------------------- state

    @property
    def generation(self) -> str:
        """The generation this process's in-memory copy reflects (not the file's: another
        process sharing the file in server mode may have moved it on)."""
        return self._generation

    @property
    def count(self) -> int:
        with self._lock:
            return int(self._cols.alive[: self._cols.size].sum())

    def _meta(self, key: str) -> str:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return str(row[0]) if row else ""

    def matches(self, generation: str, count: int) -> bool:
        """True when this index reflects the collection with that generation and size."""
        return (
            bool(generation)
            and self.generation == generation
            and self.count == count
            and self._meta("schema") == str(SCHEMA)
            and self._meta("vectors") == str(int(self.mirror_vectors))
            and self._meta("dimension") == str(self.dimension)
        )

    def _load(self) -> None:
        """Read every row from SQLite into fresh, dense in-memory columns."""
        cols = Columns(self.dimension, self.mirror_vectors)
        docs = Documents()
        by_id: dict[str, int] = {}
        select = "SELECT row, id, doc_id, text, metadata, tokens" + (
            ", vector" if self.mirror_vectors else ""
        )
        self._db.execute("BEGIN")  # one consistent snapshot of rows and stamp
        try:
            generation = self._meta("generation")
            # Rows written under another schema, model dimension or vector setting are not
            # read: they stay out of memory until `rebuild` replaces them.
            readable = self._meta("schema") in ("", str(SCHEMA)) and self._meta("dimension") in (
                "",
                str(self.dimension),
            )
            readable = readable and self._meta("vectors") in ("", str(int(self.mirror_vectors)))
            rows = self._db.execute(select + " FROM chunks ORDER BY row") if readable else ()
            for record in rows:
                row, chunk_id, doc_id, text, metadata, tokens = record[:6]
                meta = json.loads(metadata)
                vector = (
                    np.frombuffer(record[6], dtype=np.float32) if self.mirror_vectors and record[6] else None
                )
                code = docs.upsert(doc_id, meta)
                by_id[chunk_id] = cols.append(
                    chunk_id, row, code, page_of(meta), text, tokens.split(), vector
                )
        finally:
            self._db.execute("COMMIT")
        with self._lock:
            self._cols, self._docs, self._by_id = cols, docs, by_id
            self._generation = generation
        self._keyword_stale = not self._load_keyword()

    def _load_keyword(self) -> bool:
        """Adopt the saved BM25 index if it was built for this exact generation."""
        saved = KeywordIndex.load(self.directory / "bm25", self.generation)
        if saved is None:
            return False
        retriever, row_ids = saved
        cols = self._cols
        positions = np.searchsorted(cols.row[: cols.size], row_ids)
        if len(positions) and (
            positions.max() >= cols.size or not np.array_equal(cols.row[positions], row_ids)
        ):
            return False
        self._keyword.adopt(retriever, positions.astype(np.int64))
        return True

    # --------------------------------------------------------------- writes

    def apply(
        self,
        *,
        generation: str,
        add: Sequence[tuple[str, str, Mapping[str, Any], FloatArray | None, str]] = (),
        delete_docs: Iterable[str] = (),
        retag: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        """One atomic change: delete documents' chunks, add chunks, retag, new generation.

        `add` holds (chunk id, text, metadata, vector, BM25 terms space-separated) tuples.
        """
        deleted = list(delete_docs)
        prepared = [(cid, text, dict(meta), vector, terms.split()) for cid, text, meta, vector, terms in add]
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                for doc_id in deleted:
                    db.execute("DELETE FROM chunks WHERE doc_id = ?", (doc_id,))
                inserted: list[int] = []
                for cid, text, meta, vector, tokens in prepared:
                    blob = (
                        np.asarray(vector, dtype=np.float32).tobytes()
                        if self.mirror_vectors and vector is not None
                        else None
                    )
                    cursor = db.execute(
                        _INSERT,
                        (
                            cid,
                            str(meta["doc_id"]),
                            text,
                            json.dumps(meta, ensure_ascii=False),
                            " ".join(tokens),
                            blob,
                        ),
                    )
                    inserted.append(int(cursor.lastrowid or 0))
                for doc_id, tags in (retag or {}).items():
                    self._retag_rows(doc_id, tags)
                self._set_meta(generation)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            self._generation = generation
            for doc_id in deleted:
                self._forget_doc(doc_id)
            for row, (cid, text, meta, vector, tokens) in zip(inserted, prepared, strict=True):
                old = self._by_id.get(cid)
                if old is not None:
                    self._cols.alive[old] = False
                code = self._docs.upsert(str(meta["doc_id"]), meta)
                self._by_id[cid] = self._cols.append(cid, row, code, page_of(meta), text, tokens, vector)
            for doc_id, tags in (retag or {}).items():
                known = self._docs.code.get(doc_id)
                if known is not None:
                    self._docs.tags[known] = tuple(tags)
            self._keyword_stale = True

    def _retag_rows(self, doc_id: str, tags: Sequence[str]) -> None:
        for row, metadata in self._db.execute(
            "SELECT row, metadata FROM chunks WHERE doc_id = ?", (doc_id,)
        ).fetchall():
            meta = json.loads(metadata)
            if tags:
                meta["tags"] = list(tags)
            else:
                meta.pop("tags", None)
            self._db.execute(
                "UPDATE chunks SET metadata = ? WHERE row = ?", (json.dumps(meta, ensure_ascii=False), row)
            )

    def _forget_doc(self, doc_id: str) -> None:
        code = self._docs.code.get(doc_id)
        if code is None:
            return
        cols = self._cols
        positions = np.flatnonzero((cols.doc[: cols.size] == code) & cols.alive[: cols.size])
        cols.alive[positions] = False
        for position in positions:
            self._by_id.pop(cols.ids[position], None)

    def _set_meta(self, generation: str) -> None:
        values = {
            "generation": generation,
            "schema": str(SCHEMA),
            "vectors": str(int(self.mirror_vectors)),
            "dimension": str(self.dimension),
        }
        self._db.executemany("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", values.items())

    def rebuild(
        self,
        pages: Iterable[tuple[list[str], list[str], list[dict[str, Any]], FloatArray | None]],
        generation: str,
    ) -> None:
        """Replace everything with the chunks Chroma holds, page by page of `get`."""
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                db.execute("DELETE FROM chunks")
                for ids, texts, metas, vectors in pages:
                    rows = []
                    for i, (cid, text, meta) in enumerate(zip(ids, texts, metas, strict=True)):
                        blob = vectors[i].astype(np.float32).tobytes() if vectors is not None else None
                        tokens = " ".join(keyword_tokens(text))
                        rows.append(
                            (
                                cid,
                                str(meta.get("doc_id", "")),
                                text,
                                json.dumps(meta, ensure_ascii=False),
                                tokens,
                                blob,
                            )
                        )
                    db.executemany(
                        _INSERT,
                        rows,
                    )
                self._set_meta(generation)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            self._load()

    # --------------------------------------------------------------- reads

    def mask(self, filters: SearchFilters) -> BoolArray:
        """Which positions pass `filters` (and are alive)."""
        with self._lock:
            cols, docs = self._cols, self._docs
            size = cols.size
            keep = cols.alive[:size].copy()
            doc_mask = docs.mask(filters)
            doc_codes = cols.doc[:size]
            pages = cols.page[:size]
            folded = cols.folded
        if doc_mask is not None:
            keep &= doc_mask[doc_codes]
        if filters.page_min is not None or filters.page_max is not None:
            keep &= pages > 0
            if filters.page_min is not None:
                keep &= pages >= filters.page_min
            if filters.page_max is not None:
                keep &= pages <= filters.page_max
        if filters.text_contains:
            needle = filters.text_contains.casefold()
            candidates = np.flatnonzero(keep)
            keep[candidates] = np.fromiter(
                (needle in folded[i] for i in candidates), dtype=np.bool_, count=len(candidates)
            )
        return keep

    def dense_search(self, query: FloatArray, k: int, mask: BoolArray) -> tuple[IntArray, FloatArray]:
        """Exact top-k by cosine similarity among the positions in `mask`."""
        with self._lock:
            cols = self._cols
            vectors, size = cols.vectors, cols.size
            positions = np.flatnonzero(mask[:size])
            # Many rows: score an int8 copy first (see `searchapp.storage.exact_scan`).
            int8 = cols.quantized() if len(positions) >= exact_scan.MIN_ROWS else None
        if vectors is None:
            raise RuntimeError("this local index does not mirror vectors (server mode)")
        if not len(positions):
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        if int8 is not None:
            return exact_top_k(int8, vectors[:size], query, k, positions)
        if len(positions) > size // 3:
            # Broad filter: one pass over all rows beats gathering most of them first.
            scores = matvec(vectors[:size], query)[positions]
        else:
            scores = matvec(vectors[positions], query)
        top = top_k(scores, k)
        return positions[top], scores[top].astype(np.float32)

    def keyword_search(
        self, terms: Sequence[str], k: int, mask: BoolArray | None
    ) -> tuple[IntArray, FloatArray]:
        """Top-k positions by BM25 for these query terms among those in `mask`."""
        self.refresh_keyword(wait=not self._keyword.built)
        return self._keyword.search(list(terms), k, mask)

    def keyword_ceiling(self, terms: Sequence[str]) -> float:
        """The most a passage could score for these query terms in BM25 (`KeywordIndex.ceiling`)."""
        self.refresh_keyword(wait=not self._keyword.built)
        return self._keyword.ceiling(list(terms))

    def refresh_keyword(self, *, wait: bool = True) -> None:
        """Rebuild BM25 if writes happened since it was built (once, however many threads ask).

        With `wait=False`, return at once if another thread is rebuilding: the caller
        searches the last index meanwhile (a search must not wait behind a rebuild).
        """
        if not self._keyword_stale:
            return
        if not self._keyword_lock.acquire(blocking=wait):
            return
        try:
            if not self._keyword_stale:
                return
            with self._lock:
                cols = self._cols
                alive = np.flatnonzero(cols.alive[: cols.size])
                tokens = [cols.tokens[i] for i in alive]
                row_ids = cols.row[alive].copy()
                generation = self.generation
                self._keyword_stale = False
            self._keyword.build(tokens, alive.astype(np.int64))
            try:
                self._keyword.save(self.directory / "bm25", generation, row_ids)
            except OSError as exc:  # a cache: failing to save costs a rebuild later, nothing more
                logger.warning("could not save the keyword index: %s", exc)
        finally:
            self._keyword_lock.release()

    def cosine(self, positions: IntArray, query: FloatArray) -> FloatArray:
        with self._lock:
            vectors = self._cols.vectors
        if vectors is None:
            raise RuntimeError("this local index does not mirror vectors (server mode)")
        return matvec(vectors[positions], query)

    def ids_at(self, positions: Sequence[int]) -> list[str]:
        with self._lock:
            ids = self._cols.ids
            # "" for a position a concurrent rebuild renumbered away; callers skip it.
            return [ids[p] if 0 <= p < len(ids) else "" for p in positions]

    def positions_of(self, chunk_ids: Sequence[str]) -> list[int | None]:
        with self._lock:
            return [self._by_id.get(cid) for cid in chunk_ids]

    def chunks(self, positions: Sequence[int]) -> list[StoredChunk]:
        """Text and metadata of chunks by position, in the same order."""
        with self._lock:
            size = self._cols.size
            rows = [int(self._cols.row[p]) for p in positions if 0 <= p < size]
            found = {
                row: StoredChunk(chunk_id=cid, text=text, metadata=json.loads(meta))
                for row, cid, text, meta in self._db.execute(
                    f"SELECT row, id, text, metadata FROM chunks WHERE row IN ({','.join('?' * len(rows))})",
                    rows,
                )
            }
        return [found[row] for row in rows if row in found]

    def close(self) -> None:
        with self._lock:
            self._db.close()
