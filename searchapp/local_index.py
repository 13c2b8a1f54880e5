"""A local, derived copy of one collection: exact filtered search and BM25.

Chroma stays the source of truth. Beside it, in ``<data_dir>/indexes/<collection>/``,
this index keeps what Chroma cannot do fast (or at all, in local mode):

- **filters as arrays**: document, type, tags and dates per document, pages per chunk,
  so a filter becomes a boolean mask in microseconds instead of a 60-110 ms metadata
  scan at 100k chunks;
- **the vectors** (local mode), and an int8 copy of them, so a filtered query is an
  exact scan of the rows the filter admits (`searchapp.exact_scan`): a filtered top-k
  equals brute force;
- **BM25** over the same chunks, for keyword and hybrid retrieval: an incremental index
  (`searchapp.keyword_index`) that each write updates with its own chunks only, saved
  under ``keyword-<epoch>/`` and reconciled with the rows at open;
- **"text contains"** from an FTS5 trigram table in the same database, written in the
  same transactions (`searchapp.contains_index`).

SQLite row ids are never reused (a counter in `meta`), so a row id names one chunk's text
for good, and the keyword index's saved segments can be checked against the rows.

It is kept in step with Chroma by the same writes (`Library` applies every change to
both), persisted in SQLite (atomic, incremental), and stamped with a *generation*
token that every write also records in the Chroma collection's metadata. If the two
stamps differ (a crash between the two writes, or another client of a Chroma server),
the index is rebuilt from Chroma.
"""

from __future__ import annotations

import json
import logging
import secrets
import shutil
import sqlite3
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from searchapp import column_snapshot, exact_scan
from searchapp.contains_index import ContainsIndex
from searchapp.exact_scan import Int8Rows, exact_top_k, matvec, quantize, top_k
from searchapp.filters import SearchFilters
from searchapp.keyword import keyword_tokens
from searchapp.keyword_index import KeywordIndex

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
_INSERT = "INSERT INTO chunks (row, id, doc_id, text, metadata, tokens, vector) VALUES (?, ?, ?, ?, ?, ?, ?)"

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
        # The int8 copy of the first `quantized_rows` rows (see `quantized`).
        self.codes = np.zeros((1024, dimension), dtype=np.int8) if vectors else None
        self.scales = np.zeros(1024, dtype=np.float32)
        self.quantized_rows = 0
        self.max_bound = 0.0
        self.ids: list[str] = []

    def append(
        self,
        chunk_id: str,
        row: int,
        doc: int,
        page: int,
        vector: FloatArray | None,
    ) -> int:
        if self.size == len(self.row):
            capacity = len(self.row) * 2
            self.row = np.resize(self.row, capacity)
            self.doc = np.resize(self.doc, capacity)
            self.page = np.resize(self.page, capacity)
            self.alive = np.resize(self.alive, capacity)
            self.scales = np.resize(self.scales, capacity)
            if self.vectors is not None and self.codes is not None:
                self.vectors = _grown(self.vectors, capacity, self.size)
                self.codes = _grown(self.codes, capacity, self.quantized_rows)
        position = self.size
        self.row[position], self.doc[position], self.page[position] = row, doc, page
        self.alive[position] = True
        if self.vectors is not None and vector is not None:
            self.vectors[position] = vector
        self.ids.append(chunk_id)
        self.size += 1
        return position

    def quantized(self) -> Int8Rows | None:
        """The int8 copy of every row (None without vectors), extended to new rows first.

        Each row is quantized once, so a write costs only its own rows; the copy is a
        quarter of the vectors' size. Callers hold the index lock.
        """
        if self.vectors is None or self.codes is None:
            return None
        done, size = self.quantized_rows, self.size
        if done < size:
            new, _ = quantize(self.vectors[done:size])
            self.codes[done:size], self.scales[done:size] = new.codes, new.scales
            self.max_bound = max(self.max_bound, new.max_bound)
            self.quantized_rows = size
        return Int8Rows(self.codes[:size], self.scales[:size], self.max_bound)


