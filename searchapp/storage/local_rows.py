"""The local index's rows in SQLite: one per chunk, the index's stamps, and "text contains".

    chunks (row, id, doc_id, text, metadata JSON, BM25 terms, vector)    meta (key, value)

Row ids are never reused (a counter in `meta`), so a row id names one chunk's text for
good, and the keyword index's saved segments can be checked against the rows. The
trigram table of "text contains" (`searchapp.storage.contains_index`) lives in the same
database and is written in the same transactions. WAL mode: readers never wait for a
write, nor see half of one.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from searchapp.storage.contains_index import ContainsIndex
from searchapp.storage.terms import keyword_tokens

SCHEMA = 1

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


class ChunkRow(NamedTuple):
    """One chunk as the local index holds it: a `PreparedChunk` with its id, its metadata
    (what filters and hits read) and its vector; `terms` are its BM25 terms,
    space-separated ("" = read from the text). Reads give it back without vector and terms."""

    chunk_id: str
    text: str
    metadata: Mapping[str, Any]
    vector: FloatArray | None = None
    terms: str = ""


class LoadedRow(NamedTuple):
    """What loading the in-memory columns reads of a row."""

    row: int
    chunk_id: str
    doc_id: str
    metadata: dict[str, Any]
    vector: FloatArray | None


class Rows:
    """The SQLite file of one local index. The caller serialises writes."""

    def __init__(self, path: Path) -> None:
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_DDL)
        self.contains = ContainsIndex(path)
        if self.contains.create(self._db) and self._db.execute("SELECT 1 FROM chunks LIMIT 1").fetchone():
            with self.transaction(write=True):  # an index from before the trigram table
                self.contains.rebuild(self._db)

    @contextmanager
    def transaction(self, *, write: bool) -> Iterator[None]:
        """One transaction: a consistent snapshot to read, or a write done whole or not at all."""
        self._db.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # ------------------------------------------------------------------ stamps

    def meta(self, key: str) -> str:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return str(row[0]) if row else ""

    def set_meta(self, values: Mapping[str, str]) -> None:
        self._db.executemany("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", values.items())

    def top_row(self) -> int:
        return int(self._db.execute("SELECT max(row) FROM chunks").fetchone()[0] or 0)

    def _next_row(self) -> int:
        """The next row id: never one used before, even by a row since deleted."""
        return max(int(self.meta("next_row") or 0), self.top_row() + 1)

    # ------------------------------------------------------------------ writes

    def remove(self, doc_ids: Sequence[str], chunk_ids: Sequence[str]) -> list[int]:
        """Delete the documents' rows and the rows of these chunk ids; the rows deleted."""
        db = self._db
        gone = [
            (row, text)
            for doc_id in doc_ids
            for row, text in db.execute("SELECT row, text FROM chunks WHERE doc_id = ?", (doc_id,))
        ]
        going = {row for row, _ in gone}
        gone += [
            (row, text)
            for cid in chunk_ids
            for row, text in db.execute("SELECT row, text FROM chunks WHERE id = ?", (cid,))
            if row not in going
        ]
        db.executemany("DELETE FROM chunks WHERE row = ?", [(row,) for row, _ in gone])
        self.contains.delete(db, gone)
        return [row for row, _ in gone]

    def insert(self, chunks: Sequence[ChunkRow], *, vectors: bool) -> list[int]:
        """Add rows (terms already set), each with a new row id; the row ids, in order."""
        first = self._next_row()
        rows = list(range(first, first + len(chunks)))
        self._db.executemany(_INSERT, [_record(row, c, vectors) for row, c in zip(rows, chunks, strict=True)])
        self.contains.insert(self._db, [(row, c.text) for row, c in zip(rows, chunks, strict=True)])
        self.set_meta({"next_row": str(first + len(chunks))})
        return rows

    def set_keys(self, doc_id: str, values: Mapping[str, Any]) -> None:
        """Set these metadata keys on every row of a document (None: remove the key)."""
        for row, metadata in self._db.execute(
            "SELECT row, metadata FROM chunks WHERE doc_id = ?", (doc_id,)
        ).fetchall():
            meta = json.loads(metadata)
            for key, value in values.items():
                if value is None:
                    meta.pop(key, None)
                else:
                    meta[key] = value
            self._db.execute(
                "UPDATE chunks SET metadata = ? WHERE row = ?", (json.dumps(meta, ensure_ascii=False), row)
            )

    def replace_all(
        self, pages: Iterable[tuple[list[str], list[str], list[dict[str, Any]], FloatArray | None]]
    ) -> None:
        """Every row replaced by the chunks of `pages` (Chroma's `get`, page by page)."""
        self._db.execute("DELETE FROM chunks")
        for ids, texts, metas, vectors in pages:
            self.insert(
                [
                    ChunkRow(cid, text, meta, vectors[i] if vectors is not None else None, "")
                    for i, (cid, text, meta) in enumerate(zip(ids, texts, metas, strict=True))
                ],
                vectors=vectors is not None,
            )
        self.contains.rebuild(self._db)

    # ------------------------------------------------------------------- reads

    def scan(self, *, vectors: bool) -> Iterator[LoadedRow]:
        """Every row in row order, for loading the columns."""
        select = "SELECT row, id, doc_id, metadata" + (", vector" if vectors else "")
        for record in self._db.execute(select + " FROM chunks ORDER BY row"):
            vector = np.frombuffer(record[4], dtype=np.float32) if vectors and record[4] else None
            yield LoadedRow(record[0], record[1], record[2], json.loads(record[3]), vector)

    def terms(self, rows: IntArray) -> dict[int, list[str]]:
        """The stored BM25 terms of these rows (read in one pass when they are many)."""
        select = "SELECT row, tokens FROM chunks"
        if len(rows) > 50_000:
            wanted = set(rows.tolist())
            return {r: tokens.split() for r, tokens in self._db.execute(select) if r in wanted}
        out: dict[int, list[str]] = {}
        for start in range(0, len(rows), 500):
            part = [int(r) for r in rows[start : start + 500]]
            found = self._db.execute(f"{select} WHERE row IN ({','.join('?' * len(part))})", part)
            out.update((r, tokens.split()) for r, tokens in found)
        return out

    def read(self, rows: Sequence[int]) -> dict[int, ChunkRow]:
        """Id, text and metadata of these rows (those that exist)."""
        return {
            row: ChunkRow(chunk_id=cid, text=text, metadata=json.loads(meta))
            for row, cid, text, meta in self._db.execute(
                f"SELECT row, id, text, metadata FROM chunks WHERE row IN ({','.join('?' * len(rows))})",
                list(rows),
            )
        }

    def close(self) -> None:
        self.contains.close()
        self._db.close()


def _record(row: int, chunk: ChunkRow, vectors: bool) -> tuple[Any, ...]:
    terms = chunk.terms or " ".join(keyword_tokens(chunk.text))
    meta = dict(chunk.metadata)
    vector = chunk.vector
    blob = np.asarray(vector, dtype=np.float32).tobytes() if vectors and vector is not None else None
    text = json.dumps(meta, ensure_ascii=False)
    return (row, chunk.chunk_id, str(meta.get("doc_id", "")), chunk.text, text, terms, blob)
