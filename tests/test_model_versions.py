"""Model versions: a switch re-embeds beside the live index and swaps; rollback is exact; a kill loses nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from searchapp.config import Settings
from searchapp.embedding.models import resolve_model
from searchapp.errors import ModelError
from searchapp.health import check_library
from searchapp.ingest import ingest_paths
from searchapp.ingest.model_use import delete_version, describe_models, rollback, use_model
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


def perturbed_version(library: Library, tmp_path: Path, scale: float = 0.02) -> ModelVersion:
    """A stand-in for a tuned model: the base model with its weights nudged (other answers, same shape)."""
    base = resolve_model(library.settings.model)
    assert base.path is not None
    target = tmp_path / "nudged"
    if not target.exists():
        import shutil

        shutil.copytree(base.path, target)
        weights = load_file(str(target / "model.safetensors"))
        generator = torch.Generator().manual_seed(0)
        for name, tensor in weights.items():
            if tensor.is_floating_point() and "embeddings" not in name:
                weights[name] = tensor + scale * tensor.std() * torch.randn(tensor.shape, generator=generator)
        save_file(weights, str(target / "model.safetensors"))
    return ModelVersions.of(library).add(target, parent=base.name, report={"sources": ["test"]})


def answers(library: Library, mode: str | None = None) -> list[list[tuple[str, float]]]:
    return [
        [(h.chunk_id, round(h.score, 6)) for h in library.search(q, k=4, mode=mode).hits] for q in QUERIES
    ]


def fill(library: Library, tmp_path: Path) -> None:
    for name, text in TEXTS.items():
        write(tmp_path / "docs" / name, text)
    ingest_paths(library, [tmp_path / "docs"])


def test_use_and_rollback_restore_the_base_models_answers_exactly(
    real_library: Library, tmp_path: Path
) -> None:
    fill(real_library, tmp_path)
    base_name = real_library.embedder.info.name
    before = answers(real_library)
    before_dense = answers(real_library, "dense")
    chunk_ids = sorted(
        cid for ids, *_ in real_library.store.iter_chunks(include_embeddings=False) for cid in ids
    )
    version = perturbed_version(real_library, tmp_path)

    report = use_model(real_library, version.version_id)
    assert not report.instant and report.chunks == len(chunk_ids)
    assert real_library.embedder.info.name == version.name == real_library.store.collection_metadata["model"]
    assert answers(real_library) != before  # the new model answers with its own vectors
    assert (
        sorted(cid for ids, *_ in real_library.store.iter_chunks(include_embeddings=False) for cid in ids)
        == chunk_ids
    )
    assert check_library(real_library).ok
    live = [r for r in describe_models(real_library) if r["live"]]
    assert [r["version"] for r in live] == [version.version_id]
    with pytest.raises(ModelError, match="live model"):
        delete_version(real_library, version.version_id)

    back = rollback(real_library)
    assert back.instant and real_library.embedder.info.name == base_name
    assert answers(real_library) == before  # exactly: the kept index came back

    # Reopening finds the tuned version through the base model's settings.
    use_model(real_library, version.version_id)
    tuned_answers = answers(real_library)
    real_library.close()
    with Library.open(real_library.settings) as reopened:
        assert reopened.embedder.info.name == version.name and answers(reopened) == tuned_answers
        # A write after the switch: rolling back re-embeds with the base model instead.
        write(tmp_path / "more" / "parking.md", "# Parking\n\nVisitors park in the north car park.")
        ingest_paths(reopened, [tmp_path / "more"])
        again = rollback(reopened)
        assert not again.instant and reopened.embedder.info.name == base_name
        parking = reopened.find_by_source("parking.md")
        assert parking is not None
        for old, new in zip(before_dense, answers(reopened, "dense"), strict=True):
            kept = [hit for hit in new if not hit[0].startswith(parking.doc_id)]
            assert [cid for cid, _ in kept] == [cid for cid, _ in old][: len(kept)]
            assert all(abs(a - b) < 2e-3 for (_, a), (_, b) in zip(kept, old, strict=False))
        assert check_library(reopened).ok


@pytest.mark.slow
def test_sigkill_during_reembedding_then_again_leaves_a_consistent_library(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    with Library.open(settings) as library:
        for index in range(12):
            write(tmp_path / "docs" / f"note{index:02d}.txt", f"Note {index}: " + " ".join(TEXTS.values()))
        ingest_paths(library, [tmp_path / "docs"])
        before = answers(library)
        count = library.store.count_chunks()
        version = perturbed_version(library, tmp_path)
    command = [sys.executable, "-m", "tests.model_switch_child", str(settings.data_dir), version.version_id]
    child = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True, env={**os.environ})
    assert child.stdout is not None
    lines = []
    for line in child.stdout:
        lines.append(line)
        if len(lines) == 3:
            child.send_signal(signal.SIGKILL)
            break
    child.wait(timeout=60)
    assert child.returncode == -signal.SIGKILL, lines

    with Library.open(settings) as library:  # killed mid-way: the live index is untouched
        assert library.embedder.info.name == resolve_model(settings.model).name
        assert library.store.count_chunks() == count and answers(library) == before
        assert check_library(library).ok
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    resumed = int(done.stdout.strip().splitlines()[-1].split()[-1])
    assert 0 < resumed < 12  # the second run kept what the killed one had written
    with Library.open(settings) as library:
        assert library.embedder.info.name == version.name
        assert library.store.count_chunks() == count and len(library.documents()) == 12
        assert check_library(library).ok
        assert rollback(library).instant and answers(library) == before


@pytest.mark.server
@pytest.mark.slow
def test_server_clients_follow_a_model_switch(tmp_path: Path) -> None:
    with servers.chroma_server(tmp_path / "chroma") as url:
        shared = tmp_path / "shared-originals"
        writer_settings = make_settings(tmp_path / "a", server_url=url, originals_url=str(shared))
        reader_settings = make_settings(tmp_path / "b", server_url=url, originals_url=str(shared))
        with Library.open(writer_settings) as writer, Library.open(reader_settings) as reader:
            fill(writer, tmp_path)
            reader.sync_local_index()
            before = answers(reader)
            version = perturbed_version(writer, tmp_path)
            use_model(writer, version.version_id)
            deadline = time.monotonic() + 30
            while reader.embedder.info.name != version.name and time.monotonic() < deadline:
                reader.search(QUERIES[0])  # searches keep working while it follows
                time.sleep(0.3)
            assert reader.embedder.info.name == version.name  # loaded from the shared store
            assert answers(reader) == answers(writer) != before
            assert Path(reader_settings.data_dir / "model-cache").is_dir()


def test_a_version_is_kept_with_the_library_and_checked_when_copied(
    real_settings: Settings, tmp_path: Path
) -> None:
    with Library.open(real_settings) as library:
        version = perturbed_version(library, tmp_path)
        versions = ModelVersions.of(library)
        assert versions.require(version.version_id[:10]) == version
        assert (
            versions.local_path(version)
            == real_settings.data_dir / "models" / "documents" / version.version_id
        )
        (versions.local_path(version) / "model.safetensors").write_bytes(b"damaged")
        with pytest.raises(ModelError, match="damaged"):
            versions.local_path(version)
        elsewhere = ModelVersions(
            library.store.table("models"), real_settings.with_overrides(originals_url=str(tmp_path / "x"))
        )
        with pytest.raises(ModelError, match="missing"):
            elsewhere.local_path(version)
