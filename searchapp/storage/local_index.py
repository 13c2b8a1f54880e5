"""A local, derived copy of one collection: exact filtered search and BM25.

Chroma stays the source of truth. Beside it, in ``<data_dir>/indexes/<collection>/``,
this index keeps what Chroma cannot do fast (or at all, in local mode):

- **filters as arrays** (`searchapp.storage.local_columns`): document, type, tags and
  dates per document, pages per chunk, so a filter becomes a boolean mask in
  microseconds instead of a 60-110 ms metadata scan at 100k chunks;
- **the vectors** (local mode), and an int8 copy of them, so a filtered query is an
  exact scan of the rows the filter admits (`searchapp.storage.exact_scan`): a filtered
  top-k equals brute force;
- **BM25** over the same chunks, for keyword and hybrid retrieval: an incremental index
  (`searchapp.storage.keyword_index`) that each write updates with its own chunks only,
  saved under ``keyword-<epoch>/`` and reconciled with the rows at open;
- **"text contains"**, phrases and exclusions, from an FTS5 trigram table in the same
  database as the rows (`searchapp.storage.local_rows`), written in the same transactions.

It is kept in step with Chroma by the same writes (`Library` applies every change to
both), persisted in SQLite (atomic, incremental), and stamped with a *generation*
token that every write also records in the Chroma collection's metadata. If the two
stamps differ (a crash between the two writes, or another client of a Chroma server),
the index is rebuilt from Chroma. At close the columns are saved for a fast reopen.
"""

from __future__ import annotations

import logging
import secrets
import shutil
import threading
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from searchapp.chunk_visibility import group_fields
from searchapp.filters import SearchFilters
from searchapp.storage import exact_scan
from searchapp.storage.exact_scan import exact_top_k, matvec, top_k
from searchapp.storage.keyword_index import KeywordIndex
from searchapp.storage.local_columns import (
    Columns,
    Documents,
    page_of,
    read_snapshot,
    row_mask,
    write_snapshot,
)
from searchapp.storage.local_contains import ContainsReads
from searchapp.storage.local_rows import SCHEMA, ChunkRow, Rows
from searchapp.storage.terms import TERMS_VERSION, keyword_tokens

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

__all__ = ["ChunkRow", "LocalIndex"]


