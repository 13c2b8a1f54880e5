"""Run the real app in a child process for tests: `searchapp ui`'s command, a free port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from searchapp import Settings
from searchapp.ui.launcher import streamlit_command
from tests.conftest import ROOT


@dataclass(frozen=True)
class Server:
    url: str
    port: int
    pid: int
    log: Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the app exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.read().strip() == b"ok":
                    return
        except OSError:
            pass
        time.sleep(0.3)
    pytest.fail(f"the app did not answer /_stcore/health within {timeout:.0f} s:\n{log.read_text()[-3000:]}")


@contextmanager
def running_app(settings: Settings, workdir: Path, *, port: int | None = None) -> Iterator[Server]:
    """Start the app on 127.0.0.1 with `settings` (in `workdir`: its `.streamlit/secrets.toml`
    is the app's); stop it by its PID afterwards."""
    port = port or free_port()
    command, env = streamlit_command(settings, host="127.0.0.1", port=port, given=settings.to_environment())
    env.update(
        PYTHONPATH=os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep),
        SEARCHAPP_MIN_FREE_MB="1",
        HF_HUB_OFFLINE="1",
    )
    log = workdir / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=workdir)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, process, log)
        yield Server(url=url, port=port, pid=process.pid, log=log)
    finally:
        os.kill(process.pid, signal.SIGTERM)  # stop the server by its PID
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
