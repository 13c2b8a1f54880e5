"""Several clients on one real `chroma run` server, each a real process with its own data directory.

What must hold: no client loses or hides another's documents (a write in progress is never
rolled back by another client; a repair never deletes what it cannot re-read), readers
never serve a version whose replacement they had time to see, and clients writing at once
end up with exactly what one client writing alone would have.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pytest

from searchapp import Library, Settings
from searchapp.ingest.files import ingest_paths
from tests.conftest import ROOT, sized
from tests.servers import S3_ENV, chroma_server, s3_server

pytestmark = [pytest.mark.server, pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with chroma_server(tmp_path_factory.mktemp("chroma")) as url:
        yield url


def client_env(data_dir: Path, server: str, collection: str, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "HF_HUB_OFFLINE": "1",
        "SEARCHAPP_DATA_DIR": str(data_dir),
        "SEARCHAPP_SERVER_URL": server,
        "SEARCHAPP_COLLECTION": collection,
        "SEARCHAPP_MODEL": "hash:64",
        "SEARCHAPP_WORKERS": "1",
        "SEARCHAPP_MIN_FREE_MB": "1",
        "SEARCHAPP_CHUNK_TOKENS": "40",
        "SEARCHAPP_CHUNK_OVERLAP": "4",
        **extra,
    }


def settings_of(env: dict[str, str]) -> Settings:
    return Settings.load(environ={k: v for k, v in env.items() if k.startswith("SEARCHAPP_")})


def spawn(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.server_clients", *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )


def expect(stream: IO[str] | None, prefix: str, process: subprocess.Popen[str]) -> str:
    assert stream is not None
    line = stream.readline()
    if not line.startswith(prefix):
        process.kill()
        raise AssertionError(f"expected {prefix!r}, got {line!r}; stderr: {process.communicate()[1][-3000:]}")
    return line.strip()


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "searchapp.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=300,
    )


def assert_whole(settings: Settings) -> dict[str, int]:
    """Every document is done, and Chroma holds exactly the chunks its record counts."""
    with Library.open(settings) as library:
        records = library.documents(include_pending=True)
        assert all(r.state == "done" for r in records), [r.source for r in records if r.state != "done"]
        for record in records:
            stored = len(library.store.get_chunks(where={"doc_id": record.doc_id})["ids"])
            assert stored == record.chunks, (
                f"{record.source}: {stored} chunks stored, {record.chunks} recorded"
            )
        return {r.source: r.chunks for r in records}


@pytest.mark.slow
def test_a_write_in_progress_is_never_rolled_back_by_another_client(server: str, tmp_path: Path) -> None:
    """The race of the issue, forced: client B ingests while client A's document is pending."""
    rounds = sized(ci=20, full=50, fast=5)  # each round forces the same interleaving
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i in range(rounds):
        paragraphs = [
            f"Section {p} of big document {i}: the quarterly figures rose again." for p in range(12)
        ]
        (corpus / f"big{i}.txt").write_text("\n\n".join(paragraphs))
        (corpus / f"small{i}.txt").write_text(f"A short note number {i} about the weather.")
    env_a = client_env(tmp_path / "client-a", server, "race")
    env_b = client_env(tmp_path / "client-b", server, "race")
    writer = spawn(env_a, "slow-writer", str(corpus), str(rounds))
    ingester = spawn(env_b, "ingester")
    try:
        expect(ingester.stdout, "READY", ingester)
        for i in range(rounds):
            expect(writer.stdout, f"PENDING {i}", writer)
            assert ingester.stdin is not None and writer.stdin is not None
            ingester.stdin.write(f"INGEST {corpus / f'small{i}.txt'}\n")
            ingester.stdin.flush()
            assert expect(ingester.stdout, "OK", ingester) == "OK ingested"
            writer.stdin.write("GO\n")
            writer.stdin.flush()
            done = expect(writer.stdout, f"DONE {i}", writer).split()
            assert done[2] == "ingested" and int(done[3]) > 1
    finally:
        for process in (writer, ingester):
            if process.stdin is not None:
                process.stdin.close()
            process.wait(60)
    assert writer.returncode == 0 and ingester.returncode == 0
    stored = assert_whole(settings_of(client_env(tmp_path / "checker", server, "race")))
    assert set(stored) == {f"big{i}.txt" for i in range(rounds)} | {f"small{i}.txt" for i in range(rounds)}
    doctor = cli(client_env(tmp_path / "client-b", server, "race"), "doctor", "--json")
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr


