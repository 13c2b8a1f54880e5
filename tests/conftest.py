"""Shared fixtures: clean environment, temporary data directories, libraries.

`hash_library` uses the deterministic hash embedder (fast unit tests); `real_library`
uses the bundled all-MiniLM-L6-v2 (loaded once per test process). Both write a real
Chroma store in a temporary directory.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings

from searchapp import Library, Settings

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("SEARCHAPP_SHARED_DIR", ROOT.parent / "shared"))
PDF_DIR = SHARED / "eval" / "pdfs"
SCIFACT_DIR = SHARED / "eval" / "scifact"

# How long the long tests run: `fast` (no model), `ci` (the default, sized to finish CI
# in under 25 minutes) or `full` (before a release). scripts/test.sh sets it.
TIER = os.environ.get("SEARCHAPP_TEST_TIER", "ci")
if TIER not in ("fast", "ci", "full"):
    raise pytest.UsageError(f"SEARCHAPP_TEST_TIER must be fast, ci or full; got {TIER!r}")


def sized(*, ci: int, full: int, fast: int | None = None) -> int:
    """A repetition count for this tier (fast defaults to the ci count)."""
    return {"fast": ci if fast is None else fast, "ci": ci, "full": full}[TIER]


# Seconds each file took in a CI run (`--durations=0`, summed by file); refresh it when
# files are added or grow. A file it does not name is weighed by its markers.
FILE_SECONDS: dict[str, float] = json.loads((Path(__file__).parent / "file_seconds.json").read_text())


def pytest_report_header() -> str:
    """The free disk under the temporary directory: a run out of space fails in ways
    (Chroma compaction, mypy's cache, mkdir) that do not say so themselves."""
    free_mb = shutil.disk_usage(tempfile.gettempdir()).free // 2**20
    note = "" if free_mb >= 3000 else " (the suite holds up to about 1 GB there: expect failures)"
    return f"searchapp: {free_mb} MB free in {tempfile.gettempdir()}{note}"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Files in order of their expected cost, the longest first: CI hands whole files to its
    test processes in this order, so the long ones start early and the quick ones fill the
    gaps after (a long file last would run alone at the end). Within a file the order
    stays as written."""
    guess: dict[Path, float] = {}
    for item in items:
        weight = 0.3
        if item.get_closest_marker("slow"):
            weight = 60.0
        elif item.get_closest_marker("browser") or item.get_closest_marker("model"):
            weight = 10.0
        guess[item.path] = guess.get(item.path, 0.0) + weight
    cost = {path: FILE_SECONDS.get(path.name, seconds) for path, seconds in guess.items()}
    items.sort(key=lambda item: -cost[item.path])


# Property tests draw this many examples each (tests set deadlines, never counts).
hypothesis_settings.register_profile("fast", max_examples=25)
hypothesis_settings.register_profile("ci", max_examples=120)
hypothesis_settings.register_profile("full", max_examples=600)
hypothesis_settings.load_profile(TIER)


# Every test process (and the app, CLI and server processes tests start) converts the
# bundled model to OpenVINO once into one cache, not once per temporary data directory.
MODEL_CACHE = "SEARCHAPP_MODEL_CACHE"


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> str:
    # The parent of pytest's base directory is shared by the xdist workers of a run.
    root = tmp_path_factory.getbasetemp()
    shared = root.parent if root.name.startswith("popen-gw") else root
    (shared / "model-cache").mkdir(exist_ok=True)
    return str(shared / "model-cache")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, model_cache: str) -> None:
    """No SEARCHAPP_* setting leaks in from the developer's shell; the test run's model cache does."""
    for key in list(os.environ):
        if key.startswith("SEARCHAPP_") and key != "SEARCHAPP_SHARED_DIR":
            monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv(MODEL_CACHE, model_cache)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("ANONYMIZED_TELEMETRY", "False")


@pytest.fixture
def shared_pdfs() -> Path:
    if not PDF_DIR.is_dir():
        pytest.fail(f"the shared PDF corpus is missing at {PDF_DIR}; set SEARCHAPP_SHARED_DIR")
    return PDF_DIR


def make_settings(tmp_path: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "data_dir": tmp_path / "data",
        "workers": 1,
        "min_free_mb": 1,
        "model_cache": os.environ.get(MODEL_CACHE, ""),
    }
    values.update(overrides)
    return Settings.load(environ={}, **values)


@pytest.fixture
def hash_settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path, model="hash:64", chunk_tokens=40, chunk_overlap=5)


@pytest.fixture
def hash_library(hash_settings: Settings) -> Iterator[Library]:
    with Library.open(hash_settings) as library:
        yield library


@pytest.fixture
def real_settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
def real_library(real_settings: Settings) -> Iterator[Library]:
    with Library.open(real_settings) as library:
        yield library


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    return path


# ------------------------------------------------------------------ the UI's test apps
# (imports inside: a test run that never starts the UI never imports Streamlit)


@pytest.fixture
def ui_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh data directory for the UI, configured through the environment like a deployment."""
    from searchapp.ui import resources
    from tests.ui_helpers import ENV

    data_dir = tmp_path / "data"
    monkeypatch.setenv("SEARCHAPP_DATA_DIR", str(data_dir))
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)
    yield data_dir
    resources.release_all()


@pytest.fixture(scope="module")
def ui_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory holding five documents of every type, tagged, ingested once per module."""
    from tests.ui_helpers import build_corpus

    return build_corpus(tmp_path_factory.mktemp("corpus") / "data")


@pytest.fixture
def ui_corpus_env(ui_corpus: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The UI configured to open `ui_corpus`."""
    from searchapp.ui import resources
    from tests.ui_helpers import ENV

    monkeypatch.setenv("SEARCHAPP_DATA_DIR", str(ui_corpus))
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)
    yield ui_corpus
    resources.release_all()
