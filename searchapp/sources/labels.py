"""The tags and groups a synced document carries, when one source or several hold it.

Identical files are one document (its id is its content's hash), so a file copied into
two shares is one document held by two sources:

- **tags**: every source that holds a document adds its tags (tags given by hand stay),
  so a tag filter of either source finds it;
- **groups** (who may see it): the union of the groups of the sources that hold it, since
  each of them says its groups may read that file. A source without groups opens its
  documents to everyone, so a document it holds beside a restricted source is
  unrestricted (unless a person restricted it otherwise: a restricted source that starts
  holding it never opens it); a document only sources without groups hold keeps its
  groups as they are (set by hand, perhaps), as an upload without groups does. When a source stops holding
  a document (or is removed), the groups are those of the sources still holding it.

Pure: `retags` returns the plan's ``retag`` actions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from searchapp.sources.actions import Action, CatalogEntry
from searchapp.sources.spec import SourceSpec, path_key


@dataclass(frozen=True, slots=True)
class Labels:
    """What a source gives the documents it holds."""

    tags: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()

    @classmethod
    def of(cls, spec: SourceSpec) -> Labels:
        return cls(spec.tags, spec.groups)


def union_groups(holders: Sequence[Sequence[str]], current: Sequence[str] = ()) -> tuple[str, ...] | None:
    """The groups a document held by sources with these groups should have, given its
    `current` groups.

    Every holder restricted: the union of their groups. A holder without groups opens
    its documents to everyone, so beside a restricted one the document is unrestricted
    (()), unless its current groups are not the restricted holders' own (set by hand:
    a restricted source starting to hold it must not open it). No holder with groups, or
    none at all: None, its groups stay as they are.
    """
    if not any(holders):
        return None
    out: list[str] = []
    for groups in holders:
        out += [g for g in groups if g not in out]
    if all(holders):
        return tuple(out)
    return () if set(current) <= set(out) else None


def regroup(holders: Sequence[Sequence[str]], current: Sequence[str]) -> tuple[str, ...] | None:
    """The groups to give a document its holders' groups call for; None when they stay."""
    groups = union_groups(holders, current)
    if groups is None or set(groups) == set(current):
        return None
    return groups


def retags(
    spec: SourceSpec,
    names: Mapping[str, tuple[str, str]],
    released: Sequence[str],
    catalog: Mapping[str, CatalogEntry],
    others: Mapping[str, Sequence[Labels]],
) -> list[Action]:
    """The documents whose tags or groups must change.

    Args:
        names: doc_id -> (its name, its path here) for every document this source holds.
        released: documents this source held at its last sync and holds no more.
        others: doc_id -> the labels of every other source holding it.
    """
    actions: list[Action] = []
    for doc_id, (name, _) in sorted(names.items(), key=lambda item: path_key(item[1][0])):
        entry = catalog.get(doc_id)
        if entry is None:  # ingested by this sync, with this source's labels
            continue
        tags = tuple(t for t in spec.tags if t not in entry.tags)
        holders = [spec.groups, *(o.groups for o in others.get(doc_id, ()))]
        groups = regroup(holders, entry.groups)
        if tags or groups is not None:
            actions.append(Action("retag", doc_id, name=name, tags=tags, groups=groups))
    for doc_id in sorted(released):  # what this source no longer holds: the others' groups
        entry = catalog.get(doc_id)
        held_by = others.get(doc_id, ())
        if entry is None or not held_by:
            continue  # deleted by this sync
        groups = regroup([o.groups for o in held_by], entry.groups)
        if groups is not None:
            actions.append(Action("retag", doc_id, name=entry.source, groups=groups))
    return actions
