"""Is the index whole? Checks that find what Chroma's own failure modes leave behind.

Chroma's local index can be damaged without any error at write time: two writers lose
vectors from the HNSW index while `count()` looks right, and a SIGKILL during a flush
can tear a segment so that the next query fails or segfaults. So the check samples
stored vectors and asks the index to find each one, compares counts with the catalog,
and looks for interrupted ingests and missing originals.

`run_check` runs it in a child process with a time limit, so a segfaulting or hanging
index is reported instead of taking the caller down; `check_library` is the same check
in-process (the UI's Status page uses it on its already-open, already-loaded index).

    python -m searchapp.health      # the child: prints one JSON report; settings from SEARCHAPP_*
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from searchapp.config import Settings
from searchapp.library import Library

DEFAULT_SAMPLES = 200
DEEPER = 100  # how deep a chunk missed in the top 3 is looked for again


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool
    detail: str


@dataclass(frozen=True, slots=True)
class HealthReport:
    """The outcome of a health check. `repair` says which repair the problems call for."""

    checks: tuple[Check, ...]
    documents: int = 0
    chunks: int = 0
    pending: tuple[str, ...] = ()
    missing_originals: tuple[str, ...] = ()
    repair: str = ""  # "", "resume", "reindex" or "rebuild" (the store could not be read)
    notes: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["ok"] = self.ok
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HealthReport:
        return cls(
            checks=tuple(Check(**c) for c in data["checks"]),
            documents=int(data.get("documents", 0)),
            chunks=int(data.get("chunks", 0)),
            pending=tuple(data.get("pending") or ()),
            missing_originals=tuple(data.get("missing_originals") or ()),
            repair=str(data.get("repair") or ""),
            notes=tuple(data.get("notes") or ()),
        )


def check_library(library: Library, *, samples: int = DEFAULT_SAMPLES, seed: int = 0) -> HealthReport:
    """Run every check on an open library."""
    checks: list[Check] = []
    records = library.documents(include_pending=True)
    done = [r for r in records if r.state == "done"]
    now = time.time()
    # With a server, another client may be writing right now; a local store has one writer
    # (this check holds its lock), so any pending record there was interrupted.
    writing = [
        r
        for r in records
        if library.settings.is_server and r.lease_live(now) and r.owner != library.client_id
    ]
    pending = [r for r in records if r.state == "pending" and r not in writing]
    chunks = library.store.count_chunks()
    expected = sum(r.chunks for r in done)

    checks.append(
        Check(
            "interrupted ingests",
            not pending,
            ("none" if not writing else f"none ({len(writing)} being written by other clients now)")
            if not pending
            else f"{len(pending)} documents were interrupted while being ingested "
            f"({', '.join(r.source for r in pending[:5])}); the next ingest finishes them",
        )
    )
    counts_ok = chunks == expected or ((pending or writing) and chunks >= expected)
    checks.append(
        Check(
            "chunk count",
            bool(counts_ok),
            f"{chunks} chunks stored, {expected} expected from the catalog of {len(done)} documents",
        )
    )
    seen: dict[str, int] = {}
    for record in done:
        seen[record.source] = seen.get(record.source, 0) + 1
    twice = sorted(source for source, n in seen.items() if n > 1)
    checks.append(
        Check(
            "one version per name",
            not twice,
            "every name is stored once"
            if not twice
            else f"{len(twice)} names are stored more than once ({', '.join(twice[:5])}); "
            "a reindex keeps the newest",
        )
    )
    findability = _sample_self_queries(library, chunks, samples, seed)
    checks.append(Check("vectors findable", findability.ok, findability.detail()))
    missing = [r.source for r in done if not library.originals.has(r.doc_id)]
    notes: list[str] = []
    if missing and not library.sees_every_original:
        # Each client of a server keeps the originals it ingested: out of sight is not lost.
        notes.append(
            f"{len(missing)} documents' originals are kept by the clients that ingested them, not "
            f"reachable from here ({', '.join(missing[:5])}); set SEARCHAPP_ORIGINALS_URL to a store "
            "every client shares, so that any client can re-index every document"
        )
        missing = []
    checks.append(
        Check(
            "originals kept",
            not missing,
            "every document's original is kept"
            if not missing
            else f"{len(missing)} originals are missing ({', '.join(missing[:5])}); "
            "those documents cannot be re-indexed until they are ingested again",
        )
    )
    # With a server, other clients write at any time: this client follows the change log.
    local_ok = library.settings.is_server or (
        library.local.count == chunks and library.local.generation == library.store.generation()
    )
    checks.append(
        Check(
            "local index",
            local_ok,
            "in step with Chroma" if local_ok else "out of step with Chroma; it is rebuilt on the next open",
        )
    )
    repair = ""
    if not all(c.ok for c in checks if c.name in ("chunk count", "vectors findable", "one version per name")):
        repair = "reindex"
    elif pending:
        repair = "resume"
    return HealthReport(
        checks=tuple(checks),
        documents=len(done),
        chunks=chunks,
        pending=tuple(r.source for r in pending),
        missing_originals=tuple(missing),
        repair=repair,
        notes=tuple(notes),
    )


@dataclass(frozen=True, slots=True)
class _Findability:
    """What sampling the vector index found: chunks first (top 3) or only further down
    (`deeper`: HNSW is approximate, the vector is there), and chunks it cannot find at all."""

    found: int = 0
    tried: int = 0
    deeper: tuple[tuple[str, int], ...] = ()  # (the chunk's name, its rank)
    lost: tuple[str, ...] = ()
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error and not self.lost

    def detail(self) -> str:
        if self.error:
            return self.error
        text = f"{self.found} of {self.tried} sampled chunks are found by their own vector"
        if self.deeper:
            where = ", ".join(f"{name} at rank {rank}" for name, rank in self.deeper[:5])
            text += (
                f", {len(self.deeper)} of them only further down ({where}): the vector index is "
                "approximate, and their vectors are there"
            )
        if self.lost:
            text += f"; not found at all: {len(self.lost)} ({', '.join(self.lost[:5])})"
        return text


def _sample_self_queries(library: Library, count: int, samples: int, seed: int) -> _Findability:
    """How many sampled chunks the vector index finds by their own vector (top 3; a miss is
    asked again `DEEPER` deep, to tell an approximate miss from a vector that is not there)."""
    if count == 0:
        return _Findability()
    rng = random.Random(seed)
    offsets = sorted(rng.sample(range(count), min(samples, count)))
    found = tried = 0
    deeper: list[tuple[str, int]] = []
    lost: list[str] = []
    try:
        for offset in offsets:
            got = library.store.get_chunks(include_embeddings=True, limit=1, offset=offset)
            if not got["ids"]:
                continue
            chunk_id, vector = got["ids"][0], np.asarray(got["embeddings"][0], dtype=np.float32)
            ids, distances = library.store.query_ids(vector, 3)
            # An identical vector elsewhere (a repeated passage) may come first; distance 0 counts.
            if chunk_id in ids or (distances and distances[0] < 1e-5):
                found += 1
                tried += 1
                continue
            if not library.store.get_chunks(ids=[chunk_id])["ids"]:
                continue  # deleted since it was read (another client's sync): not a finding
            tried += 1
            meta = (got.get("metadatas") or [{}])[0] or {}
            name = f"{meta.get('source') or meta.get('doc_id') or chunk_id} passage {meta.get('chunk', '?')}"
            ids, _ = library.store.query_ids(vector, min(count, DEEPER))
            if chunk_id in ids:
                deeper.append((name, ids.index(chunk_id) + 1))
            else:
                lost.append(name)
    except Exception as exc:  # a damaged index fails here, in any of several ways
        error = f"reading vectors failed: {type(exc).__name__}: {exc}"[:300]
        return _Findability(found, max(tried, 1), tuple(deeper), tuple(lost), error)
    return _Findability(found + len(deeper), tried, tuple(deeper), tuple(lost))


def run_check(settings: Settings, *, samples: int = DEFAULT_SAMPLES, timeout_s: float = 600) -> HealthReport:
    """Run the check in a child process, so a crash or hang in Chroma is a finding, not our fate."""
    env = {**os.environ, **settings.to_environment(), "SEARCHAPP_HEALTH_SAMPLES": str(samples)}
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    try:
        child = subprocess.run(
            [sys.executable, "-m", "searchapp.health"],
            capture_output=True,
            text=True,
            env=env,
            timeout=timeout_s,
        )
    except subprocess.TimeoutExpired:
        return _unreadable(f"the check did not finish within {timeout_s:.0f} s (the store hangs when read)")
    if child.returncode == 0:
        try:
            return HealthReport.from_dict(json.loads(child.stdout.strip().splitlines()[-1]))
        except (ValueError, IndexError, KeyError, TypeError):
            pass
    if child.returncode < 0:
        reason = f"the check crashed with signal {signal.Signals(-child.returncode).name} reading the store"
    else:
        last = (child.stderr.strip().splitlines() or ["no output"])[-1]
        reason = f"the check failed: {last}"[:400]
    return _unreadable(reason)


def _unreadable(reason: str) -> HealthReport:
    return HealthReport(checks=(Check("store readable", False, reason),), repair="rebuild")


def _main() -> None:
    settings = Settings.load()
    samples = int(os.environ.get("SEARCHAPP_HEALTH_SAMPLES", DEFAULT_SAMPLES))
    with Library.open(settings, check_model=False) as library:
        report = check_library(library, samples=samples)
    print(json.dumps(report.to_dict()))


if __name__ == "__main__":
    _main()
