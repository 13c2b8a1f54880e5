"""Feedback: kept per collection, the same through the Python API and the CLI, and never a ranking change."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from searchapp.cli.main import app
from searchapp.config import Settings
from searchapp.errors import QueryError
from searchapp.feedback import Feedback, FeedbackLog
from searchapp.ingest import ingest_paths
from searchapp.library import Library
from tests.conftest import write

DOCS = {
    "travel.md": "# Travel\n\nClaim travel expenses within thirty days with the receipts attached.",
    "security.md": "# Security\n\nLaptops must use full disk encryption and a screen lock.",
    "holidays.md": "# Holidays\n\nEvery employee has twenty-five days of paid leave a year.",
}


@pytest.fixture
def library(hash_library: Library, tmp_path: Path) -> Library:
    for name, text in DOCS.items():
        write(tmp_path / "docs" / name, text)
    ingest_paths(hash_library, [tmp_path / "docs"])
    return hash_library


def test_api_round_trip_replaces_a_changed_verdict_and_keeps_users_apart(library: Library) -> None:
    log = FeedbackLog.of(library)
    response = library.search("travel expenses receipts", k=3)
    top, other = response.hits[0], response.hits[1]
    assert top.source == "travel.md"
    before = [(h.chunk_id, h.score) for h in response.hits]

    first = log.add(response.query, "good", hit=top, mode=response.mode, user="ana@example.com")
    log.add(response.query, "bad", hit=other, mode=response.mode, user="ana@example.com")
    log.add(response.query, "good", hit=top, mode=response.mode, user="bo@example.com")
    changed = log.add(response.query, "bad", hit=top, mode=response.mode, user="bo@example.com")
    log.add("laptop rules", "none", shown=library.search("laptop rules").hits, mode="adaptive")

    items = log.list()
    assert len(items) == 4  # bo's 👍 became a 👎 (same user, query and passage): replaced
    assert log.get(changed.feedback_id) == changed and changed.verdict == "bad"
    assert log.get(first.feedback_id) is not None and first.passage == top.text and first.rank == 1
    assert {i.verdict for i in log.list(user="ana@example.com")} == {"good", "bad"}
    none = log.list(verdict="none")[0]
    assert none.chunk_id == "" and len(none.shown) >= 1 and none.user == ""
    # Feedback never changes a ranking by itself.
    assert [(h.chunk_id, h.score) for h in library.search("travel expenses receipts", k=3).hits] == before

    lines = list(log.export_lines())
    assert [Feedback.from_dict(json.loads(line)) for line in lines] == items
    for item in items:
        log.remove(item.feedback_id)
    assert log.count() == 0
    report = log.import_lines([*lines, "{not json", json.dumps({"query": "q", "verdict": "maybe"})])
    assert report.written == 4 and [n for n, _ in report.errors] == [5, 6]
    assert log.list() == items  # ids, times and every field survive the round trip
    assert log.import_lines(lines).written == 4 and log.count() == 4  # importing twice changes nothing


def test_bad_feedback_is_refused_with_a_clear_reason(library: Library) -> None:
    log = FeedbackLog.of(library)
    with pytest.raises(QueryError, match="verdict is one of"):
        log.add("q", "great", chunk_id="x:1")
    with pytest.raises(QueryError, match="needs the query"):
        log.add("   ", "good", chunk_id="x:1")
    with pytest.raises(QueryError, match="names its passage"):
        log.add("q", "good")
    assert log.count() == 0


def test_feedback_is_kept_per_collection(hash_settings: Settings) -> None:
    with Library.open(hash_settings) as one:
        FeedbackLog.of(one).add("q", "good", chunk_id="a:0", passage="text")
    with Library.open(hash_settings.with_overrides(collection="other-team")) as two:
        assert FeedbackLog.of(two).count() == 0
    with Library.open(hash_settings) as again:
        assert [i.query for i in FeedbackLog.of(again).list()] == ["q"]


def test_cli_export_import_and_list(library: Library, hash_settings: Settings, tmp_path: Path) -> None:
    response = library.search("paid leave days", k=2)
    FeedbackLog.of(library).add(response.query, "good", hit=response.hits[0], mode=response.mode, user="cy")
    library.close()
    env = {"SEARCHAPP_DATA_DIR": str(hash_settings.data_dir), "SEARCHAPP_MODEL": "hash:64"}
    runner = CliRunner()
    exported = tmp_path / "feedback.jsonl"
    result = runner.invoke(app, ["feedback", "export", str(exported)], env=env)
    assert result.exit_code == 0, result.output
    record = json.loads(exported.read_text().splitlines()[0])
    assert record["source"] == "holidays.md" and record["verdict"] == "good" and record["user"] == "cy"

    other = {**env, "SEARCHAPP_COLLECTION": "copy"}
    bad = tmp_path / "bad.jsonl"
    bad.write_text(exported.read_text() + '{"query": "x", "verdict": "good"}\n')
    result = runner.invoke(app, ["feedback", "import", str(bad)], env=other)
    assert (
        result.exit_code == 1
        and "bad.jsonl:2" in result.output
        and "1 feedback records imported" in result.output
    )
    result = runner.invoke(app, ["feedback", "list", "--json"], env=other)
    assert result.exit_code == 0
    assert [r["feedback_id"] for r in json.loads(result.stdout)] == [record["feedback_id"]]
    result = runner.invoke(app, ["feedback", "list"], env=other)
    assert "paid leave days" in result.stdout and "👍" in result.stdout
