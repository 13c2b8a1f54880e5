"""The notice for a page range: which documents it leaves out because they have no pages."""

from __future__ import annotations

from collections.abc import Sequence

from searchapp.chunk_visibility import visible
from searchapp.filters import SearchFilters
from searchapp.types import DocumentRecord

_UNPAGED_LABELS = {"txt": "text", "md": "Markdown", "html": "HTML", "docx": "Word"}


def unpaged_notice(filters: SearchFilters, records: Sequence[DocumentRecord]) -> str | None:
    """What a page range silently drops (only PDFs have page numbers): the documents without
    pages that the other filters keep, in one sentence; None when it drops none."""
    if filters.page_min is None and filters.page_max is None:
        return None
    dropped = [
        r
        for r in records
        if not r.pages
        and (not filters.doc_ids or r.doc_id in filters.doc_ids)
        and r.doc_id not in filters.exclude_doc_ids
        and (not filters.file_types or r.file_type in filters.file_types)
        and (not filters.tags or any(tag in r.tags for tag in filters.tags))
        and (filters.ingested_after is None or r.ingested_at >= filters.ingested_after)
        and (filters.ingested_before is None or r.ingested_at <= filters.ingested_before)
        and (filters.visible_to is None or visible(r.groups, filters.visible_to))
    ]
    if not dropped:
        return None
    kinds = sorted({_UNPAGED_LABELS.get(r.file_type, r.file_type) for r in dropped}, key=str.casefold)
    count = len(dropped)
    return (
        f"The page range leaves out {count} document{'s' if count != 1 else ''} without pages "
        f"({', '.join(kinds)}): only PDF passages have page numbers. Clear the page range to search "
        f"{'them' if count != 1 else 'it'} too."
    )
