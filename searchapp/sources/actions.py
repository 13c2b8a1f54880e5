"""What a sync plan is made of: the actions that change the library, and what the plan
reads of each stored document."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ActionKind = Literal["ingest", "move", "delete", "retag"]


@dataclass(frozen=True, slots=True)
class CatalogEntry:
    """What the plan needs of a stored document: its name, type, tags and groups."""

    source: str
    file_type: str
    tags: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Action:
    """One change to the library.

    ingest: read `path` and store it as `name` (`replaces`: the version of that name it
    replaces). move: `old_name` becomes `name` (`retype`: the new name is another file
    type, so the document is read again from its kept original). delete: `old_name` goes.
    retag: the document of `name` gets `tags` (it keeps the tags it has) and, unless
    `groups` is None, exactly those groups (() for none: `searchapp.sources.labels`).
    """

    kind: ActionKind
    doc_id: str
    name: str = ""
    old_name: str = ""
    path: str = ""
    mtime: int = 0
    replaces: str = ""
    retype: bool = False
    tags: tuple[str, ...] = ()
    groups: tuple[str, ...] | None = None

    def describe(self) -> str:
        if self.kind == "ingest":
            verb = "replace" if self.replaces else "ingest"
            return f"{verb} {self.name}"
        if self.kind == "move":
            return f"move {self.old_name} -> {self.name}" + (" (new type: read again)" if self.retype else "")
        if self.kind == "retag":
            return f"tag {self.name}"
        return f"delete {self.old_name}"
