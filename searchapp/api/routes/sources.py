"""Sources over HTTP: the folders and buckets the collection follows, and "sync now".

A caller sees the sources whose documents it may see (a source's groups,
`searchapp.access.visibility`); the server paths and endpoints only a caller who sees
everything (`searchapp.sources.redact`: in messages too). Syncing needs the write role;
a sync that would remove more than the source's share of documents holds those
deletions here as on the command line, and only a caller who sees everything may
confirm them (`allow_mass_delete`). Adding, changing and removing sources stays with
the CLI and the UI: a source reads the server's files.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from searchapp.access.visibility import can_see
from searchapp.api.callers import Caller
from searchapp.api.deps import ERRORS, NOT_FOUND, Ctx, Reader, Writer
from searchapp.api.errors import ApiError
from searchapp.api.models import SourceListOut, SyncReportOut
from searchapp.sources import SourceInfo, Sources
from searchapp.sources.redact import redact

router = APIRouter()


def _sources(caller: Caller, ctx: Ctx) -> Sources:
    """The caller's collection's sources, syncing with the server's shared ingestor."""
    collection = caller.collection
    return Sources(ctx.libraries.library(collection), ingestor=ctx.libraries.ingestor(collection))


def _shown(info: SourceInfo, caller: Caller) -> dict[str, Any]:
    data = info.to_dict()
    return data if caller.sees_everything else redact(data, info.spec)


@router.get("/sources", response_model=SourceListOut, tags=["sources"], responses=ERRORS)
def list_sources(caller: Reader, ctx: Ctx) -> dict[str, Any]:
    """The sources whose documents the caller may see, with how each one's last sync went."""
    with _sources(caller, ctx) as sources:
        infos = [i for i in sources.all() if can_see(i.spec.groups, caller.visibility)]
    return {"sources": [_shown(info, caller) for info in infos]}


@router.post(
    "/sources/{name}/sync", response_model=SyncReportOut, tags=["sources"], responses={**ERRORS, **NOT_FOUND}
)
def sync_source(
    name: str,
    caller: Writer,
    ctx: Ctx,
    dry_run: Annotated[bool, Query(description="Say what a sync would do, changing nothing.")] = False,
    allow_mass_delete: Annotated[
        bool,
        Query(description="Confirm a sync that removes more than the share allowed (callers who see all)."),
    ] = False,
) -> dict[str, Any]:
    """Sync one source now; the answer is its report (``busy`` while another sync of it runs)."""
    if allow_mass_delete and not caller.sees_everything:
        raise ApiError(403, "forbidden", "only a caller who sees every document may confirm a mass delete")
    with _sources(caller, ctx) as sources:
        found = {i.spec.name: i for i in sources.all()}.get(name)
        if found is None or not can_see(found.spec.groups, caller.visibility):
            raise ApiError(404, "not_found", f"no source named {name!r}; GET /api/v1/sources lists them")
        (report,) = sources.sync(name, dry_run=dry_run, allow_mass_delete=allow_mass_delete)
    data = report.to_dict()
    if caller.sees_everything:
        return data
    visible = {r.doc_id for r in ctx.library_for(caller).documents()}  # the catalog read once
    # A move or a retag can be of a document this caller does not see, or will not once
    # the sync is made (a dry run): one a restricted source still holds when this source
    # lets it go. Its name and groups are not for this caller; the counts stay.
    hidden = {
        a["doc_id"]
        for a in data["actions"]
        if a["kind"] == "retag" and a["groups"] is not None and not can_see(a["groups"], caller.visibility)
    }

    def shown(action: dict[str, Any]) -> bool:
        if action["kind"] in ("ingest", "delete"):  # this source's own new and gone names
            return True
        return action["doc_id"] not in hidden and action["doc_id"] in visible

    data["actions"] = [a for a in data["actions"] if shown(a)]
    data["held"] = [a for a in data["held"] if a["doc_id"] in visible]
    out: dict[str, Any] = redact(data, found.spec)
    return out
