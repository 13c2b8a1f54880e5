"""Original files, kept by content hash so they can be downloaded and re-indexed.

A file's name is only ever a display name: blobs live at
``<data_dir>/originals/<first two hex digits>/<sha256>``, so no uploaded name can
reach the file system. Writes go to a temporary file that is fsynced and renamed, so
a crash leaves either the whole blob or none.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

from searchapp.errors import DocumentNotFoundError, StorageFullError

_SHA_RE = re.compile(r"^[0-9a-f]{64}$")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


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

    def put(self, data: bytes) -> str:
        """Store `data` (idempotent) and return its SHA-256."""
        doc_id = sha256_hex(data)
        target = self.path_for(doc_id)
        if target.is_file() and target.stat().st_size == len(data):
            return doc_id
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
                    f"cannot keep the original file: the disk holding {self.root} is full"
                ) from exc
            raise
        return doc_id

    def get(self, doc_id: str) -> bytes:
        path = self.path_for(doc_id)
        try:
            return path.read_bytes()
        except FileNotFoundError:
            raise DocumentNotFoundError(
                f"the original of document {doc_id[:12]} is missing from {self.root}"
            ) from None

    def delete(self, doc_id: str) -> None:
        self.path_for(doc_id).unlink(missing_ok=True)

    def ids(self) -> Iterator[str]:
        if not self.root.is_dir():
            return
        for path in self.root.glob("??/*"):
            if _SHA_RE.match(path.name):
                yield path.name
