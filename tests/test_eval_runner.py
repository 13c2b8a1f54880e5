"""`searchapp eval` end to end on a tiny BEIR dataset, with the hash embedder.

Each query is the exact text of its relevant document, so the hash embedder (and any
keyword or hybrid mode) puts that document first, and the expected scores can be
worked out by hand:

    q1: d1 (grade 2) first; "ghost" (grade 1) is not in the corpus, never retrieved
        nDCG@10 = 2 / (2 + 1/log2(3)) = 0.760188, Recall = 1/2, MRR = 1
    q2: d2 (no title) first; d6 judged 0                   -> 1, 1, 1
    3:  numeric id 3 first                                  -> 1, 1, 1
    q4: d4 and d5 have the same text; the pipeline stores it once, and both ids
        must still come back at ranks 1 and 2                 -> 1, 1, 1
    q5: unjudged, not evaluated

    mean nDCG@10 = (0.760188 + 3) / 4 = 0.940047; Recall@10 = Recall@100 = 0.875; MRR@10 = 1
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from searchapp import Library, Settings
from searchapp.cli.main import app
from searchapp.errors import EvalDataError
from searchapp.evaluation import ModeNotOfferedError, resolve_modes, run_evaluation
from searchapp.evaluation.runner import document_ranking
from searchapp.evaluation.scratch import STATE_FILE, read_state, write_state
from searchapp.ingest.pipeline import Ingestor
from searchapp.progress import Progress
from searchapp.types import Hit
from tests.conftest import make_settings
from tests.eval_data import CORPUS, write_dataset

NDCG_10 = (2 / (2 + 1 / 1.584962500721156) + 3) / 4  # 0.940047


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    return write_dataset(tmp_path / "tiny")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path, model="hash:64")


@pytest.fixture
def offered(settings: Settings) -> tuple[str, ...]:
    """The modes the library offers today (dense; later hybrid and keyword too)."""
    with Library.open(settings) as library:
        return library.search_modes


class Recorder:
    """An `EvalProgress` that keeps everything it is told."""

    def __init__(self) -> None:
        self.notes: list[str] = []
        self.ingest_events: list[Progress] = []
        self.queries: list[tuple[str, int, int]] = []

    def note(self, message: str) -> None:
        self.notes.append(message)

    def ingest(self, event: Progress) -> None:
        self.ingest_events.append(event)

    def query(self, mode: str, done: int, total: int) -> None:
        self.queries.append((mode, done, total))


@pytest.fixture
def ingest_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """Counts `Ingestor.ingest` calls: the proof that a reused index is not re-ingested."""
    calls: list[int] = []
    original = Ingestor.ingest

    def counting(self: Ingestor, files: Any, **kwargs: Any) -> Any:
        files = list(files)
        calls.append(len(files))
        return original(self, files, **kwargs)

    monkeypatch.setattr(Ingestor, "ingest", counting)
    yield calls


def _catalog(settings: Settings) -> dict[str, int]:
    with Library.open(settings) as library:
        return {r.doc_id: r.ingested_at for r in library.documents()}


# ------------------------------------------------------------------ Python API


def test_scores_match_the_hand_computed_values(
    dataset: Path, settings: Settings, tmp_path: Path, offered: tuple[str, ...]
) -> None:
    recorder = Recorder()
    report = run_evaluation(dataset, settings, data_dir=tmp_path / "eval", progress=recorder)
    assert report.dataset == "tiny" and report.split == "test" and report.k == 10
    assert report.corpus_documents == 6 and report.queries == 4
    assert report.index.documents == 5 and report.index.chunks == 5  # d4/d5 stored once
    assert report.index.model == "hash:64" and not report.index.reused
    assert report.index.data_dir == str(tmp_path / "eval" / "eval-tiny")
    assert [m.mode for m in report.modes] == list(offered)
    for result in report.modes:
        assert result.queries == 4
        assert result.ndcg == pytest.approx(NDCG_10, abs=1e-6)
        assert result.ndcg == pytest.approx(0.940047, abs=1e-6)
        assert result.recall == pytest.approx(0.875)
        assert result.recall_100 == pytest.approx(0.875)
        assert result.mrr == pytest.approx(1.0)
        assert 0 < result.latency_p50_ms <= result.latency_p95_ms
        # Every corpus id comes back, the duplicate too; keyword search returns only
        # documents that share a term with the query.
        assert result.min_documents == (1 if result.mode == "keyword" else 6)
        assert result.deepened_queries == 0
    assert recorder.ingest_events and recorder.ingest_events[-1].files_done == 6
    for mode in offered:
        assert (mode, 4, 4) in recorder.queries


def test_k_sets_the_cut_off(dataset: Path, settings: Settings, tmp_path: Path) -> None:
    report = run_evaluation(dataset, settings, data_dir=tmp_path / "eval", k=1)
    for result in report.modes:
        # At k=1 the first hit is all that counts: q1 and q4 find one of their two relevant docs.
        assert result.ndcg == pytest.approx(1.0)
        assert result.recall == pytest.approx((0.5 + 1 + 1 + 0.5) / 4)
        assert result.recall_100 == pytest.approx(0.875)
        assert result.to_dict()["ndcg@1"] == 1.0 and "recall@100" in result.to_dict()


def test_second_run_reuses_the_index_without_ingesting(
    dataset: Path, settings: Settings, tmp_path: Path, ingest_calls: list[int]
) -> None:
    first = run_evaluation(dataset, settings, data_dir=tmp_path / "eval")
    assert ingest_calls == [6]
    scratch = dataclasses.replace(settings, data_dir=tmp_path / "eval" / "eval-tiny", collection="eval-tiny")
    catalog = _catalog(scratch)
    recorder = Recorder()
    second = run_evaluation(dataset, settings, data_dir=tmp_path / "eval", progress=recorder)
    assert ingest_calls == [6]  # no second ingest at all
    assert recorder.ingest_events == []
    assert any(note.startswith("reusing the evaluation index") for note in recorder.notes)
    assert second.index.reused and second.index.ingest_seconds == pytest.approx(first.index.ingest_seconds)
    assert _catalog(scratch) == catalog
    assert [m.ndcg for m in second.modes] == [m.ndcg for m in first.modes]


def test_changed_corpus_or_chunk_settings_rebuild(
    dataset: Path, settings: Settings, tmp_path: Path, ingest_calls: list[int]
) -> None:
    root = tmp_path / "eval"
    run_evaluation(dataset, settings, data_dir=root)
    extra = {"_id": "d7", "title": "Owls", "text": "Owls hunt at night in quiet forests."}
    write_dataset(dataset, [*CORPUS, extra])
    changed = run_evaluation(dataset, settings, data_dir=root)
    assert not changed.index.reused and changed.corpus_documents == 7 and changed.index.documents == 6
    smaller = run_evaluation(
        dataset, settings.with_overrides(chunk_tokens=50, chunk_overlap=5), data_dir=root
    )
    assert not smaller.index.reused and smaller.index.chunk_tokens == 50
    forced = run_evaluation(
        dataset, settings.with_overrides(chunk_tokens=50, chunk_overlap=5), data_dir=root, rebuild=True
    )
    assert not forced.index.reused
    other_model = run_evaluation(dataset, settings.with_overrides(model="hash:32"), data_dir=root)
    assert not other_model.index.reused and other_model.index.model == "hash:32"
    assert other_model.index.documents == 6
    assert ingest_calls == [6, 7, 7, 7, 7]
    state = read_state(root / "eval-tiny")
    assert state is not None and state.complete and state.fingerprint["model"] == "hash:32"


def test_interrupted_build_is_finished_without_embedding_again(
    dataset: Path, settings: Settings, tmp_path: Path, ingest_calls: list[int]
) -> None:
    root = tmp_path / "eval"
    run_evaluation(dataset, settings, data_dir=root)
    state = read_state(root / "eval-tiny")
    assert state is not None
    write_state(root / "eval-tiny", dataclasses.replace(state, complete=False))
    recorder = Recorder()
    report = run_evaluation(dataset, settings, data_dir=root, progress=recorder)
    assert ingest_calls == [6, 6]  # ingested again ...
    assert max(e.chunks_embedded for e in recorder.ingest_events) == 0  # ... but every file unchanged
    assert not report.index.reused and report.modes[0].ndcg == pytest.approx(NDCG_10, abs=1e-6)
    state = read_state(root / "eval-tiny")
    assert state is not None and state.complete


def test_a_directory_it_did_not_make_is_left_alone(dataset: Path, settings: Settings, tmp_path: Path) -> None:
    foreign = tmp_path / "eval" / "eval-tiny"
    foreign.mkdir(parents=True)
    (foreign / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(EvalDataError, match=f"not empty and has no {STATE_FILE}"):
        run_evaluation(dataset, settings, data_dir=tmp_path / "eval")
    assert (foreign / "notes.txt").read_text(encoding="utf-8") == "mine"


def test_mode_selection(
    dataset: Path,
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    ingest_calls: list[int],
) -> None:
    assert resolve_modes(None, ("hybrid", "dense", "keyword")) == ("hybrid", "dense", "keyword")
    assert resolve_modes(["all"], ("hybrid", "dense")) == ("hybrid", "dense")
    assert resolve_modes(["keyword", "dense", "keyword"], ("hybrid", "dense", "keyword")) == (
        "keyword",
        "dense",
    )
    with pytest.raises(ModeNotOfferedError, match=r"search mode 'hybrid' is not offered .* it offers: dense"):
        resolve_modes(["hybrid"], ("dense",))
    monkeypatch.setattr(Library, "search_modes", property(lambda self: ("dense",)))
    with pytest.raises(ModeNotOfferedError):
        run_evaluation(dataset, settings, data_dir=tmp_path / "eval", modes=["keyword"])
    assert ingest_calls == []  # refused before the corpus is embedded
    report = run_evaluation(dataset, settings, data_dir=tmp_path / "eval", modes=["dense"])
    assert [m.mode for m in report.modes] == ["dense"]


def _hit(rank: int, external_id: str | None) -> Hit:
    metadata = {"doc_id": "x"} if external_id is None else {"doc_id": "x", "external_id": external_id}
    return Hit(rank=rank, score=1.0 / rank, chunk_id=f"c{rank}", text="", metadata=metadata)


def test_document_ranking_keeps_each_document_at_its_best_chunk() -> None:
    hits = [_hit(1, "b"), _hit(2, "a"), _hit(3, "b"), _hit(4, None), _hit(5, "c"), _hit(6, "a")]
    assert document_ranking(hits) == ["b", "a", "c"]
    # Ids that share their text follow the one that was stored, in corpus order.
    assert document_ranking(hits, {"a": ("a", "a2"), "a2": ("a", "a2")}) == ["b", "a", "a2", "c"]
    assert document_ranking([_hit(1, "a2")], {"a": ("a", "a2"), "a2": ("a", "a2")}) == ["a2", "a"]


def test_importing_the_evaluation_does_not_load_ingest() -> None:
    """`ingest` (worker pools, parsers) loads only when a corpus is ingested, so the CLI starts fast."""
    code = (
        "import sys, searchapp.evaluation, searchapp.cli.main; "
        "print(sorted(m for m in sys.modules if m == 'searchapp.ingest' or m.startswith('searchapp.ingest.')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# ------------------------------------------------------------------------- CLI

ENV = {"SEARCHAPP_WORKERS": "1", "SEARCHAPP_MIN_FREE_MB": "1"}


def test_cli_table_then_json_from_the_reused_index(
    dataset: Path, tmp_path: Path, offered: tuple[str, ...], ingest_calls: list[int]
) -> None:
    library_dir = tmp_path / "library"
    env = {**ENV, "SEARCHAPP_DATA_DIR": str(library_dir)}
    runner = CliRunner()
    result = runner.invoke(app, ["eval", str(dataset), "--model", "hash:64"], env=env)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("tiny (test): 4 queries, 6 documents, 5 chunks; model hash:64")
    assert lines[1].split() == [
        "dataset",
        "mode",
        "nDCG@10",
        "Recall@10",
        "Recall@100",
        "MRR@10",
        "p50",
        "ms",
        "p95",
        "ms",
    ]
    rows = {line.split()[1]: line.split() for line in lines[2:]}
    assert list(rows) == list(offered)
    for row in rows.values():
        assert row[0] == "tiny"
        assert row[2:6] == ["0.9400", "0.8750", "0.8750", "1.0000"]
    assert "building the evaluation index" in result.stderr
    assert "[6/6] documents indexed" in result.stderr  # progress: plain lines when not a terminal
    for mode in offered:
        assert f"[4/4] {mode} queries" in result.stderr
    # The default scratch root is <data dir>/eval; the library itself is never opened.
    assert (library_dir / "eval" / "eval-tiny" / STATE_FILE).is_file()
    assert not (library_dir / "chroma").exists()

    result = runner.invoke(app, ["eval", str(dataset), "--model", "hash:64", "--json", "--k", "5"], env=env)
    assert result.exit_code == 0, result.output
    assert ingest_calls == [6]
    data = json.loads(result.stdout)
    assert data["index"]["reused"] is True and data["index"]["documents"] == 5
    assert data["queries"] == 4 and data["corpus_documents"] == 6 and data["k"] == 5
    assert [m["mode"] for m in data["modes"]] == list(offered)
    for mode in data["modes"]:
        assert set(mode) == {
            "mode",
            "queries",
            "ndcg@5",
            "recall@5",
            "recall@100",
            "mrr@5",
            "latency_p50_ms",
            "latency_p95_ms",
            "seconds",
            "chunks_requested",
            "min_documents",
            "deepened_queries",
        }
        assert mode["ndcg@5"] == pytest.approx(0.94, abs=1e-4) and mode["mrr@5"] == 1.0
    assert "reusing the evaluation index" in result.stderr


def test_cli_mode_not_offered_is_a_usage_error(
    dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Library, "search_modes", property(lambda self: ("dense",)))
    args = ["eval", str(dataset), "--model", "hash:64", "--data-dir", str(tmp_path / "eval")]
    result = CliRunner().invoke(app, [*args, "--mode", "hybrid"], env=ENV)
    assert result.exit_code == 2
    assert "error: search mode 'hybrid' is not offered by this library; it offers: dense" in result.stderr
    result = CliRunner().invoke(app, [*args, "--mode", "fuzzy"], env=ENV)
    assert result.exit_code == 2 and "'fuzzy' is not one of" in result.output
    result = CliRunner().invoke(app, [*args, "--mode", "all", "--json"], env=ENV)
    assert result.exit_code == 0 and [m["mode"] for m in json.loads(result.stdout)["modes"]] == ["dense"]


def test_cli_bad_data_exits_3_with_the_line(tmp_path: Path) -> None:
    root = write_dataset(tmp_path / "broken")
    with (root / "qrels" / "test.tsv").open("a", encoding="utf-8") as handle:
        handle.write("q2\td2\tvery\n")
    result = CliRunner().invoke(
        app, ["eval", str(root), "--model", "hash:64", "--data-dir", str(tmp_path / "eval")], env=ENV
    )
    assert result.exit_code == 3
    assert "test.tsv:9: expected the score to be an integer >= 0; got 'very'" in result.stderr
    assert not (tmp_path / "eval").exists()  # nothing built from bad data


@pytest.mark.model
def test_a_model_trained_again_in_its_directory_gets_a_new_index(
    dataset: Path, tmp_path: Path, ingest_calls: list[int]
) -> None:
    """A tuned model keeps its directory (its name) when trained again; its scratch index
    must not be reused for the new weights."""
    import os
    import shutil

    from searchapp.embedding.models import resolve_model

    bundled = resolve_model("all-MiniLM-L6-v2").path
    assert bundled is not None
    tuned = tmp_path / "tuned-model"
    shutil.copytree(bundled, tuned)
    settings = make_settings(tmp_path, model=str(tuned))
    root = tmp_path / "eval"
    run_evaluation(dataset, settings, data_dir=root, modes=["dense"])
    assert run_evaluation(dataset, settings, data_dir=root, modes=["dense"]).index.reused
    weights = tuned / "model.safetensors"
    later = weights.stat().st_mtime_ns + 5_000_000_000
    os.utime(weights, ns=(later, later))  # saved again by a new training run
    again = run_evaluation(dataset, settings, data_dir=root, modes=["dense"])
    assert not again.index.reused and ingest_calls == [6, 6]
