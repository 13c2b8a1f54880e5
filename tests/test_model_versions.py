"""Model versions: a switch re-embeds beside the live index and swaps; rollback is exact; a kill loses nothing.

One library is built and switched to a version once per module (`switched`): the base
model's answers are recorded, a nudged copy of the model is kept as a version, and the
library is re-embedded with it. Each test works on its own copy of that data directory,
so the model loads and the re-embedding are paid once.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from searchapp.config import Settings
from searchapp.embedding.models import resolve_model
from searchapp.errors import ModelError
from searchapp.feedback import FeedbackLog
from searchapp.feedback.calibration import calibrate, last_calibration
from searchapp.health import check_library
from searchapp.ingest import Ingestor, SourceFile, ingest_paths
from searchapp.ingest.model_use import SwitchReport, delete_version, describe_models, rollback, use_model
from searchapp.ingest.reindex import reindex
from searchapp.library import Library
from searchapp.library.versions import ModelVersion, ModelVersions
from tests import servers
from tests.conftest import ROOT, make_settings, write

pytestmark = pytest.mark.model

TEXTS = {
    "travel.md": "# Travel\n\nClaim travel expenses within thirty days, with the receipts attached.",
    "security.md": "# Security\n\nLaptops need full disk encryption and a screen lock after five minutes.",
    "leave.md": "# Leave\n\nEvery employee has twenty-five days of paid leave a year, booked in the portal.",
    "onboarding.md": "# Onboarding\n\nNew starters get a laptop, a badge and a buddy in their first week.",
    "expenses.md": "# Expenses\n\nMeals abroad are paid up to fifty euros a day; keep every receipt.",
    "printing.md": "# Printing\n\nThe printers on the third floor print double-sided by default.",
}
QUERIES = ("how do I get my travel costs back", "what protects a lost laptop", "how many holidays do I get")
Answers = list[list[tuple[str, float]]]


def nudged_model(directory: Path, scale: float = 0.02) -> Path:
    """A stand-in for a tuned model: the base model with its weights nudged (other answers, same shape)."""
    target = directory / "nudged"
    if target.exists():
        return target
    base = resolve_model(make_settings(directory).model)
    assert base.path is not None
    shutil.copytree(base.path, target)
    weights = load_file(str(target / "model.safetensors"))
    generator = torch.Generator().manual_seed(0)
    for name, tensor in weights.items():
        if tensor.is_floating_point() and "embeddings" not in name:
            weights[name] = tensor + scale * tensor.std() * torch.randn(tensor.shape, generator=generator)
    save_file(weights, str(target / "model.safetensors"))
    return target


def keep_version(library: Library, model: Path) -> ModelVersion:
    base = resolve_model(library.settings.model)
    return ModelVersions.of(library).add(model, parent=base.name, report={"sources": ["test"]})


def answers(library: Library, mode: str | None = None) -> Answers:
    return [
        [(h.chunk_id, round(h.score, 6)) for h in library.search(q, k=4, mode=mode).hits] for q in QUERIES
    ]


def chunk_ids(library: Library) -> list[str]:
    return sorted(cid for ids, *_ in library.store.iter_chunks(include_embeddings=False) for cid in ids)


def fill(library: Library, directory: Path) -> None:
    for name, text in TEXTS.items():
        write(directory / "docs" / name, text)
    ingest_paths(library, [directory / "docs"])


@dataclass(frozen=True)
class Switched:
    """A closed library switched to `version`, and what it answered before and after."""

    settings: Settings
    model: Path  # the nudged model's files
    version: ModelVersion
    report: SwitchReport
    base: Answers
    base_dense: Answers
    tuned: Answers
    tuned_dense: Answers
    chunk_ids: list[str]

    def copy(self, tmp_path: Path) -> Settings:
        """This library's data directory copied under `tmp_path` (a test changes only its copy)."""
        shutil.copytree(self.settings.data_dir, tmp_path / "data")
        return make_settings(tmp_path)


@pytest.fixture(scope="module")
def switched(tmp_path_factory: pytest.TempPathFactory) -> Switched:
    root = tmp_path_factory.mktemp("switched")
    settings = make_settings(root)
    model = nudged_model(root)
    with Library.open(settings) as library:
        fill(library, root)
        base, base_dense, ids = answers(library), answers(library, "dense"), chunk_ids(library)
        version = keep_version(library, model)
        report = use_model(library, version.version_id)
        tuned, tuned_dense = answers(library), answers(library, "dense")
    return Switched(settings, model, version, report, base, base_dense, tuned, tuned_dense, ids)


