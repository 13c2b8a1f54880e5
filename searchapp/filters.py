"""Search filters: validated input in, Chroma `where` clauses and a pure predicate out.

User input never reaches Chroma as-is. `SearchFilters.from_mapping` accepts only
allow-listed keys and forces every value to the scalar type that key expects, so a
value such as ``{"$ne": "x"}`` is an error, never an operator. The same filters
compile to Chroma clauses (`to_where`, `to_where_document`) and to a Python predicate
(`matches`) that the local indexes use, so every retrieval mode filters alike.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

from searchapp.errors import InvalidFilterError
from searchapp.types import FILE_TYPES, DocumentRecord

MAX_CONTAINS_CHARS = 200
MAX_LIST_ITEMS = 1000
MAX_EPOCH_S = 32_503_680_000  # 3000-01-01 UTC: a larger timestamp is milliseconds, not seconds


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
            if not isinstance(value, tuple) or not all(isinstance(v, str) and v for v in value):
                raise InvalidFilterError(
                    f"filter {name!r} expects a tuple of non-empty strings; got {value!r}"
                )
            if len(value) > MAX_LIST_ITEMS and name != "exclude_doc_ids":  # hidden ones: not typed
                raise InvalidFilterError(
                    f"filter {name!r} takes at most {MAX_LIST_ITEMS} values; got {len(value)}"
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
                values[name] = tuple(dict.fromkeys(values.get(name, ()) + _string_tuple(key, value)))
            elif name in ("page_min", "page_max"):
                put(name, _integer(name, value), f"as {key}")
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


def visible(groups: Any, visible_to: Sequence[str]) -> bool:
    """A document with `groups` (a list, or none) is visible to a caller in `visible_to`."""
    return not groups or any(group in visible_to for group in groups)


def group_fields(groups: Sequence[str]) -> dict[str, Any]:
    """The metadata keys a document's groups put on its chunks: both, or both None (removed).

    ``restricted`` lets Chroma filter (`visibility_clause`): it cannot test for a missing list.
    """
    return {"groups": list(groups), "restricted": True} if groups else {"groups": None, "restricted": None}


def visibility_clause(visible_to: Sequence[str]) -> dict[str, Any]:
    """Chroma's form of `visible_to`: chunks not restricted, or restricted to one of these groups.

    Restricted chunks carry ``restricted: true`` beside their ``groups`` list; ``$ne``
    also matches chunks without the key (every unrestricted one).
    """
    open_to_all: dict[str, Any] = {"restricted": {"$ne": True}}
    if not visible_to:
        return open_to_all
    return {"$or": [open_to_all, *({"groups": {"$contains": group}} for group in visible_to)]}


def combine_and(clauses: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Chroma wants exactly one top-level key: none, the bare clause, or `$and` of 2+."""
    if not clauses:
        return None
    if len(clauses) == 1:
        return clauses[0]
    return {"$and": clauses}


def _in_clause(key: str, values: tuple[str, ...]) -> dict[str, Any]:
    return {key: values[0]} if len(values) == 1 else {key: {"$in": list(values)}}


def _string_tuple(name: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        items: list[Any] = [value]
    elif isinstance(value, list | tuple | set | frozenset):
        items = list(value)
    else:
        raise InvalidFilterError(
            f"filter {name!r} expects a string or a list of strings; got {type(value).__name__}"
        )
    out: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise InvalidFilterError(
                f"filter {name!r} expects strings; got {type(item).__name__} {item!r}"[:200]
            )
        item = item.strip()
        if not item:
            raise InvalidFilterError(
                f"filter {name!r} holds an empty value; give each one as non-empty text, "
                "or leave the filter out"
            )
        if item not in out:
            out.append(item)
    return tuple(out)


def one_value(name: str, value: Any, other: Any, *, first: str, second: str) -> Any:
    """A single-valued filter (a page bound, a date bound, "text contains") set in two places:
    the one that is set, or both when they agree; `first` and `second` say where each came
    from ("as an option", "in the query", "from pages '2-3'").

    Raises:
        InvalidFilterError: both are set, differently.
    """
    unset = (None, "")
    if value not in unset and other not in unset and value != other:
        raise InvalidFilterError(
            f"{name} is given twice with different values ({value!r} {first}, {other!r} {second}); "
            "give it once"
        )
    return value if value not in unset else other


def _integer(name: str, value: Any) -> int:
    if isinstance(value, bool):
        raise InvalidFilterError(f"filter {name!r} expects an integer; got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    raise InvalidFilterError(
        f"filter {name!r} expects an integer; got {type(value).__name__} {value!r}"[:200]
    )


def parse_page_range(value: Any) -> tuple[int | None, int | None]:
    """'3-7' -> (3, 7); '5' -> (5, 5); '3-' -> (3, None); [3, 7] -> (3, 7)."""
    if isinstance(value, list | tuple) and len(value) == 2:
        low = None if value[0] in (None, "") else _integer("pages", value[0])
        high = None if value[1] in (None, "") else _integer("pages", value[1])
        return low, high
    if isinstance(value, int) and not isinstance(value, bool):
        return value, value
    if isinstance(value, str):
        match = re.fullmatch(r"\s*(\d*)\s*(?:(-)\s*(\d*))?\s*", value)
        if match and (match.group(1) or match.group(3)):
            low = int(match.group(1)) if match.group(1) else None
            high = int(match.group(3)) if match.group(3) else None
            if not match.group(2):
                high = low
            return low, high
    raise InvalidFilterError(f"page range must look like '3-7', '5' or '3-'; got {value!r}"[:200])


def parse_time_bound(value: Any, *, end_of_day: bool) -> int:
    """Epoch seconds from an int, an ISO date ('2026-11-21') or datetime, or a date object.

    A bare date as an upper bound means the end of that day (local time).
    """
    if isinstance(value, bool):
        raise InvalidFilterError(f"a date filter expects a date; got {value!r}")
    if isinstance(value, int):
        return _seconds(value)
    if isinstance(value, dt.datetime):
        return int(value.timestamp())
    if isinstance(value, dt.date):
        return _day_bound(value, end_of_day)
    if isinstance(value, str):
        text = value.strip()
        if text.isdigit():
            return _seconds(int(text))
        try:
            if len(text) == 10:
                return _day_bound(dt.date.fromisoformat(text), end_of_day)
            return int(dt.datetime.fromisoformat(text).timestamp())
        except ValueError:
            pass
    raise InvalidFilterError(f"a date filter expects YYYY-MM-DD or epoch seconds; got {value!r}"[:200])


def _seconds(value: int) -> int:
    """Epoch seconds as given, unless they are plainly milliseconds (after the year 3000)."""
    if value > MAX_EPOCH_S:
        raise InvalidFilterError(
            f"a date filter takes epoch seconds; {value} would be after the year 3000, so it looks "
            f"like milliseconds: divide by 1000 (or give a date, YYYY-MM-DD)"
        )
    return value


def _day_bound(day: dt.date, end_of_day: bool) -> int:
    moment = dt.datetime.combine(day, dt.time.max if end_of_day else dt.time.min)
    return int(moment.timestamp())
