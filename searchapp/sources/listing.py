"""Listing a source: every file it holds with its size and modification time, read nothing else.

A listing costs one `stat` per file (a directory walk with `os.scandir`) or one LIST call
per thousand objects (S3), so an unchanged source is checked without reading a byte.
What cannot be listed is said per path, never fatal: a folder that cannot be opened
(its files are then kept as they were), a symlink loop, a pipe or device with a
document's name. Symlinked files are followed, symlinked folders are not (as a one-off
ingest walks a folder), so a link loop can never trap the walk. A link is followed only
to a file inside the source's own folder: a source runs with the server's permissions,
and whoever may write to a share must not be able to put, say, the server's secrets or
credentials into a library everyone searches. The check is made when a file is listed,
read and handed to the ingest.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat as stat_mode
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from searchapp.errors import SourceError
from searchapp.sources.spec import SourceSpec

READ_CHUNK = 1 << 20
OUTSIDE = "a symlink to a file outside the source's folder (not followed)"


@dataclass(frozen=True, slots=True)
class ListedFile:
    """One file of a source: `path` inside it (``/``-separated), its size and mtime (ns)."""

    path: str
    size: int
    mtime_ns: int
    etag: str = ""  # S3: the object's ETag, part of its fingerprint

    @property
    def fingerprint(self) -> tuple[int, int, str]:
        return (self.size, self.mtime_ns, self.etag)


@dataclass(frozen=True, slots=True)
class Problem:
    """A path that could not be listed or read, and why (shown per file, never fatal)."""

    path: str
    detail: str


@dataclass(frozen=True, slots=True)
class Listing:
    files: tuple[ListedFile, ...]
    problems: tuple[Problem, ...] = ()
    unlisted_dirs: tuple[str, ...] = ()  # folders that could not be opened: their files are kept
    listed_at: float = 0.0
    # Files the source does not take (a type searchapp does not read, an exclude pattern, an
    # Office owner file), so that a sync can say so; hidden files are not counted.
    skipped: tuple[str, ...] = ()


class SourceFiles(Protocol):
    """Where a source's bytes are: a folder, or a bucket."""

    spec: SourceSpec

    def list(self) -> Listing: ...
    def read(self, path: str) -> bytes: ...
    def local_path(self, path: str) -> Path | None: ...  # None: not on this machine's disk
    def current(self, path: str) -> ListedFile | None: ...  # a fresh stat (None: gone)


def open_source(spec: SourceSpec) -> SourceFiles:
    return S3Files(spec) if spec.kind == "s3" else DirectoryFiles(spec)


def hash_file(files: SourceFiles, listed: ListedFile) -> tuple[str, ListedFile] | Problem:
    """The SHA-256 of a file as it is now, or why not.

    The file is stat'ed after reading: if it changed while being read (or since it was
    listed), it is still being written, and a later sync takes it.
    """
    try:
        data = files.read(listed.path)
    except FileNotFoundError:
        return Problem(listed.path, "removed while being read")
    except OSError as exc:
        return Problem(listed.path, f"cannot read: {exc.strerror or exc}")
    after = files.current(listed.path)
    if after is None or after.fingerprint != listed.fingerprint or len(data) != listed.size:
        return Problem(listed.path, "still being written")
    return hashlib.sha256(data).hexdigest(), listed


class DirectoryFiles:
    """A folder on this machine (or a mounted share)."""

    def __init__(self, spec: SourceSpec) -> None:
        self.spec = spec
        self.root = Path(spec.location)
        self._real_root = Path(os.path.realpath(self.root))

    def list(self) -> Listing:
        started = time.time()
        try:
            info = os.stat(self.root)
        except FileNotFoundError:
            raise SourceError(f"the folder {self.root} of source {self.spec.name!r} does not exist") from None
        except OSError as exc:
            raise SourceError(f"the folder {self.root} cannot be read: {exc.strerror or exc}") from None
        if not stat_mode.S_ISDIR(info.st_mode):
            raise SourceError(f"{self.root} (source {self.spec.name!r}) is not a folder")
        if not os.access(self.root, os.R_OK | os.X_OK):
            raise SourceError(
                f"the folder {self.root} of source {self.spec.name!r} cannot be read: permission denied"
            )
        files: list[ListedFile] = []
        problems: list[Problem] = []
        unlisted: list[str] = []
        skipped: list[str] = []
        for relative, entry, error in _walk(self.root):
            if error is not None:
                unlisted.append(relative)
                problems.append(Problem(relative + "/", f"folder cannot be read: {error}"))
                continue
            assert entry is not None
            if not self.spec.wants(relative):
                skipped.append(relative)
                continue
            found = _stat_entry(entry)
            if not isinstance(found, str) and entry.is_symlink() and self._outside(relative):
                found = OUTSIDE
            if isinstance(found, str):
                problems.append(Problem(relative, found))
                continue
            files.append(ListedFile(relative, found.st_size, found.st_mtime_ns))
        return Listing(tuple(files), tuple(problems), tuple(unlisted), started, tuple(sorted(skipped)))

    def read(self, path: str) -> bytes:
        return self._inside(path).read_bytes()

    def local_path(self, path: str) -> Path | None:
        """The file's real path, links resolved now: a link swapped in since the listing is
        refused here. (A folder swapped for a link between this and the ingest's read is
        not: that window is the ingest's open, milliseconds later.)

        Raises:
            OSError: it now leads outside the source's folder.
        """
        return self._inside(path)

    def _outside(self, path: str) -> bool:
        return not Path(os.path.realpath(self.root / path)).is_relative_to(self._real_root)

    def _inside(self, path: str) -> Path:
        real = Path(os.path.realpath(self.root / path))
        if not real.is_relative_to(self._real_root):
            raise PermissionError(errno.EACCES, OUTSIDE)
        return real

    def current(self, path: str) -> ListedFile | None:
        try:
            info = os.stat(self.root / path)
        except OSError:
            return None
        return ListedFile(path, info.st_size, info.st_mtime_ns)


