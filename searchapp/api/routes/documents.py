"""Documents: list, get, download the original, retag, delete, and upload (a job to poll)."""

from __future__ import annotations

import json
import mimetypes
import re
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, File, Form, Query, Request, Response, UploadFile

from searchapp.access import check_assignable, normalize_groups
from searchapp.api.callers import Caller
from searchapp.api.deps import ERRORS, NOT_FOUND, Ctx, Reader, Writer, api_base, original_link
from searchapp.api.errors import ApiError
from searchapp.api.models import DeletedOut, DocumentListOut, DocumentOut, ErrorOut, JobOut, RetagIn
from searchapp.errors import AmbiguousDocumentError, DocumentNotFoundError, QueryError
from searchapp.ingest.types import SourceFile
from searchapp.library.view import LibraryView
from searchapp.sources import Sources
from searchapp.types import FILE_TYPES, DocumentRecord
from searchapp.units import MB, format_size

router = APIRouter(tags=["documents"])
HIDDEN_FIELDS = ("replaces", "owner", "lease_until")  # write bookkeeping, not the caller's business
MAX_FILES = 100


def media_type(file_type: str) -> str:
    """The Content-Type of an original, from its file type (never from the uploaded name)."""
    return mimetypes.guess_type(f"original.{file_type}")[0] or "application/octet-stream"


ORIGINAL_TYPES = sorted({media_type(t) for t in FILE_TYPES} | {"application/octet-stream"})
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorOut, "description": "the document is being written right now"}
}
TOO_LARGE: dict[int | str, dict[str, Any]] = {
    413: {"model": ErrorOut, "description": "a file or the whole upload is over the size limits"}
}


def document_out(record: DocumentRecord, base: str) -> dict[str, Any]:
    data = record.to_dict()
    for name in HIDDEN_FIELDS:
        data.pop(name, None)
    data["link"] = original_link(base, record.doc_id)
    return data


def settled(library: LibraryView, ref: str) -> DocumentRecord:
    """The document `ref` names (full id or 8+ character prefix), if no write is on it now.

    Raises:
        DocumentNotFoundError: no such document in the caller's collection.
        ApiError: 409, it is being written (an upload or another client is storing it).
    """
    if re.fullmatch(r"[0-9a-f]{64}", ref):
        record = library.find_by_id(ref)
        if record is not None and record.state == "pending":
            raise ApiError(
                409,
                "conflict",
                f"document {ref[:12]} is being written right now; try again when that is done",
            )
    unknown = (
        f"no document with id {ref!r}; ids are the doc_id of `GET /api/v1/documents` (names are not ids)"
    )
    if not re.fullmatch(r"[0-9a-f]{8,64}", ref):
        raise DocumentNotFoundError(unknown)
    try:
        return library.document(ref)
    except AmbiguousDocumentError:  # "matches 2 documents; give more of the id": as it is
        raise
    except DocumentNotFoundError:  # its own message names the command line's `searchapp docs`
        raise DocumentNotFoundError(unknown) from None


@router.get("/documents", response_model=DocumentListOut, responses=ERRORS)
def list_documents(
    request: Request,
    caller: Reader,
    ctx: Ctx,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """The collection's documents, by name."""
    records = ctx.library_for(caller).documents()
    base = api_base(request, ctx)
    return {
        "total": len(records),
        "offset": offset,
        "documents": [document_out(r, base) for r in records[offset : offset + limit]],
    }


@router.get("/documents/{doc_id}", response_model=DocumentOut, responses={**ERRORS, **NOT_FOUND})
def get_document(doc_id: str, request: Request, caller: Reader, ctx: Ctx) -> dict[str, Any]:
    """One document, by id or an id prefix of 8+ characters."""
    library = ctx.library_for(caller)
    return document_out(settled(library, doc_id), api_base(request, ctx))


@router.get(
    "/documents/{doc_id}/original",
    response_class=Response,
    responses={
        **ERRORS,
        **NOT_FOUND,
        200: {"content": {media: {} for media in ORIGINAL_TYPES}, "description": "the file as uploaded"},
    },
)
def download_original(doc_id: str, caller: Reader, ctx: Ctx) -> Response:
    """The file as it was uploaded, as a download (never rendered by a browser on this origin)."""
    library = ctx.library_for(caller)
    record = settled(library, doc_id)
    data = library.original(record.doc_id)
    name = PurePosixPath(record.source).name or "document"
    return Response(
        data,
        media_type=media_type(record.file_type),
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(name, safe='')}",
            "Cache-Control": "private, no-store",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "sandbox",
        },
    )


