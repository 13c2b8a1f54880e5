"""`Sources`: the Python API of synced folders and buckets, over one library.

    from searchapp import Library
    from searchapp.sources import Sources, SourceSpec

    with Library.open() as library, Sources(library) as sources:
        sources.add(SourceSpec.create("handbook", "~/handbook", exclude=["drafts/*"], tags=["hr"]))
        for report in sources.sync():          # every source; or sources.sync("handbook")
            print(report.summary())

The CLI (`searchapp sources`, `searchapp sync`) and the Sources page are thin front ends
over this class; the HTTP API will be too.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from shlex import quote
from typing import Any

from searchapp.errors import SourceError
from searchapp.ingest.pipeline import Ingestor
from searchapp.library import Library
from searchapp.progress import ProgressCallback
from searchapp.sources.labels import regroup
from searchapp.sources.plan import SyncPlan
from searchapp.sources.report import SyncReport
from searchapp.sources.spec import SourceSpec, clean_groups, exact_pattern, path_key
from searchapp.sources.state import SourceState, SyncStatus
from searchapp.sources.sync import Syncer


@dataclass(frozen=True, slots=True)
class SourceInfo:
    """A source and how its last sync went."""

    spec: SourceSpec
    status: SyncStatus

    def to_dict(self) -> dict[str, Any]:
        return {**self.spec.to_dict(), "kind": self.spec.kind, "status": self.status.to_dict()}


class Sources:
    """The sources of one library: add, list, remove, sync, where a document's files are."""

    def __init__(
        self,
        library: Library,
        *,
        ingestor: Ingestor | None = None,
        settle_s: float | None = None,
        workers: int | None = None,
    ) -> None:
        self.library = library
        self.state = SourceState(library)
        self.syncer = Syncer(library, ingestor=ingestor, settle_s=settle_s, workers=workers)

    def close(self) -> None:
        self.syncer.close()

    def __enter__(self) -> Sources:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ specs

    def add(self, spec: SourceSpec, *, adopt: bool = False) -> SourceSpec:
        """Add a source (sync it next). Its folder or bucket must be reachable now.

        Raises:
            SourceError: a source of that name exists; the location is missing or unreadable;
                or documents are already named ``<name>/...`` (from an ingest) and `adopt`
                was not given: the first sync would replace or remove them.
        """
        if any(s.name == spec.name for s in self.state.specs()):
            raise SourceError(
                f"a source named {spec.name!r} exists already; remove it first, or choose another name"
            )
        from searchapp.sources.listing import open_source

        open_source(spec).list()  # reachable now, or a clear error
        taken = [r.source for r in self.library.documents() if r.source.startswith(spec.prefix)]
        if taken and not adopt:
            raise SourceError(
                f"the library already holds {len(taken)} documents named {spec.prefix}… (e.g. {taken[0]!r}), "
                "and a source's documents are named after it: choose another name, or adopt them "
                "(the source then keeps, renames or removes them as its files say)"
            )
        self.state.put_spec(spec)
        return spec

    def update(self, name: str, **changes: Any) -> SourceSpec:
        """Change settings of a source (watch, tags, groups, globs, poll_s, max_delete_share); not
        its name or location (remove it and add it again)."""
        if {"name", "location"} & changes.keys():
            raise SourceError("a source's name and location cannot change; remove it and add it again")
        for key in ("include", "exclude", "tags"):
            if key in changes:
                changes[key] = tuple(dict.fromkeys(v.strip() for v in changes[key] if v.strip()))
        if "groups" in changes:
            changes["groups"] = clean_groups(changes["groups"])
        spec = dataclasses.replace(self.state.spec(name), **changes)
        self.state.put_spec(spec)
        return spec

    def all(self) -> list[SourceInfo]:
        return [SourceInfo(spec, self.state.status(spec.name)) for spec in self.state.specs()]

    def get(self, name: str) -> SourceInfo:
        spec = self.state.spec(name)
        return SourceInfo(spec, self.state.status(name))

    def remove(self, name: str, *, keep_documents: bool = False) -> int:
        """Remove a source; its documents leave the library too unless `keep_documents`
        (they then stay as ordinary documents). Returns how many documents were removed."""
        spec = self.state.spec(name)
        removed = 0
        others = {s.name: s for s in self.state.specs() if s.name != name}
        holders = self.state.holders()
        if not keep_documents:
            for record in self.library.documents(include_pending=True):
                if not record.source.startswith(spec.prefix):
                    continue
                elsewhere = [
                    others[h.source].document_name(h.path)
                    for h in holders.get(record.doc_id, [])
                    if h.source in others
                ]
                if elsewhere and record.state == "done":  # another source holds it too: it stays, named there
                    self.library.rename(record.doc_id, min(elsewhere, key=path_key))
                else:
                    self.library.delete_by_id(record.doc_id)
                    removed += 1
        for doc_id, held_by in holders.items():  # what others hold too: their groups now
            still = [others[h.source].groups for h in held_by if h.source in others]
            if not still or not any(h.source == name for h in held_by):
                continue
            kept = self.library.find_by_id(doc_id)
            groups = regroup(still, kept.groups) if kept is not None else None
            if groups is not None:
                self.library.update_groups(doc_id, groups)
        self.state.delete_source(name)
        return removed

    # ------------------------------------------------------------------ syncing

    def sync(
        self,
        name: str | None = None,
        *,
        dry_run: bool = False,
        allow_mass_delete: bool = False,
        progress: ProgressCallback | None = None,
    ) -> list[SyncReport]:
        """Sync one source, or every source (in name order); one report each."""
        names = [name] if name is not None else [s.name for s in self.state.specs()]
        return [
            self.syncer.sync(n, dry_run=dry_run, allow_mass_delete=allow_mass_delete, progress=progress)
            for n in names
        ]

    def plan(self, name: str, *, allow_mass_delete: bool = False) -> SyncPlan:
        return self.syncer.plan(name, allow_mass_delete=allow_mass_delete)

    # ------------------------------------------------------------------ where documents are

    def locations(self, doc_id: str) -> list[str]:
        """Every synced file that holds this document, as library names in path order."""
        specs = {s.name: s for s in self.state.specs()}
        holders = self.state.holders([doc_id]).get(doc_id, [])
        names = sorted(specs[h.source].document_name(h.path) for h in holders if h.source in specs)
        return names

    def returns_after_delete(self, doc_id: str) -> str:
        """Why deleting this document by hand will not last (empty: it will): a source's file
        still holds it, so the next sync ingests it again, and groups and tags set on it by hand
        are lost with it. Says how to keep it out."""
        specs = {s.name: s for s in self.state.specs()}
        holders = [h for h in self.state.holders([doc_id]).get(doc_id, []) if h.source in specs]
        if not holders:
            return ""
        held = ", ".join(specs[h.source].document_name(h.path) for h in holders)
        fixes = []
        for name in dict.fromkeys(h.source for h in holders):
            spec = specs[name]
            globs = [*spec.exclude, *(exact_pattern(h.path) for h in holders if h.source == name)]
            fixes.append(f"searchapp sources set {name} " + " ".join(f"--exclude {quote(g)}" for g in globs))
        return (
            f"the file {held} still holds it: the next sync brings it back (without groups or "
            f"tags set by hand). To keep it out, remove the file, or exclude it: {'; '.join(fixes)}"
        )

    def copies(self) -> dict[str, list[str]]:
        """Documents that several synced files hold (the same bytes at several paths): doc_id ->
        every file's library name, in path order."""
        specs = {s.name: s for s in self.state.specs()}
        out = {}
        for doc_id, holders in self.state.holders().items():
            names = sorted(specs[h.source].document_name(h.path) for h in holders if h.source in specs)
            if len(names) > 1:
                out[doc_id] = names
        return out

    def source_of(self, document_name: str) -> SourceSpec | None:
        """The source a document name belongs to (None: a one-off ingest)."""
        return next((s for s in self.state.specs() if document_name.startswith(s.prefix)), None)
