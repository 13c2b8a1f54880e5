"""The dependency direction and the public API stay as designed."""

from __future__ import annotations

import ast
from pathlib import Path

import ingest
import searchapp
from tests.conftest import ROOT

# Modules that wire the core, the write path and the UI together (importing them lazily).
COMPOSITION_ROOTS = {
    "searchapp/cli.py",
    "searchapp/cli_output.py",
    "searchapp/cli_eval.py",
    "searchapp/evaluation/runner.py",
}


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_the_core_never_imports_the_write_path_or_the_ui() -> None:
    offenders = []
    for path in sorted((ROOT / "searchapp").rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        used = _imports(path)
        if {"ui", "ingest", "streamlit"} & used and relative not in COMPOSITION_ROOTS:
            offenders.append(relative)
    assert offenders == [], offenders


def test_the_write_path_never_imports_the_ui_or_streamlit() -> None:
    for path in sorted((ROOT / "ingest").rglob("*.py")):
        assert not {"ui", "streamlit"} & _imports(path), path


def test_exported_names_are_exactly_the_public_api() -> None:
    """Adding to the public API is a decision: update this list on purpose."""
    assert searchapp.__all__ == [
        "ConfigError",
        "DocumentNotFoundError",
        "DocumentRecord",
        "EmptyQueryError",
        "FailureReason",
        "Hit",
        "IngestError",
        "InvalidFilterError",
        "Library",
        "ModelError",
        "ModelMismatchError",
        "QueryError",
        "SearchAppError",
        "SearchFilters",
        "SearchResponse",
        "Settings",
        "StorageFullError",
        "StoreError",
        "StoreLockedError",
        "StoreUnavailableError",
        "open_library",
    ]
    assert ingest.__all__ == [
        "FileOutcome",
        "IngestReport",
        "Ingestor",
        "Limits",
        "Progress",
        "SourceFile",
        "discover",
        "ingest_paths",
        "reindex",
    ]
    for module in (searchapp, ingest):
        for name in module.__all__:
            assert getattr(module, name) is not None, name
