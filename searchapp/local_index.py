"""A local, derived copy of one collection: exact filtered search and BM25.

Chroma stays the source of truth. Beside it, in ``<data_dir>/indexes/<collection>/``,
this index keeps what Chroma cannot do fast (or at all, in local mode):

- **filters as arrays**: document, type, tags and dates per document, pages per chunk,
  so a filter becomes a boolean mask in microseconds instead of a 60-110 ms metadata
  scan at 100k chunks;
- **the vectors** (local mode), so a filtered query is an exact dot product over the
  rows the filter admits: a filtered top-k equals brute force by construction;
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
from searchapp.keyword import KeywordIndex, keyword_tokens

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


class _Columns:
    """Growable per-row arrays; positions are dense within one process."""

    def __init__(self, dimension: int, vectors: bool) -> None:
        self.size = 0
        self.row = np.zeros(1024, dtype=np.int64)  # SQLite row of each position
        self.doc = np.zeros(1024, dtype=np.int32)  # document code
        self.page = np.zeros(1024, dtype=np.int32)  # 0: no page
        self.alive = np.zeros(1024, dtype=np.bool_)
        self.vectors: FloatArray | None = np.zeros((1024, dimension), dtype=np.float32) if vectors else None
        self.ids: list[str] = []
        self.folded: list[str] = []  # case-folded text, for "text contains"
        self.tokens: list[list[str]] = []

    def append(
        self,
        chunk_id: str,
        row: int,
        doc: int,
        page: int,
        text: str,
        tokens: list[str],
        vector: FloatArray | None,
    ) -> int:
        if self.size == len(self.row):
            capacity = len(self.row) * 2
            self.row = np.resize(self.row, capacity)
            self.doc = np.resize(self.doc, capacity)
            self.page = np.resize(self.page, capacity)
            self.alive = np.resize(self.alive, capacity)
            if self.vectors is not None:
                grown = np.zeros((capacity, self.vectors.shape[1]), dtype=np.float32)
                grown[: self.size] = self.vectors[: self.size]
                self.vectors = grown
        position = self.size
        self.row[position], self.doc[position], self.page[position] = row, doc, page
        self.alive[position] = True
        if self.vectors is not None and vector is not None:
            self.vectors[position] = vector
        self.ids.append(chunk_id)
        self.folded.append(text.casefold())
        self.tokens.append(tokens)
        self.size += 1
        return position


class _Documents:
    """Per-document filter fields, by document code."""

    def __init__(self) -> None:
        self.code: dict[str, int] = {}
        self.file_type: list[str] = []
        self.ingested_at: list[int] = []
        self.tags: list[tuple[str, ...]] = []

    def upsert(self, doc_id: str, meta: Mapping[str, Any]) -> int:
        tags = tuple(meta.get("tags") or ())
        code = self.code.get(doc_id)
        if code is None:
            code = self.code[doc_id] = len(self.file_type)
            self.file_type.append(str(meta.get("file_type", "")))
            self.ingested_at.append(int(meta.get("ingested_at", 0)))
            self.tags.append(tags)
        else:
            self.file_type[code] = str(meta.get("file_type", ""))
            self.ingested_at[code] = int(meta.get("ingested_at", 0))
            self.tags[code] = tags
        return code

    def mask(self, filters: SearchFilters) -> BoolArray | None:
        """Which document codes pass the document-level filters (None: all)."""
        conditions = [
            filters.doc_ids,
            filters.file_types,
            filters.tags,
            filters.ingested_after is not None,
            filters.ingested_before is not None,
        ]
        if not any(conditions):
            return None
        keep = np.ones(len(self.file_type), dtype=np.bool_)
        if filters.doc_ids:
            keep[:] = False
            for doc_id in filters.doc_ids:
                code = self.code.get(doc_id)
                if code is not None:
                    keep[code] = True
        if filters.file_types:
            keep &= np.isin(np.array(self.file_type, dtype=object), list(filters.file_types))
        if filters.tags:
            wanted = set(filters.tags)
            keep &= np.fromiter(
                (bool(wanted.intersection(t)) for t in self.tags), dtype=np.bool_, count=len(self.tags)
            )
        ingested = np.array(self.ingested_at, dtype=np.int64)
        if filters.ingested_after is not None:
            keep &= ingested >= filters.ingested_after
        if filters.ingested_before is not None:
            keep &= ingested <= filters.ingested_before
        return keep


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
        self._half: tuple[int, Any, ScanPrecision, Any] | None = None  # size, of, how, copy
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
        cols = _Columns(self.dimension, self.mirror_vectors)
        docs = _Documents()
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
                by_id[chunk_id] = cols.append(chunk_id, row, code, _page(meta), text, tokens.split(), vector)
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
                self._by_id[cid] = self._cols.append(cid, row, code, _page(meta), text, tokens, vector)
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
            vectors = self._cols.vectors
            size = self._cols.size
        if vectors is None:
            raise RuntimeError("this local index does not mirror vectors (server mode)")
        positions = np.flatnonzero(mask[:size])
        if not len(positions):
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        precision = scan_precision()
        if precision is not None and len(positions) >= precision.min_rows:
            half = self._half_precision(size, precision)
            if half is not None:
                narrow = len(positions) <= size // 3
                return _half_then_exact(*half, vectors, query, k, positions, gather=narrow)
        if len(positions) > size // 3:
            # Broad filter: one pass over all rows beats gathering most of them first.
            scores = matvec(vectors[:size], query)[positions]
        else:
            scores = matvec(vectors[positions], query)
        top = _top_k(scores, k)
        return positions[top], scores[top].astype(np.float32)

    def _half_precision(self, size: int, precision: ScanPrecision) -> tuple[Any, float] | None:
        """A 16-bit copy of the vectors, and its dot-product error bound (None where the
        vectors are not unit length). Rebuilt lazily after writes.
        """
        with self._lock:
            vectors = self._cols.vectors
            cached = self._half
        if vectors is None:
            return None
        error = dot_error(precision.unit_roundoff, vectors.shape[1])
        if cached is not None and cached[0] == size and cached[1] is vectors and cached[2] == precision:
            return (cached[3], error) if cached[3] is not None else None
        norms = np.linalg.norm(vectors[:size], axis=1)
        half = None
        if not size or float(np.abs(norms - 1.0).max()) <= 1e-3:  # the error bound assumes unit vectors
            import torch

            half = torch.from_numpy(vectors[:size]).to(precision.dtype)
        with self._lock:
            self._half = (size, vectors, precision, half)
        return (half, error) if half is not None else None

    def keyword_search(self, query: str, k: int, mask: BoolArray | None) -> tuple[IntArray, FloatArray]:
        """Top-k positions by BM25 among those in `mask`."""
        self.refresh_keyword()
        return self._keyword.search(keyword_tokens(query), k, mask)

    def refresh_keyword(self) -> None:
        """Rebuild BM25 if writes happened since it was built (once, however many threads ask)."""
        if not self._keyword_stale:
            return
        with self._keyword_lock:
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


def _page(meta: Mapping[str, Any]) -> int:
    page = meta.get("page")
    return int(page) if isinstance(page, int) and not isinstance(page, bool) else 0


@dataclass(frozen=True)
class ScanPrecision:
    """A 16-bit type for a first pass over the vectors (see `_half_then_exact`)."""

    dtype: Any  # a torch dtype
    unit_roundoff: float
    min_rows: int  # from this many admitted rows on, it beats an fp32 scan


def scan_precision() -> ScanPrecision | None:
    """The 16-bit first pass that pays on this CPU; None where fp32 is as fast.

    bf16 where the CPU computes it natively (AMX/AVX512-BF16): 2-4x faster than fp32,
    measured from 20k to 140k rows. Else fp16 where the CPU converts it in hardware (F16C,
    every x86-64 CPU with AVX2): 2.4-3.5x faster than an fp32 gather from 2k to 40k rows,
    2.8x for a full scan of 100k, on a 2-core AVX2 machine. Emulated bf16 is not used.
    """
    import torch

    from searchapp.openvino_backend import cpu_has_bf16, cpu_has_f16c

    if cpu_has_bf16():
        return ScanPrecision(torch.bfloat16, 2**-8, 40_000)
    if cpu_has_f16c():
        return ScanPrecision(torch.float16, 2**-11, 2_000)
    return None


def dot_error(unit_roundoff: float, dimension: int) -> float:
    """How far a 16-bit dot product of two (near-)unit vectors can be from the exact one.

    With u the unit roundoff: each input is off by at most u relatively, so each product
    by 2u + u^2; the fp32 sum (torch accumulates 16-bit products in fp32 on the CPU) adds
    at most d * 2^-24; rounding the result to 16 bits adds u. The factor covers norms up
    to 1.001 (what `_half_precision` admits), and the last term fp16's subnormals (2^-25
    absolute per element, well under 2^-20 over the sum).
    """
    u = unit_roundoff
    return (3 * u + 3 * u * u + dimension * 2**-24) * 1.002**2 + 2**-20


def _half_then_exact(
    half: Any,
    error: float,
    vectors: FloatArray,
    query: FloatArray,
    k: int,
    positions: IntArray,
    *,
    gather: bool,
) -> tuple[IntArray, FloatArray]:
    """Exact top-k among `positions`, reading 16 bits for all rows and fp32 for a few.

    Every true top-k row scores at least (approximate k-th score - 2 * error) in 16 bits,
    so re-scoring just those candidates in fp32 gives exactly the brute-force answer.
    """
    import torch

    q = torch.from_numpy(query).to(half.dtype)[None]
    if gather:  # a narrow filter: score only its rows
        rows = half.index_select(0, torch.from_numpy(positions))
        approx = torch.nn.functional.linear(q, rows)[0].float().numpy()
    else:  # a broad one: one pass over all rows beats gathering most of them
        approx = torch.nn.functional.linear(q, half)[0].float().numpy()[positions]
    k = min(k, len(positions))
    kth = float(np.partition(approx, len(approx) - k)[len(approx) - k])
    candidates = positions[approx >= kth - 2 * error]
    exact = matvec(vectors[candidates], query)
    top = _top_k(exact, k)
    return candidates[top], exact[top].astype(np.float32)


def matvec(matrix: FloatArray, vector: FloatArray) -> FloatArray:
    """matrix @ vector through torch (zero-copy): numpy's OpenBLAS spreads even small
    products over threads that contend with everything else (16 ms instead of 0.1 ms for
    3k rows on a busy 2-core machine); torch sizes its work to the input."""
    import torch

    result: FloatArray = torch.mv(
        torch.from_numpy(np.ascontiguousarray(matrix)), torch.from_numpy(vector)
    ).numpy()
    return result


def _top_k(scores: FloatArray, k: int) -> IntArray:
    """Indexes of the k largest scores, best first (ties: lower index first)."""
    if k >= len(scores):
        return np.argsort(-scores, kind="stable")
    part = np.argpartition(-scores, k - 1)[:k]
    return part[np.argsort(-scores[part], kind="stable")]
