"""Real servers for tests, each a child process on 127.0.0.1: `chroma run`, and an S3 (moto)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_until_up(url: str, process: subprocess.Popen[bytes], log: Path, what: str) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"{what} did not start: {log.read_text(errors='replace')[-3000:]}"
                ) from None
            time.sleep(0.2)


@contextmanager
def chroma_server(directory: Path) -> Iterator[str]:
    """A `chroma run` server storing under `directory`; yields its URL."""
    port = free_port()
    chroma = Path(sys.executable).parent / "chroma"
    log_path = directory / "chroma.log"
    directory.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        command = [
            str(chroma),
            "run",
            "--path",
            str(directory / "data"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ]
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_until_up(f"{url}/api/v2/heartbeat", process, log_path, "the chroma server")
            yield url
        finally:
            process.terminate()
            process.wait(20)


S3_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@contextmanager
def s3_server(directory: Path, bucket: str = "searchapp", *, auth: bool = False) -> Iterator[str]:
    """A real S3-protocol server (moto in server mode) with `bucket` created; yields its endpoint.

    `auth`: the server checks every request's access key after creating the bucket (moto
    knows only the keys of its own IAM, so any other key is InvalidAccessKeyId)."""
    with s3_server_process(directory, bucket, auth=auth) as (endpoint, _):
        yield endpoint


@contextmanager
def s3_server_process(
    directory: Path, bucket: str = "searchapp", *, auth: bool = False
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`s3_server`, and its process (to stop it while a client works)."""
    port = free_port()
    directory.mkdir(parents=True, exist_ok=True)
    log_path = directory / "moto.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **S3_ENV, **({"INITIAL_NO_AUTH_ACTION_COUNT": "1"} if auth else {})},
        )
        endpoint = f"http://127.0.0.1:{port}"
        try:
            _wait_until_up(f"{endpoint}/moto-api/", process, log_path, "the S3 server")
            request = urllib.request.Request(f"{endpoint}/{bucket}", method="PUT")
            with urllib.request.urlopen(request, timeout=10):
                pass
            yield endpoint, process
        finally:
            process.terminate()
            process.wait(20)