def _three_files(folder: Path, prefix: str) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(3):
        path = folder / f"{prefix}{i}.md"
        path.write_text(
            f"# {prefix} {i}\n\n" + f"Paragraph about {prefix} item {i}, with enough words. " * 15
        )
        paths.append(path)
    return paths


def test_doctor_repair_from_a_client_that_did_not_ingest_keeps_every_document(
    server: str, tmp_path: Path
) -> None:
    env_a = client_env(tmp_path / "client-a", server, "repair")
    env_b = client_env(tmp_path / "client-b", server, "repair")
    assert cli(env_a, "ingest", *map(str, _three_files(tmp_path / "a", "alpha"))).returncode == 0
    assert cli(env_b, "ingest", *map(str, _three_files(tmp_path / "b", "beta"))).returncode == 0
    before = assert_whole(settings_of(env_b))
    assert len(before) == 6

    healthy = cli(env_b, "doctor", "--repair")
    assert healthy.returncode == 0, healthy.stdout + healthy.stderr
    assert "3 documents' originals are kept by the clients that ingested them" in healthy.stdout
    assert assert_whole(settings_of(env_b)) == before

    # Damage that calls for a reindex: a stray chunk no document owns.
    with Library.open(settings_of(env_b)) as library:
        library.store.add_chunks(
            ["stray:0"], library.embedder.embed_documents(["stray"]), ["stray"], [{"doc_id": "stray"}]
        )
    broken = cli(env_b, "doctor", "--repair")
    assert broken.returncode == 3, broken.stdout + broken.stderr
    assert "cannot rebuild the index: 3 documents have no original to re-read" in broken.stderr
    assert "SEARCHAPP_ORIGINALS_URL" in broken.stderr
    with Library.open(settings_of(env_b)) as library:
        assert {r.source for r in library.documents()} == set(before)  # reported, nothing deleted


