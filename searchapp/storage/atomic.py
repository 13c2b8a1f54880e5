"""Writing a file so that a crash leaves the old file or the new one, never half of either.

The data goes to a uniquely named temporary file beside the target, is flushed and
fsynced, and replaces the target by a rename; the directory is then fsynced so the
rename itself survives a power cut. Every file searchapp rewrites in place (kept
originals, keyword index manifests and segments, column snapshots, evaluation state)
goes through `write_atomically`.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from searchapp.errors import StorageFullError

_ENOSPC = 28


def write_atomically(path: Path, data: bytes | Callable[[BinaryIO], None]) -> None:
    """Replace `path` with `data` (bytes, or a function that writes to the open file).

    Raises:
        StorageFullError: the disk is full (nothing was replaced).
        OSError: any other failure (nothing was replaced).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
        try:
            with os.fdopen(fd, "wb") as out:
                if isinstance(data, bytes | bytearray | memoryview):
                    out.write(data)
                else:
                    data(out)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    except OSError as exc:
        if exc.errno == _ENOSPC:
            raise StorageFullError(
                f"cannot write {path.name}: the disk holding {path.parent} is full"
            ) from exc
        raise
    fsync_directory(path.parent)


def fsync_directory(directory: Path) -> None:
    """Make a rename in `directory` durable (a no-op where directories cannot be opened)."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
