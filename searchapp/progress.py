"""Progress of a batch of files, as the write path reports it and the front ends draw it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

Stage = Literal["read", "extract", "embed", "write", "index", "done"]


@dataclass(frozen=True, slots=True)
class Progress:
    """A progress event: how far the batch is, and what is happening to which file."""

    stage: Stage
    source: str
    files_done: int
    files_total: int
    chunks_embedded: int
    chunks_total: int
    message: str = ""


ProgressCallback = Callable[[Progress], None]
