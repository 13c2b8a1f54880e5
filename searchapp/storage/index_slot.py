"""Which local index directory a process uses, when several share one data directory.

With a Chroma server no process locks the data directory, so a UI, `searchapp serve`, a
`sync --watch` and CLI commands may all run over one. Each keeps its own local index (in
memory, and on disk for a fast reopen), and two that shared one set of keyword files
deleted each other's segments and cut each other's vocabulary: the checksums caught it,
at the price of re-adding every document at the next open, with a warning that reads
like damage. So each process claims a slot: the collection's index directory if no
other process holds it, else ``indexes/.clients/<collection>/1``, ``/2``... Each is held
by a `flock` on ``indexes/.clients/<collection>/<n>.lock`` for as long as the library is
open; the OS drops it when the process ends, even on SIGKILL, and a restarted process
takes the first free slot: usually its own, still warm.

The locks and the other slots live outside the collection's index directory, which a
reindex or a model switch renames or replaces: a slot stays held, and stays apart, across
those moves (a client in another slot follows them as a client with its own data
directory does). A local data directory admits one process (`searchapp.storage.lock`):
its slot is the directory itself.
"""

from __future__ import annotations

import fcntl
from pathlib import Path
from typing import IO

from searchapp.errors import StoreLockedError

MAX_SLOTS = 64
CLIENTS = ".clients"


class IndexSlot:
    """A local index directory this process holds (`release` lets it go)."""

    def __init__(self, directory: Path, handle: IO[str] | None = None) -> None:
        self.directory = directory
        self._handle = handle

    @classmethod
    def claim(cls, base: Path, *, shared: bool) -> IndexSlot:
        """The first slot under `base` no other holder has (`shared` False: `base` itself).

        Raises:
            StoreLockedError: every slot is held.
        """
        if not shared:
            return cls(base)
        slots = base.parent / CLIENTS / base.name  # a name no collection can have (a leading dot)
        slots.mkdir(parents=True, exist_ok=True)
        for number in range(MAX_SLOTS):
            directory = base if number == 0 else slots / str(number)
            directory.mkdir(parents=True, exist_ok=True)
            handle = (slots / f"{number}.lock").open("a", encoding="utf-8")
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                continue
            return cls(directory, handle)
        raise StoreLockedError(
            f"all {MAX_SLOTS} local index slots under {base} are held by running processes; "
            "give each process its own data directory (SEARCHAPP_DATA_DIR)"
        )

    def release(self) -> None:
        if self._handle is not None:
            self._handle.close()  # closing the file drops the flock
            self._handle = None
