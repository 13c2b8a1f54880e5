"""Shared helpers for the benchmarks: timing tables, memory, machine description."""

from __future__ import annotations

import contextlib
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

# The shared evaluation material beside the checkout (as in CI), unless SEARCHAPP_SHARED_DIR says.
SHARED = Path(
    os.environ.get("SEARCHAPP_SHARED_DIR", Path(__file__).resolve().parent.parent.parent / "shared")
)


@dataclass(frozen=True)
class Timing:
    """Latencies in milliseconds for one variant."""

    name: str
    samples_ms: tuple[float, ...]

    def pct(self, q: float) -> float:
        data = sorted(self.samples_ms)
        index = min(len(data) - 1, max(0, round(q / 100 * (len(data) - 1))))
        return data[index]

    @property
    def p50(self) -> float:
        return self.pct(50)

    @property
    def p95(self) -> float:
        return self.pct(95)


def time_ms(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000


def round_robin(variants: Sequence[tuple[str, Callable[[int], object]]], rounds: int) -> list[Timing]:
    """Run each variant once per round, interleaved, so machine noise hits all alike."""
    samples: dict[str, list[float]] = {name: [] for name, _ in variants}
    for i in range(rounds):
        for name, fn in variants:
            samples[name].append(time_ms(lambda fn=fn, i=i: fn(i)))  # type: ignore[misc]
    return [Timing(name, tuple(samples[name])) for name, _ in variants]


def median_range(values: Sequence[float], digits: int = 1) -> str:
    """'median (min-max)'."""
    return f"{statistics.median(values):.{digits}f} ({min(values):.{digits}f}-{max(values):.{digits}f})"


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB (Linux reports KB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError), open("/proc/cpuinfo", encoding="utf-8") as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    gpu = ""
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        gpu = subprocess.run(
            ["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    load = os.getloadavg()[0]
    return f"{cpu} ({vector_isa()}), {os.cpu_count()} cores, load {load:.1f}" + (
        f", GPU {gpu}" if gpu else ", no GPU"
    )


def vector_isa() -> str:
    """The CPU's widest vector extensions that matter here: bf16 decides the CPU backend."""
    flags: set[str] = set()
    with contextlib.suppress(OSError), open("/proc/cpuinfo", encoding="utf-8") as info:
        for line in info:
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                break
    found = [name for flag, name in _ISA if flag in flags]
    return ", ".join(found) if found else "no AVX2"


_ISA = (
    ("amx_bf16", "AMX-BF16"),
    ("avx512_bf16", "AVX512-BF16"),
    ("avx512_vnni", "AVX512-VNNI"),
    ("avx512f", "AVX512"),
    ("avx2", "AVX2"),
)


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


@contextlib.contextmanager
def chroma_server(directory: Path) -> Iterator[str]:
    """A `chroma run` child process on a free local port, storing under `directory`; yields
    its URL. (The tests start theirs with tests/servers.py: tests and benchmarks share no code.)"""
    import socket

    import chromadb

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    binary = Path(sys.executable).parent / "chroma"
    directory.mkdir(parents=True, exist_ok=True)
    command = [str(binary), "run", "--path", str(directory), "--host", "127.0.0.1", "--port", str(port)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(300):  # a minute
            try:
                chromadb.HttpClient(host="127.0.0.1", port=port).heartbeat()
                break
            except Exception:
                if process.poll() is not None:
                    raise RuntimeError(f"chroma run exited with {process.returncode}") from None
                time.sleep(0.2)
        else:
            raise RuntimeError("chroma run did not answer within a minute")
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(20)
