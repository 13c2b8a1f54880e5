"""The write path of searchapp: files -> text -> chunks -> vectors -> the library.

    from searchapp import Library
    from searchapp.ingest import ingest_paths

    with Library.open() as library:
        report = ingest_paths(library, ["docs/"], tags=["handbook"], recursive=True)
        print(report.summary())

Heavy modules load on first use; worker processes import only what they need.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from searchapp.ingest.types import FileOutcome, IngestReport, Limits, SourceFile

if TYPE_CHECKING:
    from searchapp.ingest.files import discover, ingest_paths
    from searchapp.ingest.pipeline import Ingestor
    from searchapp.ingest.reindex import reindex

__all__ = [
    "FileOutcome",
    "IngestReport",
    "Ingestor",
    "Limits",
    "SourceFile",
    "discover",
    "ingest_paths",
    "reindex",
]

_LAZY = {
    "Ingestor": "searchapp.ingest.pipeline",
    "discover": "searchapp.ingest.files",
    "ingest_paths": "searchapp.ingest.files",
    "reindex": "searchapp.ingest.reindex",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'searchapp.ingest' has no attribute {name!r}")
