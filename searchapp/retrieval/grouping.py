"""Ranked hits grouped by document: one group per document, its best passage first.

Pure functions over `Hit`s; searching with `group=True` fetches `GROUP_DEPTH` times as
many passages as documents wanted, so each group can show the document's other matches.
Evaluation never groups, so grouping cannot change a measured figure.
"""

from __future__ import annotations

from collections.abc import Sequence

from searchapp.types import DocumentGroup, Hit

GROUP_DEPTH = 5


def passages_for(documents: int, limit: int) -> int:
    """How many passages to fetch to fill `documents` groups (at most `limit`)."""
    return min(limit, max(documents * GROUP_DEPTH, documents))


def group_by_document(hits: Sequence[Hit], limit: int | None = None) -> tuple[DocumentGroup, ...]:
    """Groups in the order of their best hit; within a group, hits keep their order.

    `hits` must be best first (as every `SearchResponse` is), so each group's best hit
    is its first, and the groups' scores never increase. `limit` keeps the first groups.
    """
    order: list[str] = []
    members: dict[str, list[Hit]] = {}
    for hit in hits:
        key = hit.doc_id or hit.chunk_id  # a hit without a document stands alone
        if key not in members:
            order.append(key)
            members[key] = []
        members[key].append(hit)
    keys = order if limit is None else order[: max(0, limit)]
    return tuple(DocumentGroup(best=members[key][0], others=tuple(members[key][1:])) for key in keys)
