"""The search filters in the sidebar: widgets in, a mapping for `SearchFilters` out.

The panel only collects values. `SearchFilters.from_mapping` validates them, so the UI
filters exactly as the CLI and the API do.

Clearing sets every widget's state to its empty value rather than deleting it: a deleted
widget state is refilled from what the browser still shows on the next rerun (the
chip stayed, and changing the retrieval mode brought the "cleared" filter back).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import streamlit as st

from searchapp.filters import SearchFilters
from searchapp.types import FILE_TYPES, DocumentRecord

FILTER_KEYS = (
    "f_docs",
    "f_types",
    "f_page_from",
    "f_page_to",
    "f_tags",
    "f_dates",
    "f_contains",
    "f_min_score",
)
TYPE_LABELS = {"pdf": "PDF", "txt": "Text", "md": "Markdown", "html": "HTML", "docx": "Word (DOCX)"}
_EARLIEST = dt.date(1970, 1, 2)
# What each filter widget holds when it filters nothing.
EMPTY_VALUES: dict[str, Any] = {
    "f_docs": [],
    "f_types": [],
    "f_page_from": None,
    "f_page_to": None,
    "f_tags": [],
    "f_dates": (),
    "f_contains": "",
    "f_min_score": 0.0,
}


@dataclass(frozen=True, slots=True)
class FilterInput:
    """What the panel collected: raw filter values, the score floor, and labels for people."""

    raw: dict[str, Any] = field(default_factory=dict)
    min_score: float | None = None
    active: tuple[str, ...] = ()


def clear_filters() -> None:
    """Button callback: every filter back to its empty value (see the module docstring)."""
    for key in FILTER_KEYS:
        st.session_state[key] = EMPTY_VALUES[key]


def widget_values(filters: SearchFilters, min_score: float | None) -> dict[str, Any]:
    """The widget states that show `filters` (a link's filters, say)."""
    dates: tuple[dt.date, ...] = ()
    if filters.ingested_after is not None or filters.ingested_before is not None:
        start = filters.ingested_after if filters.ingested_after is not None else 86_400
        end = filters.ingested_before if filters.ingested_before is not None else start
        dates = (dt.datetime.fromtimestamp(start).date(), dt.datetime.fromtimestamp(end).date())
    return {
        "f_docs": list(filters.doc_ids),
        "f_types": list(filters.file_types),
        "f_page_from": filters.page_min,
        "f_page_to": filters.page_max,
        "f_tags": list(filters.tags),
        "f_dates": dates,
        "f_contains": filters.text_contains,
        "f_min_score": float(min_score or 0.0),
    }


def _keep_known(key: str, options: Sequence[str]) -> None:
    """Drop selections that no longer exist (a document deleted in another tab)."""
    current = st.session_state.get(key)
    if isinstance(current, list):
        st.session_state[key] = [value for value in current if value in options]


def filter_panel(documents: Sequence[DocumentRecord]) -> FilterInput:
    """Draw the filters in the sidebar and return what is set."""
    names = {record.doc_id: record.source for record in documents}
    present_types = [t for t in FILE_TYPES if any(r.file_type == t for r in documents)]
    all_tags = sorted({tag for record in documents for tag in record.tags}, key=str.casefold)
    for key, options in (("f_docs", list(names)), ("f_types", present_types), ("f_tags", all_tags)):
        _keep_known(key, options)

    raw: dict[str, Any] = {}
    active: list[str] = []
    with st.sidebar:
        st.subheader("Filters", anchor=False)
        doc_ids = st.multiselect(
            "Documents",
            options=list(names),
            format_func=lambda doc_id: names.get(doc_id, doc_id[:12]),
            key="f_docs",
            placeholder="All documents",
        )
        if doc_ids:
            raw["documents"] = doc_ids
            active.append("documents")
        types = st.multiselect(
            "File types",
            options=present_types,
            format_func=lambda t: TYPE_LABELS.get(t, t),
            key="f_types",
            placeholder="All types",
        )
        if types:
            raw["file_types"] = types
            active.append("file types")

        left, right = st.columns(2)
        pages_help = "Only PDFs have pages: a page range leaves out Markdown, HTML, text and Word files."
        page_from = left.number_input(
            "From page", min_value=1, value=None, step=1, key="f_page_from", help=pages_help
        )
        page_to = right.number_input(
            "To page", min_value=1, value=None, step=1, key="f_page_to", help=pages_help
        )
        if page_from is not None or page_to is not None:
            raw["page_min"] = None if page_from is None else int(page_from)
            raw["page_max"] = None if page_to is None else int(page_to)
            active.append("page range (PDF pages only)")

        tags = st.multiselect(
            "Tags",
            options=all_tags,
            key="f_tags",
            placeholder="Any tag" if all_tags else "No tags yet",
            disabled=not all_tags,
            help="Passages from documents that carry at least one of these tags.",
        )
        if tags:
            raw["tags"] = tags
            active.append("tags")

        dates = st.date_input(
            "Ingested between",
            value=[],  # an empty range: no date filter until both ends are picked
            min_value=_EARLIEST,
            max_value=dt.date.today() + dt.timedelta(days=1),
            key="f_dates",
            format="YYYY-MM-DD",
            help="Pick the first and the last day (inclusive).",
        )
        if isinstance(dates, tuple | list) and dates:
            raw["ingested_after"] = dates[0]
            raw["ingested_before"] = dates[1] if len(dates) > 1 else None
            active.append("ingested dates")

        contains = st.text_input(
            "Text contains",
            key="f_contains",
            placeholder="exact words, any case",
            help="Only passages that contain this text (ignoring case).",
        )
        if contains.strip():
            raw["text_contains"] = contains.strip()
            active.append("text contains")

        floor = st.slider(
            "Minimum score",
            min_value=0.0,
            max_value=1.0,
            value=0.0,
            step=0.05,
            key="f_min_score",
            help="Hide passages whose score (0-1, as shown on each result) is lower. 0 shows everything.",
        )
        min_score = float(floor) if floor > 0 else None
        if min_score is not None:
            active.append("minimum score")

        st.button(
            "Clear filters",
            on_click=clear_filters,
            icon=":material/filter_alt_off:",
            disabled=not active,
            key="f_clear",
        )
    return FilterInput(raw=raw, min_score=min_score, active=tuple(active))
