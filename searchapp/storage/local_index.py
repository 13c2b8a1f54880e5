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

from searchapp.filters import SearchFilters
from searchapp.storage import exact_scan
from searchapp.storage.contains_index import ContainsIndex
from searchapp.storage.exact_scan import exact_top_k, matvec, top_k
from searchapp.storage.keyword_index import KeywordIndex
from searchapp.storage.local_columns import Columns, Documents, page_of, read_snapshot, write_snapshot
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
_INSERT = "INSERT INTO chunks (row, id, doc_id, text, metadata, tokens, vector) VALUES (?, ?, ?, ?, ?, ?, ?)"

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
        cols = Columns(self.dimension, self.mirror_vectors)
        docs = Documents()
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
                by_id[chunk_id] = cols.append(chunk_id, row, code, page_of(meta), vector)
            keyword = self._open_keyword(cols, generation)
        finally:
            self._db.execute("COMMIT")
        with self._lock:
            old = self._keyword
            self._cols, self._docs, self._by_id, self._keyword = cols, docs, by_id, keyword
            self._generation = generation
        old.close(save=False)

    def _read_columns(self, generation: str) -> tuple[Columns, Documents, dict[str, int]] | None:
        top = int(self._db.execute("SELECT max(row) FROM chunks").fetchone()[0] or 0)
        saved = read_snapshot(
            self.directory / "columns.bin",
            generation=generation,
            schema=SCHEMA,
            dimension=self.dimension,
            mirror_vectors=self.mirror_vectors,
            top=top,
        )
        if saved is not None:
            self._columns_saved = generation
        return saved

    def _save_columns(self) -> None:
        if self._columns_saved == self._generation:
            return  # nothing written since they were read or saved
        write_snapshot(
            self.directory / "columns.bin",
            self._cols,
            self._docs,
            generation=self._generation,
            schema=SCHEMA,
            dimension=self.dimension,
            mirror_vectors=self.mirror_vectors,
        )
        self._columns_saved = self._generation

    def _open_keyword(self, cols: Columns, generation: str) -> KeywordIndex:
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
                self._by_id[cid] = self._cols.append(cid, row, code, page_of(meta), vector)
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

    def mask(self, filters: SearchFilters, *, contains: bool = True) -> BoolArray:
        """Which positions pass `filters` (and are alive); without "text contains" when
        `contains` is False (see `contains_share` and `containing`)."""
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
        if contains and filters.text_contains and filters.text_contains.casefold():
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

    def contains_share(self, needle: str) -> float:
        """The estimated share of live chunks whose text contains `needle` (a sample's)."""
        with self._lock:
            cols = self._cols
            rows = cols.row[: cols.size][cols.alive[: cols.size]]
        return self._contains.share(needle, rows)

    def containing(self, positions: IntArray, needle: str) -> BoolArray:
        """For each position, whether its chunk's text contains `needle` (case-insensitive)."""
        with self._lock:
            rows = self._cols.row[: self._cols.size][positions]
        return np.isin(rows, self._contains.check(needle, rows))

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

    def keyword_search(
        self, terms: Sequence[str], k: int, mask: BoolArray | None
    ) -> tuple[IntArray, FloatArray]:
        """Top-k positions by BM25 for these query terms among those in `mask`."""
        with self._lock:
            keyword = self._keyword
        return keyword.search(list(terms), k, mask)

    def keyword_ceiling(self, terms: Sequence[str]) -> float:
        """The most a passage could score for these query terms in BM25 (`KeywordIndex.ceiling`)."""
        with self._lock:
            keyword = self._keyword
        return keyword.ceiling(list(terms))

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
