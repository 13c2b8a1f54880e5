"""The one file format for arrays: named NumPy arrays and a little JSON, checked on reading.

    b"SAARRAY1" | header length (8 bytes, little-endian) | header (JSON) | the arrays' bytes

The header holds the caller's `meta` and, per array, its name, dtype, shape and CRC-32.
Files are written atomically (`searchapp.storage.atomic`). `write` returns the file's
checksum (the CRC-32 of its header, which covers every array's CRC), so a caller that
records it elsewhere (the keyword index's manifest) can tell the file it meant from
another one; `read` checks every array, and that checksum when given. Any mismatch, a
torn or short file, or another format raises `ArrayFileError`, and callers fall back to
their source of truth.

The local index saves its in-memory columns this way at close (the next open reads a few
large blocks instead of parsing every SQLite row), and the keyword index its segments.
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import numpy.typing as npt

from searchapp.storage.atomic import write_atomically

_MAGIC = b"SAARRAY1"


class ArrayFileError(Exception):
    """An array file that is missing, torn, altered or not the one expected."""


def write(path: Path, arrays: Mapping[str, npt.NDArray[Any]], meta: Mapping[str, Any]) -> int:
    """Write `arrays` (C-contiguous copies are made where needed) and `meta`; returns the checksum."""
    parts = {name: np.ascontiguousarray(a) for name, a in arrays.items()}
    header = json.dumps(
        {
            "meta": dict(meta),
            "arrays": [
                [name, a.dtype.str, list(a.shape), zlib.crc32(_bytes(a))] for name, a in parts.items()
            ],
        }
    ).encode()

    def body(out: BinaryIO) -> None:
        out.write(_MAGIC + struct.pack("<Q", len(header)) + header)
        for a in parts.values():
            out.write(_bytes(a))

    write_atomically(path, body)
    return zlib.crc32(header)


def read(
    path: Path,
    *,
    checksum: int | None = None,
    capacity: Callable[[str, int], int] | None = None,
) -> tuple[dict[str, Any], dict[str, npt.NDArray[Any]]]:
    """(meta, arrays). `checksum`: what `write` returned for the file wanted. `capacity(name,
    rows)` says how many rows to allocate for an array (at least its own), so a caller that
    grows it later need not copy it first; the array then holds its rows at the start.

    Raises:
        ArrayFileError: the file is missing, torn, altered, or not the one wanted.
    """
    try:
        with path.open("rb") as source:
            start = source.read(16)
            if len(start) != 16 or start[:8] != _MAGIC:
                raise ArrayFileError(f"{path.name} is not an array file")
            raw = source.read(struct.unpack("<Q", start[8:])[0])
            if checksum is not None and zlib.crc32(raw) != checksum:
                raise ArrayFileError(f"{path.name}: not the file expected (checksum mismatch)")
            header = json.loads(raw)
            arrays: dict[str, npt.NDArray[Any]] = {}
            for name, dtype, shape, crc in header["arrays"]:
                rows = max(shape[0], capacity(name, shape[0]) if capacity else 0) if shape else 0
                full = np.zeros((rows, *shape[1:]) if shape else (), dtype=dtype)
                view = full[: shape[0]] if shape else full
                buffer = view.data.cast("B") if view.nbytes else memoryview(b"")
                if view.nbytes and source.readinto(buffer) != view.nbytes:
                    raise ArrayFileError(f"{path.name}: array {name!r} is cut short")
                if zlib.crc32(buffer) != crc:
                    raise ArrayFileError(f"{path.name}: array {name!r} fails its checksum")
                arrays[name] = full
            if source.read(1):
                raise ArrayFileError(f"{path.name}: unexpected bytes after the arrays")
            return header["meta"], arrays
    except OSError as exc:
        raise ArrayFileError(f"cannot read {path.name}: {exc}") from exc
    except (ValueError, KeyError, TypeError, struct.error) as exc:
        raise ArrayFileError(f"{path.name}: unreadable header ({exc})") from exc


def _bytes(array: npt.NDArray[Any]) -> memoryview:
    # memoryview.cast refuses empty arrays (an empty library, a segment of empty documents)
    return array.data.cast("B") if array.nbytes else memoryview(b"")
