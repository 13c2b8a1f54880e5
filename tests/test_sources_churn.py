"""Churn: a tree of real files in all five formats (200 with --full; in CI 80, one round, and
25 with the real model), changed at random, synced after each round.

After every sync the library equals a fresh ingest of the same tree (names, titles, types
and chunk texts, compared document by document) and every document lists every path
that holds its content. Each round creates, modifies, renames, moves across folders,
deletes and copies files, while another file is being written during the sync (it must
wait for a later sync, never be ingested half-written).
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from searchapp import Library, Settings
from searchapp.sources import Sources, SourceSpec
from tests.conftest import make_settings, sized
from tests.sources_helpers import SlowWriter, backdate, check_mirror, churn, counting_embeddings, make_tree

TREE_FILES = 200


def _rounds(library: Library, settings: Settings, root: Path, rounds: int, seed: int) -> None:
    rng = random.Random(seed)
    with Sources(library, workers=1) as sources:
        sources.add(SourceSpec.create("team", root))
        report = sources.sync("team")[0]
        assert report.outcome == "ok" and not report.failures, report.summary()
        check_mirror(library, sources, "team", root, settings)
        for number in range(rounds):
            done = churn(root, rng)
            writing = root / "hr" / f"in-progress-{number}.txt"
            with SlowWriter(writing, rng), counting_embeddings(library) as embedded:
                report = sources.sync("team")
            (report,) = report
            assert report.outcome == "ok" and not report.failures, report.summary()
            # Only new content is embedded: moves, renames and copies cost no embedding.
            written = report.ingest.chunks_written if report.ingest is not None else 0
            assert sum(embedded) == written and written > 0
            counts = report.counts
            assert counts["moved"] >= done["renamed"] + done["moved"] - done["modified"], (counts, done)
            assert counts["deleted"] <= done["deleted"] + done["modified"]
            assert writing.relative_to(root).as_posix() in report.deferred, report.plan.describe()
            check_mirror(library, sources, "team", root, settings, leave_out=(writing,))
            backdate(writing, rng)  # finished now: the next round's sync takes it
        (report,) = sources.sync("team")
        check_mirror(library, sources, "team", root, settings)
        assert report.counts["new"] == 1 and report.counts["moved"] == 0  # the last file written


@pytest.mark.slow
def test_churn_rounds_keep_the_library_a_mirror_of_the_tree(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, model="hash:64", chunk_tokens=40, chunk_overlap=5)
    root = tmp_path / "tree"
    make_tree(root, sized(ci=80, full=TREE_FILES), random.Random(7))
    with Library.open(settings) as library:
        _rounds(library, settings, root, sized(ci=1, full=12), seed=11)


@pytest.mark.slow
@pytest.mark.model
def test_a_churn_round_with_the_real_model(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    root = tmp_path / "tree"
    make_tree(root, sized(ci=25, full=TREE_FILES), random.Random(8))  # embedding is the cost here
    with Library.open(settings) as library:
        _rounds(library, settings, root, 1, seed=12)