def test_shared_originals_in_s3_let_any_client_repair_everything(
    server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in S3_ENV.items():  # this process opens the library too
        monkeypatch.setenv(key, value)
    with s3_server(tmp_path / "s3") as endpoint:
        shared = {
            **S3_ENV,
            "SEARCHAPP_ORIGINALS_URL": "s3://searchapp/originals",
            "SEARCHAPP_S3_ENDPOINT_URL": endpoint,
        }
        env_a = client_env(tmp_path / "client-a", server, "shared", **shared)
        env_b = client_env(tmp_path / "client-b", server, "shared", **shared)
        assert cli(env_a, "ingest", *map(str, _three_files(tmp_path / "a", "alpha"))).returncode == 0
        assert cli(env_b, "ingest", *map(str, _three_files(tmp_path / "b", "beta"))).returncode == 0
        before = assert_whole(settings_of(env_b))
        report = json.loads(cli(env_b, "doctor", "--json").stdout)
        assert report["ok"] and report["notes"] == [] and report["missing_originals"] == []
        with Library.open(settings_of(env_b)) as library:
            alpha = library.document("alpha0.md")
            assert library.original(alpha.doc_id) == (tmp_path / "a" / "alpha0.md").read_bytes()
            library.store.add_chunks(
                ["stray:0"], library.embedder.embed_documents(["stray"]), ["stray"], [{"doc_id": "stray"}]
            )
        repaired = cli(env_b, "doctor", "--repair", "--json")
        assert repaired.returncode == 0, repaired.stdout + repaired.stderr
        assert assert_whole(settings_of(env_a)) == before


def _read_events(process: subprocess.Popen[str]) -> list[dict[str, Any]]:
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, err[-3000:]
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


@pytest.mark.slow
def test_a_reader_never_serves_a_version_it_had_time_to_see_replaced(server: str, tmp_path: Path) -> None:
    """A minute of rapid edits by one process while another searches in every mode."""
    seconds = float(sized(ci=60, full=120, fast=10))
    lag_s = 5.0  # a reader polls every second; applying an entry takes milliseconds
    env_w = client_env(tmp_path / "writer", server, "edits")
    env_r = client_env(tmp_path / "reader", server, "edits")
    editor = spawn(env_w, "editor", str(seconds), str(tmp_path))
    expect(editor.stdout, "{", editor)
    reader = spawn(env_r, "reader", str(seconds + 10))
    edits = _read_events(editor)
    searches = _read_events(reader)[1:]
    replaced_at = {e["replaced"]: e["t"] for e in edits if e["replaced"]}
    assert len(edits) > 20 and len(searches) > 60
    stale = [
        (s["mode"], doc_id, round(s["start"] - replaced_at[doc_id], 1))
        for s in searches
        for doc_id in s["doc_ids"]
        if doc_id in replaced_at and replaced_at[doc_id] < s["start"] - lag_s
    ]
    assert stale == [], f"{len(stale)} stale answers (mode, document, seconds since replaced): {stale[:10]}"
    current = {e["source"]: e["doc_id"] for e in edits}
    last = {s["mode"]: set(s["doc_ids"]) for s in searches if s["start"] > edits[-1]["t"] + lag_s}
    assert set(last) == {"keyword", "hybrid", "dense"}
    for mode, doc_ids in last.items():
        assert doc_ids == set(current.values()), mode


def test_three_clients_ingesting_at_once_store_what_one_client_would(server: str, tmp_path: Path) -> None:
    groups = [
        _three_files(tmp_path / name, name) + _three_files(tmp_path / name / "more", f"{name}x")
        for name in ("red", "green", "blue")
    ]
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "searchapp.cli", "ingest", *map(str, group)],
            env=client_env(tmp_path / f"client{n}", server, "together"),
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n, group in enumerate(groups)
    ]
    for process in processes:
        _, err = process.communicate(timeout=300)
        assert process.returncode == 0, err[-2000:]
    alone = client_env(tmp_path / "alone", server, "alone")
    assert cli(alone, "ingest", *[str(p) for group in groups for p in group]).returncode == 0
    together = assert_whole(settings_of(client_env(tmp_path / "checker", server, "together")))
    assert together == assert_whole(settings_of(alone)) and len(together) == 18
    with Library.open(settings_of(client_env(tmp_path / "checker", server, "together"))) as library:
        assert library.stats().chunks == sum(together.values())


@pytest.mark.parametrize(
    ("lease", "shared", "finished"),
    [("expired", True, True), ("live", True, False), ("expired", False, False)],
    ids=["expired-lease-shared-originals", "live-lease", "expired-lease-original-out-of-sight"],
)
def test_only_an_expired_lease_is_finished_and_only_from_an_original_in_sight(
    server: str, tmp_path: Path, lease: str, shared: bool, finished: bool
) -> None:
    extra = {"SEARCHAPP_ORIGINALS_URL": str(tmp_path / "shared")} if shared else {}
    collection = f"lease-{lease}-{int(shared)}"
    env_a = client_env(tmp_path / "client-a", server, collection, **extra)
    env_b = client_env(tmp_path / "client-b", server, collection, **extra)
    paths = _three_files(tmp_path / "a", "alpha")
    with Library.open(settings_of(env_a)) as a:
        assert len(ingest_paths(a, paths).ingested) == 3
        victim = a.document("alpha1.md")
        # What a writer that died mid-write leaves: pending, its chunks half gone, its lease.
        until = int(time.time()) + (-5 if lease == "expired" else 600)
        a.store.catalog.put_record(
            dataclasses.replace(victim, state="pending", owner="dead-host-1-abcdef", lease_until=until)
        )
        a.store.delete_chunks_of([victim.doc_id])
    with Library.open(settings_of(env_b)) as b:
        ingest_paths(b, [tmp_path / "a" / "alpha0.md"])  # any ingest first finishes what it may
        record = b.find_by_id(victim.doc_id)
        assert record is not None, "another client's document was deleted"
        assert record.state == ("done" if finished else "pending")
        stored = len(b.store.get_chunks(where={"doc_id": victim.doc_id})["ids"])
        assert stored == (victim.chunks if finished else 0)
