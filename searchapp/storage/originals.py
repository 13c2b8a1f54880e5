"""Original files, kept by content hash so they can be downloaded and re-indexed.

A file's name is only ever a display name: blobs live at
``<data_dir>/originals/<first two hex digits>/<sha256>``, so no uploaded name can
reach the file system. Beside each blob, ``<sha256>.json`` records what is needed to
ingest it again (source name, tags, modification time), so the originals folder alone
can rebuild the whole index even when the Chroma files are damaged beyond reading.
Writes go to a temporary file that is fsynced and renamed, so a crash leaves either
the whole file or none.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from searchapp.errors import DocumentNotFoundError, StorageFullError

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


class OriginalsStore:
    """Content-addressed blob storage under one directory."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path_for(self, doc_id: str) -> Path:
        if not _SHA_RE.match(doc_id):
            raise DocumentNotFoundError(f"not a document id (64 hex digits): {doc_id!r}")
        return self.root / doc_id[:2] / doc_id

    def has(self, doc_id: str) -> bool:
        return self.path_for(doc_id).is_file()

    def put(self, data: bytes, info: OriginalInfo | None = None) -> str:
        """Store `data` (idempotent) with its sidecar, and return its SHA-256."""
        doc_id = sha256_hex(data)
        target = self.path_for(doc_id)
        if not (target.is_file() and target.stat().st_size == len(data)):
            _atomic_write(target, data)
        if info is not None:
            self.describe(doc_id, info)
        return doc_id

    def describe(self, doc_id: str, info: OriginalInfo) -> None:
        """Write (or rewrite) the sidecar of an original."""
        stored_at = info.stored_at or time.time()
        payload = json.dumps(
            {**asdict(info), "tags": list(info.tags), "stored_at": stored_at}, ensure_ascii=False
        )
        payload_bytes = payload.encode("utf-8")
        _atomic_write(self.path_for(doc_id).with_suffix(".json"), payload_bytes)

    def info(self, doc_id: str) -> OriginalInfo | None:
        """The sidecar of an original, or None if it has none (or it is unreadable)."""
        try:
            data = json.loads(self.path_for(doc_id).with_suffix(".json").read_text(encoding="utf-8"))
            return OriginalInfo(
                source=str(data["source"]),
                tags=tuple(str(t) for t in data.get("tags") or ()),
                mtime=int(data.get("mtime") or 0),
                external_id=str(data.get("external_id") or ""),
                stored_at=float(data.get("stored_at") or 0.0),
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def get(self, doc_id: str) -> bytes:
        path = self.path_for(doc_id)
        try:
            return path.read_bytes()
        except FileNotFoundError:
            raise DocumentNotFoundError(
                f"the original of document {doc_id[:12]} is missing from {self.root}"
            ) from None

    def forget(self, doc_id: str) -> None:
        """Drop the sidecar: the blob no longer stands for a live document (first step of a delete)."""
        self.path_for(doc_id).with_suffix(".json").unlink(missing_ok=True)

    def delete(self, doc_id: str) -> None:
        path = self.path_for(doc_id)
        path.unlink(missing_ok=True)
        path.with_suffix(".json").unlink(missing_ok=True)

    def ids(self) -> Iterator[str]:
        if not self.root.is_dir():
            return
        for path in sorted(self.root.glob("??/*")):
            if _SHA_RE.match(path.name):
                yield path.name


def _atomic_write(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        if exc.errno == 28:  # ENOSPC
            raise StorageFullError(
                f"cannot keep the original file: the disk holding {target.parent} is full"
            ) from exc
        raise
