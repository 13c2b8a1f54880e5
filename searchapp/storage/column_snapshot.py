"""Named arrays and a little JSON in one file, written atomically and checked on reading.

The local index saves its in-memory columns (row ids, document codes, pages, vectors, the
int8 copy, chunk ids, the document table) this way when it closes, so that the next open
reads a few large blocks instead of parsing a million SQLite rows. The file is written to a
temporary name, fsynced and renamed; reading checks a CRC-32 of every array, and any
mismatch makes the caller fall back to its rows.
"""

from __future__ import annotations

import json
import os
import struct
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

_MAGIC = b"SACOLS01"


class SnapshotError(Exception):
    """A snapshot that is missing, torn, altered or not the one expected."""


def write(path: Path, arrays: dict[str, npt.NDArray[Any]], meta: dict[str, Any]) -> None:
    """Write `arrays` (C-contiguous copies are made where needed) and `meta` to `path`."""
    parts = {name: np.ascontiguousarray(a) for name, a in arrays.items()}
    header = json.dumps(
        {
            "meta": meta,
            "arrays": [
                [name, a.dtype.str, list(a.shape), zlib.crc32(_bytes(a))] for name, a in parts.items()
            ],
        }
    ).encode()
    partial = path.with_name(path.name + ".partial")
    with partial.open("wb") as out:
        out.write(_MAGIC + struct.pack("<Q", len(header)) + header)
        for a in parts.values():
            out.write(_bytes(a))
        out.flush()
        os.fsync(out.fileno())
    partial.rename(path)


def _bytes(array: npt.NDArray[Any]) -> memoryview:
    # memoryview.cast refuses empty arrays (an empty library)
    return array.data.cast("B") if array.nbytes else memoryview(b"")


def read(
    path: Path, capacity: Callable[[str, int], int] | None = None
) -> tuple[dict[str, Any], dict[str, npt.NDArray[Any]]]:
    """(meta, arrays). `capacity(name, rows)` says how many rows to allocate for an array
    (at least its own), so a caller that grows the array later need not copy it first.

    Raises:
        SnapshotError: the file is missing, torn or altered.
    """
    try:
        with path.open("rb") as source:
            start = source.read(16)
            if len(start) != 16 or start[:8] != _MAGIC:
                raise SnapshotError(f"{path.name} is not a column snapshot")
            header = json.loads(source.read(struct.unpack("<Q", start[8:])[0]))
            arrays: dict[str, npt.NDArray[Any]] = {}
            for name, dtype, shape, crc in header["arrays"]:
                rows = max(shape[0], capacity(name, shape[0]) if capacity else 0) if shape else 0
                full = np.zeros((rows, *shape[1:]) if shape else (), dtype=dtype)
                view = full[: shape[0]] if shape else full
                buffer = view.data.cast("B") if view.nbytes else memoryview(b"")
                if view.nbytes and source.readinto(buffer) != view.nbytes:
                    raise SnapshotError(f"{path.name}: array {name!r} is cut short")
                if zlib.crc32(buffer) != crc:
                    raise SnapshotError(f"{path.name}: array {name!r} fails its checksum")
                arrays[name] = full
            if source.read(1):
                raise SnapshotError(f"{path.name}: unexpected bytes after the arrays")
            return header["meta"], arrays
    except OSError as exc:
        raise SnapshotError(f"cannot read {path.name}: {exc}") from exc
    except (ValueError, KeyError, TypeError, struct.error) as exc:
        raise SnapshotError(f"{path.name}: unreadable header ({exc})") from exc
