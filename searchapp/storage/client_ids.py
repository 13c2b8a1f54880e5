"""Who a client of a Chroma server is, and whether a client of this machine has ended.

A client id is ``<host>.<boot>.<pid namespace>-<pid>-<random>``: pending writes, change-log entries and leases
carry it. A lease whose holder was killed (SIGKILL, a crash, a power cut of the process)
stays live until it expires; where the holder was a process of this machine, whether it
still runs can be asked, so a restarted `sync --watch` need not wait out its own
predecessor's lease.
"""

from __future__ import annotations

import os
import re
import secrets
import socket
from functools import lru_cache
from pathlib import Path

BOOT_ID = Path("/proc/sys/kernel/random/boot_id")
PID_NAMESPACE = Path("/proc/self/ns/pid")


@lru_cache(maxsize=1)
def _boot() -> str:
    """Where this process's ids mean something (Linux): this boot of this machine, and its
    process-id namespace. Host names like "vm" or "localhost" are not unique, containers on
    one host share its boot and may share a host name, but not a pid namespace; a process
    of an earlier boot has surely ended. Empty where either is unknown."""
    try:
        boot = BOOT_ID.read_text(encoding="ascii").strip().replace("-", "")[:8]
        namespace = PID_NAMESPACE.stat().st_ino
    except OSError:
        return ""
    return f"{boot}.{namespace}" if boot else ""


def _host() -> str:
    host = re.sub(r"[^A-Za-z0-9.-]", "", socket.gethostname())[:24]
    return f"{host}.{_boot()}" if _boot() else host


def new_client_id() -> str:
    return f"{_host()}-{os.getpid()}-{secrets.token_hex(3)}"


def ended_here(owner: str) -> bool:
    """True when `owner` was a process of this machine that no longer runs (an id reused
    by a new process counts as running: never a false "ended")."""
    host, _, rest = owner.rpartition("-")[0].rpartition("-")
    pid = rest if host else ""
    if not _boot() or host != _host() or not pid.isdigit() or int(pid) == os.getpid():
        return False  # another machine, or one whose boot cannot be told apart
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # another user's process
        return False
    return False
