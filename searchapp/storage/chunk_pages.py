"""Reading every chunk of a collection a page at a time (a rebuild, a re-embedding, a check)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

Page = tuple[list[str], list[str], list[dict[str, Any]], np.ndarray[Any, Any] | None]


def chunk_pages(get: Callable[[int, int], Any], *, include_embeddings: bool, page: int) -> Iterator[Page]:
    """(ids, texts, metadatas, embeddings or None) per `page` chunks; `get(limit, offset)` reads."""
    offset = 0
    while True:
        result = get(page, offset)
        ids = list(result["ids"])
        if not ids:
            return
        vectors = None
        if include_embeddings:
            vectors = np.asarray(result["embeddings"], dtype=np.float32).reshape(len(ids), -1)
        yield (
            ids,
            list(result["documents"] or []),
            [dict(m or {}) for m in result["metadatas"] or []],
            vectors,
        )
        if len(ids) < page:
            return
        offset += page
