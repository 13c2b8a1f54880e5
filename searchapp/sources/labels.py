"""The tags and groups a synced document carries, when one source or several hold it.

Identical files are one document (its id is its content's hash), so a file copied into
two shares is one document held by two sources:

- **tags**: every source that holds a document adds its tags (tags given by hand stay),
  so a tag filter of either source finds it;
- **groups** (who may see it): the union of the groups of the sources that hold it, since
  each of them says its groups may read that file. A source without groups restricts
  nothing and leaves a document's groups as they are (as an upload without groups does),
  so the union is set only when every source holding the document has groups. A source
  that stops holding a document takes its groups back out.

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


def union_groups(holders: Sequence[Sequence[str]]) -> tuple[str, ...]:
    """The groups a document held by sources with these groups should have; () leaves its
    groups as they are (no holder, or one holder without groups)."""
    if not holders or any(not groups for groups in holders):
        return ()
    out: list[str] = []
    for groups in holders:
        out += [g for g in groups if g not in out]
    return tuple(out)


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
        groups = union_groups([spec.groups, *(o.groups for o in others.get(doc_id, ()))])
        groups = groups if set(groups) != set(entry.groups) else ()
        if tags or groups:
            actions.append(Action("retag", doc_id, name=name, tags=tags, groups=groups))
    if spec.groups:  # what this source no longer holds loses the groups it gave
        for doc_id in sorted(released):
            entry = catalog.get(doc_id)
            held_by = others.get(doc_id, ())
            if entry is None or not held_by:
                continue  # deleted by this sync
            groups = union_groups([o.groups for o in held_by])
            if groups and set(groups) != set(entry.groups):
                actions.append(Action("retag", doc_id, name=entry.source, groups=groups))
    return actions
