"""Sources: folders and buckets the library follows, kept in sync as mirrors.

    from searchapp import Library
    from searchapp.sources import Sources, SourceSpec

    with Library.open() as library, Sources(library) as sources:
        sources.add(SourceSpec.create("handbook", "~/handbook", tags=["hr"]))
        print(sources.sync("handbook")[0].summary())

A layer above `searchapp.ingest` (it drives the `Ingestor`) and below the UI and the CLI.
"""

from __future__ import annotations

from searchapp.sources.actions import Action
from searchapp.sources.listing import ListedFile, Listing, Problem
from searchapp.sources.manager import SourceInfo, Sources
from searchapp.sources.plan import SyncPlan
from searchapp.sources.report import SyncReport
from searchapp.sources.spec import SourceSpec
from searchapp.sources.state import FileState, SyncStatus
from searchapp.sources.sync import Syncer

__all__ = [
    "Action",
    "FileState",
    "ListedFile",
    "Listing",
    "Problem",
    "SourceInfo",
    "SourceSpec",
    "Sources",
    "SyncPlan",
    "SyncReport",
    "SyncStatus",
    "Syncer",
]
