"""Planning a sync: a listing and what is stored in, the actions that make the library a mirror out.

Pure: no file is read and nothing is written here. The caller lists the source, hashes
the files whose fingerprint changed (`files_to_read`), and hands both over with the
stored file records and the catalog; `plan_sync` says what to do:

- **ingest** content the library does not hold, under the name of the first file that
  holds it (in the order a one-off ingest meets files), replacing the version of that name;
- **move** a document whose named file was renamed, moved, deleted or changed while
  another file holds its content: it keeps its chunks and vectors and takes that file's
  name; no embedding. A copy (the named file is still there) is only another location;
- **delete** a document of this source that no file holds any more, with its original.

Identical files are one document that lists every path holding it; deleting one path
keeps the document while another still holds it (in this source or another). What a
folder that could not be opened, a file being written, or a file that cannot be read
held before stays as it was. A version that fails to ingest leaves the older one in
place. The guards come last: a sync that would remove more than the source's
`max_delete_share` of its documents holds those deletions back, unless confirmed; the
rest of the sync (new and changed files, moves, tags) still goes ahead, and the gone
files' records stay, so every later sync holds the same deletions until one confirms them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import PurePosixPath

from searchapp.ingest.extract import EXTENSIONS
from searchapp.sources.actions import Action, ActionKind, CatalogEntry
from searchapp.sources.labels import Labels, retags
from searchapp.sources.listing import ListedFile, Listing, Problem
from searchapp.sources.spec import SourceSpec, path_key
from searchapp.sources.state import FileState

STILL_WRITING = "still being written"


@dataclass(frozen=True, slots=True)
class SyncPlan:
    """What one sync of one source will do (see the module docstring)."""

    source: str
    actions: tuple[Action, ...] = ()
    records: tuple[FileState, ...] = ()  # file records to write (changed ones only)
    forget: tuple[str, ...] = ()  # record keys of files that are gone
    fallbacks: tuple[FileState, ...] = ()  # a file's record if its new version fails to ingest
    files: int = 0
    documents: int = 0
    unchanged: int = 0
    deferred: tuple[str, ...] = ()  # files still being written: a later sync takes them
    problems: tuple[Problem, ...] = ()
    blocked: str = ""  # why nothing (or, with `mass_delete`, no deletion) is done
    mass_delete: bool = False  # deletions held back by the delete share: `allow_mass_delete` lifts it
    held: tuple[Action, ...] = ()  # those deletions (not in `actions`)
    owned: int = 0  # documents named in this source's namespace before the sync
    skipped: tuple[str, ...] = ()  # files the source does not take (`Listing.skipped`)

    def of_kind(self, kind: ActionKind) -> list[Action]:
        return [a for a in self.actions if a.kind == kind]

    @property
    def counts(self) -> dict[str, int]:
        ingests = self.of_kind("ingest")
        return {
            "new": sum(not a.replaces for a in ingests),
            "changed": sum(bool(a.replaces) for a in ingests),
            "moved": len(self.of_kind("move")),
            "deleted": len(self.of_kind("delete")),
            "held": len(self.held),
            "retagged": len(self.of_kind("retag")),
            "unchanged": self.unchanged,
            "deferred": len(self.deferred),
            "problems": len(self.problems),
            "skipped": len(self.skipped),
        }

    @property
    def changes_library(self) -> bool:
        return bool(self.actions)

    @property
    def applies(self) -> bool:
        """Whether a sync carries this plan out: not when blocked, save the held deletions."""
        return not self.blocked or self.mass_delete

    def describe(self) -> list[str]:
        lines = [action.describe() for action in self.actions]
        lines += [f"hold {action.describe()} (mass-delete guard)" for action in self.held]
        lines += [f"wait {path} ({STILL_WRITING})" for path in self.deferred]
        lines += [f"problem {p.path}: {p.detail}" for p in self.problems]
        return lines


@dataclass
class _Paths:
    """Per-path decisions while planning."""

    held: dict[str, str] = field(default_factory=dict)  # path -> doc_id it holds
    records: dict[str, FileState] = field(default_factory=dict)  # path -> record after the sync
    fallbacks: dict[str, FileState] = field(default_factory=dict)
    deferred: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    unchanged: int = 0


def files_to_read(
    listing: Listing, stored: Mapping[str, FileState], *, now: float, settle_s: float
) -> tuple[list[ListedFile], list[str]]:
    """Which files must be read (hashed) before planning, and which are too fresh to read yet.

    A file whose size and mtime match its record is not read: its content is known. One
    modified less than `settle_s` ago may still be being written: it waits for a later
    sync (the watcher schedules one).
    """
    to_read: list[ListedFile] = []
    settling: list[str] = []
    for listed in listing.files:
        state = stored.get(listed.path)
        if state is not None and state.matches(listed) and not state.retry:
            continue
        if settle_s > 0 and now - listed.mtime_ns / 1e9 < settle_s:
            settling.append(listed.path)
            continue
        to_read.append(listed)
    return to_read, settling


def plan_sync(
    spec: SourceSpec,
    listing: Listing,
    *,
    hashes: Mapping[str, str],
    waiting: Mapping[str, str],
    stored: Mapping[str, FileState],
    catalog: Mapping[str, CatalogEntry],
    elsewhere: Mapping[str, Sequence[str]],
    namespaces: Collection[str],
    labels: Mapping[str, Sequence[Labels]] | None = None,
    allow_mass_delete: bool = False,
) -> SyncPlan:
    """The plan for one sync.

    Args:
        hashes: path -> SHA-256 of the files read for this sync.
        waiting: path -> why a file could not be read now (being written, unreadable).
        stored: path -> this source's file records.
        catalog: doc_id -> every finished document of the library.
        elsewhere: doc_id -> names of the document's files in other sources.
        namespaces: the name prefixes of every source (``name/``): documents named inside
            one belong to that source; any other name is a one-off ingest, never touched.
        labels: doc_id -> the tags and groups of the other sources that hold it
            (`searchapp.sources.labels`).
    """
    labels = labels or {}
    paths = _decide_paths(spec, listing, hashes, waiting, stored)
    current = {doc_id: entry.source for doc_id, entry in catalog.items()}
    names, shadowed = _desired_names(spec, paths.held, elsewhere, current)
    paths.problems += shadowed
    by_name = {entry.source: doc_id for doc_id, entry in catalog.items()}
    owned = [doc_id for doc_id, entry in catalog.items() if entry.source.startswith(spec.prefix)]

    def is_owned(name: str) -> bool:
        return any(name.startswith(prefix) for prefix in namespaces)

    moves: list[Action] = []
    ingests: list[Action] = []
    moving: set[str] = set()
    listed_by_path = {f.path: f for f in listing.files}
    for doc_id, (name, path) in sorted(names.items(), key=lambda item: path_key(item[1][0])):
        entry = catalog.get(doc_id)
        if entry is None:
            listed = listed_by_path.get(path)
            mtime = int(listed.mtime_ns // 1_000_000_000) if listed else 0
            ingests.append(Action("ingest", doc_id, name=name, path=path, mtime=mtime))
        elif entry.source != name and is_owned(entry.source):
            moves.append(
                Action(
                    "move", doc_id, name=name, old_name=entry.source, retype=_type(name) != entry.file_type
                )
            )
            moving.add(doc_id)
    # A document of this namespace that no file here holds any more, but another source does.
    for doc_id in owned:
        if doc_id not in names and elsewhere.get(doc_id):
            target = min(elsewhere[doc_id], key=path_key)
            moves.append(Action("move", doc_id, name=target, old_name=catalog[doc_id].source))
            moving.add(doc_id)
            names[doc_id] = (target, "")
    ingests = [_with_replaced(action, by_name.get(action.name), names, moving, catalog) for action in ingests]
    replaced = {a.replaces for a in ingests if a.replaces}
    deletes = [
        Action("delete", doc_id, old_name=catalog[doc_id].source)
        for doc_id in sorted(owned, key=lambda d: path_key(catalog[d].source))
        if doc_id not in names and doc_id not in replaced
    ]
    here = {doc_id: named for doc_id, named in names.items() if named[1]}  # not those moved away
    released = {s.doc_id for s in stored.values() if s.doc_id} - set(here)
    retagged = retags(spec, here, sorted(released), catalog, labels)
    held: list[Action] = []
    blocked = ""
    gone_states = [s for path, s in stored.items() if path not in paths.records]
    # A hold lasts until confirmed: new files must not dilute it under the share.
    sticky = {s.doc_id for s in gone_states if s.held}
    over = len(deletes) > spec.max_delete_share * max(len(owned), 1)
    if deletes and not allow_mass_delete and (over or any(d.doc_id in sticky for d in deletes)):
        why = "more than" if over else "held since a sync that would have removed more than"
        blocked = (
            f"this sync would remove {len(deletes)} of the {len(owned)} documents of source {spec.name!r} "
            f"({why} {spec.max_delete_share:.0%}); those deletions wait for a confirmation "
            "(other changes go ahead). If the files were really deleted, sync again with "
            "--allow-mass-delete (or 'Remove them anyway' on the Sources page)"
        )
        held, deletes = deletes, []
    kept = {action.doc_id for action in held}  # their gone files' records stay, marked held
    changed = [s for path, s in sorted(paths.records.items()) if stored.get(path) != s]
    changed += [replace(s, held=True) for s in gone_states if s.doc_id in kept and not s.held]
    gone = [s.key for s in gone_states if s.doc_id not in kept]
    return SyncPlan(
        source=spec.name,
        actions=(*deletes, *moves, *ingests, *retagged),
        records=tuple(changed),
        forget=tuple(sorted(gone)),
        fallbacks=tuple(paths.fallbacks.values()),
        files=len(paths.records),
        documents=len(names),
        unchanged=paths.unchanged,
        deferred=tuple(sorted(paths.deferred, key=path_key)),
        problems=tuple(paths.problems),
        blocked=blocked,
        mass_delete=bool(held),
        held=tuple(held),
        owned=len(owned),
        skipped=listing.skipped,
    )


def blocked_plan(spec: SourceSpec, reason: str) -> SyncPlan:
    """A plan that changes nothing (the root is missing, say), and says why."""
    return SyncPlan(source=spec.name, blocked=reason)


def _decide_paths(
    spec: SourceSpec,
    listing: Listing,
    hashes: Mapping[str, str],
    waiting: Mapping[str, str],
    stored: Mapping[str, FileState],
) -> _Paths:
    out = _Paths(problems=list(listing.problems))
    for listed in listing.files:
        path = listed.path
        state = stored.get(path)
        if state is not None and state.held:  # back: no deletion of it is held any more
            state = replace(state, held=False)
        if path in waiting:
            if waiting[path] == STILL_WRITING:
                out.deferred.append(path)
            else:
                out.problems.append(Problem(path, waiting[path]))
            _keep(out, state)
            continue
        if state is not None and state.matches(listed) and not state.retry:
            out.unchanged += 1
            _keep(out, state)
            continue
        content = hashes.get(path)
        if content is None:  # not read: nothing known of its bytes (the caller reads them all)
            out.problems.append(Problem(path, "was not read"))
            _keep(out, state)
            continue
        fresh = FileState(spec.name, path, listed.size, listed.mtime_ns, listed.etag, doc_id=content)
        if state is not None and content == state.doc_id:  # touched, not changed
            out.unchanged += 1
            fresh_state = FileState(
                spec.name, path, listed.size, listed.mtime_ns, listed.etag, doc_id=content
            )
            out.records[path] = fresh_state
            out.held[path] = content
            continue
        if state is not None and content == state.failed_doc and not state.retry:
            out.unchanged += 1
            out.problems.append(Problem(path, state.error))
            _keep(out, state.seen_as(listed))
            continue
        out.records[path] = fresh
        out.held[path] = content
        previous = state.doc_id if state is not None else ""
        out.fallbacks[path] = FileState(
            spec.name, path, listed.size, listed.mtime_ns, listed.etag, doc_id=previous, failed_doc=content
        )
    listed_paths = {f.path for f in listing.files}
    for path, state in stored.items():
        if path not in listed_paths and _inside_any(path, listing.unlisted_dirs):
            _keep(out, state)  # its folder could not be opened: keep what it held
    return out


def _keep(out: _Paths, state: FileState | None) -> None:
    if state is None:
        return
    out.records[state.path] = state
    if state.doc_id:
        out.held[state.path] = state.doc_id


def _desired_names(
    spec: SourceSpec,
    held: Mapping[str, str],
    elsewhere: Mapping[str, Sequence[str]],
    current: Mapping[str, str],
) -> tuple[dict[str, tuple[str, str]], list[Problem]]:
    """doc_id -> (its name, the path here whose bytes it is read from), and the files whose
    name, once cleaned, is another file's (the later file wins it, as in a one-off ingest).

    A document keeps its `current` name while a file still holds it there: a copy is one
    more location, never a move (only a name no file holds any more is given up). New
    content, or a document whose named file is gone, takes the first name in path order.
    """
    by_doc: dict[str, list[str]] = defaultdict(list)
    for path, doc_id in held.items():
        by_doc[doc_id].append(path)
    names: dict[str, tuple[str, str]] = {}
    taken: dict[str, str] = {}
    problems: list[Problem] = []
    firsts: dict[str, str] = {}
    for doc_id, doc_paths in by_doc.items():
        kept = [p for p in doc_paths if spec.document_name(p) == current.get(doc_id)]
        firsts[doc_id] = kept[0] if kept else min(doc_paths, key=path_key)
    for doc_id, first in sorted(firsts.items(), key=lambda item: path_key(item[1])):
        own = spec.document_name(first)
        others = elsewhere.get(doc_id, ())
        name = own if own == current.get(doc_id) else min([own, *others], key=path_key)
        if current.get(doc_id) in others:
            name = current[doc_id]  # another source's file holds it under its name still
        if name in taken and taken[name] != doc_id:
            loser = taken[name]
            problems.append(Problem(names[loser][1], f"has the same name as {first!r} once cleaned; skipped"))
            del names[loser]
        taken[name] = doc_id
        names[doc_id] = (name, first)
    return names, problems


def _with_replaced(
    action: Action,
    current: str | None,
    names: Mapping[str, tuple[str, str]],
    moving: set[str],
    catalog: Mapping[str, CatalogEntry],
) -> Action:
    """An ingest replaces the document now under its name, unless that one stays (moved away)."""
    if current is None or current in moving or current in names or current not in catalog:
        return action
    return Action(
        "ingest", action.doc_id, name=action.name, path=action.path, mtime=action.mtime, replaces=current
    )


def _type(name: str) -> str:
    return EXTENSIONS.get(PurePosixPath(name.lower()).suffix, "")


def _inside_any(path: str, folders: Sequence[str]) -> bool:
    return any(folder == "" or path.startswith(folder + "/") for folder in folders)
