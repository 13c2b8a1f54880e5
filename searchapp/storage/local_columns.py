"""The in-memory columns of the local index: per-row arrays and per-document filter fields.

Positions are dense within one process (0..n-1 in load order); each maps to a SQLite row.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from searchapp.filters import SearchFilters
from searchapp.storage.exact_scan import Int8Rows, quantize

FloatArray = npt.NDArray[np.float32]
BoolArray = npt.NDArray[np.bool_]


class Columns:
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
            self.scales = np.resize(self.scales, capacity)
            if self.vectors is not None and self.codes is not None:
                self.vectors = grown(self.vectors, capacity, self.size)
                self.codes = grown(self.codes, capacity, self.quantized_rows)
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


def grown(array: npt.NDArray[Any], capacity: int, used: int) -> npt.NDArray[Any]:
    grown = np.zeros((capacity, *array.shape[1:]), dtype=array.dtype)
    grown[:used] = array[:used]
    return grown


class Documents:
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


def page_of(meta: Mapping[str, Any]) -> int:
    page = meta.get("page")
    return int(page) if isinstance(page, int) and not isinstance(page, bool) else 0
