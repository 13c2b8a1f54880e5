"""The JSON form of a search request as JSON Schema: what `SearchRequest.from_mapping` reads.

A service in front of the library publishes these (the HTTP API in its OpenAPI schema,
the MCP server in its tools' input schemas) and hands what it receives, unchecked, to
`SearchRequest.from_mapping`, which alone validates it: the schema describes, the core
decides, and its errors name what was expected. So the two cannot drift, the bounds and
choices here are the constants the core checks against, and tests/test_request_schema.py
checks that every key the schema names is one `from_mapping` reads, and back.

The schema is a description a client can rely on, never looser than the core on the
types it gives; the core is stricter where a schema cannot say it (an empty page range,
a date that does not exist, a query of filters only): such a request is refused with the
core's message.
"""

from __future__ import annotations

from typing import Any

from searchapp.filter_values import MAX_EPOCH_S, MAX_LIST_ITEMS
from searchapp.filters import MAX_CONTAINS_CHARS
from searchapp.request import MAX_K, MODE_NAMES
from searchapp.types import FILE_TYPES

QUERY_HELP = (
    "What to look for, in natural language, with the query syntax: "
    '"exact phrase" (only passages containing it), -word and -"a phrase" (keep out), '
    "type:pdf (pdf, txt, md, html, docx; type:pdf,md for either), tag:hr, doc:NAME "
    "(a document's name, part of it, or its id), page:3-7, after:2026-01-31 and "
    "before:2026-03 (whole days, months or years, inclusive). Only these names before "
    "a colon are filters, and only with the value right after it; quote anything to "
    "search for it as plain words."
)


def _strings(description: str, item: dict[str, Any] | None = None) -> dict[str, Any]:
    """A list of values, or one value alone (the core reads a lone string as a list of one)."""
    one = item or {"type": "string", "minLength": 1, "pattern": r"\S"}
    many: dict[str, Any] = {"type": "array", "items": one, "maxItems": MAX_LIST_ITEMS}
    return {"anyOf": [many, one], "description": f"{description} (a list, or one value alone)"}


def _date(description: str) -> dict[str, Any]:
    return {
        "anyOf": [
            {"type": "string", "minLength": 1},
            {"type": "integer", "maximum": MAX_EPOCH_S},
        ],
        "description": f"{description} (seconds, not milliseconds)",
    }


def filters_schema() -> dict[str, Any]:
    """What `SearchFilters.from_mapping` reads (its public keys; every one optional)."""
    return {
        "type": "object",
        "title": "SearchFilters",
        "description": "What a search may return; empty or absent filters do not filter.",
        "properties": {
            "documents": _strings(
                "only these documents, each named as doc: in the query names one: its id "
                "(`doc_id` in every answer), 8+ characters of it, its name or part of its name; "
                "one that names no document answers 404"
            ),
            "exclude_documents": _strings(
                "never these documents, named as in `documents` (hidden versions are left out "
                "already, unless `documents` names them)"
            ),
            "file_types": _strings("only these file types", {"type": "string", "enum": list(FILE_TYPES)}),
            "pages": {
                "anyOf": [
                    {"type": "string", "pattern": r"^\s*\d*\s*(-\s*\d*)?\s*$"},
                    {"type": "integer", "minimum": 1},
                ],
                "description": "PDF pages: '3-7', '5', '3-' or '-7' (or page_min and page_max)",
            },
            "page_min": {"type": "integer", "minimum": 1, "description": "first PDF page (1-based)"},
            "page_max": {"type": "integer", "minimum": 1, "description": "last PDF page"},
            "tags": _strings("only documents carrying at least one of these tags"),
            "ingested_after": _date("ingested on or after: YYYY-MM-DD, an ISO date-time, or epoch seconds"),
            "ingested_before": _date(
                "ingested on or before: YYYY-MM-DD (to the end of that day), ISO date-time, or epoch seconds"
            ),
            "text_contains": {
                "type": "string",
                "maxLength": MAX_CONTAINS_CHARS,
                "description": "only passages containing this text, ignoring case",
            },
        },
        "additionalProperties": False,
    }


def request_schema() -> dict[str, Any]:
    """What `SearchRequest.from_mapping` reads (`SearchRequest.to_dict` writes the same keys)."""
    return {
        "type": "object",
        "title": "SearchRequest",
        "description": "One search: a query (or a passage to find more like), how many, where, how.",
        "properties": {
            "query": {"type": "string", "description": QUERY_HELP},
            "like": {
                "type": "string",
                "description": (
                    "instead of words, a stored passage's id (a hit's chunk_id, or "
                    "'<8+ characters of the document id>:<n>'): passages like it; the "
                    "query's filters, phrases and exclusions still apply"
                ),
            },
            "k": {
                "type": "integer",
                "minimum": 1,
                "maximum": MAX_K,
                "default": 10,
                "description": "how many passages; with group, how many documents",
            },
            "filters": filters_schema(),
            "mode": {
                "anyOf": [{"type": "string", "enum": list(MODE_NAMES)}, {"type": "null"}],
                "description": (
                    "the ranking; null: the library's default (adaptive unless configured); "
                    "semantic is another name for dense, and is answered as dense"
                ),
            },
            "min_score": {
                "anyOf": [{"type": "number", "minimum": 0, "maximum": 1}, {"type": "null"}],
                "description": "leave out results scoring below this (0-1)",
            },
            "group": {
                "type": "boolean",
                "default": False,
                "description": "one result per document, its best passage first",
            },
            "syntax": {
                "type": "boolean",
                "default": True,
                "description": "read the query with the query syntax (false: every character is a word)",
            },
        },
        "additionalProperties": False,
    }