@router.patch(
    "/documents/{doc_id}", response_model=DocumentOut, responses={**ERRORS, **NOT_FOUND, **CONFLICT}
)
def retag_document(doc_id: str, body: RetagIn, request: Request, caller: Writer, ctx: Ctx) -> dict[str, Any]:
    """Replace a document's tags and/or its groups (on its record and on every passage).

    A caller may restrict a document only to groups it is in (an admin: to any).
    """
    library = ctx.library_for(caller)
    record = settled(library, doc_id)
    if body.groups is not None:
        record = library.update_groups(record.doc_id, body.groups)
    if body.tags is not None:
        record = library.update_tags(record.doc_id, body.tags)
    return document_out(record, api_base(request, ctx))


@router.delete(
    "/documents/{doc_id}", response_model=DeletedOut, responses={**ERRORS, **NOT_FOUND, **CONFLICT}
)
def delete_document(doc_id: str, request: Request, caller: Writer, ctx: Ctx) -> dict[str, Any]:
    """Delete a document: its passages, its record and its kept original. Returns what was
    deleted, and (`returns`) whether a synced file will bring it back."""
    library = ctx.library_for(caller)
    record = settled(library, doc_id)
    with Sources(ctx.libraries.library(caller.collection)) as sources:  # closed: it may own an ingestor
        returns = sources.returns_after_delete(record.doc_id)
    library.delete(record.doc_id)
    return {**document_out(record, api_base(request, ctx)), "returns": returns}


@router.post("/documents", status_code=202, response_model=JobOut, responses={**ERRORS, **TOO_LARGE})
def upload(
    request: Request,
    response: Response,
    caller: Writer,
    ctx: Ctx,
    files: Annotated[list[UploadFile], File(description="the files (PDF, DOCX, MD, HTML, TXT)")],
    tags: Annotated[list[str] | None, Form(description="tags for every file of this upload")] = None,
    groups: Annotated[
        list[str] | None, Form(description="restrict every file of this upload to these groups (yours only)")
    ] = None,
    passwords: Annotated[
        str | None,
        Form(description='JSON object of file name -> password, for encrypted PDFs: {"a.pdf": "…"}'),
    ] = None,
) -> dict[str, Any]:
    """Upload files; they are ingested in the background. Poll the job (`status_url`) for progress.

    A password is used for its file's extraction and then dropped (never stored). A file
    that cannot be read, or is over the file size limit, is a failed outcome in the job's
    report, with its reason; an upload whose every file is over that limit is refused (413).
    """
    library = ctx.library_for(caller)
    if len(files) > MAX_FILES:
        raise QueryError(f"an upload takes at most {MAX_FILES} files; got {len(files)}")
    secrets = _passwords(passwords)
    limit = library.settings.max_file_mb * MB
    names = [_file_name(f.filename) for f in files]
    # One file over the limit fails on its own in the job's report, as a damaged one does;
    # only an upload with nothing else in it is refused outright.
    if all(file.size is not None and file.size > limit for file in files):
        name, size = names[0], files[0].size or 0
        raise ApiError(
            413,
            "too_large",
            f"{name} is {format_size(size)} ({size:,} bytes); files may be at most "
            f"{library.settings.max_file_mb} MB ({limit:,} bytes, SEARCHAPP_MAX_FILE_MB)",
        )
    clean_tags = tuple(t.strip() for t in tags or () if t.strip())
    clean_groups = _groups(groups or (), caller)
    spool = Path(tempfile.mkdtemp(prefix="upload-", dir=_spool_root(library)))
    try:
        sources: list[SourceFile] = []
        for i, (name, file) in enumerate(zip(names, files, strict=True)):
            path = spool / str(i)
            with path.open("wb") as out:
                shutil.copyfileobj(file.file, out, 1024 * 1024)
            sources.append(
                SourceFile(
                    name, path=path, tags=clean_tags, groups=clean_groups, password=secrets.get(name, "")
                )
            )
        job = ctx.jobs.submit(caller.collection, caller.subject, sources, spool, visibility=caller.visibility)
    except BaseException:
        shutil.rmtree(spool, ignore_errors=True)
        raise
    status_url = f"{api_base(request, ctx)}/v1/jobs/{job.job_id}"
    response.headers["Location"] = status_url
    return {**job.to_dict(), "status_url": status_url}


def _groups(raw: Sequence[str], caller: Caller) -> tuple[str, ...]:
    try:
        groups = normalize_groups([g for g in raw if g.strip()])
    except ValueError as exc:
        raise QueryError(str(exc)) from None
    check_assignable(groups, caller.visibility)
    return groups


def _file_name(raw: str | None) -> str:
    name = PurePosixPath((raw or "").replace("\\", "/")).name.strip()
    if not name or name in (".", ".."):
        raise QueryError(f"every uploaded file needs a file name; got {raw!r}")
    return name


def _passwords(raw: str | None) -> dict[str, str]:
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        value = None
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise QueryError('passwords must be a JSON object of file name -> password, e.g. {"a.pdf": "secret"}')
    return value


def _spool_root(library: LibraryView) -> Path:
    root = library.settings.data_dir / "uploads"
    root.mkdir(parents=True, exist_ok=True)
    return root
