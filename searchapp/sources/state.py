"""What a library remembers about its sources, kept in record tables beside it.

    sources          one record per source: its `SourceSpec`
    source-files     one record per file of a source: its fingerprint (size, mtime, ETag),
                     the document it holds, and the error of its last version, if any
    source-status    one record per source: how its last sync went

They live where the library lives (the local data directory, or the shared Chroma server),
so every client of a server sees the same sources. The file records are a cache of what
the files held when last read: a sync that finds a file unchanged (same fingerprint)
trusts its record and reads nothing; a record lost or stale only costs reading that file
again, so a crash between a write to the library and its record is harmless.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from searchapp.errors import SourceError
from searchapp.ingest.text import printable_name
from searchapp.library import Library
from searchapp.sources.listing import ListedFile
from searchapp.sources.spec import SourceSpec
from searchapp.storage.records import RecordTable

SPECS = "sources"
FILES = "source-files"
STATUS = "source-status"
MAX_ERRORS_KEPT = 200

# A path whose bytes are not UTF-8 (an old zip, a Samba share) holds them as lone surrogates
# (PEP 383), which no store takes: they are kept as private-use characters, one for one.
_TO_STORED = {0xDC00 + b: 0xF700 + b for b in range(0x80, 0x100)}
_FROM_STORED = {v: k for k, v in _TO_STORED.items()}


def stored_path(path: str) -> str:
    """`path` as records keep it (valid UTF-8); `listed_path` turns it back."""
    return path.translate(_TO_STORED)


def listed_path(path: str) -> str:
    return path.translate(_FROM_STORED)


@dataclass(frozen=True, slots=True)
class FileState:
    """One file of a source as the last sync left it.

    `doc_id` is the document the file holds in the library ("" when none: its only
    version failed). `failed_doc` and `error` describe the newest version that could not
    be ingested (its bytes' hash, and why); an older version stays in `doc_id`.
    `retry` is set when that failure may pass by itself (a timeout, a full disk). `held`
    marks a file that is gone while the mass-delete guard holds its document's deletion:
    every later sync holds it too, until a confirmed sync, or the file is back.
    """

    source: str
    path: str
    size: int
    mtime_ns: int
    etag: str = ""
    doc_id: str = ""
    failed_doc: str = ""
    error: str = ""
    retry: bool = False
    held: bool = False

    @property
    def fingerprint(self) -> tuple[int, int, str]:
        return (self.size, self.mtime_ns, self.etag)

    def matches(self, listed: ListedFile) -> bool:
        return self.fingerprint == listed.fingerprint

    def seen_as(self, listed: ListedFile) -> FileState:
        return replace(self, size=listed.size, mtime_ns=listed.mtime_ns, etag=listed.etag)

    @property
    def key(self) -> str:
        return file_key(self.source, self.path)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "path": stored_path(self.path)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FileState:
        return cls(
            source=str(data["source"]),
            path=listed_path(str(data["path"])),
            size=int(data.get("size", 0)),
            mtime_ns=int(data.get("mtime_ns", 0)),
            etag=str(data.get("etag", "")),
            doc_id=str(data.get("doc_id", "")),
            failed_doc=str(data.get("failed_doc", "")),
            error=str(data.get("error", "")),
            retry=bool(data.get("retry", False)),
            held=bool(data.get("held", False)),
        )


@dataclass(frozen=True, slots=True)
class SyncStatus:
    """How a source's last sync went, for `sources list` and the Sources page."""

    source: str
    finished_at: float = 0.0
    took_s: float = 0.0
    outcome: str = "never"  # never, ok, blocked, failed
    message: str = ""
    files: int = 0
    documents: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    errors: tuple[tuple[str, str], ...] = ()  # (path, why), the first MAX_ERRORS_KEPT
    client: str = ""

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["errors"] = [[printable_name(path), why] for path, why in self.errors]
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SyncStatus:
        return cls(
            source=str(data["source"]),
            finished_at=float(data.get("finished_at", 0.0)),
            took_s=float(data.get("took_s", 0.0)),
            outcome=str(data.get("outcome", "never")),
            message=str(data.get("message", "")),
            files=int(data.get("files", 0)),
            documents=int(data.get("documents", 0)),
            counts={str(k): int(v) for k, v in (data.get("counts") or {}).items()},
            errors=tuple((str(p), str(w)) for p, w in data.get("errors") or ()),
            client=str(data.get("client", "")),
        )


def file_key(source: str, path: str) -> str:
    return f"{source}\n{stored_path(path)}"


class SourceState:
    """Reads and writes the three tables of one library."""

    def __init__(self, library: Library) -> None:
        self.library = library

    @property
    def _specs(self) -> RecordTable:
        return self.library.store.table(SPECS)

    @property
    def _files(self) -> RecordTable:
        return self.library.store.table(FILES)

    @property
    def _status(self) -> RecordTable:
        return self.library.store.table(STATUS)

    # ------------------------------------------------------------------ specs

    def specs(self) -> list[SourceSpec]:
        return sorted((SourceSpec.from_dict(v) for v in self._specs.find().values()), key=lambda s: s.name)

    def spec(self, name: str) -> SourceSpec:
        found = self._specs.get(name)
        if found is None:
            known = ", ".join(s.name for s in self.specs()) or "none yet"
            raise SourceError(
                f"no source named {name!r} (sources: {known}); add one with `searchapp sources add`"
            )
        return SourceSpec.from_dict(found)

    def put_spec(self, spec: SourceSpec) -> None:
        self._specs.put(spec.name, spec.to_dict(), kind=spec.kind, watch=spec.watch)

    def delete_source(self, name: str) -> None:
        self._files.delete(list(self.files(name)))
        self._status.delete([name])
        self._specs.delete([name])

    # ------------------------------------------------------------------ files

    def files(self, name: str) -> dict[str, FileState]:
        """The file records of one source, by record key."""
        return {key: FileState.from_dict(v) for key, v in self._files.find({"source": name}).items()}

    def holders(self, doc_ids: Sequence[str] = ()) -> dict[str, list[FileState]]:
        """Every file (of every source) that holds each document, by document id."""
        where: dict[str, Any] | None = None
        if doc_ids:
            where = {"doc_id": doc_ids[0]} if len(doc_ids) == 1 else {"doc_id": {"$in": list(doc_ids)}}
        out: dict[str, list[FileState]] = defaultdict(list)
        for value in self._files.find(where).values():
            state = FileState.from_dict(value)
            if state.doc_id:
                out[state.doc_id].append(state)
        return dict(out)

    def write_files(self, states: Sequence[FileState]) -> None:
        self._files.put_many(
            [(s.key, s.to_dict(), {"source": s.source, "doc_id": s.doc_id or "-"}) for s in states]
        )

    def forget_files(self, keys: Sequence[str]) -> None:
        self._files.delete(list(keys))

    # ------------------------------------------------------------------ status

    def status(self, name: str) -> SyncStatus:
        found = self._status.get(name)
        return SyncStatus.from_dict(found) if found is not None else SyncStatus(source=name)

    def put_status(self, status: SyncStatus) -> None:
        kept = replace(status, errors=status.errors[:MAX_ERRORS_KEPT])
        self._status.put(status.source, kept.to_dict())
