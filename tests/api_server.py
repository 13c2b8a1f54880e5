"""A live `searchapp serve` for tests: a child process on 127.0.0.1 over a real Chroma data dir.

Tokens are made before the server starts (a local data directory admits one process).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from searchapp import Library, Settings
from searchapp.api.tokens import TokenStore
from tests.servers import _wait_until_up, free_port

HASH_ENV = {
    "SEARCHAPP_MODEL": "hash:64",
    "SEARCHAPP_CHUNK_TOKENS": "40",
    "SEARCHAPP_CHUNK_OVERLAP": "5",
    "SEARCHAPP_WORKERS": "1",
    "SEARCHAPP_MIN_FREE_MB": "1",
}


@dataclass
class LiveApi:
    url: str  # http://127.0.0.1:PORT
    tokens: dict[str, str] = field(default_factory=dict)  # name -> secret
    token_ids: dict[str, str] = field(default_factory=dict)
    log: Path | None = None

    @property
    def api(self) -> str:
        return f"{self.url}/api/v1"

    def auth(self, name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[name]}"}


def server_env(data_dir: Path, home: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("SEARCHAPP_") or k == "SEARCHAPP_SHARED_DIR"
    }
    env.update(HASH_ENV)
    env.update({"SEARCHAPP_DATA_DIR": str(data_dir), "HOME": str(home), "HF_HUB_OFFLINE": "1"})
    env.update(extra or {})
    return env


def make_tokens(
    settings: Settings, wanted: Mapping[str, dict[str, object]]
) -> tuple[dict[str, str], dict[str, str]]:
    """Create tokens (name -> TokenStore.create arguments); `revoked: True` revokes one after."""
    secrets: dict[str, str] = {}
    ids: dict[str, str] = {}
    with Library.open(settings) as library:
        store = TokenStore(library.store.global_table("tokens"))
        for name, spec in wanted.items():
            spec = dict(spec)
            revoked = bool(spec.pop("revoked", False))
            token, secret = store.create(**spec)  # type: ignore[arg-type]
            if revoked:
                store.revoke(token.token_id)
            secrets[name], ids[name] = secret, token.token_id
    return secrets, ids


@contextmanager
def live_api(
    root: Path,
    tokens: Mapping[str, dict[str, object]],
    *,
    env: Mapping[str, str] | None = None,
    args: tuple[str, ...] = (),
    settings_overrides: Mapping[str, object] | None = None,
) -> Iterator[LiveApi]:
    """`searchapp serve` over `root/data`, with `tokens` made first."""
    data_dir, home = root / "data", root / "home"
    home.mkdir(parents=True, exist_ok=True)
    environ = server_env(data_dir, home, env)
    settings = Settings.load(environ=environ, **dict(settings_overrides or {}))
    secrets, ids = make_tokens(settings, tokens)
    port = free_port()
    log_path = root / "serve.log"
    command = [sys.executable, "-m", "searchapp.cli.main", "serve", "--port", str(port), *args]
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=environ, cwd=root)
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_until_up(f"{url}/api/v1/health", process, log_path, "searchapp serve")
            yield LiveApi(url, secrets, ids, log_path)
        finally:
            process.terminate()
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)


def wait_for_job(
    client: object, status_url: str, headers: Mapping[str, str], timeout: float = 120
) -> dict[str, object]:
    """Poll a job until it is done or failed."""
    deadline = time.monotonic() + timeout
    while True:
        job: dict[str, object] = client.get(status_url, headers=dict(headers)).json()  # type: ignore[attr-defined]
        if job.get("state") in ("done", "failed") or time.monotonic() > deadline:
            return job
        time.sleep(0.2)
