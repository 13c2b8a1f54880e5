"""A document's groups as its chunks' metadata, and the two tests of it: Chroma's and Python's.

`searchapp.access.visibility` decides who may see what; this is how the decision is
stored on chunks and filtered where rows are chosen (`SearchFilters.visible_to`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def visible(groups: Any, visible_to: Sequence[str]) -> bool:
    """A document with `groups` (a list, or none) is visible to a caller in `visible_to`."""
    return not groups or any(group in visible_to for group in groups)


def group_fields(groups: Sequence[str]) -> dict[str, Any]:
    """The metadata keys a document's groups put on its chunks: both, or both None (removed).

    ``restricted`` lets Chroma filter (`visibility_clause`): it cannot test for a missing list.
    """
    return {"groups": list(groups), "restricted": True} if groups else {"groups": None, "restricted": None}


def visibility_clause(visible_to: Sequence[str]) -> dict[str, Any]:
    """Chroma's form of `visible_to`: chunks not restricted, or restricted to one of these groups.

    Restricted chunks carry ``restricted: true`` beside their ``groups`` list; ``$ne``
    also matches chunks without the key (every unrestricted one).
    """
    open_to_all: dict[str, Any] = {"restricted": {"$ne": True}}
    if not visible_to:
        return open_to_all
    return {"$or": [open_to_all, *({"groups": {"$contains": group}} for group in visible_to)]}
