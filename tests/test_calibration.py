"""The "no good match" notice, calibrated per library from feedback, kept only when it does better held out."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from searchapp.feedback import FeedbackLog
from searchapp.feedback.calibration import MAX_FALSE_ALARMS, calibrate, fit_threshold, last_calibration, reset
from searchapp.ingest import ingest_paths
from searchapp.ingest.reindex import reindex
from searchapp.library import Library
from searchapp.retrieval.scoring import NO_MATCH_TABLE, Evidence, NoMatch, weak_match
from searchapp.ui.model_panel import notice_precision
from tests import servers
from tests.conftest import make_settings, write

TOPICS = [
    "river",
    "mountain",
    "harbour",
    "castle",
    "forest",
    "desert",
    "glacier",
    "meadow",
    "canyon",
    "island",
    "valley",
    "volcano",
    "lagoon",
    "prairie",
    "marsh",
    "tundra",
    "reef",
    "plateau",
    "delta",
    "fjord",
    "savanna",
    "steppe",
    "oasis",
    "geyser",
]


def test_fit_threshold_flags_at_most_five_percent_of_good_queries() -> None:
    values = [i / 100 for i in range(100)]
    threshold = fit_threshold(values)
    assert sum(v < threshold for v in values) <= MAX_FALSE_ALARMS * len(values)
    assert sum(v < threshold + 0.011 for v in values) > MAX_FALSE_ALARMS * len(values)


def test_thresholds_decide_the_verdict_in_every_mode() -> None:
    evidence = Evidence(top_cosine=0.30, top_bm25=2.0, ceiling=10.0, readable=1.0, weight=0.9)
    assert weak_match("dense", evidence) and weak_match("adaptive", evidence)
    lenient = NoMatch(dense=0.25, keyword=0.1, calibrated=True)
    assert not weak_match("dense", evidence, lenient) and not weak_match("adaptive", evidence, lenient)
    assert weak_match("keyword", evidence, NoMatch(dense=0.25, keyword=0.25))


@pytest.fixture
def library(hash_library: Library, tmp_path: Path) -> Library:
    _places(hash_library, tmp_path / "docs")
    return hash_library


def _places(library: Library, directory: Path) -> None:
    for topic in TOPICS:
        write(
            directory / f"{topic}.txt", f"The {topic} guide: {topic} walks, {topic} maps and {topic} tours."
        )
    ingest_paths(library, [directory])


# Good queries name six places: the best passage matches one of them, a sixth of the
# query's attainable BM25, which the default (0.17 of it) calls weak. Bad ones match nothing.
GOOD = [
    " ".join(TOPICS[(i + step * j) % len(TOPICS)] for j in range(6)) for step in (1, 5) for i in range(24)
]
BAD = [f"invoice number {i} overdue payment reminder" for i in range(20)]


def _label(library: Library, good: list[str], bad: list[str]) -> None:
    log = FeedbackLog.of(library)
    for query in good:
        response = library.search(query, k=3)
        log.add(query, "good", hit=response.hits[0], mode=response.mode)
    for query in bad:
        log.add(query, "none", shown=library.search(query, k=3).hits, mode="adaptive")


def test_too_little_feedback_keeps_the_defaults_but_records_the_measurement(library: Library) -> None:
    _label(library, [f"{t} maps" for t in TOPICS[:4]], ["invoice totals"])
    result = calibrate(library)
    assert not result.kept and any("at least" in r for r in result.reasons)
    assert library.searcher.no_match == NoMatch()
    assert last_calibration(library) is not None and last_calibration(library)["kept"] is False


def test_calibration_is_kept_when_it_separates_better_held_out_and_changes_the_notice(
    library: Library,
) -> None:
    _label(library, GOOD, BAD)
    before = library.search(GOOD[0])
    assert before.weak_match  # the defaults flag a query that people said was answered
    result = calibrate(library)
    assert result.kept, result.reasons
    assert result.calibrated.youden >= result.default.youden + 0.02
    assert result.heldout_queries + result.train_queries == 68 and result.heldout_queries >= 25
    assert library.searcher.no_match.calibrated
    assert not library.search(GOOD[0]).weak_match
    assert library.search("invoice number 99 overdue payment reminder").weak_match
    reset(library)
    assert library.searcher.no_match == NoMatch() and library.search(GOOD[0]).weak_match


def test_a_calibration_holds_for_its_own_model_and_is_redone_after_a_model_change(
    library: Library,
) -> None:
    """Cosines differ between models, so thresholds fitted on one are not used with another:
    a reindex to another model calibrates again from the same feedback (under the same gate)."""
    _label(library, GOOD, BAD)
    first = calibrate(library)
    assert first.kept and first.model == library.embedder.info.name == "hash:64"
    table = library.store.table(NO_MATCH_TABLE)
    table.put("current", {**table.get("current"), "model": "another-model"}, kind="calibration")
    library.refresh_no_match()
    assert library.searcher.no_match == NoMatch()  # fitted on another model's cosines: the defaults
    assert "another-model" in notice_precision(library)

    rebuilt, _ = reindex(library, model="hash:32")
    try:
        record = last_calibration(rebuilt)
        assert record is not None and record["model"] == "hash:32"  # calibrated again, for the new model
        assert record["train_queries"] + record["heldout_queries"] == 68  # every label, read again
        assert rebuilt.searcher.no_match.calibrated == record["kept"]  # what the gate said for hash:32
    finally:
        rebuilt.close()


@pytest.mark.server
@pytest.mark.timeout(300)
def test_every_client_of_a_server_searches_with_a_new_calibration_without_reopening(tmp_path: Path) -> None:
    """One client calibrates (or resets); another, open all along, follows within seconds."""

    def until(check: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + 30
        while not check():
            assert time.monotonic() < deadline, what
            time.sleep(0.2)

    with servers.chroma_server(tmp_path / "chroma") as url:
        settings = make_settings(tmp_path, model="hash:64", chunk_tokens=40, chunk_overlap=5, server_url=url)
        with Library.open(settings) as first:
            _places(first, tmp_path / "docs")
            with Library.open(settings.with_overrides(data_dir=tmp_path / "other")) as second:
                assert second.search(GOOD[0]).weak_match  # the defaults
                _label(first, GOOD, BAD)
                assert calibrate(first).kept
                until(
                    lambda: second.searcher.no_match == first.searcher.no_match, "never read the calibration"
                )
                assert second.searcher.no_match.calibrated and not second.search(GOOD[0]).weak_match
                reset(first)
                until(lambda: second.searcher.no_match == NoMatch(), "never read the reset")
                assert second.search(GOOD[0]).weak_match


def test_saving_a_calibration_does_not_wait_for_a_write_in_progress(library: Library) -> None:
    """The Tune page calibrates while an upload may be committing: no document changes, so no wait."""
    held, release = threading.Event(), threading.Event()

    def long_write() -> None:
        with library._write_lock:  # what an ingest holds while it commits
            held.set()
            release.wait(60)

    writer = threading.Thread(target=long_write)
    writer.start()
    try:
        assert held.wait(10)
        saving = threading.Thread(target=reset, args=(library,))
        saving.start()
        saving.join(10)
        assert not saving.is_alive(), "saving the thresholds waited for the write"
    finally:
        release.set()
        writer.join()
