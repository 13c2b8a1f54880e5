"""`searchapp doctor`: finding damage in a child process, and repairing it."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from searchapp import Library, Settings
from searchapp.cli.main import app
from searchapp.health import check_library, run_check
from searchapp.ingest.files import ingest_paths
from searchapp.storage.originals import sha256_hex
from tests.conftest import make_settings, write

pytestmark = pytest.mark.slow  # every check runs in a child process (seconds each)

GUIDE = (
    "# Guide\n\n## Packing\nBring a raincoat and walking shoes.\n\n## Money\nRural buses take cash only.\n"
)


def _filled(tmp_path: Path) -> Settings:
    settings = make_settings(tmp_path, model="hash:64", chunk_tokens=20, chunk_overlap=2)
    with Library.open(settings) as library:
        ingest_paths(
            library,
            [
                write(tmp_path / "guide.md", GUIDE),
                write(tmp_path / "memo.txt", "Invoices are due in thirty days."),
            ],
            tags=["kb"],
        )
    return settings


def _doctor(settings: Settings, *args: str):  # type: ignore[no-untyped-def]
    env = {**settings.to_environment(), "SEARCHAPP_WORKERS": "1", "SEARCHAPP_MIN_FREE_MB": "1"}
    return CliRunner().invoke(app, ["doctor", *args], env=env)


def test_a_healthy_store_passes(tmp_path: Path) -> None:
    settings = _filled(tmp_path)
    report = run_check(settings)
    assert report.ok, report
    assert (report.documents, report.repair) == (2, "")
    assert {c.name for c in report.checks} == {
        "interrupted ingests",
        "chunk count",
        "one version per name",
        "vectors findable",
        "originals kept",
        "local index",
    }
    result = _doctor(settings, "--json")
    assert result.exit_code == 0 and json.loads(result.stdout)["ok"] is True


def test_a_missing_original_is_reported_by_name(tmp_path: Path) -> None:
    settings = _filled(tmp_path)
    doc_id = sha256_hex((tmp_path / "memo.txt").read_bytes())
    (settings.originals_dir / doc_id[:2] / doc_id).unlink()
    result = _doctor(settings)
    assert result.exit_code == 1
    assert "BAD  originals kept: 1 originals are missing (memo.txt)" in result.stdout


def test_an_interrupted_ingest_is_found_and_finished(tmp_path: Path) -> None:
    settings = _filled(tmp_path)
    with Library.open(settings) as library:
        record = library.document("memo.txt")
        library.store.catalog.put_record(dataclasses.replace(record, state="pending"))
        library.store.delete_chunks_of([record.doc_id])  # the crash came after the old chunks went
    report = run_check(settings)
    assert report.repair == "resume" and report.pending == ("memo.txt",)
    result = _doctor(settings, "--repair")
    assert result.exit_code == 0, result.output
    assert "+ memo.txt: ingested" in result.stdout
    with Library.open(settings) as library:
        assert check_library(library).ok
        assert library.search("invoices due", k=1).hits[0].source == "memo.txt"


def test_chunks_the_catalog_does_not_know_call_for_a_reindex(tmp_path: Path) -> None:
    settings = _filled(tmp_path)
    with Library.open(settings) as library:
        vector = library.embedder.embed_documents(["stray"])
        library.store.add_chunks(["stray:0"], vector, ["stray"], [{"doc_id": "stray", "chunk": 0}])
    report = run_check(settings)
    assert not report.ok and report.repair == "reindex"
    result = _doctor(settings, "--repair")
    assert result.exit_code == 0, result.output
    with Library.open(settings) as library:
        assert library.store.count_chunks() == sum(r.chunks for r in library.documents())
        assert [r.source for r in library.documents()] == ["guide.md", "memo.txt"]


def test_an_unreadable_store_is_rebuilt_from_the_originals(tmp_path: Path) -> None:
    settings = _filled(tmp_path)
    with Library.open(settings) as library:
        ingest_paths(library, [write(tmp_path / "old.txt", "A note that gets deleted.")])
        library.delete("old.txt")
        write(tmp_path / "memo.txt", "Invoices are now due in fourteen days.")
        ingest_paths(library, [tmp_path / "memo.txt"])  # replaces the first version
        before = {r.source: (r.doc_id, r.tags) for r in library.documents()}
    (settings.chroma_dir / "chroma.sqlite3").write_bytes(b"this is not a database" * 100)

    report = run_check(settings)
    assert [c.name for c in report.checks] == ["store readable"] and report.repair == "rebuild"
    result = _doctor(settings, "--repair")
    assert result.exit_code == 0, result.output
    assert list(settings.data_dir.glob("chroma.damaged-*"))  # kept aside, not deleted
    with Library.open(settings) as library:
        after = {r.source: (r.doc_id, r.tags) for r in library.documents()}
        assert after == before  # no deleted document, no old version came back
        assert "fourteen" in library.search("when are invoices due", k=1).hits[0].text


def test_a_rebuild_restores_every_collection_and_deletes_stay_per_collection(tmp_path: Path) -> None:
    alpha = _filled(tmp_path)  # guide.md and memo.txt
    beta = alpha.with_overrides(collection="team-beta")
    with Library.open(beta) as library:
        # The same bytes as alpha's memo, and a file of its own.
        ingest_paths(library, [tmp_path / "memo.txt", write(tmp_path / "beta.txt", "Beta keeps receipts.")])
    with Library.open(alpha) as library:
        library.delete("memo.txt")  # beta's copy of the same bytes must survive this
    with Library.open(beta) as library:
        memo = next(r for r in library.documents() if r.source == "memo.txt")
        assert library.original(memo.doc_id) == (tmp_path / "memo.txt").read_bytes()
    (alpha.chroma_dir / "chroma.sqlite3").write_bytes(b"this is not a database" * 100)

    result = _doctor(alpha, "--repair")
    assert result.exit_code == 0, result.output
    with Library.open(alpha) as library:
        assert [r.source for r in library.documents()] == ["guide.md"]
    with Library.open(beta) as library:
        assert sorted(r.source for r in library.documents()) == ["beta.txt", "memo.txt"]
        assert "receipts" in library.search("who keeps receipts", k=1).hits[0].text


@pytest.mark.parametrize("deep", [True, False])
def test_a_chunk_missed_in_the_top_3_is_named_and_only_a_lost_one_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, deep: bool
) -> None:
    """HNSW is approximate: a chunk found further down is there (named, not damage); one not
    found at all calls for a reindex, and is named too."""
    settings = _filled(tmp_path)
    with Library.open(settings) as library:
        real = library.store.query_ids
        hidden = library.store.get_chunks(ids=None, limit=1, offset=0)["ids"][0]
        name = library.store.get_chunks(ids=[hidden])["metadatas"][0]["source"]

        asked: list[int] = []

        def approximate(vector, k, **kw):  # type: ignore[no-untyped-def]
            ids, distances = real(vector, k, **kw)
            if ids[0] != hidden:
                return ids, distances
            asked.append(k)  # first the top 3, then deeper
            rest = ids[1:] + (
                ["other:0"] if len(asked) == 1 else ["other:0", "other:1", hidden] if deep else []
            )
            return rest, [0.2] * len(rest)

        monkeypatch.setattr(library.store, "query_ids", approximate)
        report = check_library(library)
    (check,) = [c for c in report.checks if c.name == "vectors findable"]
    assert len(asked) == 2 and f"{name} passage 0" in check.detail, check.detail
    if deep:
        assert check.ok and report.repair == "" and "only further down" in check.detail, report
        assert "rank" in check.detail
    else:
        assert not check.ok and report.repair == "reindex" and "not found at all" in check.detail