def test_use_re_embeds_every_passage_and_rollback_restores_the_base_models_answers_exactly(
    switched: Switched, tmp_path: Path
) -> None:
    assert not switched.report.instant and switched.report.chunks == len(switched.chunk_ids)
    assert switched.tuned != switched.base  # the new model answers with its own vectors
    version = switched.version
    settings = switched.copy(tmp_path)
    with Library.open(settings) as library:  # reopening finds the version through the base model's settings
        assert library.embedder.info.name == version.name == library.store.collection_metadata["model"]
        assert answers(library) == switched.tuned
        assert chunk_ids(library) == switched.chunk_ids  # every passage kept its id
        assert check_library(library).ok
        live = [r for r in describe_models(library) if r["live"]]
        assert [r["version"] for r in live] == [version.version_id]
        with pytest.raises(ModelError, match="live model"):
            delete_version(library, version.version_id)

        back = rollback(library)
        assert back.instant and library.embedder.info.name == resolve_model(settings.model).name
        assert answers(library) == switched.base  # exactly: the kept index came back
        again = use_model(library, version.version_id)  # and forth, as instantly
        assert again.instant and answers(library) == switched.tuned


def test_a_version_is_kept_with_the_library_and_checked_when_copied(
    switched: Switched, tmp_path: Path
) -> None:
    settings = switched.copy(tmp_path)
    version = switched.version
    with Library.open(settings) as library:
        versions = ModelVersions.of(library)
        assert versions.require(version.version_id[:10]) == version
        assert versions.local_path(version) == settings.data_dir / "models" / "documents" / version.version_id
        (versions.local_path(version) / "model.safetensors").write_bytes(b"damaged")
        with pytest.raises(ModelError, match="damaged"):
            versions.local_path(version)
        elsewhere = ModelVersions(
            library.store.table("models"), settings.with_overrides(originals_url=str(tmp_path / "x"))
        )
        with pytest.raises(ModelError, match="missing"):
            elsewhere.local_path(version)


def test_sigkill_while_rolling_back_by_re_embedding_then_again_leaves_a_consistent_library(
    switched: Switched, tmp_path: Path
) -> None:
    """A write after the switch: rollback re-embeds with the base model. Killed mid-way, the
    live index is untouched; run again, it resumes and ends where an unbroken run would."""
    settings = switched.copy(tmp_path)
    with Library.open(settings) as library:
        write(tmp_path / "more" / "parking.md", "# Parking\n\nVisitors park in the north car park.")
        ingest_paths(library, [tmp_path / "more"])
        tuned = answers(library)
        count = library.store.count_chunks()
    documents = len(TEXTS) + 1
    command = [sys.executable, "-m", "tests.model_switch_child", str(settings.data_dir), "base"]
    child = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True, env={**os.environ})
    assert child.stdout is not None
    lines = []
    for line in child.stdout:  # one document per batch, and a pause after each
        lines.append(line)
        if len(lines) == 2:
            child.send_signal(signal.SIGKILL)
            break
    child.wait(timeout=60)
    assert child.returncode == -signal.SIGKILL, lines

    with Library.open(settings) as library:
        assert library.embedder.info.name == switched.version.name  # killed: the live index is untouched
        assert library.store.count_chunks() == count and answers(library) == tuned
        assert check_library(library).ok
        again = rollback(library)  # the same re-embedding, in this process
        assert not again.instant and 2 <= again.resumed < documents  # it kept what the killed run wrote
        assert library.embedder.info.name == resolve_model(settings.model).name
        assert library.store.count_chunks() == count and len(library.documents()) == documents
        assert check_library(library).ok
        parking = library.find_by_source("parking.md")
        assert parking is not None
        for old, new in zip(switched.base_dense, answers(library, "dense"), strict=True):
            kept = [hit for hit in new if not hit[0].startswith(parking.doc_id)]
            assert [cid for cid, _ in kept] == [cid for cid, _ in old][: len(kept)]
            assert all(abs(a - b) < 2e-3 for (_, a), (_, b) in zip(kept, old, strict=False))


