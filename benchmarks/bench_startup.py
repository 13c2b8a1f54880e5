"""A new process's imports: with Python's bytecode cache, and compiled from source every time.

    python benchmarks/bench_startup.py [--rounds 5]

The test suite starts hundreds of Python processes (CLI runs, clients, servers, kill
trials), and `searchapp ui` starts a health-check child. Where PYTHONDONTWRITEBYTECODE is
set and the install skipped byte-compiling (scripts/setup.sh does, to save a minute),
every one of them compiles each module it imports from source. Each variant gets its own
empty PYTHONPYCACHEPREFIX, so neither reads the venv's own __pycache__:

- cold: PYTHONDONTWRITEBYTECODE=1, nothing cached, nothing written (every process pays);
- cached: the cache written by one untimed run first, then read.

Rounds alternate the variants, so the machine's noise hits both alike; medians are reported.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import machine

ROOT = Path(__file__).resolve().parents[1]
IMPORTS = {
    "CLI (searchapp --help)": "import searchapp.cli.main",
    "library + Chroma": "import searchapp.library, chromadb",
    "model stack (library, Chroma, sentence-transformers, torch, Streamlit, FastAPI)": (
        "import searchapp.library, chromadb, sentence_transformers, torch, streamlit, fastapi"
    ),
}


def seconds(code: str, prefix: Path, *, write: bool) -> float:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(prefix)
    if not write:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, check=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print(machine(), f"load {os.getloadavg()}", file=sys.stderr)
    print("| imports | cold: compiled every time, s | cached, s | ratio |")
    print("|---|---|---|---|")
    for name, code in IMPORTS.items():
        with tempfile.TemporaryDirectory() as cold_dir, tempfile.TemporaryDirectory() as cached_dir:
            seconds(code, Path(cached_dir), write=True)  # writes the cache
            cold, cached = [], []
            for _ in range(args.rounds):
                cold.append(seconds(code, Path(cold_dir), write=False))
                cached.append(seconds(code, Path(cached_dir), write=True))
        a, b = statistics.median(cold), statistics.median(cached)
        print(f"| {name} | {a:.2f} | {b:.2f} | {a / b:.2f}x |", flush=True)
    print(f"load after: {os.getloadavg()}", file=sys.stderr)


if __name__ == "__main__":
    main()
