"""The file's time limit, counted in CPU time: a busy machine reads what an idle one reads.

A wall-clock limit measures the machine as much as the file: with other work running, a
scan's OCR took twice as long on the clock and its first page, the longest, was cut off
(docs/reliability.md, "Time limits"). CPU time is what the file itself costs, much the
same however busy the machine is, so the file's limit (`SEARCHAPP_FILE_TIMEOUT_S`) is
counted in it:

- the reader process may use `limit` seconds of CPU itself (a parser that loops);
- with the OCR processes it starts, `limit` seconds on each core OCR may use at once
  (`ocr_cores`): what the clock would show for a scan read on every core of an idle machine;
- OCR starts pages while its share of that is left (`CpuBudget`), each page's Tesseract
  process limited to the rest;
- a task whose processes use no CPU at all for a while is stopped too (it is blocked for
  good: `searchapp.ingest.workers`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

MAX_OCR_PROCESSES = 4  # Tesseract processes one file runs at once, at most


def ocr_cores() -> int:
    """How many Tesseract processes one file may run at once on this machine."""
    return max(1, min(MAX_OCR_PROCESSES, os.cpu_count() or 1))


def cpu_seconds() -> float:
    """CPU time (user + system) of this process and the child processes it has waited for."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def tree_cpu_seconds(pid: int) -> tuple[float, float]:
    """CPU time of process `pid` itself, and of it with its children, live or waited for.

    (0, 0) when the process is gone. Children waited for count on Linux only (elsewhere
    the operating system does not tell another process).
    """
    import psutil

    try:
        process = psutil.Process(pid)
        own = process.cpu_times()
        children = process.children(recursive=True)
    except psutil.Error:
        return 0.0, 0.0
    itself = own.user + own.system
    total = itself + getattr(own, "children_user", 0.0) + getattr(own, "children_system", 0.0)
    for child in children:
        try:
            times = child.cpu_times()
        except psutil.Error:  # ended meanwhile: counted with its parent once waited for
            continue
        total += times.user + times.system
    return itself, total


@dataclass
class CpuBudget:
    """`seconds` of CPU time (this process and the children it waits for) from `start`."""

    seconds: float
    start: float = field(default_factory=cpu_seconds)

    def left(self) -> float:
        return self.seconds - (cpu_seconds() - self.start)