def test_re_embedding_keeps_every_documents_ingest_date(switched: Switched, tmp_path: Path) -> None:
    """A model switch that re-embeds stores every passage again; the documents keep the date
    they were ingested (the library's column, and what "ingested before" filters read)."""
    settings = switched.copy(tmp_path)
    first = 1_767_225_600  # 2026-01-01
    with Library.open(settings) as library:
        with Ingestor(library) as ingestor:  # a write after the switch: rollback re-embeds
            ingestor.ingest([SourceFile("old.md", data=b"# Old\n\nThe archive room.", ingested_at=first)])
        dates = {r.source: r.ingested_at for r in library.documents()}
        assert dates["old.md"] == first
        back = rollback(library)
        assert not back.instant and library.embedder.info.name == resolve_model(settings.model).name
        assert {r.source: r.ingested_at for r in library.documents()} == dates
        stored = {
            (meta["source"], meta["ingested_at"])
            for _, _, metas, *_ in library.store.iter_chunks(include_embeddings=False)
            for meta in metas
        }
        assert stored == set(dates.items())
        hits = library.search("archive room", k=3, filters={"ingested_before": first}).hits
        assert [h.source for h in hits] == ["old.md"]


def test_a_switch_calibrates_the_no_match_notice_again_for_the_model_it_brings(
    switched: Switched, tmp_path: Path
) -> None:
    """The notice's thresholds are fitted on one model's cosines: each switch fits them
    again, from the same feedback, for the model now searching (real models, both ways)."""
    settings = switched.copy(tmp_path)
    with Library.open(settings) as library:
        log = FeedbackLog.of(library)
        for text in TEXTS.values():
            words = text.split()
            for n in range(5):  # a passage's own words: people said it answered them
                query = " ".join(words[n : n + 6])
                response = library.search(query, k=3)
                log.add(query, "good", hit=response.hits[0], mode=response.mode)
        for n in range(14):
            query = f"quarterly tax return for the warehouse number {n}"
            log.add(query, "none", shown=library.search(query, k=3).hits, mode="adaptive")
        calibrate(library)

        def calibrated_for(model: str) -> None:
            record = last_calibration(library)
            assert record is not None and record["model"] == model == library.embedder.info.name
            assert record["train_queries"] + record["heldout_queries"] == 44  # every label, read again
            assert library.searcher.no_match.calibrated == record["kept"]

        calibrated_for(switched.version.name)
        assert rollback(library).instant
        calibrated_for(resolve_model(settings.model).name)
        assert use_model(library, switched.version.version_id).instant
        calibrated_for(switched.version.name)


def test_a_reindex_keeps_the_tuned_version_in_use(switched: Switched, tmp_path: Path) -> None:
    """`searchapp reindex` with no model re-embeds with the model searching now, a tuned
    version included, not the settings' base model."""
    with Library.open(switched.copy(tmp_path)) as library:
        rebuilt, report = reindex(library)
    with rebuilt:
        assert {o.status for o in report.outcomes} == {"ingested"}
        assert (
            rebuilt.embedder.info.name == switched.version.name == rebuilt.store.collection_metadata["model"]
        )
        for mine, theirs in zip(answers(rebuilt, "dense"), switched.tuned_dense, strict=True):
            assert [cid for cid, _ in mine] == [cid for cid, _ in theirs]


@pytest.mark.server
@pytest.mark.slow
def test_server_clients_follow_a_model_switch(switched: Switched, tmp_path: Path) -> None:
    with servers.chroma_server(tmp_path / "chroma") as url:
        shared = tmp_path / "shared-originals"
        writer_settings = make_settings(tmp_path / "a", server_url=url, originals_url=str(shared))
        reader_settings = make_settings(tmp_path / "b", server_url=url, originals_url=str(shared))
        with Library.open(writer_settings) as writer, Library.open(reader_settings) as reader:
            fill(writer, tmp_path)
            reader.sync_local_index()
            before = answers(reader)
            version = keep_version(writer, switched.model)
            use_model(writer, version.version_id)
            deadline = time.monotonic() + 30
            while reader.embedder.info.name != version.name and time.monotonic() < deadline:
                reader.search(QUERIES[0])  # searches keep working while it follows
                time.sleep(0.3)
            assert reader.embedder.info.name == version.name  # loaded from the shared store
            assert answers(reader) == answers(writer) != before
            assert Path(reader_settings.data_dir / "model-cache").is_dir()
