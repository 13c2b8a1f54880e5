"""Original files, kept by content hash so they can be downloaded and re-indexed.

A file's name is only ever a display name: blobs live at ``<root>/<first two hex
digits>/<sha256>``, so no uploaded name can reach the file system. Beside each blob,
``<sha256>.json`` records what is needed to ingest it again (source name, tags,
modification time), so the originals alone can rebuild the whole index even when the
Chroma files are damaged beyond reading.

The root is a local directory (the default, under the data directory), or shared
storage that every client of a Chroma server reaches: a shared directory, or an
S3-compatible bucket (``s3://bucket/prefix``, through fsspec and s3fs). Local writes go
to a temporary file that is fsynced and renamed, so a crash leaves the whole file or
none; an S3 PUT is atomic by itself.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

from searchapp.config import Settings
from searchapp.errors import (
    ConfigError,
    DocumentNotFoundError,
    SearchAppError,
    StoreUnavailableError,
)
from searchapp.storage.atomic import write_atomically

_SHA_RE = re.compile(r"^[0-9a-f]{64}$")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True, slots=True)
class OriginalInfo:
    """What re-ingesting an original needs besides its bytes."""

    source: str
    tags: tuple[str, ...] = ()
    mtime: int = 0
    external_id: str = ""
    stored_at: float = 0.0  # when this version was stored: the newest of a name wins a rebuild
    groups: tuple[str, ...] = ()  # a rebuild from the originals keeps a document restricted
    ingested_at: int = 0  # when the document was first ingested: a rebuild keeps its date


class Blobs(Protocol):
    """Where the bytes live: keys are relative paths such as ``ab/abcd….json``."""

    location: str

    def read(self, key: str) -> bytes | None: ...  # None: no such key
    def write(self, key: str, data: bytes) -> None: ...
    def exists(self, key: str) -> bool: ...
    def size(self, key: str) -> int | None: ...
    def remove(self, key: str) -> None: ...  # no error if absent
    def blob_keys(self) -> Iterator[str]: ...  # every key of a blob (not its sidecar), sorted


class LocalBlobs:
    """A directory on this machine (or a shared mount)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.location = str(root)

    def read(self, key: str) -> bytes | None:
        try:
            return (self.root / key).read_bytes()
        except FileNotFoundError:
            return None

    def write(self, key: str, data: bytes) -> None:
        write_atomically(self.root / key, data)

    def exists(self, key: str) -> bool:
        return (self.root / key).is_file()

    def size(self, key: str) -> int | None:
        try:
            return (self.root / key).stat().st_size
        except FileNotFoundError:
            return None

    def remove(self, key: str) -> None:
        (self.root / key).unlink(missing_ok=True)

    def blob_keys(self) -> Iterator[str]:
        if not self.root.is_dir():
            return
        for path in sorted(self.root.glob("??/*")):
            if _SHA_RE.match(path.name):
                yield f"{path.parent.name}/{path.name}"


class FsspecBlobs:
    """Any fsspec file system: an S3-compatible bucket above all (``s3://bucket/prefix``)."""

    def __init__(self, url: str, *, endpoint_url: str = "") -> None:
        import fsspec

        options: dict[str, Any] = {}
        if url.startswith("s3://") and endpoint_url:
            options["client_kwargs"] = {"endpoint_url": endpoint_url}
        try:
            self._fs, root = fsspec.core.url_to_fs(url, **options)
        except (ImportError, ValueError) as exc:
            raise ConfigError(f"SEARCHAPP_ORIGINALS_URL {url!r} cannot be used: {exc}") from exc
        self._root = root.rstrip("/")
        self.location = url

    def _path(self, key: str) -> str:
        return f"{self._root}/{key}"

    def read(self, key: str) -> bytes | None:
        try:
            with _remote(self.location):
                data: bytes = self._fs.cat_file(self._path(key))
                return data
        except FileNotFoundError:
            return None

    def write(self, key: str, data: bytes) -> None:
        with _remote(self.location):
            self._fs.pipe_file(self._path(key), data)

    def exists(self, key: str) -> bool:
        with _remote(self.location):
            return bool(self._fs.exists(self._path(key)))

    def size(self, key: str) -> int | None:
        try:
            with _remote(self.location):
                return int(self._fs.size(self._path(key)))
        except FileNotFoundError:
            return None

    def remove(self, key: str) -> None:
        try:
            with _remote(self.location):
                self._fs.rm_file(self._path(key))
        except FileNotFoundError:
            pass

    def blob_keys(self) -> Iterator[str]:
        with _remote(self.location):
            self._fs.invalidate_cache()
            found = self._fs.glob(f"{self._root}/??/*")
        for path in sorted(str(p) for p in found):
            name = path.rsplit("/", 1)[-1]
            if _SHA_RE.match(name):
                yield f"{name[:2]}/{name}"