class LocalIndex(ContainsReads):
    """See the module docstring. Thread-safe; `Library` serialises writes."""

    def __init__(self, directory: Path, *, dimension: int, mirror_vectors: bool) -> None:
        self.directory = directory
        self.dimension = dimension
        self.mirror_vectors = mirror_vectors
        directory.mkdir(parents=True, exist_ok=True)
        self._rows = Rows(directory / "index.sqlite3")
        # Searches take `_lock` only to read the in-memory state or swap it; a write does its
        # SQLite transaction under `_write_lock` alone, and takes `_lock` to publish the result.
        self._lock = threading.RLock()
        self._write_lock = threading.RLock()
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

    def matches(self, generation: str, count: int) -> bool:
        """True when this index reflects the collection with that generation and size."""
        return bool(generation) and self.generation == generation and self.count == count and self._current()

    def _current(self) -> bool:
        """True when the rows were written under this schema, dimension, vector setting and
        keyword analysis."""
        stamp = self._stamp("")
        return all(self._rows.meta(key) == stamp[key] for key in ("schema", "vectors", "dimension", "terms"))

    def _stamp(self, generation: str) -> dict[str, str]:
        """What every write records beside its rows."""
        return {
            "generation": generation,
            "schema": str(SCHEMA),
            "vectors": str(int(self.mirror_vectors)),
            "dimension": str(self.dimension),
            "terms": str(TERMS_VERSION),
        }

    def _load(self) -> None:
        """Read every row from SQLite (or the saved columns) into fresh in-memory columns."""
        cols = Columns(self.dimension, self.mirror_vectors)
        docs = Documents()
        by_id: dict[str, int] = {}
        with self._rows.transaction(write=False):  # one consistent snapshot of rows and stamp
            generation = self._rows.meta("generation")
            # Rows written under another schema, model dimension, vector setting or keyword
            # analysis are not read: they stay out of memory until `rebuild` replaces them.
            readable = all(
                self._rows.meta(k) in ("", v) for k, v in self._stamp("").items() if k != "generation"
            )
            if self._rows.top_row() and self._rows.meta("terms") != str(TERMS_VERSION):
                readable = False  # rows from before the keyword analysis was stamped
            if not readable:
                generation = ""  # so that a server-mode client, too, reads the collection again
            saved = self._read_columns(generation) if readable else None
            if saved is not None:
                cols, docs, by_id = saved
            for loaded in self._rows.scan(vectors=self.mirror_vectors) if readable and not saved else ():
                code = docs.upsert(loaded.doc_id, loaded.metadata)
                page = page_of(loaded.metadata)
                by_id[loaded.chunk_id] = cols.append(loaded.chunk_id, loaded.row, code, page, loaded.vector)
            keyword = self._open_keyword(cols, generation)
        with self._lock:
            old = self._keyword
            self._cols, self._docs, self._by_id, self._keyword = cols, docs, by_id, keyword
            self._generation = generation
        old.close(save=False)

    def _read_columns(self, generation: str) -> tuple[Columns, Documents, dict[str, int]] | None:
        saved = read_snapshot(
            self.directory / "columns.bin",
            generation=generation,
            schema=SCHEMA,
            dimension=self.dimension,
            mirror_vectors=self.mirror_vectors,
            top=self._rows.top_row(),
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
        epoch = self._rows.meta("keyword_epoch")
        if not epoch:
            epoch = secrets.token_hex(6)
            self._rows.set_meta({"keyword_epoch": epoch})
        directory = self.directory / f"keyword-{epoch}"
        for stale in [*self.directory.glob("keyword-*"), self.directory / "bm25"]:
            if stale != directory:
                shutil.rmtree(stale, ignore_errors=True)
        positions = np.arange(cols.size, dtype=np.int64)
        keyword, missing = KeywordIndex.open(directory, positions, cols.row[: cols.size])
        for start in range(0, len(missing), 100_000):
            part = missing[start : start + 100_000]
            terms = self._rows.terms(cols.row[part])
            keyword.add(part, [terms[int(r)] for r in cols.row[part]], keys=cols.row[part])
        keyword.set_generation(generation)
        return keyword

    # --------------------------------------------------------------- writes

    def apply(
        self,
        *,
        generation: str,
        add: Sequence[ChunkRow] = (),
        delete_docs: Iterable[str] = (),
        retag: Mapping[str, Sequence[str]] | None = None,
        regroup: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        """One atomic change: delete documents' chunks, add chunks, retag, regroup, new generation.

        `retag` and `regroup` give documents new tags and groups.
        """
        deleted = list(delete_docs)
        chunks = [ChunkRow(*c) for c in add]  # a plain (id, text, metadata, vector, terms) tuple too
        chunks = [c if c.terms else c._replace(terms=" ".join(keyword_tokens(c.text))) for c in chunks]
        with self._write_lock:
            with self._rows.transaction(write=True):
                # Rows that go: the documents' chunks, and older rows of re-added chunk ids.
                gone = self._rows.remove(deleted, [c.chunk_id for c in chunks])
                inserted = self._rows.insert(chunks, vectors=self.mirror_vectors)
                for doc_id, tags in (retag or {}).items():
                    self._rows.set_keys(doc_id, {"tags": list(tags) if tags else None})
                for doc_id, groups in (regroup or {}).items():
                    self._rows.set_keys(doc_id, group_fields(groups))
                self._rows.set_meta(self._stamp(generation))
            with self._lock:
                self._publish(generation, deleted, chunks, inserted, gone, retag or {}, regroup or {})

    def _publish(
        self,
        generation: str,
        deleted: Sequence[str],
        chunks: Sequence[ChunkRow],
        inserted: Sequence[int],
        gone: Sequence[int],
        retag: Mapping[str, Sequence[str]],
        regroup: Mapping[str, Sequence[str]],
    ) -> None:
        """The in-memory side of a committed write, all at once for searches (under `_lock`)."""
        self._generation = generation
        cols = self._cols
        size = cols.size
        removed = np.searchsorted(cols.row[:size], np.array(gone, dtype=np.int64))
        for doc_id in deleted:
            self._forget_doc(doc_id)
        for row, chunk in zip(inserted, chunks, strict=True):
            old = self._by_id.get(chunk.chunk_id)
            if old is not None:
                cols.alive[old] = False
            code = self._docs.upsert(str(chunk.metadata["doc_id"]), chunk.metadata)
            page = page_of(chunk.metadata)
            self._by_id[chunk.chunk_id] = cols.append(chunk.chunk_id, row, code, page, chunk.vector)
        for doc_id, tags in retag.items():
            known = self._docs.code.get(doc_id)
            if known is not None:
                self._docs.tags[known] = tuple(tags)
        for doc_id, groups in regroup.items():
            known = self._docs.code.get(doc_id)
            if known is not None:
                self._docs.groups[known] = tuple(groups)
        self._keyword.apply(
            remove=removed[removed < size],
            add_positions=np.arange(size, cols.size, dtype=np.int64),
            add_tokens=[c.terms.split() for c in chunks],
            add_keys=np.array(inserted, dtype=np.int64),
            generation=generation,
        )

    def update_document_fields(self, doc_id: str, fields: Mapping[str, Any], *, generation: str) -> None:
        """Set metadata fields on every chunk of one document (a rename), atomically with a
        new generation. Text, vectors and terms stay, and no filter column reads these."""
        with self._write_lock:
            with self._rows.transaction(write=True):
                self._rows.set_keys(doc_id, fields)
                self._rows.set_meta(self._stamp(generation))
            with self._lock:
                self._generation = generation
                self._keyword.set_generation(generation)

    def _forget_doc(self, doc_id: str) -> None:
        code = self._docs.code.get(doc_id)
        if code is None:
            return
        cols = self._cols
        positions = np.flatnonzero((cols.doc[: cols.size] == code) & cols.alive[: cols.size])
        cols.alive[positions] = False
        for position in positions:
            self._by_id.pop(cols.ids[position], None)

    def rebuild(
        self,
        pages: Iterable[tuple[list[str], list[str], list[dict[str, Any]], FloatArray | None]],
        generation: str,
    ) -> None:
        """Replace everything with the chunks Chroma holds, page by page of `get`."""
        with self._write_lock:
            with self._rows.transaction(write=True):
                self._rows.replace_all(pages)
                self._rows.set_meta(self._stamp(generation))
            self._load()

    # --------------------------------------------------------------- reads

    def mask(self, filters: SearchFilters, *, contains: Sequence[str] = ()) -> BoolArray:
        """Which positions pass `filters` and contain each of `contains` (and are alive)."""
        with self._lock:
            keep = row_mask(self._cols, self._docs, filters)
        return self.narrow(keep, (filters.text_contains, *contains))

    def without(self, mask: BoolArray, *, terms: Sequence[str] = (), texts: Sequence[str] = ()) -> BoolArray:
        """`mask` less the positions holding any of these index `terms` or containing any of `texts`."""
        keep = mask.copy()
        if terms:
            with self._lock:
                keyword = self._keyword
            holding = keyword.holding(list(terms))
            keep[holding[holding < len(keep)]] = False
        with self._lock:
            rows = self._cols.row[: len(keep)]
        for needle in texts:
            if needle.casefold():
                keep &= ~self._containing(needle, keep, rows)
        return keep

    def documents_in(self, mask: BoolArray | None) -> int:
        """How many documents have a live chunk in `mask` (None: anywhere)."""
        with self._lock:
            cols = self._cols
            admitted = cols.alive[: cols.size] if mask is None else mask & cols.alive[: len(mask)]
            codes = cols.doc[: len(admitted)][admitted]
        return int(np.count_nonzero(np.bincount(codes))) if len(codes) else 0

    def dense_search(self, query: FloatArray, k: int, mask: BoolArray | None) -> tuple[IntArray, FloatArray]:
        """Exact top-k by cosine similarity among the positions in `mask` (None: every live row)."""
        with self._lock:
            cols = self._cols
            vectors, size = cols.vectors, cols.size
            positions = np.flatnonzero(cols.alive[:size] if mask is None else mask[:size])
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

    def chunks(self, positions: Sequence[int]) -> list[ChunkRow]:
        """Id, text and metadata of chunks by position, in the same order."""
        with self._lock:
            size = self._cols.size
            rows = [int(self._cols.row[p]) for p in positions if 0 <= p < size]
        found = self._rows.read(rows)  # committed rows: a write in progress is not waited for
        return [found[row] for row in rows if row in found]

    def close(self) -> None:
        with self._write_lock, self._lock:
            try:
                self._keyword.close()  # saves what was not saved yet: a faster next open
                self._save_columns()
            except OSError as exc:  # the rows have it all; the next open reads them
                logger.warning("could not save the local index for a fast reopen: %s", exc)
            self._rows.close()
