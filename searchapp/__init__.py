"""searchapp: semantic search over your documents.

    from searchapp import Library, Settings, SearchFilters

    with Library.open(Settings.load()) as library:
        for hit in library.search("how do refunds work", k=5).hits:
            print(hit.rank, f"{hit.score:.3f}", hit.source, hit.page, hit.text[:80])

Ingest with the `ingest` package (`ingest.ingest_paths(library, ["docs/"])`), or the
`searchapp` command. Heavy modules load on first use, so importing this is cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from searchapp.config import Settings
from searchapp.errors import (
    ConfigError,
    DocumentNotFoundError,
    EmptyQueryError,
    FailureReason,
    IngestError,
    InvalidFilterError,
    ModelError,
    ModelMismatchError,
    QueryError,
    SearchAppError,
    StorageFullError,
    StoreError,
    StoreLockedError,
    StoreUnavailableError,
)
from searchapp.filters import SearchFilters
from searchapp.progress import Progress
from searchapp.request import SearchRequest
from searchapp.types import DocumentRecord, Hit, SearchResponse

if TYPE_CHECKING:
    from searchapp.library import Library, open_library

__version__ = "0.1.0"

__all__ = [
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

_LAZY = {"Library": "searchapp.library", "open_library": "searchapp.library"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'searchapp' has no attribute {name!r}")