@contextmanager
def _remote(location: str) -> Iterator[None]:
    """Say clearly why a remote store failed (a missing key is not a failure: it passes)."""
    try:
        yield
    except (FileNotFoundError, SearchAppError):
        raise
    except Exception as exc:
        if "Credential" in type(exc).__name__:
            raise ConfigError(
                f"the originals store {location} needs credentials: set AWS_ACCESS_KEY_ID and "
                f"AWS_SECRET_ACCESS_KEY (or ~/.aws/credentials) for this process ({exc})"
            ) from exc
        raise StoreUnavailableError(
            f"the originals store {location} cannot be used: {type(exc).__name__}: {exc}"
        ) from exc


def open_blobs(url: str, *, default: Path, endpoint_url: str = "") -> Blobs:
    """The blob store for `url`: a local directory (a path or ``file://``), fsspec otherwise."""
    if not url:
        return LocalBlobs(default)
    if url.startswith("file://"):
        return LocalBlobs(Path(url.removeprefix("file://")))
    if "://" not in url:
        return LocalBlobs(Path(url).expanduser())
    return FsspecBlobs(url, endpoint_url=endpoint_url)


def originals_for(settings: Settings) -> OriginalsStore:
    """The kept originals of the collection `settings` names, wherever they live."""
    return OriginalsStore(
        open_blobs(
            settings.originals_location, default=settings.originals_dir, endpoint_url=settings.s3_endpoint_url
        )
    )


class OriginalsStore:
    """Content-addressed originals with their sidecars, on any `Blobs`."""

    def __init__(self, blobs: Blobs | Path) -> None:
        self.blobs: Blobs = LocalBlobs(blobs) if isinstance(blobs, Path) else blobs

    @property
    def location(self) -> str:
        return self.blobs.location

    @staticmethod
    def key_for(doc_id: str) -> str:
        if not _SHA_RE.match(doc_id):
            raise DocumentNotFoundError(f"not a document id (64 hex digits): {doc_id!r}")
        return f"{doc_id[:2]}/{doc_id}"

    def has(self, doc_id: str) -> bool:
        return self.blobs.exists(self.key_for(doc_id))

    def put(self, data: bytes, info: OriginalInfo | None = None) -> str:
        """Store `data` (idempotent) with its sidecar, and return its SHA-256."""
        doc_id = sha256_hex(data)
        key = self.key_for(doc_id)
        if self.blobs.size(key) != len(data):
            self.blobs.write(key, data)
        if info is not None:
            self.describe(doc_id, info)
        return doc_id

    def describe(self, doc_id: str, info: OriginalInfo) -> None:
        """Write (or rewrite) the sidecar of an original."""
        stored_at = info.stored_at or time.time()
        payload = json.dumps(
            {**asdict(info), "tags": list(info.tags), "groups": list(info.groups), "stored_at": stored_at},
            ensure_ascii=False,
        )
        self.blobs.write(self.key_for(doc_id) + ".json", payload.encode("utf-8"))

    def info(self, doc_id: str) -> OriginalInfo | None:
        """The sidecar of an original, or None if it has none (or it is unreadable)."""
        raw = self.blobs.read(self.key_for(doc_id) + ".json")
        if raw is None:
            return None
        try:
            data = json.loads(raw.decode("utf-8"))
            return OriginalInfo(
                source=str(data["source"]),
                tags=tuple(str(t) for t in data.get("tags") or ()),
                mtime=int(data.get("mtime") or 0),
                external_id=str(data.get("external_id") or ""),
                stored_at=float(data.get("stored_at") or 0.0),
                groups=tuple(str(g) for g in data.get("groups") or ()),
                ingested_at=int(data.get("ingested_at") or 0),
            )
        except (ValueError, KeyError, TypeError, UnicodeDecodeError):
            return None

    def get(self, doc_id: str) -> bytes:
        data = self.blobs.read(self.key_for(doc_id))
        if data is None:
            raise DocumentNotFoundError(
                f"the original of document {doc_id[:12]} is missing from {self.location}"
            )
        return data

    def forget(self, doc_id: str) -> None:
        """Drop the sidecar: the blob no longer stands for a live document (first step of a delete)."""
        self.blobs.remove(self.key_for(doc_id) + ".json")

    def delete(self, doc_id: str) -> None:
        key = self.key_for(doc_id)
        self.blobs.remove(key)
        self.blobs.remove(key + ".json")

    def ids(self) -> Iterator[str]:
        for key in self.blobs.blob_keys():
            yield key.rsplit("/", 1)[-1]