def _walk(root: Path) -> Iterator[tuple[str, os.DirEntry[str] | None, str | None]]:
    """(relative path, entry, None) for every non-folder entry below `root` that is not hidden,
    and (relative folder, None, error) for each folder that cannot be opened."""
    stack = [""]
    while stack:
        relative_dir = stack.pop()
        try:
            with os.scandir(root / relative_dir if relative_dir else root) as entries:
                listed = list(entries)
        except OSError as exc:
            yield relative_dir, None, exc.strerror or str(exc)
            continue
        for entry in listed:
            if entry.name.startswith("."):
                continue
            relative = f"{relative_dir}/{entry.name}" if relative_dir else entry.name
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
            except OSError:
                is_dir = False
            if is_dir:
                stack.append(relative)
            else:
                yield relative, entry, None


def _stat_entry(entry: os.DirEntry[str]) -> os.stat_result | str:
    """The file's stat (following a symlink), or why it cannot be taken."""
    try:
        info = entry.stat(follow_symlinks=True)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "symlink loop"
        if exc.errno == errno.ENOENT:
            return "broken symlink" if entry.is_symlink() else "removed while listing"
        return f"cannot be read: {exc.strerror or exc}"
    if stat_mode.S_ISDIR(info.st_mode):
        return "a symlink to a folder (not followed)"
    if not stat_mode.S_ISREG(info.st_mode):
        return "not a regular file (a pipe, socket or device)"
    return info  # a file that cannot be read says so when it is read (unchanged ones never are)


class S3Files:
    """An S3-compatible prefix, through fsspec and s3fs (credentials: the usual AWS_* variables)."""

    def __init__(self, spec: SourceSpec) -> None:
        import fsspec

        self.spec = spec
        # A file system of its own: each sync resolves credentials afresh (a rotated key is used).
        options: dict[str, Any] = {"skip_instance_cache": True}
        if spec.endpoint_url:
            options["client_kwargs"] = {"endpoint_url": spec.endpoint_url}
        try:
            self._fs, root = fsspec.core.url_to_fs(spec.location, **options)
        except (ImportError, ValueError) as exc:
            raise SourceError(f"the source {spec.location} cannot be used: {exc} (pip install s3fs)") from exc
        self._root = root.rstrip("/")

    def list(self) -> Listing:
        started = time.time()
        try:
            self._fs.invalidate_cache()
            bucket = self._root.split("/", 1)[0]
            # Asked directly: s3fs's `exists` says False for a wrong key or a server that is down too.
            self._fs.call_s3("list_objects_v2", Bucket=bucket, MaxKeys=1)
            found = self._fs.find(self._root, detail=True)
        except Exception as exc:
            from searchapp.sources.s3errors import explain  # botocore: installed with s3fs only

            raise SourceError(explain(exc, self.spec)) from exc
        files: list[ListedFile] = []
        skipped: list[str] = []
        for key, info in sorted(found.items()):
            relative = key[len(self._root) :].lstrip("/") if key.startswith(self._root) else key
            if not relative or info.get("type") == "directory":
                continue
            if not self.spec.wants(relative):
                if not any(part.startswith(".") for part in relative.split("/")):
                    skipped.append(relative)
                continue
            modified = info.get("LastModified")
            mtime_ns = int(modified.timestamp() * 1e9) if hasattr(modified, "timestamp") else 0
            etag = str(info.get("ETag", "")).strip('"')
            files.append(ListedFile(relative, int(info.get("size") or 0), mtime_ns, etag))
        return Listing(tuple(files), listed_at=started, skipped=tuple(skipped))

    def read(self, path: str) -> bytes:
        try:
            data: bytes = self._fs.cat_file(f"{self._root}/{path}")
        except FileNotFoundError:
            raise
        except Exception as exc:
            from searchapp.sources.s3errors import explain, is_connection_error

            if is_connection_error(exc):  # the source went away, not the file: block the sync
                raise SourceError(explain(exc, self.spec)) from exc
            # One object denied or archived (s3fs says PermissionError for AccessDenied and for
            # Glacier's InvalidObjectState): that file's problem; the listing worked.
            raise OSError(f"{type(exc).__name__}: {exc}") from exc
        return data

    def local_path(self, path: str) -> Path | None:
        return None

    def current(self, path: str) -> ListedFile | None:
        try:
            info = self._fs.info(f"{self._root}/{path}", refresh=True)
        except FileNotFoundError:
            return None
        except Exception as exc:
            from searchapp.sources.s3errors import explain, is_connection_error

            if is_connection_error(exc):  # not "still being written": the server went away
                raise SourceError(explain(exc, self.spec)) from exc
            return None
        modified = info.get("LastModified")
        mtime_ns = int(modified.timestamp() * 1e9) if hasattr(modified, "timestamp") else 0
        return ListedFile(path, int(info.get("size") or 0), mtime_ns, str(info.get("ETag", "")).strip('"'))