def _grown(array: npt.NDArray[Any], capacity: int, used: int) -> npt.NDArray[Any]:
    grown = np.zeros((capacity, *array.shape[1:]), dtype=array.dtype)
    grown[:used] = array[:used]
    return grown


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
        self._contains = ContainsIndex(directory / "index.sqlite3")
        if self._contains.create(self._db) and self._db.execute("SELECT 1 FROM chunks LIMIT 1").fetchone():
            self._db.execute("BEGIN IMMEDIATE")  # an index from before the trigram table
            self._contains.rebuild(self._db)
            self._db.execute("COMMIT")
        self._keyword = KeywordIndex()
        self._generation = ""
        self._columns_saved = ""  # the generation columns.bin holds, when known
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
        select = "SELECT row, id, doc_id, metadata" + (", vector" if self.mirror_vectors else "")
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
            saved = self._read_columns(generation) if readable else None
            if saved is not None:
                cols, docs, by_id = saved
            rows = self._db.execute(select + " FROM chunks ORDER BY row") if readable and not saved else ()
            for record in rows:
                row, chunk_id, doc_id, metadata = record[:4]
                meta = json.loads(metadata)
                vector = (
                    np.frombuffer(record[4], dtype=np.float32) if self.mirror_vectors and record[4] else None
                )
                code = docs.upsert(doc_id, meta)
                by_id[chunk_id] = cols.append(chunk_id, row, code, _page(meta), vector)
            keyword = self._open_keyword(cols, generation)
        finally:
            self._db.execute("COMMIT")
        with self._lock:
            old = self._keyword
            self._cols, self._docs, self._by_id, self._keyword = cols, docs, by_id, keyword
            self._generation = generation
        old.close(save=False)

    def _read_columns(self, generation: str) -> tuple[_Columns, _Documents, dict[str, int]] | None:
        """The columns saved at the last close, if they reflect exactly this generation."""
        # Every write moves the generation on, so equal generations mean equal rows; the
        # largest row id (an O(log n) look-up, unlike a count) guards against a stray file.
        top = int(self._db.execute("SELECT max(row) FROM chunks").fetchone()[0] or 0)
        try:
            meta, arrays = column_snapshot.read(self.directory / "columns.bin", _capacity_of)
        except column_snapshot.SnapshotError:
            return None
        expected = [generation, SCHEMA, self.dimension, self.mirror_vectors, top]
        if [meta.get(k) for k in ("generation", "schema", "dimension", "vectors", "top")] != expected:
            return None
        cols = _Columns(self.dimension, False)
        size = cols.size = meta["size"]
        cols.row, cols.doc, cols.page = arrays["row"], arrays["doc"], arrays["page"]
        cols.alive = np.zeros(len(cols.row), dtype=np.bool_)
        cols.alive[:size] = True
        cols.scales = arrays.get("scales", np.zeros(len(cols.row), dtype=np.float32))
        if self.mirror_vectors:
            cols.vectors = arrays["vectors"]
            cols.codes = arrays.get("codes", np.zeros(cols.vectors.shape, dtype=np.int8))
            cols.quantized_rows = size if "codes" in arrays else 0
            cols.max_bound = float(meta["max_bound"])
        cols.ids = json.loads(arrays["ids"].tobytes())
        docs = _Documents()
        table = meta["documents"]
        docs.code = {doc_id: code for code, doc_id in enumerate(table["doc_id"])}
        docs.file_type, docs.ingested_at = table["file_type"], table["ingested_at"]
        docs.tags = [tuple(t) for t in table["tags"]]
        self._columns_saved = generation
        return cols, docs, dict(zip(cols.ids, range(len(cols.ids)), strict=True))

    def _save_columns(self) -> None:
        """Save the live columns for a fast next open (`_read_columns`)."""
        if self._columns_saved == self._generation:
            return  # nothing written since they were read or saved
        cols, docs = self._cols, self._docs
        live = np.flatnonzero(cols.alive[: cols.size])
        whole = len(live) == cols.size  # slices, not copies, when nothing was deleted

        def take(array: npt.NDArray[Any]) -> npt.NDArray[Any]:
            return array[: cols.size] if whole else array[live]

        arrays = {"row": take(cols.row), "doc": take(cols.doc), "page": take(cols.page)}
        if cols.vectors is not None and cols.codes is not None:
            arrays["vectors"] = take(cols.vectors)
            if cols.quantized_rows == cols.size:
                arrays["codes"], arrays["scales"] = take(cols.codes), take(cols.scales)
        ids = [cols.ids[i] for i in live]
        arrays["ids"] = np.frombuffer(json.dumps(ids).encode(), dtype=np.uint8)
        by_code = sorted(docs.code.items(), key=lambda item: item[1])
        column_snapshot.write(
            self.directory / "columns.bin",
            arrays,
            {
                "generation": self._generation,
                "schema": SCHEMA,
                "dimension": self.dimension,
                "vectors": self.mirror_vectors,
                "size": len(live),
                "top": int(cols.row[live].max()) if len(live) else 0,
                "max_bound": cols.max_bound,
                "documents": {
                    "doc_id": [doc_id for doc_id, _ in by_code],
                    "file_type": docs.file_type,
                    "ingested_at": docs.ingested_at,
                    "tags": [list(t) for t in docs.tags],
                },
            },
        )
        self._columns_saved = self._generation

    def _open_keyword(self, cols: _Columns, generation: str) -> KeywordIndex:
        """The saved keyword index, reconciled with the rows: rows it lacks are added from
        their stored terms (all of them when nothing usable was saved)."""
        epoch = self._meta("keyword_epoch")
        if not epoch:
            epoch = secrets.token_hex(6)
            self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('keyword_epoch', ?)", (epoch,))
        directory = self.directory / f"keyword-{epoch}"
        for stale in [*self.directory.glob("keyword-*"), self.directory / "bm25"]:
            if stale != directory:
                shutil.rmtree(stale, ignore_errors=True)
        positions = np.arange(cols.size, dtype=np.int64)
        keyword, missing = KeywordIndex.open(directory, positions, cols.row[: cols.size])
        for start in range(0, len(missing), 100_000):
            part = missing[start : start + 100_000]
            terms = dict(self._rows_where("SELECT row, tokens FROM chunks", cols.row[part]))
            keyword.add(part, [terms[int(r)].split() for r in cols.row[part]], keys=cols.row[part])
        keyword.set_generation(generation)
        return keyword

    def _rows_where(self, select: str, rows: IntArray) -> list[tuple[Any, ...]]:
        """`select` restricted to these rows (all of them, read in one pass, when many)."""
        if len(rows) > 50_000:
            wanted = set(rows.tolist())
            return [r for r in self._db.execute(select) if r[0] in wanted]
        out: list[tuple[Any, ...]] = []
        for start in range(0, len(rows), 500):
            part = [int(r) for r in rows[start : start + 500]]
            out += self._db.execute(f"{select} WHERE row IN ({','.join('?' * len(part))})", part).fetchall()
        return out

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
                # Rows that go: the documents' chunks, and older rows of re-added chunk ids.
                gone = [
                    (row, text)
                    for doc_id in deleted
                    for row, text in db.execute("SELECT row, text FROM chunks WHERE doc_id = ?", (doc_id,))
                ]
                going = {row for row, _ in gone}
                gone += [
                    (row, text)
                    for cid, *_ in prepared
                    for row, text in db.execute("SELECT row, text FROM chunks WHERE id = ?", (cid,))
                    if row not in going
                ]
                db.executemany("DELETE FROM chunks WHERE row = ?", [(row,) for row, _ in gone])
                self._contains.delete(db, gone)
                first = self._next_row()
                inserted = list(range(first, first + len(prepared)))
                db.executemany(
                    _INSERT,
                    [
                        (
                            row,
                            cid,
                            str(meta["doc_id"]),
                            text,
                            json.dumps(meta, ensure_ascii=False),
                            " ".join(tokens),
                            np.asarray(vector, dtype=np.float32).tobytes()
                            if self.mirror_vectors and vector is not None
                            else None,
                        )
                        for row, (cid, text, meta, vector, tokens) in zip(inserted, prepared, strict=True)
                    ],
                )
                self._contains.insert(db, [(row, p[1]) for row, p in zip(inserted, prepared, strict=True)])
                db.execute(
                    "INSERT OR REPLACE INTO meta (key, value) VALUES ('next_row', ?)",
                    (str(first + len(prepared)),),
                )
                for doc_id, tags in (retag or {}).items():
                    self._retag_rows(doc_id, tags)
                self._set_meta(generation)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            self._generation = generation
            size = self._cols.size
            removed = np.searchsorted(self._cols.row[:size], np.array([r for r, _ in gone], dtype=np.int64))
            for doc_id in deleted:
                self._forget_doc(doc_id)
            for row, (cid, _, meta, vector, _) in zip(inserted, prepared, strict=True):
                old = self._by_id.get(cid)
                if old is not None:
                    self._cols.alive[old] = False
                code = self._docs.upsert(str(meta["doc_id"]), meta)
                self._by_id[cid] = self._cols.append(cid, row, code, _page(meta), vector)
            for doc_id, tags in (retag or {}).items():
                known = self._docs.code.get(doc_id)
                if known is not None:
                    self._docs.tags[known] = tuple(tags)
            self._keyword.apply(
                remove=removed[removed < size],
                add_positions=np.arange(size, self._cols.size, dtype=np.int64),
                add_tokens=[tokens for *_, tokens in prepared],
                add_keys=np.array(inserted, dtype=np.int64),
                generation=generation,
            )

    def _next_row(self) -> int:
        """The next row id: never one used before, even by a row since deleted."""
        top = self._db.execute("SELECT max(row) FROM chunks").fetchone()[0]
        return max(int(self._meta("next_row") or 0), int(top or 0) + 1)

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
                row = self._next_row()
                db.execute("DELETE FROM chunks")
                for ids, texts, metas, vectors in pages:
                    rows = []
                    for i, (cid, text, meta) in enumerate(zip(ids, texts, metas, strict=True)):
                        blob = vectors[i].astype(np.float32).tobytes() if vectors is not None else None
                        tokens = " ".join(keyword_tokens(text))
                        row += 1
                        rows.append(
                            (
                                row,
                                cid,
                                str(meta.get("doc_id", "")),
                                text,
                                json.dumps(meta, ensure_ascii=False),
                                tokens,
                                blob,
                            )
                        )
                    db.executemany(_INSERT, rows)
                db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('next_row', ?)", (str(row + 1),))
                self._contains.rebuild(db)
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
            rows = cols.row[:size]
        if doc_mask is not None:
            keep &= doc_mask[doc_codes]
        if filters.page_min is not None or filters.page_max is not None:
            keep &= pages > 0
            if filters.page_min is not None:
                keep &= pages >= filters.page_min
            if filters.page_max is not None:
                keep &= pages <= filters.page_max
        if filters.text_contains and filters.text_contains.casefold():
            admitted = np.flatnonzero(keep)
            # Rows are ascending with position (ids are never reused), so positions are found
            # by binary search; rows written since this mask began are not in `rows`.
            found = self._contains.rows_containing(
                filters.text_contains, rows[admitted] if len(admitted) < size else None
            )
            at = np.minimum(np.searchsorted(rows, found), max(size - 1, 0))
            hits = at[rows[at] == found] if size else at
            before, keep = keep, np.zeros(size, dtype=np.bool_)
            keep[hits] = before[hits]
        return keep

    def dense_search(self, query: FloatArray, k: int, mask: BoolArray) -> tuple[IntArray, FloatArray]:
        """Exact top-k by cosine similarity among the positions in `mask`."""
        with self._lock:
            cols = self._cols
            vectors, size = cols.vectors, cols.size
            positions = np.flatnonzero(mask[:size])
            # Many rows: score an int8 copy first (see `searchapp.exact_scan`).
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

    def keyword_search(self, query: str, k: int, mask: BoolArray | None) -> tuple[IntArray, FloatArray]:
        """Top-k positions by BM25 among those in `mask`."""
        with self._lock:
            keyword = self._keyword
        return keyword.search(keyword_tokens(query), k, mask)

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
            try:
                self._keyword.close()  # saves what was not saved yet: a faster next open
                self._save_columns()
            except OSError as exc:  # the rows have it all; the next open reads them
                logger.warning("could not save the local index for a fast reopen: %s", exc)
            self._contains.close()
            self._db.close()


def _capacity_of(name: str, size: int) -> int:
    """Rows to allocate for `size` saved rows: room to grow, as `_Columns.append` doubles."""
    grows = name in ("row", "doc", "page", "scales", "vectors", "codes")
    return max(1024, 1 << max(size - 1, 0).bit_length()) if grows else size


def _page(meta: Mapping[str, Any]) -> int:
    page = meta.get("page")
    return int(page) if isinstance(page, int) and not isinstance(page, bool) else 0
