"""The in-memory columns of the local index, and their snapshot for a fast reopen.

Positions are dense within one process (0..n-1 in load order); each maps to a SQLite row.
Per-row arrays (row, document, page, liveness, vectors and their int8 copy) and
per-document filter fields. At close the live columns are saved to one file
(`searchapp.storage.array_file`); the next open reads it instead of every row, when
it reflects exactly the rows there are.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from searchapp.filters import SearchFilters
from searchapp.storage import array_file
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
                self.vectors = grown(self.vectors, capacity, self.size)
                self.codes = grown(self.codes, capacity, self.quantized_rows)
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
        self.groups: list[tuple[str, ...]] = []  # () : open to everyone of the collection

    def upsert(self, doc_id: str, meta: Mapping[str, Any]) -> int:
        tags = tuple(meta.get("tags") or ())
        groups = tuple(meta.get("groups") or ())
        code = self.code.get(doc_id)
        if code is None:
            code = self.code[doc_id] = len(self.file_type)
            self.file_type.append(str(meta.get("file_type", "")))
            self.ingested_at.append(int(meta.get("ingested_at", 0)))
            self.tags.append(tags)
            self.groups.append(groups)
        else:
            self.file_type[code] = str(meta.get("file_type", ""))
            self.ingested_at[code] = int(meta.get("ingested_at", 0))
            self.tags[code] = tags
            self.groups[code] = groups
        return code

    def mask(self, filters: SearchFilters) -> BoolArray | None:
        """Which document codes pass the document-level filters (None: all)."""
        conditions = [
            filters.doc_ids,
            filters.file_types,
            filters.tags,
            filters.ingested_after is not None,
            filters.ingested_before is not None,
            filters.visible_to is not None,
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
        if filters.visible_to is not None:
            caller = set(filters.visible_to)
            keep &= np.fromiter(
                (not g or not caller.isdisjoint(g) for g in self.groups),
                dtype=np.bool_,
                count=len(self.groups),
            )
        return keep


def row_mask(cols: Columns, docs: Documents, filters: SearchFilters) -> BoolArray:
    """Which live positions pass the document and page filters (text is the caller's)."""
    size = cols.size
    keep = cols.alive[:size].copy()
    doc_mask = docs.mask(filters)
    if doc_mask is not None:
        keep &= doc_mask[cols.doc[:size]]
    if filters.page_min is not None or filters.page_max is not None:
        pages = cols.page[:size]
        keep &= pages > 0
        if filters.page_min is not None:
            keep &= pages >= filters.page_min
        if filters.page_max is not None:
            keep &= pages <= filters.page_max
    return keep


def read_snapshot(
    path: Path, *, generation: str, schema: int, dimension: int, mirror_vectors: bool, top: int
) -> tuple[Columns, Documents, dict[str, int]] | None:
    """The columns saved at the last close, if they reflect exactly this generation.

    Every write moves the generation on, so equal generations mean equal rows; the
    largest row id (`top`) guards against a stray file.
    """
    try:
        meta, arrays = array_file.read(path, capacity=capacity_of)
    except array_file.ArrayFileError:
        return None
    expected = [generation, schema, dimension, mirror_vectors, top]
    if [meta.get(k) for k in ("generation", "schema", "dimension", "vectors", "top")] != expected:
        return None
    cols = Columns(dimension, False)
    size = cols.size = meta["size"]
    cols.row, cols.doc, cols.page = arrays["row"], arrays["doc"], arrays["page"]
    cols.alive = np.zeros(len(cols.row), dtype=np.bool_)
    cols.alive[:size] = True
    cols.scales = arrays.get("scales", np.zeros(len(cols.row), dtype=np.float32))
    if mirror_vectors:
        cols.vectors = arrays["vectors"]
        cols.codes = arrays.get("codes", np.zeros(cols.vectors.shape, dtype=np.int8))
        cols.quantized_rows = size if "codes" in arrays else 0
        cols.max_bound = float(meta["max_bound"])
    cols.ids = json.loads(arrays["ids"].tobytes())
    docs = Documents()
    table = meta["documents"]
    docs.code = {doc_id: code for code, doc_id in enumerate(table["doc_id"])}
    docs.file_type, docs.ingested_at = table["file_type"], table["ingested_at"]
    docs.tags = [tuple(t) for t in table["tags"]]
    if "groups" not in table:
        return None  # saved before documents had groups: read the rows, which carry them
    docs.groups = [tuple(g) for g in table["groups"]]
    return cols, docs, dict(zip(cols.ids, range(len(cols.ids)), strict=True))


def write_snapshot(
    path: Path,
    cols: Columns,
    docs: Documents,
    *,
    generation: str,
    schema: int,
    dimension: int,
    mirror_vectors: bool,
) -> None:
    """Save the live columns for a fast next open (`read_snapshot`)."""
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
    array_file.write(
        path,
        arrays,
        {
            "generation": generation,
            "schema": schema,
            "dimension": dimension,
            "vectors": mirror_vectors,
            "size": len(live),
            "top": int(cols.row[live].max()) if len(live) else 0,
            "max_bound": cols.max_bound,
            "documents": {
                "doc_id": [doc_id for doc_id, _ in by_code],
                "file_type": docs.file_type,
                "ingested_at": docs.ingested_at,
                "tags": [list(t) for t in docs.tags],
                "groups": [list(g) for g in docs.groups],
            },
        },
    )


def capacity_of(name: str, size: int) -> int:
    """Rows to allocate for `size` saved rows: room to grow, as `Columns.append` doubles."""
    grows = name in ("row", "doc", "page", "scales", "vectors", "codes")
    return max(1024, 1 << max(size - 1, 0).bit_length()) if grows else size


def page_of(meta: Mapping[str, Any]) -> int:
    page = meta.get("page")
    return int(page) if isinstance(page, int) and not isinstance(page, bool) else 0
