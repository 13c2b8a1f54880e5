"""Who a client of a Chroma server is, and whether a client of this machine has ended.

A client id is ``<host>-<pid>-<random>``: pending writes, change-log entries and leases
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


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9.-]", "", socket.gethostname())[:24]


def new_client_id() -> str:
    return f"{_host()}-{os.getpid()}-{secrets.token_hex(3)}"


def ended_here(owner: str) -> bool:
    """True when `owner` was a process of this machine that no longer runs (an id reused
    by a new process counts as running: never a false "ended")."""
    host, _, rest = owner.rpartition("-")[0].rpartition("-")
    pid = rest if host else ""
    if host != _host() or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # another user's process
        return False
    return False
