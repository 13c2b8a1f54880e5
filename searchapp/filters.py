"""Search filters: validated input in, Chroma `where` clauses and a pure predicate out.

User input never reaches Chroma as-is. `SearchFilters.from_mapping` accepts only
allow-listed keys and forces every value to the scalar type that key expects, so a
value such as ``{"$ne": "x"}`` is an error, never an operator. The same filters
compile to Chroma clauses (`to_where`, `to_where_document`) and to a Python predicate
(`matches`) that the local indexes use, so every retrieval mode filters alike.

Single values are parsed in `searchapp.filter_values`; groups on chunks are
`searchapp.chunk_visibility`; a page range's notice is `searchapp.unpaged_notice`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

from searchapp.chunk_visibility import visibility_clause, visible
from searchapp.errors import InvalidFilterError
from searchapp.filter_values import (
    at_most,
    integer,
    one_value,
    parse_page_range,
    parse_time_bound,
    string_tuple,
)
from searchapp.types import FILE_TYPES

MAX_CONTAINS_CHARS = 200


@dataclass(frozen=True, slots=True)
class SearchFilters:
    """What a search may return. Empty fields do not filter.

    Attributes:
        doc_ids: only these documents (SHA-256 ids).
        file_types: only these types: pdf, txt, md, html, docx.
        page_min, page_max: only PDF pages in this range (inclusive, 1-based).
        tags: only documents carrying at least one of these tags.
        ingested_after, ingested_before: epoch seconds, inclusive.
        text_contains: only passages containing this text, ignoring case.
        exclude_doc_ids: never these documents (hidden versions: `Library.hide`).
        visible_to: the caller's groups: only documents restricted to none, or to one of
            them (`searchapp.access.visibility`); None: every document. Set by
            `Library.view`, never from user input (`from_mapping` refuses it).
    """

    doc_ids: tuple[str, ...] = ()
    file_types: tuple[str, ...] = ()
    page_min: int | None = None
    page_max: int | None = None
    tags: tuple[str, ...] = ()
    ingested_after: int | None = None
    ingested_before: int | None = None
    text_contains: str = ""
    exclude_doc_ids: tuple[str, ...] = ()
    visible_to: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        for name in ("doc_ids", "file_types", "tags", "exclude_doc_ids"):
            value = getattr(self, name)
            if isinstance(value, tuple) and name != "exclude_doc_ids":  # hidden ones: not typed
                at_most(name, len(value))  # counted before any value is looked at
            if not isinstance(value, tuple) or not all(isinstance(v, str) and v for v in value):
                raise InvalidFilterError(
                    f"filter {name!r} expects a tuple of non-empty strings; got {value!r}"[:300]
                )
        if self.visible_to is not None and (
            not isinstance(self.visible_to, tuple)
            or not all(isinstance(g, str) and g for g in self.visible_to)
        ):
            raise InvalidFilterError(f"'visible_to' expects a tuple of group names; got {self.visible_to!r}")
        unknown = [t for t in self.file_types if t not in FILE_TYPES]
        if unknown:
            raise InvalidFilterError(
                f"unknown file type {unknown[0]!r}; expected one of {', '.join(FILE_TYPES)}"
            )
        for name in ("page_min", "page_max", "ingested_after", "ingested_before"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                raise InvalidFilterError(f"filter {name!r} expects an integer; got {value!r}")
        if self.page_min is not None and self.page_min < 1:
            raise InvalidFilterError(f"pages start at 1; got page_min={self.page_min}")
        if self.page_min is not None and self.page_max is not None and self.page_min > self.page_max:
            raise InvalidFilterError(f"page range is empty: {self.page_min} > {self.page_max}")
        if (
            self.ingested_after is not None
            and self.ingested_before is not None
            and self.ingested_after > self.ingested_before
        ):
            raise InvalidFilterError("ingested-date range is empty: the start is after the end")
        if not isinstance(self.text_contains, str):
            raise InvalidFilterError(f"filter 'text_contains' expects a string; got {self.text_contains!r}")
        if len(self.text_contains) > MAX_CONTAINS_CHARS:
            raise InvalidFilterError(
                f"'text contains' takes at most {MAX_CONTAINS_CHARS} characters; "
                f"got {len(self.text_contains)}"
            )

    # ------------------------------------------------------------------ input

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> SearchFilters:
        """Validate untrusted filter input (CLI, JSON, UI) into `SearchFilters`.

        Accepted keys: ``documents``/``doc_ids``, ``file_types``/``types``, ``pages``
        ("3-7", "5", or [3, 7]), ``page_min``, ``page_max``, ``tags``, ``ingested_after``,
        ``ingested_before`` (epoch seconds, ISO date or datetime), ``text_contains``.

        Raises:
            InvalidFilterError: an unknown key, or a value of the wrong type.
        """
        if not isinstance(raw, Mapping):
            raise InvalidFilterError(
                f"filters must be a mapping of filter names to values; got {type(raw).__name__}"
            )
        values: dict[str, Any] = {}
        origins: dict[str, str] = {}

        def put(name: str, value: Any, origin: str) -> None:
            """One single-valued filter, from `origin`: where two keys set it, they must agree."""
            if name in values:
                value = one_value(name, values[name], value, first=origins[name], second=origin)
            else:
                origins[name] = origin
            values[name] = value

        for key, value in raw.items():
            if not isinstance(key, str):
                raise InvalidFilterError(f"filter names must be strings; got {key!r}")
            name = _ALIASES.get(key, key)
            if name not in _ALLOWED:
                raise InvalidFilterError(
                    f"unknown filter {key!r}; allowed: {', '.join(sorted(_PUBLIC_KEYS))}"
                )
            if value is None or value == "" or value == [] or value == ():
                continue
            if name == "pages":
                low, high = parse_page_range(value)
                for bound, number in (("page_min", low), ("page_max", high)):
                    if number is not None:
                        put(bound, number, f"from {key} {value!r}")
            elif name in ("doc_ids", "file_types", "tags", "exclude_doc_ids"):
                # Several keys for one filter (`tags` and `tag`) add up, as any of its values.
                values[name] = tuple(dict.fromkeys(values.get(name, ()) + string_tuple(key, value)))
            elif name in ("page_min", "page_max"):
                put(name, integer(name, value), f"as {key}")
            elif name == "ingested_after":
                put(name, parse_time_bound(value, end_of_day=False), f"as {key}")
            elif name == "ingested_before":
                put(name, parse_time_bound(value, end_of_day=True), f"as {key}")
            else:  # text_contains
                if not isinstance(value, str):
                    raise InvalidFilterError(
                        f"filter 'text_contains' expects a string; got {type(value).__name__}"
                    )
                put(name, value.strip(), f"as {key}")
        return cls(**values)

    @property
    def is_empty(self) -> bool:
        return self == SearchFilters()

    def to_dict(self) -> dict[str, Any]:
        """The filters that are set, JSON-ready, with the keys `from_mapping` reads back."""
        data: dict[str, Any] = {
            "documents": list(self.doc_ids),
            "file_types": list(self.file_types),
            "page_min": self.page_min,
            "page_max": self.page_max,
            "tags": list(self.tags),
            "ingested_after": self.ingested_after,
            "ingested_before": self.ingested_before,
            "text_contains": self.text_contains,
            "exclude_documents": list(self.exclude_doc_ids),
        }
        return {key: value for key, value in data.items() if value not in (None, "", [])}

    # ----------------------------------------------------------------- output

    def to_where(self) -> dict[str, Any] | None:
        """A Chroma `where` clause, or None when nothing filters metadata."""
        clauses: list[dict[str, Any]] = []
        if self.doc_ids:
            clauses.append(_in_clause("doc_id", self.doc_ids))
        if self.exclude_doc_ids:
            clauses.append({"doc_id": {"$nin": list(self.exclude_doc_ids)}})
        if self.file_types:
            clauses.append(_in_clause("file_type", self.file_types))
        if self.page_min is not None:
            clauses.append({"page": {"$gte": self.page_min}})
        if self.page_max is not None:
            clauses.append({"page": {"$lte": self.page_max}})
        if self.tags:
            tag_clauses = [{"tags": {"$contains": tag}} for tag in self.tags]
            clauses.append(tag_clauses[0] if len(tag_clauses) == 1 else {"$or": tag_clauses})
        if self.ingested_after is not None:
            clauses.append({"ingested_at": {"$gte": self.ingested_after}})
        if self.ingested_before is not None:
            clauses.append({"ingested_at": {"$lte": self.ingested_before}})
        if self.visible_to is not None:
            clauses.append(visibility_clause(self.visible_to))
        return combine_and(clauses)

    def to_where_document(self, *, contains: Sequence[str] = ()) -> dict[str, Any] | None:
        """A Chroma `where_document` clause for `text_contains` and each of `contains` (any case)."""
        clauses = [{"$regex": "(?i)" + re.escape(text)} for text in (self.text_contains, *contains) if text]
        return combine_and(clauses)

    def matches(self, metadata: Mapping[str, Any], text: str = "") -> bool:
        """The same filter as a Python predicate over one chunk's metadata and text."""
        if self.doc_ids and metadata.get("doc_id") not in self.doc_ids:
            return False
        if self.exclude_doc_ids and metadata.get("doc_id") in self.exclude_doc_ids:
            return False
        if self.file_types and metadata.get("file_type") not in self.file_types:
            return False
        if self.page_min is not None or self.page_max is not None:
            page = metadata.get("page")
            if not isinstance(page, int) or isinstance(page, bool):
                return False
            if self.page_min is not None and page < self.page_min:
                return False
            if self.page_max is not None and page > self.page_max:
                return False
        if self.tags:
            tags = metadata.get("tags") or []
            if not any(tag in tags for tag in self.tags):
                return False
        ingested = metadata.get("ingested_at")
        if self.ingested_after is not None and not (
            isinstance(ingested, int) and ingested >= self.ingested_after
        ):
            return False
        if self.ingested_before is not None and not (
            isinstance(ingested, int) and ingested <= self.ingested_before
        ):
            return False
        if self.visible_to is not None and not visible(metadata.get("groups"), self.visible_to):
            return False
        return not (self.text_contains and self.text_contains.casefold() not in text.casefold())


_PUBLIC_KEYS = {
    "documents",
    "exclude_documents",
    "file_types",
    "pages",
    "page_min",
    "page_max",
    "tags",
    "ingested_after",
    "ingested_before",
    "text_contains",
}
_ALIASES = {
    "documents": "doc_ids",
    "types": "file_types",
    "type": "file_types",
    "tag": "tags",
    "doc": "doc_ids",
    "exclude_documents": "exclude_doc_ids",
}
_ALLOWED = {f.name for f in fields(SearchFilters)} - {"visible_to"} | {"pages"}


def combine_and(clauses: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Chroma wants exactly one top-level key: none, the bare clause, or `$and` of 2+."""
    if not clauses:
        return None
    if len(clauses) == 1:
        return clauses[0]
    return {"$and": clauses}


def _in_clause(key: str, values: tuple[str, ...]) -> dict[str, Any]:
    return {key: values[0]} if len(values) == 1 else {key: {"$in": list(values)}}
