"""The dependency direction and the public API stay as designed.

Layers, lowest first; a module imports only its own layer's modules and those below:

    searchapp (the core)          types, settings, errors, filters, progress
      searchapp.access              identities, teams, per-group visibility
      searchapp.embedding           models, tokenizers, embedders
      searchapp.storage             Chroma, originals, the local index, BM25
      searchapp.retrieval           the search modes and fusion
      searchapp.library, .health    the facade every front end opens
    searchapp.ingest              files -> prepared documents and vectors
    searchapp.api                 the HTTP API and MCP server (uploads go through ingest)
    searchapp.evaluation          the eval harness
    searchapp.tuning              tuning a model: it measures itself with the eval harness
    searchapp.ui                  the Streamlit app (its Tune page runs tuning; never evaluation
                                  itself; the UI's server mounts the API, so the API sits below it)
    searchapp.cli                 the `searchapp` command (may start the UI, the API and evaluation)

Inside the core, `feedback` (people's verdicts, and the notice calibrated from them) sits
with `health` above the library: it reads the library, and the library never reads it
(the calibrated thresholds reach the searcher through a record table).

No exceptions: there is no list of modules allowed to break the rule.
"""

from __future__ import annotations

import ast
from pathlib import Path

import searchapp
import searchapp.cli.main
import searchapp.evaluation
import searchapp.ingest
from tests.conftest import ROOT

# The layers above the core, each a sub-package of `searchapp`, and what each may import
# (besides itself, the core and third-party code).
ALLOWED = {
    "ingest": set(),
    "api": {"ingest"},
    "evaluation": {"ingest"},
    "tuning": {"ingest", "evaluation"},
    "ui": {"ingest", "tuning", "api"},
    "cli": {"ingest", "evaluation", "tuning", "ui", "api"},
}
CORE = "core"
# Inside the core, by rank: a module may import modules of its own rank or lower.
# `access` (identities, teams, visibility) sits just above types/settings/filters: the
# library applies it, and every front end asks it the same questions.
CORE_RANKS = {
    "access": 1,
    "embedding": 2,
    "storage": 3,
    "retrieval": 4,
    "library": 5,
    "health": 6,
    "feedback": 6,
}
THIRD_PARTY_ONLY_ABOVE = {"streamlit": {"ui"}, "fastapi": {"api"}, "mcp": {"api"}}


def _modules() -> list[Path]:
    return sorted((ROOT / "searchapp").rglob("*.py"))


def _imports(path: Path) -> set[str]:
    """Every module this file imports, at any depth (imports inside functions count too)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _layer(module: str) -> str:
    """The layer a `searchapp...` module belongs to: one of ALLOWED's keys, or the core."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in ALLOWED else CORE


def _core_rank(module: str) -> int:
    parts = module.split(".")
    return CORE_RANKS.get(parts[1], 0) if len(parts) > 1 else 0


def _module_name(path: Path) -> str:
    relative = path.relative_to(ROOT).with_suffix("")
    parts = [p for p in relative.parts if p != "__init__"]
    return ".".join(parts)


def test_every_layer_imports_only_the_layers_below_it() -> None:
    offenders = []
    for path in _modules():
        own = _module_name(path)
        if own == "searchapp":
            continue  # the public API re-exports from the core, lazily
        layer = _layer(own)
        for name in _imports(path):
            top = name.split(".")[0]
            if top == "searchapp":
                target = _layer(name)
                if target not in (CORE, layer) and (layer == CORE or target not in ALLOWED[layer]):
                    offenders.append(f"{own} imports {name}")
            if top in THIRD_PARTY_ONLY_ABOVE and layer not in THIRD_PARTY_ONLY_ABOVE[top]:
                offenders.append(f"{own} imports {name}")
    assert offenders == []


def test_inside_the_core_no_import_runs_back_up() -> None:
    offenders = []
    for path in sorted((ROOT / "searchapp").rglob("*.py")):
        own = _module_name(path)
        if own == "searchapp" or _layer(own) != CORE:
            continue  # the public API re-exports lazily; layers above have their own test
        for name in _imports(path):
            if (
                _layer(name) == CORE
                and name.split(".")[0] == "searchapp"
                and _core_rank(name) > _core_rank(own)
            ):
                offenders.append(f"{own} imports {name}")
    assert offenders == []


def _import_graph() -> dict[str, set[str]]:
    """Module -> the searchapp modules it imports (any depth, type-only imports included)."""
    modules = {_module_name(path): path for path in _modules()}
    graph: dict[str, set[str]] = {}
    for own, path in modules.items():
        targets = set()
        for name in _imports(path):
            # `from searchapp.x import y` names y: the module is x, unless y is one itself.
            while name and name not in modules:
                name = name.rpartition(".")[0]
            if name and name != own and name != "searchapp":
                targets.add(name)
        graph[own] = targets
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The loops of `graph` (each strongly connected set of 2+ modules), by Tarjan's algorithm."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            members = []
            while True:
                member = stack.pop()
                members.append(member)
                if member == node:
                    break
            if len(members) > 1:
                found.append(sorted(members))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_modules_import_each_other_in_a_loop() -> None:
    """Not even through imports inside functions or for type checking only."""
    assert _cycles(_import_graph()) == []
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_the_layering_rules_catch_an_upward_import(tmp_path: Path) -> None:
    """The checks above parse real imports, lazy ones included."""
    source = tmp_path / "bad.py"
    source.write_text(
        "def f():\n    from searchapp.ingest.pipeline import Ingestor\n    import searchapp.ui.app\n"
    )
    names = _imports(source)
    assert {"searchapp.ingest.pipeline", "searchapp.ingest.pipeline.Ingestor", "searchapp.ui.app"} <= names
    assert _layer("searchapp.ingest.pipeline") == "ingest" and _layer("searchapp.storage.chroma") == CORE
    assert (
        _core_rank("searchapp.library")
        > _core_rank("searchapp.storage.chroma")
        > _core_rank("searchapp.types")
    )


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
        "Progress",
        "QueryError",
        "SearchAppError",
        "SearchFilters",
        "SearchRequest",
        "SearchResponse",
        "Settings",
        "StorageFullError",
        "StoreError",
        "StoreLockedError",
        "StoreUnavailableError",
        "open_library",
    ]
    assert searchapp.ingest.__all__ == [
        "FileOutcome",
        "IngestReport",
        "Ingestor",
        "Limits",
        "SourceFile",
        "discover",
        "ingest_paths",
        "reindex",
    ]
    for module in (searchapp, searchapp.ingest, searchapp.evaluation):
        for name in module.__all__:
            assert getattr(module, name) is not None, name
    assert searchapp.cli.main.app.info.name == "searchapp"
