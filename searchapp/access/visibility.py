"""Per-group visibility inside a collection: who may see a document.

A document's groups (set at ingest or upload, changeable like tags) restrict it: with
none, every caller of the collection sees it; with some, only a caller in at least one
of them does. A caller's `Visibility` is None when it sees everything (no sign-in, an
admin, the CLI on the machine), else the set of its groups (the OIDC ``groups`` claim,
plus any its teams entry adds).

The library applies it where rows are chosen (the filters' row mask, in every search
mode; see `SearchFilters.visible_to`), never by dropping hits afterwards, and a
document a caller may not see does not exist for it: `Library.view(visibility)` is the
reader every front end uses for a caller.
"""

from __future__ import annotations

from collections.abc import Iterable

from searchapp.errors import AccessDeniedError

Visibility = frozenset[str] | None


def can_see(groups: Iterable[str], visibility: Visibility) -> bool:
    """True when a document with these groups is visible to a caller with `visibility`."""
    if visibility is None:
        return True
    wanted = tuple(groups)
    return not wanted or not visibility.isdisjoint(wanted)


def check_assignable(groups: Iterable[str], visibility: Visibility) -> None:
    """A caller may restrict a document only to groups it is in (an admin: to any).

    So nobody can hide a document from themselves by accident, or file one under a group
    they do not belong to.

    Raises:
        AccessDeniedError: `groups` holds a group the caller is not in.
    """
    if visibility is None:
        return
    outside = [g for g in groups if g not in visibility]
    if outside:
        yours = ", ".join(sorted(visibility)) or "none"
        raise AccessDeniedError(
            f"you can restrict documents only to groups you are in ({yours}); not to "
            f"{', '.join(repr(g) for g in outside)}"
        )


def as_filter(visibility: Visibility) -> tuple[str, ...] | None:
    """`visibility` as `SearchFilters.visible_to`: None, or the caller's groups, sorted."""
    return None if visibility is None else tuple(sorted(visibility))
